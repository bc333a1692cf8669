//! The pollnet application side's heavy work on helper threads: generating
//! the seeded stream to send, and hashing what was sent and received, so
//! the thread that polls pollnet does only socket calls and copies, and the
//! throughput figures measure the stack rather than SHA-256.
//!
//! Buffers travel in loops (generator -> pollnet thread -> sent-hasher ->
//! generator; pollnet thread -> received-hasher -> pollnet thread), a fixed
//! number of them, so a slow helper holds the transfer back instead of
//! growing memory. Dropping either half ends its threads.

use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::thread::JoinHandle;

use super::sha256::Sha256;
use super::stream::fill;

/// Bytes per buffer.
pub const CHUNK: usize = 256 * 1024;
/// Buffers per direction.
const BUFFERS: usize = 8;

enum HashMsg {
    /// Hash the first `len` bytes of the buffer, then give it back.
    Data(Vec<u8>, usize),
    /// Answer with the digest of everything so far followed by `extra`
    /// (bytes not yet handed over whole), without changing the state.
    Snapshot(Vec<u8>, Sender<[u8; 32]>),
}

/// A hasher thread: hashes what it is sent, returns the buffers on
/// `recycle`.
fn spawn_hasher(name: &str, recycle: Sender<Vec<u8>>) -> (Sender<HashMsg>, JoinHandle<()>) {
    let (tx, rx) = channel::<HashMsg>();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut sha = Sha256::new();
            for msg in rx {
                match msg {
                    HashMsg::Data(buf, len) => {
                        sha.update(&buf[..len]);
                        // The owner may be gone at the end.
                        let _ = recycle.send(buf);
                    }
                    HashMsg::Snapshot(extra, reply) => {
                        let mut copy = sha.clone();
                        copy.update(&extra);
                        let _ = reply.send(copy.finish());
                    }
                }
            }
        })
        .expect("spawn a hasher");
    (tx, handle)
}

fn snapshot(hasher: &Sender<HashMsg>, extra: &[u8]) -> [u8; 32] {
    let (reply_tx, reply_rx) = channel();
    hasher
        .send(HashMsg::Snapshot(extra.to_vec(), reply_tx))
        .expect("hasher thread");
    reply_rx.recv().expect("hasher snapshot")
}

/// The sending half: chunks of the stream, generated ahead.
pub struct Outgoing {
    chunks: Receiver<(Vec<u8>, usize)>,
    hasher: Sender<HashMsg>,
    /// The chunk being sent: buffer, length, bytes sent.
    current: Option<(Vec<u8>, usize, usize)>,
    total: u64,
    sent: u64,
    _threads: [JoinHandle<()>; 2],
}

impl Outgoing {
    pub fn new(seed: u64, total: u64) -> Outgoing {
        let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
        let (hasher, hasher_thread) = spawn_hasher("sent-sha256", recycle_tx.clone());
        let (chunk_tx, chunks) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
        for _ in 0..BUFFERS {
            recycle_tx.send(vec![0u8; CHUNK]).expect("fresh buffers");
        }
        drop(recycle_tx);
        let generator = std::thread::Builder::new()
            .name("stream-gen".into())
            .spawn(move || {
                let mut offset = 0u64;
                while offset < total {
                    let Ok(mut buf) = recycle_rx.recv() else {
                        return;
                    };
                    let len = (total - offset).min(CHUNK as u64) as usize;
                    fill(seed, offset, &mut buf[..len]);
                    offset += len as u64;
                    if chunk_tx.send((buf, len)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the generator");
        Outgoing {
            chunks,
            hasher,
            current: None,
            total,
            sent: 0,
            _threads: [generator, hasher_thread],
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn is_done(&self) -> bool {
        self.sent == self.total
    }

    /// The next bytes to send: empty when all are sent, or when the
    /// generator has not caught up yet.
    pub fn pending(&mut self) -> &[u8] {
        if self.current.is_none() && !self.is_done() {
            // A short wait when the generator lags, so the socket's send
            // buffer is not left empty until the next frame wakes us.
            self.current = self
                .chunks
                .recv_timeout(std::time::Duration::from_millis(2))
                .ok()
                .map(|(b, len)| (b, len, 0));
        }
        match &self.current {
            Some((buf, len, pos)) => &buf[*pos..*len],
            None => &[],
        }
    }

    /// Marks `n` bytes of `pending()` as sent.
    pub fn advance(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let (_, len, pos) = self
            .current
            .as_mut()
            .expect("advance without pending bytes");
        *pos += n;
        self.sent += n as u64;
        assert!(*pos <= *len && self.sent <= self.total);
        if *pos == *len {
            let (buf, len, _) = self.current.take().unwrap();
            self.hasher
                .send(HashMsg::Data(buf, len))
                .expect("sent-hasher");
        }
    }

    /// The digest of everything sent so far.
    pub fn digest(&self) -> [u8; 32] {
        let extra = match &self.current {
            Some((buf, _, pos)) => &buf[..*pos],
            None => &[][..],
        };
        snapshot(&self.hasher, extra)
    }
}

/// The receiving half: what arrives is copied into buffers that go to the
/// hasher whole.
pub struct Incoming {
    hasher: Sender<HashMsg>,
    free: Receiver<Vec<u8>>,
    /// The buffer being filled and how far.
    current: Option<(Vec<u8>, usize)>,
    received: u64,
    _thread: JoinHandle<()>,
}

impl Incoming {
    pub fn new() -> Incoming {
        let (free_tx, free) = channel::<Vec<u8>>();
        let (hasher, thread) = spawn_hasher("recv-sha256", free_tx.clone());
        for _ in 0..BUFFERS {
            free_tx.send(vec![0u8; CHUNK]).expect("fresh buffers");
        }
        Incoming {
            hasher,
            free,
            current: None,
            received: 0,
            _thread: thread,
        }
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Room to receive into: empty when every buffer is with the hasher
    /// (the receive window then closes until it catches up).
    pub fn space(&mut self) -> &mut [u8] {
        if self.current.is_none() {
            self.current = self.free.try_recv().ok().map(|b| (b, 0));
        }
        match &mut self.current {
            Some((buf, fill)) => &mut buf[*fill..],
            None => &mut [],
        }
    }

    /// Marks `n` bytes of `space()` as received.
    pub fn advance(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let (buf, fill) = self.current.as_mut().expect("advance without space");
        *fill += n;
        self.received += n as u64;
        if *fill == buf.len() {
            let (buf, fill) = self.current.take().unwrap();
            self.hasher
                .send(HashMsg::Data(buf, fill))
                .expect("recv-hasher");
        }
    }

    /// The digest of everything received so far.
    pub fn digest(&self) -> [u8; 32] {
        let extra = match &self.current {
            Some((buf, fill)) => &buf[..*fill],
            None => &[][..],
        };
        snapshot(&self.hasher, extra)
    }
}
