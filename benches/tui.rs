//! The live view at scale: what a refresh and a key press cost the UI thread at 100k
//! sockets, drawn into an off-screen terminal. Run by hand, never as a timed test:
//!
//!     cargo bench --bench tui                 # 100k sockets
//!     cargo bench --bench tui -- 20000        # another size
//!
//! Goals (issue 21): at 100k sockets a refresh costs the UI thread ≤ 16 ms median and
//! ≤ 33 ms worst, every key ≤ 16 ms median, RSS ≤ 100 MB and flat. The collector
//! thread tracks, diagnoses, sorts and filters (`tui::prepare`, timed here as
//! "prepare", run as the live view runs it: `Preparer::live`); the UI thread swaps the ready model in and draws ("refresh"). For
//! comparison, "refresh, prepared on the UI thread" is the whole of it on one thread,
//! as before the split (and as tests and replays still do). 1% of the connections are
//! replaced at each refresh, with the closed-connection log saying so.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sockscope::model::{
    Closed, Family, Owner, ProcessInfo, Proto, Snapshot, Socket, TcpInfo, TcpState,
};
use sockscope::tui::app::Retired;
use sockscope::tui::app::{App, Config};
use sockscope::tui::event::Input;
use sockscope::tui::event::Update;
use sockscope::tui::prepare::{Choice, Preparer, Ready};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;

const PROCESSES: u32 = 10;
const ROUNDS: usize = 15;

/// `n` loopback sockets: n/2 connections, both ends held by one of ten processes, with
/// tcp_info whose byte counters move by `tick`, as a busy host's would. 1% of the
/// connections are replaced at each tick (a new client address and inodes), as in
/// scripts/bench-live.sh.
fn sockets(n: usize, tick: u64) -> Vec<Socket> {
    let owners: Vec<Owner> = (0..PROCESSES)
        .map(|i| Owner {
            pid: 1000 + i,
            fd: 3,
            process: Arc::new(ProcessInfo {
                comm: Arc::from(format!("loadgen-{i}")),
                uid: 0,
                user: Arc::from("root"),
                container: None,
            }),
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n / 2 {
        let owner = owners[i % owners.len()].clone();
        out.extend(connection(n, i, epoch(i, tick), tick).map(|mut s| {
            s.processes = vec![owner.clone()].into();
            s
        }));
    }
    out
}

/// How often connection `i` was replaced by `tick`: 1% of them at each.
fn epoch(i: usize, tick: u64) -> u64 {
    (tick + i as u64) / CHURN_EVERY
}

const CHURN_EVERY: u64 = 100;

/// Both ends of connection `i` in its `epoch`, without owners.
fn connection(n: usize, i: usize, epoch: u64, tick: u64) -> [Socket; 2] {
    let server: SocketAddr = ([127, 0, 0, 1], 5000).into();
    let client: SocketAddr = (
        [127, 1 + (epoch % 250) as u8, (i >> 16) as u8, 1],
        (i & 0xffff) as u16,
    )
        .into();
    [(client, server), (server, client)]
        .into_iter()
        .enumerate()
        .map(|(j, (local, remote))| {
            let info = TcpInfo {
                rtt_us: 50,
                cwnd: 10,
                mss: 65483,
                bytes_acked: tick * (i as u64 % 97),
                bytes_received: tick * (i as u64 % 89),
                ..TcpInfo::default()
            };
            Socket {
                inode: epoch * n as u64 + (2 * i + j) as u64 + 1,
                tcp_info: Some(Box::new(info)),
                ..Socket::inet(
                    Proto::Tcp,
                    Family::Ipv4,
                    TcpState::Established,
                    local,
                    remote,
                )
            }
        })
        .collect::<Vec<_>>()
        .try_into()
        .expect("two ends")
}

/// What the closed-connection log says at `tick`: both ends of each connection
/// replaced since the tick before, as the kernel destroyed them (no inode, no owner).
fn closed(n: usize, tick: u64, at: SystemTime) -> Vec<Closed> {
    (0..n / 2)
        .filter(|&i| tick > 0 && epoch(i, tick) != epoch(i, tick - 1))
        .flat_map(|i| connection(n, i, epoch(i, tick - 1), tick))
        .map(|socket| Closed {
            at,
            socket: Socket { inode: 0, ..socket },
        })
        .collect()
}

fn update(n: usize, tick: u64, started: SystemTime) -> Update {
    // In display order, as the collector thread sorts it.
    let mut sockets = sockets(n, tick);
    sockets.sort_unstable_by(|a, b| a.display_order(b));
    let taken_at = started + Duration::from_secs(tick);
    Update {
        snapshot: Ok(Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at,
            closed: closed(n, tick, taken_at - Duration::from_millis(500)),
        }),
        cmdlines: HashMap::new(),
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }
}

/// The collector's side on a thread of its own, as live: asked for the next refresh,
/// it builds the snapshot, prepares it (timed: the second value) and sends it. Asked
/// between the timed steps, so it rests while the UI takes a refresh in, as it does
/// for most of an interval live. Ends when nobody asks.
/// What the UI replaced, handed back to the collector's thread to free (as live).
type Freed = Rc<RefCell<Vec<Retired>>>;

fn collector(
    n: usize,
    started: SystemTime,
    choice: Choice,
    freed: Freed,
) -> impl Fn() -> (Ready, Duration) {
    let (ask, asked) = mpsc::channel::<Vec<Retired>>();
    let (to_ui, from_collector) = mpsc::channel();
    std::thread::spawn(move || {
        let mut preparer = Preparer::live(Vec::new());
        for tick in 1.. {
            match asked.recv() {
                Ok(old) => old.into_iter().for_each(|old| preparer.recycle(old)),
                Err(_) => return,
            }
            let update = update(n, tick, started);
            let start = Instant::now();
            let ready = preparer.prepare(update, &choice);
            if to_ui.send((ready, start.elapsed())).is_err() {
                return;
            }
        }
    });
    move || {
        let old = freed.borrow_mut().drain(..).collect();
        ask.send(old).expect("the collector thread runs");
        let ready = from_collector.recv().expect("the collector thread runs");
        // Some of the rest of the interval (1 s by default).
        std::thread::sleep(Duration::from_millis(100));
        ready
    }
}

fn config(started: SystemTime) -> Config {
    Config {
        hostname: "bench".into(),
        banner: Vec::new(),
        pids: Vec::new(),
        interval: Duration::from_secs(1),
        filter: String::new(),
        started_at: started,
    }
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or("");
        line.split_whitespace().nth(1).unwrap_or("?").to_string()
    };
    let mb = |kb: String| {
        kb.parse::<u64>()
            .map_or(kb, |kb| format!("{} MB", kb / 1024))
    };
    format!("RSS {}, peak {}", mb(field("VmRSS")), mb(field("VmHWM")))
}

fn median_worst(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Median and worst of `ROUNDS` runs of `step`, each fed a fresh input.
fn time(
    terminal: &mut Terminal<TestBackend>,
    app: &mut App,
    freed: &Freed,
    mut input: impl FnMut(usize) -> Input,
) -> (Duration, Duration) {
    let times: Vec<Duration> = (0..ROUNDS)
        .map(|round| {
            let input = input(round);
            let start = Instant::now();
            let old = step(terminal, app, black_box(input));
            let took = start.elapsed();
            freed.borrow_mut().extend(old);
            took
        })
        .collect();
    median_worst(times)
}

/// What the UI loop does with one input: take it in, draw.
fn step(terminal: &mut Terminal<TestBackend>, app: &mut App, input: Input) -> Option<Retired> {
    let old = sockscope::tui::handle(app, input);
    sockscope::tui::draw(terminal, app).expect("draw");
    old
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(100_000, |a| a.parse().expect("a socket count"));
    let started = SystemTime::now();
    let mut app = App::new(config(started));
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    let freed = Freed::default();
    let next = collector(n, started, app.choice(), freed.clone());
    let (first, _) = next();
    sockscope::tui::step(&mut terminal, &mut app, Input::Ready(Box::new(first))).expect("draw");

    println!("{n} sockets, 160x50, {ROUNDS} rounds: median / worst, ms");
    let report = |what: &str, (median, worst): (Duration, Duration)| {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{what:<40} {:>8.1} {:>8.1}", ms(median), ms(worst));
    };
    // Each snapshot is built outside the timing; only what the UI thread does counts
    // (and, apart, what the collector thread does to prepare it).
    let mut prepared = Vec::new();
    report(
        "refresh (UI thread: swap in, draw)",
        time(&mut terminal, &mut app, &freed, |_| {
            let (ready, took) = next();
            prepared.push(took);
            Input::Ready(Box::new(ready))
        }),
    );
    report("prepare (collector thread)", median_worst(prepared));
    println!("after {} refreshes: {}", ROUNDS + 1, rss());
    // Memory over time: what the process holds (the view, the tracker, the snapshot
    // being prepared, what the allocator kept), refresh after refresh.
    let mut seen = ROUNDS + 1;
    for upto in [30, 60, 90] {
        while seen < upto {
            let (ready, _) = next();
            let old = step(&mut terminal, &mut app, Input::Ready(Box::new(ready)));
            freed.borrow_mut().extend(old);
            seen += 1;
        }
        println!("after {seen} refreshes: {}", rss());
    }
    if std::env::args().any(|a| a == "--refreshes-only") {
        return; // for a heap profile of the steady state (heaptrack)
    }
    report(
        "key j (selection down)",
        time(&mut terminal, &mut app, &freed, |_| key(KeyCode::Char('j'))),
    );
    report(
        "key PgDn",
        time(&mut terminal, &mut app, &freed, |_| key(KeyCode::PageDown)),
    );
    report(
        "key s (sort by the next column)",
        time(&mut terminal, &mut app, &freed, |_| key(KeyCode::Char('s'))),
    );
    report(
        "key r (sort by rate)",
        time(&mut terminal, &mut app, &freed, |_| key(KeyCode::Char('r'))),
    );
    report(
        "key Enter, Esc (details and back)",
        time(&mut terminal, &mut app, &freed, |round| {
            key(if round % 2 == 0 {
                KeyCode::Enter
            } else {
                KeyCode::Esc
            })
        }),
    );
    // Back to the sockets.
    sockscope::tui::step(&mut terminal, &mut app, key(KeyCode::Esc)).expect("draw");
    // Typing, in the sockets view and (after a Tab) in the processes view, which
    // makes its rows at each key; Esc clears the filter after each.
    let typing = |terminal: &mut Terminal<TestBackend>, app: &mut App, freed: &Freed| {
        sockscope::tui::step(terminal, app, key(KeyCode::Char('/'))).expect("draw");
        let times = time(terminal, app, freed, |round| {
            key(KeyCode::Char(if round % 2 == 0 { '5' } else { '0' }))
        });
        sockscope::tui::step(terminal, app, key(KeyCode::Esc)).expect("draw");
        times
    };
    report(
        "typing in the filter (each key)",
        typing(&mut terminal, &mut app, &freed),
    );
    report(
        "key Tab (sockets <-> processes)",
        time(&mut terminal, &mut app, &freed, |_| key(KeyCode::Tab)),
    );
    report(
        "  typing there (processes view)",
        typing(&mut terminal, &mut app, &freed),
    );
    // The whole refresh on one thread: what the UI thread paid before the split.
    let mut solo = App::new(config(started));
    sockscope::tui::step(
        &mut terminal,
        &mut solo,
        Input::Update(Box::new(update(n, 1, started))),
    )
    .expect("draw");
    report(
        "refresh, prepared on the UI thread",
        time(&mut terminal, &mut solo, &freed, |round| {
            Input::Update(Box::new(update(n, round as u64 + 2, started)))
        }),
    );
    drop(solo);
}
