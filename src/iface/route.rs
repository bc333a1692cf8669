//! The route table: a small fixed-capacity table of destination prefixes
//! with their gateways, chosen by longest-prefix match (RFC 1812 section
//! 5.2.4.3, the rule hosts follow too).
//!
//! The interface's own prefixes are implicit on-link routes: a destination
//! on one of them is sent to directly unless a route in this table has a
//! longer prefix for it (a host route through a gateway, say). Routes may
//! carry an expiry instant, so routes learned from DHCP leases or router
//! advertisements lapse by themselves. Nothing here allocates: the table is
//! a fixed array of [`MAX_ROUTES`] entries.
//!
//! The types are version-neutral ([`IpCidr`], [`IpAddress`]); a route never
//! matches a destination of the other IP version.

use core::fmt;

use crate::time::Instant;
use crate::wire::{IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

/// How many routes a table holds.
pub const MAX_ROUTES: usize = 8;

/// One route: where datagrams for `destination` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Route {
    /// The destination prefix (its host bits are ignored: 192.0.2.7/24 is
    /// the route for 192.0.2.0/24).
    pub destination: IpCidr,
    /// The gateway to send through, or `None` for a destination reached
    /// directly on the link (RFC 3442's router 0.0.0.0).
    pub gateway: Option<IpAddress>,
    /// The route is used while the time is before this instant (a lease or
    /// router lifetime); `None`: until removed.
    pub expires_at: Option<Instant>,
}

impl Route {
    /// A route to `destination` through `gateway`, without expiry.
    pub fn via(destination: impl Into<IpCidr>, gateway: impl Into<IpAddress>) -> Route {
        Route {
            destination: destination.into(),
            gateway: Some(gateway.into()),
            expires_at: None,
        }
    }

    /// A route to `destination` reached directly on the link, without
    /// expiry.
    pub fn on_link(destination: impl Into<IpCidr>) -> Route {
        Route {
            destination: destination.into(),
            gateway: None,
            expires_at: None,
        }
    }

    /// The IPv4 default route (0.0.0.0/0) through `gateway`.
    pub fn default_ipv4(gateway: Ipv4Address) -> Route {
        Route::via(DEFAULT_IPV4, gateway)
    }

    /// This route, used only before `at`.
    pub fn with_expiry(mut self, at: Instant) -> Route {
        self.expires_at = Some(at);
        self
    }

    /// Whether the route is in force at `now`: its expiry, if any, is
    /// still ahead (a route expiring at `t` is not used at `t`).
    pub fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.gateway {
            Some(gateway) => write!(f, "{} via {}", self.destination, gateway)?,
            None => write!(f, "{} on-link", self.destination)?,
        }
        if let Some(at) = self.expires_at {
            write!(f, " until {at}")?;
        }
        Ok(())
    }
}

/// The IPv4 default destination, 0.0.0.0/0.
const DEFAULT_IPV4: IpCidr = match Ipv4Cidr::new(Ipv4Address::UNSPECIFIED, 0) {
    Some(cidr) => IpCidr::Ipv4(cidr),
    // A /0 prefix is always valid.
    None => unreachable!(),
};

/// Why a route was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RouteError {
    /// Every entry holds a live route for another destination.
    TableFull,
    /// The gateway is of another IP version than the destination.
    VersionMismatch,
    /// The gateway is not a unicast address.
    GatewayNotUnicast,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            RouteError::TableFull => "the route table is full",
            RouteError::VersionMismatch => "gateway and destination differ in IP version",
            RouteError::GatewayNotUnicast => "the gateway is not a unicast address",
        })
    }
}

impl core::error::Error for RouteError {}

/// Whether two prefixes name the same destination: same version, same
/// length, same network bits.
fn same_destination(a: &IpCidr, b: &IpCidr) -> bool {
    a.prefix_len() == b.prefix_len() && a.contains(b.address())
}

/// A fixed-capacity route table with longest-prefix match.
///
/// Every change moves a generation counter, which the interface's
/// next-hop cache compares against, so the per-packet cost of routing is
/// one comparison while nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Routes {
    entries: [Option<Route>; MAX_ROUTES],
    generation: u32,
    /// The earliest expiry of any route in the table.
    next_expiry: Option<Instant>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    /// An empty table.
    pub const fn new() -> Routes {
        Routes {
            entries: [None; MAX_ROUTES],
            generation: 0,
            next_expiry: None,
        }
    }

    /// Adds `route`, replacing the route for the same destination if there
    /// is one (returned). A full table never evicts a route for a new
    /// destination: [`RouteError::TableFull`] (expired routes leave the
    /// table on the interface's next poll).
    pub fn add(&mut self, route: Route) -> Result<Option<Route>, RouteError> {
        if let Some(gateway) = route.gateway {
            if gateway.version() != route.destination.version() {
                return Err(RouteError::VersionMismatch);
            }
            if !gateway.is_unicast() {
                return Err(RouteError::GatewayNotUnicast);
            }
        }
        let existing = self
            .entries
            .iter()
            .position(|e| e.is_some_and(|e| same_destination(&e.destination, &route.destination)));
        let index = existing
            .or_else(|| self.entries.iter().position(Option::is_none))
            .ok_or(RouteError::TableFull)?;
        let old = self.entries[index].replace(route);
        self.changed();
        Ok(old)
    }

    /// Removes the route for `destination` (host bits ignored) and returns
    /// it.
    pub fn remove(&mut self, destination: impl Into<IpCidr>) -> Option<Route> {
        let destination = destination.into();
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.is_some_and(|e| same_destination(&e.destination, &destination)))?;
        let old = entry.take();
        self.changed();
        old
    }

    /// Removes every route `remove` says yes to; returns how many went.
    pub fn remove_where(&mut self, mut remove: impl FnMut(&Route) -> bool) -> usize {
        let mut removed = 0;
        for entry in self.entries.iter_mut() {
            if entry.as_ref().is_some_and(&mut remove) {
                *entry = None;
                removed += 1;
            }
        }
        if removed > 0 {
            self.changed();
        }
        removed
    }

    /// Sets the IPv4 default route through `gateway`, or removes it
    /// (`None`).
    pub fn set_default_ipv4(&mut self, gateway: Option<Ipv4Address>) -> Result<(), RouteError> {
        match gateway {
            Some(gateway) => self.add(Route::default_ipv4(gateway)).map(|_| ()),
            None => {
                self.remove(DEFAULT_IPV4);
                Ok(())
            }
        }
    }

    /// The IPv4 default route's gateway, if there is one (expired or not).
    pub fn default_ipv4(&self) -> Option<Ipv4Address> {
        self.entries
            .iter()
            .flatten()
            .find(|r| same_destination(&r.destination, &DEFAULT_IPV4))
            .and_then(|r| r.gateway)
            .and_then(|g| g.as_ipv4())
    }

    /// Removes the routes expired at `now`; returns how many went. The
    /// interface calls it on each poll at which one is due (one comparison
    /// otherwise).
    pub fn remove_expired(&mut self, now: Instant) -> usize {
        if self.next_expiry.is_none_or(|at| now < at) {
            return 0;
        }
        self.remove_where(|r| !r.is_live(now))
    }

    /// The live route with the longest prefix containing `dst`, if any.
    pub fn lookup(&self, dst: IpAddress, now: Instant) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for route in self.entries.iter().flatten() {
            if route.is_live(now)
                && route.destination.contains(dst)
                && best.is_none_or(|b| route.destination.prefix_len() > b.destination.prefix_len())
            {
                best = Some(route);
            }
        }
        best
    }

    /// The routes, expired ones included until they are removed.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.entries.iter().flatten()
    }

    /// How many routes the table holds.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(Option::is_none)
    }

    /// A number that moves on every change (for caches of lookups).
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// The earliest expiry of any route in the table.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.next_expiry = self.iter().filter_map(|r| r.expires_at).min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Address {
        Ipv4Address::new(a, b, c, d)
    }

    fn cidr(a: Ipv4Address, len: u8) -> Ipv4Cidr {
        Ipv4Cidr::new(a, len).unwrap()
    }

    fn hop(routes: &Routes, dst: Ipv4Address, now: Instant) -> Option<IpAddress> {
        routes.lookup(dst.into(), now).and_then(|r| r.gateway)
    }

    #[test]
    fn longest_prefix_wins_whatever_the_order() {
        let mut routes = Routes::new();
        routes.add(Route::default_ipv4(v4(192, 0, 2, 254))).unwrap();
        routes
            .add(Route::via(cidr(v4(198, 51, 100, 0), 24), v4(192, 0, 2, 2)))
            .unwrap();
        routes
            .add(Route::via(
                cidr(v4(198, 51, 100, 128), 25),
                v4(192, 0, 2, 3),
            ))
            .unwrap();
        routes
            .add(Route::via(
                cidr(v4(198, 51, 100, 200), 32),
                v4(192, 0, 2, 4),
            ))
            .unwrap();
        let now = Instant::ZERO;
        assert_eq!(
            hop(&routes, v4(203, 0, 113, 1), now),
            Some(v4(192, 0, 2, 254).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 1), now),
            Some(v4(192, 0, 2, 2).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 127), now),
            Some(v4(192, 0, 2, 2).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 128), now),
            Some(v4(192, 0, 2, 3).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 199), now),
            Some(v4(192, 0, 2, 3).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 200), now),
            Some(v4(192, 0, 2, 4).into())
        );
        assert_eq!(
            hop(&routes, v4(198, 51, 100, 201), now),
            Some(v4(192, 0, 2, 3).into())
        );

        // Inserted in the reverse order: the same answers.
        let mut reversed = Routes::new();
        for route in routes
            .iter()
            .collect::<std::vec::Vec<_>>()
            .into_iter()
            .rev()
        {
            reversed.add(*route).unwrap();
        }
        for last in 0..=255 {
            let dst = v4(198, 51, 100, last);
            assert_eq!(hop(&reversed, dst, now), hop(&routes, dst, now), "{dst}");
        }
    }

    #[test]
    fn no_default_route_means_no_route_off_the_table() {
        let mut routes = Routes::new();
        routes
            .add(Route::via(cidr(v4(198, 51, 100, 0), 24), v4(192, 0, 2, 2)))
            .unwrap();
        assert!(
            routes
                .lookup(v4(203, 0, 113, 1).into(), Instant::ZERO)
                .is_none()
        );
        assert_eq!(routes.default_ipv4(), None);
    }

    #[test]
    fn same_destination_replaces_and_host_bits_are_ignored() {
        let mut routes = Routes::new();
        let first = Route::via(cidr(v4(198, 51, 100, 0), 24), v4(192, 0, 2, 2));
        assert_eq!(routes.add(first), Ok(None));
        let second = Route::via(cidr(v4(198, 51, 100, 77), 24), v4(192, 0, 2, 3));
        assert_eq!(routes.add(second), Ok(Some(first)));
        assert_eq!(routes.len(), 1);
        assert_eq!(routes.remove(cidr(v4(198, 51, 100, 5), 24)), Some(second));
        assert!(routes.is_empty());
        assert_eq!(routes.remove(cidr(v4(198, 51, 100, 5), 24)), None);
    }

    #[test]
    fn default_route_set_and_cleared() {
        let mut routes = Routes::new();
        routes.set_default_ipv4(Some(v4(192, 0, 2, 254))).unwrap();
        assert_eq!(routes.default_ipv4(), Some(v4(192, 0, 2, 254)));
        routes.set_default_ipv4(Some(v4(192, 0, 2, 253))).unwrap();
        assert_eq!(routes.default_ipv4(), Some(v4(192, 0, 2, 253)));
        assert_eq!(routes.len(), 1);
        routes.set_default_ipv4(None).unwrap();
        assert_eq!(routes.default_ipv4(), None);
        assert!(routes.is_empty());
    }

    #[test]
    fn full_table_refuses_a_new_destination_but_replaces_an_old_one() {
        let mut routes = Routes::new();
        for i in 0..MAX_ROUTES as u8 {
            routes
                .add(Route::via(cidr(v4(198, 51, i, 0), 24), v4(192, 0, 2, 2)))
                .unwrap();
        }
        let extra = Route::via(cidr(v4(203, 0, 113, 0), 24), v4(192, 0, 2, 2));
        assert_eq!(routes.add(extra), Err(RouteError::TableFull));
        let again = Route::via(cidr(v4(198, 51, 3, 0), 24), v4(192, 0, 2, 9));
        assert!(routes.add(again).unwrap().is_some());
        assert_eq!(routes.len(), MAX_ROUTES);
    }

    #[test]
    fn refuses_mixed_versions_and_group_gateways() {
        let mut routes = Routes::new();
        assert_eq!(
            routes.add(Route::default_ipv4(Ipv4Address::BROADCAST)),
            Err(RouteError::GatewayNotUnicast)
        );
        #[cfg(feature = "proto-ipv6")]
        {
            let v6 = crate::wire::Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
            assert_eq!(
                routes.add(Route::via(cidr(v4(198, 51, 100, 0), 24), v6)),
                Err(RouteError::VersionMismatch)
            );
            // An IPv4 route never matches an IPv6 destination.
            routes.add(Route::default_ipv4(v4(192, 0, 2, 1))).unwrap();
            assert!(routes.lookup(v6.into(), Instant::ZERO).is_none());
        }
    }

    #[test]
    fn expiry_is_exact_and_the_shorter_route_takes_over() {
        let mut routes = Routes::new();
        routes.add(Route::default_ipv4(v4(192, 0, 2, 254))).unwrap();
        let at = Instant::from_secs(100);
        let learned = Route::via(cidr(v4(198, 51, 100, 0), 24), v4(192, 0, 2, 2)).with_expiry(at);
        routes.add(learned).unwrap();
        assert_eq!(routes.next_expiry(), Some(at));
        let dst = v4(198, 51, 100, 1);
        let before = at - Duration::from_micros(1);
        assert_eq!(hop(&routes, dst, before), Some(v4(192, 0, 2, 2).into()));
        assert_eq!(hop(&routes, dst, at), Some(v4(192, 0, 2, 254).into()));
        // Removal happens at the deadline, not before.
        let generation = routes.generation();
        assert_eq!(routes.remove_expired(before), 0);
        assert_eq!(routes.generation(), generation);
        assert_eq!(routes.remove_expired(at), 1);
        assert_ne!(routes.generation(), generation);
        assert_eq!(routes.len(), 1);
        assert_eq!(routes.next_expiry(), None);
    }

    #[test]
    fn on_link_route_has_no_gateway() {
        let mut routes = Routes::new();
        routes
            .add(Route::on_link(cidr(v4(198, 51, 100, 0), 24)))
            .unwrap();
        let route = routes
            .lookup(v4(198, 51, 100, 9).into(), Instant::ZERO)
            .unwrap();
        assert_eq!(route.gateway, None);
    }
}
