//! Async TCP over a shared stack handle (feature `async`): futures for
//! accept, connect, read, write, flush and close, and the
//! [`embedded-io-async`](embedded_io_async) `Read`/`Write` traits, driven
//! by the sockets' wakers; and async UDP ([`AsyncUdp`]: `send_to`,
//! `recv_from`) and ping ([`AsyncPing`]: `send_echo`, `recv`) sockets on
//! the same stack ([`Stack::bind_udp`], [`Stack::bind_icmp`]). Needs no
//! allocator.
//!
//! A [`Stack`] owns the [`Interface`], the [`SocketSet`] and the
//! [`Device`] behind a [`RefCell`]; every future borrows it only inside
//! its own `poll`, never across an `.await`, so tasks on one executor
//! share it freely. Keep the stack where all tasks can reach it: in a
//! `static` cell (e.g. `static_cell::StaticCell`) on an embedded
//! executor, or on the stack of the function that runs the executor.
//!
//! One task must run [`Stack::run`]: it polls the interface, and sleeps
//! through the user's [`Clock`] until the interface's next deadline
//! ([`Interface::poll_at`]), until the device may have a frame, or until
//! an application task queued data or closed a socket. Without that task
//! nothing moves.
//!
//! Each socket has one receive and one send waker slot
//! ([`TcpSocket::register_recv_waker`]), so one [`TcpStream`] is used by
//! one task at a time (its methods take `&mut self`).
//!
//! ```
//! # use pollnet::asynch::{Clock, Stack};
//! # use pollnet::time::Instant;
//! // A clock for a stack whose device is a loopback: frames it sends are
//! // received on the next poll, so the runner needs only a timer.
//! struct Std(std::time::Instant);
//! impl Clock for Std {
//!     fn now(&self) -> Instant {
//!         Instant::from_micros(self.0.elapsed().as_micros() as i64)
//!     }
//!     async fn wait_until(&self, deadline: Option<Instant>) {
//!         // An executor's timer would go here (embassy-time's
//!         // `Timer::at`, tokio's `sleep_until`), joined with the
//!         // device's receive interrupt on real hardware.
//!         # let _ = deadline;
//!     }
//! }
//! ```
//!
//! See `examples/async_loopback.rs` for two tasks (client and server) and
//! the runner on a small executor with a virtual clock.

mod datagram;

pub use self::datagram::{AsyncPing, AsyncUdp};

use core::cell::RefCell;
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::{Context, Poll};

use crate::iface::Interface;
use crate::phy::Device;
use crate::socket::tcp::{ConnectError, ListenError, RecvError, State, TcpError, TcpSocket};
use crate::socket::waker::WakerRegistration;
use crate::socket::{ChildBuffers, SetFull, SocketHandle, SocketSet};
use crate::time::Instant;
use crate::wire::{IpEndpoint, IpListenEndpoint};

/// Time and waiting, as the application's platform provides them.
///
/// The stack never reads a clock itself: [`Stack::run`] asks `now` before
/// each poll and waits with `wait_until` between polls.
pub trait Clock {
    /// The current time (must not go backwards).
    fn now(&self) -> Instant;

    /// Resolves at `deadline` (or soon after), or earlier when the device
    /// may have received a frame; with `None` only a frame can end the
    /// wait. Resolving early is always allowed (the runner then polls and
    /// waits again), so a platform that cannot tell when a frame arrives
    /// may resolve at once or after a short tick instead.
    fn wait_until(&self, deadline: Option<Instant>) -> impl Future<Output = ()>;
}

/// What an async socket operation can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The connection failed: refused, reset, timed out or unreachable
    /// (RFC 9293 section 3.10.7, RFC 5482's user timeout, RFC 1122
    /// section 4.2.3.9).
    Connection(TcpError),
    /// The send side is closed (after `close`, or the connection ended
    /// without an error), so nothing more can be written.
    Closed,
    /// `connect` was refused before any segment went out.
    Connect(ConnectError),
    /// `listen` was refused.
    Listen(ListenError),
    /// The socket set has no free slot.
    SetFull,
    /// A UDP socket could not be bound.
    UdpBind(crate::socket::udp::BindError),
    /// A UDP datagram can never be sent as given.
    UdpSend(crate::socket::udp::SendError),
    /// An ICMP echo socket could not be bound.
    IcmpBind(crate::socket::icmp::BindError),
    /// An echo request can never be sent as given.
    IcmpSend(crate::socket::icmp::SendError),
    /// The received datagram is longer than the buffer given (its
    /// length); it stays queued.
    Truncated(usize),
    /// An ICMP error about a datagram the socket sent (RFC 1122 section
    /// 4.1.3.3).
    Icmp(crate::socket::IcmpErrorReport),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Connection(e) => write!(f, "{e}"),
            Error::Closed => f.write_str("connection closed"),
            Error::Connect(e) => write!(f, "connect: {e}"),
            Error::Listen(e) => write!(f, "listen: {e}"),
            Error::SetFull => f.write_str("socket set full"),
            Error::UdpBind(e) => write!(f, "udp bind: {e}"),
            Error::UdpSend(e) => write!(f, "udp send: {e}"),
            Error::IcmpBind(e) => write!(f, "icmp bind: {e}"),
            Error::IcmpSend(e) => write!(f, "icmp send: {e}"),
            Error::Truncated(len) => write!(f, "datagram of {len} bytes truncated"),
            Error::Icmp(report) => write!(f, "icmp error from {}", report.reporter),
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io_async::Error for Error {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        use embedded_io_async::ErrorKind;
        match self {
            Error::Connection(TcpError::Refused) => ErrorKind::ConnectionRefused,
            Error::Connection(TcpError::Reset) => ErrorKind::ConnectionReset,
            Error::Connection(TcpError::TimedOut) => ErrorKind::TimedOut,
            Error::Connection(TcpError::Unreachable) => ErrorKind::NotConnected,
            Error::Connection(TcpError::AddressRemoved) => ErrorKind::AddrNotAvailable,
            Error::Closed => ErrorKind::BrokenPipe,
            Error::Connect(_) => ErrorKind::InvalidInput,
            Error::Listen(ListenError::AddressInUse) => ErrorKind::AddrInUse,
            Error::Listen(_) => ErrorKind::InvalidInput,
            Error::SetFull => ErrorKind::OutOfMemory,
            Error::UdpBind(crate::socket::udp::BindError::AddressInUse)
            | Error::IcmpBind(crate::socket::icmp::BindError::AddressInUse) => ErrorKind::AddrInUse,
            Error::UdpBind(_) | Error::IcmpBind(_) | Error::UdpSend(_) | Error::IcmpSend(_) => {
                ErrorKind::InvalidInput
            }
            Error::Truncated(_) => ErrorKind::OutOfMemory,
            Error::Icmp(_) => ErrorKind::Other,
        }
    }
}

impl From<SetFull> for Error {
    fn from(_: SetFull) -> Self {
        Error::SetFull
    }
}

/// The parts of a stack behind its cell.
struct Inner<'a, D> {
    iface: Interface<'a>,
    sockets: SocketSet<'a>,
    device: D,
    /// The runner task, woken by `kick`.
    runner: WakerRegistration,
    /// An application task changed a socket since the runner's last poll.
    kicked: bool,
}

impl<D> Inner<'_, D> {
    /// Asks the runner to poll: a socket has something to send (data, a
    /// FIN, a RST, a window update, a SYN).
    fn kick(&mut self) {
        self.kicked = true;
        self.runner.wake();
    }
}

/// An interface, its socket set and its device, shared by async tasks on
/// one executor (see the module docs).
pub struct Stack<'a, D: Device, C: Clock> {
    inner: RefCell<Inner<'a, D>>,
    clock: C,
}

impl<'a, D: Device, C: Clock> Stack<'a, D, C> {
    /// A stack from its parts; nothing happens until [`run`](Self::run)
    /// is polled.
    pub fn new(iface: Interface<'a>, sockets: SocketSet<'a>, device: D, clock: C) -> Self {
        Stack {
            inner: RefCell::new(Inner {
                iface,
                sockets,
                device,
                runner: WakerRegistration::new(),
                kicked: false,
            }),
            clock,
        }
    }

    /// The clock the stack runs on.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Runs `f` on the interface, the socket set and the device (for
    /// statistics, settings or anything the async API does not cover),
    /// then lets the runner poll.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut Interface<'a>, &mut SocketSet<'a>, &mut D) -> R,
    ) -> R {
        let mut inner = self.inner.borrow_mut();
        let Inner {
            iface,
            sockets,
            device,
            ..
        } = &mut *inner;
        let result = f(iface, sockets, device);
        inner.kick();
        result
    }

    /// Drives the stack forever: polls the interface at the clock's time,
    /// then, if the poll did something, yields once to the other tasks
    /// and polls again; otherwise waits ([`Clock::wait_until`]) for the
    /// interface's next deadline ([`Interface::poll_at`]), a frame, or an
    /// application task that changed a socket. Run it as its own task.
    pub async fn run(&self) -> ! {
        loop {
            let (busy, deadline) = {
                let mut inner = self.inner.borrow_mut();
                inner.kicked = false;
                let now = self.clock.now();
                let Inner {
                    iface,
                    sockets,
                    device,
                    ..
                } = &mut *inner;
                let busy = iface.poll(now, device, sockets);
                let deadline = iface.poll_at(sockets);
                (busy || deadline.is_some_and(|at| at <= now), deadline)
            };
            if busy {
                yield_now().await;
                continue;
            }
            let mut sleep = pin!(self.clock.wait_until(deadline));
            poll_fn(|cx| {
                let mut inner = self.inner.borrow_mut();
                if inner.kicked {
                    return Poll::Ready(());
                }
                inner.runner.register(cx.waker());
                drop(inner);
                sleep.as_mut().poll(cx)
            })
            .await;
        }
    }

    /// Adds `socket` to the set and listens on `local` with `backlog`
    /// connections at most half-open and at most waiting for accept
    /// (see [`SocketSet::listen`]); accepted connections get buffers from
    /// `children`.
    pub fn listen<T: Into<IpListenEndpoint>>(
        &self,
        socket: TcpSocket<'a>,
        local: T,
        backlog: usize,
        children: ChildBuffers<'a>,
    ) -> Result<TcpListener<'_, 'a, D, C>, Error> {
        let mut inner = self.inner.borrow_mut();
        let handle = inner.sockets.add(socket)?;
        if let Err(e) = inner.sockets.listen(handle, local, backlog, children) {
            inner.sockets.remove(handle);
            return Err(Error::Listen(e));
        }
        Ok(TcpListener {
            stack: self,
            handle,
        })
    }

    /// Adds `socket` to the set and connects it to `remote` from an
    /// ephemeral port ([`Interface::connect`]); resolves once the
    /// connection is ESTABLISHED (the stream then owns the socket), or
    /// with the error that ended the attempt (the socket is then removed
    /// from the set).
    pub async fn connect(
        &self,
        socket: TcpSocket<'a>,
        remote: IpEndpoint,
    ) -> Result<TcpStream<'_, 'a, D, C>, Error> {
        let handle = {
            let mut inner = self.inner.borrow_mut();
            let handle = inner.sockets.add(socket)?;
            let now = self.clock.now();
            let Inner { iface, sockets, .. } = &mut *inner;
            if let Err(e) = iface.connect(sockets, handle, remote, now) {
                sockets.remove(handle);
                return Err(Error::Connect(e));
            }
            inner.kick();
            handle
        };
        let outcome = poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<TcpSocket>(handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            match socket.state() {
                State::SynSent | State::SynRcvd => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                State::Closed => {
                    Poll::Ready(Err(socket.error().map_or(Error::Closed, Error::Connection)))
                }
                // ESTABLISHED, or already past it (the peer's FIN came
                // with its first data): the stream reads what is there.
                _ => Poll::Ready(Ok(())),
            }
        })
        .await;
        match outcome {
            Ok(()) => Ok(TcpStream {
                stack: self,
                handle,
            }),
            Err(e) => {
                self.inner.borrow_mut().sockets.remove(handle);
                Err(e)
            }
        }
    }
}

impl<D: Device, C: Clock> fmt::Debug for Stack<'_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Stack").finish_non_exhaustive()
    }
}

/// Returns `Pending` once (waking itself at once), so other tasks run
/// before the runner polls again.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    poll_fn(move |cx: &mut Context| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// A listening socket of a [`Stack`].
pub struct TcpListener<'s, 'a, D: Device, C: Clock> {
    stack: &'s Stack<'a, D, C>,
    handle: SocketHandle,
}

impl<'s, 'a, D: Device, C: Clock> TcpListener<'s, 'a, D, C> {
    /// The listening socket's handle in the stack's set.
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The next connection whose handshake completed, oldest first
    /// ([`SocketSet::accept`]); waits for one. Fails with
    /// [`Error::Closed`] if the listener no longer listens.
    pub async fn accept(&self) -> Result<TcpStream<'s, 'a, D, C>, Error> {
        let handle = poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            if let Some(child) = inner.sockets.accept(self.handle) {
                return Poll::Ready(Ok(child));
            }
            match inner.sockets.get_mut::<TcpSocket>(self.handle) {
                Some(socket) if socket.state() == State::Listen => {
                    socket.register_recv_waker(cx.waker());
                    Poll::Pending
                }
                _ => Poll::Ready(Err(Error::Closed)),
            }
        })
        .await?;
        Ok(TcpStream {
            stack: self.stack,
            handle,
        })
    }
}

impl<D: Device, C: Clock> Drop for TcpListener<'_, '_, D, C> {
    /// Stops listening: the listening socket leaves the set, and
    /// connections not yet accepted are aborted.
    fn drop(&mut self) {
        let mut inner = self.stack.inner.borrow_mut();
        if let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) {
            socket.close();
        }
        inner.sockets.remove(self.handle);
        inner.kick();
    }
}

impl<D: Device, C: Clock> fmt::Debug for TcpListener<'_, '_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// One TCP connection of a [`Stack`], used by one task at a time.
///
/// Dropping it closes the connection gracefully (as
/// [`close`](Self::close) without waiting) and hands the socket back to
/// the set ([`SocketSet::release`]): the set frees it once CLOSED, or
/// keeps a compact record of it in TIME_WAIT.
pub struct TcpStream<'s, 'a, D: Device, C: Clock> {
    stack: &'s Stack<'a, D, C>,
    handle: SocketHandle,
}

impl<D: Device, C: Clock> TcpStream<'_, '_, D, C> {
    /// The socket's handle in the stack's set.
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// Runs `f` on the socket (for its state, statistics or settings),
    /// then lets the runner poll; `None` if the socket has left the set.
    pub fn with_socket<R>(&mut self, f: impl FnOnce(&mut TcpSocket<'_>) -> R) -> Option<R> {
        let mut inner = self.stack.inner.borrow_mut();
        let result = inner.sockets.get_mut::<TcpSocket>(self.handle).map(f);
        inner.kick();
        result
    }

    /// Reads into `buf`; waits while nothing is readable. `Ok(0)` means
    /// the end of the stream (the peer's FIN, or `buf` is empty); a
    /// failed connection gives its error once the data before it is read
    /// (RFC 9293 section 3.10.3).
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            // A socket that left the set reached TIME_WAIT: both FINs
            // were exchanged and everything was read.
            let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) else {
                return Poll::Ready(Ok(0));
            };
            match socket.recv_slice(buf) {
                Ok(0) if !buf.is_empty() => {
                    socket.register_recv_waker(cx.waker());
                    Poll::Pending
                }
                Ok(n) => {
                    // The window opened: the runner may owe an update.
                    if n > 0 {
                        inner.kick();
                    }
                    Poll::Ready(Ok(n))
                }
                Err(RecvError::Finished) => Poll::Ready(Ok(0)),
                Err(_) => Poll::Ready(socket.error().map_or(Ok(0), |e| Err(Error::Connection(e)))),
            }
        })
        .await
    }

    /// Queues as much of `buf` as the send buffer takes (at least one
    /// byte unless `buf` is empty); waits while the buffer is full.
    /// Fails with the connection's error, or [`Error::Closed`] once the
    /// send side is closed.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) else {
                return Poll::Ready(Err(Error::Closed));
            };
            if let Some(e) = socket.error().filter(|_| !socket.is_open()) {
                return Poll::Ready(Err(Error::Connection(e)));
            }
            match socket.send_slice(buf) {
                Ok(0) => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Ok(n) => {
                    inner.kick();
                    Poll::Ready(Ok(n))
                }
                Err(_) => Poll::Ready(Err(Error::Closed)),
            }
        })
        .await
    }

    /// Waits until the peer has acknowledged everything written so far
    /// (the send buffer is empty), or the connection failed.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            // Only TIME_WAIT takes a socket out of the set, and it comes
            // after our FIN, hence all our data, was acknowledged.
            let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) else {
                return Poll::Ready(Ok(()));
            };
            if socket.send_queue() == 0 {
                return Poll::Ready(Ok(()));
            }
            if !socket.is_open() {
                let error = socket.error().map_or(Error::Closed, Error::Connection);
                return Poll::Ready(Err(error));
            }
            socket.register_send_waker(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Closes both directions (RFC 9293 section 3.10.4: the FIN follows
    /// the queued data) and waits until the peer acknowledged our FIN
    /// (FIN_WAIT_2, TIME_WAIT, CLOSED, or the socket left the set) or the
    /// connection failed.
    pub async fn close(&mut self) -> Result<(), Error> {
        self.close_with(true).await
    }

    /// Closes only the send side (a half-close, [`TcpSocket::shutdown`]):
    /// the FIN follows the queued data and the stream reads on until the
    /// peer's FIN. Waits as [`close`](Self::close) does.
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        self.close_with(false).await
    }

    async fn close_with(&mut self, full: bool) -> Result<(), Error> {
        {
            let mut inner = self.stack.inner.borrow_mut();
            if let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) {
                if full {
                    socket.close();
                } else {
                    socket.shutdown();
                }
            }
            inner.kick();
        }
        poll_fn(|cx| {
            let mut inner = self.stack.inner.borrow_mut();
            let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) else {
                return Poll::Ready(Ok(()));
            };
            match socket.state() {
                State::FinWait2 | State::TimeWait => Poll::Ready(Ok(())),
                State::Closed => {
                    Poll::Ready(socket.error().map_or(Ok(()), |e| Err(Error::Connection(e))))
                }
                _ => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Aborts the connection (RFC 9293 section 3.10.5): a RST goes out on
    /// the runner's next poll and unread and unsent data is dropped.
    pub fn abort(&mut self) {
        let mut inner = self.stack.inner.borrow_mut();
        if let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) {
            socket.abort();
        }
        inner.kick();
    }
}

impl<D: Device, C: Clock> Drop for TcpStream<'_, '_, D, C> {
    fn drop(&mut self) {
        let mut inner = self.stack.inner.borrow_mut();
        if let Some(socket) = inner.sockets.get_mut::<TcpSocket>(self.handle) {
            // Nothing more will be read: a full close (RFC 9293 3.10.4).
            socket.close();
            inner.sockets.release(self.handle);
        }
        inner.kick();
    }
}

impl<D: Device, C: Clock> fmt::Debug for TcpStream<'_, '_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl<D: Device, C: Clock> embedded_io_async::ErrorType for TcpStream<'_, '_, D, C> {
    type Error = Error;
}

impl<D: Device, C: Clock> embedded_io_async::Read for TcpStream<'_, '_, D, C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        TcpStream::read(self, buf).await
    }
}

impl<D: Device, C: Clock> embedded_io_async::Write for TcpStream<'_, '_, D, C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        TcpStream::write(self, buf).await
    }

    /// Waits until everything written is acknowledged
    /// ([`TcpStream::flush`]).
    async fn flush(&mut self) -> Result<(), Error> {
        TcpStream::flush(self).await
    }
}
