//! drill: runs packetdrill-style scripts against pollnet.

#[allow(dead_code)]
mod engine;

fn main() {}
