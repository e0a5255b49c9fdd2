//! `sockscope watch` against the real kernel. Each test owns a 127.18.x.y address
//! and filters on its own server's port, so no other test's sockets reach it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The child, killed and reaped however the test ends.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Watch, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockscope watch");
    let lines = lines_of(child.stdout.take().unwrap());
    (Watch(child), lines)
}

/// Lines as they arrive, read on a thread so waiting for them is bounded.
fn lines_of(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// A client bound to the server's own address, so the connection is all ours.
fn connect_from(server: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(server.ip(), 0).into())
        .unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

/// Opens a connection, sends `bytes`, closes both ends: a few milliseconds, far
/// inside one refresh. Returns the client's port.
fn short_connection(server: &TcpListener, bytes: usize) -> u16 {
    let mut client = connect_from(server.local_addr().unwrap());
    let port = client.local_addr().unwrap().port();
    let (mut accepted, _) = server.accept().unwrap();
    client.write_all(&vec![1u8; bytes]).unwrap();
    let mut got = vec![0u8; bytes];
    accepted.read_exact(&mut got).unwrap();
    drop(client);
    drop(accepted);
    port
}

/// Whether this kernel lets us join the destroy groups (it does unprivileged since 4.x).
fn privileged() -> bool {
    sockscope::collect::netlink::destroyed::Destroyed::open().is_ok()
}

#[test]
fn a_connection_inside_one_refresh_is_a_closed_event_with_ports_and_bytes() {
    if !privileged() {
        common::need::cannot("the closed-connection log needs CAP_NET_ADMIN");
        return;
    }
    let server = TcpListener::bind("127.18.1.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // One snapshot every 30 s: the connections live and die between two, and come
    // out of the closed-connection log as they end, not at the next snapshot.
    let (_watch, lines) = spawn(&["--json", "--interval", "30000", "--port", &port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut clients = Vec::new();
    let mut found = None;
    // The watcher may not have joined the log when the first connection closes:
    // one connection every half second until one is seen, bounded.
    'outer: while Instant::now() < deadline {
        clients.push(short_connection(&server, 4321));
        let until = Instant::now() + Duration::from_millis(500);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            let Ok(line) = lines.recv_timeout(left) else {
                break;
            };
            let event: Value = serde_json::from_str(&line).expect("NDJSON");
            let s = &event["socket"];
            if event["event"] == "closed"
                && s["local_port"] == port
                && clients.iter().any(|c| s["remote_port"] == *c)
            {
                found = Some(event);
                break 'outer;
            }
        }
    }
    let event = found.expect("no closed event for the short connection");
    let s = &event["socket"];
    assert_eq!(s["proto"], "tcp");
    assert_eq!(s["local_addr"], "127.18.1.1");
    assert_eq!(s["remote_addr"], "127.18.1.1");
    // The client's FIN counts as one byte received.
    let received = s["tcp_info"]["bytes_received"].as_u64().unwrap();
    assert!((4321..=4322).contains(&received), "{event}");
    assert!(
        event.get("from").is_none(),
        "only state events have from: {event}"
    );
    let time = event["time"].as_str().unwrap();
    assert!(
        sockscope::clock::parse_rfc3339(time).is_ok() && time.len() == 24,
        "{time}"
    );
}

#[test]
fn a_state_change_carries_from() {
    let server = TcpListener::bind("127.18.1.2:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let (_watch, lines) = spawn(&["--json", "--interval", "100", "--port", &port.to_string()]);
    // A connection that stays open, then a half-close by the client: the server's
    // side goes ESTABLISHED -> CLOSE_WAIT and stays there until we close it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut opened = None;
    let client = connect_from(server.local_addr().unwrap());
    let (accepted, _) = server.accept().unwrap();
    // Wait for the watcher to see it open (it may start after the connection did,
    // then it is in the baseline: a new connection is made after a while).
    let mut held = vec![(client, accepted)];
    while opened.is_none() && Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                let e: Value = serde_json::from_str(&line).unwrap();
                if e["event"] == "opened" && e["socket"]["local_port"] == port {
                    opened = Some(e["socket"]["remote_port"].as_u64().unwrap() as u16);
                }
            }
            Err(_) => {
                let c = connect_from(server.local_addr().unwrap());
                let (a, _) = server.accept().unwrap();
                held.push((c, a));
            }
        }
    }
    let remote = opened.expect("no opened event");
    let (client, _accepted) = held
        .iter()
        .find(|(c, _)| c.local_addr().unwrap().port() == remote)
        .unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut state = None;
    while state.is_none() && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["event"] == "state"
            && e["socket"]["local_port"] == port
            && e["socket"]["remote_port"] == remote
        {
            state = Some(e);
        }
    }
    let e = state.expect("no state event for the half-closed connection");
    assert_eq!(e["from"], "ESTABLISHED");
    assert_eq!(e["socket"]["state"], "CLOSE_WAIT");
}

#[test]
fn unprivileged_without_the_log_it_says_so_once_and_still_sees_diffs() {
    let server = TcpListener::bind("127.18.1.3:0").unwrap();
    let addr = server.local_addr().unwrap();
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_sockscope"))
        .args(["--source", "proc", "watch", "--interval", "100"])
        .args(["--port", &addr.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let lines = lines_of(child.stdout.take().unwrap());
    let mut watch = Watch(child);
    // A connection that stays open; another every half second until the watcher,
    // which may not have its baseline yet, reports one of them opened (bounded).
    let mut held = Vec::new();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mine = |line: &str, held: &[(TcpStream, TcpStream)]| {
        line.contains(" opened ")
            && held.iter().any(|(c, _)| {
                line.contains(&format!("127.18.1.3:{}", c.local_addr().unwrap().port()))
            })
    };
    while !seen.iter().any(|l: &String| mine(l, &held)) {
        assert!(Instant::now() < deadline, "no opened line in {seen:#?}");
        let client = connect_from(addr);
        let (accepted, _) = server.accept().unwrap();
        held.push((client, accepted));
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            seen.push(line);
        }
    }
    // Aligned: the event column starts at the same place on every line.
    assert!(
        seen.iter().all(|l| l.as_bytes().get(24) == Some(&b' ')),
        "{seen:#?}"
    );
    let _ = watch.0.kill();
    let _ = watch.0.wait();
    let mut stderr = String::new();
    let mut pipe = watch.0.stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    assert_eq!(
        stderr
            .matches("short-lived connections can be missed")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_closed_pipe_ends_it_quietly() {
    let server = TcpListener::bind("127.18.1.4:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args([
            "watch",
            "--json",
            "--interval",
            "100",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    // Events to write: connections opening and closing, until it exits (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch kept running with nobody reading");
        }
        let c = connect_from(server.local_addr().unwrap());
        let _ = server.accept().unwrap();
        drop(c);
        thread::sleep(Duration::from_millis(150));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
