//! pollnet's DHCP client and DNS resolver against dnsmasq (Debian's
//! dnsmasq-base), in a private network namespace joined to the root one by
//! a veth pair: pollnet holds the root end through AF_PACKET (the end has no
//! kernel address), dnsmasq serves 198.51.100.0/24 on the other with a
//! two-minute lease, T1 10 s and T2 15 s, and answers `test.example` with
//! 192.0.2.80 (an address of the namespace). pollnet gets a lease (ARP
//! probe included), applies it, resolves the name through the lease's DNS
//! server, fetches a file over TCP from `python3 -m http.server` at the
//! resolved address through the lease's router, byte-exact, renews at T1
//! (unicast to dnsmasq), and releases the lease; dnsmasq's log shows each
//! step. A second case runs the `netinfo` example the same way.
//! Root only; without root, iproute2 or dnsmasq the case shows as ignored,
//! with the reason.

#[macro_use]
mod runner;

use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use pollnet::iface::{Config, Interface};
use pollnet::phy::RawSocket;
use pollnet::socket::SocketSet;
use pollnet::socket::dhcpv4::{Dhcpv4Event, Dhcpv4Lease, Dhcpv4Socket, Dhcpv4State};
use pollnet::socket::dns::{DnsError, DnsQueryType, DnsSocket};
use pollnet::socket::tcp::{RecvError, State, TcpSocket};
use pollnet::storage::RingBuffer;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpAddress, IpEndpoint, Ipv4Address};

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(dnsmasq_lease_resolve_renew_release)
            .root()
            .programs(&["ip", "dnsmasq", "python3"]),
        case!(netinfo_example_against_dnsmasq)
            .root()
            .programs(&["ip", "dnsmasq", "python3"])
            .needs(runner::Need::Example("netinfo")),
    ])
}

/// Distinguishes the cases' namespaces and interfaces within the process.
static NEXT_NET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Our address on the veth: locally administered.
const MAC: EthernetAddress = EthernetAddress([0x02, 0x70, 0x6e, 0x64, 0x68, 0x01]);
/// dnsmasq's address, in the namespace.
const SERVER: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);
/// What dnsmasq answers for test.example.
const NAME_ADDR: Ipv4Address = Ipv4Address::new(192, 0, 2, 80);

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// The namespace and the veth pair (deleting the namespace deletes its
/// end, and with it the root end), and dnsmasq, killed first.
struct TestNet {
    dnsmasq: Option<Child>,
    http: Option<Child>,
    www: std::path::PathBuf,
    ns: String,
    pollnet_if: String,
    kernel_if: String,
    log: std::path::PathBuf,
    leases: std::path::PathBuf,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for mut child in [self.dnsmasq.take(), self.http.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.www);
        let _ = run("ip", &["link", "del", &self.pollnet_if]);
        let _ = run("ip", &["netns", "del", &self.ns]);
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(&self.leases);
    }
}

impl TestNet {
    fn create() -> TestNet {
        let pid = std::process::id();
        let id = NEXT_NET.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir();
        let net = TestNet {
            dnsmasq: None,
            http: None,
            www: dir.join(format!("pndh-{pid}-{id}-www")),
            ns: format!("pndh-{pid}-{id}"),
            // IFNAMSIZ is 16: "pndh" + up to 7 pid digits + a letter + id.
            pollnet_if: format!("pndh{pid}p{id}"),
            kernel_if: format!("pndh{pid}k{id}"),
            log: dir.join(format!("pndh-{pid}-{id}-dnsmasq.log")),
            leases: dir.join(format!("pndh-{pid}-{id}.leases")),
        };
        let (ns, p, k) = (&net.ns, &net.pollnet_if, &net.kernel_if);
        must("ip", &["netns", "add", ns]);
        must(
            "ip",
            &[
                "link", "add", p, "type", "veth", "peer", "name", k, "netns", ns,
            ],
        );
        // No IPv6 chatter (router solicitations, MLD) on the link.
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{p}/disable_ipv6"), "1");
        let sysctl = format!("net.ipv6.conf.{k}.disable_ipv6=1");
        let _ = run("ip", &["netns", "exec", ns, "sysctl", "-qw", &sysctl]);
        must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        must(
            "ip",
            &["-n", ns, "addr", "add", "198.51.100.1/24", "dev", k],
        );
        must(
            "ip",
            &["-n", ns, "addr", "add", "192.0.2.80/32", "dev", "lo"],
        );
        must("ip", &["-n", ns, "link", "set", k, "up"]);
        must("ip", &["link", "set", p, "up"]);
        net
    }

    fn start_dnsmasq(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let interface = format!("--interface={}", self.kernel_if);
        let leasefile = format!("--dhcp-leasefile={}", self.leases.display());
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "dnsmasq"])
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--bind-interfaces",
                &interface,
                "--except-interface=lo",
                &leasefile,
                "--dhcp-range=198.51.100.50,198.51.100.99,2m",
                "--dhcp-option=option:T1,10",
                "--dhcp-option=option:T2,15",
                "--address=/test.example/192.0.2.80",
                "--no-resolv",
                "--no-hosts",
                "--log-dhcp",
                "--log-queries",
                "--log-facility=-",
                "--user=root",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dnsmasq");
        self.dnsmasq = Some(child);
    }

    /// Serves `body` as /file from 192.0.2.80:`port` in the namespace.
    fn start_http(&mut self, body: &[u8], port: &str) {
        std::fs::create_dir_all(&self.www).unwrap();
        std::fs::write(self.www.join("file"), body).unwrap();
        let www = self.www.display().to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-m", "http.server"])
            .args([port, "--bind", "192.0.2.80", "--directory", &www])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        self.http = Some(child);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// pollnet on the root end of the veth.
struct Stack {
    device: RawSocket,
    iface: Interface<'static>,
    sockets: SocketSet<'static>,
}

impl Stack {
    /// Polls until `done` returns something or `limit` passes (wall
    /// clock), waiting on the socket between polls.
    fn run_until<T>(
        &mut self,
        limit: StdDuration,
        what: &str,
        mut done: impl FnMut(&mut Stack, Instant) -> Option<T>,
    ) -> T {
        let start = std::time::Instant::now();
        loop {
            let now = Instant::now();
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            if let Some(value) = done(self, now) {
                return value;
            }
            assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
            let delay = self
                .iface
                .poll_delay(Instant::now(), &self.sockets)
                .map_or(StdDuration::from_millis(20), |d| {
                    StdDuration::from_micros(d.total_micros()).min(StdDuration::from_millis(20))
                });
            std::thread::sleep(delay.max(StdDuration::from_micros(200)));
        }
    }
}

fn dnsmasq_lease_resolve_renew_release() {
    let mut net = TestNet::create();
    // 300 kB of a fixed pseudo-random stream, for the HTTP fetch.
    let body = test_body(300_000);
    // Started first: listening long before the lease is in place.
    net.start_http(&body, "8080");
    net.start_dnsmasq();
    let device = RawSocket::new(&net.pollnet_if).expect("AF_PACKET socket on the veth");
    let config = Config::with_os_seed(MAC).unwrap();
    let seed = config.random_seed;
    let mut stack = Stack {
        device,
        iface: Interface::new(config).unwrap(),
        sockets: SocketSet::with_capacity(4),
    };
    let mut client = Dhcpv4Socket::new(MAC, seed);
    client.set_host_name("pollnet-test").unwrap();
    let dhcp = stack.sockets.add(client).unwrap();

    // A lease: DISCOVER, OFFER, REQUEST, ACK, then the ARP probe (3 to 5
    // s) before the address is used.
    let started = Instant::now();
    let lease = stack.run_until(StdDuration::from_secs(30), "lease", |s, now| {
        let event = s.sockets.get_mut::<Dhcpv4Socket>(dhcp)?.poll_event()?;
        s.iface
            .apply_dhcpv4_event(&mut s.sockets, &event, now)
            .unwrap();
        match event {
            Dhcpv4Event::Configured(lease) => Some(lease),
            Dhcpv4Event::Deconfigured(_) => None,
        }
    });
    let bound_at = Instant::now();
    eprintln!(
        "lease: {} router {:?} dns {:?} after {}",
        lease.address,
        lease.router,
        lease.dns_servers.as_slice(),
        bound_at - started
    );
    check_lease(&lease);
    assert!(
        bound_at - started >= Duration::from_secs(3),
        "the ARP probe takes at least 3 s"
    );
    let address = lease.address.address();
    assert_eq!(stack.iface.ip_addrs().next(), Some(lease.address));
    assert_eq!(stack.iface.ipv4_gateway(), Some(SERVER));

    // Resolve test.example through the lease's DNS server.
    let mut resolver = DnsSocket::new(&[], vec![None; 2], seed);
    resolver.set_ipv4_servers(lease.dns_servers.as_slice());
    let dns = stack.sockets.add(resolver).unwrap();
    let query = stack
        .sockets
        .get_mut::<DnsSocket>(dns)
        .unwrap()
        .start_query(Instant::now(), "test.example", DnsQueryType::A)
        .unwrap();
    let answer = stack.run_until(StdDuration::from_secs(10), "DNS answer", |s, _| {
        match s.sockets.get_mut::<DnsSocket>(dns)?.get_query_result(query) {
            Err(DnsError::Pending) => None,
            other => Some(other),
        }
    });
    let answer = answer.expect("test.example resolves");
    eprintln!("test.example: {:?}", answer.addresses());
    assert_eq!(answer.addresses(), &[IpAddress::Ipv4(NAME_ADDR)]);
    // A name dnsmasq does not know: it has no upstream (--no-resolv), so it
    // refuses or fails; either way an error, not a hang.
    let unknown = stack
        .sockets
        .get_mut::<DnsSocket>(dns)
        .unwrap()
        .start_query(Instant::now(), "nothing.invalid", DnsQueryType::A)
        .unwrap();
    let result = stack.run_until(StdDuration::from_secs(15), "DNS error", |s, _| {
        match s
            .sockets
            .get_mut::<DnsSocket>(dns)?
            .get_query_result(unknown)
        {
            Err(DnsError::Pending) => None,
            other => Some(other),
        }
    });
    eprintln!("nothing.invalid: {result:?}");
    assert!(result.is_err());

    // Fetch /file from the resolved address, through the lease's router.
    let tcp = stack
        .sockets
        .add(TcpSocket::new(
            RingBuffer::new(vec![0u8; 64 * 1024]),
            RingBuffer::new(vec![0u8; 4096]),
        ))
        .unwrap();
    stack
        .iface
        .connect(
            &mut stack.sockets,
            tcp,
            IpEndpoint::new(IpAddress::Ipv4(NAME_ADDR), 8080),
            Instant::now(),
        )
        .unwrap();
    let request = b"GET /file HTTP/1.0\r\nHost: test.example\r\n\r\n";
    let mut sent = 0;
    let mut response = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    stack.run_until(StdDuration::from_secs(20), "HTTP fetch", |s, _| {
        let socket = s.sockets.get_mut::<TcpSocket>(tcp)?;
        if socket.may_send() && sent < request.len() {
            sent += socket.send_slice(&request[sent..]).unwrap_or(0);
        }
        loop {
            match socket.recv_slice(&mut chunk) {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&chunk[..n]),
                Err(RecvError::Finished) => {
                    socket.close();
                    break;
                }
                Err(RecvError::InvalidState) => break,
            }
        }
        matches!(socket.state(), State::Closed | State::TimeWait).then_some(())
    });
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    eprintln!("HTTP: {}", head.lines().next().unwrap_or_default());
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(head.contains("Content-Length: 300000"), "{head}");
    assert!(response[split + 4..] == body[..], "body differs");

    // Renewal at T1 (10 s after the REQUEST): unicast to dnsmasq, ACKed;
    // the lease's new times count from the renewal.
    let renew_at = lease.renew_at.unwrap();
    let renewed = stack.run_until(StdDuration::from_secs(25), "renewal", |s, now| {
        let client = s.sockets.get_mut::<Dhcpv4Socket>(dhcp)?;
        let event = client.poll_event()?;
        s.iface
            .apply_dhcpv4_event(&mut s.sockets, &event, now)
            .unwrap();
        match event {
            Dhcpv4Event::Configured(renewed) => Some(renewed),
            Dhcpv4Event::Deconfigured(old) => panic!("lease lost: {old:?}"),
        }
    });
    let client = stack.sockets.get::<Dhcpv4Socket>(dhcp).unwrap();
    assert_eq!(client.state(), Dhcpv4State::Bound);
    assert_eq!(renewed.address.address(), address);
    eprintln!("renewed: {renewed:?} (T1 was {renew_at})");
    let renewed_from = renewed.expires_at.unwrap() - renewed.lease_duration.unwrap();
    assert!(
        renewed_from >= renew_at,
        "renewed at {renewed_from}, T1 was {renew_at}"
    );
    assert!(renewed_from - renew_at < Duration::from_secs(1));

    // Release: dnsmasq logs it and the address comes off.
    stack
        .sockets
        .get_mut::<Dhcpv4Socket>(dhcp)
        .unwrap()
        .release();
    stack.run_until(StdDuration::from_secs(5), "release", |s, now| {
        let event = s.sockets.get_mut::<Dhcpv4Socket>(dhcp)?.poll_event()?;
        s.iface
            .apply_dhcpv4_event(&mut s.sockets, &event, now)
            .unwrap();
        matches!(event, Dhcpv4Event::Deconfigured(_)).then_some(())
    });
    assert_eq!(stack.iface.ip_addrs().count(), 0);
    let text = address.to_string();
    let log = stack.run_until(StdDuration::from_secs(5), "dnsmasq's log", |_, _| {
        let log = net.log();
        log.contains(&format!("DHCPRELEASE({}) {text}", net.kernel_if))
            .then_some(log)
    });
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    eprintln!("{log}");
    assert_eq!(count("DHCPDISCOVER("), 1, "one DISCOVER");
    assert_eq!(
        count(&format!("DHCPACK({}) {text}", net.kernel_if)),
        2,
        "ACK and renewal"
    );
    assert!(
        log.contains("pollnet-test"),
        "the host name reached dnsmasq"
    );
    assert!(
        log.contains("test.example is 192.0.2.80"),
        "the query was answered"
    );
}

fn check_lease(lease: &Dhcpv4Lease) {
    let address = lease.address.address();
    assert_eq!(lease.address.prefix_len(), 24);
    assert!(
        (50..=99).contains(&address.0[3]) && address.0[..3] == [198, 51, 100],
        "{address}"
    );
    assert_eq!(lease.router, Some(SERVER));
    assert_eq!(lease.dns_servers.as_slice(), &[SERVER]);
    assert_eq!(lease.server, SERVER);
    assert_eq!(lease.lease_duration, Some(Duration::from_secs(120)));
    let start = lease.expires_at.unwrap() - Duration::from_secs(120);
    assert_eq!(lease.renew_at, Some(start + Duration::from_secs(10)));
    assert_eq!(lease.rebind_at, Some(start + Duration::from_secs(15)));
}

/// `len` bytes of a fixed pseudo-random stream (xorshift64).
fn test_body(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The `netinfo` example on the veth: lease, name, ping and fetch of
/// http://test.example/file, the body alone on stdout, exit 0, the lease
/// released in dnsmasq's log.
fn netinfo_example_against_dnsmasq() {
    let mut net = TestNet::create();
    let body = test_body(50_000);
    net.start_http(&body, "80");
    net.start_dnsmasq();
    let binary = runner::example_binary("netinfo");
    let out = Command::new(&binary)
        .args(["--iface", &net.pollnet_if, "--mac", "02:70:6e:64:68:02"])
        .args(["--path", "/file", "--timeout", "20", "test.example"])
        .output()
        .expect("run netinfo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "netinfo failed: {stderr}");
    assert!(out.stdout == body, "stdout is not the body alone");
    for line in [
        "lease: 198.51.100.",
        "address: test.example is 192.0.2.80",
        "ping: reply from 192.0.2.80 in ",
        "http: HTTP/1.0 200 OK",
        "lease released",
    ] {
        assert!(stderr.contains(line), "no {line:?} in stderr");
    }
    // dnsmasq saw the release (it may log it a moment later).
    let deadline = std::time::Instant::now() + StdDuration::from_secs(5);
    while !net.log().contains("DHCPRELEASE(") {
        assert!(
            std::time::Instant::now() < deadline,
            "no release in dnsmasq's log"
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }

    // A name dnsmasq refuses: exit status 4 and a line saying so.
    let out = Command::new(&binary)
        .args(["--iface", &net.pollnet_if, "--mac", "02:70:6e:64:68:03"])
        .args(["--timeout", "20", "nothing.invalid"])
        .output()
        .expect("run netinfo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("netinfo: name not resolved: nothing.invalid"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
