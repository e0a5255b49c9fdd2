//! A process's fd table as the cache keeps it between refreshes: every fd, the socket
//! inode it held or 0. At 100k sockets that is 100k entries; 8 bytes each while every
//! inode fits 32 bits (the kernel's do: `get_next_ino` is an unsigned int), 16 bytes
//! each in a table with a wider one (a captured tree may have any).

use super::Fd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Narrow {
    fd: u32,
    inode: u32,
}

/// Sorted by fd once built (`sort`); reads as a sequence of `Fd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum FdTable {
    Narrow(Vec<Narrow>),
    Wide(Vec<Fd>),
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable::Narrow(Vec::new())
    }
}

impl FdTable {
    pub(super) fn with_capacity(n: usize) -> FdTable {
        FdTable::Narrow(Vec::with_capacity(n))
    }

    pub(super) fn len(&self) -> usize {
        match self {
            FdTable::Narrow(v) => v.len(),
            FdTable::Wide(v) => v.len(),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Fd> + '_ {
        let (narrow, wide) = match self {
            FdTable::Narrow(v) => (&v[..], &[][..]),
            FdTable::Wide(v) => (&[][..], &v[..]),
        };
        (narrow.iter().map(|n| Fd {
            fd: n.fd,
            inode: u64::from(n.inode),
        }))
        .chain(wide.iter().copied())
    }

    /// Adds at the end (`sort` puts it in place).
    pub(super) fn push(&mut self, fd: Fd) {
        match (&mut *self, u32::try_from(fd.inode)) {
            (FdTable::Narrow(v), Ok(inode)) => v.push(Narrow { fd: fd.fd, inode }),
            (FdTable::Narrow(_), Err(_)) => {
                self.widen();
                self.push(fd);
            }
            (FdTable::Wide(v), _) => v.push(fd),
        }
    }

    pub(super) fn sort(&mut self) {
        match self {
            FdTable::Narrow(v) => v.sort_unstable_by_key(|f| f.fd),
            FdTable::Wide(v) => v.sort_unstable_by_key(|f| f.fd),
        }
    }

    /// The inode `fd` holds (0: no socket), None when the table lacks it.
    pub(super) fn find(&self, fd: u32) -> Option<u64> {
        match self {
            FdTable::Narrow(v) => {
                (v.binary_search_by_key(&fd, |f| f.fd).ok()).map(|at| u64::from(v[at].inode))
            }
            FdTable::Wide(v) => (v.binary_search_by_key(&fd, |f| f.fd).ok()).map(|at| v[at].inode),
        }
    }

    /// `fd` holds `inode` now; an fd the table lacks stays out.
    pub(super) fn set(&mut self, fd: u32, inode: u64) {
        match (&mut *self, u32::try_from(inode)) {
            (FdTable::Narrow(v), Ok(inode)) => {
                if let Ok(at) = v.binary_search_by_key(&fd, |f| f.fd) {
                    v[at].inode = inode;
                }
            }
            (FdTable::Narrow(_), Err(_)) => {
                self.widen();
                self.set(fd, inode);
            }
            (FdTable::Wide(v), _) => {
                if let Ok(at) = v.binary_search_by_key(&fd, |f| f.fd) {
                    v[at].inode = inode;
                }
            }
        }
    }

    /// `fd` closed.
    pub(super) fn remove(&mut self, fd: u32) {
        match self {
            FdTable::Narrow(v) => {
                if let Ok(at) = v.binary_search_by_key(&fd, |f| f.fd) {
                    v.remove(at);
                }
            }
            FdTable::Wide(v) => {
                if let Ok(at) = v.binary_search_by_key(&fd, |f| f.fd) {
                    v.remove(at);
                }
            }
        }
    }

    fn widen(&mut self) {
        if let FdTable::Narrow(v) = self {
            let wide = (v.iter())
                .map(|n| Fd {
                    fd: n.fd,
                    inode: u64::from(n.inode),
                })
                .collect();
            *self = FdTable::Wide(wide);
        }
    }
}

impl FromIterator<Fd> for FdTable {
    fn from_iter<I: IntoIterator<Item = Fd>>(fds: I) -> FdTable {
        let fds = fds.into_iter();
        let mut table = FdTable::with_capacity(fds.size_hint().0);
        for fd in fds {
            table.push(fd);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fds(table: &FdTable) -> Vec<(u32, u64)> {
        table.iter().map(|f| (f.fd, f.inode)).collect()
    }

    #[test]
    fn eight_bytes_an_fd_until_an_inode_is_wider() {
        assert_eq!(std::mem::size_of::<Narrow>(), 8);
        let mut table: FdTable = [(4, 40), (0, 0), (2, u64::from(u32::MAX))]
            .into_iter()
            .map(|(fd, inode)| Fd { fd, inode })
            .collect();
        table.sort();
        assert!(matches!(table, FdTable::Narrow(_)));
        assert_eq!(fds(&table), [(0, 0), (2, u64::from(u32::MAX)), (4, 40)]);
        assert_eq!(table.find(4), Some(40));
        assert_eq!(table.find(3), None);
        table.set(0, 7);
        table.set(3, 9);
        table.remove(2);
        assert_eq!(fds(&table), [(0, 7), (4, 40)]);
        // A wider inode: the table turns wide, nothing lost.
        let wide = 1 << 40;
        table.set(4, wide);
        assert!(matches!(table, FdTable::Wide(_)));
        table.push(Fd { fd: 1, inode: 5 });
        table.sort();
        assert_eq!(fds(&table), [(0, 7), (1, 5), (4, wide)]);
        assert_eq!(table.find(4), Some(wide));
        table.remove(0);
        assert_eq!(table.len(), 2);
    }
}
