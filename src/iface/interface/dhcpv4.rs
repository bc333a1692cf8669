//! Applying a DHCP client's events to the interface: the application's
//! choice, in one call (the client itself never edits the interface).

use super::*;
use crate::iface::AddressError;
use crate::iface::route::RouteError;
use crate::socket::dhcpv4::{Dhcpv4Event, Dhcpv4Lease};

/// Why [`Interface::apply_dhcpv4_event`] could not apply a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dhcpv4ApplyError {
    /// The address could not be added (every slot taken, or not a host
    /// address).
    Address(AddressError),
    /// The default route could not be set (the route table is full, or the
    /// router is not a unicast address).
    Route(RouteError),
}

impl core::fmt::Display for Dhcpv4ApplyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Dhcpv4ApplyError::Address(err) => write!(f, "DHCP address: {err}"),
            Dhcpv4ApplyError::Route(err) => write!(f, "DHCP default route: {err}"),
        }
    }
}

impl Interface<'_> {
    /// Applies a DHCP client's event (see `Dhcpv4Socket::poll_event`):
    ///
    /// - `Configured`: adds the lease's address with its prefix (replacing
    ///   the prefix if the interface has the address), sets the default
    ///   route through its router, and sets the interface MTU to its MTU
    ///   option (or removes the cap when the lease has none);
    /// - `Deconfigured`: removes the address (ending the TCP connections
    ///   bound to it, see [`remove_ip_addr`](Self::remove_ip_addr)), the
    ///   default route if it is still the lease's router, and the MTU cap
    ///   if it is still the lease's.
    ///
    /// DNS servers are not the interface's: hand them to a resolver.
    pub fn apply_dhcpv4_event(
        &mut self,
        sockets: &mut SocketSet<'_>,
        event: &Dhcpv4Event,
        now: Instant,
    ) -> Result<(), Dhcpv4ApplyError> {
        match event {
            Dhcpv4Event::Configured(lease) => self.apply_dhcpv4_lease(lease),
            Dhcpv4Event::Deconfigured(lease) => {
                match self.remove_ip_addr(lease.address.address(), sockets, now) {
                    Ok(_) | Err(AddressError::NotFound) => {}
                    Err(err) => return Err(Dhcpv4ApplyError::Address(err)),
                }
                if lease.router.is_some() && self.ipv4_gateway() == lease.router {
                    self.set_ipv4_gateway(None)
                        .map_err(Dhcpv4ApplyError::Route)?;
                }
                if lease.mtu.is_some() && self.ip_mtu_cap() == lease.mtu.map(usize::from) {
                    self.set_ip_mtu(None);
                }
                Ok(())
            }
        }
    }

    fn apply_dhcpv4_lease(&mut self, lease: &Dhcpv4Lease) -> Result<(), Dhcpv4ApplyError> {
        self.add_ip_addr(lease.address)
            .map_err(Dhcpv4ApplyError::Address)?;
        if let Some(router) = lease.router {
            self.set_ipv4_gateway(Some(router))
                .map_err(Dhcpv4ApplyError::Route)?;
        }
        self.set_ip_mtu(lease.mtu.map(usize::from));
        Ok(())
    }
}
