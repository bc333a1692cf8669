//! Time as the stack sees it: an [`Instant`] on a caller-supplied clock and a
//! [`Duration`], both with microsecond resolution.
//!
//! The stack never reads a clock and never sleeps. The caller passes `now`
//! into every poll; tests and pcap replay pass a virtual clock.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A point in time, in microseconds since an arbitrary epoch chosen by the
/// caller (for example the program's start, or the first frame of a capture).
///
/// 8 bytes, and so is `Option<Instant>`: the one value no instant takes,
/// `i64::MIN` microseconds, is `None`'s ([`Instant::from_micros`] clamps it
/// to the next one up).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// The microseconds with the sign bit flipped: ordered as the signed
    /// value, and never zero (zero would be `i64::MIN`).
    bits: NonZeroU64,
}

/// A span of time in microseconds; never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The epoch of the caller's clock.
    pub const ZERO: Instant = Instant::from_micros(0);

    /// An instant `micros` microseconds after the epoch (`i64::MIN` counts
    /// as `i64::MIN + 1`).
    pub const fn from_micros(micros: i64) -> Instant {
        let micros = if micros == i64::MIN {
            i64::MIN + 1
        } else {
            micros
        };
        match NonZeroU64::new((micros as u64) ^ SIGN_BIT) {
            Some(bits) => Instant { bits },
            // Only i64::MIN maps to zero, and it was clamped above.
            None => Instant {
                bits: NonZeroU64::MIN,
            },
        }
    }

    /// The signed microsecond count.
    const fn micros(self) -> i64 {
        (self.bits.get() ^ SIGN_BIT) as i64
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Instant {
        Instant::from_micros(millis.saturating_mul(1000))
    }

    /// An instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: i64) -> Instant {
        Instant::from_micros(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(&self) -> i64 {
        self.micros()
    }

    /// Whole milliseconds since the epoch (rounded towards negative infinity).
    pub const fn total_millis(&self) -> i64 {
        self.micros().div_euclid(1000)
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub const fn secs(&self) -> i64 {
        self.micros().div_euclid(1_000_000)
    }

    /// The milliseconds part of the time within its second (0..1000).
    pub const fn millis(&self) -> i64 {
        self.micros().rem_euclid(1_000_000) / 1000
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let d = i64::try_from(d.micros).ok()?;
        self.micros().checked_add(d).map(Instant::from_micros)
    }

    /// `self - d`, or `None` on overflow.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let d = i64::try_from(d.micros).ok()?;
        self.micros().checked_sub(d).map(Instant::from_micros)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        let diff = self.micros().checked_sub(earlier.micros())?;
        u64::try_from(diff).ok().map(Duration::from_micros)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.checked_duration_since(earlier)
            .unwrap_or(Duration::ZERO)
    }

    /// The current wall-clock time as an instant since the Unix epoch.
    #[cfg(feature = "std")]
    pub fn now() -> Instant {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Instant::from_micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }
}

/// The sign bit of an `i64` as a `u64`.
const SIGN_BIT: u64 = 1 << 63;

impl Default for Instant {
    /// The epoch, [`Instant::ZERO`].
    fn default() -> Instant {
        Instant::ZERO
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Instant")
            .field("micros", &self.micros())
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Instant {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "Instant {{ micros: {=i64} }}", self.micros())
    }
}

/// Formats as seconds with three decimals, e.g. `12.345s`; honours width
/// and alignment (`{:>8}`).
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let sign = if self.micros() < 0 { "-" } else { "" };
        pad_seconds(f, sign, self.micros().unsigned_abs())
    }
}

/// Renders `sign` + seconds with three decimals into a stack buffer, then
/// pads it, so formatting needs no allocator.
fn pad_seconds(f: &mut fmt::Formatter, sign: &str, micros: u64) -> fmt::Result {
    let mut buf = [0u8; 32];
    let mut w = SliceWriter {
        buf: &mut buf,
        len: 0,
    };
    fmt::write(
        &mut w,
        format_args!(
            "{}{}.{:03}s",
            sign,
            micros / 1_000_000,
            (micros % 1_000_000) / 1000
        ),
    )?;
    let len = w.len;
    let text = core::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?;
    f.pad(text)
}

/// A `fmt::Write` into a fixed byte slice, so `Display` can honour width and
/// alignment without an allocator.
struct SliceWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time rather than panicking.
    fn add(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.micros).unwrap_or(i64::MAX);
        Instant::from_micros(self.micros().saturating_add(d))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the start of time rather than panicking.
    fn sub(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.micros).unwrap_or(i64::MAX);
        Instant::from_micros(self.micros().saturating_sub(d))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// The time between two instants; zero if `rhs` is later than `self`.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };
    /// The longest representable duration.
    pub const MAX: Duration = Duration { micros: u64::MAX };

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Duration {
        Duration { micros }
    }

    /// A duration of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Duration {
        Duration {
            micros: millis.saturating_mul(1000),
        }
    }

    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Total microseconds.
    pub const fn total_micros(&self) -> u64 {
        self.micros
    }

    /// Total whole milliseconds.
    pub const fn total_millis(&self) -> u64 {
        self.micros / 1000
    }

    /// Total whole seconds.
    pub const fn secs(&self) -> u64 {
        self.micros / 1_000_000
    }

    /// The milliseconds part within the second (0..1000).
    pub const fn millis(&self) -> u64 {
        (self.micros % 1_000_000) / 1000
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Duration) -> Option<Duration> {
        match self.micros.checked_add(rhs.micros) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self - rhs`, or `None` if `rhs` is longer.
    pub const fn checked_sub(self, rhs: Duration) -> Option<Duration> {
        match self.micros.checked_sub(rhs.micros) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self * rhs`, or `None` on overflow.
    pub const fn checked_mul(self, rhs: u32) -> Option<Duration> {
        match self.micros.checked_mul(rhs as u64) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self + rhs`, clamped at [`Duration::MAX`].
    pub const fn saturating_add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }

    /// `self - rhs`, clamped at zero.
    pub const fn saturating_sub(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(rhs.micros),
        }
    }

    /// `self * rhs`, clamped at [`Duration::MAX`].
    pub const fn saturating_mul(self, rhs: u32) -> Duration {
        Duration {
            micros: self.micros.saturating_mul(rhs as u64),
        }
    }
}

/// Formats as seconds with three decimals, e.g. `12.345s`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        pad_seconds(f, "", self.micros)
    }
}

impl Add for Duration {
    type Output = Duration;
    /// Saturates rather than panicking.
    fn add(self, rhs: Duration) -> Duration {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub for Duration {
    type Output = Duration;
    /// Saturates at zero rather than panicking.
    fn sub(self, rhs: Duration) -> Duration {
        self.saturating_sub(rhs)
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Duration {
        Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> core::time::Duration {
        core::time::Duration::from_micros(d.micros)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn display_three_decimals() {
        assert_eq!(format!("{}", Instant::from_micros(12_345_678)), "12.345s");
        assert_eq!(format!("{}", Instant::ZERO), "0.000s");
        assert_eq!(format!("{:>8}", Instant::from_millis(1)), "  0.001s");
        assert_eq!(format!("{}", Instant::from_micros(-1_500_000)), "-1.500s");
        assert_eq!(format!("{}", Duration::from_millis(60_001)), "60.001s");
        assert_eq!(format!("{:>8}", Duration::from_millis(200)), "  0.200s");
    }

    #[test]
    fn checked_arithmetic() {
        let t = Instant::from_secs(1);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(1500));
        assert_eq!(t - Duration::from_secs(2), Instant::from_secs(-1));
        assert_eq!(Instant::from_secs(3) - t, Duration::from_secs(2));
        assert_eq!(t - Instant::from_secs(3), Duration::ZERO);
        assert_eq!(t.checked_duration_since(Instant::from_secs(3)), None);
        assert_eq!(
            Instant::from_micros(i64::MAX).checked_add(Duration::from_micros(1)),
            None
        );
        assert_eq!(
            Instant::from_micros(i64::MAX) + Duration::MAX,
            Instant::from_micros(i64::MAX)
        );
        assert_eq!(Duration::MAX.checked_add(Duration::from_micros(1)), None);
        assert_eq!(
            Duration::from_secs(1).checked_sub(Duration::from_secs(2)),
            None
        );
        assert_eq!(
            Duration::from_secs(1).checked_mul(3),
            Some(Duration::from_secs(3))
        );
        assert_eq!(Duration::MAX.saturating_mul(2), Duration::MAX);
        assert_eq!(Instant::from_micros(-1).total_millis(), -1);
        assert_eq!(Instant::from_micros(1_234_567).millis(), 234);
    }
}
