//! DHCP for IPv4: the message format of RFC 2131 section 2 and the options
//! of RFC 2132 a client needs.
//!
//! [`DhcpRepr`] holds the fixed fields and the options a client sends or
//! uses, with bounded lists (no allocation): up to [`MAX_ROUTERS`] routers
//! and [`MAX_DNS_SERVERS`] DNS servers are kept, later ones dropped. Other
//! options are skipped. Option overload (RFC 2132 section 9.3) is parsed:
//! options continue in the `file` and then the `sname` field.

use core::fmt;

use super::ethernet::EthernetAddress;
use super::ipv4::Ipv4Address;
use super::{Error, Result};

/// The UDP port DHCP servers listen on (RFC 2131 section 4.1).
pub const SERVER_PORT: u16 = 67;
/// The UDP port DHCP clients listen on.
pub const CLIENT_PORT: u16 = 68;
/// The magic cookie that starts the options (RFC 2132 section 2).
pub const MAGIC_COOKIE: u32 = 0x6382_5363;
/// The most routers [`DhcpRepr`] keeps.
pub const MAX_ROUTERS: usize = 3;
/// The most DNS servers [`DhcpRepr`] keeps.
pub const MAX_DNS_SERVERS: usize = 4;
/// The fixed part of a message, magic cookie included.
pub const HEADER_LEN: usize = field::OPTIONS;
/// The shortest message [`DhcpRepr::emit`] writes: BOOTP's 300 bytes
/// (RFC 1542 section 2.1), which some relays and servers still expect.
pub const MIN_MESSAGE_LEN: usize = 300;
/// The smallest message a DHCP client must accept, 576-byte datagrams minus
/// IP and UDP headers (RFC 2131 section 2).
pub const MIN_ACCEPTED_LEN: usize = 548;

/// Byte offsets of the fixed fields (RFC 2131 section 2, figure 1).
mod field {
    use core::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Range<usize> = 4..8;
    pub const SECS: Range<usize> = 8..10;
    pub const FLAGS: Range<usize> = 10..12;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const SIADDR: Range<usize> = 20..24;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const MAGIC: Range<usize> = 236..240;
    pub const OPTIONS: usize = 240;
}

/// The broadcast bit of the flags field (RFC 2131 section 4.1).
const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes (RFC 2132).
mod option {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS_SERVER: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const INTERFACE_MTU: u8 = 26;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const CLIENT_ID: u8 = 61;
    pub const END: u8 = 255;
}

/// The BOOTP operation (RFC 2131 section 2: `op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DhcpOpCode {
    /// BOOTREQUEST (1): client to server.
    Request,
    /// BOOTREPLY (2): server to client.
    Reply,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for DhcpOpCode {
    fn from(value: u8) -> Self {
        match value {
            1 => DhcpOpCode::Request,
            2 => DhcpOpCode::Reply,
            other => DhcpOpCode::Unknown(other),
        }
    }
}

impl From<DhcpOpCode> for u8 {
    fn from(value: DhcpOpCode) -> u8 {
        match value {
            DhcpOpCode::Request => 1,
            DhcpOpCode::Reply => 2,
            DhcpOpCode::Unknown(other) => other,
        }
    }
}

/// The DHCP message type option (RFC 2132 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DhcpMessageType {
    /// DHCPDISCOVER (1).
    Discover,
    /// DHCPOFFER (2).
    Offer,
    /// DHCPREQUEST (3).
    Request,
    /// DHCPDECLINE (4).
    Decline,
    /// DHCPACK (5).
    Ack,
    /// DHCPNAK (6).
    Nak,
    /// DHCPRELEASE (7).
    Release,
    /// DHCPINFORM (8).
    Inform,
    /// Any other value.
    Unknown(u8),
}

impl DhcpMessageType {
    /// The BOOTP operation this type travels in: replies for OFFER, ACK
    /// and NAK, requests for the rest.
    pub fn opcode(&self) -> DhcpOpCode {
        match self {
            DhcpMessageType::Offer | DhcpMessageType::Ack | DhcpMessageType::Nak => {
                DhcpOpCode::Reply
            }
            _ => DhcpOpCode::Request,
        }
    }
}

impl From<u8> for DhcpMessageType {
    fn from(value: u8) -> Self {
        use DhcpMessageType::*;
        match value {
            1 => Discover,
            2 => Offer,
            3 => Request,
            4 => Decline,
            5 => Ack,
            6 => Nak,
            7 => Release,
            8 => Inform,
            other => Unknown(other),
        }
    }
}

impl From<DhcpMessageType> for u8 {
    fn from(value: DhcpMessageType) -> u8 {
        use DhcpMessageType::*;
        match value {
            Discover => 1,
            Offer => 2,
            Request => 3,
            Decline => 4,
            Ack => 5,
            Nak => 6,
            Release => 7,
            Inform => 8,
            Unknown(other) => other,
        }
    }
}

impl fmt::Display for DhcpMessageType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use DhcpMessageType::*;
        let text = match self {
            Discover => "DISCOVER",
            Offer => "OFFER",
            Request => "REQUEST",
            Decline => "DECLINE",
            Ack => "ACK",
            Nak => "NAK",
            Release => "RELEASE",
            Inform => "INFORM",
            Unknown(n) => return write!(f, "type {n}"),
        };
        f.write_str(text)
    }
}

/// A zero-copy view of a DHCP message.
///
/// After [`new_checked`](Self::new_checked) the buffer holds the 240-byte
/// fixed part (magic cookie included); the options follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    /// A view of `buffer` without checking its length; accessors may panic
    /// on a short buffer until [`check_len`](Self::check_len) has passed.
    pub const fn new_unchecked(buffer: T) -> DhcpPacket<T> {
        DhcpPacket { buffer }
    }

    /// A view of `buffer`, which must hold the fixed part.
    pub fn new_checked(buffer: T) -> Result<DhcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Error::Truncated)` if the buffer is shorter than 240 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn u32_at(&self, range: core::ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[range];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    fn addr_at(&self, range: core::ops::Range<usize>) -> Ipv4Address {
        Ipv4Address::from_bits(self.u32_at(range))
    }

    /// The BOOTP operation.
    pub fn opcode(&self) -> DhcpOpCode {
        DhcpOpCode::from(self.buffer.as_ref()[field::OP])
    }

    /// The hardware type (1: Ethernet).
    pub fn hardware_type(&self) -> u8 {
        self.buffer.as_ref()[field::HTYPE]
    }

    /// The hardware address length (6 for Ethernet).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// The relay hop count.
    pub fn hops(&self) -> u8 {
        self.buffer.as_ref()[field::HOPS]
    }

    /// The transaction id the client chose.
    pub fn transaction_id(&self) -> u32 {
        self.u32_at(field::XID)
    }

    /// Seconds since the client began acquiring or renewing.
    pub fn secs(&self) -> u16 {
        self.u16_at(field::SECS)
    }

    /// The flags field.
    pub fn flags(&self) -> u16 {
        self.u16_at(field::FLAGS)
    }

    /// Whether the broadcast flag is set: the client cannot receive unicast
    /// before it is configured (RFC 2131 section 4.1).
    pub fn broadcast_flag(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// `ciaddr`: the client's address, when it has one.
    pub fn client_ip(&self) -> Ipv4Address {
        self.addr_at(field::CIADDR)
    }

    /// `yiaddr`: the address offered or assigned to the client.
    pub fn your_ip(&self) -> Ipv4Address {
        self.addr_at(field::YIADDR)
    }

    /// `siaddr`: the next server (for booting).
    pub fn server_ip(&self) -> Ipv4Address {
        self.addr_at(field::SIADDR)
    }

    /// `giaddr`: the relay agent's address.
    pub fn relay_agent_ip(&self) -> Ipv4Address {
        self.addr_at(field::GIADDR)
    }

    /// The first six bytes of `chaddr`: the client's Ethernet address.
    pub fn client_hardware_address(&self) -> EthernetAddress {
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::CHADDR][..6]);
        EthernetAddress(bytes)
    }

    /// The 16-byte `chaddr` field.
    pub fn chaddr(&self) -> &[u8] {
        &self.buffer.as_ref()[field::CHADDR]
    }

    /// The 64-byte `sname` field (a server name, or options when
    /// overloaded).
    pub fn server_name(&self) -> &[u8] {
        &self.buffer.as_ref()[field::SNAME]
    }

    /// The 128-byte `file` field (a boot file name, or options when
    /// overloaded).
    pub fn file(&self) -> &[u8] {
        &self.buffer.as_ref()[field::FILE]
    }

    /// The magic cookie field ([`MAGIC_COOKIE`] for DHCP).
    pub fn magic_number(&self) -> u32 {
        self.u32_at(field::MAGIC)
    }

    /// The options field: the bytes after the magic cookie.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DhcpPacket<T> {
    fn set_u16_at(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    fn set_u32_at(&mut self, range: core::ops::Range<usize>, value: u32) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the BOOTP operation.
    pub fn set_opcode(&mut self, value: DhcpOpCode) {
        self.buffer.as_mut()[field::OP] = u8::from(value);
    }

    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::HTYPE] = value;
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the hop count.
    pub fn set_hops(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOPS] = value;
    }

    /// Sets the transaction id.
    pub fn set_transaction_id(&mut self, value: u32) {
        self.set_u32_at(field::XID, value);
    }

    /// Sets the seconds field.
    pub fn set_secs(&mut self, value: u16) {
        self.set_u16_at(field::SECS, value);
    }

    /// Sets the flags field.
    pub fn set_flags(&mut self, value: u16) {
        self.set_u16_at(field::FLAGS, value);
    }

    /// Sets `ciaddr`.
    pub fn set_client_ip(&mut self, addr: Ipv4Address) {
        self.set_u32_at(field::CIADDR, addr.to_bits());
    }

    /// Sets `yiaddr`.
    pub fn set_your_ip(&mut self, addr: Ipv4Address) {
        self.set_u32_at(field::YIADDR, addr.to_bits());
    }

    /// Sets `siaddr`.
    pub fn set_server_ip(&mut self, addr: Ipv4Address) {
        self.set_u32_at(field::SIADDR, addr.to_bits());
    }

    /// Sets `giaddr`.
    pub fn set_relay_agent_ip(&mut self, addr: Ipv4Address) {
        self.set_u32_at(field::GIADDR, addr.to_bits());
    }

    /// Sets `chaddr` to an Ethernet address followed by ten zero bytes.
    pub fn set_client_hardware_address(&mut self, addr: EthernetAddress) {
        let chaddr = &mut self.buffer.as_mut()[field::CHADDR];
        chaddr.fill(0);
        chaddr[..6].copy_from_slice(addr.as_bytes());
    }

    /// The `sname` field, mutable.
    pub fn server_name_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::SNAME]
    }

    /// The `file` field, mutable.
    pub fn file_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::FILE]
    }

    /// Sets the magic cookie field.
    pub fn set_magic_number(&mut self, value: u32) {
        self.set_u32_at(field::MAGIC, value);
    }

    /// The options field, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for DhcpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "DHCP op={} xid={:#010x} chaddr={} yiaddr={}",
                u8::from(self.opcode()),
                self.transaction_id(),
                self.client_hardware_address(),
                self.your_ip()
            ),
            Err(err) => write!(f, "DHCP ({err})"),
        }
    }
}

/// One option: its code and data (neither pad nor end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// The option code.
    pub kind: u8,
    /// The option data.
    pub data: &'a [u8],
}

impl DhcpOption<'_> {
    /// The bytes [`emit`](Self::emit) writes: code, length, data.
    pub fn buffer_len(&self) -> usize {
        2 + self.data.len()
    }

    /// Writes the option to the front of `out`: `BufferTooSmall` if it is
    /// shorter than [`buffer_len`](Self::buffer_len), `BadOption` for data
    /// longer than 255 bytes (RFC 3396 splitting is not done).
    pub fn emit(&self, out: &mut [u8]) -> Result<()> {
        let len = u8::try_from(self.data.len()).map_err(|_| Error::BadOption)?;
        let out = out
            .get_mut(..self.buffer_len())
            .ok_or(Error::BufferTooSmall)?;
        out[0] = self.kind;
        out[1] = len;
        out[2..].copy_from_slice(self.data);
        Ok(())
    }
}

/// An iterator over the options of one options area: pads are skipped,
/// the end option (or the end of the area) stops it. Yields `BadOption`
/// once (then nothing) for an option whose length byte or data runs past
/// the area.
#[derive(Debug, Clone)]
pub struct DhcpOptionsIter<'a> {
    data: &'a [u8],
}

impl<'a> DhcpOptionsIter<'a> {
    /// The options in `data` (the options field, or an overloaded `file`
    /// or `sname` field).
    pub fn new(data: &'a [u8]) -> DhcpOptionsIter<'a> {
        DhcpOptionsIter { data }
    }
}

impl<'a> Iterator for DhcpOptionsIter<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&kind, rest) = self.data.split_first()?;
            match kind {
                option::PAD => self.data = rest,
                option::END => {
                    self.data = &[];
                    return None;
                }
                _ => {
                    let item = rest.split_first().and_then(|(&len, rest)| {
                        let len = usize::from(len);
                        (rest.len() >= len).then(|| rest.split_at(len))
                    });
                    let Some((data, rest)) = item else {
                        self.data = &[];
                        return Some(Err(Error::BadOption));
                    };
                    self.data = rest;
                    return Some(Ok(DhcpOption { kind, data }));
                }
            }
        }
    }
}

/// A bounded list of IPv4 addresses (routers, DNS servers), in the order
/// received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv4AddressList<const N: usize> {
    addrs: [Ipv4Address; N],
    len: usize,
}

impl<const N: usize> Default for Ipv4AddressList<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Ipv4AddressList<N> {
    /// An empty list.
    pub const fn new() -> Self {
        Ipv4AddressList {
            addrs: [Ipv4Address::UNSPECIFIED; N],
            len: 0,
        }
    }

    /// A list of the first `N` of `addrs`.
    pub fn from_slice(addrs: &[Ipv4Address]) -> Self {
        let mut list = Self::new();
        for addr in addrs {
            list.push(*addr);
        }
        list
    }

    /// Appends `addr`; returns `false` (and drops it) when the list is
    /// full.
    pub fn push(&mut self, addr: Ipv4Address) -> bool {
        match self.addrs.get_mut(self.len) {
            Some(slot) => {
                *slot = addr;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The addresses.
    pub fn as_slice(&self) -> &[Ipv4Address] {
        &self.addrs[..self.len]
    }

    /// The number of addresses.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first address.
    pub fn first(&self) -> Option<Ipv4Address> {
        self.as_slice().first().copied()
    }
}

/// A high-level representation of a DHCP message: the fixed fields and the
/// options a client sends or uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpRepr<'a> {
    /// The message type (option 53); the BOOTP operation follows from it.
    pub message_type: DhcpMessageType,
    /// The transaction id.
    pub transaction_id: u32,
    /// Seconds since the client began.
    pub secs: u16,
    /// The broadcast flag.
    pub broadcast: bool,
    /// The client's Ethernet address (`chaddr`).
    pub client_hardware_address: EthernetAddress,
    /// `ciaddr`: the client's address in BOUND, RENEWING and REBINDING.
    pub client_ip: Ipv4Address,
    /// `yiaddr`: the address offered or assigned.
    pub your_ip: Ipv4Address,
    /// `siaddr`: the next server.
    pub server_ip: Ipv4Address,
    /// `giaddr`: the relay agent.
    pub relay_agent_ip: Ipv4Address,
    /// Requested IP address (option 50).
    pub requested_ip: Option<Ipv4Address>,
    /// Server identifier (option 54).
    pub server_identifier: Option<Ipv4Address>,
    /// Parameter request list (option 55): option codes.
    pub parameter_request_list: Option<&'a [u8]>,
    /// Lease time in seconds (option 51; `0xffffffff`: infinite).
    pub lease_duration: Option<u32>,
    /// Renewal (T1) time in seconds (option 58).
    pub renew_duration: Option<u32>,
    /// Rebinding (T2) time in seconds (option 59).
    pub rebind_duration: Option<u32>,
    /// Subnet mask (option 1).
    pub subnet_mask: Option<Ipv4Address>,
    /// Routers in order of preference (option 3), the first
    /// [`MAX_ROUTERS`].
    pub routers: Ipv4AddressList<MAX_ROUTERS>,
    /// DNS servers in order of preference (option 6), the first
    /// [`MAX_DNS_SERVERS`].
    pub dns_servers: Ipv4AddressList<MAX_DNS_SERVERS>,
    /// Interface MTU (option 26); values below 68 (RFC 2132 section 5.1)
    /// are ignored when parsing.
    pub interface_mtu: Option<u16>,
    /// Host name (option 12).
    pub host_name: Option<&'a [u8]>,
    /// Client identifier (option 61): a type byte (1: Ethernet) and the
    /// identifier.
    pub client_identifier: Option<&'a [u8]>,
    /// Maximum DHCP message size the sender accepts (option 57).
    pub max_message_size: Option<u16>,
    /// A message from the server, e.g. why it sent a NAK (option 56).
    pub message: Option<&'a [u8]>,
}

/// Reads a 4-byte option as an address or a number.
fn four(data: &[u8]) -> Result<[u8; 4]> {
    match data {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        _ => Err(Error::BadOption),
    }
}

/// Reads a 2-byte option.
fn two(data: &[u8]) -> Result<u16> {
    match data {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(Error::BadOption),
    }
}

/// Appends an address-list option's entries to `list`.
fn push_addresses<const N: usize>(list: &mut Ipv4AddressList<N>, data: &[u8]) -> Result<()> {
    if data.is_empty() || data.len() % 4 != 0 {
        return Err(Error::BadOption);
    }
    for chunk in data.chunks_exact(4) {
        list.push(Ipv4Address::from_bits(u32::from_be_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3],
        ])));
    }
    Ok(())
}

/// A non-empty option's data.
fn non_empty(data: &[u8], min: usize) -> Result<&[u8]> {
    if data.len() < min {
        Err(Error::BadOption)
    } else {
        Ok(data)
    }
}

impl<'a> DhcpRepr<'a> {
    /// A message of `message_type` from a client with `mac` in transaction
    /// `transaction_id`: every other field zero or absent, for the caller to
    /// fill with struct update syntax.
    pub const fn new(
        message_type: DhcpMessageType,
        transaction_id: u32,
        mac: EthernetAddress,
    ) -> DhcpRepr<'static> {
        DhcpRepr {
            message_type,
            transaction_id,
            secs: 0,
            broadcast: false,
            client_hardware_address: mac,
            client_ip: Ipv4Address::UNSPECIFIED,
            your_ip: Ipv4Address::UNSPECIFIED,
            server_ip: Ipv4Address::UNSPECIFIED,
            relay_agent_ip: Ipv4Address::UNSPECIFIED,
            requested_ip: None,
            server_identifier: None,
            parameter_request_list: None,
            lease_duration: None,
            renew_duration: None,
            rebind_duration: None,
            subnet_mask: None,
            routers: Ipv4AddressList::new(),
            dns_servers: Ipv4AddressList::new(),
            interface_mtu: None,
            host_name: None,
            client_identifier: None,
            max_message_size: None,
            message: None,
        }
    }

    /// Parses a DHCP message.
    ///
    /// Accepts: Ethernet hardware (`htype` 1, `hlen` 6), the magic cookie,
    /// a message type option, and an operation that matches a known message
    /// type (requests for DISCOVER, REQUEST, DECLINE, RELEASE and INFORM,
    /// replies for OFFER, ACK and NAK; either for unknown types). Options
    /// are read from the options field and, when option 52 says so, the
    /// `file` and then the `sname` field (RFC 2131 section 4.1). The first
    /// occurrence of a single-valued option wins; router and DNS lists
    /// accumulate (RFC 3396 concatenation) up to their bounds; unknown
    /// options are skipped.
    ///
    /// Fails with `Truncated` for a message shorter than 240 bytes;
    /// `Unrecognized` for another hardware type or length, a wrong cookie,
    /// an unknown operation, a mismatched one, or no message type;
    /// `BadOption` for an option running past its area, an option of a
    /// known code with a wrong length, or an overload value other than 1, 2
    /// or 3.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &DhcpPacket<&'a T>) -> Result<DhcpRepr<'a>> {
        packet.check_len()?;
        let buffer: &'a [u8] = packet.buffer.as_ref();
        if packet.hardware_type() != 1 || packet.hardware_len() != 6 {
            return Err(Error::Unrecognized);
        }
        if packet.magic_number() != MAGIC_COOKIE {
            return Err(Error::Unrecognized);
        }
        let opcode = packet.opcode();
        if matches!(opcode, DhcpOpCode::Unknown(_)) {
            return Err(Error::Unrecognized);
        }
        let mut repr = DhcpRepr {
            secs: packet.secs(),
            broadcast: packet.broadcast_flag(),
            client_ip: packet.client_ip(),
            your_ip: packet.your_ip(),
            server_ip: packet.server_ip(),
            relay_agent_ip: packet.relay_agent_ip(),
            ..DhcpRepr::new(
                DhcpMessageType::Unknown(0),
                packet.transaction_id(),
                packet.client_hardware_address(),
            )
        };
        let mut message_type = None;
        let mut overload = 0u8;
        let regions = [
            &buffer[field::OPTIONS..],
            &buffer[field::FILE],
            &buffer[field::SNAME],
        ];
        for (index, region) in regions.into_iter().enumerate() {
            // The file field holds options when overload has bit 1, sname
            // when it has bit 2 (RFC 2132 section 9.3).
            if index > 0 && overload & (1 << (index - 1)) == 0 {
                continue;
            }
            for item in DhcpOptionsIter::new(region) {
                let DhcpOption { kind, data } = item?;
                match kind {
                    option::MESSAGE_TYPE => {
                        let [value] = data else {
                            return Err(Error::BadOption);
                        };
                        message_type.get_or_insert(DhcpMessageType::from(*value));
                    }
                    option::OVERLOAD if index == 0 => match data {
                        [value @ 1..=3] => overload = *value,
                        _ => return Err(Error::BadOption),
                    },
                    option::REQUESTED_IP => {
                        let addr = Ipv4Address(four(data)?);
                        repr.requested_ip.get_or_insert(addr);
                    }
                    option::SERVER_ID => {
                        let addr = Ipv4Address(four(data)?);
                        repr.server_identifier.get_or_insert(addr);
                    }
                    option::SUBNET_MASK => {
                        let addr = Ipv4Address(four(data)?);
                        repr.subnet_mask.get_or_insert(addr);
                    }
                    option::LEASE_TIME => {
                        let value = u32::from_be_bytes(four(data)?);
                        repr.lease_duration.get_or_insert(value);
                    }
                    option::RENEWAL_TIME => {
                        let value = u32::from_be_bytes(four(data)?);
                        repr.renew_duration.get_or_insert(value);
                    }
                    option::REBINDING_TIME => {
                        let value = u32::from_be_bytes(four(data)?);
                        repr.rebind_duration.get_or_insert(value);
                    }
                    option::ROUTER => push_addresses(&mut repr.routers, data)?,
                    option::DNS_SERVER => push_addresses(&mut repr.dns_servers, data)?,
                    option::INTERFACE_MTU => {
                        let mtu = two(data)?;
                        if mtu >= 68 {
                            repr.interface_mtu.get_or_insert(mtu);
                        }
                    }
                    option::MAX_MESSAGE_SIZE => {
                        let size = two(data)?;
                        repr.max_message_size.get_or_insert(size);
                    }
                    option::HOST_NAME => {
                        let name = non_empty(data, 1)?;
                        repr.host_name.get_or_insert(name);
                    }
                    option::CLIENT_ID => {
                        let id = non_empty(data, 2)?;
                        repr.client_identifier.get_or_insert(id);
                    }
                    option::PARAMETER_REQUEST_LIST => {
                        let list = non_empty(data, 1)?;
                        repr.parameter_request_list.get_or_insert(list);
                    }
                    option::MESSAGE => {
                        let text = non_empty(data, 1)?;
                        repr.message.get_or_insert(text);
                    }
                    _ => {}
                }
            }
        }
        repr.message_type = message_type.ok_or(Error::Unrecognized)?;
        if !matches!(repr.message_type, DhcpMessageType::Unknown(_))
            && repr.message_type.opcode() != opcode
        {
            return Err(Error::Unrecognized);
        }
        Ok(repr)
    }

    /// Calls `f` on each option [`emit`](Self::emit) writes, in order:
    /// message type, client identifier, requested IP, server identifier,
    /// parameter request list, maximum message size, host name, lease, T1,
    /// T2, subnet mask, routers, DNS servers, MTU, message.
    fn for_each_option(&self, mut f: impl FnMut(u8, &[u8]) -> Result<()>) -> Result<()> {
        f(option::MESSAGE_TYPE, &[u8::from(self.message_type)])?;
        if let Some(id) = self.client_identifier {
            f(option::CLIENT_ID, id)?;
        }
        if let Some(addr) = self.requested_ip {
            f(option::REQUESTED_IP, &addr.0)?;
        }
        if let Some(addr) = self.server_identifier {
            f(option::SERVER_ID, &addr.0)?;
        }
        if let Some(list) = self.parameter_request_list {
            f(option::PARAMETER_REQUEST_LIST, list)?;
        }
        if let Some(size) = self.max_message_size {
            f(option::MAX_MESSAGE_SIZE, &size.to_be_bytes())?;
        }
        if let Some(name) = self.host_name {
            f(option::HOST_NAME, name)?;
        }
        if let Some(secs) = self.lease_duration {
            f(option::LEASE_TIME, &secs.to_be_bytes())?;
        }
        if let Some(secs) = self.renew_duration {
            f(option::RENEWAL_TIME, &secs.to_be_bytes())?;
        }
        if let Some(secs) = self.rebind_duration {
            f(option::REBINDING_TIME, &secs.to_be_bytes())?;
        }
        if let Some(mask) = self.subnet_mask {
            f(option::SUBNET_MASK, &mask.0)?;
        }
        let mut list = [0u8; 4 * MAX_DNS_SERVERS];
        for (code, addrs) in [
            (option::ROUTER, self.routers.as_slice()),
            (option::DNS_SERVER, self.dns_servers.as_slice()),
        ] {
            if addrs.is_empty() {
                continue;
            }
            for (chunk, addr) in list.chunks_exact_mut(4).zip(addrs) {
                chunk.copy_from_slice(&addr.0);
            }
            f(code, &list[..4 * addrs.len()])?;
        }
        if let Some(mtu) = self.interface_mtu {
            f(option::INTERFACE_MTU, &mtu.to_be_bytes())?;
        }
        if let Some(text) = self.message {
            f(option::MESSAGE, text)?;
        }
        Ok(())
    }

    /// The number of bytes [`emit`](Self::emit) writes: the fixed part, the
    /// options and the end option, padded to [`MIN_MESSAGE_LEN`].
    pub fn buffer_len(&self) -> usize {
        let mut len = HEADER_LEN;
        // Only emit checks option lengths; counting cannot fail.
        let _ = self.for_each_option(|_, data| {
            len += 2 + data.len();
            Ok(())
        });
        (len + 1).max(MIN_MESSAGE_LEN)
    }

    /// Writes the message into `packet`: the operation from the message
    /// type, Ethernet hardware, hops 0, zero `sname` and `file`, the
    /// cookie, the options, the end option and zero padding. Fails with
    /// `BufferTooSmall` if the buffer is shorter than
    /// [`buffer_len`](Self::buffer_len) and `BadOption` for an option
    /// longer than 255 bytes (nothing useful is written then).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut DhcpPacket<T>) -> Result<()> {
        let len = self.buffer_len();
        if packet.buffer.as_ref().len() < len {
            return Err(Error::BufferTooSmall);
        }
        packet.buffer.as_mut()[..len].fill(0);
        packet.set_opcode(self.message_type.opcode());
        packet.set_hardware_type(1);
        packet.set_hardware_len(6);
        packet.set_transaction_id(self.transaction_id);
        packet.set_secs(self.secs);
        packet.set_flags(if self.broadcast { FLAG_BROADCAST } else { 0 });
        packet.set_client_ip(self.client_ip);
        packet.set_your_ip(self.your_ip);
        packet.set_server_ip(self.server_ip);
        packet.set_relay_agent_ip(self.relay_agent_ip);
        packet.set_client_hardware_address(self.client_hardware_address);
        packet.set_magic_number(MAGIC_COOKIE);
        let options = &mut packet.buffer.as_mut()[field::OPTIONS..len];
        let mut at = 0;
        self.for_each_option(|kind, data| {
            let option = DhcpOption { kind, data };
            option.emit(&mut options[at..])?;
            at += option.buffer_len();
            Ok(())
        })?;
        options[at] = option::END;
        Ok(())
    }
}

impl fmt::Display for DhcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "DHCP {} xid={:#010x} chaddr={}",
            self.message_type, self.transaction_id, self.client_hardware_address
        )?;
        if !self.your_ip.is_unspecified() {
            write!(f, " yiaddr={}", self.your_ip)?;
        }
        if let Some(addr) = self.requested_ip {
            write!(f, " requested={addr}")?;
        }
        if let Some(addr) = self.server_identifier {
            write!(f, " server={addr}")?;
        }
        if let Some(secs) = self.lease_duration {
            write!(f, " lease={secs}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
