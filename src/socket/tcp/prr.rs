//! Proportional Rate Reduction (RFC 6937) with the slow start reduction
//! bound (PRR-SSRB): during loss recovery, the window follows the data the
//! peer delivers, so the flight shrinks smoothly to ssthresh instead of
//! stalling for half an RTT (RFC 5681) or bursting (RFC 6582).

/// PRR's state for one recovery episode (RFC 6937 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prr {
    /// FlightSize when recovery started (RecoverFS).
    recover_fs: usize,
    /// Bytes the peer delivered during recovery (prr_delivered).
    delivered: usize,
    /// Bytes sent during recovery (prr_out).
    out: usize,
}

impl Prr {
    /// Recovery starts with `flight_size` bytes in flight (RFC 6937
    /// section 3.1's initialization).
    pub fn start(flight_size: usize) -> Prr {
        Prr {
            recover_fs: flight_size.max(1),
            delivered: 0,
            out: 0,
        }
    }

    /// Bytes sent (new or retransmitted) during recovery.
    pub fn on_sent(&mut self, bytes: usize) {
        self.out = self.out.saturating_add(bytes);
    }

    /// Bytes sent so far in this recovery (prr_out).
    #[cfg(test)]
    pub fn sent(&self) -> usize {
        self.out
    }

    /// An ACK in recovery delivered `delivered` bytes (cumulatively or by
    /// SACK); returns the congestion window that allows exactly `sndcnt`
    /// more bytes: `pipe + sndcnt` (RFC 6937 section 3.1).
    ///
    /// Above ssthresh the sending rate is ssthresh/RecoverFS of the
    /// delivery rate; at or below it, PRR-SSRB grows back towards ssthresh
    /// at most one MSS beyond what was delivered. As Linux does, the first
    /// ACK of a recovery always lets one segment go, the fast
    /// retransmission.
    pub fn on_ack(&mut self, delivered: usize, pipe: usize, ssthresh: usize, mss: usize) -> usize {
        self.delivered = self.delivered.saturating_add(delivered);
        let sndcnt = if pipe > ssthresh {
            // ceil(prr_delivered * ssthresh / RecoverFS) - prr_out, in u128
            // so the product cannot overflow.
            let num = (self.delivered as u128) * (ssthresh as u128);
            let allowed = num.div_ceil(self.recover_fs as u128);
            let allowed = usize::try_from(allowed).unwrap_or(usize::MAX);
            allowed.saturating_sub(self.out)
        } else {
            let limit = self
                .delivered
                .saturating_sub(self.out)
                .max(delivered)
                .saturating_add(mss);
            (ssthresh - pipe).min(limit)
        };
        let sndcnt = if self.out == 0 {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
        pipe.saturating_add(sndcnt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6937 appendix's first example: 20 segments in flight, one
    /// lost, ssthresh 10: PRR sends one segment for every two delivered.
    #[test]
    fn proportional_part_sends_half_of_what_is_delivered() {
        let mss = 100;
        let mut prr = Prr::start(2000);
        let mut pipe = 1900; // one segment lost
        let mut sent = 0;
        for ack in 0..19 {
            pipe -= mss;
            let cwnd = prr.on_ack(mss, pipe, 1000, mss);
            // Send whole segments while the window allows.
            while cwnd >= pipe + mss {
                prr.on_sent(mss);
                pipe += mss;
                sent += 1;
            }
            if ack == 0 {
                assert_eq!(sent, 1, "the fast retransmission goes at once");
            }
        }
        // 19 ACKs delivered 19 segments; 10 were sent (ssthresh/RecoverFS
        // of them, and SSRB's last step), and the flight is ssthresh.
        assert_eq!(sent, 10);
        assert_eq!(prr.sent(), 1000);
        assert_eq!(pipe, 1000);
    }

    /// Below ssthresh (many losses), PRR-SSRB slow-starts back, at most
    /// one MSS more than delivered per ACK.
    #[test]
    fn ssrb_below_ssthresh() {
        let mss = 100;
        let mut prr = Prr::start(2000);
        // Pipe collapsed to 300 with ssthresh 1000.
        let cwnd = prr.on_ack(200, 300, 1000, mss);
        // max(prr_delivered - prr_out, delivered) + MSS = 300.
        assert_eq!(cwnd, 600);
        prr.on_sent(300);
        // Delivered 100 more: limit = max(300 - 300, 100) + 100 = 200.
        assert_eq!(prr.on_ack(100, 500, 1000, mss), 700);
        // Never above ssthresh.
        assert_eq!(prr.on_ack(1000, 950, 1000, mss), 1000);
    }

    #[test]
    fn saturates() {
        let mut prr = Prr::start(0);
        prr.on_sent(usize::MAX);
        prr.on_sent(1);
        assert_eq!(prr.on_ack(usize::MAX, usize::MAX, 1, 1), usize::MAX);
    }
}
