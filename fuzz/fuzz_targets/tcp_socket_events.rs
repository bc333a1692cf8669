//! One TCP socket driven by arbitrary sequences of peer segments (SACK
//! blocks included), user calls, clock advances and ICMP errors; the
//! properties checked after every event are listed in
//! `pollnet_fuzz::socket_events`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pollnet_fuzz::socket_events::run(data);
});
