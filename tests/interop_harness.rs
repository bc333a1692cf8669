//! The interop harness itself: our use of SHA-256 against FIPS 180-4 / NIST vectors,
//! the seeded streams, the test network's setup and teardown, and the
//! kernel-to-kernel baseline the pollnet figures are compared with. The
//! cases that build networks need root, iproute2 and ethtool; without them
//! they show as ignored, with the reason.

mod interop;
#[macro_use]
mod runner;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration as StdDuration, Instant as WallClock};

use interop::netenv::{self, KernelPair, Offload, VethNet, must};
use interop::sha256::{Sha256, hex};
use interop::stack::{Order, throughput};
use interop::stream::{Source, fill};
use interop::{CaseTimer, kernel, megabytes, serial};
use runner::Case;

fn main() -> std::process::ExitCode {
    let network = |case: Case| case.root().programs(&["ip", "ethtool"]);
    runner::main(vec![
        case!(sha256_known_answers),
        case!(streams_are_the_same_however_they_are_cut),
        case!(sha256_speed),
        network(case!(test_network_is_torn_down_even_on_panic)),
        network(case!(kernel_to_kernel_baseline_100mb_each_way)),
    ])
}

fn sha256_known_answers() {
    // FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the empty string.
    assert_eq!(
        hex(&Sha256::digest(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&Sha256::digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&Sha256::digest(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        hex(&Sha256::digest(
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        )),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    );
    // One million 'a', fed in uneven pieces across the 64-byte blocks, as
    // the transfers feed it.
    let mut h = Sha256::new();
    let million = vec![b'a'; 1_000_000];
    let mut rest = &million[..];
    for step in [1, 63, 64, 65, 127, 1000].iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = (*step).min(rest.len());
        h.update(&rest[..n]);
        rest = &rest[n..];
    }
    assert_eq!(h.len(), 1_000_000);
    assert_eq!(
        hex(&h.finish()),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

fn streams_are_the_same_however_they_are_cut() {
    let mut whole = vec![0u8; 100_003];
    fill(42, 0, &mut whole);
    let mut pieces = vec![0u8; whole.len()];
    let mut at = 0;
    for len in [1usize, 7, 8, 9, 4096, 13].iter().cycle() {
        if at == pieces.len() {
            break;
        }
        let end = (at + len).min(pieces.len());
        fill(42, at as u64, &mut pieces[at..end]);
        at = end;
    }
    assert_eq!(whole, pieces);
    let mut other = vec![0u8; 64];
    fill(43, 0, &mut other);
    assert_ne!(&whole[..64], &other[..]);

    // A source handing out its stream in whatever pieces a socket takes.
    let mut source = Source::new(42, whole.len() as u64);
    let mut collected = Vec::new();
    let mut take = 1;
    while !source.is_done() {
        let chunk = source.pending();
        let n = take.min(chunk.len());
        collected.extend_from_slice(&chunk[..n]);
        source.advance(n);
        take = take * 3 % 70_001 + 1;
    }
    assert_eq!(collected, whole);
}

fn sha256_speed() {
    // Not an assertion: the figure says how much of a transfer's time the
    // test's own hashing takes.
    let data = vec![0x5au8; 64 << 20];
    let mut h = Sha256::new();
    let start = WallClock::now();
    h.update(&data);
    let digest = h.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sha256: {:.0} MB/s ({})",
        data.len() as f64 / 1e6 / secs,
        &hex(&digest)[..8]
    );
}

/// The test network appears with the names promised and disappears when
/// dropped, also when a test panics while holding it.
fn test_network_is_torn_down_even_on_panic() {
    let _serial = serial();
    let (ns_name, pollnet_if) = {
        let net = VethNet::create(Offload::TxOff).expect("test network");
        assert!(must("ip", &["netns", "list"]).contains(&net.ns.name));
        must("ip", &["link", "show", "dev", &net.pollnet_if]);
        let addrs = must("ip", &["-o", "addr", "show", "dev", &net.pollnet_if]);
        assert!(
            !addrs.contains("inet "),
            "pollnet's end has no IPv4 address: {addrs}"
        );
        let kernel_addrs = net
            .ns
            .ip(&["-o", "-4", "addr", "show", "dev", &net.kernel_if]);
        assert!(kernel_addrs.contains("192.0.2.2/24"), "{kernel_addrs}");
        let features = net.ns.exec("ethtool", &["-k", &net.kernel_if]).unwrap();
        assert!(features.contains("tx-checksumming: off"), "{features}");
        (net.ns.name.clone(), net.pollnet_if.clone())
    };
    assert!(!must("ip", &["netns", "list"]).contains(&ns_name));
    assert!(netenv::run("ip", &["link", "show", "dev", &pollnet_if]).is_err());

    // Named, so the panic message it prints says it is on purpose.
    let names = std::thread::Builder::new()
        .name("panics-on-purpose".into())
        .spawn(|| {
            let net = VethNet::create(Offload::On).expect("test network");
            let names = (net.ns.name.clone(), net.pollnet_if.clone());
            std::panic::panic_any(names);
        })
        .expect("spawn")
        .join()
        .expect_err("the thread panicked");
    let (ns_name, pollnet_if) = names.downcast_ref::<(String, String)>().unwrap().clone();
    assert!(!must("ip", &["netns", "list"]).contains(&ns_name));
    assert!(netenv::run("ip", &["link", "show", "dev", &pollnet_if]).is_err());
}

/// Kernel <-> kernel over a veth pair, 100 MB each way with the same
/// programs (and the same SHA-256 work) as the pollnet cases: the figure
/// pollnet's throughput is compared with in BENCHMARKS.md.
fn kernel_to_kernel_baseline_100mb_each_way() {
    let _serial = serial();
    let _timer = CaseTimer::start("kernel-to-kernel baseline");
    let size = megabytes(100);
    for offload in [Offload::TxOff, Offload::On] {
        let pair = KernelPair::create(offload).expect("test network");
        let listener = pair.b.run(|| TcpListener::bind("192.0.2.2:5100")).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept()?;
            kernel::transfer(stream, Order::RecvFirst, 2, size)
        });
        let client = pair.a.spawn(move || {
            let addr = SocketAddr::from(([192, 0, 2, 2], 5100));
            let stream = TcpStream::connect_timeout(&addr, StdDuration::from_secs(10))?;
            kernel::transfer(stream, Order::SendFirst, 1, size)
        });
        let c = client.join().unwrap().unwrap();
        let s = server.join().unwrap().unwrap();
        assert_eq!(
            (c.sent, s.received, s.sent, c.received),
            (size, size, size, size)
        );
        assert_eq!(c.sent_sha, s.received_sha);
        assert_eq!(s.sent_sha, c.received_sha);
        println!(
            "throughput: kernel<->kernel veth ({offload:?} on both ends): {} MB each way; a->b {:.1} MB/s, b->a {:.1} MB/s",
            size / 1_000_000,
            throughput(size, c.send_start, s.recv_end),
            throughput(size, s.send_start, c.recv_end),
        );
        drop(pair);
    }
}
