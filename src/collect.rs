//! Collecting a snapshot: socket tables joined with the processes that hold them.
//!
//! `Source` is what the rest of the program asks for snapshots; `System` is the real one:
//! socket tables from netlink sock_diag or /proc (see `Tables`), owners from the fd walk
//! of a /proc tree (the host's, or a captured fixture via `--proc-root`), then peers.

pub mod container;
pub mod fd_cache;
mod hidden;
pub mod host;
pub mod kernel_counters;
pub mod netlink;
pub mod netns;
pub mod owners;
mod parallel;
pub mod peers;
pub mod privilege;
pub mod proc_families;
pub mod proc_net;
pub mod process;
pub mod read;
pub mod resolve;
mod select;
pub mod services;
mod snapshot;
mod tables;
pub mod unnamed;

pub use select::Selection;
use tables::TableReader;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::model::{CounterTable, Snapshot, SocketKey};
use container::Containers;
use owners::Users;
use read::shown;

/// The /proc root of the running kernel (`--proc-root` chooses another).
pub const PROC: &str = "/proc";

/// Anything that can produce snapshots: the system, or a fake in tests.
pub trait Source {
    fn snapshot(&mut self) -> Result<Snapshot>;

    /// A snapshot whose TCP sockets keep their tcp_info whole only for the socket `keep`
    /// names (the live view's details), and beside it, the counters tracking reads
    /// (`TcpCounters`) of the others' (at 100k sockets 2.4 MB of counters, not 10 MB of
    /// tcp_info). A source that cannot (a recording, /proc) gives a whole `snapshot`
    /// and no counters: what tracks it reads them in its tcp_info.
    fn snapshot_counted(&mut self, keep: Option<&SocketKey>) -> Result<(Snapshot, CounterTable)> {
        let _ = keep;
        Ok((self.snapshot()?, CounterTable::default()))
    }

    /// Sockets destroyed since the last snapshot or call, for a stream that wants them
    /// before the next snapshot (`watch`); the rest arrive in `Snapshot::closed`.
    fn take_closed(&mut self) -> Vec<crate::model::Closed> {
        Vec::new()
    }

    /// Whether these are the running system's sockets and processes, which actions
    /// (`kill`, `close`, the live view's K and X) may touch; not a captured tree nor a
    /// recording. Only the live `System` says yes.
    fn is_live(&self) -> bool {
        false
    }
}

/// Which sockets a snapshot covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every socket in our network namespace, with every process's fds walked.
    Host,
    /// The sockets of these processes, read in each one's own network namespace, plus
    /// the ownerless TCP sockets of their services (see `Scope::keeps`).
    Pids(Vec<u32>),
    /// Every socket of every network namespace (`--all-netns`): each one a process is
    /// in, and the named ones under /run/netns; every process's fds walked once.
    AllNetns,
    /// Every socket of one network namespace (`--netns`): a pid's, or a /run/netns name.
    Netns(String),
}

pub const HIDDEN_OWNERS_HINT: &str = "run as root, or grant cap_sys_ptrace and cap_dac_read_search";

/// Where the socket tables come from. Owners always come from the /proc fd walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tables {
    /// Netlink where it works; otherwise /proc, saying so once per snapshot.
    #[default]
    Auto,
    /// /proc/net/* (or /proc/<pid>/net/*) only: no tcp_info, timers or unix peers.
    Proc,
    /// Netlink sock_diag only; failing is an error.
    Netlink,
}

/// The real source: the kernel's socket tables, and the fd walk under `proc_root`.
pub struct System {
    proc_root: PathBuf,
    scope: Scope,
    users: Users,
    containers: Containers,
    reader: TableReader,
    closed_log: netlink::destroyed::ClosedLog,
    /// The fd walk kept between snapshots (`with_incremental_owners`); None: every
    /// snapshot walks every process.
    fd_cache: Option<fd_cache::FdCache>,
    /// With `--pid`: whether the other holders of their sockets are looked for.
    co_holders: CoHolders,
    /// Each table's sockets come in `Socket::display_order` (`with_list_order`).
    list_order: bool,
}

/// With `--pid`, when the other holders of their sockets are found: a walk of every
/// process's fds, as on the whole host (any process may hold one, see `snapshot`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum CoHolders {
    #[default]
    Always,
    /// From the second snapshot on: the first walks the pids alone, as fast as it was.
    AfterFirst,
    /// Never: a process that shares its fds with none (the demo, watching itself).
    Never,
}

impl System {
    /// Fails, naming it, when a pid in the scope does not exist. Tables come from
    /// netlink where it works (see `Tables::Auto`); `with_tables` chooses otherwise.
    pub fn new(proc_root: impl Into<PathBuf>, scope: Scope) -> Result<System> {
        let proc_root = proc_root.into();
        if !is_live(&proc_root) {
            check_tree(&proc_root)?;
        }
        if let Scope::Pids(pids) = &scope {
            for pid in pids {
                if !proc_root.join(pid.to_string()).is_dir() {
                    bail!("no process with pid {pid}");
                }
            }
        }
        if let Scope::Netns(target) = &scope {
            netns::select(&proc_root, is_live(&proc_root), target)?;
        }
        // A captured tree has no kernel behind it: only its /proc tables describe it.
        let tables = if is_live(&proc_root) {
            Tables::Auto
        } else {
            Tables::Proc
        };
        let containers = Containers::new(is_live(&proc_root))?;
        Ok(System {
            proc_root,
            scope,
            users: Users::load(),
            containers,
            reader: TableReader {
                tables,
                netlink: None,
                fallback: None,
                elsewhere: HashMap::new(),
                dumped: HashMap::new(),
                warnings: Vec::new(),
                selection: Selection::ALL,
                kept: Default::default(),
            },
            closed_log: Default::default(),
            fd_cache: None,
            co_holders: CoHolders::Always,
            list_order: false,
        })
    }

    /// Forces one table source. Netlink reads the live kernel, so it cannot be combined
    /// with a captured /proc tree.
    pub fn with_tables(mut self, tables: Tables) -> Result<System> {
        if tables == Tables::Netlink && !is_live(&self.proc_root) {
            bail!("--source netlink reads the running kernel; it cannot read a --proc-root tree");
        }
        if is_live(&self.proc_root) {
            self.reader.tables = tables;
        }
        Ok(self)
    }
}

impl System {
    /// Reads only the tables whose sockets `selection` wants (see collect/select.rs):
    /// for a command whose filters are fixed, never the live view's.
    pub fn with_selection(mut self, selection: Selection) -> System {
        self.reader.selection = selection;
        self
    }

    /// With `--pid`: the first snapshot walks only their fds, so it comes as fast as
    /// it did; the other holders of their sockets, which take a walk of every
    /// process, join from the second on (the live view's first frame).
    pub fn with_co_holders_later(mut self) -> System {
        self.co_holders = CoHolders::AfterFirst;
        self
    }

    /// Sorts each table in `list`'s order (`Socket::display_order`) while the fd walk
    /// runs, rather than after it: a snapshot of one table (not `--all-netns`) then
    /// comes sorted, but for the few sockets no table names, which come last.
    pub fn with_list_order(mut self) -> System {
        self.list_order = true;
        self
    }

    /// With `--pid` of a process that shares its fds with none (the demo watching
    /// itself): only its own fds are walked, and its sockets name it alone.
    pub fn without_co_holders(mut self) -> System {
        self.co_holders = CoHolders::Never;
        self
    }

    /// Keeps the closed-connection log (sock_diag destroy events): each snapshot then
    /// carries in `closed` what the kernel destroyed since the last one. A captured
    /// tree has no kernel behind it; with `--pid` the log is off; with `--source proc`
    /// it is off and every snapshot says that short-lived connections can be missed.
    pub fn with_closed_log(mut self) -> System {
        use netlink::destroyed::ClosedLog;
        self.closed_log = if !is_live(&self.proc_root) {
            ClosedLog::Off
        } else if self.scope != Scope::Host {
            // Scoped to processes: what closed cannot be told to be theirs. The
            // commands that stream events say so (see `PIDS_NO_LOG`).
            ClosedLog::Off
        } else if self.reader.tables == Tables::Proc {
            ClosedLog::unavailable("--source proc reads no netlink")
        } else {
            ClosedLog::start()
        };
        self
    }
}

impl System {
    /// Keeps the fd walk between snapshots, for a caller taking many (the live view,
    /// `watch`, `record`): after the first, a snapshot re-reads only the processes
    /// whose fds changed, with a full walk at least every 30 snapshots or 30 s (see
    /// collect/fd_cache.rs). One-shot commands gain nothing from it. Only on the live
    /// /proc (a captured tree's fd directories count nothing) and not with `--pid`,
    /// which walks its processes alone anyway.
    pub fn with_incremental_owners(self) -> System {
        self.with_full_walks(fd_cache::FullWalks::default())
    }

    /// `with_incremental_owners` with another period between full walks.
    pub fn with_full_walks(mut self, period: fd_cache::FullWalks) -> System {
        if is_live(&self.proc_root) && !matches!(self.scope, Scope::Pids(_)) {
            self.fd_cache = Some(fd_cache::FdCache::new(&self.proc_root, period));
        }
        self
    }

    /// What the last snapshot's fd walk did, when it is kept between snapshots.
    pub fn owner_refresh(&self) -> Option<fd_cache::Refresh> {
        self.fd_cache.as_ref().map(fd_cache::FdCache::last)
    }
}

/// The fd walk beside the dump: done, or the kept walk's first part (see fd_cache).
enum Walked {
    Done(owners::Walk),
    Prepared(fd_cache::Prepared),
}

fn is_live(proc_root: &Path) -> bool {
    proc_root == Path::new("/proc")
}

/// A `--proc-root` must look like a /proc tree: a directory with a net/ directory.
/// (Which tree a privileged sockscope may read is decided before, in main.)
fn check_tree(proc_root: &Path) -> Result<()> {
    match fs::metadata(proc_root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("--proc-root {}: not a directory", shown(proc_root)),
        Err(e) => bail!("--proc-root {}: {e}", shown(proc_root)),
    }
    if !proc_root.join("net").is_dir() {
        bail!(
            "--proc-root {}: no net/ directory in it, so it is no /proc tree",
            shown(proc_root)
        );
    }
    Ok(())
}
