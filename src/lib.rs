//! pollnet: a poll-based user-space TCP/IP stack.
//!
//! An [`iface::Interface`] polls a [`phy::Device`] and feeds a socket set
//! whose sockets' state machines and timers advance on each `poll(now)`.
//! The set holds every kind of socket behind one handle type:
//! [`socket::tcp::TcpSocket`] (lwIP's eleven connection states by name, RFC
//! 9293 in its segment processing), [`socket::udp::UdpSocket`] (RFC 768
//! datagrams, broadcast, ICMP errors) and [`socket::icmp::IcmpSocket`]
//! (ICMP echo: ping with the round trip time on the stack's clock). The stack never reads a clock: time enters only as
//! [`time::Instant`], so tests and pcap replay run on a virtual clock.
//!
//! Layers, leaf first: [`time`], [`wire`] and [`storage`] depend on nothing
//! of ours; [`socket`] is sans-IO (segments and time in, segments out);
//! [`iface`] ties sockets to a [`phy`] device (Ethernet, ARP, IPv4, ICMP,
//! UDP, demultiplexing and timers).
//!
//! # Quick start
//!
//! Two interfaces joined by a [`phy::Loopback`] link with a 1 ms one-way
//! delay, on a virtual clock: the server listens, the client connects,
//! sends a greeting and closes; the server reads it to the end.
//!
//! ```
//! use pollnet::iface::{Config, Interface};
//! use pollnet::phy::Loopback;
//! use pollnet::socket::tcp::{SocketBuffer, State, TcpSocket};
//! use pollnet::socket::{ChildBuffers, SocketSet};
//! use pollnet::time::{Duration, Instant};
//! use pollnet::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One interface per host: a MAC, an address on 192.0.2.0/24 and a
//! // 128-bit random seed (ISNs, the demultiplexing key and ephemeral ports
//! // derive from it; fixed here so the run is repeatable, from
//! // `Config::with_os_seed` in an application). The socket set holds
//! // every per-socket table, so only it is sized.
//! let host = |n: u8| {
//!     let ip = Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, n), 24).expect("a valid prefix");
//!     let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, n]), 0x5eed_0000 + u128::from(n))
//!         .with_ip(ip);
//!     (Interface::new(config).expect("a unicast MAC"), SocketSet::with_capacity(4))
//! };
//! let (mut client, mut client_sockets) = host(1);
//! let (mut server, mut server_sockets) = host(2);
//! let (mut client_link, mut server_link) = Loopback::pair(1500, Duration::from_millis(1));
//! let new_socket = || TcpSocket::new(SocketBuffer::new(vec![0; 4096]), SocketBuffer::new(vec![0; 4096]));
//!
//! // The server listens on port 80; each completed handshake becomes a
//! // connection socket in the set, with buffers of its own.
//! let listener = server_sockets.add(new_socket())?;
//! let children = ChildBuffers::Alloc { rx: 4096, tx: 4096 };
//! server_sockets.listen(listener, 80, 4, children)?;
//!
//! // The client connects from an ephemeral port.
//! let mut now = Instant::ZERO;
//! let conn = client_sockets.add(new_socket())?;
//! let server_addr = IpEndpoint::new(Ipv4Address::new(192, 0, 2, 2).into(), 80);
//! client.connect(&mut client_sockets, conn, server_addr, now)?;
//!
//! let mut accepted = None;
//! let mut received = Vec::new();
//! let mut greeted = false;
//! for _ in 0..1000 {
//!     // 1. Let each interface move frames and timers forward.
//!     client.poll(now, &mut client_link, &mut client_sockets);
//!     server.poll(now, &mut server_link, &mut server_sockets);
//!
//!     // 2. The application's turn: sockets are read and written between polls.
//!     // (After `close`, a socket that reaches TIME_WAIT leaves the set: its
//!     // handle then finds nothing.)
//!     if let Some(socket) = client_sockets.get_mut::<TcpSocket>(conn) {
//!         if socket.state() == State::Established && !greeted {
//!             socket.send_slice(b"hello, pollnet")?;
//!             socket.close(); // the FIN follows the data
//!             greeted = true;
//!         }
//!     }
//!     accepted = accepted.or_else(|| server_sockets.accept(listener));
//!     if let Some(handle) = accepted {
//!         let socket = server_sockets
//!             .get_mut::<TcpSocket>(handle)
//!             .expect("an accepted socket");
//!         let mut buf = [0u8; 64];
//!         while socket.can_recv() {
//!             let n = socket.recv_slice(&mut buf)?;
//!             received.extend_from_slice(&buf[..n]);
//!         }
//!         if !socket.may_recv() {
//!             break; // the client's FIN arrived and all data is read
//!         }
//!     }
//!
//!     // 3. Sleep until the earliest thing either side waits for: an
//!     // interface's timer (`poll_at`; a time not after `now` means poll
//!     // again at once) or a frame still on the link.
//!     let wake = [
//!         client.poll_at(&client_sockets),
//!         server.poll_at(&server_sockets),
//!         client_link.next_arrival(),
//!         server_link.next_arrival(),
//!     ];
//!     match wake.into_iter().flatten().min() {
//!         Some(at) => now = now.max(at),
//!         None => break, // nothing will ever happen again
//!     }
//! }
//! assert_eq!(received, b"hello, pollnet");
//! # Ok(())
//! # }
//! ```
//!
//! On a real device the loop is the same, with `now` read from a clock and
//! the wait done by the device (e.g. [`phy::wait`] on Linux for a file
//! descriptor, with [`iface::Interface::poll_delay`] as the timeout).
//!
//! # Features
//! - `std` (default; implies `alloc`): `Vec`-backed storage, the Linux
//!   devices and pcap. Without it the core is `no_std` and needs no
//!   allocator: every buffer and table is caller-provided storage.
//! - `log` (default): state transitions and drops at debug level.
//! - `proto-ipv6` (default): IPv6 variants of the address types.
//! - `phy-raw-socket`, `phy-tuntap` (default, Linux): [`phy::RawSocket`]
//!   (AF_PACKET) and [`phy::TunTap`] devices.
//! - `phy-pcap` (default): capture replay and recording.
//! - `defmt`: `defmt::Format` for the public value types (errors, states,
//!   addresses, time) for logging on embedded targets.
//! - `async` (default; `no_std`, no allocator): wakers on TCP sockets
//!   ([`TcpSocket::register_recv_waker`](socket::tcp::TcpSocket::register_recv_waker),
//!   [`register_send_waker`](socket::tcp::TcpSocket::register_send_waker))
//!   and the [`asynch`] module: a shared stack handle, its runner, async
//!   accept, connect, read, write, flush and close, and the
//!   `embedded-io-async` `Read`/`Write` traits; async UDP
//!   ([`asynch::AsyncUdp`]: `send_to`, `recv_from`) and ping
//!   ([`asynch::AsyncPing`]: `send_echo`, `recv`) on the same stack. The wakers are behind the
//!   feature so a `no_std` build that polls its sockets keeps the smaller
//!   socket: the feature adds two `Option<Waker>` to each `TcpSocket`,
//!   32 bytes on 64-bit targets (8064 to 8096 bytes on x86_64 in this
//!   version), 16 on 32-bit ones. It is on by default because it costs a std user only those
//!   32 bytes per socket and one comparison per segment.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod macros;

#[cfg(feature = "async")]
pub mod asynch;
pub mod iface;
pub mod phy;
#[cfg(feature = "phy-pcap")]
pub mod replay;
pub mod socket;
pub mod storage;
pub mod time;
pub mod wire;

#[cfg(all(test, feature = "std"))]
mod tests {
    use std::boxed::Box;
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    use crate::socket::tcp::{
        ConnectError, IcmpError, ListenError, RecvError, SendError, TcpError,
    };
    use crate::socket::{SetFull, StorageError};
    use crate::storage::TooManyHoles;
    use crate::wire::{AddressParseError, Error, UnsupportedVersion};

    /// Every public error type converts into `Box<dyn Error>` (so `?` works
    /// in an application's `main`) and says what went wrong in its own
    /// words.
    #[test]
    fn every_public_error_is_a_std_error_with_its_own_text() {
        let errors: Vec<Box<dyn core::error::Error>> = vec![
            Box::new(TcpError::Refused),
            Box::new(ListenError::InvalidState),
            Box::new(ListenError::Unaddressable),
            Box::new(ListenError::AddressInUse),
            Box::new(ConnectError::InvalidState),
            Box::new(ConnectError::Unaddressable),
            Box::new(SendError::InvalidState),
            Box::new(RecvError::InvalidState),
            Box::new(RecvError::Finished),
            Box::new(IcmpError::FragmentationNeeded { mtu: 1280 }),
            Box::new(SetFull),
            Box::new(ListenError::TooManyListeners),
            Box::new(StorageError::DemuxTooSmall {
                needed: 8,
                provided: 4,
            }),
            Box::new(StorageError::TooLarge),
            Box::new(TooManyHoles),
            Box::new(AddressParseError),
            Box::new(UnsupportedVersion),
            Box::new(Error::Truncated),
        ];
        let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        for (error, text) in errors.iter().zip(&texts) {
            assert!(
                !text.is_empty() && !text.contains('{'),
                "{error:?}: {text:?}"
            );
        }
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), texts.len(), "{texts:?}");
        assert_eq!(
            ListenError::AddressInUse.to_string(),
            "listen: another socket listens on that endpoint"
        );
        assert_eq!(
            IcmpError::FragmentationNeeded { mtu: 1280 }.to_string(),
            "fragmentation needed (next-hop MTU 1280)"
        );
    }
}
