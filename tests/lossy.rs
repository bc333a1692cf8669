//! Transfers over the simulated lossy bottleneck (`examples/common/lossy.rs`,
//! the model the `lossy` example and benchmark measure): at every standard
//! loss rate a transfer completes byte-exact within a virtual-time bound,
//! each seed names one run exactly, and what the link sees agrees with the
//! stack's own counters. No speed is asserted: the figures are the
//! benchmark's (`cargo bench --bench lossy`).

#[path = "../examples/common/lossy.rs"]
mod lossy;

use pollnet::time::Duration;

use lossy::{Outcome, Pattern, Scenario, Tuning};

/// Transfer sizes per loss rate: as large as keeps the test short while
/// the loss still has thousands of frames to hit. The time limit is the
/// benchmark's (600 s of virtual time), far above what any of them takes
/// today.
const CASES: [(f64, usize); 4] = [
    (0.0, 20_000_000),
    (1.0, 5_000_000),
    (3.0, 2_000_000),
    (10.0, 1_000_000),
];

fn run(loss_percent: f64, bytes: usize, seed: u64, tuning: Tuning) -> Outcome {
    let scenario = Scenario {
        bytes,
        tuning,
        ..Scenario::standard(loss_percent, seed)
    };
    lossy::simulate(&scenario, &Pattern::default())
}

fn assert_complete(o: &Outcome) {
    assert!(
        o.finished() && o.delivered == o.scenario.bytes,
        "{}% loss: {}",
        o.scenario.loss * 100.0,
        lossy::account(o)
    );
    assert!(o.virtual_time <= o.scenario.time_limit);
    assert_eq!(
        o.forced_steps,
        0,
        "poll_at kept saying now: {}",
        lossy::account(o)
    );
}

#[test]
fn every_loss_rate_completes_byte_exact_with_the_default_settings() {
    for (loss, bytes) in CASES {
        let o = run(loss, bytes, lossy::FIRST_SEED, Tuning::default());
        assert_complete(&o);
        if loss > 0.0 {
            assert!(o.lines[0].random_drops > 0 && o.lines[1].random_drops > 0);
            assert!(o.probe.retransmitted_frames > 0, "{}", lossy::account(&o));
        } else {
            assert_eq!(o.probe.retransmitted_frames, 0, "{}", lossy::account(&o));
            assert_eq!(o.lines[0].random_drops + o.lines[1].random_drops, 0);
        }
    }
}

#[test]
fn every_loss_rate_completes_with_sack_off_and_on() {
    for sack in [false, true] {
        let tuning = Tuning {
            sack: Some(sack),
            ..Tuning::default()
        };
        for (loss, bytes) in CASES {
            assert_complete(&run(loss, bytes / 2, lossy::FIRST_SEED + 1, tuning));
        }
    }
}

#[test]
fn a_seed_names_one_run_exactly() {
    let key = |o: &Outcome| {
        (
            o.virtual_time,
            o.delivered,
            o.probe.data_frames,
            o.probe.retransmitted_frames,
            o.probe.rtos,
            o.lines,
            o.client_stats.tcp_segments_sent,
            o.server_stats.tcp_segments_sent,
        )
    };
    let first = run(3.0, 1_000_000, 42, Tuning::default());
    let again = run(3.0, 1_000_000, 42, Tuning::default());
    assert_eq!(key(&first), key(&again));
    let other = run(3.0, 1_000_000, 43, Tuning::default());
    assert_ne!(
        key(&first),
        key(&other),
        "another seed, another loss pattern"
    );
}

#[test]
fn the_link_counts_what_the_stack_counts() {
    let o = run(3.0, 2_000_000, lossy::FIRST_SEED, Tuning::default());
    assert_complete(&o);
    // Every retransmission the stack made crossed the link, and nothing
    // else started below the highest sequence number sent.
    assert_eq!(
        o.probe.retransmitted_frames,
        o.client_stats.tcp_retransmissions,
        "{}",
        lossy::account(&o)
    );
    assert_eq!(o.probe.unexplained_retransmissions, 0);
    // The client's data frames are among the segments it counts sent.
    assert!(o.probe.data_frames <= o.client_stats.tcp_segments_sent);
}

#[test]
fn a_transfer_cut_off_by_the_time_limit_says_so() {
    let scenario = Scenario {
        bytes: 5_000_000,
        time_limit: Duration::from_millis(100),
        ..Scenario::standard(0.0, 1)
    };
    let o = lossy::simulate(&scenario, &Pattern::default());
    assert!(!o.finished());
    assert!(o.stopped.as_deref().unwrap_or("").contains("time limit"));
    assert!(o.delivered > 0 && o.delivered < scenario.bytes);
    assert_eq!(o.virtual_time, Duration::from_millis(100));
}
