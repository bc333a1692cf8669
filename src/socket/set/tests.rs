//! The socket set on its own, sans-IO: segments go straight into
//! `process_tcp`, what it sends comes out of `egress` or as replies.

extern crate std;

use std::string::ToString;
use std::vec;
use std::vec::Vec;

use super::tcp::Reply;
use super::*;
use crate::socket::Packet;
use crate::socket::tcp::{Cause, IsnGenerator, ListenError, TcpConfig};
use crate::storage::RingBuffer;
use crate::wire::{
    IpAddress, IpListenEndpoint, IpProtocol, IpRepr, SeqNumber, TcpFlags, TcpRepr, TcpTimestamp,
};

const US: IpAddress = IpAddress::v4(192, 0, 2, 1);
const PEER: IpAddress = IpAddress::v4(198, 51, 100, 7);

/// A socket whose ACKs are delayed from the first segment (no quick-ACK),
/// so the tests' timer deadlines read plainly.
fn socket(rx: usize, tx: usize) -> TcpSocket<'static> {
    let mut socket = TcpSocket::new(
        RingBuffer::new(vec![0u8; rx]),
        RingBuffer::new(vec![0u8; tx]),
    );
    let mut config = *socket.config();
    config.quick_acks = 0;
    socket.set_config(config);
    socket
}

fn cx(now_ms: i64) -> Context {
    Context::new(Instant::from_millis(now_ms), IsnGenerator::new([3; 16]))
}

/// The IP header of a segment from `PEER` to us.
fn ip_in() -> IpRepr {
    IpRepr {
        src_addr: PEER,
        dst_addr: US,
        next_header: IpProtocol::Tcp,
        payload_len: 20,
        hop_limit: 64,
        ecn: crate::wire::IpEcn::NotEct,
    }
}

fn segment(port: u16, flags: TcpFlags, seq: u32, ack: Option<SeqNumber>) -> TcpRepr<'static> {
    let mut repr = TcpRepr {
        src_port: port,
        dst_port: 80,
        seq_number: SeqNumber(seq),
        flags,
        window_len: 8192,
        ..TcpRepr::default()
    };
    if let Some(ack) = ack {
        repr.flags |= TcpFlags::ACK;
        repr.ack_number = ack;
    }
    repr
}

fn syn(port: u16, seq: u32) -> TcpRepr<'static> {
    let mut repr = segment(port, TcpFlags::SYN, seq, None);
    repr.max_seg_size = Some(1460);
    repr
}

/// A set keyed as an interface would key it, with a listener on port 80.
fn with_listener(capacity: SetCapacity, backlog: usize) -> (SocketSet<'static>, SocketHandle) {
    let mut set = SocketSet::with_capacities(capacity);
    set.attach(SipKey([1, 2]));
    let l = set.add(socket(64, 64)).unwrap();
    set.listen(l, 80, backlog, ChildBuffers::Alloc { rx: 4096, tx: 4096 })
        .unwrap();
    let mut c = cx(0);
    set.sync_dirty(&mut c);
    assert_eq!(
        set.pop_trace().map(|e| e.transition.to),
        Some(State::Listen)
    );
    (set, l)
}

/// Processes `repr`; its reply, which must exist, as (flags, seq, ack).
fn exchange(set: &mut SocketSet<'static>, c: &mut Context, repr: &TcpRepr) -> Reply {
    set.process_tcp(c, &ip_in(), repr)
        .expect("a socket or record has it")
}

/// Everything egress sends now.
fn egress_all(set: &mut SocketSet<'static>, c: &mut Context) -> Vec<TcpRepr<'static>> {
    let mut out = Vec::new();
    let (_, busy) = set.egress(c, |_, packet| {
        if let Packet::Tcp(_, tcp) = packet {
            out.push(super::tcp::detach(&tcp));
        }
        Ok::<(), ()>(())
    });
    assert!(busy.is_none());
    out
}

fn transitions(set: &mut SocketSet<'static>) -> Vec<(Option<SocketHandle>, std::string::String)> {
    core::iter::from_fn(|| set.pop_trace())
        .map(|e| (e.handle, std::format!("{}", e.transition)))
        .collect()
}

#[test]
fn handles_carry_generations() {
    let mut set = SocketSet::with_capacity(2);
    let a = set.add(socket(16, 16)).unwrap();
    let b = set.add(socket(16, 16)).unwrap();
    assert_eq!(set.add(socket(16, 16)), Err(SetFull));
    assert_eq!((a.generation(), b.generation()), (0, 0));
    assert!(set.remove(a).is_some());
    assert!(set.get::<TcpSocket>(a).is_none());
    assert!(set.remove(a).is_none(), "a stale handle removes nothing");
    // The slot is reused, under a new generation: the old handle never
    // reaches the new socket.
    let c = set.add(socket(32, 32)).unwrap();
    assert_eq!(c.index(), a.index());
    assert_eq!(c.generation(), 1);
    assert!(set.get::<TcpSocket>(a).is_none());
    assert!(set.get_mut::<TcpSocket>(a).is_none());
    assert_eq!(set.get::<TcpSocket>(c).unwrap().recv_capacity(), 32);
    assert_eq!(set.len(), 2);
    assert_eq!(std::format!("{a} {c}"), "#0 #0.1");
}

#[test]
fn storage_is_checked_once() {
    // Two buckets per slot and record: 18; one short is refused.
    {
        let mut slots = [SocketStorage::EMPTY, SocketStorage::EMPTY];
        let mut half_open = [HalfOpenStorage::EMPTY; 3];
        let mut time_wait = [TimeWaitStorage::EMPTY; 4];
        let mut demux = [DemuxSlot::EMPTY; 17];
        let refused = SocketSet::new(SocketSetStorage {
            sockets: ManagedSlice::Borrowed(&mut slots[..]),
            listeners: ManagedSlice::Borrowed(&mut []),
            half_open: ManagedSlice::Borrowed(&mut half_open[..]),
            time_wait: ManagedSlice::Borrowed(&mut time_wait[..]),
            demux: ManagedSlice::Borrowed(&mut demux[..]),
            trace: ManagedSlice::Borrowed(&mut []),
        });
        assert_eq!(
            refused.err(),
            Some(StorageError::DemuxTooSmall {
                needed: 18,
                provided: 17
            })
        );
    }
    let mut slots = [SocketStorage::EMPTY, SocketStorage::EMPTY];
    let mut half_open = [HalfOpenStorage::EMPTY; 3];
    let mut time_wait = [TimeWaitStorage::EMPTY; 4];
    assert_eq!(
        SetCapacity::for_sockets(2)
            .with_half_open(3)
            .with_time_wait(4)
            .demux_slots(),
        18
    );
    let mut demux = [DemuxSlot::EMPTY; 18];
    let mut set = SocketSet::new(SocketSetStorage {
        sockets: ManagedSlice::Borrowed(&mut slots[..]),
        listeners: ManagedSlice::Borrowed(&mut []),
        half_open: ManagedSlice::Borrowed(&mut half_open[..]),
        time_wait: ManagedSlice::Borrowed(&mut time_wait[..]),
        demux: ManagedSlice::Borrowed(&mut demux[..]),
        trace: ManagedSlice::Borrowed(&mut []),
    })
    .unwrap();
    // Without a listener table, `listen` says so.
    let h = set.add(socket(16, 16)).unwrap();
    assert_eq!(
        set.listen(
            h,
            80,
            1,
            ChildBuffers::Pool(ManagedSlice::Borrowed(&mut []))
        ),
        Err(ListenError::TooManyListeners)
    );
    // Without a trace ring every transition is counted as dropped.
    set.get_mut::<TcpSocket>(h).unwrap().listen(81).unwrap();
    assert_eq!(set.pop_trace(), None);
    assert_eq!(set.trace_dropped(), 1);
}

#[test]
fn every_slot_can_be_dirty_at_once() {
    // The dirty list is threaded through the slots: it cannot be shorter
    // than the set, so no touch is lost.
    let mut set = SocketSet::with_capacity(64);
    set.attach(SipKey([5, 6]));
    let handles: Vec<_> = (0..64).map(|_| set.add(socket(16, 16)).unwrap()).collect();
    for (i, h) in handles.iter().enumerate() {
        let port = 1000 + i as u16;
        set.get_mut::<TcpSocket>(*h).unwrap().listen(port).unwrap();
    }
    let mut c = cx(0);
    set.sync_dirty(&mut c);
    assert_eq!(transitions(&mut set).len(), 64);
    for i in 0..64u16 {
        let mut repr = syn(5000, 1);
        repr.dst_port = 1000 + i;
        // Each listener without a backlog takes the SYN itself.
        assert!(
            set.process_tcp(&mut c, &ip_in(), &repr).is_some(),
            "port {}",
            1000 + i
        );
    }
}

#[test]
fn trace_survives_removal_before_the_next_poll() {
    let mut set = SocketSet::with_capacity(4);
    let h = set.add(socket(64, 64)).unwrap();
    set.get_mut::<TcpSocket>(h).unwrap().listen(80).unwrap();
    set.get_mut::<TcpSocket>(h).unwrap().close();
    // Removed with no poll in between: its transitions are kept.
    assert!(set.remove(h).is_some());
    assert_eq!(
        transitions(&mut set),
        [
            (Some(h), "CLOSED -> LISTEN (listen)".into()),
            (Some(h), "LISTEN -> CLOSED (close)".into())
        ]
    );
    // And pop_trace takes in what the application caused since the poll.
    let h = set.add(socket(64, 64)).unwrap();
    let mut c = cx(5);
    let remote = IpEndpoint::new(PEER, 80);
    set.get_mut::<TcpSocket>(h)
        .unwrap()
        .connect(&mut c, remote, IpEndpoint::new(US, 50000))
        .unwrap();
    set.get_mut::<TcpSocket>(h).unwrap().abort();
    let events: Vec<_> = core::iter::from_fn(|| set.pop_trace()).collect();
    let texts: Vec<_> = events
        .iter()
        .map(|e| std::format!("{}", e.transition))
        .collect();
    assert_eq!(
        texts,
        ["CLOSED -> SYN_SENT (connect)", "SYN_SENT -> CLOSED (abort)"]
    );
    assert_eq!(events[0].remote, Some(remote));
    assert_eq!(events[0].subject().to_string(), std::format!("{h}"));
}

fn on(addr: Option<IpAddress>, port: u16) -> IpListenEndpoint {
    IpListenEndpoint { addr, port }
}

/// A second listener on an endpoint a SYN could match twice is refused with
/// AddressInUse and stays CLOSED; other ports and other specific addresses
/// are fine, and the endpoint is free again once the first listener is gone.
#[test]
fn a_second_listener_on_an_overlapping_endpoint_is_address_in_use() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(8), 4);
    let buffers = || ChildBuffers::Alloc { rx: 64, tx: 64 };
    let other = set.add(socket(64, 64)).unwrap();
    for endpoint in [on(None, 80), on(Some(US), 80)] {
        assert_eq!(
            set.listen(other, endpoint, 4, buffers()),
            Err(ListenError::AddressInUse),
            "{endpoint:?}"
        );
        assert_eq!(
            set.get::<TcpSocket>(other).unwrap().state(),
            State::Closed,
            "a refused listen changes nothing"
        );
    }
    assert_eq!(set.listen(other, 81, 4, buffers()), Ok(()));
    // Specific addresses: the same one conflicts, another does not, and
    // every address conflicts with either.
    let other_addr = IpAddress::v4(192, 0, 2, 9);
    let a = set.add(socket(64, 64)).unwrap();
    let b = set.add(socket(64, 64)).unwrap();
    let any = set.add(socket(64, 64)).unwrap();
    assert_eq!(set.listen(a, on(Some(US), 90), 4, buffers()), Ok(()));
    assert_eq!(
        set.listen(b, on(Some(US), 90), 4, buffers()),
        Err(ListenError::AddressInUse)
    );
    assert_eq!(
        set.listen(b, on(Some(other_addr), 90), 4, buffers()),
        Ok(())
    );
    assert_eq!(
        set.listen(any, on(None, 90), 4, buffers()),
        Err(ListenError::AddressInUse)
    );
    // A listener without a backlog counts too.
    let plain = set.add(socket(64, 64)).unwrap();
    set.get_mut::<TcpSocket>(plain)
        .unwrap()
        .listen(100)
        .unwrap();
    assert_eq!(
        set.listen(any, 100, 4, buffers()),
        Err(ListenError::AddressInUse)
    );
    // Once the first listener is gone, its endpoint is free again.
    set.remove(l);
    assert_eq!(set.listen(any, 80, 4, buffers()), Ok(()));
}

#[test]
fn half_open_connections_are_records_until_the_final_ack() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let mut c = cx(1000);
    let reply = exchange(&mut set, &mut c, &syn(40000, 100)).expect("a SYN-ACK");
    let synack = reply.1;
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(synack.ack_number, SeqNumber(101));
    assert_eq!(synack.window_len, 4096);
    assert_eq!(set.len(), 1, "no slot for a half-open connection");
    assert_eq!(set.pending(l), 1);
    let records: Vec<_> = set.tcp_records().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].state, records[0].remote, records[0].listener),
        (State::SynRcvd, IpEndpoint::new(PEER, 40000), Some(l))
    );
    assert_eq!(
        set.tcp_state(IpEndpoint::new(US, 80), IpEndpoint::new(PEER, 40000)),
        Some(State::SynRcvd)
    );
    assert_eq!(
        transitions(&mut set),
        [(None, "LISTEN -> SYN_RCVD (rcv SYN)".into())]
    );

    // The SYN-ACK is resent at the RTO by the record's timer, with the
    // same sequence number.
    let mut c = cx(1999);
    assert!(egress_all(&mut set, &mut c).is_empty());
    let mut c = cx(2000);
    let resent = egress_all(&mut set, &mut c);
    assert_eq!(resent.len(), 1);
    assert_eq!(
        (resent[0].flags, resent[0].seq_number, resent[0].window_len),
        (TcpFlags::SYN | TcpFlags::ACK, synack.seq_number, 4096)
    );

    // The final ACK, with data: a socket with buffers now, and the data in.
    let mut c = cx(2100);
    let mut ack = segment(40000, TcpFlags::PSH, 101, Some(synack.seq_number + 1));
    ack.payload = b"hello";
    let reply = exchange(&mut set, &mut c, &ack);
    assert!(reply.is_none(), "data is ACKed later (delayed ACK)");
    let child = set.accept(l).expect("established");
    let socket = set.get_mut::<TcpSocket>(child).unwrap();
    assert_eq!(socket.state(), State::Established);
    let mut buf = [0u8; 8];
    assert_eq!(socket.recv_slice(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(set.tcp_records().count(), 0);
    assert_eq!(set.pending(l), 0);
    assert_eq!(
        transitions(&mut set),
        [(Some(child), "SYN_RCVD -> ESTABLISHED (rcv ACK)".into())]
    );
}

#[test]
fn a_rst_returns_a_record_to_listen_and_a_bad_ack_draws_a_rst() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let mut c = cx(0);
    let iss = exchange(&mut set, &mut c, &syn(40001, 7))
        .unwrap()
        .1
        .seq_number;
    // An ACK of something we never sent: <SEQ=SEG.ACK><CTL=RST>, the record
    // stays (RFC 9293 3.10.7.4).
    let bad = segment(40001, TcpFlags::empty(), 8, Some(iss + 5));
    let rst = exchange(&mut set, &mut c, &bad).expect("a RST").1;
    assert_eq!((rst.flags, rst.seq_number), (TcpFlags::RST, iss + 5));
    assert_eq!(set.pending(l), 1);
    // A RST in the window but not at RCV.NXT: a challenge ACK (RFC 5961).
    let mut off = segment(40001, TcpFlags::RST, 100, None);
    off.window_len = 0;
    let challenge = exchange(&mut set, &mut c, &off).expect("a challenge ACK").1;
    assert_eq!(
        (challenge.flags, challenge.ack_number),
        (TcpFlags::ACK, SeqNumber(8))
    );
    // A RST at RCV.NXT: back to LISTEN, the record goes.
    let at = segment(40001, TcpFlags::RST, 8, None);
    assert!(exchange(&mut set, &mut c, &at).is_none());
    assert_eq!(set.pending(l), 0);
    assert_eq!(
        transitions(&mut set),
        [
            (None, "LISTEN -> SYN_RCVD (rcv SYN)".into()),
            (None, "SYN_RCVD -> LISTEN (rcv RST)".into())
        ]
    );
    // The 4-tuple now belongs to nobody: a segment for it meets the
    // listener, which answers an ACK with a RST.
    let late = segment(40001, TcpFlags::empty(), 8, Some(iss + 1));
    let rst = exchange(&mut set, &mut c, &late)
        .expect("the listener's RST")
        .1;
    assert_eq!((rst.flags, rst.seq_number), (TcpFlags::RST, iss + 1));
}

#[test]
fn a_full_syn_queue_answers_with_cookies_that_open_connections() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 1);
    let config = TcpConfig {
        sack: true,
        ..TcpConfig::default()
    };
    set.get_mut::<TcpSocket>(l).unwrap().set_config(config);
    let mut c = cx(60_000);
    exchange(&mut set, &mut c, &syn(41000, 1)).unwrap();
    // The backlog of one is full: the next SYN gets a cookie, no record.
    let mut with_ts = syn(41001, 5000);
    with_ts.window_scale = Some(7);
    with_ts.sack_permitted = true;
    with_ts.timestamp = Some(TcpTimestamp {
        tsval: 777,
        tsecr: 0,
    });
    let (_, cookie) = exchange(&mut set, &mut c, &with_ts).unwrap();
    assert_eq!(set.tcp_records().count(), 1);
    assert_eq!(c.stats.syn_cookies_sent, 1);
    assert_eq!(
        cookie.window_scale,
        Some(0),
        "the child buffer needs no shift"
    );
    assert!(cookie.sack_permitted);
    let ts = cookie.timestamp.expect("timestamps echoed");
    assert_eq!(ts.tsecr, 777);
    // The final ACK carries the cookie back: a connection with the options.
    let mut c = cx(60_050);
    let mut ack = segment(41001, TcpFlags::empty(), 5001, Some(cookie.seq_number + 1));
    ack.window_len = 100;
    ack.timestamp = Some(TcpTimestamp {
        tsval: 800,
        tsecr: ts.tsval,
    });
    assert!(exchange(&mut set, &mut c, &ack).is_none());
    assert_eq!(c.stats.syn_cookies_accepted, 1);
    let child = set.accept(l).expect("the cookie's connection");
    let socket = set.get::<TcpSocket>(child).unwrap();
    assert_eq!(socket.state(), State::Established);
    // The peer's window, scaled by the shift the cookie kept.
    assert_eq!(socket.send_window(), 100 << 7);
    assert_eq!(socket.send_mss(), 1460, "the MSS the cookie kept");
    // A forged ACK is no cookie: the listener answers it with a RST.
    let forged = segment(41002, TcpFlags::empty(), 9, Some(SeqNumber(12345)));
    let rst = exchange(&mut set, &mut c, &forged).unwrap().1;
    assert_eq!(rst.flags, TcpFlags::RST);
    assert_eq!(c.stats.syn_cookies_accepted, 1);
}

#[test]
fn without_cookies_a_full_syn_queue_drops_syns() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 1);
    set.set_listen_options(l, ListenOptions::new().with_syn_cookies(false))
        .unwrap();
    let mut c = cx(0);
    exchange(&mut set, &mut c, &syn(42000, 1)).unwrap();
    assert!(exchange(&mut set, &mut c, &syn(42001, 1)).is_none());
    assert_eq!((c.stats.syn_dropped, c.stats.syn_cookies_sent), (1, 0));
}

#[test]
fn removing_a_listener_drops_its_records() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let mut c = cx(0);
    exchange(&mut set, &mut c, &syn(43000, 1)).unwrap();
    exchange(&mut set, &mut c, &syn(43001, 1)).unwrap();
    transitions(&mut set);
    set.remove(l);
    assert_eq!(set.tcp_records().count(), 0);
    assert_eq!(
        transitions(&mut set),
        [
            (None, "SYN_RCVD -> CLOSED (abort)".into()),
            (None, "SYN_RCVD -> CLOSED (abort)".into())
        ]
    );
    // Their segments now find nothing.
    assert!(
        set.process_tcp(
            &mut c,
            &ip_in(),
            &segment(43000, TcpFlags::empty(), 2, Some(SeqNumber(1)))
        )
        .is_none()
    );
}

#[test]
fn a_fully_closed_connection_becomes_a_time_wait_record() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let mut c = cx(0);
    let iss = exchange(&mut set, &mut c, &syn(44000, 100))
        .unwrap()
        .1
        .seq_number;
    exchange(
        &mut set,
        &mut c,
        &segment(44000, TcpFlags::empty(), 101, Some(iss + 1)),
    );
    let child = set.accept(l).unwrap();
    // We close first; our FIN goes out and is ACKed; the peer's FIN comes.
    set.get_mut::<TcpSocket>(child).unwrap().close();
    set.sync_dirty(&mut c);
    let fin = egress_all(&mut set, &mut c);
    assert_eq!(fin.len(), 1);
    assert!(fin[0].fin());
    let mut c = cx(10);
    let fin_ack = segment(44000, TcpFlags::FIN, 101, Some(iss + 2));
    let ack = exchange(&mut set, &mut c, &fin_ack)
        .expect("our ACK of the FIN")
        .1;
    assert_eq!(ack.ack_number, SeqNumber(102));
    // The socket is gone (buffers and slot), the connection lives on.
    assert!(set.get::<TcpSocket>(child).is_none());
    assert_eq!(set.len(), 1);
    let local = IpEndpoint::new(US, 80);
    let remote = IpEndpoint::new(PEER, 44000);
    assert_eq!(set.tcp_state(local, remote), Some(State::TimeWait));
    // A retransmitted FIN is ACKed again and restarts 2*MSL; a RST does not
    // end TIME_WAIT (RFC 1337).
    let mut c = cx(60_000);
    let again = exchange(&mut set, &mut c, &fin_ack).expect("ACKed again").1;
    assert_eq!(
        (again.seq_number, again.ack_number),
        (iss + 2, SeqNumber(102))
    );
    assert!(exchange(&mut set, &mut c, &segment(44000, TcpFlags::RST, 102, None)).is_none());
    assert_eq!(set.tcp_state(local, remote), Some(State::TimeWait));
    // 2*MSL after the last FIN it ends.
    let mut c = cx(60_000 + 119_999);
    egress_all(&mut set, &mut c);
    assert_eq!(set.tcp_state(local, remote), Some(State::TimeWait));
    let mut c = cx(180_000);
    egress_all(&mut set, &mut c);
    assert_eq!(set.tcp_state(local, remote), None);
    let texts: Vec<_> = transitions(&mut set);
    assert_eq!(
        texts.last(),
        Some(&(None, "TIME_WAIT -> CLOSED (2MSL timeout)".into()))
    );
}

#[test]
fn a_new_syn_reopens_time_wait_as_rfc_6191_allows() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let ts = |tsval| Some(TcpTimestamp { tsval, tsecr: 0 });
    let mut c = cx(0);
    let mut first = syn(45000, 100);
    first.timestamp = ts(1000);
    let synack = exchange(&mut set, &mut c, &first).unwrap().1;
    let iss = synack.seq_number;
    let our_ts = synack.timestamp.unwrap().tsval;
    let mut ack = segment(45000, TcpFlags::empty(), 101, Some(iss + 1));
    ack.timestamp = Some(TcpTimestamp {
        tsval: 1001,
        tsecr: our_ts,
    });
    exchange(&mut set, &mut c, &ack);
    let child = set.accept(l).unwrap();
    set.get_mut::<TcpSocket>(child).unwrap().close();
    set.sync_dirty(&mut c);
    egress_all(&mut set, &mut c);
    let mut fin = segment(45000, TcpFlags::FIN, 101, Some(iss + 2));
    fin.timestamp = Some(TcpTimestamp {
        tsval: 1002,
        tsecr: our_ts,
    });
    exchange(&mut set, &mut c, &fin);
    assert!(set.get::<TcpSocket>(child).is_none());
    transitions(&mut set);

    // A SYN with an older timestamp is not a new connection: TIME_WAIT
    // answers it as the socket did (RFC 5961 4.2: a challenge ACK).
    let mut c = cx(1000);
    let mut old = syn(45000, 90_000);
    old.timestamp = ts(900);
    let answer = exchange(&mut set, &mut c, &old).expect("an ACK").1;
    assert_eq!(
        (answer.flags, answer.ack_number),
        (TcpFlags::ACK, SeqNumber(102))
    );
    assert_eq!(set.tcp_records().count(), 1);
    // A newer timestamp reopens it, whatever the sequence number.
    let mut new = syn(45000, 50);
    new.timestamp = ts(5000);
    let synack = exchange(&mut set, &mut c, &new).expect("a SYN-ACK").1;
    assert_eq!(synack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(synack.ack_number, SeqNumber(51));
    assert_eq!(
        transitions(&mut set),
        [
            (None, "TIME_WAIT -> CLOSED (rcv SYN)".into()),
            (None, "LISTEN -> SYN_RCVD (rcv SYN)".into())
        ]
    );
}

#[test]
fn time_wait_without_timestamps_reopens_beyond_rcv_nxt() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let mut c = cx(0);
    let iss = exchange(&mut set, &mut c, &syn(46000, 100))
        .unwrap()
        .1
        .seq_number;
    exchange(
        &mut set,
        &mut c,
        &segment(46000, TcpFlags::empty(), 101, Some(iss + 1)),
    );
    let child = set.accept(l).unwrap();
    set.get_mut::<TcpSocket>(child).unwrap().close();
    set.sync_dirty(&mut c);
    egress_all(&mut set, &mut c);
    exchange(
        &mut set,
        &mut c,
        &segment(46000, TcpFlags::FIN, 101, Some(iss + 2)),
    );
    // RCV.NXT is 102: a SYN at 102 does not reopen, one at 103 does.
    let at = exchange(&mut set, &mut c, &syn(46000, 102)).unwrap().1;
    assert_eq!(at.flags, TcpFlags::ACK, "challenge ACK");
    let beyond = exchange(&mut set, &mut c, &syn(46000, 103)).unwrap().1;
    assert_eq!(beyond.flags, TcpFlags::SYN | TcpFlags::ACK);
}

#[test]
fn time_wait_records_give_way_oldest_first() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4).with_time_wait(2), 4);
    for (i, port) in [47000u16, 47001, 47002].into_iter().enumerate() {
        let mut c = cx(i as i64 * 1000);
        let iss = exchange(&mut set, &mut c, &syn(port, 100))
            .unwrap()
            .1
            .seq_number;
        exchange(
            &mut set,
            &mut c,
            &segment(port, TcpFlags::empty(), 101, Some(iss + 1)),
        );
        let child = set.accept(l).unwrap();
        set.get_mut::<TcpSocket>(child).unwrap().close();
        set.sync_dirty(&mut c);
        egress_all(&mut set, &mut c);
        exchange(
            &mut set,
            &mut c,
            &segment(port, TcpFlags::FIN, 101, Some(iss + 2)),
        );
        if i == 2 {
            assert_eq!(c.stats.time_wait_evicted, 1);
        }
    }
    let mut ports: Vec<u16> = set.tcp_records().map(|r| r.remote.port).collect();
    ports.sort();
    assert_eq!(ports, [47001, 47002], "the oldest record went");
    let evicted: Vec<_> = transitions(&mut set)
        .into_iter()
        .filter(|(_, t)| t.contains("evicted"))
        .collect();
    assert_eq!(evicted, [(None, "TIME_WAIT -> CLOSED (evicted)".into())]);
}

/// Opens a connection of listener `l` from `port` and accepts it.
fn connected(
    set: &mut SocketSet<'static>,
    l: SocketHandle,
    port: u16,
    now_ms: i64,
) -> Option<SocketHandle> {
    let mut c = cx(now_ms);
    let iss = exchange(set, &mut c, &syn(port, 100))?.1.seq_number;
    exchange(
        set,
        &mut c,
        &segment(port, TcpFlags::empty(), 101, Some(iss + 1)),
    );
    set.accept(l)
}

#[test]
fn a_full_set_evicts_the_connection_idle_longest() {
    // A listener and two connection slots.
    let (mut set, l) = with_listener(SetCapacity::for_sockets(3), 4);
    let a = connected(&mut set, l, 48000, 0).unwrap();
    let b = connected(&mut set, l, 48001, 100).unwrap();
    // `a` hears from its peer later than `b`: `b` is idle longest.
    let mut c = cx(200);
    let a_iss = set.get::<TcpSocket>(a).unwrap().snd_nxt();
    exchange(
        &mut set,
        &mut c,
        &segment(48000, TcpFlags::empty(), 101, Some(a_iss)),
    );
    transitions(&mut set);
    let new = connected(&mut set, l, 48002, 300).expect("served");
    assert!(set.get::<TcpSocket>(b).is_none(), "b gave way");
    assert!(set.get::<TcpSocket>(a).is_some());
    assert_eq!(
        set.get::<TcpSocket>(new).unwrap().state(),
        State::Established
    );
    let events = transitions(&mut set);
    assert!(
        events.contains(&(Some(b), "ESTABLISHED -> CLOSED (evicted)".into())),
        "{events:?}"
    );

    // A socket in LAST_ACK or FIN_WAIT_2 goes before any ESTABLISHED one.
    set.get_mut::<TcpSocket>(new).unwrap().shutdown();
    let mut c = cx(400);
    set.sync_dirty(&mut c);
    egress_all(&mut set, &mut c);
    let fin_acked = set.get::<TcpSocket>(new).unwrap().snd_nxt();
    exchange(
        &mut set,
        &mut c,
        &segment(48002, TcpFlags::empty(), 101, Some(fin_acked)),
    );
    assert_eq!(set.get::<TcpSocket>(new).unwrap().state(), State::FinWait2);
    connected(&mut set, l, 48003, 500).expect("served again");
    assert!(set.get::<TcpSocket>(new).is_none(), "FIN_WAIT_2 gave way");
    assert!(set.get::<TcpSocket>(a).is_some(), "ESTABLISHED stayed");

    // With eviction off, the final ACK is dropped instead.
    set.set_listen_options(l, ListenOptions::new().with_evict(false))
        .unwrap();
    let mut c = cx(600);
    let iss = exchange(&mut set, &mut c, &syn(48004, 100))
        .unwrap()
        .1
        .seq_number;
    assert!(
        exchange(
            &mut set,
            &mut c,
            &segment(48004, TcpFlags::empty(), 101, Some(iss + 1))
        )
        .is_none()
    );
    assert_eq!(c.stats.final_ack_dropped, 1);
    assert_eq!(
        set.pending(l),
        1,
        "still half-open: the peer resends its ACK"
    );
}

#[test]
fn a_listeners_idle_timeout_ends_connections_that_sent_nothing() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4), 4);
    let timeout = Duration::from_secs(5);
    set.set_listen_options(l, ListenOptions::new().with_idle_timeout(Some(timeout)))
        .unwrap();
    let silent = connected(&mut set, l, 49000, 0).unwrap();
    let talker = connected(&mut set, l, 49001, 0).unwrap();
    let mut c = cx(1000);
    let iss = set.get::<TcpSocket>(talker).unwrap().snd_nxt();
    let mut data = segment(49001, TcpFlags::PSH, 101, Some(iss));
    data.payload = b"x";
    exchange(&mut set, &mut c, &data);
    transitions(&mut set);
    assert_eq!(
        set.poll_at(&cx(1000)),
        Some(Instant::from_millis(1100)),
        "the delayed ACK"
    );
    let mut c = cx(1100);
    egress_all(&mut set, &mut c);
    assert_eq!(set.poll_at(&cx(1100)), Some(Instant::from_secs(5)));
    let mut c = cx(5000);
    let sent = egress_all(&mut set, &mut c);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].flags, sent[0].dst_port),
        (TcpFlags::RST | TcpFlags::ACK, 49000)
    );
    assert_eq!(c.stats.idle_timeouts, 1);
    assert_eq!(set.get::<TcpSocket>(silent).unwrap().state(), State::Closed);
    assert_eq!(
        set.get::<TcpSocket>(talker).unwrap().state(),
        State::Established
    );
    assert_eq!(
        transitions(&mut set),
        [(Some(silent), "ESTABLISHED -> CLOSED (idle timeout)".into())]
    );
    let _ = Cause::IdleTimeout;
    let _ = TcpConfig::default();
}

#[test]
fn record_sizes() {
    use core::mem::size_of;
    #[cfg(feature = "proto-ipv6")]
    let (time_wait_max, endpoint) = (80, 20);
    #[cfg(not(feature = "proto-ipv6"))]
    let (time_wait_max, endpoint) = (64, 6);
    assert_eq!(size_of::<IpEndpoint>(), endpoint);
    assert!(
        size_of::<TimeWait>() <= time_wait_max,
        "{}",
        size_of::<TimeWait>()
    );
    assert!(size_of::<HalfOpen>() <= 104, "{}", size_of::<HalfOpen>());
    assert_eq!(size_of::<DemuxSlot>(), 8);
    // A slot costs its socket plus 64 bytes of bookkeeping and links; the
    // other kinds fit in TCP's room, so `Socket` needs no tag of its own.
    assert_eq!(
        size_of::<SocketStorage<'static>>(),
        size_of::<TcpSocket<'static>>() + 64
    );
    assert_eq!(
        size_of::<crate::socket::Socket<'static>>(),
        size_of::<TcpSocket<'static>>()
    );
    assert!(size_of::<crate::socket::udp::UdpSocket<'static>>() < size_of::<TcpSocket<'static>>());
    assert!(
        size_of::<crate::socket::icmp::IcmpSocket<'static>>() < size_of::<TcpSocket<'static>>()
    );
}

#[test]
fn segments_reach_their_owner_as_flows_alternate_and_slots_change_hands() {
    let (mut set, l) = with_listener(SetCapacity::for_sockets(3), 4);
    let a = connected(&mut set, l, 48000, 0).unwrap();
    let b = connected(&mut set, l, 48001, 0).unwrap();
    let mut c = cx(10);
    // Alternating flows: each segment's data lands in its own socket.
    const PAYLOAD: &[u8] = &[7; 5];
    for (round, (port, h)) in [(48000, a), (48001, b), (48000, a), (48001, b)]
        .into_iter()
        .enumerate()
    {
        let s = set.get::<TcpSocket>(h).unwrap();
        let (seq, ack) = (s.rcv_nxt(), s.snd_nxt());
        let mut repr = segment(port, TcpFlags::PSH, seq.0, Some(ack));
        repr.payload = PAYLOAD;
        set.process_tcp(&mut c, &ip_in(), &repr);
        let want = 101 + 5 * (round as u32 / 2 + 1);
        assert_eq!(set.get::<TcpSocket>(h).unwrap().rcv_nxt(), SeqNumber(want));
    }
    assert_eq!(set.get::<TcpSocket>(a).unwrap().recv_queue(), 10);
    assert_eq!(set.get::<TcpSocket>(b).unwrap().recv_queue(), 10);
    // The last hit was `b`; once it is removed and its slot taken by a
    // listener on another port, its flow's next SYN is still the port-80
    // listener's (a SYN-ACK), not the slot's new owner's.
    assert!(set.remove(b).is_some());
    let other = set.add(socket(64, 64)).unwrap();
    set.listen(other, 81, 1, ChildBuffers::Alloc { rx: 64, tx: 64 })
        .unwrap();
    set.sync_dirty(&mut c);
    let reply = exchange(&mut set, &mut c, &syn(48001, 900)).unwrap();
    assert_eq!(reply.1.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(reply.1.ack_number, SeqNumber(901));
    assert_eq!(
        set.pending(l),
        1,
        "a half-open record of the port-80 listener"
    );
    assert_eq!(set.get::<TcpSocket>(other).unwrap().state(), State::Listen);
    assert_eq!(set.get::<TcpSocket>(a).unwrap().state(), State::Established);
}

#[test]
fn a_cookie_connection_takes_the_segments_that_follow_its_final_ack() {
    // A peer's final ACK and its first data segment carry the same
    // sequence and acknowledgment numbers, so both would pass the cookie
    // check: the second must reach the connection the first rebuilt, not
    // rebuild another (a flood keeps the SYN queue full all the while).
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4).with_half_open(1), 4);
    let mut c = cx(60_000);
    exchange(&mut set, &mut c, &syn(41000, 1)).unwrap();
    let (_, cookie) = exchange(&mut set, &mut c, &syn(41001, 5000)).unwrap();
    assert_eq!(c.stats.syn_cookies_sent, 1);
    let ack = segment(41001, TcpFlags::empty(), 5001, Some(cookie.seq_number + 1));
    let mut data = ack;
    data.payload = &[1, 2, 3, 4];
    let mut c = cx(60_001);
    assert!(exchange(&mut set, &mut c, &ack).is_none());
    exchange(&mut set, &mut c, &data);
    // The same again, as a retransmission of both would bring them.
    exchange(&mut set, &mut c, &ack);
    exchange(&mut set, &mut c, &data);
    assert_eq!(c.stats.syn_cookies_accepted, 1);
    let child = set.accept(l).expect("the cookie's connection");
    assert!(set.accept(l).is_none(), "one connection, not two");
    assert_eq!(set.pending(l), 1, "the half-open record only");
    let mut got = [0u8; 8];
    let n = set
        .get_mut::<TcpSocket>(child)
        .unwrap()
        .recv_slice(&mut got)
        .unwrap();
    assert_eq!(&got[..n], &[1, 2, 3, 4]);
    // After accept, and with other flows in between.
    let mut c = cx(60_002);
    exchange(&mut set, &mut c, &syn(41002, 9000));
    let mut more = segment(41001, TcpFlags::empty(), 5005, Some(cookie.seq_number + 1));
    more.payload = &[5, 6];
    exchange(&mut set, &mut c, &ack);
    exchange(&mut set, &mut c, &more);
    assert_eq!(c.stats.syn_cookies_accepted, 0);
    assert!(set.accept(l).is_none());
    let n = set
        .get_mut::<TcpSocket>(child)
        .unwrap()
        .recv_slice(&mut got)
        .unwrap();
    assert_eq!(&got[..n], &[5, 6]);
}

#[test]
fn an_ack_after_a_cookie_connection_closed_rebuilds_nothing() {
    // What CI saw: an echo of 100,000 bytes through a cookie connection,
    // closed by us (LAST_ACK -> CLOSED on the peer's ACK of our FIN); a
    // second copy of that ACK then met the listener. Its SEQ and ACK moved
    // by the same 100,001 from the cookie's, which must not pass as one.
    let (mut set, l) = with_listener(SetCapacity::for_sockets(4).with_half_open(1), 4);
    let mut c = cx(60_000);
    exchange(&mut set, &mut c, &syn(41000, 1)).unwrap();
    let (_, cookie) = exchange(&mut set, &mut c, &syn(41001, 5000)).unwrap();
    let iss = cookie.seq_number;
    let ack = segment(41001, TcpFlags::empty(), 5001, Some(iss + 1));
    assert!(exchange(&mut set, &mut c, &ack).is_none());
    assert_eq!(c.stats.syn_cookies_accepted, 1);
    // The late ACK, as if 100,000 bytes and a FIN had gone each way.
    let late = segment(
        41001,
        TcpFlags::empty(),
        5001 + 100_001,
        Some(iss + 1 + 100_001),
    );
    let child = set.accept(l).expect("the cookie's connection");
    set.remove(child);
    let mut c = cx(60_100);
    let rst = exchange(&mut set, &mut c, &late)
        .expect("the listener's RST")
        .1;
    assert_eq!(
        (rst.flags, rst.seq_number),
        (TcpFlags::RST, iss + 1 + 100_001)
    );
    assert_eq!(c.stats.syn_cookies_accepted, 0);
    assert!(set.accept(l).is_none());
}
