//! Owners kept between refreshes, so a refresh after the first walks only what changed.
//!
//! A full walk reads every link under every /proc/<pid>/fd: at 100k sockets that is most
//! of a `list`. Between two refreshes of the live view few of those links change, and
//! two cheap facts say where: the socket dump (which inodes are new, which are gone)
//! and, on kernels 6.2 and later, `stat("/proc/P/fd").st_size`, which is P's number of
//! open fds (one call per process). `FdCache` keeps every process's fd table (fd ->
//! socket inode, or "not a socket") and, each refresh:
//!
//! 1. beside the dump: lists /proc, reads each process's start time and fd count;
//! 2. after the dump (so no table is older than it): probes the fd table of every
//!    process whose count changed (also during the dump: it is stat'ed again) or that
//!    holds an inode the last dump had and this one lacks (gone), and lists the fd
//!    directory (getdents, no readlink) of one that is new, whose start time differs
//!    (the pid was reused) or whose probe does not add up. A probe (`procfd::probe`)
//!    starts from the kept table instead of a listing, which at 10k fds costs the
//!    kernel a dentry each: it reads again each kept fd the cache cannot vouch for
//!    (step 3), then, while the table is short of the count, the lowest numbers it
//!    lacks (where the kernel puts a new fd); fewer fds than it vouched for, or too
//!    many free numbers tried, and the directory is listed;
//! 3. reads the links of a listed process only where the cache cannot vouch: an fd
//!    number it did not have, one that was no socket, one whose inode is gone, not in
//!    this dump (another namespace's) or was held by more than one fd. An fd that was
//!    the only holder of a socket still in the dump is kept: had it been closed, the
//!    socket would be gone, unless it was passed on first, and then see 4;
//! 4. where a read found an inode at an fd that did not hold it before (a dup, a
//!    receive, a fork's copy), every other holder the cache has for that inode is read
//!    again (one readlink each): the sender that closed its copy is dropped there, and
//!    if its table then falls short of its count, it is listed;
//! 5. when an inode is new in this dump and still has no holder, the other processes
//!    that hold a socket of this dump are probed or listed the same way (the "wider"
//!    walk); every other process too when one is still unowned in the next dump;
//! 6. builds inode -> owners from the tables, in the order a full walk finds them.
//!
//! Why it is never stale in what matters: an owner is dropped the moment its inode
//! leaves the dump (the join looks up only dumped inodes, and the holder is re-read);
//! an open adds an fd (count up: listed) or replaces a closed one (count equal, but the
//! closed socket is gone, or the new socket is new: listed, or the wider walk); a dup or
//! a receive raises the receiver's count; a fork is a new pid. What these facts cannot
//! see: an fd replaced in place by a socket already known, while the socket it held
//! lives on elsewhere and no count moves (dup2 of one known socket over another
//! that stays alive elsewhere, or a process that closes a shared socket and
//! receives a known one in the same refresh). The count is equal, no inode is born or
//! dies. A probe adds one more: a process that sends the only fd of a socket over a
//! unix socket and closes it, and opens another fd in the same refresh, while the
//! socket is still in flight (no receiver holds it yet, so no read is triggered); the
//! receive, at the latest, corrects it (step 4). Also a process's name changed by prctl
//! without any fd change. For those a full
//! walk runs at a bounded period (`FullWalks`), and whenever this refresh could not
//! settle (see `Refresh::settled`). Kernels before 6.2 report 0 for the size: there,
//! every refresh is a full walk, said once (in the first snapshot's warnings).

mod fds;
mod holders;
mod procfd;
mod tables;

use fds::FdTable;
use holders::{Holders, Positions};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::Dir;

use super::container::Containers;
use super::owners::{self, Inodes, Process, Users, Walk};
use procfd::{counts_fds, fd_count, list, parallel, read_all, start_time};

type Fast = foldhash::fast::RandomState;

/// How often a full walk runs anyway: at least every `every`-th refresh (1: each one)
/// and once `after` has passed since the last, whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullWalks {
    pub every: u32,
    pub after: Duration,
}

impl Default for FullWalks {
    /// At the live view's default interval (1 s), a full walk every 30 s.
    fn default() -> FullWalks {
        FullWalks {
            every: 30,
            after: Duration::from_secs(30),
        }
    }
}

/// What the last refresh did, for benches and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Every link was read.
    pub full: bool,
    /// Processes seen, and of them how many had their fd directory listed, and how
    /// many had their kept fd table probed instead (see `procfd::probe`).
    pub processes: usize,
    pub listed: usize,
    pub probed: usize,
    /// Links read.
    pub readlinks: usize,
    /// Whether a new inode without a holder made every process be listed.
    pub wider: bool,
    /// False when re-reading did not settle within its rounds: the next is full.
    pub settled: bool,
}

/// One fd of a process: the socket inode it points at, or 0 for anything else. As read;
/// the kept tables are 8 bytes an fd (`FdTable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fd {
    fd: u32,
    inode: u64,
}

/// A process as the last refresh left it.
struct Proc {
    /// Start time (clock ticks after boot): a reused pid has another.
    start: u64,
    /// `st_size` of its fd directory when it was listed.
    count: u64,
    denied: bool,
    /// Looked up once it turns out to hold a socket, again whenever it is listed.
    info: Option<Process>,
    /// Sorted by fd.
    fds: FdTable,
}

/// What is known of one process in a refresh.
enum Seen {
    /// Same start, same count: trusted as it was.
    Unchanged,
    /// New, reused or with another count: to be listed after the dump.
    Changed,
    /// Listed: its fd directory (for the links still to read) and its fd numbers.
    Listed(Dir, Vec<u32>),
    /// Probed from its cached table (see `procfd::probe`): its fds, and those read.
    Probed(FdTable, Vec<Fd>),
    /// Every link read (a full refresh, beside the dump).
    Read(Vec<Fd>),
    Denied,
    /// Exited, or a kernel thread.
    Gone,
}

struct Probe {
    pid: u32,
    start: u64,
    count: u64,
    seen: Seen,
}

impl Probe {
    /// What a look at `pid`'s fd table found (`list`, `probe_or_list`: what it saw and
    /// its fd count), for the process that started at `start`.
    fn new(pid: u32, start: u64, (seen, count): (Seen, u64)) -> Probe {
        Probe {
            pid,
            start,
            count,
            seen,
        }
    }
}

/// What every install of one refresh reads and none changes: where /proc is, the
/// dump's inodes, the name lookups, and each process's place in walk order.
struct Round<'a> {
    proc_root: &'a Path,
    dump: &'a Dump<'a>,
    users: &'a Users,
    containers: &'a Containers,
    positions: &'a Positions,
}

/// This dump's inodes, and how they differ from the last one's (one pass over both:
/// a lookup in each, per fd, cost more).
struct Dump<'a> {
    inodes: &'a Inodes,
    /// New in this dump, sorted.
    born: Vec<u64>,
    /// In the last dump, not in this one.
    gone: HashSet<u64, Fast>,
}

impl Dump<'_> {
    fn has(&self, inode: u64) -> bool {
        self.inodes.contains(inode)
    }

    /// In this dump and the last.
    fn lived(&self, inode: u64) -> bool {
        self.born.binary_search(&inode).is_err() && self.inodes.contains(inode)
    }
}

/// The part of a refresh that ran beside the dump (see `FdCache::before`).
pub struct Prepared {
    full: bool,
    probes: Vec<Probe>,
}

pub struct FdCache {
    procs: HashMap<u32, Proc, Fast>,
    /// The inodes of the last dump (lent to its `Walk` too).
    alive: Arc<Inodes>,
    /// inode -> owners, as the tables say (step 6).
    held: Holders,
    /// Inodes new in the last dump that even the first tier of the wider walk found
    /// no holder for (see `wider_tier`).
    orphans: HashSet<u64, Fast>,
    period: FullWalks,
    since_full: u32,
    last_full: Option<Instant>,
    /// False on kernels before 6.2: every refresh is full.
    incremental: bool,
    last: Refresh,
    notice: Option<String>,
}

impl FdCache {
    /// On a kernel whose fd directories do not report their count, every refresh
    /// is a full walk, and the first snapshot's warnings say so (`take_notice`).
    pub fn new(proc_root: &Path, period: FullWalks) -> FdCache {
        let incremental = counts_fds(proc_root);
        let notice = (!incremental).then(|| {
            "this kernel does not count a process's fds in the size of /proc/PID/fd \
             (Linux 6.2+): every refresh walks every process's fds"
                .to_string()
        });
        FdCache {
            procs: HashMap::default(),
            alive: Arc::default(),
            held: Holders::default(),
            orphans: HashSet::default(),
            period,
            since_full: 0,
            last_full: None,
            incremental,
            last: Refresh::default(),
            notice,
        }
    }

    /// The fallback to full walks, once: for the first snapshot's warnings.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    pub fn last(&self) -> Refresh {
        self.last
    }

    fn full_due(&self) -> bool {
        !self.incremental
            || self.since_full.saturating_add(1) >= self.period.every
            || self
                .last_full
                .is_none_or(|t| t.elapsed() >= self.period.after)
    }

    /// The part that needs no dump, run beside it: a full refresh reads every link
    /// here (as a one-shot walk does); else each process's start time and fd count.
    /// The listing of those that changed waits for the dump: a listing taken before it
    /// could miss a socket opened just before it, in an fd a socket closed just before
    /// left free (the count stays), and walk wider for nothing.
    pub fn before(&self, proc_root: &Path) -> Prepared {
        let full = self.full_due();
        let pids = owners::list_pids(proc_root);
        let probes = parallel(pids, |pid| {
            let (start, count) = (start_time(proc_root, pid), fd_count(proc_root, pid));
            let same = self
                .procs
                .get(&pid)
                .is_some_and(|p| p.start == start && p.count == count);
            let found = if !full {
                let seen = if same { Seen::Unchanged } else { Seen::Changed };
                (seen, count)
            } else {
                match list(proc_root, pid) {
                    (Seen::Listed(dir, numbers), count) => {
                        (Seen::Read(read_all(&dir, &numbers)), count)
                    }
                    other => other,
                }
            };
            Probe::new(pid, start, found)
        });
        Prepared { full, probes }
    }

    /// The rest, once the dump's inodes are known: the owners of every socket.
    pub fn after(
        &mut self,
        proc_root: &Path,
        prepared: Prepared,
        dumped: Inodes,
        users: &Users,
        containers: &Containers,
    ) -> Walk {
        let Prepared { full, mut probes } = prepared;
        let mut stats = Refresh {
            full,
            processes: probes.len(),
            settled: true,
            ..Refresh::default()
        };
        let dump = Dump {
            inodes: &dumped,
            born: dumped.difference(&self.alive),
            gone: self.alive.difference(&dumped).into_iter().collect(),
        };
        if !full {
            probes = self.recheck(proc_root, probes, &dump);
        }
        let order: Vec<u32> = probes.iter().map(|p| p.pid).collect();
        let positions: Positions = order.iter().enumerate().map(|(i, &pid)| (pid, i)).collect();
        let exited: Vec<u32> = (self.procs.keys())
            .filter(|pid| !positions.contains_key(pid))
            .copied()
            .collect();
        for pid in exited {
            let old = self.procs.remove(&pid);
            self.held.change(pid, old.as_ref(), None, &positions);
        }
        let mut listed: HashSet<u32, Fast> = probes
            .iter()
            .filter(|p| !matches!(p.seen, Seen::Unchanged))
            .map(|p| p.pid)
            .collect();
        let mut read_now: HashSet<(u32, u32), Fast> = HashSet::default();
        let round = Round {
            proc_root,
            dump: &dump,
            users,
            containers,
            positions: &positions,
        };
        let mut arrived = self.install(&round, probes, &mut stats, &mut read_now);
        if full {
            // Nothing kept is trusted: made again from the tables.
            self.held = Holders::build(&self.procs, &order);
        }
        // The wider walk in two tiers (2: done; a full refresh read everyone).
        let mut tier = if full { 2 } else { 0 };
        let carried = std::mem::take(&mut self.orphans);
        let mut rounds = 0;
        loop {
            #[cfg(debug_assertions)]
            self.check_held(&order);
            rounds += 1;
            let stale = self.other_holders(&arrived, &read_now);
            if !stale.is_empty() {
                let relist;
                (arrived, relist) =
                    self.reread(proc_root, stale, &mut stats, &mut read_now, &positions);
                listed.extend(relist.iter().copied());
                let probes = parallel(relist, |pid| {
                    Probe::new(pid, self.start_of(pid), list(proc_root, pid))
                });
                arrived.extend(self.install(&round, probes, &mut stats, &mut read_now));
            } else if let Some(next) = self.wider_tier(tier, &dump, &carried) {
                tier = next;
                stats.wider = true;
                let ours = |pid: &u32| {
                    self.procs
                        .get(pid)
                        .is_some_and(|p| p.fds.iter().any(|f| dump.has(f.inode)))
                };
                let rest: Vec<u32> = order
                    .iter()
                    .copied()
                    .filter(|pid| !listed.contains(pid) && (tier == 2 || ours(pid)))
                    .collect();
                listed.extend(rest.iter().copied());
                let probes = parallel(rest, |pid| {
                    let start = self.start_of(pid);
                    Probe::new(pid, start, self.probe_or_list(proc_root, pid, start, &dump))
                });
                arrived = self.install(&round, probes, &mut stats, &mut read_now);
            } else {
                break;
            }
            if rounds > 6 {
                stats.settled = false;
                break;
            }
        }
        if full || !stats.settled {
            self.since_full = 0;
            self.last_full = Some(Instant::now());
        }
        if !stats.settled {
            // Not trusted: the next refresh starts again from a full walk.
            self.last_full = None;
        }
        if !full {
            self.since_full += 1;
        }
        let born = dump.born;
        let dumped = Arc::new(dumped);
        // Lent, not copied: at 100k sockets a copy was 3 MB and 100k owners each refresh.
        let walk = Walk::kept(
            Arc::clone(&self.held.by_inode),
            Arc::clone(&dumped),
            (self.procs.iter())
                .filter(|(_, p)| p.denied)
                .map(|(&pid, _)| pid)
                .collect(),
        );
        if tier < 2 {
            self.orphans = (born.iter())
                .copied()
                .filter(|&i| !self.held.by_inode.contains(i))
                .collect();
        }
        self.alive = dumped;
        self.last = stats;
        walk
    }

    /// What the kept owners must always be: what the tables say.
    #[cfg(debug_assertions)]
    fn check_held(&self, order: &[u32]) {
        let want = Holders::build(&self.procs, order);
        let key = |o: &crate::model::Owner| (o.pid, o.fd, o.process.comm.clone());
        let keys = |h: &Holders| -> std::collections::BTreeMap<u64, Vec<_>> {
            (h.by_inode.iter())
                .map(|(i, o)| (i, o.iter().map(key).collect()))
                .collect()
        };
        debug_assert!(keys(&self.held) == keys(&want), "kept owners drifted");
    }

    /// When `pid` started, as kept from its last look (0 if it has none): a re-read
    /// process is the one looked at before.
    fn start_of(&self, pid: u32) -> u64 {
        self.procs.get(&pid).map_or(0, |p| p.start)
    }

    /// Step 5: which tier of the wider walk to run next, if any. Tier 1 (the
    /// processes holding a socket of this dump) when an inode new in it has no holder,
    /// or one that had none last time (`carried`) still has none. Tier 2 (every other
    /// process) only for such a carried one: a new socket without a holder is most
    /// often one closed between the dump and the listing (or a dump that saw the old
    /// socket and its replacement both), which the next dump no longer has; one that
    /// is in two dumps running and still unowned is worth a walk of everyone.
    fn wider_tier(&self, tier: u8, dump: &Dump, carried: &HashSet<u64, Fast>) -> Option<u8> {
        let unowned = |i: &u64| dump.has(*i) && !self.held.by_inode.contains(*i);
        let still = carried.iter().any(unowned);
        match tier {
            0 if still || dump.born.iter().any(unowned) => Some(1),
            1 if still => Some(2),
            _ => None,
        }
    }
}
