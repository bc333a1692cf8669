//! What every example's command line shares: value parsers for clap, so
//! every example validates the same way (durations are non-negative and
//! finite, fractions lie in [0, 1), ports are not 0, addresses are parsed by
//! `pollnet::wire`'s `FromStr` impls), and clap names the flag in each error.
#![allow(dead_code)]

use pollnet::time::Duration;
use pollnet::wire::{IpAddress, IpEndpoint};

/// The longest duration a flag takes: about 31 years, far past any timer,
/// and small enough that the microseconds fit any arithmetic on them.
const MAX_SECONDS: f64 = 1e9;

fn non_negative(text: &str, unit: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("expected a number of {unit}, e.g. 1.5"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("expected a non-negative number of {unit}"));
    }
    Ok(value)
}

/// A duration in seconds (fractions allowed): `--msl 60`, `--timeout 0.5`.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let secs = non_negative(text, "seconds")?;
    if secs >= MAX_SECONDS {
        return Err(format!("at most {MAX_SECONDS} seconds"));
    }
    Ok(Duration::from_micros((secs * 1e6).round() as u64))
}

/// A duration in milliseconds (fractions allowed): `--delay-ms 0.25`.
pub fn millis(text: &str) -> Result<Duration, String> {
    let ms = non_negative(text, "milliseconds")?;
    if ms >= MAX_SECONDS * 1e3 {
        return Err(format!("at most {} milliseconds", MAX_SECONDS * 1e3));
    }
    Ok(Duration::from_micros((ms * 1e3).round() as u64))
}

/// A probability in [0, 1): `--loss 0.01`.
pub fn fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| "expected a fraction, e.g. 0.01".to_string())?;
    if !(0.0..1.0).contains(&value) {
        return Err("expected a fraction in [0, 1)".into());
    }
    Ok(value)
}

/// A TCP port other than 0.
pub fn port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a port to use".into()),
        Ok(port) => Ok(port),
        Err(_) => Err("expected a port number, 1 to 65535".into()),
    }
}

/// `ADDRESS:PORT`, the address in `pollnet::wire` text form (`192.0.2.2:80`,
/// `[2001:db8::2]:80`); port 0 is refused.
pub fn endpoint(text: &str) -> Result<IpEndpoint, String> {
    let (addr, port_text) = match text.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .ok_or("expected [IPv6]:PORT, e.g. [2001:db8::2]:80")?,
        None => text
            .rsplit_once(':')
            .ok_or("expected ADDRESS:PORT, e.g. 192.0.2.2:80")?,
    };
    let addr: IpAddress = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    Ok(IpEndpoint::new(addr, port(port_text)?))
}
