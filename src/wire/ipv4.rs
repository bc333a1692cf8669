//! IPv4 addresses, prefixes and packets (RFC 791).

use core::fmt;

/// A four-octet IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv4Address(pub [u8; 4]);

impl Ipv4Address {
    /// 0.0.0.0.
    pub const UNSPECIFIED: Ipv4Address = Ipv4Address([0; 4]);
    /// 255.255.255.255.
    pub const BROADCAST: Ipv4Address = Ipv4Address([255; 4]);

    /// The address a.b.c.d.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Ipv4Address {
        Ipv4Address([a, b, c, d])
    }

    /// The address from four bytes in network order.
    pub fn from_bytes(bytes: &[u8; 4]) -> Ipv4Address {
        Ipv4Address(*bytes)
    }

    /// The four bytes in network order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The address as a host-order integer.
    pub const fn to_bits(&self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// The address from a host-order integer.
    pub const fn from_bits(bits: u32) -> Ipv4Address {
        Ipv4Address(bits.to_be_bytes())
    }

    /// Whether this is 0.0.0.0.
    pub fn is_unspecified(&self) -> bool {
        self.0 == [0; 4]
    }

    /// Whether this is 255.255.255.255.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [255; 4]
    }

    /// Whether this is in 224.0.0.0/4.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0xf0 == 224
    }

    /// Whether this is in 127.0.0.0/8.
    pub fn is_loopback(&self) -> bool {
        self.0[0] == 127
    }

    /// Whether the address can name one host: not unspecified, broadcast,
    /// multicast or in the reserved class E range.
    pub fn is_unicast(&self) -> bool {
        !(self.is_unspecified() || self.is_broadcast() || self.is_multicast() || self.0[0] >= 240)
    }
}

impl fmt::Display for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let b = self.0;
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

/// An IPv4 address with a prefix length, e.g. 192.0.2.1/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    address: Ipv4Address,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// The address with a prefix; `None` if `prefix_len` exceeds 32.
    pub const fn new(address: Ipv4Address, prefix_len: u8) -> Option<Ipv4Cidr> {
        if prefix_len > 32 {
            None
        } else {
            Some(Ipv4Cidr {
                address,
                prefix_len,
            })
        }
    }

    /// The address.
    pub const fn address(&self) -> Ipv4Address {
        self.address
    }

    /// The prefix length (0..=32).
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a host-order integer.
    pub const fn mask_bits(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len as u32)
        }
    }

    /// Whether `addr` is in this prefix.
    pub const fn contains(&self, addr: Ipv4Address) -> bool {
        let mask = self.mask_bits();
        addr.to_bits() & mask == self.address.to_bits() & mask
    }

    /// The subnet's directed broadcast address (none for /31 and /32).
    pub const fn broadcast(&self) -> Option<Ipv4Address> {
        if self.prefix_len >= 31 {
            None
        } else {
            Some(Ipv4Address::from_bits(
                self.address.to_bits() | !self.mask_bits(),
            ))
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}
