//! The Linux interop harness: test networks in namespaces, pollnet on a real
//! clock, kernel-side programs, SHA-256 and tshark checks.
#![allow(dead_code)]

pub mod baseline;
pub mod cases;
pub mod fastpath;
pub mod kernel;
pub mod netenv;
pub mod paths;
pub mod pipeline;
pub mod sha256;
pub mod stack;
pub mod stream;
pub mod tshark;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant as WallClock;

/// Transfers in the big cases: 100 MB (10^6) unless `POLLNET_INTEROP_MB`
/// says otherwise (for quick local runs).
pub fn megabytes(default: u64) -> u64 {
    let mb = std::env::var("POLLNET_INTEROP_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, |mb| mb.min(default));
    mb * 1_000_000
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The interop cases of one test binary run one at a time: the machine has
/// few cores, and the throughput figures mean more without a neighbour.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A file unique to this process and call, in /dev/shm when there is one
/// (a capture of case 1 is over 400 MB; writing it to memory keeps disk
/// writeback from pausing pollnet's thread), else the temporary directory.
pub fn temp_path(what: &str) -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join(format!(
        "pollnet-interop-{}-{}-{what}",
        std::process::id(),
        netenv::next_id()
    ))
}

/// Pins the calling thread, and so every thread it starts afterwards, to
/// the CPU it is running on; returns that CPU.
///
/// Why: a veth end hands frames to the other end through the per-CPU
/// backlog of the CPU that sent them. The kernel peer transmits both from
/// its application's thread and from the softirq that processes pollnet's
/// ACKs, which runs on pollnet's CPU; on two CPUs the two streams of frames
/// interleave on the way to pollnet's raw socket, so pollnet sees
/// reordered segments (and sends duplicate ACKs for them) with no loss at
/// all. On one CPU the order on the wire is the order of sending.
pub fn pin_to_current_cpu() -> usize {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).expect("sched_getcpu");
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it and
    // sched_setaffinity reads a live set of the size given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let ret = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            ret,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
    cpu
}

/// Deletes a capture after a passing case, unless `POLLNET_INTEROP_KEEP`
/// is set (failing cases always keep theirs, and print where).
pub fn remove_capture(path: &std::path::Path) {
    if std::env::var_os("POLLNET_INTEROP_KEEP").is_some() {
        println!("kept: {}", path.display());
    } else {
        std::fs::remove_file(path).ok();
    }
}

/// Prints the wall time of a case when it ends (also on failure).
pub struct CaseTimer {
    name: &'static str,
    start: WallClock,
}

impl CaseTimer {
    pub fn start(name: &'static str) -> CaseTimer {
        CaseTimer {
            name,
            start: WallClock::now(),
        }
    }
}

impl Drop for CaseTimer {
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            "failed"
        } else {
            "passed"
        };
        println!(
            "timing: {} {outcome} in {:.2} s wall",
            self.name,
            self.start.elapsed().as_secs_f64()
        );
    }
}
