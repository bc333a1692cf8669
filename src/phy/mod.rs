//! Physical layer: the `Device` trait (TEMPORARY contract copy in the iface
//! branch; the phy branch's file replaces it at merge).
use crate::time::Instant;
pub use crate::wire::{Checksum, ChecksumCapabilities};
/// Medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Medium {
    /// Ethernet.
    #[default]
    Ethernet,
}
/// Capabilities.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DeviceCapabilities {
    /// Medium.
    pub medium: Medium,
    /// IP MTU.
    pub max_transmission_unit: usize,
    /// Burst.
    pub max_burst_size: Option<usize>,
    /// Checksums.
    pub checksum: ChecksumCapabilities,
}
impl DeviceCapabilities {
    /// mtu + 14.
    pub fn max_frame_len(&self) -> usize {
        self.max_transmission_unit + 14
    }
}
/// Device.
pub trait Device {
    /// Rx.
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    /// Tx.
    type TxToken<'a>: TxToken
    where
        Self: 'a;
    /// Receive.
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)>;
    /// Transmit.
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>>;
    /// Caps.
    fn capabilities(&self) -> DeviceCapabilities;
}
/// Rx token.
pub trait RxToken {
    /// Consume.
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R;
}
/// Tx token.
pub trait TxToken {
    /// Consume.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}
