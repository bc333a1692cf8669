//! System calls, mapped onto pollnet's socket API with errno-style results.
//!
//! Descriptors are numbered from 3, lowest free first, like a kernel's. A
//! descriptor gets its pollnet socket when it connects or listens (so that
//! `SO_RCVBUF`, `SO_KEEPALIVE` and friends can size and set it first).
//!
//! | call | pollnet |
//! |------|---------|
//! | `socket(..., SOCK_STREAM, IPPROTO_TCP)` | a descriptor, no socket yet |
//! | `bind(fd, ..., ...)` | port 8080 |
//! | `listen(fd, n)` | `SocketSet::listen` on 8080, backlog `max(n, 1)`, children sized like the listener |
//! | `accept(fd, ..., ...)` | `SocketSet::accept`; `EWOULDBLOCK` if none is ready |
//! | `connect(fd, ..., ...)` | `Interface::connect` to 192.0.2.2:8080; `EINPROGRESS` (non-blocking only) |
//! | `close(fd)` | `close()` (a listener is removed from the set; a connection lives on until CLOSED) |
//! | `shutdown(fd, SHUT_WR)` | `shutdown()` (`SHUT_RD` only stops reads) |
//! | `read`/`recv(fd, ..., n)` | `recv_slice`; data first, then a pending error, then 0 at end of stream, else `EWOULDBLOCK` |
//! | `write`/`send(fd, ..., n)` | `send_slice` of n zero bytes; `EWOULDBLOCK` when full, `EPIPE` after shutdown |
//! | `fcntl(fd, F_GETFL / F_SETFL, ...)` | `O_RDWR` (2) and FreeBSD's `O_NONBLOCK` (4) |
//! | `getsockopt(fd, SOL_SOCKET, SO_ERROR, [e], ...)` | `error()`, reported once like `so_error` |
//! | `get/setsockopt(..., SO_RCVBUF / SO_SNDBUF, [n], ...)` | buffer sizes (see below) |
//! | `setsockopt(..., SO_KEEPALIVE / TCP_NODELAY / TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT)` | keep-alive and Nagle settings (TCP_KEEP* in seconds) |
//! | `setsockopt(..., SO_REUSEADDR / SO_REUSEPORT, ...)` | accepted, no effect |
//!
//! Errors: `ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT` and `EHOSTUNREACH` for
//! pollnet's `TcpError`s; `EBADF`, `EINVAL`, `ENOTCONN`, `EISCONN`,
//! `EALREADY`, `EOPNOTSUPP` for misuse. `EAGAIN` and `EWOULDBLOCK` are the
//! same error.
//!
//! `SO_RCVBUF`: before the descriptor has a socket, the value a script reads
//! or writes becomes the size of the receive buffer the socket will get, so
//! pollnet's window edges are the ones the script means. Once the socket
//! exists, reading it checks the buffer: its size, or its size rounded up to
//! a multiple of the 1460-byte MSS (FreeBSD reports 65700 for a 65536-byte
//! buffer once connected; pollnet does not resize). `SO_SNDBUF` likewise.
//!
//! Blocking calls that would block are not modelled: `accept`, `read` and
//! `write` return `EWOULDBLOCK` whatever the descriptor's mode, and a
//! blocking `connect` fails the script.

use pollnet::socket::tcp::{SocketBuffer, State, TcpConfig, TcpError, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketHandle};
use pollnet::time::Duration;
use pollnet::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

use super::device::{LOCAL_IP, REMOTE_IP};
use super::parser::{Arg, Syscall};
use super::{Mismatch, REMOTE_PORT, Runner, SCRIPT_PORT, Tuple, mismatch};

/// FreeBSD's `O_RDWR`.
const O_RDWR: i64 = 0x2;
/// FreeBSD's `O_NONBLOCK`.
const O_NONBLOCK: i64 = 0x4;
/// The MSS FreeBSD rounds socket buffers to once connected.
const FREEBSD_MSS: usize = 1460;
/// The largest buffer or transfer a script may ask for (FreeBSD's default
/// `kern.ipc.maxsockbuf` is 2 MiB; this leaves room and bounds allocation).
const MAX_BYTES: usize = 16 << 20;

/// A byte count from a script, bounded by [`MAX_BYTES`].
fn byte_count(what: &str, value: i64) -> Result<usize, Mismatch> {
    match usize::try_from(value) {
        Ok(n) if n <= MAX_BYTES => Ok(n),
        _ => mismatch(format!("{what} from 0 to {MAX_BYTES}"), value.to_string()),
    }
}

/// One open descriptor.
#[derive(Debug, Clone)]
pub(super) struct Fd {
    /// The pollnet socket, once connected or listening.
    pub(super) socket: Option<SocketHandle>,
    /// Whether it is a listener.
    listener: bool,
    /// Whether `bind` was called.
    pub(super) bound: bool,
    nonblocking: bool,
    rcvbuf: usize,
    sndbuf: usize,
    keepalive: bool,
    nodelay: bool,
    keepidle: Option<Duration>,
    keepintvl: Option<Duration>,
    keepcnt: Option<u32>,
    /// Whether the socket's error was already reported (like `so_error`,
    /// which reading clears).
    error_reported: bool,
    shut_rd: bool,
}

/// A call's result: a value, or an errno name.
type Outcome = Result<i64, &'static str>;

fn same_errno(a: &str, b: &str) -> bool {
    let canonical = |e: &str| {
        if e == "EAGAIN" {
            "EWOULDBLOCK".to_string()
        } else {
            e.to_string()
        }
    };
    canonical(a) == canonical(b)
}

fn errno_of(error: TcpError) -> &'static str {
    match error {
        TcpError::Refused => "ECONNREFUSED",
        TcpError::Reset => "ECONNRESET",
        TcpError::TimedOut => "ETIMEDOUT",
        TcpError::Unreachable => "EHOSTUNREACH",
        _ => "EIO",
    }
}

fn arg(call: &Syscall, index: usize) -> Result<&Arg, Mismatch> {
    call.args.get(index).map_or_else(
        || {
            mismatch(
                format!("{} with at least {} arguments", call.name, index + 1),
                format!("{} arguments", call.args.len()),
            )
        },
        Ok,
    )
}

fn int_arg(call: &Syscall, index: usize) -> Result<i64, Mismatch> {
    match arg(call, index)? {
        Arg::Int(n) => Ok(*n),
        // `[n]`: a value passed by reference.
        Arg::List(items) if items.len() == 1 => match &items[0] {
            Arg::Int(n) => Ok(*n),
            other => mismatch(
                format!("a number as argument {}", index + 1),
                format!("{other:?}"),
            ),
        },
        other => mismatch(
            format!("a number as argument {}", index + 1),
            format!("{other:?}"),
        ),
    }
}

fn symbol_arg(call: &Syscall, index: usize) -> Result<&str, Mismatch> {
    match arg(call, index)? {
        Arg::Symbol(name) => Ok(name),
        other => mismatch(
            format!("a symbol as argument {}", index + 1),
            format!("{other:?}"),
        ),
    }
}

fn buffer(size: usize) -> SocketBuffer<'static> {
    SocketBuffer::new(vec![0u8; size])
}

impl Runner {
    /// Runs one system call line and checks its result.
    pub(super) fn syscall(&mut self, call: &Syscall) -> Result<(), Mismatch> {
        let outcome = match call.name.as_str() {
            "socket" => self.sys_socket(call)?,
            "bind" => self.sys_bind(call)?,
            "listen" => self.sys_listen(call)?,
            "accept" => self.sys_accept(call)?,
            "connect" => self.sys_connect(call)?,
            "close" => self.sys_close(call)?,
            "shutdown" => self.sys_shutdown(call)?,
            "read" | "recv" => self.sys_read(call)?,
            "write" | "send" => self.sys_write(call)?,
            "fcntl" => self.sys_fcntl(call)?,
            "getsockopt" => self.sys_getsockopt(call)?,
            "setsockopt" => self.sys_setsockopt(call)?,
            other => {
                return mismatch(
                    "a system call drill models (socket, bind, listen, accept, connect, close, \
                     shutdown, read, recv, write, send, fcntl, getsockopt, setsockopt)",
                    other.to_string(),
                );
            }
        };
        let wanted = match &call.errno {
            Some(errno) => format!("{} = -1 {errno}", call.name),
            None => format!("{} = {}", call.name, call.result),
        };
        match (&call.errno, outcome) {
            (Some(expected), Err(actual)) if same_errno(expected, actual) => Ok(()),
            (None, Ok(value)) if value == call.result => Ok(()),
            (_, Ok(value)) => mismatch(wanted, format!("{} = {value}", call.name)),
            (_, Err(errno)) => mismatch(wanted, format!("{} = -1 {errno}", call.name)),
        }
    }

    /// The descriptor in argument 0; notes it as the last one used.
    fn fd_arg(&mut self, call: &Syscall) -> Result<Option<i32>, Mismatch> {
        let n = int_arg(call, 0)?;
        let fd = i32::try_from(n).ok().filter(|fd| self.fds.contains_key(fd));
        if fd.is_some() {
            self.last_fd = fd;
        }
        Ok(fd)
    }

    fn lowest_free_fd(&self) -> i32 {
        (3..).find(|fd| !self.fds.contains_key(fd)).unwrap_or(3)
    }

    /// The settings a socket for `fd` gets: the sysctls' plus its options.
    fn socket_config(&self, fd: &Fd) -> TcpConfig {
        let mut config = self.config;
        if fd.nodelay {
            config.nagle = false;
        }
        if fd.keepalive || self.knobs.always_keepalive {
            config.keepalive_idle = Some(fd.keepidle.unwrap_or(self.knobs.keepidle));
        }
        if let Some(interval) = fd.keepintvl {
            config.keepalive_interval = interval;
        }
        if let Some(count) = fd.keepcnt {
            config.keepalive_count = count;
        }
        config
    }

    /// Re-applies `fd`'s options to its socket, if it has one.
    fn refresh_socket_config(&mut self, fd: i32) {
        let Some(entry) = self.fds.get(&fd) else {
            return;
        };
        let Some(handle) = entry.socket else {
            return;
        };
        // Sysctl changes reach both `self.config` and every socket, so the
        // descriptor's view is the socket's full configuration.
        let config = self.socket_config(entry);
        if let Some(socket) = self.sockets.get_mut::<TcpSocket>(handle) {
            socket.set_config(config);
        }
    }

    fn sys_socket(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let kind = symbol_arg(call, 1)?;
        if kind != "SOCK_STREAM" {
            return Ok(Err("EPROTONOSUPPORT"));
        }
        let fd = self.lowest_free_fd();
        self.fds.insert(
            fd,
            Fd {
                socket: None,
                listener: false,
                bound: false,
                nonblocking: false,
                rcvbuf: self.knobs.recvspace,
                sndbuf: self.knobs.sendspace,
                keepalive: false,
                nodelay: false,
                keepidle: None,
                keepintvl: None,
                keepcnt: None,
                error_reported: false,
                shut_rd: false,
            },
        );
        self.last_fd = Some(fd);
        Ok(Ok(i64::from(fd)))
    }

    fn sys_bind(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let Some(entry) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        if entry.bound || entry.socket.is_some() {
            return Ok(Err("EINVAL"));
        }
        entry.bound = true;
        Ok(Ok(0))
    }

    fn sys_listen(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let backlog = int_arg(call, 1)?;
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        if entry.socket.is_some() {
            // Listening again only changes the backlog in BSD; a connected
            // socket cannot listen.
            return Ok(if entry.listener { Ok(0) } else { Err("EINVAL") });
        }
        let mut socket = TcpSocket::new(buffer(entry.rcvbuf), buffer(entry.sndbuf));
        socket.set_config(self.socket_config(&entry));
        let Ok(handle) = self.sockets.add(socket) else {
            return Ok(Err("ENOBUFS"));
        };
        let local = IpListenEndpoint {
            addr: None,
            port: SCRIPT_PORT,
        };
        let backlog = usize::try_from(backlog).unwrap_or(0).max(1);
        let children = ChildBuffers::Alloc {
            rx: entry.rcvbuf,
            tx: entry.sndbuf,
        };
        if self
            .sockets
            .listen(handle, local, backlog, children)
            .is_err()
        {
            self.sockets.remove(handle);
            return Ok(Err("EINVAL"));
        }
        if let Some(entry) = self.fds.get_mut(&fd) {
            entry.socket = Some(handle);
            entry.listener = true;
            entry.bound = true;
        }
        self.tuple = Tuple {
            local: IpEndpoint::new(IpAddress::Ipv4(LOCAL_IP), SCRIPT_PORT),
            remote: IpEndpoint::new(IpAddress::Ipv4(REMOTE_IP), REMOTE_PORT),
        };
        Ok(Ok(0))
    }

    fn sys_accept(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let (Some(listener), true) = (entry.socket, entry.listener) else {
            return Ok(Err("EINVAL"));
        };
        let Some(child) = self.sockets.accept(listener) else {
            return Ok(Err("EWOULDBLOCK"));
        };
        let new_fd = self.lowest_free_fd();
        // BSD: the new descriptor inherits the listener's options and flags.
        self.fds.insert(
            new_fd,
            Fd {
                socket: Some(child),
                listener: false,
                error_reported: false,
                shut_rd: false,
                ..entry
            },
        );
        self.last_fd = Some(new_fd);
        Ok(Ok(i64::from(new_fd)))
    }

    fn sys_connect(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        if let Some(handle) = entry.socket {
            let state = self
                .sockets
                .get::<TcpSocket>(handle)
                .map_or(State::Closed, |s| s.state());
            return Ok(Err(match state {
                State::SynSent => "EALREADY",
                State::Listen => "EOPNOTSUPP",
                _ => "EISCONN",
            }));
        }
        if !entry.nonblocking {
            return mismatch(
                "a non-blocking connect (drill does not model blocking calls)",
                "connect on a blocking descriptor",
            );
        }
        let mut socket = TcpSocket::new(buffer(entry.rcvbuf), buffer(entry.sndbuf));
        socket.set_config(self.socket_config(&entry));
        let Ok(handle) = self.sockets.add(socket) else {
            return Ok(Err("ENOBUFS"));
        };
        let remote = IpEndpoint::new(IpAddress::Ipv4(REMOTE_IP), SCRIPT_PORT);
        match self
            .iface
            .connect(&mut self.sockets, handle, remote, self.now)
        {
            Ok(local) => {
                self.tuple = Tuple { local, remote };
                if let Some(entry) = self.fds.get_mut(&fd) {
                    entry.socket = Some(handle);
                }
                Ok(Err("EINPROGRESS"))
            }
            Err(_) => {
                self.sockets.remove(handle);
                Ok(Err("EADDRNOTAVAIL"))
            }
        }
    }

    fn sys_close(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let Some(entry) = self.fds.remove(&fd) else {
            return Ok(Err("EBADF"));
        };
        if self.last_fd == Some(fd) {
            self.last_fd = None;
        }
        let Some(handle) = entry.socket else {
            return Ok(Ok(0));
        };
        if entry.listener {
            // Unaccepted children are aborted and freed by the set.
            self.sockets.remove(handle);
            return Ok(Ok(0));
        }
        let closed = match self.sockets.get_mut::<TcpSocket>(handle) {
            Some(socket) => {
                socket.close();
                socket.state() == State::Closed
            }
            None => true,
        };
        if closed {
            self.sockets.remove(handle);
        } else {
            self.orphans.push(handle);
        }
        Ok(Ok(0))
    }

    fn sys_shutdown(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let how = symbol_arg(call, 1)?.to_string();
        let Some(entry) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        let (write, read) = match how.as_str() {
            "SHUT_WR" => (true, false),
            "SHUT_RD" => (false, true),
            "SHUT_RDWR" => (true, true),
            _ => return Ok(Err("EINVAL")),
        };
        let Some(handle) = entry.socket.filter(|_| !entry.listener) else {
            return Ok(Err("ENOTCONN"));
        };
        let Some(socket) = self.sockets.get_mut::<TcpSocket>(handle) else {
            return Ok(Err("ENOTCONN"));
        };
        if matches!(
            socket.state(),
            State::Closed | State::Listen | State::SynSent
        ) {
            return Ok(Err("ENOTCONN"));
        }
        if write {
            socket.shutdown();
        }
        if read {
            entry.shut_rd = true;
        }
        Ok(Ok(0))
    }

    /// The socket's error, the first time it is asked for.
    fn take_error(&mut self, fd: i32) -> Option<&'static str> {
        let entry = self.fds.get_mut(&fd)?;
        if entry.error_reported {
            return None;
        }
        let error = entry
            .socket
            .and_then(|handle| self.sockets.get::<TcpSocket>(handle))
            .and_then(|socket| socket.error())?;
        entry.error_reported = true;
        Some(errno_of(error))
    }

    fn sys_read(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let len = byte_count("a length", int_arg(call, 2)?)?;
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let Some(handle) = entry.socket.filter(|_| !entry.listener) else {
            return Ok(Err("ENOTCONN"));
        };
        if entry.shut_rd {
            return Ok(Ok(0));
        }
        let mut data = vec![0u8; len];
        let result = match self.sockets.get_mut::<TcpSocket>(handle) {
            Some(socket) => socket.recv_slice(&mut data),
            None => return Ok(Err("ENOTCONN")),
        };
        match result {
            // Data first, as soreceive returns it before any error.
            Ok(n) if n > 0 => Ok(Ok(n as i64)),
            _ if len == 0 => Ok(Ok(0)),
            Ok(_) => Ok(Err(self.take_error(fd).unwrap_or("EWOULDBLOCK"))),
            Err(_) => Ok(self.take_error(fd).map_or(Ok(0), Err)),
        }
    }

    fn sys_write(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let len = byte_count("a length", int_arg(call, 2)?)?;
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let Some(handle) = entry.socket.filter(|_| !entry.listener) else {
            return Ok(Err("ENOTCONN"));
        };
        if let Some(errno) = self.take_error(fd) {
            return Ok(Err(errno));
        }
        let data = vec![0u8; len];
        let result = match self.sockets.get_mut::<TcpSocket>(handle) {
            Some(socket) => socket.send_slice(&data),
            None => return Ok(Err("ENOTCONN")),
        };
        Ok(match result {
            Ok(n) if n > 0 || len == 0 => Ok(n as i64),
            Ok(_) => Err("EWOULDBLOCK"),
            Err(_) => Err("EPIPE"),
        })
    }

    fn sys_fcntl(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let command = symbol_arg(call, 1)?.to_string();
        match command.as_str() {
            "F_GETFL" => {
                let nonblocking = self.fds.get(&fd).is_some_and(|e| e.nonblocking);
                Ok(Ok(O_RDWR | if nonblocking { O_NONBLOCK } else { 0 }))
            }
            "F_SETFL" => {
                let flags = match arg(call, 2)? {
                    Arg::Or(items) => items.clone(),
                    single => vec![single.clone()],
                };
                let mut nonblocking = false;
                for flag in flags {
                    match flag {
                        Arg::Symbol(name) if name == "O_NONBLOCK" => nonblocking = true,
                        Arg::Symbol(name) if name == "O_RDWR" => {}
                        Arg::Int(bits) => nonblocking |= bits & O_NONBLOCK != 0,
                        other => return mismatch("O_RDWR or O_NONBLOCK", format!("{other:?}")),
                    }
                }
                if let Some(entry) = self.fds.get_mut(&fd) {
                    entry.nonblocking = nonblocking;
                }
                Ok(Ok(0))
            }
            other => mismatch("F_GETFL or F_SETFL", other.to_string()),
        }
    }

    fn sys_getsockopt(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let name = symbol_arg(call, 2)?.to_string();
        let Some(entry) = self.fds.get(&fd).cloned() else {
            return Ok(Err("EBADF"));
        };
        let socket = entry.socket.and_then(|h| self.sockets.get::<TcpSocket>(h));
        match name.as_str() {
            "SO_ERROR" => {
                let expected = match arg(call, 3)? {
                    Arg::List(items) if items.len() == 1 => items[0].clone(),
                    other => return mismatch("[errno] for SO_ERROR", format!("{other:?}")),
                };
                let actual = self.take_error(fd);
                let matches = match (&expected, actual) {
                    (Arg::Int(0), None) => true,
                    (Arg::Symbol(e), Some(a)) => same_errno(e, a),
                    _ => false,
                };
                if !matches {
                    let wanted = match expected {
                        Arg::Int(n) => n.to_string(),
                        Arg::Symbol(s) => s,
                        other => format!("{other:?}"),
                    };
                    return mismatch(format!("SO_ERROR {wanted}"), actual.unwrap_or("0"));
                }
                Ok(Ok(0))
            }
            "SO_RCVBUF" | "SO_SNDBUF" => {
                let wanted = int_arg(call, 3)?;
                let receive = name == "SO_RCVBUF";
                let size = match (socket, entry.listener) {
                    (Some(s), false) if receive => Some(s.recv_capacity()),
                    (Some(s), false) => Some(s.send_capacity()),
                    _ => None,
                };
                match size {
                    None => {
                        // No connection yet: the script's value sizes the
                        // buffers the socket (or a listener's children) get.
                        let wanted = byte_count("a buffer size", wanted)?;
                        if entry.listener {
                            let current = if receive { entry.rcvbuf } else { entry.sndbuf };
                            if current != wanted {
                                return mismatch(
                                    format!("{name} {wanted}"),
                                    format!(
                                        "{current} (the listener's children are sized already)"
                                    ),
                                );
                            }
                        } else if let Some(entry) = self.fds.get_mut(&fd) {
                            if receive {
                                entry.rcvbuf = wanted;
                            } else {
                                entry.sndbuf = wanted;
                            }
                        }
                        Ok(Ok(0))
                    }
                    Some(size) => {
                        let freebsd_rounded = size.next_multiple_of(FREEBSD_MSS);
                        if usize::try_from(wanted).is_ok_and(|w| w == size || w == freebsd_rounded)
                        {
                            Ok(Ok(0))
                        } else {
                            mismatch(format!("{name} {wanted}"), size.to_string())
                        }
                    }
                }
            }
            "SO_KEEPALIVE" | "TCP_NODELAY" => {
                let wanted = int_arg(call, 3)?;
                let actual = if name == "SO_KEEPALIVE" {
                    entry.keepalive
                } else {
                    entry.nodelay
                };
                if (wanted != 0) != actual {
                    return mismatch(format!("{name} {wanted}"), i64::from(actual).to_string());
                }
                Ok(Ok(0))
            }
            other => mismatch(
                "a socket option drill reads (SO_ERROR, SO_RCVBUF, SO_SNDBUF, SO_KEEPALIVE, TCP_NODELAY)",
                other.to_string(),
            ),
        }
    }

    fn sys_setsockopt(&mut self, call: &Syscall) -> Result<Outcome, Mismatch> {
        let Some(fd) = self.fd_arg(call)? else {
            return Ok(Err("EBADF"));
        };
        let name = symbol_arg(call, 2)?.to_string();
        let value = int_arg(call, 3)?;
        let Some(entry) = self.fds.get_mut(&fd) else {
            return Ok(Err("EBADF"));
        };
        let seconds = || Duration::from_secs(u64::try_from(value).unwrap_or(0));
        match name.as_str() {
            "SO_REUSEADDR" | "SO_REUSEPORT" => {}
            "SO_RCVBUF" | "SO_SNDBUF" => {
                if entry.socket.is_some() {
                    return mismatch(
                        format!(
                            "{name} before connect or listen (pollnet does not resize buffers)"
                        ),
                        "a socket that has its buffers",
                    );
                }
                let size = byte_count("a buffer size", value)?;
                if name == "SO_RCVBUF" {
                    entry.rcvbuf = size;
                } else {
                    entry.sndbuf = size;
                }
            }
            "SO_KEEPALIVE" => entry.keepalive = value != 0,
            "TCP_NODELAY" => entry.nodelay = value != 0,
            "TCP_KEEPIDLE" => entry.keepidle = Some(seconds()),
            "TCP_KEEPINTVL" => entry.keepintvl = Some(seconds()),
            "TCP_KEEPCNT" => entry.keepcnt = Some(u32::try_from(value).unwrap_or(0)),
            other => {
                return mismatch(
                    "a socket option drill sets (SO_REUSEADDR, SO_REUSEPORT, SO_RCVBUF, SO_SNDBUF, \
                     SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT)",
                    other.to_string(),
                );
            }
        }
        self.refresh_socket_config(fd);
        Ok(Ok(0))
    }
}
