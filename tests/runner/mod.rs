//! The test runner of the test binaries whose cases need something this
//! machine may not have (root, a program, a device node, the shared
//! conformance suite, an example binary). Built on `libtest-mimic`, so such
//! a case shows as `ignored (<reason>)` in cargo's own summary instead of
//! passing, while `cargo test NAME`, `--list`, `--ignored`, `--exact` and
//! `--test-threads` work as with the built-in harness.
//!
//! With `POLLNET_REQUIRE_ALL_TESTS=1` in the environment (CI sets it: CI runs
//! as root with every program installed) a case that cannot run fails
//! instead, so nothing is skipped there by accident.
//!
//! Each case runs on a thread of its own named after it, as under the
//! built-in harness: a case that pins its thread to a CPU or enters a
//! network namespace leaves the next case untouched.
#![allow(dead_code)]

use std::any::Any;
use std::path::PathBuf;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// The environment variable that turns every ignore into a failure.
pub const REQUIRE_ALL: &str = "POLLNET_REQUIRE_ALL_TESTS";

/// Something a case needs from the machine.
#[derive(Clone, Debug)]
pub enum Need {
    /// Effective user id 0 (network namespaces, veth, AF_PACKET, TAP).
    Root,
    /// An executable of this name on `PATH`.
    Program(&'static str),
    /// A file or folder at this absolute path (e.g. /dev/net/tun).
    Path(PathBuf),
    /// A folder of the shared suite beside the checkout (`../<name>`).
    Shared(&'static str),
    /// An example binary, which `cargo test` builds beside the test binaries
    /// (but `cargo test --test NAME` does not).
    Example(&'static str),
}

impl Need {
    /// Why this need is not met here, if it is not.
    fn unmet(&self) -> Option<String> {
        match self {
            Need::Root => (!is_root())
                .then(|| "not root (network namespaces, veth, AF_PACKET and TAP need it)".into()),
            Need::Program(program) => {
                (!has_program(program)).then(|| format!("program `{program}` not on PATH"))
            }
            Need::Path(path) => (!path.exists()).then(|| format!("{} missing", path.display())),
            Need::Shared(name) => {
                let path = shared_dir(name);
                (!path.is_dir()).then(|| format!("{} does not exist", path.display()))
            }
            Need::Example(name) => {
                let path = example_binary(name);
                (!path.is_file()).then(|| {
                    format!(
                        "example binary {} not built (plain `cargo test` builds it)",
                        path.display()
                    )
                })
            }
        }
    }
}

/// `../<name>` beside the checkout: where the shared suites live.
pub fn shared_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

/// Where cargo puts the example `name` of this profile: the test binary
/// lives in `target/<profile>/deps`, the examples in
/// `target/<profile>/examples`.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `program` is an executable file on `PATH`.
pub fn has_program(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        dir.join(program)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// One test case: its name (what `cargo test NAME` filters on), what it
/// needs, and its body, which fails by panicking as a `#[test]` does.
pub struct Case {
    name: &'static str,
    needs: Vec<Need>,
    body: fn(),
}

impl Case {
    /// A case that needs nothing.
    pub fn new(name: &'static str, body: fn()) -> Case {
        Case {
            name,
            needs: Vec::new(),
            body,
        }
    }

    /// The same case, also needing `need`.
    pub fn needs(mut self, need: Need) -> Case {
        self.needs.push(need);
        self
    }

    /// The same case, also needing root.
    pub fn root(self) -> Case {
        self.needs(Need::Root)
    }

    /// The same case, also needing each of `programs` on `PATH`.
    pub fn programs(mut self, programs: &[&'static str]) -> Case {
        self.needs
            .extend(programs.iter().map(|&program| Need::Program(program)));
        self
    }
}

/// The case named after its body, a function: `case!(f)` for
/// `Case::new("f", f)`. (Needs `#[macro_use] mod runner;`.)
macro_rules! case {
    ($body:ident) => {
        $crate::runner::Case::new(stringify!($body), $body)
    };
}

/// The payload of [`skip`]'s panic.
struct Skip(String);

/// Ends the running case as ignored with `reason`, for a need that shows
/// only once the case has started (e.g. `unshare` refused). Under
/// `POLLNET_REQUIRE_ALL_TESTS=1` the case fails instead.
pub fn skip(reason: impl Into<String>) -> ! {
    std::panic::panic_any(Skip(reason.into()))
}

fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| !v.is_empty() && v != "0")
}

/// What becomes of a case that cannot run: ignored, or failed under
/// `POLLNET_REQUIRE_ALL_TESTS`.
fn cannot_run(reason: String) -> Result<Completion, Failed> {
    if require_all() {
        Err(
            format!("cannot run here ({reason}), and {REQUIRE_ALL} requires every test to run")
                .into(),
        )
    } else {
        Ok(Completion::ignored_with(reason))
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked with a non-string payload".to_owned()
    }
}

fn run_case(name: &'static str, needs: &[Need], body: fn()) -> Result<Completion, Failed> {
    let unmet: Vec<String> = needs.iter().filter_map(Need::unmet).collect();
    if !unmet.is_empty() {
        return cannot_run(unmet.join("; "));
    }
    let outcome = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .expect("spawn the case's thread")
        .join();
    match outcome {
        Ok(()) => Ok(Completion::Completed),
        Err(payload) => match payload.downcast::<Skip>() {
            Ok(skip) => cannot_run(skip.0),
            Err(payload) => Err(panic_message(payload.as_ref()).into()),
        },
    }
}

/// Runs `cases` with the command line cargo gave this test binary; the exit
/// status says whether every case that ran passed.
pub fn main(cases: Vec<Case>) -> ExitCode {
    // A skip is not a panic worth printing; every other panic prints as
    // usual (message and location, before the case is reported failed).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Skip>().is_none() {
            default_hook(info);
        }
    }));
    let args = Arguments::from_args();
    let trials = cases
        .into_iter()
        .map(|Case { name, needs, body }| {
            Trial::ignorable_test(name, move || run_case(name, &needs, body))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
