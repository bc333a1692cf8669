//! The sizes the [`TcpSocket`] docs state ("What a connection costs"), on
//! a 64-bit target: a change of the socket's layout must update them.

use core::mem::size_of;

use super::TcpSocket;
use crate::socket::SocketStorage;

/// The socket's size with the features of this build: `std` alone is the
/// documented 3,680 bytes; `async` adds two wakers, `proto-ipv6` larger
/// endpoints.
#[cfg(target_pointer_width = "64")]
#[test]
fn socket_and_slot_sizes_match_the_docs() {
    let mut expected = 3680;
    if cfg!(feature = "async") {
        expected += 32;
    }
    if cfg!(feature = "proto-ipv6") {
        expected += 32;
    }
    assert_eq!(size_of::<TcpSocket<'static>>(), expected);
    assert_eq!(size_of::<SocketStorage<'static>>(), expected + 64);
}
