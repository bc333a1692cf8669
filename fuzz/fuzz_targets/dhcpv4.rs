//! Arbitrary bytes as a DHCPv4 message: parse never panics, and whatever
//! parses re-emits to the same representation (see `check_dhcpv4`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/wire_props.rs"]
mod wire_props;

fuzz_target!(|data: &[u8]| {
    wire_props::check_dhcpv4(data);
});
