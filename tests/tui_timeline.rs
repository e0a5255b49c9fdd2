//! The views over time: the events log (e), the diagnostics (d) and its header badge,
//! and the rate columns (r), on synthetic snapshot sequences drawn by the real app.

mod tui_fixture;

use crossterm::event::KeyCode;
use sockscope::column::Column;
use sockscope::model::{Family, Owner, Proto, Socket, TcpInfo, TcpState};
use sockscope::tui::app::{App, View};
use sockscope::tui::rows::SortBy;
use tui_fixture::*;

/// A TCP socket (the fixture's builder).
fn conn(local: &str, remote: &str, state: TcpState, inode: u64, owners: Vec<Owner>) -> Socket {
    tcp(local, remote, state, inode, owners)
}

fn nginx(fd: u32) -> Vec<Owner> {
    vec![owner(901, fd, "nginx", "www-data")]
}

fn curl(fd: u32) -> Vec<Owner> {
    vec![owner(1500, fd, "curl", "root")]
}

/// With tcp_info byte counters, as the netlink source gives them.
fn with_bytes(mut s: Socket, received: u64, acked: u64) -> Socket {
    s.tcp_info = Some(Box::new(TcpInfo {
        bytes_received: received,
        bytes_acked: acked,
        ..TcpInfo::default()
    }));
    s
}

fn listener() -> Socket {
    conn(
        "127.0.0.1:8080",
        "0.0.0.0:0",
        TcpState::Listen,
        200,
        nginx(6),
    )
}

/// A host over three refreshes: a connection opens, one closes, a connect completes.
fn events_app(width: u16, height: u16) -> (App, ratatui::Terminal<ratatui::backend::TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(width, height);
    let keep = conn(
        "127.0.0.1:8080",
        "127.0.0.1:51234",
        TcpState::Established,
        201,
        nginx(11),
    );
    let going = conn(
        "127.0.0.1:8080",
        "127.0.0.1:51100",
        TcpState::Established,
        202,
        nginx(12),
    );
    let connecting = |state| conn("127.0.0.1:51400", "127.0.0.1:9000", state, 301, curl(4));
    let dbus = {
        let mut s = conn("0.0.0.0:0", "0.0.0.0:0", TcpState::Established, 500, vec![]);
        s.proto = Proto::Unix;
        s.family = Family::Unix;
        (s.local, s.remote) = (None, None);
        s.set_path(b"/run/dbus/system_bus_socket");
        s.processes = vec![owner(700, 9, "dbus-daemon", "root")].into();
        s
    };
    let first = vec![
        listener(),
        keep.clone(),
        going,
        connecting(TcpState::SynSent),
    ];
    let second = vec![
        listener(),
        keep.clone(),
        connecting(TcpState::Established),
        conn(
            "127.0.0.1:8080",
            "127.0.0.1:51500",
            TcpState::Established,
            203,
            nginx(13),
        ),
    ];
    let mut third = second.clone();
    third.push(dbus);
    feed(
        &mut app,
        &mut terminal,
        vec![
            update(snapshot(first, 1)),
            update(snapshot(second, 2)),
            update(snapshot(third, 3)),
        ],
    );
    (app, terminal)
}

#[test]
fn events_log_shows_opened_closed_and_state_changes() {
    let (mut app, mut terminal) = events_app(110, 14);
    feed(&mut app, &mut terminal, vec![char('e')]);
    assert_eq!(app.view, View::Events);
    insta::assert_snapshot!("events", terminal.backend());

    // The filter bar picks the events of matching sockets.
    let mut keys = vec![char('/')];
    keys.extend(typed("nginx"));
    keys.push(key(KeyCode::Enter));
    feed(&mut app, &mut terminal, keys);
    insta::assert_snapshot!("events_filtered", terminal.backend());

    // e again (or Esc) goes back to the sockets.
    feed(&mut app, &mut terminal, vec![char('e')]);
    assert_eq!(app.view, View::Sockets);
}

#[test]
fn events_log_follows_unless_scrolled_up() {
    let mut app = App::new(config());
    let mut terminal = terminal(100, 12); // 8 rows of events
    let conns = |n: u16| -> Vec<Socket> {
        (0..n)
            .map(|i| {
                let remote = format!("127.0.0.1:{}", 40000 + i);
                conn(
                    "127.0.0.1:8080",
                    &remote,
                    TcpState::Established,
                    1000 + u64::from(i),
                    nginx(10),
                )
            })
            .collect()
    };
    // One more connection per refresh: one "opened" event each.
    let mut inputs = vec![char('e')];
    inputs.extend((0..=20).map(|n| update(snapshot(conns(n), u64::from(n) + 1))));
    feed(&mut app, &mut terminal, inputs);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains(":40019") && screen.contains("following"),
        "{screen}"
    );

    // Scrolled up 3: new events do not move what is shown.
    feed(
        &mut app,
        &mut terminal,
        vec![char('k'), char('k'), key(KeyCode::Up)],
    );
    let before = terminal.backend().to_string();
    assert!(
        !before.contains(":40019") && before.contains(":40016"),
        "{before}"
    );
    assert!(before.contains("3 newer below"), "{before}");
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(conns(22), 30))],
    );
    let after = terminal.backend().to_string();
    assert!(
        after.contains(":40016") && !after.contains(":40019"),
        "{after}"
    );
    assert!(after.contains("5 newer below"), "{after}");

    // g: the oldest; G: follow again.
    feed(&mut app, &mut terminal, vec![char('g')]);
    assert!(terminal.backend().to_string().contains(":40000 "));
    feed(&mut app, &mut terminal, vec![char('G')]);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains(":40021") && screen.contains("following"),
        "{screen}"
    );

    // Paused, the log stops with the refreshes.
    feed(
        &mut app,
        &mut terminal,
        vec![char(' '), update(snapshot(conns(23), 31))],
    );
    assert!(!terminal.backend().to_string().contains(":40022"));
}

/// A leak and a stuck connect, seen over 5 seconds: two findings.
fn troubled_app() -> (App, ratatui::Terminal<ratatui::backend::TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(120, 22);
    let mut leak = conn(
        "127.0.0.1:8080",
        "127.0.0.1:51300",
        TcpState::CloseWait,
        202,
        nginx(12),
    );
    leak.recv_q = 1;
    let stuck = conn(
        "127.0.0.1:51400",
        "10.0.0.9:5432",
        TcpState::SynSent,
        301,
        curl(4),
    );
    let sockets = vec![listener(), leak, stuck];
    let updates = [1, 3, 6].map(|t| update(snapshot(sockets.clone(), t)));
    feed(&mut app, &mut terminal, updates.into());
    (app, terminal)
}

#[test]
fn diagnostics_name_the_leak_and_the_stuck_connect() {
    let (mut app, mut terminal) = troubled_app();
    let header = terminal.backend().to_string();
    assert!(
        header.lines().next().unwrap().contains("⚠ 2 findings (d)"),
        "{header}"
    );
    feed(&mut app, &mut terminal, vec![char('d')]);
    assert_eq!(app.view, View::Diagnostics);
    insta::assert_snapshot!("diagnostics", terminal.backend());
    assert_eq!(
        terminal.backend().buffer()[(2, 3)].fg,
        ratatui::style::Color::Yellow,
        "warnings in amber"
    );
    // ↓ moves a whole finding; never past the last.
    feed(&mut app, &mut terminal, vec![char('j'), char('j')]);
    let screen = terminal.backend().to_string();
    let first = screen.lines().nth(3).unwrap();
    assert!(first.contains("SYN_SENT: 1 connection attempt"), "{screen}");
    assert!(screen.contains("from 2 of 2"), "{screen}");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc)]);
    assert_eq!(app.view, View::Sockets);
}

#[test]
fn healthy_has_no_badge_and_says_so() {
    let (mut app, mut terminal) = web_app(110, 16);
    let screen = terminal.backend().to_string();
    assert!(!screen.contains("finding"), "{screen}");
    feed(&mut app, &mut terminal, vec![char('d')]);
    insta::assert_snapshot!("diagnostics_healthy", terminal.backend());
}

#[test]
fn r_puts_the_busiest_connection_on_top_selected() {
    let mut app = App::new(config());
    let mut terminal = terminal(130, 12);
    let sockets = |t: u64| {
        vec![
            with_bytes(listener(), 0, 0),
            // 1 KiB/s in, 100 B/s out.
            with_bytes(
                conn(
                    "127.0.0.1:8080",
                    "127.0.0.1:51234",
                    TcpState::Established,
                    201,
                    nginx(11),
                ),
                1024 * t,
                100 * t,
            ),
            // 2 MiB/s out: the busiest.
            with_bytes(
                conn(
                    "127.0.0.1:8080",
                    "127.0.0.1:51300",
                    TcpState::Established,
                    202,
                    nginx(12),
                ),
                10 * t,
                2 * 1024 * 1024 * t,
            ),
            with_bytes(
                conn(
                    "127.0.0.1:51234",
                    "127.0.0.1:8080",
                    TcpState::Established,
                    300,
                    curl(3),
                ),
                100 * t,
                1024 * t,
            ),
        ]
    };
    feed(
        &mut app,
        &mut terminal,
        vec![
            update(snapshot(sockets(1), 1)),
            update(snapshot(sockets(2), 2)),
            char('j'),
            char('r'),
        ],
    );
    assert_eq!(app.sort.by, SortBy::Rate);
    assert_eq!(app.table.selected, 0);
    let top = app.socket(app.selected_row().unwrap());
    assert_eq!(top.inode, 202, "the 2 MiB/s connection");
    insta::assert_snapshot!("sorted_by_rate", terminal.backend());

    // s from there goes on through RX/s, then TX/s.
    feed(&mut app, &mut terminal, vec![char('s')]);
    assert_eq!(app.sort.by, SortBy::Column(Column::RxRate));
    assert_eq!(app.socket(app.rows[0]).inode, 201, "1 KiB/s in");
    feed(&mut app, &mut terminal, vec![char('s')]);
    assert_eq!(app.sort.by, SortBy::Column(Column::TxRate));

    // The busiest closes: shown struck out for a refresh, but sorted below the live.
    let mut later = sockets(3);
    later.retain(|s| s.inode != 202);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(later, 3)), char('r')],
    );
    assert_eq!(app.socket(app.rows[0]).inode, 201);
    assert_eq!(app.socket(*app.rows.last().unwrap()).inode, 202);
}

#[test]
fn details_keep_a_longer_rate_history_than_the_tracker() {
    // The tracker keeps a few samples per socket; the details view keeps the rates of
    // the socket it shows, one per refresh, up to its sparklines' width.
    let at = |secs: u64, bytes: u64| {
        let s = conn(
            "127.0.0.1:8080",
            "127.0.0.1:51234",
            TcpState::Established,
            201,
            nginx(11),
        );
        update(snapshot(vec![with_bytes(s, bytes, 2 * bytes)], secs))
    };
    let mut app = App::new(config());
    let mut terminal = terminal(120, 40);
    feed(
        &mut app,
        &mut terminal,
        vec![at(1, 0), at(2, 1000), key(KeyCode::Enter)],
    );
    assert_eq!(app.view, View::Details);
    let refreshes: Vec<_> = (3..30).map(|secs| at(secs, secs * 1000)).collect();
    feed(&mut app, &mut terminal, refreshes);
    let rates = &app.details.as_ref().unwrap().rates;
    assert_eq!(rates.len(), sockscope::tui::app::DETAILS_RATES);
    assert_eq!(rates.back().unwrap().rx_per_sec, 1000.0);
    assert_eq!(rates.back().unwrap().tx_per_sec, 2000.0);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("1000 B/s") && screen.contains("2.0 KiB/s"),
        "{screen}"
    );
}

/// `r` selects the busiest connection and stays on it while it lives, even once
/// another is busier; when it closes, the selection moves to the busiest left, not to
/// the vanished row at the bottom. Moving the selection ends the following.
#[test]
fn r_follows_the_busiest_until_it_closes() {
    let mut app = App::new(config());
    let mut terminal = terminal(110, 20);
    // Per second: A sends `a` bytes, B `b`, C 100.
    let sockets = |t: u64, a: Option<u64>, b: u64| {
        let mut all = vec![with_bytes(listener(), 0, 0)];
        let ends = [
            ("127.0.0.1:51300", 202, a),
            ("127.0.0.1:51234", 201, Some(b)),
            ("127.0.0.1:51240", 203, Some(100)),
        ];
        for (remote, inode, per_sec) in ends {
            let Some(per_sec) = per_sec else { continue };
            let c = conn(
                "127.0.0.1:8080",
                remote,
                TcpState::Established,
                inode,
                nginx(11),
            );
            all.push(with_bytes(c, 0, per_sec * t));
        }
        all
    };
    let selected = |app: &App| app.socket(app.selected_row().unwrap()).inode;
    feed(
        &mut app,
        &mut terminal,
        vec![
            update(snapshot(sockets(1, Some(1 << 20), 1000), 1)),
            update(snapshot(sockets(2, Some(1 << 20), 1000), 2)),
            char('r'),
        ],
    );
    assert_eq!(selected(&app), 202, "the 1 MiB/s connection");
    // B gets busier than A (its bytes jump): the selection stays on A, now row 1.
    let mut later = sockets(3, Some(1 << 20), 1000);
    later[2] = with_bytes(
        conn(
            "127.0.0.1:8080",
            "127.0.0.1:51234",
            TcpState::Established,
            201,
            nginx(11),
        ),
        0,
        100 << 20,
    );
    feed(&mut app, &mut terminal, vec![update(snapshot(later, 3))]);
    assert_eq!(selected(&app), 202, "still A while it lives");
    assert_eq!(app.table.selected, 1);
    // A closes: the busiest left (B), on top; not A's vanished row.
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(sockets(4, None, 200 << 20), 4))],
    );
    assert_eq!(selected(&app), 201, "moved to the next busiest");
    assert_eq!(app.table.selected, 0);
    // Moving the selection by hand ends it: it stays where it was put.
    feed(&mut app, &mut terminal, vec![char('j')]);
    let put = selected(&app);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(sockets(5, None, 200 << 20), 5))],
    );
    assert_eq!(selected(&app), put);
}
