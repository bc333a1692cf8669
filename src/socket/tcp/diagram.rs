//! The transitions of the RFC 9293 section 3.3.2 state diagram (plus the
//! abort, timeout and error exits RFC 9293 section 3.10 describes), for
//! checking traces in tests and fuzzing.

use super::{Cause, State, Transition};

/// Whether `transition` is one RFC 9293 allows: a diagram edge with a cause
/// that can drive it, or an exit to CLOSED (or back to LISTEN for a
/// passive open) on abort, reset, timeout or error.
pub fn transition_allowed(transition: &Transition) -> bool {
    use Cause::*;
    use State::{
        CloseWait, Closed, Closing, Established, FinWait1, FinWait2, LastAck, SynRcvd, SynSent,
        TimeWait,
    };
    let Transition { from, to, cause } = *transition;
    match (from, to) {
        (Closed, State::Listen) => cause == Listen,
        (Closed, SynSent) => cause == Connect,
        (State::Listen, SynRcvd) => cause == RcvSyn,
        (State::Listen, Closed) => matches!(cause, Close | Shutdown | Abort),
        (SynSent, SynRcvd) => cause == RcvSyn,
        (SynSent, Established) => cause == RcvSynAck,
        (SynSent, Closed) => matches!(
            cause,
            Close | Shutdown | Abort | RcvRst | RetransmissionTimeout | IcmpError
        ),
        (SynRcvd, Established) => matches!(cause, RcvAck | RcvSynAck),
        (SynRcvd, FinWait1) => matches!(cause, Close | Shutdown),
        (SynRcvd, State::Listen) => matches!(
            cause,
            RcvRst | RcvSyn | SynRcvdTimeout | RetransmissionTimeout | IcmpError
        ),
        (Established, FinWait1) => matches!(cause, Close | Shutdown),
        (Established, CloseWait) => cause == RcvFin,
        (FinWait1, FinWait2) => cause == RcvAckOfFin,
        (FinWait1, Closing) => cause == RcvFin,
        (FinWait1, TimeWait) => cause == RcvFinAck,
        (FinWait2, TimeWait) => cause == RcvFin,
        (CloseWait, LastAck) => matches!(cause, Close | Shutdown),
        (Closing, TimeWait) => cause == RcvAckOfFin,
        (LastAck, Closed) => matches!(
            cause,
            RcvAckOfFin | RcvRst | Abort | RetransmissionTimeout | RcvSyn
        ),
        (TimeWait, Closed) => matches!(cause, TimeWaitTimeout | Abort | RcvSyn),
        (FinWait2, Closed) => matches!(
            cause,
            FinWait2Timeout | RcvRst | Abort | RcvSyn | RetransmissionTimeout | RcvDataAfterClose
        ),
        (SynRcvd | Established | FinWait1 | CloseWait | Closing, Closed) => matches!(
            cause,
            RcvRst
                | RcvSyn
                | Abort
                | RetransmissionTimeout
                | KeepaliveTimeout
                | SynRcvdTimeout
                | IcmpError
                | RcvDataAfterClose
        ),
        _ => false,
    }
}
