//! The Linux fast path against the kernel's TCP (issue 12): TAP with and
//! without offloads, veth with the raw socket's rings and on its plain
//! path, TUN, each moving 100 MB each way byte-exact (SHA-256 on both
//! ends) with its throughput printed beside a kernel-to-kernel baseline
//! measured in the same run (`figure:` lines, ratio of medians);
//! super-segments reaching the kernel whole (a kernel-side capture shows
//! them) and, through a forwarding namespace with offloads off, cut into
//! MTU-sized frames with valid checksums. Root only; a case that cannot run
//! shows as ignored, with the reason.
//!
//! Measure (as root, on an idle machine; figures from a busy machine are
//! indicative only):
//!
//! ```text
//! POLLNET_INTEROP_REPEAT=5 cargo test --release --test interop_fastpath \
//!     -- --nocapture --test-threads 1
//! ```

mod interop;
#[macro_use]
mod runner;

use std::os::fd::AsRawFd;

use interop::cases::*;
use interop::fastpath::*;
use interop::netenv::{Offload, TapNet, VethNet};
use interop::stack::*;
use interop::{CaseTimer, megabytes, remove_capture, serial, temp_path};
use pollnet::phy::{RawSocket, RawSocketOptions, TunTapOptions};
use pollnet::wire::Ipv4Address;
use runner::Need;

fn main() -> std::process::ExitCode {
    let tun = || Need::Path("/dev/net/tun".into());
    runner::main(vec![
        case!(tap_with_and_without_offloads_100mb_each_way_beside_the_kernel_baseline)
            .root()
            .programs(&["ip", "ethtool"])
            .needs(tun()),
        case!(veth_rings_and_plain_path_100mb_each_way_beside_the_kernel_baseline)
            .root()
            .programs(&["ip", "ethtool"]),
        case!(super_segments_reach_the_kernel_whole_and_a_forwarder_cuts_them_to_the_mtu)
            .root()
            .programs(&["ip", "ethtool", "tcpdump", "tshark"])
            .needs(tun()),
        case!(tun_mode_carries_100mb_each_way_with_the_kernel)
            .root()
            .programs(&["ip", "ethtool"])
            .needs(tun()),
    ])
}

fn tap_with_and_without_offloads_100mb_each_way_beside_the_kernel_baseline() {
    let _serial = serial();
    let _timer = CaseTimer::start("TAP fast path");
    let (runs, size) = (repeats(), megabytes(100));
    let cases = [
        ("TAP, offloads", TunTapOptions::tap(), Offload::On, 5201),
        (
            "TAP, plain path",
            TunTapOptions::tap().plain(),
            Offload::TxOff,
            5202,
        ),
    ];
    for (label, options, baseline, port) in cases {
        let (net, tap) = TapNet::create_with(options).expect("TAP test network");
        let offloads = tap.offloads();
        println!("path: {label}: {offloads:?}");
        assert_eq!(offloads.is_plain(), !options.offloads, "{label}");
        let fd = tap.as_raw_fd();
        let tcp = tcp_config(MSL);
        let mut stack = Stack::new(tap, fd, tcp);
        let listener = listen(&mut stack, tcp, port, 4);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..runs {
            theirs.push(kernel_baseline(baseline, size));
            let what = format!("{label} run {run}");
            ours.push(pollnet_transfer(
                &mut stack, tcp, listener, &net.ns, port, size, &what,
            ));
        }
        print_ratio(
            label,
            runs,
            &ours,
            &theirs,
            &format!("kernel<->kernel veth, {baseline:?}"),
        );
        let stats = stack.iface.stats();
        let dev = stack.device.stats();
        println!("stats: {label}: TAP {dev:?}; {stats:?}");
        assert_eq!(stats.rx_drop_tcp_checksum + stats.rx_drop_ipv4_checksum, 0);
        assert_eq!(stats.tcp_retransmissions, 0, "{label}: a TAP loses nothing");
        if options.offloads {
            // Super-segments went to the kernel, the kernel's came whole,
            // and none of them was checksummed in software.
            assert!(
                stats.tx_tso_frames > 0 && dev.transmitted_large > 0,
                "{label}"
            );
            assert!(dev.received_large > 0, "{label}: the kernel's GSO frames");
            assert!(dev.received_checksum_offloaded > 0, "{label}");
        } else {
            assert_eq!(
                stats.tx_tso_frames + dev.transmitted_large + dev.received_large,
                0
            );
            assert_eq!(dev.received_checksum_offloaded, 0, "{label}");
        }
    }
}

fn veth_rings_and_plain_path_100mb_each_way_beside_the_kernel_baseline() {
    let _serial = serial();
    let _timer = CaseTimer::start("veth fast path");
    let (runs, size) = (repeats(), megabytes(100));
    let cases = [
        (
            "veth, raw socket fast path",
            interop::paths::raw_socket_options(),
            5211,
        ),
        (
            "veth, raw socket plain path",
            RawSocketOptions::plain(),
            5212,
        ),
    ];
    for (label, options, port) in cases {
        // The kernel's end at `tx off`: MTU-sized frames, full checksums.
        let net = VethNet::create(Offload::TxOff).expect("test network");
        let mut raw = RawSocket::with_options(&net.pollnet_if, options).expect("raw socket");
        raw.set_promiscuous(true).expect("promiscuous");
        interop::kernel::force_receive_buffer(raw.as_raw_fd(), 16 << 20);
        println!("path: {label}: {}", raw.io_path());
        let fd = raw.as_raw_fd();
        let tcp = tcp_config(MSL);
        let mut stack = Stack::new(raw, fd, tcp);
        let listener = listen(&mut stack, tcp, port, 4);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..runs {
            theirs.push(kernel_baseline(Offload::TxOff, size));
            let what = format!("{label} run {run}");
            ours.push(pollnet_transfer(
                &mut stack, tcp, listener, &net.ns, port, size, &what,
            ));
        }
        print_ratio(label, runs, &ours, &theirs, "kernel<->kernel veth, tx off");
        let stats = stack.iface.stats();
        let dev = stack.device.stats();
        let (_, drops) = interop::kernel::packet_drops(fd);
        println!("stats: {label}: raw socket {dev:?}; AF_PACKET drops {drops}; {stats:?}");
        assert_eq!(
            drops, 0,
            "{label}: frames lost in the receive ring or queue"
        );
        assert_eq!(stats.rx_drop_tcp_checksum + stats.rx_drop_ipv4_checksum, 0);
        assert_eq!(
            stats.tcp_retransmissions, 0,
            "{label}: a veth pair loses nothing"
        );
        if stack.device.io_path().vnet_header {
            assert!(dev.transmitted_large > 0, "{label}: GSO on pollnet's end");
        }
        if options.batch > 1 {
            // Fewer system calls than frames. (Receiving, pollnet sends
            // about one coalesced ACK per poll, so its ACK batches are
            // short; its data batches are long.)
            assert!(
                dev.tx_batches < dev.transmitted,
                "{label}: batched: {dev:?}"
            );
        }
    }
}

fn super_segments_reach_the_kernel_whole_and_a_forwarder_cuts_them_to_the_mtu() {
    let _serial = serial();
    let _timer = CaseTimer::start("super-segments");
    let size = megabytes(20);

    // Directly to the kernel: its capture of the TAP shows pollnet's
    // super-segments as they were written (a kernel does not cut up what
    // it delivers locally).
    let (net, tap) = TapNet::create().expect("TAP test network");
    let fd = tap.as_raw_fd();
    let tcp = tcp_config(MSL);
    let mut stack = Stack::new(tap, fd, tcp);
    let listener = listen(&mut stack, tcp, 5221, 4);
    let pcap = temp_path("direct.pcap");
    let capture = Capture::start(&net.ns, &net.tap_if, &pcap, 96);
    pollnet_transfer(
        &mut stack,
        tcp,
        listener,
        &net.ns,
        5221,
        size,
        "super-segments, direct",
    );
    drop(capture);
    let (frames, largest, large) = frame_sizes(&pcap, "192.0.2.1", 1500);
    println!(
        "capture: direct: {frames} TCP frames from pollnet, largest {largest} bytes, {large} above the MTU"
    );
    assert!(
        large > 0 && largest > 10 * 1514,
        "the kernel saw the super-segments"
    );
    let stats = stack.iface.stats();
    assert_eq!(stats.tcp_retransmissions, 0);
    assert!(stack.device.stats().transmitted_large > 0);
    remove_capture(&pcap);
    drop(stack);
    drop(net);

    // Through a forwarder whose way out has every offload off: the peer
    // beyond it sees MTU-sized frames with valid checksums.
    let (fwd, tap) = ForwardNet::create(TunTapOptions::tap());
    let fd = tap.as_raw_fd();
    let [a, b, c, d] = FORWARDER_IP;
    let config = pollnet_config(tcp).with_gateway(Ipv4Address::new(a, b, c, d));
    let mut stack = Stack::with_config(tap, fd, config);
    let listener = listen(&mut stack, tcp, 5222, 4);
    let pcap = temp_path("forwarded.pcap");
    let capture = Capture::start(&fwd.peer, &fwd.peer_if, &pcap, 0);
    pollnet_transfer(
        &mut stack,
        tcp,
        listener,
        &fwd.peer,
        5222,
        size,
        "super-segments, forwarded",
    );
    drop(capture);
    let (frames, largest, large) = frame_sizes(&pcap, "192.0.2.1", 1500);
    let bad = count_matching(
        &pcap,
        "ip.src==192.0.2.1 && ((ip.checksum.status != 1) || (tcp.checksum.status != 1 && !tcp.checksum.ffff))",
    );
    println!(
        "capture: forwarded: {frames} TCP frames from pollnet, largest {largest} bytes, {large} above the MTU, {bad} with a bad checksum"
    );
    let stats = stack.iface.stats();
    println!(
        "stats: forwarded: TAP {:?}; {stats:?}",
        stack.device.stats()
    );
    assert!(stats.tx_tso_frames > 0, "pollnet sent super-segments");
    // (tcpdump may miss frames at this rate; what it caught must be cut.)
    assert!(frames > 1000, "the peer's capture holds pollnet's frames");
    assert_eq!((large, bad), (0, 0), "cut to the MTU, every checksum valid");
    assert!(largest <= 1514);
    assert_eq!(stats.tcp_retransmissions, 0);
    remove_capture(&pcap);
    drop(fwd);
}

fn tun_mode_carries_100mb_each_way_with_the_kernel() {
    let _serial = serial();
    let _timer = CaseTimer::start("TUN");
    let (runs, size) = (repeats(), megabytes(100));
    let (net, tun) = TapNet::create_with(TunTapOptions::tun()).expect("TUN test network");
    println!("path: TUN: {:?}", tun.offloads());
    let fd = tun.as_raw_fd();
    let tcp = tcp_config(MSL);
    let mut stack = Stack::new(tun, fd, tcp);
    let listener = listen(&mut stack, tcp, 5231, 4);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        theirs.push(kernel_baseline(Offload::On, size));
        let what = format!("TUN run {run}");
        ours.push(pollnet_transfer(
            &mut stack, tcp, listener, &net.ns, 5231, size, &what,
        ));
    }
    print_ratio(
        "TUN, offloads",
        runs,
        &ours,
        &theirs,
        "kernel<->kernel veth, On",
    );
    let stats = stack.iface.stats();
    let dev = stack.device.stats();
    println!("stats: TUN: {dev:?}; {stats:?}");
    assert_eq!(
        stats.arp_requests_sent + stats.arp_replies_sent,
        0,
        "no ARP on TUN"
    );
    assert_eq!(stats.rx_drop_tcp_checksum + stats.rx_drop_ipv4_checksum, 0);
    assert_eq!(stats.tcp_retransmissions, 0);
    assert!(stats.tx_tso_frames > 0 && dev.transmitted_large > 0);
}
