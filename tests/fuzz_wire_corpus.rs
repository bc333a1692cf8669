//! The seed corpora of the `dhcpv4`, `dns` and `ipv6` fuzz targets
//! (fuzz/corpus/{dhcpv4,dns,ipv6}) are made here from the Linux captures in
//! tests/data (see capture-wire.sh), and each target's property is checked
//! on its seeds and on damaged copies of them, so CI runs it even where
//! cargo-fuzz is not installed.
#![cfg(feature = "proto-ipv6")]

#[path = "../fuzz/src/wire_props.rs"]
mod wire_props;

use std::path::Path;
use wire_props::{Ipv6Reached, check_dhcpv4, check_dns, check_ipv6};

/// The frames of a little-endian microsecond pcap file.
fn pcap_frames(file: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut frames = Vec::new();
    let mut rest = &file[24..];
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        frames.push(rest[16..16 + caplen].to_vec());
        rest = &rest[16 + caplen..];
    }
    frames
}

/// Frame `number` (1-based) of a capture, from byte `skip` on.
fn frame(capture: &str, number: usize, skip: usize) -> Vec<u8> {
    let file = std::fs::read(Path::new("tests/data").join(capture)).unwrap();
    pcap_frames(&file).swap_remove(number - 1).split_off(skip)
}

/// Ethernet, IPv4 and UDP headers before a DHCP or DNS message.
const UDP_V4: usize = 14 + 20 + 8;

fn dhcp_seeds() -> Vec<(&'static str, Vec<u8>)> {
    [
        ("discover", 1),
        ("offer", 2),
        ("request", 3),
        ("ack", 4),
        ("decline", 5),
        ("nak", 7),
        ("release", 12),
    ]
    .into_iter()
    .map(|(name, number)| (name, frame("linux-dhcp.pcap", number, UDP_V4)))
    .collect()
}

fn dns_seeds() -> Vec<(&'static str, Vec<u8>)> {
    [
        ("query-a", 1),
        ("answer-a", 2),
        ("answer-aaaa", 4),
        ("answer-cname-chain", 6),
        ("nxdomain", 12),
        ("truncated", 14),
        ("answer-aaaa-cname-chain", 16),
        ("query-glibc", 17),
    ]
    .into_iter()
    .map(|(name, number)| (name, frame("linux-dns.pcap", number, UDP_V4)))
    .collect()
}

/// IPv6 packets (without Ethernet) and what the property reaches on each.
fn ipv6_seeds() -> Vec<(&'static str, Vec<u8>, Ipv6Reached)> {
    use Ipv6Reached::*;
    [
        ("ns-dad-nonce", 1, Icmpv6),
        ("mld-report-6-records", 2, Icmpv6),
        ("mld-query", 3, Icmpv6),
        ("ra-prefix-rdnss-mtu", 6, Icmpv6),
        ("rs", 8, Icmpv6),
        ("mld-report", 22, Icmpv6),
        ("ns", 26, Icmpv6),
        ("na-router", 27, Icmpv6),
        ("echo-request", 28, Icmpv6),
        ("fragment-first", 31, Upper),
        ("fragment-last", 32, Upper),
        ("packet-too-big", 38, Icmpv6),
        ("time-exceeded", 43, Icmpv6),
        ("udp", 44, Udp),
        ("port-unreachable", 45, Icmpv6),
        ("redirect", 48, Icmpv6),
        ("destopts-unknown-option", 53, Header),
        ("param-problem-option", 54, Icmpv6),
        ("destopts-then-hop-by-hop", 55, Header),
        ("param-problem-next-header", 56, Icmpv6),
    ]
    .into_iter()
    .map(|(name, number, reached)| (name, frame("linux-ipv6.pcap", number, 14), reached))
    .collect()
}

/// Checks `seeds` against the checked-in corpus of `target`; the first run
/// writes it (it is checked in).
fn corpus_is_current(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) => assert_eq!(&existing, bytes, "{} is stale", path.display()),
            Err(_) => std::fs::write(&path, bytes).unwrap(),
        }
    }
}

#[test]
fn seed_corpora_are_current_and_exercise_the_properties() {
    let dhcp = dhcp_seeds();
    for (name, bytes) in &dhcp {
        assert!(check_dhcpv4(bytes), "dhcpv4 {name}");
    }
    corpus_is_current("dhcpv4", &dhcp);
    let dns = dns_seeds();
    for (name, bytes) in &dns {
        assert!(check_dns(bytes), "dns {name}");
    }
    corpus_is_current("dns", &dns);
    let ipv6 = ipv6_seeds();
    for (name, bytes, reached) in &ipv6 {
        assert_eq!(check_ipv6(bytes), *reached, "ipv6 {name}");
    }
    let ipv6: Vec<_> = ipv6
        .into_iter()
        .map(|(name, bytes, _)| (name, bytes))
        .collect();
    corpus_is_current("ipv6", &ipv6);
}

/// xorshift64*: deterministic damage.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn damage(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut bytes = seed.to_vec();
        for _ in 0..1 + self.below(3) {
            if !bytes.is_empty() {
                let at = self.below(bytes.len());
                bytes[at] = self.next() as u8;
            }
        }
        if self.below(4) == 0 {
            bytes.truncate(self.below(seed.len() + 1));
        }
        bytes
    }
}

#[test]
fn properties_hold_on_damaged_seeds() {
    let mut rng = Rng(0x5eed_0f13);
    let dhcp = dhcp_seeds();
    let dns = dns_seeds();
    let ipv6 = ipv6_seeds();
    let (mut dhcp_ok, mut dns_ok, mut icmp_ok) = (0, 0, 0);
    for _ in 0..5_000 {
        let seed = &dhcp[rng.below(dhcp.len())].1;
        dhcp_ok += usize::from(check_dhcpv4(&rng.damage(seed)));
        let seed = &dns[rng.below(dns.len())].1;
        dns_ok += usize::from(check_dns(&rng.damage(seed)));
        let seed = &ipv6[rng.below(ipv6.len())].1;
        let reached = check_ipv6(&rng.damage(seed));
        icmp_ok += usize::from(matches!(
            reached,
            Ipv6Reached::Icmpv6 | Ipv6Reached::Icmpv6Unverified
        ));
        // The same bytes as a bare ICMPv6 message.
        let mut bare = vec![0u8];
        bare.extend_from_slice(&rng.damage(&seed[40..]));
        check_ipv6(&bare);
    }
    // Damage often leaves a message parseable: the round trips ran.
    assert!(dhcp_ok > 1_000, "{dhcp_ok}");
    assert!(dns_ok > 1_000, "{dns_ok}");
    assert!(icmp_ok > 1_000, "{icmp_ok}");
}
