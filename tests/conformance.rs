//! The shared conformance suite (../shared/conformance) and our own scripts
//! (tests/scripts) through the drill engine.
//!
//! Fails on any failure not in tests/conformance/expected-failures.txt and on
//! any listed script that now passes, so the list only shrinks. Skips the
//! shared suite, with a message, when ../shared/conformance is absent.

#[path = "../examples/drill/engine.rs"]
mod engine;

use std::path::{Path, PathBuf};

use engine::{ExpectedFailures, Verdict};

/// Runs every script under `root`; returns the verdicts.
fn run_all(root: &Path, expected: &ExpectedFailures) -> Vec<(PathBuf, Verdict)> {
    let scripts = engine::collect_scripts(&[root.to_path_buf()]).expect("readable script folder");
    scripts
        .into_iter()
        .map(|script| {
            let verdict = engine::judge(&script, expected);
            println!("{}", verdict.line(&script));
            (script, verdict)
        })
        .collect()
}

/// The failures a test run must report: unexpected failures and listed
/// scripts that pass.
fn problems(verdicts: &[(PathBuf, Verdict)]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Fail(_) | Verdict::UnexpectedPass(_)))
        .map(|(path, v)| v.line(path))
        .collect()
}

#[test]
fn shared_suite() {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance"
    ));
    if !root.exists() {
        println!(
            "skipping the shared suite: {} does not exist",
            root.display()
        );
        return;
    }
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
    println!("{passed} passed, {} failed", verdicts.len() - passed);
    let problems = problems(&verdicts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn own_scripts() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts"));
    let verdicts = run_all(root, &ExpectedFailures::default());
    assert!(!verdicts.is_empty(), "tests/scripts holds scripts");
    let problems = problems(&verdicts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
