//! SACK against the Linux kernel under loss: pollnet on a veth pair with 3%
//! of frames dropped each way by a FaultInjector, the kernel in a private
//! namespace (TEST-NET-1 addresses), 5 MB each way. Two captures: the wire
//! (between the injector and the raw socket: what the kernel sent and got)
//! and pollnet's side (between the stack and the injector: every frame
//! pollnet sent, and only the frames that reached it). tshark reads both.
//!
//! Checked: SACK-permitted in both SYNs; SACK blocks on the wire in both
//! directions; every block pollnet sent covers bytes that had reached it;
//! and, judged against the SACK blocks that had reached pollnet, pollnet
//! retransmits no segment the kernel had SACKed (tail loss probes, and the
//! retransmissions after an RTO that found the peer had reneged, aside).
//! Root, iproute2, ethtool and tshark; without them the case is ignored,
//! with the reason. (Linux only, like the other interop tests.)

mod interop;
#[macro_use]
mod runner;

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::AsRawFd;
use std::path::Path;

use interop::cases::*;
use interop::kernel;
use interop::netenv::{Offload, VethNet};
use interop::stack::*;
use interop::{CaseTimer, megabytes, remove_capture, serial, temp_path, tshark};
use pollnet::phy::{
    Device, FaultConfig, FaultInjector, PcapDirection, PcapWriter, Probability, RawSocket,
};

const PORT: u16 = 5020;
const POLLNET: &str = "192.0.2.1";
const KERNEL: &str = "192.0.2.2";
/// A retransmission is the RTO's when pollnet had received nothing for at
/// least this long before it (the test's minimum RTO is 200 ms).
const RTO_SILENCE: f64 = 0.15;

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(ranges_merge_and_cover),
        case!(sack_under_three_percent_loss_both_ways_and_no_retransmission_of_sacked_data)
            .root()
            .programs(&["ip", "ethtool", "tshark"]),
    ])
}

fn pcap_writer<D: Device>(device: D, path: &Path) -> PcapWriter<D, BufWriter<File>> {
    let file = BufWriter::with_capacity(1 << 20, File::create(path).expect("create pcap"));
    let mut writer = PcapWriter::new(device, file, PcapDirection::Both).expect("pcap header");
    writer.set_flush_each_frame(false);
    writer.set_complete_checksums(true);
    writer
}

fn sack_under_three_percent_loss_both_ways_and_no_retransmission_of_sacked_data() {
    let _serial = serial();
    let _timer = CaseTimer::start("SACK under 3% loss");
    let net = VethNet::create(Offload::TxOff).expect("test network");
    let wire = temp_path("sack-wire.pcap");
    let stack_side = temp_path("sack-stack.pcap");
    println!("capture: {} and {}", wire.display(), stack_side.display());
    // No virtio-net header: pollnet sends MSS-sized segments, so the
    // injector loses segments (as a wire does), not 64 KiB super-segments,
    // and every frame in the captures is one segment.
    let mut options = interop::paths::raw_socket_options();
    options.vnet_header = false;
    let mut raw = RawSocket::with_options(&net.pollnet_if, options).expect("RawSocket::new");
    println!("path: raw socket: {}", raw.io_path());
    raw.set_promiscuous(true).expect("promiscuous mode");
    kernel::force_receive_buffer(raw.as_raw_fd(), 16 << 20);
    let fd = raw.as_raw_fd();
    let mut faults = FaultInjector::new(pcap_writer(raw, &wire), 0x5ac_1055);
    let config = FaultConfig {
        drop: Probability::from_fraction(0.03),
        ..FaultConfig::default()
    };
    *faults.rx_config_mut() = config;
    *faults.tx_config_mut() = config;
    let device = pcap_writer(faults, &stack_side);
    let mut tcp = tcp_config(MSL);
    tcp.sack = true;
    let mut stack = Stack::new(device, fd, tcp);
    let listener = listen(&mut stack, tcp, PORT, 4);
    let size = megabytes(5);
    let kernel = kernel_client(&net.ns, PORT, Order::SendFirst, size);
    let outcome = connection(
        &mut stack,
        tcp,
        Opener::Accept(listener),
        Order::RecvFirst,
        size,
        kernel,
        "SACK under 3% loss",
    );
    check_streams(&outcome, size, "SACK under 3% loss");
    let stats = stack.iface.stats();
    let (rx, tx) = (
        stack.device.inner().rx_stats(),
        stack.device.inner().tx_stats(),
    );
    println!(
        "stats: SACK under 3% loss: pollnet retransmissions {}, frames dropped rx {} / tx {}; {stats:?}",
        stats.tcp_retransmissions, rx.dropped, tx.dropped
    );
    assert!(
        rx.dropped > 0 && tx.dropped > 0,
        "the injector dropped frames both ways"
    );
    stack.device.flush().expect("flush pcap");
    stack
        .device
        .inner_mut()
        .inner_mut()
        .flush()
        .expect("flush pcap");
    drop(stack);

    // SACK negotiated: SACK-permitted on both SYNs (the wire).
    for (from, what) in [(KERNEL, "the kernel's SYN"), (POLLNET, "pollnet's SYN+ACK")] {
        let filter = format!("ip.src=={from} && tcp.flags.syn==1 && tcp.options.sack_perm");
        assert_eq!(
            tshark::count(&wire, &filter, &[PORT]),
            1,
            "{what} offers SACK-permitted"
        );
    }
    // SACK blocks on the wire, both ways.
    let blocks_from = |from: &str| {
        let filter = format!("ip.src=={from} && tcp.options.sack_le");
        tshark::count(&wire, &filter, &[PORT])
    };
    let (from_kernel, from_pollnet) = (blocks_from(KERNEL), blocks_from(POLLNET));
    println!(
        "sack: on the wire, ACKs with SACK blocks: from the kernel {from_kernel}, from pollnet {from_pollnet}"
    );

    // pollnet's side of the injector, frame by frame.
    let rows = tshark::fields(
        &stack_side,
        "tcp",
        &[
            "frame.time_epoch",
            "ip.src",
            "tcp.flags.syn",
            "tcp.seq",
            "tcp.ack",
            "tcp.len",
            "tcp.options.sack_le",
            "tcp.options.sack_re",
        ],
        &[PORT],
    );
    let frames: Vec<Frame> = rows.iter().filter_map(|row| Frame::parse(row)).collect();
    let audit = Audit::run(&frames);
    println!("sack: pollnet's side of the injector: {audit:?}");
    assert!(from_kernel > 0, "the kernel sent SACK blocks");
    assert!(from_pollnet > 0, "pollnet sent SACK blocks");
    assert!(
        audit.sack_blocks_received > 0,
        "SACK blocks reached pollnet"
    );
    assert!(
        audit.retransmissions > 0,
        "pollnet retransmitted what was lost"
    );
    assert!(
        audit.blocks_beyond_received.is_empty(),
        "pollnet SACKed bytes that had not reached it: {:?}",
        audit.blocks_beyond_received
    );
    assert!(
        audit.sacked_retransmitted.is_empty(),
        "pollnet retransmitted {} segment(s) the kernel had SACKed (stream offsets, capture \
         time): {:?}",
        audit.sacked_retransmitted.len(),
        &audit.sacked_retransmitted[..audit.sacked_retransmitted.len().min(20)]
    );
    remove_capture(&wire);
    remove_capture(&stack_side);
}

/// One TCP frame of the capture, its numbers as tshark gives them.
#[derive(Debug, Clone)]
struct Frame {
    time: f64,
    from_pollnet: bool,
    syn: bool,
    seq: u32,
    ack: u32,
    len: u32,
    /// SACK blocks, absolute sequence numbers (left edge, right edge).
    sack: Vec<(u32, u32)>,
}

impl Frame {
    fn parse(row: &[String]) -> Option<Frame> {
        let numbers = |cell: &str| -> Vec<u32> {
            cell.split(',')
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect()
        };
        let from_pollnet = match row[1].as_str() {
            POLLNET => true,
            KERNEL => false,
            _ => return None,
        };
        let (le, re) = (numbers(&row[6]), numbers(&row[7]));
        assert_eq!(le.len(), re.len(), "SACK edges of {row:?}");
        Some(Frame {
            time: row[0].parse().ok()?,
            from_pollnet,
            syn: row[2] == "1" || row[2] == "True",
            seq: row[3].parse().ok()?,
            ack: row[4].parse().unwrap_or(0),
            len: row[5].parse().unwrap_or(0),
            sack: le.into_iter().zip(re).collect(),
        })
    }
}

/// Disjoint, sorted half-open ranges of stream offsets.
#[derive(Debug, Default, Clone)]
struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        self.0.retain(|&(s, e)| {
            if e < start || s > end {
                true
            } else {
                start = start.min(s);
                end = end.max(e);
                false
            }
        });
        let at = self.0.partition_point(|&(s, _)| s < start);
        self.0.insert(at, (start, end));
    }

    fn covers(&self, start: u64, end: u64) -> bool {
        self.0.iter().any(|&(s, e)| s <= start && end <= e)
    }

    fn forget_below(&mut self, edge: u64) {
        self.0.retain(|&(_, e)| e > edge);
        if let Some(first) = self.0.first_mut() {
            first.0 = first.0.max(edge);
        }
    }
}

/// What pollnet's side of the injector shows.
#[derive(Debug, Default)]
struct Audit {
    /// Data frames pollnet sent, and those that started below the highest
    /// sequence number it had sent.
    data_frames: u64,
    retransmissions: u64,
    /// Retransmissions excused: of the highest segment (a tail loss
    /// probe), or after an RTO that found the segment at SND.UNA SACKed
    /// (the peer reneged), until SND.UNA passed what was outstanding then.
    tail_probes: u64,
    after_reneging: u64,
    /// Retransmissions partly, not wholly, inside SACKed data.
    partly_sacked: u64,
    sack_blocks_received: u64,
    sack_blocks_sent: u64,
    /// (start, end, time) of retransmissions wholly inside SACKed data.
    sacked_retransmitted: Vec<(u64, u64, f64)>,
    /// SACK blocks pollnet sent for bytes that had not reached it.
    blocks_beyond_received: Vec<(u64, u64, f64)>,
}

impl Audit {
    fn run(frames: &[Frame]) -> Audit {
        let mut audit = Audit::default();
        // Stream offset 0 of each direction: ISN + 1, from the SYNs.
        let isn = |pollnet: bool| {
            frames
                .iter()
                .find(|f| f.syn && f.from_pollnet == pollnet)
                .map(|f| f.seq.wrapping_add(1))
                .expect("both SYNs reached pollnet's side")
        };
        let (pollnet_base, kernel_base) = (isn(true), isn(false));
        let off = |seq: u32, base: u32| u64::from(seq.wrapping_sub(base));
        let mut snd_max = 0u64;
        let mut snd_una = 0u64;
        let mut sacked = Ranges::default();
        let mut received = Ranges::default();
        let mut last_rx_time = 0.0f64;
        let mut reneged_until: Option<u64> = None;
        for f in frames.iter().filter(|f| !f.syn) {
            if !f.from_pollnet {
                // The kernel's data that reached pollnet, and its ACK.
                if f.len > 0 {
                    let start = off(f.seq, kernel_base);
                    received.insert(start, start + u64::from(f.len));
                }
                let ack = off(f.ack, pollnet_base);
                if ack <= snd_max && ack > snd_una {
                    snd_una = ack;
                    sacked.forget_below(snd_una);
                }
                for &(le, re) in &f.sack {
                    audit.sack_blocks_received += 1;
                    let (le, re) = (off(le, pollnet_base), off(re, pollnet_base));
                    // A D-SACK block (below SND.UNA) reports a duplicate;
                    // only what lies above SND.UNA is held out of order.
                    if re > snd_una && re <= snd_max {
                        sacked.insert(le.max(snd_una), re);
                    }
                }
                last_rx_time = f.time;
                continue;
            }
            for &(le, re) in &f.sack {
                audit.sack_blocks_sent += 1;
                let (le, re) = (off(le, kernel_base), off(re, kernel_base));
                if !received.covers(le, re) {
                    audit.blocks_beyond_received.push((le, re, f.time));
                }
            }
            if f.len == 0 {
                continue;
            }
            audit.data_frames += 1;
            let start = off(f.seq, pollnet_base);
            let end = start + u64::from(f.len);
            if start < snd_max {
                audit.retransmissions += 1;
                let resent_end = end.min(snd_max);
                let quiet = f.time - last_rx_time >= RTO_SILENCE;
                if start == snd_una && quiet && sacked.covers(start, resent_end) {
                    // An RTO with the segment at SND.UNA SACKed: the peer
                    // reneged, and everything outstanding may go again.
                    reneged_until = Some(snd_max);
                }
                if reneged_until.is_some_and(|until| snd_una < until) {
                    audit.after_reneging += 1;
                } else if resent_end == snd_max {
                    audit.tail_probes += 1;
                } else if sacked.covers(start, resent_end) {
                    audit.sacked_retransmitted.push((start, resent_end, f.time));
                } else if sacked.0.iter().any(|&(s, e)| s < resent_end && start < e) {
                    audit.partly_sacked += 1;
                }
            }
            snd_max = snd_max.max(end);
        }
        audit
    }
}

/// The audit's range set.
fn ranges_merge_and_cover() {
    let mut r = Ranges::default();
    r.insert(10, 20);
    r.insert(30, 40);
    r.insert(20, 30);
    assert_eq!(r.0, [(10, 40)]);
    assert!(r.covers(15, 35) && !r.covers(5, 15));
    r.forget_below(25);
    assert_eq!(r.0, [(25, 40)]);
}
