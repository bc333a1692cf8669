//! The properties of the `dhcpv4_client` and `dns_resolver` fuzz targets
//! (see fuzz/src/client_events.rs), checked on a few thousand
//! pseudo-random event sequences, so CI runs them without cargo-fuzz.

#[path = "../fuzz/src/client_events.rs"]
mod client_events;

/// xorshift64*: a fixed stream of inputs, the same on every run.
fn inputs(seed: u64, count: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..count).map(move |_| {
        let len = (next() % 400) as usize;
        (0..len).map(|_| next() as u8).collect()
    })
}

#[test]
fn dhcpv4_client_event_sequences() {
    let mut seen = 0;
    for input in inputs(0x0dc9, 3000) {
        seen |= client_events::run_dhcpv4(&input);
    }
    // The inputs reach every state (INIT through RELEASED: eight).
    assert_eq!(seen, 0xff, "states reached: {seen:#b}");
}

#[test]
fn dns_resolver_event_sequences() {
    let mut seen = 0;
    for input in inputs(0xd25, 3000) {
        seen |= client_events::run_dns(&input);
    }
    // Answers, NXDOMAIN, no records, server failure, timeout, malformed
    // answers and unreachable servers are all reached.
    for (bit, what) in [
        (0, "answer"),
        (3, "name not found"),
        (4, "no records"),
        (5, "server failure"),
        (6, "timeout"),
        (8, "malformed"),
        (9, "unreachable"),
    ] {
        assert!(seen & (1 << bit) != 0, "{what} never reached: {seen:#b}");
    }
}
