//! What the fuzz targets share with each other and with the crate's tests
//! (tests/fuzz_corpus.rs includes these files with `#[path]`).

pub mod client_events;
pub mod reassembly;
mod roundtrip;
pub mod socket_events;
pub mod world;

pub use roundtrip::*;
