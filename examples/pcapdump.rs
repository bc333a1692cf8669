//! pcapdump: one line per frame of a pcap or pcapng capture, as pollnet's
//! wire layer sees it.
//!
//! ```text
//! cargo run --example pcapdump -- capture.pcap
//! 1 other ARP request who-has 192.0.2.2 tell 192.0.2.1
//! 3 tcp 192.0.2.1:44752 > 192.0.2.2:5000 seq=211573467 ack=0 flags=0x002 win=64240 len=0 csum=ok
//! ```
//!
//! Lines are `<n> tcp ...` for Ethernet II -> IPv4 (not a fragment) -> TCP,
//! `<n> other <what>` for frames that parse but are something else, and
//! `<n> malformed <reason>` for truncated or inconsistent headers. `csum` is
//! `ok` when the IPv4 header and TCP checksums both verify, `bad` when either
//! fails, `unverified` when the capture was cut short of the segment.
//! `--help` says the same.

#[path = "pcapdump/dump.rs"]
mod dump;
#[path = "pcapdump/frame.rs"]
mod frame;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// One line per frame of a pcap or pcapng capture, as pollnet's wire layer
/// sees it: `<n> tcp ...` for Ethernet II -> IPv4 (not a fragment) -> TCP
/// with its fields and checksum status (`ok`, `bad`, or `unverified` when
/// the capture was cut short of the segment), `<n> other <what>` for frames
/// that parse but are something else, `<n> malformed <reason>` for truncated
/// or inconsistent headers.
#[derive(Debug, Parser)]
#[command(name = "pcapdump")]
struct Options {
    /// The capture (pcap or pcapng, Ethernet link type); `--` before a
    /// file name that starts with `-`.
    #[arg(value_name = "CAPTURE")]
    path: String,
}

fn main() -> ExitCode {
    let Options { path } = Options::parse();
    let path = &path;
    let file = match std::fs::read(path) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("pcapdump: {path}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A closed stdout (e.g. `| head`) ends the output quietly: remember the
    // first write error instead of panicking as println! would.
    let mut write_error = None;
    let result = dump::dump(&file, &mut |number, text| {
        if write_error.is_none() {
            if let Err(err) = writeln!(out, "{number} {text}") {
                write_error = Some(err);
            }
        }
    });
    let flushed = out.flush();
    if write_error.is_some() || flushed.is_err() {
        return ExitCode::FAILURE;
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pcapdump: {path}: {err}");
            ExitCode::FAILURE
        }
    }
}
