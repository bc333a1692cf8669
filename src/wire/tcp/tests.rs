//! Tests of the TCP view and representation, on frames Linux sent over a
//! veth pair (tests/data/capture.sh records how they were made).

extern crate std;

use super::*;
use crate::wire::ethernet::{EthernetFrame, EthernetProtocol};
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::wire::{Checksum, Ipv4Address};
use std::string::ToString;
use std::vec;
use std::vec::Vec;

const CLIENT: IpAddress = IpAddress::v4(192, 0, 2, 1);
const SERVER: IpAddress = IpAddress::v4(192, 0, 2, 2);

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Linux SYN: mss 1460, sackOK, TS val 1030146367 ecr 0, nop, wscale 10.
const SYN: &str = "02000000000202000000000108004500003c06b140004006b007c0000201c0000202\
                   aed013880c9c5adb00000000a002faf098920000020405b40402080a3d66c93f00000000\
                   0103030a";
/// Its SYN-ACK.
const SYN_ACK: &str = "02000000000102000000000208004500003c000040004006b6b8c0000202c0000201\
                       1388aed0370b333b0c9c5adca012fe8802ed0000020405b40402080a83c8a3ed3d66c93f\
                       0103030a";
/// A data segment: PSH|ACK, nop nop TS, "hello, pollnet\n".
const DATA: &str = "02000000000202000000000108004500004306b340004006affec0000201c0000202\
                    aed013880c9c5adc370b333c8018003f803000000101080a3d66c94083c8a3ed\
                    68656c6c6f2c20706f6c6c6e65740a";
/// FIN|ACK with nop nop TS.
const FIN: &str = "02000000000202000000000108004500003406b540004006b00bc0000201c0000202\
                   aed013880c9c5aeb370b334b8011003f2fe500000101080a3d66c94083c8a3ee";
/// SYN with ECE|CWR (ECN setup, RFC 3168 section 6.1.1).
const SYN_ECN: &str = "02000000000202000000000108004500003c6534400040065184c0000201c0000202\
                       90361389ea4c38e300000000a0c2faf081130000020405b40402080a4716392f00000000\
                       0103030a";
/// ACK with nop nop TS and nop nop SACK, three blocks.
const SACK3: &str = "020000000001020000000002080045000050f43940004006c26ac0000202c0000201\
                     138990363bbbd639ea4c607cf010004f984100000101080aa0757a3947163936\
                     0101051aea4c826cea4c8814ea4c7174ea4c7cc4ea4c6624ea4c6bcc";
/// Without timestamps: ACK with nop nop SACK, four blocks.
const SACK4: &str = "02000000000102000000000208004500004cc22c40004006f47bc0000202c0000201\
                     138ab98a53f356f94b683c89e010005088690000010105224b6864754b686a29\
                     4b68590d4b685ec14b684da54b6853594b68423d4b6847f1";
/// Without timestamps: SYN with mss, nop nop sackOK, nop wscale.
const SYN_NO_TS: &str = "020000000002020000000001080045000034eb8040004006cb3fc0000201c0000202\
                         b98a138a4b682004000000008002faf0b7980000020405b4010104020103030a";
/// Without SACK or window scaling: SYN with mss, nop nop TS.
const SYN_NO_SACK: &str = "020000000002020000000001080045000038bfb840004006f703c0000201c0000202\
                           b16a138b466c6a9b000000009002faf0b7cf0000020405b40101080a7936391700000000";

/// Ethernet -> IPv4 -> TCP with every checksum verified.
fn parse(frame: &[u8]) -> (Ipv4Repr, TcpRepr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let caps = ChecksumCapabilities::default();
    let ip_repr = Ipv4Repr::parse(&ip, &caps).unwrap();
    let src = IpAddress::Ipv4(ip_repr.src_addr);
    let dst = IpAddress::Ipv4(ip_repr.dst_addr);
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    (ip_repr, TcpRepr::parse(&tcp, &src, &dst, &caps).unwrap())
}

/// The TCP segment of a frame (no IPv4 options in these captures).
fn segment(frame: &[u8]) -> &[u8] {
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    &frame[14 + usize::from(ip.header_len())..14 + usize::from(ip.total_len())]
}

fn emit(repr: &TcpRepr, src: &IpAddress, dst: &IpAddress) -> Vec<u8> {
    let mut out = vec![0xa5u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut out[..]),
        src,
        dst,
        &ChecksumCapabilities::default(),
    );
    out
}

/// Parse a real frame and re-emit its TCP segment: the bytes must be the
/// kernel's, checksum included.
fn assert_reemits_identically(frame: &[u8]) {
    let (ip, tcp) = parse(frame);
    let src = IpAddress::Ipv4(ip.src_addr);
    let dst = IpAddress::Ipv4(ip.dst_addr);
    assert_eq!(tcp.buffer_len(), ip.payload_len);
    assert_eq!(emit(&tcp, &src, &dst), segment(frame));
}

#[test]
fn linux_syn_fields() {
    let frame = hex(SYN);
    let (ip, tcp) = parse(&frame);
    assert_eq!(ip.src_addr, Ipv4Address::new(192, 0, 2, 1));
    assert_eq!(ip.next_header, IpProtocol::Tcp);
    assert_eq!(
        tcp,
        TcpRepr {
            src_port: 44752,
            dst_port: 5000,
            seq_number: SeqNumber(211_573_467),
            ack_number: SeqNumber(0),
            flags: TcpFlags::SYN,
            window_len: 64240,
            urgent_pointer: 0,
            max_seg_size: Some(1460),
            window_scale: Some(10),
            sack_permitted: true,
            sack_ranges: [None; 4],
            timestamp: Some(TcpTimestamp {
                tsval: 1_030_146_367,
                tsecr: 0
            }),
            payload: &[],
        }
    );
    assert_eq!(tcp.header_len(), 40);
    assert_eq!(tcp.segment_len(), 1);
    assert_eq!(tcp.ack(), None);
}

#[test]
fn linux_frames_reemit_identically() {
    for frame in [
        SYN,
        SYN_ACK,
        DATA,
        FIN,
        SYN_ECN,
        SACK3,
        SACK4,
        SYN_NO_TS,
        SYN_NO_SACK,
    ] {
        assert_reemits_identically(&hex(frame));
    }
}

#[test]
fn data_and_fin_fields() {
    let frame = hex(DATA);
    let (_, tcp) = parse(&frame);
    assert_eq!(tcp.flags, TcpFlags::PSH | TcpFlags::ACK);
    assert_eq!(tcp.payload, b"hello, pollnet\n");
    assert_eq!(tcp.ack(), Some(SeqNumber(0x370b_333c)));
    assert_eq!(tcp.window_len, 63);
    assert_eq!(tcp.max_seg_size, None);
    assert_eq!(tcp.header_len(), 32);

    let frame = hex(FIN);
    let (_, tcp) = parse(&frame);
    assert!(tcp.fin());
    assert_eq!(tcp.segment_len(), 1);
}

#[test]
fn ecn_syn_flags() {
    let frame = hex(SYN_ECN);
    let (_, tcp) = parse(&frame);
    assert_eq!(tcp.flags, TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR);
    let packet = TcpPacket::new_checked(segment(&frame)).unwrap();
    assert_eq!(packet.flags_raw(), 0x0c2);
    assert!(packet.ece() && packet.cwr() && packet.syn() && !packet.ae());
}

#[test]
fn sack_blocks() {
    let frame = hex(SACK3);
    let (_, tcp) = parse(&frame);
    let range = |l: u32, r: u32| {
        Some(TcpSackRange {
            left: SeqNumber(l),
            right: SeqNumber(r),
        })
    };
    assert_eq!(
        tcp.sack_ranges,
        [
            range(0xea4c_826c, 0xea4c_8814),
            range(0xea4c_7174, 0xea4c_7cc4),
            range(0xea4c_6624, 0xea4c_6bcc),
            None
        ]
    );
    assert!(tcp.timestamp.is_some());

    let frame = hex(SACK4);
    let (_, tcp) = parse(&frame);
    assert_eq!(tcp.sack_ranges.iter().flatten().count(), 4);
    assert_eq!(tcp.sack_ranges[3], range(0x4b68_423d, 0x4b68_47f1));
    assert_eq!(tcp.timestamp, None);
    assert_eq!(tcp.header_len(), 20 + 36);
}

/// Reads the frames of a classic little-endian microsecond pcap file.
fn pcap_frames(file: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let mut frames = Vec::new();
    let mut rest = &file[24..];
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        frames.push(&rest[16..16 + caplen]);
        rest = &rest[16 + caplen..];
    }
    frames
}

#[test]
fn every_tcp_frame_of_real_transfers_reemits_identically() {
    let mut checked = 0;
    for file in [
        &include_bytes!("../../../tests/data/linux-transfer.pcap")[..],
        &include_bytes!("../../../tests/data/linux-no-timestamps.pcap")[..],
        &include_bytes!("../../../tests/data/linux-no-sack.pcap")[..],
    ] {
        for frame in pcap_frames(file) {
            let eth = EthernetFrame::new_checked(frame).unwrap();
            if eth.ethertype() != EthernetProtocol::Ipv4 {
                continue;
            }
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            if ip.next_header() != IpProtocol::Tcp {
                continue;
            }
            assert_reemits_identically(frame);
            checked += 1;
        }
    }
    // The three captures hold 133 + 30 + 10 TCP frames.
    assert_eq!(checked, 173);
}

fn sample_repr() -> TcpRepr<'static> {
    TcpRepr {
        src_port: 49152,
        dst_port: 80,
        seq_number: SeqNumber(0xffff_fff0),
        ack_number: SeqNumber(0x0000_0010),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 512,
        urgent_pointer: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: b"abcdefghijk",
    }
}

fn round_trip(repr: &TcpRepr) {
    let bytes = emit(repr, &CLIENT, &SERVER);
    assert_eq!(bytes.len(), repr.buffer_len());
    assert_eq!(bytes.len() % 4, repr.payload.len() % 4);
    let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(usize::from(packet.header_len()), repr.header_len());
    let parsed =
        TcpRepr::parse(&packet, &CLIENT, &SERVER, &ChecksumCapabilities::default()).unwrap();
    assert_eq!(&parsed, repr);
}

#[test]
fn emit_parse_round_trip_of_every_option_combination() {
    let ts = TcpTimestamp {
        tsval: 0x0102_0304,
        tsecr: 0xfffe_fdfc,
    };
    let range = |i: u32| {
        Some(TcpSackRange {
            left: SeqNumber(i * 1000),
            right: SeqNumber(i * 1000 + 500),
        })
    };
    let mut count = 0;
    for mask in 0u32..16 {
        for sack_count in 0..=4usize {
            let mut repr = sample_repr();
            repr.max_seg_size = (mask & 1 != 0).then_some(1460);
            repr.window_scale = (mask & 2 != 0).then_some(7);
            repr.sack_permitted = mask & 4 != 0;
            repr.timestamp = (mask & 8 != 0).then_some(ts);
            for i in 0..sack_count {
                repr.sack_ranges[i] = range(i as u32 + 1);
            }
            let mut expected = repr;
            // Only when every option is present do four SACK blocks not fit
            // in 40 bytes in any layout (4 + 3 + 2 + 10 + 34 > 40); the
            // packed layout keeps as many as fit.
            let fixed = [4, 3, 2, 10]
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, len)| len)
                .sum::<usize>();
            let fits = (0..=sack_count)
                .rev()
                .find(|n| (fixed + if *n > 0 { 2 + 8 * n } else { 0 }).next_multiple_of(4) <= 40)
                .unwrap();
            for slot in expected.sack_ranges.iter_mut().skip(fits) {
                *slot = None;
            }
            let bytes = emit(&repr, &CLIENT, &SERVER);
            let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
            let parsed =
                TcpRepr::parse(&packet, &CLIENT, &SERVER, &ChecksumCapabilities::default())
                    .unwrap();
            assert_eq!(parsed, expected, "mask {mask} sacks {sack_count}");
            if fits == sack_count {
                round_trip(&repr);
            }
            count += 1;
        }
    }
    assert_eq!(count, 80);
}

#[test]
fn packed_layout_when_aligned_does_not_fit() {
    // MSS + window scale + four SACK blocks: aligned needs 4 + 4 + 36 = 44
    // bytes, packed needs 4 + 3 + 34 = 41 -> 44; neither fits, so the last
    // block is dropped and the aligned layout is used (4 + 4 + 28 = 36).
    let mut repr = sample_repr();
    repr.max_seg_size = Some(1000);
    repr.window_scale = Some(3);
    for (i, slot) in repr.sack_ranges.iter_mut().enumerate() {
        *slot = Some(TcpSackRange {
            left: SeqNumber(i as u32 * 10),
            right: SeqNumber(i as u32 * 10 + 5),
        });
    }
    assert_eq!(repr.header_len(), 20 + 36);
    let bytes = emit(&repr, &CLIENT, &SERVER);
    assert_eq!(
        &bytes[20..28],
        &[0x02, 0x04, 0x03, 0xe8, 0x01, 0x03, 0x03, 0x03]
    );
    assert_eq!(&bytes[28..32], &[0x01, 0x01, 0x05, 26]);

    // SACK-permitted + window scale + four blocks: aligned 4 + 4 + 36 = 44,
    // packed 3 + 2 + 34 = 39 -> 40 fits: all four blocks kept, EOL padded.
    let mut repr2 = repr;
    repr2.max_seg_size = None;
    repr2.sack_permitted = true;
    assert_eq!(repr2.header_len(), 60);
    let bytes = emit(&repr2, &CLIENT, &SERVER);
    assert_eq!(&bytes[20..26], &[0x03, 0x03, 0x03, 0x04, 0x02, 0x05]);
    assert_eq!(bytes[59], 0x00);
    round_trip(&repr2);
}

#[test]
fn emit_without_checksum_leaves_zero() {
    let repr = sample_repr();
    let mut out = vec![0xffu8; repr.buffer_len()];
    let caps = ChecksumCapabilities {
        tcp: Checksum::Rx,
        ..Default::default()
    };
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut out[..]),
        &CLIENT,
        &SERVER,
        &caps,
    );
    let packet = TcpPacket::new_checked(&out[..]).unwrap();
    assert_eq!(packet.checksum(), 0);
    assert!(!packet.verify_checksum(&CLIENT, &SERVER));
    // Emit writes exactly buffer_len bytes into a larger buffer.
    let mut big = vec![0xeeu8; repr.buffer_len() + 3];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut big[..]),
        &CLIENT,
        &SERVER,
        &ChecksumCapabilities::default(),
    );
    assert_eq!(&big[repr.buffer_len()..], &[0xee; 3]);
    assert!(
        TcpPacket::new_checked(&big[..repr.buffer_len()])
            .unwrap()
            .verify_checksum(&CLIENT, &SERVER)
    );
}

#[test]
fn all_nine_flags_and_raw_bits() {
    let mut repr = sample_repr();
    repr.flags = TcpFlags::all();
    let bytes = emit(&repr, &CLIENT, &SERVER);
    assert_eq!(u16::from_be_bytes([bytes[12], bytes[13]]), 0x5000 | 0x1ff);
    round_trip(&repr);

    // Reserved bits are readable raw but not part of the flags or the repr.
    let mut bytes = bytes;
    bytes[12] |= 0x0e;
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    assert_eq!(packet.reserved(), 0x7);
    assert_eq!(packet.flags_raw(), 0xfff);
    assert_eq!(packet.flags(), TcpFlags::all());
    packet.set_flags(TcpFlags::SYN);
    assert_eq!(packet.flags_raw(), 0xe02);
    assert_eq!(packet.header_len(), 20);
    packet.set_flags_raw(0x011);
    assert_eq!(packet.flags(), TcpFlags::ACK | TcpFlags::FIN);
    assert_eq!(packet.reserved(), 0);
    assert_eq!(packet.header_len(), 20);
}

#[test]
fn setters_build_a_valid_segment() {
    let mut bytes = [0u8; 24 + 3];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_src_port(1234);
    packet.set_dst_port(80);
    packet.set_seq_number(SeqNumber(7));
    packet.set_ack_number(SeqNumber(9));
    packet.set_header_len(24);
    packet.set_syn(true);
    packet.set_ack(true);
    packet.set_ece(true);
    packet.set_cwr(true);
    packet.set_ae(true);
    packet.set_urg(true);
    packet.set_psh(true);
    packet.set_rst(true);
    packet.set_fin(true);
    packet.set_rst(false);
    packet.set_window_len(1000);
    packet.set_urgent_at(2);
    packet
        .options_mut()
        .copy_from_slice(&[0x02, 0x04, 0x02, 0x18]);
    packet.payload_mut().copy_from_slice(b"xyz");
    packet.fill_checksum(&CLIENT, &SERVER);

    let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
    assert!(packet.verify_checksum(&CLIENT, &SERVER));
    assert_eq!(packet.src_port(), 1234);
    assert_eq!(packet.dst_port(), 80);
    assert_eq!(packet.seq_number(), SeqNumber(7));
    assert_eq!(packet.ack_number(), SeqNumber(9));
    assert_eq!(packet.header_len(), 24);
    assert_eq!(packet.flags_raw(), 0x1fb);
    assert!(packet.fin() && packet.syn() && !packet.rst() && packet.psh());
    assert!(packet.ack() && packet.urg() && packet.ece() && packet.cwr() && packet.ae());
    assert_eq!(packet.window_len(), 1000);
    assert_eq!(packet.urgent_at(), 2);
    assert_eq!(packet.payload(), b"xyz");
    assert_eq!(packet.segment_len(), 5);
    let repr = TcpRepr::parse(&packet, &CLIENT, &SERVER, &ChecksumCapabilities::default()).unwrap();
    assert_eq!(repr.max_seg_size, Some(536));
    assert_eq!(repr.urgent_pointer, 2);
    assert_eq!(
        packet.to_string(),
        "TCP 1234>80 seq=7 ack=9 flags=0x1fb win=1000 len=3 mss 536"
    );
}

/// A segment with the given options area and a correct checksum.
fn with_options(options: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 20 + options.len()];
    let mut packet = TcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_src_port(1);
    packet.set_dst_port(2);
    packet.set_header_len((20 + options.len()) as u8);
    packet.set_ack(true);
    packet.options_mut().copy_from_slice(options);
    packet.fill_checksum(&CLIENT, &SERVER);
    bytes
}

fn parse_bytes(bytes: &[u8]) -> Result<TcpRepr<'_>> {
    TcpRepr::parse(
        &TcpPacket::new_unchecked(bytes),
        &CLIENT,
        &SERVER,
        &ChecksumCapabilities::default(),
    )
}

#[test]
fn parse_rejections() {
    let good = emit(&sample_repr(), &CLIENT, &SERVER);
    assert!(parse_bytes(&good).is_ok());
    // Truncated fixed header.
    for len in 0..20 {
        assert_eq!(parse_bytes(&good[..len]), Err(Error::Truncated));
    }
    // Data offset below 5.
    for offset in 0..5u8 {
        let mut bad = good.clone();
        bad[12] = (bad[12] & 0x0f) | (offset << 4);
        assert_eq!(
            parse_bytes(&bad),
            Err(Error::BadDataOffset),
            "offset {offset}"
        );
    }
    // Data offset past the buffer: 15 words = 60 bytes > 31.
    let mut bad = good.clone();
    bad[12] = (bad[12] & 0x0f) | (15 << 4);
    assert_eq!(parse_bytes(&bad), Err(Error::BadDataOffset));
    // A flipped payload bit breaks the checksum; ignored caps accept it.
    let mut bad = good.clone();
    bad[25] ^= 0x01;
    assert_eq!(parse_bytes(&bad), Err(Error::BadChecksum));
    let ignored = TcpRepr::parse(
        &TcpPacket::new_unchecked(&bad[..]),
        &CLIENT,
        &SERVER,
        &ChecksumCapabilities::ignored(),
    )
    .unwrap();
    assert_eq!(ignored.payload[5], b'f' ^ 0x01);
    // The pseudo-header counts: the same bytes between other hosts fail.
    let other = IpAddress::v4(192, 0, 2, 3);
    assert_eq!(
        TcpRepr::parse(
            &TcpPacket::new_unchecked(&good[..]),
            &CLIENT,
            &other,
            &ChecksumCapabilities::default()
        ),
        Err(Error::BadChecksum)
    );

    // Option errors.
    assert_eq!(
        parse_bytes(&with_options(&[30, 0, 0, 0])),
        Err(Error::BadOptionLength)
    );
    assert_eq!(
        parse_bytes(&with_options(&[30, 1, 0, 0])),
        Err(Error::BadOptionLength)
    );
    assert_eq!(
        parse_bytes(&with_options(&[2, 3, 0, 0])),
        Err(Error::BadOptionLength)
    );
    assert_eq!(
        parse_bytes(&with_options(&[1, 1, 1, 2])),
        Err(Error::OptionOverrun)
    );
    assert_eq!(
        parse_bytes(&with_options(&[1, 1, 30, 3])),
        Err(Error::OptionOverrun)
    );
    assert_eq!(
        parse_bytes(&with_options(&[8, 10, 0, 0])),
        Err(Error::OptionOverrun)
    );
    // An unknown option is skipped; EOL ends the list, whatever follows.
    let bytes = with_options(&[30, 4, 9, 9, 3, 3, 14, 0, 2, 0xff, 0, 0]);
    let repr = parse_bytes(&bytes).unwrap();
    assert_eq!(repr.window_scale, Some(14));
    assert_eq!(repr.max_seg_size, None);
    // A window scale above 14 is kept as received (RFC 7323 section 2.3:
    // the receiver clamps it, and that is the socket's job).
    let bytes = with_options(&[1, 3, 3, 15]);
    let repr = parse_bytes(&bytes).unwrap();
    assert_eq!(repr.window_scale, Some(15));
}

#[test]
fn parse_never_panics_on_random_bytes() {
    // xorshift64*; a cheap in-tree stand-in for the fuzz target.
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut parsed = 0;
    for _ in 0..50_000 {
        let len = (next() % 80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Keep the data offset plausible often enough to reach the options.
        if len > 12 && next() % 2 == 0 {
            bytes[12] = (((next() % 11) as u8 + 5) << 4) | (bytes[12] & 0x0f);
        }
        let packet = TcpPacket::new_unchecked(&bytes[..]);
        if let Ok(repr) =
            TcpRepr::parse(&packet, &CLIENT, &SERVER, &ChecksumCapabilities::ignored())
        {
            parsed += 1;
            let _ = repr.to_string();
            let again = emit(&repr, &CLIENT, &SERVER);
            let reparsed = parse_bytes(&again).unwrap();
            assert_eq!(reparsed, repr);
        }
        let _ = packet.to_string();
    }
    assert!(parsed > 1000, "only {parsed} random segments parsed");
}

#[test]
fn display_of_repr() {
    let frame = hex(SYN);
    let (_, tcp) = parse(&frame);
    assert_eq!(
        tcp.to_string(),
        "TCP 44752>5000 seq=211573467 win=64240 syn len=0 mss=1460 ws=10 sackOK \
         ts=1030146367/0"
    );
}

#[test]
fn seq_number_comparisons_across_the_wrap() {
    let before = SeqNumber(0xffff_fff0);
    let after = SeqNumber(0x0000_0010);
    assert!(before < after);
    assert!(after > before);
    assert_eq!(after - before, 0x20);
    assert_eq!(before - after, 0);
    assert_eq!(before + 0x20, after);
    assert_eq!(after - 0x20usize, before);
    assert_eq!(after.diff(before), 32);
    assert_eq!(before.diff(after), -32);
    assert_eq!(before.max(after), after);
    assert_eq!(before.min(after), before);
    assert_eq!(SeqNumber(u32::MAX).wrapping_add(1), SeqNumber(0));
    let mut seq = SeqNumber(u32::MAX - 1);
    seq += 3;
    assert_eq!(seq, SeqNumber(1));
    // Just under 2^31 apart the order holds; equal numbers compare equal.
    let far = before + 0x7fff_ffff;
    assert!(far > before);
    assert!(before < far);
    assert_eq!(
        before.partial_cmp(&before),
        Some(core::cmp::Ordering::Equal)
    );
    // Every point of the circle sees its successor as later.
    for raw in [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, u32::MAX] {
        let a = SeqNumber(raw);
        assert!(a < a + 1);
        assert!(a + 1000 > a);
        assert_eq!((a + 1000) - a, 1000);
    }
}

#[test]
fn ipv4_addresses_feed_the_pseudo_header() {
    // The same segment verifies only with the addresses it was made for.
    let frame = hex(DATA);
    let seg = segment(&frame);
    let packet = TcpPacket::new_checked(seg).unwrap();
    assert!(packet.verify_checksum(&CLIENT, &SERVER));
    assert!(packet.verify_checksum(&SERVER, &CLIENT)); // the sum is symmetric
    assert!(!packet.verify_checksum(&CLIENT, &IpAddress::v4(192, 0, 2, 9)));
}
