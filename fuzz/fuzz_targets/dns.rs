//! Arbitrary bytes as a DNS message: parse never panics (hostile
//! compression pointers included), every name and record iterates, and the
//! first question re-emitted as a query parses back to itself (see
//! `check_dns`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/wire_props.rs"]
mod wire_props;

fuzz_target!(|data: &[u8]| {
    wire_props::check_dns(data);
});
