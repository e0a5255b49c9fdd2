//! Child processes that hold one loopback listener each, for tests that signal a
//! process (`sockscope kill`, the live view's K) and must hit only their own.
//!
//! The child is the test binary itself, running its ignored test `hold_listener`
//! (each test file that spawns holders defines it as `holder::hold_if_asked()`), with
//! the address to bind in the environment. It prints `ready` once listening, then
//! holds the listener until killed, or for at most five minutes (a slow, loaded run
//! must not outlive it).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{StopOnDrop, list_json};

const ADDR_ENV: &str = "SOCKSCOPE_TEST_HOLD_ADDR";

/// The body of each file's `#[ignore] #[test] fn hold_listener()`: does nothing unless
/// started by `spawn`.
pub fn hold_if_asked() {
    let Ok(addr) = std::env::var(ADDR_ENV) else {
        return;
    };
    let listener = TcpListener::bind(addr.as_str()).expect("bind the holder's address");
    println!("ready {}", listener.local_addr().unwrap());
    std::thread::sleep(Duration::from_secs(300));
    drop(listener);
}

/// Starts a holder listening on `addr`; returns once it listens.
pub fn spawn(addr: SocketAddr) -> StopOnDrop {
    let exe = std::env::current_exe().expect("the test binary");
    let child = Command::new(exe)
        .args(["--exact", "hold_listener", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(ADDR_ENV, addr.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a holder");
    let mut child = StopOnDrop(child);
    let out = child.0.stdout.take().unwrap();
    // Bounded: the holder prints `ready` or exits (end of file) within its five minutes.
    let ready = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        // The harness's "test hold_listener ... " comes first, on the same line.
        .any(|line| line.contains("ready "));
    assert!(ready, "the holder for {addr} never listened");
    child
}

/// A port below the kernel's ephemeral range (so no client picks it meanwhile) that no
/// socket on the host uses now, local or remote: `--port` on it matches only what the
/// test opens there.
pub fn unused_port(seed: u16) -> u16 {
    for i in 0..64u32 {
        let port = 20_000 + (std::process::id() * 7 + u32::from(seed) * 977 + i * 131) % 12_000;
        let port = port as u16;
        if list_json(&["--port", &port.to_string()]).is_empty() {
            return port;
        }
    }
    panic!("no unused port found below the ephemeral range");
}

/// Asserts that `stream` (`end` names it) was closed under its holder: its next read
/// fails with ECONNABORTED (this end was destroyed) or a reset (the other end was).
/// The read waits at most 10 s.
pub fn assert_closed(end: &str, stream: &mut std::net::TcpStream) {
    use std::io::{ErrorKind, Read};
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let err = stream.read(&mut [0; 8]).expect_err(end);
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
        ),
        "{end} saw {err:?}"
    );
}
