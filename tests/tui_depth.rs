//! The netlink depth in the live view: tcp_info and the peer in the details pane, the
//! PEER column (`p`), and whom each process talks to. Synthetic snapshots drawn by the
//! real app into a `TestBackend`.

mod tui_fixture;

use crossterm::event::KeyCode;
use sockscope::model::{Owner, Peer, Socket, TcpInfo, TcpState, Timer, TimerKind};
use sockscope::tui::app::{App, View};
use tui_fixture::*;

/// A TCP socket (the fixture's builder).
fn inet(local: &str, remote: &str, state: TcpState, inode: u64, owners: Vec<Owner>) -> Socket {
    tcp(local, remote, state, inode, owners)
}

fn info(bytes_acked: u64) -> Box<TcpInfo> {
    Box::new(TcpInfo {
        rtt_us: 123,
        rttvar_us: 45,
        rto_ms: 201,
        cwnd: 10,
        ssthresh: 0x7fff_ffff,
        mss: 32_768,
        retransmits: 0,
        total_retrans: 2,
        lost: 0,
        bytes_sent: bytes_acked + 512,
        bytes_acked,
        bytes_received: 3 * 1024 * 1024 + 200 * 1024,
        delivery_rate: 1_250_000_000,
        pacing_rate: Some(2_500_000_000).into(),
        last_data_sent_ms: 120,
        last_data_recv_ms: 4_240,
        busy_time_us: 1_500_000,
        rwnd_limited_us: 0,
        sndbuf_limited_us: 0,
    })
}

fn peer_of(s: &Socket) -> Peer {
    Peer {
        inode: s.inode,
        processes: s.processes.clone(),
    }
}

/// The web host, where curl (1500) talks to nginx (901) over two loopback
/// connections, nginx holds one connection to itself, and dbus has a unix peer whose
/// owner is hidden. `acked` moves the server socket's bytes_acked.
fn talking_sockets(acked: u64) -> Vec<Socket> {
    let nginx = |fd| owner(901, fd, "nginx", "www-data");
    let curl = |fd| owner(1500, fd, "curl", "root");
    let mut sockets = web_sockets();
    // web_sockets' own curl ↔ nginx pair gets its depth; a second pair joins it.
    sockets.retain(|s| ![201, 300].contains(&s.inode));
    let mut server = inet(
        "127.0.0.1:8080",
        "127.0.0.1:51234",
        TcpState::Established,
        201,
        vec![nginx(11)],
    );
    let mut client = inet(
        "127.0.0.1:51234",
        "127.0.0.1:8080",
        TcpState::Established,
        300,
        vec![curl(3)],
    );
    server.tcp_info = Some(info(acked));
    server.timer = Some(Timer {
        kind: TimerKind::Keepalive,
        expires_ms: 7_200,
        retransmits: 0,
    });
    client.tcp_info = Some(info(4096));
    let mut server2 = inet(
        "127.0.0.1:8080",
        "127.0.0.1:51236",
        TcpState::Established,
        203,
        vec![nginx(13)],
    );
    let mut client2 = inet(
        "127.0.0.1:51236",
        "127.0.0.1:8080",
        TcpState::Established,
        302,
        vec![curl(5)],
    );
    let mut self_a = inet(
        "127.0.0.1:8080",
        "127.0.0.1:51240",
        TcpState::Established,
        204,
        vec![nginx(14)],
    );
    let mut self_b = inet(
        "127.0.0.1:51240",
        "127.0.0.1:8080",
        TcpState::Established,
        205,
        vec![nginx(15)],
    );
    for (a, b) in [
        (&mut server, &mut client),
        (&mut server2, &mut client2),
        (&mut self_a, &mut self_b),
    ] {
        a.peer = Some(peer_of(b));
        b.peer = Some(peer_of(a));
    }
    sockets.extend([server, client, server2, client2, self_a, self_b]);
    for s in &mut sockets {
        if s.inode == 501 {
            // dbus's connected unix socket: the peer is known by inode only.
            s.set_peer_inode(Some(502));
            s.peer = Some(Peer {
                inode: 502,
                processes: Default::default(),
            });
        }
    }
    sockets
}

/// An app showing `talking_sockets` on a `width`×`height` screen.
fn talking_app(width: u16, height: u16) -> (App, ratatui::Terminal<ratatui::backend::TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(width, height);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(talking_sockets(1_000_000), 1))],
    );
    (app, terminal)
}

/// Selects the row whose socket has `inode` and opens its details.
fn open_inode(
    app: &mut App,
    terminal: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    inode: u64,
) {
    let row = app
        .rows
        .iter()
        .position(|r| app.socket(*r).inode == inode)
        .expect("the socket is listed");
    let mut keys = vec![char('g')];
    keys.extend(vec![char('j'); row]);
    keys.push(key(KeyCode::Enter));
    feed(app, terminal, keys);
    assert_eq!(app.details.as_ref().unwrap().socket.inode, inode);
}

#[test]
fn details_show_tcp_info_with_units_and_the_peer() {
    let (mut app, mut terminal) = talking_app(120, 42);
    open_inode(&mut app, &mut terminal, 201);
    insta::assert_snapshot!("details_tcp_info_and_peer", terminal.backend());

    // Each refresh brings the kernel's new numbers into the open details.
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(talking_sockets(5 * 1024 * 1024), 2))],
    );
    let screen = terminal.backend().to_string();
    assert!(screen.contains("bytes acked    5.0 MiB"), "{screen}");
    assert!(!screen.contains("976.6 KiB"), "{screen}");
}

#[test]
fn narrow_details_leave_the_explanations_out() {
    let (mut app, mut terminal) = talking_app(60, 42);
    open_inode(&mut app, &mut terminal, 201);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("cwnd           10 seg · 320.0 KiB"),
        "{screen}"
    );
    assert!(!screen.contains("before an ACK"), "{screen}");
}

#[test]
fn details_of_a_unix_peer_without_owner_show_its_inode() {
    let (mut app, mut terminal) = talking_app(120, 30);
    open_inode(&mut app, &mut terminal, 501);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("peer      pid 700 dbus-daemon ↔ inode 502 (no owner visible)"),
        "{screen}"
    );
    // No TCP section for a unix socket.
    assert!(!screen.contains("tcp_info"), "{screen}");
}

#[test]
fn details_say_why_tcp_info_is_missing() {
    // With netlink, a TIME_WAIT socket has no tcp_info but its neighbours do.
    let (mut app, mut terminal) = talking_app(120, 42);
    open_inode(&mut app, &mut terminal, 0);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("the kernel keeps no tcp_info for a socket in TIME_WAIT"),
        "{screen}"
    );
    // With /proc, no socket has it: the pane says where it comes from, in one line.
    let (mut app, mut terminal) = web_app(120, 42);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("tcp_info (rtt, cwnd, bytes) needs the netlink source"),
        "{screen}"
    );
    assert!(!screen.contains("rtt   "), "{screen}");
}

#[test]
fn table_with_the_peer_column() {
    let (mut app, mut terminal) = talking_app(160, 24);
    feed(&mut app, &mut terminal, vec![char('p')]);
    insta::assert_snapshot!("table_peer_column", terminal.backend());
}

#[test]
fn p_toggles_the_peer_column() {
    let (mut app, mut terminal) = talking_app(130, 24);
    let header = |t: &ratatui::Terminal<ratatui::backend::TestBackend>| {
        let screen = t.backend().to_string();
        screen
            .lines()
            .find(|l| l.contains("PROTO"))
            .unwrap()
            .to_string()
    };
    assert!(!app.show_peer);
    assert!(!header(&terminal).contains("PEER"));
    feed(&mut app, &mut terminal, vec![char('p')]);
    assert!(app.show_peer);
    assert!(header(&terminal).contains("PEER"));
    // The selection and the filter bar are not disturbed; in the filter, p is a letter.
    feed(&mut app, &mut terminal, vec![char('/'), char('p')]);
    assert!(app.show_peer);
    assert_eq!(app.filter.text, "p");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc), char('p')]);
    assert!(!app.show_peer);
    assert!(!header(&terminal).contains("PEER"));
}

#[test]
fn processes_list_whom_they_talk_to() {
    let (mut app, mut terminal) = talking_app(110, 16);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Tab)]);
    insta::assert_snapshot!("processes_talks_to", terminal.backend());
    let nginx = app.processes.iter().find(|p| p.pid == 901).unwrap();
    let talks: Vec<(u32, usize)> = nginx
        .talks_to
        .iter()
        .map(|t| (t.pid, t.connections))
        .collect();
    // curl twice; itself over two sockets (both ends are its own), listed last.
    assert_eq!(talks, [(1500, 2), (901, 2)]);
}

#[test]
fn page_keys_scroll_the_details_on_a_short_screen() {
    let (mut app, mut terminal) = talking_app(120, 24);
    open_inode(&mut app, &mut terminal, 201);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("protocol"), "{screen}");
    assert!(
        !screen.contains("sndbuf limited"),
        "cut off at 24 rows:\n{screen}"
    );

    // Down until the last line shows; more presses stop there.
    let pages = vec![key(KeyCode::PageDown); 6];
    feed(&mut app, &mut terminal, pages);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("sndbuf limited"), "{screen}");
    assert!(!screen.contains("protocol"), "{screen}");
    let bottom = app.details.as_ref().unwrap().scroll;

    // Up goes back by the same steps, not through overshoot first.
    feed(&mut app, &mut terminal, vec![key(KeyCode::PageUp)]);
    assert!(app.details.as_ref().unwrap().scroll < bottom);
    feed(&mut app, &mut terminal, vec![key(KeyCode::PageUp); 6]);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("protocol"), "{screen}");
    assert_eq!(app.view, View::Details, "still the same socket's details");
    assert_eq!(app.details.as_ref().unwrap().socket.inode, 201);
}
