//! Loss recovery on a simulated bottleneck, in virtual time: two pollnet
//! stacks move a transfer over a link with a rate, a propagation delay, a
//! drop-tail queue and seeded random loss each way, and the table gives,
//! per loss rate, the median over the seeds of the goodput, of the data
//! frames retransmitted and of the retransmission timeouts, beside the
//! Mathis et al. bound for Reno and the link's goodput ceiling.
//!
//! ```text
//! cargo run --release --example lossy -- [--loss 0,1,3,10] [--seeds 5]
//!     [--bytes 20000000] [--queue 100] [--rtt-ms 10] [--rate-mbit 100]
//!     [--sack on|off] [--timestamps on|off] [--min-rto-ms MS]
//!     [--congestion cubic|new-reno]
//!     [--first-seed S] [--time-limit SECONDS] [--verbose]
//! ```
//!
//! The clock jumps from event to event, so the figures are the same on any
//! machine and under any load; 20 MB take tens of milliseconds of wall time.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/lossy.rs"]
mod lossy;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use pollnet::socket::tcp::CongestionAlgorithm;
use pollnet::time::Duration;

use lossy::{LinkModel, Pattern, Row, Scenario, Tuning};

/// A setting that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        self == Switch::On
    }
}

/// A congestion control algorithm, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Congestion {
    Cubic,
    NewReno,
}

impl Congestion {
    fn algorithm(self) -> CongestionAlgorithm {
        match self {
            Congestion::Cubic => CongestionAlgorithm::Cubic,
            Congestion::NewReno => CongestionAlgorithm::NewReno,
        }
    }
}

/// Loss recovery of two pollnet stacks over a simulated lossy bottleneck,
/// in virtual time (deterministic per seed).
#[derive(Debug, Clone, Parser)]
#[command(name = "lossy")]
struct Options {
    /// Loss rates to run, percent of frames lost each way (comma-separated).
    #[arg(long, value_name = "PERCENT", value_delimiter = ',', default_values_t = lossy::LOSS_PERCENTS, value_parser = percent)]
    loss: Vec<f64>,
    /// Loss patterns (seeds) per rate; each figure is their median.
    #[arg(long, value_name = "N", default_value_t = lossy::SEEDS, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// The first seed (decimal or 0x-hex); the others follow it.
    #[arg(long, value_name = "S", default_value = "0x1055beef", value_parser = seed)]
    first_seed: u64,
    /// Bytes the client sends (every one checked by the server).
    #[arg(long, value_name = "N", default_value_t = lossy::BYTES, value_parser = bytes)]
    bytes: usize,
    /// Drop-tail queue of the bottleneck, frames, each way.
    #[arg(long, value_name = "FRAMES", default_value_t = lossy::QUEUE_FRAMES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    queue: usize,
    /// Round-trip propagation time, milliseconds (half of it each way).
    #[arg(long = "rtt-ms", value_name = "MS", default_value = "10", value_parser = cli::millis)]
    rtt: Duration,
    /// Bottleneck rate, Mbit/s.
    #[arg(long = "rate-mbit", value_name = "MBIT", default_value_t = 100.0, value_parser = rate)]
    rate: f64,
    /// Socket send and receive buffers, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = lossy::BUFFER, value_parser = bytes)]
    buffer: usize,
    /// Offer SACK (TcpConfig::sack); the stack's default if not given.
    #[arg(long, value_enum, value_name = "on|off")]
    sack: Option<Switch>,
    /// TCP timestamps (TcpConfig::timestamps); the stack's default if not given.
    #[arg(long, value_enum, value_name = "on|off")]
    timestamps: Option<Switch>,
    /// Minimum RTO in milliseconds (TcpConfig::min_rto); the stack's
    /// default if not given.
    #[arg(long = "min-rto-ms", value_name = "MS", value_parser = cli::millis)]
    min_rto: Option<Duration>,
    /// Congestion control (TcpConfig::congestion); the stack's default if
    /// not given.
    #[arg(long, value_enum, value_name = "cubic|new-reno")]
    congestion: Option<Congestion>,
    /// Virtual seconds a transfer may take before it is cut off.
    #[arg(long = "time-limit", value_name = "SECONDS", default_value = "600", value_parser = cli::seconds)]
    time_limit: Duration,
    /// Print the account of every run, not only the table.
    #[arg(long)]
    verbose: bool,
}

fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| "expected a percentage, e.g. 3".to_string())?;
    if !(0.0..100.0).contains(&value) {
        return Err("expected a percentage in [0, 100)".into());
    }
    Ok(value)
}

fn seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| "expected a seed, decimal or 0x-hex, e.g. 0x1055beef".into())
}

fn bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err("expected a positive number of bytes".into()),
        Ok(n) => Ok(n),
    }
}

fn rate(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| "expected Mbit/s, e.g. 100".to_string())?;
    if !(0.001..=1e6).contains(&value) {
        return Err("expected a rate from 0.001 to 1000000 Mbit/s".into());
    }
    Ok(value)
}

fn main() -> ExitCode {
    let options = Options::parse();
    let tuning = Tuning {
        sack: options.sack.map(Switch::on),
        timestamps: options.timestamps.map(Switch::on),
        min_rto: options.min_rto,
        congestion: options.congestion.map(Congestion::algorithm),
    };
    let link = LinkModel {
        rate_bps: (options.rate * 1e6).round() as u64,
        one_way_delay_ns: options.rtt.total_micros() * 1000 / 2,
        queue_frames: options.queue,
    };
    println!(
        "lossy link: {} Mbit/s, RTT {} ms, drop-tail {} frames, {} B buffers, {} B per transfer, {} seed(s) from {:#x}; {}",
        options.rate,
        options.rtt.total_micros() as f64 / 1e3,
        options.queue,
        options.buffer,
        options.bytes,
        options.seeds,
        options.first_seed,
        tuning.describe(),
    );
    println!("{}", lossy::TABLE_HEADER);
    let pattern = Pattern::default();
    let mut unfinished = 0;
    let mut rows = Vec::new();
    for &loss in &options.loss {
        let scenario = Scenario {
            link,
            loss: loss / 100.0,
            seed: options.first_seed,
            bytes: options.bytes,
            buffer: options.buffer,
            tuning,
            time_limit: options.time_limit,
        };
        let row = Row::measure(&scenario, options.first_seed, options.seeds, &pattern);
        println!("{}", lossy::table_line(&row));
        if options.verbose {
            for run in &row.runs {
                println!("    {}", lossy::account(run));
            }
        }
        unfinished += row.runs.len() - row.finished();
        rows.push(row);
    }
    println!("{}", lossy::counts_note(&rows));
    println!(
        "goodput: bytes read * 8 / (last byte read - first data frame sent), virtual time; counts seen on the link; \
         Mathis: MSS*8/RTT*sqrt(3/2)/sqrt(p); ceiling: rate * payload/{} * (1 - p)",
        lossy::FULL_FRAME
    );
    if unfinished > 0 {
        println!("{unfinished} run(s) stopped at the time limit or broke (see `finished`)");
    }
    ExitCode::SUCCESS
}
