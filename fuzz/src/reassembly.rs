//! The `reassembly` target's input language and property.
//!
//! Input: operations of 6 bytes each (a short tail is ignored):
//! `[selector, offset_hi, offset_lo, length, flags, advance]`:
//! - `selector & 3` picks one of four datagrams (identification, source);
//!   `selector >> 2 & 1` makes the fragment a TCP one (another datagram
//!   with the same identification);
//! - the 13-bit fragment offset in 8-byte units (`offset_hi & 0x1f`,
//!   `offset_lo`); `length` bytes of payload (times 8 when `flags & 4`);
//! - `flags & 1`: MF; `flags & 2`: the payload is corrupted (every byte
//!   XOR 0x55) rather than the datagram's true bytes;
//! - `advance`: the clock moves on by `advance * 100` ms before the
//!   fragment (so timeouts happen).
//!
//! Every datagram's true byte at offset `i` is a function of its
//! identification and `i`, so honest fragments always agree. Property: no
//! panic; the pool's bytes in use never exceed its size and datagrams in
//! flight never exceed its slots; a completed datagram has the length its
//! last fragment said, and each byte is the true one or, only if a
//! corrupted fragment of that datagram was sent, its corruption; the
//! counters agree with the outcomes seen.

use pollnet::iface::reassembly::{FragmentOutcome, Reassembler, ReassemblyConfig, ReassemblySlot};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{ChecksumCapabilities, IpEcn, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr};

/// The pool: small enough that the memory bound is hit often.
pub const MEMORY: usize = 6000;
/// The slots: fewer than the datagrams the input names.
pub const SLOTS: usize = 3;

fn truth(ident: u16, protocol: u8, at: usize) -> u8 {
    (at as u8)
        .wrapping_mul(31)
        .wrapping_add(ident as u8)
        .wrapping_add(protocol)
}

/// One fragment of datagram (`ident`, `protocol`): `len` bytes at `offset`.
pub fn fragment(
    ident: u16,
    protocol: u8,
    offset: usize,
    len: usize,
    more: bool,
    corrupt: bool,
) -> Vec<u8> {
    let mut bytes = vec![0u8; 20 + len];
    let repr = Ipv4Repr {
        src_addr: Ipv4Address::new(192, 0, 2, 10 + (ident as u8 & 3)),
        dst_addr: Ipv4Address::new(192, 0, 2, 1),
        next_header: IpProtocol::from(protocol),
        payload_len: len,
        hop_limit: 64,
        dont_frag: false,
        ecn: IpEcn::NotEct,
    };
    let mut packet = Ipv4Packet::new_unchecked(&mut bytes[..]);
    repr.emit(&mut packet, &ChecksumCapabilities::default());
    packet.set_ident(ident);
    packet.set_frag_offset(offset as u16);
    packet.set_more_frags(more);
    packet.fill_checksum();
    for (i, byte) in packet.payload_mut().iter_mut().enumerate() {
        let value = truth(ident, protocol, offset + i);
        *byte = if corrupt { value ^ 0x55 } else { value };
    }
    bytes
}

/// Encodes one operation of the input language (for seeds): one argument
/// per field, so seeds read as the language does.
#[allow(clippy::too_many_arguments)]
pub fn op(
    datagram: u8,
    tcp: bool,
    offset_units: u16,
    length: u8,
    more: bool,
    corrupt: bool,
    times8: bool,
    advance: u8,
) -> [u8; 6] {
    let flags = u8::from(more) | u8::from(corrupt) << 1 | u8::from(times8) << 2;
    [
        datagram & 3 | u8::from(tcp) << 2,
        (offset_units >> 8) as u8 & 0x1f,
        offset_units as u8,
        length,
        flags,
        advance,
    ]
}

/// What a run saw, for the seed tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub complete: u64,
    pub overlaps: u64,
    pub no_space: u64,
    pub timed_out: u64,
}

/// Runs the input and checks the property; panics if it fails.
pub fn check_reassembly(data: &[u8]) -> Seen {
    let mut slots = [ReassemblySlot::EMPTY; SLOTS];
    let mut pool = [0u8; MEMORY];
    let mut r = Reassembler::new(
        (&mut slots[..]).into(),
        (&mut pool[..]).into(),
        ReassemblyConfig::default(),
    );
    let mut now = Instant::ZERO;
    // Per (datagram, tcp): whether a corrupted fragment was ever sent.
    let mut corrupted = [[false; 2]; 4];
    let mut complete = 0u64;
    for chunk in data.chunks_exact(6) {
        let datagram = usize::from(chunk[0] & 3);
        let tcp = usize::from(chunk[0] >> 2 & 1);
        let ident = 0x100 + datagram as u16;
        let protocol = if tcp == 1 { 6 } else { 17 };
        let offset = (usize::from(chunk[1] & 0x1f) << 8 | usize::from(chunk[2])) * 8;
        let flags = chunk[4];
        let len = usize::from(chunk[3]) * if flags & 4 != 0 { 8 } else { 1 };
        let (more, corrupt) = (flags & 1 != 0, flags & 2 != 0);
        // Offsets are at most 8191 units, but the packet's total length is
        // 16 bits: keep what fits.
        let len = len.min(65535 - 20);
        now += Duration::from_millis(u64::from(chunk[5]) * 100);
        if offset == 0 && !more {
            // Not a fragment: the interface never hands one over.
            continue;
        }
        corrupted[datagram][tcp] |= corrupt;
        let bytes = fragment(ident, protocol, offset, len, more, corrupt);
        let packet = Ipv4Packet::new_checked(&bytes[..]).expect("a well-formed fragment");
        let outcome = r.add(now, &packet);
        assert!(r.memory_used() <= r.memory(), "pool overrun");
        assert!(r.in_flight() <= r.capacity());
        if let FragmentOutcome::Complete(index) = outcome {
            complete += 1;
            let (repr, payload) = r.datagram(index).expect("a complete datagram reads back");
            assert_eq!(repr.payload_len, payload.len());
            assert_eq!(u8::from(repr.next_header), protocol);
            if !more {
                assert_eq!(
                    payload.len(),
                    offset + len,
                    "the last fragment sets the length"
                );
            }
            for (i, &byte) in payload.iter().enumerate() {
                let value = truth(ident, protocol, i);
                let ok = byte == value || (corrupted[datagram][tcp] && byte == value ^ 0x55);
                assert!(
                    ok,
                    "byte {i} of datagram {ident:#x}/{protocol} is {byte:#x}"
                );
            }
            r.release(index);
            // A datagram that completed starts honest again.
            corrupted[datagram][tcp] = false;
        }
    }
    let stats = r.stats();
    assert_eq!(stats.reassembled, complete);
    Seen {
        complete,
        overlaps: stats.overlaps,
        no_space: stats.no_space,
        timed_out: stats.timed_out,
    }
}
