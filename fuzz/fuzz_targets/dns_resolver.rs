//! The DNS resolver driven by arbitrary event sequences; the
//! properties checked after every event are listed in
//! `pollnet_fuzz::client_events`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pollnet_fuzz::client_events::run_dns(data);
});
