//! Fixture snapshots and helpers shared by the TUI tests. Everything machine-specific
//! (host name, times, pids) is made up here, so screen snapshots are the same anywhere.

#![allow(dead_code)] // each test file uses its own part

#[path = "../common/sockets.rs"]
pub mod sockets;

pub mod containers;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sockets::Build;
use sockscope::model::{Owner, Snapshot, Socket, TcpState};
use sockscope::tui::app::{App, Config};
use sockscope::tui::event::{Input, Update};

pub fn started_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub fn config() -> Config {
    Config {
        hostname: "web-1".into(),
        banner: Vec::new(),
        pids: Vec::new(),
        interval: Duration::from_secs(1),
        filter: String::new(),
        started_at: started_at(),
    }
}

/// A process of `user`'s: root is uid 0, anyone else 33.
pub fn owner(pid: u32, fd: u32, comm: &str, user: &str) -> Owner {
    let uid = if user == "root" { 0 } else { 33 };
    sockets::owner_as(pid, fd, comm, user, uid)
}

pub fn tcp(local: &str, remote: &str, state: TcpState, inode: u64, owners: Vec<Owner>) -> Socket {
    sockets::tcp(local, remote, state)
        .inode(inode)
        .owned_by(owners)
}

pub fn with_queues(socket: Socket, recv_q: u32, send_q: u32) -> Socket {
    socket.queues(recv_q, send_q)
}

pub fn udp(local: &str, inode: u64, owners: Vec<Owner>) -> Socket {
    sockets::udp(local, "0.0.0.0:0", TcpState::Unconn)
        .inode(inode)
        .owned_by(owners)
}

pub fn unix(path: Option<&str>, state: TcpState, inode: u64, owners: Vec<Owner>) -> Socket {
    sockets::unix(path, state).inode(inode).owned_by(owners)
}

/// A small web server host: sshd, nginx (two workers share the listener), a client,
/// a CLOSE_WAIT the app forgot to close, a TIME_WAIT nobody holds, DNS, dbus.
pub fn web_sockets() -> Vec<Socket> {
    let sshd = || owner(812, 3, "sshd", "root");
    let nginx = |fd| owner(901, fd, "nginx", "www-data");
    let curl = |fd| owner(1500, fd, "curl", "root");
    vec![
        tcp(
            "0.0.0.0:22",
            "0.0.0.0:0",
            TcpState::Listen,
            100,
            vec![sshd()],
        ),
        tcp(
            "[::]:22",
            "[::]:0",
            TcpState::Listen,
            101,
            vec![owner(812, 4, "sshd", "root")],
        ),
        with_queues(
            tcp(
                "127.0.0.1:8080",
                "0.0.0.0:0",
                TcpState::Listen,
                200,
                vec![owner(900, 6, "nginx", "www-data"), nginx(6)],
            ),
            0,
            511,
        ),
        with_queues(
            tcp(
                "127.0.0.1:8080",
                "127.0.0.1:51234",
                TcpState::Established,
                201,
                vec![nginx(11)],
            ),
            0,
            120,
        ),
        tcp(
            "127.0.0.1:51234",
            "127.0.0.1:8080",
            TcpState::Established,
            300,
            vec![curl(3)],
        ),
        with_queues(
            tcp(
                "127.0.0.1:8080",
                "127.0.0.1:51300",
                TcpState::CloseWait,
                202,
                vec![nginx(12)],
            ),
            42,
            0,
        ),
        tcp(
            "127.0.0.1:8080",
            "127.0.0.1:51100",
            TcpState::TimeWait,
            0,
            vec![],
        ),
        tcp(
            "127.0.0.1:51400",
            "127.0.0.1:9",
            TcpState::SynSent,
            301,
            vec![curl(4)],
        ),
        udp(
            "127.0.0.53:53",
            400,
            vec![owner(600, 12, "systemd-resolve", "root")],
        ),
        unix(
            Some("/run/dbus/system_bus_socket"),
            TcpState::Listen,
            500,
            vec![owner(700, 5, "dbus-daemon", "root")],
        ),
        unix(
            None,
            TcpState::Established,
            501,
            vec![owner(700, 9, "dbus-daemon", "root")],
        ),
    ]
}

/// A snapshot taken `secs` after the app started.
pub fn snapshot(sockets: Vec<Socket>, secs: u64) -> Snapshot {
    Snapshot {
        sockets,
        warnings: Vec::new(),
        taken_at: started_at() + Duration::from_secs(secs),
        closed: Vec::new(),
    }
}

pub fn update(snapshot: Snapshot) -> Input {
    let cmdlines = HashMap::from([
        (901, "nginx: worker process".to_string()),
        (
            812,
            "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups".to_string(),
        ),
        (1500, "curl --silent http://127.0.0.1:8080/slow".to_string()),
    ]);
    Input::Update(Box::new(Update {
        snapshot: Ok(snapshot),
        cmdlines,
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }))
}

pub fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn char(c: char) -> Input {
    key(KeyCode::Char(c))
}

pub fn terminal(width: u16, height: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(width, height)).unwrap()
}

/// An app that has drawn the web host once on a `width`×`height` screen.
pub fn web_app(width: u16, height: u16) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(width, height);
    sockscope::tui::step(&mut terminal, &mut app, update(snapshot(web_sockets(), 1))).unwrap();
    (app, terminal)
}

/// The screen as text, a line per row (with the styles left out).
pub fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

/// Feeds `inputs` one by one, drawing after each, as the real loop does.
pub fn feed(app: &mut App, terminal: &mut Terminal<TestBackend>, inputs: Vec<Input>) {
    for input in inputs {
        sockscope::tui::step(terminal, app, input).unwrap();
    }
}

pub fn typed(text: &str) -> Vec<Input> {
    text.chars().map(char).collect()
}
