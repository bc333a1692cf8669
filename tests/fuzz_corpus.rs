//! The seed corpus of the `tcp_segment` fuzz target (fuzz/corpus/tcp_segment)
//! is made here from real Linux frames, and the fuzz property is checked on
//! the seeds and on a few thousand damaged copies of them, so CI runs it
//! even where cargo-fuzz is not installed.

#[path = "../fuzz/src/roundtrip.rs"]
mod roundtrip;

use roundtrip::{Reached, check_frame};
use std::path::Path;

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

fn frame(capture: &str, number: usize) -> Vec<u8> {
    let file = std::fs::read(Path::new("tests/data").join(capture)).unwrap();
    pcap_frames(&file).swap_remove(number - 1)
}

/// (file name, frame): SYNs with options, data, SACK ACKs, FIN, and an ARP
/// and ICMP frame for the other paths.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("syn-ecn-mss-sackok-ts-ws", frame("linux-transfer.pcap", 2)),
        ("synack-ece", frame("linux-transfer.pcap", 3)),
        ("syn-mss-sackok-ws", frame("linux-no-timestamps.pcap", 1)),
        ("syn-mss-ts", frame("linux-no-sack.pcap", 1)),
        ("data-15-ts", frame("linux-no-sack.pcap", 4)),
        ("data-1448-ts", frame("linux-transfer.pcap", 5)),
        ("ack-sack3-ts", frame("linux-transfer.pcap", 27)),
        ("ack-sack4", frame("linux-no-timestamps.pcap", 25)),
        ("fin-ack-ts", frame("linux-no-sack.pcap", 8)),
    ]
}

#[test]
fn seed_corpus_is_current_and_exercises_the_property() {
    let dir = Path::new("fuzz/corpus/tcp_segment");
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in seeds() {
        // Every seed parses with every checksum verified and round-trips.
        assert_eq!(check_frame(&bytes), Reached::TcpVerified, "{name}");
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) => assert_eq!(existing, bytes, "{} is stale", path.display()),
            // The first run writes the corpus; it is checked in.
            Err(_) => std::fs::write(&path, &bytes).unwrap(),
        }
    }
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
}

#[test]
fn property_holds_on_damaged_seeds() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_f022);
    let (mut verified, mut unverified) = (0, 0);
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].1.clone();
        // Damage the headers (the first 14 + 20 + 60 bytes) most of the time.
        for _ in 0..1 + rng.next() % 4 {
            let span = bytes.len().min(94);
            let at = (rng.next() as usize) % span;
            bytes[at] = rng.next() as u8;
        }
        if rng.next() % 8 == 0 {
            let keep = (rng.next() as usize) % (bytes.len() + 1);
            bytes.truncate(keep);
        }
        match check_frame(&bytes) {
            Reached::TcpVerified => verified += 1,
            Reached::TcpUnverified => unverified += 1,
            _ => {}
        }
    }
    // Damage to fields the checksums do not cover (Ethernet, or bytes that
    // keep the sum) still verifies; most damage reaches TCP unverified.
    assert!(verified > 500, "{verified} verified");
    assert!(unverified > 5000, "{unverified} unverified");
}
