//! What a walk found, as compact as the join allows: at 1M sockets these maps are
//! alive beside the whole dump, at the peak of a `list`.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::{Held, Inodes, Process};
use crate::model::{Owner, Owners};

type Fast = foldhash::fast::RandomState;

/// Socket inode -> every (process, fd) holding it. foldhash: one insert per socket fd
/// and one lookup per socket, 100k of each at scale.
pub type ByInode = HashMap<u64, Owners, Fast>;

/// What a walk found: each walking thread's part, kept apart. Merging them into one was
/// a second map of every socket (52 MB at 1M sockets) while the first still stood; a
/// lookup in each part costs less than that copy did. A socket held by processes
/// walked on different threads is in several parts: `get`, `take` and `drain` join its
/// owners in walk order (pid order, then fd order), as one thread would have found them.
#[derive(Debug, Default)]
pub struct Walk {
    parts: Vec<Part>,
    /// Or the kept walk's map, lent (see `Walk::kept`).
    kept: Option<Kept>,
    /// The pids in walk order, for such a join; where each is in it, made at the first.
    order: Vec<u32>,
    positions: OnceCell<HashMap<u32, usize, Fast>>,
    /// Processes whose fd directory could not be read for lack of permission.
    pub denied: Vec<u32>,
}

/// A kept walk's (fd_cache) map of every socket's owners, and the inodes of the dump it
/// was made for: read, never taken from. What `take` would have taken is exactly the
/// dumped inodes (the join takes every socket the tables list), so `drain` yields the
/// rest.
#[derive(Debug)]
struct Kept {
    held: Arc<Held>,
    dumped: Arc<Inodes>,
}

/// What one walking thread found. Most sockets have one holder and an inode that fits
/// 32 bits (the kernel numbers sockets with `get_next_ino`, an unsigned int): such a
/// socket is 12 bytes in `one`, its `Owner` made when asked for (half the room of an
/// inode and an `Owners` each). The rest (several holders, a wider inode in a captured
/// tree) are whole owner lists in `other`. A kept walk's map (fd_cache) has the same
/// shape, keyed by pid instead of an index (held.rs).
#[derive(Debug, Default)]
pub(super) struct Part {
    /// The processes `one` names, by index: pid and what its owners share.
    processes: Vec<(u32, Process)>,
    /// inode -> (index in `processes`, fd).
    one: HashMap<u32, (u32, u32), Fast>,
    other: ByInode,
    pub(super) denied: Vec<u32>,
}

impl Part {
    /// A process that holds a socket, by the index `add` takes.
    pub(super) fn process(&mut self, pid: u32, process: Process) -> u32 {
        self.processes.push((pid, process));
        (self.processes.len() - 1) as u32
    }

    /// `inode` is held by fd `fd` of process `index`, after every holder added before.
    pub(super) fn add(&mut self, inode: u64, index: u32, fd: u32) {
        if let Some(owners) = self.other.get_mut(&inode) {
            owners.push(owner(&self.processes, (index, fd)));
            return;
        }
        let Ok(narrow) = u32::try_from(inode) else {
            let found = Owners::one(owner(&self.processes, (index, fd)));
            self.other.insert(inode, found);
            return;
        };
        match self.one.entry(narrow) {
            Entry::Vacant(e) => {
                e.insert((index, fd));
            }
            // A second holder (a fork, a dup): a list.
            Entry::Occupied(e) => {
                let mut found = Owners::one(owner(&self.processes, e.remove()));
                found.push(owner(&self.processes, (index, fd)));
                self.other.insert(inode, found);
            }
        }
    }

    fn get(&self, inode: u64) -> Option<Owners> {
        if let Ok(narrow) = u32::try_from(inode)
            && let Some(&held) = self.one.get(&narrow)
        {
            return Some(Owners::one(owner(&self.processes, held)));
        }
        self.other.get(&inode).cloned()
    }

    fn remove(&mut self, inode: u64) -> Option<Owners> {
        if let Ok(narrow) = u32::try_from(inode)
            && let Some(held) = self.one.remove(&narrow)
        {
            return Some(Owners::one(owner(&self.processes, held)));
        }
        self.other.remove(&inode)
    }

    fn into_iter(self) -> impl Iterator<Item = (u64, Owners)> {
        let Part {
            processes,
            one,
            other,
            ..
        } = self;
        (one.into_iter())
            .map(move |(inode, held)| (u64::from(inode), Owners::one(owner(&processes, held))))
            .chain(other)
    }
}

fn owner(processes: &[(u32, Process)], (index, fd): (u32, u32)) -> Owner {
    let (pid, process) = &processes[index as usize];
    Owner {
        pid: *pid,
        fd,
        process: process.clone(),
    }
}

impl Walk {
    /// The kept walk's map (collect/fd_cache.rs), for the dump of `dumped`: every
    /// socket the snapshot's tables list, no other.
    pub fn kept(held: Arc<Held>, dumped: Arc<Inodes>, denied: Vec<u32>) -> Walk {
        Walk {
            kept: Some(Kept { held, dumped }),
            denied,
            ..Walk::default()
        }
    }

    /// The threads' findings over `pids` (walk order), each part in walk order itself.
    pub(super) fn of_parts(parts: Vec<Part>, pids: &[u32]) -> Walk {
        let mut walk = Walk {
            order: pids.to_vec(),
            ..Walk::default()
        };
        for mut part in parts {
            walk.denied.append(&mut part.denied);
            walk.parts.push(part);
        }
        walk
    }

    /// Who holds `inode`.
    pub fn get(&self, inode: u64) -> Option<Owners> {
        if let Some(kept) = &self.kept {
            return kept.held.get(inode);
        }
        let mut found = self.parts.iter().filter_map(|p| p.get(inode));
        let first = found.next()?;
        let Some(second) = found.next() else {
            return Some(first);
        };
        Some(self.join([first, second].into_iter().chain(found)))
    }

    /// Who holds `inode`, taken out: what `drain` yields no more.
    pub fn take(&mut self, inode: u64) -> Option<Owners> {
        if self.kept.is_some() {
            return self.get(inode);
        }
        let mut parts = self.parts.iter_mut();
        let first = parts.by_ref().find_map(|p| p.remove(inode))?;
        let Some(second) = parts.by_ref().find_map(|p| p.remove(inode)) else {
            return Some(first);
        };
        let more: Vec<Owners> = parts.filter_map(|p| p.remove(inode)).collect();
        Some(self.join([first, second].into_iter().chain(more)))
    }

    /// Every socket still in the walk, taken out (those no table named). A kept walk's
    /// are read instead: its map is only lent.
    pub fn drain(&mut self) -> Box<dyn Iterator<Item = (u64, Owners)> + '_> {
        if let Some(Kept { held, dumped }) = &self.kept {
            return Box::new(held.iter().filter(|(inode, _)| !dumped.contains(*inode)));
        }
        let mut parts = std::mem::take(&mut self.parts);
        parts.reverse();
        let this = &*self;
        let mut current: Option<Box<dyn Iterator<Item = (u64, Owners)>>> = None;
        Box::new(std::iter::from_fn(move || {
            loop {
                if let Some((inode, owners)) = current.as_mut().and_then(|c| c.next()) {
                    // The parts still to drain (walked on other threads) may have more.
                    let more: Vec<Owners> =
                        parts.iter_mut().filter_map(|p| p.remove(inode)).collect();
                    if more.is_empty() {
                        return Some((inode, owners));
                    }
                    return Some((inode, this.join([owners].into_iter().chain(more))));
                }
                current = Some(Box::new(parts.pop()?.into_iter()));
            }
        }))
    }

    /// Lets go of the maps (the room is wanted next), keeping `denied`.
    pub fn free_maps(&mut self) {
        self.parts = Vec::new();
        self.kept = None;
    }

    /// The owners of one socket found in several parts, in walk order. Stable: the
    /// fds of one process keep their order.
    fn join(&self, lists: impl Iterator<Item = Owners>) -> Owners {
        let positions = self.positions.get_or_init(|| {
            self.order
                .iter()
                .enumerate()
                .map(|(i, &pid)| (pid, i))
                .collect()
        });
        let mut all: Vec<Owner> = lists.flat_map(|l| l.to_vec()).collect();
        all.sort_by_key(|o| positions.get(&o.pid).copied());
        all.into()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::test_sockets::{Rng, process};

    fn keys(owners: &Owners) -> Vec<(u32, u32)> {
        owners.iter().map(|o| (o.pid, o.fd)).collect()
    }

    /// Walks `pids` in order, each (inode, fd) of a pid added as a walk would.
    fn part(walked: &[(u32, &[(u64, u32)])]) -> Part {
        let mut part = Part::default();
        for &(pid, fds) in walked {
            let index = part.process(pid, process("x"));
            for &(inode, fd) in fds {
                part.add(inode, index, fd);
            }
        }
        part
    }

    /// Walk order 30, 10, 20: thread A walked 30 and 20, thread B walked 10. Inode 7
    /// is held on both, inode 5 twice by 20, inode 1 << 40 (wider than the kernel's)
    /// by 30 alone.
    fn two_threads() -> Walk {
        let wide = 1 << 40;
        let a = part(&[
            (30, &[(7, 4), (8, 6), (wide, 8)]),
            (20, &[(7, 3), (5, 4), (7, 5), (5, 9)]),
        ]);
        let mut b = part(&[(10, &[(9, 1), (7, 9)])]);
        b.denied = vec![10, 11];
        Walk::of_parts(vec![b, a], &[30, 10, 20])
    }

    fn all(walk: &Walk) -> [Vec<(u32, u32)>; 5] {
        [7, 8, 9, 5, 1 << 40].map(|i| keys(&walk.get(i).unwrap()))
    }

    #[test]
    fn merged_owners_come_back_in_walk_order() {
        let mut walk = two_threads();
        let want = [
            vec![(30, 4), (10, 9), (20, 3), (20, 5)],
            vec![(30, 6)],
            vec![(10, 1)],
            vec![(20, 4), (20, 9)],
            vec![(30, 8)],
        ];
        assert_eq!(all(&walk), want);
        assert_eq!(walk.get(6), None);
        assert_eq!(walk.denied, [10, 11]);
        // Taken, they are the same, and gone from the walk.
        assert_eq!(keys(&walk.take(7).unwrap()), want[0]);
        assert_eq!(walk.take(7), None);
        assert_eq!(walk.get(7), None);
        assert_eq!(keys(&walk.take(9).unwrap()), want[2]);
        assert_eq!(keys(&walk.take(1 << 40).unwrap()), want[4]);
        let mut rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
        rest.sort();
        assert_eq!(rest, [(5, want[3].clone()), (8, want[1].clone())]);
        assert_eq!(walk.drain().count(), 0);
    }

    #[test]
    fn drained_owners_come_back_in_walk_order() {
        let mut walk = two_threads();
        let want = all(&walk);
        let mut rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
        rest.sort();
        let mut expected: Vec<_> = [7, 8, 9, 5, 1 << 40].into_iter().zip(want).collect();
        expected.sort();
        assert_eq!(rest, expected);
    }

    #[test]
    fn a_kept_walk_reads_the_same_and_drains_what_the_dump_lacks() {
        let mut map = Held::default();
        let y = process("y");
        let place = |pid: u32| Some(pid as usize);
        map.add(3, 1, 4, &y, place);
        map.add(4, 2, 3, &y, place);
        map.add(4, 1, 5, &y, place);
        map.add(5, 2, 7, &y, place);
        let map = Arc::new(map);
        let dumped = Arc::new([3, 4, 6].into_iter().collect());
        let mut walk = Walk::kept(Arc::clone(&map), dumped, vec![9]);
        assert_eq!(keys(&walk.get(4).unwrap()), [(1, 5), (2, 3)]);
        assert_eq!(keys(&walk.take(3).unwrap()), [(1, 4)]);
        assert_eq!(walk.take(6), None);
        let rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
        assert_eq!(rest, [(5, vec![(2, 7)])]);
        assert_eq!(walk.denied, [9]);
        // Lent, not kept: once the walk is gone the map is the cache's alone again.
        walk.free_maps();
        assert_eq!(Arc::strong_count(&map), 1);
    }

    /// Random walks over a few processes on three threads, sockets held once or by
    /// several fds and processes: what get, take and drain say is what one map in walk
    /// order says.
    #[test]
    fn parts_read_as_one_map_in_walk_order() {
        let mut rng = Rng::new();
        let mut next = |n: u64| rng.below(n);
        for _ in 0..200 {
            let pids: Vec<u32> = (0..1 + next(8) as u32).map(|i| 100 + 7 * i).collect();
            let mut parts: Vec<Part> = (0..3).map(|_| Part::default()).collect();
            let mut want: std::collections::BTreeMap<u64, Vec<(u32, u32)>> = Default::default();
            for &pid in &pids {
                let part = &mut parts[next(3) as usize];
                let index = part.process(pid, process("p"));
                for fd in 0..next(6) as u32 {
                    let inode = match next(4) {
                        0 => 1 << 33 | next(4),
                        _ => 1 + next(10),
                    };
                    part.add(inode, index, fd);
                    want.entry(inode).or_default().push((pid, fd));
                }
            }
            let mut walk = Walk::of_parts(parts, &pids);
            for (&inode, owners) in &want {
                assert_eq!(keys(&walk.get(inode).unwrap()), *owners, "get {inode}");
            }
            let taken: Vec<u64> = want.keys().copied().filter(|_| next(2) == 0).collect();
            for inode in &taken {
                assert_eq!(
                    keys(&walk.take(*inode).unwrap()),
                    want[inode],
                    "take {inode}"
                );
                assert_eq!(walk.take(*inode), None);
            }
            let mut rest: Vec<_> = walk.drain().map(|(i, o)| (i, keys(&o))).collect();
            rest.sort();
            let left: Vec<_> = (want.into_iter())
                .filter(|(i, _)| !taken.contains(i))
                .collect();
            assert_eq!(rest, left);
        }
    }
}
