//! [`TunTap`]: a Linux TAP (Ethernet) or TUN (IP) interface, whose far side
//! is the kernel's own network stack, with the kernel's checksum and
//! segmentation offloads when it grants them.
//!
//! With offloads, every frame carries a virtio-net header
//! (`IFF_VNET_HDR`): the kernel hands over TCP segments of up to 64 KiB
//! (its GSO/GRO super-frames) with checksums it left partial or verified,
//! and takes TCP segments of up to 64 KiB with partial checksums, which it
//! cuts into MTU-sized segments only where it forwards them
//! (`TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::string::String;
use std::vec::Vec;

use super::sys::{self, check, would_block};
use super::vnet::{VNET_HEADER_LEN, VnetHeader};
use super::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, FrameMeta, Medium, TsoCapabilities,
};
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// The clone device that creates TUN/TAP interfaces.
const TUN_CLONE_DEVICE: &core::ffi::CStr = c"/dev/net/tun";

/// Largest IP packet the kernel takes through a TUN/TAP with a virtio-net
/// header: the IPv4 total length's limit.
const MAX_OFFLOAD_PACKET: usize = 65_535;

/// Receive buffer: the virtio-net header, a 64 KiB packet, an Ethernet
/// header and a VLAN tag, with room to spare.
const RX_BUFFER_LEN: usize = VNET_HEADER_LEN + 65_536 + 64;

/// Counters of a [`TunTap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TunTapStats {
    /// Frames handed up.
    pub received: u64,
    /// Received frames longer than the MTU (the kernel's GRO/GSO
    /// super-frames).
    pub received_large: u64,
    /// Received frames whose transport checksum the kernel left partial or
    /// had verified, handed up without a software checksum pass.
    pub received_checksum_offloaded: u64,
    /// Receive errors other than "nothing to read".
    pub rx_errors: u64,
    /// Frames the kernel accepted.
    pub transmitted: u64,
    /// Of those, TCP segments the kernel was asked to cut up (GSO).
    pub transmitted_large: u64,
    /// Frames the kernel refused (full queue, interface down, too long).
    pub tx_errors: u64,
}

/// Which offloads a [`TunTap`] runs with: what was asked for and what the
/// kernel granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TunTapOffloads {
    /// Frames carry a virtio-net header (`IFF_VNET_HDR`). Without it, none
    /// of the others is possible: the plain path.
    pub vnet_header: bool,
    /// The kernel may hand over frames with partial checksums
    /// (`TUN_F_CSUM`); in any case the kernel completes the TCP checksums
    /// of frames sent with a virtio-net header.
    pub checksum: bool,
    /// The kernel may hand over TCP/IPv4 segments larger than the MTU
    /// (`TUN_F_TSO4`). Sending them needs only the virtio-net header.
    pub tso4: bool,
    /// The same for IPv6 (`TUN_F_TSO6`): asked for only when
    /// [`TunTapOptions::tso6`] is set (the stack does not use IPv6 yet).
    pub tso6: bool,
}

impl TunTapOffloads {
    /// Whether this is the plain path (no virtio-net header at all).
    pub fn is_plain(&self) -> bool {
        !self.vnet_header
    }
}

/// How to open a [`TunTap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TunTapOptions {
    /// [`Medium::Ethernet`] for a TAP, [`Medium::Ip`] for a TUN.
    pub medium: Medium,
    /// Ask for the virtio-net header and the kernel's offloads (the
    /// default). Off: the plain path, one MTU-sized frame per read and
    /// write, every checksum in software (for tests, and for kernels or
    /// programs that mishandle offloads).
    pub offloads: bool,
    /// Also ask for TSO6 (`TUN_F_TSO6`), so the kernel may hand over large
    /// IPv6 TCP segments; off by default.
    pub tso6: bool,
}

impl TunTapOptions {
    /// A TAP (Ethernet frames) with offloads.
    pub const fn tap() -> TunTapOptions {
        TunTapOptions {
            medium: Medium::Ethernet,
            offloads: true,
            tso6: false,
        }
    }

    /// A TUN (bare IP packets) with offloads.
    pub const fn tun() -> TunTapOptions {
        TunTapOptions {
            medium: Medium::Ip,
            ..TunTapOptions::tap()
        }
    }

    /// The same without any offload: the plain path.
    pub const fn plain(self) -> TunTapOptions {
        TunTapOptions {
            offloads: false,
            ..self
        }
    }
}

impl Default for TunTapOptions {
    fn default() -> Self {
        TunTapOptions::tap()
    }
}

/// A TAP (`IFF_TAP`) or TUN (`IFF_TUN`) interface, `IFF_NO_PI`:
/// Ethernet frames or IP packets to and from the kernel, non-blocking, MTU
/// read from the interface. Creating one needs `CAP_NET_ADMIN` unless it
/// already exists and belongs to the user. Unless it was made persistent
/// (`ip tuntap add`), the interface goes away when this is dropped. Bring it
/// up and address it with `ip` as usual.
///
/// With offloads (the default; [`TunTap::offloads`] says what the kernel
/// granted) the device takes TCP segments of up to 64 KiB and completes
/// their checksums ([`DeviceCapabilities::tso`]), and hands over the
/// kernel's large segments with their checksum state in
/// [`FrameMeta`](super::FrameMeta). One system call moves one frame; the
/// large frames are what makes it fast.
#[derive(Debug)]
pub struct TunTap {
    fd: OwnedFd,
    name: String,
    medium: Medium,
    mtu: usize,
    offloads: TunTapOffloads,
    rx_buffer: Vec<u8>,
    tx_buffer: Vec<u8>,
    stats: TunTapStats,
}

/// Opens the clone device and attaches to (or creates) `name` with
/// `flags`; the fd and the name the kernel gave.
fn attach(name: &str, flags: libc::c_int) -> io::Result<(OwnedFd, String)> {
    let mut ifr = sys::ifreq_for(name)?;
    // SAFETY: open(2) of a NUL-terminated constant path.
    let raw = check(unsafe {
        libc::open(
            TUN_CLONE_DEVICE.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `raw` was just returned by open(2) and is ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads the name and flags of a live ifreq and
    // writes back the interface's name.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut ifr) })?;
    Ok((fd, sys::ifreq_name(&ifr)))
}

/// Asks for the offloads in `flags` (`TUN_F_*`); whether the kernel took
/// them.
fn set_offload(fd: &OwnedFd, flags: libc::c_uint) -> bool {
    // SAFETY: TUNSETOFFLOAD takes its argument by value.
    unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETOFFLOAD as _,
            flags as libc::c_ulong,
        ) == 0
    }
}

impl TunTap {
    /// Opens (creating it if needed) the TAP interface `name`, with
    /// offloads where the kernel grants them. A name with `%d`, e.g.
    /// `tap%d`, lets the kernel pick the number; see
    /// [`TunTap::interface_name`].
    pub fn new(name: &str) -> io::Result<TunTap> {
        TunTap::with_options(name, TunTapOptions::tap())
    }

    /// Opens (creating it if needed) the TUN interface `name`: bare IP
    /// packets ([`Medium::Ip`]), with offloads where the kernel grants them.
    pub fn new_tun(name: &str) -> io::Result<TunTap> {
        TunTap::with_options(name, TunTapOptions::tun())
    }

    /// Opens (creating it if needed) the TUN or TAP interface `name` as
    /// `options` say. Offloads the kernel refuses are done without, down to
    /// the plain path; [`TunTap::offloads`] says what runs.
    pub fn with_options(name: &str, options: TunTapOptions) -> io::Result<TunTap> {
        let kind = match options.medium {
            Medium::Ethernet => libc::IFF_TAP,
            Medium::Ip => libc::IFF_TUN,
        };
        let base = kind | libc::IFF_NO_PI;
        let mut offloads = TunTapOffloads::default();
        let (fd, name) = if options.offloads {
            match attach(name, base | libc::IFF_VNET_HDR) {
                Ok(attached) => {
                    offloads.vnet_header = true;
                    attached
                }
                Err(err) => {
                    net_debug!("tun/tap {}: no virtio-net header: {}", name, err);
                    attach(name, base)?
                }
            }
        } else {
            attach(name, base)?
        };
        if offloads.vnet_header {
            // Ask for the most, then less: TSO needs checksum offload.
            let tso6 = if options.tso6 { libc::TUN_F_TSO6 } else { 0 };
            let ladder = [
                libc::TUN_F_CSUM | libc::TUN_F_TSO4 | tso6,
                libc::TUN_F_CSUM | libc::TUN_F_TSO4,
                libc::TUN_F_CSUM,
            ];
            if let Some(&granted) = ladder.iter().find(|&&flags| set_offload(&fd, flags)) {
                offloads.checksum = true;
                offloads.tso4 = granted & libc::TUN_F_TSO4 != 0;
                offloads.tso6 = granted & libc::TUN_F_TSO6 != 0;
            }
        }
        let mtu = sys::interface_mtu(&name)?;
        Ok(TunTap {
            fd,
            name,
            medium: options.medium,
            mtu,
            offloads,
            rx_buffer: std::vec![0; RX_BUFFER_LEN.max(mtu.saturating_add(VNET_HEADER_LEN + 64))],
            tx_buffer: Vec::new(),
            stats: TunTapStats::default(),
        })
    }

    /// The interface's name (as the kernel gave it).
    pub fn interface_name(&self) -> &str {
        &self.name
    }

    /// [`Medium::Ethernet`] for a TAP, [`Medium::Ip`] for a TUN.
    pub fn medium(&self) -> Medium {
        self.medium
    }

    /// The interface's IP MTU, as read when it was opened.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The offloads in use: what was asked for and the kernel granted.
    pub fn offloads(&self) -> TunTapOffloads {
        self.offloads
    }

    /// The kernel side's hardware address (the stack uses its own). A TUN
    /// has none (all zeros).
    pub fn hardware_address(&self) -> io::Result<EthernetAddress> {
        sys::interface_hardware_address(&self.name)
    }

    /// Counters so far.
    pub fn stats(&self) -> TunTapStats {
        self.stats
    }

    fn tx_token(&mut self) -> TunTapTxToken<'_> {
        TunTapTxToken {
            fd: &self.fd,
            buffer: &mut self.tx_buffer,
            stats: &mut self.stats,
            vnet_header: self.offloads.vnet_header,
            medium: self.medium,
            mtu: self.mtu,
            meta: FrameMeta::default(),
        }
    }
}

impl AsRawFd for TunTap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TunTap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for TunTap {
    type RxToken<'a> = TunTapRxToken<'a>;
    type TxToken<'a> = TunTapTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(TunTapRxToken<'_>, TunTapTxToken<'_>)> {
        // SAFETY: reads into a live buffer of the length given.
        let ret = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                self.rx_buffer.as_mut_ptr().cast(),
                self.rx_buffer.len(),
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if !would_block(&err) {
                self.stats.rx_errors += 1;
                net_debug!("tun/tap {}: read: {}", self.name, err);
            }
            return None;
        }
        let len = ret as usize;
        let (start, meta) = if self.offloads.vnet_header {
            let Some(header) = self.rx_buffer.get(..len).and_then(VnetHeader::parse) else {
                self.stats.rx_errors += 1;
                return None;
            };
            (VNET_HEADER_LEN, header.rx_meta())
        } else {
            (0, FrameMeta::default())
        };
        self.stats.received += 1;
        if !meta.needs_verification() {
            self.stats.received_checksum_offloaded += 1;
        }
        if len - start > self.mtu + self.medium.header_len() {
            self.stats.received_large += 1;
        }
        let frame = self.rx_buffer.get(start..len)?;
        let tx = TunTapTxToken {
            fd: &self.fd,
            buffer: &mut self.tx_buffer,
            stats: &mut self.stats,
            vnet_header: self.offloads.vnet_header,
            medium: self.medium,
            mtu: self.mtu,
            meta: FrameMeta::default(),
        };
        Some((TunTapRxToken { frame, meta }, tx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TunTapTxToken<'_>> {
        Some(self.tx_token())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities {
            medium: self.medium,
            max_transmission_unit: self.mtu,
            ..DeviceCapabilities::default()
        };
        if self.offloads.vnet_header {
            // The kernel completes TCP checksums of what it is given;
            // received ones are verified unless the frame says otherwise.
            caps.checksum = ChecksumCapabilities {
                tcp: Checksum::Rx,
                ..ChecksumCapabilities::default()
            };
            caps.tso = TsoCapabilities::ipv4(MAX_OFFLOAD_PACKET);
        }
        caps
    }
}

/// A frame received from a [`TunTap`].
#[derive(Debug)]
pub struct TunTapRxToken<'a> {
    frame: &'a [u8],
    meta: FrameMeta,
}

impl super::RxToken for TunTapRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }

    fn meta(&self) -> FrameMeta {
        self.meta
    }
}

/// Permission to send one frame to a [`TunTap`].
#[derive(Debug)]
pub struct TunTapTxToken<'a> {
    fd: &'a OwnedFd,
    buffer: &'a mut Vec<u8>,
    stats: &'a mut TunTapStats,
    vnet_header: bool,
    medium: Medium,
    mtu: usize,
    meta: FrameMeta,
}

impl super::TxToken for TunTapTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let start = if self.vnet_header { VNET_HEADER_LEN } else { 0 };
        self.buffer.clear();
        self.buffer.resize(start + len, 0);
        let (header, frame) = self.buffer.split_at_mut(start);
        let result = f(frame);
        if self.vnet_header {
            // Every TCP segment's checksum is left to the kernel, as the
            // capabilities promise.
            let mut meta = self.meta;
            meta.checksum = super::TransportChecksum::Partial;
            let vnet = VnetHeader::for_transmit(frame, self.medium, meta, false);
            vnet.write(header);
            if vnet.gso_size != 0 {
                self.stats.transmitted_large += 1;
            }
        }
        // SAFETY: writes the whole buffer, which is live and that long.
        let ret = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                self.buffer.as_ptr().cast(),
                self.buffer.len(),
            )
        };
        if ret < 0 {
            self.stats.tx_errors += 1;
            net_debug!(
                "tun/tap: write of {} bytes (MTU {}): {}",
                len,
                self.mtu,
                io::Error::last_os_error()
            );
        } else {
            self.stats.transmitted += 1;
        }
        result
    }

    fn set_meta(&mut self, meta: FrameMeta) {
        self.meta = meta;
    }
}
