//! `sockscope doctor` against sockets staged for real on loopback. Each test stages its
//! sockets in a network namespace of its own (its thread enters it, see
//! `common::netns::Netns::enter`) and runs the doctor there on its listener's port, so
//! no other test's sockets count. (Where no namespace can be made, outside CI, the
//! doctor is scoped to this process with `--pid` instead, as a second best.)

mod common;
use common::netns::Netns;

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
/// How long test traffic may go on at most. It is stopped when the doctor is done, which
/// on a loaded machine (a snapshot can take seconds) is long after the doctor started:
/// traffic that stopped first would change what the doctor sees.
const TRAFFIC_MAX: Duration = Duration::from_secs(120);

/// Doctor on `port`, in the test's namespace (else scoped to this process):
/// the arguments before the rest.
fn scoped(netns: &Netns, port: u16) -> Command {
    let mut command = netns.command(BIN);
    command.args(["doctor", "--port", &port.to_string()]);
    if !netns.is_own() {
        command.args(["--pid", &std::process::id().to_string()]);
    }
    command
}

/// Runs doctor on `port`, in the test's namespace; (exit code, stdout, stderr).
fn doctor(netns: &Netns, port: u16, extra: &[&str]) -> (i32, String, String) {
    let out = scoped(netns, port)
        .args(["--samples", "3", "--window", "1.5", "--min-age", "1"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `list --json` on `port`, scoped as the doctor is.
fn list(netns: &Netns, port: u16) -> Vec<Value> {
    let mut command = netns.command(BIN);
    command.args(["list", "--json", "--port", &port.to_string()]);
    if !netns.is_own() {
        command.args(["--pid", &std::process::id().to_string()]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (up to 30 s) until the sockets on `port` show what `ready` wants, twice in a
/// row 200 ms apart (it gets both reads): what the doctor must see from its first sample
/// on, whatever the load on this machine did to the threads that bring it about.
fn wait_until(netns: &Netns, port: u16, what: &str, ready: impl Fn(&[Value], &[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut before = list(netns, port);
    loop {
        thread::sleep(Duration::from_millis(200));
        let now = list(netns, port);
        if ready(&before, &now) {
            return;
        }
        assert!(Instant::now() < deadline, "never {what}: {now:#?}");
        before = now;
    }
}

fn findings(netns: &Netns, port: u16) -> (i32, Vec<Value>) {
    let (code, stdout, stderr) = doctor(netns, port, &["--json"]);
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
            && (state == "LISTEN"
                || s["processes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["pid"] == me))
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

/// A thread writing `chunk` bytes every 50 ms until stopped (or, a bound, after
/// `TRAFFIC_MAX`).
fn writer(mut stream: TcpStream, chunk: usize, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + TRAFFIC_MAX;
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
    let netns = Netns::new();
    let _inside = netns.enter();
    let (l, port) = listener();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap();
    // The peer half-closes; we never close our end: CLOSE_WAIT.
    client.shutdown(std::net::Shutdown::Write).unwrap();

    let (code, found) = findings(&netns, port);
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
                "containers",
                "kind",
                "meaning",
                "netns",
                "next_steps",
                "processes",
                "severity",
                "socket_count",
                "sockets",
                "summary"
            ]
        );
        assert!(f["containers"].is_array() && f["netns"].is_array(), "{f:#}");
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
    let netns = Netns::new();
    let _inside = netns.enter();
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

    let (code, found) = findings(&netns, addr.port());
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
    let netns = Netns::new();
    let _inside = netns.enter();
    let (l, port) = listener();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap(); // never read
    // Unread bytes before the doctor's first sample (over loopback they are in the
    // queue when write returns), more while it looks.
    client.write_all(&[b'x'; 2048]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(client, 2048, stop.clone());

    let (code, found) = findings(&netns, port);
    stop.store(true, Ordering::Relaxed);
    writing.join().unwrap();
    assert_eq!(code, 1);
    let f = of_kind(&found, "recv_q");
    has_socket(f, "ESTABLISHED", Some(port), None);
    assert!(f["sockets"][0]["recv_q"].as_u64().unwrap() > 0);
}

#[test]
fn a_peer_with_a_closed_window_shows_send_q_growing() {
    let netns = Netns::new();
    let _inside = netns.enter();
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
    // The window is closed once the writer's bytes pile up and none more are acked.
    let blocked = |s: &Value| s["remote_port"] == port && s["send_q"].as_u64() > Some(0);
    wait_until(&netns, port, "a closed window", |before, now| {
        let acked = |all: &[Value]| {
            all.iter()
                .find(|s| blocked(s))
                .map(|s| s["tcp_info"]["bytes_acked"].clone())
        };
        acked(before).is_some() && acked(before) == acked(now)
    });

    let (code, found) = findings(&netns, port);
    stop.store(true, Ordering::Relaxed);
    writing.join().unwrap();
    assert_eq!(code, 1);
    let f = of_kind(&found, "send_q");
    has_socket(f, "ESTABLISHED", None, Some(port));
    assert!(f["sockets"][0]["send_q"].as_u64().unwrap() > 0);
}

#[test]
fn a_healthy_echo_workload_gives_no_findings() {
    let netns = Netns::new();
    let _inside = netns.enter();
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
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let stop = stop.clone();
            thread::spawn(move || {
                let deadline = Instant::now() + TRAFFIC_MAX;
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
    accepted.recv_timeout(Duration::from_secs(30)).unwrap();

    let (code, stdout, stderr) = doctor(&netns, port, &[]);
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
    let netns = Netns::new();
    let _inside = netns.enter();
    let (_l, port) = listener();
    let mut child = scoped(&netns, port)
        .args([
            "--json",
            "--samples",
            "2",
            "--window",
            "0.2",
            "--watch",
            "0.3",
        ])
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
        .map(|_| rx.recv_timeout(Duration::from_secs(60)).expect("a round"))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(rounds, ["[]", "[]", "[]"]);
}
