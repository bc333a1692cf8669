//! pcapdump against Wireshark's dissector (`tshark`), field by field, on
//! hand-made frames and on real Linux captures. Ignored, with the reason,
//! when tshark is not installed; CI installs it.

#[macro_use]
mod runner;

#[path = "../examples/pcapdump/dump.rs"]
mod dump;
#[path = "../examples/pcapdump/frame.rs"]
mod frame;
#[path = "support/frames.rs"]
mod frames;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fields asked of tshark, in order.
const FIELDS: [&str; 18] = [
    "frame.number",
    "frame.protocols",
    "ip.src",
    "tcp.srcport",
    "ip.dst",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.checksum.status",
    "ip.checksum.status",
    "ip.flags.mf",
    "ip.frag_offset",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
];

/// tshark's view of one frame, field name to value ("" when absent).
type Dissection = BTreeMap<&'static str, String>;

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(pcapdump_agrees_with_tshark).programs(&["tshark"]),
    ])
}

fn tshark(path: &Path) -> Vec<Dissection> {
    let mut command = Command::new("tshark");
    command.arg("-r").arg(path);
    for pref in [
        "tcp.check_checksum:TRUE",
        "ip.check_checksum:TRUE",
        "tcp.relative_sequence_numbers:FALSE",
        // pcapdump describes each fragment as it is; so must tshark.
        "ip.defragment:FALSE",
    ] {
        command.args(["-o", pref]);
    }
    command.args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().expect("run tshark");
    assert!(
        output.status.success(),
        "tshark failed on {}",
        path.display()
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let values: Vec<&str> = line.split('|').collect();
            assert_eq!(values.len(), FIELDS.len(), "tshark line {line:?}");
            FIELDS
                .iter()
                .zip(values)
                .map(|(field, value)| (*field, value.to_string()))
                .collect()
        })
        .collect()
}

/// Parses tshark's decimal or 0x-prefixed hexadecimal numbers.
fn number(text: &str) -> u64 {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => text.parse().unwrap(),
    }
}

/// pcapdump's `tcp` line, split into its fields.
struct TcpLine {
    src: String,
    src_port: u64,
    dst: String,
    dst_port: u64,
    fields: BTreeMap<String, String>,
}

fn parse_tcp_line(text: &str) -> TcpLine {
    // tcp A:p > B:q seq=.. ack=.. flags=0x... win=.. len=.. csum=..
    let words: Vec<&str> = text.split(' ').collect();
    assert_eq!(words[0], "tcp");
    let (src, src_port) = words[1].rsplit_once(':').unwrap();
    assert_eq!(words[2], ">");
    let (dst, dst_port) = words[3].rsplit_once(':').unwrap();
    let fields = words[4..]
        .iter()
        .map(|word| {
            let (key, value) = word.split_once('=').unwrap();
            (key.to_string(), value.to_string())
        })
        .collect();
    TcpLine {
        src: src.to_string(),
        src_port: src_port.parse().unwrap(),
        dst: dst.to_string(),
        dst_port: dst_port.parse().unwrap(),
        fields,
    }
}

/// tshark's expert severity "warning" (epan/proto.h); "error" is above it.
const PI_WARN: u64 = 0x0060_0000;

/// Compares every frame of one capture; returns how many TCP frames were
/// compared field by field.
fn compare(path: &Path) -> usize {
    let file = std::fs::read(path).unwrap();
    let mut ours = Vec::new();
    dump::dump(&file, &mut |n, text| ours.push((n, text))).unwrap();
    let theirs = tshark(path);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "frame count of {}",
        path.display()
    );

    let mut tcp_frames = 0;
    for ((frame_number, line), dissection) in ours.iter().zip(&theirs) {
        let context = format!(
            "{} frame {frame_number}: {line} / tshark {dissection:?}",
            path.display()
        );
        assert_eq!(
            frame_number.to_string(),
            dissection["frame.number"],
            "{context}"
        );
        let protocols = &dissection["frame.protocols"];
        let tshark_tcp = protocols.starts_with("eth:ethertype:ip:tcp");
        let severities: Vec<u64> = dissection["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(number)
            .collect();
        let tshark_complains =
            !dissection["_ws.malformed"].is_empty() || severities.iter().any(|&s| s >= PI_WARN);

        if line.starts_with("tcp ") {
            tcp_frames += 1;
            assert!(tshark_tcp, "{context}");
            assert!(dissection["_ws.malformed"].is_empty(), "{context}");
            let tcp = parse_tcp_line(line);
            assert_eq!(tcp.src, dissection["ip.src"], "{context}");
            assert_eq!(tcp.dst, dissection["ip.dst"], "{context}");
            assert_eq!(
                tcp.src_port,
                number(&dissection["tcp.srcport"]),
                "{context}"
            );
            assert_eq!(
                tcp.dst_port,
                number(&dissection["tcp.dstport"]),
                "{context}"
            );
            for (ours_key, theirs_key) in [
                ("seq", "tcp.seq_raw"),
                ("ack", "tcp.ack_raw"),
                ("flags", "tcp.flags"),
                ("win", "tcp.window_size_value"),
                ("len", "tcp.len"),
            ] {
                assert_eq!(
                    number(&tcp.fields[ours_key]),
                    number(&dissection[theirs_key]),
                    "{ours_key} of {context}"
                );
            }
            // tshark's checksum status: 0 bad, 1 good, 2 unverified.
            let ip_status = number(&dissection["ip.checksum.status"]);
            let tcp_status = number(&dissection["tcp.checksum.status"]);
            let expected = if ip_status == 0 || tcp_status == 0 {
                "bad"
            } else if tcp_status == 2 {
                "unverified"
            } else {
                "ok"
            };
            assert_eq!(tcp.fields["csum"], expected, "{context}");
        } else if let Some(reason) = line.strip_prefix("malformed ") {
            if reason.starts_with("TCP option") {
                // tshark dissects on and notes the option at "note" level.
                assert!(
                    dissection["_ws.expert.message"].contains("option length"),
                    "{context}"
                );
            } else {
                assert!(
                    tshark_complains,
                    "tshark accepts what we call {reason}: {context}"
                );
            }
        } else if let Some(what) = line.strip_prefix("other ") {
            let kind = what.split(' ').next().unwrap();
            match kind {
                "ARP" => assert!(protocols.contains(":arp"), "{context}"),
                "IPv6" => assert!(protocols.contains(":ipv6"), "{context}"),
                "VLAN" => assert!(protocols.contains(":vlan"), "{context}"),
                "UDP" => assert!(protocols.starts_with("eth:ethertype:ip:udp"), "{context}"),
                "ICMP" => assert!(protocols.starts_with("eth:ethertype:ip:icmp"), "{context}"),
                "IPv4" if what.starts_with("IPv4 fragment") => {
                    let offset = what.split(" offset ").nth(1).unwrap();
                    let offset: u64 = offset.split(' ').next().unwrap().parse().unwrap();
                    // tshark counts the offset in 8-byte units.
                    assert_eq!(
                        offset,
                        8 * number(&dissection["ip.frag_offset"]),
                        "{context}"
                    );
                    assert_eq!(
                        what.ends_with(" MF"),
                        dissection["ip.flags.mf"] == "1",
                        "{context}"
                    );
                }
                _ => assert!(!tshark_tcp, "{context}"),
            }
        } else {
            panic!("unexpected line {line}");
        }
    }
    tcp_frames
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pollnet-{}-{name}", std::process::id()))
}

fn pcapdump_agrees_with_tshark() {
    // (a) Hand-made frames, good and damaged.
    let cases = frames::cases();
    let handmade = temp_path("handmade.pcap");
    std::fs::write(&handmade, frames::pcap_file(&cases)).unwrap();
    let handmade_tcp = compare(&handmade);
    std::fs::remove_file(&handmade).unwrap();
    let expected_tcp = cases
        .iter()
        .filter(|c| c.expected.starts_with("tcp "))
        .count();
    assert_eq!(handmade_tcp, expected_tcp);

    // (b) Real kernel-to-kernel captures over a veth pair
    // (tests/data/capture.sh).
    let mut real_tcp = 0;
    for name in [
        "linux-transfer.pcap",
        "linux-no-timestamps.pcap",
        "linux-no-sack.pcap",
        "linux-small.pcapng",
    ] {
        real_tcp += compare(&Path::new("tests/data").join(name));
    }
    assert_eq!(real_tcp, 133 + 30 + 10 + 10);
    println!(
        "pcapdump agrees with tshark on {} frames ({handmade_tcp} hand-made and {real_tcp} real TCP frames field by field)",
        cases.len() + 134 + 30 + 10 + 16
    );
}
