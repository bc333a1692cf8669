//! TCP options (RFC 9293 section 3.2, RFC 7323, RFC 2018): parsing one at a
//! time, iterating over an options area, and emitting.

use core::fmt;

use super::{SeqNumber, TcpRepr, TcpSackRange, TcpTimestamp};
use crate::wire::{Error, Result};

/// Option kinds (IANA "TCP Option Kind Numbers").
pub(super) mod kind {
    pub const END_OF_LIST: u8 = 0;
    pub const NO_OPERATION: u8 = 1;
    pub const MAX_SEG_SIZE: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK_RANGE: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// Lengths (kind and length bytes included) of the fixed-size options.
pub(super) mod len {
    pub const MAX_SEG_SIZE: usize = 4;
    pub const WINDOW_SCALE: usize = 3;
    pub const SACK_PERMITTED: usize = 2;
    pub const TIMESTAMP: usize = 10;
    /// The SACK option without blocks; each block adds 8.
    pub const SACK_BASE: usize = 2;
    pub const SACK_BLOCK: usize = 8;
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TcpOption<'a> {
    /// End of option list (kind 0); what follows is padding.
    EndOfList,
    /// No-operation (kind 1), used for alignment.
    NoOperation,
    /// Maximum segment size (kind 2, RFC 9293 section 3.7.1).
    MaxSegmentSize(u16),
    /// Window scale shift count (kind 3, RFC 7323 section 2), as received:
    /// a shift above 14 is kept here and clamped by the socket (RFC 7323
    /// section 2.3).
    WindowScale(u8),
    /// SACK permitted (kind 4, RFC 2018 section 2).
    SackPermitted,
    /// SACK blocks (kind 5, RFC 2018 section 3): one to four, used ones
    /// first.
    SackRange([Option<TcpSackRange>; 4]),
    /// Timestamps (kind 8, RFC 7323 section 3).
    Timestamp(TcpTimestamp),
    /// Any other option, skipped by its length.
    Unknown {
        /// The option kind.
        kind: u8,
        /// The option data, after the kind and length bytes.
        data: &'a [u8],
    },
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> TcpOption<'a> {
    /// Parses the option at the start of `buffer` (which must not be
    /// empty) and returns the bytes after it with the option.
    ///
    /// Fails with `OptionOverrun` if the length byte or the option runs past
    /// `buffer`, and `BadOptionLength` if the length is 0 or 1 or is wrong
    /// for the kind (RFC 9293 section 3.1 says each option's length covers
    /// its kind and length bytes).
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&option_kind, after_kind) = buffer.split_first().ok_or(Error::OptionOverrun)?;
        match option_kind {
            kind::END_OF_LIST => return Ok((after_kind, TcpOption::EndOfList)),
            kind::NO_OPERATION => return Ok((after_kind, TcpOption::NoOperation)),
            _ => {}
        }
        let &length = after_kind.first().ok_or(Error::OptionOverrun)?;
        let length = usize::from(length);
        if length < 2 {
            return Err(Error::BadOptionLength);
        }
        if length > buffer.len() {
            return Err(Error::OptionOverrun);
        }
        let (whole, rest) = buffer.split_at(length);
        let data = &whole[2..];
        let option = match option_kind {
            kind::MAX_SEG_SIZE if length == len::MAX_SEG_SIZE => {
                TcpOption::MaxSegmentSize(be16(data))
            }
            kind::WINDOW_SCALE if length == len::WINDOW_SCALE => TcpOption::WindowScale(data[0]),
            kind::SACK_PERMITTED if length == len::SACK_PERMITTED => TcpOption::SackPermitted,
            kind::TIMESTAMP if length == len::TIMESTAMP => TcpOption::Timestamp(TcpTimestamp {
                tsval: be32(&data[0..4]),
                tsecr: be32(&data[4..8]),
            }),
            kind::SACK_RANGE
                if data.len() % len::SACK_BLOCK == 0
                    && (1..=4).contains(&(data.len() / len::SACK_BLOCK)) =>
            {
                let mut ranges = [None; 4];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(len::SACK_BLOCK)) {
                    *slot = Some(TcpSackRange {
                        left: SeqNumber(be32(&block[0..4])),
                        right: SeqNumber(be32(&block[4..8])),
                    });
                }
                TcpOption::SackRange(ranges)
            }
            kind::MAX_SEG_SIZE
            | kind::WINDOW_SCALE
            | kind::SACK_PERMITTED
            | kind::TIMESTAMP
            | kind::SACK_RANGE => return Err(Error::BadOptionLength),
            other => TcpOption::Unknown { kind: other, data },
        };
        Ok((rest, option))
    }

    /// The number of bytes [`emit`](Self::emit) writes.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => len::MAX_SEG_SIZE,
            TcpOption::WindowScale(_) => len::WINDOW_SCALE,
            TcpOption::SackPermitted => len::SACK_PERMITTED,
            TcpOption::SackRange(ranges) => {
                len::SACK_BASE + len::SACK_BLOCK * ranges.iter().flatten().count()
            }
            TcpOption::Timestamp(_) => len::TIMESTAMP,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buffer` and returns the bytes
    /// after it. `buffer` must hold [`buffer_len`](Self::buffer_len) bytes
    /// (a caller bug otherwise, which panics); an `Unknown` option's data
    /// must be at most 253 bytes so its length fits the length byte.
    #[inline]
    pub fn emit<'b>(&self, buffer: &'b mut [u8]) -> &'b mut [u8] {
        let length = self.buffer_len();
        let (out, rest) = buffer.split_at_mut(length);
        match *self {
            TcpOption::EndOfList => out[0] = kind::END_OF_LIST,
            TcpOption::NoOperation => out[0] = kind::NO_OPERATION,
            TcpOption::MaxSegmentSize(mss) => {
                out[0] = kind::MAX_SEG_SIZE;
                out[1] = len::MAX_SEG_SIZE as u8;
                out[2..4].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => {
                out[0] = kind::WINDOW_SCALE;
                out[1] = len::WINDOW_SCALE as u8;
                out[2] = shift;
            }
            TcpOption::SackPermitted => {
                out[0] = kind::SACK_PERMITTED;
                out[1] = len::SACK_PERMITTED as u8;
            }
            TcpOption::SackRange(ranges) => {
                out[0] = kind::SACK_RANGE;
                out[1] = length as u8;
                for (block, range) in out[2..]
                    .chunks_exact_mut(len::SACK_BLOCK)
                    .zip(ranges.iter().flatten())
                {
                    block[0..4].copy_from_slice(&range.left.0.to_be_bytes());
                    block[4..8].copy_from_slice(&range.right.0.to_be_bytes());
                }
            }
            TcpOption::Timestamp(ts) => {
                out[0] = kind::TIMESTAMP;
                out[1] = len::TIMESTAMP as u8;
                out[2..6].copy_from_slice(&ts.tsval.to_be_bytes());
                out[6..10].copy_from_slice(&ts.tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                out[0] = kind;
                out[1] = length as u8;
                out[2..].copy_from_slice(data);
            }
        }
        rest
    }
}

impl fmt::Display for TcpOption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            TcpOption::EndOfList => f.write_str("eol"),
            TcpOption::NoOperation => f.write_str("nop"),
            TcpOption::MaxSegmentSize(mss) => write!(f, "mss {mss}"),
            TcpOption::WindowScale(shift) => write!(f, "wscale {shift}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::SackRange(ranges) => {
                f.write_str("sack")?;
                for range in ranges.iter().flatten() {
                    write!(f, " {}:{}", range.left, range.right)?;
                }
                Ok(())
            }
            TcpOption::Timestamp(ts) => write!(f, "TS val {} ecr {}", ts.tsval, ts.tsecr),
            TcpOption::Unknown { kind, data } => write!(f, "opt-{kind} len {}", data.len() + 2),
        }
    }
}

/// Parses an options area straight into `repr`: the same rules and errors
/// as [`TcpOption::parse`] over [`TcpOptionIter`], without building each
/// option as an enum (the parse hot path; a test checks both agree).
pub(super) fn parse_into(options: &[u8], repr: &mut TcpRepr) -> Result<()> {
    let mut rest = options;
    while let [option_kind, after_kind @ ..] = rest {
        match *option_kind {
            kind::END_OF_LIST => break,
            kind::NO_OPERATION => {
                rest = after_kind;
                continue;
            }
            _ => {}
        }
        let &[length, ..] = after_kind else {
            return Err(Error::OptionOverrun);
        };
        let length = usize::from(length);
        if length < 2 {
            return Err(Error::BadOptionLength);
        }
        if length > rest.len() {
            return Err(Error::OptionOverrun);
        }
        let (whole, next) = rest.split_at(length);
        let data = &whole[2..];
        match (*option_kind, length) {
            (kind::MAX_SEG_SIZE, len::MAX_SEG_SIZE) => repr.max_seg_size = Some(be16(data)),
            (kind::WINDOW_SCALE, len::WINDOW_SCALE) => repr.window_scale = Some(data[0]),
            (kind::SACK_PERMITTED, len::SACK_PERMITTED) => repr.sack_permitted = true,
            (kind::TIMESTAMP, len::TIMESTAMP) => {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: be32(&data[0..4]),
                    tsecr: be32(&data[4..8]),
                })
            }
            (kind::SACK_RANGE, 10 | 18 | 26 | 34) => {
                repr.sack_ranges = [None; 4];
                for (slot, block) in repr
                    .sack_ranges
                    .iter_mut()
                    .zip(data.chunks_exact(len::SACK_BLOCK))
                {
                    *slot = Some(TcpSackRange {
                        left: SeqNumber(be32(&block[0..4])),
                        right: SeqNumber(be32(&block[4..8])),
                    });
                }
            }
            (
                kind::MAX_SEG_SIZE
                | kind::WINDOW_SCALE
                | kind::SACK_PERMITTED
                | kind::TIMESTAMP
                | kind::SACK_RANGE,
                _,
            ) => return Err(Error::BadOptionLength),
            // Unknown options are skipped by their length.
            _ => {}
        }
        rest = next;
    }
    Ok(())
}

/// An iterator over the options of a TCP header.
///
/// Yields each option, `EndOfList` included (after which it stops: the rest
/// is padding), or one error after which it stops.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    /// An iterator over the options area `options` (the header bytes after
    /// the fixed 20).
    pub const fn new(options: &'a [u8]) -> TcpOptionIter<'a> {
        TcpOptionIter { rest: options }
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((_, TcpOption::EndOfList)) => {
                self.rest = &[];
                Some(Ok(TcpOption::EndOfList))
            }
            Ok((rest, option)) => {
                self.rest = rest;
                Some(Ok(option))
            }
            Err(err) => {
                self.rest = &[];
                Some(Err(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn all(bytes: &[u8]) -> Vec<Result<TcpOption<'_>>> {
        TcpOptionIter::new(bytes).collect()
    }

    #[test]
    fn linux_syn_options() {
        // The options of a real Linux SYN (mss 1460, sackOK, TS, nop, wscale 10).
        let bytes = [
            0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x3d, 0x66, 0xc9, 0x3f, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
        ];
        assert_eq!(
            all(&bytes),
            [
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamp(TcpTimestamp {
                    tsval: 0x3d66_c93f,
                    tsecr: 0
                })),
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::WindowScale(10)),
            ]
        );
    }

    #[test]
    fn end_of_list_stops_iteration() {
        let bytes = [0x01, 0x00, 0x02, 0x04, 0x05, 0xb4];
        assert_eq!(
            all(&bytes),
            [Ok(TcpOption::NoOperation), Ok(TcpOption::EndOfList)]
        );
    }

    #[test]
    fn unknown_options_are_skipped_by_length() {
        // Kind 30 (MPTCP) with 4 data bytes, then kind 254 with none.
        let bytes = [30, 6, 1, 2, 3, 4, 254, 2, 3, 3, 7];
        assert_eq!(
            all(&bytes),
            [
                Ok(TcpOption::Unknown {
                    kind: 30,
                    data: &[1, 2, 3, 4]
                }),
                Ok(TcpOption::Unknown {
                    kind: 254,
                    data: &[]
                }),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn bad_lengths_are_rejected() {
        // Length 0 and 1 are never valid for a kind with a length byte.
        assert_eq!(TcpOption::parse(&[30, 0]), Err(Error::BadOptionLength));
        assert_eq!(TcpOption::parse(&[30, 1, 0]), Err(Error::BadOptionLength));
        assert_eq!(TcpOption::parse(&[2, 1, 0, 0]), Err(Error::BadOptionLength));
        // Wrong length for the kind.
        assert_eq!(TcpOption::parse(&[2, 3, 5]), Err(Error::BadOptionLength));
        assert_eq!(TcpOption::parse(&[3, 4, 7, 0]), Err(Error::BadOptionLength));
        assert_eq!(TcpOption::parse(&[4, 3, 0]), Err(Error::BadOptionLength));
        assert_eq!(
            TcpOption::parse(&[8, 8, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOptionLength)
        );
        assert_eq!(TcpOption::parse(&[5, 2]), Err(Error::BadOptionLength));
        assert_eq!(
            TcpOption::parse(&[5, 6, 0, 0, 0, 0]),
            Err(Error::BadOptionLength)
        );
        // Five SACK blocks cannot fit a header; the length says 42.
        let mut five = [0u8; 42];
        five[0] = 5;
        five[1] = 42;
        assert_eq!(TcpOption::parse(&five), Err(Error::BadOptionLength));
        // Overruns: no length byte, or a length past the buffer.
        assert_eq!(TcpOption::parse(&[2]), Err(Error::OptionOverrun));
        assert_eq!(TcpOption::parse(&[2, 4, 5]), Err(Error::OptionOverrun));
        assert_eq!(TcpOption::parse(&[30, 9, 1, 2]), Err(Error::OptionOverrun));
        assert_eq!(TcpOption::parse(&[]), Err(Error::OptionOverrun));
        // The iterator yields the error once and stops.
        assert_eq!(
            all(&[1, 2, 9, 0]),
            [Ok(TcpOption::NoOperation), Err(Error::OptionOverrun)]
        );
    }

    /// `parse_into` (the repr's fast path) and the iterator agree on every
    /// options area: the same error, or the same options.
    #[test]
    fn fast_parse_agrees_with_the_iterator() {
        let mut state = 0x0123_4567_89ab_cdefu64;
        let mut next = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        // Bytes biased toward real kinds and plausible lengths.
        let alphabet = [0u8, 1, 2, 3, 4, 5, 8, 10, 18, 26, 34, 30, 0xfe, 0xff];
        let mut agreed_ok = 0;
        for _ in 0..200_000 {
            let len = (next() % 41) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        r as u8 >> 1
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let mut fast = TcpRepr::default();
            let fast_result = parse_into(&bytes, &mut fast);
            let mut slow = TcpRepr::default();
            let mut slow_result = Ok(());
            for option in TcpOptionIter::new(&bytes) {
                match option {
                    Ok(TcpOption::MaxSegmentSize(mss)) => slow.max_seg_size = Some(mss),
                    Ok(TcpOption::WindowScale(shift)) => slow.window_scale = Some(shift),
                    Ok(TcpOption::SackPermitted) => slow.sack_permitted = true,
                    Ok(TcpOption::SackRange(ranges)) => slow.sack_ranges = ranges,
                    Ok(TcpOption::Timestamp(ts)) => slow.timestamp = Some(ts),
                    Ok(_) => {}
                    Err(err) => slow_result = Err(err),
                }
            }
            assert_eq!(fast_result, slow_result, "{bytes:02x?}");
            if fast_result.is_ok() {
                assert_eq!(fast, slow, "{bytes:02x?}");
                agreed_ok += 1;
            }
        }
        assert!(agreed_ok > 20_000, "{agreed_ok}");
    }

    #[test]
    fn emit_round_trips_every_kind() {
        let ranges = [
            Some(TcpSackRange {
                left: SeqNumber(0xffff_fff0),
                right: SeqNumber(0x10),
            }),
            Some(TcpSackRange {
                left: SeqNumber(100),
                right: SeqNumber(200),
            }),
            None,
            None,
        ];
        let options = [
            TcpOption::EndOfList,
            TcpOption::NoOperation,
            TcpOption::MaxSegmentSize(536),
            TcpOption::WindowScale(15),
            TcpOption::SackPermitted,
            TcpOption::SackRange(ranges),
            TcpOption::Timestamp(TcpTimestamp {
                tsval: 1,
                tsecr: u32::MAX,
            }),
            TcpOption::Unknown {
                kind: 99,
                data: &[9, 8, 7],
            },
        ];
        for option in options {
            let mut buffer = [0xaau8; 40];
            let rest_len = option.emit(&mut buffer).len();
            assert_eq!(rest_len, 40 - option.buffer_len());
            let (rest, parsed) = TcpOption::parse(&buffer[..option.buffer_len()]).unwrap();
            assert!(rest.is_empty());
            assert_eq!(parsed, option);
        }
        let mut buffer = [0u8; 18];
        TcpOption::SackRange(ranges).emit(&mut buffer);
        assert_eq!(
            buffer,
            [
                5, 18, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10, 0, 0, 0, 100, 0, 0, 0, 200
            ]
        );
    }
}
