//! Async UDP and ICMP echo (ping) sockets over a [`Stack`], built as its
//! TCP futures are: each future borrows the stack only inside its own
//! `poll`, registers the socket's waker when it must wait, and kicks the
//! runner when it queued something to send.

use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

use super::{Clock, Error, Inner, Stack};
use crate::phy::Device;
use crate::socket::SocketHandle;
use crate::socket::icmp::{self, EchoReply, IcmpSocket};
use crate::socket::udp::{self, UdpMetadata, UdpSocket};
use crate::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

impl<'a, D: Device, C: Clock> Stack<'a, D, C> {
    /// Adds `socket` to the set and binds it to `local` (a port, or an
    /// address and port; port 0 takes an ephemeral one), as
    /// [`Interface::udp_bind`](crate::iface::Interface::udp_bind) does. On
    /// failure the socket leaves the set.
    pub fn bind_udp<T: Into<IpListenEndpoint>>(
        &self,
        socket: UdpSocket<'a>,
        local: T,
    ) -> Result<AsyncUdp<'_, 'a, D, C>, Error> {
        let mut inner = self.inner.borrow_mut();
        let Inner { iface, sockets, .. } = &mut *inner;
        let handle = sockets.add(socket)?;
        match iface.udp_bind(sockets, handle, local) {
            Ok(_) => Ok(AsyncUdp {
                stack: self,
                handle,
            }),
            Err(e) => {
                sockets.remove(handle);
                Err(Error::UdpBind(e))
            }
        }
    }

    /// Adds `socket` to the set and binds it to echo identifier `ident`
    /// (`None`: one no other socket has), as
    /// [`Interface::icmp_bind`](crate::iface::Interface::icmp_bind) does.
    /// On failure the socket leaves the set.
    pub fn bind_icmp(
        &self,
        socket: IcmpSocket<'a>,
        ident: Option<u16>,
    ) -> Result<AsyncPing<'_, 'a, D, C>, Error> {
        let mut inner = self.inner.borrow_mut();
        let Inner { iface, sockets, .. } = &mut *inner;
        let handle = sockets.add(socket)?;
        match iface.icmp_bind(sockets, handle, ident) {
            Ok(_) => Ok(AsyncPing {
                stack: self,
                handle,
            }),
            Err(e) => {
                sockets.remove(handle);
                Err(Error::IcmpBind(e))
            }
        }
    }
}

/// A bound UDP socket of a [`Stack`] (RFC 768), used by one task at a
/// time. Dropping it removes the socket from the set; datagrams still
/// queued to send are dropped with it.
pub struct AsyncUdp<'s, 'a, D: Device, C: Clock> {
    stack: &'s Stack<'a, D, C>,
    handle: SocketHandle,
}

impl<D: Device, C: Clock> AsyncUdp<'_, '_, D, C> {
    /// The socket's handle in the stack's set.
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The bound local endpoint (`addr: None`: every address).
    pub fn endpoint(&self) -> Option<IpListenEndpoint> {
        self.stack
            .inner
            .borrow()
            .sockets
            .get::<UdpSocket>(self.handle)
            .map(UdpSocket::endpoint)
    }

    /// Runs `f` on the socket (statistics, hop limit, the last ICMP
    /// error), then lets the runner poll; `None` if it left the set.
    pub fn with_socket<R>(&mut self, f: impl FnOnce(&mut UdpSocket<'_>) -> R) -> Option<R> {
        let mut inner = self.stack.inner.borrow_mut();
        let result = inner.sockets.get_mut::<UdpSocket>(self.handle).map(f);
        inner.kick();
        result
    }

    /// Queues a copy of `data` to `remote` (BSD's `sendto`); waits while
    /// the transmit queue has no room for it. It goes out at the runner's
    /// next poll. Fails at once with [`Error::UdpSend`] for a datagram
    /// that can never be sent (larger than the queue or than IPv4
    /// allows, to port 0 or the unspecified address).
    pub async fn send_to(&mut self, data: &[u8], remote: IpEndpoint) -> Result<(), Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<UdpSocket>(self.handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            match socket.send_to(data, remote) {
                Ok(()) => {
                    inner.kick();
                    Poll::Ready(Ok(()))
                }
                Err(udp::SendError::BufferFull) => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(Error::UdpSend(e))),
            }
        })
        .await
    }

    /// Copies the oldest received datagram into `buf` (BSD's
    /// `recvfrom`): its length and metadata (the sender, and the address
    /// it was sent to, e.g. a broadcast address); waits while none is
    /// queued. A datagram longer than `buf` stays queued
    /// ([`Error::Truncated`] with its length). With nothing queued, an
    /// ICMP error about a datagram this socket sent (a port unreachable,
    /// RFC 1122 section 4.1.3.3) is returned once ([`Error::Icmp`]).
    pub async fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, UdpMetadata), Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<UdpSocket>(self.handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            match socket.recv_slice(buf) {
                Ok(received) => Poll::Ready(Ok(received)),
                Err(udp::RecvError::Truncated(len)) => Poll::Ready(Err(Error::Truncated(len))),
                Err(udp::RecvError::Exhausted) => match socket.take_error() {
                    Some(report) => Poll::Ready(Err(Error::Icmp(report))),
                    None => {
                        socket.register_recv_waker(cx.waker());
                        Poll::Pending
                    }
                },
            }
        })
        .await
    }
}

impl<D: Device, C: Clock> Drop for AsyncUdp<'_, '_, D, C> {
    fn drop(&mut self) {
        let mut inner = self.stack.inner.borrow_mut();
        inner.sockets.remove(self.handle);
        inner.kick();
    }
}

impl<D: Device, C: Clock> fmt::Debug for AsyncUdp<'_, '_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("AsyncUdp")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// A bound ICMP echo socket of a [`Stack`] (ping, RFC 792), used by one
/// task at a time. Dropping it removes the socket from the set.
pub struct AsyncPing<'s, 'a, D: Device, C: Clock> {
    stack: &'s Stack<'a, D, C>,
    handle: SocketHandle,
}

impl<D: Device, C: Clock> AsyncPing<'_, '_, D, C> {
    /// The socket's handle in the stack's set.
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The echo identifier the socket is bound to.
    pub fn ident(&self) -> Option<u16> {
        self.stack
            .inner
            .borrow()
            .sockets
            .get::<IcmpSocket>(self.handle)
            .and_then(IcmpSocket::ident)
    }

    /// Runs `f` on the socket (requests in flight, expiry, statistics),
    /// then lets the runner poll; `None` if it left the set.
    pub fn with_socket<R>(&mut self, f: impl FnOnce(&mut IcmpSocket<'_>) -> R) -> Option<R> {
        let mut inner = self.stack.inner.borrow_mut();
        let result = inner.sockets.get_mut::<IcmpSocket>(self.handle).map(f);
        inner.kick();
        result
    }

    /// Queues an echo request to `dst` with sequence number `seq_no` and
    /// `data`; waits while the transmit queue has no room. The runner's
    /// next poll sends it and stamps its send time. Fails at once with
    /// [`Error::IcmpSend`] for a request that can never be sent.
    pub async fn send_echo(
        &mut self,
        dst: IpAddress,
        seq_no: u16,
        data: &[u8],
    ) -> Result<(), Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<IcmpSocket>(self.handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            match socket.send_echo(dst, seq_no, data) {
                Ok(()) => {
                    inner.kick();
                    Poll::Ready(Ok(()))
                }
                Err(icmp::SendError::BufferFull) => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(Error::IcmpSend(e))),
            }
        })
        .await
    }

    /// The oldest echo reply (who answered, which request, its round
    /// trip on the stack's clock) with its data copied into `buf`: the
    /// reply and the length copied; waits while none is queued. Data
    /// longer than `buf` is cut to it (the reply is consumed either way).
    /// With nothing queued, an ICMP error about one of our requests (e.g.
    /// host unreachable) is returned once ([`Error::Icmp`]).
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<(EchoReply, usize), Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<IcmpSocket>(self.handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            if let Some((reply, data)) = socket.recv() {
                let len = data.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..len), data.get(..len)) {
                    dst.copy_from_slice(src);
                }
                return Poll::Ready(Ok((reply, len)));
            }
            match socket.take_error() {
                Some(report) => Poll::Ready(Err(Error::Icmp(report))),
                None => {
                    socket.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<D: Device, C: Clock> Drop for AsyncPing<'_, '_, D, C> {
    fn drop(&mut self) {
        let mut inner = self.stack.inner.borrow_mut();
        inner.sockets.remove(self.handle);
        inner.kick();
    }
}

impl<D: Device, C: Clock> fmt::Debug for AsyncPing<'_, '_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("AsyncPing")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}
