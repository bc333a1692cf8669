//! The socket's congestion controller: chosen by `TcpConfig::congestion`
//! (CUBIC by default) or `set_congestion_algorithm`, fed byte-counted ACKs
//! of a window that was in use.

use super::*;
use crate::socket::tcp::congestion::hystart::HyStartPhase;
use crate::socket::tcp::{AnyCongestion, CongestionAlgorithm};

fn config(congestion: CongestionAlgorithm) -> TcpConfig {
    TcpConfig {
        congestion,
        ..plain_config()
    }
}

#[test]
fn cubic_is_the_default_and_the_config_chooses() {
    assert_eq!(TcpConfig::default().congestion, CongestionAlgorithm::Cubic);
    let h = Harness::new(4096, 4096, TcpConfig::default());
    assert_eq!(h.socket.congestion_algorithm(), CongestionAlgorithm::Cubic);
    // Active and passive opens build the configured algorithm.
    for algorithm in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let mut h = Harness::new(65536, 65536, config(algorithm));
        h.establish_active(ISS, IRS);
        assert_eq!(h.socket.congestion_algorithm(), algorithm);
        let mut h = Harness::new(65536, 65536, config(algorithm));
        h.establish_passive(ISS, IRS);
        assert_eq!(h.socket.congestion_algorithm(), algorithm);
        assert_eq!(h.socket.congestion_window(), 14_600);
    }
}

#[test]
fn min_rto_default_is_200_ms() {
    assert_eq!(TcpConfig::default().min_rto, ms(200));
    assert_eq!(TcpConfig::default().initial_rto, secs(1));
    let defaults = TcpConfig {
        timestamps: false,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 65536, defaults);
    h.establish_active(ISS, IRS);
    h.socket.set_nagle_enabled(false);
    // The handshake's sample (0 ms) put the RTO at its 200 ms floor...
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch().unwrap();
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(200)));
    // ...where a 2 ms sample keeps it.
    h.set_time(Instant::ZERO + ms(2));
    h.recv(seg(ACK, IRS + 1, Some(ISS + 101), b""));
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch().unwrap();
    assert_eq!(h.poll_at(), PollAt::Time(Instant::ZERO + ms(202)));
}

/// Sends `n` full segments at once.
fn fill(h: &mut Harness, n: usize) {
    assert_eq!(h.socket.send_slice(bytes(n * 1460)), Ok(n * 1460));
    assert_eq!(h.dispatch_all().len(), n);
}

#[test]
fn a_stretch_ack_counts_every_byte() {
    for algorithm in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let mut h = Harness::new(65536, 65536, config(algorithm));
        h.establish_active(ISS, IRS);
        fill(&mut h, 10);
        // One ACK for three segments: slow start grows by all three
        // (RFC 3465), not by one SMSS.
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 3 * 1460), b""));
        assert_eq!(h.socket.congestion_window(), 14_600 + 3 * 1460);
        // A stretch ACK of the other seven grows by seven.
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 10 * 1460), b""));
        assert_eq!(h.socket.congestion_window(), 14_600 + 10 * 1460);
        // A window of 20 segments, acknowledged by one ACK (a GRO
        // aggregate, or a peer's per-poll ACK): cwnd grows by all 20, no
        // per-ACK limit (RFC 3465 byte counting).
        fill(&mut h, 20);
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 30 * 1460), b""));
        assert_eq!(h.socket.congestion_window(), 14_600 + 30 * 1460);
    }
}

#[test]
fn an_unused_window_does_not_grow() {
    let mut h = Harness::new(65536, 65536, config(CongestionAlgorithm::Cubic));
    h.establish_active(ISS, IRS);
    h.socket.set_nagle_enabled(false);
    // An interactive sender: one small segment at a time, far below cwnd.
    let mut seq = ISS + 1;
    for _ in 0..20 {
        h.socket.send_slice(bytes(100)).unwrap();
        h.dispatch().unwrap();
        seq += 100;
        h.recv(seg(ACK, IRS + 1, Some(seq), b""));
    }
    assert_eq!(h.socket.congestion_window(), 14_600);
}

#[test]
fn switching_algorithms_keeps_the_window() {
    let mut h = Harness::new(65536, 65536, config(CongestionAlgorithm::Cubic));
    h.establish_active(ISS, IRS);
    fill(&mut h, 10);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 10 * 1460), b""));
    let cwnd = h.socket.congestion_window();
    assert_eq!(cwnd, 14_600 + 10 * 1460);
    h.socket
        .set_congestion_algorithm(CongestionAlgorithm::NewReno);
    assert_eq!(
        h.socket.congestion_algorithm(),
        CongestionAlgorithm::NewReno
    );
    assert_eq!(h.socket.config().congestion, CongestionAlgorithm::NewReno);
    assert_eq!(h.socket.congestion_window(), cwnd);
    // And it goes on growing from there.
    fill(&mut h, 10);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 20 * 1460), b""));
    assert_eq!(h.socket.congestion_window(), cwnd + 10 * 1460);
}

/// ESTABLISHED with timestamps and `congestion`; the peer's clock starts
/// at 1000 and its window is 4 MiB (scale 7), so only cwnd limits.
fn established_with_timestamps(congestion: CongestionAlgorithm) -> Harness {
    let config = TcpConfig {
        congestion,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 1 << 20, config);
    let clock = h.connect(ISS).timestamp.unwrap().tsval;
    let mut syn_ack = seg(SYN | ACK, IRS, Some(ISS + 1), b"");
    syn_ack.window_scale = Some(7);
    syn_ack.timestamp = Some(TcpTimestamp {
        tsval: 1000,
        tsecr: clock,
    });
    h.recv(with_mss(syn_ack, 1460)).unwrap();
    assert_eq!(h.state(), State::Established);
    h
}

/// The HyStart++ phase of the socket's controller.
fn hystart_phase(h: &Harness) -> HyStartPhase {
    match &h.socket.cc {
        AnyCongestion::Cubic(cc) => cc.hystart().phase(),
        AnyCongestion::NewReno(cc) => cc.hystart().phase(),
    }
}

/// A bulk transfer whose RTT rises from 10 ms to 30 ms for the segments
/// sent after 20 ms. The peer ACKs every segment on its own, echoing its
/// TSval. Returns each ACK's cwnd growth and the HyStart++ phase after it.
fn transfer_with_rising_rtt(h: &mut Harness, acks: usize) -> Vec<(usize, HyStartPhase)> {
    use std::collections::VecDeque;
    h.socket.send_slice(bytes(1 << 20)).unwrap();
    // (end of segment, its TSval, when it was sent)
    let mut in_flight: VecDeque<(u32, Option<u32>, Instant)> = VecDeque::new();
    let mut log = Vec::new();
    for s in h.dispatch_all() {
        let end = s.seq + s.payload.len() as u32;
        in_flight.push_back((end, s.timestamp.map(|t| t.tsval), h.cx.now));
    }
    for _ in 0..acks {
        let (end, tsval, sent) = in_flight.pop_front().expect("data in flight");
        let rtt = if sent < Instant::ZERO + ms(20) {
            ms(10)
        } else {
            ms(30)
        };
        if h.cx.now < sent + rtt {
            h.set_time(sent + rtt);
        }
        let mut ack = seg(ACK, IRS + 1, Some(end), b"");
        ack.timestamp = tsval.map(|tsecr| TcpTimestamp {
            tsval: 1000 + h.cx.now.total_millis() as u32,
            tsecr,
        });
        let before = h.socket.congestion_window();
        h.recv(ack);
        log.push((h.socket.congestion_window() - before, hystart_phase(h)));
        for s in h.dispatch_all() {
            let end = s.seq + s.payload.len() as u32;
            in_flight.push_back((end, s.timestamp.map(|t| t.tsval), h.cx.now));
        }
    }
    log
}

#[test]
fn hystart_sees_the_socket_rtt_samples_and_rounds() {
    for algorithm in [CongestionAlgorithm::Cubic, CongestionAlgorithm::NewReno] {
        let mut h = established_with_timestamps(algorithm);
        let log = transfer_with_rising_rtt(&mut h, 120);
        let css = log
            .iter()
            .position(|(_, phase)| matches!(phase, HyStartPhase::Css { .. }))
            .expect("HyStart++ leaves slow start");
        // The first rounds are slow start: one segment per ACK. A round
        // ends at the ACK of the data sent before it began (SND.NXT then):
        // segments 1-10 (sent at 0 ms, ACKed at 10 ms), then to 28 and 64,
        // and the ACK of segment 28 found 64 sent. Segments sent from
        // 20 ms on (31 on) take 30 ms, so the fourth round, from the ACK of
        // segment 64, is the first with only 30 ms samples: its eighth, the
        // 71st ACK, leaves slow start.
        assert_eq!(css, 70);
        // (The segments carry 1448 bytes: 1460 less the timestamp option.)
        assert!(log[..css].iter().all(|(growth, _)| *growth == 1448));
        // The round that compares 30 ms against the previous 10 ms enters
        // CSS, with the 30 ms minimum as its baseline...
        assert_eq!(
            log[css].1,
            HyStartPhase::Css {
                rounds: 0,
                baseline: ms(30)
            }
        );
        // ...and from then on an ACK grows cwnd by a quarter segment.
        assert!(log[css..].iter().all(|(growth, _)| *growth == 1448 / 4));
        assert!(log.len() - css > 40);
    }
}

#[test]
fn without_timestamps_hystart_has_too_few_samples() {
    let mut h = Harness::new(65536, 1 << 20, config(CongestionAlgorithm::Cubic));
    h.establish_active(ISS, IRS);
    let log = transfer_with_rising_rtt(&mut h, 60);
    assert!(
        log.iter()
            .all(|(_, phase)| *phase == HyStartPhase::SlowStart)
    );
}

/// Dispatches until nothing is due (at most `limit` segments).
fn dispatch_up_to(h: &mut Harness, limit: usize) -> Vec<Sent> {
    let mut all = Vec::new();
    while let Some(sent) = h.dispatch() {
        all.push(sent);
        assert!(all.len() <= limit, "dispatch does not stop");
    }
    all
}

/// The segment log bounds the flight: with cwnd and the peer's window far
/// larger, new data stops at one segment per record (as for a closed
/// window) and goes on as ACKs free records; a loss probe due while the
/// log is full resends the last segment instead of new data.
#[test]
fn a_full_segment_log_holds_new_data_back() {
    use crate::socket::tcp::scoreboard::SENT_LOG_CAPACITY;
    // ESTABLISHED with timestamps and SACK (the loss probe needs SACK).
    let defaults = TcpConfig {
        congestion: CongestionAlgorithm::NewReno,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(65536, 1 << 20, defaults);
    let clock = h.connect(ISS).timestamp.unwrap().tsval;
    let mut syn_ack = seg(SYN | ACK, IRS, Some(ISS + 1), b"");
    syn_ack.window_scale = Some(7);
    syn_ack.sack_permitted = true;
    syn_ack.timestamp = Some(TcpTimestamp {
        tsval: 1000,
        tsecr: clock,
    });
    h.recv(with_mss(syn_ack, 1460)).unwrap();
    assert_eq!(h.state(), State::Established);
    // The SYN-ACK's window is not scaled: a first ACK opens the 4 MiB one.
    let clock = h.socket.ts_clock(h.cx.now);
    let mut update = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    update.timestamp = Some(TcpTimestamp {
        tsval: 1000,
        tsecr: clock,
    });
    assert_eq!(h.recv(update), None);
    h.socket.cc.set_window(1 << 20);
    assert_eq!(h.socket.send_slice(bytes(1 << 20)), Ok(1 << 20));
    let sent = dispatch_up_to(&mut h, SENT_LOG_CAPACITY);
    assert_eq!(sent.len(), SENT_LOG_CAPACITY);
    let mss = sent[0].payload.len();
    assert_eq!(mss, 1448);
    for (i, s) in sent.iter().enumerate() {
        assert_eq!((s.seq, s.payload.len()), (ISS + 1 + (i * mss) as u32, mss));
    }
    h.expect_silence();
    // An ACK of three segments frees three records: three more go, and
    // the log is full again.
    let clock = sent[0].timestamp.unwrap().tsval;
    h.set_time(Instant::ZERO + ms(10));
    let mut ack = seg(ACK, IRS + 1, Some(ISS + 1 + 3 * mss as u32), b"");
    ack.timestamp = Some(TcpTimestamp {
        tsval: 1010,
        tsecr: clock,
    });
    assert_eq!(h.recv(ack), None);
    let more = dispatch_up_to(&mut h, 3);
    assert_eq!(more.len(), 3);
    for (i, s) in more.iter().enumerate() {
        let seq = ISS + 1 + ((SENT_LOG_CAPACITY + i) * mss) as u32;
        assert_eq!((s.seq, s.payload.len()), (seq, mss));
    }
    h.expect_silence();
    // The probe timeout: the log has no record for new data, so the probe
    // is the last segment sent, again.
    let PollAt::Time(pto) = h.poll_at() else {
        panic!("a timer is due: {:?}", h.poll_at());
    };
    h.set_time(pto);
    let probe = h.dispatch().expect("loss probe");
    let last = ISS + 1 + ((SENT_LOG_CAPACITY + 2) * mss) as u32;
    assert_eq!((probe.seq, probe.payload.len()), (last, mss));
    assert_eq!(h.stats().tlps_sent, 1);
    assert_eq!(h.stats().rtos, 0);
    h.expect_silence();
}
