//! Two async tasks, a server and a client, on one pollnet stack whose
//! device is a `Loopback` (the stack talks to itself), with the stack's
//! runner as a third task on `futures-executor`'s single-threaded
//! `LocalPool` and a virtual clock. The client writes `--bytes` bytes of a
//! seeded pattern through the `embedded-io-async` traits, waits until
//! they are acknowledged, half-closes and reads the SHA-256 the server
//! computed of what it read; the run fails unless the server's bytes and
//! both digests match what was sent.
//!
//! ```text
//! cargo run --release --example async_loopback -- [--bytes N] [--seed S]
//! ```

#[path = "common/async_transfer.rs"]
mod async_transfer;

use std::process::ExitCode;

use clap::Parser;
use sha2::{Digest, Sha256};

/// Async client and server over a loopback pollnet stack: a byte-exact
/// transfer checked with SHA-256.
#[derive(Debug, Parser)]
#[command(name = "async_loopback")]
struct Args {
    /// Bytes the client sends to the server.
    #[arg(long, default_value_t = 4 << 20)]
    bytes: usize,
    /// Seed of the data pattern and of the interface's secrets.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match async_transfer::transfer(args.bytes, args.seed) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("async_loopback: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sent = Sha256::digest(&outcome.sent);
    let received = Sha256::digest(&outcome.received);
    println!(
        "sent      {} bytes, sha256 {}",
        outcome.sent.len(),
        hex(&sent)
    );
    println!(
        "received  {} bytes, sha256 {}",
        outcome.received.len(),
        hex(&received)
    );
    println!("echoed    sha256 {}", hex(&outcome.echoed_digest));
    println!(
        "virtual time {}, clock moved {} times",
        outcome.elapsed, outcome.clock_advances
    );
    println!(
        "sockets left after the tasks ended: {}",
        outcome.sockets_left
    );
    if outcome.received != outcome.sent || outcome.echoed_digest != sent.as_slice() {
        eprintln!("async_loopback: the transfer is not byte-exact");
        return ExitCode::FAILURE;
    }
    println!("byte-exact");
    ExitCode::SUCCESS
}
