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
//! 2. after the dump (so no listing is older than it): lists the fd directory
//!    (getdents, no readlink) of every process that is new, whose start time differs
//!    (the pid was reused), whose count changed (also during the dump: it is stat'ed
//!    again), or that holds an inode the last dump had and this one lacks (gone);
//! 3. reads the links of a listed process only where the cache cannot vouch: an fd
//!    number it did not have, one that was no socket, one whose inode is gone, not in
//!    this dump (another namespace's) or was held by more than one fd. An fd that was
//!    the only holder of a socket still in the dump is kept: had it been closed, the
//!    socket would be gone, unless it was passed on first, and then see 4;
//! 4. where a read found an inode at an fd that did not hold it before (a dup, a
//!    receive, a fork's copy), every other holder the cache has for that inode is read
//!    again (one readlink each): the sender that closed its copy is dropped there;
//! 5. when an inode is new in this dump and still has no holder, the other processes
//!    that hold a socket of this dump are listed and read the same way (the "wider"
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
//! dies. Also a process's name changed by prctl without any fd change. For those a full
//! walk runs at a bounded period (`FullWalks`), and whenever this refresh could not
//! settle (see `Refresh::settled`). Kernels before 6.2 report 0 for the size: there,
//! every refresh is a full walk, said once (in the first snapshot's warnings).

mod holders;
mod procfd;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::Dir;

use super::container::Containers;
use super::owners::{self, Process, Users, Walk};
use procfd::{counts_fds, fd_count, find, list, parallel, read_all, start_time, target};

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
    /// Processes seen, and of them how many had their fd directory listed.
    pub processes: usize,
    pub listed: usize,
    /// Links read.
    pub readlinks: usize,
    /// Whether a new inode without a holder made every process be listed.
    pub wider: bool,
    /// False when re-reading did not settle within its rounds: the next is full.
    pub settled: bool,
}

/// One fd of a process: the socket inode it points at, or 0 for anything else.
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
    fds: Vec<Fd>,
}

/// What is known of one process in a refresh.
enum Seen {
    /// Same start, same count: trusted as it was.
    Unchanged,
    /// New, reused or with another count: to be listed after the dump.
    Changed,
    /// Listed: its fd directory (for the links still to read) and its fd numbers.
    Listed(Dir, Vec<u32>),
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

/// The part of a refresh that ran beside the dump (see `FdCache::before`).
pub struct Prepared {
    full: bool,
    probes: Vec<Probe>,
}

pub struct FdCache {
    procs: HashMap<u32, Proc, Fast>,
    /// The inodes of the last dump.
    alive: HashSet<u64, Fast>,
    /// Inodes more than one fd held at the last refresh.
    shared: HashSet<u64, Fast>,
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
            alive: HashSet::default(),
            shared: HashSet::default(),
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
            let (seen, count) = if !full {
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
            Probe {
                pid,
                start,
                count,
                seen,
            }
        });
        Prepared { full, probes }
    }

    /// The rest, once the dump's inodes are known: the owners of every socket.
    pub fn after(
        &mut self,
        proc_root: &Path,
        prepared: Prepared,
        dumped: HashSet<u64, Fast>,
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
        if !full {
            probes = self.recheck(proc_root, probes, &dumped);
        }
        let order: Vec<u32> = probes.iter().map(|p| p.pid).collect();
        let live: HashSet<u32, Fast> = order.iter().copied().collect();
        self.procs.retain(|pid, _| live.contains(pid));
        let mut listed: HashSet<u32, Fast> = probes
            .iter()
            .filter(|p| !matches!(p.seen, Seen::Unchanged))
            .map(|p| p.pid)
            .collect();
        let mut read_now: HashSet<(u32, u32), Fast> = HashSet::default();
        let mut arrived = self.install(
            proc_root,
            probes,
            &dumped,
            users,
            containers,
            &mut stats,
            &mut read_now,
        );
        let mut walk;
        // The wider walk in two tiers (2: done; a full refresh read everyone).
        let mut tier = if full { 2 } else { 0 };
        let carried = std::mem::take(&mut self.orphans);
        let mut rounds = 0;
        loop {
            let shared;
            (walk, shared) = self.build(&order);
            self.shared = shared;
            rounds += 1;
            let stale = self.other_holders(&walk, &arrived, &read_now);
            if !stale.is_empty() {
                arrived = self.reread(proc_root, stale, &mut stats, &mut read_now);
            } else if let Some(next) = self.wider_tier(tier, &dumped, &walk, &carried) {
                tier = next;
                stats.wider = true;
                let ours = |pid: &u32| {
                    self.procs
                        .get(pid)
                        .is_some_and(|p| p.fds.iter().any(|f| dumped.contains(&f.inode)))
                };
                let rest: Vec<u32> = order
                    .iter()
                    .copied()
                    .filter(|pid| !listed.contains(pid) && (tier == 2 || ours(pid)))
                    .collect();
                listed.extend(rest.iter().copied());
                let probes = parallel(rest, |pid| {
                    let (seen, count) = list(proc_root, pid);
                    let start = self.procs.get(&pid).map_or(0, |p| p.start);
                    Probe {
                        pid,
                        start,
                        count,
                        seen,
                    }
                });
                arrived = self.install(
                    proc_root,
                    probes,
                    &dumped,
                    users,
                    containers,
                    &mut stats,
                    &mut read_now,
                );
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
        walk.denied = self
            .procs
            .iter()
            .filter(|(_, p)| p.denied)
            .map(|(&pid, _)| pid)
            .collect();
        if tier < 2 {
            self.orphans = dumped
                .iter()
                .copied()
                .filter(|i| !self.alive.contains(i) && !walk.by_inode.contains_key(i))
                .collect();
        }
        self.alive = dumped;
        self.last = stats;
        walk
    }

    /// Step 5: which tier of the wider walk to run next, if any. Tier 1 (the
    /// processes holding a socket of this dump) when an inode new in it has no holder,
    /// or one that had none last time (`carried`) still has none. Tier 2 (every other
    /// process) only for such a carried one: a new socket without a holder is most
    /// often one closed between the dump and the listing (or a dump that saw the old
    /// socket and its replacement both), which the next dump no longer has; one that
    /// is in two dumps running and still unowned is worth a walk of everyone.
    fn wider_tier(
        &self,
        tier: u8,
        dumped: &HashSet<u64, Fast>,
        walk: &Walk,
        carried: &HashSet<u64, Fast>,
    ) -> Option<u8> {
        let unowned = |i: &u64| dumped.contains(i) && !walk.by_inode.contains_key(i);
        let still = carried.iter().any(unowned);
        match tier {
            0 if still || dumped.iter().any(|i| !self.alive.contains(i) && unowned(i)) => Some(1),
            1 if still => Some(2),
            _ => None,
        }
    }

    /// Step 2, after the dump: lists the processes that changed, those whose count
    /// moved during the dump, and those holding an inode the dump no longer has.
    fn recheck(
        &self,
        proc_root: &Path,
        probes: Vec<Probe>,
        dumped: &HashSet<u64, Fast>,
    ) -> Vec<Probe> {
        parallel(probes, |mut probe| {
            let relist = match &probe.seen {
                Seen::Changed => true,
                Seen::Unchanged => {
                    fd_count(proc_root, probe.pid) != probe.count
                        || self.procs.get(&probe.pid).is_some_and(|p| {
                            p.fds.iter().any(|f| {
                                f.inode != 0
                                    && !dumped.contains(&f.inode)
                                    && self.alive.contains(&f.inode)
                            })
                        })
                }
                _ => false,
            };
            if relist {
                (probe.seen, probe.count) = list(proc_root, probe.pid);
            }
            probe
        })
    }

    /// Step 3: reads what the listed processes' caches cannot vouch for, and keeps the
    /// result. Returns the inodes found at an fd that did not hold them before.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        proc_root: &Path,
        probes: Vec<Probe>,
        dumped: &HashSet<u64, Fast>,
        users: &Users,
        containers: &Containers,
        stats: &mut Refresh,
        read_now: &mut HashSet<(u32, u32), Fast>,
    ) -> HashSet<u64, Fast> {
        let mut arrived = HashSet::default();
        let stats_full = stats.full;
        let this = &*self;
        let resolved = parallel(probes, |probe| {
            // A full refresh trusts nothing it had.
            let old = this
                .procs
                .get(&probe.pid)
                .filter(|p| !stats_full && p.start == probe.start);
            let (fds, read) = match probe.seen {
                // Changed is listed by now; were it not, the cache stays as it was.
                Seen::Unchanged | Seen::Changed => return (probe.pid, None, Vec::new()),
                Seen::Read(fds) => (Some(fds.clone()), fds),
                Seen::Gone => return (probe.pid, Some(None), Vec::new()),
                Seen::Denied => (None, Vec::new()),
                Seen::Listed(dir, numbers) => {
                    let (fds, read) = this.resolve(&dir, &numbers, old, dumped);
                    (Some(fds), read)
                }
            };
            let holds_socket = fds.as_ref().is_some_and(|f| f.iter().any(|f| f.inode != 0));
            let proc_dir = proc_root.join(probe.pid.to_string());
            let info = holds_socket.then(|| owners::process_info(&proc_dir, users, containers));
            let proc = Proc {
                start: probe.start,
                count: probe.count,
                denied: fds.is_none(),
                info,
                fds: fds.unwrap_or_default(),
            };
            (probe.pid, Some(Some(proc)), read)
        });
        for (pid, proc, read) in resolved {
            let Some(proc) = proc else { continue };
            let Some(proc) = proc else {
                self.procs.remove(&pid);
                continue;
            };
            stats.listed += 1;
            stats.readlinks += read.len();
            let old = self.procs.get(&pid).filter(|p| p.start == proc.start);
            for fd in &read {
                read_now.insert((pid, fd.fd));
                let before = old.and_then(|p| find(&p.fds, fd.fd));
                if fd.inode != 0 && before != Some(fd.inode) {
                    arrived.insert(fd.inode);
                }
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
        dumped: &HashSet<u64, Fast>,
    ) -> (Vec<Fd>, Vec<Fd>) {
        let mut fds = Vec::with_capacity(numbers.len());
        let mut read = Vec::new();
        let Ok(at) = dir.fd() else {
            return (fds, read);
        };
        for &fd in numbers {
            let kept = old.and_then(|p| find(&p.fds, fd)).filter(|&inode| {
                inode != 0
                    && dumped.contains(&inode)
                    && self.alive.contains(&inode)
                    && !self.shared.contains(&inode)
            });
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
