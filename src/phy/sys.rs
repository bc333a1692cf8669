//! Linux system calls shared by the raw socket and TAP backends: waiting for
//! readiness and asking the kernel about an interface.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::time::Duration;
use crate::wire::EthernetAddress;

/// Sleeps until `fd` is readable or `timeout` has passed (`None`: no
/// limit), using poll(2). A program calls it with the interface's
/// `poll_delay()` so it wakes for the next frame or the next timer,
/// whichever comes first. A timeout is rounded up to whole milliseconds, so
/// the wait never ends before the deadline. Being interrupted by a signal
/// counts as a wake-up, not an error.
pub fn wait(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    let timeout_ms: libc::c_int = match timeout {
        None => -1,
        Some(t) => {
            let ms = t.total_micros().div_ceil(1000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
    let ret = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}

/// Turns -1 into the OS error, other values into `Ok`.
pub(super) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An `ifreq` naming `name`; the name must fit IFNAMSIZ with its NUL.
pub(super) fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name must be 1 to 15 bytes without NUL",
        ));
    }
    // SAFETY: ifreq is plain old data; all zeros is a valid value.
    let mut ifr: libc::ifreq = unsafe { core::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(ifr)
}

/// The name the kernel wrote back into an `ifreq`.
#[cfg(any(test, feature = "phy-tuntap"))]
pub(super) fn ifreq_name(ifr: &libc::ifreq) -> std::string::String {
    let bytes: std::vec::Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    std::string::String::from_utf8_lossy(&bytes).into_owned()
}

/// A throwaway datagram socket for interface ioctls, which work on any
/// socket and need no privileges.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The IP MTU of interface `name` (SIOCGIFMTU).
pub(super) fn interface_mtu(name: &str) -> io::Result<usize> {
    let sock = control_socket()?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFMTU reads the name and writes `ifru_mtu` in `ifr`,
    // which lives for the call.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut ifr) })?;
    // SAFETY: the kernel filled the `ifru_mtu` member of the union.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    usize::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}

/// The hardware (MAC) address of interface `name` (SIOCGIFHWADDR).
pub(super) fn interface_hardware_address(name: &str) -> io::Result<EthernetAddress> {
    let sock = control_socket()?;
    let mut ifr = ifreq_for(name)?;
    // SAFETY: SIOCGIFHWADDR reads the name and writes `ifru_hwaddr`.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut ifr) })?;
    // SAFETY: the kernel filled the `ifru_hwaddr` member of the union.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(data.iter()) {
        *dst = *src as u8;
    }
    Ok(EthernetAddress(mac))
}

/// The index of interface `name`.
#[cfg(feature = "phy-raw-socket")]
pub(super) fn interface_index(name: &str) -> io::Result<libc::c_int> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `cname` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    libc::c_int::try_from(index).map_err(|_| io::Error::other("interface index out of range"))
}

/// Whether the error only means "nothing now, try later".
pub(super) fn would_block(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn interface_names_are_checked() {
        assert!(ifreq_for("").is_err());
        assert!(ifreq_for("sixteen-chars-xx").is_err());
        assert!(ifreq_for("a\0b").is_err());
        let ifr = ifreq_for("fifteen-chars-x").unwrap();
        assert_eq!(ifreq_name(&ifr), "fifteen-chars-x");
    }

    #[test]
    fn loopback_interface_is_queryable() {
        // Every Linux network namespace has `lo`, with MTU 65536.
        assert_eq!(interface_mtu("lo").unwrap(), 65536);
        assert_eq!(
            interface_hardware_address("lo").unwrap(),
            EthernetAddress([0; 6])
        );
        #[cfg(feature = "phy-raw-socket")]
        {
            assert!(interface_index("lo").unwrap() > 0);
            assert!(interface_index("pollnet-none").is_err());
        }
        assert!(interface_mtu("pollnet-none").is_err());
    }

    #[test]
    fn wait_returns_on_readiness_and_on_timeout() {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).unwrap();
        // SAFETY: both descriptors were just created and are ours alone.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Nothing to read: a zero timeout returns at once.
        wait(read_end.as_raw_fd(), Some(Duration::ZERO)).unwrap();
        // SAFETY: writes one byte from a valid buffer.
        let n = unsafe { libc::write(write_end.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        assert_eq!(n, 1);
        // Readable: returns without needing the (unbounded) timeout.
        wait(read_end.as_raw_fd(), None).unwrap();
        assert!(
            wait(-1, Some(Duration::ZERO)).is_ok(),
            "poll ignores negative fds"
        );
    }
}
