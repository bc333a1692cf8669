//! The SACK sender: scripted SACK blocks from the peer drive the
//! scoreboard, RACK (RFC 8985), fast recovery with PRR (RFC 6675,
//! RFC 6937), tail loss probes, the RTO's marks and reneging (RFC 2018
//! section 8), and the undo of spurious retransmissions (RFC 3708 D-SACK,
//! RFC 3522 Eifel). Every segment sent is checked byte for byte.

use super::*;
use crate::wire::TcpSackRange;

/// The data every test sends, so payloads can be checked exactly.
const DATA_LEN: usize = 20 * 1460;

fn data() -> &'static [u8] {
    bytes(DATA_LEN)
}

/// Sequence number of segment `n` (1460 bytes each from ISS + 1).
fn at(n: u32) -> u32 {
    ISS + 1 + n * 1460
}

/// An ESTABLISHED socket whose peer agreed to SACK (plain options
/// otherwise), with `config` changes applied.
fn sack_established_with(config: TcpConfig) -> Harness {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            sack: true,
            ..config
        },
    );
    // The handshake takes 10 ms, the path's RTT, and ends at t = 0.
    h.set_time(Instant::from_millis(-10));
    h.connect(ISS);
    h.set_time(Instant::ZERO);
    let mut syn_ack = with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460);
    syn_ack.sack_permitted = true;
    syn_ack.timestamp = config.timestamps.then_some(TcpTimestamp {
        tsval: 1,
        tsecr: h.socket.ts_clock(h.now()),
    });
    h.recv(syn_ack).expect("ACK of the SYN-ACK");
    assert_eq!(h.state(), State::Established);
    h.transitions();
    h
}

fn sack_established() -> Harness {
    sack_established_with(plain_config())
}

/// The peer's ACK of `ack` with SACK blocks `[l, r)`, first block first.
fn sack_ack(ack: u32, blocks: &[(u32, u32)]) -> TcpRepr<'static> {
    let mut repr = seg(ACK, IRS + 1, Some(ack), b"");
    for (slot, &(left, right)) in repr.sack_ranges.iter_mut().zip(blocks) {
        *slot = Some(TcpSackRange {
            left: SeqNumber(left),
            right: SeqNumber(right),
        });
    }
    repr
}

/// Asserts `sent` is a data segment at `seq` carrying exactly the data
/// bytes that belong there.
#[track_caller]
fn is_data(sent: &Sent, seq: u32, len: usize) {
    assert_eq!(
        (sent.seq, sent.payload.len()),
        (seq, len),
        "segment at {} of {} bytes",
        sent.seq,
        sent.payload.len()
    );
    let offset = seq.wrapping_sub(ISS + 1) as usize;
    assert_eq!(sent.payload, &data()[offset..offset + len], "payload bytes");
}

/// Queues `DATA_LEN` bytes and sends the initial window at t = 0.
fn send_window(h: &mut Harness) -> Vec<Sent> {
    assert_eq!(h.socket.send_slice(data()), Ok(DATA_LEN));
    let sent = h.dispatch_all();
    assert_eq!(sent.len(), 10, "the initial window");
    for (i, s) in sent.iter().enumerate() {
        is_data(s, at(i as u32), 1460);
    }
    sent
}

/// Reordering within RACK's window is not a loss; a segment still missing
/// after the window is, and is the only one resent.
#[test]
fn rack_reordering_window_then_loss() {
    let mut h = sack_established();
    send_window(&mut h);
    // Segment 0 is ACKed after 10 ms (the first RTT sample); 1 is late and
    // 2 is SACKed.
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    // Slow start: two new segments for the one ACKed.
    let new = h.dispatch_all();
    assert_eq!(new.len(), 2);
    is_data(&new[0], at(10), 1460);
    is_data(&new[1], at(11), 1460);
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(3))])), None);
    // One SACKed segment: segment 1 may be reordered. RACK's window is
    // min_RTT / 4 = 2.5 ms, so its timer is at 0 + 10 + 2.5 ms.
    // Slow start counts the SACKed bytes too: two more segments.
    let more = h.dispatch_all();
    assert_eq!(more.len(), 2);
    is_data(&more[0], at(12), 1460);
    is_data(&more[1], at(13), 1460);
    assert_eq!(
        h.poll_at(),
        PollAt::Time(Instant::ZERO + Duration::from_micros(12_500))
    );
    // Segment 1 arrives within the window: no retransmission.
    h.set_time(Instant::ZERO + ms(11));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(3)), b"")), None);
    assert_eq!(h.stats().retransmissions, 0);
    h.dispatch_all();
    // Segment 3 is lost: 4 is SACKed at 12 ms, and the loss is declared
    // 2.5 ms after RTT past segment 3's send time (0 + 12 + 2.5 ms, RACK.rtt
    // being that of segment 4, sent at 0 and SACKed at 12 ms).
    h.set_time(Instant::ZERO + ms(12));
    assert_eq!(h.recv(sack_ack(at(3), &[(at(4), at(5))])), None);
    let before = h.dispatch_all();
    assert!(
        before.iter().all(|s| s.seq >= at(10)),
        "no retransmission yet"
    );
    assert_eq!(h.stats().retransmissions, 0);
    h.set_time(Instant::ZERO + Duration::from_micros(14_499));
    h.dispatch_all();
    assert_eq!(h.stats().retransmissions, 0);
    h.set_time(Instant::ZERO + Duration::from_micros(14_500));
    let resent = h.dispatch().expect("RACK's reordering timer");
    is_data(&resent, at(3), 1460);
    assert_eq!(h.stats().retransmissions, 1);
    assert_eq!(h.stats().fast_recoveries, 1);
    assert_eq!(h.stats().rtos, 0);
}

/// Three SACKed segments above a hole and no reordering seen: the hole is
/// lost on that ACK (RACK's window is zero, as three duplicate ACKs would
/// have it); only the hole is resent, and fast recovery ends with
/// cwnd = ssthresh.
#[test]
fn sack_recovery_resends_only_the_holes() {
    // NewReno, so ssthresh is half the flight (RFC 5681 equation 4).
    let mut h = sack_established_with(TcpConfig {
        congestion: crate::socket::tcp::CongestionAlgorithm::NewReno,
        ..plain_config()
    });
    send_window(&mut h);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    assert_eq!(h.dispatch_all().len(), 2);
    // Segments 1 and 4 are lost; 2, 3, 5, 6 arrive.
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(3))])), None);
    h.dispatch_all();
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(4))])), None);
    h.dispatch_all();
    assert_eq!(h.stats().retransmissions, 0);
    let flight = h.socket.debug_sequence().snd_max - SeqNumber(at(1));
    assert_eq!(
        h.recv(sack_ack(at(1), &[(at(5), at(6)), (at(2), at(4))])),
        None
    );
    // IsLost(SND.UNA): three SACKed segments above. Segment 4 was sent at
    // the same time as the SACKed 5: lost too.
    let resent = h.dispatch().expect("fast retransmit");
    is_data(&resent, at(1), 1460);
    assert_eq!(h.stats().fast_recoveries, 1);
    let ssthresh = h.socket.cc.ssthresh();
    assert_eq!(ssthresh, flight / 2);
    // PRR sends ssthresh / RecoverFS (one half) of what is delivered, the
    // forced fast retransmission included: two SACKed segments release
    // nothing, the third the second hole, lowest first.
    for n in [7, 8] {
        assert_eq!(
            h.recv(sack_ack(at(1), &[(at(5), at(n)), (at(2), at(4))])),
            None
        );
        h.expect_silence();
    }
    assert_eq!(
        h.recv(sack_ack(at(1), &[(at(5), at(9)), (at(2), at(4))])),
        None
    );
    is_data(&h.dispatch().unwrap(), at(4), 1460);
    h.expect_silence();
    // Then new data, never a SACKed segment.
    for n in [10, 11] {
        assert_eq!(
            h.recv(sack_ack(at(1), &[(at(5), at(n)), (at(2), at(4))])),
            None
        );
        for s in h.dispatch_all() {
            assert!(s.seq >= at(12), "new data only: {}", s.seq);
            is_data(&s, s.seq, 1460);
        }
    }
    // Nothing the peer holds was sent again.
    assert_eq!(h.stats().retransmissions, 2);
    // The holes are filled: everything sent is ACKed and recovery ends.
    let snd_max = h.socket.debug_sequence().snd_max.0;
    h.set_time(Instant::ZERO + ms(20));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(snd_max), b"")), None);
    assert_eq!(h.socket.congestion_window(), ssthresh);
    assert_eq!(h.stats().rtos, 0);
    assert_eq!(h.stats().spurious_undone, 0);
}

/// A lost tail: the probe timeout (2 * SRTT) resends the last segment;
/// its SACK shows the others lost and they are recovered without an RTO.
#[test]
fn tlp_recovers_a_lost_tail_without_an_rto() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..10 * 1460]), Ok(10 * 1460));
    assert_eq!(h.dispatch_all().len(), 10);
    // Segments 0..7 are ACKed at 10 ms; 7, 8, 9 are lost.
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(7)), b"")), None);
    h.expect_silence();
    // SRTT 10 ms: PTO = 20 ms after the ACK, well before the 1 s RTO.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(30)));
    h.set_time(Instant::ZERO + ms(30) - Duration::from_micros(1));
    h.expect_silence();
    h.set_time(Instant::ZERO + ms(30));
    let probe = h.dispatch().expect("loss probe");
    is_data(&probe, at(9), 1460);
    assert_eq!(probe.flags, ACK | PSH);
    h.expect_silence();
    assert_eq!(h.stats().tlps_sent, 1);
    // Unanswered, a second probe would follow after twice the timeout;
    // the RTO runs 1 s from the first probe.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(70)));
    assert_eq!(h.socket.timers.retransmit, Some(Instant::ZERO + ms(1030)));
    // The probe is SACKed 10 ms later: 7 and 8, sent long before it, are
    // lost; PRR lets both go at once (pipe is zero, below ssthresh).
    h.set_time(Instant::ZERO + ms(40));
    assert_eq!(h.recv(sack_ack(at(7), &[(at(9), at(10))])), None);
    let resent = h.dispatch_all();
    assert_eq!(resent.len(), 2);
    is_data(&resent[0], at(7), 1460);
    is_data(&resent[1], at(8), 1460);
    assert_eq!(h.stats().fast_recoveries, 1);
    h.set_time(Instant::ZERO + ms(50));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(10)), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.stats().rtos, 0);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

/// One segment in flight: the PTO adds the peer's worst-case delayed ACK
/// (200 ms); an ACK of the probe that shows nothing was lost (a pure
/// duplicate: the original had arrived) reduces nothing.
#[test]
fn tlp_for_a_lone_segment_waits_for_a_delayed_ack() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..1460]), Ok(1460));
    h.dispatch().unwrap();
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    assert_eq!(h.socket.send_slice(&data()[1460..2920]), Ok(1460));
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    // PTO = 2 * 10 ms + 200 ms from the send.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(230)));
    h.set_time(Instant::ZERO + ms(230));
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    let cwnd = h.socket.congestion_window();
    // The probe's ACK: SND.UNA passes it, so the probe repaired a loss
    // (RFC 8985 7.4): one reduction, and no recovery left open.
    h.set_time(Instant::ZERO + ms(240));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(2)), b"")), None);
    assert!(h.socket.congestion_window() < cwnd);
    assert_eq!(h.stats().fast_recoveries, 0);
    assert_eq!(h.stats().tlps_sent, 1);
}

/// Without SACK there is no loss probe (as Linux arms TLP only with
/// SACK): a lost tail waits for the RTO, which resends it.
#[test]
fn without_sack_a_lost_tail_waits_for_the_rto() {
    let mut h = established();
    assert_eq!(h.socket.send_slice(&data()[..3 * 1460]), Ok(3 * 1460));
    assert_eq!(h.dispatch_all().len(), 3);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(2)), b"")), None);
    // The RTO (1 s floor) from this ACK, and nothing before it.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1010)));
    h.set_time(Instant::ZERO + ms(1010));
    is_data(&h.dispatch().unwrap(), at(2), 1460);
    assert_eq!(h.stats().tlps_sent, 0);
    assert_eq!(h.stats().rtos, 1);
}

/// An RTO resends what the peer lacks, lowest first, and never a SACKed
/// segment (RFC 8985 section 6.3).
#[test]
fn an_rto_keeps_the_sacked_marks() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..6 * 1460]), Ok(6 * 1460));
    assert_eq!(h.dispatch_all().len(), 6);
    // 1 and 3 arrive (SACKed) at 10 ms; 0, 2, 4, 5 do not.
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(
        h.recv(sack_ack(at(0), &[(at(3), at(4)), (at(1), at(2))])),
        None
    );
    // RACK's timer (10 + 2.5 ms) marks 0 and 2 lost; PRR-SSRB lets one
    // segment go (pipe is below ssthresh and nothing more was delivered),
    // and it is lost again.
    h.set_time(Instant::ZERO + ms(13));
    let resent = h.dispatch_all();
    let seqs: Vec<_> = resent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [at(0)]);
    assert_eq!(h.stats().fast_recoveries, 1);
    // Two loss probes (2 * SRTT after the retransmission, then twice
    // that) resend the highest segment not SACKed, and are lost too.
    for probe_at in [33, 73] {
        assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(probe_at)));
        h.set_time(Instant::ZERO + ms(probe_at));
        is_data(&h.dispatch().unwrap(), at(5), 1460);
        h.expect_silence();
    }
    assert_eq!(h.stats().tlps_sent, 2);
    // The RTO, 1 s after the first probe: everything not SACKed is lost;
    // cwnd is one segment.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1033)));
    h.set_time(Instant::ZERO + ms(1033));
    is_data(&h.dispatch().unwrap(), at(0), 1460);
    h.expect_silence();
    assert_eq!(h.stats().rtos, 1);
    // Each ACK lets more go; 1 and 3 are never sent again.
    let mut sent = Vec::new();
    h.advance(ms(10));
    assert_eq!(h.recv(sack_ack(at(2), &[(at(3), at(4))])), None);
    sent.extend(h.dispatch_all());
    h.advance(ms(10));
    assert_eq!(h.recv(sack_ack(at(4), &[])), None);
    sent.extend(h.dispatch_all());
    h.advance(ms(10));
    assert_eq!(h.recv(sack_ack(at(5), &[])), None);
    sent.extend(h.dispatch_all());
    let seqs: Vec<_> = sent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [at(2), at(4), at(5)]);
    for s in &sent {
        is_data(s, s.seq, 1460);
    }
    h.advance(ms(10));
    assert_eq!(h.recv(sack_ack(at(6), &[])), None);
    assert_eq!(h.socket.send_queue(), 0);
}

/// RFC 2018 section 8: SACKed data stays in the send buffer; if the
/// segment at SND.UNA is SACKed when the RTO fires, the peer has reneged:
/// the scoreboard is forgotten and the segment is sent again.
#[test]
fn reneging_clears_the_scoreboard_on_the_rto() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..2 * 1460]), Ok(2 * 1460));
    assert_eq!(h.dispatch_all().len(), 2);
    h.set_time(Instant::ZERO + ms(10));
    // The peer SACKs everything but never ACKs it cumulatively.
    assert_eq!(h.recv(sack_ack(at(0), &[(at(0), at(2))])), None);
    assert_eq!(h.socket.send_queue(), 2 * 1460, "SACKed is not freed");
    h.expect_silence();
    h.set_time(Instant::from_secs(1));
    is_data(&h.dispatch().unwrap(), at(0), 1460);
    assert_eq!(h.stats().rtos, 1);
    h.advance(ms(10));
    assert_eq!(h.recv(sack_ack(at(1), &[])), None);
    is_data(&h.dispatch().unwrap(), at(1), 1460);
}

/// A D-SACK reporting every retransmission of the episode as a duplicate
/// undoes the reduction (RFC 3708): cwnd and ssthresh come back.
#[test]
fn dsack_undoes_a_spurious_fast_recovery() {
    let mut h = sack_established();
    send_window(&mut h);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    h.dispatch_all();
    let cwnd_before = h.socket.congestion_window();
    // 2, 3, 4 SACKed: segment 1 "lost", resent.
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(5))])), None);
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.dispatch_all();
    assert!(h.socket.congestion_window() < cwnd_before);
    assert_eq!(h.stats().fast_recoveries, 1);
    // The original was only delayed: it is ACKed, then the copy comes
    // back as a D-SACK.
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(5)), b"")), None);
    assert_eq!(h.stats().spurious_undone, 0);
    assert_eq!(h.recv(sack_ack(at(5), &[(at(1), at(2))])), None);
    assert_eq!(h.stats().spurious_undone, 1);
    assert!(h.socket.congestion_window() >= cwnd_before);
    // A D-SACK outside the episode, or a second one, changes nothing.
    assert_eq!(h.recv(sack_ack(at(5), &[(at(1), at(2))])), None);
    assert_eq!(h.stats().spurious_undone, 1);
}

/// Eifel (RFC 3522): the ACK covering the retransmission echoes the
/// original's TSval, older than the retransmission's: spurious, undone.
/// Echoing the retransmission's TSval is a real loss: nothing undone.
#[test]
fn eifel_undoes_when_the_ack_echoes_the_original() {
    for spurious in [true, false] {
        let config = TcpConfig {
            timestamps: true,
            ..plain_config()
        };
        let mut h = sack_established_with(config);
        assert_eq!(h.socket.send_slice(data()), Ok(DATA_LEN));
        let first = h.dispatch_all();
        let mss = first[0].payload.len() as u32;
        let at = |n: u32| ISS + 1 + n * mss;
        let ts = |s: &Sent| s.timestamp.unwrap().tsval;
        let echo = |mut repr: TcpRepr<'static>, tsecr: u32| {
            repr.timestamp = Some(TcpTimestamp { tsval: 100, tsecr });
            repr
        };
        h.set_time(Instant::ZERO + ms(10));
        assert_eq!(
            h.recv(echo(seg(ACK, IRS + 1, Some(at(1)), b""), ts(&first[0]))),
            None
        );
        h.dispatch_all();
        let cwnd_before = h.socket.congestion_window();
        assert_eq!(
            h.recv(echo(sack_ack(at(1), &[(at(2), at(5))]), ts(&first[0]))),
            None
        );
        let resent = h.dispatch().unwrap();
        assert_eq!(resent.seq, at(1));
        assert!(ts(&resent) > ts(&first[1]));
        h.dispatch_all();
        h.set_time(Instant::ZERO + ms(20));
        // The first window all arrived (the original of segment 1 late, or
        // its copy): the cumulative ACK covers it.
        let tsecr = if spurious { ts(&first[1]) } else { ts(&resent) };
        assert_eq!(
            h.recv(echo(seg(ACK, IRS + 1, Some(at(10)), b""), tsecr)),
            None
        );
        if spurious {
            assert_eq!(h.stats().spurious_undone, 1);
            assert!(h.socket.congestion_window() >= cwnd_before);
        } else {
            assert_eq!(h.stats().spurious_undone, 0);
            assert!(h.socket.congestion_window() < cwnd_before);
        }
    }
}

/// Blocks that do not describe data in flight are ignored: beyond
/// SND.MAX, reversed, empty. Nothing is marked, nothing resent.
#[test]
fn invalid_sack_blocks_are_ignored() {
    let mut h = sack_established();
    send_window(&mut h);
    h.set_time(Instant::ZERO + ms(10));
    for blocks in [
        [(at(2), at(30))],
        [(at(5), at(3))],
        [(at(4), at(4))],
        [(at(0).wrapping_sub(1 << 31), at(3))],
    ] {
        assert_eq!(h.recv(sack_ack(at(0), &blocks)), None);
    }
    assert_eq!(h.socket.pipe(), 10 * 1460);
    // Nothing is marked lost: silence until the loss probe (2 * SRTT after
    // the flight), which sends new data.
    h.set_time(Instant::ZERO + ms(19));
    h.expect_silence();
    h.set_time(Instant::ZERO + ms(20));
    is_data(&h.dispatch().unwrap(), at(10), 1460);
    assert_eq!(h.stats().retransmissions, 0);
    assert_eq!(h.stats().tlps_sent, 1);
}

/// Fast recovery whose retransmission is lost with nothing sent after it
/// (no new data): RACK has no later delivery to judge it by, so the loss
/// probe, 2 * SRTT after the last ACK, resends it: the recovery ends one
/// probe later instead of at the RTO, with the one reduction it began with.
#[test]
fn a_lost_retransmission_with_nothing_after_it_is_probed() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..12 * 1460]), Ok(12 * 1460));
    assert_eq!(h.dispatch_all().len(), 10);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    let sent: Vec<_> = h.dispatch_all().iter().map(|s| s.seq).collect();
    assert_eq!(sent, [at(10), at(11)]);
    // 2, 3, 4 SACKed: segment 1 is lost and resent at once.
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(5))])), None);
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().fast_recoveries, 1);
    let ssthresh = h.socket.cc.ssthresh();
    // Everything else arrives; the retransmission does not.
    h.set_time(Instant::ZERO + ms(11));
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(12))])), None);
    h.expect_silence();
    // The probe is due 2 * SRTT (10 ms) after that ACK, long before the
    // RTO (1 s from the ACK at 10 ms).
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(31)));
    assert_eq!(h.socket.timers.retransmit, Some(Instant::ZERO + ms(1010)));
    h.set_time(Instant::ZERO + ms(31) - Duration::from_micros(1));
    h.expect_silence();
    h.set_time(Instant::ZERO + ms(31));
    // No new data: the highest segment not SACKed is the lost one.
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().tlps_sent, 1);
    assert_eq!(h.stats().retransmissions, 2);
    h.set_time(Instant::ZERO + ms(41));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(12)), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.stats().rtos, 0);
    assert_eq!(h.stats().fast_recoveries, 1);
    // The recovery ended with cwnd = ssthresh: the probe, part of it,
    // reduced nothing more.
    assert_eq!(h.socket.congestion_window(), ssthresh);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}

/// RFC 8985 judges a retransmission by its own send time: when a segment
/// sent after it is SACKed and RACK.rtt has passed, the lost
/// retransmission is marked lost again and resent, without a timer.
#[test]
fn rack_marks_a_lost_retransmission_lost_again() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..13 * 1460]), Ok(13 * 1460));
    assert_eq!(h.dispatch_all().len(), 10);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    assert_eq!(h.dispatch_all().len(), 2);
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(5))])), None);
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.expect_silence();
    // At 11 ms the rest of the first flight is SACKed: PRR sends the last
    // new segment, 12, after the retransmission of 1.
    h.set_time(Instant::ZERO + ms(11));
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(12))])), None);
    is_data(&h.dispatch().unwrap(), at(12), 1460);
    h.expect_silence();
    // 12 is SACKed at 21 ms (RACK.rtt 10 ms): the copy of 1, sent at
    // 10 ms, before 12, is lost (10 + 10 + a zero window <= 21).
    h.set_time(Instant::ZERO + ms(21));
    assert_eq!(h.recv(sack_ack(at(1), &[(at(2), at(13))])), None);
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().retransmissions, 2);
    assert_eq!(h.stats().tlps_sent, 0);
    h.set_time(Instant::ZERO + ms(31));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(13)), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.stats().rtos, 0);
    assert_eq!(h.stats().fast_recoveries, 1);
}

/// Every ACK of a flight is lost, and so is the first probe: a second
/// probe follows after twice the timeout (RFC 9002 6.2.1's backoff), the
/// RTO still running from the first; two unanswered probes are the most,
/// then only the RTO is left.
#[test]
fn a_second_probe_follows_an_unanswered_one() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..3 * 1460]), Ok(3 * 1460));
    assert_eq!(h.dispatch_all().len(), 3);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    h.expect_silence();
    // PTO 2 * 10 ms after the ACK; then 40 ms after the first probe.
    for (probe_at, probes) in [(30, 1), (70, 2)] {
        assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(probe_at)));
        h.set_time(Instant::ZERO + ms(probe_at) - Duration::from_micros(1));
        h.expect_silence();
        h.set_time(Instant::ZERO + ms(probe_at));
        is_data(&h.dispatch().unwrap(), at(2), 1460);
        h.expect_silence();
        assert_eq!(h.stats().tlps_sent, probes);
        assert_eq!(h.socket.timers.retransmit, Some(Instant::ZERO + ms(1030)));
    }
    // No third probe: the RTO is next.
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1030)));
    // The second probe's ACK: everything had arrived.
    h.set_time(Instant::ZERO + ms(80));
    assert_eq!(h.recv(sack_ack(at(3), &[(at(2), at(3))])), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.stats().rtos, 0);
    assert_eq!(h.poll_at(), PollAt::Ingress);
    // A delivery starts the backoff over: the next flight's probe is again
    // 2 * SRTT after its last ACK.
    assert_eq!(
        h.socket.send_slice(&data()[3 * 1460..5 * 1460]),
        Ok(2 * 1460)
    );
    assert_eq!(h.dispatch_all().len(), 2);
    h.set_time(Instant::ZERO + ms(90));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(4)), b"")), None);
    let srtt = h.socket.rtt.srtt().unwrap();
    assert_eq!(
        h.poll_at(),
        PollAt::Time(Instant::ZERO + ms(90) + srtt.saturating_mul(2) + ms(200))
    );
}

/// After an RTO the probe runs too: the RTO's retransmission arrives but
/// its ACK is lost, and 2 * SRTT later a probe (the highest segment not
/// SACKed, nothing new being queued) draws the ACK that ends the episode,
/// long before the backed-off RTO.
#[test]
fn a_probe_follows_the_rtos_retransmission() {
    let mut h = sack_established();
    assert_eq!(h.socket.send_slice(&data()[..3 * 1460]), Ok(3 * 1460));
    assert_eq!(h.dispatch_all().len(), 3);
    h.set_time(Instant::ZERO + ms(10));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(1)), b"")), None);
    // Segments 1 and 2 and both probes (at 30 and 70 ms) are lost.
    for probe_at in [30, 70] {
        h.set_time(Instant::ZERO + ms(probe_at));
        is_data(&h.dispatch().unwrap(), at(2), 1460);
    }
    h.set_time(Instant::ZERO + ms(1030));
    is_data(&h.dispatch().unwrap(), at(1), 1460);
    h.expect_silence();
    assert_eq!(h.stats().rtos, 1);
    // RTO backed off to 2 s; the probe 2 * SRTT after the retransmission.
    assert_eq!(h.socket.timers.retransmit, Some(Instant::ZERO + ms(3030)));
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(1050)));
    h.set_time(Instant::ZERO + ms(1050));
    is_data(&h.dispatch().unwrap(), at(2), 1460);
    h.expect_silence();
    assert_eq!(h.stats().tlps_sent, 3);
    h.set_time(Instant::ZERO + ms(1060));
    assert_eq!(h.recv(seg(ACK, IRS + 1, Some(at(3)), b"")), None);
    assert_eq!(h.socket.send_queue(), 0);
    assert_eq!(h.stats().rtos, 1);
    assert_eq!(h.poll_at(), PollAt::Ingress);
}
