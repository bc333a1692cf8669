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

use clap::Parser;
use engine::{ExpectedFailures, Verdict};

/// Runs packetdrill-style scripts against pollnet on a virtual clock and
/// prints one line per script: `PASS <path>`, `FAIL <path>: <line>: expected
/// <...>, got <...>`, or `XFAIL <path>: ...` for a script on the list of
/// expected failures (with the RFC section behind pollnet's behaviour). The
/// last line is `<N> passed, <M> failed`. Exits 0 only if every failure is
/// an expected one. With DRILL_TRACE set, every event, segment and state
/// transition goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "drill")]
struct Options {
    /// `.pkt` scripts, or folders searched for them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let Options { paths } = Options::parse();
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
