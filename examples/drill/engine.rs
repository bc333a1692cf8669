//! drill's engine: runs packetdrill-style scripts against the whole pollnet
//! stack on a virtual clock. Shared by `examples/drill` (the command) and
//! `tests/conformance.rs` (the suite as a test).
//!
//! # The setup
//!
//! Each script gets a fresh [`Interface`] (192.0.2.1, TEST-NET-1) and
//! [`SocketSet`] over a [`ScriptDevice`](device::ScriptDevice): an Ethernet
//! link whose far end (192.0.2.2) is the script. `<` lines become frames
//! pollnet receives; frames pollnet transmits are decoded (every checksum
//! verified) and matched against `>` lines. ARP requests for 192.0.2.2 are
//! answered at once by the device and are not segments. So a segment for no
//! connection exercises the interface's own RST, and `listen`/`accept` go
//! through the socket set's backlog.
//!
//! Ports: the script's socket binds and listens on 8080, and connects to
//! 192.0.2.2:8080 from the ephemeral port pollnet picks. In a passive open
//! the script's side uses port 40000.
//!
//! # Time
//!
//! Script time 0 is an arbitrary fixed instant of pollnet's virtual clock.
//! `+t` is relative to the previous event's script time, `t` to the start,
//! `*` is "whenever". Before each event the clock advances to the event's
//! time, stopping at every instant the interface asks to be polled
//! (`Interface::poll_at`), so timers (retransmissions, delayed ACKs,
//! TIME_WAIT, keep-alive) fire at their own instants: a script that waits
//! through minutes of backoff runs in milliseconds. At each instant pollnet
//! is polled until it has nothing more to do.
//!
//! A `>` line matches the oldest segment pollnet sent that no earlier `>`
//! line matched; it must have been sent within `--tolerance_usecs` (default
//! 4 ms) of the line's time (any time for `*`), and the clock runs on to the
//! end of that window waiting for it. A segment still unmatched when any
//! other event comes up fails the script ("unexpected"), as in packetdrill.
//! Segments sent in reaction to the script's last event are not checked.
//!
//! # Sequence numbers
//!
//! Inbound sequence numbers (and the SACK blocks pollnet sends) are relative
//! to the script side's ISN, a per-script constant derived from the file
//! name (so some scripts' windows straddle 2^32). Outbound sequence numbers
//! (and the `ack` of inbound lines) are relative to pollnet's ISN, learned
//! from each SYN pollnet sends that a `>` SYN line matches; until then it is
//! 0, so a RST for no connection (`> R 34:34(0)` answering `ack 34`) checks
//! the echoed number exactly.
//!
//! # What a `>` line checks
//!
//! Exactly: the addresses and ports; all nine flags; the sequence number
//! (unless `...`); the payload length; the ACK number when the line has `.`.
//!
//! The window, exactly, with two exceptions. pollnet sizes its receive
//! buffer to the script's `SO_RCVBUF` (or `recvspace`), so the windows it
//! advertises are its own choices and must match the script's, but:
//! - RFC 9293 gives no meaning to a RST's window (FreeBSD sends 0; pollnet
//!   may send its window), so a RST's window is not checked;
//! - receiver silly-window avoidance (RFC 9293 section 3.8.6.2.2, RFC 1122
//!   section 4.2.3.3) lets pollnet hold its right edge (RCV.NXT + RCV.WND)
//!   back until the window can open by min(RCV.BUFF / 2, MSS), where
//!   FreeBSD moves it with every segment it sends (after a FIN, say, or
//!   after the application reads a few bytes). So a window smaller than the
//!   script's is accepted when, and only when, its right edge (ACK +
//!   window, scaled as negotiated) is not left of the right edge pollnet
//!   advertised before in the connection: the window never shrinks (RFC
//!   9293 section 3.8.6.2.2), and it stays below FreeBSD's. For an active
//!   open, the SYN's window counts from the peer's ISN + 1, once the peer's
//!   SYN tells that ISN.
//!
//! Options: which of MSS, window scale, SACK-permitted and timestamps are
//! present must match exactly (a missing list means none). For a SYN that is
//! pollnet's own choice from its settings (which the script's sysctls set),
//! and for a SYN+ACK or later segment RFC 7323 and RFC 2018 fix it by what
//! the peer offered. The MSS value must match (pollnet derives it from the
//! device's MTU, as FreeBSD does: 1500, or the script's `--mtu`). SACK blocks and TSecr must match.
//! Tolerated, because the script encodes FreeBSD's own choices: the window
//! scale's shift (FreeBSD derives 6 from its 2 MB socket-buffer limit,
//! pollnet from its buffer), the TSval (each stack's own clock), and the
//! order and NOP/EOL padding of the options (layout, not meaning).
//!
//! # State checks
//!
//! `sockstat ... | grep -c STATE | grep N` counts the sockets in STATE: every
//! socket in the set (the application's, closed-but-lingering ones such as
//! a TIME_WAIT socket held after `shutdown`, a listener's unaccepted
//! connections), every connection the set holds as a compact record
//! (half-open SYN_RCVD, TIME_WAIT after `close`), plus each open descriptor
//! with no pollnet socket yet (CLOSED), filtered by `-p PORT` on either end.
//! `%{ assert tcpi_state == TCPI_X }%` checks the state of the connection
//! behind the last descriptor a system call used: its socket's, or that of
//! the record its 4-tuple is held as. Neither is ever skipped.
//!
//! # System calls and sysctls
//!
//! See `syscall.rs` (errno results, `SO_ERROR`, `SO_RCVBUF`) and `sysctl.rs`
//! (which FreeBSD variables map onto `TcpConfig`). `#ifdef STANDARD` branches
//! run, every other symbol is undefined.

#[path = "device.rs"]
pub mod device;
#[path = "parser.rs"]
pub mod parser;
#[path = "syscall.rs"]
mod syscall;
#[path = "sysctl.rs"]
pub mod sysctl;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use pollnet::iface::{Config, Interface};
use pollnet::socket::tcp::{State, TcpConfig, TcpSocket};
use pollnet::socket::{AnySocket, SocketSet};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint, Ipv4Cidr, TcpFlags};

use self::device::{
    LOCAL_IP, LOCAL_MAC, REMOTE_IP, ScriptDevice, SentFrame, SentOption, SentSegment,
};
use self::parser::{Action, Assertion, EventTime, Script, Segment, SegmentOption, Shell};
use self::sysctl::{Applied, Knobs};

/// The `#ifdef` symbols drill defines.
pub const DEFINED: &[&str] = &["STANDARD"];
/// The port the script's socket binds, listens and connects to.
pub const SCRIPT_PORT: u16 = 8080;
/// The script side's port in a passive open.
pub const REMOTE_PORT: u16 = 40000;
/// packetdrill's default tolerance when a script gives none.
const DEFAULT_TOLERANCE_USECS: u64 = 4_000;
/// How long a `*` outbound line waits for its segment.
const ANY_TIME_LIMIT: Duration = Duration::from_secs(3600);
/// Polls at one instant before the runner calls it a livelock.
const POLLS_PER_INSTANT: usize = 1000;
/// Sockets one script may have at once.
const SOCKET_CAPACITY: usize = 16;
/// Script time zero on pollnet's clock.
const EPOCH: Instant = Instant::from_secs(1_000);

/// Why a script failed: the line, what it expected, what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line number (0: the file could not be read).
    pub line: usize,
    /// What the script expected.
    pub expected: String,
    /// What pollnet did.
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.line, self.expected, self.got
        )
    }
}

/// A mismatch inside one event, before the line number is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mismatch {
    expected: String,
    got: String,
}

fn mismatch<T>(expected: impl Into<String>, got: impl Into<String>) -> Result<T, Mismatch> {
    Err(Mismatch {
        expected: expected.into(),
        got: got.into(),
    })
}

/// Runs the script in `path`.
pub fn run_file(path: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(|err| Failure {
        line: 0,
        expected: "a readable script".into(),
        got: err.to_string(),
    })?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    run_text(&text, seed_for(&name))
}

/// Runs a script given as text; `seed` fixes pollnet's random seed and the
/// script side's ISN.
pub fn run_text(text: &str, seed: u64) -> Result<(), Failure> {
    let script = parser::parse(text, DEFINED).map_err(|err| Failure {
        line: err.line,
        expected: err.expected,
        got: err.got,
    })?;
    if let Some(version) = script.ip_version.as_deref() {
        if version != "ipv4" {
            return Err(Failure {
                line: 1,
                expected: "--ip_version=ipv4".into(),
                got: format!("--ip_version={version}"),
            });
        }
    }
    Runner::new(&script, seed).run(&script)
}

/// A stable 64-bit hash (FNV-1a) of a script's file name.
pub fn seed_for(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A segment pollnet sent and no `>` line has matched yet.
#[derive(Debug, Clone)]
struct Captured {
    at: Instant,
    frame: SentFrame,
}

/// The connection the script talks about: pollnet's end and the script's.
#[derive(Debug, Clone, Copy)]
struct Tuple {
    local: IpEndpoint,
    remote: IpEndpoint,
}

/// One script's run.
struct Runner {
    iface: Interface<'static>,
    sockets: SocketSet<'static>,
    device: ScriptDevice,
    now: Instant,
    tolerance: Duration,
    /// Settings for new sockets, as the sysctls left them.
    config: TcpConfig,
    knobs: Knobs,
    fds: BTreeMap<i32, syscall::Fd>,
    /// Sockets whose descriptor was closed but which live on in the stack
    /// (FIN_WAIT_*, TIME_WAIT, ...); removed once CLOSED.
    orphans: Vec<pollnet::socket::SocketHandle>,
    /// The descriptor the last system call used (for `%{ }%`).
    last_fd: Option<i32>,
    tuple: Tuple,
    remote_isn: u32,
    local_isn: u32,
    /// The window scale pollnet offered in its last SYN, if any.
    local_wscale: Option<u8>,
    /// Whether the script's last SYN offered window scaling.
    remote_wscale: bool,
    /// The right edge of the window pollnet last advertised (absolute, in
    /// the script side's sequence space).
    right_edge: Option<u32>,
    /// The window of pollnet's last SYN without ACK (an active open), whose
    /// right edge is fixed once the peer's ISN is known.
    syn_window: Option<u16>,
    captured: VecDeque<Captured>,
    ip_ident: u16,
    /// Print every event, segment and state change to stderr
    /// (`DRILL_TRACE` set in the environment).
    trace: bool,
}

impl Runner {
    fn new(script: &Script, seed: u64) -> Runner {
        // FreeBSD, whose behaviour the scripts pin, has no quick-ACK mode:
        // it delays the ACK of in-order data from the first segment on.
        let mut config = TcpConfig::default();
        config.quick_acks = 0;
        // A /24 prefix is always valid (at most 32).
        let prefix = Ipv4Cidr::new(LOCAL_IP, 24).expect("a /24 prefix is valid");
        let iface_config = Config::new(LOCAL_MAC, u128::from(seed))
            .with_ip(prefix)
            .with_drop_syn_fin(config.drop_syn_fin);
        Runner {
            iface: Interface::new(iface_config).expect("LOCAL_MAC is unicast"),
            sockets: SocketSet::with_capacity(SOCKET_CAPACITY),
            device: ScriptDevice {
                mtu: script.mtu,
                ..ScriptDevice::default()
            },
            now: EPOCH,
            tolerance: Duration::from_micros(
                script.tolerance_usecs.unwrap_or(DEFAULT_TOLERANCE_USECS),
            ),
            config,
            knobs: Knobs::default(),
            fds: BTreeMap::new(),
            orphans: Vec::new(),
            last_fd: None,
            tuple: Tuple {
                local: IpEndpoint::new(IpAddress::Ipv4(LOCAL_IP), SCRIPT_PORT),
                remote: IpEndpoint::new(IpAddress::Ipv4(REMOTE_IP), REMOTE_PORT),
            },
            // The high half of the seed: independent of pollnet's secrets,
            // which splitmix the whole seed.
            remote_isn: (seed >> 32) as u32,
            local_isn: 0,
            local_wscale: None,
            remote_wscale: false,
            right_edge: None,
            syn_window: None,
            captured: VecDeque::new(),
            ip_ident: 0,
            trace: std::env::var_os("DRILL_TRACE").is_some(),
        }
    }

    fn run(&mut self, script: &Script) -> Result<(), Failure> {
        let mut script_time: i64 = 0;
        for event in &script.events {
            let at = match event.time {
                EventTime::Absolute(us) => Some(us),
                EventTime::Relative(us) => Some(script_time.saturating_add(us)),
                EventTime::Any => None,
            };
            if self.trace {
                let when =
                    at.map_or_else(|| "*".to_string(), |us| self.show_time(self.instant(us)));
                eprintln!("drill: {when} line {}: {}", event.line, event.text);
            }
            let result = match &event.action {
                Action::Expect(segment) => self.expect(at, &event.text, segment),
                action => self.perform_at(at, &event.text, action),
            };
            result.map_err(|m| Failure {
                line: event.line,
                expected: m.expected,
                got: m.got,
            })?;
            script_time = at.unwrap_or_else(|| self.script_micros(self.now));
        }
        Ok(())
    }

    fn instant(&self, script_micros: i64) -> Instant {
        EPOCH + Duration::from_micros(script_micros.max(0).unsigned_abs())
    }

    fn script_micros(&self, at: Instant) -> i64 {
        at.total_micros() - EPOCH.total_micros()
    }

    /// `at` in script seconds, for messages.
    fn show_time(&self, at: Instant) -> String {
        let us = self.script_micros(at);
        format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
    }

    // ------------------------------------------------------------ the clock

    /// Polls at `now` until pollnet has nothing more to do at this instant.
    fn settle(&mut self) -> Result<(), Mismatch> {
        for _ in 0..POLLS_PER_INSTANT {
            self.iface
                .poll(self.now, &mut self.device, &mut self.sockets);
            self.collect_sent();
            while let Some(event) = self.sockets.pop_trace() {
                if self.trace {
                    eprintln!(
                        "drill: {}   socket {}: {}",
                        self.show_time(event.at),
                        event.handle.map_or_else(
                            || format!("(record {:?})", event.remote.map(|e| e.port)),
                            |h| h.to_string()
                        ),
                        event.transition
                    );
                }
            }
            self.reap_orphans();
            let due = self
                .iface
                .poll_at(&self.sockets)
                .is_some_and(|at| at <= self.now);
            if self.device.inbound.is_empty() && !due {
                return Ok(());
            }
        }
        mismatch(
            "pollnet to settle at one instant",
            format!(
                "still asking for polls after {POLLS_PER_INSTANT} polls at {}",
                self.show_time(self.now)
            ),
        )
    }

    /// Moves the clock to `target`, stopping wherever pollnet has a timer.
    fn advance_to(&mut self, target: Instant) -> Result<(), Mismatch> {
        loop {
            self.settle()?;
            if self.now >= target {
                return Ok(());
            }
            self.now = match self.iface.poll_at(&self.sockets) {
                Some(at) if at > self.now => at.min(target),
                _ => target,
            };
        }
    }

    /// Sorts what the device recorded: ARP requests for the script side are
    /// answered, other ARP is ignored, everything else waits for `>` lines.
    fn collect_sent(&mut self) {
        while let Some(sent) = self.device.outbound.pop_front() {
            match device::decode(&sent.frame) {
                SentFrame::ArpRequest {
                    sender_mac,
                    sender_ip,
                    target,
                } if target == REMOTE_IP => {
                    self.device
                        .inbound
                        .push_back(device::arp_reply(sender_mac, sender_ip));
                }
                SentFrame::ArpRequest { .. } | SentFrame::OtherArp => {}
                frame => {
                    if self.trace {
                        eprintln!(
                            "drill: {}   pollnet sent {}",
                            self.show_time(sent.at),
                            self.describe(&frame)
                        );
                    }
                    self.captured.push_back(Captured { at: sent.at, frame });
                }
            }
        }
    }

    /// Frees closed-descriptor sockets that reached CLOSED.
    fn reap_orphans(&mut self) {
        let sockets = &mut self.sockets;
        self.orphans
            .retain(|&handle| match sockets.get::<TcpSocket>(handle) {
                Some(socket) if socket.state() == State::Closed => {
                    sockets.remove(handle);
                    false
                }
                Some(_) => true,
                None => false,
            });
    }

    // --------------------------------------------------------------- events

    fn perform_at(&mut self, at: Option<i64>, text: &str, action: &Action) -> Result<(), Mismatch> {
        if let Some(us) = at {
            self.advance_to(self.instant(us))?;
        }
        if let Some(pending) = self.captured.front() {
            return mismatch(
                text,
                format!(
                    "unexpected {} at {}",
                    self.describe(&pending.frame),
                    self.show_time(pending.at)
                ),
            );
        }
        let result = match action {
            Action::Inject(segment) => self.inject(segment),
            Action::Syscall(call) => self.syscall(call),
            Action::Shell(shell) => self.shell(shell),
            Action::Assert(assertions) => self.assert(assertions),
            // Handled by `expect`.
            Action::Expect(_) => Ok(()),
        };
        // Whatever the event set off at this instant happens now.
        self.settle()?;
        result
    }

    fn inject(&mut self, segment: &Segment) -> Result<(), Mismatch> {
        let Some(seq) = segment.seq else {
            return mismatch("an inbound segment with start:end", "...");
        };
        let window = match segment.window {
            Some(w) => match u16::try_from(w) {
                Ok(w) => w,
                Err(_) => return mismatch("a window below 65536", w.to_string()),
            },
            None => return mismatch("an inbound segment with win N", "no window"),
        };
        if segment.flags.contains(TcpFlags::SYN) {
            // pollnet's SYN window counts from the peer's ISN + 1.
            if let Some(window) = self.syn_window.take() {
                self.right_edge = Some(
                    self.remote_isn
                        .wrapping_add(seq)
                        .wrapping_add(1)
                        .wrapping_add(u32::from(window)),
                );
            }
            self.remote_wscale = segment
                .options
                .iter()
                .flatten()
                .any(|o| matches!(o, SegmentOption::WindowScale(_)));
        }
        let mut options = Vec::new();
        for option in segment.options.iter().flatten() {
            match *option {
                SegmentOption::Mss(mss) => {
                    options.extend_from_slice(&[2, 4]);
                    options.extend_from_slice(&mss.to_be_bytes());
                }
                SegmentOption::WindowScale(shift) => options.extend_from_slice(&[3, 3, shift]),
                SegmentOption::SackPermitted => options.extend_from_slice(&[4, 2]),
                SegmentOption::Sack(ref blocks) => {
                    // At most 4 blocks fit; the length byte then fits a u8.
                    options.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                    for &(left, right) in blocks {
                        options.extend_from_slice(&self.local_isn.wrapping_add(left).to_be_bytes());
                        options
                            .extend_from_slice(&self.local_isn.wrapping_add(right).to_be_bytes());
                    }
                }
                SegmentOption::Timestamp { val, ecr } => {
                    options.extend_from_slice(&[8, 10]);
                    options.extend_from_slice(&val.to_be_bytes());
                    options.extend_from_slice(&ecr.to_be_bytes());
                }
                SegmentOption::Nop => options.push(1),
                SegmentOption::Eol => options.push(0),
            }
        }
        let outgoing = device::OutgoingSegment {
            src_port: self.tuple.remote.port,
            dst_port: self.tuple.local.port,
            seq: self.remote_isn.wrapping_add(seq),
            ack: segment
                .ack
                .map_or(0, |ack| self.local_isn.wrapping_add(ack)),
            flags: segment.flags,
            window,
            options,
            payload_len: segment.len as usize,
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let frame = device::tcp_frame(&outgoing, self.ip_ident)
            .or_else(|err| mismatch("a segment that fits an IPv4 packet", err))?;
        self.device.inbound.push_back(frame);
        Ok(())
    }

    fn shell(&mut self, shell: &Shell) -> Result<(), Mismatch> {
        match shell {
            Shell::Sysctl { name, value } => {
                let applied = sysctl::apply(name, value, &mut self.config, &mut self.knobs)
                    .or_else(|err| mismatch("a valid sysctl value", err))?;
                if applied == Applied::Config {
                    // Kernel variables affect live connections too.
                    let handles: Vec<_> = self.sockets.iter().map(|(h, _)| h).collect();
                    for handle in handles {
                        if let Some(socket) = self.sockets.get_mut::<TcpSocket>(handle) {
                            let mut config = *socket.config();
                            let mut scratch = self.knobs;
                            // Same name and value: cannot fail the second time.
                            let _ = sysctl::apply(name, value, &mut config, &mut scratch);
                            socket.set_config(config);
                        }
                    }
                }
                Ok(())
            }
            Shell::StateCount { state, port, count } => {
                let found = self.count_in_state(state, *port);
                if found != *count {
                    return mismatch(
                        format!("{count} socket(s) in {state}"),
                        format!("{found} ({})", self.state_summary()),
                    );
                }
                Ok(())
            }
            Shell::Other(command) => mismatch(
                "a shell command drill models (sysctl -w, sockstat | grep -c)",
                command.clone(),
            ),
        }
    }

    /// The TCP sockets of the set.
    fn tcp_sockets(&self) -> impl Iterator<Item = &TcpSocket<'static>> {
        self.sockets
            .iter()
            .filter_map(|(_, socket)| TcpSocket::downcast(socket))
    }

    /// Every socket's state, for messages.
    fn state_summary(&self) -> String {
        let mut states: Vec<String> = self
            .tcp_sockets()
            .map(|socket| socket.state().to_string())
            .collect();
        states.extend(
            self.sockets
                .tcp_records()
                .map(|record| format!("{} (record)", record.state)),
        );
        for fd in self.fds.values() {
            if fd.socket.is_none() {
                states.push("CLOSED (no socket yet)".into());
            }
        }
        if states.is_empty() {
            "no sockets".into()
        } else {
            states.join(", ")
        }
    }

    fn count_in_state(&self, state: &str, port: Option<u16>) -> usize {
        let port_matches = |ports: &[u16]| port.is_none_or(|p| ports.contains(&p));
        let in_set = self
            .tcp_sockets()
            .filter(|socket| socket.state().name() == state)
            .filter(|socket| {
                let mut ports = vec![socket.listen_endpoint().port];
                ports.extend(socket.local_endpoint().map(|e| e.port));
                ports.extend(socket.remote_endpoint().map(|e| e.port));
                port_matches(&ports)
            })
            .count();
        // Connections held as compact records (half-open, TIME_WAIT) are
        // sockets to sockstat too.
        let records = self
            .sockets
            .tcp_records()
            .filter(|record| record.state.name() == state)
            .filter(|record| port_matches(&[record.local.port, record.remote.port]))
            .count();
        let without_socket = if state == State::Closed.name() {
            self.fds
                .values()
                .filter(|fd| fd.socket.is_none())
                .filter(|fd| port_matches(&[if fd.bound { SCRIPT_PORT } else { 0 }]))
                .count()
        } else {
            0
        };
        in_set + records + without_socket
    }

    fn assert(&mut self, assertions: &[Assertion]) -> Result<(), Mismatch> {
        for assertion in assertions {
            match assertion {
                Assertion::TcpiState(name) => {
                    let Some(expected) = tcpi_state(name) else {
                        return mismatch("a TCPI_ state name", format!("TCPI_{name}"));
                    };
                    let handle = self
                        .last_fd
                        .and_then(|fd| self.fds.get(&fd))
                        .and_then(|fd| fd.socket);
                    // A socket compacted into a record is found by the
                    // script's 4-tuple.
                    let actual = match handle {
                        Some(handle) => self
                            .sockets
                            .get::<TcpSocket>(handle)
                            .map(|socket| socket.state())
                            .or_else(|| self.sockets.tcp_state(self.tuple.local, self.tuple.remote))
                            .unwrap_or(State::Closed),
                        None => State::Closed,
                    };
                    if actual != expected {
                        return mismatch(
                            format!("tcpi_state {expected} (TCPI_{name})"),
                            actual.to_string(),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------- outbound lines

    fn expect(&mut self, at: Option<i64>, text: &str, segment: &Segment) -> Result<(), Mismatch> {
        let (earliest, latest, when) = match at {
            Some(us) => {
                let t = self.instant(us);
                (
                    t - self.tolerance,
                    t + self.tolerance,
                    format!(
                        "{text} at {} (±{}ms)",
                        self.show_time(t),
                        self.tolerance.total_micros() as f64 / 1000.0
                    ),
                )
            }
            None => (self.now, self.now + ANY_TIME_LIMIT, text.to_string()),
        };
        loop {
            if let Some(sent) = self.captured.pop_front() {
                let got = format!(
                    "{} at {}",
                    self.describe(&sent.frame),
                    self.show_time(sent.at)
                );
                if sent.at < earliest || sent.at > latest {
                    return mismatch(when, got);
                }
                let SentFrame::Tcp(actual) = &sent.frame else {
                    return mismatch(when, got);
                };
                if let Err(difference) = self.compare(segment, actual) {
                    return mismatch(text, format!("{} ({difference})", self.render(actual)));
                }
                return Ok(());
            }
            if self.now >= latest {
                return mismatch(when, format!("nothing by {}", self.show_time(latest)));
            }
            self.now = match self.iface.poll_at(&self.sockets) {
                Some(at) if at > self.now => at.min(latest),
                _ => latest,
            };
            self.settle()?;
        }
    }

    /// Checks `actual` against the script's `expected` (module docs say
    /// what is checked and what tolerated); learns pollnet's ISN from a SYN.
    fn compare(&mut self, expected: &Segment, actual: &SentSegment) -> Result<(), String> {
        let Tuple { local, remote } = self.tuple;
        let from = IpEndpoint::new(IpAddress::Ipv4(actual.src_addr), actual.src_port);
        let to = IpEndpoint::new(IpAddress::Ipv4(actual.dst_addr), actual.dst_port);
        if from != local || to != remote {
            return Err(format!(
                "sent from {from} to {to}, not from {local} to {remote}"
            ));
        }
        if expected.flags.contains(TcpFlags::SYN) && actual.flags.contains(TcpFlags::SYN) {
            self.local_isn = actual.seq.wrapping_sub(expected.seq.unwrap_or(0));
            self.local_wscale = actual.options.iter().find_map(|o| match o {
                SentOption::WindowScale(shift) => Some(*shift),
                _ => None,
            });
            self.right_edge = None;
            self.syn_window = (!actual.flags.contains(TcpFlags::ACK)).then_some(actual.window);
        }
        if actual.flags != expected.flags {
            return Err("flags differ".into());
        }
        let seq = actual.seq.wrapping_sub(self.local_isn);
        if expected.seq.is_some_and(|s| s != seq) {
            return Err("sequence number differs".into());
        }
        if actual.payload_len != expected.len as usize {
            return Err("payload length differs".into());
        }
        if expected.flags.contains(TcpFlags::ACK) {
            let ack = actual.ack.wrapping_sub(self.remote_isn);
            if expected.ack.is_some_and(|a| a != ack) {
                return Err("ACK number differs".into());
            }
        }
        self.compare_window(expected, actual)?;
        self.compare_options(expected.options.as_deref().unwrap_or(&[]), &actual.options)?;
        if actual.flags.contains(TcpFlags::ACK) && !actual.flags.contains(TcpFlags::RST) {
            // The furthest edge advertised so far (wrapping comparison).
            let edge = self.edge_of(actual);
            let further = self
                .right_edge
                .is_none_or(|old| edge.wrapping_sub(old) as i32 > 0);
            if further {
                self.right_edge = Some(edge);
            }
        }
        Ok(())
    }

    /// The right edge of the window `segment` advertises.
    fn edge_of(&self, segment: &SentSegment) -> u32 {
        // RFC 7323 2.2: a SYN's window is never scaled; later ones are when
        // both sides offered the option.
        let shift = match (segment.flags.contains(TcpFlags::SYN), self.local_wscale) {
            (false, Some(shift)) if self.remote_wscale => u32::from(shift.min(14)),
            _ => 0,
        };
        segment.ack.wrapping_add(u32::from(segment.window) << shift)
    }

    /// The window must match, except on a RST, or where it is smaller but
    /// pollnet's right edge has not moved left (see the module docs).
    fn compare_window(&self, expected: &Segment, actual: &SentSegment) -> Result<(), String> {
        let Some(wanted) = expected.window else {
            return Ok(());
        };
        let window = u32::from(actual.window);
        if expected.flags.contains(TcpFlags::RST) || window == wanted {
            return Ok(());
        }
        // Wrapping comparison: the edge is no further left than before.
        let keeps_edge = !actual.flags.contains(TcpFlags::SYN)
            && window < wanted
            && self
                .right_edge
                .is_some_and(|edge| self.edge_of(actual).wrapping_sub(edge) as i32 >= 0);
        if keeps_edge {
            return Ok(());
        }
        Err("window differs".into())
    }

    fn compare_options(
        &self,
        expected: &[SegmentOption],
        actual: &[SentOption],
    ) -> Result<(), String> {
        let expected_mss = expected.iter().find_map(|o| match o {
            SegmentOption::Mss(mss) => Some(*mss),
            _ => None,
        });
        let actual_mss = actual.iter().find_map(|o| match o {
            SentOption::Mss(mss) => Some(*mss),
            _ => None,
        });
        if expected_mss != actual_mss {
            return Err("MSS option differs".into());
        }
        let e = expected
            .iter()
            .any(|o| matches!(o, SegmentOption::WindowScale(_)));
        let a = actual
            .iter()
            .any(|o| matches!(o, SentOption::WindowScale(_)));
        if e != a {
            return Err("window scale option present in one only".into());
        }
        let e = expected
            .iter()
            .any(|o| matches!(o, SegmentOption::SackPermitted));
        let a = actual
            .iter()
            .any(|o| matches!(o, SentOption::SackPermitted));
        if e != a {
            return Err("SACK-permitted option present in one only".into());
        }
        let expected_ts = expected.iter().find_map(|o| match o {
            SegmentOption::Timestamp { ecr, .. } => Some(*ecr),
            _ => None,
        });
        let actual_ts = actual.iter().find_map(|o| match o {
            SentOption::Timestamp { ecr, .. } => Some(*ecr),
            _ => None,
        });
        match (expected_ts, actual_ts) {
            (None, None) => {}
            (Some(e), Some(a)) if e == a => {}
            (Some(_), Some(_)) => return Err("TSecr differs".into()),
            _ => return Err("timestamps option present in one only".into()),
        }
        let expected_sack: Vec<(u32, u32)> = expected
            .iter()
            .filter_map(|o| match o {
                SegmentOption::Sack(blocks) => Some(blocks.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let actual_sack: Vec<(u32, u32)> = actual
            .iter()
            .filter_map(|o| match o {
                SentOption::Sack(blocks) => Some(blocks.clone()),
                _ => None,
            })
            .flatten()
            .map(|(l, r)| {
                (
                    l.wrapping_sub(self.remote_isn),
                    r.wrapping_sub(self.remote_isn),
                )
            })
            .collect();
        if expected_sack != actual_sack {
            return Err("SACK blocks differ".into());
        }
        if let Some(SentOption::Unknown(kind, _)) =
            actual.iter().find(|o| matches!(o, SentOption::Unknown(..)))
        {
            return Err(format!("unknown option kind {kind}"));
        }
        Ok(())
    }

    /// A sent frame, for messages.
    fn describe(&self, frame: &SentFrame) -> String {
        match frame {
            SentFrame::Tcp(segment) => self.render(segment),
            SentFrame::Other(text) => text.clone(),
            SentFrame::ArpRequest { target, .. } => format!("an ARP request for {target}"),
            SentFrame::OtherArp => "an ARP packet".into(),
        }
    }

    /// A sent segment in script syntax, relative numbers.
    fn render(&self, segment: &SentSegment) -> String {
        let mut text = format!("> {}", flags_text(segment.flags));
        let seq = segment.seq.wrapping_sub(self.local_isn);
        // At most a 64 KiB payload, so the cast is exact.
        let len = segment.payload_len as u32;
        text.push_str(&format!(" {seq}:{}({len})", seq.wrapping_add(len)));
        if segment.flags.contains(TcpFlags::ACK) {
            text.push_str(&format!(
                " ack {}",
                segment.ack.wrapping_sub(self.remote_isn)
            ));
        }
        text.push_str(&format!(" win {}", segment.window));
        if !segment.options.is_empty() {
            let options: Vec<String> = segment
                .options
                .iter()
                .map(|option| match option {
                    SentOption::Eol => "eol".into(),
                    SentOption::Nop => "nop".into(),
                    SentOption::Mss(mss) => format!("mss {mss}"),
                    SentOption::WindowScale(shift) => format!("wscale {shift}"),
                    SentOption::SackPermitted => "sackOK".into(),
                    SentOption::Sack(blocks) => {
                        let blocks: Vec<String> = blocks
                            .iter()
                            .map(|(l, r)| {
                                format!(
                                    "{}:{}",
                                    l.wrapping_sub(self.remote_isn),
                                    r.wrapping_sub(self.remote_isn)
                                )
                            })
                            .collect();
                        format!("sack {}", blocks.join(" "))
                    }
                    SentOption::Timestamp { val, ecr } => format!("TS val {val} ecr {ecr}"),
                    SentOption::Unknown(kind, len) => format!("kind {kind} ({len} bytes)"),
                })
                .collect();
            text.push_str(&format!(" <{}>", options.join(",")));
        }
        let Tuple { local, remote } = self.tuple;
        if segment.src_port != local.port || segment.dst_port != remote.port {
            text.push_str(&format!(
                " [{}:{} > {}:{}]",
                segment.src_addr, segment.src_port, segment.dst_addr, segment.dst_port
            ));
        }
        text
    }
}

/// Flags in script syntax (`S.`, `F.`, `R`, `.`).
fn flags_text(flags: TcpFlags) -> String {
    let mut text = String::new();
    for (flag, letter) in [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
    ] {
        if flags.contains(flag) {
            text.push(letter);
        }
    }
    if flags.contains(TcpFlags::AE) {
        text.push_str("(AE)");
    }
    if flags.contains(TcpFlags::ACK) {
        text.push('.');
    }
    text
}

/// The pollnet state a `TCPI_` name means (Linux's and FreeBSD's names).
fn tcpi_state(name: &str) -> Option<State> {
    Some(match name {
        "CLOSE" | "CLOSED" => State::Closed,
        "LISTEN" => State::Listen,
        "SYN_SENT" => State::SynSent,
        "SYN_RECV" | "SYN_RECEIVED" => State::SynRcvd,
        "ESTABLISHED" => State::Established,
        "FIN_WAIT1" | "FIN_WAIT_1" => State::FinWait1,
        "FIN_WAIT2" | "FIN_WAIT_2" => State::FinWait2,
        "CLOSE_WAIT" => State::CloseWait,
        "CLOSING" => State::Closing,
        "LAST_ACK" => State::LastAck,
        "TIME_WAIT" => State::TimeWait,
        _ => return None,
    })
}

// ----------------------------------------------------------------- suites

/// Every `.pkt` file under `paths` (files taken as given), sorted.
pub fn collect_scripts(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if paths.contains(&path) || path.extension().is_some_and(|e| e == "pkt") {
            found.push(path);
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The expected-failures list: one script per line, its path (relative to
/// the suite's root) and then the RFC section that justifies pollnet's
/// behaviour. `#` starts a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedFailures {
    entries: Vec<(String, String)>,
}

impl ExpectedFailures {
    /// Parses the list; every entry needs a path and a justification.
    pub fn parse(text: &str) -> Result<ExpectedFailures, String> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (path, reason) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("line {}: a path and an RFC section", i + 1))?;
            let reason = reason.trim();
            if !reason.contains("RFC") {
                return Err(format!(
                    "line {}: the justification must cite an RFC",
                    i + 1
                ));
            }
            entries.push((path.to_string(), reason.to_string()));
        }
        Ok(ExpectedFailures { entries })
    }

    /// The justification if `script` is listed (matched by path suffix).
    pub fn lookup(&self, script: &Path) -> Option<&str> {
        self.entries
            .iter()
            .find(|(path, _)| script.ends_with(path))
            .map(|(_, reason)| reason.as_str())
    }

    /// The listed paths.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(path, _)| path.as_str())
    }
}

/// One script's result against the expected-failures list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It passed and is not listed.
    Pass,
    /// It passed but is listed: the list must shrink.
    UnexpectedPass(String),
    /// It failed as listed.
    ExpectedFailure(Failure, String),
    /// It failed and is not listed.
    Fail(Failure),
}

impl Verdict {
    /// The line `drill` prints for `path`.
    pub fn line(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            Verdict::Pass => format!("PASS {path}"),
            Verdict::UnexpectedPass(reason) => {
                format!("PASS {path} (listed as an expected failure: {reason})")
            }
            Verdict::ExpectedFailure(failure, reason) => {
                format!("XFAIL {path}: {failure} [{reason}]")
            }
            Verdict::Fail(failure) => format!("FAIL {path}: {failure}"),
        }
    }

    /// Whether the script passed.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass | Verdict::UnexpectedPass(_))
    }
}

/// Runs one script and judges it against `expected`.
pub fn judge(path: &Path, expected: &ExpectedFailures) -> Verdict {
    let listed = expected.lookup(path).map(str::to_string);
    match (run_file(path), listed) {
        (Ok(()), None) => Verdict::Pass,
        (Ok(()), Some(reason)) => Verdict::UnexpectedPass(reason),
        (Err(failure), Some(reason)) => Verdict::ExpectedFailure(failure, reason),
        (Err(failure), None) => Verdict::Fail(failure),
    }
}

/// The expected-failures file shipped with the project.
pub const EXPECTED_FAILURES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/conformance/expected-failures.txt"
));

#[cfg(test)]
mod tests {
    use super::*;

    /// A passive open and close; `{ack}` and `{extra}` vary per test.
    fn passive(ack: &str, extra: &str) -> String {
        format!(
            "--tolerance_usecs=10000\n\
             0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 bind(3, ..., ...) = 0\n\
             +0 listen(3, 1) = 0\n\
             +0.1 < S 0:0(0) win 32768 <mss 1460>\n\
             +0 > S. 0:0(0) ack {ack} win 65535 <mss 1460>\n\
             {extra}\
             +0.1 < . 1:1(0) ack 1 win 32768\n\
             +0 accept(3, ..., ...) = 4\n"
        )
    }

    #[test]
    fn a_correct_script_passes() {
        assert_eq!(run_text(&passive("1", ""), 1), Ok(()));
    }

    #[test]
    fn sequence_numbers_wrap_around_the_script_isn() {
        // The script side's ISN is the seed's high half: 2^32 - 3 makes the
        // handshake and window straddle zero.
        let seed = u64::from(u32::MAX - 2) << 32;
        // The data's ACK is delayed by pollnet's 100 ms; its window keeps
        // the right edge of the SYN+ACK's (65532 = 65535 - 3).
        let script =
            passive("1", "") + "+0.1 < . 1:4(3) ack 1 win 32768\n+0.1 > . 1:1(0) ack 4 win 65535\n";
        assert_eq!(run_text(&script, seed), Ok(()));
        let wrong = script.replace("ack 4 win", "ack 5 win");
        assert_eq!(run_text(&wrong, seed).unwrap_err().line, 10);
    }

    #[test]
    fn a_wrong_ack_number_fails_on_its_line() {
        let failure = run_text(&passive("2", ""), 1).unwrap_err();
        assert_eq!(failure.line, 6);
        assert_eq!(failure.expected, "> S. 0:0(0) ack 2 win 65535 <mss 1460>");
        assert_eq!(
            failure.got,
            "> S. 0:0(0) ack 1 win 65535 <mss 1460> (ACK number differs)"
        );
    }

    #[test]
    fn a_segment_no_line_expects_fails() {
        // Ten bytes of data: pollnet's delayed ACK goes out at 0.4 s, before
        // the close, and no line expects it.
        let script = passive("1", "") + "+0.1 < . 1:11(10) ack 1 win 32768\n+0.1 close(4) = 0\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.line, 10);
        assert!(
            failure.got.starts_with("unexpected > . 1:1(0) ack 11"),
            "{failure}"
        );
    }

    #[test]
    fn a_missing_segment_fails_after_the_tolerance() {
        let script = passive("1", "") + "+0.1 > . 1:1(0) ack 1 win 65535\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.line, 9);
        assert_eq!(
            failure.expected,
            "> . 1:1(0) ack 1 win 65535 at 0.300000s (±10ms)"
        );
        assert_eq!(failure.got, "nothing by 0.310000s");
    }

    #[test]
    fn retransmissions_are_checked_at_their_time() {
        // Without the handshake's ACK the SYN+ACK is retransmitted after the
        // initial RTO (1 s): accepted at 1.1 s, refused at 1.3 s.
        let base = "--tolerance_usecs=10000\n\
             0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 bind(3, ..., ...) = 0\n\
             +0 listen(3, 1) = 0\n\
             +0.1 < S 0:0(0) win 32768 <mss 1460>\n\
             +0 > S. 0:0(0) ack 1 win 65535 <mss 1460>\n";
        assert_eq!(
            run_text(
                &format!("{base}1.1 > S. 0:0(0) ack 1 win 65535 <mss 1460>\n"),
                1
            ),
            Ok(())
        );
        let failure = run_text(
            &format!("{base}1.3 > S. 0:0(0) ack 1 win 65535 <mss 1460>\n"),
            1,
        )
        .unwrap_err();
        assert_eq!(failure.line, 7);
        assert_eq!(
            failure.got,
            "> S. 0:0(0) ack 1 win 65535 <mss 1460> at 1.100000s"
        );
    }

    #[test]
    fn syscall_results_and_errors_are_checked() {
        let script = passive("1", "") + "+0 accept(3, ..., ...) = 5\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.line, 9);
        assert_eq!(failure.expected, "accept = 5");
        assert_eq!(failure.got, "accept = -1 EWOULDBLOCK");
        let script =
            passive("1", "") + "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.expected, "SO_ERROR ECONNRESET");
        assert_eq!(failure.got, "0");
    }

    #[test]
    fn state_checks_are_checked() {
        let script = passive("1", "") + "+0 `sockstat -4 | grep -c ESTABLISHED | grep 2`\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.expected, "2 socket(s) in ESTABLISHED");
        assert_eq!(failure.got, "1 (LISTEN, ESTABLISHED)");
        let script = passive("1", "") + "+0 %{ assert tcpi_state == TCPI_LISTEN }%\n";
        let failure = run_text(&script, 1).unwrap_err();
        assert_eq!(failure.got, "ESTABLISHED");
    }

    #[test]
    fn unmodelled_commands_fail_rather_than_pass() {
        let failure = run_text("0 `tcpdrop -s TIME_WAIT`\n", 1).unwrap_err();
        assert_eq!(failure.line, 1);
        assert_eq!(failure.got, "tcpdrop -s TIME_WAIT");
        assert!(run_text("0 ioctl(3, FIONREAD, [0]) = 0\n", 1).is_err());
        assert!(run_text("--ip_version=ipv6\n0 close(3) = -1 EBADF (Bad file)\n", 1).is_err());
    }

    #[test]
    fn the_receive_buffer_follows_so_rcvbuf() {
        // A 1000-byte buffer advertises a 1000-byte window.
        let script = "--tolerance_usecs=10000\n\
             0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [1000], 4) = 0\n\
             +0 bind(3, ..., ...) = 0\n\
             +0 listen(3, 1) = 0\n\
             +0.1 < S 0:0(0) win 32768 <mss 1460>\n\
             +0 > S. 0:0(0) ack 1 win 1000 <mss 1460>\n\
             +0.1 < . 1:1(0) ack 1 win 32768\n\
             +0 accept(3, ..., ...) = 4\n\
             +0 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [1000], [4]) = 0\n\
             +0 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [1460], [4]) = 0\n\
             +0 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [2000], [4]) = 0\n";
        let failure = run_text(script, 1).unwrap_err();
        assert_eq!(failure.line, 12);
        assert_eq!(failure.got, "1000");
    }

    #[test]
    fn expected_failures_need_an_rfc_and_match_by_suffix() {
        let list = ExpectedFailures::parse("# c\na/b.pkt  RFC 9293 3.10.7.4 (why)\n").unwrap();
        assert_eq!(
            list.lookup(Path::new("/x/a/b.pkt")),
            Some("RFC 9293 3.10.7.4 (why)")
        );
        assert_eq!(list.lookup(Path::new("/x/a/c.pkt")), None);
        assert!(ExpectedFailures::parse("a/b.pkt because\n").is_err());
        assert!(ExpectedFailures::parse("a/b.pkt\n").is_err());
        assert!(ExpectedFailures::parse(EXPECTED_FAILURES).is_ok());
    }

    #[test]
    fn flags_render_in_script_syntax() {
        assert_eq!(flags_text(TcpFlags::SYN | TcpFlags::ACK), "S.");
        assert_eq!(flags_text(TcpFlags::RST), "R");
        assert_eq!(flags_text(TcpFlags::ACK), ".");
        assert_eq!(
            flags_text(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK),
            "FP."
        );
    }
}
