//! Which processes hold which sockets: a walk of /proc/<pid>/fd/* links.
//!
//! Processes come and go during the walk; a vanished process or fd is skipped, never
//! an error. A directory we may not read (another user's, without root) is counted,
//! so the snapshot can say owners are hidden instead of pretending there are none.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
use crate::model::{Owner, Owners, ProcessInfo};

/// Socket inode -> every (process, fd) holding it. foldhash: one insert per socket fd
/// and one lookup per socket, 100k of each at scale.
pub type ByInode = HashMap<u64, Owners, foldhash::fast::RandomState>;

/// What a walk found: each walking thread's map, kept apart. Merging them into one was
/// a second map of every socket (52 MB at 1M sockets) while the first still stood; a
/// lookup in each part costs less than that copy did. A socket held by processes
/// walked on different threads is in several parts: `get` and `take` join its owners
/// in walk order (pid order, then fd order), as one thread would have found them.
#[derive(Debug, Default)]
pub struct Walk {
    parts: Vec<ByInode>,
    /// The pids in walk order, for such a join; where each is in it, made at the first.
    order: Vec<u32>,
    positions: OnceCell<HashMap<u32, usize, foldhash::fast::RandomState>>,
    /// Processes whose fd directory could not be read for lack of permission.
    pub denied: Vec<u32>,
}

impl Walk {
    /// One map that has everything (the kept walk's, collect/fd_cache.rs).
    pub fn whole(by_inode: ByInode, denied: Vec<u32>) -> Walk {
        Walk {
            parts: vec![by_inode],
            denied,
            ..Walk::default()
        }
    }

    /// The threads' findings over `pids` (walk order), each part in walk order itself.
    fn of_parts(parts: Vec<Part>, pids: &[u32]) -> Walk {
        let mut walk = Walk {
            order: pids.to_vec(),
            ..Walk::default()
        };
        for part in parts {
            walk.denied.extend(part.denied);
            walk.parts.push(part.by_inode);
        }
        walk
    }

    /// Who holds `inode`.
    pub fn get(&self, inode: u64) -> Option<Owners> {
        let mut found = self.parts.iter().filter_map(|part| part.get(&inode));
        let first = found.next()?;
        match found.next() {
            None => Some(first.clone()),
            Some(second) => Some(self.join([first, second].into_iter().chain(found))),
        }
    }

    /// Who holds `inode`, taken out: what `drain` yields no more.
    pub fn take(&mut self, inode: u64) -> Option<Owners> {
        let (first, rest) = self.parts.split_first_mut()?;
        let found = first.remove(&inode);
        if rest.is_empty() {
            return found;
        }
        let more: Vec<Owners> = rest.iter_mut().filter_map(|p| p.remove(&inode)).collect();
        match (found, more.is_empty()) {
            (found, true) => found,
            (None, false) if more.len() == 1 => more.into_iter().next(),
            (found, false) => Some(self.join(found.iter().chain(&more))),
        }
    }

    /// Every socket still in the walk, taken out (those no table named).
    pub fn drain(&mut self) -> impl Iterator<Item = (u64, Owners)> + '_ {
        let mut parts = std::mem::take(&mut self.parts);
        parts.reverse();
        let this = &*self;
        let mut current: Option<std::collections::hash_map::IntoIter<u64, Owners>> = None;
        std::iter::from_fn(move || {
            loop {
                if let Some((inode, owners)) = current.as_mut().and_then(Iterator::next) {
                    // The parts still to drain (walked on other threads) may have more.
                    let more: Vec<Owners> =
                        parts.iter_mut().filter_map(|p| p.remove(&inode)).collect();
                    if more.is_empty() {
                        return Some((inode, owners));
                    }
                    return Some((inode, this.join([&owners].into_iter().chain(&more))));
                }
                current = Some(parts.pop()?.into_iter());
            }
        })
    }

    /// Lets go of the maps (the room is wanted next), keeping `denied`.
    pub fn free_maps(&mut self) {
        self.parts = Vec::new();
    }

    /// The owners of one socket found in several parts, in walk order. Stable: the
    /// fds of one process keep their order.
    fn join<'a>(&self, lists: impl Iterator<Item = &'a Owners>) -> Owners {
        let positions = self.positions.get_or_init(|| {
            self.order
                .iter()
                .enumerate()
                .map(|(i, &pid)| (pid, i))
                .collect()
        });
        let mut all: Vec<Owner> = lists.flat_map(|l| l.iter().cloned()).collect();
        all.sort_by_key(|o| positions.get(&o.pid).copied());
        all.into()
    }
}

/// What one walking thread found.
#[derive(Default)]
struct Part {
    by_inode: ByInode,
    denied: Vec<u32>,
}

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
    let mut process: Option<Process> = None;
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
        let process = process
            .get_or_insert_with(|| process_info(&proc_dir, users, containers))
            .clone();
        let owner = Owner { pid, fd, process };
        // Most sockets have one owner, kept inline; a second one (a fork, a dup)
        // makes a list.
        match owners.by_inode.entry(inode) {
            Entry::Occupied(mut e) => e.get_mut().push(owner),
            Entry::Vacant(e) => {
                e.insert(Owners::one(owner));
            }
        }
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

    fn owner(pid: u32, fd: u32) -> Owner {
        Owner {
            pid,
            fd,
            process: Arc::new(ProcessInfo {
                comm: "x".into(),
                uid: 0,
                user: "root".into(),
                container: None,
            }),
        }
    }

    fn keys(owners: &Owners) -> Vec<(u32, u32)> {
        owners.iter().map(|o| (o.pid, o.fd)).collect()
    }

    /// Walk order 30, 10, 20: thread A walked 30 and 20, thread B walked 10.
    fn two_threads() -> Walk {
        let pids = [30, 10, 20];
        let mut a = Part::default();
        a.by_inode
            .insert(7, vec![owner(30, 4), owner(20, 3), owner(20, 5)].into());
        a.by_inode.insert(8, vec![owner(30, 6)].into());
        let mut b = Part::default();
        b.by_inode.insert(7, vec![owner(10, 9)].into());
        b.by_inode.insert(9, vec![owner(10, 1)].into());
        b.denied = vec![10, 11];
        Walk::of_parts(vec![b, a], &pids)
    }

    #[test]
    fn merged_owners_come_back_in_walk_order() {
        let mut walk = two_threads();
        let key = |walk: &Walk, inode| keys(&walk.get(inode).unwrap());
        assert_eq!(key(&walk, 7), [(30, 4), (10, 9), (20, 3), (20, 5)]);
        assert_eq!(key(&walk, 8), [(30, 6)]);
        assert_eq!(key(&walk, 9), [(10, 1)]);
        assert_eq!(walk.get(5), None);
        assert_eq!(walk.denied, [10, 11]);
        // Taken, they are the same, and gone from the walk.
        assert_eq!(
            keys(&walk.take(7).unwrap()),
            [(30, 4), (10, 9), (20, 3), (20, 5)]
        );
        assert_eq!(walk.take(7), None);
        assert_eq!(walk.get(7), None);
        assert_eq!(keys(&walk.take(9).unwrap()), [(10, 1)]);
        let rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
        assert_eq!(rest, [(8, vec![(30, 6)])]);
        assert_eq!(walk.drain().count(), 0);
    }

    #[test]
    fn drained_owners_come_back_in_walk_order() {
        let mut walk = two_threads();
        let mut rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
        rest.sort();
        assert_eq!(
            rest,
            [
                (7, vec![(30, 4), (10, 9), (20, 3), (20, 5)]),
                (8, vec![(30, 6)]),
                (9, vec![(10, 1)]),
            ]
        );
    }

    #[test]
    fn owners_stay_small() {
        // One owner inline, more shared: what 1M sockets each hold twice (their own
        // and their peer's).
        assert_eq!(std::mem::size_of::<Owner>(), 16);
        assert_eq!(std::mem::size_of::<Owners>(), 16);
        let mut owners = Owners::default();
        owners.push(owner(1, 3));
        owners.push(owner(1, 4));
        owners.push(owner(2, 5));
        assert_eq!(keys(&owners), [(1, 3), (1, 4), (2, 5)]);
        assert_eq!(
            owners,
            Owners::from(vec![owner(1, 3), owner(1, 4), owner(2, 5)])
        );
        assert_eq!(Owners::from(vec![owner(1, 3)]), Owners::one(owner(1, 3)));
        assert!(Owners::from(Vec::new()).is_empty());
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
