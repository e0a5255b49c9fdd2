//! What a snapshot says when owners cannot be seen: as `nobody`, `--pid` of a root
//! process says its fds are unreadable (instead of printing nothing and saying
//! nothing), and with /proc mounted `hidepid=2` (in this test's own mount namespace)
//! the hidden-owners warning appears though no fd directory was ever denied.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};

use common::StopOnDrop;

/// Cannot run here: fail under CI (which installs everything), else skip visibly.
fn cannot_run(why: &str) {
    common::need::cannot(why);
}

fn as_nobody(prefix: &[&str], args: &[&str]) -> Option<Output> {
    let out = Command::new(prefix[0])
        .args(&prefix[1..])
        .args([
            "runuser",
            "-u",
            "nobody",
            "--",
            env!("CARGO_BIN_EXE_sockscope"),
        ])
        .args(args)
        .output();
    match out {
        Ok(out) if out.status.code() != Some(126) && out.status.code() != Some(127) => Some(out),
        other => {
            cannot_run(&format!("cannot run as nobody: {other:?}"));
            None
        }
    }
}

#[test]
fn nobody_is_told_a_root_process_fds_are_unreadable() {
    // A root process of our own that holds a socket.
    let holder = StopOnDrop(
        Command::new("sleep")
            .arg("60")
            .stdin(std::os::fd::OwnedFd::from(
                TcpListener::bind("127.0.0.1:0").unwrap(),
            ))
            .spawn()
            .unwrap(),
    );
    let pid = holder.0.id().to_string();
    let Some(out) = as_nobody(&["env"], &["list", "--pid", &pid]) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("the fds of pid {pid} are unreadable"))
            && stderr.contains("cap_sys_ptrace"),
        "{stderr}"
    );
}

#[test]
fn hidepid_mount_hides_owners_and_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // A private mount namespace with its own proc instance (Linux 5.8+): the host's
    // /proc is untouched.
    let script = format!(
        "mount -t proc -o hidepid=2 proc /proc || exit 99; \
         exec runuser -u nobody -- {} list --json --tcp --port {port}",
        env!("CARGO_BIN_EXE_sockscope")
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output();
    let out = match out {
        Ok(out) if out.status.code() == Some(99) => {
            cannot_run(&format!("cannot mount proc with hidepid=2: {out:?}"));
            return;
        }
        Ok(out) => out,
        Err(e) => {
            cannot_run(&format!("no unshare: {e}"));
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.len(), 1, "our listener: {all:?}");
    assert!(common::pids(&all[0]).is_empty(), "hidden from nobody");
    assert!(
        stderr.contains("sockets are hidden") && stderr.contains("mounted with hidepid="),
        "{stderr}"
    );
}
