//! Steps 4 and 6 of a refresh (see fd_cache.rs): the other holders of an inode that
//! moved, read again; and inode -> owners, kept from one refresh to the next and
//! changed where a process's fd table changed.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{CWD, Mode, openat};

use super::procfd::{UNTRUSTED, dir_flags, target};
use super::{Fast, Fd, FdCache, Proc, Refresh};
use crate::collect::owners::Held;

/// Where each pid comes in this refresh's walk order (the order of /proc).
pub(super) type Positions = HashMap<u32, usize, Fast>;

/// inode -> every (process, fd) holding it, in the order a full walk finds them (walk
/// order of the processes, then fd order), as the fd tables say. Kept between
/// refreshes: at 100k sockets, building it again each time was 100k owner lists
/// allocated and freed for the few hundred that changed.
#[derive(Default)]
pub(super) struct Holders {
    /// Lent to each refresh's `Walk` (no copy of the map); changed only once that is
    /// gone, so `Arc::make_mut` never copies it either.
    pub(super) by_inode: Arc<Held>,
}

impl Holders {
    /// From the tables alone, over every process in walk order (a full refresh).
    pub(super) fn build(procs: &HashMap<u32, Proc, Fast>, order: &[u32]) -> Holders {
        // Room for the socket fds alone: at 100k sockets, counting every fd could
        // round the map up to twice the slots.
        let sockets_held = procs.values().map(|p| sockets(p).count()).sum();
        let mut by_inode = Held::with_capacity(sockets_held);
        let positions: Positions = order.iter().enumerate().map(|(i, &pid)| (pid, i)).collect();
        for pid in order {
            let Some(proc) = procs.get(pid) else {
                continue;
            };
            let Some(process) = &proc.info else {
                continue;
            };
            for f in sockets(proc) {
                by_inode.add(f.inode, *pid, f.fd, process, |p| positions.get(&p).copied());
            }
        }
        Holders {
            by_inode: Arc::new(by_inode),
        }
    }

    /// What `pid`'s table going from `old` to `new` (None: no process) changes.
    pub(super) fn change(
        &mut self,
        pid: u32,
        old: Option<&Proc>,
        new: Option<&Proc>,
        positions: &Positions,
    ) {
        fn info(p: Option<&Proc>) -> Option<&super::Process> {
            p.and_then(|p| p.info.as_ref())
        }
        let same = info(old).is_some() && info(old) == info(new);
        if !same {
            // Another name, user or container: every owner of it is made again.
            for f in old.into_iter().flat_map(sockets) {
                self.remove(f.inode, pid, f.fd);
            }
            match new {
                Some(new) if new.info.is_some() => {
                    for f in sockets(new) {
                        self.add(f.inode, pid, f.fd, new, positions);
                    }
                }
                _ => Arc::make_mut(&mut self.by_inode).forget(pid),
            }
            return;
        }
        let (Some(old), Some(new)) = (old, new) else {
            return;
        };
        // Both sorted by fd: a merge finds what differs.
        let (mut a, mut b) = (sockets(old).peekable(), sockets(new).peekable());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), Some(y)) if x.fd == y.fd => {
                    if x.inode != y.inode {
                        self.remove(x.inode, pid, x.fd);
                        self.add(y.inode, pid, y.fd, new, positions);
                    }
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.fd > y.fd => {
                    self.add(y.inode, pid, y.fd, new, positions);
                    b.next();
                }
                (None, Some(y)) => {
                    self.add(y.inode, pid, y.fd, new, positions);
                    b.next();
                }
                (Some(x), _) => {
                    self.remove(x.inode, pid, x.fd);
                    a.next();
                }
            }
        }
    }

    /// `pid`'s fd `fd` now holds `inode` (0: no socket) instead of `was` (0: none).
    pub(super) fn moved(
        &mut self,
        pid: u32,
        fd: u32,
        was: u64,
        inode: u64,
        proc: &Proc,
        positions: &Positions,
    ) {
        if was != 0 {
            self.remove(was, pid, fd);
        }
        if inode != 0 {
            self.add(inode, pid, fd, proc, positions);
        }
    }

    /// Adds (pid, fd) among the holders of `inode`, where walk order puts it.
    fn add(&mut self, inode: u64, pid: u32, fd: u32, proc: &Proc, positions: &Positions) {
        let Some(process) = &proc.info else {
            return;
        };
        let place = |p: u32| positions.get(&p).copied();
        Arc::make_mut(&mut self.by_inode).add(inode, pid, fd, process, place);
    }

    fn remove(&mut self, inode: u64, pid: u32, fd: u32) {
        Arc::make_mut(&mut self.by_inode).remove(inode, pid, fd);
    }
}

/// The socket fds of a process that `Holders` counts: one whose owner is known.
fn sockets(proc: &Proc) -> impl Iterator<Item = Fd> + '_ {
    let known = proc.info.is_some();
    proc.fds.iter().filter(move |f| known && f.inode != 0)
}

impl FdCache {
    /// Step 4: the holders of `arrived` inodes that this refresh did not read.
    pub(super) fn other_holders(
        &self,
        arrived: &HashSet<u64, Fast>,
        read_now: &HashSet<(u32, u32), Fast>,
    ) -> Vec<(u32, u32)> {
        let mut stale = Vec::new();
        for inode in arrived {
            for owner in self.held.by_inode.get(*inode).iter().flat_map(|o| o.iter()) {
                if !read_now.contains(&(owner.pid, owner.fd)) {
                    stale.push((owner.pid, owner.fd));
                }
            }
        }
        stale
    }

    /// Reads these fds again, one readlink each; returns what arrived at them, and
    /// the processes whose table no longer adds up to their fd count once an fd is
    /// found closed (a probe kept it, so another fd may be missing: to be listed).
    pub(super) fn reread(
        &mut self,
        proc_root: &Path,
        stale: Vec<(u32, u32)>,
        stats: &mut Refresh,
        read_now: &mut HashSet<(u32, u32), Fast>,
        positions: &Positions,
    ) -> (HashSet<u64, Fast>, Vec<u32>) {
        let mut arrived = HashSet::default();
        let mut relist = Vec::new();
        for (pid, fd) in stale {
            read_now.insert((pid, fd));
            stats.readlinks += 1;
            let Some(proc) = self.procs.get_mut(&pid) else {
                continue;
            };
            let dir = proc_root.join(format!("{pid}/fd"));
            let now = openat(CWD, &dir, dir_flags(), Mode::empty())
                .ok()
                .and_then(|d| target(rustix::fd::AsFd::as_fd(&d), fd));
            let Some(was) = proc.fds.find(fd) else {
                continue;
            };
            match now {
                Some(inode) if inode == was => {}
                Some(inode) => {
                    proc.fds.set(fd, inode);
                    if inode != 0 {
                        arrived.insert(inode);
                    }
                    self.held.moved(pid, fd, was, inode, proc, positions);
                }
                None => {
                    proc.fds.remove(fd);
                    self.held.moved(pid, fd, was, 0, proc, positions);
                    if proc.count != UNTRUSTED
                        && proc.fds.len() as u64 != proc.count
                        && !relist.contains(&pid)
                    {
                        relist.push(pid);
                    }
                }
            }
        }
        (arrived, relist)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn proc(name: &str, fds: &[(u32, u64)]) -> Proc {
        Proc {
            start: 1,
            count: fds.len() as u64,
            denied: false,
            info: Some(crate::test_sockets::process(name)),
            fds: fds.iter().map(|&(fd, inode)| Fd { fd, inode }).collect(),
        }
    }

    /// Each inode's holders as (pid, fd, comm).
    type Keys = Vec<(u64, Vec<(u32, u32, String)>)>;

    fn keys(h: &Holders) -> Keys {
        let mut all: Vec<_> = (h.by_inode.iter())
            .map(|(i, o)| {
                (
                    i,
                    o.iter()
                        .map(|o| (o.pid, o.fd, o.process.comm.to_string()))
                        .collect(),
                )
            })
            .collect();
        all.sort();
        all
    }

    /// Changed one table at a time, the kept owners equal those built from scratch:
    /// fds closed, opened, replaced in place, shared with another process, a process
    /// renamed, gone and new, and walk order kept among several holders.
    #[test]
    fn kept_owners_follow_each_table_change() {
        let order = [30, 10, 20];
        let positions: Positions = order.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        let mut procs: HashMap<u32, Proc, Fast> = HashMap::default();
        procs.insert(30, proc("a", &[(0, 0), (3, 100), (4, 101)]));
        procs.insert(10, proc("b", &[(5, 100), (6, 102)]));
        let mut held = Holders::build(&procs, &order);
        let steps: Vec<(u32, Option<Proc>)> = vec![
            (20, Some(proc("c", &[(7, 100), (8, 103)]))),
            (30, Some(proc("a", &[(0, 0), (3, 104), (5, 101), (6, 0)]))),
            (10, Some(proc("renamed", &[(5, 100), (6, 102), (9, 104)]))),
            (20, None),
            (30, Some(proc("a", &[(1, 103), (3, 104)]))),
            (10, Some(proc("renamed", &[]))),
        ];
        for (pid, new) in steps {
            let old = procs.remove(&pid);
            held.change(pid, old.as_ref(), new.as_ref(), &positions);
            if let Some(new) = new {
                procs.insert(pid, new);
            }
            let want = Holders::build(&procs, &order);
            assert_eq!(keys(&held), keys(&want), "after pid {pid}'s change");
            let shared = |h: &Holders| -> Vec<u64> {
                let all = keys(h).into_iter().map(|(i, _)| i);
                all.filter(|&i| h.by_inode.is_shared(i)).collect()
            };
            assert_eq!(shared(&held), shared(&want), "after pid {pid}'s change");
        }
    }
}
