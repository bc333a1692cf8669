//! SYN cookies (RFC 4987 section 3.6): when a listener's SYN queue is full,
//! its SYN-ACK carries the whole half-open state in our initial sequence
//! number (and, with timestamps, in our TSval), so nothing is stored; the
//! peer's final ACK brings it back and the connection is rebuilt from it.
//!
//! # Encoding (the scheme Linux uses, with the IRS inside `F2`)
//! The ISS is `F1(4-tuple) + IRS + (count << 24) + ((F2(4-tuple, count,
//! IRS) + mss_index) mod 2^24)`, where `count` is a minute counter on the stack's
//! clock, `F1` and `F2` are keyed hashes (SipHash-2-4 under a secret from
//! the interface's seed, domain-separated from the ISN hash), and
//! `mss_index` picks the largest entry of a small table not above the
//! peer's MSS. A cookie is accepted for [`COOKIE_LIFETIME_MINUTES`] minutes.
//!
//! Linux keys `F2` on the 4-tuple and count alone, so `ISS - IRS` is all a
//! check sees: any later segment whose SEQ and ACK moved by the same amount
//! passes too. An echo service's last ACK, arriving after its connection
//! closed, is such a segment: it rebuilt a connection nobody opened. With
//! the IRS in `F2` (as FreeBSD's cookie MAC covers it) a moved SEQ changes
//! the hash, and such a segment passes only by chance (4 in 2^24).
//!
//! Options that do not fit in the ISS ride in the low six bits of our
//! TSval, which the peer echoes in TSecr: the peer's window shift (four
//! bits, 15 for none), SACK-permitted and ECN. Without timestamps there is
//! nowhere to keep them, so a cookie SYN-ACK to a SYN without timestamps
//! offers neither window scaling nor SACK.

use super::{SocketBuffer, State, TcpSocket, isn::IsnGenerator};
use crate::socket::Context;
use crate::storage::siphash::siphash24;
use crate::time::Instant;
use crate::wire::{IpEndpoint, IpRepr, SeqNumber, TcpFlags, TcpRepr, TcpTimestamp};

/// How many minutes a cookie stays valid (Linux: 2).
pub const COOKIE_LIFETIME_MINUTES: u32 = 2;

/// MSS values an IPv4 cookie can carry (common paths: the RFC 9293
/// default, tunnels, PPPoE, Ethernet).
const MSS_TABLE_V4: [u16; 4] = [536, 1300, 1440, 1460];
/// MSS values an IPv6 cookie can carry (the IPv6 minimum MTU, tunnels,
/// Ethernet, jumbo frames).
const MSS_TABLE_V6: [u16; 4] = [1220, 1420, 1440, 8940];

/// Bits of the ISS that carry the minute counter.
const COUNT_SHIFT: u32 = 24;
const LOW_MASK: u32 = (1 << COUNT_SHIFT) - 1;

/// TSval bits that carry options.
const TS_OPTION_BITS: u32 = 6;
const TS_OPTION_MASK: u32 = (1 << TS_OPTION_BITS) - 1;
/// The 4-bit window shift value that means "no window scaling".
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;
const TS_ECN: u32 = 1 << 5;

/// Domain tags that keep the cookie hashes apart from the ISN's.
const TAG_F1: u8 = 0xc1;
const TAG_F2: u8 = 0xc2;

/// What a cookie's TSval carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CookieOptions {
    /// The peer's window shift, if it offered window scaling.
    pub wscale: Option<u8>,
    /// The peer offered SACK-permitted (and we allow it).
    pub sack: bool,
    /// ECN was negotiated.
    pub ecn: bool,
}

impl CookieOptions {
    /// The option bits, to replace the low bits of a TSval.
    fn bits(&self) -> u32 {
        let wscale = self.wscale.map_or(TS_NO_WSCALE, |s| u32::from(s.min(14)));
        wscale | if self.sack { TS_SACK } else { 0 } | if self.ecn { TS_ECN } else { 0 }
    }

    /// The options an echoed TSval (the peer's TSecr) carries.
    pub fn from_tsecr(tsecr: u32) -> Option<CookieOptions> {
        let bits = tsecr & TS_OPTION_MASK;
        // Four bits: 0 to 14 are shifts, 15 is none.
        let wscale = bits & 0xf;
        let wscale = (wscale != TS_NO_WSCALE).then_some(wscale as u8);
        Some(CookieOptions {
            wscale,
            sack: bits & TS_SACK != 0,
            ecn: bits & TS_ECN != 0,
        })
    }
}

/// A TSval at or before `now_tsval` whose low bits carry `options`, so the
/// peer's clock never sees our timestamps go backwards once the real clock
/// takes over.
pub fn tsval_with_options(now_tsval: u32, options: &CookieOptions) -> u32 {
    let tsval = (now_tsval & !TS_OPTION_MASK) | options.bits();
    if tsval.wrapping_sub(now_tsval) as i32 > 0 {
        tsval.wrapping_sub(TS_OPTION_MASK + 1)
    } else {
        tsval
    }
}

/// Builds and checks cookies under a secret.
#[derive(Debug, Clone, Copy)]
pub struct SynCookies {
    isn: IsnGenerator,
}

/// Bytes of a hashed 4-tuple with a tag and a counter.
const HASH_BYTES_MAX: usize = 1 + 2 * (16 + 2) + 4 + 4;

impl SynCookies {
    /// Cookies keyed like `isn` (the secret derives from the interface's
    /// seed), with their own domain tags.
    pub fn new(isn: IsnGenerator) -> SynCookies {
        SynCookies { isn }
    }

    /// The minute counter at `now`.
    fn count(now: Instant) -> u32 {
        // Truncation: only the low 8 bits travel in a cookie.
        now.total_micros().div_euclid(60_000_000) as u32
    }

    fn table(local: &IpEndpoint) -> &'static [u16; 4] {
        if local.addr.as_ipv4().is_some() {
            &MSS_TABLE_V4
        } else {
            &MSS_TABLE_V6
        }
    }

    fn hash(
        &self,
        tag: u8,
        local: IpEndpoint,
        remote: IpEndpoint,
        count_irs: Option<(u32, SeqNumber)>,
    ) -> u32 {
        let mut buf = [0u8; HASH_BYTES_MAX];
        let mut len = 0;
        let count_bytes = count_irs.map(|(count, irs)| {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&count.to_be_bytes());
            b[4..].copy_from_slice(&irs.raw().to_be_bytes());
            b
        });
        for part in [
            &[tag][..],
            local.addr.as_bytes(),
            &local.port.to_be_bytes(),
            remote.addr.as_bytes(),
            &remote.port.to_be_bytes(),
            count_bytes.as_ref().map_or(&[][..], |b| &b[..]),
        ] {
            // The parts fit HASH_BYTES_MAX; `get_mut` only guards the sums.
            if let Some(dst) = buf.get_mut(len..len + part.len()) {
                dst.copy_from_slice(part);
                len += part.len();
            }
        }
        siphash24(&self.isn.key(), &buf[..len]) as u32
    }

    /// Our ISS for a SYN with IRS `irs` and MSS option `peer_mss` (536 if
    /// absent) at `now`, and the MSS the cookie records (the largest table
    /// entry not above the peer's, at least the table's smallest).
    pub fn issue(
        &self,
        now: Instant,
        local: IpEndpoint,
        remote: IpEndpoint,
        irs: SeqNumber,
        peer_mss: u16,
    ) -> (SeqNumber, u16) {
        let table = Self::table(&local);
        let index = table.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let count = Self::count(now);
        let f1 = self.hash(TAG_F1, local, remote, None);
        let f2 = self.hash(TAG_F2, local, remote, Some((count, irs)));
        let cookie = f1
            .wrapping_add(irs.raw())
            .wrapping_add(count << COUNT_SHIFT)
            .wrapping_add(f2.wrapping_add(index as u32) & LOW_MASK);
        (SeqNumber(cookie), table[index])
    }

    /// The MSS recorded in `iss`, if it is a cookie we issued for this
    /// 4-tuple and IRS within the last [`COOKIE_LIFETIME_MINUTES`] minutes.
    pub fn check(
        &self,
        now: Instant,
        local: IpEndpoint,
        remote: IpEndpoint,
        irs: SeqNumber,
        iss: SeqNumber,
    ) -> Option<u16> {
        let count = Self::count(now);
        let f1 = self.hash(TAG_F1, local, remote, None);
        let value = iss.raw().wrapping_sub(f1).wrapping_sub(irs.raw());
        let age = count.wrapping_sub(value >> COUNT_SHIFT) & (u32::MAX >> COUNT_SHIFT);
        if age >= COOKIE_LIFETIME_MINUTES {
            return None;
        }
        let f2 = self.hash(TAG_F2, local, remote, Some((count.wrapping_sub(age), irs)));
        let index = (value.wrapping_sub(f2) & LOW_MASK) as usize;
        Self::table(&local).get(index).copied()
    }
}

impl TcpSocket<'_> {
    /// For a socket without buffers that has just taken a SYN in LISTEN
    /// with its ISS set to a cookie: makes its SYN-ACK carry what the cookie
    /// cannot (the options, in the TSval), or, without timestamps, offer
    /// neither window scaling nor SACK.
    pub(crate) fn encode_cookie_options(&mut self, now: Instant) {
        if !self.timestamps.enabled {
            self.rcv_wscale_offer = None;
            self.rcv_wscale = 0;
            self.snd_wscale = 0;
            self.peer_sack_permitted = false;
            self.ecn.enabled = false;
            return;
        }
        let options = CookieOptions {
            wscale: self.rcv_wscale_offer.map(|_| self.snd_wscale),
            sack: self.peer_sack_permitted,
            ecn: self.handshake_ecn(),
        };
        let tsval = tsval_with_options(self.ts_clock(now), &options);
        // The SYN-ACK's TSval is the clock plus the offset (RFC 7323 5.4).
        self.timestamps.offset = tsval.wrapping_sub(now.total_millis() as u32);
    }

    /// The connection an accepted cookie stands for, in SYN_RCVD as if its
    /// SYN-ACK had just gone out, with buffers `rx` and `tx` (the final ACK
    /// is then processed on it): the SYN is rebuilt from the ACK (IRS =
    /// SEG.SEQ - 1, ISS = SEG.ACK - 1) with the cookie's MSS and options.
    /// `None` if the listener does not take the rebuilt SYN.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_cookie<'b>(
        listener: &TcpSocket<'_>,
        cx: &mut Context,
        ip: &IpRepr,
        ack: &TcpRepr,
        mss: u16,
        window: usize,
        rx_buffer: SocketBuffer<'b>,
        tx_buffer: SocketBuffer<'b>,
    ) -> Option<TcpSocket<'b>> {
        let iss = ack.ack_number - 1;
        let irs = ack.seq_number - 1;
        let options = ack
            .timestamp
            .and_then(|ts| CookieOptions::from_tsecr(ts.tsecr))
            .unwrap_or_default();
        let syn = TcpRepr {
            src_port: ack.src_port,
            dst_port: ack.dst_port,
            seq_number: irs,
            // The ECN-setup SYN the cookie agreed to (RFC 3168 6.1.1).
            flags: if options.ecn {
                TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR
            } else {
                TcpFlags::SYN
            },
            window_len: ack.window_len,
            max_seg_size: Some(mss),
            window_scale: options.wscale,
            sack_permitted: options.sack,
            timestamp: ack.timestamp.map(|ts| TcpTimestamp {
                tsval: ts.tsval,
                tsecr: 0,
            }),
            ..TcpRepr::default()
        };
        let mut child = listener.fork_listener_child(rx_buffer, tx_buffer);
        child.set_next_isn(iss);
        let _ = child.process(cx, ip, &syn);
        if child.state != State::SynRcvd {
            return None;
        }
        child.offer_child_window(window);
        // As if the SYN-ACK had gone out: no RTT sample from a cookie's
        // handshake (our TSval was rounded down by up to 63 ms).
        child.snd_nxt = iss + 1;
        child.snd_max = iss + 1;
        child.syn_retransmitted = true;
        child.last_tx = Some(cx.now);
        child.timers.retransmit = cx.now.checked_add(child.rtt.rto());
        child.note_child_window_sent(u16::try_from(window.min(65535)).unwrap_or(u16::MAX));
        Some(child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IpAddress;

    fn cookies() -> SynCookies {
        SynCookies::new(IsnGenerator::new([9; 16]))
    }

    fn ends() -> (IpEndpoint, IpEndpoint) {
        (
            IpEndpoint::new(IpAddress::v4(192, 0, 2, 1), 80),
            IpEndpoint::new(IpAddress::v4(198, 51, 100, 7), 40000),
        )
    }

    #[test]
    fn cookie_round_trips_the_mss() {
        let c = cookies();
        let (l, r) = ends();
        let now = Instant::from_secs(1000);
        for (offered, recorded) in [(1460, 1460), (1400, 1300), (9000, 1460), (100, 536)] {
            let irs = SeqNumber(0xdead_beef);
            let (iss, mss) = c.issue(now, l, r, irs, offered);
            assert_eq!(mss, recorded, "peer MSS {offered}");
            assert_eq!(c.check(now, l, r, irs, iss), Some(recorded));
        }
    }

    #[test]
    fn a_later_segment_with_seq_and_ack_moved_alike_is_no_cookie() {
        // An echo's last ACK: both sides sent the same number of bytes
        // and a FIN, so SEQ - 1 and ACK - 1 moved by the same amount.
        let c = cookies();
        let (l, r) = ends();
        let now = Instant::from_secs(1000);
        let irs = SeqNumber(0x1234_5678);
        let (iss, _) = c.issue(now, l, r, irs, 1460);
        assert!(c.check(now, l, r, irs, iss).is_some());
        let accepted = [1, 1448, 100_001, 1 << 20, 0x8000_0000]
            .into_iter()
            .filter(|&moved| c.check(now, l, r, irs + moved, iss + moved).is_some())
            .count();
        assert_eq!(accepted, 0);
    }

    #[test]
    fn cookie_lifetime_and_binding() {
        let c = cookies();
        let (l, r) = ends();
        let irs = SeqNumber(17);
        let t0 = Instant::from_secs(600);
        let (iss, _) = c.issue(t0, l, r, irs, 1460);
        // Valid in the minute it was issued and the next.
        assert_eq!(
            c.check(t0 + crate::time::Duration::from_secs(119), l, r, irs, iss),
            Some(1460)
        );
        // Two minutes on it is too old.
        assert_eq!(
            c.check(t0 + crate::time::Duration::from_secs(120), l, r, irs, iss),
            None
        );
        // Bound to the 4-tuple, the IRS and the secret. (As in Linux's
        // scheme, an IRS off by less than the table's size only shifts the
        // MSS index; the final ACK's SEG.SEQ is the peer's own.)
        let other = IpEndpoint::new(r.addr, r.port + 1);
        assert_eq!(c.check(t0, l, other, irs, iss), None);
        assert_eq!(c.check(t0, l, r, irs + 1000, iss), None);
        let other_secret = SynCookies::new(IsnGenerator::new([8; 16]));
        assert_eq!(other_secret.check(t0, l, r, irs, iss), None);
        // A guessed ISS is accepted only by chance: count over many.
        let accepted = (0..10_000u32)
            .filter(|k| {
                c.check(
                    t0,
                    l,
                    r,
                    irs,
                    SeqNumber(iss.raw().wrapping_add(k * 7919 + 1)),
                )
                .is_some()
            })
            .count();
        assert!(accepted <= 2, "{accepted} of 10000 guesses accepted");
    }

    #[cfg(feature = "proto-ipv6")]
    #[test]
    fn ipv6_table() {
        let c = cookies();
        let l = IpEndpoint::new(IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 443);
        let r = IpEndpoint::new(IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 50000);
        let now = Instant::from_secs(5);
        let (iss, mss) = c.issue(now, l, r, SeqNumber(1), 1440);
        assert_eq!(mss, 1440);
        assert_eq!(c.check(now, l, r, SeqNumber(1), iss), Some(1440));
    }

    #[test]
    fn options_in_the_timestamp() {
        for options in [
            CookieOptions::default(),
            CookieOptions {
                wscale: Some(7),
                sack: true,
                ecn: false,
            },
            CookieOptions {
                wscale: Some(14),
                sack: false,
                ecn: true,
            },
            CookieOptions {
                wscale: Some(0),
                sack: true,
                ecn: true,
            },
        ] {
            for now_tsval in [0u32, 63, 64, 1_000_003, u32::MAX] {
                let tsval = tsval_with_options(now_tsval, &options);
                assert_eq!(CookieOptions::from_tsecr(tsval), Some(options));
                let behind = now_tsval.wrapping_sub(tsval);
                assert!(behind < 64, "{tsval} is {behind} behind {now_tsval}");
            }
        }
        assert_eq!(
            CookieOptions::from_tsecr(0x0f).map(|o| o.wscale),
            Some(None)
        );
        assert_eq!(
            CookieOptions::from_tsecr(0x0e).map(|o| o.wscale),
            Some(Some(14))
        );
    }
}
