//! The socket's wakers (feature `async`): which events wake which task.
//!
//! Without the feature the socket has no waker fields and every `wake_*`
//! call below compiles to nothing, so the socket's size is unchanged.

#[cfg(feature = "async")]
use core::task::Waker;

use super::TcpSocket;
#[cfg(feature = "async")]
use crate::socket::waker::WakerRegistration;

/// A socket's two waker slots: one task waiting to receive (or, on a
/// listener, to accept), one waiting to send.
#[cfg(feature = "async")]
#[derive(Debug, Default)]
pub(super) struct SocketWakers {
    recv: WakerRegistration,
    send: WakerRegistration,
}

#[cfg(feature = "async")]
impl SocketWakers {
    pub(super) const fn new() -> Self {
        SocketWakers {
            recv: WakerRegistration::new(),
            send: WakerRegistration::new(),
        }
    }
}

impl TcpSocket<'_> {
    /// Registers the task to wake when there is something to receive:
    /// data became readable, the peer's FIN or a RST arrived, the
    /// connection failed, or the state changed in any way. On a socket a
    /// [`SocketSet`](crate::socket::SocketSet) listens with, it is woken
    /// when a connection joins the accept queue.
    ///
    /// One slot: a waker that would wake the same task as the stored one
    /// ([`Waker::will_wake`]) keeps it, any other replaces it; nothing is
    /// allocated. A waker fires once, then the slot is empty until the
    /// task registers again (do so each time the socket has nothing for
    /// you, before returning `Poll::Pending`).
    #[cfg(feature = "async")]
    pub fn register_recv_waker(&mut self, waker: &Waker) {
        self.wakers.recv.register(waker);
    }

    /// Registers the task to wake when it may send: acknowledged data freed
    /// space in the send buffer, the connection became ESTABLISHED (or any
    /// other state change), or it failed (RST, timeout, unreachable). A
    /// pure ACK that frees nothing does not wake it. One slot, as for
    /// [`register_recv_waker`](Self::register_recv_waker).
    #[cfg(feature = "async")]
    pub fn register_send_waker(&mut self, waker: &Waker) {
        self.wakers.send.register(waker);
    }

    /// Wakes the receiving task (data arrived, or a connection is ready
    /// to accept on a listener).
    #[inline]
    pub(crate) fn wake_receiver(&mut self) {
        #[cfg(feature = "async")]
        self.wakers.recv.wake();
    }

    /// Wakes the sending task (send buffer space freed).
    #[inline]
    pub(super) fn wake_sender(&mut self) {
        #[cfg(feature = "async")]
        self.wakers.send.wake();
    }

    /// Wakes both tasks (a state change, which covers ESTABLISHED, FIN,
    /// RST, errors and close).
    #[inline]
    pub(super) fn wake_both(&mut self) {
        self.wake_receiver();
        self.wake_sender();
    }

    /// After a segment: wakes the receiver if readable data grew from
    /// `rx_before` bytes and the sender if send-buffer data shrank from
    /// `tx_before` bytes (acknowledged data freed space).
    #[inline]
    pub(super) fn wake_after_segment(&mut self, rx_before: usize, tx_before: usize) {
        if self.rx_buffer.len() > rx_before {
            self.wake_receiver();
        }
        if self.tx_buffer.len() < tx_before {
            self.wake_sender();
        }
    }
}
