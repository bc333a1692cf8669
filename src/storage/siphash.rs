//! SipHash-2-4 (CONTRACT STUB: the storage helper implements it), the keyed
//! hash behind ISNs (RFC 6528) and the demultiplexing table.

/// A 128-bit SipHash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SipKey(pub [u64; 2]);

/// SipHash-2-4 of `data` under `key`.
pub fn siphash24(key: &SipKey, data: &[u8]) -> u64 { let _ = (key, data); todo!() }

/// SipHash-1-3 of `data` under `key`: faster, for hash-table keys.
pub fn siphash13(key: &SipKey, data: &[u8]) -> u64 { let _ = (key, data); todo!() }
