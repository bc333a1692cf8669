//! `TunTap` offloads and TUN mode against the kernel, in a private network
//! namespace (created by `unshare` on a dedicated thread), TEST-NET-1
//! addresses: what the kernel grants, the checksum state of the frames it
//! hands over (partial with offloads, complete on the forced plain path),
//! and a TUN carrying bare IP packets (an ICMP echo answered by the
//! kernel). Needs root, /dev/net/tun and iproute2; otherwise each case
//! shows as ignored, with the reason.

#[macro_use]
mod runner;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration as StdDuration, Instant as WallClock};

use pollnet::phy::{
    self, Device, Medium, RxToken, TransportChecksum, TunTap, TunTapOptions, TxToken,
};
use pollnet::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    let tun = || runner::Need::Path("/dev/net/tun".into());
    runner::main(vec![
        case!(tap_offloads_are_granted_and_partial_checksums_marked_or_completed)
            .root()
            .programs(&["ip"])
            .needs(tun()),
        case!(tun_carries_bare_ip_packets_both_ways)
            .root()
            .programs(&["ip"])
            .needs(tun()),
    ])
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

/// Runs `f` on a thread in a new private network namespace; the case is
/// ignored when namespaces are unavailable.
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

fn sum16(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Whether the UDP checksum of the IPv4 packet `ip` verifies.
fn udp_checksum_ok(ip: &[u8]) -> bool {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let udp = &ip[ihl..total];
    let len = (udp.len() as u16).to_be_bytes();
    sum16(&[&ip[12..20], &[0, 17], &len, udp]) == 0xffff
}

/// Waits up to 5 s for a frame `want` accepts; its meta and bytes.
fn receive_matching(
    dev: &mut TunTap,
    want: impl Fn(&[u8]) -> bool,
) -> (pollnet::phy::FrameMeta, Vec<u8>) {
    let deadline = WallClock::now() + StdDuration::from_secs(5);
    while WallClock::now() < deadline {
        phy::wait(dev.as_raw_fd(), Some(Duration::from_millis(20))).unwrap();
        while let Some((rx, _)) = dev.receive(Instant::ZERO) {
            let meta = rx.meta();
            let frame = rx.consume(|f| f.to_vec());
            if want(&frame) {
                return (meta, frame);
            }
        }
    }
    panic!("no matching frame within 5 s");
}

fn tap_offloads_are_granted_and_partial_checksums_marked_or_completed() {
    for plain in [false, true] {
        in_private_netns(move || {
            let name = format!("pnto{}", std::process::id());
            let options = if plain {
                TunTapOptions::tap().plain()
            } else {
                TunTapOptions::tap()
            };
            let mut tap = TunTap::with_options(&name, options).unwrap();
            let offloads = tap.offloads();
            println!("offloads: TAP, plain {plain}: {offloads:?}");
            let caps = tap.capabilities();
            if plain {
                assert!(offloads.is_plain());
                assert_eq!(caps.max_tcp_ipv4_packet_len(), 1500);
                assert!(caps.checksum.tcp.tx());
            } else {
                // This kernel grants them all; a fallback here would be a
                // regression in the setup code.
                assert!(offloads.vnet_header && offloads.checksum && offloads.tso4);
                assert_eq!(caps.max_tcp_ipv4_packet_len(), 65_535);
                assert!(!caps.checksum.tcp.tx(), "the kernel completes them");
            }
            ip(&["addr", "add", "192.0.2.2/24", "dev", &name]);
            ip(&["link", "set", "dev", &name, "up"]);
            ip(&[
                "neigh",
                "add",
                "192.0.2.1",
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                &name,
            ]);
            let udp = std::net::UdpSocket::bind("192.0.2.2:0").unwrap();
            udp.send_to(b"to the tap", "192.0.2.1:9").unwrap();
            let (meta, frame) = receive_matching(&mut tap, |f| {
                f.len() > 42 && f[12..14] == [8, 0] && f[23] == 17 && f[36..38] == [0, 9]
            });
            assert_eq!(&frame[42..], b"to the tap");
            if plain {
                assert_eq!(meta.checksum, TransportChecksum::Unknown);
                assert!(udp_checksum_ok(&frame[14..]), "the kernel computed it");
            } else {
                assert_eq!(meta.checksum, TransportChecksum::Partial);
                assert!(!udp_checksum_ok(&frame[14..]), "left to the device");
                assert_eq!(tap.stats().received_checksum_offloaded, 1);
            }
        });
    }
}

/// An ICMP echo request (RFC 792) from 192.0.2.1 to 192.0.2.2 as a bare
/// IPv4 packet.
fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"pollnet over tun");
    let sum = !sum16(&[&icmp]);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = !sum16(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

fn tun_carries_bare_ip_packets_both_ways() {
    for plain in [false, true] {
        in_private_netns(move || {
            let name = format!("pntu{}", std::process::id());
            let options = if plain {
                TunTapOptions::tun().plain()
            } else {
                TunTapOptions::tun()
            };
            let mut tun = TunTap::with_options(&name, options).unwrap();
            assert_eq!(tun.medium(), Medium::Ip);
            let caps = tun.capabilities();
            assert_eq!(caps.medium, Medium::Ip);
            assert_eq!(caps.max_frame_len(), tun.mtu(), "no link-layer header");
            assert_eq!(tun.offloads().is_plain(), plain);
            ip(&["addr", "add", "192.0.2.2/24", "dev", &name]);
            ip(&["link", "set", "dev", &name, "up"]);
            let request = echo_request(0x7001, 1);
            tun.transmit(Instant::ZERO)
                .unwrap()
                .consume(request.len(), |b| b.copy_from_slice(&request));
            assert_eq!(tun.stats().transmitted, 1);
            let (_, reply) = receive_matching(&mut tun, |p| {
                p.len() >= 28 && p[0] == 0x45 && p[9] == 1 && p[20] == 0
            });
            assert_eq!(&reply[12..16], &[192, 0, 2, 2]);
            assert_eq!(&reply[16..20], &[192, 0, 2, 1]);
            assert_eq!(sum16(&[&reply[..20]]), 0xffff, "IPv4 header checksum");
            assert_eq!(sum16(&[&reply[20..]]), 0xffff, "ICMP checksum");
            assert_eq!(&reply[24..28], &[0x70, 0x01, 0, 1], "identifier, sequence");
            assert_eq!(&reply[28..], b"pollnet over tun");
        });
    }
}
