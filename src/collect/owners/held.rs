//! The fd cache's socket inode -> owners (collect/fd_cache.rs), kept between refreshes
//! and lent to each refresh's `Walk`: in the shape of a walk's `Part` (found.rs), so a
//! socket one fd holds is 12 bytes, not an inode and a whole `Owners` (24).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::Process;
use super::found::ByInode;
use crate::model::{Owner, Owners};

type Fast = foldhash::fast::RandomState;

/// Every socket's holders, in the order a full walk finds them (walk order of the
/// processes, then fd order). A socket one fd holds, with an inode that fits 32 bits
/// (every one the kernel numbers), is `one`; the rest (several holders, a wider
/// inode) are whole lists in `other`. Never both for one inode.
#[derive(Clone, Debug, Default)]
pub struct Held {
    /// inode -> (pid, fd).
    one: HashMap<u32, (u32, u32), Fast>,
    other: ByInode,
    /// What the owners of each pid in `one` share.
    processes: HashMap<u32, Process, Fast>,
}

impl Held {
    /// Room for `sockets` held once each, so a full build grows no table.
    pub fn with_capacity(sockets: usize) -> Held {
        Held {
            one: HashMap::with_capacity_and_hasher(sockets, Fast::default()),
            ..Held::default()
        }
    }

    pub fn get(&self, inode: u64) -> Option<Owners> {
        if let Ok(narrow) = u32::try_from(inode)
            && let Some(&held) = self.one.get(&narrow)
        {
            return self.owner(held).map(Owners::one);
        }
        self.other.get(&inode).cloned()
    }

    pub fn contains(&self, inode: u64) -> bool {
        u32::try_from(inode).is_ok_and(|narrow| self.one.contains_key(&narrow))
            || self.other.contains_key(&inode)
    }

    /// Held by more than one fd.
    pub fn is_shared(&self, inode: u64) -> bool {
        self.other.get(&inode).is_some_and(|o| o.len() > 1)
    }

    /// Every socket and its owners, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Owners)> + '_ {
        (self.one.iter())
            .filter_map(|(&inode, &held)| Some((u64::from(inode), Owners::one(self.owner(held)?))))
            .chain(self.other.iter().map(|(&inode, o)| (inode, o.clone())))
    }

    /// Adds fd `fd` of `pid` (whose owners share `process`) among the holders of
    /// `inode`, where `place` (walk order of a pid) puts it.
    pub fn add(
        &mut self,
        inode: u64,
        pid: u32,
        fd: u32,
        process: &Process,
        place: impl Fn(u32) -> Option<usize>,
    ) {
        match self.processes.get(&pid) {
            Some(known) if Arc::ptr_eq(known, process) || known == process => {}
            _ => {
                self.processes.insert(pid, Arc::clone(process));
            }
        }
        let narrow = u32::try_from(inode);
        let first = match narrow.map(|narrow| self.one.entry(narrow)) {
            Ok(Entry::Vacant(e)) if !self.other.contains_key(&inode) => {
                e.insert((pid, fd));
                return;
            }
            Ok(Entry::Occupied(e)) if *e.get() == (pid, fd) => return,
            Ok(Entry::Occupied(e)) => Some(e.remove()),
            _ => None,
        };
        let new = Owner {
            pid,
            fd,
            process: Arc::clone(process),
        };
        let list = match first.and_then(|held| self.owner(held)) {
            Some(first) => Owners::one(first),
            None => match self.other.get(&inode) {
                Some(list) => list.clone(),
                None => {
                    self.other.insert(inode, Owners::one(new));
                    return;
                }
            },
        };
        if list.iter().any(|o| o.pid == pid && o.fd == fd) {
            return;
        }
        let key = |o: &Owner| (place(o.pid), o.fd);
        let mut all = list.to_vec();
        let at = all.partition_point(|o| key(o) < key(&new));
        all.insert(at, new);
        self.other.insert(inode, all.into());
    }

    /// Fd `fd` of `pid` no longer holds `inode`.
    pub fn remove(&mut self, inode: u64, pid: u32, fd: u32) {
        let narrow = u32::try_from(inode);
        if let Ok(narrow) = narrow
            && let Entry::Occupied(e) = self.one.entry(narrow)
        {
            if *e.get() == (pid, fd) {
                e.remove();
            }
            return;
        }
        let Entry::Occupied(mut e) = self.other.entry(inode) else {
            return;
        };
        let this = |o: &Owner| o.pid == pid && o.fd == fd;
        if !e.get().iter().any(this) {
            return;
        }
        let rest: Vec<Owner> = e.get().iter().filter(|o| !this(o)).cloned().collect();
        match (rest.as_slice(), narrow) {
            ([], _) => {
                e.remove();
            }
            // One holder left: back to 12 bytes.
            ([last], Ok(narrow)) => {
                let held = (last.pid, last.fd);
                e.remove();
                self.one.insert(narrow, held);
            }
            _ => {
                e.insert(rest.into());
            }
        }
    }

    /// `pid` holds nothing here any more (gone, or no longer known).
    pub fn forget(&mut self, pid: u32) {
        self.processes.remove(&pid);
    }

    /// Every pid in `one` is in `processes` (see `add`, `forget`).
    fn owner(&self, (pid, fd): (u32, u32)) -> Option<Owner> {
        let process = self.processes.get(&pid).cloned();
        debug_assert!(process.is_some(), "no process for pid {pid}");
        Some(Owner {
            pid,
            fd,
            process: process?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_sockets::process;

    fn keys(held: &Held, inode: u64) -> Vec<(u32, u32, String)> {
        let owners = held.get(inode).unwrap_or_default();
        (owners.iter())
            .map(|o| (o.pid, o.fd, o.process.comm.to_string()))
            .collect()
    }

    #[test]
    fn a_socket_held_once_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<(u32, (u32, u32))>(), 12);
    }

    /// Holders added out of walk order come back in it; one left is 12 bytes again;
    /// a wide inode is a list of one.
    #[test]
    fn holders_in_walk_order_one_or_many() {
        let order = [30, 10, 20];
        let place = |pid: u32| order.iter().position(|&p| p == pid);
        let (a, b, c) = (process("a"), process("b"), process("c"));
        let mut held = Held::with_capacity(4);
        held.add(7, 20, 3, &c, place);
        held.add(7, 30, 4, &a, place);
        held.add(7, 20, 1, &c, place);
        held.add(7, 30, 4, &a, place);
        held.add(8, 10, 5, &b, place);
        let wide = 1 << 40;
        held.add(wide, 10, 6, &b, place);
        assert_eq!(
            keys(&held, 7),
            [
                (30, 4, "a".into()),
                (20, 1, "c".into()),
                (20, 3, "c".into())
            ]
        );
        assert!(held.is_shared(7) && !held.is_shared(8) && !held.is_shared(wide));
        assert_eq!(keys(&held, wide), [(10, 6, "b".into())]);
        held.remove(7, 20, 1);
        held.remove(7, 30, 4);
        held.remove(7, 30, 4);
        assert_eq!(keys(&held, 7), [(20, 3, "c".into())]);
        assert!(!held.is_shared(7) && held.one.contains_key(&7));
        assert!(!held.other.contains_key(&7));
        held.remove(7, 20, 9);
        held.remove(7, 20, 3);
        held.remove(wide, 10, 6);
        assert!(!held.contains(7) && !held.contains(wide) && held.contains(8));
        let mut all: Vec<_> = held.iter().map(|(i, o)| (i, o.len())).collect();
        all.sort();
        assert_eq!(all, [(8, 1)]);
        // Renamed: the owners made again name it.
        held.remove(8, 10, 5);
        held.add(8, 10, 5, &process("b2"), place);
        assert_eq!(keys(&held, 8), [(10, 5, "b2".into())]);
    }
}
