//! Arbitrary bytes as an IPv6 packet (extension headers, ICMPv6 with NDP
//! and MLD, UDP) or, when the first byte is not version 6, as a bare
//! ICMPv6 message: parse never panics, and whatever parses re-emits to the
//! same representation (see `check_ipv6`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/wire_props.rs"]
mod wire_props;

fuzz_target!(|data: &[u8]| {
    wire_props::check_ipv6(data);
});
