//! `--all-netns` dumps the namespaces a few at a time, each on its own thread.
//!
//! Every namespace's sock_diag socket walks the kernel's TCP hash, which is one for
//! the whole host (unless `net.ipv4.tcp_child_ehash_entries` gave a namespace its
//! own): with 50 namespaces that is 50 walks of every TCP socket on the host, nearly
//! all kernel time. The sockets were opened inside their namespaces before (see
//! `Netlink::open_in`), so any thread may dump them; spread over the cores, the
//! walks take a fraction of the time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::thread;

use super::Tables;
use super::netlink::{Counted, Netlink, Present, TcpInfoKept};
use super::netns::{self, Place};
use super::proc_families::ProcTable;
use super::select::Selection;
use super::tables::{TableReader, ns_key};

/// One namespace's dump: its sockets (and counters), whether unix sockets carry uids,
/// and the /proc tables to read beside it (see `Netlink::proc_tables`); Err: why it
/// failed.
pub(super) type Dumped = Result<((Counted, bool), Vec<ProcTable>), String>;

/// One dump through `netlink`: the tables `selection` reads, of the families `present`,
/// keeping the tcp_info `kept` says.
pub(super) fn dump(
    netlink: &mut Netlink,
    selection: &Selection,
    kept: &TcpInfoKept,
    present: Present,
) -> Dumped {
    match netlink.read_kept(selection, present, kept) {
        Ok(sockets) => Ok(((sockets, netlink.unix_uids), netlink.proc_tables())),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// At most this many dump threads, fewer on fewer cores. The walks contend on the
/// hash's bucket locks only briefly; more threads than cores buys nothing.
const MOST_THREADS: usize = 4;

impl TableReader {
    /// Dumps every namespace of `places` (not ours) into `self.dumped`, where
    /// `dump_in` finds it. Opens the sockets not kept yet first (one short-lived
    /// thread each, as `dump_in` would); failures stay in `elsewhere` for `dump_in`
    /// to report, as a sequential read would.
    pub(super) fn dump_in_parallel(&mut self, proc_root: &Path, places: &[Place], own: u64) {
        self.dumped.clear();
        if self.tables == Tables::Proc {
            return;
        }
        let wanted: HashSet<PathBuf> = places
            .iter()
            .filter(|p| p.netns.inode != own)
            .map(|p| {
                let key = ns_key(p.netns.inode);
                self.elsewhere
                    .entry(key.clone())
                    .or_insert_with(|| Netlink::open_in(&p.ns_file).map_err(|e| format!("{e:#}")));
                key
            })
            .collect();
        let mut jobs: Vec<(&PathBuf, &mut Netlink, Option<&Place>)> = self
            .elsewhere
            .iter_mut()
            .filter(|(key, _)| wanted.contains(*key))
            .filter_map(|(key, netlink)| netlink.as_mut().ok().map(|n| (key, n)))
            .map(|(key, n)| {
                (
                    key,
                    n,
                    places.iter().find(|p| ns_key(p.netns.inode) == *key),
                )
            })
            .collect();
        if jobs.len() < 2 {
            return;
        }
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cores.clamp(1, MOST_THREADS);
        let per_thread = jobs.len().div_ceil(threads);
        let (selection, kept) = (&self.selection, &self.kept);
        let dumped: HashMap<PathBuf, Dumped> = thread::scope(|s| {
            let handles: Vec<_> = jobs
                .chunks_mut(per_thread)
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter_mut()
                            .map(|(key, netlink, place)| {
                                let present = place.map_or(Present::ALL, |p| {
                                    present_in(proc_root, p.pid, p.netns.inode)
                                });
                                ((*key).clone(), dump(netlink, selection, kept, present))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        self.dumped = dumped;
    }
}

/// Which families the namespace `inode` has sockets of, from the counters of `pid`,
/// a process in it; every family when there is none, or when the pid is no longer in
/// that namespace once they are read (it moved, or the pid was reused).
pub(super) fn present_in(proc_root: &Path, pid: Option<u32>, inode: u64) -> Present {
    let Some(pid) = pid else {
        return Present::ALL;
    };
    let dir = proc_root.join(pid.to_string());
    let present = Present::read(&dir.join("net"));
    if netns::inode_at(&dir.join("ns/net")) != Some(inode) {
        return Present::ALL;
    }
    present
}
