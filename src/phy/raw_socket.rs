//! [`RawSocket`]: a Linux `AF_PACKET` socket bound to one interface, moving
//! whole Ethernet frames between the stack and that interface.

use core::mem::{size_of, zeroed};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::string::{String, ToString};
use std::vec::Vec;

use super::partial_checksum::complete_transport_checksum;
use super::sys::{self, check, would_block};
use super::{Device, DeviceCapabilities, Medium};
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// Longest frame a receive can hold: a 64 KiB packet (the loopback MTU,
/// or a GSO super-frame), its Ethernet header and a VLAN tag.
const MIN_RX_BUFFER: usize = 65_536 + 18;

/// Frames one `receive` call may skip (our own transmissions, truncated
/// frames) before it reports "nothing now", so a flood cannot stall a poll.
const MAX_SKIPPED_PER_RECEIVE: usize = 64;

/// Counters of a [`RawSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RawSocketStats {
    /// Frames handed up.
    pub received: u64,
    /// Received frames whose TCP/UDP checksum the kernel left partial and
    /// that were completed here.
    pub checksums_completed: u64,
    /// Copies of our own transmissions seen by the socket and ignored.
    pub outgoing_ignored: u64,
    /// Frames too long for the receive buffer, dropped.
    pub truncated: u64,
    /// Receive errors other than "nothing to read".
    pub rx_errors: u64,
    /// Frames the kernel accepted for sending.
    pub transmitted: u64,
    /// Frames the kernel refused for lack of buffer space (`EAGAIN`,
    /// `ENOBUFS`).
    pub tx_dropped: u64,
    /// Frames refused for another reason (e.g. longer than the MTU allows).
    pub tx_errors: u64,
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

/// A Linux `AF_PACKET` raw socket bound to one interface: non-blocking,
/// Ethernet medium, MTU read from the interface.
///
/// It receives every frame the interface sees (its own transmissions
/// excepted) and completes TCP/UDP checksums the kernel left partial
/// (checksum offload, as on veth), so those frames are not dropped as bad.
/// Needs `CAP_NET_RAW`. Frames longer than the MTU, such as the super-frames
/// of a kernel peer with segmentation offload on, are handed up as they come;
/// turn TSO/GSO off on the peer (`ethtool -K IF tso off gso off`) for
/// MTU-sized frames. VLAN tags the kernel strips are not put back.
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
    name: String,
    ifindex: libc::c_int,
    mtu: usize,
    promiscuous: bool,
    rx_buffer: Vec<u8>,
    tx_buffer: Vec<u8>,
    stats: RawSocketStats,
}

impl RawSocket {
    /// Opens a raw socket on interface `name` (not promiscuous).
    pub fn new(name: &str) -> io::Result<RawSocket> {
        let ifindex = sys::interface_index(name)?;
        let mtu = sys::interface_mtu(name)?;
        // Protocol 0: the socket sees no frames until bound to the one
        // interface, so nothing from other interfaces slips in before bind.
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` was just returned by socket(2) and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Aux data carries the frame's checksum status (TP_STATUS_*).
        set_int_option(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Linux 4.20+: do not even queue our own transmissions. On older
        // kernels this fails, and the packet type check below does the job.
        let _ = set_int_option(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            1,
        );
        // SAFETY: sockaddr_ll is plain old data; all zeros is valid.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: passes a live sockaddr_ll and its exact size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        // The kernel's default receive queue (rmem_default, about 90
        // full-size frames) overflows under one kernel sender's window;
        // ask for more, and live with the default where that is refused.
        let _ = set_receive_buffer(fd.as_raw_fd(), DEFAULT_RECEIVE_BUFFER);
        Ok(RawSocket {
            fd,
            name: name.to_string(),
            ifindex,
            mtu,
            promiscuous: false,
            rx_buffer: std::vec![0; mtu.saturating_add(18).max(MIN_RX_BUFFER)],
            tx_buffer: Vec::new(),
            stats: RawSocketStats::default(),
        })
    }

    /// Sets the kernel's receive queue for this socket to `bytes`: with
    /// SO_RCVBUFFORCE (root, past `net.core.rmem_max`), else SO_RCVBUF
    /// (capped by `rmem_max`). Frames that arrive while the queue is full
    /// are lost before pollnet sees them, so a fast kernel peer needs room
    /// for its whole window. [`RawSocket::new`] asks for 4 MiB.
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
        self.stats
    }

    /// Reads one frame into `rx_buffer`; its length, or `None` if there is
    /// nothing to hand up now.
    fn read_frame(&mut self) -> Option<usize> {
        for _ in 0..MAX_SKIPPED_PER_RECEIVE {
            // SAFETY: all-zero is valid for these plain C structs.
            let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
            let mut msg: libc::msghdr = unsafe { zeroed() };
            // u64s keep the control buffer aligned for cmsghdr; 128 bytes
            // hold the one aux-data message with room to spare.
            let mut control = [0u64; 16];
            let mut iov = libc::iovec {
                iov_base: self.rx_buffer.as_mut_ptr().cast(),
                iov_len: self.rx_buffer.len(),
            };
            msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 16]>() as _;
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
                    self.stats.rx_errors += 1;
                    net_debug!("raw socket {}: recvmsg: {}", self.name, err);
                }
                return None;
            }
            let len = ret as usize;
            if addr.sll_pkttype == libc::PACKET_OUTGOING {
                self.stats.outgoing_ignored += 1;
                continue;
            }
            if msg.msg_flags & libc::MSG_TRUNC != 0 || len > self.rx_buffer.len() {
                self.stats.truncated += 1;
                net_debug!("raw socket {}: dropped a {}-byte frame", self.name, len);
                continue;
            }
            if aux_status(&msg).is_some_and(|s| s & libc::TP_STATUS_CSUMNOTREADY != 0) {
                if let Some(frame) = self.rx_buffer.get_mut(..len) {
                    if complete_transport_checksum(frame) {
                        self.stats.checksums_completed += 1;
                    }
                }
            }
            self.stats.received += 1;
            return Some(len);
        }
        None
    }
}

/// The `tp_status` of a received frame's aux data, if the kernel sent it.
fn aux_status(msg: &libc::msghdr) -> Option<u32> {
    // SAFETY: `msg` was filled by recvmsg, so its control fields describe
    // a valid control buffer that is still alive; the CMSG macros only walk
    // within it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let needed = libc::CMSG_LEN(size_of::<libc::tpacket_auxdata>() as u32) as usize;
            if header.cmsg_level == libc::SOL_PACKET
                && header.cmsg_type == libc::PACKET_AUXDATA
                && header.cmsg_len as usize >= needed
            {
                let aux = libc::CMSG_DATA(cmsg)
                    .cast::<libc::tpacket_auxdata>()
                    .read_unaligned();
                return Some(aux.tp_status);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
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
        let len = self.read_frame()?;
        let frame = self.rx_buffer.get(..len)?;
        Some((
            RawSocketRxToken { frame },
            RawSocketTxToken {
                fd: &self.fd,
                buffer: &mut self.tx_buffer,
                stats: &mut self.stats,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<RawSocketTxToken<'_>> {
        Some(RawSocketTxToken {
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
}

impl super::RxToken for RawSocketRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Permission to send one frame on a [`RawSocket`].
#[derive(Debug)]
pub struct RawSocketTxToken<'a> {
    fd: &'a OwnedFd,
    buffer: &'a mut Vec<u8>,
    stats: &'a mut RawSocketStats,
}

impl super::TxToken for RawSocketTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.buffer.clear();
        self.buffer.resize(len, 0);
        let result = f(self.buffer);
        // SAFETY: sends `len` bytes from a live buffer of that length.
        let ret = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                self.buffer.as_ptr().cast(),
                self.buffer.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if would_block(&err) || err.raw_os_error() == Some(libc::ENOBUFS) {
                self.stats.tx_dropped += 1;
            } else {
                self.stats.tx_errors += 1;
                net_debug!("raw socket: send of {} bytes: {}", len, err);
            }
        } else {
            self.stats.transmitted += 1;
        }
        result
    }
}
