//! [`TunTap`]: a Linux TAP interface, whose far side is the kernel's own
//! network stack.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::string::String;
use std::vec::Vec;

use super::sys::{self, check, would_block};
use super::{Device, DeviceCapabilities, Medium};
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// The clone device that creates TUN/TAP interfaces.
const TUN_CLONE_DEVICE: &core::ffi::CStr = c"/dev/net/tun";

/// Counters of a [`TunTap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TunTapStats {
    /// Frames handed up.
    pub received: u64,
    /// Receive errors other than "nothing to read".
    pub rx_errors: u64,
    /// Frames the kernel accepted.
    pub transmitted: u64,
    /// Frames the kernel refused (full queue, interface down, too long).
    pub tx_errors: u64,
}

/// A TAP interface (`IFF_TAP | IFF_NO_PI`): Ethernet frames to and from the
/// kernel, non-blocking, MTU read from the interface. Creating one needs
/// `CAP_NET_ADMIN` unless it already exists and belongs to the user. Unless
/// it was made persistent (`ip tuntap add`), the interface goes away when
/// this is dropped. Bring it up and address it with `ip` as usual.
#[derive(Debug)]
pub struct TunTap {
    fd: OwnedFd,
    name: String,
    mtu: usize,
    rx_buffer: Vec<u8>,
    tx_buffer: Vec<u8>,
    stats: TunTapStats,
}

impl TunTap {
    /// Opens (creating it if needed) the TAP interface `name`. A name with
    /// `%d`, e.g. `tap%d`, lets the kernel pick the number; see
    /// [`TunTap::interface_name`].
    pub fn new(name: &str) -> io::Result<TunTap> {
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
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads the name and flags of a live ifreq and
        // writes back the interface's name.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut ifr) })?;
        let name = sys::ifreq_name(&ifr);
        let mtu = sys::interface_mtu(&name)?;
        Ok(TunTap {
            fd,
            name,
            mtu,
            // A TAP hands over at most MTU + Ethernet header + a VLAN tag;
            // 64 KiB covers an MTU raised later.
            rx_buffer: std::vec![0; mtu.saturating_add(18).max(65_536 + 18)],
            tx_buffer: Vec::new(),
            stats: TunTapStats::default(),
        })
    }

    /// The interface's name (as the kernel gave it).
    pub fn interface_name(&self) -> &str {
        &self.name
    }

    /// The interface's IP MTU, as read when it was opened.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The kernel side's hardware address (the stack uses its own).
    pub fn hardware_address(&self) -> io::Result<EthernetAddress> {
        sys::interface_hardware_address(&self.name)
    }

    /// Counters so far.
    pub fn stats(&self) -> TunTapStats {
        self.stats
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
                net_debug!("tap {}: read: {}", self.name, err);
            }
            return None;
        }
        let frame = self.rx_buffer.get(..ret as usize)?;
        self.stats.received += 1;
        Some((
            TunTapRxToken { frame },
            TunTapTxToken {
                fd: &self.fd,
                buffer: &mut self.tx_buffer,
                stats: &mut self.stats,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TunTapTxToken<'_>> {
        Some(TunTapTxToken {
            fd: &self.fd,
            buffer: &mut self.tx_buffer,
            stats: &mut self.stats,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            medium: Medium::Ethernet,
            max_transmission_unit: self.mtu,
            ..DeviceCapabilities::default()
        }
    }
}

/// A frame received from a [`TunTap`].
#[derive(Debug)]
pub struct TunTapRxToken<'a> {
    frame: &'a [u8],
}

impl super::RxToken for TunTapRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Permission to send one frame to a [`TunTap`].
#[derive(Debug)]
pub struct TunTapTxToken<'a> {
    fd: &'a OwnedFd,
    buffer: &'a mut Vec<u8>,
    stats: &'a mut TunTapStats,
}

impl super::TxToken for TunTapTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.buffer.clear();
        self.buffer.resize(len, 0);
        let result = f(self.buffer);
        // SAFETY: writes `len` bytes from a live buffer of that length.
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
                "tap: write of {} bytes: {}",
                len,
                io::Error::last_os_error()
            );
        } else {
            self.stats.transmitted += 1;
        }
        result
    }
}
