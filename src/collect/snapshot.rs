//! One snapshot: the tables read beside the fd walk, joined, the peers found, and what
//! could not be seen said.

use std::collections::HashSet;
use std::panic;
use std::thread;
use std::time::SystemTime;

use anyhow::Result;

use super::netlink::TcpInfoKept;
use super::proc_net::ProcTables;
use super::tables::Table;
use super::{
    CoHolders, Scope, Source, System, Walked, fd_cache, hidden, is_live, netns, owners, peers,
    unnamed,
};
use crate::model::{CounterTable, Proto, Snapshot, Socket, SocketKey, TcpState};

impl Source for System {
    fn take_closed(&mut self) -> Vec<crate::model::Closed> {
        self.closed_log.take_closed()
    }

    fn is_live(&self) -> bool {
        is_live(&self.proc_root)
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        Ok(self.take(TcpInfoKept::All)?.0)
    }

    fn snapshot_counted(&mut self, keep: Option<&SocketKey>) -> Result<(Snapshot, CounterTable)> {
        self.take(TcpInfoKept::Only(keep.cloned()))
    }
}

impl System {
    /// One snapshot, its tables keeping the tcp_info `kept` says; the counters of the
    /// TCP sockets whose tcp_info they did not keep come beside it.
    fn take(&mut self, kept: TcpInfoKept) -> Result<(Snapshot, CounterTable)> {
        self.reader.kept = kept;
        let pids = match &self.scope {
            Scope::Host | Scope::AllNetns | Scope::Netns(_) => None,
            Scope::Pids(pids) => Some(pids.as_slice()),
        };
        // With --pid, `processes` is still every holder of their sockets (a fork's
        // child, a process handed the fd over a unix socket), and any process may be
        // one: in another namespace (setns after fork) or of another user (setuid, an
        // fd passed over SCM_RIGHTS). So every process's fds are walked, as on the
        // whole host, and `Scope::keeps` then keeps the rows the pids hold.
        let walked = match self.co_holders {
            CoHolders::Always => None,
            CoHolders::AfterFirst => {
                self.co_holders = CoHolders::Always;
                pids
            }
            CoHolders::Never => pids,
        };
        // The fd walk usually costs more than the tables; run them side by side.
        let (tables, done) = thread::scope(|s| {
            let walker = s.spawn(|| match &self.fd_cache {
                Some(cache) => Walked::Prepared(cache.before(&self.proc_root)),
                None => Walked::Done(owners::walk(
                    &self.proc_root,
                    walked,
                    &self.users,
                    &self.containers,
                )),
            });
            let mut tables = self.reader.read(&self.proc_root, &self.scope);
            for table in tables.iter_mut().flatten() {
                table.prepare(self.list_order);
            }
            let done = walker.join().unwrap_or_else(|e| panic::resume_unwind(e));
            (tables, done)
        });
        let mut tables = tables?;
        let mut owners = match (done, &mut self.fd_cache) {
            (Walked::Prepared(prepared), Some(cache)) => {
                let dumped = tables
                    .iter()
                    .flat_map(|t| t.sockets.iter().map(|s| s.inode))
                    .filter(|&inode| inode != 0)
                    .collect();
                cache.after(
                    &self.proc_root,
                    prepared,
                    dumped,
                    &self.users,
                    &self.containers,
                )
            }
            (Walked::Done(walk), _) => walk,
            // Never: only a cache prepares.
            (Walked::Prepared(_), None) => owners::Walk::default(),
        };
        // The inodes several rows share: an SCTP socket's associations.
        let mut shared = Vec::new();
        for table in &mut tables {
            for socket in &mut table.sockets {
                let found = match socket.proto {
                    _ if socket.inode == 0 => None,
                    Proto::Sctp => {
                        shared.push(socket.inode);
                        owners.get(socket.inode)
                    }
                    _ => owners.take(socket.inode),
                };
                if let Some(found) = found {
                    socket.processes = found;
                }
                // Without the kernel's uid, the owner's is the best we know.
                let no_uid = match socket.proto {
                    Proto::Unix => !table.unix_uids,
                    // Neither netlink_diag nor /proc/net/netlink has one; vsock neither.
                    Proto::Netlink | Proto::Vsock => true,
                    _ => false,
                };
                if no_uid && let Some(owner) = socket.processes.first() {
                    socket.uid = owner.process.uid;
                }
            }
        }
        for inode in shared {
            owners.take(inode);
        }
        // What is left no table named: listed all the same (see unnamed.rs), when such
        // a socket can be wanted; with --pid, only theirs.
        let unnamed = if self.reader.selection.wants_unnamed() {
            let leftovers = owners.drain().filter(|(_, holders)| {
                pids.is_none_or(|pids| holders.iter().any(|o| pids.contains(&o.pid)))
            });
            let mut leftovers = unnamed::in_namespace(&self.proc_root, &self.scope, leftovers);
            self.reader.rule_out_unread(&mut leftovers);
            unnamed::sockets(&self.proc_root, &self.reader.selection, leftovers)
        } else {
            Vec::new()
        };
        if tables.is_empty() {
            tables.push(Table::netlink(Default::default()));
        }
        let mut left = unnamed.len();
        for mut socket in unnamed {
            // Into the table of its holder's namespace (with --all-netns there are
            // several), else the first: ours.
            let inode = socket
                .processes
                .first()
                .and_then(|o| netns::inode_at(&self.proc_root.join(format!("{}/ns/net", o.pid))));
            let at = match (&self.scope, inode) {
                (Scope::AllNetns, Some(inode)) => tables
                    .iter()
                    .position(|t| t.netns.inode == inode)
                    .unwrap_or(0),
                _ => 0,
            };
            socket.netns = Some(tables[at].netns.clone());
            let table = &mut tables[at];
            // Exact: the table is sized to fit (100k sockets, say), and one more
            // pushed would double its capacity.
            if table.sockets.len() == table.sockets.capacity() {
                table.sockets.reserve_exact(left);
            }
            left -= 1;
            table.sockets.push(socket);
            table.pairs = None;
        }
        // Emptied by the join but still its full size; peers need the room.
        owners.free_maps();
        let mut warnings: Vec<String> = self.reader.fallback.iter().cloned().collect();
        warnings.extend(
            self.fd_cache
                .as_mut()
                .and_then(fd_cache::FdCache::take_notice),
        );
        warnings.append(&mut self.reader.warnings);
        for table in &mut tables {
            let before = table.sockets.len();
            let dropped = ProcTables::confirm(&mut table.sockets, &table.unconfirmed);
            if table.sockets.len() != before {
                table.pairs = None;
            }
            // With --pid, sockets no process of theirs holds go anyway: nothing to say.
            if self.scope == Scope::Host {
                warnings.extend(dropped);
            }
        }
        let mut sockets = Vec::new();
        let mut counters = CounterTable::default();
        for mut table in tables {
            counters.add(table.netns.inode, std::mem::take(&mut table.counters));
            match table.pairs.take() {
                Some(pairs) => pairs.fill(&mut table.sockets),
                None => peers::resolve(&mut table.sockets),
            }
            // Moving the first table instead of copying it keeps one 100k-socket
            // vector alive at a time, not two.
            if sockets.is_empty() {
                sockets = table.sockets;
            } else {
                sockets.append(&mut table.sockets);
            }
        }
        if let Scope::Pids(pids) = &self.scope {
            let keep = Scope::keeps(pids, &sockets);
            sockets = sockets
                .into_iter()
                .zip(keep)
                .filter_map(|(s, k)| k.then_some(s))
                .collect();
            counters.keep_only(&sockets);
            // A walk of their fds alone leaves their peers' owners to find.
            if walked.is_some() {
                self.find_peer_owners(&mut sockets);
            }
        }

        // After the tables: what closed while they were read is in this snapshot too.
        let closed = self.closed_log.take(&mut warnings);
        // The kernel's own netlink sockets have no owner to hide.
        let hidden = sockets
            .iter()
            .filter(|s| s.inode != 0 && s.processes.is_empty() && !s.is_kernels())
            .count();
        warnings.extend(hidden::owners_warning(
            &self.scope,
            &self.proc_root,
            hidden,
            &owners.denied,
        ));
        let snapshot = Snapshot {
            sockets,
            warnings,
            taken_at: SystemTime::now(),
            closed,
        };
        Ok((snapshot, counters))
    }
}

impl System {
    /// With `--pid`, only those processes were walked, so the other ends of their local
    /// connections have no owners yet. One walk of every process finds them, and only
    /// when there is such a peer.
    fn find_peer_owners(&self, sockets: &mut [Socket]) {
        let unowned = |s: &Socket| {
            s.peer
                .as_ref()
                .is_some_and(|p| p.inode != 0 && p.processes.is_empty())
        };
        if !sockets.iter().any(unowned) {
            return;
        }
        let all = owners::walk(&self.proc_root, None, &self.users, &self.containers);
        for socket in sockets.iter_mut() {
            if let Some(peer) = &mut socket.peer
                && peer.processes.is_empty()
                && let Some(found) = all.get(peer.inode)
            {
                peer.processes = found;
            }
        }
    }
}

impl Scope {
    /// Which of `sockets` belong to `pids`: those they hold, and the TCP sockets no
    /// process holds (inode 0: TIME_WAIT, not yet accepted, orphaned) on the service
    /// ports they listen on: locally on such a port, or connected to it over loopback.
    fn keeps(pids: &[u32], sockets: &[Socket]) -> Vec<bool> {
        let held = |s: &Socket| s.processes.iter().any(|o| pids.contains(&o.pid));
        let listen_ports: HashSet<u16> = sockets
            .iter()
            .filter(|s| s.proto == Proto::Tcp && s.state == TcpState::Listen && held(s))
            .filter_map(|s| s.local.map(|a| a.port()))
            .collect();
        sockets
            .iter()
            .map(|s| {
                if held(s) {
                    return true;
                }
                if s.proto != Proto::Tcp || s.inode != 0 {
                    return false;
                }
                let local = s.local.is_some_and(|a| listen_ports.contains(&a.port()));
                let remote = s.remote.is_some_and(|a| {
                    a.ip().to_canonical().is_loopback() && listen_ports.contains(&a.port())
                });
                local || remote
            })
            .collect()
    }
}
