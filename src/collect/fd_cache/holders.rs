//! Steps 4 and 6 of a refresh (see fd_cache.rs): the other holders of an inode that
//! moved, read again; and inode -> owners built from the kept fd tables.

use std::collections::HashSet;
use std::collections::hash_map::Entry;
use std::path::Path;

use rustix::fs::{CWD, Mode, openat};

use super::procfd::{dir_flags, target};
use super::{Fast, FdCache, Refresh};
use crate::collect::owners::Walk;
use crate::model::{Owner, Owners};

impl FdCache {
    /// Step 4: the holders of `arrived` inodes that this refresh did not read.
    pub(super) fn other_holders(
        &self,
        walk: &Walk,
        arrived: &HashSet<u64, Fast>,
        read_now: &HashSet<(u32, u32), Fast>,
    ) -> Vec<(u32, u32)> {
        let mut stale = Vec::new();
        for inode in arrived {
            for owner in walk.by_inode.get(inode).into_iter().flatten() {
                if !read_now.contains(&(owner.pid, owner.fd)) {
                    stale.push((owner.pid, owner.fd));
                }
            }
        }
        stale
    }

    /// Reads these fds again, one readlink each; returns what arrived at them.
    pub(super) fn reread(
        &mut self,
        proc_root: &Path,
        stale: Vec<(u32, u32)>,
        stats: &mut Refresh,
        read_now: &mut HashSet<(u32, u32), Fast>,
    ) -> HashSet<u64, Fast> {
        let mut arrived = HashSet::default();
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
            let Ok(at) = proc.fds.binary_search_by_key(&fd, |f| f.fd) else {
                continue;
            };
            match now {
                Some(inode) if inode == proc.fds[at].inode => {}
                Some(inode) => {
                    proc.fds[at].inode = inode;
                    if inode != 0 {
                        arrived.insert(inode);
                    }
                }
                None => {
                    proc.fds.remove(at);
                }
            }
        }
        arrived
    }

    /// Step 6: inode -> owners over every process in walk order, fds in order, as a
    /// full walk finds them; and which inodes more than one fd holds.
    pub(super) fn build(&self, order: &[u32]) -> (Walk, HashSet<u64, Fast>) {
        let mut walk = Walk::default();
        walk.by_inode.reserve(self.alive.len());
        let mut shared = HashSet::default();
        for pid in order {
            let Some(proc) = self.procs.get(pid) else {
                continue;
            };
            let Some((comm, uid, user, container)) = &proc.info else {
                continue;
            };
            for f in proc.fds.iter().filter(|f| f.inode != 0) {
                let owner = Owner {
                    pid: *pid,
                    fd: f.fd,
                    comm: comm.clone(),
                    uid: *uid,
                    user: user.clone(),
                    container: container.clone(),
                };
                match walk.by_inode.entry(f.inode) {
                    Entry::Occupied(mut e) => {
                        let all = [e.get().as_slice(), &[owner]].concat();
                        e.insert(all.into());
                        shared.insert(f.inode);
                    }
                    Entry::Vacant(e) => {
                        e.insert(Owners::one(owner));
                    }
                }
            }
        }
        (walk, shared)
    }
}
