//! What the conformance test binaries share: running a folder of scripts
//! through the drill engine and picking out the verdicts that fail a run.

use std::path::{Path, PathBuf};

use crate::engine::{self, ExpectedFailures, Verdict};

/// Runs every script under `root`; returns the verdicts. Prints the line of
/// each script that did not simply pass (expected failures included).
pub fn run_all(root: &Path, expected: &ExpectedFailures) -> Vec<(PathBuf, Verdict)> {
    let scripts = engine::collect_scripts(&[root.to_path_buf()]).expect("readable script folder");
    scripts
        .into_iter()
        .map(|script| {
            let verdict = engine::judge(&script, expected);
            if !matches!(verdict, Verdict::Pass) {
                println!("{}", verdict.line(&script));
            }
            (script, verdict)
        })
        .collect()
}

/// The failures a test run must report: unexpected failures and listed
/// scripts that pass.
pub fn problems(verdicts: &[(PathBuf, Verdict)]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Fail(_) | Verdict::UnexpectedPass(_)))
        .map(|(path, v)| v.line(path))
        .collect()
}
