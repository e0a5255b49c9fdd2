//! Processes, as the rest of the program needs them beside their sockets.
//!
//! Facts for showing them, read under the /proc root in use (`--proc-root`): names,
//! whether one still runs, command lines (with the `Cmdlines` cache). Every read is
//! bounded (see `collect::read`).
//!
//! `Process`, for acting on one: pinned by a pidfd, with the facts that say whether it
//! is still the process a snapshot showed (its name, how long it has run) and whose it
//! is (real and effective uid). Always the live /proc: a captured tree has no processes
//! to act on.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, kill_process, pidfd_open, pidfd_send_signal};

use super::read::{self, Follow};
use crate::model::Snapshot;

/// A command line is shown cut past this (the kernel allows megabytes).
const MAX_CMDLINE: usize = 128 * 1024;
/// comm is 16 bytes, stat a few hundred.
const MAX_SMALL: usize = 4096;

/// A small /proc file as text, read bounded (see collect::read).
fn text(path: &Path, max: usize) -> io::Result<String> {
    let bytes = read::prefix(path, max, Follow::No)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The process's name (/proc/<pid>/comm), without its newline.
pub fn comm(proc_root: &Path, pid: u32) -> Option<String> {
    let text = text(&proc_root.join(pid.to_string()).join("comm"), 256).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}

/// Whether the process exists and has not exited: a zombie (exited, not yet reaped by
/// its parent) still has a /proc entry, but no sockets any more.
pub fn is_running(proc_root: &Path, pid: u32) -> bool {
    let Ok(stat) = text(&proc_root.join(pid.to_string()).join("stat"), MAX_SMALL) else {
        return false;
    };
    // "pid (comm) S ...": the state is field 3.
    let state = stat_field(&stat, 3).and_then(|state| state.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// /proc/<pid>/cmdline with its NULs as spaces. Only when /proc/<pid>/comm is still the
/// process the snapshot saw (not a reused pid, nor a fixture tree's made-up pid). None
/// for kernel threads and zombies, whose command line is empty.
pub fn cmdline(proc_root: &Path, pid: u32, expected_comm: &str) -> Option<String> {
    if comm(proc_root, pid)? != expected_comm {
        return None;
    }
    let path = proc_root.join(pid.to_string()).join("cmdline");
    let raw = read::prefix(&path, MAX_CMDLINE, Follow::No).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then(|| args.join(" "))
}

/// Command lines by pid, read once per process (and again if it execs). A process
/// whose line could not be read is remembered as None, so it is not retried each time.
#[derive(Default)]
pub struct Cmdlines {
    by_pid: HashMap<u32, (Arc<str>, Option<String>)>,
}

impl Cmdlines {
    /// The command lines of every process in `snapshot` that has one.
    pub fn refresh(&mut self, proc_root: &Path, snapshot: &Snapshot) -> HashMap<u32, String> {
        let mut next = HashMap::new();
        for owner in snapshot.sockets.iter().flat_map(|s| &s.processes) {
            if next.contains_key(&owner.pid) {
                continue;
            }
            let line = match self.by_pid.remove(&owner.pid) {
                Some((comm, line)) if comm == owner.process.comm => line,
                _ => cmdline(proc_root, owner.pid, &owner.process.comm),
            };
            next.insert(owner.pid, (owner.process.comm.clone(), line));
        }
        self.by_pid = next;
        self.by_pid
            .iter()
            .filter_map(|(pid, (_, line))| Some((*pid, line.clone()?)))
            .collect()
    }
}

/// A live process, opened by pid.
#[derive(Debug)]
pub struct Process {
    pub pid: u32,
    /// /proc/<pid>/comm without its newline.
    pub comm: String,
    pub real_uid: u32,
    pub effective_uid: u32,
    /// How long it has run: a pid reused since a snapshot belongs to a younger process.
    pub age: Duration,
    /// None on kernels before 5.3 (no pidfd_open); then signals go by pid.
    pidfd: Option<OwnedFd>,
}

impl Process {
    /// The pidfd is opened first, so the facts read afterwards describe the process
    /// it pins, or the signal through it fails (ESRCH) if that one exits meanwhile.
    /// NotFound when there is no such process.
    pub fn open(pid: u32) -> io::Result<Process> {
        let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
        let Some(raw) = raw else {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        };
        let pidfd = match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::NOSYS) => None,
            Err(Errno::SRCH) => return Err(io::Error::from(io::ErrorKind::NotFound)),
            Err(e) => return Err(e.into()),
        };
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let comm = text(&dir.join("comm"), 256)?;
        let status = text(&dir.join("status"), 64 * 1024)?;
        let stat = text(&dir.join("stat"), 4096)?;
        let uptime = text(Path::new("/proc/uptime"), 256)?;
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("pid {pid}: {what}"));
        let (real_uid, effective_uid) = uids(&status).ok_or_else(|| bad("no Uid line"))?;
        let started = start_ticks(&stat).ok_or_else(|| bad("unreadable stat"))?;
        let up = uptime
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| bad("unreadable /proc/uptime"))?;
        let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
        let age = (up - started as f64 / ticks).max(0.0);
        Ok(Process {
            pid,
            comm: comm.trim_end_matches('\n').to_string(),
            real_uid,
            effective_uid,
            age: Duration::from_secs_f64(age),
            pidfd,
        })
    }

    /// Sends signal number `signal`: through the pidfd, so never to a process that
    /// took the pid after `open`.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        let signal = Signal::from_named_raw(signal)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unknown signal"))?;
        let sent = match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, signal),
            None => {
                let pid = i32::try_from(self.pid).ok().and_then(Pid::from_raw);
                kill_process(pid.ok_or(Errno::SRCH)?, signal)
            }
        };
        sent.map_err(io::Error::from)
    }
}

/// Real and effective uid from /proc/<pid>/status: `Uid:\treal\teffective\tsaved\tfs`.
fn uids(status: &str) -> Option<(u32, u32)> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(|n| n.parse::<u32>().ok());
    Some((ids.next()??, ids.next()??))
}

/// Field 22 of /proc/<pid>/stat, clock ticks after boot when the process started.
fn start_ticks(stat: &str) -> Option<u64> {
    stat_field(stat, 22)?.parse().ok()
}

/// Field `n` of a /proc/<pid>/stat line, numbered from 1 as proc(5) does (3 is the
/// state). Fields are counted after the last ')', as the name in parentheses (field 2)
/// may hold any byte, spaces and ')' too.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n.checked_sub(3)?)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn proc_root() -> PathBuf {
        PathBuf::from(crate::collect::PROC)
    }

    #[test]
    fn a_zombie_has_exited() {
        assert!(is_running(&proc_root(), std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Until it is reaped the child is a zombie; poll (bounded) for it to get there.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while is_running(&proc_root(), pid) && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !is_running(&proc_root(), pid),
            "the exited child still counts as running"
        );
        child.wait().unwrap();
    }

    #[test]
    fn reads_our_own_command_line_only_under_our_name() {
        let pid = std::process::id();
        let name = comm(&proc_root(), pid).expect("our comm");
        let line = cmdline(&proc_root(), pid, &name).expect("our cmdline");
        let exe = std::env::args().next().unwrap();
        assert!(line.starts_with(&exe), "{line}");
        // A different name means a reused pid (or a fixture's): no command line.
        assert_eq!(cmdline(&proc_root(), pid, "not-us"), None);
    }

    #[test]
    fn a_tree_without_the_process_has_nothing() {
        let empty = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        assert_eq!(comm(empty.path(), pid), None);
        assert!(!is_running(empty.path(), pid));
    }

    #[test]
    fn reads_ourselves() {
        let me = Process::open(std::process::id()).unwrap();
        assert_eq!(me.real_uid, rustix::process::getuid().as_raw());
        assert_eq!(me.effective_uid, rustix::process::geteuid().as_raw());
        assert!(me.age < Duration::from_secs(24 * 3600 * 365));
    }

    #[test]
    fn no_such_process_is_not_found() {
        // Above the kernel's pid_max limit (4194304), never a process.
        let err = Process::open(i32::MAX as u32).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn status_and_stat_fields() {
        assert_eq!(uids("Name:\tx\nUid:\t1000\t0\t0\t0\n"), Some((1000, 0)));
        assert_eq!(uids("Name:\tx\n"), None);
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        assert_eq!(start_ticks(stat), Some(12345));
        assert_eq!(start_ticks("42 (x"), None);
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 4), Some("1"));
        assert_eq!(stat_field(stat, 2), None, "the name is not counted past");
        assert_eq!(stat_field(stat, 40), None);
    }
}
