//! Arbitrary bytes through Ethernet -> IPv4 -> TCP parsing with checksum
//! verification; whatever parses is re-emitted and must parse again to the
//! same representation (see `pollnet_fuzz::check_frame`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pollnet_fuzz::check_frame(data);
});
