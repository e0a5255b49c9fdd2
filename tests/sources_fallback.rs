//! When netlink is refused (as seccomp or an LSM would), the default source falls back
//! to /proc and says so once; a forced `--source netlink` is an error instead.
//! The refusal is staged with strace's fault injection on socket(2).

mod common;
use common::need::{self, Need};
use common::netns::OwnAddr;

use std::net::TcpListener;
use std::process::{Command, Output};

use serde_json::Value;

/// `sockscope ARGS...` with every socket(2) call failing with EPERM.
fn without_sockets(args: &[&str]) -> Output {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=socket"])
        .args(["-e", "inject=socket:error=EPERM"])
        .arg(env!("CARGO_BIN_EXE_sockscope"))
        .args(args)
        .output()
        .expect("run strace")
}

#[test]
fn refused_netlink_falls_back_to_proc_once() {
    if !need::met(&[Need::Strace]) {
        return;
    }
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let pid = std::process::id().to_string();

    let out = without_sockets(&["list", "--json", "--pid", &pid, "--port", &port]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("netlink sock_diag is unavailable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("Operation not permitted"), "{stderr}");
    let sockets: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    // `--pid` keeps ownerless TIME_WAITs on our port: other tests' too, on other
    // addresses. Ours are on our own.
    let sockets: Vec<&Value> = sockets
        .iter()
        .filter(|s| s["local_addr"] == own.text().as_str())
        .collect();
    assert_eq!(sockets.len(), 1, "{sockets:#?}");
    assert_eq!(sockets[0]["state"], "LISTEN");
    assert!(sockets[0]["tcp_info"].is_null());

    // Forced, the same refusal is one clear error line and a failure.
    let out = without_sockets(&["list", "--source", "netlink", "--pid", &pid]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--source netlink failed"), "{stderr}");
    drop(listener);
}

#[test]
fn netlink_cannot_read_a_captured_tree() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args([
            "list",
            "--source",
            "netlink",
            "--proc-root",
            "/nonexistent-tree",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--proc-root"), "{stderr}");
}
