//! Names in the live view: port names by default (`n` toggles), remote host names
//! when asked (`R` toggles), at 80×24 with every address keeping its port. A fixture
//! with a fake resolver for the snapshot; real sockets, /etc/hosts and the system
//! resolver (on its own threads) for the toggles end to end.

// tui_fixture includes common/sockets.rs by path too; both are wanted here.
#![allow(clippy::duplicate_mod)]

mod common;
mod tui_fixture;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use common::hosts::{self, HostsLine};
use common::netns::OwnAddr;
use sockscope::collect::resolve::Resolver;
use sockscope::collect::{Scope, Source, System, Tables};
use sockscope::model::TcpState;
use sockscope::model::names::{HostNames, ServiceProto, Services};
use sockscope::tui::app::App;
use sockscope::tui::event::{Input, Update};
use sockscope::tui::naming::{LiveNaming, Start};
use tui_fixture::*;

/// Names for the fixture's addresses, known at once.
struct Fixed;

impl HostNames for Fixed {
    fn host(&self, ip: IpAddr) -> Option<Arc<str>> {
        match ip.to_string().as_str() {
            "127.0.0.1" => Some("localhost".into()),
            "198.51.100.7" => Some("a-rather-long-host-name.cdn.example.net".into()),
            // Whatever a DNS server or /etc/hosts says: escaped on screen.
            "203.0.113.5" => Some("ev\x1b[2Jil".into()),
            _ => None,
        }
    }
}

fn services() -> Arc<Services> {
    let mut services = Services::default();
    // 53's name is too long for LOCAL at 80 columns: it shows as its number there.
    let names = [
        (22, "ssh"),
        (53, "a-long-dns-name"),
        (443, "https"),
        (8080, "http-alt"),
    ];
    for (port, name) in names {
        services.insert(ServiceProto::Tcp, port, name);
        services.insert(ServiceProto::Udp, port, name);
    }
    // The fixture's client ports are in the ephemeral range: never named.
    services.insert(ServiceProto::Tcp, 51234, "not-shown");
    Arc::new(services)
}

#[test]
fn names_at_80x24_keep_every_port_and_toggle() {
    let mut app = App::new(config());
    let hosts: Arc<dyn HostNames> = Arc::new(Fixed);
    let start = Start {
        numeric: false,
        resolve: true,
    };
    app.naming = LiveNaming::new(Some(services()), Some(32768..=60999), Some(hosts), start);
    let mut sockets = web_sockets();
    sockets.push(tcp(
        "192.0.2.10:51522",
        "198.51.100.7:443",
        TcpState::Established,
        310,
        vec![owner(1500, 5, "curl", "root")],
    ));
    sockets.push(tcp(
        "192.0.2.10:51523",
        "203.0.113.5:443",
        TcpState::Established,
        311,
        vec![owner(1500, 6, "curl", "root")],
    ));
    let mut terminal = terminal(80, 24);
    feed(&mut app, &mut terminal, vec![update(snapshot(sockets, 1))]);
    insta::assert_snapshot!("names_80x24", terminal.backend());
    let screen = screen_text(&terminal);
    // LOCAL is the first to shrink: the address is cut, the name kept.
    assert!(screen.contains("…:http-alt "), "{screen}");
    assert!(screen.contains("localhost:http-alt"), "{screen}");
    assert!(screen.contains("localhost:51234"), "{screen}");
    assert!(!screen.contains("not-shown"), "{screen}");
    assert!(screen.contains("ev\\x1b[2Jil:https"), "{screen}");
    assert!(!screen.contains('\x1b'), "{screen}");
    let udp = screen.lines().find(|l| l.contains(" udp ")).unwrap();
    assert!(udp.contains("…:53 ") && !udp.contains("a-long"), "{udp}");
    // The long name is cut, its service kept.
    assert!(screen.contains("…:https"), "{screen}");

    // The details name both ends, with the numbers beside the names.
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Down); 6],
    );
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Enter)],
    );
    let details = screen_text(&terminal);
    assert!(
        details.contains("a-rather-long-host-name.cdn.example.net:https  (198.51.100.7:443)"),
        "{details}"
    );
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Esc)],
    );

    // n: numbers; the host names stay.
    feed(&mut app, &mut terminal, vec![char('n')]);
    let screen = screen_text(&terminal);
    assert!(
        screen.contains("…:8080 ") && screen.contains("localhost:8080"),
        "{screen}"
    );
    assert!(!screen.contains("http-alt"), "{screen}");
    assert!(screen.contains("localhost:51234"), "{screen}");
    assert!(screen.contains("port numbers"), "the footer says: {screen}");
    // R: addresses.
    feed(&mut app, &mut terminal, vec![char('R')]);
    let screen = screen_text(&terminal);
    assert!(!screen.contains("localhost"), "{screen}");
    assert!(screen.contains("127.0.0.1:51234"), "{screen}");
    assert!(screen.contains("198.51.100.7:443"), "{screen}");
    // And back.
    feed(&mut app, &mut terminal, vec![char('n'), char('R')]);
    let screen = screen_text(&terminal);
    assert!(screen.contains("localhost:http-alt"), "{screen}");
}

/// One real snapshot of this process's sockets on `ip`, and no other: only they are
/// shown, so only `ip` (in /etc/hosts) is looked up, never anything DNS would answer.
fn refresh(source: &mut System, ip: std::net::Ipv4Addr) -> Input {
    let mut snapshot = source.snapshot().expect("a snapshot of our own sockets");
    let ours = |a: Option<SocketAddr>| a.is_some_and(|a| a.ip() == IpAddr::V4(ip));
    snapshot.sockets.retain(|s| ours(s.local) && ours(s.remote));
    Input::Update(Box::new(Update {
        snapshot: Ok(snapshot),
        cmdlines: HashMap::new(),
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }))
}

#[test]
fn r_resolves_a_real_remote_through_etc_hosts_off_the_ui_thread() {
    if !hosts::editable() {
        common::need::cannot("needs a writable /etc/hosts (root)");
        return;
    }
    let own = OwnAddr::new();
    let host = format!(
        "tui-{}-{}.sockscope.test",
        std::process::id(),
        own.ip.octets()[3]
    );
    let _line = HostsLine::add(own.ip, &host);
    // Both ends on our own address (in /etc/hosts): nothing else is looked up.
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((own.ip, 0)).into()).unwrap();
    socket
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let client = TcpStream::from(socket);
    let client_port = client.local_addr().unwrap().port();
    let _server = listener.accept().unwrap();

    let mut source = System::new("/proc", Scope::Pids(vec![std::process::id()]))
        .unwrap()
        .with_tables(Tables::Netlink)
        .unwrap();
    let mut app = App::new(config());
    let hosts: Arc<dyn HostNames> = Arc::new(Resolver::system());
    app.naming = LiveNaming::new(None, None, Some(hosts), Start::default());
    let mut terminal = terminal(80, 24);
    // Only this test's connection (the listener's remote is `*`).
    let mut keys = vec![refresh(&mut source, own.ip), char('/')];
    keys.extend(typed(&own.text()));
    keys.push(key(crossterm::event::KeyCode::Enter));
    feed(&mut app, &mut terminal, keys);
    let screen = screen_text(&terminal);
    assert!(!screen.contains(&host[..8]), "no names before R: {screen}");

    feed(&mut app, &mut terminal, vec![char('R')]);
    // The first draw after R shows numbers (nothing waited); the name comes within
    // the resolver's time limit, at a later draw.
    let mut screen = screen_text(&terminal);
    for _ in 0..100 {
        if screen.contains(&host[..10]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        feed(&mut app, &mut terminal, vec![refresh(&mut source, own.ip)]);
        screen = screen_text(&terminal);
    }
    // The client's row: its REMOTE is the listener, by name; at 80 columns the name
    // may be cut, the port never is.
    // (Without the selection mark: the client's row is the first when its port is lower.)
    let cells = |l: &str| {
        let l = l.replace('›', " ");
        l.split_whitespace().map(str::to_string).collect::<Vec<_>>()
    };
    let row = screen
        .lines()
        .map(cells)
        .find(|c| c.len() > 3 && c[2].ends_with(&format!(":{client_port}")))
        .unwrap_or_else(|| panic!("the client's row: {screen}"));
    assert!(
        row[3].starts_with(&host[..10]),
        "the name after R: {screen}"
    );
    assert!(row[3].ends_with(&format!(":{port}")), "{row:?}");
    // R again: the numbers.
    feed(&mut app, &mut terminal, vec![char('R')]);
    let screen = screen_text(&terminal);
    assert!(!screen.contains(&host[..10]), "{screen}");
    assert!(screen.contains(&format!("{}:{port}", own.ip)), "{screen}");
}

#[test]
fn the_real_binary_names_ports_n_numbers_them_and_r_resolves() {
    use common::need::{self, Need};
    use common::tmux::Tmux;
    if !need::met(&[Need::Tmux]) {
        return;
    }
    if !hosts::editable() {
        need::cannot("needs a writable /etc/hosts (root)");
        return;
    }
    // 61999 is above the ephemeral range: no connect() picks it, and on our own
    // address nothing else binds it. Both ends are ours, and in /etc/hosts: the only
    // address R looks up.
    let own = OwnAddr::new();
    let host = format!("tmux-{}.sockscope.test", std::process::id());
    let _line = HostsLine::add(own.ip, &host);
    let listener = TcpListener::bind((own.ip, 61999)).unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((own.ip, 0)).into()).unwrap();
    socket
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let _client = TcpStream::from(socket);
    let _server = listener.accept().unwrap();

    let tmux = Tmux::new();
    let services = tmux.file("services");
    std::fs::write(&services, "scope 61999/tcp\n").unwrap();
    let script = format!(
        "SOCKSCOPE_SERVICES={services} exec {bin} --port 61999 --interval 200",
        services = services.display(),
        bin = env!("CARGO_BIN_EXE_sockscope"),
    );
    tmux.start(80, 24, &script);
    let ours = |s: &str, what: &str| s.lines().any(|l| l.contains("tcp") && l.contains(what));
    tmux.wait_for("the port's name", |s| ours(s, ":scope "));
    tmux.run(&["send-keys", "-t", "tui", "n"]);
    let screen = tmux.wait_for("numbers", |s| ours(s, ":61999 ") && !ours(s, ":scope"));
    assert!(screen.contains("port numbers"), "{screen}");
    tmux.run(&["send-keys", "-t", "tui", "R"]);
    let screen = tmux.wait_for("the host's name", |s| ours(s, &host[..8]));
    // The client's REMOTE is the listener by name (maybe cut), its port kept.
    let remotes: Vec<&str> = screen
        .split_whitespace()
        .filter(|w| w.starts_with(&host[..8]))
        .collect();
    assert!(remotes.iter().any(|r| r.ends_with(":61999")), "{screen}");
    assert!(!screen.contains(":scope"), "{screen}");
    tmux.run(&["send-keys", "-t", "tui", "q"]);
}
