//! pollnet: a poll-based user-space TCP/IP stack.
//!
//! An [`iface::Interface`] polls a [`phy::Device`] and feeds a socket set of
//! TCP sockets whose state machine and timers advance on each `poll(now)`.
//! The TCP follows lwIP's eleven connection states by name and RFC 9293 in
//! its segment processing. The stack never reads a clock: time enters only as
//! [`time::Instant`], so tests and pcap replay run on a virtual clock.
//!
//! Layers, leaf first: [`time`], [`wire`] and [`storage`] depend on nothing
//! of ours; [`socket`] is sans-IO; [`iface`] ties sockets to a [`phy`] device.
//! See `DESIGN.md` in the shared folder for the map.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod macros;

pub mod iface;
pub mod phy;
pub mod socket;
pub mod storage;
pub mod time;
pub mod wire;
