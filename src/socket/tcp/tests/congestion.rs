//! The socket's congestion controller: chosen by `TcpConfig::congestion`
//! (CUBIC by default) or `set_congestion_algorithm`, fed byte-counted ACKs
//! of a window that was in use.

use super::*;
use crate::socket::tcp::CongestionAlgorithm;

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
        // A stretch ACK of the other seven grows by seven (below the cap
        // of L = 8 segments per ACK, which the switching test meets).
        h.recv(seg(ACK, IRS + 1, Some(ISS + 1 + 10 * 1460), b""));
        assert_eq!(h.socket.congestion_window(), 14_600 + 10 * 1460);
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
    assert_eq!(cwnd, 14_600 + 8 * 1460);
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
    assert_eq!(h.socket.congestion_window(), cwnd + 8 * 1460);
}
