//! The interface: ties a device to a socket set (Ethernet, ARP, IPv4, ICMPv4, TCP demux).

pub mod demux;
pub mod neighbor;
pub mod timer;
