//! [`RawSocket`]: a Linux `AF_PACKET` socket bound to one interface, moving
//! whole Ethernet frames between the stack and that interface, a burst at a
//! time.
//!
//! Receive and transmit each take the fastest path the kernel grants:
//! by default `PACKET_MMAP` rings with `TPACKET_V2`, then `recvmmsg`/
//! `sendmmsg` batches; `TPACKET_V3` rings on request, falling back to V2
//! (see [`RawSocketIo`] and [`RawSocketOptions::new`] for why V2 is the
//! default).
//! With `PACKET_VNET_HDR` every frame carries a virtio-net header, so the
//! stack hands the kernel TCP segments of up to 64 KiB to cut up (GSO) and
//! learns which received checksums the kernel left partial or verified.
//! [`RawSocket::io_path`] says what runs.

use core::fmt;
use core::mem::{size_of, zeroed};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::string::{String, ToString};
use std::vec::Vec;

use super::mmsg::{MmsgRx, MmsgTx};
use super::partial_checksum::complete_transport_checksum;
use super::ring::{Mapping, RingGeometry, RxRing, TxRing};
use super::sys::{self, check, would_block};
use super::vnet::{VNET_HEADER_LEN, VnetHeader};
use super::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, FrameMeta, Medium,
    TransportChecksum, TsoCapabilities,
};
use crate::time::Instant;
use crate::wire::EthernetAddress;

pub use super::ring::TpacketVersion;

/// Longest frame a receive can hold: a 64 KiB packet (the loopback MTU,
/// or a GSO super-frame), its Ethernet header and a VLAN tag.
const MIN_RX_BUFFER: usize = 65_536 + 18;

/// Frames one `receive` call may skip (our own transmissions, truncated
/// frames) before it reports "nothing now", so a flood cannot stall a poll.
const MAX_SKIPPED_PER_RECEIVE: usize = 64;

/// Transmit ring slot for GSO frames: 64 KiB (two to a 128 KiB block).
const GSO_SLOT: usize = 65_536;

/// Largest IPv4 packet of a TCP super-segment.
const MAX_IPV4_PACKET: usize = 65_535;

/// Ethernet header and one VLAN tag.
const LINK_SLACK: usize = 18;

/// The page size the ring geometry is rounded to.
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// Counters of a [`RawSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RawSocketStats {
    /// Frames handed up.
    pub received: u64,
    /// Received frames longer than the MTU (the kernel's GSO/GRO
    /// super-frames).
    pub received_large: u64,
    /// Received frames whose TCP/UDP checksum the kernel left partial and
    /// that were handed up as such (see [`FrameMeta`]), with no checksum
    /// pass in software.
    pub partial_checksums: u64,
    /// Received frames whose TCP/UDP checksum the kernel left partial and
    /// that were completed here
    /// ([`RawSocketOptions::complete_partial_checksums`]).
    pub checksums_completed: u64,
    /// Copies of our own transmissions seen by the socket and ignored.
    pub outgoing_ignored: u64,
    /// Frames too long for the receive buffer or ring, dropped.
    pub truncated: u64,
    /// Receive errors other than "nothing to read".
    pub rx_errors: u64,
    /// System calls that fetched received frames (`recvmmsg`; the rings
    /// need none).
    pub rx_batches: u64,
    /// Frames the kernel accepted for sending.
    pub transmitted: u64,
    /// Of those, TCP segments the kernel was asked to cut up (GSO).
    pub transmitted_large: u64,
    /// System calls that handed frames to the kernel (ring kicks,
    /// `sendmmsg`).
    pub tx_batches: u64,
    /// Times the device had no room for another frame (transmit ring or
    /// batch full, kernel not taking more): it reported busy, nothing was
    /// lost.
    pub tx_busy: u64,
    /// Frames dropped for lack of buffer space.
    pub tx_dropped: u64,
    /// Frames refused for another reason (e.g. longer than the MTU allows).
    pub tx_errors: u64,
}

/// One way of moving frames through the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawSocketIo {
    /// `recvmmsg`/`sendmmsg`: one system call per batch, frames copied
    /// between the kernel and buffers of ours.
    Mmsg,
    /// A `PACKET_MMAP` ring with this layout: no copy on receive, and one
    /// system call per burst on transmit.
    Ring(TpacketVersion),
}

impl RawSocketIo {
    /// The fallback after this one.
    fn fallback(self) -> Option<RawSocketIo> {
        match self {
            RawSocketIo::Ring(TpacketVersion::V3) => Some(RawSocketIo::Ring(TpacketVersion::V2)),
            RawSocketIo::Ring(TpacketVersion::V2) => Some(RawSocketIo::Mmsg),
            RawSocketIo::Mmsg => None,
        }
    }

    fn ring(self) -> Option<TpacketVersion> {
        match self {
            RawSocketIo::Ring(v) => Some(v),
            RawSocketIo::Mmsg => None,
        }
    }
}

impl fmt::Display for RawSocketIo {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RawSocketIo::Mmsg => f.write_str("recvmmsg/sendmmsg"),
            RawSocketIo::Ring(TpacketVersion::V2) => f.write_str("TPACKET_V2 ring"),
            RawSocketIo::Ring(TpacketVersion::V3) => f.write_str("TPACKET_V3 ring"),
        }
    }
}

/// How a [`RawSocket`] is opened. The defaults are the fast path; each
/// part the kernel refuses falls back (rings V3 if asked for, V2, then
/// batches; then without the virtio-net header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawSocketOptions {
    /// The receive path to try first.
    pub rx: RawSocketIo,
    /// The transmit path to try first. Two rings share one layout version:
    /// the receive ring's.
    pub tx: RawSocketIo,
    /// `PACKET_VNET_HDR`: segmentation offload on transmit, the kernel's
    /// checksum state and segment size on receive.
    pub vnet_header: bool,
    /// `PACKET_QDISC_BYPASS`: frames go straight to the driver, skipping
    /// the interface's queueing discipline.
    pub qdisc_bypass: bool,
    /// Complete in software the TCP/UDP checksums the kernel left partial
    /// (checksum offload, as on veth), so every frame handed up verifies
    /// anywhere (a pcap, another program). Off by default: such frames are
    /// marked [`TransportChecksum::Partial`] and the interface does not
    /// verify them.
    pub complete_partial_checksums: bool,
    /// Receive ring size, in bytes. A `TPACKET_V2` ring has slots of
    /// 2 KiB for an MTU of 1500 (the next power of two above a frame and
    /// its headers), so the default 8 MiB holds 4,096 frames; a frame too
    /// long for its slot (a kernel peer's GRO or GSO super-frame) waits in
    /// the socket's receive queue and is read with one `recvmsg`.
    pub rx_ring_bytes: usize,
    /// `TPACKET_V3` receive block size, in bytes (a power of two of pages,
    /// at least 128 KiB so a 64 KiB super-frame fits).
    pub rx_block_bytes: usize,
    /// `TPACKET_V3`: how long the kernel waits to fill a receive block
    /// before handing it over anyway, in milliseconds (at least 1; the
    /// kernel rounds it up to its timer tick). A frame that does not fill
    /// a block waits this long before the stack can see it.
    pub rx_block_timeout_ms: u32,
    /// Transmit ring slots.
    pub tx_ring_frames: usize,
    /// Frames per `recvmmsg`/`sendmmsg` call on the batch path; 1 sends
    /// each frame as its token is consumed.
    pub batch: usize,
}

impl RawSocketOptions {
    /// The fast path: `TPACKET_V2` rings, virtio-net header, qdisc bypass.
    ///
    /// Why V2 and not V3 on receive: a V3 ring hands user space a block of
    /// frames only when the block is full or its retire timer
    /// ([`rx_block_timeout_ms`](Self::rx_block_timeout_ms), at least 1 ms
    /// and one kernel timer tick) fires. The frames a TCP sender receives
    /// are ACKs, which never fill a block, so every ACK would wait for the
    /// timer: on a link with a round trip of microseconds (veth) the stack
    /// would see a round trip of a millisecond or more and, with a window
    /// bound by loss, send that much slower; under load the timer runs
    /// later still and loss probes fire while their ACK sits in an
    /// unretired block. A V2 ring hands over each frame as the kernel
    /// writes it. V3 saves memory on many small frames and wakes the
    /// application less often; ask for it with
    /// `rx = tx = RawSocketIo::Ring(TpacketVersion::V3)`.
    pub const fn new() -> RawSocketOptions {
        RawSocketOptions {
            rx: RawSocketIo::Ring(TpacketVersion::V2),
            tx: RawSocketIo::Ring(TpacketVersion::V2),
            vnet_header: true,
            qdisc_bypass: true,
            complete_partial_checksums: false,
            rx_ring_bytes: 8 << 20,
            rx_block_bytes: 256 << 10,
            rx_block_timeout_ms: 1,
            tx_ring_frames: 128,
            batch: 64,
        }
    }

    /// The plain path: one `recvmsg`/`sendmsg` per frame, no offloads,
    /// partial checksums completed here; a frame is sent as its token is
    /// consumed.
    pub const fn plain() -> RawSocketOptions {
        RawSocketOptions {
            rx: RawSocketIo::Mmsg,
            tx: RawSocketIo::Mmsg,
            vnet_header: false,
            qdisc_bypass: false,
            complete_partial_checksums: true,
            batch: 1,
            ..RawSocketOptions::new()
        }
    }
}

impl Default for RawSocketOptions {
    fn default() -> Self {
        RawSocketOptions::new()
    }
}

/// The paths a [`RawSocket`] runs on, after the kernel had its say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RawSocketPath {
    /// How frames are received.
    pub rx: RawSocketIo,
    /// How frames are sent.
    pub tx: RawSocketIo,
    /// Whether frames carry a virtio-net header (GSO on transmit).
    pub vnet_header: bool,
    /// Whether transmit bypasses the queueing discipline.
    pub qdisc_bypass: bool,
}

impl fmt::Display for RawSocketPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let rx = match self.rx {
            RawSocketIo::Mmsg => "recvmmsg".into(),
            ring => ring.to_string(),
        };
        let tx = match self.tx {
            RawSocketIo::Mmsg => "sendmmsg".into(),
            ring => ring.to_string(),
        };
        write!(
            f,
            "rx {rx}, tx {tx}, {}, {}",
            if self.vnet_header {
                "virtio-net header (GSO)"
            } else {
                "no virtio-net header"
            },
            if self.qdisc_bypass {
                "qdisc bypass"
            } else {
                "through the qdisc"
            }
        )
    }
}

/// Sets an integer socket option.
fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

enum RxQueue {
    Ring(RxRing),
    Batch(MmsgRx),
}

enum TxQueue {
    Ring(TxRing),
    Batch(MmsgTx),
}

/// Where a received frame's bytes are.
#[derive(Debug, Clone, Copy)]
enum RxPlace {
    /// In the mapped ring.
    Map(usize),
    /// In the batch buffers.
    Batch(usize),
    /// In the copy buffer (a V2 frame too long for its slot).
    Copy(usize),
}

/// The transmit side, borrowed by transmit tokens.
struct TxSide {
    fd: RawFd,
    queue: TxQueue,
    vnet_header: bool,
    /// Where the ring's slots would otherwise be referenced, not copied,
    /// by the kernel: claim the whole frame as header so it is copied.
    copy_all: bool,
    /// Largest frame (after any virtio-net header) the queue takes.
    max_frame: usize,
    /// For frames that cannot be sent: the closure still runs.
    scratch: Vec<u8>,
    stats: RawSocketStats,
}

impl fmt::Debug for TxSide {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("TxSide")
            .field("vnet_header", &self.vnet_header)
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

impl TxSide {
    /// Whether another frame of any size fits now.
    fn has_room(&self, map: Option<&Mapping>) -> bool {
        match (&self.queue, map) {
            (TxQueue::Ring(ring), Some(map)) => ring.has_room(map),
            (TxQueue::Batch(batch), _) => batch.has_room(self.max_frame + VNET_HEADER_LEN),
            (TxQueue::Ring(_), None) => false,
        }
    }

    /// Hands queued frames to the kernel.
    fn flush(&mut self) {
        match &mut self.queue {
            TxQueue::Ring(ring) => {
                let queued = ring.queued() as u64;
                if queued == 0 {
                    return;
                }
                self.stats.tx_batches += 1;
                match ring.kick(self.fd) {
                    Ok(()) => self.stats.transmitted += queued,
                    // The frames stay marked and go with the next kick.
                    Err(err) => net_debug!("raw socket: kick: {}", err),
                }
            }
            TxQueue::Batch(batch) => {
                if batch.queued() == 0 {
                    return;
                }
                self.stats.tx_batches += 1;
                let sent = batch.flush(self.fd);
                self.stats.transmitted += sent.sent as u64;
                self.stats.tx_errors += sent.refused as u64;
            }
        }
    }
}

/// A Linux `AF_PACKET` raw socket bound to one interface: non-blocking,
/// Ethernet medium, MTU read from the interface.
///
/// It receives every frame the interface sees (its own transmissions
/// excepted). Frames the kernel left with a partial checksum (checksum
/// offload, as on veth) are handed up marked so ([`FrameMeta`]), and the
/// interface does not verify them; [`RawSocketOptions`] can have them
/// completed instead. Frames longer than the MTU (a kernel peer's GSO
/// super-frames) are handed up as they come. Needs `CAP_NET_RAW`. VLAN tags
/// the kernel strips are not put back.
///
/// Transmitted frames are queued (in the ring, or a batch) and handed to
/// the kernel by [`Device::flush`], which `Interface::poll` calls at the end
/// of each poll, or when the queue is full. With the virtio-net header the
/// device takes TCP segments of up to 64 KiB ([`DeviceCapabilities::tso`]).
pub struct RawSocket {
    // Field order is drop order: the rings point into the mapping, the
    // mapping belongs to the socket.
    rx: RxQueue,
    tx: TxSide,
    map: Option<Mapping>,
    fd: OwnedFd,
    name: String,
    ifindex: libc::c_int,
    mtu: usize,
    promiscuous: bool,
    path: RawSocketPath,
    complete_checksums: bool,
    /// Receive buffer for frames the V2 ring could not hold.
    copy_buffer: Vec<u8>,
}

impl fmt::Debug for RawSocket {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("RawSocket")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("path", &self.path)
            .field("stats", &self.tx.stats)
            .finish_non_exhaustive()
    }
}

/// A socket configured for one attempt at a set of paths.
struct Configured {
    fd: OwnedFd,
    path: RawSocketPath,
    map: Option<Mapping>,
    rx: RxQueue,
    tx: TxQueue,
    tx_capacity: usize,
}

/// A new, unbound packet socket. Protocol 0: it sees no frames until bound
/// to the one interface, so nothing from other interfaces slips in.
fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked.
    let raw = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `raw` was just returned by socket(2) and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Rounds `x` up to a multiple of `to` (a power of two).
fn round_up(x: usize, to: usize) -> usize {
    (x + to - 1) & !(to - 1)
}

/// Sets up `fd` for `rx`/`tx` with or without the virtio-net header.
fn configure(
    rx: RawSocketIo,
    tx: RawSocketIo,
    vnet: bool,
    mtu: usize,
    options: &RawSocketOptions,
) -> io::Result<Configured> {
    let fd = packet_socket()?;
    let raw = fd.as_raw_fd();
    let vnet_len = if vnet { VNET_HEADER_LEN } else { 0 };
    if vnet {
        set_int_option(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)?;
    }
    // Aux data carries the frame's checksum status on the batch path.
    set_int_option(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
    let version = rx.ring().or(tx.ring());
    if let (Some(a), Some(b)) = (rx.ring(), tx.ring()) {
        if a != b {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "both rings must share one TPACKET version",
            ));
        }
    }
    let page = page_size();
    let frame_len = mtu.saturating_add(LINK_SLACK).max(MIN_RX_BUFFER);
    let mut rx_geometry = None;
    let mut tx_geometry = None;
    if let Some(version) = version {
        set_int_option(
            raw,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            version.sockopt_value(),
        )?;
        // These must be set before any ring exists (EBUSY after). Frames too
        // long for a V2 slot go to the socket's queue whole; a transmit slot
        // that cannot be sent must not block the ring.
        set_int_option(raw, libc::SOL_PACKET, libc::PACKET_COPY_THRESH, 1)?;
        if tx.ring().is_some() {
            set_int_option(raw, libc::SOL_PACKET, libc::PACKET_LOSS, 1)?;
        }
        if let Some(v) = rx.ring() {
            let geometry = match v {
                TpacketVersion::V3 => {
                    let block = round_up(options.rx_block_bytes.max(128 << 10), page);
                    RingGeometry {
                        block_size: block,
                        block_nr: (options.rx_ring_bytes / block).max(2),
                        frame_size: block,
                    }
                }
                TpacketVersion::V2 => {
                    // Slots for MTU-sized frames; longer ones are queued to
                    // the socket and read with recvmsg (TP_STATUS_COPY).
                    let slot = round_up(mtu + LINK_SLACK + vnet_len + 128, 16).next_power_of_two();
                    let block = round_up(slot.max(64 << 10), page);
                    RingGeometry {
                        block_size: block,
                        block_nr: (options.rx_ring_bytes / block).max(2),
                        frame_size: slot,
                    }
                }
            };
            geometry.request(
                raw,
                libc::PACKET_RX_RING,
                v,
                options.rx_block_timeout_ms.max(1),
            )?;
            rx_geometry = Some(geometry);
        }
        if let Some(v) = tx.ring() {
            let slot = if vnet {
                GSO_SLOT
            } else {
                round_up(mtu + LINK_SLACK + 64, 16)
                    .next_power_of_two()
                    .max(2048)
            };
            let block = round_up((2 * slot).max(page), page);
            let frames_per_block = block / slot;
            let geometry = RingGeometry {
                block_size: block,
                block_nr: options.tx_ring_frames.max(2).div_ceil(frames_per_block),
                frame_size: slot,
            };
            geometry.request(raw, libc::PACKET_TX_RING, v, 0)?;
            tx_geometry = Some(geometry);
        }
    }
    let rx_bytes = rx_geometry.map_or(0, |g| g.bytes());
    let tx_bytes = tx_geometry.map_or(0, |g| g.bytes());
    let map = if rx_bytes + tx_bytes > 0 {
        Some(Mapping::new(raw, rx_bytes + tx_bytes)?)
    } else {
        None
    };
    let rx_queue = match (rx.ring(), rx_geometry) {
        (Some(v), Some(g)) => RxQueue::Ring(RxRing::new(v, g)),
        _ => RxQueue::Batch(MmsgRx::new(options.batch, vnet_len + frame_len + 64)),
    };
    let (tx_queue, tx_capacity) = match (tx.ring(), tx_geometry) {
        (Some(v), Some(g)) => {
            let ring = TxRing::new(v, g, rx_bytes);
            let capacity = ring.capacity() - vnet_len;
            (TxQueue::Ring(ring), capacity)
        }
        _ => {
            let max_frame = if vnet {
                MAX_IPV4_PACKET + LINK_SLACK
            } else {
                mtu + LINK_SLACK
            };
            let bytes = (2 * (max_frame + vnet_len)).max(1 << 20);
            (TxQueue::Batch(MmsgTx::new(options.batch, bytes)), max_frame)
        }
    };
    Ok(Configured {
        fd,
        path: RawSocketPath {
            rx,
            tx,
            vnet_header: vnet,
            qdisc_bypass: false,
        },
        map,
        rx: rx_queue,
        tx: tx_queue,
        tx_capacity,
    })
}

impl RawSocket {
    /// Opens a raw socket on interface `name` (not promiscuous) on the
    /// fastest path the kernel grants ([`RawSocketOptions::new`]).
    pub fn new(name: &str) -> io::Result<RawSocket> {
        RawSocket::with_options(name, RawSocketOptions::new())
    }

    /// Opens a raw socket on interface `name` (not promiscuous) as
    /// `options` say, falling back where the kernel refuses;
    /// [`RawSocket::io_path`] says what runs.
    pub fn with_options(name: &str, options: RawSocketOptions) -> io::Result<RawSocket> {
        let ifindex = sys::interface_index(name)?;
        let mtu = sys::interface_mtu(name)?;
        let mut attempts: Vec<(RawSocketIo, RawSocketIo, bool)> = Vec::new();
        for vnet in [options.vnet_header, false] {
            // Degrade the better side first (both when equal), down to the
            // batch path on both.
            let (mut rx, mut tx) = (options.rx, options.tx);
            loop {
                if !attempts.contains(&(rx, tx, vnet)) {
                    attempts.push((rx, tx, vnet));
                }
                let top = rx.max(tx);
                let Some(lower) = top.fallback() else {
                    break;
                };
                if rx == top {
                    rx = lower;
                }
                if tx == top {
                    tx = lower;
                }
            }
            if !options.vnet_header {
                break;
            }
        }
        let mut last_error = None;
        let mut configured = None;
        for (rx, tx, vnet) in attempts {
            match configure(rx, tx, vnet, mtu, &options) {
                Ok(c) => {
                    configured = Some(c);
                    break;
                }
                Err(err) => {
                    net_debug!(
                        "raw socket {}: rx {} tx {} vnet {}: {}",
                        name,
                        rx,
                        tx,
                        vnet,
                        err
                    );
                    last_error = Some(err);
                }
            }
        }
        let Some(mut c) = configured else {
            return Err(last_error.unwrap_or_else(|| io::Error::other("no I/O path")));
        };
        let raw = c.fd.as_raw_fd();
        // Linux 4.20+: do not even queue our own transmissions. On older
        // kernels this fails, and the packet type check does the job.
        let _ = set_int_option(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        if options.qdisc_bypass {
            c.path.qdisc_bypass =
                set_int_option(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1).is_ok();
        }
        // SAFETY: sockaddr_ll is plain old data; all zeros is valid.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: passes a live sockaddr_ll and its exact size.
        check(unsafe {
            libc::bind(
                raw,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        // The kernel's default receive queue (rmem_default, about 90
        // full-size frames) overflows under one kernel sender's window;
        // ask for more, and live with the default where that is refused.
        // (The receive ring does not use it, except for frames too long
        // for a V2 slot.)
        let _ = set_receive_buffer(raw, DEFAULT_RECEIVE_BUFFER);
        let _ = set_int_option(
            raw,
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            DEFAULT_RECEIVE_BUFFER as libc::c_int,
        );
        let copy_buffer = match c.rx {
            RxQueue::Ring(_) if c.path.rx == RawSocketIo::Ring(TpacketVersion::V2) => {
                std::vec![0; VNET_HEADER_LEN + mtu.saturating_add(LINK_SLACK).max(MIN_RX_BUFFER)]
            }
            _ => Vec::new(),
        };
        let stats = RawSocketStats::default();
        Ok(RawSocket {
            rx: c.rx,
            tx: TxSide {
                fd: raw,
                queue: c.tx,
                vnet_header: c.path.vnet_header,
                copy_all: c.path.vnet_header && matches!(c.path.tx, RawSocketIo::Ring(_)),
                max_frame: c.tx_capacity,
                scratch: Vec::new(),
                stats,
            },
            map: c.map,
            fd: c.fd,
            name: name.to_string(),
            ifindex,
            mtu,
            promiscuous: false,
            path: c.path,
            complete_checksums: options.complete_partial_checksums,
            copy_buffer,
        })
    }

    /// The paths this socket runs on.
    pub fn io_path(&self) -> RawSocketPath {
        self.path
    }

    /// Sets the kernel's receive queue for this socket to `bytes`: with
    /// SO_RCVBUFFORCE (root, past `net.core.rmem_max`), else SO_RCVBUF
    /// (capped by `rmem_max`). Frames that arrive while the queue is full
    /// are lost before pollnet sees them, so a fast kernel peer needs room
    /// for its whole window. [`RawSocket::new`] asks for 4 MiB. A receive
    /// ring does not use the queue.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> io::Result<()> {
        set_receive_buffer(self.fd.as_raw_fd(), bytes)
    }

    /// Puts the interface in promiscuous mode for as long as this socket
    /// asks for it (the kernel counts users; closing the socket undoes it),
    /// so frames for other hardware addresses are received too.
    pub fn set_promiscuous(&mut self, on: bool) -> io::Result<()> {
        if on == self.promiscuous {
            return Ok(());
        }
        // SAFETY: packet_mreq is plain old data; all zeros is valid.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
        let option = if on {
            libc::PACKET_ADD_MEMBERSHIP
        } else {
            libc::PACKET_DROP_MEMBERSHIP
        };
        // SAFETY: passes a live packet_mreq and its exact size.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                option,
                (&mreq as *const libc::packet_mreq).cast(),
                size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        })?;
        self.promiscuous = on;
        Ok(())
    }

    /// Whether this socket keeps the interface promiscuous.
    pub fn is_promiscuous(&self) -> bool {
        self.promiscuous
    }

    /// The interface's name.
    pub fn interface_name(&self) -> &str {
        &self.name
    }

    /// The interface's IP MTU, as read when the socket was opened.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The interface's hardware address (the stack may use its own).
    pub fn hardware_address(&self) -> io::Result<EthernetAddress> {
        sys::interface_hardware_address(&self.name)
    }

    /// Counters so far.
    pub fn stats(&self) -> RawSocketStats {
        self.tx.stats
    }

    /// Frames queued for sending and not yet handed to the kernel.
    pub fn tx_queued(&self) -> usize {
        match &self.tx.queue {
            TxQueue::Ring(ring) => ring.queued(),
            TxQueue::Batch(batch) => batch.queued(),
        }
    }

    /// Whether the transmit ring has no frame left to send (every slot
    /// back with us); always true on the batch path once flushed.
    pub fn tx_idle(&self) -> bool {
        match (&self.tx.queue, &self.map) {
            (TxQueue::Ring(ring), Some(map)) => ring.is_idle(map),
            (TxQueue::Batch(batch), _) => batch.queued() == 0,
            (TxQueue::Ring(_), None) => true,
        }
    }

    /// Reads a frame too long for its V2 slot from the socket's queue into
    /// the copy buffer; its length.
    fn read_copied(&mut self) -> Option<usize> {
        // SAFETY: all-zero is valid for these plain C structs.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        let mut msg: libc::msghdr = unsafe { zeroed() };
        let mut iov = libc::iovec {
            iov_base: self.copy_buffer.as_mut_ptr().cast(),
            iov_len: self.copy_buffer.len(),
        };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: every pointer in `msg` refers to a live buffer of the
        // size given; MSG_TRUNC makes the result the frame's real length.
        let ret = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if !would_block(&err) {
                self.tx.stats.rx_errors += 1;
            }
            return None;
        }
        let len = ret as usize;
        if msg.msg_flags & libc::MSG_TRUNC != 0 || len > self.copy_buffer.len() {
            self.tx.stats.truncated += 1;
            return None;
        }
        Some(len)
    }

    /// The next frame to hand up: where it is, how long, and its meta.
    fn next_frame(&mut self) -> Option<(RxPlace, usize, FrameMeta)> {
        let vnet = self.path.vnet_header;
        for _ in 0..MAX_SKIPPED_PER_RECEIVE {
            // Where the frame (after any virtio-net header) is, its
            // length, its packet type and status, and its header bytes.
            let (place, len, pkttype, status, vnet_at): (RxPlace, usize, u8, Option<u32>, _) =
                match &mut self.rx {
                    RxQueue::Ring(ring) => {
                        let map = self.map.as_ref()?;
                        let frame = ring.next(map)?;
                        if frame.status & libc::TP_STATUS_COPY != 0 {
                            // Too long for its slot: the whole frame waits
                            // in the socket's queue.
                            let Some(n) = self.read_copied() else {
                                continue;
                            };
                            if vnet && n < VNET_HEADER_LEN {
                                self.tx.stats.rx_errors += 1;
                                continue;
                            }
                            let start = if vnet { VNET_HEADER_LEN } else { 0 };
                            (
                                RxPlace::Copy(start),
                                n - start,
                                frame.pkttype,
                                Some(frame.status),
                                Some(RxPlace::Copy(0)),
                            )
                        } else {
                            if frame.snaplen < frame.len || frame.snaplen == 0 {
                                self.tx.stats.truncated += 1;
                                continue;
                            }
                            let vnet_at = (vnet && frame.offset >= VNET_HEADER_LEN)
                                .then(|| RxPlace::Map(frame.offset - VNET_HEADER_LEN));
                            (
                                RxPlace::Map(frame.offset),
                                frame.snaplen,
                                frame.pkttype,
                                Some(frame.status),
                                vnet_at,
                            )
                        }
                    }
                    RxQueue::Batch(batch) => {
                        if !batch.has_pending() {
                            match batch.fill(self.fd.as_raw_fd()) {
                                Ok(0) => return None,
                                Ok(_) => self.tx.stats.rx_batches += 1,
                                Err(err) => {
                                    self.tx.stats.rx_errors += 1;
                                    net_debug!("raw socket {}: recvmmsg: {}", self.name, err);
                                    return None;
                                }
                            }
                        }
                        let (received, start) = batch.next()?;
                        if received.truncated {
                            self.tx.stats.truncated += 1;
                            continue;
                        }
                        let skip = if vnet { VNET_HEADER_LEN } else { 0 };
                        if received.len < skip {
                            self.tx.stats.rx_errors += 1;
                            continue;
                        }
                        (
                            RxPlace::Batch(start + skip),
                            received.len - skip,
                            received.pkttype,
                            received.status,
                            vnet.then_some(RxPlace::Batch(start)),
                        )
                    }
                };
            if pkttype == libc::PACKET_OUTGOING {
                self.tx.stats.outgoing_ignored += 1;
                continue;
            }
            let mut meta = match vnet_at {
                Some(at) => VnetHeader::parse(self.bytes(at, VNET_HEADER_LEN))
                    .map(|h| h.rx_meta())
                    .unwrap_or_default(),
                None => FrameMeta::default(),
            };
            if meta.checksum == TransportChecksum::Unknown {
                if let Some(status) = status {
                    if status & libc::TP_STATUS_CSUMNOTREADY != 0 {
                        meta.checksum = TransportChecksum::Partial;
                    } else if status & libc::TP_STATUS_CSUM_VALID != 0 {
                        meta.checksum = TransportChecksum::Valid;
                    }
                }
            }
            if meta.checksum == TransportChecksum::Partial {
                if self.complete_checksums {
                    if complete_transport_checksum(self.bytes_mut(place, len)) {
                        self.tx.stats.checksums_completed += 1;
                    }
                    meta.checksum = TransportChecksum::Unknown;
                } else {
                    self.tx.stats.partial_checksums += 1;
                }
            }
            self.tx.stats.received += 1;
            if len > self.mtu + LINK_SLACK {
                self.tx.stats.received_large += 1;
            }
            return Some((place, len, meta));
        }
        None
    }

    fn bytes(&self, place: RxPlace, len: usize) -> &[u8] {
        match (place, &self.rx, &self.map) {
            (RxPlace::Map(offset), _, Some(map)) => {
                // SAFETY: the frame lies in a block or slot the kernel
                // handed over (checked against the block or slot bounds by
                // the ring), which stays ours until the ring's next call.
                unsafe { core::slice::from_raw_parts(map_at(map, offset), len) }
            }
            (RxPlace::Batch(start), RxQueue::Batch(batch), _) => batch.bytes(start, len),
            (RxPlace::Copy(start), _, _) => &self.copy_buffer[start..start + len],
            _ => &[],
        }
    }

    fn bytes_mut(&mut self, place: RxPlace, len: usize) -> &mut [u8] {
        match (place, &mut self.rx, &self.map) {
            (RxPlace::Map(offset), _, Some(map)) => {
                // SAFETY: as in `bytes`; the mapping is writable and the
                // kernel does not touch a block or slot it handed over.
                unsafe { core::slice::from_raw_parts_mut(map_at(map, offset), len) }
            }
            (RxPlace::Batch(start), RxQueue::Batch(batch), _) => batch.bytes_mut(start, len),
            (RxPlace::Copy(start), _, _) => &mut self.copy_buffer[start..start + len],
            _ => &mut [],
        }
    }
}

/// The address `offset` bytes into the mapping.
fn map_at(map: &Mapping, offset: usize) -> *mut u8 {
    map.addr(offset)
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        // Frames still queued go out before the socket closes.
        self.tx.flush();
    }
}

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for RawSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for RawSocket {
    type RxToken<'a> = RawSocketRxToken<'a>;
    type TxToken<'a> = RawSocketTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RawSocketRxToken<'_>, RawSocketTxToken<'_>)> {
        let (place, len, meta) = self.next_frame()?;
        let frame: &[u8] = match (place, &self.rx, &self.map) {
            (RxPlace::Map(offset), _, Some(map)) => {
                // SAFETY: as in `RawSocket::bytes`.
                unsafe { core::slice::from_raw_parts(map_at(map, offset), len) }
            }
            (RxPlace::Batch(start), RxQueue::Batch(batch), _) => batch.bytes(start, len),
            (RxPlace::Copy(start), _, _) => &self.copy_buffer[start..start + len],
            _ => return None,
        };
        Some((
            RawSocketRxToken { frame, meta },
            RawSocketTxToken {
                side: &mut self.tx,
                map: self.map.as_ref(),
                meta: FrameMeta::default(),
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<RawSocketTxToken<'_>> {
        if !self.tx.has_room(self.map.as_ref()) {
            self.tx.flush();
            if !self.tx.has_room(self.map.as_ref()) {
                self.tx.stats.tx_busy += 1;
                return None;
            }
        }
        Some(RawSocketTxToken {
            side: &mut self.tx,
            map: self.map.as_ref(),
            meta: FrameMeta::default(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities {
            medium: Medium::Ethernet,
            max_transmission_unit: self.mtu,
            ..DeviceCapabilities::default()
        };
        if self.path.vnet_header {
            caps.checksum = ChecksumCapabilities {
                tcp: Checksum::Rx,
                ..ChecksumCapabilities::default()
            };
            let largest = self
                .tx
                .max_frame
                .saturating_sub(LINK_SLACK)
                .min(MAX_IPV4_PACKET);
            if largest > self.mtu {
                caps.tso = TsoCapabilities::ipv4(largest);
            }
        }
        caps
    }

    fn flush(&mut self, _now: Instant) {
        if let (RxQueue::Ring(ring), Some(map)) = (&mut self.rx, &self.map) {
            ring.release_if_done(map);
        }
        self.tx.flush();
    }
}

/// The receive queue [`RawSocket::new`] asks the kernel for.
pub const DEFAULT_RECEIVE_BUFFER: usize = 4 << 20;

fn set_receive_buffer(fd: std::os::fd::RawFd, bytes: usize) -> io::Result<()> {
    let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
        .or_else(|_| set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
}

/// A frame received from a [`RawSocket`].
#[derive(Debug)]
pub struct RawSocketRxToken<'a> {
    frame: &'a [u8],
    meta: FrameMeta,
}

impl super::RxToken for RawSocketRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }

    fn meta(&self) -> FrameMeta {
        self.meta
    }
}

/// Permission to send one frame on a [`RawSocket`].
#[derive(Debug)]
pub struct RawSocketTxToken<'a> {
    side: &'a mut TxSide,
    map: Option<&'a Mapping>,
    meta: FrameMeta,
}

impl RawSocketTxToken<'_> {
    /// Room for `total` bytes in the queue, flushing once if it is full.
    fn reserve(&mut self, total: usize) -> Option<&mut [u8]> {
        let has_room = |side: &TxSide, map: Option<&Mapping>| match (&side.queue, map) {
            (TxQueue::Ring(ring), Some(map)) => total <= ring.capacity() && ring.has_room(map),
            (TxQueue::Batch(batch), _) => batch.has_room(total),
            (TxQueue::Ring(_), None) => false,
        };
        if !has_room(self.side, self.map) {
            self.side.flush();
            if !has_room(self.side, self.map) {
                return None;
            }
        }
        match (&mut self.side.queue, self.map) {
            (TxQueue::Ring(ring), Some(map)) => ring.slot_buffer(map, total),
            (TxQueue::Batch(batch), _) => batch.reserve(total),
            (TxQueue::Ring(_), None) => None,
        }
    }
}

impl super::TxToken for RawSocketTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, len: usize, f: F) -> R {
        let vnet_len = if self.side.vnet_header {
            VNET_HEADER_LEN
        } else {
            0
        };
        let total = vnet_len + len;
        if len > self.side.max_frame {
            // Longer than anything the queue takes: the closure runs, the
            // frame is dropped and counted.
            self.side.stats.tx_errors += 1;
            net_debug!("raw socket: {}-byte frame too long", len);
            let scratch = &mut self.side.scratch;
            scratch.clear();
            scratch.resize(len, 0);
            return f(scratch);
        }
        let (vnet_header, copy_all, meta) = (self.side.vnet_header, self.side.copy_all, self.meta);
        let Some(buf) = self.reserve(total) else {
            // Only a reply token handed out beside a received frame gets
            // here: the kernel took nothing of a full queue.
            self.side.stats.tx_dropped += 1;
            let scratch = &mut self.side.scratch;
            scratch.clear();
            scratch.resize(len, 0);
            return f(scratch);
        };
        let (header, frame) = buf.split_at_mut(vnet_len);
        let result = f(frame);
        let mut large = false;
        if vnet_header {
            let mut meta = meta;
            // Every TCP checksum is left to the kernel, as the
            // capabilities promise.
            meta.checksum = TransportChecksum::Partial;
            let vnet = VnetHeader::for_transmit(frame, Medium::Ethernet, meta, copy_all);
            vnet.write(header);
            large = vnet.gso_size != 0;
        }
        let side = &mut *self.side;
        match (&mut side.queue, self.map) {
            (TxQueue::Ring(ring), Some(map)) => ring.commit(map, total),
            (TxQueue::Batch(batch), _) => batch.commit(total),
            (TxQueue::Ring(_), None) => {}
        }
        if large {
            side.stats.transmitted_large += 1;
        }
        // A full queue goes to the kernel at once.
        if !side.has_room(self.map) {
            side.flush();
        }
        result
    }

    fn set_meta(&mut self, meta: FrameMeta) {
        self.meta = meta;
    }
}

#[cfg(test)]
mod tests {
    use super::super::mmsg::aux_status;
    use super::*;

    #[test]
    fn fallbacks_go_down_to_the_batch_path() {
        let v3 = RawSocketIo::Ring(TpacketVersion::V3);
        let v2 = RawSocketIo::Ring(TpacketVersion::V2);
        assert_eq!(v3.fallback(), Some(v2));
        assert_eq!(v2.fallback(), Some(RawSocketIo::Mmsg));
        assert_eq!(RawSocketIo::Mmsg.fallback(), None);
        assert!(v3 > v2 && v2 > RawSocketIo::Mmsg);
        assert_eq!(v3.to_string(), "TPACKET_V3 ring");
    }

    #[test]
    fn the_default_is_the_v2_ring_with_the_virtio_net_header() {
        let o = RawSocketOptions::new();
        let v2 = RawSocketIo::Ring(TpacketVersion::V2);
        assert_eq!((o.rx, o.tx), (v2, v2));
        assert!(o.vnet_header && o.qdisc_bypass && !o.complete_partial_checksums);
        assert_eq!(o, RawSocketOptions::default());
    }

    #[test]
    fn aux_status_of_an_empty_message_is_none() {
        // SAFETY: plain C struct; all zeros is valid.
        let msg: libc::msghdr = unsafe { zeroed() };
        assert_eq!(aux_status(&msg), None);
    }
}
