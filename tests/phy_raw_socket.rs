//! `RawSocket` against real Linux interfaces: a veth pair in a private
//! network namespace (created by `unshare` on a dedicated thread, so the
//! host's interfaces and routes are never touched), TEST-NET-1 addresses
//! only. Needs root and iproute2; otherwise each test shows as ignored, with
//! the reason.

#[macro_use]
mod runner;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Instant as WallClock;

use pollnet::phy::{self, Device, RawSocket, RawSocketOptions, RxToken, TxToken};
use pollnet::time::{Duration, Instant};

/// Our stack's side: 192.0.2.1 at 02:00:00:00:00:01.
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const OUR_IP: [u8; 4] = [192, 0, 2, 1];
/// The kernel's side: 192.0.2.2.
const KERNEL_IP: [u8; 4] = [192, 0, 2, 2];
/// IEEE 802 local experimental EtherType: nothing else on the link uses it.
const TEST_ETHERTYPE: [u8; 2] = [0x88, 0xb5];

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(frames_cross_a_veth_pair_both_ways)
            .root()
            .programs(&["ip"]),
        case!(kernel_partial_checksums_are_completed)
            .root()
            .programs(&["ip"]),
    ])
}

/// Runs `f` on a new thread inside a new, private network namespace; the
/// namespace disappears when the thread ends. The case is skipped if
/// namespaces are not available.
fn in_private_netns<F: FnOnce() + Send + 'static>(f: F) {
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
        Ok(Ok(())) => {}
        Ok(Err(reason)) => runner::skip(reason),
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

/// Deletes the veth pair when dropped, even when a test fails.
struct VethPair {
    ours: String,
    kernels: String,
}

impl VethPair {
    /// A veth pair with names unique to this process and `tag`, both up.
    fn new(tag: &str) -> VethPair {
        let pid = std::process::id();
        let pair = VethPair {
            ours: format!("pn{tag}a{pid}"),
            kernels: format!("pn{tag}b{pid}"),
        };
        ip(&[
            "link",
            "add",
            &pair.ours,
            "type",
            "veth",
            "peer",
            "name",
            &pair.kernels,
        ]);
        ip(&["link", "set", &pair.ours, "address", "02:00:00:00:00:01"]);
        ip(&["link", "set", &pair.ours, "up"]);
        ip(&["link", "set", &pair.kernels, "up"]);
        pair
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.ours])
            .output();
    }
}

/// Waits (at most 10 s of wall time) for a frame that `want` accepts.
fn receive_matching(dev: &mut RawSocket, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = WallClock::now() + std::time::Duration::from_secs(10);
    while WallClock::now() < deadline {
        phy::wait(dev.as_raw_fd(), Some(Duration::from_millis(100))).unwrap();
        while let Some((rx, _tx)) = dev.receive(Instant::ZERO) {
            let frame = rx.consume(|f| f.to_vec());
            if want(&frame) {
                return frame;
            }
        }
    }
    panic!("no matching frame on {} within 10 s", dev.interface_name());
}

/// Queues one frame and hands it to the kernel (a `RawSocket` sends what
/// it queued on `flush`, as `Interface::poll` calls it).
fn send(dev: &mut RawSocket, frame: &[u8]) {
    dev.transmit(Instant::ZERO)
        .unwrap()
        .consume(frame.len(), |b| b.copy_from_slice(frame));
    dev.flush(Instant::ZERO);
}

/// Sends `frame` from `from` until `to` receives it (at most 10 s): a veth
/// pair just set up drops frames until its carrier is up, which on a busy
/// machine can take a while after `ip link set up` returns.
fn deliver(from: &mut RawSocket, to: &mut RawSocket, frame: &[u8]) {
    let deadline = WallClock::now() + std::time::Duration::from_secs(10);
    while WallClock::now() < deadline {
        send(from, frame);
        let attempt = WallClock::now() + std::time::Duration::from_millis(500);
        while WallClock::now() < attempt {
            phy::wait(to.as_raw_fd(), Some(Duration::from_millis(100))).unwrap();
            while let Some((rx, _tx)) = to.receive(Instant::ZERO) {
                if rx.consume(|f| f == frame) {
                    return;
                }
            }
        }
    }
    panic!(
        "{} never received the frame within 10 s",
        to.interface_name()
    );
}

fn test_frame(dst: [u8; 6], src: [u8; 6], fill: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE);
    f.extend((0..100u8).map(|i| i ^ fill));
    f
}

fn frames_cross_a_veth_pair_both_ways() {
    in_private_netns(|| {
        let veth = VethPair::new("r");
        let mut ours = RawSocket::new(&veth.ours).unwrap();
        let mut theirs = RawSocket::new(&veth.kernels).unwrap();
        ours.set_promiscuous(true).unwrap();
        assert!(ours.is_promiscuous());
        assert_eq!(ours.mtu(), 1500);
        assert_eq!(ours.capabilities().max_frame_len(), 1514);
        assert_eq!(ours.hardware_address().unwrap().0, OUR_MAC);
        let their_mac = theirs.hardware_address().unwrap().0;

        let outbound = test_frame(their_mac, OUR_MAC, 0x11);
        deliver(&mut ours, &mut theirs, &outbound);
        assert!(ours.stats().transmitted >= 1);

        // To a hardware address that is not the interface's own.
        let inbound = test_frame([2, 0, 0, 0, 0, 0x99], their_mac, 0x22);
        deliver(&mut theirs, &mut ours, &inbound);

        // Neither side ever saw its own transmission: the send was
        // synchronous, so a copy would already be queued.
        for (dev, own) in [(&mut ours, &outbound), (&mut theirs, &inbound)] {
            while let Some((rx, _)) = dev.receive(Instant::ZERO) {
                rx.consume(|f| assert_ne!(f, own.as_slice(), "own frame came back"));
            }
        }
        assert!(ours.stats().received >= 1);
        ours.set_promiscuous(false).unwrap();
    });
}

/// The one's-complement sum of 16-bit big-endian words (RFC 1071).
fn ones_complement_sum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Checks a received IPv4 frame's header and TCP/UDP checksums; returns
/// the transport segment.
fn verified_segment(frame: &[u8]) -> &[u8] {
    let ip = &frame[14..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert_eq!(
        ones_complement_sum(&[&ip[..header_len]]),
        0xffff,
        "IPv4 header checksum"
    );
    let segment = &ip[header_len..total_len];
    let len = (segment.len() as u16).to_be_bytes();
    let pseudo = [&ip[12..20], &[0, ip[9]], &len[..]].concat();
    assert_eq!(
        ones_complement_sum(&[&pseudo, segment]),
        0xffff,
        "transport checksum"
    );
    segment
}

fn is_ipv4_to(frame: &[u8], protocol: u8, port: u16) -> bool {
    frame.len() > 14 + 20 + 4
        && frame[12..14] == [0x08, 0x00]
        && frame[14 + 9] == protocol
        && frame[14 + 16..14 + 20] == OUR_IP
        && {
            let l4 = 14 + usize::from(frame[14] & 0x0f) * 4;
            frame.len() >= l4 + 4 && u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]]) == port
        }
}

/// A TCP segment from us to the kernel, checksums filled.
fn tcp_segment(dst_mac: [u8; 6], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&OUR_IP);
    ip.extend_from_slice(&KERNEL_IP);
    let checksum = !ones_complement_sum(&[&ip]);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    let pseudo = [&OUR_IP[..], &KERNEL_IP, &[0, 6, 0, 20]].concat();
    let checksum = !ones_complement_sum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&checksum.to_be_bytes());
    [&dst_mac[..], &OUR_MAC, &[0x08, 0x00], &ip, &tcp].concat()
}

fn kernel_partial_checksums_are_completed() {
    in_private_netns(|| {
        let veth = VethPair::new("c");
        ip(&["addr", "add", "192.0.2.2/24", "dev", &veth.kernels]);
        // The kernel knows our hardware address, so it sends without ARP.
        ip(&[
            "neigh",
            "add",
            "192.0.2.1",
            "lladdr",
            "02:00:00:00:00:01",
            "dev",
            &veth.kernels,
        ]);
        // Transmit checksum offload on the kernel's end (veth's default;
        // made explicit when ethtool is there).
        match Command::new("ethtool")
            .args(["-K", &veth.kernels, "tx", "on"])
            .output()
        {
            Ok(o) if o.status.success() => {}
            _ => println!("note: ethtool unavailable; relying on veth's default tx offload"),
        }
        let their_mac = RawSocket::new(&veth.kernels)
            .unwrap()
            .hardware_address()
            .unwrap()
            .0;
        // Completing partial checksums is an option (by default such frames
        // are handed up marked partial, unverified).
        let mut options = RawSocketOptions::new();
        options.complete_partial_checksums = true;
        let mut ours = RawSocket::with_options(&veth.ours, options).unwrap();

        // UDP from a kernel socket.
        let udp = std::net::UdpSocket::bind("192.0.2.2:0").unwrap();
        udp.send_to(b"partial udp", "192.0.2.1:9").unwrap();
        let frame = receive_matching(&mut ours, |f| is_ipv4_to(f, 17, 9));
        let segment = verified_segment(&frame);
        assert_eq!(&segment[8..], b"partial udp");
        assert_eq!(
            ours.stats().checksums_completed,
            1,
            "the kernel left the UDP checksum partial"
        );

        // TCP from a kernel socket: its SYN, then data once we answer.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let addr = "192.0.2.1:8080".parse().unwrap();
            let mut stream =
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(10))
                    .unwrap();
            // Close with a RST, so no connection lingers in FIN_WAIT.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: passes a live linger struct and its exact size.
            unsafe {
                libc::setsockopt(
                    stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            std::io::Write::write_all(&mut stream, b"hello, pollnet").unwrap();
            let _ = done_rx.recv();
        });
        let syn = receive_matching(&mut ours, |f| is_ipv4_to(f, 6, 8080));
        let segment = verified_segment(&syn).to_vec();
        assert_eq!(segment[13] & 0x12, 0x02, "a SYN");
        let their_port = u16::from_be_bytes([segment[0], segment[1]]);
        let their_seq = u32::from_be_bytes([segment[4], segment[5], segment[6], segment[7]]);
        let syn_ack = tcp_segment(
            their_mac,
            8080,
            their_port,
            1000,
            their_seq.wrapping_add(1),
            0x12,
        );
        send(&mut ours, &syn_ack);
        // The first segment that carries data (not a retransmitted SYN).
        let data = receive_matching(&mut ours, |f| {
            is_ipv4_to(f, 6, 8080) && {
                let l4 = 14 + usize::from(f[14] & 0x0f) * 4;
                let total = 14 + usize::from(u16::from_be_bytes([f[16], f[17]]));
                f.len() > l4 + 13
                    && f[l4 + 13] & 0x02 == 0
                    && total > l4 + usize::from(f[l4 + 12] >> 4) * 4
            }
        });
        let segment = verified_segment(&data);
        let offset = usize::from(segment[12] >> 4) * 4;
        assert_eq!(&segment[offset..], b"hello, pollnet");
        done_tx.send(()).unwrap();
        client.join().unwrap();
        // UDP, SYN, the handshake's ACK and the data all came partial.
        assert!(ours.stats().checksums_completed >= 3, "{:?}", ours.stats());
    });
}
