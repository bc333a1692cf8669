//! Replays a capture through pollnet, standing in for one host of the
//! capture (its IP and MAC from the flags), and reports per connection how
//! pollnet's segments differ from the captured host's. The logic is the
//! library's `pollnet::replay` module; this is its command line.
//!
//! ```text
//! cargo run --release --example replay -- --pcap IN.pcap[ng]
//!     --ip 192.0.2.2/24 --mac 02:00:00:00:00:02 [--out OUT.pcap]
//!     [--listen PORT]... [--gateway IP] [--seed S] [--msl SECONDS]
//!     [--tail SECONDS] [--mtu BYTES] [--offloaded-checksums]
//!     [--start capture|zero] [--quiet]
//! ```
//!
//! `--help` describes each flag. The peers' captured frames are received at
//! their captured times on a virtual clock (the host's own frames are what
//! pollnet is compared against); no clock is read and nothing sleeps, so
//! the same capture and flags give the same output on every run.
//!
//! pollnet listens on every port the capture's SYNs to the host name (and
//! on each `--listen` port), mirrors the host's handshake (window scaling,
//! timestamps and SACK-permitted as the host's SYN+ACK had them), and
//! rewrites each later peer segment's acknowledgment number, SACK blocks
//! and TSecr from the captured host's ISN and timestamp clock to pollnet's.
//! Each connection's application sends the bytes the host sent, when the
//! host first sent them, and closes when the host sent its FIN.
//!
//! Output: each state transition (unless `--quiet`), a line of counters,
//! one line per connection the peers opened (`PEER -> HOST: matched (N
//! segments)`, or `PEER -> HOST: diverged at segment I: FIELD: expected
//! SEGMENT, got SEGMENT`, comparing flags, sequence number relative to the
//! sender's ISN, acknowledgment number relative to the peer's ISN and
//! payload length, in order), and a last line `replay: N connections, M
//! matched, K diverged`. Example, with a capture of this repository (a
//! Linux server 192.0.2.2:5000 echoing 15 bytes):
//!
//! ```text
//! $ cargo run --release --example replay -- --pcap tests/data/linux-small.pcapng \
//!     --ip 192.0.2.2/24 --mac 02:00:00:00:00:02 --quiet
//! replayed 16 frames (9 for us), sent 9 frames; 6 TCP segments in, 6 out, 0 RSTs, 1 ARP replies, 1 echo replies
//! 192.0.2.1:44752 -> 192.0.2.2:5000: diverged at segment 1: ack: expected [.] seq 1 ack 16 len 0, got [.] seq 1 ack 1 len 0
//! replay: 1 connections, 0 matched, 1 diverged
//! ```
//!
//! (pollnet sends an ACK of its own as soon as the handshake completes,
//! which Linux does not.) `--offloaded-checksums` accepts frames whose TCP
//! checksum was left to the NIC (captures taken on the sending host).
//! `--start capture` (the default) runs the virtual clock at the capture's
//! own time, so `--out` lines up with the input in Wireshark; `--start
//! zero` starts it at 0.

#[path = "common/cli.rs"]
mod cli;

use std::fs::File;
use std::io::{BufWriter, Read};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use pollnet::phy::PcapReplay;
use pollnet::replay::ReplayOptions;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// Where the virtual clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Start {
    /// At the capture's own time, so the output lines up with the input in
    /// Wireshark.
    Capture,
    /// At 0.
    Zero,
}

/// Replays a capture through pollnet standing in for one host of it, and
/// reports per connection whether pollnet's segments matched the captured
/// host's or where they first diverged. The same capture and flags give the
/// same output on every run.
#[derive(Debug, Parser)]
#[command(name = "replay")]
struct Options {
    /// The capture to replay (pcap or pcapng, Ethernet).
    #[arg(long = "pcap", value_name = "IN")]
    input: String,
    /// Where to write what pollnet sends (pcap).
    #[arg(long = "out", value_name = "OUT")]
    output: Option<String>,
    /// The address and prefix of the host pollnet replaces.
    #[arg(long = "ip", value_name = "ADDRESS/PREFIX")]
    cidr: Ipv4Cidr,
    /// The hardware address of the host pollnet replaces.
    #[arg(long, value_name = "MAC")]
    mac: EthernetAddress,
    /// The default gateway.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Address>,
    /// A port to listen on (repeat for more) besides the ports the
    /// capture's SYNs to the host name; SYNs to other ports draw a RST.
    #[arg(long, value_name = "PORT", value_parser = cli::port)]
    listen: Vec<u16>,
    /// The interface's random seed (ISNs, the demultiplexing key).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    seed: u64,
    /// Maximum segment lifetime in seconds (default: the TCP default).
    #[arg(long, value_name = "SECONDS", value_parser = cli::seconds, allow_negative_numbers = true)]
    msl: Option<Duration>,
    /// Virtual time to keep polling after the capture's last frame, in
    /// seconds, so timers (retransmissions, TIME_WAIT) play out.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = cli::seconds, allow_negative_numbers = true)]
    tail: Duration,
    /// Accept frames whose TCP checksum was left to the NIC (captures taken
    /// on the sending host).
    #[arg(long = "offloaded-checksums")]
    offloaded_checksums: bool,
    /// The device's MTU (default: the largest MSS the captured host
    /// announced, plus 40; or 1500).
    #[arg(long, value_name = "BYTES")]
    mtu: Option<usize>,
    /// Where the virtual clock starts.
    #[arg(long, value_enum, default_value_t = Start::Capture)]
    start: Start,
    /// Do not print each state transition.
    #[arg(long)]
    quiet: bool,
}

/// The capture time of the first frame of a pcap or pcapng file, if it has
/// one (so the virtual clock can run at the capture's own time).
fn first_frame_time(path: &str) -> Result<Option<Instant>, String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut bytes))
        .map_err(|e| format!("{path}: {e}"))?;
    let u32_at = |at: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let magic = u32_at(0, true).ok_or("capture shorter than a header")?;
    let micros = match magic {
        // Classic pcap: 24-byte file header, then the first record's
        // seconds and micro- or nanoseconds.
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => {
            let big = magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d;
            let nanos = magic == 0xa1b2_3c4d || magic == 0x4d3c_b2a1;
            let (Some(secs), Some(frac)) = (u32_at(24, big), u32_at(28, big)) else {
                return Ok(None);
            };
            let frac = if nanos { frac / 1000 } else { frac };
            i64::from(secs) * 1_000_000 + i64::from(frac)
        }
        // pcapng: walk the blocks to the first packet, using the
        // resolution its interface declares (if_tsresol, default 10^-6).
        0x0a0d_0d0a => {
            let big = u32_at(8, true) == Some(0x1a2b_3c4d);
            let mut resolutions = Vec::new();
            let mut at = 0;
            loop {
                let (Some(kind), Some(len)) = (u32_at(at, big), u32_at(at + 4, big)) else {
                    return Ok(None);
                };
                let len = len as usize;
                if len < 12 || at + len > bytes.len() {
                    return Ok(None);
                }
                match kind {
                    1 => resolutions.push(if_tsresol(&bytes[at + 16..at + len - 4], big)),
                    6 => {
                        let interface = u32_at(at + 8, big).unwrap_or(0) as usize;
                        let high = u64::from(u32_at(at + 12, big).unwrap_or(0));
                        let low = u64::from(u32_at(at + 16, big).unwrap_or(0));
                        let units = (high << 32) | low;
                        let per_second = resolutions.get(interface).copied().unwrap_or(1_000_000);
                        let micros = u128::from(units) * 1_000_000 / u128::from(per_second.max(1));
                        break i64::try_from(micros).unwrap_or(0);
                    }
                    _ => {}
                }
                at += len;
            }
        }
        _ => return Err(format!("{path}: neither pcap nor pcapng")),
    };
    Ok(Some(Instant::from_micros(micros)))
}

/// Units per second of an interface description block's options.
fn if_tsresol(options: &[u8], big: bool) -> u64 {
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = options.get(at..at + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let mut at = 0;
    while let (Some(code), Some(len)) = (u16_at(at), u16_at(at + 2)) {
        if code == 0 {
            break;
        }
        if code == 9 && len == 1 {
            let v = options.get(at + 4).copied().unwrap_or(6);
            let exponent = u32::from(v & 0x7f).min(30);
            return if v & 0x80 == 0 {
                10u64.pow(exponent.min(19))
            } else {
                1u64 << exponent
            };
        }
        at += 4 + usize::from(len).div_ceil(4) * 4;
    }
    1_000_000
}

fn replay(options: &Options) -> Result<(), String> {
    let start = if options.start == Start::Capture {
        first_frame_time(&options.input)?.unwrap_or(Instant::ZERO)
    } else {
        Instant::ZERO
    };
    let capture = PcapReplay::from_path(&options.input, start)
        .map_err(|e| format!("{}: {e}", options.input))?;
    let mut settings = ReplayOptions::new(options.cidr, options.mac);
    settings.gateway = options.gateway;
    settings.listen.clone_from(&options.listen);
    settings.seed = options.seed;
    if let Some(msl) = options.msl {
        settings.tcp.msl = msl;
    }
    settings.tail = options.tail;
    settings.offloaded_checksums = options.offloaded_checksums;
    settings.mtu = options.mtu;
    let report = pollnet::replay::replay(&capture, &settings).map_err(|e| e.to_string())?;
    if !options.quiet {
        for event in &report.trace {
            println!(
                "[{:>8}] {} {}",
                event.at - start,
                event.subject(),
                event.transition
            );
        }
    }
    if let Some(output) = &options.output {
        let file = File::create(output).map_err(|e| format!("{output}: {e}"))?;
        report
            .write_transmitted(BufWriter::new(file))
            .map_err(|e| format!("{output}: {e}"))?;
    }
    let stats = report.stats;
    println!(
        "replayed {} frames ({} for us), sent {} frames; {} TCP segments in, {} out, {} RSTs, {} ARP replies, {} echo replies",
        report.frames,
        stats.rx_frames - stats.rx_drop_not_for_us,
        report.transmitted.len(),
        stats.tcp_segments_received,
        stats.tcp_segments_sent,
        stats.tcp_rsts_sent,
        stats.arp_replies_sent,
        stats.icmp_echo_replies,
    );
    print!("{}", report.text());
    Ok(())
}

fn main() -> ExitCode {
    let options = Options::parse();
    match replay(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("replay: {message}");
            ExitCode::FAILURE
        }
    }
}
