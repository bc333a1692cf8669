//! Loss recovery on the simulated bottleneck (`examples/common/lossy.rs`):
//! 100 Mbit/s, 10 ms RTT, a 100-frame drop-tail queue, 256 KiB buffers,
//! 20 MB per transfer, 0 / 1 / 3 / 10% random loss each way, the median of
//! 5 seeds. It runs in virtual time, so the figures are the same on any
//! machine and under any load (and so not a criterion timing): it prints
//! the table, once with the stack's defaults and once per variant below.
//!
//! `cargo bench --bench lossy`; for other links and settings, the `lossy`
//! example (`cargo run --release --example lossy -- --help`).

#[path = "../examples/common/lossy.rs"]
mod lossy;

use lossy::{Pattern, Row, Scenario, Tuning};

/// The variants measured beside the defaults. (A congestion-control
/// choice joins them as a `Tuning` field once `TcpConfig` has one: NewReno
/// without SACK is the baseline to report beside the defaults.)
const VARIANTS: [(&str, Tuning); 2] = [
    ("defaults", Tuning::DEFAULT),
    (
        "without SACK",
        Tuning {
            sack: Some(false),
            ..Tuning::DEFAULT
        },
    ),
];

fn main() {
    // `cargo bench` passes `--bench` (and any filter); a filter picks the
    // variants whose name contains it.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let pattern = Pattern::default();
    for (name, tuning) in VARIANTS {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        println!(
            "\nlossy, {name}: 100 Mbit/s, RTT 10 ms, drop-tail {} frames, {} KiB buffers, {} MB, median of {} seeds; {}",
            lossy::QUEUE_FRAMES,
            lossy::BUFFER / 1024,
            lossy::BYTES / 1_000_000,
            lossy::SEEDS,
            tuning.describe()
        );
        println!("{}", lossy::TABLE_HEADER);
        let wall = std::time::Instant::now();
        let mut rows = Vec::new();
        for loss in lossy::LOSS_PERCENTS {
            let scenario = Scenario {
                tuning,
                ..Scenario::standard(loss, lossy::FIRST_SEED)
            };
            let row = Row::measure(&scenario, lossy::FIRST_SEED, lossy::SEEDS, &pattern);
            println!("{}", lossy::table_line(&row));
            rows.push(row);
        }
        println!(
            "{} ({:.1} s wall)",
            lossy::counts_note(&rows),
            wall.elapsed().as_secs_f64()
        );
    }
}
