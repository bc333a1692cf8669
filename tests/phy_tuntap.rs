//! `TunTap` against the kernel: a TAP interface in a private network
//! namespace (created by `unshare` on a dedicated thread, so the host is
//! never touched), addressed from TEST-NET-1; we ask the kernel for its
//! hardware address with ARP and check its reply byte for byte. Needs root,
//! /dev/net/tun and iproute2; otherwise the test shows as ignored, with the
//! reason.

#[macro_use]
mod runner;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Instant as WallClock;

use pollnet::phy::{self, Device, RxToken, TunTap, TxToken};
use pollnet::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(kernel_answers_arp_through_a_tap)
            .root()
            .programs(&["ip"])
            .needs(runner::Need::Path("/dev/net/tun".into())),
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

/// An ARP request (RFC 826) from 192.0.2.1 at 02:00:00:00:00:01 for
/// 192.0.2.2.
fn arp_request() -> Vec<u8> {
    [
        &[0xff; 6][..],
        &[2, 0, 0, 0, 0, 1],
        &[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1],
        &[2, 0, 0, 0, 0, 1],
        &[192, 0, 2, 1],
        &[0; 6],
        &[192, 0, 2, 2],
    ]
    .concat()
}

fn kernel_answers_arp_through_a_tap() {
    let handle = std::thread::spawn(|| {
        // SAFETY: unshare(2) with CLONE_NEWNET moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNET): {}",
                std::io::Error::last_os_error()
            ));
        }
        let name = format!("pntap{}", std::process::id());
        // The TAP lives as long as `tap`; the namespace as long as this
        // thread: both go away on any exit from here.
        let mut tap = TunTap::new(&name).map_err(|e| format!("opening a TAP: {e}"))?;
        assert_eq!(tap.interface_name(), name);
        assert_eq!(tap.mtu(), 1500);
        assert_eq!(tap.capabilities().max_frame_len(), 1514);
        ip(&["addr", "add", "192.0.2.2/24", "dev", &name]);
        ip(&["link", "set", "dev", &name, "up"]);
        let kernel_mac = tap.hardware_address().unwrap().0;

        let request = arp_request();
        tap.transmit(Instant::ZERO)
            .unwrap()
            .consume(request.len(), |b| b.copy_from_slice(&request));
        assert_eq!(tap.stats().transmitted, 1);

        let deadline = WallClock::now() + std::time::Duration::from_secs(10);
        let mut reply = None;
        while reply.is_none() && WallClock::now() < deadline {
            phy::wait(tap.as_raw_fd(), Some(Duration::from_millis(100))).unwrap();
            while let Some((rx, _tx)) = tap.receive(Instant::ZERO) {
                let frame = rx.consume(|f| f.to_vec());
                // Skip IPv6 neighbour discovery and the like.
                if frame.len() >= 22 && frame[12..14] == [0x08, 0x06] && frame[21] == 2 {
                    reply = Some(frame);
                    break;
                }
            }
        }
        let expected: Vec<u8> = [
            &[2, 0, 0, 0, 0, 1][..],
            &kernel_mac,
            &[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2],
            &kernel_mac,
            &[192, 0, 2, 2],
            &[2, 0, 0, 0, 0, 1],
            &[192, 0, 2, 1],
        ]
        .concat();
        assert_eq!(reply.expect("an ARP reply within 10 s"), expected);
        assert!(tap.stats().received >= 1);
        Ok(())
    });
    match handle.join() {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => runner::skip(reason),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
