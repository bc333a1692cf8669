//! Runtime configuration: addresses, routes and the interface MTU, changed
//! while the interface runs (a DHCP lease applied, renewed or lost).

use super::*;
use crate::iface::AddressError;
use crate::iface::reassembly::ReassemblyConfig;
use crate::iface::route::{Route, RouteError};
use crate::wire::IpCidr;

/// The smallest IP MTU: every IPv4 host and link takes 68-byte datagrams
/// (RFC 791, "every internet module must be able to forward a datagram of
/// 68 octets without further fragmentation").
pub(crate) const MIN_IP_MTU: usize = 68;
/// The largest IP MTU: the total length field's limit.
pub(crate) const MAX_IP_MTU: usize = 65535;

/// An MTU brought into the range IPv4 can use.
pub(crate) fn clamp_mtu(mtu: usize) -> usize {
    mtu.clamp(MIN_IP_MTU, MAX_IP_MTU)
}

impl Interface<'_> {
    /// Adds an address with its prefix. Adding an address the interface
    /// has already replaces its prefix (a renewed lease may change it);
    /// nothing else changes.
    ///
    /// # Errors
    /// [`AddressError::Full`] when all [`MAX_IP_ADDRS`] slots are taken,
    /// [`AddressError::NotUnicast`] for an address no host can have
    /// (unspecified, broadcast, multicast, class E, loopback; for IPv6
    /// also IPv4-mapped).
    ///
    /// An IPv6 address (feature `proto-ipv6`) takes one of its own
    /// [`MAX_IP_ADDRS`] slots; the interface then answers echo requests and
    /// Neighbor Solicitations for it and listens to its solicited-node
    /// group (RFC 4291 section 2.8, RFC 4861 section 7.2).
    pub fn add_ip_addr(&mut self, cidr: impl Into<IpCidr>) -> Result<(), AddressError> {
        let cidr = match cidr.into() {
            IpCidr::Ipv4(cidr) => cidr,
            #[cfg(feature = "proto-ipv6")]
            IpCidr::Ipv6(cidr) => {
                self.link.add_ipv6_addr(cidr)?;
                self.link.addresses_changed();
                return Ok(());
            }
        };
        let address = cidr.address();
        if !address.is_unicast() || address.is_loopback() {
            return Err(AddressError::NotUnicast);
        }
        let slot = match self
            .link
            .ip_addrs
            .iter()
            .position(|a| a.is_some_and(|a| a.address() == address))
        {
            Some(existing) => existing,
            None => self
                .link
                .ip_addrs
                .iter()
                .position(Option::is_none)
                .ok_or(AddressError::Full)?,
        };
        self.link.ip_addrs[slot] = Some(cidr);
        self.link.addresses_changed();
        Ok(())
    }

    /// Removes the address `addr` and returns it with its prefix.
    ///
    /// Every TCP connection bound to it ends at once: CLOSED with
    /// [`TcpError::AddressRemoved`](crate::socket::tcp::TcpError::AddressRemoved),
    /// no RST, the trace shows `-> CLOSED (address removed)` (see
    /// [`SocketSet::pop_trace`]); listeners and TIME_WAIT connections stay.
    /// Routes whose gateway was reachable only through the removed prefix
    /// go too (as Linux flushes them), since nothing could reach their
    /// gateway. `now` stamps the trace when no poll ran since.
    ///
    /// # Errors
    /// [`AddressError::NotFound`] if the interface does not have `addr`.
    pub fn remove_ip_addr(
        &mut self,
        addr: impl Into<IpAddress>,
        sockets: &mut SocketSet<'_>,
        now: Instant,
    ) -> Result<IpCidr, AddressError> {
        let addr = addr.into();
        #[cfg(feature = "proto-ipv6")]
        if let Some(v6) = addr.as_ipv6() {
            let removed = self
                .link
                .remove_ipv6_addr(v6)
                .ok_or(AddressError::NotFound)?;
            self.link.addresses_changed();
            sockets.attach(self.demux_key);
            sockets.begin_poll(now.max(self.now));
            let mut cx = self.context(now);
            sockets.tcp_abort_local_addr(&mut cx, addr);
            self.add_tcp_stats(&cx.stats);
            return Ok(IpCidr::Ipv6(removed));
        }
        let v4 = addr.as_ipv4().ok_or(AddressError::NotFound)?;
        let slot = self
            .link
            .ip_addrs
            .iter()
            .position(|a| a.is_some_and(|a| a.address() == v4))
            .ok_or(AddressError::NotFound)?;
        let removed = self.link.ip_addrs[slot]
            .take()
            .ok_or(AddressError::NotFound)?;
        self.link.addresses_changed();
        let remaining = self.link.ip_addrs;
        let on_link = |g: Ipv4Address| remaining.iter().flatten().any(|c| c.contains(g));
        self.link.routes.remove_where(|route| {
            route
                .gateway
                .and_then(|g| g.as_ipv4())
                .is_some_and(|g| removed.contains(g) && !on_link(g))
        });
        sockets.attach(self.demux_key);
        sockets.begin_poll(now.max(self.now));
        let mut cx = self.context(now);
        sockets.tcp_abort_local_addr(&mut cx, addr);
        self.add_tcp_stats(&cx.stats);
        Ok(IpCidr::Ipv4(removed))
    }

    /// IPv4 reassembly: its settings, counters and the memory in use.
    pub fn reassembly(&self) -> &Reassembler<'_> {
        &self.link.reassembly
    }

    /// Changes the reassembly settings (the timeout); datagrams in flight
    /// keep their deadlines.
    pub fn set_reassembly_config(&mut self, config: ReassemblyConfig) {
        self.link.reassembly.set_config(config);
    }

    /// The route table, to read.
    pub fn routes(&self) -> &Routes {
        &self.link.routes
    }

    /// The route table, to add and remove routes. Destinations on the
    /// interface's own prefixes are implicit on-link routes; a route here
    /// with a longer prefix takes precedence over them (longest-prefix
    /// match), one of the same length does not.
    pub fn routes_mut(&mut self) -> &mut Routes {
        &mut self.link.routes
    }

    /// Adds a route (see [`Routes::add`]).
    pub fn add_route(&mut self, route: Route) -> Result<Option<Route>, RouteError> {
        self.link.routes.add(route)
    }

    /// Removes the route for `destination` (see [`Routes::remove`]).
    pub fn remove_route(&mut self, destination: impl Into<IpCidr>) -> Option<Route> {
        self.link.routes.remove(destination)
    }

    /// Sets the IPv4 default route through `gateway`, or removes it with
    /// `None`.
    pub fn set_ipv4_gateway(&mut self, gateway: Option<Ipv4Address>) -> Result<(), RouteError> {
        self.link.routes.set_default_ipv4(gateway)
    }

    /// The IPv4 default route's gateway.
    pub fn ipv4_gateway(&self) -> Option<Ipv4Address> {
        self.link.routes.default_ipv4()
    }

    /// The next hop the interface would send a datagram for `dst` to at
    /// `now`: `dst` itself on-link, a gateway, or `None` (no route).
    pub fn route_to(&mut self, dst: impl Into<IpAddress>, now: Instant) -> Option<IpAddress> {
        let dst = dst.into().as_ipv4()?;
        self.link.next_hop(dst, now).map(IpAddress::Ipv4)
    }

    /// Sets the interface-level MTU (a DHCP lease's interface MTU option,
    /// RFC 2132 section 5.1), which caps the device's: the IP MTU becomes
    /// the smaller of the two, at once. `None` removes the cap. Values are
    /// kept between 68 (RFC 791's minimum) and 65535.
    ///
    /// New connections take their MSS from it (RFC 9293 section 3.7.1);
    /// connections already open keep the MSS they agreed, and datagrams
    /// the interface fragments are cut to it.
    pub fn set_ip_mtu(&mut self, mtu: Option<usize>) {
        self.mtu_cap = mtu.map(clamp_mtu);
        self.ip_mtu = self.effective_mtu();
    }

    /// The interface-level MTU set by [`set_ip_mtu`](Self::set_ip_mtu) or
    /// [`Config::ip_mtu`].
    pub fn ip_mtu_cap(&self) -> Option<usize> {
        self.mtu_cap
    }

    pub(super) fn effective_mtu(&self) -> usize {
        self.mtu_cap
            .map_or(self.device_mtu, |cap| cap.min(self.device_mtu))
    }
}

impl Link<'_> {
    /// After any change of `ip_addrs`: the next-hop cache is stale.
    pub(super) fn addresses_changed(&mut self) {
        self.addr_generation = self.addr_generation.wrapping_add(1);
    }
}
