//! The UDP socket alone (sans-IO): queues, filters, errors, dispatch.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::socket::IcmpErrorKind;
use crate::socket::tcp::IsnGenerator;
use crate::time::Instant;
use crate::wire::{Icmpv4DstUnreachable, IpProtocol};

const LOCAL: IpAddress = IpAddress::v4(192, 0, 2, 1);
const PEER: IpAddress = IpAddress::v4(192, 0, 2, 9);

fn socket(slots: usize, bytes: usize) -> UdpSocket<'static> {
    let buffer = || UdpPacketBuffer::new(vec![UdpPacketMetadata::EMPTY; slots], vec![0u8; bytes]);
    UdpSocket::new(buffer(), buffer())
}

fn cx() -> Context {
    Context::new(Instant::from_millis(5), IsnGenerator::new([0; 16]))
}

fn ip(src: IpAddress, dst: IpAddress, len: usize) -> IpRepr {
    IpRepr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + len,
        hop_limit: 64,
        ecn: crate::wire::IpEcn::NotEct,
    }
}

fn deliver(s: &mut UdpSocket, from_port: u16, data: &[u8]) -> bool {
    let repr = UdpRepr {
        src_port: from_port,
        dst_port: s.endpoint().port,
        payload: data,
    };
    s.process(&mut cx(), &ip(PEER, LOCAL, data.len()), &repr)
}

/// Everything `dispatch` hands out, as (src, src_port, dst, payload).
fn drain(s: &mut UdpSocket) -> Vec<(Option<IpAddress>, u16, IpEndpoint, Vec<u8>)> {
    let mut out = Vec::new();
    let mut c = cx();
    while s
        .dispatch(&mut c, |_, d| {
            out.push((d.src_addr, d.src_port, d.dst, d.payload.to_vec()));
            Ok::<(), ()>(())
        })
        .unwrap()
    {}
    out
}

#[test]
fn bind_rules() {
    let mut s = socket(2, 64);
    assert_eq!(s.bind(0), Err(BindError::Unaddressable));
    assert!(!s.is_bound());
    assert_eq!(
        s.send_to(b"x", IpEndpoint::new(PEER, 1)),
        Err(SendError::Unbound)
    );
    assert_eq!(
        s.connect(IpEndpoint::new(PEER, 1)),
        Err(ConnectError::Unbound)
    );
    s.bind(68).unwrap();
    assert_eq!(s.bind(69), Err(BindError::InvalidState));
    assert_eq!(s.endpoint(), IpListenEndpoint::from(68));
    assert_eq!(
        s.connect(IpEndpoint::new(PEER, 0)),
        Err(ConnectError::Unaddressable)
    );
    let v = s.key_version();
    s.close();
    assert!(!s.is_bound());
    assert_ne!(s.key_version(), v);
}

#[test]
fn send_checks_and_queue_limits() {
    let mut s = socket(2, 16);
    s.bind(5000).unwrap();
    let to = IpEndpoint::new(PEER, 7);
    assert_eq!(
        s.send_to(b"x", IpEndpoint::new(PEER, 0)),
        Err(SendError::Unaddressable)
    );
    assert_eq!(
        s.send_to(b"x", IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 7)),
        Err(SendError::Unaddressable)
    );
    assert_eq!(s.send_connected(b"x"), Err(SendError::Unaddressable));
    assert_eq!(s.send_to(&[0; 17], to), Err(SendError::TooLarge));
    assert_eq!(
        s.send(MAX_PAYLOAD_IPV4 + 1, to).err(),
        Some(SendError::TooLarge)
    );
    s.send_to(&[1; 8], to).unwrap();
    s.send_to(&[2; 8], to).unwrap();
    // Two metadata slots: a third (even empty) datagram waits.
    assert_eq!(s.send_to(b"", to), Err(SendError::BufferFull));
    assert!(!s.can_send(0));
    assert_eq!(s.poll_at(&cx()), PollAt::Now);
    let sent = drain(&mut s);
    assert_eq!(
        sent,
        [(None, 5000, to, vec![1; 8]), (None, 5000, to, vec![2; 8])]
    );
    assert_eq!(s.poll_at(&cx()), PollAt::Ingress);
}

#[test]
fn a_failed_emit_keeps_the_datagram_queued() {
    let mut s = socket(2, 64);
    s.bind(IpEndpoint::new(LOCAL, 5000)).unwrap();
    s.send_to(b"retry me", IpEndpoint::new(PEER, 7)).unwrap();
    let r = s.dispatch(&mut cx(), |_, _| Err::<(), _>("busy"));
    assert_eq!(r, Err("busy"));
    assert_eq!(s.send_queue(), 1);
    // The bound address is the source; a datagram's own overrides it.
    let meta = UdpMetadata {
        remote: IpEndpoint::new(PEER, 8),
        local_address: Some(IpAddress::v4(0, 0, 0, 0)),
    };
    s.send_slice(b"override", meta).unwrap();
    let sent = drain(&mut s);
    assert_eq!(sent[0].0, Some(LOCAL));
    assert_eq!(sent[0].3, b"retry me");
    assert_eq!(sent[1].0, Some(IpAddress::v4(0, 0, 0, 0)));
}

#[test]
fn receive_queue_full_truncation_and_connected_filter() {
    let mut s = socket(2, 32);
    s.bind(5000).unwrap();
    assert!(deliver(&mut s, 1000, b"first"));
    assert!(deliver(&mut s, 1000, b"second datagram"));
    assert!(!deliver(&mut s, 1000, b"third"));
    assert_eq!(s.rx_dropped(), 1);
    let mut small = [0u8; 4];
    assert_eq!(s.recv_slice(&mut small), Err(RecvError::Truncated(5)));
    // Still queued for a buffer that fits.
    let mut buf = [0u8; 32];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"first"[..], IpEndpoint::new(PEER, 1000))
    );
    let (data, meta) = s.peek().unwrap();
    assert_eq!(data, b"second datagram");
    assert_eq!(meta.local_address, Some(LOCAL));
    s.recv().unwrap();
    assert_eq!(s.recv().err(), Some(RecvError::Exhausted));

    s.connect(IpEndpoint::new(PEER, 53)).unwrap();
    assert!(!deliver(&mut s, 54, b"not the peer"));
    assert!(deliver(&mut s, 53, b"the peer"));
    assert_eq!(s.rx_filtered(), 1);
    assert_eq!(s.recv().unwrap().0, b"the peer");
}

#[test]
fn the_latest_icmp_error_is_kept_until_taken() {
    let mut s = socket(1, 16);
    s.bind(5000).unwrap();
    let report = |reason| IcmpErrorReport {
        reporter: PEER,
        remote: IpEndpoint::new(PEER, 7),
        kind: IcmpErrorKind::DstUnreachable(reason),
        at: Instant::from_millis(3),
    };
    s.on_icmp_error(report(Icmpv4DstUnreachable::HostUnreachable));
    s.on_icmp_error(report(Icmpv4DstUnreachable::PortUnreachable));
    assert!(s.error().unwrap().is_port_unreachable());
    assert_eq!(
        s.take_error(),
        Some(report(Icmpv4DstUnreachable::PortUnreachable))
    );
    assert_eq!(s.take_error(), None);
}

#[test]
fn connected_tuple_needs_a_concrete_local_address() {
    let mut s = socket(1, 16);
    s.bind(5000).unwrap();
    s.connect(IpEndpoint::new(PEER, 53)).unwrap();
    assert_eq!(s.connected_tuple(), None);
    let mut t = socket(1, 16);
    t.bind(IpEndpoint::new(LOCAL, 5000)).unwrap();
    t.connect(IpEndpoint::new(PEER, 53)).unwrap();
    assert_eq!(
        t.connected_tuple(),
        Some((IpEndpoint::new(LOCAL, 5000), IpEndpoint::new(PEER, 53)))
    );
}
