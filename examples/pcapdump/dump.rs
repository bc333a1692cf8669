//! Reading pcap and pcapng files frame by frame (pcap-file crate) and
//! describing each frame with [`super::frame::describe`].

use pcap_file::DataLink;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::{Block, PcapNgParser};

use super::frame::describe;

/// Why a file could not be dumped to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// The file does not start like a pcap or pcapng file.
    NotACapture(String),
    /// The file is a capture but a record after `frames` frames is damaged.
    Damaged {
        /// Frames described before the damage.
        frames: usize,
        /// What the reader reported.
        reason: String,
    },
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            DumpError::NotACapture(why) => write!(f, "not a pcap or pcapng file: {why}"),
            DumpError::Damaged { frames, reason } => {
                write!(f, "damaged capture after frame {frames}: {reason}")
            }
        }
    }
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Describes every frame of `file` (a whole pcap or pcapng file), calling
/// `line` with each frame number (from 1) and its description. Returns the
/// number of frames.
pub fn dump(file: &[u8], line: &mut dyn FnMut(usize, String)) -> Result<usize, DumpError> {
    match file.get(..4) {
        Some(magic) if PCAP_MAGICS.iter().any(|m| m == magic) => dump_pcap(file, line),
        Some(magic) if magic == PCAPNG_MAGIC => dump_pcapng(file, line),
        Some(magic) => Err(DumpError::NotACapture(format!(
            "magic {:02x}{:02x}{:02x}{:02x}",
            magic[0], magic[1], magic[2], magic[3]
        ))),
        None => Err(DumpError::NotACapture(format!("only {} bytes", file.len()))),
    }
}

fn describe_link(link: DataLink, data: &[u8], orig_len: usize) -> String {
    match link {
        DataLink::ETHERNET => describe(data, orig_len),
        other => format!("other link type {}", u32::from(other)),
    }
}

fn dump_pcap(file: &[u8], line: &mut dyn FnMut(usize, String)) -> Result<usize, DumpError> {
    let (mut rest, parser) =
        PcapParser::new(file).map_err(|err| DumpError::NotACapture(err.to_string()))?;
    let link = parser.header().datalink;
    let mut frames = 0;
    while !rest.is_empty() {
        // Raw records: the checked ones refuse an original length above the
        // snap length, which is exactly what a short-snaplen capture holds.
        let (next, packet) = parser
            .next_raw_packet(rest)
            .map_err(|err| DumpError::Damaged {
                frames,
                reason: err.to_string(),
            })?;
        frames += 1;
        line(
            frames,
            describe_link(link, &packet.data, packet.orig_len as usize),
        );
        rest = next;
    }
    Ok(frames)
}

fn dump_pcapng(file: &[u8], line: &mut dyn FnMut(usize, String)) -> Result<usize, DumpError> {
    let (mut rest, mut parser) =
        PcapNgParser::new(file).map_err(|err| DumpError::NotACapture(err.to_string()))?;
    let mut frames = 0;
    while !rest.is_empty() {
        let (next, block) = parser.next_block(rest).map_err(|err| DumpError::Damaged {
            frames,
            reason: err.to_string(),
        })?;
        rest = next;
        let text = match block {
            Block::EnhancedPacket(packet) => match parser.packet_interface(&packet) {
                Some(interface) => describe_link(
                    interface.linktype,
                    &packet.data,
                    packet.original_len as usize,
                ),
                None => format!(
                    "malformed packet block for undeclared interface {}",
                    packet.interface_id
                ),
            },
            Block::SimplePacket(packet) => match parser.interfaces().first() {
                Some(interface) => {
                    // The block's data is padded to 4 bytes; the captured
                    // part is at most the original length (RFC 9994 4.4).
                    let len = packet.data.len().min(packet.original_len as usize);
                    describe_link(
                        interface.linktype,
                        &packet.data[..len],
                        packet.original_len as usize,
                    )
                }
                None => "malformed simple packet block without an interface".to_string(),
            },
            Block::Packet(packet) => {
                match parser.interfaces().get(usize::from(packet.interface_id)) {
                    Some(interface) => describe_link(
                        interface.linktype,
                        &packet.data,
                        packet.original_len as usize,
                    ),
                    None => format!(
                        "malformed packet block for undeclared interface {}",
                        packet.interface_id
                    ),
                }
            }
            // Section headers, interface descriptions, statistics, names:
            // not frames.
            _ => continue,
        };
        frames += 1;
        line(frames, text);
    }
    Ok(frames)
}
