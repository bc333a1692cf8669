//! The shared conformance suite (../shared/conformance) through the drill
//! engine: every script parses, and every script passes except those in
//! tests/conformance/expected-failures.txt (each with the RFC section that
//! justifies pollnet's behaviour). A listed script that now passes fails
//! the run too, so the list only shrinks. Without ../shared/conformance both
//! cases show as ignored, with the reason. (tests/conformance.rs runs our
//! own scripts and the engine's unit tests.)

// The drill command uses parts of the engine these tests do not; and the
// engine's unit-test modules (cfg(test)) compile here without their
// #[test] functions, which tests/conformance.rs runs.
#[allow(dead_code, unused_imports)]
#[path = "../examples/drill/engine.rs"]
mod engine;
#[macro_use]
mod runner;
#[path = "conformance/verdicts.rs"]
mod verdicts;

use std::path::PathBuf;

use engine::ExpectedFailures;
use runner::Need;
use verdicts::{problems, run_all};

fn main() -> std::process::ExitCode {
    let shared = Need::Shared("shared/conformance");
    runner::main(vec![
        case!(shared_suite).needs(shared.clone()),
        case!(every_shared_script_parses).needs(shared),
    ])
}

fn shared_root() -> PathBuf {
    runner::shared_dir("shared/conformance")
}

fn shared_suite() {
    let root = &shared_root();
    let expected = ExpectedFailures::parse(engine::EXPECTED_FAILURES).expect("valid list");
    // Every listed script must exist, so the list cannot rot.
    for path in expected.paths() {
        assert!(
            root.join(path).exists(),
            "listed script {path} does not exist"
        );
    }
    let verdicts = run_all(root, &expected);
    assert_eq!(verdicts.len(), 183, "the suite holds 183 scripts");
    let passed = verdicts.iter().filter(|(_, v)| v.passed()).count();
    // Not "N passed, M failed": this binary's output is not captured, and
    // that line reads as a test runner's summary.
    println!(
        "shared suite: {passed} scripts pass, {} fail as expected",
        verdicts.len() - passed
    );
    let problems = problems(&verdicts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every script of the shared suite parses.
fn every_shared_script_parses() {
    use engine::parser::{Action, Shell, parse};
    let root = shared_root();
    let mut paths = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "pkt") {
                paths.push(path);
            }
        }
    }
    assert_eq!(paths.len(), 183);
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for defined in [&["STANDARD"][..], &["FreeBSD"][..]] {
            let script = parse(&text, defined).unwrap_or_else(|e| panic!("{}:{e}", path.display()));
            assert_eq!(script.ip_version.as_deref(), Some("ipv4"));
            assert!(script.tolerance_usecs.is_some());
            assert!(!script.events.is_empty());
            for event in &script.events {
                if let Action::Shell(Shell::Other(command)) = &event.action {
                    // Only FreeBSD's own tcpdrop is not modelled, and only
                    // in its FreeBSD branches.
                    assert_eq!(defined, &["FreeBSD"][..], "{}: {command}", path.display());
                    assert!(command.starts_with("tcpdrop"), "{command}");
                }
            }
        }
    }
}
