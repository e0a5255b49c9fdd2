//! Steps 2 and 3 of a refresh (see fd_cache.rs): which processes' fd tables to read
//! again after the dump, and each one read (probed, or listed and resolved) into the
//! kept tables and owners.

use std::collections::HashSet;
use std::path::Path;

use rustix::fs::Dir;

use super::procfd::{fd_count, list, parallel, probe, target};
use super::{Dump, Fast, Fd, FdCache, FdTable, Probe, Proc, Refresh, Round, Seen};
use crate::collect::owners;

impl FdCache {
    /// Step 2, after the dump: lists the processes that changed, those whose count
    /// moved during the dump, and those holding an inode the dump no longer has.
    pub(super) fn recheck(&self, proc_root: &Path, probes: Vec<Probe>, dump: &Dump) -> Vec<Probe> {
        parallel(probes, |mut probe| {
            let relist = match &probe.seen {
                Seen::Changed => true,
                Seen::Unchanged => {
                    fd_count(proc_root, probe.pid) != probe.count
                        || self.procs.get(&probe.pid).is_some_and(|p| {
                            p.fds
                                .iter()
                                .any(|f| f.inode != 0 && dump.gone.contains(&f.inode))
                        })
                }
                _ => false,
            };
            if relist {
                (probe.seen, probe.count) =
                    self.probe_or_list(proc_root, probe.pid, probe.start, dump);
            }
            probe
        })
    }

    /// A process's fd table after the dump: probed from the one kept for it where
    /// there is one (the same process, readable last time), else listed.
    pub(super) fn probe_or_list(
        &self,
        proc_root: &Path,
        pid: u32,
        start: u64,
        dump: &Dump,
    ) -> (Seen, u64) {
        let old = self
            .procs
            .get(&pid)
            .filter(|p| p.start == start && !p.denied);
        old.and_then(|p| probe(proc_root, pid, &p.fds, |inode| self.vouches(inode, dump)))
            .unwrap_or_else(|| list(proc_root, pid))
    }

    /// Whether an fd that held `inode` at the last refresh, and is open now, still
    /// holds it without a read (step 3): it was the only holder of a socket that is in
    /// this dump and the last.
    fn vouches(&self, inode: u64, dump: &Dump) -> bool {
        inode != 0 && dump.lived(inode) && !self.held.by_inode.is_shared(inode)
    }

    /// Step 3: reads what the listed processes' caches cannot vouch for, and keeps the
    /// result. Returns the inodes found at an fd that did not hold them before.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn install(
        &mut self,
        round: &Round,
        probes: Vec<Probe>,
        stats: &mut Refresh,
        read_now: &mut HashSet<(u32, u32), Fast>,
    ) -> HashSet<u64, Fast> {
        let Round {
            proc_root,
            dump,
            users,
            containers,
            positions,
        } = *round;
        let mut arrived = HashSet::default();
        let stats_full = stats.full;
        let this = &*self;
        let resolved = parallel(probes, |probe| {
            // A full refresh trusts nothing it had.
            let old = this
                .procs
                .get(&probe.pid)
                .filter(|p| !stats_full && p.start == probe.start);
            let probed = matches!(probe.seen, Seen::Probed(..));
            let (fds, read) = match probe.seen {
                // Changed is listed by now; were it not, the cache stays as it was.
                Seen::Unchanged | Seen::Changed => return (probe.pid, None, Vec::new(), false),
                Seen::Read(fds) => (Some(fds.iter().copied().collect()), fds),
                Seen::Gone => return (probe.pid, Some(None), Vec::new(), false),
                Seen::Denied => (None, Vec::new()),
                Seen::Listed(dir, numbers) => {
                    let (fds, read) = this.resolve(&dir, &numbers, old, dump);
                    (Some(fds), read)
                }
                Seen::Probed(fds, read) => (Some(fds), read),
            };
            let holds_socket = (fds.as_ref()).is_some_and(|f| f.iter().any(|f| f.inode != 0));
            let proc_dir = proc_root.join(probe.pid.to_string());
            let info = holds_socket.then(|| owners::process_info(&proc_dir, users, containers));
            let proc = Proc {
                start: probe.start,
                count: probe.count,
                denied: fds.is_none(),
                info,
                fds: fds.unwrap_or_default(),
            };
            (probe.pid, Some(Some(proc)), read, probed)
        });
        for (pid, proc, read, probed) in resolved {
            let Some(proc) = proc else { continue };
            let Some(proc) = proc else {
                let old = self.procs.remove(&pid);
                self.held.change(pid, old.as_ref(), None, positions);
                continue;
            };
            if probed {
                stats.probed += 1;
            } else {
                stats.listed += 1;
            }
            stats.readlinks += read.len();
            let old = self.procs.get(&pid).filter(|p| p.start == proc.start);
            for fd in &read {
                read_now.insert((pid, fd.fd));
                let before = old.and_then(|p| p.fds.find(fd.fd));
                if fd.inode != 0 && before != Some(fd.inode) {
                    arrived.insert(fd.inode);
                }
            }
            if !stats_full {
                // A full refresh makes them all again once every table is in.
                self.held
                    .change(pid, self.procs.get(&pid), Some(&proc), positions);
            }
            self.procs.insert(pid, proc);
        }
        arrived
    }

    /// One listed process's fds: the cache's where it can vouch (see the module
    /// comment, step 3), a readlink elsewhere. Also the fds it read.
    fn resolve(
        &self,
        dir: &Dir,
        numbers: &[u32],
        old: Option<&Proc>,
        dump: &Dump,
    ) -> (FdTable, Vec<Fd>) {
        let mut fds = FdTable::with_capacity(numbers.len());
        let mut read = Vec::new();
        let Ok(at) = dir.fd() else {
            return (fds, read);
        };
        for &fd in numbers {
            let kept = old
                .and_then(|p| p.fds.find(fd))
                .filter(|&inode| self.vouches(inode, dump));
            if let Some(inode) = kept {
                fds.push(Fd { fd, inode });
                continue;
            }
            // None: closed meanwhile.
            if let Some(inode) = target(at, fd) {
                fds.push(Fd { fd, inode });
                read.push(Fd { fd, inode });
            }
        }
        (fds, read)
    }
}
