//! What the live view and doctor learn about processes beside their sockets: command
//! lines, names, whether a process still runs, and the open-file limit. Read under the
//! /proc root in use (`--proc-root`), like everything in collect.
//!
//! Plain std reads, each capped (`Read::take`): a /proc file is small, and a hostile or
//! broken one must not make us read without end.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

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
/// process the snapshot saw (not a reused pid, nor a fixture tree's made-up pid).
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
}
