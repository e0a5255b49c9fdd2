//! The live view's K and X in a real terminal (tmux), on processes and connections
//! each test made on its own address (`OwnAddr`) and unused ports. Skipped, saying
//! so, where tmux is missing.

mod common;
use common::holder::{self, unused_port};
use common::need::{self, Need};
use common::netns::OwnAddr;
use common::tmux::Tmux;
use common::{StopOnDrop, list_json};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[test]
#[ignore = "a child process of the tests below, not a test"]
fn hold_listener() {
    holder::hold_if_asked();
}

fn addr(own: &OwnAddr, port: u16) -> SocketAddr {
    SocketAddr::from((own.ip, port))
}

/// The live view filtered on `port`, in a tmux server of its own.
fn live_view(port: u16, extra: &str) -> Tmux {
    let tmux = Tmux::new();
    let script = format!(
        "{bin} {extra} --port {port} --interval 200; echo \"exited with $?\"; sleep 30",
        bin = env!("CARGO_BIN_EXE_sockscope"),
    );
    tmux.start(100, 30, &script);
    tmux
}

fn keys(tmux: &Tmux, keys: &str) {
    tmux.run(&["send-keys", "-t", "tui", keys]);
}

fn alive(child: &mut StopOnDrop) -> bool {
    child.0.try_wait().unwrap().is_none()
}

/// Waits (up to 10 s) for the holder to exit; its status.
fn exited(child: &mut StopOnDrop) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "pid {} still runs", child.0.id());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn k_asks_first_esc_cancels_t_terminates() {
    let own = OwnAddr::new();
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let port = unused_port(11);
    let mut holder = holder::spawn(addr(&own, port));
    let pid = holder.0.id();
    let tmux = live_view(port, "");
    let row = addr(&own, port).to_string();
    tmux.wait_for("the holder's listener", |s| s.contains(&row));

    keys(&tmux, "K");
    let dialog = tmux.wait_for("the signal dialog", |s| s.contains("signal the owners of"));
    // The pid, its command line, its user: wrapped by words over the box's lines, at
    // places that depend on how long the checkout's path is, so read as one line.
    let words: Vec<&str> = dialog
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect();
    let flat = words.join(" ");
    assert!(flat.contains(&format!("pid {pid}")), "{dialog}");
    assert!(flat.contains("hold_listener --ignored"), "{dialog}");
    assert!(flat.contains("user root"), "{dialog}");
    assert!(
        dialog.contains("t SIGTERM") && dialog.contains("Esc cancel"),
        "{dialog}"
    );
    // Keys that are not the dialog's do nothing, not even move the selection behind it.
    keys(&tmux, "j");
    keys(&tmux, "Escape");
    tmux.wait_for("the cancel", |s| s.contains("cancelled, nothing was done"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(&mut holder), "Esc signalled pid {pid}");

    keys(&tmux, "K");
    tmux.wait_for("the signal dialog again", |s| {
        s.contains("signal the owners of")
    });
    keys(&tmux, "t");
    let sent = format!("sent SIGTERM to pid {pid} (");
    tmux.wait_for("the result in the status line", |s| s.contains(&sent));
    assert_eq!(exited(&mut holder).signal(), Some(libc::SIGTERM));
    // The events log has the action beside the socket's closing.
    keys(&tmux, "e");
    let log = tmux.wait_for("the events log", |s| {
        s.contains(&format!("SIGTERM → pid {pid}")) && s.contains("closed")
    });
    assert!(log.contains("signal"), "{log}");
    keys(&tmux, "q");
    tmux.wait_for("sockscope to exit", |s| s.contains("exited with 0"));
}

#[test]
fn x_then_y_closes_the_connection() {
    let own = OwnAddr::new();
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let port = unused_port(12);
    let listener = TcpListener::bind(addr(&own, port)).unwrap();
    let mut client = TcpStream::connect(addr(&own, port)).unwrap();
    let (_server, _) = listener.accept().unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let tmux = live_view(port, "");
    // ESTAB: ss's name, where the STATE column is narrowed, is part of the kernel's.
    tmux.wait_for("the connection", |s| s.matches("ESTAB").count() >= 2);

    // Rows go LISTEN first, then the two ends of the connection.
    keys(&tmux, "j");
    keys(&tmux, "X");
    let dialog = tmux.wait_for("the close dialog", |s| {
        s.contains("close this TCP connection")
    });
    assert!(dialog.contains("y close it"), "{dialog}");
    assert!(
        dialog.contains(&format!("{} ESTABLISHED", addr(&own, port))),
        "{dialog}"
    );
    keys(&tmux, "y");
    tmux.wait_for("the result", |s| s.contains("closed tcp"));
    holder::assert_closed("the client end", &mut client);
    // The listener was not selected: it still listens.
    let states: Vec<_> = list_json(&["--port", &port.to_string()])
        .iter()
        .map(|s| s["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["LISTEN"]);
    keys(&tmux, "q");
}

#[test]
fn read_only_view_refuses_k_and_x() {
    let own = OwnAddr::new();
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let port = unused_port(13);
    let mut holder = holder::spawn(addr(&own, port));
    let tmux = live_view(port, "--read-only");
    let row = addr(&own, port).to_string();
    let screen = tmux.wait_for("the holder's listener", |s| s.contains(&row));
    assert!(screen.contains("actions off"), "{screen}");

    for key in ["K", "X"] {
        keys(&tmux, key);
        let screen = tmux.wait_for("the refusal", |s| {
            s.contains("actions are off (--read-only)")
        });
        assert!(!screen.contains("signal the owners"), "{screen}");
        assert!(!screen.contains("close this TCP"), "{screen}");
        // Any key clears the status; the next refusal shows again.
        keys(&tmux, "j");
        tmux.wait_for("the status cleared", |s| !s.contains("actions are off ("));
    }
    keys(&tmux, "t");
    keys(&tmux, "y");
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(&mut holder), "a read-only view signalled its process");
    keys(&tmux, "q");
}
