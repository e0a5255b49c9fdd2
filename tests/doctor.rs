//! `sockscope doctor` against sockets staged for real on loopback. Each test scopes the
//! doctor to this process (`--pid`) and its own listener's port, so other tests'
//! sockets never count.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use socket2::{Domain, Socket, Type};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Runs doctor scoped to this process and `port`; (exit code, stdout, stderr).
fn doctor(port: u16, extra: &[&str]) -> (i32, String, String) {
    let pid = std::process::id().to_string();
    let port = port.to_string();
    let mut args = vec!["doctor", "--pid", &pid, "--port", &port];
    args.extend_from_slice(&["--samples", "3", "--window", "1.5", "--min-age", "1"]);
    args.extend_from_slice(extra);
    let out = Command::new(BIN).args(&args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn findings(port: u16) -> (i32, Vec<Value>) {
    let (code, stdout, stderr) = doctor(port, &["--json"]);
    let value: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?} {stderr:?}"));
    (code, value.as_array().unwrap().clone())
}

/// The finding of `kind`, failing with all findings shown when there is none.
fn of_kind<'a>(found: &'a [Value], kind: &str) -> &'a Value {
    found
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {found:#?}"))
}

fn has_socket(finding: &Value, state: &str, local_port: Option<u16>, remote_port: Option<u16>) {
    let me = u64::from(std::process::id());
    let found = finding["sockets"].as_array().unwrap().iter().any(|s| {
        s["state"] == state
            && local_port.is_none_or(|p| s["local_port"] == p)
            && remote_port.is_none_or(|p| s["remote_port"] == p)
            && (state == "LISTEN" || s["processes"][0]["pid"] == me)
    });
    assert!(found, "no {state} socket of pid {me} in {finding:#}");
    assert!(
        finding["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == me),
        "{finding:#}"
    );
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A thread writing `chunk` bytes every 50 ms until stopped (or 20 s at most).
fn writer(mut stream: TcpStream, chunk: usize, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let data = vec![b'x'; chunk];
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            // A full send buffer times out the write; that is the point, keep going.
            let _ = stream.write(&data);
            thread::sleep(Duration::from_millis(50));
        }
    })
}

#[test]
fn close_wait_held_by_this_process_is_found_with_schema() {
    let (l, port) = listener();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap();
    // The peer half-closes; we never close our end: CLOSE_WAIT.
    client.shutdown(std::net::Shutdown::Write).unwrap();

    let (code, found) = findings(port);
    assert_eq!(code, 1, "{found:#?}");
    let f = of_kind(&found, "close_wait");
    has_socket(f, "CLOSE_WAIT", Some(port), None);
    assert!(f["state_secs"].is_null(), "state_secs is per socket");
    assert!(
        f["sockets"][0]["state_secs"].as_f64().unwrap() >= 1.0,
        "{f:#}"
    );

    // The schema of the README: these keys, these types, nothing missing.
    for f in &found {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys = keys;
        keys.sort();
        assert_eq!(
            keys,
            [
                "kind",
                "meaning",
                "next_steps",
                "processes",
                "severity",
                "socket_count",
                "sockets",
                "summary"
            ]
        );
        assert!(["warning", "critical"].contains(&f["severity"].as_str().unwrap()));
        assert!(f["summary"].as_str().unwrap().len() > 10);
        assert!(f["meaning"].is_string() && f["next_steps"].is_string());
        assert!(
            f["socket_count"].as_u64().unwrap() >= f["sockets"].as_array().unwrap().len() as u64
        );
        for p in f["processes"].as_array().unwrap() {
            assert!(p["pid"].is_u64() && p["comm"].is_string(), "{p}");
        }
        for s in f["sockets"].as_array().unwrap() {
            for key in [
                "proto",
                "family",
                "state",
                "local_addr",
                "local_port",
                "remote_addr",
                "remote_port",
                "path",
                "socket_type",
                "recv_q",
                "send_q",
                "inode",
                "uid",
                "processes",
                "state_secs",
            ] {
                assert!(s.get(key).is_some(), "socket without {key}: {s}");
            }
        }
    }
    drop(client);
}

#[test]
fn backlog_zero_listener_shows_stuck_syn_sent_and_a_full_accept_queue() {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // The first connection fills the accept queue; nobody accepts it.
    let _queued = TcpStream::connect(addr).unwrap();
    // The next ones' SYNs are dropped: they stay in SYN_SENT.
    let stuck: Vec<Socket> = (0..2)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr.into()); // EINPROGRESS
            s
        })
        .collect();

    let (code, found) = findings(addr.port());
    assert_eq!(code, 1);
    let syn = of_kind(&found, "syn_sent");
    has_socket(syn, "SYN_SENT", None, Some(addr.port()));
    assert_eq!(syn["socket_count"], 2, "{syn:#}");
    let queue = of_kind(&found, "accept_queue");
    has_socket(queue, "LISTEN", Some(addr.port()), None);
    assert!(queue["sockets"][0]["recv_q"].as_u64().unwrap() >= 1);
    drop(stuck);
}

#[test]
fn a_reader_that_stops_reading_shows_a_growing_recv_q() {
    let (l, port) = listener();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap(); // never read
    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(client, 2048, stop.clone());

    let (code, found) = findings(port);
    stop.store(true, Ordering::Relaxed);
    writing.join().unwrap();
    assert_eq!(code, 1);
    let f = of_kind(&found, "recv_q");
    has_socket(f, "ESTABLISHED", Some(port), None);
    assert!(f["sockets"][0]["recv_q"].as_u64().unwrap() > 0);
}

#[test]
fn a_peer_with_a_closed_window_shows_send_q_growing() {
    // A tiny receive buffer on the never-reading side closes its window quickly;
    // the writer's unacknowledged bytes then pile up.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener.set_recv_buffer_size(4096).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(8).unwrap();
    let port = listener.local_addr().unwrap().as_socket().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(client, 16 * 1024, stop.clone());
    thread::sleep(Duration::from_millis(300));

    let (code, found) = findings(port);
    stop.store(true, Ordering::Relaxed);
    writing.join().unwrap();
    assert_eq!(code, 1);
    let f = of_kind(&found, "send_q");
    has_socket(f, "ESTABLISHED", None, Some(port));
    assert!(f["sockets"][0]["send_q"].as_u64().unwrap() > 0);
}

#[test]
fn a_healthy_echo_workload_gives_no_findings() {
    let (l, port) = listener();
    let stop = Arc::new(AtomicBool::new(false));
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        let echo = |mut s: TcpStream| {
            thread::spawn(move || {
                let mut buf = [0u8; 512];
                // Ends when the client closes (read 0) or errors.
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            })
        };
        let handles: Vec<_> = (0..2).map(|_| echo(l.accept().unwrap().0)).collect();
        accepted_tx.send(()).unwrap();
        handles.into_iter().for_each(|h| h.join().unwrap());
    });
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let stop = stop.clone();
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    c.write_all(&[b'p'; 64]).unwrap();
                    c.read_exact(&mut buf).unwrap();
                    thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    // Both accepted before looking: a connection waiting for accept() is not the workload.
    accepted.recv_timeout(Duration::from_secs(10)).unwrap();

    let (code, stdout, stderr) = doctor(port, &[]);
    stop.store(true, Ordering::Relaxed);
    clients.into_iter().for_each(|c| c.join().unwrap());
    server.join().unwrap();
    // The listener and both ends of both connections were looked at, and found fine.
    assert_eq!(
        (code, stdout.as_str()),
        (0, "no findings: 5 sockets look healthy\n"),
        "{stderr}"
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        &["doctor", "--state", "bogus"][..],
        &["doctor", "--watch", "0"],
        &["doctor", "--samples", "1"],
        &["doctor", "--window", "-3"],
        &["doctor", "--pid", "4000000000"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("sockscope: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn watch_prints_a_round_per_interval() {
    let (_l, port) = listener();
    let pid = std::process::id().to_string();
    let port = port.to_string();
    let mut child = Command::new(BIN)
        .args(["doctor", "--json", "--pid", &pid, "--port", &port])
        .args(["--samples", "2", "--window", "0.2", "--watch", "0.3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().take(3) {
            let _ = tx.send(line.unwrap());
        }
    });
    let rounds: Vec<String> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("a round"))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(rounds, ["[]", "[]", "[]"]);
}
