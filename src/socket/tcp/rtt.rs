//! Retransmission timeout estimation, RFC 6298 (CONTRACT STUB: the storage
//! helper implements every body).

use crate::time::Duration;

/// SRTT/RTTVAR and the RTO with exponential backoff (RFC 6298).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    _private: (),
}

impl RttEstimator {
    /// An estimator with no samples: RTO = `initial_rto` (RFC 6298 2.1),
    /// always clamped to `[min_rto, max_rto]`.
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self { let _ = (initial_rto, min_rto, max_rto); todo!() }
    /// Takes one RTT measurement (RFC 6298 2.2/2.3) and clears the backoff.
    /// Callers apply Karn's rule: never sample a retransmitted segment.
    pub fn sample(&mut self, rtt: Duration) { let _ = rtt; todo!() }
    /// The current RTO, backoff included, clamped to `[min_rto, max_rto]`.
    pub fn rto(&self) -> Duration { todo!() }
    /// Doubles the RTO after a timeout (RFC 6298 5.5).
    pub fn backoff(&mut self) { todo!() }
    /// Clears the backoff without a sample.
    pub fn reset_backoff(&mut self) { todo!() }
    /// How many times the RTO has been doubled since the last reset.
    pub fn backoff_count(&self) -> u32 { todo!() }
    /// The smoothed RTT, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> { todo!() }
    /// The RTT variation, once there is a sample.
    pub fn rttvar(&self) -> Option<Duration> { todo!() }
}
