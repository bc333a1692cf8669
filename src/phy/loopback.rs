//! In-memory devices: [`Loopback`], where what is sent comes back (one stack
//! talking to itself), and [`LinkEnd`], the two ends of a link with a fixed
//! one-way delay (two stacks on one virtual clock).
//!
//! Frame buffers are recycled through a pool, so once the queues have grown
//! to their working size, sending and receiving allocate nothing.
//!
//! Both carry Ethernet frames unless given another [`Medium`]
//! (`with_medium`). A [`LinkEnd`] can offer TCP segmentation offload
//! (`with_tso`): it then carries the sender's super-segments whole, the way
//! Linux delivers a local sender's GSO packets, with their checksum left
//! partial and marked so in the receiver's [`FrameMeta`].

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, FrameMeta, Medium, TsoCapabilities,
};
use crate::time::{Duration, Instant};

/// Frames a queue holds when the caller does not say: enough for a full
/// 64 KiB window of 1500-byte segments many times over.
pub const DEFAULT_QUEUE_LIMIT: usize = 1024;

/// Counters of one in-memory device (or one end of a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LinkStats {
    /// Frames accepted for delivery.
    pub transmitted: u64,
    /// Frames handed up by `receive`.
    pub received: u64,
    /// Frames dropped because the queue towards the receiver was full.
    pub dropped_queue_full: u64,
    /// Frames dropped because they were longer than the MTU allows.
    pub dropped_oversized: u64,
}

/// Spare frame buffers, so steady-state traffic allocates nothing.
#[derive(Debug, Default)]
struct BufferPool {
    spare: Vec<Vec<u8>>,
    /// Capacity to give a new buffer: the largest frame the link carries.
    frame_capacity: usize,
    /// Most spare buffers kept; more are freed.
    max_spare: usize,
}

impl BufferPool {
    fn new(frame_capacity: usize, max_spare: usize) -> BufferPool {
        BufferPool {
            spare: Vec::new(),
            frame_capacity,
            max_spare,
        }
    }

    /// A zeroed buffer of exactly `len` bytes.
    fn take(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.frame_capacity));
        buf.clear();
        buf.resize(len, 0);
        buf
    }

    fn give_back(&mut self, buf: Vec<u8>) {
        if self.spare.len() < self.max_spare {
            self.spare.push(buf);
        }
    }
}

fn ethernet_capabilities(mtu: usize) -> DeviceCapabilities {
    DeviceCapabilities {
        medium: Medium::Ethernet,
        max_transmission_unit: mtu,
        ..DeviceCapabilities::default()
    }
}

/// Largest frame a device with `caps` carries, super-segments included.
fn max_frame_len(caps: &DeviceCapabilities) -> usize {
    caps.max_tcp_ipv4_packet_len()
        .max(caps.max_transmission_unit)
        .saturating_add(caps.medium.header_len())
}

/// A device whose transmitted frames come back, in order, as received
/// frames: a single stack talking to itself. Needs `alloc`.
#[derive(Debug)]
pub struct Loopback {
    queue: VecDeque<(Vec<u8>, FrameMeta)>,
    pool: BufferPool,
    /// The frame an RxToken lends out; kept here so the token only borrows.
    rx_slot: Vec<u8>,
    caps: DeviceCapabilities,
    queue_limit: usize,
    stats: LinkStats,
}

impl Loopback {
    /// A loopback for IP packets of up to `mtu` bytes, holding at most
    /// [`DEFAULT_QUEUE_LIMIT`] frames.
    pub fn new(mtu: usize) -> Loopback {
        Loopback::with_queue_limit(mtu, DEFAULT_QUEUE_LIMIT)
    }

    /// A loopback that holds at most `queue_limit` frames; frames sent while
    /// it is full are dropped and counted.
    pub fn with_queue_limit(mtu: usize, queue_limit: usize) -> Loopback {
        let caps = ethernet_capabilities(mtu);
        Loopback {
            queue: VecDeque::new(),
            pool: BufferPool::new(caps.max_frame_len(), queue_limit.saturating_add(1)),
            rx_slot: Vec::new(),
            caps,
            queue_limit,
            stats: LinkStats::default(),
        }
    }

    /// The same loopback carrying frames of `medium` (e.g. [`Medium::Ip`]:
    /// bare IP packets, as on a TUN device).
    pub fn with_medium(mut self, medium: Medium) -> Loopback {
        self.caps.medium = medium;
        self.pool.frame_capacity = max_frame_len(&self.caps);
        self
    }

    /// Two devices joined by a link: a frame one end transmits at `t` is
    /// received by the other end from `t + one_way_delay` on. Each direction
    /// holds at most [`DEFAULT_QUEUE_LIMIT`] frames in flight.
    pub fn pair(mtu: usize, one_way_delay: Duration) -> (LinkEnd, LinkEnd) {
        Loopback::pair_with_queue_limit(mtu, one_way_delay, DEFAULT_QUEUE_LIMIT)
    }

    /// Like [`Loopback::pair`], with at most `queue_limit` frames in flight
    /// per direction; frames sent beyond it are dropped and counted by the
    /// sending end.
    pub fn pair_with_queue_limit(
        mtu: usize,
        one_way_delay: Duration,
        queue_limit: usize,
    ) -> (LinkEnd, LinkEnd) {
        let frame_capacity = ethernet_capabilities(mtu).max_frame_len();
        let max_spare = queue_limit.saturating_mul(2).saturating_add(2);
        let shared = Rc::new(RefCell::new(LinkShared {
            lanes: [VecDeque::new(), VecDeque::new()],
            pool: BufferPool::new(frame_capacity, max_spare),
        }));
        let end = |side| LinkEnd {
            shared: Rc::clone(&shared),
            side,
            rx_slot: Vec::new(),
            caps: ethernet_capabilities(mtu),
            one_way_delay,
            queue_limit,
            stats: LinkStats::default(),
        };
        (end(0), end(1))
    }

    /// Counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Frames waiting to be received.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

impl Device for Loopback {
    type RxToken<'a> = LoopbackRxToken<'a>;
    type TxToken<'a> = LoopbackTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(LoopbackRxToken<'_>, LoopbackTxToken<'_>)> {
        let (frame, meta) = self.queue.pop_front()?;
        let previous = core::mem::replace(&mut self.rx_slot, frame);
        self.pool.give_back(previous);
        self.stats.received += 1;
        let max_frame_len = max_frame_len(&self.caps);
        Some((
            LoopbackRxToken {
                frame: &self.rx_slot,
                meta,
            },
            LoopbackTxToken {
                queue: &mut self.queue,
                pool: &mut self.pool,
                stats: &mut self.stats,
                max_frame_len,
                queue_limit: self.queue_limit,
                meta: FrameMeta::default(),
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<LoopbackTxToken<'_>> {
        Some(LoopbackTxToken {
            queue: &mut self.queue,
            pool: &mut self.pool,
            stats: &mut self.stats,
            max_frame_len: max_frame_len(&self.caps),
            queue_limit: self.queue_limit,
            meta: FrameMeta::default(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps
    }
}

/// A frame received from a [`Loopback`].
#[derive(Debug)]
pub struct LoopbackRxToken<'a> {
    frame: &'a [u8],
    meta: FrameMeta,
}

impl super::RxToken for LoopbackRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }

    fn meta(&self) -> FrameMeta {
        self.meta
    }
}

/// Permission to send one frame into a [`Loopback`].
#[derive(Debug)]
pub struct LoopbackTxToken<'a> {
    queue: &'a mut VecDeque<(Vec<u8>, FrameMeta)>,
    pool: &'a mut BufferPool,
    stats: &'a mut LinkStats,
    max_frame_len: usize,
    queue_limit: usize,
    meta: FrameMeta,
}

impl super::TxToken for LoopbackTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.pool.take(len);
        let result = f(&mut buf);
        if len > self.max_frame_len {
            self.stats.dropped_oversized += 1;
            self.pool.give_back(buf);
        } else if self.queue.len() >= self.queue_limit {
            self.stats.dropped_queue_full += 1;
            self.pool.give_back(buf);
        } else {
            self.stats.transmitted += 1;
            self.queue.push_back((buf, self.meta));
        }
        result
    }

    fn set_meta(&mut self, meta: FrameMeta) {
        self.meta = meta;
    }
}

/// State both ends of a link share.
#[derive(Debug)]
struct LinkShared {
    /// `lanes[i]` holds frames travelling towards end `i`, each with the
    /// instant it arrives. The delay is fixed, so arrival order is send order.
    lanes: [VecDeque<(Instant, Vec<u8>, FrameMeta)>; 2],
    pool: BufferPool,
}

/// One end of a link made by [`Loopback::pair`]: frames it transmits reach
/// the other end after the link's one-way delay. Both ends live on one
/// thread (they share state through `Rc<RefCell<_>>`).
#[derive(Debug)]
pub struct LinkEnd {
    shared: Rc<RefCell<LinkShared>>,
    /// 0 or 1: which lane this end receives from.
    side: usize,
    rx_slot: Vec<u8>,
    caps: DeviceCapabilities,
    one_way_delay: Duration,
    queue_limit: usize,
    stats: LinkStats,
}

impl LinkEnd {
    /// This end carrying frames of `medium` (give both ends the same).
    pub fn with_medium(mut self, medium: Medium) -> LinkEnd {
        self.caps.medium = medium;
        self.grow_pool();
        self
    }

    /// This end offering TCP segmentation offload for IPv4 packets of up
    /// to `max_len` bytes (at most 65,535): its stack sends super-segments,
    /// which the other end receives whole, marked
    /// [`TransportChecksum::Partial`](super::TransportChecksum::Partial)
    /// since no checksum was computed for them.
    pub fn with_tso(mut self, max_len: usize) -> LinkEnd {
        self.caps.tso = TsoCapabilities::ipv4(max_len.min(65_535));
        self.caps.checksum = ChecksumCapabilities {
            tcp: Checksum::Rx,
            ..ChecksumCapabilities::default()
        };
        self.grow_pool();
        self
    }

    /// Makes new pool buffers big enough for this end's largest frame.
    fn grow_pool(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.pool.frame_capacity = shared.pool.frame_capacity.max(max_frame_len(&self.caps));
    }

    /// When the next frame towards this end arrives (it may already have);
    /// `None` if nothing is in flight. A driver on a virtual clock advances
    /// to the earliest of this and the stacks' `poll_at()`.
    pub fn next_arrival(&self) -> Option<Instant> {
        let shared = self.shared.borrow();
        shared.lanes[self.side].front().map(|(at, _, _)| *at)
    }

    /// Frames in flight towards this end.
    pub fn in_flight(&self) -> usize {
        self.shared.borrow().lanes[self.side].len()
    }

    /// The link's one-way delay.
    pub fn one_way_delay(&self) -> Duration {
        self.one_way_delay
    }

    /// Counters of this end: what it sent and dropped, what it received.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }
}

impl Device for LinkEnd {
    type RxToken<'a> = LinkRxToken<'a>;
    type TxToken<'a> = LinkTxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(LinkRxToken<'_>, LinkTxToken<'_>)> {
        let meta = {
            let mut shared = self.shared.borrow_mut();
            let shared = &mut *shared;
            let lane = &mut shared.lanes[self.side];
            match lane.front() {
                Some((arrival, _, _)) if *arrival <= now => {}
                _ => return None,
            }
            let (_, frame, meta) = lane.pop_front()?;
            let previous = core::mem::replace(&mut self.rx_slot, frame);
            shared.pool.give_back(previous);
            meta
        };
        self.stats.received += 1;
        let frame: &[u8] = &self.rx_slot;
        let tx = LinkTxToken::new(
            &self.shared,
            self.side,
            now + self.one_way_delay,
            max_frame_len(&self.caps),
            self.queue_limit,
            &mut self.stats,
        );
        Some((LinkRxToken { frame, meta }, tx))
    }

    fn transmit(&mut self, now: Instant) -> Option<LinkTxToken<'_>> {
        Some(LinkTxToken::new(
            &self.shared,
            self.side,
            now + self.one_way_delay,
            max_frame_len(&self.caps),
            self.queue_limit,
            &mut self.stats,
        ))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps
    }
}

/// A frame received at a [`LinkEnd`].
#[derive(Debug)]
pub struct LinkRxToken<'a> {
    frame: &'a [u8],
    meta: FrameMeta,
}

impl super::RxToken for LinkRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }

    fn meta(&self) -> FrameMeta {
        self.meta
    }
}

/// Permission to send one frame from a [`LinkEnd`].
#[derive(Debug)]
pub struct LinkTxToken<'a> {
    shared: &'a RefCell<LinkShared>,
    lane: usize,
    arrival: Instant,
    max_frame_len: usize,
    queue_limit: usize,
    stats: &'a mut LinkStats,
    meta: FrameMeta,
}

impl<'a> LinkTxToken<'a> {
    /// A token of the end on `side`; it sends into the other side's lane.
    fn new(
        shared: &'a RefCell<LinkShared>,
        side: usize,
        arrival: Instant,
        max_frame_len: usize,
        queue_limit: usize,
        stats: &'a mut LinkStats,
    ) -> LinkTxToken<'a> {
        LinkTxToken {
            shared,
            lane: 1 - side,
            arrival,
            max_frame_len,
            queue_limit,
            stats,
            meta: FrameMeta::default(),
        }
    }
}

impl super::TxToken for LinkTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // Take the buffer and release the borrow before `f` runs, so `f`
        // may look at the other end (e.g. its `next_arrival`).
        let mut buf = self.shared.borrow_mut().pool.take(len);
        let result = f(&mut buf);
        let mut shared = self.shared.borrow_mut();
        let shared = &mut *shared;
        let lane = &mut shared.lanes[self.lane];
        if len > self.max_frame_len {
            self.stats.dropped_oversized += 1;
            shared.pool.give_back(buf);
        } else if lane.len() >= self.queue_limit {
            self.stats.dropped_queue_full += 1;
            shared.pool.give_back(buf);
        } else {
            self.stats.transmitted += 1;
            lane.push_back((self.arrival, buf, self.meta));
        }
        result
    }

    fn set_meta(&mut self, meta: FrameMeta) {
        self.meta = meta;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::phy::{RxToken, TxToken};
    use std::vec;

    fn send<D: Device>(dev: &mut D, now: Instant, frame: &[u8]) {
        let token = dev.transmit(now).expect("device accepts a frame");
        token.consume(frame.len(), |buf| {
            assert!(buf.iter().all(|&b| b == 0), "tx buffer is zeroed");
            buf.copy_from_slice(frame)
        });
    }

    fn recv<D: Device>(dev: &mut D, now: Instant) -> Option<Vec<u8>> {
        let (rx, _tx) = dev.receive(now)?;
        Some(rx.consume(|f| f.to_vec()))
    }

    #[test]
    fn media_and_tso_are_in_the_capabilities_and_meta_crosses_the_link() {
        let lo = Loopback::new(1500).with_medium(Medium::Ip);
        assert_eq!(lo.capabilities().medium, Medium::Ip);
        assert_eq!(lo.capabilities().max_frame_len(), 1500);
        let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
        let mut a = a.with_tso(65_535);
        let mut b = b.with_medium(Medium::Ethernet);
        let caps = a.capabilities();
        assert_eq!(caps.max_tcp_ipv4_packet_len(), 65_535);
        assert!(!caps.checksum.tcp.tx() && caps.checksum.tcp.rx());
        assert_eq!(b.capabilities().tso, TsoCapabilities::NONE);
        // A super-frame goes through whole, with its meta.
        let meta = FrameMeta::new(crate::phy::TransportChecksum::Partial, 1448);
        let mut tx = a.transmit(Instant::ZERO).unwrap();
        tx.set_meta(meta);
        tx.consume(14 + 60_000, |buf| buf[20] = 7);
        assert_eq!(a.stats().dropped_oversized, 0);
        let (rx, _) = b.receive(Instant::from_millis(1)).unwrap();
        assert_eq!(rx.meta(), meta);
        assert_eq!(rx.consume(|f| (f.len(), f[20])), (60_014, 7));
        // Without TSO, the same frame is too long.
        send(&mut b, Instant::ZERO, &[0; 14 + 60_000]);
        assert_eq!(b.stats().dropped_oversized, 1);
    }

    #[test]
    fn loopback_returns_frames_in_order() {
        let mut lo = Loopback::new(1500);
        let now = Instant::ZERO;
        assert_eq!(recv(&mut lo, now), None);
        send(&mut lo, now, &[1, 2, 3]);
        send(&mut lo, now, &[4, 5]);
        assert_eq!(lo.queued(), 2);
        assert_eq!(recv(&mut lo, now), Some(vec![1, 2, 3]));
        assert_eq!(recv(&mut lo, now), Some(vec![4, 5]));
        assert_eq!(recv(&mut lo, now), None);
        let stats = lo.stats();
        assert_eq!((stats.transmitted, stats.received), (2, 2));
    }

    #[test]
    fn loopback_reply_through_rx_pair_token() {
        let mut lo = Loopback::new(1500);
        send(&mut lo, Instant::ZERO, &[0xaa; 60]);
        {
            let (rx, tx) = lo.receive(Instant::ZERO).unwrap();
            let first = rx.consume(|f| f[0]);
            tx.consume(2, |buf| buf.copy_from_slice(&[first, 0xbb]));
        }
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![0xaa, 0xbb]));
    }

    #[test]
    fn loopback_capabilities_and_oversize() {
        let mut lo = Loopback::new(100);
        let caps = lo.capabilities();
        assert_eq!(caps.medium, Medium::Ethernet);
        assert_eq!(caps.max_transmission_unit, 100);
        assert_eq!(caps.max_frame_len(), 114);
        send(&mut lo, Instant::ZERO, &[7; 114]);
        send(&mut lo, Instant::ZERO, &[8; 115]);
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![7; 114]));
        assert_eq!(recv(&mut lo, Instant::ZERO), None);
        assert_eq!(lo.stats().dropped_oversized, 1);
        assert_eq!(lo.stats().transmitted, 1);
    }

    #[test]
    fn loopback_queue_limit_drops_and_counts() {
        let mut lo = Loopback::with_queue_limit(1500, 2);
        for i in 0..5u8 {
            send(&mut lo, Instant::ZERO, &[i]);
        }
        assert_eq!(lo.stats().dropped_queue_full, 3);
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![0]));
        send(&mut lo, Instant::ZERO, &[9]);
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![1]));
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![9]));
        assert_eq!(recv(&mut lo, Instant::ZERO), None);
    }

    #[test]
    fn recycled_buffers_are_zeroed_and_sized() {
        let mut lo = Loopback::new(1500);
        send(&mut lo, Instant::ZERO, &[0xff; 200]);
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![0xff; 200]));
        // The 200-byte buffer went back to the pool; the next (shorter)
        // frame must not see its old bytes. `send` asserts zeroing.
        send(&mut lo, Instant::ZERO, &[1; 10]);
        send(&mut lo, Instant::ZERO, &[2; 300]);
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![1; 10]));
        assert_eq!(recv(&mut lo, Instant::ZERO), Some(vec![2; 300]));
    }

    #[test]
    fn pair_delivers_after_exactly_the_delay() {
        let delay = Duration::from_millis(1);
        let (mut a, mut b) = Loopback::pair(1500, delay);
        let t0 = Instant::from_micros(5_000);
        send(&mut a, t0, &[1, 1]);
        send(&mut a, t0 + Duration::from_micros(10), &[2, 2]);
        // Nothing loops back to the sender.
        assert_eq!(a.next_arrival(), None);
        assert_eq!(recv(&mut a, t0 + delay), None);
        assert_eq!(b.in_flight(), 2);
        assert_eq!(b.next_arrival(), Some(Instant::from_micros(6_000)));
        assert_eq!(recv(&mut b, Instant::from_micros(5_999)), None);
        assert_eq!(recv(&mut b, Instant::from_micros(6_000)), Some(vec![1, 1]));
        assert_eq!(b.next_arrival(), Some(Instant::from_micros(6_010)));
        assert_eq!(recv(&mut b, Instant::from_micros(6_009)), None);
        assert_eq!(recv(&mut b, Instant::from_micros(6_010)), Some(vec![2, 2]));
        assert_eq!(b.next_arrival(), None);
        assert_eq!(a.stats().transmitted, 2);
        assert_eq!(b.stats().received, 2);
    }

    #[test]
    fn pair_is_full_duplex_and_reply_token_goes_back() {
        let delay = Duration::from_micros(250);
        let (mut a, mut b) = Loopback::pair(1500, delay);
        send(&mut b, Instant::ZERO, &[0xb0]);
        send(&mut a, Instant::ZERO, &[0xa0]);
        let t = Instant::from_micros(250);
        {
            let (rx, tx) = b.receive(t).unwrap();
            assert_eq!(rx.consume(|f| f.to_vec()), vec![0xa0]);
            tx.consume(1, |buf| buf[0] = 0xb1);
        }
        assert_eq!(recv(&mut a, t), Some(vec![0xb0]));
        assert_eq!(a.next_arrival(), Some(Instant::from_micros(500)));
        assert_eq!(recv(&mut a, Instant::from_micros(500)), Some(vec![0xb1]));
    }

    #[test]
    fn pair_queue_limit_counts_at_sender() {
        let (mut a, mut b) = Loopback::pair_with_queue_limit(1500, Duration::ZERO, 3);
        for i in 0..10u8 {
            send(&mut a, Instant::ZERO, &[i]);
        }
        assert_eq!(a.stats().transmitted, 3);
        assert_eq!(a.stats().dropped_queue_full, 7);
        assert_eq!(b.stats().dropped_queue_full, 0);
        let got: Vec<_> = core::iter::from_fn(|| recv(&mut b, Instant::ZERO)).collect();
        assert_eq!(got, vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn pair_drops_oversized_frames() {
        let (mut a, mut b) = Loopback::pair(576, Duration::ZERO);
        assert_eq!(a.capabilities().max_frame_len(), 590);
        send(&mut a, Instant::ZERO, &[3; 591]);
        send(&mut a, Instant::ZERO, &[4; 590]);
        assert_eq!(a.stats().dropped_oversized, 1);
        assert_eq!(recv(&mut b, Instant::ZERO), Some(vec![4; 590]));
        assert_eq!(recv(&mut b, Instant::ZERO), None);
    }
}
