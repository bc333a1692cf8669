//! pollnet's UDP and ICMP echo sockets against the Linux kernel over a veth
//! pair (issue 13): pollnet on an AF_PACKET RawSocket in the root
//! namespace, the kernel in a private network namespace (names prefixed
//! `pnudp`), TEST-NET-1 addresses. A kernel UDP echo peer (a
//! `std::net::UdpSocket` on a thread inside the namespace) returns
//! datagrams from 1 byte up to the MTU, byte-exact, with the kernel's
//! checksums computed in full or left partial by offload; the kernel's
//! port unreachable surfaces on pollnet's socket; pollnet pings the kernel
//! and the kernel pings pollnet. Root only; without root or a needed
//! program a case shows as ignored, with the reason.

mod interop;
#[macro_use]
mod runner;

use std::net::UdpSocket as KernelUdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration as StdDuration;

use interop::kernel;
use interop::netenv::{Offload, VethNet};
use interop::stack::*;
use interop::{CaseTimer, serial};
use pollnet::phy::RawSocket;
use pollnet::socket::icmp::{IcmpRxMetadata, IcmpSocket, IcmpTxMetadata};
use pollnet::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
use pollnet::storage::PacketBuffer;
use pollnet::wire::IpAddress;

fn main() -> std::process::ExitCode {
    let veth = |case: runner::Case, programs: &[&'static str]| case.root().programs(programs);
    runner::main(vec![
        veth(
            case!(udp_echo_with_the_kernel_up_to_the_mtu_full_checksums),
            &["ip", "ethtool"],
        ),
        veth(
            case!(udp_echo_with_the_kernel_up_to_the_mtu_partial_checksums),
            &["ip"],
        ),
        veth(
            case!(kernel_port_unreachable_surfaces_on_the_socket),
            &["ip", "ethtool"],
        ),
        veth(
            case!(pollnet_pings_the_kernel_and_the_kernel_pings_pollnet),
            &["ip", "ethtool", "ping"],
        ),
    ])
}

/// The UDP echo port of the kernel peer.
const ECHO_PORT: u16 = 7;
/// The largest payload sent: one unfragmented 1500-byte IPv4 packet. When
/// fragment output and reassembly land this becomes 65_507 (RFC 768's
/// largest over IPv4) and the sizes below reach it.
const MAX_PAYLOAD: usize = 1500 - 20 - 8;

/// The payload sizes the echo sends: the edges and a spread between.
fn sizes() -> Vec<usize> {
    let mut sizes = vec![1, 2, 7, 8, 9, 255, 256, 511, 512, 1000, 1024];
    sizes.extend((1..=40).map(|i| i * MAX_PAYLOAD / 40));
    sizes.extend([MAX_PAYLOAD - 1, MAX_PAYLOAD]);
    sizes
}

fn payload(size: usize, seed: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8)
        .collect()
}

fn open_raw(net: &VethNet) -> RawSocket {
    let mut raw = RawSocket::with_options(&net.pollnet_if, interop::paths::raw_socket_options())
        .expect("RawSocket::new");
    raw.set_promiscuous(true).expect("promiscuous mode");
    kernel::force_receive_buffer(raw.as_raw_fd(), 4 << 20);
    raw
}

fn new_stack(net: &VethNet) -> Stack<RawSocket> {
    let raw = open_raw(net);
    let fd = raw.as_raw_fd();
    Stack::new(raw, fd, tcp_config(pollnet::time::Duration::from_secs(2)))
}

fn udp_socket(slots: usize, bytes: usize) -> UdpSocket<'static> {
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; slots], vec![0u8; bytes]);
    UdpSocket::new(buffer(), buffer())
}

fn icmp_socket() -> IcmpSocket<'static> {
    IcmpSocket::new(
        PacketBuffer::new(vec![IcmpRxMetadata::EMPTY; 8], vec![0u8; 8192]),
        PacketBuffer::new(vec![IcmpTxMetadata::EMPTY; 8], vec![0u8; 8192]),
    )
}

/// A kernel UDP echo on `ECHO_PORT` inside the namespace: returns each of
/// `count` datagrams to its sender, then stops (or after 30 s idle).
fn kernel_echo(net: &VethNet, count: usize) -> std::thread::JoinHandle<usize> {
    let bound = std::sync::mpsc::channel();
    let handle = net.ns.spawn(move || {
        let socket = KernelUdpSocket::bind(("192.0.2.2", ECHO_PORT)).expect("bind the echo");
        socket
            .set_read_timeout(Some(StdDuration::from_secs(30)))
            .unwrap();
        bound.0.send(()).unwrap();
        let mut buf = vec![0u8; 65_536];
        let mut echoed = 0;
        while echoed < count {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                break;
            };
            socket.send_to(&buf[..n], from).expect("echo back");
            echoed += 1;
        }
        echoed
    });
    bound.1.recv().expect("the echo bound its port");
    handle
}

fn echo_case(offload: Offload) {
    let _serial = serial();
    let _timer = CaseTimer::start("udp echo");
    let net = VethNet::create_named("pnudp", "pnudp", offload).expect("test network");
    let mut stack = new_stack(&net);
    let sizes = sizes();
    let echo = kernel_echo(&net, sizes.len());
    let h = stack.sockets.add(udp_socket(16, 64 * 1024)).unwrap();
    let local = stack
        .iface
        .udp_connect(&mut stack.sockets, h, kernel_endpoint(ECHO_PORT))
        .unwrap();
    println!(
        "udp: pollnet {local} <-> kernel echo {}",
        kernel_endpoint(ECHO_PORT)
    );
    let mut buf = vec![0u8; 65_536];
    for (i, &size) in sizes.iter().enumerate() {
        let data = payload(size, i);
        stack
            .sockets
            .get_mut::<UdpSocket>(h)
            .unwrap()
            .send_connected(&data)
            .unwrap();
        // Loss is not expected on a veth, but the first datagram may wait
        // for ARP; the kernel's echo comes back once.
        let got = stack.run_until(StdDuration::from_secs(10), "udp echo", |st| {
            let socket = st.sockets.get_mut::<UdpSocket>(h).unwrap();
            socket.recv_slice(&mut buf).ok()
        });
        let (n, meta) = got;
        assert_eq!(meta.remote, kernel_endpoint(ECHO_PORT), "datagram {i}");
        assert_eq!(n, size, "datagram {i}: length");
        assert!(buf[..n] == data[..], "datagram {i} ({size} bytes) differs");
    }
    assert_eq!(echo.join().unwrap(), sizes.len());
    let stats = stack.iface.stats();
    assert_eq!(stats.udp_datagrams_sent, sizes.len() as u64);
    assert_eq!(stats.udp_datagrams_received, sizes.len() as u64);
    assert_eq!(stats.rx_drop_udp_checksum, 0);
    println!(
        "udp: {} datagrams of 1 to {MAX_PAYLOAD} bytes echoed byte-exact ({offload:?})",
        sizes.len()
    );
}

fn udp_echo_with_the_kernel_up_to_the_mtu_full_checksums() {
    echo_case(Offload::TxOff);
}

/// The veth defaults: the kernel leaves its UDP checksums partial
/// (TP_STATUS_CSUMNOTREADY), which pollnet must accept unverified.
fn udp_echo_with_the_kernel_up_to_the_mtu_partial_checksums() {
    echo_case(Offload::On);
}

fn kernel_port_unreachable_surfaces_on_the_socket() {
    let _serial = serial();
    let _timer = CaseTimer::start("udp port unreachable");
    let net = VethNet::create_named("pnudp", "pnudp", Offload::TxOff).expect("test network");
    let mut stack = new_stack(&net);
    let h = stack.sockets.add(udp_socket(4, 4096)).unwrap();
    stack.iface.udp_bind(&mut stack.sockets, h, 0).unwrap();
    // Nothing listens on port 9 in the namespace.
    let closed = kernel_endpoint(9);
    stack
        .sockets
        .get_mut::<UdpSocket>(h)
        .unwrap()
        .send_to(b"is anyone there?", closed)
        .unwrap();
    let error = stack.run_until(StdDuration::from_secs(10), "port unreachable", |st| {
        st.sockets.get_mut::<UdpSocket>(h).unwrap().take_error()
    });
    assert!(error.is_port_unreachable(), "{error:?}");
    assert_eq!(error.remote, closed);
    assert_eq!(error.reporter, IpAddress::Ipv4(KERNEL_IP));
    assert_eq!(stack.iface.stats().icmp_errors_to_sockets, 1);
    println!("udp: the kernel's port unreachable for {closed} reached the socket: {error:?}");
}

fn pollnet_pings_the_kernel_and_the_kernel_pings_pollnet() {
    let _serial = serial();
    let _timer = CaseTimer::start("ping both ways");
    let net = VethNet::create_named("pnudp", "pnudp", Offload::TxOff).expect("test network");
    let mut stack = new_stack(&net);
    let pinger = stack.sockets.add(icmp_socket()).unwrap();
    let ident = stack
        .iface
        .icmp_bind(&mut stack.sockets, pinger, None)
        .unwrap();
    let kernel = IpAddress::Ipv4(KERNEL_IP);
    for seq in 1..=3u16 {
        let data = payload(56, usize::from(seq));
        stack
            .sockets
            .get_mut::<IcmpSocket>(pinger)
            .unwrap()
            .send_echo(kernel, seq, &data)
            .unwrap();
        let (reply, echoed) = stack.run_until(StdDuration::from_secs(10), "echo reply", |st| {
            let socket = st.sockets.get_mut::<IcmpSocket>(pinger).unwrap();
            socket.recv().map(|(reply, data)| (reply, data.to_vec()))
        });
        assert_eq!(
            (reply.from, reply.ident, reply.seq_no),
            (kernel, ident, seq)
        );
        assert_eq!(echoed, data);
        println!("ping: pollnet -> kernel seq {seq}: rtt {}", reply.rtt());
    }
    assert_eq!(stack.iface.stats().icmp_echo_replies_received, 3);

    // The kernel's ping(8) in the namespace answered by pollnet's interface.
    let pinger = net.ns.spawn(|| kernel::ping([192, 0, 2, 1], 3, 56));
    stack.run_until(StdDuration::from_secs(15), "kernel ping", |_| {
        pinger.is_finished().then_some(())
    });
    let rtts = pinger.join().unwrap().expect("three echo replies");
    assert_eq!(rtts.len(), 3);
    assert_eq!(stack.iface.stats().icmp_echo_replies, 3);
    println!("ping: kernel -> pollnet round trips {rtts:?}");
    // And `ping -c` as a user runs it (iputils), in the namespace.
    let ns = net.ns.name.clone();
    let pinger = std::thread::spawn(move || {
        let args = [
            "netns",
            "exec",
            &ns,
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "5",
            "192.0.2.1",
        ];
        interop::netenv::run("ip", &args)
    });
    stack.run_until(StdDuration::from_secs(15), "ping -c", |_| {
        pinger.is_finished().then_some(())
    });
    let out = pinger.join().unwrap().expect("ping -c 3 succeeds");
    assert!(out.contains("3 received"), "{out}");
    assert_eq!(stack.iface.stats().icmp_echo_replies, 6);
    println!(
        "ping: `ping -c 3` in the namespace: {}",
        out.lines().last().unwrap_or("")
    );
}
