//! The live view at scale: what a refresh and a key press cost the UI thread at 100k
//! sockets, drawn into an off-screen terminal. Run by hand, never as a timed test:
//!
//!     cargo bench --bench tui                 # 100k sockets
//!     cargo bench --bench tui -- 20000        # another size
//!
//! Goals (issue 7): key press to redraw < 50 ms; a refresh costs no more than one
//! `sockscope list` (the collector's snapshot is that; the UI thread's share is timed
//! here as "refresh").

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sockscope::model::{Family, Owner, Proto, Snapshot, Socket, TcpInfo, TcpState};
use sockscope::tui::app::{App, Config};
use sockscope::tui::event::Input;
use sockscope::tui::event::Update;

const PROCESSES: u32 = 10;
const ROUNDS: usize = 15;

/// `n` loopback sockets: n/2 connections, both ends held by one of ten processes, with
/// tcp_info whose byte counters move by `tick`, as a busy host's would.
fn sockets(n: usize, tick: u64) -> Vec<Socket> {
    let owners: Vec<Owner> = (0..PROCESSES)
        .map(|i| Owner {
            pid: 1000 + i,
            fd: 3,
            comm: Arc::from(format!("loadgen-{i}")),
            uid: 0,
            user: Arc::from("root"),
            container: None,
        })
        .collect();
    let server: SocketAddr = ([127, 0, 0, 1], 5000).into();
    let mut out = Vec::with_capacity(n);
    for i in 0..n / 2 {
        let client: SocketAddr = ([127, 0, (i >> 16) as u8, 1], (i & 0xffff) as u16).into();
        let owner = owners[i % owners.len()].clone();
        for (j, (local, remote)) in [(client, server), (server, client)].into_iter().enumerate() {
            let info = TcpInfo {
                rtt_us: 50,
                cwnd: 10,
                mss: 65483,
                bytes_acked: tick * (i as u64 % 97),
                bytes_received: tick * (i as u64 % 89),
                ..TcpInfo::default()
            };
            out.push(Socket {
                inode: (2 * i + j) as u64 + 1,
                processes: vec![owner.clone()].into(),
                tcp_info: Some(Box::new(info)),
                ..Socket::inet(
                    Proto::Tcp,
                    Family::Ipv4,
                    TcpState::Established,
                    local,
                    remote,
                )
            });
        }
    }
    out
}

fn update(n: usize, tick: u64, started: SystemTime) -> Input {
    // In display order, as the collector thread sends it.
    let mut sockets = sockets(n, tick);
    sockets.sort_unstable_by(|a, b| a.display_order(b));
    Input::Update(Box::new(Update {
        snapshot: Ok(Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: started + Duration::from_secs(tick),
            closed: Vec::new(),
        }),
        cmdlines: HashMap::new(),
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }))
}

fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Median and worst of `ROUNDS` runs of `step`, each fed a fresh input.
fn time(
    terminal: &mut Terminal<TestBackend>,
    app: &mut App,
    mut input: impl FnMut(usize) -> Input,
) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|round| {
            let input = input(round);
            let start = Instant::now();
            sockscope::tui::step(terminal, app, black_box(input)).expect("draw");
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[ROUNDS / 2], times[ROUNDS - 1])
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(100_000, |a| a.parse().expect("a socket count"));
    let started = SystemTime::now();
    let mut app = App::new(Config {
        hostname: "bench".into(),
        banner: Vec::new(),
        pids: Vec::new(),
        interval: Duration::from_secs(1),
        filter: String::new(),
        started_at: started,
    });
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    sockscope::tui::step(&mut terminal, &mut app, update(n, 1, started)).expect("draw");

    println!("{n} sockets, 160x50, {ROUNDS} rounds: median / worst, ms");
    let report = |what: &str, (median, worst): (Duration, Duration)| {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{what:<34} {:>8.1} {:>8.1}", ms(median), ms(worst));
    };
    // Each snapshot is built outside the timing; only what the UI thread does counts.
    report(
        "refresh (a new snapshot arrives)",
        time(&mut terminal, &mut app, |round| {
            update(n, round as u64 + 2, started)
        }),
    );
    report(
        "key j (selection down)",
        time(&mut terminal, &mut app, |_| key(KeyCode::Char('j'))),
    );
    report(
        "key PgDn",
        time(&mut terminal, &mut app, |_| key(KeyCode::PageDown)),
    );
    report(
        "key s (sort by the next column)",
        time(&mut terminal, &mut app, |_| key(KeyCode::Char('s'))),
    );
    report(
        "key Tab (sockets <-> processes)",
        time(&mut terminal, &mut app, |_| key(KeyCode::Tab)),
    );
    sockscope::tui::step(&mut terminal, &mut app, key(KeyCode::Char('/'))).expect("draw");
    report(
        "typing in the filter (each key)",
        time(&mut terminal, &mut app, |round| {
            key(KeyCode::Char(if round % 2 == 0 { '5' } else { '0' }))
        }),
    );
    // What the app holds after 16 refreshes: its snapshot, history and rows, plus
    // what the allocator kept of the snapshots that came and went.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
    {
        println!("{line}");
    }
}
