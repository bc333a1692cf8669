//! Options: MSS (RFC 9293 3.7.1), window scaling (RFC 7323 2), timestamps,
//! PAWS and RTT from echoed timestamps (RFC 7323 3-5), SACK-permitted;
//! ICMP errors (RFC 5927, RFC 1122 4.2.3.9, RFC 1191).

use super::*;
use crate::socket::tcp::{IcmpError, TcpError};
use State::*;

fn with_options(
    mut repr: TcpRepr<'static>,
    ws: Option<u8>,
    ts: Option<(u32, u32)>,
) -> TcpRepr<'static> {
    repr.window_scale = ws;
    repr.timestamp = ts.map(|(tsval, tsecr)| TcpTimestamp { tsval, tsecr });
    repr
}

#[test]
fn the_peers_mss_limits_segments_and_536_is_the_default() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1000))
        .unwrap();
    assert_eq!(h.socket.send_mss(), 1000);
    h.socket.send_slice(bytes(2000)).unwrap();
    let sent = h.dispatch_all();
    assert_eq!(
        sent.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        [1000, 1000]
    );

    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    h.recv(seg(SYN | ACK, IRS, Some(ISS + 1), b"")).unwrap();
    assert_eq!(h.socket.send_mss(), 536);

    // Our MSS comes from the IP MTU; the peer's is capped by it.
    let mut h = Harness::new(65536, 65536, plain_config());
    h.cx.ip_mtu = 576;
    assert_eq!(h.connect(ISS).mss, Some(536));
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 9000))
        .unwrap();
    assert_eq!(h.socket.send_mss(), 536);
}

#[test]
fn active_open_with_window_scaling_and_timestamps() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            min_rto: ms(10),
            ..TcpConfig::default()
        },
    );
    let syn = h.connect(ISS);
    assert_eq!(syn.window, 65535);
    assert_eq!(syn.window_scale, Some(1));
    let ts = syn.timestamp.unwrap();
    assert_eq!(ts.tsecr, 0);
    let clock = ts.tsval;

    h.set_time(Instant::ZERO + ms(50));
    let synack = with_options(
        with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460),
        Some(2),
        Some((777, clock)),
    );
    let ack = h.recv(synack).unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    // 65536 bytes of buffer at shift 1.
    assert_eq!(ack.window, 32768);
    assert_eq!(
        ack.timestamp,
        Some(TcpTimestamp {
            tsval: clock + 50,
            tsecr: 777
        })
    );
    // RTT 50 ms from the echoed timestamp: RTO = 50 + 4 * 25 ms.
    assert_eq!(h.socket.rto(), ms(150));
    // The SYN-ACK's window is not scaled; later windows are (shift 2).
    assert_eq!(h.socket.send_window(), 32767);
    let mut update = with_options(
        seg(ACK, IRS + 1, Some(ISS + 1), b""),
        None,
        Some((778, clock + 50)),
    );
    update.window_len = 1000;
    assert_eq!(h.recv(update), None);
    assert_eq!(h.socket.send_window(), 4000);

    // Segments carry 1460 - 12 bytes of data beside the timestamps.
    h.socket.set_nagle_enabled(false);
    h.socket.send_slice(bytes(3000)).unwrap();
    h.set_time(Instant::ZERO + ms(100));
    let sent = h.dispatch_all();
    assert_eq!(
        sent.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        [1448, 1448, 104]
    );
    assert_eq!(
        sent[0].timestamp,
        Some(TcpTimestamp {
            tsval: clock + 100,
            tsecr: 778
        })
    );
    // An ACK echoing it 30 ms later is an RTT sample of 30 ms:
    // RTTVAR = 3/4 * 25 + 1/4 * 20, SRTT = 7/8 * 50 + 1/8 * 30.
    h.set_time(Instant::ZERO + ms(130));
    let ack = with_options(
        seg(ACK, IRS + 1, Some(ISS + 1449), b""),
        None,
        Some((779, clock + 100)),
    );
    assert_eq!(h.recv(ack), None);
    assert_eq!(h.socket.rto(), Duration::from_micros(47_500 + 4 * 23_750));
}

#[test]
fn paws_drops_old_timestamps_and_segments_without_the_option() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            quick_acks: 0,
            ..TcpConfig::default()
        },
    );
    let clock = h.connect(ISS).timestamp.unwrap().tsval;
    h.recv(with_options(
        seg(SYN | ACK, IRS, Some(ISS + 1), b""),
        Some(0),
        Some((1000, clock)),
    ))
    .unwrap();
    // An older TSval: an ACK, and the data is not taken.
    let old = with_options(
        seg(ACK, IRS + 1, Some(ISS + 1), b"old"),
        None,
        Some((999, clock)),
    );
    h.recv(old).unwrap().is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert_eq!(h.socket.recv_queue(), 0);
    // No timestamp at all: dropped silently (RFC 7323 3.2).
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b"bare")), None);
    assert_eq!(h.socket.recv_queue(), 0);
    // Equal or newer: taken, and TS.Recent follows.
    let good = with_options(
        seg(ACK, IRS + 1, Some(ISS + 1), b"new"),
        None,
        Some((1000, clock)),
    );
    assert_eq!(h.recv(good), None);
    assert_eq!(h.socket.recv_queue(), 3);
    // RFC 7323 4.3: with the ACK of IRS+4 still delayed, a segment past
    // Last.ACK.sent does not update TS.Recent...
    let newer = with_options(
        seg(ACK, IRS + 4, Some(ISS + 1), b"!"),
        None,
        Some((5000, clock)),
    );
    h.recv(newer);
    h.advance(ms(100));
    let ack = h.dispatch().unwrap();
    ack.is(ACK, ISS + 1, Some(IRS + 5), 0);
    assert_eq!(ack.timestamp.unwrap().tsecr, 1000);
    // ...one starting at Last.ACK.sent does.
    let next = with_options(
        seg(ACK, IRS + 5, Some(ISS + 1), b"?"),
        None,
        Some((5000, clock)),
    );
    h.recv(next);
    h.advance(ms(100));
    assert_eq!(h.dispatch().unwrap().timestamp.unwrap().tsecr, 5000);
    // TSval wraps: 2^31 - 1 ahead is newer; then 2^31 + 1 ahead of that
    // (2^31 - 1 behind) is older.
    let wrapped = with_options(
        seg(ACK, IRS + 6, Some(ISS + 1), b"w"),
        None,
        Some((5000u32.wrapping_add(0x7fff_ffff), clock)),
    );
    h.recv(wrapped);
    assert_eq!(h.socket.recv_queue(), 6);
    let too_old = with_options(
        seg(ACK, IRS + 7, Some(ISS + 1), b"o"),
        None,
        Some((
            5000u32.wrapping_add(0x7fff_ffff).wrapping_add(0x8000_0001),
            clock,
        )),
    );
    h.recv(too_old);
    assert_eq!(h.socket.recv_queue(), 6);
    // A RST needs no timestamp.
    assert_eq!(h.recv(seg(RST, IRS + 7, None, b"")), None);
    assert_eq!(h.state(), Closed);
}

#[test]
fn passive_open_echoes_the_options_the_peer_offered() {
    let mut h = Harness::new(
        262144,
        65536,
        TcpConfig {
            sack: true,
            ..TcpConfig::default()
        },
    );
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    let mut syn = with_options(
        with_mss(seg(SYN, IRS, None, b""), 1000),
        Some(15),
        Some((42, 0)),
    );
    syn.sack_permitted = true;
    h.recv(syn);
    let syn_ack = h.dispatch().unwrap();
    syn_ack.is(SYN | ACK, ISS, Some(IRS + 1), 0);
    assert_eq!(syn_ack.mss, Some(1460));
    // 256 KiB needs shift 3 to fit 16 bits.
    assert_eq!(syn_ack.window_scale, Some(3));
    assert_eq!(syn_ack.window, 65535);
    assert!(syn_ack.sack_permitted);
    assert_eq!(syn_ack.timestamp.unwrap().tsecr, 42);
    assert_eq!(h.socket.send_mss(), 1000);
    let clock = syn_ack.timestamp.unwrap().tsval;
    let mut ack = with_options(
        seg(ACK, IRS + 1, Some(ISS + 1), b""),
        None,
        Some((43, clock)),
    );
    ack.window_len = 1;
    h.recv(ack);
    // The peer's shift 15 is used as 14 (RFC 7323 2.3).
    assert_eq!(h.socket.send_window(), 1 << 14);
    h.socket.send_slice(b"x").unwrap();
    let data = h.dispatch().unwrap();
    // 262144 bytes free at shift 3.
    assert_eq!(data.window, 32768);
}

#[test]
fn options_are_off_unless_both_sides_offer_them() {
    // The peer offers nothing: no scaling, no timestamps.
    let mut h = Harness::new(262144, 65536, TcpConfig::default());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    let syn_ack = h.dispatch().unwrap();
    assert_eq!(
        (
            syn_ack.window_scale,
            syn_ack.timestamp,
            syn_ack.sack_permitted
        ),
        (None, None, false)
    );
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b""));
    h.socket.send_slice(b"x").unwrap();
    let data = h.dispatch().unwrap();
    assert_eq!((data.window, data.timestamp), (65535, None));

    // We offer nothing: the peer's options are ignored.
    let mut h = Harness::new(262144, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.recv(with_options(
        seg(SYN, IRS, None, b""),
        Some(5),
        Some((1, 0)),
    ));
    let syn_ack = h.dispatch().unwrap();
    assert_eq!((syn_ack.window_scale, syn_ack.timestamp), (None, None));
}

#[test]
fn hard_icmp_errors_abort_an_opening_connection() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    // A quoted sequence number outside [SND.UNA, SND.MAX) is not believed.
    h.socket
        .on_icmp_error(&mut h.cx, SeqNumber(ISS + 1), IcmpError::HardUnreachable);
    assert_eq!(h.state(), SynSent);
    h.socket
        .on_icmp_error(&mut h.cx, SeqNumber(ISS), IcmpError::HardUnreachable);
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::Unreachable));
    h.expect_trace(&[
        (Closed, SynSent, Cause::Connect),
        (SynSent, Closed, Cause::IcmpError),
    ]);
    h.expect_silence();

    // A passive open goes back to LISTEN.
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(seg(SYN, IRS, None, b""));
    h.dispatch().unwrap();
    h.socket
        .on_icmp_error(&mut h.cx, SeqNumber(ISS), IcmpError::HardUnreachable);
    assert_eq!(h.state(), Listen);
}

#[test]
fn soft_icmp_errors_are_reported_and_not_fatal() {
    let mut h = established();
    h.socket.send_slice(b"data").unwrap();
    h.dispatch().unwrap();
    h.socket
        .on_icmp_error(&mut h.cx, SeqNumber(ISS + 1), IcmpError::SoftUnreachable);
    assert_eq!(h.socket.soft_error(), Some(TcpError::Unreachable));
    assert_eq!(h.socket.error(), None);
    // Hard errors in synchronized states are soft (RFC 5461).
    h.socket
        .on_icmp_error(&mut h.cx, SeqNumber(ISS + 1), IcmpError::HardUnreachable);
    assert_eq!(h.state(), Established);
}

#[test]
fn fragmentation_needed_lowers_the_mss_and_resends() {
    let mut h = established();
    h.socket.send_slice(bytes(2920)).unwrap();
    assert_eq!(h.dispatch_all().len(), 2);
    // A larger MTU, or a sequence number not in flight: ignored.
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1),
        IcmpError::FragmentationNeeded { mtu: 9000 },
    );
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 3000),
        IcmpError::FragmentationNeeded { mtu: 1000 },
    );
    assert_eq!(h.socket.send_mss(), 1460);
    h.expect_silence();
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1),
        IcmpError::FragmentationNeeded { mtu: 1000 },
    );
    assert_eq!(h.socket.send_mss(), 960);
    let resent = h.dispatch_all();
    assert_eq!(
        resent
            .iter()
            .map(|s| (s.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        [
            (ISS + 1, 960),
            (ISS + 961, 960),
            (ISS + 1921, 960),
            (ISS + 2881, 40),
        ]
    );
    // Never below 68 - 40 bytes.
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1),
        IcmpError::FragmentationNeeded { mtu: 20 },
    );
    assert_eq!(h.socket.send_mss(), 28);
}

#[test]
fn lowered_path_mtu_is_raised_again_after_ten_minutes() {
    let mut h = established();
    // Every segment goes out at once, so the sizes show the MSS.
    h.socket.set_nagle_enabled(false);
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1),
        IcmpError::FragmentationNeeded { mtu: 1000 },
    );
    // Nothing was in flight: the error quotes no sequence number we sent.
    assert_eq!(h.socket.send_mss(), 1460);
    h.socket.send_slice(bytes(1460)).unwrap();
    assert_eq!(h.dispatch_all().len(), 1);
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1),
        IcmpError::FragmentationNeeded { mtu: 1000 },
    );
    assert_eq!(h.socket.send_mss(), 960);
    let resent = h.dispatch_all();
    assert_eq!(
        resent
            .iter()
            .map(|s| (s.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        [(ISS + 1, 960), (ISS + 961, 500)]
    );
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1461), b""));
    // A second decrease restarts the ten minutes (RFC 1191 6.3 counts from
    // the most recent one).
    h.advance(secs(300));
    h.socket.send_slice(bytes(1460)).unwrap();
    assert_eq!(h.dispatch_all().len(), 2);
    h.socket.on_icmp_error(
        &mut h.cx,
        SeqNumber(ISS + 1461),
        IcmpError::FragmentationNeeded { mtu: 800 },
    );
    assert_eq!(h.socket.send_mss(), 760);
    let sent = h.dispatch_all();
    assert_eq!(
        sent.iter()
            .map(|s| (s.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        [(ISS + 1461, 760), (ISS + 2221, 700)]
    );
    h.recv(seg(ACK, IRS + 1, Some(ISS + 2921), b""));
    // Just before ten minutes after the second decrease: still lowered.
    h.advance(secs(600) - ms(1));
    h.socket.send_slice(bytes(1460)).unwrap();
    let sent = h.dispatch_all();
    assert_eq!(
        sent.iter()
            .map(|s| (s.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        [(ISS + 2921, 760), (ISS + 3681, 700)]
    );
    assert_eq!(h.socket.send_mss(), 760);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 4381), b""));
    // At ten minutes the handshake's MSS is tried again.
    h.advance(ms(1));
    h.socket.send_slice(bytes(1460)).unwrap();
    let sent = h.dispatch_all();
    assert_eq!(
        sent.iter()
            .map(|s| (s.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        [(ISS + 4381, 1460)]
    );
    assert_eq!(h.socket.send_mss(), 1460);
}
