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

#[path = "pcapdump/dump.rs"]
mod dump;
#[path = "pcapdump/frame.rs"]
mod frame;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path] = args.as_slice() else {
        eprintln!("usage: pcapdump <capture.pcap|capture.pcapng>");
        return ExitCode::from(2);
    };
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
