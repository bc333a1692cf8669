//! `RawSocket`'s batched paths against real Linux interfaces: the
//! `PACKET_MMAP` rings (`TPACKET_V3`, `TPACKET_V2`), `recvmmsg`/`sendmmsg`
//! and the plain path, each with and without the virtio-net header, over a
//! veth pair in a private network namespace (created by `unshare` on a
//! dedicated thread, so the host's interfaces are never touched). Rings are
//! made tiny so that they wrap hundreds of times; every frame is numbered
//! and must arrive once, whole, in order; and none of the paths allocates
//! per frame (a counting global allocator watches). Needs root and
//! iproute2; otherwise each case shows as ignored, with the reason.

#[macro_use]
mod runner;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration as StdDuration, Instant as WallClock};

use pollnet::phy::{
    self, Device, RawSocket, RawSocketIo, RawSocketOptions, RxToken, TpacketVersion,
    TransportChecksum, TxToken,
};
use pollnet::time::{Duration, Instant};

const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// IEEE 802 local experimental EtherType: nothing else on the link uses it.
const TEST_ETHERTYPE: [u8; 2] = [0x88, 0xb5];
/// Frames per direction in the wrap-around test.
const FRAMES: u32 = 2000;

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(every_path_carries_numbered_frames_both_ways_through_wrapping_rings)
            .root()
            .programs(&["ip"]),
        case!(full_transmit_ring_reports_busy_and_loses_nothing)
            .root()
            .programs(&["ip"]),
        case!(partial_checksums_are_marked_on_every_path)
            .root()
            .programs(&["ip"]),
        case!(raw_socket_paths_allocate_nothing_per_frame)
            .root()
            .programs(&["ip"]),
    ])
}

/// Counts allocations made by the current thread.
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

/// Runs `f` on a new thread inside a new, private network namespace; the
/// case is ignored if namespaces are not available.
fn in_private_netns<F: FnOnce() + Send + 'static>(f: F) {
    if let Err(reason) = try_private_netns(f) {
        runner::skip(reason);
    }
}

fn try_private_netns<F: FnOnce() + Send + 'static>(f: F) -> Result<(), String> {
    let handle = std::thread::spawn(move || {
        // SAFETY: unshare(2) with CLONE_NEWNET moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNET): {}",
                std::io::Error::last_os_error()
            ));
        }
        f();
        Ok(())
    });
    match handle.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A veth pair, both ends up, IPv6 off (no stray frames); deleted on drop.
struct VethPair {
    ours: String,
    theirs: String,
}

impl VethPair {
    fn new(tag: &str) -> VethPair {
        let pid = std::process::id();
        let pair = VethPair {
            ours: format!("pn{tag}a{pid}"),
            theirs: format!("pn{tag}b{pid}"),
        };
        ip(&[
            "link",
            "add",
            &pair.ours,
            "type",
            "veth",
            "peer",
            "name",
            &pair.theirs,
        ]);
        for dev in [&pair.ours, &pair.theirs] {
            let path = format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
            let _ = std::fs::write(path, "1");
        }
        ip(&["link", "set", &pair.ours, "address", "02:00:00:00:00:01"]);
        ip(&["link", "set", &pair.ours, "up"]);
        ip(&["link", "set", &pair.theirs, "up"]);
        pair
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.ours])
            .output();
    }
}

/// Frame `n` of a numbered stream: test EtherType, the number, then a
/// length and a fill that depend on it (60 to 1500 bytes).
fn numbered(dst: [u8; 6], src: [u8; 6], n: u32) -> Vec<u8> {
    let len = 60 + (n as usize * 37) % 1441;
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE);
    f.extend_from_slice(&n.to_be_bytes());
    while f.len() < len {
        f.push((f.len() as u32 ^ n) as u8);
    }
    f
}

fn number_of(frame: &[u8]) -> Option<u32> {
    (frame.len() >= 18 && frame[12..14] == TEST_ETHERTYPE)
        .then(|| u32::from_be_bytes([frame[14], frame[15], frame[16], frame[17]]))
}

/// The options under test, tiny rings so that they wrap.
fn variants() -> Vec<(&'static str, RawSocketOptions)> {
    let mut out = Vec::new();
    for vnet in [true, false] {
        for (name, io) in [
            ("V3 rings", RawSocketIo::Ring(TpacketVersion::V3)),
            ("V2 rings", RawSocketIo::Ring(TpacketVersion::V2)),
            ("mmsg", RawSocketIo::Mmsg),
        ] {
            let mut o = RawSocketOptions::new();
            o.rx = io;
            o.tx = io;
            o.vnet_header = vnet;
            // Two 128 KiB receive blocks (V3) or a 256 KiB ring of slots
            // (V2); eight transmit slots; batches of 16.
            o.rx_ring_bytes = 256 << 10;
            o.rx_block_bytes = 128 << 10;
            o.tx_ring_frames = 8;
            o.batch = 16;
            out.push((
                if vnet {
                    name
                } else {
                    leak(format!("{name}, no vnet"))
                },
                o,
            ));
        }
    }
    out.push(("plain", RawSocketOptions::plain()));
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Receives what `dev` has, appending frame numbers of test frames to
/// `got`; returns when `want` frames are there or after 10 s.
fn receive_numbers(
    dev: &mut RawSocket,
    got: &mut Vec<u32>,
    want: usize,
    check: &dyn Fn(u32, &[u8]),
) {
    let deadline = WallClock::now() + StdDuration::from_secs(10);
    while got.len() < want && WallClock::now() < deadline {
        let mut any = false;
        while let Some((rx, _tx)) = dev.receive(Instant::ZERO) {
            any = true;
            rx.consume(|f| {
                if let Some(n) = number_of(f) {
                    check(n, f);
                    got.push(n);
                }
            });
        }
        dev.flush(Instant::ZERO);
        if !any {
            phy::wait(dev.as_raw_fd(), Some(Duration::from_millis(20))).unwrap();
        }
    }
    // A frame that never comes fails here, at once, instead of making
    // every later round wait out its deadline (a run once looked hung).
    let missing: Vec<u32> = (0..want as u32).filter(|n| !got.contains(n)).collect();
    assert!(
        got.len() >= want,
        "{} of {want} frames after 10 s; missing {missing:?}; receiver {:?}",
        got.len(),
        dev.stats()
    );
}

fn every_path_carries_numbered_frames_both_ways_through_wrapping_rings() {
    for (name, options) in variants() {
        in_private_netns(move || {
            let veth = VethPair::new("w");
            let mut ours = RawSocket::with_options(&veth.ours, options).unwrap();
            ours.set_promiscuous(true).unwrap();
            let mut theirs =
                RawSocket::with_options(&veth.theirs, RawSocketOptions::plain()).unwrap();
            theirs.set_promiscuous(true).unwrap();
            let their_mac = theirs.hardware_address().unwrap().0;
            let path = ours.io_path();
            println!("path: {name}: {path}");
            if options.rx != RawSocketIo::Mmsg || options.vnet_header {
                // This kernel grants every path asked for; a fallback would
                // be a regression in the setup code.
                assert_eq!((path.rx, path.tx), (options.rx, options.tx), "{name}");
                assert_eq!(path.vnet_header, options.vnet_header, "{name}");
            }

            // Ours -> theirs, in bursts of up to 40 (the 8-slot ring fills
            // and is kicked inside the burst), flushed at the end of each.
            let mut sent = 0u32;
            let mut got = Vec::new();
            let check_out = |n: u32, f: &[u8]| {
                assert_eq!(f, numbered(their_mac, OUR_MAC, n), "frame {n} damaged")
            };
            while sent < FRAMES {
                for _ in 0..40 {
                    if sent == FRAMES {
                        break;
                    }
                    let Some(tx) = ours.transmit(Instant::ZERO) else {
                        break;
                    };
                    let frame = numbered(their_mac, OUR_MAC, sent);
                    tx.consume(frame.len(), |b| b.copy_from_slice(&frame));
                    sent += 1;
                }
                ours.flush(Instant::ZERO);
                receive_numbers(&mut theirs, &mut got, sent as usize, &check_out);
            }
            assert_eq!(
                got,
                (0..FRAMES).collect::<Vec<_>>(),
                "{name}: ours -> theirs"
            );
            let stats = ours.stats();
            assert_eq!(stats.transmitted, u64::from(FRAMES), "{name}: {stats:?}");
            assert!(
                stats.tx_batches < u64::from(FRAMES) || options.batch == 1,
                "{name}: batched: {stats:?}"
            );

            // Theirs -> ours, 50 at a time so the tiny receive ring never
            // overflows.
            let mut got = Vec::new();
            let check_in = |n: u32, f: &[u8]| {
                assert_eq!(f, numbered(OUR_MAC, their_mac, n), "frame {n} damaged")
            };
            let mut sent = 0u32;
            while sent < FRAMES {
                for _ in 0..50 {
                    let frame = numbered(OUR_MAC, their_mac, sent);
                    theirs
                        .transmit(Instant::ZERO)
                        .unwrap()
                        .consume(frame.len(), |b| b.copy_from_slice(&frame));
                    sent += 1;
                }
                receive_numbers(&mut ours, &mut got, sent as usize, &check_in);
            }
            assert_eq!(
                got,
                (0..FRAMES).collect::<Vec<_>>(),
                "{name}: theirs -> ours"
            );
            let stats = ours.stats();
            assert_eq!(stats.truncated + stats.rx_errors, 0, "{name}: {stats:?}");
            println!("stats: {name}: {stats:?}");
        });
    }
}

fn full_transmit_ring_reports_busy_and_loses_nothing() {
    for version in [TpacketVersion::V3, TpacketVersion::V2] {
        in_private_netns(move || {
            let veth = VethPair::new("f");
            let mut options = RawSocketOptions::new();
            options.rx = RawSocketIo::Ring(version);
            options.tx = RawSocketIo::Ring(version);
            options.tx_ring_frames = 8;
            let mut ours = RawSocket::with_options(&veth.ours, options).unwrap();
            assert_eq!(ours.io_path().tx, RawSocketIo::Ring(version));
            let mut theirs =
                RawSocket::with_options(&veth.theirs, RawSocketOptions::plain()).unwrap();
            theirs.set_promiscuous(true).unwrap();
            let their_mac = theirs.hardware_address().unwrap().0;

            // With our end down the kernel takes nothing: the ring fills,
            // then the device reports busy.
            ip(&["link", "set", &veth.ours, "down"]);
            let mut queued = 0u32;
            while let Some(tx) = ours.transmit(Instant::ZERO) {
                let frame = numbered(their_mac, OUR_MAC, queued);
                tx.consume(frame.len(), |b| b.copy_from_slice(&frame));
                queued += 1;
                assert!(queued <= 64, "a ring of 8 slots took {queued} frames");
            }
            assert_eq!(queued, 8, "exactly the ring's slots");
            ours.flush(Instant::ZERO);
            assert!(ours.transmit(Instant::ZERO).is_none(), "still busy");
            assert!(ours.stats().tx_busy >= 2);
            assert_eq!(ours.stats().transmitted, 0);

            // Back up: one flush sends the eight, in order, then more follow.
            ip(&["link", "set", &veth.ours, "up"]);
            let deadline = WallClock::now() + StdDuration::from_secs(5);
            while !ours.tx_idle() && WallClock::now() < deadline {
                ours.flush(Instant::ZERO);
                std::thread::sleep(StdDuration::from_millis(5));
            }
            assert!(ours.tx_idle(), "the kernel sent every slot");
            for n in queued..queued + 20 {
                let frame = numbered(their_mac, OUR_MAC, n);
                ours.transmit(Instant::ZERO)
                    .expect("room again")
                    .consume(frame.len(), |b| b.copy_from_slice(&frame));
            }
            ours.flush(Instant::ZERO);
            let mut got = Vec::new();
            let check = |n: u32, f: &[u8]| assert_eq!(f, numbered(their_mac, OUR_MAC, n));
            receive_numbers(&mut theirs, &mut got, 28, &check);
            assert_eq!(
                got,
                (0..28).collect::<Vec<_>>(),
                "{version:?}: nothing lost or reordered"
            );
            assert_eq!(ours.stats().transmitted, 28);
        });
    }
}

/// UDP from a kernel socket on a veth end with checksum offload (veth's
/// default): every path hands it up marked partial, without a software
/// pass, and the data is intact.
fn partial_checksums_are_marked_on_every_path() {
    for (name, options) in variants() {
        in_private_netns(move || {
            let veth = VethPair::new("p");
            ip(&["addr", "add", "192.0.2.2/24", "dev", &veth.theirs]);
            ip(&[
                "neigh",
                "add",
                "192.0.2.1",
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                &veth.theirs,
            ]);
            let mut ours = RawSocket::with_options(&veth.ours, options).unwrap();
            let udp = std::net::UdpSocket::bind("192.0.2.2:0").unwrap();
            udp.send_to(b"partial udp", "192.0.2.1:9").unwrap();
            let deadline = WallClock::now() + StdDuration::from_secs(5);
            let mut seen = None;
            while seen.is_none() && WallClock::now() < deadline {
                phy::wait(ours.as_raw_fd(), Some(Duration::from_millis(20))).unwrap();
                while let Some((rx, _)) = ours.receive(Instant::ZERO) {
                    let meta = rx.meta();
                    let frame = rx.consume(|f| f.to_vec());
                    if frame.len() > 42 && frame[23] == 17 && frame[36..38] == [0, 9] {
                        seen = Some((meta, frame));
                    }
                }
            }
            let (meta, frame) = seen.unwrap_or_else(|| panic!("{name}: no UDP frame"));
            assert_eq!(&frame[42..], b"partial udp", "{name}");
            if options.complete_partial_checksums {
                assert_eq!(meta.checksum, TransportChecksum::Unknown, "{name}");
                assert_eq!(ours.stats().checksums_completed, 1, "{name}");
            } else {
                assert_eq!(meta.checksum, TransportChecksum::Partial, "{name}");
                assert_eq!(ours.stats().partial_checksums, 1, "{name}");
                assert_eq!(ours.stats().checksums_completed, 0, "{name}");
            }
        });
    }
}

/// Each end sends a frame of varying length per step (broadcast, the test
/// EtherType) and hands it over, then both drain what arrived.
fn exchange(a: &mut RawSocket, b: &mut RawSocket, steps: u32) -> u64 {
    let mut received = 0;
    for step in 0..steps {
        for (i, dev) in [&mut *a, &mut *b].into_iter().enumerate() {
            let len = 60 + ((step as usize * 7 + i * 13) % 1400);
            if let Some(tx) = dev.transmit(Instant::ZERO) {
                tx.consume(len, |buf| {
                    buf.fill(step as u8);
                    buf[..6].fill(0xff);
                    buf[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2 + i as u8]);
                    buf[12..14].copy_from_slice(&TEST_ETHERTYPE);
                });
            }
            dev.flush(Instant::ZERO);
        }
        received += drain(a) + drain(b);
    }
    received
}

fn drain(dev: &mut RawSocket) -> u64 {
    let mut n = 0;
    while let Some((rx, _)) = dev.receive(Instant::ZERO) {
        n += rx.consume(|f| u64::from(number_of(f).is_some() || f[12..14] == TEST_ETHERTYPE));
    }
    dev.flush(Instant::ZERO);
    n
}

/// On each path, after a warm-up, receiving from the ring or batch and
/// sending through it allocate nothing.
fn raw_socket_paths_allocate_nothing_per_frame() {
    for io in [
        RawSocketIo::Ring(TpacketVersion::V3),
        RawSocketIo::Ring(TpacketVersion::V2),
        RawSocketIo::Mmsg,
    ] {
        in_private_netns(move || {
            let veth = VethPair::new("n");
            let mut options = RawSocketOptions::new();
            options.rx = io;
            options.tx = io;
            options.rx_ring_bytes = 1 << 20;
            options.rx_block_bytes = 128 << 10;
            options.tx_ring_frames = 32;
            let mut a = RawSocket::with_options(&veth.ours, options).unwrap();
            let mut b = RawSocket::with_options(&veth.theirs, options).unwrap();
            assert_eq!(a.io_path().rx, io);
            exchange(&mut a, &mut b, 2_000);
            let before = allocations();
            let mut received = exchange(&mut a, &mut b, 10_000);
            // Frames still in a V3 block not yet handed over.
            std::thread::sleep(StdDuration::from_millis(20));
            received += drain(&mut a) + drain(&mut b);
            let allocated = allocations() - before;
            println!("raw socket {io}: {received} frames, {allocated} allocations");
            assert!(received > 15_000, "{io}: {received}");
            assert_eq!(
                allocated, 0,
                "{io}: allocations while moving {received} frames"
            );
        });
    }
}
