//! Case 8 of issue 5: the handshake, transfer and close of cases 1 and 2
//! over a TAP device instead of a veth pair. The TAP is created inside a
//! private network namespace; its host side there has 192.0.2.2/24 and is
//! the kernel peer; pollnet reads and writes the TAP's fd. Root only;
//! without root, iproute2 or /dev/net/tun the case shows as ignored, with
//! the reason.

mod interop;
#[macro_use]
mod runner;

use std::net::TcpListener;
use std::os::fd::AsRawFd;

use interop::cases::*;
use interop::netenv::TapNet;
use interop::stack::*;
use interop::{CaseTimer, megabytes, serial};
use pollnet::socket::tcp::{State, TcpSocket};
use runner::Need;

fn main() -> std::process::ExitCode {
    runner::main(vec![
        case!(case8_tap_handshake_transfer_close_both_roles)
            .root()
            .programs(&["ip"])
            .needs(Need::Path("/dev/net/tun".into())),
    ])
}

fn case8_tap_handshake_transfer_close_both_roles() {
    let _serial = serial();
    let _timer = CaseTimer::start("case 8");
    let (net, tap) = TapNet::create().expect("TAP test network");
    let fd = tap.as_raw_fd();
    let tcp = tcp_config(MSL);
    let mut stack = Stack::new(tap, fd, tcp);
    let size = megabytes(100);

    // The kernel connects to pollnet and closes first.
    let listener = listen(&mut stack, tcp, 5008, 4);
    let kernel = kernel_client(&net.ns, 5008, Order::SendFirst, size);
    let first = connection(
        &mut stack,
        tcp,
        Opener::Accept(listener),
        Order::RecvFirst,
        size,
        kernel,
        "case 8 conn 1",
    );
    check_streams(
        &first,
        size,
        "case 8 conn 1 (TAP, kernel client closes first)",
    );
    assert_eq!(texts(&first.events), PASSIVE_CLOSE_SERVER);

    // pollnet connects to the kernel and closes first: TIME_WAIT.
    let kernel_listener = net
        .ns
        .run(|| TcpListener::bind(kernel_addr(5009)))
        .expect("kernel listener");
    let kernel = kernel_server(&kernel_listener, Order::RecvFirst, size);
    let second = connection(
        &mut stack,
        tcp,
        Opener::Connect(5009),
        Order::SendFirst,
        size,
        kernel,
        "case 8 conn 2",
    );
    check_streams(
        &second,
        size,
        "case 8 conn 2 (TAP, pollnet client closes first)",
    );
    assert_eq!(texts(&second.events), ACTIVE_CLOSE_CLIENT);
    assert_time_wait_lasted(&second.events, "case 8 conn 2");

    assert_eq!(
        stack.sockets.get::<TcpSocket>(listener).unwrap().state(),
        State::Listen
    );
    assert_eq!(stack.sockets.len(), 1);
    let stats = stack.iface.stats();
    println!(
        "stats: case 8: longest pause between polls {:?}; TAP {:?}; {stats:?}",
        stack.longest_pause,
        stack.device.stats()
    );
    assert_eq!(stats.rx_drop_tcp_checksum + stats.rx_drop_ipv4_checksum, 0);
    assert_eq!(
        stack
            .iface
            .neighbor(KERNEL_IP, pollnet::time::Instant::now()),
        Some(net.kernel_mac)
    );
}
