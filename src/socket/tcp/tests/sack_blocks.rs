//! The SACK receiver: the exact blocks each ACK carries for scripted
//! out-of-order arrivals (RFC 2018 sections 3 and 4), D-SACK for duplicates
//! (RFC 2883 section 4), and the negotiation that enables them.

use super::*;

/// The peer's TSval on every segment (never older, so PAWS lets it in).
const PEER_TSVAL: u32 = 500;

/// An ESTABLISHED socket (active open) with SACK negotiated, timestamps
/// on or off, no window scaling, 64 KiB buffers, delayed ACKs on.
fn sack_established(timestamps: bool) -> Harness {
    let config = TcpConfig {
        timestamps,
        window_scaling: false,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, config);
    let syn = h.connect(ISS);
    assert!(syn.sack_permitted, "SACK is offered by default");
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.sack_permitted = true;
    syn_ack.timestamp = syn.timestamp.map(|ts| TcpTimestamp {
        tsval: PEER_TSVAL,
        tsecr: ts.tsval,
    });
    let ack = h.recv(syn_ack).expect("ACK of the SYN-ACK");
    ack.is(ACK, ISS + 1, Some(IRS + 1), 0);
    assert!(ack.sack.is_empty());
    assert_eq!(h.state(), State::Established);
    h.transitions();
    h
}

/// A data segment of the peer's `[from, to)`, offsets from IRS + 1.
fn data(h: &Harness, from: u32, to: u32) -> TcpRepr<'static> {
    let payload = &bytes(to as usize)[from as usize..];
    let mut repr = seg(ACK, IRS + 1 + from, Some(ISS + 1), payload);
    if h.socket.timestamps.enabled {
        repr.timestamp = Some(TcpTimestamp {
            tsval: PEER_TSVAL,
            tsecr: 0,
        });
    }
    repr
}

/// Feeds `[from, to)`; returns the ACK's number and its SACK blocks, both
/// as offsets from IRS + 1. Out-of-order data and duplicates are ACKed at
/// once (RFC 5681 section 4.2), so each must draw an immediate ACK.
#[track_caller]
fn arrive(h: &mut Harness, from: u32, to: u32) -> (u32, Vec<(u32, u32)>) {
    let segment = data(h, from, to);
    let ack = h.recv(segment).expect("an immediate ACK");
    relative(&ack)
}

/// An ACK's number and SACK blocks as offsets from IRS + 1.
fn relative(ack: &Sent) -> (u32, Vec<(u32, u32)>) {
    let base = IRS + 1;
    let blocks = ack
        .sack
        .iter()
        .map(|&(l, r)| (l - base, r - base))
        .collect();
    (ack.ack.expect("ACK set") - base, blocks)
}

#[test]
fn one_hole_is_reported_until_filled() {
    for timestamps in [false, true] {
        let mut h = sack_established(timestamps);
        assert_eq!(arrive(&mut h, 1000, 2000), (0, vec![(1000, 2000)]));
        assert_eq!(arrive(&mut h, 2000, 3000), (0, vec![(1000, 3000)]));
        // Filling the hole ACKs everything: no block is left to report.
        assert_eq!(arrive(&mut h, 0, 1000), (3000, vec![]));
        assert_eq!(h.socket.recv_queue(), 3000);
    }
}

#[test]
fn several_holes_newest_block_first_then_most_recent() {
    for timestamps in [false, true] {
        let mut h = sack_established(timestamps);
        assert_eq!(arrive(&mut h, 1000, 1500), (0, vec![(1000, 1500)]));
        assert_eq!(
            arrive(&mut h, 3000, 3500),
            (0, vec![(3000, 3500), (1000, 1500)])
        );
        assert_eq!(
            arrive(&mut h, 5000, 5500),
            (0, vec![(5000, 5500), (3000, 3500), (1000, 1500)])
        );
        // The block that grows goes first; the others keep their order.
        assert_eq!(
            arrive(&mut h, 1500, 2000),
            (0, vec![(1000, 2000), (5000, 5500), (3000, 3500)])
        );
        assert_eq!(
            arrive(&mut h, 2500, 3000),
            (0, vec![(2500, 3500), (1000, 2000), (5000, 5500)])
        );
    }
}

#[test]
fn holes_filled_in_different_orders() {
    for timestamps in [false, true] {
        // The middle hole first: two blocks merge into one, reported first.
        let mut h = sack_established(timestamps);
        arrive(&mut h, 1000, 1500);
        arrive(&mut h, 2000, 2500);
        arrive(&mut h, 3000, 3500);
        assert_eq!(
            arrive(&mut h, 1500, 2000),
            (0, vec![(1000, 2500), (3000, 3500)])
        );
        // Then the first hole: RCV.NXT passes the merged block; the block
        // left is still reported.
        assert_eq!(arrive(&mut h, 0, 1000), (2500, vec![(3000, 3500)]));
        assert_eq!(arrive(&mut h, 2500, 3000), (3500, vec![]));

        // The last hole first, then the first: each ACK is exact.
        let mut h = sack_established(timestamps);
        arrive(&mut h, 1000, 1500);
        arrive(&mut h, 2000, 2500);
        arrive(&mut h, 3000, 3500);
        assert_eq!(
            arrive(&mut h, 2500, 3000),
            (0, vec![(2000, 3500), (1000, 1500)])
        );
        assert_eq!(
            arrive(&mut h, 0, 500),
            (500, vec![(2000, 3500), (1000, 1500)])
        );
        assert_eq!(arrive(&mut h, 500, 1000), (1500, vec![(2000, 3500)]));
        assert_eq!(arrive(&mut h, 1500, 2000), (3500, vec![]));
    }
}

#[test]
fn more_holes_than_blocks_keeps_the_most_recent() {
    // Six holes: 4 blocks fit beside no timestamps, 3 beside timestamps.
    for (timestamps, fit) in [(false, 4), (true, 3)] {
        let mut h = sack_established(timestamps);
        let mut last = (0, vec![]);
        for i in 1..=6u32 {
            last = arrive(&mut h, 1000 * i, 1000 * i + 100);
        }
        let newest_first: Vec<(u32, u32)> = (1..=6u32)
            .rev()
            .map(|i| (1000 * i, 1000 * i + 100))
            .take(fit)
            .collect();
        assert_eq!(last, (0, newest_first));
        // Growing an old block that was no longer reported brings it back
        // first; the others follow newest first.
        let (ack, blocks) = arrive(&mut h, 1100, 1200);
        assert_eq!(ack, 0);
        let mut expected = vec![(1000, 1200), (6000, 6100), (5000, 5100), (4000, 4100)];
        expected.truncate(fit);
        assert_eq!(blocks, expected);
    }
}

#[test]
fn dsack_for_a_duplicate_below_rcv_nxt() {
    for timestamps in [false, true] {
        let mut h = sack_established(timestamps);
        // In order: delayed, so no immediate ACK; the timer sends it.
        assert_eq!(h.recv(data(&h, 0, 1000)), None);
        h.advance(ms(100));
        let ack = h.dispatch().expect("delayed ACK");
        assert_eq!(relative(&ack), (1000, vec![]));
        // The whole segment again: an immediate ACK with its D-SACK block.
        assert_eq!(arrive(&mut h, 0, 1000), (1000, vec![(0, 1000)]));
        // Reported once: the next ACK carries no block.
        h.socket.ack_now = true;
        let ack = h.dispatch().expect("ACK");
        assert_eq!(relative(&ack), (1000, vec![]));
        // A segment partly old, partly new: the old part is D-SACKed and
        // the ACK goes at once although the new part arrived in order.
        assert_eq!(arrive(&mut h, 500, 1500), (1500, vec![(500, 1000)]));
    }
}

#[test]
fn dsack_below_rcv_nxt_while_holes_are_held() {
    let mut h = sack_established(true);
    assert_eq!(h.recv(data(&h, 0, 1000)), None);
    arrive(&mut h, 2000, 3000);
    arrive(&mut h, 4000, 5000);
    // D-SACK first, then the held blocks as always (3 fit with timestamps).
    assert_eq!(
        arrive(&mut h, 0, 1000),
        (1000, vec![(0, 1000), (4000, 5000), (2000, 3000)])
    );
}

#[test]
fn dsack_for_a_duplicate_inside_a_sacked_block() {
    for timestamps in [false, true] {
        let mut h = sack_established(timestamps);
        arrive(&mut h, 1000, 3000);
        arrive(&mut h, 4000, 5000);
        arrive(&mut h, 6000, 7000);
        // RFC 2883 section 4: the duplicate first, then the block holding
        // it, then the most recent others.
        let (ack, blocks) = arrive(&mut h, 1500, 2000);
        assert_eq!(ack, 0);
        let mut expected = vec![(1500, 2000), (1000, 3000), (6000, 7000), (4000, 5000)];
        expected.truncate(if timestamps { 3 } else { 4 });
        assert_eq!(blocks, expected);
        // A segment overlapping a held block and reaching past it: the
        // overlap is the duplicate, the grown block follows.
        assert_eq!(
            arrive(&mut h, 6500, 7500).1[..2],
            [(6500, 7000), (6000, 7500)]
        );
        // The next ACK reports no duplicate.
        assert_eq!(
            arrive(&mut h, 8000, 8100).1[..2],
            [(8000, 8100), (6000, 7500)]
        );
    }
}

#[test]
fn no_blocks_unless_both_syns_offered_sack() {
    // The peer did not offer SACK-permitted.
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            window_scaling: false,
            timestamps: false,
            ..TcpConfig::default()
        },
    );
    assert!(h.connect(ISS).sack_permitted);
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460))
        .unwrap();
    assert_eq!(arrive(&mut h, 1000, 2000), (0, vec![]));
    assert_eq!(arrive(&mut h, 1000, 2000), (0, vec![]));

    // We do not allow it: no offer in the SYN, and the peer's is ignored.
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            sack: false,
            ..plain_config()
        },
    );
    assert!(!h.connect(ISS).sack_permitted);
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.sack_permitted = true;
    h.recv(syn_ack).unwrap();
    assert_eq!(arrive(&mut h, 1000, 2000), (0, vec![]));
}

#[test]
fn passive_open_answers_sack_permitted_only_when_offered() {
    for offered in [false, true] {
        let mut h = Harness::new(65536, 65536, plain_config());
        h.socket.listen(LOCAL.port).unwrap();
        h.socket.set_next_isn(SeqNumber(ISS));
        let mut syn = with_mss(seg(SYN, IRS, None, b""), 1460);
        syn.sack_permitted = offered;
        assert_eq!(h.recv(syn), None);
        let syn_ack = h.dispatch().expect("SYN-ACK");
        assert_eq!(syn_ack.sack_permitted, offered);
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b""));
        assert_eq!(h.state(), State::Established);
        let expected = if offered { vec![(1000, 2000)] } else { vec![] };
        assert_eq!(arrive(&mut h, 1000, 2000), (0, expected));
    }
}

#[test]
fn data_segments_carry_the_blocks_and_shrink_to_fit_the_mss() {
    for (timestamps, base) in [(false, 0), (true, 12)] {
        let mut h = sack_established(timestamps);
        h.socket.send_slice(bytes(3000)).unwrap();
        // Nothing held: full segments of MSS less the timestamps.
        let first = h.dispatch().expect("data");
        assert_eq!(first.payload.len(), 1460 - base);
        assert!(first.sack.is_empty());
        // Two blocks held: each data segment carries them, in the order an
        // ACK would, and its payload leaves room for them (4 + 2 * 8).
        h.recv(data(&h, 1000, 1100)).expect("ACK");
        h.recv(data(&h, 2000, 2100)).expect("ACK");
        let second = h.dispatch().expect("data");
        assert_eq!(second.payload.len(), 1460 - base - 20);
        assert_eq!(
            relative(&second).1,
            [(2000, 2100), (1000, 1100)],
            "the data segment's SACK blocks"
        );
    }
}

#[test]
fn data_past_the_peers_fin_is_dropped_not_reported() {
    let mut h = sack_established(false);
    // [100, 200) with the FIN at 200, then [300, 350): data past the FIN.
    let mut fin = data(&h, 100, 200);
    fin.flags |= FIN;
    assert_eq!(relative(&h.recv(fin).unwrap()), (0, vec![(100, 200)]));
    assert_eq!(arrive(&mut h, 300, 350), (0, vec![(300, 350), (100, 200)]));
    // The hole fills and the FIN is taken: what lay past it is forgotten.
    assert_eq!(arrive(&mut h, 0, 100), (201, vec![]));
    assert_eq!(h.state(), State::CloseWait);
    assert_eq!(h.socket.recv_queue(), 200);
}
