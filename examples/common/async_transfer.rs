//! The async transfer of `examples/async_loopback.rs`, shared with
//! `tests/async_loopback.rs`: two pollnet stacks joined by a `Loopback`
//! link (1 ms one way), a server task and a client task on a
//! `futures-executor` `LocalPool`, each stack's runner as a task of its
//! own, and a virtual clock that the executor loop moves to the earliest
//! deadline (a timer or a frame's arrival) whenever every task waits.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use futures_executor::LocalPool;
use futures_util::task::LocalSpawnExt;
use sha2::{Digest, Sha256};

use pollnet::asynch::{Clock, Error, Stack};
use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, LinkEnd, Loopback};
use pollnet::socket::tcp::{SocketBuffer, TcpSocket};
use pollnet::socket::{ChildBuffers, SocketSet};
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// The client's address.
pub const CLIENT_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
/// The server's address.
pub const SERVER_IP: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);
/// The link's one-way delay.
pub const ONE_WAY_DELAY: Duration = Duration::from_millis(1);
/// The server's port.
pub const PORT: u16 = 7;
/// Each socket's receive and send buffer.
pub const BUFFER: usize = 64 * 1024;
/// A transfer that has not finished after this much virtual time is stuck.
pub const VIRTUAL_TIME_LIMIT: Duration = Duration::from_secs(600);

/// Time that moves only when the executor loop moves it: to the earliest
/// deadline a runner waits for, once no task can make progress.
#[derive(Debug, Default)]
pub struct VirtualClock {
    now: Cell<Instant>,
    /// Each runner's timed wait, by stack.
    sleepers: RefCell<Vec<Option<(Instant, Waker)>>>,
}

impl VirtualClock {
    /// Moves time to the earliest deadline a runner waits for and wakes
    /// every runner due then; `false` if no runner waits for a time.
    pub fn advance(&self) -> bool {
        let mut sleepers = self.sleepers.borrow_mut();
        let Some(at) = sleepers.iter().flatten().map(|(at, _)| *at).min() else {
            return false;
        };
        if at > self.now.get() {
            self.now.set(at);
        }
        for slot in sleepers.iter_mut() {
            if slot.as_ref().is_some_and(|(due, _)| *due <= at) {
                if let Some((_, waker)) = slot.take() {
                    waker.wake();
                }
            }
        }
        true
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now.get()
    }
}

/// A device's "frame received" interrupt, simulated: when the next frame
/// towards a stack arrives, and the stack's runner to wake then.
#[derive(Debug, Default)]
pub struct Arrival {
    at: Cell<Option<Instant>>,
    waker: RefCell<Option<Waker>>,
}

impl Arrival {
    /// A frame arrives at `at` (keeps an earlier arrival) and the runner
    /// waiting on this device learns of it.
    fn raise_at(&self, at: Instant) {
        self.at
            .set(Some(self.at.get().map_or(at, |old| old.min(at))));
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// One link end whose transmissions raise the other end's [`Arrival`]
/// (as a NIC's receive interrupt would), and which records when the next
/// frame towards it arrives.
pub struct SignalledLink {
    link: LinkEnd,
    own: Rc<Arrival>,
    peer: Rc<Arrival>,
    transmitted: u64,
}

impl Device for SignalledLink {
    type RxToken<'a> = <LinkEnd as Device>::RxToken<'a>;
    type TxToken<'a> = <LinkEnd as Device>::TxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.link.receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.link.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.link.capabilities()
    }

    /// The end of every poll: what is still on the way to us is due at
    /// its arrival; what we sent is due at the peer one delay from now.
    fn flush(&mut self, now: Instant) {
        self.link.flush(now);
        self.own.at.set(self.link.next_arrival());
        let transmitted = self.link.stats().transmitted;
        if transmitted > self.transmitted {
            self.transmitted = transmitted;
            self.peer.raise_at(now + self.link.one_way_delay());
        }
    }
}

/// One stack's view of the shared virtual time: its runner waits for its
/// deadline or its device's next arrival, whichever is first.
pub struct StackClock {
    time: Rc<VirtualClock>,
    arrival: Rc<Arrival>,
    slot: usize,
}

impl Clock for StackClock {
    fn now(&self) -> Instant {
        self.time.now()
    }

    async fn wait_until(&self, deadline: Option<Instant>) {
        poll_fn(|cx| {
            let now = self.time.now();
            let arrival = self.arrival.at.get();
            if arrival.is_some_and(|at| at <= now) {
                self.arrival.at.set(None);
                return Poll::Ready(());
            }
            if deadline.is_some_and(|at| at <= now) {
                return Poll::Ready(());
            }
            *self.arrival.waker.borrow_mut() = Some(cx.waker().clone());
            let due = match (deadline, arrival) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut sleepers = self.time.sleepers.borrow_mut();
            if sleepers.len() <= self.slot {
                sleepers.resize_with(self.slot + 1, || None);
            }
            sleepers[self.slot] = due.map(|at| (at, cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

/// What one transfer did.
#[derive(Debug)]
pub struct Outcome {
    /// The bytes the client wrote.
    pub sent: Vec<u8>,
    /// The bytes the server read, in order.
    pub received: Vec<u8>,
    /// The SHA-256 the server computed and sent back, as the client read it.
    pub echoed_digest: Vec<u8>,
    /// The virtual time the transfer took.
    pub elapsed: Duration,
    /// How often the executor loop moved the clock (timer waits).
    pub clock_advances: u64,
    /// Sockets still in the two sets shortly after both tasks ended.
    pub sockets_left: usize,
}

/// `len` bytes from a xorshift generator seeded with `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A socket with the example's buffers.
pub fn new_socket() -> TcpSocket<'static> {
    TcpSocket::new(
        SocketBuffer::new(vec![0; BUFFER]),
        SocketBuffer::new(vec![0; BUFFER]),
    )
}

type LoopStack = Stack<'static, SignalledLink, StackClock>;

/// A finished task: its name and how it ended.
type TaskResult = (&'static str, Result<(), Error>);

/// The server: accepts one connection, reads it to the end, answers with
/// the SHA-256 of what it read and closes.
async fn serve(stack: &'static LoopStack, received: Rc<RefCell<Vec<u8>>>) -> Result<(), Error> {
    let listener = stack.listen(
        new_socket(),
        PORT,
        4,
        ChildBuffers::Alloc {
            rx: BUFFER,
            tx: BUFFER,
        },
    )?;
    let mut conn = listener.accept().await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 3000];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        received.borrow_mut().extend_from_slice(&buf[..n]);
    }
    embedded_io_async::Write::write_all(&mut conn, &hasher.finalize()).await?;
    embedded_io_async::Write::flush(&mut conn).await?;
    conn.close().await
}

/// The client: connects, writes `data` in chunks of varying size,
/// waits until all of it is acknowledged, half-closes and reads the
/// server's answer to the end.
async fn client(
    stack: &'static LoopStack,
    data: Rc<Vec<u8>>,
    echoed: Rc<RefCell<Vec<u8>>>,
) -> Result<(), Error> {
    let server = IpEndpoint::new(SERVER_IP.into(), PORT);
    let mut conn = stack.connect(new_socket(), server).await?;
    let mut sizes = pattern(data.len() / 1000 + 1, 7).into_iter().cycle();
    let mut offset = 0;
    while offset < data.len() {
        // 1 to 8160 bytes at a time, so writes end mid-buffer and wrap.
        let chunk = (usize::from(sizes.next().unwrap_or(1)) * 32).max(1);
        let end = (offset + chunk).min(data.len());
        offset += conn.write(&data[offset..end]).await?;
    }
    conn.flush().await?;
    if conn.with_socket(|s| s.send_queue()) != Some(0) {
        return Err(Error::Closed);
    }
    conn.shutdown().await?;
    let mut answer = Vec::new();
    let mut buf = [0; 16];
    loop {
        let n = embedded_io_async::Read::read(&mut conn, &mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    *echoed.borrow_mut() = answer;
    Ok(())
}

/// Two stacks on one virtual clock and the executor that runs their
/// tasks; the stacks' runners are spawned already.
pub struct Rig {
    /// The shared virtual time.
    pub time: Rc<VirtualClock>,
    /// The client's stack (192.0.2.1).
    pub client: &'static LoopStack,
    /// The server's stack (192.0.2.2).
    pub server: &'static LoopStack,
    pool: LocalPool,
    /// How often the clock moved.
    pub clock_advances: u64,
}

impl Rig {
    /// Two stacks joined by a 1 ms link, their secrets derived from `seed`.
    pub fn new(seed: u64) -> Result<Rig, String> {
        let time = Rc::new(VirtualClock::default());
        let (client_link, server_link) = Loopback::pair(1500, ONE_WAY_DELAY);
        let (client_arrival, server_arrival) =
            (Rc::new(Arrival::default()), Rc::new(Arrival::default()));
        // Each stack lives as long as the program, as a `static` would (a
        // `StaticCell` on an embedded executor).
        let host =
            |n: u8, ip: Ipv4Address, link: LinkEnd, own: &Rc<Arrival>, peer: &Rc<Arrival>| {
                let config = Config::new(
                    EthernetAddress([2, 0, 0, 0, 0, n]),
                    u128::from(seed) << 8 | u128::from(n),
                )
                .with_ip(Ipv4Cidr::new(ip, 24).ok_or("a /24 prefix")?);
                let iface = Interface::new(config).map_err(|e| format!("{e}"))?;
                let device = SignalledLink {
                    link,
                    own: own.clone(),
                    peer: peer.clone(),
                    transmitted: 0,
                };
                let clock = StackClock {
                    time: time.clone(),
                    arrival: own.clone(),
                    slot: usize::from(n),
                };
                let stack: &'static LoopStack = Box::leak(Box::new(Stack::new(
                    iface,
                    SocketSet::with_capacity(8),
                    device,
                    clock,
                )));
                Ok::<_, String>(stack)
            };
        let client = host(1, CLIENT_IP, client_link, &client_arrival, &server_arrival)?;
        let server = host(2, SERVER_IP, server_link, &server_arrival, &client_arrival)?;
        let mut rig = Rig {
            time,
            client,
            server,
            pool: LocalPool::new(),
            clock_advances: 0,
        };
        for stack in [client, server] {
            rig.spawn(async move { match stack.run().await {} })?;
        }
        Ok(rig)
    }

    /// Adds a task.
    pub fn spawn(
        &mut self,
        task: impl std::future::Future<Output = ()> + 'static,
    ) -> Result<(), String> {
        self.pool
            .spawner()
            .spawn_local(task)
            .map_err(|e| format!("spawn: {e:?}"))
    }

    /// Runs the tasks, moving the clock whenever all of them wait, until
    /// `done` holds; fails when the virtual time passes `limit` or no task
    /// can ever run again.
    pub fn run_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&Rig) -> bool,
    ) -> Result<(), String> {
        let end = self.time.now() + limit;
        loop {
            self.pool.run_until_stalled();
            if done(self) {
                return Ok(());
            }
            if self.time.now() > end {
                return Err(format!("not done after {limit} of virtual time"));
            }
            if !self.time.advance() {
                return Err("every task waits and no timer is set".into());
            }
            self.clock_advances += 1;
        }
    }

    /// Sockets in both stacks' sets.
    pub fn sockets(&self) -> usize {
        self.client.with(|_, s, _| s.len()) + self.server.with(|_, s, _| s.len())
    }
}

/// Runs one transfer of `len` bytes (pattern seed `seed`) to the end.
pub fn transfer(len: usize, seed: u64) -> Result<Outcome, String> {
    let mut rig = Rig::new(seed)?;
    let data = Rc::new(pattern(len, seed));
    let received = Rc::new(RefCell::new(Vec::new()));
    let echoed = Rc::new(RefCell::new(Vec::new()));
    let results: Rc<RefCell<Vec<TaskResult>>> = Rc::default();
    {
        let (results, received, server) = (results.clone(), received.clone(), rig.server);
        rig.spawn(async move {
            let outcome = serve(server, received).await;
            results.borrow_mut().push(("server", outcome));
        })?;
    }
    {
        let (results, data, echoed, client_stack) =
            (results.clone(), data.clone(), echoed.clone(), rig.client);
        rig.spawn(async move {
            let outcome = client(client_stack, data, echoed).await;
            results.borrow_mut().push(("client", outcome));
        })?;
    }
    let finished = rig.run_until(VIRTUAL_TIME_LIMIT, |_| results.borrow().len() == 2);
    if let Err(e) = finished {
        return Err(format!("{e}; tasks ended: {:?}", results.borrow()));
    }
    for (task, outcome) in results.borrow().iter() {
        if let Err(e) = outcome {
            return Err(format!("{task}: {e}"));
        }
    }
    let elapsed = rig.time.now() - Instant::ZERO;
    // The dropped streams and listener handed their sockets back: both
    // sets empty out (the client's connection waits in TIME_WAIT as a
    // compact record, which holds no socket). A run that never empties
    // them shows in `sockets_left`.
    let _ = rig.run_until(Duration::from_secs(10), |rig| rig.sockets() == 0);
    let received = received.take();
    let echoed_digest = echoed.take();
    Ok(Outcome {
        sent: Rc::try_unwrap(data).unwrap_or_else(|rc| (*rc).clone()),
        received,
        echoed_digest,
        elapsed,
        clock_advances: rig.clock_advances,
        sockets_left: rig.sockets(),
    })
}
