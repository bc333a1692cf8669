//! The `replay` example runs the stack as one host of a real capture on the
//! capture's virtual clock: the same input gives the same output bytes, and
//! the output shows how pollnet answers the captured peer.

use std::path::PathBuf;
use std::process::Command;

use pollnet::wire::{EthernetFrame, EthernetProtocol, Ipv4Packet, TcpFlags, TcpPacket};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("examples").join(name)
}

fn replay(out: &PathBuf) -> Vec<u8> {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/linux-small.pcapng");
    let status = Command::new(example("replay"))
        .args(["--pcap", input, "--out", out.to_str().unwrap()])
        .args([
            "--ip",
            "192.0.2.2/24",
            "--mac",
            "02:00:00:00:00:02",
            "--listen",
            "5000",
            "--quiet",
        ])
        .status()
        .expect("replay runs");
    assert!(status.success());
    std::fs::read(out).expect("output pcap")
}

/// The frames of a classic little-endian pcap file.
fn frames(pcap: &[u8]) -> Vec<&[u8]> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "classic pcap, little-endian"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(&pcap[at + 16..at + 16 + len]);
        at += 16 + len;
    }
    out
}

#[test]
fn replay_is_deterministic_and_answers_the_captured_peer() {
    let dir = std::env::temp_dir();
    let first = dir.join(format!("pollnet-replay-a-{}.pcap", std::process::id()));
    let second = dir.join(format!("pollnet-replay-b-{}.pcap", std::process::id()));
    let a = replay(&first);
    let b = replay(&second);
    std::fs::remove_file(&first).ok();
    std::fs::remove_file(&second).ok();
    assert_eq!(a, b, "same capture, same output bytes");

    let sent: Vec<TcpFlags> = frames(&a)
        .into_iter()
        .filter_map(|frame| {
            let eth = EthernetFrame::new_checked(frame).ok()?;
            (eth.ethertype() == EthernetProtocol::Ipv4).then_some(())?;
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            (tcp.src_port() == 5000).then(|| tcp.flags())
        })
        .collect();
    // The captured SYN is answered with pollnet's own SYN+ACK; the peer's
    // next captured segment acknowledges the original host's ISN, which is
    // unacceptable in SYN_RCVD and draws a RST (RFC 9293 3.10.7.4).
    assert_eq!(sent.first(), Some(&(TcpFlags::SYN | TcpFlags::ACK)));
    assert!(sent.iter().any(|f| f.contains(TcpFlags::RST)), "{sent:?}");
}
