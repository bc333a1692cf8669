//! Batched socket I/O without rings: `recvmmsg(2)` fills a batch of
//! buffers in one system call, `sendmmsg(2)` sends a batch of queued frames
//! in one. All buffers and message headers are allocated once; the pointers
//! in the headers are refreshed at each call (they point into this value,
//! which may have moved since the last one).

use core::mem::{size_of, zeroed};
use std::io;
use std::os::fd::RawFd;
use std::vec::Vec;

use super::sys::would_block;

/// Control buffer per received message: one `tpacket_auxdata` with room to
/// spare; u64 words keep it aligned for `cmsghdr`.
const CONTROL_WORDS: usize = 8;

/// One received message's facts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes in the buffer (the frame, after any virtio-net header).
    pub len: usize,
    /// The message was longer than the buffer.
    pub truncated: bool,
    /// `sll_pkttype`.
    pub pkttype: u8,
    /// `tp_status` from the aux data, when the socket asked for it.
    pub status: Option<u32>,
}

/// A batch of receive buffers.
pub(crate) struct MmsgRx {
    slot_len: usize,
    buffers: Vec<u8>,
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_ll>,
    controls: Vec<[u64; CONTROL_WORDS]>,
    /// Messages filled by the last call, and the next to hand out.
    filled: usize,
    next: usize,
}

impl core::fmt::Debug for MmsgRx {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.debug_struct("MmsgRx")
            .field("batch", &self.headers.len())
            .field("slot_len", &self.slot_len)
            .field("filled", &self.filled)
            .field("next", &self.next)
            .finish()
    }
}

impl MmsgRx {
    pub(crate) fn new(batch: usize, slot_len: usize) -> MmsgRx {
        let batch = batch.max(1);
        MmsgRx {
            slot_len,
            buffers: std::vec![0; batch * slot_len],
            // SAFETY: these are plain C structs; all zeros is valid.
            headers: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            iovecs: (0..batch)
                .map(|_| libc::iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            // SAFETY: as above.
            addrs: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            controls: std::vec![[0u64; CONTROL_WORDS]; batch],
            filled: 0,
            next: 0,
        }
    }

    /// Whether messages of the last batch are still to be handed out.
    pub(crate) fn has_pending(&self) -> bool {
        self.next < self.filled
    }

    /// Fills a new batch (when the last is used up) with one system call;
    /// `Ok(0)` when nothing waits.
    pub(crate) fn fill(&mut self, fd: RawFd) -> io::Result<usize> {
        debug_assert!(!self.has_pending());
        let batch = self.headers.len();
        let base = self.buffers.as_mut_ptr();
        for i in 0..batch {
            self.iovecs[i] = libc::iovec {
                // SAFETY: slot `i` lies within `buffers`.
                iov_base: unsafe { base.add(i * self.slot_len) }.cast(),
                iov_len: self.slot_len,
            };
            let hdr = &mut self.headers[i].msg_hdr;
            hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_ll).cast();
            hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            hdr.msg_iov = &mut self.iovecs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = self.controls[i].as_mut_ptr().cast();
            hdr.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
            hdr.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
        // SAFETY: every header points at live buffers of the sizes given,
        // all owned by `self` for the duration of the call.
        let ret = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                batch as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                core::ptr::null_mut(),
            )
        };
        self.next = 0;
        if ret < 0 {
            self.filled = 0;
            let err = io::Error::last_os_error();
            return if would_block(&err) { Ok(0) } else { Err(err) };
        }
        self.filled = ret as usize;
        Ok(self.filled)
    }

    /// The next message of the batch and where its bytes start (see
    /// [`MmsgRx::bytes_mut`]; at most a buffer, see [`Received::truncated`]).
    pub(crate) fn next(&mut self) -> Option<(Received, usize)> {
        if !self.has_pending() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let msg = &self.headers[i];
        // MSG_TRUNC makes msg_len the real length.
        let real = msg.msg_len as usize;
        let received = Received {
            len: real.min(self.slot_len),
            truncated: msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || real > self.slot_len,
            pkttype: self.addrs[i].sll_pkttype,
            status: aux_status(&msg.msg_hdr),
        };
        Some((received, i * self.slot_len))
    }

    /// Bytes `start..start + len` of the buffers.
    pub(crate) fn bytes(&self, start: usize, len: usize) -> &[u8] {
        &self.buffers[start..start + len]
    }

    /// Bytes `start..start + len` of the buffers, to change.
    pub(crate) fn bytes_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        &mut self.buffers[start..start + len]
    }
}

/// The `tp_status` of a received message's aux data, if the kernel sent it.
pub(crate) fn aux_status(msg: &libc::msghdr) -> Option<u32> {
    if msg.msg_control.is_null() || msg.msg_controllen == 0 {
        return None;
    }
    // SAFETY: `msg` was filled by recvmsg/recvmmsg, so its control fields
    // describe a valid control buffer that is still alive; the CMSG macros
    // only walk within it.
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

/// Frames queued for one `sendmmsg`, packed end to end in one buffer.
pub(crate) struct MmsgTx {
    bytes: Vec<u8>,
    /// Bytes of `bytes` in use.
    used: usize,
    /// (start, len) of each queued frame, oldest first.
    frames: Vec<(usize, usize)>,
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
}

impl core::fmt::Debug for MmsgTx {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.debug_struct("MmsgTx")
            .field("capacity", &self.bytes.len())
            .field("batch", &self.headers.len())
            .field("queued", &self.frames.len())
            .finish()
    }
}

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Frames the kernel took.
    pub sent: usize,
    /// Frames the kernel refused for good (too long, interface down, ...):
    /// dropped from the queue.
    pub refused: usize,
    /// The transient error (no buffer space) that stopped the flush, if one
    /// did; the frames not sent stay queued.
    pub busy: bool,
}

/// Whether a send error means "not now" rather than "never".
fn is_transient(errno: i32) -> bool {
    errno == libc::EAGAIN
        || errno == libc::EWOULDBLOCK
        || errno == libc::ENOBUFS
        || errno == libc::EINTR
}

impl MmsgTx {
    /// Room for `batch` frames and `bytes` bytes in all.
    pub(crate) fn new(batch: usize, bytes: usize) -> MmsgTx {
        let batch = batch.max(1);
        MmsgTx {
            bytes: std::vec![0; bytes],
            used: 0,
            frames: Vec::with_capacity(batch),
            // SAFETY: plain C struct; all zeros is valid.
            headers: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            iovecs: (0..batch)
                .map(|_| libc::iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.frames.len()
    }

    /// Whether a frame of `len` bytes fits now.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.frames.len() < self.headers.len() && self.used + len <= self.bytes.len()
    }

    /// `len` zeroed bytes at the end of the queue, to fill and then
    /// [`commit`](Self::commit); `None` if they do not fit now.
    pub(crate) fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        if !self.has_room(len) {
            return None;
        }
        let buf = &mut self.bytes[self.used..self.used + len];
        buf.fill(0);
        Some(buf)
    }

    /// Queues the `len` bytes `reserve` returned.
    pub(crate) fn commit(&mut self, len: usize) {
        self.frames.push((self.used, len));
        self.used += len;
    }

    /// Sends what is queued, in order, with as few `sendmmsg` calls as it
    /// takes; frames the kernel did not take stay queued, first in line.
    pub(crate) fn flush(&mut self, fd: RawFd) -> Sent {
        let mut done = Sent::default();
        // Frames handled (sent or refused) from the front of the queue.
        let mut handled = 0;
        while handled < self.frames.len() {
            let pending = &self.frames[handled..];
            let base = self.bytes.as_mut_ptr();
            for (i, &(start, len)) in pending.iter().enumerate() {
                self.iovecs[i] = libc::iovec {
                    // SAFETY: each queued frame lies within `bytes`.
                    iov_base: unsafe { base.add(start) }.cast(),
                    iov_len: len,
                };
                // SAFETY: plain C struct; all zeros is valid.
                self.headers[i] = unsafe { zeroed() };
                self.headers[i].msg_hdr.msg_iov = &mut self.iovecs[i];
                self.headers[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: the headers point at live iovecs and frames owned by
            // `self` for the duration of the call.
            let ret = unsafe {
                libc::sendmmsg(
                    fd,
                    self.headers.as_mut_ptr(),
                    pending.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if ret <= 0 {
                let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
                if is_transient(errno) {
                    done.busy = true;
                    break;
                }
                // The first pending frame is refused: drop it, go on.
                net_debug!("raw socket: sendmmsg refused a frame: errno {}", errno);
                done.refused += 1;
                handled += 1;
                continue;
            }
            done.sent += ret as usize;
            handled += ret as usize;
        }
        if handled == self.frames.len() {
            self.frames.clear();
            self.used = 0;
        } else if handled > 0 {
            // Keep the rest in order at the front.
            let first = self.frames[handled].0;
            self.bytes.copy_within(first..self.used, 0);
            self.used -= first;
            self.frames.drain(..handled);
            for frame in &mut self.frames {
                frame.0 -= first;
            }
        }
        done
    }
}
