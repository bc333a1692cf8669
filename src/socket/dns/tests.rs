//! The resolver on a virtual clock: exact query bytes, retransmission and
//! rotation deadlines, answers through CNAME chains, and hostile answers
//! (compression loops, pointers out of range) as errors.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::wire::Ipv4Address;

const SEED: u128 = 0xd15_0000_0000_0000_0000_0000_0000_0005;
const S0: IpAddress = IpAddress::Ipv4(Ipv4Address::new(198, 51, 100, 53));
const S1: IpAddress = IpAddress::Ipv4(Ipv4Address::new(198, 51, 100, 54));
const TARGET: Ipv4Address = Ipv4Address::new(192, 0, 2, 80);

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn resolver(servers: &[IpAddress]) -> DnsSocket<'static> {
    DnsSocket::new(servers, vec![None; 2], SEED)
}

fn send(r: &mut DnsSocket, now: Instant) -> Option<(IpEndpoint, Vec<u8>)> {
    let mut buf = vec![0u8; MAX_QUERY_LEN];
    let tx = r.dispatch(now, &mut buf)?;
    buf.truncate(tx.len);
    Some((tx.dst, buf))
}

/// `test.example` in wire form.
const NAME: &[u8] = b"\x04test\x07example\x00";

fn query_bytes(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    // RD; one question.
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    out
}

/// A response to query `id` for `test.example` A with `flags_low` (RA,
/// rcode), `answers` records (already encoded, names may point at the
/// question's name at offset 12) and the TC bit.
fn response(id: u16, rcode: u8, tc: bool, ancount: u16, answers: &[u8]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.push(0x81 | if tc { 0x02 } else { 0 });
    out.push(0x80 | rcode);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(NAME);
    out.extend_from_slice(&[0, 1, 0, 1]);
    out.extend_from_slice(answers);
    out
}

/// A record: `owner` (encoded), type, class IN, `ttl`, `data`.
fn record(owner: &[u8], rtype: u16, ttl: u32, data: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A pointer to the question's name.
const AT_QUESTION: &[u8] = &[0xc0, 12];

fn start(r: &mut DnsSocket, now: Instant) -> (DnsQueryHandle, u16) {
    let handle = r.start_query(now, "test.example", DnsQueryType::A).unwrap();
    let (dst, bytes) = send(r, now).unwrap();
    assert_eq!(dst, IpEndpoint::new(S0, 53));
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    (handle, id)
}

#[test]
fn query_bytes_exact_and_ids_unpredictable() {
    let mut r = resolver(&[S0]);
    let handle = r
        .start_query(at(0), "test.example.", DnsQueryType::A)
        .unwrap();
    assert_eq!(r.poll_at(), Some(at(0)));
    let (dst, bytes) = send(&mut r, at(0)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S0, 53));
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    assert_eq!(bytes, query_bytes(id, NAME, 1));
    assert_eq!(r.get_query_result(handle), Err(DnsError::Pending));
    // A second query in flight gets another id, not the next number.
    let second = r
        .start_query(at(0), "test.example", DnsQueryType::A)
        .unwrap();
    let (_, bytes2) = send(&mut r, at(0)).unwrap();
    let id2 = u16::from_be_bytes([bytes2[0], bytes2[1]]);
    assert_ne!(id2, id);
    assert_ne!(id2, id.wrapping_add(1));
    assert_eq!(
        r.start_query(at(0), "x", DnsQueryType::A),
        Err(DnsStartError::TableFull)
    );
    r.cancel_query(second).unwrap();
    // The same seed draws the same ids; another seed others.
    let mut twin = resolver(&[S0]);
    twin.start_query(at(0), "test.example", DnsQueryType::A)
        .unwrap();
    assert_eq!(send(&mut twin, at(0)).unwrap().1, bytes);
    let mut other = DnsSocket::new(&[S0], vec![None; 2], SEED + 1);
    other
        .start_query(at(0), "test.example", DnsQueryType::A)
        .unwrap();
    assert_ne!(send(&mut other, at(0)).unwrap().1, bytes);
}

#[cfg(feature = "proto-ipv6")]
#[test]
fn aaaa_query_and_answer() {
    use crate::wire::Ipv6Address;
    let mut r = resolver(&[S0]);
    let handle = r
        .start_query(at(0), "test.example", DnsQueryType::Aaaa)
        .unwrap();
    let (_, bytes) = send(&mut r, at(0)).unwrap();
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    assert_eq!(bytes, query_bytes(id, NAME, 28));
    let addr = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
    ];
    let mut reply = response(id, 0, false, 2, &record(AT_QUESTION, 28, 60, &addr));
    reply.extend_from_slice(&record(AT_QUESTION, 1, 60, &TARGET.0));
    // The question says AAAA.
    reply[12 + NAME.len() + 1] = 28;
    r.process(at(5), IpEndpoint::new(S0, 53), &reply);
    let answer = r.get_query_result(handle).unwrap();
    assert_eq!(answer.addresses(), &[IpAddress::Ipv6(Ipv6Address(addr))]);
}

#[test]
fn answer_with_compressed_owner() {
    let mut r = resolver(&[S0]);
    let (handle, id) = start(&mut r, at(0));
    let mut answers = record(AT_QUESTION, 1, 300, &TARGET.0);
    answers.extend_from_slice(&record(AT_QUESTION, 1, 60, &[192, 0, 2, 81]));
    let reply = response(id, 0, false, 2, &answers);
    r.process(at(20), IpEndpoint::new(S0, 53), &reply);
    let answer = r.get_query_result(handle).unwrap();
    assert_eq!(
        answer.addresses(),
        &[
            IpAddress::Ipv4(TARGET),
            IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 81))
        ]
    );
    assert_eq!(
        (answer.ttl, answer.truncated, answer.cname_hops),
        (60, false, 0)
    );
    // The slot is free; the handle names nothing now.
    assert_eq!(r.get_query_result(handle), Err(DnsError::InvalidHandle));
    assert_eq!(r.poll_at(), None);
    // A late duplicate is unmatched.
    r.process(at(30), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(r.stats().rx_unmatched, 1);
}

#[test]
fn retransmission_and_rotation_deadlines() {
    let mut r = resolver(&[S0, S1]);
    let (handle, id) = start(&mut r, at(0));
    // 1 s per server in the first round, 2 s in the second, 4 s in the
    // third, alternating servers; then the query times out.
    let schedule = [(1000, S1), (2000, S0), (4000, S1), (6000, S0), (10_000, S1)];
    for (ms, server) in schedule {
        assert_eq!(r.poll_at(), Some(at(ms)));
        assert_eq!(send(&mut r, at(ms) - Duration::from_micros(1)), None);
        let (dst, bytes) = send(&mut r, at(ms)).unwrap();
        assert_eq!(dst, IpEndpoint::new(server, 53), "at {ms} ms");
        // Each copy is the same query, id included.
        assert_eq!(bytes, query_bytes(id, NAME, 1));
    }
    assert_eq!(r.stats().retransmissions, 5);
    assert_eq!(r.poll_at(), Some(at(14_000)));
    assert_eq!(send(&mut r, at(14_000)), None);
    assert_eq!(r.poll_at(), None);
    assert_eq!(r.get_query_result(handle), Err(DnsError::Timeout));
}

#[test]
fn cname_chain_followed() {
    let mut r = resolver(&[S0]);
    let (handle, id) = start(&mut r, at(0));
    // test.example CNAME a.test.example (pointing into the question),
    // a.test.example CNAME b.example, b.example A; the A comes first.
    let answers_at = 12 + NAME.len() + 4;
    let cname_a = [&b"\x01a"[..], AT_QUESTION].concat();
    // "example" starts at offset 17, inside the question's name.
    let b_example = [&b"\x01b"[..], &[0xc0, 17][..]].concat();
    // Record 1: b.example A.
    let mut answers = record(&b_example, 1, 30, &TARGET.0);
    // Record 2: test.example CNAME a.test.example.
    let a_at = answers_at + answers.len() + 2 + 10;
    answers.extend_from_slice(&record(AT_QUESTION, 5, 30, &cname_a));
    // Record 3: a.test.example (a pointer to record 2's data) CNAME
    // b.example (a pointer to record 1's owner).
    answers.extend_from_slice(&record(
        &[0xc0, a_at as u8],
        5,
        30,
        &[0xc0, answers_at as u8],
    ));
    let reply = response(id, 0, false, 3, &answers);
    r.process(at(10), IpEndpoint::new(S0, 53), &reply);
    let answer = r.get_query_result(handle).unwrap();
    assert_eq!(answer.addresses(), &[IpAddress::Ipv4(TARGET)]);
    assert_eq!(answer.cname_hops, 2);

    // A chain that ends without an address: the resolver asks again for
    // the canonical name (RFC 1034 section 5.3.3), with a new id, and the
    // handle follows.
    let (handle, id) = start(&mut r, at(20));
    let reply = response(id, 0, false, 1, &record(AT_QUESTION, 5, 30, &cname_a));
    r.process(at(21), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(r.get_query_result(handle), Err(DnsError::Pending));
    assert_eq!(r.poll_at(), Some(at(21)));
    let (dst, bytes) = send(&mut r, at(21)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S0, 53));
    let new_id = u16::from_be_bytes([bytes[0], bytes[1]]);
    assert_ne!(new_id, id);
    let a_name = b"\x01a\x04test\x07example\x00";
    assert_eq!(bytes, query_bytes(new_id, a_name, 1));
    // A late answer to the first id is not matched any more.
    r.process(at(22), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(r.get_query_result(handle), Err(DnsError::Pending));
    // The answer for a.test.example: its A record; one hop counted.
    let mut answer = bytes.clone();
    answer[2] |= 0x80;
    answer[3] = 0x80;
    answer[7] = 1;
    answer.extend_from_slice(&record(AT_QUESTION, 1, 30, &TARGET.0));
    r.process(at(23), IpEndpoint::new(S0, 53), &answer);
    let result = r.get_query_result(handle).unwrap();
    assert_eq!(result.addresses(), &[IpAddress::Ipv4(TARGET)]);
    assert_eq!(result.cname_hops, 1);
    // The canonical name without addresses either: no records.
    let (handle, id) = start(&mut r, at(25));
    let reply = response(id, 0, false, 1, &record(AT_QUESTION, 5, 30, &cname_a));
    r.process(at(26), IpEndpoint::new(S0, 53), &reply);
    let (_, bytes) = send(&mut r, at(26)).unwrap();
    let mut empty = bytes.clone();
    empty[2] |= 0x80;
    empty[3] = 0x80;
    r.process(at(27), IpEndpoint::new(S0, 53), &empty);
    assert_eq!(r.get_query_result(handle), Err(DnsError::NoRecords));

    // A loop of aliases ends too: test.example -> a.test.example -> back.
    let (handle, id) = start(&mut r, at(30));
    let mut answers = record(AT_QUESTION, 5, 30, &cname_a);
    let a_at = 12 + NAME.len() + 4 + 2 + 10;
    answers.extend_from_slice(&record(&[0xc0, a_at as u8], 5, 30, AT_QUESTION));
    let reply = response(id, 0, false, 2, &answers);
    r.process(at(31), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(r.get_query_result(handle), Err(DnsError::NoRecords));
}

#[test]
fn compression_loop_and_out_of_range_pointer_are_errors() {
    for (what, owner) in [
        // A pointer to itself (the answer's owner starts right here).
        ("self loop", vec![0xc0, (12 + NAME.len() + 4) as u8]),
        // A pointer past the end of the message.
        ("out of range", vec![0xff, 0xff]),
        // A forward pointer into the record's own data.
        ("forward", vec![0xc0, (12 + NAME.len() + 4 + 20) as u8]),
    ] {
        let mut r = resolver(&[S0]);
        let (handle, id) = start(&mut r, at(0));
        let reply = response(id, 0, false, 1, &record(&owner, 1, 60, &TARGET.0));
        r.process(at(10), IpEndpoint::new(S0, 53), &reply);
        assert_eq!(
            r.get_query_result(handle),
            Err(DnsError::Malformed(WireError::BadPointer)),
            "{what}"
        );
    }
    // Two pointers pointing at each other in CNAME data.
    let mut r = resolver(&[S0]);
    let (handle, id) = start(&mut r, at(0));
    let data_at = 12 + NAME.len() + 4 + 2 + 10;
    let reply = response(
        id,
        0,
        false,
        1,
        &record(
            AT_QUESTION,
            5,
            60,
            &[0xc0, data_at as u8 + 2, 0xc0, data_at as u8],
        ),
    );
    r.process(at(10), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(
        r.get_query_result(handle),
        Err(DnsError::Malformed(WireError::BadPointer))
    );
}

#[test]
fn rcodes_nxdomain_and_server_failure_rotation() {
    let mut r = resolver(&[S0, S1]);
    let (handle, id) = start(&mut r, at(0));
    r.process(
        at(5),
        IpEndpoint::new(S0, 53),
        &response(id, 3, false, 0, &[]),
    );
    assert_eq!(r.get_query_result(handle), Err(DnsError::NameNotFound));

    // SERVFAIL from the first server: the second is asked at once.
    let (handle, id) = start(&mut r, at(100));
    r.process(
        at(105),
        IpEndpoint::new(S0, 53),
        &response(id, 2, false, 0, &[]),
    );
    assert_eq!(r.get_query_result(handle), Err(DnsError::Pending));
    assert_eq!(r.poll_at(), Some(at(105)));
    let (dst, _) = send(&mut r, at(105)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S1, 53));
    // The failed server is skipped from then on.
    let (dst, _) = send(&mut r, at(1105)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S1, 53));
    // REFUSED from the second: every server failed.
    r.process(
        at(1110),
        IpEndpoint::new(S1, 53),
        &response(id, 5, false, 0, &[]),
    );
    assert_eq!(
        r.get_query_result(handle),
        Err(DnsError::ServerFailure(DnsRcode::Refused))
    );
}

#[test]
fn icmp_unreachable_moves_to_the_next_server() {
    use crate::socket::{IcmpErrorKind, IcmpErrorReport};
    use crate::wire::Icmpv4DstUnreachable;
    let unreachable = |server: IpAddress, at_ms: u64, port: u16| IcmpErrorReport {
        reporter: server,
        remote: IpEndpoint::new(server, port),
        kind: IcmpErrorKind::DstUnreachable(Icmpv4DstUnreachable::PortUnreachable),
        at: at(at_ms),
    };
    let mut r = resolver(&[S0, S1]);
    let (handle, _) = start(&mut r, at(0));
    // About another port, or a server not asked: nothing changes.
    r.on_icmp_error(unreachable(S0, 10, 5353));
    r.on_icmp_error(unreachable(S1, 10, 53));
    assert_eq!(r.poll_at(), Some(at(1000)));
    // The first server's port is closed: the second is asked at once.
    r.on_icmp_error(unreachable(S0, 20, 53));
    assert_eq!(r.poll_at(), Some(at(20)));
    let (dst, _) = send(&mut r, at(20)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S1, 53));
    // Its timeout is the first round's; then S1 again (S0 is skipped).
    let (dst, _) = send(&mut r, at(1020)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S1, 53));
    // The second is unreachable too: the query fails.
    r.on_icmp_error(unreachable(S1, 1030, 53));
    assert_eq!(r.get_query_result(handle), Err(DnsError::Unreachable));
}

#[test]
fn truncation_reported() {
    let mut r = resolver(&[S0]);
    let (handle, id) = start(&mut r, at(0));
    // TC set, the answer section cut off: no address.
    let reply = response(id, 0, true, 3, &record(AT_QUESTION, 1, 60, &TARGET.0)[..10]);
    r.process(at(5), IpEndpoint::new(S0, 53), &reply);
    assert_eq!(r.get_query_result(handle), Err(DnsError::Truncated));
    // TC set with one complete address: the address, marked truncated.
    let (handle, id) = start(&mut r, at(10));
    let reply = response(id, 0, true, 2, &record(AT_QUESTION, 1, 60, &TARGET.0));
    r.process(at(15), IpEndpoint::new(S0, 53), &reply);
    let answer = r.get_query_result(handle).unwrap();
    assert_eq!(answer.addresses(), &[IpAddress::Ipv4(TARGET)]);
    assert!(answer.truncated);
}

#[test]
fn spoofed_and_stray_responses_are_ignored() {
    let mut r = resolver(&[S0]);
    let (handle, id) = start(&mut r, at(0));
    let good = response(id, 0, false, 1, &record(AT_QUESTION, 1, 60, &TARGET.0));
    // Not a configured server; not port 53; another id.
    let stranger = IpAddress::Ipv4(Ipv4Address::new(203, 0, 113, 9));
    r.process(at(1), IpEndpoint::new(stranger, 53), &good);
    r.process(at(1), IpEndpoint::new(S0, 5353), &good);
    r.process(
        at(1),
        IpEndpoint::new(S0, 53),
        &response(
            id ^ 0x8000,
            0,
            false,
            1,
            &record(AT_QUESTION, 1, 60, &TARGET.0),
        ),
    );
    // Another question (the name changed).
    let mut other_name = good.clone();
    other_name[13] = b'x';
    r.process(at(1), IpEndpoint::new(S0, 53), &other_name);
    assert_eq!(r.stats().rx_unmatched, 4);
    // A query, not a response; too short.
    r.process(at(1), IpEndpoint::new(S0, 53), &query_bytes(id, NAME, 1));
    r.process(at(1), IpEndpoint::new(S0, 53), &good[..11]);
    assert_eq!(r.stats().rx_malformed, 2);
    assert_eq!(r.get_query_result(handle), Err(DnsError::Pending));
    // The name compares without case (RFC 4343).
    let mut upper = good.clone();
    upper[13] = b'T';
    r.process(at(2), IpEndpoint::new(S0, 53), &upper);
    assert_eq!(
        r.get_query_result(handle).unwrap().addresses(),
        &[IpAddress::Ipv4(TARGET)]
    );
}

#[test]
fn start_errors_and_server_updates() {
    let mut r = resolver(&[]);
    assert_eq!(
        r.start_query(at(0), "test.example", DnsQueryType::A),
        Err(DnsStartError::NoServers)
    );
    // Non-unicast servers are dropped; at most MAX_SERVERS kept.
    r.set_servers(&[
        IpAddress::Ipv4(Ipv4Address::UNSPECIFIED),
        S0,
        S1,
        S0,
        S1,
        S0,
    ]);
    assert_eq!(r.servers(), &[S0, S1, S0, S1]);
    for bad in ["a..b", ".a", &"x".repeat(64), &["abc"; 70].join(".")] {
        assert_eq!(
            r.start_query(at(0), bad, DnsQueryType::A),
            Err(DnsStartError::InvalidName),
            "{bad}"
        );
    }
    // A query whose servers change mid-flight asks the new ones.
    let (handle, _) = start(&mut r, at(0));
    r.set_servers(&[S1]);
    let (dst, _) = send(&mut r, at(1000)).unwrap();
    assert_eq!(dst, IpEndpoint::new(S1, 53));
    r.cancel_query(handle).unwrap();
    assert_eq!(r.cancel_query(handle), Err(DnsError::InvalidHandle));
    assert_eq!(r.poll_at(), None);
    // A short buffer sends nothing and leaves the copy due.
    r.start_query(at(2000), "test.example", DnsQueryType::A)
        .unwrap();
    assert_eq!(r.dispatch(at(2000), &mut [0u8; 10]), None);
    assert_eq!(r.poll_at(), Some(at(2000)));
}
