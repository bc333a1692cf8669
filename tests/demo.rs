//! The loopback demo (README's first command) prints the whole lifecycle
//! of both ends. On the virtual clock its output is deterministic, so each
//! scenario's trace is checked line for line; only the last line's wall
//! time and rate vary, and its byte count and virtual time are checked.

use std::path::PathBuf;
use std::process::Command;

/// The demo binary, built by `cargo test` beside this test's binary.
fn demo() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("examples").join("loopback")
}

fn run(scenario: &str) -> (Vec<String>, String) {
    let path = demo();
    assert!(path.exists(), "{} not built", path.display());
    let out = Command::new(&path)
        .args(["--scenario", scenario, "--bytes", "100000"])
        .output()
        .expect("demo runs");
    assert!(
        out.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let done = lines.pop().expect("a last line");
    (lines, done)
}

fn check(scenario: &str, expected: &[&str], virtual_time: &str) {
    let (lines, done) = run(scenario);
    assert_eq!(lines, expected, "{scenario}");
    let prefix = format!("done: 100000 bytes verified, {virtual_time} virtual, ");
    assert!(done.starts_with(&prefix), "{scenario}: {done}");
    assert!(done.ends_with(" MB/s"), "{scenario}: {done}");
}

#[test]
fn scenario_default() {
    check(
        "default",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.004s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.005s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.008s] client ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.009s] server ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
            "[  0.009s] server CLOSE_WAIT -> LAST_ACK (close)",
            "[  0.010s] client FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
            "[  0.010s] client FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
            "[  0.011s] server LAST_ACK -> CLOSED (rcv ACK of FIN)",
            "[120.010s] client TIME_WAIT -> CLOSED (2MSL timeout)",
        ],
        "120.010s",
    );
}

#[test]
fn scenario_simultaneous_close() {
    check(
        "simultaneous-close",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.004s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.005s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.010s] client ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.010s] server ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.011s] client FIN_WAIT_1 -> CLOSING (rcv FIN)",
            "[  0.011s] server FIN_WAIT_1 -> CLOSING (rcv FIN)",
            "[  0.012s] client CLOSING -> TIME_WAIT (rcv ACK of FIN)",
            "[  0.012s] server CLOSING -> TIME_WAIT (rcv ACK of FIN)",
            "[120.012s] client TIME_WAIT -> CLOSED (2MSL timeout)",
            "[120.012s] server TIME_WAIT -> CLOSED (2MSL timeout)",
        ],
        "120.012s",
    );
}

#[test]
fn scenario_rst_in_syn_rcvd() {
    check(
        "rst-in-syn-rcvd",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.000s] client SYN_SENT -> CLOSED (abort)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.005s] server SYN_RCVD -> LISTEN (rcv RST)",
            "[  0.005s] client CLOSED -> SYN_SENT (connect)",
            "[  0.006s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.007s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.008s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.011s] client ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.012s] server ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
            "[  0.012s] server CLOSE_WAIT -> LAST_ACK (close)",
            "[  0.013s] client FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
            "[  0.013s] client FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
            "[  0.014s] server LAST_ACK -> CLOSED (rcv ACK of FIN)",
            "[120.013s] client TIME_WAIT -> CLOSED (2MSL timeout)",
        ],
        "120.013s",
    );
}

#[test]
fn scenario_fin_wait_2_timeout() {
    check(
        "fin-wait-2-timeout",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.004s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.005s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.008s] client ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.009s] server ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
            "[  0.010s] client FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
            "[ 60.010s] client FIN_WAIT_2 -> CLOSED (FIN_WAIT_2 timeout)",
        ],
        "60.010s",
    );
}

#[test]
fn scenario_lost_last_ack() {
    check(
        "lost-last-ack",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.004s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.005s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.008s] client ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.009s] server ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
            "[  0.009s] server CLOSE_WAIT -> LAST_ACK (close)",
            "[  0.010s] link drops the client's last ACK",
            "[  0.010s] client FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
            "[  0.010s] client FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
            "[  0.210s] client TIME_WAIT gets the server's retransmitted FIN: ACKs it again and restarts 2*MSL",
            "[  0.211s] server LAST_ACK -> CLOSED (rcv ACK of FIN)",
            "[120.210s] client TIME_WAIT -> CLOSED (2MSL timeout)",
        ],
        "120.210s",
    );
}

#[test]
fn scenario_passive_close() {
    check(
        "passive-close",
        &[
            "[  0.000s] client CLOSED -> SYN_SENT (connect)",
            "[  0.000s] server CLOSED -> LISTEN (listen)",
            "[  0.003s] server LISTEN -> SYN_RCVD (rcv SYN)",
            "[  0.004s] client SYN_SENT -> ESTABLISHED (rcv SYN+ACK)",
            "[  0.005s] server SYN_RCVD -> ESTABLISHED (rcv ACK)",
            "[  0.009s] server ESTABLISHED -> FIN_WAIT_1 (close)",
            "[  0.010s] client ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
            "[  0.010s] client CLOSE_WAIT -> LAST_ACK (close)",
            "[  0.011s] server FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
            "[  0.011s] server FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
            "[  0.012s] client LAST_ACK -> CLOSED (rcv ACK of FIN)",
            "[120.011s] server TIME_WAIT -> CLOSED (2MSL timeout)",
        ],
        "120.011s",
    );
}
