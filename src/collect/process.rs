//! Processes, as the rest of the program needs them beside their sockets.
//!
//! Facts for showing them, read under the /proc root in use (`--proc-root`): names,
//! whether one still runs, command lines (with the `Cmdlines` cache), the open-file
//! limit. Plain std reads, each capped (`Read::take`): a /proc file is small, and a
//! hostile or broken one must not make us read without end.
//!
//! `Process`, for acting on one: pinned by a pidfd, with the facts that say whether it
//! is still the process a snapshot showed (its name, how long it has run) and whose it
//! is (real and effective uid). Always the live /proc: a captured tree has no processes
//! to act on.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, kill_process, pidfd_open, pidfd_send_signal};

use crate::model::Snapshot;

/// /proc/<pid>/cmdline is at most a page on old kernels; long ones are cut here.
const CMDLINE_MAX: u64 = 64 * 1024;
/// comm is 16 bytes; stat and limits a few hundred; hostname 64.
const SMALL_MAX: u64 = 4096;

/// At most `max` bytes of a file; None when it cannot be read (gone, not allowed).
pub(crate) fn read_capped(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(max)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

fn read_text(path: &Path) -> Option<String> {
    read_capped(path, SMALL_MAX).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The process's name (/proc/<pid>/comm), without its newline.
pub fn comm(proc_root: &Path, pid: u32) -> Option<String> {
    let text = read_text(&proc_root.join(pid.to_string()).join("comm"))?;
    Some(text.trim_end_matches('\n').to_string())
}

/// Whether the process exists and has not exited: a zombie (exited, not yet reaped by
/// its parent) still has a /proc entry, but no sockets any more.
pub fn is_running(proc_root: &Path, pid: u32) -> bool {
    let Some(stat) = read_text(&proc_root.join(pid.to_string()).join("stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')', as comm may hold one.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// /proc/<pid>/cmdline with its NULs as spaces. Only when /proc/<pid>/comm is still the
/// process the snapshot saw (not a reused pid, nor a fixture tree's made-up pid). None
/// for kernel threads and zombies, whose command line is empty.
pub fn cmdline(proc_root: &Path, pid: u32, expected_comm: &str) -> Option<String> {
    if comm(proc_root, pid)? != expected_comm {
        return None;
    }
    let raw = read_capped(
        &proc_root.join(pid.to_string()).join("cmdline"),
        CMDLINE_MAX,
    )?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then(|| args.join(" "))
}

/// Our soft limit on open files (`Max open files` in /proc/self/limits).
pub fn open_files_limit(proc_root: &Path) -> Option<usize> {
    let limits = read_text(&proc_root.join("self/limits"))?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
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
                Some((comm, line)) if comm == owner.comm => line,
                _ => cmdline(proc_root, owner.pid, &owner.comm),
            };
            next.insert(owner.pid, (owner.comm.clone(), line));
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
        let comm = fs::read_to_string(dir.join("comm"))?;
        let status = fs::read_to_string(dir.join("status"))?;
        let stat = fs::read_to_string(dir.join("stat"))?;
        let uptime = fs::read_to_string("/proc/uptime")?;
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
/// Fields are counted after the last ')', as the name in parentheses may hold any byte.
fn start_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
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
        assert_eq!(open_files_limit(empty.path()), None);
        assert!(open_files_limit(&proc_root()).is_some());
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
    }
}
