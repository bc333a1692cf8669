//! drill: runs packetdrill-style scripts against pollnet.
//!
//! ```text
//! cargo run --release --example drill -- PATH...
//! ```
//!
//! Runs every `.pkt` file under the given files or folders and prints one
//! line per script: `PASS <path>`, `FAIL <path>: <line>: expected <...>, got
//! <...>`, or `XFAIL <path>: ...` for a script in
//! `tests/conformance/expected-failures.txt` (with the RFC section that
//! justifies pollnet's behaviour). The last line is `<N> passed, <M> failed`,
//! where failed includes the expected failures. The exit status is 0 only if
//! every failure is an expected one. The semantics are in `engine.rs`.
//!
//! With `DRILL_TRACE` set in the environment, every event, every segment
//! pollnet sends and every state transition is printed to stderr with its
//! script time.

// The conformance test uses parts of the engine this command does not.
#[allow(dead_code)]
mod engine;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use engine::{ExpectedFailures, Verdict};

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: drill PATH...  (.pkt files or folders holding them)");
        return ExitCode::from(2);
    }
    let expected = match ExpectedFailures::parse(engine::EXPECTED_FAILURES) {
        Ok(expected) => expected,
        Err(err) => {
            eprintln!("drill: expected-failures.txt: {err}");
            return ExitCode::from(2);
        }
    };
    let scripts = match engine::collect_scripts(&paths) {
        Ok(scripts) => scripts,
        Err(err) => {
            eprintln!("drill: {err}");
            return ExitCode::from(2);
        }
    };
    // Write errors (a closed pipe, say) end the run quietly, not in a panic.
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut unexpected) = (0usize, 0usize, 0usize);
    for script in &scripts {
        let verdict = engine::judge(script, &expected);
        if writeln!(out, "{}", verdict.line(script)).is_err() {
            return ExitCode::FAILURE;
        }
        if verdict.passed() {
            passed += 1;
        } else {
            failed += 1;
        }
        match verdict {
            Verdict::Pass => {}
            Verdict::UnexpectedPass(_) => {
                eprintln!(
                    "drill: {} passes: remove it from expected-failures.txt",
                    script.display()
                );
            }
            Verdict::ExpectedFailure(..) => {}
            Verdict::Fail(_) => unexpected += 1,
        }
    }
    if writeln!(out, "{passed} passed, {failed} failed").is_err() {
        return ExitCode::FAILURE;
    }
    if unexpected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
