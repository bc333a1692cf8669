//! Congestion control behind a small trait (RFC 5681, RFC 6928, RFC 6582)
//! (CONTRACT STUB: the storage helper implements every body).

use crate::time::Instant;

/// A congestion control algorithm. The socket counts duplicate ACKs and
/// keeps the recovery point; the algorithm owns cwnd and ssthresh.
pub trait CongestionControl {
    /// cwnd in bytes.
    fn window(&self) -> usize;
    /// ssthresh in bytes.
    fn ssthresh(&self) -> usize;
    /// Sets the sender MSS; before any data is sent this also sets the
    /// initial window (RFC 6928: min(10*MSS, max(2*MSS, 14600))).
    fn set_mss(&mut self, mss: usize);
    /// New data was acknowledged outside fast recovery (RFC 5681 3.1:
    /// slow start below ssthresh, congestion avoidance above).
    fn on_ack(&mut self, now: Instant, bytes_acked: usize, flight_size: usize);
    /// The third duplicate ACK: fast retransmit, enter fast recovery
    /// (RFC 5681 3.2 steps 2-3).
    fn on_fast_retransmit(&mut self, flight_size: usize);
    /// A further duplicate ACK in fast recovery (RFC 5681 3.2 step 4).
    fn on_dup_ack_in_recovery(&mut self);
    /// A partial ACK in fast recovery (RFC 6582 3.2 step 3).
    fn on_partial_ack(&mut self, bytes_acked: usize);
    /// A full ACK ends fast recovery (RFC 6582 3.2 step 3, full ACK).
    fn on_recovery_exit(&mut self, flight_size: usize);
    /// A retransmission timeout (RFC 5681 3.1, equation 4; cwnd = 1 MSS).
    fn on_retransmit_timeout(&mut self, flight_size: usize);
    /// Sending restarts after an idle period longer than the RTO
    /// (RFC 5681 4.1).
    fn on_idle_restart(&mut self);
}

/// NewReno (RFC 5681 + RFC 6582).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewReno {
    _private: (),
}

impl NewReno {
    /// NewReno for a sender MSS of `mss`, with ssthresh initially "arbitrarily
    /// high" (RFC 5681 3.1).
    pub fn new(mss: usize) -> Self { let _ = mss; todo!() }
}
