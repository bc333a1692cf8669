//! DNS messages from dnsmasq and glibc (linux-dns.pcap): parsed, CNAME
//! chains followed, queries emitted byte for byte; hostile names (loops,
//! forward and out-of-range pointers, long labels and names); never-panic
//! loops.

extern crate std;
use super::*;
use crate::wire::testdata::{DNS_PCAP, Rng, udp_payload};
use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

fn message(number: usize) -> &'static [u8] {
    udp_payload(DNS_PCAP, number)
}

fn parse(bytes: &[u8]) -> Result<DnsRepr<'_>> {
    DnsRepr::parse(&DnsPacket::new_checked(bytes)?)
}

fn emit(query: &DnsQueryRepr) -> Result<Vec<u8>> {
    let mut out = vec![0xa5u8; query.buffer_len()];
    query.emit(&mut DnsPacket::new_unchecked(&mut out[..]))?;
    Ok(out)
}

/// The addresses `resolve` finds for the first question, as text.
fn resolved(repr: &DnsRepr) -> Vec<String> {
    let question = repr.question().unwrap();
    repr.resolve(question.name)
        .map(|record| match record.data {
            DnsRecordData::A(addr) => addr.to_string(),
            #[cfg(feature = "proto-ipv6")]
            DnsRecordData::Aaaa(addr) => addr.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn queries_equal_linux_bytes() {
    // Our query for A test.example with the ids of the python client and
    // of glibc's getent: the same bytes they sent.
    for (number, id) in [(1, 0x1001), (17, 0xf8cc)] {
        let query = DnsQueryRepr {
            id,
            recursion_desired: true,
            name: "test.example",
            qtype: DnsRecordType::A,
        };
        assert_eq!(emit(&query).unwrap(), message(number), "frame {number}");
        let repr = parse(message(number)).unwrap();
        assert!(!repr.is_response && repr.recursion_desired);
        assert_eq!(repr.opcode, DnsOpcode::Query);
        let question = repr.question().unwrap();
        assert!(question.name.matches("test.example"));
        assert!(question.name.matches("TEST.Example."));
        assert_eq!(
            (question.qtype, question.qclass),
            (DnsRecordType::A, CLASS_IN)
        );
    }
    // A trailing dot changes nothing.
    let dotted = DnsQueryRepr {
        id: 0x1002,
        recursion_desired: true,
        name: "test.example.",
        qtype: DnsRecordType::Aaaa,
    };
    assert_eq!(emit(&dotted).unwrap(), message(3));
}

#[test]
fn dnsmasq_answers() {
    let repr = parse(message(2)).unwrap();
    assert!(repr.is_response && repr.authoritative && repr.recursion_desired);
    assert!(repr.recursion_available && !repr.truncated);
    assert_eq!((repr.id, repr.rcode), (0x1001, DnsRcode::NoError));
    assert_eq!(repr.counts(), [1, 1, 0, 0]);
    let answer = repr.answers().next().unwrap();
    // The owner name is a pointer to the question's name.
    assert_eq!(&message(2)[30..32], &[0xc0, 0x0c]);
    assert_eq!(answer.name, repr.question().unwrap().name);
    assert_eq!(answer.name.to_string(), "test.example");
    assert_eq!(
        (answer.rtype, answer.class, answer.ttl),
        (DnsRecordType::A, CLASS_IN, 0)
    );
    assert_eq!(resolved(&repr), ["192.0.2.80"]);

    let repr = parse(message(4)).unwrap();
    assert_eq!(repr.answers().next().unwrap().rtype, DnsRecordType::Aaaa);
    #[cfg(feature = "proto-ipv6")]
    assert_eq!(resolved(&repr), ["2001:db8::80"]);
    #[cfg(not(feature = "proto-ipv6"))]
    assert!(matches!(
        repr.answers().next().unwrap().data,
        DnsRecordData::Aaaa([0x20, 0x01, 0x0d, 0xb8, ..])
    ));
}

#[test]
fn cname_chains() {
    // www.example CNAME alias.example CNAME web.example A 192.0.2.81.
    let repr = parse(message(6)).unwrap();
    assert_eq!(repr.counts(), [1, 3, 0, 0]);
    let types: Vec<_> = repr.answers().map(|r| r.rtype).collect();
    assert_eq!(
        types,
        [DnsRecordType::Cname, DnsRecordType::Cname, DnsRecordType::A]
    );
    let DnsRecordData::Cname(first) = repr.answers().next().unwrap().data else {
        panic!()
    };
    assert_eq!(first.to_string(), "alias.example");
    assert_eq!(resolved(&repr), ["192.0.2.81"]);
    let mut chain = repr.resolve(repr.question().unwrap().name);
    assert!(chain.next().is_some() && chain.next().is_none());
    assert!(chain.canonical_name().matches("web.example"));
    #[cfg(feature = "proto-ipv6")]
    assert_eq!(resolved(&parse(message(16)).unwrap()), ["2001:db8::81"]);
    // The chain starts from the name given: from alias.example it skips
    // the first CNAME.
    let alias = first;
    assert_eq!(repr.resolve(alias).count(), 1);
}

#[test]
fn nxdomain_refused_and_truncated() {
    let repr = parse(message(12)).unwrap();
    assert_eq!(repr.rcode, DnsRcode::NameError);
    assert_eq!(repr.counts(), [1, 0, 0, 0]);
    assert!(resolved(&repr).is_empty());

    // More than 512 bytes of answers: dnsmasq sets TC and sends 30 of 40.
    let repr = parse(message(14)).unwrap();
    assert!(repr.truncated);
    assert_eq!(repr.counts(), [1, 30, 0, 0]);
    assert_eq!(resolved(&repr).len(), 30);
    // Cut in the middle of a record: what is complete is kept with TC set,
    // and refused without it.
    let cut = &message(14)[..message(14).len() - 3];
    assert_eq!(parse(cut).unwrap().counts(), [1, 29, 0, 0]);
    let mut no_tc = cut.to_vec();
    no_tc[2] &= !0x02;
    assert_eq!(parse(&no_tc), Err(Error::Truncated));
}

/// A response with the header, `body`, and the given counts.
fn response(counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x12, 0x34, 0x81, 0x80];
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// The question "a.example A IN" at offset 12 (a at 12, example at 14).
const QUESTION: &[u8] = b"\x01a\x07example\x00\x00\x01\x00\x01";

fn a_record(name: &[u8], addr: [u8; 4]) -> Vec<u8> {
    [name, &[0, 1, 0, 1, 0, 0, 0, 60, 0, 4], &addr].concat()
}

fn cname_record(name: &[u8], target: &[u8]) -> Vec<u8> {
    let len = target.len() as u16;
    [name, &[0, 5, 0, 1, 0, 0, 0, 60], &len.to_be_bytes(), target].concat()
}

#[test]
fn hostile_names() {
    let name_error = |name: &[u8]| {
        let bytes = response([1, 0, 0, 0], &[name, &[0, 1, 0, 1]].concat());
        parse(&bytes).map(|_| ())
    };
    // A pointer to itself, forward, past the end, into its own name.
    assert_eq!(name_error(&[0xc0, 12]), Err(Error::BadPointer));
    assert_eq!(name_error(&[0xc0, 14]), Err(Error::BadPointer));
    assert_eq!(name_error(&[0xff, 0xff]), Err(Error::BadPointer));
    assert_eq!(name_error(&[1, b'a', 0xc0, 13]), Err(Error::BadPointer));
    // A pointer cut in half, a label past the end, no root label.
    assert_eq!(name_error(&[0xc0]), Err(Error::Truncated));
    assert_eq!(
        parse(&response([1, 0, 0, 0], &[5, b'a'])),
        Err(Error::Truncated)
    );
    assert_eq!(
        parse(&response([1, 0, 0, 0], &[1, b'a'])),
        Err(Error::Truncated)
    );
    // The reserved 01 and 10 label types.
    assert_eq!(name_error(&[0x41, 0]), Err(Error::BadLabel));
    assert_eq!(name_error(&[0x80, 0]), Err(Error::BadLabel));
    // 63-byte labels are fine, until the name passes 255 bytes.
    let label = [[63u8].as_slice(), &[b'x'; 63]].concat();
    let three = [
        label.clone(),
        label.clone(),
        label.clone(),
        vec![61],
        vec![b'y'; 61],
        vec![0],
    ]
    .concat();
    assert_eq!(three.len(), 255);
    assert_eq!(name_error(&three), Ok(()));
    let four = [label.clone(), label.clone(), label.clone(), label, vec![0]].concat();
    assert_eq!(name_error(&four), Err(Error::NameTooLong));

    // Through pointers the length still counts: a record owner name of
    // 4 * 63 bytes plus a pointer to the 63-byte question name.
    let question = [[63u8].as_slice(), &[b'q'; 63], &[0, 0, 1, 0, 1]].concat();
    let long = [vec![63u8], vec![b'r'; 63]].concat().repeat(3);
    let owner = [long.as_slice(), &[0xc0, 12]].concat();
    let body = [question.clone(), a_record(&owner, [192, 0, 2, 1])].concat();
    assert_eq!(
        parse(&response([1, 1, 0, 0], &body)),
        Err(Error::NameTooLong)
    );

    // Questions whose names are each a pointer to the previous one's: a
    // chain of pointers moving backwards, allowed up to MAX_POINTERS.
    let chain = |extra: usize| {
        let mut body = QUESTION.to_vec();
        let mut previous = 12u16;
        for _ in 0..extra {
            let here = (HEADER_LEN + body.len()) as u16;
            body.extend_from_slice(&(0xc000 | previous).to_be_bytes());
            body.extend_from_slice(&[0, 1, 0, 1]);
            previous = here;
        }
        response([1 + extra as u16, 0, 0, 0], &body)
    };
    let bytes = chain(MAX_POINTERS);
    let repr = parse(&bytes).unwrap();
    assert!(repr.questions().all(|q| q.name.matches("a.example")));
    assert_eq!(repr.questions().count(), MAX_POINTERS + 1);
    assert_eq!(parse(&chain(MAX_POINTERS + 1)), Err(Error::BadPointer));
}

#[test]
fn hostile_records() {
    // Counts larger than the message.
    assert_eq!(
        parse(&response([1, 1, 0, 0], QUESTION)),
        Err(Error::Truncated)
    );
    assert_eq!(
        parse(&response([2, 0, 0, 0], QUESTION)),
        Err(Error::Truncated)
    );
    assert_eq!(
        parse(&response([0, 0, 0, 65535], &[])),
        Err(Error::Truncated)
    );
    // An A record of 5 bytes.
    let mut bad_a = a_record(&[0xc0, 12], [1, 2, 3, 4]);
    bad_a[11] = 5;
    bad_a.push(5);
    let body = [QUESTION, &bad_a].concat();
    assert_eq!(
        parse(&response([1, 1, 0, 0], &body)),
        Err(Error::Unrecognized)
    );
    // rdata past the end.
    let mut long = a_record(&[0xc0, 12], [1, 2, 3, 4]);
    long[11] = 9;
    let body = [QUESTION, &long].concat();
    assert_eq!(parse(&response([1, 1, 0, 0], &body)), Err(Error::Truncated));
    // A CNAME whose name runs past its data.
    let mut cname = cname_record(&[0xc0, 12], b"\x01b\xc0\x0e");
    cname[11] = 3;
    let body = [QUESTION, &cname].concat();
    assert_eq!(
        parse(&response([1, 1, 0, 0], &body)),
        Err(Error::LengthTooSmall)
    );
    // A CNAME with a bad pointer in its target.
    let cname = cname_record(&[0xc0, 12], b"\x01b\xc0\xff");
    let body = [QUESTION, &cname].concat();
    assert_eq!(
        parse(&response([1, 1, 0, 0], &body)),
        Err(Error::BadPointer)
    );
    // Other classes' A data and other types stay raw.
    let mut chaos = a_record(&[0xc0, 12], [1, 2, 3, 4]);
    chaos[5] = 3;
    let body = [QUESTION, &chaos].concat();
    let bytes = response([1, 1, 0, 0], &body);
    let repr = parse(&bytes).unwrap();
    assert_eq!(
        repr.answers().next().unwrap().data,
        DnsRecordData::Other(&[1, 2, 3, 4])
    );
    // Bytes after the last record are ignored.
    let body = [QUESTION, &[0xde, 0xad]].concat();
    assert!(parse(&response([1, 0, 0, 0], &body)).is_ok());
    for len in 0..HEADER_LEN {
        assert_eq!(parse(&message(2)[..len]), Err(Error::Truncated));
        assert_eq!(
            DnsPacket::new_unchecked(&message(2)[..len]).to_string(),
            "DNS (truncated header)"
        );
    }
}

#[test]
fn cname_loops_end() {
    // a.example CNAME b.a.example (at 28+10), b.a.example CNAME a.example.
    let first = cname_record(&[0xc0, 12], b"\x01b\xc0\x0c");
    let b_at = (HEADER_LEN + QUESTION.len() + 2 + 10) as u8;
    let second = cname_record(&[0xc0, b_at], &[0xc0, 12]);
    let a = a_record(&[0xc0, 12], [192, 0, 2, 7]);
    let body = [QUESTION, &first, &second, &a].concat();
    let bytes = response([1, 3, 0, 0], &body);
    let repr = parse(&bytes).unwrap();
    let mut chain = repr.resolve(repr.question().unwrap().name);
    // The A record of a.example is found on each of the visits the bound
    // allows (the first and then every second hop), and the loop ends.
    let found = chain.by_ref().count();
    assert_eq!(found, 1 + MAX_CNAME_CHAIN / 2);
    assert!(chain.next().is_none());
}

#[test]
fn name_helpers() {
    let repr = parse(message(6)).unwrap();
    let name = repr.question().unwrap().name;
    assert_eq!(name.wire_len(), 13);
    let mut out = [0u8; 13];
    assert_eq!(name.copy_uncompressed(&mut out), Ok(13));
    assert_eq!(&out, b"\x03www\x07example\x00");
    assert!(name.eq_uncompressed(b"\x03WWW\x07example\x00"));
    assert!(!name.eq_uncompressed(b"\x03www\x07example"));
    assert!(!name.eq_uncompressed(b"\x03www\x07exampl\x00"));
    assert!(!name.eq_uncompressed(b"\x03www\x07example\x00\x00"));
    assert_eq!(
        name.copy_uncompressed(&mut out[..12]),
        Err(Error::BufferTooSmall)
    );
    assert!(!name.matches("www.example.com") && !name.matches("www") && !name.matches(""));
    assert_eq!(format!("{name:?}"), "DnsName(www.example)");
    // The last answer's owner is compressed; copying expands it.
    let last = repr.answers().last().unwrap();
    let mut out = [0u8; 32];
    let len = last.name.copy_uncompressed(&mut out).unwrap();
    assert_eq!(&out[..len], b"\x03web\x07example\x00");

    // Escaped text, and the root.
    let odd = response([1, 0, 0, 0], b"\x04a.b\\\x00\x00\x01\x00\x01");
    let repr = parse(&odd).unwrap();
    let name = repr.question().unwrap().name;
    assert_eq!(name.to_string(), "a\\046b\\092");
    assert!(!name.matches("a.b\\"));
    let root = response([1, 0, 0, 0], b"\x00\x00\x02\x00\x01");
    let repr = parse(&root).unwrap();
    let name = repr.question().unwrap().name;
    assert!(name.is_root() && name.matches(".") && name.matches(""));
    assert_eq!(name.to_string(), ".");
}

#[test]
fn query_emit_errors() {
    fn query(name: &str) -> DnsQueryRepr<'_> {
        DnsQueryRepr {
            id: 1,
            recursion_desired: false,
            name,
            qtype: DnsRecordType::A,
        }
    }
    for bad in ["a..b", ".a", "..", "a.b.."] {
        assert_eq!(emit(&query(bad)), Err(Error::BadLabel), "{bad:?}");
    }
    assert_eq!(emit(&query(&"x".repeat(64))), Err(Error::BadLabel));
    assert!(emit(&query(&"x".repeat(63))).is_ok());
    let long_name = vec!["y".repeat(63); 4].join(".");
    assert_eq!(emit(&query(&long_name)), Err(Error::NameTooLong));
    let mut labels = vec!["y".repeat(63); 3];
    labels.push("z".repeat(61));
    let max_name = labels.join(".");
    let bytes = emit(&query(&max_name)).unwrap();
    assert_eq!(
        parse(&bytes).unwrap().question().unwrap().name.wire_len(),
        255
    );
    // The root query, no recursion.
    let bytes = emit(&query(".")).unwrap();
    assert_eq!(
        bytes,
        b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"
    );
    let q = query("a.example");
    let mut short = vec![0u8; q.buffer_len() - 1];
    assert_eq!(
        q.emit(&mut DnsPacket::new_unchecked(&mut short[..])),
        Err(Error::BufferTooSmall)
    );
}

#[test]
fn header_view_and_codes() {
    let packet = DnsPacket::new_checked(message(14)).unwrap();
    assert_eq!(packet.flags(), 0x8780);
    assert!(packet.truncated() && packet.authoritative() && packet.is_response());
    assert!(!packet.authentic_data() && !packet.checking_disabled());
    assert_eq!(
        packet.to_string(),
        "DNS id=0x1007 response qd=1 an=30 ns=0 ar=0"
    );
    let mut bytes = [0u8; 12];
    let mut packet = DnsPacket::new_unchecked(&mut bytes[..]);
    packet.set_id(0xabcd);
    packet.set_flags(0x2830);
    packet.set_question_count(1);
    packet.set_answer_count(2);
    packet.set_authority_count(3);
    packet.set_additional_count(4);
    assert!(packet.payload_mut().is_empty());
    let packet = DnsPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.opcode(), DnsOpcode::Update);
    assert!(packet.authentic_data() && packet.checking_disabled());
    assert_eq!(
        (
            packet.question_count(),
            packet.answer_count(),
            packet.authority_count(),
            packet.additional_count()
        ),
        (1, 2, 3, 4)
    );
    for value in 0..=255u8 {
        assert_eq!(u8::from(DnsRcode::from(value)), value);
        assert_eq!(u8::from(DnsOpcode::from(value)), value);
    }
    for value in 0..=1024u16 {
        assert_eq!(u16::from(DnsRecordType::from(value)), value);
    }
}

#[test]
fn parse_never_panics() {
    let mut rng = Rng(0xd25);
    let mut parsed = 0;
    for round in 0..30_000 {
        let seed = message(1 + rng.below(18));
        let bytes = if round % 10 == 0 {
            let len = rng.below(100);
            let mut bytes = rng.bytes(len);
            // Pointers, mostly.
            for byte in bytes.iter_mut().skip(12) {
                if rng.below(3) == 0 {
                    *byte |= 0xc0;
                }
            }
            bytes
        } else {
            rng.mutate(seed)
        };
        let Ok(repr) = parse(&bytes) else {
            continue;
        };
        parsed += 1;
        let mut buf = [0u8; MAX_NAME_LEN];
        for question in repr.questions() {
            let len = question.name.copy_uncompressed(&mut buf).unwrap();
            assert!(question.name.eq_uncompressed(&buf[..len]));
            assert!(question.name.labels().count() <= 127);
            let _ = question.name.to_string();
            assert!(repr.resolve(question.name).count() <= 9 * usize::from(repr.counts()[1]));
        }
        for record in repr
            .answers()
            .chain(repr.authority())
            .chain(repr.additional())
        {
            assert!(record.name.copy_uncompressed(&mut buf).is_ok());
            if let DnsRecordData::Cname(target) = record.data {
                assert!(target.wire_len() <= MAX_NAME_LEN);
            }
        }
        assert_eq!(repr.questions().count(), usize::from(repr.counts()[0]));
        assert_eq!(repr.answers().count(), usize::from(repr.counts()[1]));
    }
    assert!(parsed > 5_000, "{parsed}");
}
