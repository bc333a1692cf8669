//! TCP segmentation offload in the stack, on a virtual clock: a sender
//! whose device offers TSO hands it super-segments of several MSS (within
//! the congestion window, the peer's window and Nagle); a device that cuts
//! them up the way Linux's GSO does (written here independently of the
//! stack) yields MSS-sized segments that a receiver verifying every
//! checksum accepts, byte for byte; and a link that carries them whole, as
//! Linux does for a local sender, works too.

mod common;

use common::*;
use pollnet::phy::{Device, DeviceCapabilities, FrameMeta, LinkEnd, Loopback, RxToken, TxToken};
use pollnet::socket::SocketHandle;
use pollnet::socket::tcp::{State, TcpSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{IpAddress, IpEndpoint};

const PORT: u16 = 7100;
/// Payload per segment on an MTU-1500 link with timestamps.
const MSS: usize = 1448;

fn sum16(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// What a segmenting device saw of one frame handed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Handed {
    /// TCP payload bytes.
    payload: usize,
    /// The meta's segment size.
    segment_size: u16,
}

/// A device that offers TSO and cuts super-segments into segments as
/// Linux's GSO does (copied headers, sequence numbers advanced, IPv4
/// identification incremented, FIN and PSH only on the last, every checksum
/// computed), sending them on a plain link. It also computes the TCP
/// checksum of plain frames, which the stack left to it.
struct Segmenter {
    inner: LinkEnd,
    tso_max_len: usize,
    handed: Vec<Handed>,
    scratch: Vec<u8>,
    rx_frame: Vec<u8>,
}

impl Segmenter {
    fn new(inner: LinkEnd, tso_max_len: usize) -> Segmenter {
        Segmenter {
            inner,
            tso_max_len,
            handed: Vec::new(),
            scratch: Vec::new(),
            rx_frame: Vec::new(),
        }
    }

    fn tx(&mut self, now: Instant) -> SegmenterTx<'_> {
        SegmenterTx {
            inner: &mut self.inner,
            handed: &mut self.handed,
            scratch: &mut self.scratch,
            tso_max_len: self.tso_max_len,
            now,
            meta: FrameMeta::default(),
        }
    }
}

impl NextEvent for Segmenter {
    fn next_event(&self) -> Option<Instant> {
        self.inner.next_arrival()
    }
}

/// Fills the IPv4 header checksum and the TCP checksum of an
/// Ethernet/IPv4/TCP frame.
fn fill_checksums(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24..26].copy_from_slice(&[0, 0]);
    let ip_sum = !sum16(&[&frame[14..14 + ihl]]);
    frame[24..26].copy_from_slice(&ip_sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let l4 = 14 + ihl;
    frame[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let len = ((total - ihl) as u16).to_be_bytes();
    let pseudo = [&frame[26..34], &[0, 6], &len[..]].concat();
    let tcp_sum = !sum16(&[&pseudo, &frame[l4..14 + total]]);
    frame[l4 + 16..l4 + 18].copy_from_slice(&tcp_sum.to_be_bytes());
}

fn send_plain(dev: &mut LinkEnd, now: Instant, frame: &[u8]) {
    let tx = dev.transmit(now).expect("the link always takes a frame");
    tx.consume(frame.len(), |b| b.copy_from_slice(frame));
}

struct SegmenterTx<'a> {
    inner: &'a mut LinkEnd,
    handed: &'a mut Vec<Handed>,
    scratch: &'a mut Vec<u8>,
    tso_max_len: usize,
    now: Instant,
    meta: FrameMeta,
}

impl TxToken for SegmenterTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.scratch.clear();
        self.scratch.resize(len, 0);
        let result = f(self.scratch);
        let frame = &self.scratch[..];
        let is_tcp = frame.len() >= 54 && frame[12..14] == [8, 0] && frame[23] == 6;
        if !is_tcp {
            send_plain(self.inner, self.now, frame);
            return result;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let l4 = 14 + ihl;
        let thl = usize::from(frame[l4 + 12] >> 4) * 4;
        let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        let payload = total - ihl - thl;
        self.handed.push(Handed {
            payload,
            segment_size: self.meta.segment_size,
        });
        assert!(
            total <= self.tso_max_len,
            "a {total}-byte packet exceeds the TSO limit"
        );
        let mss = usize::from(self.meta.segment_size);
        if mss == 0 || payload <= mss {
            assert!(total <= 1500, "a {total}-byte packet without segmentation");
            let mut plain = frame.to_vec();
            fill_checksums(&mut plain);
            send_plain(self.inner, self.now, &plain);
            return result;
        }
        let header = &frame[..l4 + thl];
        let data = &frame[l4 + thl..14 + total];
        let seq = u32::from_be_bytes(frame[l4 + 4..l4 + 8].try_into().unwrap());
        let ident = u16::from_be_bytes([frame[18], frame[19]]);
        let flags = frame[l4 + 13];
        let pieces = data.len().div_ceil(mss);
        for (i, piece) in data.chunks(mss).enumerate() {
            let mut seg = header.to_vec();
            seg.extend_from_slice(piece);
            let seg_total = (ihl + thl + piece.len()) as u16;
            seg[16..18].copy_from_slice(&seg_total.to_be_bytes());
            seg[18..20].copy_from_slice(&ident.wrapping_add(i as u16).to_be_bytes());
            let seg_seq = seq.wrapping_add((i * mss) as u32);
            seg[l4 + 4..l4 + 8].copy_from_slice(&seg_seq.to_be_bytes());
            // FIN (0x01) and PSH (0x08) only on the last piece.
            if i + 1 < pieces {
                seg[l4 + 13] = flags & !0x09;
            }
            fill_checksums(&mut seg);
            send_plain(self.inner, self.now, &seg);
        }
        result
    }

    fn set_meta(&mut self, meta: FrameMeta) {
        self.meta = meta;
    }
}

struct SegmenterRx<'a> {
    frame: &'a [u8],
}

impl RxToken for SegmenterRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl Device for Segmenter {
    type RxToken<'a> = SegmenterRx<'a>;
    type TxToken<'a> = SegmenterTx<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, _) = self.inner.receive(now)?;
        let mut frame = std::mem::take(&mut self.rx_frame);
        frame.clear();
        rx.consume(|f| frame.extend_from_slice(f));
        self.rx_frame = frame;
        let tx = SegmenterTx {
            inner: &mut self.inner,
            handed: &mut self.handed,
            scratch: &mut self.scratch,
            tso_max_len: self.tso_max_len,
            now,
            meta: FrameMeta::default(),
        };
        Some((
            SegmenterRx {
                frame: &self.rx_frame,
            },
            tx,
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        Some(self.tx(now))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        // TSO, with the TCP checksum left to the device.
        self.inner.capabilities()
    }
}

/// A client on `client_dev` and a server on `server_dev`, connected; the
/// handles of both ends.
fn connected<C: Device + NextEvent, S: Device + NextEvent>(
    client_dev: C,
    server_dev: S,
    buffer: usize,
) -> (Net<C, S>, SocketHandle, SocketHandle) {
    let tcp = tcp_config();
    let mut net = Net {
        client: Host::new(client_dev, 1, CLIENT_IP, 1, tcp, 4),
        server: Host::new(server_dev, 2, SERVER_IP, 2, tcp, 4),
        now: Instant::ZERO,
    };
    let listener = net.server.sockets.add(socket(tcp, buffer, buffer)).unwrap();
    net.server
        .sockets
        .get_mut::<TcpSocket>(listener)
        .unwrap()
        .listen(PORT)
        .unwrap();
    let client = net.client.sockets.add(socket(tcp, buffer, buffer)).unwrap();
    let remote = IpEndpoint::new(IpAddress::Ipv4(SERVER_IP), PORT);
    net.client
        .iface
        .connect(&mut net.client.sockets, client, remote, net.now)
        .unwrap();
    for _ in 0..100 {
        net.step(Duration::from_millis(10));
        let c = net.client.sockets.get::<TcpSocket>(client).unwrap().state();
        let s = net
            .server
            .sockets
            .get::<TcpSocket>(listener)
            .unwrap()
            .state();
        if c == State::Established && s == State::Established {
            return (net, client, listener);
        }
    }
    panic!(
        "no connection: {:?} {:?}",
        net.client.iface.stats(),
        net.server.iface.stats()
    );
}

/// Moves `len` bytes each way (stream ids 1 and 2), checking every byte;
/// returns when both have arrived.
fn transfer<C: Device + NextEvent, S: Device + NextEvent>(
    net: &mut Net<C, S>,
    client: SocketHandle,
    server: SocketHandle,
    len: usize,
) {
    let mut sent = [0usize; 2];
    let mut got = [0usize; 2];
    let mut chunk = vec![0u8; 64 * 1024];
    for _ in 0..200_000 {
        for (side, handle) in [(0usize, client), (1, server)] {
            let sockets = if side == 0 {
                &mut net.client.sockets
            } else {
                &mut net.server.sockets
            };
            let s = sockets.get_mut::<TcpSocket>(handle).unwrap();
            let id = side as u64 + 1;
            while sent[side] < len {
                let n = chunk.len().min(len - sent[side]);
                for (i, b) in chunk[..n].iter_mut().enumerate() {
                    *b = stream_byte(id, sent[side] + i);
                }
                match s.send_slice(&chunk[..n]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => sent[side] += k,
                }
            }
            let other = 2 - side as u64;
            while let Ok(n) = s.recv_slice(&mut chunk) {
                if n == 0 {
                    break;
                }
                for (i, b) in chunk[..n].iter().enumerate() {
                    assert_eq!(
                        *b,
                        stream_byte(other, got[side] + i),
                        "byte {}",
                        got[side] + i
                    );
                }
                got[side] += n;
            }
        }
        if got == [len, len] {
            return;
        }
        net.step(Duration::from_millis(5));
    }
    panic!("transfer stalled at {got:?} of {len}");
}

#[test]
fn super_segments_are_cut_into_mss_segments_a_verifying_receiver_accepts() {
    let (a, b) = Loopback::pair(1500, Duration::from_micros(200));
    let client = Segmenter::new(a.with_tso(65_535), 65_535);
    let (mut net, c, listener) = connected(client, b, 1 << 20);
    let s = listener;
    transfer(&mut net, c, s, 8 << 20);
    let handed = &net.client.device.handed;
    let supers: Vec<&Handed> = handed.iter().filter(|h| h.segment_size != 0).collect();
    let largest = handed.iter().map(|h| h.payload).max().unwrap();
    println!(
        "tso: {} TCP frames handed, {} super-segments, largest payload {largest} ({} MSS)",
        handed.len(),
        supers.len(),
        largest / MSS
    );
    assert!(supers.len() > 100, "super-segments were sent");
    assert!(supers.iter().all(|h| usize::from(h.segment_size) == MSS));
    assert!(largest > 10 * MSS && largest <= 65_535 - 52, "{largest}");
    // Only super-segments exceed one MSS.
    assert!(
        handed
            .iter()
            .all(|h| h.payload <= MSS || h.segment_size != 0)
    );
    let cs = net.client.iface.stats();
    let ss = net.server.iface.stats();
    assert_eq!(cs.tx_tso_frames, supers.len() as u64);
    // The receiver verified every checksum and dropped nothing.
    assert_eq!(
        ss.rx_drop_tcp_checksum + ss.rx_drop_ipv4_checksum,
        0,
        "{ss:?}"
    );
    assert_eq!(cs.tcp_retransmissions + ss.tcp_retransmissions, 0);
    // The server's device has no TSO: it never sends super-segments.
    assert_eq!(ss.tx_tso_frames, 0);
}

#[test]
fn super_segments_cross_a_tso_link_whole_both_ways() {
    let (a, b) = Loopback::pair(1500, Duration::from_micros(200));
    let (mut net, c, s) = connected(a.with_tso(65_535), b.with_tso(65_535), 1 << 20);
    transfer(&mut net, c, s, 8 << 20);
    let cs = net.client.iface.stats();
    let ss = net.server.iface.stats();
    assert!(
        cs.tx_tso_frames > 50 && ss.tx_tso_frames > 50,
        "{cs:?} {ss:?}"
    );
    // Whole super-segments arrived, their checksums partial (unverified).
    assert!(cs.rx_frames < cs.tcp_segments_received + 10);
    assert_eq!(cs.rx_drop_tcp_checksum + ss.rx_drop_tcp_checksum, 0);
    assert_eq!(cs.tcp_retransmissions + ss.tcp_retransmissions, 0);
}

#[test]
fn nagle_holds_a_short_tail_only_with_data_in_flight() {
    let (a, b) = Loopback::pair(1500, Duration::from_millis(1));
    let client = Segmenter::new(a.with_tso(65_535), 65_535);
    let (mut net, c, s) = connected(client, b, 1 << 20);
    net.client.device.handed.clear();
    let data = vec![7u8; 10 * MSS];
    // Nothing in flight: 3.5 MSS go as one super-segment, tail included.
    let n = net
        .client
        .sockets
        .get_mut::<TcpSocket>(c)
        .unwrap()
        .send_slice(&data[..3 * MSS + MSS / 2])
        .unwrap();
    assert_eq!(n, 3 * MSS + MSS / 2);
    net.settle();
    assert_eq!(
        net.client.device.handed,
        [Handed {
            payload: 3 * MSS + MSS / 2,
            segment_size: MSS as u16
        }]
    );
    // Let it be acknowledged (the receiver reads it).
    for _ in 0..20 {
        net.step(Duration::from_millis(1));
    }
    let mut sink = vec![0u8; 1 << 20];
    net.server
        .sockets
        .get_mut::<TcpSocket>(s)
        .unwrap()
        .recv_slice(&mut sink)
        .unwrap();
    for _ in 0..50 {
        net.step(Duration::from_millis(1));
    }
    net.client.device.handed.clear();
    // One full segment goes at once; 2.5 MSS more while it is in flight go
    // as one super-segment, the short tail included: no earlier short
    // segment is unacknowledged (Nagle in Minshall's form, as Linux).
    let socket = net.client.sockets.get_mut::<TcpSocket>(c).unwrap();
    socket.send_slice(&data[..MSS]).unwrap();
    net.client.poll(net.now);
    let socket = net.client.sockets.get_mut::<TcpSocket>(c).unwrap();
    socket.send_slice(&data[..2 * MSS + MSS / 2]).unwrap();
    net.client.poll(net.now);
    assert_eq!(
        net.client.device.handed,
        [
            Handed {
                payload: MSS,
                segment_size: 0
            },
            Handed {
                payload: 2 * MSS + MSS / 2,
                segment_size: MSS as u16
            },
        ]
    );
    // A second short piece waits while that tail is unacknowledged...
    let socket = net.client.sockets.get_mut::<TcpSocket>(c).unwrap();
    socket.send_slice(&data[..MSS / 2]).unwrap();
    net.client.poll(net.now);
    assert_eq!(net.client.device.handed.len(), 2);
    // ...and goes after the ACKs (the last one may be a delayed ACK).
    let deadline = net.now + Duration::from_secs(1);
    while net.client.device.handed.len() < 3 && net.now < deadline {
        net.step(Duration::from_millis(1));
    }
    assert_eq!(
        net.client.device.handed.last(),
        Some(&Handed {
            payload: MSS / 2,
            segment_size: 0
        })
    );
}
