//! Snapshots while everything changes: for a bounded time (RACE_SECS, longer on a loaded
//! machine until each source took MIN_SNAPSHOTS and saw a child holding a socket, never
//! past MAX_SECS), threads open and
//! close loopback TCP, UDP and unix sockets and start short-lived children that inherit
//! some of them, while other threads take host snapshots through the library, one from
//! /proc and one from netlink. Every snapshot must succeed, and report nothing that never
//! existed: each churn socket it lists is one the test opened, owned by this process or
//! a child the test started.
//!
//! Churn sockets are told apart from the rest of the machine's by address: they use two
//! loopback addresses of their own (claimed, see `common::netns::OwnAddr`) that nothing
//! else on the host uses, and unix paths in a temp dir of their own. The snapshots are of
//! the whole host on purpose: the machine's own churn is part of the race.
//!
//! Owners are a set: a child the churn is starting holds every inherited fd between
//! fork and exec, and may be listed before or after us.
//!
//! A socket is in the kernel a moment before the thread that opened it can record it.
//! So the churn threads open and record under a shared read lock, and the checker takes
//! the write lock after each snapshot: by then everything the snapshot saw is recorded.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::netns::OwnAddr;

use sockscope::collect::{Scope, Source, System, Tables};
use sockscope::model::{Proto, Snapshot};

const RACE_SECS: u64 = 6;
/// Snapshots each source must have taken; on a loaded machine the churn goes on past
/// RACE_SECS until they have, up to this many seconds in all.
const MIN_SNAPSHOTS: usize = 3;
const MAX_SECS: u64 = 90;
/// Rounds per churn thread, whatever the time: a bound on the work, not a target.
const MAX_ROUNDS: usize = 20_000;
/// A pause between rounds: without it the churn leaves tens of thousands of TIME_WAIT
/// sockets, and a /proc snapshot takes seconds (and the machine is shared).
const PAUSE: Duration = Duration::from_millis(2);
/// Every this many TCP rounds, a connection is closed gracefully (leaving TIME_WAIT).
const TIME_WAIT_EVERY: usize = 16;
/// Every this many TCP rounds, a child inherits the round's sockets.
const CHILD_EVERY: usize = 8;

/// What the churn opened and started, by the time the checker looks.
#[derive(Default)]
struct Record {
    tcp_ports: HashSet<u16>,
    udp_ports: HashSet<u16>,
    unix_paths: HashSet<PathBuf>,
    children: HashSet<u32>,
}

struct Shared {
    /// Held for reading while opening and recording; for writing while checking.
    gate: RwLock<()>,
    record: Mutex<Record>,
    stop: AtomicBool,
    ours: [Ipv4Addr; 2],
    dir: PathBuf,
}

impl Shared {
    fn opened(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap());
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
}

fn port(addr: std::io::Result<SocketAddr>) -> u16 {
    addr.unwrap().port()
}

/// The last few rounds' sockets, held open so that snapshots find some alive: a round
/// older than WINDOW is closed when a new one comes.
const WINDOW: usize = 12;

fn keep<T>(live: &mut VecDeque<T>, round: T, close: impl FnOnce(T)) {
    live.push_back(round);
    if live.len() > WINDOW {
        close(live.pop_front().unwrap());
    }
}

/// One TCP round: a listener, a client connected to it, the accepted end.
struct TcpRound {
    n: usize,
    listener: TcpListener,
    client: TcpStream,
    served: TcpStream,
}

/// Most rounds end in a reset: a TIME_WAIT per round would pile up thousands and slow
/// every snapshot down. The others alternate who closes first, so both sides'
/// TIME_WAIT, FIN_WAIT and CLOSE_WAIT happen.
fn close_tcp(round: TcpRound) {
    if !round.n.is_multiple_of(TIME_WAIT_EVERY) {
        socket2::SockRef::from(&round.client)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
    if round.n.is_multiple_of(2) {
        drop(round.client);
        drop(round.served);
    } else {
        drop(round.served);
        drop(round.client);
    }
    drop(round.listener);
}

/// TCP rounds; every few, a `sleep` child holding the listener (as stdin) and the
/// accepted end (as stdout).
fn churn_tcp(shared: &Shared) -> usize {
    let mut children: Vec<Child> = Vec::new();
    let mut live = VecDeque::new();
    let mut n = 0;
    while shared.running() && n < MAX_ROUNDS {
        n += 1;
        thread::sleep(PAUSE);
        let gate = shared.gate.read().unwrap();
        let listener = TcpListener::bind((shared.ours[0], 0)).unwrap();
        let lport = port(listener.local_addr());
        shared.opened(|r| {
            r.tcp_ports.insert(lport);
        });
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        shared.opened(|r| {
            r.tcp_ports.insert(port(client.local_addr()));
        });
        let (served, _) = listener.accept().unwrap();
        if n.is_multiple_of(CHILD_EVERY) {
            let stdin: OwnedFd = listener.try_clone().unwrap().into();
            let stdout: OwnedFd = served.try_clone().unwrap().into();
            // 0.2 to 0.6 s: the fd walk reaches the newest pids last, so a child much
            // shorter-lived than a snapshot would never be seen holding anything; one in
            // four lives 10 s (or to the end), for a loaded machine, where one fd walk
            // takes seconds and sees only the processes there when it began.
            let secs = if n.is_multiple_of(CHILD_EVERY * 4) {
                "10".to_string()
            } else {
                format!("0.{}", n % 5 + 2)
            };
            let child = Command::new("sleep")
                .arg(secs)
                .stdin(Stdio::from(stdin))
                .stdout(Stdio::from(stdout))
                .spawn()
                .expect("spawn sleep");
            shared.opened(|r| {
                r.children.insert(child.id());
            });
            children.push(child);
        }
        drop(gate);
        let round = TcpRound {
            n,
            listener,
            client,
            served,
        };
        keep(&mut live, round, close_tcp);
        children.retain_mut(|c| c.try_wait().unwrap().is_none());
    }
    live.into_iter().for_each(close_tcp);
    for mut child in children {
        let _ = child.kill(); // a long-lived one; the others have exited or are about to
        child.wait().unwrap();
    }
    n
}

/// UDP rounds: a bound socket and one connected to it.
fn churn_udp(shared: &Shared) -> usize {
    let mut live = VecDeque::new();
    let mut n = 0;
    while shared.running() && n < MAX_ROUNDS {
        n += 1;
        thread::sleep(PAUSE);
        let gate = shared.gate.read().unwrap();
        let bound = UdpSocket::bind((shared.ours[0], 0)).unwrap();
        let connected = UdpSocket::bind((shared.ours[1], 0)).unwrap();
        connected.connect(bound.local_addr().unwrap()).unwrap();
        shared.opened(|r| {
            r.udp_ports.insert(port(bound.local_addr()));
            r.udp_ports.insert(port(connected.local_addr()));
        });
        drop(gate);
        connected.send(b"x").unwrap();
        keep(&mut live, (bound, connected), drop);
    }
    n
}

/// Unix rounds: a listener on a fresh path, a connection to it, both ends.
fn churn_unix(shared: &Shared) -> usize {
    let close = |(path, sockets): (PathBuf, _)| {
        drop::<(UnixListener, UnixStream, UnixStream)>(sockets);
        std::fs::remove_file(path).unwrap();
    };
    let mut live = VecDeque::new();
    let mut n = 0;
    while shared.running() && n < MAX_ROUNDS {
        n += 1;
        thread::sleep(PAUSE);
        let path = shared.dir.join(format!("s{n}"));
        let gate = shared.gate.read().unwrap();
        shared.opened(|r| {
            r.unix_paths.insert(path.clone());
        });
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (served, _) = listener.accept().unwrap();
        drop(gate);
        keep(&mut live, (path, (listener, client, served)), close);
    }
    live.into_iter().for_each(close);
    n
}

/// Unix sockets made and gone as fast as they come, unnamed: connections to one
/// listener (each connect makes a server-side socket the kernel lists before it has its
/// type), socketpairs and datagram sockets. Nothing here is checked by name: it is
/// there so that the snapshots meet unix sockets in every stage of their making.
fn churn_unix_unnamed(shared: &Shared) -> usize {
    let path = shared.dir.join("unnamed");
    let listener = UnixListener::bind(&path).unwrap();
    shared.opened(|r| {
        r.unix_paths.insert(path.clone());
    });
    let mut n = 0;
    while shared.running() && n < MAX_ROUNDS * 4 {
        n += 1;
        let client = UnixStream::connect(&path).unwrap();
        let (served, _) = listener.accept().unwrap();
        let pair = UnixStream::pair().unwrap();
        let datagram = UnixDatagram::unbound().unwrap();
        drop((client, served, pair, datagram));
        if n.is_multiple_of(16) {
            thread::sleep(PAUSE);
        }
    }
    n
}

/// Counts of what a checker looked at.
#[derive(Default, Debug)]
struct Seen {
    snapshots: usize,
    churn_sockets: usize,
    child_owners: usize,
}

/// Checks one snapshot against the record; the anchor is a listener held throughout.
fn check(snapshot: &Snapshot, shared: &Shared, anchor: SocketAddr, seen: &mut Seen) {
    let me = std::process::id();
    let _gate = shared.gate.write().unwrap();
    let record = shared.record.lock().unwrap();
    let is_ours = |addr: Option<SocketAddr>| {
        addr.is_some_and(|a| matches!(a.ip(), IpAddr::V4(ip) if shared.ours.contains(&ip)))
    };
    let mut anchor_found = false;
    for s in &snapshot.sockets {
        let churn = match s.proto {
            Proto::Tcp | Proto::Udp if is_ours(s.local) || is_ours(s.remote) => {
                let local = s.local.unwrap();
                // (TCP: a churn UDP socket may get the same port number.)
                if s.proto == Proto::Tcp && local == anchor {
                    anchor_found = true;
                    // Held by us throughout; by a child of ours too, in any order.
                    assert!(s.processes.iter().any(|o| o.pid == me), "{s:?}");
                    for owner in &s.processes {
                        let ours = owner.pid == me || record.children.contains(&owner.pid);
                        assert!(
                            ours,
                            "anchor owner {} is not us or our child: {s:?}",
                            owner.pid
                        );
                    }
                    continue;
                }
                let ports = match s.proto {
                    Proto::Tcp => &record.tcp_ports,
                    _ => &record.udp_ports,
                };
                // Port 0: one of ours caught inside bind() (on our address, seen with
                // UDP) or inside connect() to our address (local 127.0.0.1:0 in CLOSE,
                // seen with TCP), hashed a moment before the kernel fills its port in.
                let binding = local.port() == 0;
                assert!(
                    binding || ports.contains(&local.port()),
                    "never opened: {s:?}"
                );
                true
            }
            Proto::Unix => match s.path() {
                Some(path) if Path::new(path).starts_with(&shared.dir) => {
                    assert!(
                        record.unix_paths.contains(Path::new(path)),
                        "never bound: {s:?}"
                    );
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if churn {
            seen.churn_sockets += 1;
            for owner in &s.processes {
                let ours = owner.pid == me || record.children.contains(&owner.pid);
                assert!(ours, "owner {} is not us or our child: {s:?}", owner.pid);
                seen.child_owners += usize::from(owner.pid != me);
            }
        }
    }
    assert!(anchor_found, "the anchor listener {anchor} is missing");
    seen.snapshots += 1;
}

/// How far one source's checker has got, for the main thread to know when to stop.
#[derive(Default)]
struct Progress {
    snapshots: AtomicUsize,
    child_owners: AtomicUsize,
}

impl Progress {
    fn enough(&self) -> bool {
        self.snapshots.load(Ordering::Relaxed) >= MIN_SNAPSHOTS
            && self.child_owners.load(Ordering::Relaxed) > 0
    }
}

/// Snapshots from one table source until told to stop.
fn snapshots(shared: &Shared, tables: Tables, anchor: SocketAddr, progress: &Progress) -> Seen {
    let mut system = System::new("/proc", Scope::Host)
        .and_then(|s| s.with_tables(tables))
        .unwrap();
    let mut seen = Seen::default();
    while shared.running() && seen.snapshots < MAX_ROUNDS {
        let snapshot = system
            .snapshot()
            .unwrap_or_else(|e| panic!("{tables:?} snapshot failed: {e:#}"));
        check(&snapshot, shared, anchor, &mut seen);
        progress.snapshots.store(seen.snapshots, Ordering::Relaxed);
        progress
            .child_owners
            .store(seen.child_owners, Ordering::Relaxed);
    }
    seen
}

#[test]
fn snapshots_during_socket_and_process_churn() {
    let claimed = [OwnAddr::new(), OwnAddr::new()];
    let ours = [claimed[0].ip, claimed[1].ip];
    let dir = tempfile::tempdir().unwrap();
    let shared = Shared {
        gate: RwLock::new(()),
        record: Mutex::default(),
        stop: AtomicBool::new(false),
        ours,
        dir: dir.path().to_path_buf(),
    };
    let anchor = TcpListener::bind((ours[1], 0)).unwrap();
    let anchor_addr = anchor.local_addr().unwrap();
    let rounds = AtomicUsize::new(0);
    let (proc_progress, netlink_progress) = (Progress::default(), Progress::default());

    let (proc_seen, netlink_seen) = thread::scope(|s| {
        let churn: [fn(&Shared) -> usize; 4] =
            [churn_tcp, churn_udp, churn_unix, churn_unix_unnamed];
        for f in churn {
            let (shared, rounds) = (&shared, &rounds);
            s.spawn(move || rounds.fetch_add(f(shared), Ordering::Relaxed));
        }
        let proc = s.spawn(|| snapshots(&shared, Tables::Proc, anchor_addr, &proc_progress));
        let netlink =
            s.spawn(|| snapshots(&shared, Tables::Netlink, anchor_addr, &netlink_progress));
        let start = Instant::now();
        let enough = || {
            start.elapsed() > Duration::from_secs(RACE_SECS)
                && proc_progress.enough()
                && netlink_progress.enough()
        };
        while !enough()
            && start.elapsed() < Duration::from_secs(MAX_SECS)
            && !proc.is_finished()
            && !netlink.is_finished()
        {
            thread::sleep(Duration::from_millis(50));
        }
        shared.stop.store(true, Ordering::Relaxed);
        (proc.join().unwrap(), netlink.join().unwrap())
    });

    let record = shared.record.lock().unwrap();
    eprintln!(
        "churn: {} rounds, {} children; /proc: {proc_seen:?}; netlink: {netlink_seen:?}",
        rounds.load(Ordering::Relaxed),
        record.children.len()
    );
    assert!(!record.children.is_empty(), "children were started");
    for seen in [&proc_seen, &netlink_seen] {
        assert!(seen.snapshots >= MIN_SNAPSHOTS, "{seen:?}");
        assert!(seen.churn_sockets > 0, "the churn was seen: {seen:?}");
        assert!(
            seen.child_owners > 0,
            "children seen holding sockets: {seen:?}"
        );
    }
}
