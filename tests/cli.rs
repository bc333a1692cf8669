//! Every example's command line: `--help` describes each flag on stdout and
//! exits 0; a bad flag or value is refused with exit status 2 and an error
//! that names the flag; durations, fractions, ports and addresses are
//! validated the same way everywhere (the shared parsers in
//! examples/common/cli.rs). The example binaries are built by a plain
//! `cargo test`; a case whose binary is missing (`cargo test --test cli`)
//! shows as ignored, with the reason.

#[path = "../examples/common/cli.rs"]
mod cli;
#[macro_use]
mod runner;

use std::process::{Command, Output};

use pollnet::time::Duration;
use runner::{Case, Need};

fn main() -> std::process::ExitCode {
    let example = |case: Case, name: &'static str| case.needs(Need::Example(name));
    runner::main(vec![
        case!(durations_are_non_negative_and_finite),
        case!(fractions_ports_and_endpoints),
        example(case!(loopback_help_and_errors), "loopback"),
        example(case!(server_help_and_errors), "server"),
        example(case!(client_help_and_errors), "client"),
        example(case!(netinfo_help_and_errors), "netinfo"),
        example(case!(replay_help_and_errors), "replay"),
        example(case!(pcapdump_help_and_errors), "pcapdump"),
        example(case!(binary_exit_codes), "pcapdump"),
        example(case!(drill_help_and_errors), "drill"),
        example(case!(async_loopback_help_and_errors), "async_loopback"),
        example(case!(durations_are_validated_alike_everywhere), "loopback")
            .needs(Need::Example("client"))
            .needs(Need::Example("replay")),
    ])
}

fn run(example: &str, args: &[&str]) -> Output {
    Command::new(runner::example_binary(example))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("run {example}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--help` exits 0 with the help on stdout: a description, and each of
/// `flags` followed by text of its own on its line.
fn check_help(example: &str, flags: &[&str]) {
    let out = run(example, &["--help"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{example} --help: {out:?}");
    assert!(
        out.stderr.is_empty(),
        "{example} --help: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("Usage: {example}")),
        "{example} --help:\n{stdout}"
    );
    let description = stdout.lines().next().unwrap_or_default();
    assert!(
        description.len() > 40,
        "{example} --help starts with a description:\n{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for flag in flags {
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{example} --help lists {flag}:\n{stdout}"));
        // The description shares the flag's line (short layout) or fills
        // the next line (long layout, when some flag has several lines).
        let same_line = lines[at]
            .trim_start()
            .split_once("  ")
            .map(|(_, rest)| rest.trim());
        let description = match same_line {
            Some(text) if !text.is_empty() => text,
            _ => lines.get(at + 1).map_or("", |l| l.trim()),
        };
        assert!(
            description.len() > 10 && !description.starts_with('-'),
            "{example} --help describes {flag}: {description:?}\n{stdout}"
        );
    }
}

/// `args` are refused with exit status 2 and an error naming `flag`.
fn check_refused(example: &str, args: &[&str], flag: &str) {
    let out = run(example, args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{example} {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{example} {args:?}");
    // The error (its first paragraph: clap lists missing flags below the
    // first line) names the flag.
    let error = stderr.split("\n\n").next().unwrap_or_default();
    assert!(
        error.starts_with("error:") && error.contains(flag),
        "{example} {args:?}: the error names {flag}:\n{stderr}"
    );
}

fn durations_are_non_negative_and_finite() {
    assert_eq!(cli::seconds("1.5"), Ok(Duration::from_millis(1500)));
    assert_eq!(cli::seconds("0"), Ok(Duration::ZERO));
    assert_eq!(cli::millis("0.25"), Ok(Duration::from_micros(250)));
    assert_eq!(cli::millis("1"), Ok(Duration::from_millis(1)));
    for bad in ["-1", "-0.5", "NaN", "inf", "-inf", "1e12", "x", ""] {
        assert!(cli::seconds(bad).is_err(), "seconds {bad:?}");
    }
    for bad in ["-1", "NaN", "inf", "1e15", "1ms"] {
        assert!(cli::millis(bad).is_err(), "millis {bad:?}");
    }
}

fn fractions_ports_and_endpoints() {
    assert_eq!(cli::fraction("0.25"), Ok(0.25));
    assert_eq!(cli::fraction("0"), Ok(0.0));
    for bad in ["1", "-0.1", "NaN", "x"] {
        assert!(cli::fraction(bad).is_err(), "fraction {bad:?}");
    }
    assert_eq!(cli::port("8080"), Ok(8080));
    for bad in ["0", "65536", "-1", "x"] {
        assert!(cli::port(bad).is_err(), "port {bad:?}");
    }
    assert_eq!(
        cli::endpoint("192.0.2.2:80").unwrap().to_string(),
        "192.0.2.2:80"
    );
    for bad in [
        "192.0.2.2",
        "192.0.2.256:80",
        "192.0.2.2:0",
        "192.0.2.2:x",
        "[2001:db8::2]",
    ] {
        assert!(cli::endpoint(bad).is_err(), "endpoint {bad:?}");
    }
}

fn loopback_help_and_errors() {
    check_help(
        "loopback",
        &[
            "--bytes",
            "--delay-ms",
            "--loss",
            "--seed",
            "--pcap",
            "--msl",
            "--scenario",
        ],
    );
    check_refused("loopback", &["--frobnicate"], "--frobnicate");
    check_refused("loopback", &["--delay-ms", "-1"], "--delay-ms");
    check_refused("loopback", &["--loss", "1.5"], "--loss");
    check_refused("loopback", &["--bytes", "many"], "--bytes");
    check_refused("loopback", &["--scenario", "nope"], "--scenario");
    check_refused("loopback", &["--msl"], "--msl");
}

fn server_help_and_errors() {
    check_help(
        "server",
        &[
            "--iface",
            "--tap",
            "--ip",
            "--gateway",
            "--mac",
            "--port",
            "--backlog",
            "--connections",
            "--rx-buffer",
            "--tx-buffer",
            "--pcap",
            "--quiet",
        ],
    );
    // Refused while parsing, before any device is opened (no root needed).
    check_refused("server", &["--iface", "x", "--ip", "192.0.2.1"], "--ip");
    check_refused(
        "server",
        &["--iface", "x", "--ip", "192.0.2.300/24"],
        "--ip",
    );
    check_refused("server", &["--iface", "x", "--mac", "02:00"], "--mac");
    check_refused("server", &["--iface", "x", "--gateway", "gw"], "--gateway");
    check_refused("server", &["--iface", "x", "--port", "0"], "--port");
    check_refused("server", &["--iface", "x", "--backlog", "-1"], "--backlog");
    check_refused("server", &["--iface", "x", "--tap", "y"], "--tap");
    check_refused("server", &[], "--iface");
}

fn netinfo_help_and_errors() {
    check_help(
        "netinfo",
        &["--iface", "--tap", "--mac", "--path", "--port", "--timeout"],
    );
    check_refused("netinfo", &["--iface", "x"], "HOSTNAME");
    check_refused("netinfo", &["x.example"], "--iface");
    check_refused("netinfo", &["--iface", "x", "--tap", "y", "h"], "--tap");
    check_refused("netinfo", &["--iface", "x", "--port", "0", "h"], "--port");
    check_refused("netinfo", &["--iface", "x", "--mac", "02:00", "h"], "--mac");
    check_refused(
        "netinfo",
        &["--iface", "x", "--timeout", "-1", "h"],
        "--timeout",
    );
}

fn client_help_and_errors() {
    check_help(
        "client",
        &[
            "--iface",
            "--tap",
            "--remote",
            "--ip",
            "--gateway",
            "--mac",
            "--request",
            "--http",
            "--timeout",
            "--pcap",
        ],
    );
    check_refused("client", &["--iface", "x"], "--remote");
    check_refused(
        "client",
        &["--iface", "x", "--remote", "192.0.2.2"],
        "--remote",
    );
    check_refused(
        "client",
        &[
            "--iface",
            "x",
            "--remote",
            "192.0.2.2:80",
            "--request",
            "a\\q",
        ],
        "--request",
    );
    check_refused(
        "client",
        &[
            "--iface",
            "x",
            "--remote",
            "192.0.2.2:80",
            "--request",
            "a",
            "--http",
            "/",
        ],
        "--http",
    );
}

fn replay_help_and_errors() {
    check_help(
        "replay",
        &[
            "--pcap",
            "--out",
            "--ip",
            "--mac",
            "--gateway",
            "--listen",
            "--seed",
            "--msl",
            "--tail",
            "--offloaded-checksums",
            "--start",
            "--quiet",
        ],
    );
    let base = [
        "--pcap",
        "in.pcap",
        "--out",
        "out.pcap",
        "--ip",
        "192.0.2.2/24",
        "--mac",
        "02:00:00:00:00:02",
    ];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    check_refused("replay", &with(&["--listen", "0"]), "--listen");
    check_refused("replay", &with(&["--start", "later"]), "--start");
    check_refused("replay", &base[..6], "--mac");
    check_refused("replay", &with(&["--ip", "2001:db8::1"]), "--ip");
}

fn pcapdump_help_and_errors() {
    // `--help` is help, not a file called "--help".
    check_help("pcapdump", &[]);
    check_refused("pcapdump", &["--frobnicate"], "--frobnicate");
    check_refused("pcapdump", &[], "<CAPTURE>");
    check_refused("pcapdump", &["a.pcap", "b.pcap"], "b.pcap");
}

/// pcapdump's exit codes and output on a real capture (formerly in
/// tests/pcapdump.rs).
fn binary_exit_codes() {
    let output = run("pcapdump", &["Cargo.toml"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("pcapdump: Cargo.toml: not a pcap or pcapng file"));

    let output = run("pcapdump", &[]);
    assert_eq!(output.status.code(), Some(2));

    let output = run("pcapdump", &["tests/data/linux-no-sack.pcap"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 10);
    assert!(stdout.starts_with(
        "1 tcp 192.0.2.1:45418 > 192.0.2.2:5003 seq=1181510299 ack=0 flags=0x002 win=64240 len=0 csum=ok\n"
    ));
}

fn async_loopback_help_and_errors() {
    check_help("async_loopback", &["--bytes", "--seed"]);
    check_refused("async_loopback", &["--frobnicate"], "--frobnicate");
    check_refused("async_loopback", &["--bytes", "many"], "--bytes");
    check_refused("async_loopback", &["--seed", "x"], "--seed");
}

fn drill_help_and_errors() {
    check_help("drill", &[]);
    check_refused("drill", &["--frobnicate"], "--frobnicate");
    check_refused("drill", &[], "<PATH>");
}

/// The same duration value is refused by every flag that takes one, with
/// the same words.
fn durations_are_validated_alike_everywhere() {
    let replay = [
        "--pcap",
        "in.pcap",
        "--out",
        "out.pcap",
        "--ip",
        "192.0.2.2/24",
        "--mac",
        "02:00:00:00:00:02",
    ];
    let client = ["--iface", "x", "--remote", "192.0.2.2:80"];
    let cases: [(&str, &[&str], &str); 5] = [
        ("loopback", &[], "--delay-ms"),
        ("loopback", &[], "--msl"),
        ("client", &client, "--timeout"),
        ("replay", &replay, "--msl"),
        ("replay", &replay, "--tail"),
    ];
    for (example, base, flag) in cases {
        for bad in ["-1", "NaN", "soon"] {
            let args: Vec<&str> = base.iter().copied().chain([flag, bad]).collect();
            let out = run(example, &args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{example} {args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("invalid value '{bad}' for '{flag}"))
                    && stderr.contains("expected a"),
                "{example} {args:?}:\n{stderr}"
            );
        }
    }
}
