//! IPv6 addresses and prefixes (RFC 4291), with the text forms of RFC 4291
//! section 2.2 (parsing) and RFC 5952 (the canonical output).

use core::fmt;

use super::ipv4::{AddressParseError, Ipv4Address};

/// A sixteen-octet IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv6Address(pub [u8; 16]);

impl Ipv6Address {
    /// `::`, the unspecified address (RFC 4291 section 2.5.2).
    pub const UNSPECIFIED: Ipv6Address = Ipv6Address([0; 16]);
    /// `::1`, the loopback address (RFC 4291 section 2.5.3).
    pub const LOOPBACK: Ipv6Address = Ipv6Address([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// `ff02::1`, all nodes on the link (RFC 4291 section 2.7.1).
    pub const LINK_LOCAL_ALL_NODES: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// `ff02::2`, all routers on the link (RFC 4291 section 2.7.1).
    pub const LINK_LOCAL_ALL_ROUTERS: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    /// `ff02::16`, all MLDv2-capable routers (RFC 3810 section 11).
    pub const LINK_LOCAL_ALL_MLDV2_ROUTERS: Ipv6Address =
        Ipv6Address([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);

    /// The address from its eight 16-bit groups, most significant first.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> Self {
        Self::from_segments([a, b, c, d, e, f, g, h])
    }

    /// The address from its eight 16-bit groups.
    pub const fn from_segments(groups: [u16; 8]) -> Ipv6Address {
        let mut bytes = [0u8; 16];
        let mut i = 0;
        while i < 8 {
            let [hi, lo] = groups[i].to_be_bytes();
            bytes[2 * i] = hi;
            bytes[2 * i + 1] = lo;
            i += 1;
        }
        Ipv6Address(bytes)
    }

    /// The eight 16-bit groups.
    pub const fn segments(&self) -> [u16; 8] {
        let mut groups = [0u16; 8];
        let mut i = 0;
        while i < 8 {
            groups[i] = u16::from_be_bytes([self.0[2 * i], self.0[2 * i + 1]]);
            i += 1;
        }
        groups
    }

    /// The address from sixteen bytes in network order.
    pub fn from_bytes(bytes: &[u8; 16]) -> Ipv6Address {
        Ipv6Address(*bytes)
    }

    /// The sixteen bytes in network order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The address as a host-order integer.
    pub const fn to_bits(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// The address from a host-order integer.
    pub const fn from_bits(bits: u128) -> Ipv6Address {
        Ipv6Address(bits.to_be_bytes())
    }

    /// Whether this is `::`.
    pub const fn is_unspecified(&self) -> bool {
        self.to_bits() == 0
    }

    /// Whether this is `::1`.
    pub const fn is_loopback(&self) -> bool {
        self.to_bits() == 1
    }

    /// Whether this is in `ff00::/8` (RFC 4291 section 2.7).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] == 0xff
    }

    /// Whether this is a link-local unicast address, `fe80::/10`
    /// (RFC 4291 section 2.5.6).
    pub const fn is_link_local(&self) -> bool {
        self.0[0] == 0xfe && self.0[1] & 0xc0 == 0x80
    }

    /// Whether the address can name one interface: neither unspecified nor
    /// multicast (IPv6 has no broadcast, RFC 4291 section 2).
    pub const fn is_unicast(&self) -> bool {
        !(self.is_unspecified() || self.is_multicast())
    }

    /// The IPv4 address of an IPv4-mapped address `::ffff:a.b.c.d`
    /// (RFC 4291 section 2.5.5.2).
    pub fn to_ipv4_mapped(&self) -> Option<Ipv4Address> {
        let (head, tail) = self.0.split_at(12);
        if head != [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            return None;
        }
        Some(Ipv4Address([tail[0], tail[1], tail[2], tail[3]]))
    }

    /// The solicited-node multicast address `ff02::1:ffXX:XXXX` of this
    /// address (RFC 4291 section 2.7.1): the prefix and its low 24 bits.
    pub const fn solicited_node(&self) -> Ipv6Address {
        Ipv6Address([
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, self.0[13], self.0[14], self.0[15],
        ])
    }
}

impl fmt::Display for Ipv6Address {
    /// RFC 5952 section 4: lower-case hex without leading zeros, the longest
    /// run of two or more zero groups (the first of equal runs) as `::`, and
    /// IPv4-mapped addresses with their dotted tail (section 5).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(v4) = self.to_ipv4_mapped() {
            return write!(f, "::ffff:{v4}");
        }
        let groups = self.segments();
        // The longest run of zero groups, at least two long.
        let (mut best_start, mut best_len) = (0, 0);
        let mut i = 0;
        while i < 8 {
            if groups[i] == 0 {
                let start = i;
                while i < 8 && groups[i] == 0 {
                    i += 1;
                }
                if i - start > best_len {
                    (best_start, best_len) = (start, i - start);
                }
            } else {
                i += 1;
            }
        }
        if best_len < 2 {
            best_len = 0;
        }
        let mut i = 0;
        while i < 8 {
            if best_len > 0 && i == best_start {
                f.write_str("::")?;
                i += best_len;
                continue;
            }
            if i > 0 && !(best_len > 0 && i == best_start + best_len) {
                f.write_str(":")?;
            }
            write!(f, "{:x}", groups[i])?;
            i += 1;
        }
        Ok(())
    }
}

impl core::str::FromStr for Ipv6Address {
    type Err = AddressParseError;

    /// Parses the text forms of RFC 4291 section 2.2: eight groups of up to
    /// four hex digits, one `::` for a run of zero groups, and a dotted
    /// IPv4 tail in place of the last two groups.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut head = [0u16; 8];
        let mut tail = [0u16; 8];
        let (head_text, tail_text) = match text.find("::") {
            Some(at) => (&text[..at], Some(&text[at + 2..])),
            None => (text, None),
        };
        let head_len = parse_groups(head_text, &mut head, tail_text.is_none())?;
        let tail_len = match tail_text {
            Some(t) => {
                if t.contains("::") {
                    return Err(AddressParseError);
                }
                parse_groups(t, &mut tail, true)?
            }
            None => 0,
        };
        let total = head_len + tail_len;
        match tail_text {
            None if total != 8 => return Err(AddressParseError),
            // `::` stands for at least one zero group.
            Some(_) if total > 7 => return Err(AddressParseError),
            _ => {}
        }
        let mut groups = [0u16; 8];
        groups[..head_len].copy_from_slice(&head[..head_len]);
        groups[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
        Ok(Ipv6Address::from_segments(groups))
    }
}

/// Parses colon-separated groups into `out`; the last part may be a dotted
/// IPv4 address (two groups) when `last` says this part ends the address.
/// Returns how many groups were written. An empty text is zero groups.
fn parse_groups(text: &str, out: &mut [u16; 8], last: bool) -> Result<usize, AddressParseError> {
    if text.is_empty() {
        return Ok(0);
    }
    let mut count = 0;
    let mut parts = text.split(':').peekable();
    while let Some(part) = parts.next() {
        let is_last = parts.peek().is_none();
        if is_last && last && part.contains('.') {
            let v4: Ipv4Address = part.parse()?;
            if count + 2 > 8 {
                return Err(AddressParseError);
            }
            out[count] = u16::from_be_bytes([v4.0[0], v4.0[1]]);
            out[count + 1] = u16::from_be_bytes([v4.0[2], v4.0[3]]);
            return Ok(count + 2);
        }
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressParseError);
        }
        if count == 8 {
            return Err(AddressParseError);
        }
        out[count] = u16::from_str_radix(part, 16).map_err(|_| AddressParseError)?;
        count += 1;
    }
    Ok(count)
}

/// An IPv6 address with a prefix length, e.g. `2001:db8::1/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv6Cidr {
    address: Ipv6Address,
    prefix_len: u8,
}

impl Ipv6Cidr {
    /// The address with a prefix; `None` if `prefix_len` exceeds 128.
    pub const fn new(address: Ipv6Address, prefix_len: u8) -> Option<Ipv6Cidr> {
        if prefix_len > 128 {
            None
        } else {
            Some(Ipv6Cidr {
                address,
                prefix_len,
            })
        }
    }

    /// The address.
    pub const fn address(&self) -> Ipv6Address {
        self.address
    }

    /// The prefix length (0..=128).
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a host-order integer.
    pub const fn mask_bits(&self) -> u128 {
        if self.prefix_len == 0 {
            0
        } else {
            u128::MAX << (128 - self.prefix_len as u32)
        }
    }

    /// Whether `addr` is in this prefix.
    pub const fn contains(&self, addr: Ipv6Address) -> bool {
        let mask = self.mask_bits();
        addr.to_bits() & mask == self.address.to_bits() & mask
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl core::str::FromStr for Ipv6Cidr {
    type Err = AddressParseError;

    /// `ADDRESS/PREFIX`, the prefix in decimal, at most 128.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, len) = text.split_once('/').ok_or(AddressParseError)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddressParseError);
        }
        let len: u8 = len.parse().map_err(|_| AddressParseError)?;
        Ipv6Cidr::new(addr.parse()?, len).ok_or(AddressParseError)
    }
}

impl From<core::net::Ipv6Addr> for Ipv6Address {
    fn from(addr: core::net::Ipv6Addr) -> Self {
        Ipv6Address(addr.octets())
    }
}

impl From<Ipv6Address> for core::net::Ipv6Addr {
    fn from(addr: Ipv6Address) -> Self {
        core::net::Ipv6Addr::from(addr.0)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn show(addr: Ipv6Address) -> std::string::String {
        addr.to_string()
    }

    #[test]
    fn rfc5952_canonical_text() {
        let cases: [(&str, Ipv6Address); 9] = [
            ("::", Ipv6Address::UNSPECIFIED),
            ("::1", Ipv6Address::LOOPBACK),
            ("ff02::1", Ipv6Address::LINK_LOCAL_ALL_NODES),
            (
                "2001:db8::1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            ),
            // Section 4.2.2: a single zero group is not shortened.
            (
                "2001:db8:0:1:1:1:1:1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1),
            ),
            // Section 4.2.3: the longest run; the first of equal runs.
            (
                "2001:0:0:1::1",
                Ipv6Address::new(0x2001, 0, 0, 1, 0, 0, 0, 1),
            ),
            (
                "2001:db8::1:0:0:1",
                Ipv6Address::new(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1),
            ),
            ("fe80::", Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
            (
                "::ffff:192.0.2.1",
                Ipv6Address::new(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201),
            ),
        ];
        for (expected, addr) in cases {
            assert_eq!(show(addr), expected);
            assert_eq!(expected.parse::<Ipv6Address>(), Ok(addr), "{expected}");
        }
    }

    #[test]
    fn parses_rfc4291_forms_and_rejects_bad_ones() {
        let full: Ipv6Address = "2001:0DB8:0000:0000:0008:0800:200C:417A".parse().unwrap();
        assert_eq!(
            full,
            Ipv6Address::new(0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a)
        );
        assert_eq!("2001:DB8::8:800:200C:417A".parse(), Ok(full));
        assert_eq!(
            "::13.1.68.3".parse(),
            Ok(Ipv6Address::new(0, 0, 0, 0, 0, 0, 0x0d01, 0x4403))
        );
        assert_eq!("1::".parse(), Ok(Ipv6Address::new(1, 0, 0, 0, 0, 0, 0, 0)));
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3",
            "1.2.3.4::",
            ":1::",
            "1:",
            "::1:",
            "1:2:3:4:5:6:7::8",
        ] {
            assert_eq!(
                bad.parse::<Ipv6Address>(),
                Err(AddressParseError),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn classification_and_solicited_node() {
        let ll: Ipv6Address = "fe80::1:2ff:fe00:1".parse().unwrap();
        assert!(ll.is_link_local() && ll.is_unicast() && !ll.is_multicast());
        assert!(Ipv6Address::LINK_LOCAL_ALL_NODES.is_multicast());
        assert!(!Ipv6Address::UNSPECIFIED.is_unicast());
        assert!(Ipv6Address::LOOPBACK.is_loopback());
        // RFC 4291 2.7.1: ff02:0:0:0:0:1:ff00::/104 plus the low 24 bits.
        assert_eq!(show(ll.solicited_node()), "ff02::1:ff00:1");
        let doc: Ipv6Address = "2001:db8::aa:bbcc:ddee".parse().unwrap();
        assert_eq!(show(doc.solicited_node()), "ff02::1:ffcc:ddee");
    }

    #[test]
    fn cidr_contains_and_parses() {
        let cidr: Ipv6Cidr = "2001:db8:1::/48".parse().unwrap();
        assert!(cidr.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!cidr.contains("2001:db8:2::1".parse().unwrap()));
        assert!(
            Ipv6Cidr::new(Ipv6Address::UNSPECIFIED, 0)
                .unwrap()
                .contains(Ipv6Address::LOOPBACK)
        );
        assert_eq!(Ipv6Cidr::new(Ipv6Address::LOOPBACK, 129), None);
        assert_eq!("::1/129".parse::<Ipv6Cidr>(), Err(AddressParseError));
        assert_eq!("::1".parse::<Ipv6Cidr>(), Err(AddressParseError));
    }

    #[test]
    fn core_net_round_trip() {
        let addr: Ipv6Address = "2001:db8::42".parse().unwrap();
        let core: core::net::Ipv6Addr = addr.into();
        assert_eq!(core.segments(), addr.segments());
        assert_eq!(Ipv6Address::from(core), addr);
    }
}
