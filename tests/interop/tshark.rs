//! Checks a capture with tshark in one pass: malformed packets, checksums
//! (verification on), and a count of every TCP analysis flag.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Every TCP analysis flag tshark 3.x/4.x sets (its `tcp.analysis.*`
/// existence fields).
pub const ANALYSIS_FLAGS: [&str; 17] = [
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.reused_ports",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.window_update",
    "tcp.analysis.window_full",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.tfo_syn",
    "tcp.analysis.tfo_ack",
];

/// Frames matching each filter of [`PcapReport::FILTERS`] plus each flag.
#[derive(Debug)]
pub struct PcapReport {
    pub counts: BTreeMap<String, u64>,
}

impl PcapReport {
    /// Integrity filters, counted before the flags.
    pub const FRAMES: &'static str = "frame";
    pub const TCP: &'static str = "tcp";
    pub const MALFORMED: &'static str = "_ws.malformed";
    pub const EXPERT_ERROR: &'static str = "_ws.expert.severity >= error";
    pub const IP_CHECKSUM_NOT_GOOD: &'static str = "ip && ip.checksum.status != 1";
    /// A TCP checksum of 0xffff where the sum gives 0x0000 is the other
    /// one's-complement zero (RFC 1624 section 3) and checks out; tshark
    /// calls it bad. Linux writes it whenever it finishes a checksum in
    /// software (`skb_checksum_help` turns 0 into `CSUM_MANGLED_0`), as it
    /// does on a veth end with tx checksumming off. Counted apart.
    pub const TCP_CHECKSUM_NOT_GOOD: &'static str =
        "tcp && tcp.checksum.status != 1 && !tcp.checksum.ffff";
    pub const TCP_CHECKSUM_NEGATIVE_ZERO: &'static str = "tcp.checksum.ffff";
    pub const ICMP_CHECKSUM_NOT_GOOD: &'static str = "icmp && icmp.checksum.status != 1";

    pub fn count(&self, filter: &str) -> u64 {
        self.counts[filter]
    }

    /// Flags present, with their frame counts.
    pub fn flags(&self) -> BTreeMap<&'static str, u64> {
        ANALYSIS_FLAGS
            .iter()
            .map(|f| (*f, self.counts[*f]))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Frames flagged with something not in the list above (a flag of a
    /// newer tshark).
    pub fn unknown_flags(&self) -> u64 {
        self.counts[&unknown_flag_filter()]
    }

    /// Asserts: no malformed frame, no expert error, every IP, TCP and ICMP
    /// checksum verified good, no analysis flag outside `allowed`.
    pub fn assert_clean(&self, allowed: &[&str], what: &str) {
        for filter in [
            Self::MALFORMED,
            Self::EXPERT_ERROR,
            Self::IP_CHECKSUM_NOT_GOOD,
            Self::TCP_CHECKSUM_NOT_GOOD,
            Self::ICMP_CHECKSUM_NOT_GOOD,
        ] {
            assert_eq!(
                self.count(filter),
                0,
                "{what}: {} frame(s) match `{filter}`",
                self.count(filter)
            );
        }
        let unexpected: Vec<_> = self
            .flags()
            .into_iter()
            .filter(|(f, _)| !allowed.contains(f))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{what}: unexpected TCP analysis flags {unexpected:?} (all: {:?})",
            self.flags()
        );
        assert_eq!(
            self.unknown_flags(),
            0,
            "{what}: frames with analysis flags tshark names otherwise"
        );
    }
}

fn unknown_flag_filter() -> String {
    let known = ANALYSIS_FLAGS.join(" || ");
    format!("tcp.analysis.flags && !({known})")
}

/// Runs tshark over `pcap` once, counting frames per filter. TCP payloads
/// on `data_ports` are dissected as plain data: the test streams are random
/// bytes, and tshark's heuristic dissectors (Thrift, for one) otherwise
/// mistake some of them for a malformed protocol message.
pub fn analyse(pcap: &Path, data_ports: &[u16]) -> PcapReport {
    let mut filters: Vec<String> = [
        PcapReport::FRAMES,
        PcapReport::TCP,
        PcapReport::MALFORMED,
        PcapReport::EXPERT_ERROR,
        PcapReport::IP_CHECKSUM_NOT_GOOD,
        PcapReport::TCP_CHECKSUM_NOT_GOOD,
        PcapReport::TCP_CHECKSUM_NEGATIVE_ZERO,
        PcapReport::ICMP_CHECKSUM_NOT_GOOD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    filters.extend(ANALYSIS_FLAGS.iter().map(|s| s.to_string()));
    filters.push(unknown_flag_filter());
    let stat = format!("io,stat,0,{}", filters.join(","));
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-q", "-n"])
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ])
        .args([
            "-o",
            "tcp.analyze_sequence_numbers:TRUE",
            "-o",
            "tcp.relative_sequence_numbers:TRUE",
        ])
        .args(
            data_ports
                .iter()
                .flat_map(|p| ["-d".to_string(), format!("tcp.port=={p},data")]),
        )
        .args(["-z", &stat])
        .output()
        .expect("run tshark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark on {}: {}\n{stdout}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The one data row: "| 0.000 <> 1.234 |  frames | bytes | frames | bytes ..."
    let row = stdout
        .lines()
        .find(|l| l.contains("<>"))
        .unwrap_or_else(|| panic!("no io,stat row in tshark output:\n{stdout}"));
    let cells: Vec<&str> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let frames: Vec<u64> = cells[1..]
        .iter()
        .step_by(2)
        .map(|c| {
            c.parse()
                .unwrap_or_else(|_| panic!("bad cell {c:?} in {row:?}"))
        })
        .collect();
    assert_eq!(frames.len(), filters.len(), "io,stat columns in {row:?}");
    PcapReport {
        counts: filters.into_iter().zip(frames).collect(),
    }
}

/// The `fields` of every frame of `pcap` matching `filter`, one row per
/// frame, in capture order (`tshark -T fields`), with absolute sequence
/// numbers; a field with several values (one per SACK block, say) gives
/// them comma-separated. TCP payloads on `data_ports` are dissected as
/// plain data (see [`analyse`]).
pub fn fields(pcap: &Path, filter: &str, fields: &[&str], data_ports: &[u16]) -> Vec<Vec<String>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-n", "-Y", filter, "-T", "fields"])
        .args([
            "-E",
            "separator=;",
            "-E",
            "aggregator=,",
            "-E",
            "occurrence=a",
        ])
        .args(["-o", "tcp.relative_sequence_numbers:FALSE"])
        .args(
            data_ports
                .iter()
                .flat_map(|p| ["-d".to_string(), format!("tcp.port=={p},data")]),
        )
        .args(fields.iter().flat_map(|f| ["-e", f]))
        .output()
        .expect("run tshark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark -T fields on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|line| line.split(';').map(str::to_string).collect::<Vec<_>>())
        .inspect(|row| assert_eq!(row.len(), fields.len(), "tshark row {row:?}"))
        .collect()
}

/// Frames of `pcap` matching `filter`.
pub fn count(pcap: &Path, filter: &str, data_ports: &[u16]) -> usize {
    fields(pcap, filter, &["frame.number"], data_ports).len()
}
