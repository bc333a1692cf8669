//! Once their queues have grown to working size, the in-memory link, the
//! fault injector and the pcap writer move frames without allocating: a counting global allocator watches a
//! long exchange after a warm-up.
#![cfg(feature = "std")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pollnet::phy::{
    Device, FaultConfig, FaultInjector, Loopback, PcapDirection, PcapWriter, Probability, Reorder,
    RxToken, TxToken,
};
use pollnet::time::{Duration, Instant};

/// Counts allocations made by the current thread (other tests' threads do
/// not disturb the count).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the slot may be gone while a thread is being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(|n| n.get())
}

/// Each end sends `per_step` frames of varying length per step, then both
/// drain what has arrived; the clock advances 100 us per step.
fn exchange<A: Device, B: Device>(a: &mut A, b: &mut B, now: &mut Instant, steps: u32) -> u64 {
    let mut received = 0;
    for step in 0..steps {
        for (i, dev) in [&mut *a as &mut dyn FnMutDevice, &mut *b]
            .into_iter()
            .enumerate()
        {
            let len = 60 + ((step as usize * 7 + i * 13) % 1400);
            dev.send(*now, len, step as u8);
        }
        received += a.drain(*now) + b.drain(*now);
        *now += Duration::from_micros(100);
    }
    received
}

/// Object-safe helpers so both ends can be driven in one loop.
trait FnMutDevice {
    fn send(&mut self, now: Instant, len: usize, fill: u8);
    fn drain(&mut self, now: Instant) -> u64;
}

impl<D: Device> FnMutDevice for D {
    fn send(&mut self, now: Instant, len: usize, fill: u8) {
        if let Some(tx) = self.transmit(now) {
            tx.consume(len, |buf| {
                buf.fill(fill);
                // A frame any kernel passes along: broadcast, local
                // experimental EtherType.
                if len >= 14 {
                    buf[..6].fill(0xff);
                    buf[6..12].copy_from_slice(&[2, 0, 0, 0, 0, fill | 2]);
                    buf[12..14].copy_from_slice(&[0x88, 0xb5]);
                }
            });
        }
        self.flush(now);
    }
    fn drain(&mut self, now: Instant) -> u64 {
        let mut n = 0;
        while let Some((rx, _tx)) = self.receive(now) {
            rx.consume(|frame| assert!(frame.len() >= 60));
            n += 1;
        }
        n
    }
}

/// The link, a fault injector that only drops, and a pcap writer: the
/// working set is fixed once warm, so not one allocation follows.
#[test]
fn steady_state_allocates_nothing() {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let drops = FaultConfig {
        drop: Probability::from_fraction(0.1),
        ..FaultConfig::default()
    };
    let mut a = FaultInjector::new(a, 1);
    a.set_config(drops);
    let mut b = FaultInjector::new(b, 2);
    b.set_config(drops);
    // A pcap sink with room for everything, so writing does not allocate.
    let sink = Vec::with_capacity(32 << 20);
    let mut a = PcapWriter::new(a, sink, PcapDirection::Both).unwrap();
    let mut now = Instant::ZERO;

    let warm_up = exchange(&mut a, &mut b, &mut now, 1_000);
    assert!(warm_up > 1_500);
    let before = allocations();
    let received = exchange(&mut a, &mut b, &mut now, 10_000);
    let allocated = allocations() - before;
    assert!(received > 15_000, "{received}");
    assert_eq!(allocated, 0, "allocations while moving {received} frames");
    assert!(a.inner().tx_stats().dropped > 0 && b.rx_stats().dropped > 0);
}

/// With duplication and reordering the number of frames in flight wanders,
/// and each new high allocates a buffer once; but buffers are recycled, so
/// allocations stay a handful while frames number in the tens of thousands
/// (one per frame would be over 15,000).
#[test]
fn allocations_do_not_grow_with_traffic_under_all_faults() {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let faults = FaultConfig {
        drop: Probability::from_fraction(0.1),
        duplicate: Probability::from_fraction(0.05),
        corrupt: Probability::from_fraction(0.01),
        reorder: Reorder::Frames {
            probability: Probability::from_fraction(0.05),
            frames: 3,
        },
        ..FaultConfig::default()
    };
    let mut a = FaultInjector::new(a, 1);
    a.set_config(faults);
    let mut b = FaultInjector::new(b, 2);
    b.set_config(faults);
    let mut now = Instant::ZERO;

    exchange(&mut a, &mut b, &mut now, 2_000);
    let before = allocations();
    let received = exchange(&mut a, &mut b, &mut now, 10_000);
    let allocated = allocations() - before;
    assert!(received > 15_000, "{received}");
    assert!(
        allocated <= 16,
        "{allocated} allocations while moving {received} frames"
    );
    let (tx, rx) = (a.tx_stats(), b.rx_stats());
    assert!(tx.duplicated > 0 && tx.reordered > 0 && rx.corrupted > 0);
}
