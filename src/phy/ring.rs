//! `PACKET_MMAP` rings (Linux `Documentation/networking/packet_mmap.rst`):
//! memory shared with the kernel, so frames move without a system call per
//! frame.
//!
//! Receive: with `TPACKET_V3` the kernel fills variable-length frames into
//! blocks and hands a block over when it is full or its retire timer fires;
//! with `TPACKET_V2` every fixed-size slot has its own status. Transmit: fixed
//! slots (both versions); the stack fills slots and marks them for sending,
//! and one `send(fd, NULL, 0)` (the "kick") hands the kernel all of them.
//!
//! Ownership of a block or slot passes through its status word: the side
//! that owns it reads and writes its bytes, then stores the new status with
//! release ordering; the other side loads it with acquire ordering. Nothing
//! else is shared.

use core::mem::{offset_of, size_of};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use std::io;
use std::os::fd::RawFd;

/// A `PACKET_MMAP` frame layout version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TpacketVersion {
    /// `TPACKET_V2`: fixed-size slots, a status per frame.
    V2,
    /// `TPACKET_V3`: receive blocks of variable-length frames, handed over
    /// a block at a time.
    V3,
}

impl TpacketVersion {
    /// The value for `PACKET_VERSION`.
    pub(crate) fn sockopt_value(self) -> libc::c_int {
        match self {
            TpacketVersion::V2 => libc::tpacket_versions::TPACKET_V2 as libc::c_int,
            TpacketVersion::V3 => libc::tpacket_versions::TPACKET_V3 as libc::c_int,
        }
    }

    /// Where a transmit slot's data starts: the kernel's `tp_hdrlen` less
    /// the `sockaddr_ll` it reserves after the header on receive.
    fn tx_data_offset(self) -> usize {
        match self {
            TpacketVersion::V2 => tpacket_align(size_of::<libc::tpacket2_hdr>()),
            TpacketVersion::V3 => tpacket_align(size_of::<libc::tpacket3_hdr>()),
        }
    }

    fn status_offset(self) -> usize {
        match self {
            TpacketVersion::V2 => offset_of!(libc::tpacket2_hdr, tp_status),
            TpacketVersion::V3 => offset_of!(libc::tpacket3_hdr, tp_status),
        }
    }

    fn len_offset(self) -> usize {
        match self {
            TpacketVersion::V2 => offset_of!(libc::tpacket2_hdr, tp_len),
            TpacketVersion::V3 => offset_of!(libc::tpacket3_hdr, tp_len),
        }
    }
}

/// `TPACKET_ALIGN`: rounds up to the 16-byte frame alignment.
const fn tpacket_align(x: usize) -> usize {
    let a = libc::TPACKET_ALIGNMENT;
    (x + a - 1) & !(a - 1)
}

/// A shared mapping of a packet socket's rings; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; the rings that
// point into it move with it (they live in the same RawSocket).
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd`'s rings (receive ring first, then transmit).
    pub(crate) fn new(fd: RawFd, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the socket's rings; the kernel
        // checks that `len` is the rings' total size.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(Mapping { base, len })
    }

    /// The address `offset` bytes in.
    pub(crate) fn addr(&self, offset: usize) -> *mut u8 {
        self.at(offset).as_ptr()
    }

    /// The address `offset` bytes in.
    fn at(&self, offset: usize) -> NonNull<u8> {
        debug_assert!(offset <= self.len);
        // SAFETY: within the mapping (callers stay below `len`).
        unsafe { self.base.add(offset) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; no reference into it
        // outlives the rings, which are dropped with the socket.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// The status word at `ptr`, shared with the kernel.
///
/// # Safety
/// `ptr` must point at a 4-byte aligned status word inside a live mapping.
unsafe fn status_word<'a>(ptr: *mut u8) -> &'a AtomicU32 {
    // SAFETY: per the caller; the kernel only ever accesses the word as a
    // whole 32-bit value.
    unsafe { AtomicU32::from_ptr(ptr.cast::<u32>()) }
}

/// Reads a u32 field of a header in the mapping.
///
/// # Safety
/// `ptr + at` must be a 4-byte aligned field of a header the caller owns.
unsafe fn read_u32(ptr: *const u8, at: usize) -> u32 {
    // SAFETY: per the caller.
    unsafe { ptr.add(at).cast::<u32>().read_volatile() }
}

/// Reads a u16 field of a header in the mapping.
///
/// # Safety
/// `ptr + at` must be a 2-byte aligned field of a header the caller owns.
unsafe fn read_u16(ptr: *const u8, at: usize) -> u16 {
    // SAFETY: per the caller.
    unsafe { ptr.add(at).cast::<u16>().read_volatile() }
}

/// Sizes of a ring, as `PACKET_RX_RING` / `PACKET_TX_RING` take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingGeometry {
    pub block_size: usize,
    pub block_nr: usize,
    pub frame_size: usize,
}

impl RingGeometry {
    pub(crate) fn frames_per_block(&self) -> usize {
        self.block_size / self.frame_size
    }

    pub(crate) fn frame_nr(&self) -> usize {
        self.frames_per_block() * self.block_nr
    }

    pub(crate) fn bytes(&self) -> usize {
        self.block_size * self.block_nr
    }

    /// Asks the kernel for this ring on `fd` (`option`: `PACKET_RX_RING`
    /// or `PACKET_TX_RING`); `retire_ms` is V3's receive block timeout.
    pub(crate) fn request(
        &self,
        fd: RawFd,
        option: libc::c_int,
        version: TpacketVersion,
        retire_ms: u32,
    ) -> io::Result<()> {
        let to_c = |x: usize| libc::c_uint::try_from(x).map_err(|_| io::Error::other("ring size"));
        let ret = match version {
            TpacketVersion::V2 => {
                let req = libc::tpacket_req {
                    tp_block_size: to_c(self.block_size)?,
                    tp_block_nr: to_c(self.block_nr)?,
                    tp_frame_size: to_c(self.frame_size)?,
                    tp_frame_nr: to_c(self.frame_nr())?,
                };
                // SAFETY: passes a live tpacket_req and its size.
                unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_PACKET,
                        option,
                        (&req as *const libc::tpacket_req).cast(),
                        size_of::<libc::tpacket_req>() as libc::socklen_t,
                    )
                }
            }
            TpacketVersion::V3 => {
                let rx = option == libc::PACKET_RX_RING;
                let req = libc::tpacket_req3 {
                    tp_block_size: to_c(self.block_size)?,
                    tp_block_nr: to_c(self.block_nr)?,
                    tp_frame_size: to_c(self.frame_size)?,
                    tp_frame_nr: to_c(self.frame_nr())?,
                    // The transmit ring takes none of the receive knobs.
                    tp_retire_blk_tov: if rx { retire_ms } else { 0 },
                    tp_sizeof_priv: 0,
                    tp_feature_req_word: 0,
                };
                // SAFETY: passes a live tpacket_req3 and its size.
                unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_PACKET,
                        option,
                        (&req as *const libc::tpacket_req3).cast(),
                        size_of::<libc::tpacket_req3>() as libc::socklen_t,
                    )
                }
            }
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// One received frame in the ring, as offsets into the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingFrame {
    /// Offset of the frame's first byte (the MAC header) in the mapping.
    pub offset: usize,
    /// Bytes captured.
    pub snaplen: usize,
    /// The frame's real length (longer than `snaplen` when truncated).
    pub len: usize,
    /// `tp_status` (TP_STATUS_*).
    pub status: u32,
    /// `sll_pkttype` (PACKET_HOST, PACKET_OUTGOING, ...).
    pub pkttype: u8,
}

/// The receive ring.
#[derive(Debug)]
pub(crate) struct RxRing {
    version: TpacketVersion,
    /// Offset of the ring in the mapping (0).
    start: usize,
    geometry: RingGeometry,
    /// V3: the block being read; V2: the slot being read.
    cursor: usize,
    /// V3: frames of the current block not yet handed out, and where the
    /// next one starts (relative to the block).
    frames_left: u32,
    next_frame: usize,
    /// Whether the block (V3) or slot (V2) at `cursor` is ours, read and not
    /// yet given back.
    holding: bool,
}

impl RxRing {
    pub(crate) fn new(version: TpacketVersion, geometry: RingGeometry) -> RxRing {
        RxRing {
            version,
            start: 0,
            geometry,
            cursor: 0,
            frames_left: 0,
            next_frame: 0,
            holding: false,
        }
    }

    fn block_base(&self, map: &Mapping, block: usize) -> *mut u8 {
        map.at(self.start + block * self.geometry.block_size)
            .as_ptr()
    }

    fn slot_base(&self, map: &Mapping, slot: usize) -> *mut u8 {
        let fpb = self.geometry.frames_per_block();
        map.at(self.start
            + (slot / fpb) * self.geometry.block_size
            + (slot % fpb) * self.geometry.frame_size)
            .as_ptr()
    }

    /// Gives the block or slot we hold back to the kernel and moves on.
    pub(crate) fn release(&mut self, map: &Mapping) {
        if !self.holding {
            return;
        }
        let (ptr, status_at, count) = match self.version {
            TpacketVersion::V3 => (
                self.block_base(map, self.cursor),
                offset_of!(libc::tpacket_block_desc, hdr)
                    + offset_of!(libc::tpacket_hdr_v1, block_status),
                self.geometry.block_nr,
            ),
            TpacketVersion::V2 => (
                self.slot_base(map, self.cursor),
                offset_of!(libc::tpacket2_hdr, tp_status),
                self.geometry.frame_nr(),
            ),
        };
        // SAFETY: the status word of a block/slot in the mapping, which we
        // own until this store hands it back.
        unsafe { status_word(ptr.add(status_at)) }.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.holding = false;
        self.frames_left = 0;
        self.cursor = (self.cursor + 1) % count;
    }

    /// Gives back a block whose frames have all been handed out (V3), or
    /// the slot last handed out (V2), so the kernel can refill it while
    /// the stack works. Frames handed out before are no longer valid.
    pub(crate) fn release_if_done(&mut self, map: &Mapping) {
        if self.version == TpacketVersion::V2 || self.frames_left == 0 {
            self.release(map);
        }
    }

    /// The next frame the kernel has handed over, if any. A frame stays
    /// valid until the next call of `next` or `release`.
    pub(crate) fn next(&mut self, map: &Mapping) -> Option<RingFrame> {
        match self.version {
            TpacketVersion::V3 => self.next_v3(map),
            TpacketVersion::V2 => self.next_v2(map),
        }
    }

    fn next_v3(&mut self, map: &Mapping) -> Option<RingFrame> {
        // At most one block change per frame: an exhausted block is given
        // back, then the next one looked at.
        for _ in 0..2 {
            if self.holding && self.frames_left > 0 {
                let block = self.block_base(map, self.cursor);
                let block_offset = self.start + self.cursor * self.geometry.block_size;
                let at = self.next_frame;
                let header_end =
                    at + size_of::<libc::tpacket3_hdr>() + size_of::<libc::sockaddr_ll>();
                if header_end > self.geometry.block_size {
                    // A corrupt block: give it back rather than read past it.
                    self.release(map);
                    return None;
                }
                // SAFETY: the block is ours (user status seen with acquire)
                // and the header lies within it (checked above); the kernel
                // aligns every frame header to 16 bytes.
                let frame = unsafe {
                    let h = block.add(at);
                    let next = read_u32(h, offset_of!(libc::tpacket3_hdr, tp_next_offset));
                    let snaplen = read_u32(h, offset_of!(libc::tpacket3_hdr, tp_snaplen));
                    let len = read_u32(h, offset_of!(libc::tpacket3_hdr, tp_len));
                    let status = read_u32(h, offset_of!(libc::tpacket3_hdr, tp_status));
                    let mac = read_u16(h, offset_of!(libc::tpacket3_hdr, tp_mac));
                    let sll = h.add(tpacket_align(size_of::<libc::tpacket3_hdr>()));
                    let pkttype = sll
                        .add(offset_of!(libc::sockaddr_ll, sll_pkttype))
                        .read_volatile();
                    self.next_frame = at + next as usize;
                    RingFrame {
                        offset: block_offset + at + usize::from(mac),
                        snaplen: snaplen as usize,
                        len: len as usize,
                        status,
                        pkttype,
                    }
                };
                self.frames_left -= 1;
                let in_block = frame.offset - block_offset;
                if in_block + frame.snaplen > self.geometry.block_size {
                    self.release(map);
                    return None;
                }
                return Some(frame);
            }
            if self.holding {
                self.release(map);
            }
            let block = self.block_base(map, self.cursor);
            let hdr = offset_of!(libc::tpacket_block_desc, hdr);
            // SAFETY: the block descriptor's status word in the mapping.
            let status = unsafe {
                status_word(block.add(hdr + offset_of!(libc::tpacket_hdr_v1, block_status)))
            }
            .load(Ordering::Acquire);
            if status & libc::TP_STATUS_USER == 0 {
                return None;
            }
            // SAFETY: the block is ours now (acquire above).
            unsafe {
                self.frames_left =
                    read_u32(block, hdr + offset_of!(libc::tpacket_hdr_v1, num_pkts));
                self.next_frame = read_u32(
                    block,
                    hdr + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt),
                ) as usize;
            }
            self.holding = true;
        }
        None
    }

    fn next_v2(&mut self, map: &Mapping) -> Option<RingFrame> {
        if self.holding {
            self.release(map);
        }
        let slot = self.slot_base(map, self.cursor);
        // SAFETY: the slot's status word in the mapping.
        let status = unsafe { status_word(slot.add(offset_of!(libc::tpacket2_hdr, tp_status))) }
            .load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return None;
        }
        self.holding = true;
        let slot_offset = slot as usize - map.at(0).as_ptr() as usize;
        // SAFETY: the slot is ours (acquire above); fields within its header.
        let frame = unsafe {
            let sll = slot.add(tpacket_align(size_of::<libc::tpacket2_hdr>()));
            RingFrame {
                offset: slot_offset
                    + usize::from(read_u16(slot, offset_of!(libc::tpacket2_hdr, tp_mac))),
                snaplen: read_u32(slot, offset_of!(libc::tpacket2_hdr, tp_snaplen)) as usize,
                len: read_u32(slot, offset_of!(libc::tpacket2_hdr, tp_len)) as usize,
                status,
                pkttype: sll
                    .add(offset_of!(libc::sockaddr_ll, sll_pkttype))
                    .read_volatile(),
            }
        };
        if frame.offset + frame.snaplen > slot_offset + self.geometry.frame_size {
            return Some(RingFrame {
                snaplen: 0,
                ..frame
            });
        }
        Some(frame)
    }
}

/// The transmit ring.
#[derive(Debug)]
pub(crate) struct TxRing {
    version: TpacketVersion,
    /// Offset of the ring in the mapping (after the receive ring).
    start: usize,
    geometry: RingGeometry,
    /// The next slot to fill; the kernel sends slots in this same order.
    head: usize,
    /// Slots marked for sending since the last successful kick.
    queued: usize,
}

impl TxRing {
    pub(crate) fn new(version: TpacketVersion, geometry: RingGeometry, start: usize) -> TxRing {
        TxRing {
            version,
            start,
            geometry,
            head: 0,
            queued: 0,
        }
    }

    /// Bytes a slot holds (virtio-net header included).
    pub(crate) fn capacity(&self) -> usize {
        self.geometry.frame_size - self.version.tx_data_offset()
    }

    pub(crate) fn slots(&self) -> usize {
        self.geometry.frame_nr()
    }

    /// Slots marked for sending and not yet kicked.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    fn slot_base(&self, map: &Mapping, slot: usize) -> *mut u8 {
        let fpb = self.geometry.frames_per_block();
        map.at(self.start
            + (slot / fpb) * self.geometry.block_size
            + (slot % fpb) * self.geometry.frame_size)
            .as_ptr()
    }

    fn status(&self, map: &Mapping, slot: usize) -> u32 {
        let ptr = self.slot_base(map, slot);
        // SAFETY: the slot's status word in the mapping.
        unsafe { status_word(ptr.add(self.version.status_offset())) }.load(Ordering::Acquire)
    }

    /// Whether the next slot is free to fill.
    pub(crate) fn has_room(&self, map: &Mapping) -> bool {
        // TP_STATUS_AVAILABLE is 0; with PACKET_LOSS set the kernel never
        // leaves TP_STATUS_WRONG_FORMAT behind.
        self.status(map, self.head) == libc::TP_STATUS_AVAILABLE
    }

    /// Whether every slot is back with us (all sent).
    pub(crate) fn is_idle(&self, map: &Mapping) -> bool {
        (0..self.slots()).all(|slot| self.status(map, slot) == libc::TP_STATUS_AVAILABLE)
    }

    /// The data area of the next slot, `len` bytes, zeroed; `None` if the
    /// slot is not free or `len` exceeds its capacity.
    pub(crate) fn slot_buffer<'a>(
        &'a mut self,
        map: &'a Mapping,
        len: usize,
    ) -> Option<&'a mut [u8]> {
        if len > self.capacity() || !self.has_room(map) {
            return None;
        }
        let base = self.slot_base(map, self.head);
        // SAFETY: the slot is ours (available, acquire in has_room) until
        // `commit` hands it over, and its data area holds `capacity` bytes;
        // the slice borrows the ring mutably, so no second one exists.
        let data = unsafe {
            core::slice::from_raw_parts_mut(base.add(self.version.tx_data_offset()), len)
        };
        data.fill(0);
        Some(data)
    }

    /// Marks the slot `slot_buffer` returned, now holding `len` bytes, for
    /// sending, and moves to the next slot.
    pub(crate) fn commit(&mut self, map: &Mapping, len: usize) {
        let base = self.slot_base(map, self.head);
        // SAFETY: the slot is ours; its header fields are aligned. tp_len
        // fits: `len` is at most the slot's capacity.
        unsafe {
            base.add(self.version.len_offset())
                .cast::<u32>()
                .write_volatile(len as u32);
            if self.version == TpacketVersion::V3 {
                // The kernel refuses variable-sized transmit slots.
                base.add(offset_of!(libc::tpacket3_hdr, tp_next_offset))
                    .cast::<u32>()
                    .write_volatile(0);
            }
            status_word(base.add(self.version.status_offset()))
                .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        }
        self.head = (self.head + 1) % self.slots();
        self.queued += 1;
    }

    /// Asks the kernel to send every slot marked for sending. `Ok` when
    /// it took them (or there were none); an error leaves them marked, to
    /// go with the next kick.
    pub(crate) fn kick(&mut self, fd: RawFd) -> io::Result<()> {
        if self.queued == 0 {
            return Ok(());
        }
        // SAFETY: a zero-length send without a buffer: the kernel takes
        // the frames from the ring.
        let ret = unsafe { libc::send(fd, core::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        self.queued = 0;
        Ok(())
    }
}
