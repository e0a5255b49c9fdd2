//! End to end on real sockets: a loopback connection between this test process and a
//! child (`sleep` holding the client end as its stdin), read by the real System source
//! over netlink and shown by the real app. Enter on it: the details name both pids and
//! carry the kernel's rtt and byte counts, which move on the next refresh.

// tui_fixture includes common/sockets.rs by path too; both are wanted here.
#![allow(clippy::duplicate_mod)]

mod common;
mod tui_fixture;

use common::netns::OwnAddr;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use crossterm::event::KeyCode;
use sockscope::collect::{Scope, Source, System, Tables};
use sockscope::tui::app::{App, View};
use sockscope::tui::event::Input;
use sockscope::tui::event::Update;
use tui_fixture::*;

/// `sleep 30` holding one end of the connection; killed on drop.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One real snapshot of this process's sockets (netlink tables, peers resolved).
fn refresh(source: &mut System) -> Input {
    Input::Update(Box::new(Update {
        snapshot: Ok(source.snapshot().expect("a snapshot of our own sockets")),
        cmdlines: HashMap::new(),
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }))
}

fn bytes_acked(app: &App) -> u64 {
    let socket = &app.details.as_ref().expect("details are open").socket;
    let info = socket.tcp_info.as_ref().expect("netlink gives tcp_info");
    info.bytes_acked
}

/// The details line for this many acknowledged bytes (over 1 KiB).
fn acked_text(n: u64) -> String {
    format!("bytes acked    {:.1} KiB", n as f64 / 1024.0)
}

#[test]
fn details_of_a_real_loopback_connection_show_rtt_and_both_pids() {
    // A loopback address of our own: other tests reuse these port numbers elsewhere.
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (mut server, _) = listener.accept().unwrap();
    // Some traffic both ways, so the kernel has measured a round trip.
    server.write_all(&[7; 100_000]).unwrap();
    client.read_exact(&mut [0; 100_000]).unwrap();
    client.write_all(b"thanks").unwrap();
    server.read_exact(&mut [0; 6]).unwrap();
    let child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(client)))
        .spawn()
        .expect("spawn sleep");
    let child = Holder(child);
    let (me, theirs) = (std::process::id(), child.0.id());

    let mut source = System::new("/proc", Scope::Pids(vec![me]))
        .unwrap()
        .with_tables(Tables::Netlink)
        .unwrap();
    let mut app = App::new(config());
    let mut terminal = terminal(140, 50);
    // Only our end of this connection: the listener has the other port, and the
    // address is ours alone.
    let mut keys = vec![refresh(&mut source), char('/')];
    keys.extend(typed(&format!("port:{client_port} {}", own.text())));
    keys.extend([key(KeyCode::Enter), key(KeyCode::Enter)]);
    feed(&mut app, &mut terminal, keys);
    assert_eq!(app.view, View::Details);
    let screen = terminal.backend().to_string();
    assert_eq!(app.rows.len(), 1, "{screen}");

    let peer_line = screen
        .lines()
        .find(|l| l.contains(" ↔ "))
        .unwrap_or_else(|| panic!("a peer line:\n{screen}"));
    let ours = format!("peer      pid {me} ");
    let their = format!(" ↔ pid {theirs} sleep");
    assert!(
        peer_line.contains(&ours) && peer_line.contains(&their),
        "{screen}"
    );
    let rtt_line = screen.lines().find(|l| l.contains("    rtt ")).unwrap();
    assert!(rtt_line.contains(" ms ± "), "{screen}");
    assert!(screen.contains(&acked_text(bytes_acked(&app))), "{screen}");

    // The next refresh carries the kernel's new counts into the open details.
    let before = bytes_acked(&app);
    assert!(before >= 100_000, "{screen}");
    server.write_all(&[8; 50_000]).unwrap();
    let mut acked = before;
    for _ in 0..50 {
        feed(&mut app, &mut terminal, vec![refresh(&mut source)]);
        acked = bytes_acked(&app);
        if acked >= before + 50_000 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(acked >= before + 50_000, "acked {before} -> {acked}");
    let screen = terminal.backend().to_string();
    assert!(screen.contains(&acked_text(acked)), "{screen}");
}
