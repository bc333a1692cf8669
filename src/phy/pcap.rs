//! Captures: [`PcapReplay`], a device that plays the frames of a pcap or
//! pcapng file at their captured times, and [`PcapWriter`], a middleware
//! that records what passes through any device to a pcap file.
//!
//! Files written here are classic pcap (not pcapng): little-endian,
//! version 2.4, microsecond timestamps, link type Ethernet (1), or raw IP
//! (`LINKTYPE_RAW`, 101) for a device of the IP medium, what
//! Wireshark, tshark and tcpdump all read. The few bytes of that format are
//! written here directly (so the stream can be flushed after each frame);
//! reading uses the `pcap-file` crate. A timestamp is the [`Instant`] the
//! frame passed, as seconds and microseconds since the caller's epoch; pcap
//! cannot hold a time before its epoch, so negative instants are written as
//! zero.

use core::cell::RefCell;
use core::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{DataLink, PcapError};

use super::partial_checksum::complete_frame_checksum;
use super::{Device, DeviceCapabilities, FrameMeta, Medium, TransportChecksum};
use crate::time::{Duration, Instant};

/// Snapshot length written into pcap headers: frames up to this many bytes
/// are recorded whole. Larger than any IPv4 frame (65,535 + 14).
pub const PCAP_SNAPLEN: u32 = 262_144;

/// Magic number of a microsecond-resolution pcap file.
const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a nanosecond-resolution pcap file.
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Block type of a pcapng section header; the same in both byte orders.
const PCAPNG_SECTION_HEADER: u32 = 0x0a0d_0d0a;
/// Link type of Ethernet in pcap and pcapng.
const LINKTYPE_ETHERNET: u32 = 1;
/// Link type of bare IPv4/IPv6 packets (the version in the first nibble).
const LINKTYPE_RAW: u32 = 101;

/// The pcap link type of a medium's frames.
fn link_type(medium: Medium) -> u32 {
    match medium {
        Medium::Ethernet => LINKTYPE_ETHERNET,
        Medium::Ip => LINKTYPE_RAW,
    }
}

/// The 24-byte header of the pcap files written here.
pub(crate) fn pcap_file_header(medium: Medium) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // Bytes 8..16: time zone correction and accuracy, both zero.
    h[16..20].copy_from_slice(&PCAP_SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&link_type(medium).to_le_bytes());
    h
}

/// The seconds and microseconds of a pcap record for `at`.
fn record_time(at: Instant) -> (u32, u32) {
    let micros = at.total_micros().max(0);
    let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
    // In 0..1_000_000, so it fits.
    let frac = (micros % 1_000_000) as u32;
    (secs, frac)
}

/// Writes one pcap record (16-byte header, then the frame, cut at the
/// snapshot length).
pub(crate) fn write_record<W: Write>(out: &mut W, at: Instant, frame: &[u8]) -> io::Result<()> {
    let (secs, micros) = record_time(at);
    let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let incl_len = orig_len.min(PCAP_SNAPLEN);
    let data = frame.get(..incl_len as usize).unwrap_or(frame);
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&secs.to_le_bytes());
    header[4..8].copy_from_slice(&micros.to_le_bytes());
    header[8..12].copy_from_slice(&incl_len.to_le_bytes());
    header[12..16].copy_from_slice(&orig_len.to_le_bytes());
    out.write_all(&header)?;
    out.write_all(data)
}

/// Which directions a [`PcapWriter`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PcapDirection {
    /// Received and transmitted frames.
    #[default]
    Both,
    /// Received frames only.
    Rx,
    /// Transmitted frames only.
    Tx,
}

impl PcapDirection {
    fn records_rx(self) -> bool {
        matches!(self, PcapDirection::Both | PcapDirection::Rx)
    }

    fn records_tx(self) -> bool {
        matches!(self, PcapDirection::Both | PcapDirection::Tx)
    }
}

/// What a [`PcapWriter`] shares between its tokens.
#[derive(Debug)]
struct Recorder<W: Write> {
    out: W,
    flush_each_frame: bool,
    /// Record frames whose checksum was left to the device or came partial
    /// with it computed (see `set_complete_checksums`), and the medium to
    /// find it in.
    complete_checksums: bool,
    medium: Medium,
    /// The copy such a frame is completed in (kept, so steady state does
    /// not allocate).
    scratch: Vec<u8>,
    /// The first write error; recording stops after one.
    error: Option<io::Error>,
    frames_written: u64,
}

impl<W: Write> Recorder<W> {
    fn record(&mut self, at: Instant, frame: &[u8], meta: FrameMeta) {
        if self.error.is_some() {
            return;
        }
        let frame = if self.complete_checksums && meta.checksum == TransportChecksum::Partial {
            self.scratch.clear();
            self.scratch.extend_from_slice(frame);
            complete_frame_checksum(&mut self.scratch, self.medium);
            &self.scratch[..]
        } else {
            frame
        };
        let mut result = write_record(&mut self.out, at, frame);
        if result.is_ok() && self.flush_each_frame {
            result = self.out.flush();
        }
        match result {
            Ok(()) => self.frames_written += 1,
            Err(err) => {
                net_debug!("pcap writer: recording stopped: {}", err);
                self.error = Some(err);
            }
        }
    }
}

/// A middleware that records the frames of any device to a pcap stream,
/// with the `now` of each `receive`/`transmit` as its timestamp, as they
/// pass: a TCP super-segment handed to a segmentation-offloading device is
/// recorded as one large frame, with the checksum the device is left to
/// complete, as a capture on the sending host shows it. The link type
/// follows the device's medium when the writer is made. By default
/// both directions are recorded and the stream is flushed after every frame,
/// so a capture in progress opens in Wireshark. A write error stops the
/// recording (the device goes on working); see [`PcapWriter::error`].
#[derive(Debug)]
pub struct PcapWriter<D: Device, W: Write> {
    inner: D,
    direction: PcapDirection,
    recorder: RefCell<Recorder<W>>,
}

impl<D: Device, W: Write> PcapWriter<D, W> {
    /// Wraps `inner`, writing the pcap file header (link type by the
    /// device's medium) to `out` at once and then a record for every frame
    /// in the chosen `direction`s.
    pub fn new(inner: D, out: W, direction: PcapDirection) -> io::Result<PcapWriter<D, W>> {
        let mut out = out;
        let medium = inner.capabilities().medium;
        out.write_all(&pcap_file_header(medium))?;
        out.flush()?;
        Ok(PcapWriter {
            inner,
            direction,
            recorder: RefCell::new(Recorder {
                out,
                flush_each_frame: true,
                complete_checksums: false,
                medium,
                scratch: Vec::new(),
                error: None,
                frames_written: 0,
            }),
        })
    }

    /// Whether to flush the stream after every frame (the default). Turn
    /// it off for speed with a buffered stream, and call
    /// [`PcapWriter::flush`] or [`PcapWriter::into_inner`] at the end.
    pub fn set_flush_each_frame(&mut self, flush: bool) {
        self.recorder.get_mut().flush_each_frame = flush;
    }

    /// Whether to record frames whose TCP/UDP checksum was left to the
    /// device (offload: the frame's [`FrameMeta`] says
    /// [`TransportChecksum::Partial`]) or arrived partial from a local
    /// sender with that checksum computed, as the wire would carry it (the
    /// frame the device handles is not changed). Off by default: such
    /// frames are recorded as they passed, with the checksum unfinished,
    /// as a capture on a Linux host with offloads shows them.
    pub fn set_complete_checksums(&mut self, complete: bool) {
        self.recorder.get_mut().complete_checksums = complete;
    }

    /// Flushes the stream. (The device's own [`Device::flush`], which hands
    /// queued frames to the wrapped device's kernel, is a different call:
    /// `Device::flush(&mut writer, now)`.)
    pub fn flush(&mut self) -> io::Result<()> {
        self.recorder.get_mut().out.flush()
    }

    /// The error that stopped recording, if one did.
    pub fn error(&self) -> Option<io::ErrorKind> {
        self.recorder.borrow().error.as_ref().map(|e| e.kind())
    }

    /// Frames recorded so far.
    pub fn frames_written(&self) -> u64 {
        self.recorder.borrow().frames_written
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, to change.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Flushes and unwraps: the device and the stream.
    pub fn into_inner(self) -> io::Result<(D, W)> {
        let mut recorder = self.recorder.into_inner();
        recorder.out.flush()?;
        Ok((self.inner, recorder.out))
    }
}

impl<D: Device, W: Write> Device for PcapWriter<D, W> {
    type RxToken<'a>
        = PcapWriterRxToken<'a, D::RxToken<'a>, W>
    where
        Self: 'a;
    type TxToken<'a>
        = PcapWriterTxToken<'a, D::TxToken<'a>, W>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(now)?;
        let recorder = &self.recorder;
        Some((
            PcapWriterRxToken {
                inner: rx,
                recorder: self.direction.records_rx().then_some(recorder),
                now,
            },
            PcapWriterTxToken {
                inner: tx,
                recorder: self.direction.records_tx().then_some(recorder),
                now,
                meta: FrameMeta::default(),
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let tx = self.inner.transmit(now)?;
        Some(PcapWriterTxToken {
            inner: tx,
            recorder: self.direction.records_tx().then_some(&self.recorder),
            now,
            meta: FrameMeta::default(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn flush(&mut self, now: Instant) {
        self.inner.flush(now);
    }
}

/// A received frame, recorded when consumed.
#[derive(Debug)]
pub struct PcapWriterRxToken<'a, T, W: Write> {
    inner: T,
    recorder: Option<&'a RefCell<Recorder<W>>>,
    now: Instant,
}

impl<T: super::RxToken, W: Write> super::RxToken for PcapWriterRxToken<'_, T, W> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let (recorder, now) = (self.recorder, self.now);
        let meta = self.inner.meta();
        self.inner.consume(|frame| {
            if let Some(recorder) = recorder {
                recorder.borrow_mut().record(now, frame, meta);
            }
            f(frame)
        })
    }

    fn meta(&self) -> super::FrameMeta {
        self.inner.meta()
    }
}

/// Permission to send a frame, recorded once it is filled.
#[derive(Debug)]
pub struct PcapWriterTxToken<'a, T, W: Write> {
    inner: T,
    recorder: Option<&'a RefCell<Recorder<W>>>,
    now: Instant,
    meta: FrameMeta,
}

impl<T: super::TxToken, W: Write> super::TxToken for PcapWriterTxToken<'_, T, W> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (recorder, now, meta) = (self.recorder, self.now, self.meta);
        self.inner.consume(len, |buf| {
            let result = f(buf);
            if let Some(recorder) = recorder {
                recorder.borrow_mut().record(now, buf, meta);
            }
            result
        })
    }

    fn set_meta(&mut self, meta: super::FrameMeta) {
        self.meta = meta;
        self.inner.set_meta(meta);
    }
}

/// Why a capture could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum PcapReplayError {
    /// Reading failed.
    Io(io::Error),
    /// The bytes start with neither a pcap nor a pcapng magic number.
    UnknownFormat,
    /// The capture is malformed (the reader's message).
    Malformed(String),
    /// A frame's link type is not Ethernet (the link type number).
    UnsupportedLinkType(u32),
}

impl fmt::Display for PcapReplayError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            PcapReplayError::Io(e) => write!(f, "reading the capture: {e}"),
            PcapReplayError::UnknownFormat => f.write_str("not a pcap or pcapng file"),
            PcapReplayError::Malformed(msg) => write!(f, "malformed capture: {msg}"),
            PcapReplayError::UnsupportedLinkType(t) => {
                write!(f, "link type {t} is not Ethernet (1)")
            }
        }
    }
}

impl std::error::Error for PcapReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapReplayError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for PcapReplayError {
    fn from(e: io::Error) -> Self {
        PcapReplayError::Io(e)
    }
}

impl From<PcapError> for PcapReplayError {
    fn from(e: PcapError) -> Self {
        match e {
            PcapError::IoError(e) => PcapReplayError::Io(e),
            other => PcapReplayError::Malformed(other.to_string()),
        }
    }
}

/// A frame with the instant it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFrame {
    /// When it passed (the `now` of the call that sent it).
    pub timestamp: Instant,
    /// The whole Ethernet frame.
    pub data: Vec<u8>,
}

/// A frame of a capture and when it is due, relative to the first frame.
#[derive(Debug, Clone)]
struct CapturedFrame {
    offset: Duration,
    data: Vec<u8>,
}

/// Units per second of a pcapng interface's timestamps (its `if_tsresol`
/// option; microseconds when absent).
fn pcapng_units_per_second(interface: &InterfaceDescriptionBlock) -> Result<u128, PcapReplayError> {
    let resolution = interface.options.iter().find_map(|opt| match opt {
        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
        _ => None,
    });
    let Some(resolution) = resolution else {
        return Ok(1_000_000);
    };
    let exponent = u32::from(resolution & 0x7f);
    // The top bit chooses a power of two, otherwise a power of ten
    // (pcapng specification, if_tsresol).
    let units = if resolution & 0x80 != 0 {
        2u128.checked_pow(exponent)
    } else {
        10u128.checked_pow(exponent)
    };
    units.ok_or_else(|| PcapReplayError::Malformed("if_tsresol out of range".to_string()))
}

/// Timestamps in microseconds and frames of a capture, in file order.
type Loaded = Vec<(u128, Vec<u8>)>;

fn load_pcap<R: Read>(reader: R) -> Result<Loaded, PcapReplayError> {
    let mut reader = PcapReader::new(reader)?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(PcapReplayError::UnsupportedLinkType(u32::from(link)));
    }
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet?;
        frames.push((packet.timestamp.as_micros(), packet.data.into_owned()));
    }
    Ok(frames)
}

fn load_pcapng<R: Read>(reader: R) -> Result<Loaded, PcapReplayError> {
    let mut reader = PcapNgReader::new(reader)?;
    let mut frames: Loaded = Vec::new();
    while let Some(block) = reader.next_block() {
        let (interface_id, raw_time, data) = match block? {
            // pcap-file stores the raw timestamp units as nanoseconds,
            // whatever the interface's resolution; undone below.
            Block::EnhancedPacket(p) => (
                p.interface_id,
                Some(p.timestamp.as_nanos()),
                p.data.into_owned(),
            ),
            Block::Packet(p) => (
                u32::from(p.interface_id),
                Some(u128::from(p.timestamp)),
                p.data.into_owned(),
            ),
            // A simple packet has no time: it takes the previous frame's.
            Block::SimplePacket(p) => (0, None, p.data.into_owned()),
            _ => continue,
        };
        let interface = reader
            .interfaces()
            .get(interface_id as usize)
            .ok_or_else(|| {
                PcapReplayError::Malformed("packet of an undeclared interface".to_string())
            })?;
        let link = interface.linktype;
        if link != DataLink::ETHERNET {
            return Err(PcapReplayError::UnsupportedLinkType(u32::from(link)));
        }
        let micros = match raw_time {
            Some(units) => {
                let per_second = pcapng_units_per_second(interface)?;
                units.saturating_mul(1_000_000) / per_second.max(1)
            }
            None => frames.last().map_or(0, |(t, _)| *t),
        };
        frames.push((micros, data));
    }
    Ok(frames)
}

/// A device that plays a capture: frame k is received at
/// `start + (ts_k - ts_0)`, in file order, and what is transmitted is kept
/// (with the `now` it was sent at) for [`PcapReplay::transmitted`] or
/// [`PcapReplay::write_transmitted`]. With the same capture and the same
/// sequence of `now`s, the output is the same, byte for byte.
///
/// A frame stamped earlier than the one before it is due as soon as that one
/// has been received (the order of the file is kept).
#[derive(Debug)]
pub struct PcapReplay {
    frames: Vec<CapturedFrame>,
    next: usize,
    start: Instant,
    capabilities: DeviceCapabilities,
    transmitted: Vec<RecordedFrame>,
}

impl PcapReplay {
    /// Loads a pcap or pcapng file.
    pub fn from_path<P: AsRef<Path>>(
        path: P,
        start: Instant,
    ) -> Result<PcapReplay, PcapReplayError> {
        let file = File::open(path)?;
        PcapReplay::from_reader(BufReader::new(file), start)
    }

    /// Loads a pcap or pcapng capture held in memory.
    pub fn from_bytes(bytes: &[u8], start: Instant) -> Result<PcapReplay, PcapReplayError> {
        PcapReplay::from_reader(bytes, start)
    }

    /// Loads a pcap or pcapng capture from any reader (the format is told
    /// by its first four bytes). Only Ethernet link types are accepted.
    pub fn from_reader<R: Read>(
        mut reader: R,
        start: Instant,
    ) -> Result<PcapReplay, PcapReplayError> {
        let mut magic = [0u8; 4];
        reader.read_exact(&mut magic).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => PcapReplayError::UnknownFormat,
            _ => PcapReplayError::Io(e),
        })?;
        let whole = (&magic[..]).chain(reader);
        let loaded = match u32::from_be_bytes(magic) {
            PCAPNG_SECTION_HEADER => load_pcapng(whole)?,
            m if [PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS].contains(&m)
                || [PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS].contains(&m.swap_bytes()) =>
            {
                load_pcap(whole)?
            }
            _ => return Err(PcapReplayError::UnknownFormat),
        };
        Ok(PcapReplay::from_frames(loaded, start))
    }

    fn from_frames(loaded: Loaded, start: Instant) -> PcapReplay {
        let first = loaded.first().map_or(0, |(t, _)| *t);
        let frames: Vec<CapturedFrame> = loaded
            .into_iter()
            .map(|(t, data)| CapturedFrame {
                offset: Duration::from_micros(
                    u64::try_from(t.saturating_sub(first)).unwrap_or(u64::MAX),
                ),
                data,
            })
            .collect();
        let largest = frames.iter().map(|f| f.data.len()).max().unwrap_or(0);
        let capabilities = DeviceCapabilities {
            medium: Medium::Ethernet,
            max_transmission_unit: largest
                .saturating_sub(Medium::Ethernet.header_len())
                .max(1500),
            ..DeviceCapabilities::default()
        };
        PcapReplay {
            frames,
            next: 0,
            start,
            capabilities,
            transmitted: Vec::new(),
        }
    }

    /// When the next frame is due (it may already be); `None` once every
    /// frame has been received. A driver on a virtual clock advances to the
    /// earliest of this and the stack's `poll_at()`.
    pub fn next_frame_at(&self) -> Option<Instant> {
        self.frames.get(self.next).map(|f| self.start + f.offset)
    }

    /// The captured frames with when each is due (the replay module
    /// drives its own device from them).
    pub(crate) fn captured_frames(&self) -> impl Iterator<Item = (Instant, &[u8])> {
        self.frames
            .iter()
            .map(|f| (self.start + f.offset, f.data.as_slice()))
    }

    /// Frames of the capture not yet received.
    pub fn remaining(&self) -> usize {
        self.frames.len().saturating_sub(self.next)
    }

    /// Frames in the capture.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the capture has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The instant the capture's first frame is due.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The capabilities reported: Ethernet, an MTU of 1500 or the largest
    /// frame's payload if larger, every checksum in software. Captures taken
    /// on a host with checksum offload hold unfinished checksums in its
    /// outgoing frames; set e.g. `checksum.tcp = Checksum::Tx` to accept them.
    pub fn capabilities_mut(&mut self) -> &mut DeviceCapabilities {
        &mut self.capabilities
    }

    /// Frames transmitted so far, with the `now` they were sent at.
    pub fn transmitted(&self) -> &[RecordedFrame] {
        &self.transmitted
    }

    /// Writes the transmitted frames as a pcap file to `out`.
    pub fn write_transmitted<W: Write>(&self, mut out: W) -> io::Result<()> {
        out.write_all(&pcap_file_header(self.capabilities.medium))?;
        for frame in &self.transmitted {
            write_record(&mut out, frame.timestamp, &frame.data)?;
        }
        out.flush()
    }

    /// The transmitted frames as the bytes of a pcap file.
    pub fn transmitted_pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_transmitted(&mut out);
        out
    }
}

impl Device for PcapReplay {
    type RxToken<'a> = PcapReplayRxToken<'a>;
    type TxToken<'a> = PcapReplayTxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(PcapReplayRxToken<'_>, PcapReplayTxToken<'_>)> {
        let frame = self.frames.get(self.next)?;
        if self.start + frame.offset > now {
            return None;
        }
        self.next += 1;
        Some((
            PcapReplayRxToken { frame: &frame.data },
            PcapReplayTxToken {
                transmitted: &mut self.transmitted,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<PcapReplayTxToken<'_>> {
        Some(PcapReplayTxToken {
            transmitted: &mut self.transmitted,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.capabilities
    }
}

/// A frame of the capture.
#[derive(Debug)]
pub struct PcapReplayRxToken<'a> {
    frame: &'a [u8],
}

impl super::RxToken for PcapReplayRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Permission to send one frame, which is recorded.
#[derive(Debug)]
pub struct PcapReplayTxToken<'a> {
    transmitted: &'a mut Vec<RecordedFrame>,
    now: Instant,
}

impl super::TxToken for PcapReplayTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut data = std::vec![0u8; len];
        let result = f(&mut data);
        self.transmitted.push(RecordedFrame {
            timestamp: self.now,
            data,
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phy::{Loopback, RxToken, TxToken};
    use pcap_file::pcap::{PcapHeader, PcapPacket};
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::{Endianness, TsResolution};
    use std::borrow::Cow;
    use std::vec;

    fn send<D: Device>(dev: &mut D, now: Instant, data: &[u8]) {
        dev.transmit(now)
            .expect("token")
            .consume(data.len(), |b| b.copy_from_slice(data));
    }

    fn read_back(bytes: &[u8]) -> Vec<(std::time::Duration, Vec<u8>)> {
        let mut reader = PcapReader::new(bytes).unwrap();
        assert_eq!(reader.header().datalink, DataLink::ETHERNET);
        let mut out = Vec::new();
        while let Some(p) = reader.next_packet() {
            let p = p.unwrap();
            assert_eq!(p.orig_len as usize, p.data.len());
            out.push((p.timestamp, p.data.into_owned()));
        }
        out
    }

    #[test]
    fn ip_medium_is_recorded_as_raw_ip_with_meta_and_flush_passed_through() {
        let lo = Loopback::new(1500).with_medium(Medium::Ip);
        let mut w = PcapWriter::new(lo, Vec::new(), PcapDirection::Both).unwrap();
        let meta = crate::phy::FrameMeta::new(crate::phy::TransportChecksum::Partial, 1448);
        let mut tx = w.transmit(Instant::from_millis(1)).unwrap();
        tx.set_meta(meta);
        tx.consume(20, |b| b[0] = 0x45);
        Device::flush(&mut w, Instant::from_millis(1));
        let (rx, _) = w.receive(Instant::from_millis(2)).unwrap();
        assert_eq!(rx.meta(), meta, "the inner device's meta, both ways");
        rx.consume(|f| assert_eq!(f[0], 0x45));
        let (_, bytes) = w.into_inner().unwrap();
        let reader = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header().datalink, DataLink::RAW);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
    }

    #[test]
    fn offloaded_checksums_are_completed_in_the_record_only_when_asked() {
        // Ethernet + IPv4 + TCP (20-byte header, 6 bytes of data), TCP
        // checksum left zero for the device.
        let mut frame = vec![0u8; 14 + 20 + 20 + 6];
        frame[12..14].copy_from_slice(&[8, 0]);
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&46u16.to_be_bytes());
        frame[22] = 64;
        frame[23] = 6;
        frame[26..30].copy_from_slice(&[192, 0, 2, 1]);
        frame[30..34].copy_from_slice(&[192, 0, 2, 2]);
        frame[46] = 0x50;
        frame[54..].copy_from_slice(b"pollnt");
        let partial = crate::phy::FrameMeta::new(TransportChecksum::Partial, 0);
        for complete in [false, true] {
            let mut w =
                PcapWriter::new(Loopback::new(1500), Vec::new(), PcapDirection::Tx).unwrap();
            w.set_complete_checksums(complete);
            let mut tx = w.transmit(Instant::ZERO).unwrap();
            tx.set_meta(partial);
            tx.consume(frame.len(), |b| b.copy_from_slice(&frame));
            // The device got the frame as the stack built it.
            let (rx, _) = w.inner_mut().receive(Instant::ZERO).unwrap();
            rx.consume(|f| assert_eq!(f, &frame[..]));
            let (_, bytes) = w.into_inner().unwrap();
            let recorded = &read_back(&bytes)[0].1;
            let field = u16::from_be_bytes([recorded[50], recorded[51]]);
            if complete {
                let src = crate::wire::IpAddress::Ipv4(crate::wire::Ipv4Address([192, 0, 2, 1]));
                let dst = crate::wire::IpAddress::Ipv4(crate::wire::Ipv4Address([192, 0, 2, 2]));
                let sum = crate::wire::checksum::combine(&[
                    crate::wire::checksum::pseudo_header(
                        &src,
                        &dst,
                        crate::wire::IpProtocol::Tcp,
                        26,
                    ),
                    crate::wire::checksum::data(&recorded[34..]),
                ]);
                assert_eq!(sum, 0xffff, "recorded with a valid checksum");
            } else {
                assert_eq!(field, 0, "recorded as it passed");
            }
        }
    }

    #[test]
    fn writer_output_is_exact_pcap_bytes() {
        let mut dev =
            PcapWriter::new(Loopback::new(1500), Vec::new(), PcapDirection::Both).unwrap();
        send(&mut dev, Instant::from_micros(1_500_000), &[0xab; 3]);
        {
            let (rx, tx) = dev.receive(Instant::from_micros(2_000_001)).unwrap();
            let first = rx.consume(|f| f[0]);
            tx.consume(2, |b| b.copy_from_slice(&[first, 0xcd]));
        }
        assert_eq!(dev.frames_written(), 3);
        let (_lo, bytes) = dev.into_inner().unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            // File header: magic, version 2.4, zone, accuracy, snaplen 262144, Ethernet.
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0,
            // tx at 1.500000 s, 3 bytes.
            1, 0, 0, 0, 0x20, 0xa1, 0x07, 0x00, 3, 0, 0, 0, 3, 0, 0, 0, 0xab, 0xab, 0xab,
            // rx at 2.000001 s, the same frame.
            2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0xab, 0xab, 0xab,
            // tx (the reply) at 2.000001 s.
            2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0xab, 0xcd,
        ];
        assert_eq!(bytes, expected);
        let frames = read_back(&bytes);
        assert_eq!(
            frames,
            vec![
                (std::time::Duration::from_micros(1_500_000), vec![0xab; 3]),
                (std::time::Duration::from_micros(2_000_001), vec![0xab; 3]),
                (
                    std::time::Duration::from_micros(2_000_001),
                    vec![0xab, 0xcd]
                ),
            ]
        );
    }

    #[test]
    fn writer_records_one_direction_when_asked() {
        for (direction, expected) in [
            (PcapDirection::Rx, vec![vec![2u8; 20]]),
            (PcapDirection::Tx, vec![vec![1u8; 20], vec![3u8; 20]]),
        ] {
            let mut dev = PcapWriter::new(Loopback::new(1500), Vec::new(), direction).unwrap();
            send(&mut dev, Instant::ZERO, &[1; 20]);
            // The loopback hands the frame back; rewrite it for the record.
            let (rx, tx) = dev.receive(Instant::ZERO).unwrap();
            rx.consume(|_| ());
            tx.consume(20, |b| b.fill(3));
            let (mut lo, bytes) = dev.into_inner().unwrap();
            let got: Vec<Vec<u8>> = read_back(&bytes).into_iter().map(|(_, d)| d).collect();
            // Rx records what was received: the first frame came back as [1; 20].
            let expected: Vec<Vec<u8>> = expected
                .into_iter()
                .map(|f| if f == vec![2u8; 20] { vec![1u8; 20] } else { f })
                .collect();
            assert_eq!(got, expected, "{direction:?}");
            let (rx, _) = lo.receive(Instant::ZERO).unwrap();
            assert_eq!(rx.consume(|f| f.to_vec()), vec![3u8; 20]);
        }
    }

    #[test]
    fn negative_and_huge_instants_are_clamped() {
        assert_eq!(record_time(Instant::from_micros(-5)), (0, 0));
        assert_eq!(
            record_time(Instant::from_micros(i64::MAX)),
            (u32::MAX, 775_807)
        );
        assert_eq!(record_time(Instant::from_micros(3_000_042)), (3, 42));
    }

    struct FailingWriter;
    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_error_stops_recording_but_not_the_device() {
        assert!(PcapWriter::new(Loopback::new(1500), FailingWriter, PcapDirection::Both).is_err());
        // A writer that takes the header, then fails.
        struct Limited(usize);
        impl Write for Limited {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.0 < b.len() {
                    return Err(io::Error::from(io::ErrorKind::StorageFull));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut dev =
            PcapWriter::new(Loopback::new(1500), Limited(24), PcapDirection::Both).unwrap();
        send(&mut dev, Instant::ZERO, &[9; 10]);
        assert_eq!(dev.error(), Some(io::ErrorKind::StorageFull));
        assert_eq!(dev.frames_written(), 0);
        let (rx, _) = dev.receive(Instant::ZERO).unwrap();
        assert_eq!(rx.consume(|f| f.to_vec()), vec![9; 10]);
    }

    /// A pcap in memory written by pcap-file, with nanosecond timestamps.
    fn sample_pcap(endianness: Endianness, datalink: DataLink) -> Vec<u8> {
        let header = PcapHeader {
            datalink,
            ts_resolution: TsResolution::NanoSecond,
            endianness,
            ..PcapHeader::default()
        };
        let mut w = pcap_file::pcap::PcapWriter::with_header(Vec::new(), header).unwrap();
        for (nanos, fill) in [
            (1_000_000_000_500u64, 1u8),
            (1_000_250_000_000, 2),
            (1_001_000_000_999, 3),
        ] {
            let data = vec![fill; 60];
            w.write_packet(&PcapPacket::new(
                std::time::Duration::from_nanos(nanos),
                60,
                &data,
            ))
            .unwrap();
        }
        w.into_writer()
    }

    fn recv(dev: &mut PcapReplay, now: Instant) -> Option<Vec<u8>> {
        let (rx, _) = dev.receive(now)?;
        Some(rx.consume(|f| f.to_vec()))
    }

    #[test]
    fn replay_pcap_frames_are_due_at_their_offsets() {
        for endianness in [Endianness::Big, Endianness::Little] {
            let bytes = sample_pcap(endianness, DataLink::ETHERNET);
            let start = Instant::from_secs(5);
            let mut dev = PcapReplay::from_bytes(&bytes, start).unwrap();
            assert_eq!(dev.len(), 3);
            assert_eq!(dev.next_frame_at(), Some(Instant::from_secs(5)));
            assert_eq!(recv(&mut dev, Instant::from_micros(4_999_999)), None);
            assert_eq!(recv(&mut dev, start), Some(vec![1; 60]));
            assert_eq!(dev.next_frame_at(), Some(Instant::from_micros(5_250_000)));
            assert_eq!(recv(&mut dev, Instant::from_micros(5_249_999)), None);
            assert_eq!(
                recv(&mut dev, Instant::from_micros(5_250_000)),
                Some(vec![2; 60])
            );
            // 1001.000000999 s truncates to 1001.000000 s: 1 s after the first.
            assert_eq!(dev.next_frame_at(), Some(Instant::from_secs(6)));
            assert_eq!(dev.remaining(), 1);
            assert_eq!(recv(&mut dev, Instant::from_secs(60)), Some(vec![3; 60]));
            assert_eq!(dev.next_frame_at(), None);
            assert_eq!(recv(&mut dev, Instant::from_secs(60)), None);
        }
    }

    fn sample_pcapng(resolution: Option<u8>, raw_times: &[u64]) -> Vec<u8> {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let mut idb = InterfaceDescriptionBlock::new(DataLink::ETHERNET, 65535);
        if let Some(r) = resolution {
            idb.options.push(InterfaceDescriptionOption::IfTsResol(r));
        }
        w.write_pcapng_block(idb).unwrap();
        for (i, raw) in raw_times.iter().enumerate() {
            let data = vec![i as u8; 42];
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: std::time::Duration::from_nanos(*raw),
                original_len: 42,
                data: Cow::Owned(data),
                options: vec![],
            })
            .unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn replay_pcapng_honours_timestamp_resolution() {
        // Default resolution: microseconds.
        let bytes = sample_pcapng(None, &[1_000_000, 1_000_300, 2_000_000]);
        let mut dev = PcapReplay::from_bytes(&bytes, Instant::ZERO).unwrap();
        assert_eq!(recv(&mut dev, Instant::ZERO), Some(vec![0; 42]));
        assert_eq!(dev.next_frame_at(), Some(Instant::from_micros(300)));
        assert_eq!(recv(&mut dev, Instant::from_micros(300)), Some(vec![1; 42]));
        assert_eq!(dev.next_frame_at(), Some(Instant::from_micros(1_000_000)));
        // Nanoseconds (if_tsresol = 9).
        let bytes = sample_pcapng(Some(9), &[5_000_000_000, 5_000_002_500]);
        let mut dev = PcapReplay::from_bytes(&bytes, Instant::from_millis(1)).unwrap();
        assert_eq!(recv(&mut dev, Instant::from_millis(1)), Some(vec![0; 42]));
        assert_eq!(dev.next_frame_at(), Some(Instant::from_micros(1_002)));
        // Binary: 2^-10 s units, so 1024 units are one second.
        let bytes = sample_pcapng(Some(0x80 | 10), &[1024, 1536]);
        let mut dev = PcapReplay::from_bytes(&bytes, Instant::ZERO).unwrap();
        assert_eq!(recv(&mut dev, Instant::ZERO), Some(vec![0; 42]));
        assert_eq!(dev.next_frame_at(), Some(Instant::from_millis(500)));
    }

    #[test]
    fn replay_rejects_what_it_cannot_play() {
        assert!(matches!(
            PcapReplay::from_bytes(&[1, 2, 3, 4, 5, 6], Instant::ZERO),
            Err(PcapReplayError::UnknownFormat)
        ));
        assert!(matches!(
            PcapReplay::from_bytes(&[0xd4, 0xc3], Instant::ZERO),
            Err(PcapReplayError::UnknownFormat)
        ));
        let raw_ip = sample_pcap(Endianness::Little, DataLink::RAW);
        assert!(matches!(
            PcapReplay::from_bytes(&raw_ip, Instant::ZERO),
            Err(PcapReplayError::UnsupportedLinkType(101))
        ));
        // Every truncation of a valid file is an error or a shorter capture,
        // never a panic.
        let good = sample_pcap(Endianness::Little, DataLink::ETHERNET);
        for cut in 0..good.len() {
            if let Ok(dev) = PcapReplay::from_bytes(&good[..cut], Instant::ZERO) {
                assert!(dev.len() < 3);
            }
        }
        let good = sample_pcapng(None, &[1, 2]);
        for cut in 0..good.len() {
            let _ = PcapReplay::from_bytes(&good[..cut], Instant::ZERO);
        }
    }

    /// Replays a capture and answers every frame with its bytes reversed.
    fn echo_run(capture: &[u8]) -> (Vec<RecordedFrame>, Vec<u8>) {
        let mut dev = PcapReplay::from_bytes(capture, Instant::from_secs(1)).unwrap();
        while let Some(at) = dev.next_frame_at() {
            let (rx, tx) = dev.receive(at).unwrap();
            let mut frame = rx.consume(|f| f.to_vec());
            frame.reverse();
            tx.consume(frame.len(), |b| b.copy_from_slice(&frame));
        }
        (dev.transmitted().to_vec(), dev.transmitted_pcap())
    }

    #[test]
    fn replay_records_transmissions_deterministically() {
        let capture = sample_pcap(Endianness::Little, DataLink::ETHERNET);
        let (frames, pcap) = echo_run(&capture);
        assert_eq!(
            frames,
            vec![
                RecordedFrame {
                    timestamp: Instant::from_secs(1),
                    data: vec![1; 60]
                },
                RecordedFrame {
                    timestamp: Instant::from_micros(1_250_000),
                    data: vec![2; 60]
                },
                RecordedFrame {
                    timestamp: Instant::from_secs(2),
                    data: vec![3; 60]
                },
            ]
        );
        assert_eq!(
            read_back(&pcap),
            vec![
                (std::time::Duration::from_secs(1), vec![1; 60]),
                (std::time::Duration::from_micros(1_250_000), vec![2; 60]),
                (std::time::Duration::from_secs(2), vec![3; 60]),
            ]
        );
        let (again, pcap_again) = echo_run(&capture);
        assert_eq!(again, frames);
        assert_eq!(pcap_again, pcap);
        // Through a file too.
        let path =
            std::env::temp_dir().join(std::format!("pollnet-replay-{}.pcap", std::process::id()));
        std::fs::write(&path, &capture).unwrap();
        let dev = PcapReplay::from_path(&path, Instant::ZERO);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(dev.unwrap().len(), 3);
    }

    #[test]
    fn replay_keeps_file_order_when_time_goes_backwards() {
        let bytes = sample_pcapng(None, &[5_000, 7_000, 6_000, 4_000]);
        let mut dev = PcapReplay::from_bytes(&bytes, Instant::ZERO).unwrap();
        assert_eq!(recv(&mut dev, Instant::ZERO), Some(vec![0; 42]));
        assert_eq!(recv(&mut dev, Instant::from_micros(1_999)), None);
        assert_eq!(
            recv(&mut dev, Instant::from_micros(2_000)),
            Some(vec![1; 42])
        );
        // Stamped 1 ms after the first: already due.
        assert_eq!(dev.next_frame_at(), Some(Instant::from_micros(1_000)));
        assert_eq!(
            recv(&mut dev, Instant::from_micros(2_000)),
            Some(vec![2; 42])
        );
        // Stamped before the first: due at the start.
        assert_eq!(dev.next_frame_at(), Some(Instant::ZERO));
        assert_eq!(
            recv(&mut dev, Instant::from_micros(2_000)),
            Some(vec![3; 42])
        );
    }

    #[test]
    fn replay_capabilities_cover_the_largest_frame() {
        let bytes = sample_pcapng(None, &[1]);
        let dev = PcapReplay::from_bytes(&bytes, Instant::ZERO).unwrap();
        assert_eq!(dev.capabilities().max_transmission_unit, 1500);
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock::new(DataLink::ETHERNET, 0))
            .unwrap();
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: std::time::Duration::ZERO,
            original_len: 9014,
            data: Cow::Owned(vec![0; 9014]),
            options: vec![],
        })
        .unwrap();
        let dev = PcapReplay::from_bytes(&w.into_inner(), Instant::ZERO).unwrap();
        assert_eq!(dev.capabilities().max_transmission_unit, 9000);
    }
}
