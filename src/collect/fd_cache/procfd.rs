//! The reads of a process's fd directory that fd_cache.rs makes, and the threads they
//! run on: start time, fd count (`st_size`), a listing, a probe, link targets.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{CWD, Dir, Mode, OFlags, openat, readlinkat_raw};
use rustix::io::Errno;

use super::{Fd, FdTable, Seen};
use crate::collect::owners::{self, LINK_BUF};
use crate::collect::process::stat_field;
use crate::collect::read::{self, Follow};

/// Whether this kernel counts fds in `st_size` (6.2+): our own fd directory, which
/// holds at least stdin, stdout and the directory itself, says more than 0.
pub(super) fn counts_fds(proc_root: &Path) -> bool {
    fs::metadata(proc_root.join("self/fd")).is_ok_and(|m| m.size() > 0)
}

pub(super) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// A count no stat returns: the next refresh lists the process again.
pub(super) const UNTRUSTED: u64 = u64::MAX;

/// A process's fd numbers, in order, with the open directory to read links from; and
/// the fd count to keep for it. A listing is not atomic: unless the count was the same
/// before and after it, and as many fds were listed, the count kept is `UNTRUSTED`, so
/// a listing that raced an open and a close is never trusted later.
pub(super) fn list(proc_root: &Path, pid: u32) -> (Seen, u64) {
    let before = fd_count(proc_root, pid);
    let dir = proc_root.join(format!("{pid}/fd"));
    let fd = match openat(CWD, &dir, dir_flags(), Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ACCESS) => return (Seen::Denied, before),
        Err(_) => return (Seen::Gone, 0),
    };
    let Ok(mut dir) = Dir::new(fd) else {
        return (Seen::Gone, 0);
    };
    let mut numbers = Vec::new();
    while let Some(Ok(entry)) = dir.read() {
        if let Some(fd) = entry.file_name().to_str().ok().and_then(|s| s.parse().ok()) {
            numbers.push(fd);
        }
    }
    numbers.sort_unstable();
    let after = fd_count(proc_root, pid);
    let count = if before == after && numbers.len() as u64 == after {
        after
    } else {
        UNTRUSTED
    };
    (Seen::Listed(dir, numbers), count)
}

/// Numbers past the last one a probe found free, tried before it gives up and lists.
const GAP_MISSES: u32 = 64;

/// A process's fd table from the one the cache kept, without listing the directory
/// (getdents makes the kernel build a dentry for each of its fds: at 10k fds that is
/// most of a refresh). Each kept fd is read again unless `vouched` says its inode
/// needs no read (see fd_cache.rs, step 3); then, while the table has fewer fds than
/// the count says, the lowest numbers it lacks are read (a new fd takes the lowest
/// free number, unless dup2 or F_DUPFD chose one). None when that does not add up:
/// fewer fds than it vouched for (one closed while its socket lives on, passed or in
/// flight), or more than it finds within `GAP_MISSES` free numbers: the caller lists.
/// Also the fds read, and the count to keep (as `list` says it).
pub(super) fn probe(
    proc_root: &Path,
    pid: u32,
    old: &FdTable,
    vouched: impl Fn(u64) -> bool,
) -> Option<(Seen, u64)> {
    let before = fd_count(proc_root, pid);
    let dir = proc_root.join(format!("{pid}/fd"));
    let dir = match openat(CWD, &dir, dir_flags(), Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ACCESS) => return Some((Seen::Denied, before)),
        Err(_) => return Some((Seen::Gone, 0)),
    };
    let at = dir.as_fd();
    let mut fds = FdTable::with_capacity(old.len() + 16);
    let mut read = Vec::new();
    for f in old.iter() {
        if f.inode != 0 && vouched(f.inode) {
            fds.push(f);
        } else if let Some(inode) = target(at, f.fd) {
            fds.push(Fd { fd: f.fd, inode });
            read.push(Fd { fd: f.fd, inode });
        }
    }
    let mut missing = before.checked_sub(fds.len() as u64)?;
    if missing > 0 {
        let mut found = Vec::new();
        {
            let (mut next, mut misses) = (0u32, 0);
            let mut have = fds.iter().map(|f| f.fd).peekable();
            while missing > 0 {
                // Skip the numbers the table has.
                while have.next_if(|&fd| fd < next).is_some() {}
                if have.peek() == Some(&next) {
                    next = next.checked_add(1)?;
                    continue;
                }
                match target(at, next) {
                    Some(inode) => {
                        found.push(Fd { fd: next, inode });
                        missing -= 1;
                    }
                    None if misses >= GAP_MISSES => return None,
                    None => misses += 1,
                }
                next = next.checked_add(1)?;
            }
        }
        read.extend_from_slice(&found);
        for f in found {
            fds.push(f);
        }
        fds.sort();
    }
    let after = fd_count(proc_root, pid);
    let count = if before == after && fds.len() as u64 == after {
        after
    } else {
        UNTRUSTED
    };
    Some((Seen::Probed(fds, read), count))
}

/// Every listed fd's target (a full refresh).
pub(super) fn read_all(dir: &Dir, numbers: &[u32]) -> Vec<Fd> {
    let Ok(at) = dir.fd() else {
        return Vec::new();
    };
    numbers
        .iter()
        .filter_map(|&fd| {
            Some(Fd {
                fd,
                inode: target(at, fd)?,
            })
        })
        .collect()
}

/// Where fd points: a socket's inode, 0 for anything else, None when it is closed.
pub(super) fn target(at: BorrowedFd<'_>, fd: u32) -> Option<u64> {
    let mut link = [0u8; LINK_BUF];
    // The fd's name, written on the stack: no allocation per link.
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut n = fd;
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let name = std::str::from_utf8(&digits[start..]).ok()?;
    match readlinkat_raw(at, name, &mut link[..]) {
        Ok(len) if len < LINK_BUF => Some(owners::socket_inode(&link[..len]).unwrap_or(0)),
        Ok(_) => Some(0),
        Err(_) => None,
    }
}

/// `st_size` of /proc/P/fd: P's open fds on Linux 6.2+; 0 when gone.
pub(super) fn fd_count(proc_root: &Path, pid: u32) -> u64 {
    fs::metadata(proc_root.join(format!("{pid}/fd"))).map_or(0, |m| m.size())
}

/// Field 22 of /proc/P/stat, after the command name (which may hold spaces and ')').
pub(super) fn start_time(proc_root: &Path, pid: u32) -> u64 {
    let path = proc_root.join(format!("{pid}/stat"));
    let Ok(stat) = read::prefix(&path, 1024, Follow::No) else {
        return 0;
    };
    // Field 22: when it started.
    stat_field(&String::from_utf8_lossy(&stat), 22)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `f` over `items` on up to four threads (readdir and readlink are served on every
/// core at once), results in the items' order.
pub(super) fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let done = AtomicUsize::new(0);
    let mut parts: Vec<(usize, R)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((i, item)) = next else { break };
                        out.push((i, f(item)));
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    debug_assert_eq!(done.load(Ordering::Relaxed), n);
    parts.sort_unstable_by_key(|(i, _)| *i);
    parts.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_order() {
        let out = parallel((0..1000).collect(), |i: u32| i * 2);
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn our_own_start_time_and_count() {
        let me = std::process::id();
        let root = Path::new(crate::collect::PROC);
        assert!(start_time(root, me) > 0);
        if counts_fds(root) {
            assert!(fd_count(root, me) >= 3);
        }
    }
}
