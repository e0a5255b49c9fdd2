//! Helpers shared by the netlink tests: run `sockscope list --json`, find sockets in it.
#![allow(dead_code)]

use std::fs;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `sockscope list --json ARGS...`, which must succeed; the parsed array.
pub fn list(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .arg("list")
        .arg("--json")
        .args(args)
        .output()
        .expect("run sockscope");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sockscope {args:?} failed: {stderr}");
    // A forced or working netlink source never falls back.
    assert!(
        !stderr.contains("netlink sock_diag is unavailable"),
        "{stderr}"
    );
    let Value::Array(sockets) = serde_json::from_slice(&out.stdout).expect("JSON") else {
        panic!("not a JSON array");
    };
    sockets
}

/// The sockets of the test process itself, from one source.
pub fn own(source: &str) -> Vec<Value> {
    let pid = std::process::id().to_string();
    list(&["--source", source, "--pid", &pid])
}

/// The socket inode behind a file descriptor, from /proc/self/fd.
pub fn inode_of(fd: &(impl AsRawFd + ?Sized)) -> u64 {
    let link = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    let text = link.to_string_lossy();
    text.trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

/// The sockets at either end of `ip` (a test's own loopback address, see
/// `common::netns::OwnAddr`; a client connecting to it is on 127.0.0.1 unless bound):
/// other tests and runs reuse the same port numbers on other addresses, and `--pid`
/// keeps ownerless TIME_WAITs by port alone.
pub fn on(sockets: Vec<Value>, ip: &str) -> Vec<Value> {
    sockets.into_iter().filter(|s| touches(s, ip)).collect()
}

/// Whether `ip` is the socket's local or remote address.
pub fn touches(socket: &Value, ip: &str) -> bool {
    socket["local_addr"] == ip || socket["remote_addr"] == ip
}

pub fn port(v: &Value, key: &str) -> Option<u16> {
    v[key].as_u64().map(|p| p as u16)
}

/// The one socket with this proto whose local port is `local` and remote port `remote`
/// (0 for listeners and unconnected UDP).
pub fn find_inet<'a>(sockets: &'a [Value], proto: &str, local: u16, remote: u16) -> &'a Value {
    let found: Vec<&Value> = sockets
        .iter()
        .filter(|s| {
            s["proto"] == proto
                && port(s, "local_port") == Some(local)
                && port(s, "remote_port") == Some(remote)
        })
        .collect();
    assert_eq!(found.len(), 1, "{proto} {local}->{remote} in {sockets:#?}");
    found[0]
}

pub fn find_inode(sockets: &[Value], inode: u64) -> &Value {
    sockets
        .iter()
        .find(|s| s["inode"] == inode)
        .unwrap_or_else(|| panic!("inode {inode} not listed"))
}

/// Calls `probe` until it returns Some, for at most `secs` seconds.
pub fn wait_for<T>(secs: u64, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
