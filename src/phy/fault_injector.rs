//! [`FaultInjector`]: a middleware that makes any device lossy, seeded.
//!
//! Each direction (rx and tx) has its own [`FaultConfig`], its own PRNG and
//! its own [`FaultStats`]. A frame entering a direction goes through these
//! steps, in this order:
//!
//! 1. size limit: longer than `max_frame_len`, dropped (`oversized`);
//! 2. rate limit: no token in the bucket, dropped (`rate_limited`);
//! 3. four draws from the direction's PRNG, always all four and always in
//!    this order, so one fault's setting never shifts another's decisions:
//!    drop, corrupt, duplicate, reorder;
//! 4. drop: the frame is gone (`dropped`);
//! 5. corrupt: 1 to `max_corrupt_bits` distinct bits of the frame flip
//!    (`corrupted`); their count and positions are further draws; whatever
//!    the device knew of the frame's checksum no longer holds, so its
//!    [`FrameMeta`] says nothing is known (the stack verifies);
//! 6. duplicate: a copy goes out at once (`duplicated`), and the original
//!    follows as below;
//! 7. reorder: the frame is held back (`reordered`) until N other frames have
//!    gone out, or until a time span has passed, then goes out before any
//!    new frame; otherwise it goes out now.
//!
//! Held frames and copies need storage: this module needs `alloc` (it is
//! still `no_std`). Buffers are recycled, so steady state allocates nothing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::{Device, DeviceCapabilities, FrameMeta, TransportChecksum};
use crate::time::{Duration, Instant};

/// The SplitMix64 generator (Steele, Lea and Flood, 2014): tiny, fast and
/// good enough to decide faults; not for anything secret. Public so tests
/// can replay the decisions of a [`FaultInjector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        // A Weyl sequence with the odd golden-ratio increment, then a
        // bijective mix so consecutive states give unrelated outputs.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits (the high half of [`SplitMix64::next_u64`]).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `0..n` (0 when `n` is 0), from one draw, by the
    /// multiply-high method (bias below 2^-32 for the small `n` used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A probability with a resolution of 2^-32, so decisions are exact
/// integer comparisons and the same on every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Probability {
    /// Out of 2^32; at most 2^32.
    threshold: u64,
}

impl Probability {
    /// Never happens.
    pub const NEVER: Probability = Probability { threshold: 0 };
    /// Always happens.
    pub const ALWAYS: Probability = Probability { threshold: 1 << 32 };

    /// `p` as a fraction (0.1 is 10%), clamped to 0..=1; NaN is never.
    pub fn from_fraction(p: f64) -> Probability {
        if p.is_nan() || p <= 0.0 {
            Probability::NEVER
        } else if p >= 1.0 {
            Probability::ALWAYS
        } else {
            // In range 0..2^32 by the checks above; the cast truncates.
            Probability {
                threshold: (p * 4_294_967_296.0) as u64,
            }
        }
    }

    /// `ppm` parts per million (10_000 is 1%), clamped to 1_000_000.
    pub const fn from_ppm(ppm: u32) -> Probability {
        let ppm = if ppm > 1_000_000 { 1_000_000 } else { ppm } as u64;
        Probability {
            threshold: (ppm << 32) / 1_000_000,
        }
    }

    /// Whether a uniform 32-bit draw `roll` falls inside this probability.
    pub const fn hits(&self, roll: u32) -> bool {
        (roll as u64) < self.threshold
    }

    /// Whether this can never happen.
    pub const fn is_never(&self) -> bool {
        self.threshold == 0
    }

    /// The probability as a fraction.
    pub fn fraction(&self) -> f64 {
        self.threshold as f64 / 4_294_967_296.0
    }
}

/// How frames are held back to reorder them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reorder {
    /// No reordering.
    #[default]
    Off,
    /// With `probability`, hold a frame until `frames` other frames have
    /// gone out in the same direction (copies and released frames count).
    Frames {
        /// Chance that a frame is held.
        probability: Probability,
        /// How many other frames overtake it.
        frames: u32,
    },
    /// With `probability`, hold a frame for `delay`: it goes out at the first
    /// `receive`/`transmit` call at or after `held_at + delay`.
    Time {
        /// Chance that a frame is held.
        probability: Probability,
        /// How long it is held.
        delay: Duration,
    },
}

/// A token bucket: at most `frames` frames in a burst, refilled at `frames`
/// per `interval`, continuously (so 3 per 10 ms gives one token every
/// 3.334 ms). The bucket starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Bucket size and frames per interval.
    pub frames: u32,
    /// The refill interval; zero means no limit.
    pub interval: Duration,
}

/// What to do to the frames of one direction. The default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultConfig {
    /// Chance a frame is dropped.
    pub drop: Probability,
    /// Chance a frame is sent twice.
    pub duplicate: Probability,
    /// Chance bits of a frame are flipped.
    pub corrupt: Probability,
    /// Most bits flipped in one corrupted frame (at least 1 is used): the
    /// count is uniform in `1..=max_corrupt_bits`.
    pub max_corrupt_bits: u8,
    /// Reordering by holding frames back.
    pub reorder: Reorder,
    /// Most frames held back at once; a frame chosen for holding while this
    /// many are held goes out normally.
    pub max_held: usize,
    /// Frames longer than this are dropped.
    pub max_frame_len: Option<usize>,
    /// Frames beyond this rate are dropped.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FaultConfig {
    fn default() -> FaultConfig {
        FaultConfig {
            drop: Probability::NEVER,
            duplicate: Probability::NEVER,
            corrupt: Probability::NEVER,
            max_corrupt_bits: 1,
            reorder: Reorder::Off,
            max_held: 64,
            max_frame_len: None,
            rate_limit: None,
        }
    }
}

/// What a [`FaultInjector`] did in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FaultStats {
    /// Frames that entered this direction.
    pub frames: u64,
    /// Frames that went out (copies and released frames included).
    pub delivered: u64,
    /// Frames dropped by the drop probability.
    pub dropped: u64,
    /// Frames sent twice.
    pub duplicated: u64,
    /// Frames held back.
    pub reordered: u64,
    /// Frames with flipped bits.
    pub corrupted: u64,
    /// Frames dropped by the rate limit.
    pub rate_limited: u64,
    /// Frames dropped by the size limit.
    pub oversized: u64,
    /// Frames lost because the queue of frames waiting to go out was full
    /// (the inner device refused frames for a long time).
    pub overflowed: u64,
}

/// Most frames waiting to go out (copies, released frames) in one direction.
const READY_LIMIT: usize = 1024;

/// Most frames one `receive` call pulls from the inner device when all are
/// dropped or held, so a flood under 100% loss cannot spin forever.
const RECEIVE_ATTEMPTS: usize = 256;

/// Largest buffer allocated up front for one frame (64 KiB and headers).
const MAX_PREALLOCATED_FRAME: usize = 65_536 + 18;

/// XORed into the seed for the tx direction's PRNG.
pub const TX_SEED_XOR: u64 = 0xa5a5_a5a5_a5a5_a5a5;

#[derive(Debug)]
struct Held {
    frame: Vec<u8>,
    meta: FrameMeta,
    /// Frames still to go out before this one (frame-count holds).
    remaining: u32,
    /// When it may go out (time holds).
    release_at: Option<Instant>,
}

/// One direction's state.
#[derive(Debug)]
struct Lane {
    config: FaultConfig,
    rng: SplitMix64,
    stats: FaultStats,
    held: VecDeque<Held>,
    ready: VecDeque<(Vec<u8>, FrameMeta)>,
    spare: Vec<Vec<u8>>,
    /// Capacity of a new buffer: the inner device's largest frame, so a
    /// recycled buffer never has to grow.
    frame_capacity: usize,
    /// Token-bucket credit in frame-microseconds (one frame costs
    /// `interval` of them), and when it was last refilled.
    bucket_credit: u128,
    bucket_refilled_at: Option<Instant>,
}

impl Lane {
    fn new(seed: u64, frame_capacity: usize) -> Lane {
        Lane {
            frame_capacity,
            config: FaultConfig::default(),
            rng: SplitMix64::new(seed),
            stats: FaultStats::default(),
            held: VecDeque::new(),
            ready: VecDeque::new(),
            spare: Vec::new(),
            bucket_credit: 0,
            bucket_refilled_at: None,
        }
    }

    fn take_buffer(&mut self) -> Vec<u8> {
        let capacity = self.frame_capacity;
        let mut buf = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity));
        buf.clear();
        buf
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        // Enough spares for every frame that can be waiting, plus slack.
        if self.spare.len() < self.config.max_held.saturating_add(8) {
            self.spare.push(buf);
        }
    }

    /// Whether the token bucket has a frame's worth of credit; takes it.
    fn take_rate_token(&mut self, now: Instant, limit: RateLimit) -> bool {
        let cost = u128::from(limit.interval.total_micros());
        if cost == 0 {
            return true;
        }
        let capacity = cost * u128::from(limit.frames);
        match self.bucket_refilled_at {
            None => self.bucket_credit = capacity,
            Some(last) => {
                let elapsed = u128::from((now - last).total_micros());
                let refill = elapsed * u128::from(limit.frames);
                self.bucket_credit = self.bucket_credit.saturating_add(refill).min(capacity);
            }
        }
        // Time never runs backwards for the bucket: a `now` earlier than the
        // last refill adds nothing and keeps the later mark.
        self.bucket_refilled_at = Some(match self.bucket_refilled_at {
            Some(last) if last > now => last,
            _ => now,
        });
        if self.bucket_credit >= cost {
            self.bucket_credit -= cost;
            true
        } else {
            false
        }
    }

    /// Flips 1..=max_corrupt_bits distinct bits of a non-empty frame.
    fn corrupt(&mut self, frame: &mut [u8]) {
        let total_bits = (frame.len() as u64).saturating_mul(8);
        let max_bits = u64::from(self.config.max_corrupt_bits.max(1)).min(total_bits);
        let count = 1 + self.rng.below(max_bits);
        let mut flipped = [0u64; 255];
        let mut done = 0usize;
        while (done as u64) < count {
            let bit = self.rng.below(total_bits);
            let chosen = flipped.get(..done).unwrap_or(&[]);
            if chosen.contains(&bit) {
                continue;
            }
            if let Some(slot) = flipped.get_mut(done) {
                *slot = bit;
            }
            done += 1;
            // `bit < total_bits = 8 * len`, so the index is in bounds.
            if let Some(byte) = frame.get_mut((bit / 8) as usize) {
                *byte ^= 0x80 >> (bit % 8);
            }
        }
    }

    /// Runs a frame entering this direction through the steps listed in the
    /// module documentation; what survives is queued in `ready` or `held`.
    fn process(&mut self, now: Instant, mut frame: Vec<u8>, mut meta: FrameMeta) {
        self.stats.frames += 1;
        if self
            .config
            .max_frame_len
            .is_some_and(|max| frame.len() > max)
        {
            self.stats.oversized += 1;
            self.recycle(frame);
            return;
        }
        if let Some(limit) = self.config.rate_limit {
            if !self.take_rate_token(now, limit) {
                self.stats.rate_limited += 1;
                self.recycle(frame);
                return;
            }
        }
        let drop_roll = self.rng.next_u32();
        let corrupt_roll = self.rng.next_u32();
        let duplicate_roll = self.rng.next_u32();
        let reorder_roll = self.rng.next_u32();
        if self.config.drop.hits(drop_roll) {
            net_trace!("fault injector: dropped a {}-byte frame", frame.len());
            self.stats.dropped += 1;
            self.recycle(frame);
            return;
        }
        if self.config.corrupt.hits(corrupt_roll) && !frame.is_empty() {
            self.corrupt(&mut frame);
            meta.checksum = TransportChecksum::Unknown;
            net_trace!("fault injector: corrupted a {}-byte frame", frame.len());
            self.stats.corrupted += 1;
        }
        if self.config.duplicate.hits(duplicate_roll) {
            let mut copy = self.take_buffer();
            copy.extend_from_slice(&frame);
            self.stats.duplicated += 1;
            self.push_ready(copy, meta);
        }
        let hold = match self.config.reorder {
            Reorder::Off => None,
            Reorder::Frames {
                probability,
                frames,
            } => (probability.hits(reorder_roll) && frames > 0).then_some((frames, None)),
            Reorder::Time { probability, delay } => probability
                .hits(reorder_roll)
                .then_some((0, Some(now + delay))),
        };
        match hold {
            Some((remaining, release_at)) if self.held.len() < self.config.max_held => {
                self.stats.reordered += 1;
                self.held.push_back(Held {
                    frame,
                    meta,
                    remaining,
                    release_at,
                });
            }
            _ => self.push_ready(frame, meta),
        }
    }

    fn push_ready(&mut self, frame: Vec<u8>, meta: FrameMeta) {
        if self.ready.len() >= READY_LIMIT {
            self.stats.overflowed += 1;
            self.recycle(frame);
        } else {
            self.ready.push_back((frame, meta));
        }
    }

    /// Moves held frames whose time has come to `ready`, in hold order.
    fn release_due(&mut self, now: Instant) {
        let mut index = 0;
        while index < self.held.len() {
            let due = self
                .held
                .get(index)
                .is_some_and(|h| h.release_at.is_some_and(|at| at <= now));
            if due {
                if let Some(held) = self.held.remove(index) {
                    self.push_ready(held.frame, held.meta);
                }
            } else {
                index += 1;
            }
        }
    }

    /// Bookkeeping after a frame went out: frame-count holds move one step,
    /// and those that reach zero are queued to go out next.
    fn on_delivered(&mut self) {
        self.stats.delivered += 1;
        let mut index = 0;
        while index < self.held.len() {
            let released = match self.held.get_mut(index) {
                Some(held) if held.release_at.is_none() => {
                    held.remaining = held.remaining.saturating_sub(1);
                    held.remaining == 0
                }
                _ => false,
            };
            if released {
                if let Some(held) = self.held.remove(index) {
                    self.push_ready(held.frame, held.meta);
                }
            } else {
                index += 1;
            }
        }
    }

    fn next_release_at(&self) -> Option<Instant> {
        self.held.iter().filter_map(|h| h.release_at).min()
    }
}

/// A middleware that drops, duplicates, reorders, corrupts, size-limits and
/// rate-limits the frames of any device, in each direction separately,
/// deciding with a seeded PRNG so a run can be replayed exactly. See the
/// module documentation for the order of the steps. Needs `alloc`.
#[derive(Debug)]
pub struct FaultInjector<D: Device> {
    inner: D,
    rx: Lane,
    tx: Lane,
    rx_slot: Vec<u8>,
}

impl<D: Device> FaultInjector<D> {
    /// Wraps `inner`, injecting no faults until configured. The rx direction
    /// draws from `SplitMix64::new(seed)`, the tx direction from
    /// `SplitMix64::new(seed ^ TX_SEED_XOR)`.
    pub fn new(inner: D, seed: u64) -> FaultInjector<D> {
        // Bounded so an absurd MTU does not make every buffer huge.
        let frame_capacity = inner
            .capabilities()
            .max_frame_len()
            .min(MAX_PREALLOCATED_FRAME);
        FaultInjector {
            inner,
            rx: Lane::new(seed, frame_capacity),
            tx: Lane::new(seed ^ TX_SEED_XOR, frame_capacity),
            rx_slot: Vec::new(),
        }
    }

    /// What is done to received frames.
    pub fn rx_config(&self) -> &FaultConfig {
        &self.rx.config
    }

    /// What is done to received frames, to change.
    pub fn rx_config_mut(&mut self) -> &mut FaultConfig {
        &mut self.rx.config
    }

    /// What is done to transmitted frames.
    pub fn tx_config(&self) -> &FaultConfig {
        &self.tx.config
    }

    /// What is done to transmitted frames, to change.
    pub fn tx_config_mut(&mut self) -> &mut FaultConfig {
        &mut self.tx.config
    }

    /// Sets both directions to the same configuration.
    pub fn set_config(&mut self, config: FaultConfig) {
        self.rx.config = config;
        self.tx.config = config;
    }

    /// What was done to received frames.
    pub fn rx_stats(&self) -> FaultStats {
        self.rx.stats
    }

    /// What was done to transmitted frames.
    pub fn tx_stats(&self) -> FaultStats {
        self.tx.stats
    }

    /// Frames held back in both directions.
    pub fn held_frames(&self) -> usize {
        self.rx.held.len() + self.tx.held.len()
    }

    /// The earliest instant a time-held frame (either direction) is due; a
    /// driver on a virtual clock should not sleep past it.
    pub fn next_release_at(&self) -> Option<Instant> {
        match (self.rx.next_release_at(), self.tx.next_release_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, to change.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Unwraps the device; frames still held or queued are lost.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

/// Sends the tx direction's waiting frames while the inner device takes
/// them.
fn flush_tx<D: Device>(inner: &mut D, lane: &mut Lane, now: Instant) {
    while !lane.ready.is_empty() {
        let Some(mut token) = inner.transmit(now) else {
            return;
        };
        let Some((frame, meta)) = lane.ready.pop_front() else {
            return;
        };
        super::TxToken::set_meta(&mut token, meta);
        super::TxToken::consume(token, frame.len(), |buf| buf.copy_from_slice(&frame));
        lane.recycle(frame);
        lane.on_delivered();
    }
}

impl<D: Device> Device for FaultInjector<D> {
    type RxToken<'a>
        = FaultInjectorRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = FaultInjectorTxToken<'a, D>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.tx.release_due(now);
        flush_tx(&mut self.inner, &mut self.tx, now);
        self.rx.release_due(now);
        let mut attempts = 0;
        while self.rx.ready.is_empty() && attempts < RECEIVE_ATTEMPTS {
            attempts += 1;
            let (token, _reply) = self.inner.receive(now)?;
            let mut buf = self.rx.take_buffer();
            let meta = super::RxToken::meta(&token);
            super::RxToken::consume(token, |frame| buf.extend_from_slice(frame));
            self.rx.process(now, buf, meta);
        }
        let (frame, meta) = self.rx.ready.pop_front()?;
        let previous = core::mem::replace(&mut self.rx_slot, frame);
        self.rx.recycle(previous);
        self.rx.on_delivered();
        Some((
            FaultInjectorRxToken {
                frame: &self.rx_slot,
                meta,
            },
            FaultInjectorTxToken {
                inner: &mut self.inner,
                lane: &mut self.tx,
                now,
                meta: FrameMeta::default(),
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.tx.release_due(now);
        flush_tx(&mut self.inner, &mut self.tx, now);
        // Only promise a slot the inner device has. The probe token is
        // dropped unconsumed, which sends nothing.
        self.inner.transmit(now)?;
        Some(FaultInjectorTxToken {
            inner: &mut self.inner,
            lane: &mut self.tx,
            now,
            meta: FrameMeta::default(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn flush(&mut self, now: Instant) {
        self.tx.release_due(now);
        flush_tx(&mut self.inner, &mut self.tx, now);
        self.inner.flush(now);
    }
}

/// A frame received through a [`FaultInjector`].
#[derive(Debug)]
pub struct FaultInjectorRxToken<'a> {
    frame: &'a [u8],
    meta: FrameMeta,
}

impl super::RxToken for FaultInjectorRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }

    fn meta(&self) -> FrameMeta {
        self.meta
    }
}

/// Permission to send one frame through a [`FaultInjector`].
pub struct FaultInjectorTxToken<'a, D: Device> {
    inner: &'a mut D,
    lane: &'a mut Lane,
    now: Instant,
    meta: FrameMeta,
}

impl<D: Device> core::fmt::Debug for FaultInjectorTxToken<'_, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.debug_struct("FaultInjectorTxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device> super::TxToken for FaultInjectorTxToken<'_, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.lane.take_buffer();
        buf.resize(len, 0);
        let result = f(&mut buf);
        self.lane.process(self.now, buf, self.meta);
        flush_tx(self.inner, self.lane, self.now);
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
    use crate::phy::{Loopback, RxToken, TxToken};
    use std::vec;

    /// A distinct 64-byte frame for sequence number `i`.
    fn frame(i: u32) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(&i.to_be_bytes());
        f[4] = 0x5a;
        f
    }

    fn tag(f: &[u8]) -> u32 {
        u32::from_be_bytes([f[0], f[1], f[2], f[3]])
    }

    fn send<D: Device>(dev: &mut D, now: Instant, data: &[u8]) -> bool {
        match dev.transmit(now) {
            Some(tok) => {
                tok.consume(data.len(), |b| b.copy_from_slice(data));
                true
            }
            None => false,
        }
    }

    fn drain<D: Device>(dev: &mut D, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some((rx, _tx)) = dev.receive(now) {
            out.push(rx.consume(|f| f.to_vec()));
        }
        out
    }

    #[test]
    fn splitmix64_reference_values() {
        // Published first outputs of SplitMix64 seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn probability_conversions() {
        assert!(!Probability::NEVER.hits(0));
        assert!(Probability::ALWAYS.hits(u32::MAX));
        assert_eq!(Probability::from_fraction(1.5), Probability::ALWAYS);
        assert_eq!(Probability::from_fraction(f64::NAN), Probability::NEVER);
        assert_eq!(
            Probability::from_fraction(0.5),
            Probability::from_ppm(500_000)
        );
        let tenth = Probability::from_fraction(0.1);
        assert!(tenth.hits(429_496_728));
        assert!(!tenth.hits(429_496_729));
        assert_eq!(Probability::from_ppm(2_000_000), Probability::ALWAYS);
    }

    #[test]
    fn meta_passes_through_unless_the_frame_is_corrupted() {
        use crate::phy::{FrameMeta, TransportChecksum};
        let meta = FrameMeta::new(TransportChecksum::Valid, 1448);
        let (a, b) = Loopback::pair(1500, Duration::ZERO);
        let mut a = FaultInjector::new(a, 1);
        let mut b = FaultInjector::new(b, 2);
        for corrupt in [false, true] {
            a.tx_config_mut().corrupt = if corrupt {
                Probability::ALWAYS
            } else {
                Probability::NEVER
            };
            let mut tx = a.transmit(Instant::ZERO).unwrap();
            tx.set_meta(meta);
            tx.consume(64, |buf| buf.fill(0x5a));
            a.flush(Instant::ZERO);
            let (rx, _) = b.receive(Instant::ZERO).unwrap();
            let expected = if corrupt {
                FrameMeta::new(TransportChecksum::Unknown, 1448)
            } else {
                meta
            };
            assert_eq!(rx.meta(), expected, "corrupted: {corrupt}");
            rx.consume(|_| ());
        }
    }

    #[test]
    fn no_faults_is_transparent() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 1);
        for i in 0..100 {
            assert!(send(&mut dev, Instant::ZERO, &frame(i)));
        }
        let got = drain(&mut dev, Instant::ZERO);
        assert_eq!(got, (0..100).map(frame).collect::<Vec<_>>());
        assert_eq!(dev.rx_stats().delivered, 100);
        assert_eq!(dev.tx_stats().delivered, 100);
        assert_eq!(dev.tx_stats().frames, 100);
    }

    #[test]
    fn drop_count_matches_the_seeded_prng_exactly() {
        const SEED: u64 = 0x1234_5678;
        let drop = Probability::from_fraction(0.1);
        let mut dev = FaultInjector::new(Loopback::with_queue_limit(1500, 20_000), SEED);
        dev.tx_config_mut().drop = drop;
        for i in 0..10_000 {
            assert!(send(&mut dev, Instant::ZERO, &frame(i)));
        }
        // Replay the tx PRNG: four draws per frame, the first decides drop.
        let mut rng = SplitMix64::new(SEED ^ TX_SEED_XOR);
        let mut expected = Vec::new();
        for i in 0..10_000 {
            let drop_roll = rng.next_u32();
            for _ in 0..3 {
                rng.next_u32();
            }
            if !drop.hits(drop_roll) {
                expected.push(i);
            }
        }
        let got: Vec<u32> = drain(&mut dev, Instant::ZERO)
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, expected);
        let stats = dev.tx_stats();
        assert_eq!(stats.dropped, 10_000 - expected.len() as u64);
        // 10% of 10,000 give or take a few standard deviations.
        assert!((850..1150).contains(&stats.dropped), "{}", stats.dropped);
    }

    #[test]
    fn rx_drops_use_the_rx_stream() {
        const SEED: u64 = 99;
        let mut dev = FaultInjector::new(Loopback::new(1500), SEED);
        dev.rx_config_mut().drop = Probability::from_fraction(0.5);
        for i in 0..200 {
            send(&mut dev, Instant::ZERO, &frame(i));
        }
        let mut rng = SplitMix64::new(SEED);
        let expected: Vec<u32> = (0..200)
            .filter(|_| {
                let roll = rng.next_u32();
                (0..3).for_each(|_| {
                    rng.next_u32();
                });
                !Probability::from_fraction(0.5).hits(roll)
            })
            .collect();
        let got: Vec<u32> = drain(&mut dev, Instant::ZERO)
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(dev.rx_stats().dropped as usize, 200 - expected.len());
        assert_eq!(dev.tx_stats().dropped, 0);
    }

    #[test]
    fn duplicate_always_sends_each_frame_twice_in_a_row() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 7);
        dev.tx_config_mut().duplicate = Probability::ALWAYS;
        for i in 0..3 {
            send(&mut dev, Instant::ZERO, &frame(i));
        }
        let got: Vec<u32> = drain(&mut dev, Instant::ZERO)
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(dev.tx_stats().duplicated, 3);
        assert_eq!(dev.tx_stats().delivered, 6);
    }

    #[test]
    fn held_frame_comes_out_after_exactly_n_others() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 3);
        dev.tx_config_mut().reorder = Reorder::Frames {
            probability: Probability::ALWAYS,
            frames: 3,
        };
        dev.tx_config_mut().max_held = 1;
        for i in 0..10 {
            send(&mut dev, Instant::ZERO, &frame(i));
        }
        // 0 is held (the only slot); 1, 2, 3 overtake it; then 4 is held
        // behind 5, 6, 7; then 8 is held and never released (no 3 more).
        let got: Vec<u32> = drain(&mut dev, Instant::ZERO)
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, vec![1, 2, 3, 0, 5, 6, 7, 4, 9]);
        assert_eq!(dev.held_frames(), 1);
        assert_eq!(dev.tx_stats().reordered, 3);
    }

    #[test]
    fn rx_hold_by_frames() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 3);
        dev.rx_config_mut().reorder = Reorder::Frames {
            probability: Probability::ALWAYS,
            frames: 2,
        };
        dev.rx_config_mut().max_held = 1;
        for i in 0..6 {
            send(&mut dev, Instant::ZERO, &frame(i));
        }
        let got: Vec<u32> = drain(&mut dev, Instant::ZERO)
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, vec![1, 2, 0, 4, 5, 3]);
        assert_eq!(dev.rx_stats().reordered, 2);
    }

    #[test]
    fn time_hold_releases_at_exactly_the_deadline() {
        let (a, mut b) = Loopback::pair(1500, Duration::ZERO);
        let mut dev = FaultInjector::new(a, 5);
        let delay = Duration::from_millis(10);
        dev.tx_config_mut().reorder = Reorder::Time {
            probability: Probability::ALWAYS,
            delay,
        };
        dev.tx_config_mut().max_held = 1;
        let t0 = Instant::from_millis(100);
        send(&mut dev, t0, &frame(0));
        send(&mut dev, t0, &frame(1));
        assert_eq!(dev.next_release_at(), Some(Instant::from_millis(110)));
        let got: Vec<u32> = drain(&mut b, t0).iter().map(|f| tag(f)).collect();
        assert_eq!(got, vec![1]);
        // One microsecond early: still held.
        let _ = dev.transmit(Instant::from_micros(109_999));
        assert!(drain(&mut b, Instant::from_millis(200)).is_empty());
        // At the deadline any call to the device releases it.
        let _ = dev.receive(Instant::from_millis(110));
        let got: Vec<u32> = drain(&mut b, Instant::from_millis(110))
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, vec![0]);
        assert_eq!(dev.next_release_at(), None);
    }

    #[test]
    fn corrupted_frame_differs_in_exactly_the_drawn_bits() {
        const SEED: u64 = 42;
        let mut dev = FaultInjector::new(Loopback::new(1500), SEED);
        dev.tx_config_mut().corrupt = Probability::ALWAYS;
        dev.tx_config_mut().max_corrupt_bits = 4;
        let original = frame(77);
        send(&mut dev, Instant::ZERO, &original);
        let got = drain(&mut dev, Instant::ZERO);
        assert_eq!(got.len(), 1);
        // Replay: four decision draws, then the count, then the positions.
        let mut rng = SplitMix64::new(SEED ^ TX_SEED_XOR);
        for _ in 0..4 {
            rng.next_u32();
        }
        let count = 1 + rng.below(4);
        let mut expected = original.clone();
        let mut positions = Vec::new();
        while positions.len() < count as usize {
            let bit = rng.below(64 * 8);
            if !positions.contains(&bit) {
                positions.push(bit);
                expected[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            }
        }
        assert_eq!(got[0], expected);
        let differing_bits: u32 = original
            .iter()
            .zip(&got[0])
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(differing_bits, count as u32);
        assert_eq!(dev.tx_stats().corrupted, 1);
    }

    #[test]
    fn corrupting_a_one_byte_frame_with_many_bits_terminates() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 8);
        dev.tx_config_mut().corrupt = Probability::ALWAYS;
        dev.tx_config_mut().max_corrupt_bits = 255;
        for _ in 0..50 {
            send(&mut dev, Instant::ZERO, &[0]);
        }
        let got = drain(&mut dev, Instant::ZERO);
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|f| f.len() == 1 && f[0] != 0));
    }

    #[test]
    fn size_limit_drops_larger_frames() {
        let mut dev = FaultInjector::new(Loopback::new(1500), 0);
        dev.rx_config_mut().max_frame_len = Some(100);
        send(&mut dev, Instant::ZERO, &[1; 100]);
        send(&mut dev, Instant::ZERO, &[2; 101]);
        send(&mut dev, Instant::ZERO, &[3; 60]);
        assert_eq!(
            drain(&mut dev, Instant::ZERO),
            vec![vec![1; 100], vec![3; 60]]
        );
        assert_eq!(dev.rx_stats().oversized, 1);
    }

    #[test]
    fn token_bucket_admits_exactly_the_configured_rate() {
        let (a, mut b) = Loopback::pair(1500, Duration::ZERO);
        let mut dev = FaultInjector::new(a, 0);
        dev.tx_config_mut().rate_limit = Some(RateLimit {
            frames: 3,
            interval: Duration::from_millis(10),
        });
        let mut next = 0;
        let mut burst = |dev: &mut FaultInjector<_>, now: Instant, n: u32| {
            for _ in 0..n {
                send(dev, now, &frame(next));
                next += 1;
            }
        };
        // A full bucket lets 3 through at once.
        burst(&mut dev, Instant::ZERO, 5);
        // 3333 us refill 9999 frame-us, one short of a token.
        burst(&mut dev, Instant::from_micros(3_333), 1);
        // At 3334 us the bucket holds 10,002: one token.
        burst(&mut dev, Instant::from_micros(3_334), 2);
        // Long idle: refill caps at 3 tokens.
        burst(&mut dev, Instant::from_secs(10), 5);
        let got: Vec<u32> = drain(&mut b, Instant::from_secs(10))
            .iter()
            .map(|f| tag(f))
            .collect();
        assert_eq!(got, vec![0, 1, 2, 6, 8, 9, 10]);
        assert_eq!(dev.tx_stats().rate_limited, 6);
    }

    #[test]
    fn copies_beyond_inner_capacity_are_counted_by_inner() {
        let (a, _b) = Loopback::pair_with_queue_limit(1500, Duration::ZERO, 1);
        let mut dev = FaultInjector::new(a, 0);
        dev.tx_config_mut().duplicate = Probability::ALWAYS;
        // The Loopback link always hands out a token (it counts drops itself),
        // so the first copy is accepted and the second is dropped by the link.
        assert!(send(&mut dev, Instant::ZERO, &frame(0)));
        assert_eq!(dev.inner().stats().transmitted, 1);
        assert_eq!(dev.inner().stats().dropped_queue_full, 1);
    }

    #[test]
    fn same_seed_same_outcome() {
        let run = |seed| {
            let mut dev = FaultInjector::new(Loopback::with_queue_limit(1500, 5000), seed);
            let cfg = FaultConfig {
                drop: Probability::from_fraction(0.1),
                duplicate: Probability::from_fraction(0.05),
                corrupt: Probability::from_fraction(0.01),
                reorder: Reorder::Frames {
                    probability: Probability::from_fraction(0.05),
                    frames: 2,
                },
                ..FaultConfig::default()
            };
            dev.set_config(cfg);
            for i in 0..2000 {
                send(&mut dev, Instant::ZERO, &frame(i));
            }
            (
                drain(&mut dev, Instant::ZERO),
                dev.tx_stats(),
                dev.rx_stats(),
            )
        };
        let (a, sa, ra) = run(11);
        let (b, sb, rb) = run(11);
        let (c, _, _) = run(12);
        assert_eq!(a, b);
        assert_eq!((sa, ra), (sb, rb));
        assert_ne!(a, c);
        assert!(sa.dropped > 0 && sa.duplicated > 0 && sa.reordered > 0 && sa.corrupted > 0);
    }
}
