//! Wakers (feature `async`): each of the two slots fires on exactly the
//! events it is documented for, once per registration, and not on
//! segments that change nothing its task waits for. Counted with a waker
//! built from a static vtable.

use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{RawWaker, RawWakerVTable, Waker};

use super::*;
use crate::socket::tcp::{RecvError, TcpError};
use State::*;

/// What one counting waker saw: wakes and clones.
#[derive(Default)]
struct Counts {
    wakes: AtomicUsize,
    clones: AtomicUsize,
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn counts(data: *const ()) -> &'static Counts {
    // SAFETY: every RawWaker of this vtable carries a pointer to a leaked
    // (so 'static) `Counts`, made by `counting_waker`.
    unsafe { &*data.cast::<Counts>() }
}

fn clone(data: *const ()) -> RawWaker {
    counts(data).clones.fetch_add(1, Ordering::Relaxed);
    RawWaker::new(data, &VTABLE)
}

fn wake(data: *const ()) {
    counts(data).wakes.fetch_add(1, Ordering::Relaxed);
}

fn wake_by_ref(data: *const ()) {
    counts(data).wakes.fetch_add(1, Ordering::Relaxed);
}

fn drop_waker(_: *const ()) {}

/// A waker counting its wakes and clones in the returned `Counts`.
fn counting_waker() -> (Waker, &'static Counts) {
    let counts: &'static Counts = std::boxed::Box::leak(std::boxed::Box::default());
    let raw = RawWaker::new((counts as *const Counts).cast(), &VTABLE);
    // SAFETY: the vtable's functions keep the RawWaker contract: the data
    // pointer stays valid forever and clone returns an equivalent waker.
    (unsafe { Waker::from_raw(raw) }, counts)
}

impl Counts {
    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::Relaxed)
    }
}

/// Registers a fresh counting waker in each slot.
fn register_both(h: &mut Harness) -> (&'static Counts, &'static Counts) {
    let (recv, recv_counts) = counting_waker();
    let (send, send_counts) = counting_waker();
    h.socket.register_recv_waker(&recv);
    h.socket.register_send_waker(&send);
    (recv_counts, send_counts)
}

#[test]
fn arriving_data_wakes_the_receiver_only() {
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), bytes(100)));
    assert_eq!((recv.wakes(), send.wakes()), (1, 0));
    // One registration, one wake: more data wakes nobody until the task
    // registers again.
    h.recv(seg(ACK | PSH, IRS + 101, Some(ISS + 1), bytes(100)));
    assert_eq!(recv.wakes(), 1);
}

#[test]
fn out_of_order_data_wakes_nobody_until_the_gap_fills() {
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    // Nothing readable yet: the data sits beyond a hole.
    h.recv(seg(ACK, IRS + 101, Some(ISS + 1), bytes(100)));
    assert_eq!((recv.wakes(), send.wakes()), (0, 0));
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), bytes(100)));
    assert_eq!((recv.wakes(), send.wakes()), (1, 0));
    assert_eq!(h.socket.recv_queue(), 200);
}

#[test]
fn acknowledged_data_wakes_the_sender_only() {
    let mut h = established();
    h.socket.set_nagle_enabled(false);
    h.socket.send_slice(bytes(3000)).unwrap();
    assert_eq!(h.dispatch_all().len(), 3);
    let (recv, send) = register_both(&mut h);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1461), b""));
    assert_eq!((recv.wakes(), send.wakes()), (0, 1));
    assert_eq!(h.socket.send_queue(), 1540);
}

#[test]
fn a_pure_ack_that_frees_nothing_wakes_nobody() {
    let mut h = established();
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 1), 100);
    let (recv, send) = register_both(&mut h);
    // A duplicate ACK, a window update and an old ACK free no buffer space
    // and bring no data.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b""));
    let mut update = seg(ACK, IRS + 1, Some(ISS + 1), b"");
    update.window_len = 1000;
    h.recv(update);
    h.recv(seg(ACK, IRS + 1, Some(ISS), b""));
    assert_eq!((recv.wakes(), send.wakes()), (0, 0));
    assert_eq!(h.state(), Established);
    // The ACK that does free the data wakes the sender.
    h.recv(seg(ACK, IRS + 1, Some(ISS + 101), b""));
    assert_eq!((recv.wakes(), send.wakes()), (0, 1));
}

#[test]
fn establishing_wakes_both_on_an_active_open() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    let (recv, send) = register_both(&mut h);
    h.recv(with_mss(seg(SYN | ACK, IRS, Some(ISS + 1), b""), 1460))
        .unwrap();
    assert_eq!(h.state(), Established);
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn establishing_wakes_both_on_a_passive_open() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.socket.listen(LOCAL.port).unwrap();
    h.socket.set_next_isn(SeqNumber(ISS));
    h.recv(with_mss(seg(SYN, IRS, None, b""), 1460));
    h.dispatch().unwrap().is(SYN | ACK, ISS, Some(IRS + 1), 0);
    let (recv, send) = register_both(&mut h);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 1), b""));
    assert_eq!(h.state(), Established);
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn the_peers_fin_wakes_the_receiver() {
    let mut h = established();
    let (recv, _) = register_both(&mut h);
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 1), b""));
    assert_eq!(h.state(), CloseWait);
    assert_eq!(recv.wakes(), 1);
    assert_eq!(h.socket.recv_slice(&mut [0; 8]), Err(RecvError::Finished));
}

#[test]
fn our_close_completing_wakes_both() {
    let mut h = in_state(FinWait1, true);
    let (recv, send) = register_both(&mut h);
    h.recv(seg(ACK, IRS + 1, Some(ISS + 2), b""));
    assert_eq!(h.state(), FinWait2);
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
    let (recv, send) = register_both(&mut h);
    h.recv(seg(FIN | ACK, IRS + 1, Some(ISS + 2), b""));
    assert_eq!(h.state(), TimeWait);
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn a_reset_wakes_both_with_the_error_set() {
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    h.recv(seg(RST, IRS + 1, None, b""));
    assert_eq!(h.state(), Closed);
    assert_eq!(h.socket.error(), Some(TcpError::Reset));
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn a_refused_connect_wakes_both() {
    let mut h = Harness::new(65536, 65536, plain_config());
    h.connect(ISS);
    let (recv, send) = register_both(&mut h);
    h.recv(seg(RST | ACK, 0, Some(ISS + 1), b""));
    assert_eq!(h.socket.error(), Some(TcpError::Refused));
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn a_timeout_wakes_both_with_the_error_set() {
    let mut h = Harness::new(
        65536,
        65536,
        TcpConfig {
            user_timeout: Some(secs(5)),
            ..plain_config()
        },
    );
    h.establish_active(ISS, IRS);
    h.socket.send_slice(bytes(10)).unwrap();
    h.dispatch().unwrap();
    let (recv, send) = register_both(&mut h);
    // Retransmissions before the deadline wake nobody.
    for at in [1, 3] {
        h.set_time(Instant::from_secs(at));
        h.dispatch().unwrap();
    }
    assert_eq!((recv.wakes(), send.wakes()), (0, 0));
    h.set_time(Instant::from_secs(5));
    h.dispatch()
        .unwrap()
        .is(RST | ACK, ISS + 11, Some(IRS + 1), 0);
    assert_eq!(h.socket.error(), Some(TcpError::TimedOut));
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}

#[test]
fn sending_and_delayed_acks_wake_nobody() {
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    h.socket.send_slice(bytes(100)).unwrap();
    h.dispatch().unwrap();
    h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), bytes(10)));
    assert_eq!(recv.wakes(), 1);
    let (recv, _) = register_both(&mut h);
    // The delayed ACK going out changes nothing a task waits for.
    h.set_time(Instant::ZERO + ms(100));
    h.dispatch().unwrap().is(ACK, ISS + 101, Some(IRS + 11), 0);
    // Nor does a retransmission.
    h.set_time(Instant::from_secs(1));
    h.dispatch()
        .unwrap()
        .is(ACK | PSH, ISS + 1, Some(IRS + 11), 100);
    assert_eq!((recv.wakes(), send.wakes()), (0, 0));
}

#[test]
fn registering_the_same_task_again_keeps_the_stored_waker() {
    let mut h = established();
    let (waker, counts) = counting_waker();
    h.socket.register_recv_waker(&waker);
    h.socket.register_recv_waker(&waker);
    h.socket.register_recv_waker(&waker.clone());
    // One clone into the slot, one by the test's own `clone()` above:
    // the re-registrations stored nothing new.
    assert_eq!(counts.clones.load(Ordering::Relaxed), 2);
    // Another task's waker replaces it: only the new one fires.
    let (other, other_counts) = counting_waker();
    h.socket.register_recv_waker(&other);
    h.recv(seg(ACK | PSH, IRS + 1, Some(ISS + 1), bytes(10)));
    assert_eq!((counts.wakes(), other_counts.wakes()), (0, 1));
}

#[test]
fn application_state_changes_wake_too() {
    // A close moves the state: a task waiting elsewhere on the socket
    // learns of it at once.
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    h.socket.close();
    assert_eq!(h.state(), FinWait1);
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
    let mut h = established();
    let (recv, send) = register_both(&mut h);
    h.socket.abort();
    assert_eq!((recv.wakes(), send.wakes()), (1, 1));
}
