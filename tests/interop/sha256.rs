//! SHA-256 (FIPS 180-4), streaming, for comparing what one side sent with
//! what the other received without keeping 100 MB in memory: the `sha2`
//! crate (which picks the CPU's SHA extensions at run time), with the count
//! of bytes hashed that the transfer checks report.

use sha2::Digest;

/// A running SHA-256 computation that counts its input.
#[derive(Clone, Default)]
pub struct Sha256 {
    hasher: sha2::Sha256,
    total_len: u64,
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.total_len
    }

    pub fn update(&mut self, data: &[u8]) {
        self.total_len += data.len() as u64;
        self.hasher.update(data);
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }

    pub fn digest(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
