//! A set of socket inodes (a dump's), as small as a lookup allows: the fd cache keeps
//! the last dump's between refreshes, beside the live view's two snapshots.

/// Sorted and without repeats. The kernel numbers sockets with `get_next_ino` (an
/// unsigned int), so nearly every inode is 4 bytes in `narrow`; a wider one (a captured
/// tree may have any) is in `wide`. At 100k sockets: 0.45 MB, where a `HashSet<u64>`
/// took 1.2 MB (9 bytes a slot, 131072 slots).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inodes {
    narrow: Vec<u32>,
    wide: Vec<u64>,
    /// Where each stretch of `narrow`'s values starts, so a lookup (one per socket fd
    /// in a refresh) searches a few entries, as fast as a hash set's, not all of them:
    /// `narrow[starts[b]..starts[b + 1]]` are the values v with
    /// `(v - narrow[0]) >> shift == b`. About one for every 8 inodes.
    starts: Vec<u32>,
    shift: u32,
}

impl Inodes {
    pub fn contains(&self, inode: u64) -> bool {
        let Ok(narrow) = u32::try_from(inode) else {
            return self.wide.binary_search(&inode).is_ok();
        };
        let Some(&low) = self.narrow.first() else {
            return false;
        };
        let Some(b) = (narrow.checked_sub(low)).map(|d| (u64::from(d) >> self.shift) as usize)
        else {
            return false;
        };
        let (Some(&start), Some(&end)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return false;
        };
        (self.narrow[start as usize..end as usize])
            .binary_search(&narrow)
            .is_ok()
    }

    pub fn len(&self) -> usize {
        self.narrow.len() + self.wide.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (self.narrow.iter().map(|&i| u64::from(i))).chain(self.wide.iter().copied())
    }

    /// Those of `self` that `other` lacks, in ascending order: one pass over both.
    pub fn difference(&self, other: &Inodes) -> Vec<u64> {
        fn sorted_minus<T: Ord + Copy>(a: &[T], b: &[T], out: &mut Vec<T>) {
            let mut b = b.iter().peekable();
            for &x in a {
                while b.next_if(|&&y| y < x).is_some() {}
                if b.peek() != Some(&&x) {
                    out.push(x);
                }
            }
        }
        let mut narrow = Vec::new();
        sorted_minus(&self.narrow, &other.narrow, &mut narrow);
        let mut wide = Vec::new();
        sorted_minus(&self.wide, &other.wide, &mut wide);
        (narrow.into_iter().map(u64::from)).chain(wide).collect()
    }
}

impl FromIterator<u64> for Inodes {
    fn from_iter<I: IntoIterator<Item = u64>>(inodes: I) -> Inodes {
        let mut set = Inodes::default();
        for inode in inodes {
            match u32::try_from(inode) {
                Ok(narrow) => set.narrow.push(narrow),
                Err(_) => set.wide.push(inode),
            }
        }
        set.narrow.sort_unstable();
        set.narrow.dedup();
        set.wide.sort_unstable();
        set.wide.dedup();
        // Kept until the next dump: no room left over from growing.
        set.narrow.shrink_to_fit();
        set.wide.shrink_to_fit();
        set.index();
        set
    }
}

impl Inodes {
    /// Makes `starts` for the sorted `narrow`: the narrowest stretches that make no
    /// more than one for every 8 inodes.
    fn index(&mut self) {
        let (Some(&low), Some(&high)) = (self.narrow.first(), self.narrow.last()) else {
            return;
        };
        let most = self.narrow.len() / 8 + 1;
        let span = u64::from(high - low) + 1;
        self.shift = (0..32).find(|&s| span >> s < most as u64).unwrap_or(32);
        let stretch = |v: u32| (u64::from(v - low) >> self.shift) as usize;
        let mut starts = Vec::with_capacity(stretch(high) + 2);
        for (at, &v) in self.narrow.iter().enumerate() {
            let b = stretch(v);
            while starts.len() <= b {
                starts.push(at as u32);
            }
        }
        starts.push(self.narrow.len() as u32);
        self.starts = starts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_sockets::Rng;

    #[test]
    fn a_set_of_narrow_and_wide_inodes() {
        let wide = 1 << 40;
        let set: Inodes = [9, wide + 1, 3, 7, 3, wide, 9, u64::from(u32::MAX)]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 6);
        let all: Vec<u64> = set.iter().collect();
        assert_eq!(all, [3, 7, 9, u64::from(u32::MAX), wide, wide + 1]);
        for i in &all {
            assert!(set.contains(*i), "{i}");
        }
        for i in [0, 4, 10, wide - 1, wide + 2, 1 << 32] {
            assert!(!set.contains(i), "{i}");
        }
        let other: Inodes = [1, 7, 8, wide + 1, 10].into_iter().collect();
        assert_eq!(set.difference(&other), [3, 9, u64::from(u32::MAX), wide]);
        assert_eq!(other.difference(&set), [1, 8, 10]);
        assert!(set.difference(&set).is_empty());
        assert!(Inodes::default().is_empty());
    }

    #[test]
    fn four_bytes_an_inode_and_a_few_more_for_the_index() {
        let set: Inodes = (0..1000u64).map(|i| i * 7 + 1).collect();
        assert_eq!(set.narrow.capacity(), 1000);
        assert_eq!(std::mem::size_of_val(&set.narrow[0]), 4);
        assert!(set.starts.len() <= 1000 / 8 + 2, "{}", set.starts.len());
    }

    /// Clustered, spread, and at both ends of the range: every lookup says what a
    /// plain search says.
    #[test]
    fn the_index_finds_what_a_search_finds() {
        let mut rng = Rng::new();
        let mut next = |n: u64| rng.below(n);
        for round in 0..100 {
            let n = next(300);
            let all: Vec<u64> = (0..n)
                .map(|_| match next(4) {
                    0 => 1 << 32 | next(50),
                    1 => u64::from(u32::MAX) - next(5),
                    2 => next(20),
                    _ => 1_000_000 + next(1 + round * 100),
                })
                .collect();
            let set: Inodes = all.iter().copied().collect();
            let probes = (0..300).map(|_| match next(3) {
                0 => all.get(next(n.max(1)) as usize).copied().unwrap_or(0),
                1 => 1_000_000 + next(20_000),
                _ => next(u64::MAX),
            });
            for probe in probes.chain([0, u64::from(u32::MAX), 1 << 32]) {
                assert_eq!(set.contains(probe), all.contains(&probe), "{probe}");
            }
        }
    }
}
