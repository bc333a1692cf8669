//! Arbitrary fragment sequences into IPv4 reassembly (see
//! `pollnet_fuzz::reassembly` for the input language): no panic, the
//! memory and slot bounds hold, and every datagram it completes carries
//! exactly the bytes its fragments did. Seeds: fuzz/corpus/reassembly,
//! written by tests/fuzz_reassembly.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pollnet_fuzz::reassembly::check_reassembly(data);
});
