//! The kernel's side: std::net sockets created inside the namespace, an
//! ICMP echo client on a raw socket, and socket options std lacks.

use std::io::{self, Read, Write};
use std::mem::size_of;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration as StdDuration, Instant as WallClock};

use super::sha256::Sha256;
use super::stack::{Order, Tally};
use super::stream::Source;

/// How long a kernel-side read or write may block before the test gives up.
pub const IO_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// Runs one side of a transfer on a kernel socket: `SendFirst` writes
/// `send_len` bytes, shuts down its send side and reads to end of stream;
/// `RecvFirst` reads to end of stream, then writes and closes.
pub fn transfer(
    mut stream: TcpStream,
    order: Order,
    send_seed: u64,
    send_len: u64,
) -> io::Result<Tally> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut source = Source::new(send_seed, send_len);
    let mut sent_sha = Sha256::new();
    let mut received_sha = Sha256::new();
    let mut send_start = None;
    let mut recv_end = None;
    let mut buffer = vec![0u8; 256 * 1024];

    let mut send_all = |stream: &mut TcpStream| -> io::Result<()> {
        send_start = Some(WallClock::now());
        while !source.is_done() {
            let chunk = source.pending();
            let n = stream.write(chunk)?;
            sent_sha.update(&chunk[..n]);
            source.advance(n);
        }
        Ok(())
    };
    let mut recv_all = |stream: &mut TcpStream| -> io::Result<()> {
        loop {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            received_sha.update(&buffer[..n]);
            recv_end = Some(WallClock::now());
        }
    };
    match order {
        Order::SendFirst => {
            send_all(&mut stream)?;
            stream.shutdown(Shutdown::Write)?;
            recv_all(&mut stream)?;
        }
        Order::RecvFirst => {
            recv_all(&mut stream)?;
            send_all(&mut stream)?;
        }
    }
    // Everything was read, so close() sends a FIN, not a RST.
    drop(stream);
    Ok(Tally {
        sent: sent_sha.len(),
        sent_sha: sent_sha.finish(),
        received: received_sha.len(),
        received_sha: received_sha.finish(),
        send_start,
        recv_end,
    })
}

/// Sets SO_LINGER to {on, 0 s}: close() then aborts with a RST.
pub fn set_linger_zero(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    setsockopt(
        stream.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_LINGER,
        &linger,
    )
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: passes a pointer to a live T and its exact size.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises an AF_PACKET socket's receive buffer past `rmem_max`
/// (SO_RCVBUFFORCE, root only). With the 212 992-byte default about 90
/// full-size frames fit; a kernel sender with a window of several hundred
/// KB overruns it and frames are lost before pollnet sees them.
pub fn force_receive_buffer(fd: RawFd, bytes: i32) {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes).expect("SO_RCVBUFFORCE");
}

/// Frames an AF_PACKET socket received and dropped (queue full) since the
/// last call (PACKET_STATISTICS resets on read).
pub fn packet_drops(fd: RawFd) -> (u32, u32) {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: passes a live tpacket_stats and its size.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    assert_eq!(ret, 0, "PACKET_STATISTICS: {}", io::Error::last_os_error());
    (stats.tp_packets, stats.tp_drops)
}

/// RFC 1071 Internet checksum.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends `count` ICMP echo requests (RFC 792) to `dst` from a raw socket of
/// the calling thread's namespace and returns, per request, the reply's
/// round-trip time, checking that each reply echoes identifier, sequence
/// number and data exactly. Must run inside the namespace.
pub fn ping(dst: [u8; 4], count: u16, payload_len: usize) -> io::Result<Vec<StdDuration>> {
    // SAFETY: plain socket(2); the result is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and is ours alone.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    setsockopt(
        socket.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_RCVTIMEO,
        &timeout,
    )?;
    // SAFETY: sockaddr_in is plain old data.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from_ne_bytes(dst);
    let identifier: u16 = (std::process::id() as u16) ^ 0x5a5a;
    let mut rtts = Vec::new();
    for seq in 1..=count {
        let mut request = vec![8u8, 0, 0, 0];
        request.extend_from_slice(&identifier.to_be_bytes());
        request.extend_from_slice(&seq.to_be_bytes());
        request.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq as u8)));
        let checksum = internet_checksum(&request);
        request[2..4].copy_from_slice(&checksum.to_be_bytes());
        let sent_at = WallClock::now();
        // SAFETY: passes a live buffer and a live sockaddr_in with sizes.
        let ret = unsafe {
            libc::sendto(
                socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&addr as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut reply = [0u8; 2048];
            // SAFETY: receives into a live buffer of the size given.
            let n = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    0,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            // A raw IPv4 socket hands over the IP header too.
            let packet = &reply[..n as usize];
            let header_len = usize::from(packet[0] & 0x0f) * 4;
            let icmp = &packet[header_len..];
            let is_our_reply =
                icmp.len() >= 8 && icmp[0] == 0 && icmp[4..6] == identifier.to_be_bytes();
            if !is_our_reply {
                continue;
            }
            assert_eq!(internet_checksum(icmp), 0, "echo reply checksum");
            assert_eq!(icmp[1], 0, "echo reply code");
            assert_eq!(&packet[12..16], &dst, "echo reply source");
            assert_eq!(icmp[6..8], seq.to_be_bytes(), "echo reply sequence number");
            assert_eq!(&icmp[8..], &request[8..], "echo reply data");
            rtts.push(sent_at.elapsed());
            break;
        }
    }
    Ok(rtts)
}
