//! A pcap written through `PcapWriter` opens in tshark with the frames and
//! timestamps that passed (ignored, with the reason, when tshark is
//! missing); `PcapReplay` replays real captures at their times.

#[macro_use]
mod runner;

use std::process::Command;

use pollnet::phy::{Device, Loopback, PcapDirection, PcapReplay, PcapWriter, RxToken, TxToken};
use pollnet::time::{Duration, Instant};

/// An ARP request or reply between 192.0.2.1 (02:00:00:00:00:01) and
/// 192.0.2.2 (02:00:00:00:00:02), RFC 826 layout.
fn arp(opcode: u8) -> Vec<u8> {
    let (sha, spa, tha, tpa, dst) = if opcode == 1 {
        (
            [2, 0, 0, 0, 0, 1],
            [192, 0, 2, 1],
            [0; 6],
            [192, 0, 2, 2],
            [0xff; 6],
        )
    } else {
        (
            [2, 0, 0, 0, 0, 2],
            [192, 0, 2, 2],
            [2, 0, 0, 0, 0, 1],
            [192, 0, 2, 1],
            [2, 0, 0, 0, 0, 1],
        )
    };
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, opcode]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(tshark_opens_a_recorded_capture).programs(&["tshark"]),
        case!(replays_a_real_pcapng_capture_at_its_times),
        case!(replays_real_pcap_captures_frame_for_frame),
    ])
}

fn tshark_opens_a_recorded_capture() {
    let path = std::env::temp_dir().join(format!("pollnet-phy-pcap-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let mut dev = PcapWriter::new(Loopback::new(1500), file, PcapDirection::Both).unwrap();
    let request = arp(1);
    let reply = arp(2);
    dev.transmit(Instant::from_micros(1_500_000))
        .unwrap()
        .consume(request.len(), |b| b.copy_from_slice(&request));
    let (rx, tx) = dev.receive(Instant::from_micros(2_000_250)).unwrap();
    assert_eq!(rx.consume(|f| f.to_vec()), request);
    tx.consume(reply.len(), |b| b.copy_from_slice(&reply));
    // Flushed after each frame: readable while the writer is still alive.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 24 + 3 * (16 + 42));

    let tshark = Command::new("tshark")
        .args(["-r"])
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "arp.opcode",
        ])
        .args(["-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4"])
        .output();
    drop(dev);
    std::fs::remove_file(&path).unwrap();
    let output = tshark.expect("run tshark");
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    let times: Vec<f64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    for (got, want) in times.iter().zip([1.5, 2.000250, 2.000250]) {
        assert!((got - want).abs() < 1e-7, "time {got} != {want}");
    }
    let rest: Vec<Vec<&str>> = rows.iter().map(|r| r[1..].to_vec()).collect();
    assert_eq!(
        rest,
        vec![
            vec!["42", "1", "192.0.2.1", "192.0.2.2"],
            vec!["42", "1", "192.0.2.1", "192.0.2.2"],
            vec!["42", "2", "192.0.2.2", "192.0.2.1"],
        ]
    );
}

fn capture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Plays `replay` to the end on a virtual clock that jumps to each frame's
/// due time; checks nothing comes a microsecond early; returns each frame's
/// offset from `start` and its length.
fn play(mut replay: PcapReplay, start: Instant) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    let mut last = start;
    while let Some(at) = replay.next_frame_at() {
        if at > last {
            assert!(replay.receive(at - Duration::from_micros(1)).is_none());
        }
        let (rx, _tx) = replay.receive(at).expect("due frame");
        out.push(((at - start).total_micros(), rx.consume(|f| f.len())));
        last = at;
    }
    out
}

fn replays_a_real_pcapng_capture_at_its_times() {
    // Offsets and lengths as tshark reports them for this capture.
    let expected: Vec<(u64, usize)> = vec![
        (0, 42),
        (14, 42),
        (21, 74),
        (49, 74),
        (68, 66),
        (313, 81),
        (323, 66),
        (356, 81),
        (364, 66),
        (447, 66),
        (475, 66),
        (488, 66),
        (320_162, 98),
        (320_255, 98),
        (326_614, 45),
        (326_801, 73),
    ];
    let start = Instant::from_secs(100);
    let replay = PcapReplay::from_path(capture("linux-small.pcapng"), start).unwrap();
    assert_eq!(replay.len(), 16);
    assert_eq!(play(replay, start), expected);
}

fn replays_real_pcap_captures_frame_for_frame() {
    for (name, count, second, last) in [
        ("linux-transfer.pcap", 134, 595_052, 603_788),
        ("linux-no-timestamps.pcap", 30, 39, 4_246),
        ("linux-no-sack.pcap", 10, 39, 408),
    ] {
        let bytes = std::fs::read(capture(name)).unwrap();
        // The frames as pcap-file reads them.
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        let mut frames = Vec::new();
        while let Some(p) = reader.next_packet() {
            frames.push(p.unwrap().data.into_owned());
        }
        let start = Instant::ZERO;
        let mut replay = PcapReplay::from_bytes(&bytes, start).unwrap();
        let mut got = Vec::new();
        let mut times = Vec::new();
        while let Some(at) = replay.next_frame_at() {
            let (rx, _tx) = replay.receive(at).unwrap();
            got.push(rx.consume(|f| f.to_vec()));
            times.push(at.total_micros());
        }
        assert_eq!(got.len(), count, "{name}");
        assert_eq!(got, frames, "{name}");
        assert_eq!(
            (times[0], times[1], times[count - 1]),
            (0, second, last),
            "{name}"
        );
    }
}
