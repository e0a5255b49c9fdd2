//! Which processes hold which sockets: a walk of /proc/<pid>/fd/* links.
//!
//! Processes come and go during the walk; a vanished process or fd is skipped, never
//! an error. A directory we may not read (another user's, without root) is counted,
//! so the snapshot can say owners are hidden instead of pretending there are none.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rustix::fs::{CWD, Dir, Mode, OFlags, openat, readlinkat_raw};
use rustix::io::Errno;

use super::container::Containers;
use super::read::{self, Follow, Lines};
use crate::model::ProcessInfo;

mod found;
mod held;
mod inodes;

use found::Part;
pub use found::{ByInode, Walk};
pub use held::Held;
pub use inodes::Inodes;

/// Most of a walk is readlink calls the kernel serves on every core at once; past a few
/// threads the gain is gone.
const MAX_THREADS: usize = 4;

/// Walks the fd directories of `pids`, or of every process under `proc_root` when None.
///
/// Threads take processes one at a time from a shared counter, so a few big processes
/// and many small ones spread evenly. The result reads as what one thread would have
/// found.
pub fn walk(
    proc_root: &Path,
    pids: Option<&[u32]>,
    users: &Users,
    containers: &Containers,
) -> Walk {
    let all;
    let pids = match pids {
        Some(pids) => pids,
        None => {
            all = list_pids(proc_root);
            &all
        }
    };
    let next = AtomicUsize::new(0);
    let work = || {
        let mut part = Part::default();
        while let Some(&pid) = pids.get(next.fetch_add(1, Ordering::Relaxed)) {
            walk_process(proc_root, pid, users, containers, &mut part);
        }
        part
    };
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(pids.len());
    if threads <= 1 {
        return Walk::of_parts(vec![work()], pids);
    }
    let parts = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    Walk::of_parts(parts, pids)
}

/// Every numeric entry of `proc_root`, i.e. every process.
pub fn list_pids(proc_root: &Path) -> Vec<u32> {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Socket link targets are short ("socket:[4294967295]"); a target that fills this
/// buffer may have been cut, and is no socket anyway.
pub(super) const LINK_BUF: usize = 64;

/// What every owner of one process shares: comm, uid, user name, container.
pub(super) type Process = Arc<ProcessInfo>;

/// One process. Its fd links are read relative to the open fd directory (readlinkat)
/// into a stack buffer: no path lookup for the kernel, no allocation for us, per fd.
fn walk_process(
    proc_root: &Path,
    pid: u32,
    users: &Users,
    containers: &Containers,
    owners: &mut Part,
) {
    let proc_dir = proc_root.join(pid.to_string());
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd_dir = match openat(CWD, proc_dir.join("fd"), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ACCESS) => {
            owners.denied.push(pid);
            return;
        }
        Err(_) => return, // gone, or a kernel thread
    };
    let Ok(mut entries) = Dir::new(fd_dir) else {
        return;
    };
    // Looked up once the process turns out to hold a socket.
    let mut process: Option<u32> = None;
    let mut link = [0u8; LINK_BUF];
    // A read error ends the listing (the process exited), like the end of it.
    while let Some(Ok(entry)) = entries.read() {
        let name = entry.file_name();
        let Some(fd) = name.to_str().ok().and_then(|s| s.parse().ok()) else {
            continue; // "." and ".."
        };
        let Ok(dir_fd) = entries.fd() else {
            return;
        };
        let len = match readlinkat_raw(dir_fd, name, &mut link[..]) {
            Ok(len) => len,
            // Some sandboxes let us list the fds but not read where they point.
            Err(Errno::ACCESS) => {
                owners.denied.push(pid);
                return;
            }
            Err(_) => continue, // closed meanwhile
        };
        if len >= LINK_BUF {
            continue;
        }
        let Some(inode) = socket_inode(&link[..len]) else {
            continue;
        };
        let process = *process
            .get_or_insert_with(|| owners.process(pid, process_info(&proc_dir, users, containers)));
        owners.add(inode, process, fd);
    }
}

/// What every owner of the process in `proc_dir` shares (also for fd_cache.rs).
pub(super) fn process_info(proc_dir: &Path, users: &Users, containers: &Containers) -> Process {
    let comm = read_comm(proc_dir);
    let uid = fs::metadata(proc_dir).map(|m| m.uid()).unwrap_or(0);
    Arc::new(ProcessInfo {
        comm,
        uid,
        user: users.name(uid),
        container: containers.of(proc_dir),
    })
}

/// A process's name as the kernel keeps it (up to 15 bytes; 64 for kernel threads
/// on new kernels), read bounded and without following a link. Kept exact, control
/// bytes included: text output escapes it, JSON carries it as it is. Bytes that are
/// not UTF-8 become U+FFFD.
fn read_comm(proc_dir: &Path) -> Arc<str> {
    let bytes = read::prefix(&proc_dir.join("comm"), 256, Follow::No).unwrap_or_default();
    let name = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    String::from_utf8_lossy(name).into()
}

/// Whether `proc_root` is a proc mount that hides other users' processes from us
/// (`hidepid=2`/`invisible`, or `ptraceable`): the mount option, for the warning.
pub fn hiding_mount(proc_root: &Path) -> Option<String> {
    let mounts = Path::new("/proc/self/mountinfo");
    let mut lines = Lines::open(mounts, Follow::No, 64 * 1024, 8192, 64 << 20).ok()??;
    let root = proc_root.as_os_str().as_bytes();
    let mut found = None;
    while let Ok(Some(line)) = lines.next_line() {
        // id parent dev root MOUNTPOINT options [tags] - fstype source super-options
        let mut fields = line.text.split(|&b| b == b' ');
        let Some(point) = fields.nth(4) else { continue };
        if point != root {
            continue;
        }
        let rest: Vec<&[u8]> = fields.collect();
        let Some(dash) = rest.iter().position(|f| *f == b"-") else {
            continue;
        };
        if rest.get(dash + 1) != Some(&&b"proc"[..]) {
            continue;
        }
        // The last mount on a point is the one seen; per-mount and super options both.
        found = [rest.first(), rest.get(dash + 3)]
            .into_iter()
            .flatten()
            .flat_map(|opts| opts.split(|&b| b == b','))
            .find(|opt| {
                matches!(
                    *opt,
                    b"hidepid=2" | b"hidepid=invisible" | b"hidepid=4" | b"hidepid=ptraceable"
                )
            })
            .map(|opt| String::from_utf8_lossy(opt).into_owned());
    }
    found
}

/// The inode in a `socket:[12345]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// User names by uid, from /etc/passwd; a uid without a name prints as its number.
#[derive(Debug, Default)]
pub struct Users(HashMap<u32, Arc<str>>);

impl Users {
    /// An unreadable or oversized (past 64 MiB) passwd leaves every uid a number.
    pub fn load() -> Users {
        let passwd =
            read::small(Path::new("/etc/passwd"), 64 << 20, Follow::Yes).unwrap_or_default();
        Users::parse(&String::from_utf8_lossy(&passwd))
    }

    pub fn parse(passwd: &str) -> Users {
        let map = passwd
            .lines()
            .filter_map(|line| {
                let mut f = line.split(':');
                let name = f.next()?;
                let uid = f.nth(1)?.parse().ok()?;
                Some((uid, Arc::from(name)))
            })
            .collect();
        Users(map)
    }

    pub fn name(&self, uid: u32) -> Arc<str> {
        self.0
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
    }

    #[test]
    fn passwd() {
        let users =
            Users::parse("root:x:0:0:root:/root:/bin/bash\nbad line\nwww-data:x:33:33::/:\n");
        assert_eq!(&*users.name(0), "root");
        assert_eq!(&*users.name(33), "www-data");
        assert_eq!(&*users.name(1000), "1000");
    }
}
