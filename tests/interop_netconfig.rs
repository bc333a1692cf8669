//! Runtime configuration and IPv4 fragments against the Linux kernel
//! (issue 13, items 6 and 7): pollnet on an AF_PACKET RawSocket at one end
//! of a veth pair, the kernel's `ping` in a private network namespace at the
//! other, TEST-NET-1 addresses, names prefixed `pnnc`. The kernel sends
//! 4008-byte echo requests, which it fragments to its 1500-byte MTU;
//! pollnet reassembles them and answers in fragments of its own (to the
//! device's MTU, then to a lower interface MTU set at run time, also for
//! an unfragmented request), which the kernel reassembles. The address pollnet answers on is added and removed
//! at run time. Root only; without root or `ip`/`ping` the case shows as
//! ignored, with the reason.

mod interop;
#[macro_use]
mod runner;

use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use interop::cases::{MSL, listen};
use interop::kernel;
use interop::netenv::{KERNEL_CIDR, Link, Netns, Offload, must, next_id, run, set_offload};
use interop::stack::*;
use interop::{CaseTimer, serial};
use pollnet::iface::Config;
use pollnet::phy::RawSocket;
use pollnet::socket::tcp::{State, TcpError, TcpSocket};
use pollnet::time::Instant;
use pollnet::wire::Ipv4Cidr;

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(kernel_pings_pollnet_with_fragments_both_ways)
            .root()
            .programs(&["ip", "ethtool", "ping"]),
        case!(removing_the_address_ends_a_kernel_connection)
            .root()
            .programs(&["ip", "ethtool"]),
        case!(kernel_udp_echo_of_1_to_65507_bytes_fragmented_both_ways)
            .root()
            .programs(&["ip", "ethtool"]),
    ])
}

/// A veth pair named with this helper's `pnnc` prefix: pollnet's end in
/// the root namespace without an address, the kernel's in `ns` with
/// 192.0.2.2/24.
struct Net {
    // Field order is drop order: the link goes before the namespace.
    _link: Link,
    ns: Netns,
    pollnet_if: String,
}

fn create_net() -> Net {
    let (pid, id) = (std::process::id() % 1_000_000, next_id());
    let ns = Netns::create(format!("pnnc-{pid}-{id}")).expect("namespace");
    let pollnet_if = format!("pnnc{pid}p{id}");
    let kernel_if = format!("pnnc{pid}k{id}");
    must(
        "ip",
        &[
            "link",
            "add",
            &pollnet_if,
            "type",
            "veth",
            "peer",
            "name",
            &kernel_if,
            "netns",
            &ns.name,
        ],
    );
    let link = Link {
        name: pollnet_if.clone(),
    };
    // No router solicitations or MLD reports from the root side.
    let ipv6 = format!("/proc/sys/net/ipv6/conf/{pollnet_if}/disable_ipv6");
    if std::path::Path::new(&ipv6).exists() {
        std::fs::write(&ipv6, "1").expect("disable IPv6 on pollnet's end");
    }
    set_offload(&ns, &kernel_if, Offload::TxOff).expect("ethtool");
    ns.ip(&["addr", "add", KERNEL_CIDR, "dev", &kernel_if]);
    ns.ip(&["link", "set", &kernel_if, "up"]);
    must("ip", &["link", "set", &pollnet_if, "up"]);
    Net {
        _link: link,
        ns,
        pollnet_if,
    }
}

/// `ping -c COUNT -s SIZE -M dont` from the namespace to 192.0.2.1 on a
/// thread: its output, or its error (no reply makes ping fail).
fn ping(ns: &Netns, count: u32, size: u32) -> JoinHandle<Result<String, String>> {
    let name = ns.name.clone();
    std::thread::spawn(move || {
        let (count, size) = (count.to_string(), size.to_string());
        run(
            "ip",
            &[
                "netns",
                "exec",
                &name,
                "ping",
                "-n",
                "-c",
                &count,
                "-s",
                &size,
                "-M",
                "dont",
                "-i",
                "0.2",
                "-W",
                "2",
                "192.0.2.1",
            ],
        )
    })
}

fn open_stack(net: &Net, config: Config) -> Stack<RawSocket> {
    let mut raw = RawSocket::with_options(&net.pollnet_if, interop::paths::raw_socket_options())
        .expect("RawSocket");
    raw.set_promiscuous(true).expect("promiscuous mode");
    kernel::force_receive_buffer(raw.as_raw_fd(), 4 << 20);
    let fd = raw.as_raw_fd();
    Stack::with_config(raw, fd, config)
}

/// A kernel connection to pollnet ends on pollnet's side when pollnet's
/// address goes: CLOSED with `AddressRemoved`, traced, and nothing sent.
/// With the address back, the kernel's next segment finds no connection
/// and draws a RST (from the listener still on the port): the kernel's
/// read fails with ECONNRESET.
fn removing_the_address_ends_a_kernel_connection() {
    use std::io::{Read, Write};
    let _serial = serial();
    let _timer = CaseTimer::start("netconfig: address removed");
    let net = create_net();
    let tcp = tcp_config(MSL);
    let mut stack = open_stack(&net, pollnet_config(tcp));
    let listener = listen(&mut stack, tcp, 7001, 2);
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let kernel = net.ns.spawn(move || {
        let mut stream = std::net::TcpStream::connect("192.0.2.1:7001").expect("connect");
        stream
            .set_read_timeout(Some(StdDuration::from_secs(10)))
            .unwrap();
        go_rx.recv().unwrap();
        stream.write_all(b"still there?").expect("write");
        let mut buf = [0u8; 16];
        stream.read(&mut buf).map_err(|e| e.kind())
    });
    let child = stack.run_until(StdDuration::from_secs(10), "accept", |st| {
        st.sockets.accept(listener)
    });
    assert_eq!(
        stack.sockets.get::<TcpSocket>(child).unwrap().state(),
        State::Established
    );
    let sent_before = stack.iface.stats().tcp_segments_sent;
    stack
        .iface
        .remove_ip_addr(POLLNET_IP, &mut stack.sockets, Instant::now())
        .unwrap();
    let socket = stack.sockets.get::<TcpSocket>(child).unwrap();
    assert_eq!(
        (socket.state(), socket.error()),
        (State::Closed, Some(TcpError::AddressRemoved))
    );
    stack.poll();
    assert_eq!(
        stack.transitions(child).last().map(String::as_str),
        Some("ESTABLISHED -> CLOSED (address removed)")
    );
    assert_eq!(
        stack.sockets.get::<TcpSocket>(listener).unwrap().state(),
        State::Listen
    );
    stack.run_for(StdDuration::from_millis(300));
    assert_eq!(
        stack.iface.stats().tcp_segments_sent,
        sent_before,
        "no RST from a removed address"
    );

    stack
        .iface
        .add_ip_addr(Ipv4Cidr::new(POLLNET_IP, 24).unwrap())
        .unwrap();
    go_tx.send(()).unwrap();
    stack.run_until(StdDuration::from_secs(15), "kernel read", |_| {
        kernel.is_finished().then_some(())
    });
    let read = kernel.join().unwrap();
    assert_eq!(read, Err(std::io::ErrorKind::ConnectionReset));
    let stats = stack.iface.stats();
    // The listener on the port answers the stray segment (RFC 9293 section
    // 3.10.7.2: an ACK to LISTEN draws a RST).
    assert_eq!(stats.tcp_rsts_sent, 1, "{stats:#?}");
}

/// The kernel sends UDP datagrams of 1 to 65,507 bytes to a pollnet UDP
/// socket, which echoes each back: both directions fragmented to the
/// 1500-byte MTU above 1472 bytes, every datagram byte-exact.
fn kernel_udp_echo_of_1_to_65507_bytes_fragmented_both_ways() {
    use pollnet::socket::udp::{UdpPacketBuffer, UdpPacketMetadata, UdpSocket};
    const SIZES: [usize; 7] = [1, 1472, 1473, 2961, 8000, 30000, 65507];
    let _serial = serial();
    let _timer = CaseTimer::start("netconfig: UDP echo with fragments");
    let net = create_net();
    let mut stack = open_stack(&net, pollnet_config(tcp_config(MSL)));
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; 8], vec![0u8; 1 << 18]);
    let h = stack
        .sockets
        .add(UdpSocket::new(buffer(), buffer()))
        .unwrap();
    stack.iface.udp_bind(&mut stack.sockets, h, 7007).unwrap();
    let kernel = net.ns.spawn(|| -> Result<(), String> {
        let socket = std::net::UdpSocket::bind("192.0.2.2:0").map_err(|e| e.to_string())?;
        socket
            .connect("192.0.2.1:7007")
            .map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(StdDuration::from_secs(5)))
            .unwrap();
        let mut back = vec![0u8; 65536];
        for (round, size) in SIZES.into_iter().enumerate() {
            let sent: Vec<u8> = (0..size).map(|i| (i * 31 + round) as u8).collect();
            socket
                .send(&sent)
                .map_err(|e| format!("send {size}: {e}"))?;
            let n = socket
                .recv(&mut back)
                .map_err(|e| format!("echo of {size}: {e}"))?;
            if back[..n] != sent[..] {
                return Err(format!("echo of {size} bytes differs ({n} bytes back)"));
            }
        }
        Ok(())
    });
    let mut scratch = vec![0u8; 65536];
    let mut echoed = 0;
    stack.run_until(StdDuration::from_secs(30), "UDP echo", |st| {
        let socket = st.sockets.get_mut::<UdpSocket>(h).unwrap();
        if let Ok((n, from)) = socket.recv_from(&mut scratch) {
            socket.send_to(&scratch[..n], from).expect("room to echo");
            echoed += 1;
        }
        kernel.is_finished().then_some(())
    });
    kernel.join().unwrap().expect("every echo byte-exact");
    assert_eq!(echoed, SIZES.len());
    let stats = stack.iface.stats();
    // Fragments each way: 1473 + 8 bytes of UDP need 2, 2961 + 8 need 3,
    // 8008 need 6, 30008 need 21, 65515 need 45.
    let fragments = 2 + 3 + 6 + 21 + 45;
    assert_eq!(stats.reassembly.fragments, fragments);
    assert_eq!(stats.reassembly.reassembled, 5);
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (5, fragments));
    assert_eq!(stats.tx_drop_udp, 0);
}

fn kernel_pings_pollnet_with_fragments_both_ways() {
    let _serial = serial();
    let _timer = CaseTimer::start("netconfig: fragmented ping");
    let net = create_net();
    // No address at first: it is added at run time.
    let mut stack = open_stack(&net, Config::new(POLLNET_MAC, 0x0e7c_0f1a));

    stack
        .iface
        .add_ip_addr(Ipv4Cidr::new(POLLNET_IP, 24).unwrap())
        .unwrap();
    // The kernel fragments each 4008-byte request to 1480 + 1480 + 1048
    // bytes of ICMP; pollnet answers in the same three sizes.
    let pinger = ping(&net.ns, 3, 4000);
    stack.run_until(StdDuration::from_secs(20), "ping -s 4000", |_| {
        pinger.is_finished().then_some(())
    });
    let out = pinger
        .join()
        .unwrap()
        .expect("three replies to ping -s 4000");
    println!("ping -s 4000:\n{out}");
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert_eq!(out.matches("4008 bytes from 192.0.2.1").count(), 3, "{out}");
    let stats = stack.iface.stats();
    assert_eq!(stats.reassembly.fragments, 9);
    assert_eq!(stats.reassembly.reassembled, 3);
    assert_eq!(stats.icmp_echo_replies, 3);
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (3, 9));
    assert_eq!(
        (
            stats.reassembly.overlaps,
            stats.reassembly.timed_out,
            stats.reassembly.no_space
        ),
        (0, 0, 0)
    );

    // A lower interface MTU set at run time: replies are cut to 576 bytes
    // (552 of payload), eight fragments each.
    stack.iface.set_ip_mtu(Some(576));
    let pinger = ping(&net.ns, 2, 4000);
    stack.run_until(StdDuration::from_secs(20), "ping -s 4000, MTU 576", |_| {
        pinger.is_finished().then_some(())
    });
    let out = pinger.join().unwrap().expect("two replies with MTU 576");
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    let stats = stack.iface.stats();
    assert_eq!(stats.reassembly.reassembled, 5);
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (5, 9 + 16));
    // An unfragmented 1428-byte request: its reply still fits no 576-byte
    // packet, so it goes out as 552 + 552 + 304 bytes of ICMP.
    let pinger = ping(&net.ns, 1, 1400);
    stack.run_until(StdDuration::from_secs(20), "ping -s 1400, MTU 576", |_| {
        pinger.is_finished().then_some(())
    });
    let out = pinger.join().unwrap().expect("a reply with MTU 576");
    assert!(out.contains("1408 bytes from 192.0.2.1"), "{out}");
    let stats = stack.iface.stats();
    assert_eq!(stats.reassembly.reassembled, 5);
    assert_eq!((stats.tx_fragmented, stats.tx_fragments), (6, 9 + 16 + 3));

    // The largest echo request there is: 65,507 bytes of data in 45
    // fragments, reassembled and answered byte for byte.
    stack.iface.set_ip_mtu(None);
    let pinger = ping(&net.ns, 1, 65507);
    stack.run_until(StdDuration::from_secs(20), "ping -s 65507", |_| {
        pinger.is_finished().then_some(())
    });
    let out = pinger.join().unwrap().expect("a reply to ping -s 65507");
    assert!(out.contains("65515 bytes from 192.0.2.1"), "{out}");
    assert_eq!(stack.iface.stats().reassembly.reassembled, 6);

    // With the address removed, nothing answers.
    stack
        .iface
        .remove_ip_addr(POLLNET_IP, &mut stack.sockets, Instant::now())
        .unwrap();
    let pinger = ping(&net.ns, 1, 4000);
    stack.run_until(StdDuration::from_secs(20), "ping after removal", |_| {
        pinger.is_finished().then_some(())
    });
    let refused = pinger.join().unwrap();
    assert!(
        refused.is_err(),
        "no reply once the address is gone: {refused:?}"
    );
    let stats = stack.iface.stats();
    assert_eq!(stats.icmp_echo_replies, 7);
    assert_eq!(stats.reassembly.reassembled, 6);
    assert!(stats.rx_drop_ipv4_not_for_us >= 3, "{stats:#?}");
}
