//! Which device path an interop case runs on, chosen by environment
//! variables so the same cases measure every path:
//!
//! - `POLLNET_RAW_IO`: the raw socket's path: `v2` (TPACKET_V2 rings, the
//!   default), `v3` (TPACKET_V3 rings), `mmsg` (recvmmsg/sendmmsg
//!   batches) or `plain` (one recvmsg/sendmsg per frame, no offloads);
//!   with `POLLNET_RAW_VNET=0` the virtio-net header (GSO) is left off.
//! - `POLLNET_TAP_OFFLOAD=0`: TAP/TUN on the plain path (no virtio-net
//!   header), else with offloads.
//!
//! Every case prints the path it ran on (`path:` lines).

use pollnet::phy::{RawSocketIo, RawSocketOptions, TpacketVersion, TunTapOptions};

fn env_is_off(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "0" || v.eq_ignore_ascii_case("off"))
}

/// The raw socket options `POLLNET_RAW_IO` / `POLLNET_RAW_VNET` ask for.
pub fn raw_socket_options() -> RawSocketOptions {
    let choice = std::env::var("POLLNET_RAW_IO").unwrap_or_default();
    let mut options = match choice.as_str() {
        "plain" => return RawSocketOptions::plain(),
        "v3" => {
            let mut o = RawSocketOptions::new();
            o.rx = RawSocketIo::Ring(TpacketVersion::V3);
            o.tx = RawSocketIo::Ring(TpacketVersion::V3);
            o
        }
        "mmsg" => {
            let mut o = RawSocketOptions::new();
            o.rx = RawSocketIo::Mmsg;
            o.tx = RawSocketIo::Mmsg;
            o
        }
        "" | "v2" => RawSocketOptions::new(),
        other => panic!("POLLNET_RAW_IO={other}: expected v3, v2, mmsg or plain"),
    };
    if env_is_off("POLLNET_RAW_VNET") {
        options.vnet_header = false;
    }
    options
}

/// The TAP options `POLLNET_TAP_OFFLOAD` asks for.
pub fn tap_options() -> TunTapOptions {
    if env_is_off("POLLNET_TAP_OFFLOAD") {
        TunTapOptions::tap().plain()
    } else {
        TunTapOptions::tap()
    }
}
