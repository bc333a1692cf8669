//! `sysctl -w name=value` lines mapped onto pollnet's settings.
//!
//! FreeBSD variables with a pollnet counterpart (durations in FreeBSD's
//! milliseconds):
//!
//! | sysctl                              | pollnet                                   |
//! |-------------------------------------|-------------------------------------------|
//! | `net.inet.tcp.insecure_rst`         | `TcpConfig::insecure_rst`                 |
//! | `net.inet.tcp.insecure_syn`         | `TcpConfig::insecure_syn`                 |
//! | `net.inet.tcp.rexmit_initial` (ms)  | `TcpConfig::initial_rto`                  |
//! | `net.inet.tcp.rexmit_min` (ms)      | `TcpConfig::min_rto`                      |
//! | `net.inet.tcp.recvspace`            | receive buffer of new sockets             |
//! | `net.inet.tcp.sendspace`            | send buffer of new sockets                |
//! | `net.inet.tcp.sack.enable`          | `TcpConfig::sack`                         |
//! | `net.inet.tcp.rfc1323` (0-3)        | `window_scaling` (1, 2), `timestamps` (1, 3) |
//! | `net.inet.tcp.keepinit` (ms)        | `TcpConfig::syn_rcvd_timeout`             |
//! | `net.inet.tcp.keepidle` (ms)        | keep-alive idle time (for SO_KEEPALIVE)   |
//! | `net.inet.tcp.keepintvl` (ms)       | `TcpConfig::keepalive_interval`           |
//! | `net.inet.tcp.keepcnt`              | `TcpConfig::keepalive_count`              |
//! | `net.inet.tcp.drop_synfin`          | `TcpConfig::drop_syn_fin`                 |
//! | `net.inet.tcp.always_keepalive`     | keep-alive on every socket                |
//! | `net.inet.tcp.delacktime` (ms)      | `TcpConfig::ack_delay`                    |
//! | `net.inet.tcp.delayed_ack` (0/1)    | `ack_delay` off / `delacktime`            |
//! | `net.inet.tcp.msl` (ms)             | `TcpConfig::msl`                          |
//! | `net.inet.tcp.finwait2_timeout` (ms)| `TcpConfig::fin_wait_2_timeout`           |
//!
//! `keepinit` bounds connection establishment in FreeBSD (SYN_SENT and
//! SYN_RCVD); pollnet bounds SYN_SENT by `max_syn_retransmissions`, so only
//! SYN_RCVD gets it. `net.inet.tcp.drop_synfin` maps to
//! `TcpConfig::drop_syn_fin` (off: SYN+FIN is processed as RFC 9293 says,
//! a SYN whose FIN is handled after it).
//!
//! pollnet's own variables, for our scripts: `pollnet.<field>` sets the
//! `TcpConfig` field of that name on every socket: durations in
//! milliseconds (`msl`, `fin_wait_2_timeout`, `syn_rcvd_timeout`,
//! `initial_rto`, `min_rto`, `max_rto`, `keepalive_interval`; and, with 0
//! meaning off, `user_timeout`, `ack_delay`, `keepalive_idle`), counts
//! (`max_retransmissions`, `max_syn_retransmissions`,
//! `max_synack_retransmissions`, `keepalive_count`, `challenge_ack_limit`,
//! `max_ooo_holes`) and 0/1 switches (`nagle`, `window_scaling`,
//! `timestamps`, `sack`, `insecure_rst`, `insecure_syn`).

use pollnet::socket::tcp::TcpConfig;
use pollnet::time::Duration;

/// Settings the runner holds beside the `TcpConfig`: they decide how new
/// sockets are built rather than how a socket behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    /// Receive buffer of new sockets (`recvspace`).
    pub recvspace: usize,
    /// Send buffer of new sockets (`sendspace`).
    pub sendspace: usize,
    /// Keep-alive idle time for sockets with SO_KEEPALIVE (`keepidle`).
    pub keepidle: Duration,
    /// Keep-alive on every socket (`always_keepalive`).
    pub always_keepalive: bool,
    /// The delayed-ACK time `delayed_ack=1` restores (`delacktime`).
    pub delacktime: Duration,
}

impl Default for Knobs {
    /// FreeBSD's defaults: 64 KiB receive, 32 KiB send buffers, two hours
    /// of keep-alive idle time; keep-alive only where asked for.
    fn default() -> Self {
        Knobs {
            recvspace: 65536,
            sendspace: 32768,
            keepidle: Duration::from_secs(7200),
            always_keepalive: false,
            delacktime: Duration::from_millis(100),
        }
    }
}

/// What a `sysctl -w` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It changed a `TcpConfig` field: apply it to live sockets too.
    Config,
    /// It changed a runner knob (new sockets only).
    Knob,
    /// No pollnet counterpart: skipped.
    Skipped,
}

fn number(name: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("a number for {name}, got {value}"))
}

fn millis(name: &str, value: &str) -> Result<Duration, String> {
    number(name, value).map(Duration::from_millis)
}

fn optional_millis(name: &str, value: &str) -> Result<Option<Duration>, String> {
    let ms = number(name, value)?;
    Ok((ms != 0).then(|| Duration::from_millis(ms)))
}

fn switch(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("0 or 1 for {name}, got {value}")),
    }
}

/// A buffer size, at most 16 MiB (it is allocated for each socket).
fn buffer_size(name: &str, value: &str) -> Result<usize, String> {
    match usize::try_from(number(name, value)?) {
        Ok(n) if n <= 16 << 20 => Ok(n),
        _ => Err(format!(
            "a buffer size up to 16 MiB for {name}, got {value}"
        )),
    }
}

fn count(name: &str, value: &str) -> Result<u32, String> {
    let n = number(name, value)?;
    u32::try_from(n).map_err(|_| format!("a 32-bit count for {name}, got {value}"))
}

/// Applies `name=value` to `config` and `knobs`. An error names the value
/// that did not parse.
pub fn apply(
    name: &str,
    value: &str,
    config: &mut TcpConfig,
    knobs: &mut Knobs,
) -> Result<Applied, String> {
    if let Some(field) = name.strip_prefix("pollnet.") {
        return apply_pollnet(field, value, config).map(|()| Applied::Config);
    }
    let Some(tcp) = name.strip_prefix("net.inet.tcp.") else {
        return Ok(Applied::Skipped);
    };
    match tcp {
        "insecure_rst" => config.insecure_rst = number(name, value)? != 0,
        "insecure_syn" => config.insecure_syn = number(name, value)? != 0,
        "rexmit_initial" => config.initial_rto = millis(name, value)?,
        "rexmit_min" => config.min_rto = millis(name, value)?,
        "sack.enable" => config.sack = number(name, value)? != 0,
        "rfc1323" => {
            let mode = number(name, value)?;
            config.window_scaling = matches!(mode, 1 | 2);
            config.timestamps = matches!(mode, 1 | 3);
        }
        "keepinit" => config.syn_rcvd_timeout = millis(name, value)?,
        "keepintvl" => config.keepalive_interval = millis(name, value)?,
        "keepcnt" => config.keepalive_count = count(name, value)?,
        "drop_synfin" => config.drop_syn_fin = number(name, value)? != 0,
        "delacktime" => {
            knobs.delacktime = millis(name, value)?;
            if config.ack_delay.is_some() {
                config.ack_delay = Some(knobs.delacktime);
            }
        }
        "delayed_ack" => {
            config.ack_delay = switch(name, value)?.then_some(knobs.delacktime);
        }
        "msl" => config.msl = millis(name, value)?,
        "finwait2_timeout" => config.fin_wait_2_timeout = millis(name, value)?,
        "recvspace" => {
            knobs.recvspace = buffer_size(name, value)?;
            return Ok(Applied::Knob);
        }
        "sendspace" => {
            knobs.sendspace = buffer_size(name, value)?;
            return Ok(Applied::Knob);
        }
        "keepidle" => {
            knobs.keepidle = millis(name, value)?;
            return Ok(Applied::Knob);
        }
        "always_keepalive" => {
            knobs.always_keepalive = switch(name, value)?;
            return Ok(Applied::Knob);
        }
        _ => return Ok(Applied::Skipped),
    }
    Ok(Applied::Config)
}

fn apply_pollnet(field: &str, value: &str, config: &mut TcpConfig) -> Result<(), String> {
    let name = format!("pollnet.{field}");
    let name = name.as_str();
    match field {
        "msl" => config.msl = millis(name, value)?,
        "fin_wait_2_timeout" => config.fin_wait_2_timeout = millis(name, value)?,
        "syn_rcvd_timeout" => config.syn_rcvd_timeout = millis(name, value)?,
        "initial_rto" => config.initial_rto = millis(name, value)?,
        "min_rto" => config.min_rto = millis(name, value)?,
        "max_rto" => config.max_rto = millis(name, value)?,
        "keepalive_interval" => config.keepalive_interval = millis(name, value)?,
        "user_timeout" => config.user_timeout = optional_millis(name, value)?,
        "ack_delay" => config.ack_delay = optional_millis(name, value)?,
        "keepalive_idle" => config.keepalive_idle = optional_millis(name, value)?,
        "max_retransmissions" => config.max_retransmissions = count(name, value)?,
        "max_syn_retransmissions" => config.max_syn_retransmissions = count(name, value)?,
        "max_synack_retransmissions" => config.max_synack_retransmissions = count(name, value)?,
        "keepalive_count" => config.keepalive_count = count(name, value)?,
        "challenge_ack_limit" => config.challenge_ack_limit = count(name, value)?,
        "max_ooo_holes" => {
            config.max_ooo_holes = usize::try_from(number(name, value)?)
                .map_err(|_| format!("a count for {name}, got {value}"))?;
        }
        "nagle" => config.nagle = switch(name, value)?,
        "window_scaling" => config.window_scaling = switch(name, value)?,
        "timestamps" => config.timestamps = switch(name, value)?,
        "sack" => config.sack = switch(name, value)?,
        "insecure_rst" => config.insecure_rst = switch(name, value)?,
        "insecure_syn" => config.insecure_syn = switch(name, value)?,
        _ => return Err(format!("a TcpConfig field after pollnet., got {field}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, value: &str) -> (Result<Applied, String>, TcpConfig, Knobs) {
        let mut config = TcpConfig::default();
        let mut knobs = Knobs::default();
        let applied = apply(name, value, &mut config, &mut knobs);
        (applied, config, knobs)
    }

    #[test]
    fn freebsd_variables_map_onto_the_config() {
        let (applied, config, _) = run("net.inet.tcp.insecure_rst", "1");
        assert_eq!(applied, Ok(Applied::Config));
        assert!(config.insecure_rst);
        let (_, config, _) = run("net.inet.tcp.rexmit_initial", "1000");
        assert_eq!(config.initial_rto, Duration::from_millis(1000));
        let (_, config, _) = run("net.inet.tcp.rfc1323", "0");
        assert!(!config.window_scaling && !config.timestamps);
        let (_, config, _) = run("net.inet.tcp.rfc1323", "3");
        assert!(!config.window_scaling && config.timestamps);
        let (_, config, _) = run("net.inet.tcp.sack.enable", "0");
        assert!(!config.sack);
        let (_, config, _) = run("net.inet.tcp.keepcnt", "3");
        assert_eq!(config.keepalive_count, 3);
        let (_, config, _) = run("net.inet.tcp.delayed_ack", "0");
        assert_eq!(config.ack_delay, None);
        let (_, config, _) = run("net.inet.tcp.msl", "250");
        assert_eq!(config.msl, Duration::from_millis(250));
        let (applied, _, knobs) = run("net.inet.tcp.recvspace", "4096");
        assert_eq!(applied, Ok(Applied::Knob));
        assert_eq!(knobs.recvspace, 4096);
        let (applied, _, knobs) = run("net.inet.tcp.keepidle", "5000");
        assert_eq!(applied, Ok(Applied::Knob));
        assert_eq!(knobs.keepidle, Duration::from_secs(5));
    }

    #[test]
    fn others_are_skipped_and_bad_values_rejected() {
        assert_eq!(run("net.inet.tcp.blackhole", "0").0, Ok(Applied::Skipped));
        assert_eq!(
            run("kern.ipc.maxsockbuf", "2097152").0,
            Ok(Applied::Skipped)
        );
        let (applied, config, _) = run("net.inet.tcp.drop_synfin", "1");
        assert_ne!(applied, Ok(Applied::Skipped));
        assert!(config.drop_syn_fin);
        assert!(run("net.inet.tcp.rexmit_initial", "soon").0.is_err());
        assert!(run("pollnet.frobnicate", "1").0.is_err());
        assert!(run("pollnet.nagle", "2").0.is_err());
        assert!(run("net.inet.tcp.recvspace", "4294967296").0.is_err());
    }

    #[test]
    fn pollnet_variables_set_fields() {
        let (applied, config, _) = run("pollnet.fin_wait_2_timeout", "3000");
        assert_eq!(applied, Ok(Applied::Config));
        assert_eq!(config.fin_wait_2_timeout, Duration::from_secs(3));
        let (_, config, _) = run("pollnet.keepalive_idle", "0");
        assert_eq!(config.keepalive_idle, None);
        let (_, config, _) = run("pollnet.user_timeout", "1500");
        assert_eq!(config.user_timeout, Some(Duration::from_millis(1500)));
        let (_, config, _) = run("pollnet.max_retransmissions", "4");
        assert_eq!(config.max_retransmissions, 4);
    }
}
