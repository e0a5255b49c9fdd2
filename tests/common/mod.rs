//! Helpers shared by the integration tests: running the binary and reading its JSON.
#![allow(dead_code)] // each test file uses its own part

pub mod holder;
pub mod hosts;
pub mod need;
pub mod netns;
pub mod sockets;
pub mod tmux;

use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");

pub fn sockscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(args)
        .output()
        .expect("run sockscope")
}

/// Runs `sockscope list --json ARGS`, asserting success, and returns the array.
pub fn list_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let out = sockscope(&all);
    assert!(
        out.status.success(),
        "sockscope {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).expect("list --json prints JSON");
    value.as_array().expect("a JSON array").clone()
}

/// The pids of a socket's `processes`.
pub fn pids(socket: &Value) -> Vec<u64> {
    socket["processes"]
        .as_array()
        .expect("processes is an array")
        .iter()
        .map(|p| p["pid"].as_u64().expect("pid"))
        .collect()
}

/// The pids of a socket's `processes` that still hold it now and are no fork of this
/// test on its way to exec. A thread of a test that spawns a command forks first: until
/// the child execs (which closes our CLOEXEC fds), it holds every fd the test holds, and
/// sockscope, walking fds at that moment, rightly lists it. Such a child is gone by now,
/// has exec'd and let go, or (on a loaded machine) is still our copy: our child, with
/// our command line. A real holder (a `sleep` given the socket as its stdin, a holder
/// run with its own arguments) still holds it, and a wrong one still fails.
pub fn lasting_holders(socket: &Value) -> Vec<u64> {
    let inode = socket["inode"].as_u64().expect("inode");
    pids(socket)
        .into_iter()
        .filter(|&pid| holds(pid, inode) && !unexeced_fork(pid))
        .collect()
}

/// Whether `pid` is a child of this process that has not exec'd yet: its parent is us
/// and its command line is ours.
fn unexeced_fork(pid: u64) -> bool {
    let me = std::process::id();
    let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().nth(1)?.parse::<u32>().ok()
        });
    let cmdline = |p: String| std::fs::read(format!("/proc/{p}/cmdline")).ok();
    parent == Some(me)
        && cmdline(pid.to_string()).is_some_and(|c| Some(c) == cmdline("self".into()))
}

fn holds(pid: u64, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
}

/// Sends SIGTERM to `child` and waits (up to 10 s) for it to exit; its exit status.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let pid = child.id();
    sigterm(pid).unwrap_or_else(|e| panic!("SIGTERM to {pid}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to `pid` (a child of this test, or one of its own processes).
pub fn sigterm(pid: u32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid is not 0");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(Into::into)
}

/// A child stopped when dropped, so a failed assertion leaves nothing running:
/// SIGTERM first (the demo then removes its temp dir), SIGKILL if it lingers 3 s.
pub struct StopOnDrop(pub Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return; // already gone (and reaped): its pid may belong to another now
        }
        let _ = sigterm(self.0.id());
        for _ in 0..60 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
