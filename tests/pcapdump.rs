//! pcapdump's lines on hand-made frames, on real Linux captures, and on
//! damaged files (it must never panic).

#![cfg(feature = "phy-pcap")]

#[path = "../examples/pcapdump/dump.rs"]
mod dump;
#[path = "../examples/pcapdump/frame.rs"]
mod frame;
#[path = "support/frames.rs"]
mod frames;

fn lines(file: &[u8]) -> Result<Vec<String>, dump::DumpError> {
    let mut out = Vec::new();
    dump::dump(file, &mut |n, text| out.push(format!("{n} {text}")))?;
    Ok(out)
}

#[test]
fn hand_made_frames_give_exact_lines() {
    let cases = frames::cases();
    for case in &cases {
        assert_eq!(
            frame::describe(&case.data, case.orig_len),
            case.expected,
            "{}",
            case.name
        );
    }
    // The same through a pcap file: numbered from 1 in file order.
    let got = lines(&frames::pcap_file(&cases)).unwrap();
    let want: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| format!("{} {}", i + 1, case.expected))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn real_capture_lines() {
    let file = std::fs::read("tests/data/linux-small.pcapng").unwrap();
    let got = lines(&file).unwrap();
    let expected = [
        "1 other ARP request who-has 192.0.2.2 tell 192.0.2.1",
        "2 other ARP reply 192.0.2.2 is-at 02:00:00:00:00:02",
        "3 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573467 ack=0 flags=0x002 win=64240 len=0 csum=ok",
        "4 tcp 192.0.2.2:5000 > 192.0.2.1:44752 seq=923480891 ack=211573468 flags=0x012 win=65160 len=0 csum=ok",
        "5 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573468 ack=923480892 flags=0x010 win=63 len=0 csum=ok",
        "6 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573468 ack=923480892 flags=0x018 win=63 len=15 csum=ok",
        "7 tcp 192.0.2.2:5000 > 192.0.2.1:44752 seq=923480892 ack=211573483 flags=0x010 win=64 len=0 csum=ok",
        "8 tcp 192.0.2.2:5000 > 192.0.2.1:44752 seq=923480892 ack=211573483 flags=0x018 win=64 len=15 csum=ok",
        "9 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573483 ack=923480907 flags=0x010 win=63 len=0 csum=ok",
        "10 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573483 ack=923480907 flags=0x011 win=63 len=0 csum=ok",
        "11 tcp 192.0.2.2:5000 > 192.0.2.1:44752 seq=923480907 ack=211573484 flags=0x011 win=64 len=0 csum=ok",
        "12 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573484 ack=923480908 flags=0x010 win=63 len=0 csum=ok",
        "13 other ICMP echo request 192.0.2.1 > 192.0.2.2",
        "14 other ICMP echo reply 192.0.2.2 > 192.0.2.1",
        "15 other UDP 192.0.2.1:45106 > 192.0.2.2:9",
        "16 other ICMP destination unreachable 192.0.2.2 > 192.0.2.1",
    ];
    assert_eq!(got, expected);

    // The transfer capture: the first frame is an IPv6 router solicitation,
    // every other one a TCP segment whose checksums verify.
    let file = std::fs::read("tests/data/linux-transfer.pcap").unwrap();
    let got = lines(&file).unwrap();
    assert_eq!(got.len(), 134);
    assert_eq!(got[0], "1 other IPv6");
    assert_eq!(
        got[1],
        "2 tcp 192.0.2.1:36918 > 192.0.2.2:5001 seq=3930863843 ack=0 flags=0x0c2 win=64240 len=0 csum=ok"
    );
    assert!(
        got[1..]
            .iter()
            .all(|l| l.contains(" tcp ") && l.ends_with(" csum=ok"))
    );
}

#[test]
fn not_a_capture_is_an_error() {
    assert!(matches!(
        lines(b"hello, this is not a capture"),
        Err(dump::DumpError::NotACapture(_))
    ));
    assert!(matches!(lines(b""), Err(dump::DumpError::NotACapture(_))));
    assert!(matches!(
        lines(b"\xd4\xc3"),
        Err(dump::DumpError::NotACapture(_))
    ));
    // A pcap magic with a truncated global header.
    assert!(matches!(
        lines(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
        Err(dump::DumpError::NotACapture(_))
    ));
}

#[test]
fn a_cut_record_reports_damage_after_the_good_frames() {
    let cases = frames::cases();
    let file = frames::pcap_file(&cases[..3]);
    let cut = &file[..file.len() - 5];
    let mut printed = Vec::new();
    let result = dump::dump(cut, &mut |n, text| printed.push(format!("{n} {text}")));
    assert!(matches!(
        result,
        Err(dump::DumpError::Damaged { frames: 2, .. })
    ));
    assert_eq!(printed.len(), 2);
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
fn never_panics_on_damaged_files() {
    let inputs = [
        frames::pcap_file(&frames::cases()),
        std::fs::read("tests/data/linux-small.pcapng").unwrap(),
        std::fs::read("tests/data/linux-no-sack.pcap").unwrap(),
    ];
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut described = 0usize;
    for round in 0..3000 {
        let mut file = inputs[round % inputs.len()].clone();
        // Flip a few bytes, sometimes cut the file.
        for _ in 0..1 + rng.next() % 8 {
            let at = (rng.next() as usize) % file.len();
            file[at] = rng.next() as u8;
        }
        if rng.next() % 4 == 0 {
            let keep = (rng.next() as usize) % (file.len() + 1);
            file.truncate(keep);
        }
        let mut count = 0;
        let _ = dump::dump(&file, &mut |_, _| count += 1);
        described += count;
    }
    assert!(described > 10_000, "only {described} frames described");

    // Every frame length and every byte value at each header position.
    let base = frames::tcp_frame(&frames::data_segment(b"abc"));
    for len in 0..=base.len() {
        let _ = frame::describe(&base[..len], base.len());
        let _ = frame::describe(&base[..len], len);
        let _ = frame::describe(&base[..len], 0);
    }
    for at in 0..base.len() {
        for value in 0..=255u8 {
            let mut damaged = base.clone();
            damaged[at] = value;
            let _ = frame::describe(&damaged, damaged.len());
        }
    }
}
