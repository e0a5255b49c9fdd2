//! `sockscope record` and `list --replay --at` against the real kernel: a scripted
//! scenario with known moments, a recorder killed with SIGKILL, damaged files. Each
//! test owns a 127.18.2.x address and records only its own server's port.

mod common;
use common::netns::OwnAddr;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use sockscope::clock::rfc3339_ms;
use sockscope::record::Recording;

struct Recorder(Child);

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn record(path: &Path, port: u16, interval_ms: u32) -> Recorder {
    let child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["record", "-o"])
        .arg(path)
        .args([
            "--interval",
            &interval_ms.to_string(),
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockscope record");
    Recorder(child)
}

fn sockscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(args)
        .output()
        .expect("run sockscope")
}

/// The sockets of `list --replay FILE --at TIME --json`.
fn at(path: &Path, time: &str) -> Vec<Value> {
    let out = sockscope(&[
        "list",
        "--replay",
        path.to_str().unwrap(),
        "--at",
        time,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{time}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The states of the sockets on `port`, "STATE local_port remote_port", sorted.
/// The sockets to or from `ip` (the test's own address: the recorder's `--port` alone
/// also keeps other tests' sockets, and other runs' TIME_WAITs, on that port number),
/// as `STATE local remote` ports, sorted.
fn states(ip: &str, sockets: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = sockets
        .iter()
        .filter(|s| s["local_addr"] == ip || s["remote_addr"] == ip)
        .map(|s| {
            format!(
                "{} {} {}",
                s["state"].as_str().unwrap(),
                s["local_port"],
                s["remote_port"]
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits (bounded) until the file holds a snapshot whose collection started after
/// `moment`: the one after the first taken past it (a snapshot's time is when its
/// collection ended). Returns that snapshot's time.
fn recorded_after(path: &Path, moment: SystemTime) -> SystemTime {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(rec) = Recording::open(path) {
            let times: Vec<SystemTime> = (0..rec.len()).map(|i| rec.time_of(i)).collect();
            if let Some(t) = times
                .iter()
                .position(|t| *t > moment)
                .and_then(|i| times.get(i + 1))
            {
                return *t;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("the recorder wrote nothing after {}", rfc3339_ms(moment));
}

fn sorted<const N: usize>(mut v: [String; N]) -> [String; N] {
    v.sort();
    v
}

fn connect_from(server: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(server.ip(), 0).into())
        .unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

#[test]
fn a_scripted_scenario_replays_before_during_and_after_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.rec");
    let own = OwnAddr::new();
    let ip = own.text();
    let ip = ip.as_str();
    let server = TcpListener::bind(own.any_port()).unwrap();
    let addr = server.local_addr().unwrap();
    let p = addr.port();
    let _recorder = record(&path, p, 100);
    let t0 = SystemTime::now();
    let base = recorded_after(&path, t0);

    // Step 1: a connection opens.
    let s1 = SystemTime::now();
    let mut client = connect_from(addr);
    let c = client.local_addr().unwrap().port();
    let (mut accepted, _) = server.accept().unwrap();
    client.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    accepted.read_exact(&mut buf).unwrap();
    let after1 = recorded_after(&path, s1);

    // Step 2: the client half-closes; the server's side sits in CLOSE_WAIT.
    let s2 = SystemTime::now();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(accepted.read(&mut buf).unwrap(), 0);
    let after2 = recorded_after(&path, s2);

    // Step 3: the server closes its side and its listener: both vanish (the client
    // lingers in TIME_WAIT).
    let s3 = SystemTime::now();
    drop(accepted);
    drop(server);
    let after3 = recorded_after(&path, s3);
    drop(client);

    let ms = Duration::from_millis(1);
    let file = path.as_path();
    let listen = format!("LISTEN {p} 0");
    // Before step 1 (and at the start, by offset): the listener alone.
    let alone = std::slice::from_ref(&listen);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(base))), alone);
    assert_eq!(states(ip, &at(file, "+0")), alone);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(s1 - ms))), alone);
    // During: both ends established.
    let est = sorted([
        format!("ESTABLISHED {c} {p}"),
        format!("ESTABLISHED {p} {c}"),
        listen.clone(),
    ]);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(after1))), est);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(s2 - ms))), est);
    // After step 2: CLOSE_WAIT on the server's side, FIN_WAIT2 on the client's.
    let half = sorted([
        format!("CLOSE_WAIT {p} {c}"),
        format!("FIN_WAIT2 {c} {p}"),
        listen.clone(),
    ]);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(after2))), half);
    assert_eq!(states(ip, &at(file, &rfc3339_ms(s3 - ms))), half);
    // After step 3: the listener and the server's side are gone.
    assert_eq!(
        states(ip, &at(file, &rfc3339_ms(after3))),
        [format!("TIME_WAIT {c} {p}")]
    );

    // Before the recording: a clear error.
    let out = sockscope(&[
        "list",
        "--replay",
        file.to_str().unwrap(),
        "--at",
        &rfc3339_ms(t0 - Duration::from_secs(3600)),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("before the recording starts") && err.lines().count() == 1,
        "{err}"
    );

    // doctor over the recording: the CLOSE_WAIT was short; it runs and finds nothing stuck.
    let out = sockscope(&["doctor", "--replay", file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{out:?}"
    );
    let findings: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    assert!(findings.is_array());
}

#[test]
fn a_recorder_killed_with_sigkill_leaves_a_file_that_replays_to_its_last_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.rec");
    let own = OwnAddr::new();
    let ip = own.text();
    let ip = ip.as_str();
    let server = TcpListener::bind(own.any_port()).unwrap();
    let p = server.local_addr().unwrap().port();
    let mut recorder = record(&path, p, 50);
    // Bounded generously: on a loaded machine one snapshot of the host takes seconds.
    let deadline = Instant::now() + Duration::from_secs(90);
    while Recording::open(&path).map_or(true, |r| r.len() < 3) {
        assert!(Instant::now() < deadline, "no blocks written");
        thread::sleep(Duration::from_millis(20));
    }
    recorder.0.kill().unwrap(); // SIGKILL
    recorder.0.wait().unwrap();
    let rec = Recording::open(&path).expect("the killed recorder's file reads");
    assert!(rec.len() >= 3);
    let last = rfc3339_ms(rec.end());
    let sockets = at(&path, &last);
    assert_eq!(states(ip, &sockets), [format!("LISTEN {p} 0")]);

    // Cut anywhere in its last blocks: it still reads, to the block before the cut.
    let bytes = std::fs::read(&path).unwrap();
    let cut_path = dir.path().join("cut.rec");
    let meta_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let header_len = 20 + meta_len;
    for cut in (bytes.len().saturating_sub(300).max(header_len)..bytes.len()).step_by(7) {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        match Recording::open(&cut_path) {
            Ok(r) => assert!(r.len() <= rec.len()),
            // Cut right after the header, or inside the first block.
            Err(e) => assert!(
                ["no snapshot in the recording yet", "no complete snapshot"]
                    .iter()
                    .any(|m| format!("{e:#}").contains(m)),
                "{e:#}"
            ),
        }
    }
    std::fs::write(&cut_path, &bytes[..bytes.len() - 3]).unwrap();
    let out = sockscope(&["list", "--replay", cut_path.to_str().unwrap(), "--at", "+0"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the recording ends early"), "{err}");
}

#[test]
fn a_damaged_or_foreign_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty.rec", b"", "not a sockscope recording"),
        (
            "foreign.rec",
            b"#!/bin/sh\necho hi\n",
            "not a sockscope recording",
        ),
        (
            "header-only.rec",
            b"sockscope-rec\n\x01\x00",
            "header is cut short",
        ),
        (
            "future.rec",
            b"sockscope-rec\n\x09\x00\x00\x00\x00\x00",
            "version 9",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = sockscope(&["list", "--replay", path.to_str().unwrap(), "--at", "+0"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(expected) && err.lines().count() == 1,
            "{name}: {err}"
        );
    }
    let out = sockscope(&["list", "--replay", "/nonexistent/x.rec", "--at", "+0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = sockscope(&["list", "--replay", "/dev/null", "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid time"));
}
