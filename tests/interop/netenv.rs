//! The test network: a network namespace for the kernel peer and a veth
//! pair (pollnet's end in the root namespace, without an IP address, so the
//! root namespace's kernel ignores pollnet's traffic), or a TAP device whose
//! host side lives in the namespace. Names are unique per process and test;
//! everything is deleted by Drop guards, also when a test panics. Only
//! TEST-NET-1 (RFC 5737) addresses are used.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use pollnet::phy::{TunTap, TunTapOptions};
use pollnet::wire::EthernetAddress;

/// The kernel peer's address in the namespace.
pub const KERNEL_CIDR: &str = "192.0.2.2/24";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A number unique within this process.
pub fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Runs a command; its stdout, or an error with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs a command that must succeed.
pub fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Turns IPv6 off on interface `name` of the calling thread's namespace, so
/// no router solicitations or MLD reports clutter the link and the pcaps.
fn disable_ipv6(name: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    if Path::new(&path).exists() {
        std::fs::write(&path, "1").unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: String) -> Result<Netns, String> {
        run("ip", &["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        Ok(ns)
    }

    /// `ip -n NAME args...`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        must("ip", &full)
    }

    /// `ip netns exec NAME program args...`.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs `f` on a new thread that has entered the namespace. Sockets
    /// created there belong to the namespace for good and may be used from
    /// any thread afterwards.
    pub fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        // Named, so profiles tell the kernel side's threads from pollnet's.
        let builder = std::thread::Builder::new().name(format!("ns-{}", self.name));
        let spawned = builder.spawn(move || {
            // SAFETY: setns(2) with a namespace fd we hold open; with
            // CLONE_NEWNET it moves only the calling thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                panic!("setns({path}): {}", io::Error::last_os_error());
            }
            drop(file);
            f()
        });
        spawned.expect("spawn a thread")
    }

    /// Runs `f` inside the namespace and waits for it.
    pub fn run<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// The hardware address of interface `dev` in the namespace.
    pub fn mac_of(&self, dev: &str) -> EthernetAddress {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        parse_mac_after(&out, "link/ether ").unwrap_or_else(|| panic!("no MAC in {out:?}"))
    }

    /// The kernel's neighbour entry for `ip` on `dev`: its MAC and state.
    pub fn neighbour(&self, dev: &str, ip: &str) -> Option<(EthernetAddress, String)> {
        let out = self.ip(&["neigh", "show", "to", ip, "dev", dev]);
        let mac = parse_mac_after(&out, "lladdr ")?;
        let state = out
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string();
        Some((mac, state))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

fn parse_mac_after(text: &str, marker: &str) -> Option<EthernetAddress> {
    let start = text.find(marker)? + marker.len();
    let hex = text.get(start..start + 17)?;
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(hex.split(':')) {
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    Some(EthernetAddress(mac))
}

/// A network interface in the root namespace, deleted on drop (deleting a
/// veth end deletes its peer too).
pub struct Link {
    pub name: String,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["link", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Checksum offload on the kernel's veth end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// `ethtool -K dev tx off`: the kernel computes every checksum and sends
    /// MTU-sized frames (TSO depends on tx checksumming and goes off too).
    TxOff,
    /// The veth defaults: partial checksums (TP_STATUS_CSUMNOTREADY) and,
    /// with TSO, frames larger than the MTU.
    On,
    /// `ethtool -K dev tx off gso off tso off gro off`: every frame
    /// MTU-sized both on the way out and on the way in (no GRO merging),
    /// so a packet filter sees each segment alone.
    AllOff,
}

impl Offload {
    /// The `ethtool -K DEV ...` arguments after the device, if any.
    pub fn ethtool_features(self) -> &'static [&'static str] {
        match self {
            Offload::TxOff => &["tx", "off"],
            Offload::On => &[],
            Offload::AllOff => &["tx", "off", "gso", "off", "tso", "off", "gro", "off"],
        }
    }
}

/// `ethtool -K dev FEATURES...` in `ns`, for the settings `offload` names.
pub fn set_offload(ns: &Netns, dev: &str, offload: Offload) -> Result<(), String> {
    let features = offload.ethtool_features();
    if features.is_empty() {
        return Ok(());
    }
    let mut args = vec!["-K", dev];
    args.extend_from_slice(features);
    ns.exec("ethtool", &args).map(drop)
}

/// A veth pair: `pollnet_if` in the root namespace without an address,
/// `kernel_if` in `ns` with 192.0.2.2/24.
pub struct VethNet {
    // Field order is drop order: the link goes before the namespace.
    pub link: Link,
    pub ns: Netns,
    pub pollnet_if: String,
    pub kernel_if: String,
    pub kernel_mac: EthernetAddress,
}

impl VethNet {
    pub fn create(offload: Offload) -> Result<VethNet, String> {
        VethNet::create_named("pollnet", "pn", offload)
    }

    /// As [`create`](Self::create), with the namespace named
    /// `{ns_prefix}-{pid}-{id}` and the interfaces `{if_prefix}{pid}p{id}`
    /// and `{if_prefix}{pid}k{id}`, so suites can tell their leftovers
    /// apart. IFNAMSIZ is 16: a prefix of up to 5 bytes, 7 pid digits, a
    /// letter and a two-digit id fit.
    pub fn create_named(
        ns_prefix: &str,
        if_prefix: &str,
        offload: Offload,
    ) -> Result<VethNet, String> {
        let pid = std::process::id();
        let id = next_id();
        let ns = Netns::create(format!("{ns_prefix}-{pid}-{id}"))?;
        let pollnet_if = format!("{if_prefix}{pid}p{id}");
        let kernel_if = format!("{if_prefix}{pid}k{id}");
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
        disable_ipv6(&pollnet_if);
        let dev = kernel_if.clone();
        ns.run(move || disable_ipv6(&dev));
        set_offload(&ns, &kernel_if, offload)?;
        ns.ip(&["addr", "add", KERNEL_CIDR, "dev", &kernel_if]);
        ns.ip(&["link", "set", &kernel_if, "up"]);
        must("ip", &["link", "set", &pollnet_if, "up"]);
        let kernel_mac = ns.mac_of(&kernel_if);
        Ok(VethNet {
            link,
            ns,
            pollnet_if,
            kernel_if,
            kernel_mac,
        })
    }
}

/// A TAP device created inside `ns`: pollnet holds the device's fd, the
/// kernel has 192.0.2.2/24 on the host side. The TAP goes away with its fd
/// and the namespace with the guard.
pub struct TapNet {
    pub ns: Netns,
    pub tap_if: String,
    pub kernel_mac: EthernetAddress,
}

impl TapNet {
    /// A TAP with the path `POLLNET_TAP_OFFLOAD` asks for (offloads by
    /// default).
    pub fn create() -> Result<(TapNet, TunTap), String> {
        TapNet::create_with(super::paths::tap_options())
    }

    /// A TAP (or, with `TunTapOptions::tun()`, a TUN) opened with `options`.
    pub fn create_with(options: TunTapOptions) -> Result<(TapNet, TunTap), String> {
        let pid = std::process::id();
        let id = next_id();
        let ns = Netns::create(format!("pollnet-{pid}-{id}"))?;
        let tap_if = format!("pn{pid}t{id}");
        let name = tap_if.clone();
        let tap = ns
            .run(move || {
                let tap = TunTap::with_options(&name, options);
                disable_ipv6(&name);
                tap
            })
            .map_err(|e| format!("opening TAP {tap_if}: {e}"))?;
        ns.ip(&["addr", "add", KERNEL_CIDR, "dev", &tap_if]);
        ns.ip(&["link", "set", &tap_if, "up"]);
        // A TUN has no hardware address.
        let kernel_mac = if options.medium == pollnet::phy::Medium::Ip {
            EthernetAddress([0; 6])
        } else {
            ns.mac_of(&tap_if)
        };
        Ok((
            TapNet {
                ns,
                tap_if,
                kernel_mac,
            },
            tap,
        ))
    }
}

/// Two namespaces joined by a veth pair, kernel TCP at both ends:
/// 192.0.2.1/24 in `a`, 192.0.2.2/24 in `b`.
pub struct KernelPair {
    // Drop order: the namespaces take their interfaces with them.
    pub a: Netns,
    pub b: Netns,
    pub if_a: String,
    pub if_b: String,
}

impl KernelPair {
    pub fn create(offload: Offload) -> Result<KernelPair, String> {
        let pid = std::process::id();
        let a = Netns::create(format!("pollnet-{pid}-{}", next_id()))?;
        let b = Netns::create(format!("pollnet-{pid}-{}", next_id()))?;
        let id = next_id();
        let (if_a, if_b) = (format!("pn{pid}a{id}"), format!("pn{pid}b{id}"));
        a.ip(&[
            "link", "add", &if_a, "type", "veth", "peer", "name", &if_b, "netns", &b.name,
        ]);
        for (ns, dev, cidr) in [(&a, &if_a, "192.0.2.1/24"), (&b, &if_b, "192.0.2.2/24")] {
            let name = dev.clone();
            ns.run(move || disable_ipv6(&name));
            set_offload(ns, dev, offload)?;
            ns.ip(&["addr", "add", cidr, "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        Ok(KernelPair { a, b, if_a, if_b })
    }
}

/// The nftables table and chain `drop_tcp_input` creates.
const NFT_TABLE: &str = "pollnet_loss";
const NFT_CHAIN: &str = "input";

/// Drops `percent`% of the TCP packets entering namespace `ns`, at random
/// (nftables `numgen random` in the input hook), counting them.
pub fn drop_tcp_input(ns: &Netns, percent: u32) -> Result<(), String> {
    let nft = |args: &[&str]| ns.exec("nft", args).map(drop);
    nft(&["add", "table", "inet", NFT_TABLE])?;
    nft(&[
        "add",
        "chain",
        "inet",
        NFT_TABLE,
        NFT_CHAIN,
        "{ type filter hook input priority 0; policy accept; }",
    ])?;
    let percent = percent.to_string();
    nft(&[
        "add", "rule", "inet", NFT_TABLE, NFT_CHAIN, "meta", "l4proto", "tcp", "numgen", "random",
        "mod", "100", "<", &percent, "counter", "drop",
    ])
}

/// The TCP packets `drop_tcp_input`'s rule has dropped in `ns` so far.
pub fn tcp_input_drops(ns: &Netns) -> Result<u64, String> {
    let listing = ns.exec("nft", &["list", "chain", "inet", NFT_TABLE, NFT_CHAIN])?;
    listing
        .split_whitespace()
        .skip_while(|word| *word != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no packet counter in {listing:?}"))
}
