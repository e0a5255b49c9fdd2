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
pub mod unnamed;

pub use select::Selection;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::model::{self, Netns, Proto, Snapshot, Socket, TcpState};
use container::Containers;
use netlink::packet::InterfaceNames;
use netlink::{Netlink, Present};
use owners::Users;
use proc_families::ProcTable;
use proc_net::ProcTables;
use read::shown;

/// The /proc root of the running kernel (`--proc-root` chooses another).
pub const PROC: &str = "/proc";

/// Anything that can produce snapshots: the system, or a fake in tests.
pub trait Source {
    fn snapshot(&mut self) -> Result<Snapshot>;

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

/// One network namespace's sockets, whether its unix sockets carry their uid
/// (netlink on kernel 5.3+; /proc/net/unix has no uid column), and the unix sockets
/// from /proc that need an owner to be believed (see `ProcTables::unconfirmed`).
struct Table {
    netns: Arc<Netns>,
    sockets: Vec<Socket>,
    unix_uids: bool,
    unconfirmed: HashSet<u64>,
    /// Who is whose peer, found beside the fd walk (see `Table::prepare`); None once
    /// sockets are added or dropped, and `peers::resolve` searches again.
    pairs: Option<peers::Pairs>,
}

impl Table {
    fn netlink((sockets, unix_uids): (Vec<Socket>, bool)) -> Table {
        Table {
            netns: Arc::default(),
            sockets,
            unix_uids,
            unconfirmed: HashSet::new(),
            pairs: None,
        }
    }

    /// Reads a /proc net directory's tables that `selection` wants, adding what it
    /// skipped to `warnings`.
    fn proc(net_dir: &Path, selection: &Selection, warnings: &mut Vec<String>) -> Result<Table> {
        let read: ProcTables = proc_net::read_selected(net_dir, selection)?;
        warnings.extend(read.warnings);
        Ok(Table {
            netns: Arc::default(),
            sockets: read.sockets,
            unix_uids: false,
            unconfirmed: read.unconfirmed,
            pairs: None,
        })
    }

    /// What needs only the table, done while the fd walk still runs: sorted in
    /// `list`'s order when `sort` (so `list` sorts nothing after the walk), and the
    /// peers paired, which leaves copying their owners for after the join.
    fn prepare(&mut self, sort: bool) {
        if sort {
            model::sort_in_display_order(&mut self.sockets);
        }
        self.pairs = Some(peers::pairs(&self.sockets));
    }

    /// Adds the other families' /proc tables under `net_dir` (see proc_families) that
    /// `reader.selection` wants, and what they skipped to `reader.warnings`; `ours`
    /// when that is our own network namespace, whose interfaces we can name.
    fn with_proc_families(
        mut self,
        net_dir: &Path,
        tables: &[ProcTable],
        ours: bool,
        reader: &mut TableReader,
    ) -> Table {
        let mut names = InterfaceNames::default();
        let tables: Vec<ProcTable> = (tables.iter().copied())
            .filter(|t| t.read_for(&reader.selection))
            .collect();
        let warnings = &mut reader.warnings;
        let more = proc_families::read(net_dir, &tables, ours.then_some(&mut names));
        // Exact: the table may be 100k sockets sized to fit, and a few more must not
        // double its capacity.
        self.sockets.reserve_exact(more.sockets.len());
        self.sockets.extend(more.sockets);
        if !more.skipped.is_empty() {
            warnings.push(format!(
                "skipped unreadable lines: {}",
                more.skipped.join(", ")
            ));
        }
        self
    }
}

/// The key of `TableReader::elsewhere`: the namespace's link text.
fn ns_key(inode: u64) -> PathBuf {
    PathBuf::from(format!("net:[{inode}]"))
}

/// Reads the socket tables, keeping the netlink socket open across snapshots.
struct TableReader {
    tables: Tables,
    netlink: Option<Netlink>,
    /// Why `Auto` gave up on netlink; from then on /proc is read, and this is warned.
    fallback: Option<String>,
    /// Sock_diag sockets opened inside other network namespaces (`--pid` of a
    /// process in a container), by the namespace's link text; Err: why not, so /proc
    /// is read there instead (and it is not tried again).
    elsewhere: HashMap<PathBuf, Result<Netlink, String>>,
    /// `--all-netns`: the other namespaces' dumps, taken side by side before they are
    /// read in order (see parallel.rs); `dump_in` takes them from here.
    dumped: HashMap<PathBuf, parallel::Dumped>,
    /// This read's warnings: skipped lines, namespaces read from /proc.
    warnings: Vec<String>,
    /// Which tables are read.
    selection: Selection,
}

impl TableReader {
    /// One table per distinct network namespace: ours (netlink or /proc/net), and for
    /// pids in other namespaces, theirs: netlink opened inside it where we may enter
    /// it, else their /proc/<pid>/net.
    fn read(&mut self, proc_root: &Path, scope: &Scope) -> Result<Vec<Table>> {
        self.warnings.clear();
        let live = is_live(proc_root);
        let own = || {
            let inode = netns::own_inode(proc_root);
            let name = netns::names(live).remove(&inode);
            Arc::new(Netns { inode, name })
        };
        let pids = match scope {
            Scope::Host => {
                let mut table = self.ours(proc_root, &proc_root.join("net"))?;
                table.netns = own();
                return Ok(vec![table]);
            }
            Scope::AllNetns => return self.every_netns(proc_root),
            Scope::Netns(target) => {
                let place = netns::select(proc_root, live, target)?;
                let mut table = if place.netns.inode == netns::own_inode(proc_root) {
                    self.ours(proc_root, &proc_root.join("net"))?
                } else {
                    self.place(proc_root, &place)
                        .map_err(|why| anyhow::anyhow!("--netns {target}: {why}"))?
                };
                table.netns = place.netns;
                return Ok(vec![table]);
            }
            Scope::Pids(pids) => pids,
        };
        let names = netns::names(live);
        let own_ns = fs::read_link(proc_root.join("self/ns/net")).ok();
        let mut seen_ns = HashSet::new();
        let mut tables = Vec::new();
        for pid in pids {
            let dir = proc_root.join(pid.to_string());
            // Two pids in one namespace share one table; a pid whose ns link we cannot
            // read counts as its own namespace.
            let ns = fs::read_link(dir.join("ns/net")).ok();
            if !seen_ns.insert(ns.clone().unwrap_or_else(|| dir.clone())) {
                continue;
            }
            let inode = ns
                .as_ref()
                .and_then(|ns| netns::link_inode(ns.as_os_str().as_encoded_bytes()))
                .unwrap_or(0);
            let mut table = if ns.is_some() && ns == own_ns {
                self.ours(proc_root, &dir.join("net"))?
            } else {
                self.theirs(proc_root, *pid, ns)?
            };
            table.netns = Arc::new(Netns {
                inode,
                name: names.get(&inode).cloned(),
            });
            tables.push(table);
        }
        Ok(tables)
    }

    /// `--all-netns`: ours, then every other namespace, each read as `place` reads it.
    /// One that cannot be read at all is left out, and said once, with why.
    fn every_netns(&mut self, proc_root: &Path) -> Result<Vec<Table>> {
        let own = netns::own_inode(proc_root);
        let places = netns::all(proc_root, is_live(proc_root));
        if is_live(proc_root) {
            self.dump_in_parallel(proc_root, &places, own);
        }
        let mut tables = Vec::with_capacity(places.len());
        let mut unreadable = Vec::new();
        for place in &places {
            let table = if place.netns.inode == own {
                Ok(self.ours(proc_root, &proc_root.join("net"))?)
            } else {
                self.place(proc_root, place)
            };
            match table {
                Ok(mut table) => {
                    table.netns = place.netns.clone();
                    tables.push(table);
                }
                Err(why) => unreadable.push(format!("{} ({why})", place.netns.label())),
            }
        }
        if places.is_empty() {
            // No process's namespace is readable (a tree without ns links): ours alone.
            let mut table = self.ours(proc_root, &proc_root.join("net"))?;
            table.netns = Arc::new(Netns {
                inode: own,
                name: None,
            });
            tables.push(table);
        }
        // Namespaces that are gone take their sock_diag sockets with them.
        let keep: HashSet<PathBuf> = places.iter().map(|p| ns_key(p.netns.inode)).collect();
        self.elsewhere.retain(|ns, _| keep.contains(ns));
        if !unreadable.is_empty() {
            self.warnings.push(format!(
                "{} network namespace(s) unreadable, their sockets not listed: {}",
                unreadable.len(),
                unreadable.join("; ")
            ));
        }
        Ok(tables)
    }

    /// The table of a namespace other than ours: netlink opened inside it, else the
    /// /proc/<pid>/net of a process in it (with a warning); Err says why neither works.
    fn place(&mut self, proc_root: &Path, place: &netns::Place) -> Result<Table, String> {
        let mut why = String::from("no process is in it to read its /proc/<pid>/net");
        let net_dir = place
            .pid
            .map(|pid| proc_root.join(pid.to_string()).join("net"));
        if is_live(proc_root) && self.tables != Tables::Proc {
            let present = || parallel::present_in(proc_root, place.pid, place.netns.inode);
            match self.dump_in(ns_key(place.netns.inode), &place.ns_file, present) {
                Ok((dump, more)) => {
                    let table = Table::netlink(dump);
                    // The other families' /proc tables need a process in it.
                    return Ok(match &net_dir {
                        Some(dir) => table.with_proc_families(dir, &more, false, self),
                        None => table,
                    });
                }
                Err(e) if self.tables == Tables::Netlink => {
                    return Err(format!("--source netlink: {e}"));
                }
                Err(e) => why = e,
            }
        }
        let Some(pid) = place.pid else {
            return Err(why);
        };
        let net_dir = proc_root.join(pid.to_string()).join("net");
        let mut warnings = Vec::new();
        let table = Table::proc(&net_dir, &self.selection, &mut warnings)
            .map_err(|e| format!("{why}; /proc/{pid}/net: {e:#}"))?;
        if is_live(proc_root) && self.tables != Tables::Proc {
            self.warnings.push(format!(
                "network namespace {} cannot be read through netlink ({why}); its \
                 /proc/{pid}/net is read instead, without tcp_info, timers and unix peers",
                place.netns.label()
            ));
        }
        self.warnings.append(&mut warnings);
        let table = table.with_proc_families(&net_dir, &ProcTable::ALL, false, self);
        Ok(table)
    }

    /// The table of pid's network namespace, not ours: a sock_diag socket opened
    /// inside it (kept for the next snapshot), else its /proc/<pid>/net, with a warning.
    fn theirs(&mut self, proc_root: &Path, pid: u32, ns: Option<PathBuf>) -> Result<Table> {
        let dir = proc_root.join(pid.to_string());
        let net_dir = dir.join("net");
        if !is_live(proc_root) || self.tables == Tables::Proc {
            return self.proc_with_families(&net_dir, false);
        }
        let dumped = match ns {
            None => Err("its ns/net link is unreadable, so its namespace is unknown".into()),
            Some(ns) => {
                let inode = netns::link_inode(ns.as_os_str().as_encoded_bytes()).unwrap_or(0);
                let present = || parallel::present_in(proc_root, Some(pid), inode);
                self.dump_in(ns, &dir.join("ns/net"), present)
            }
        };
        let why = match dumped {
            Ok((dump, more)) => {
                let table = Table::netlink(dump);
                return Ok(table.with_proc_families(&net_dir, &more, false, self));
            }
            Err(why) => why,
        };
        if self.tables == Tables::Netlink {
            bail!("--source netlink: cannot read pid {pid}'s network namespace: {why}");
        }
        self.warnings.push(format!(
            "pid {pid}'s network namespace cannot be read through netlink ({why}); its \
             /proc/{pid}/net is read instead, without tcp_info, timers and unix peers"
        ));
        self.proc_with_families(&net_dir, false)
    }

    /// A /proc net directory's tables, the other families' included.
    fn proc_with_families(&mut self, net_dir: &Path, ours: bool) -> Result<Table> {
        let table = Table::proc(net_dir, &self.selection, &mut self.warnings)?;
        Ok(table.with_proc_families(net_dir, &ProcTable::ALL, ours, self))
    }

    /// A dump of the namespace `ns` (its link text) through the socket kept for it,
    /// opened from `ns_file` the first time. A failure is kept, and not tried again.
    /// With it, the /proc tables to read beside it (see `Netlink::proc_tables`).
    /// A dump taken already (`dumped`) is used instead of a new one.
    /// `present` says which families to dump (read only when a dump is taken here).
    fn dump_in(
        &mut self,
        ns: PathBuf,
        ns_file: &Path,
        present: impl FnOnce() -> Present,
    ) -> parallel::Dumped {
        let ready = self.dumped.remove(&ns);
        let entry = self
            .elsewhere
            .entry(ns)
            .or_insert_with(|| Netlink::open_in(ns_file).map_err(|e| format!("{e:#}")));
        let netlink = entry.as_mut().map_err(|why| why.clone())?;
        let dumped = ready.unwrap_or_else(|| parallel::dump(netlink, &self.selection, present()));
        if let Err(why) = &dumped {
            *entry = Err(why.clone());
        }
        dumped
    }

    /// Our namespace's table: netlink unless told or forced otherwise, else `net_dir`.
    fn ours(&mut self, proc_root: &Path, net_dir: &Path) -> Result<Table> {
        let try_netlink = match self.tables {
            Tables::Proc => false,
            Tables::Netlink => true,
            Tables::Auto => is_live(proc_root) && self.fallback.is_none(),
        };
        if try_netlink {
            match self.netlink_dump(Present::read(net_dir)) {
                Ok(dump) => {
                    let more = self.netlink.as_ref().map(Netlink::proc_tables);
                    let more = more.unwrap_or_default();
                    let table = Table::netlink(dump);
                    return Ok(table.with_proc_families(net_dir, &more, true, self));
                }
                Err(e) if self.tables == Tables::Netlink => {
                    return Err(e.context("--source netlink failed (try --source proc)"));
                }
                Err(e) => {
                    self.netlink = None;
                    self.fallback = Some(format!(
                        "netlink sock_diag is unavailable ({e:#}); read /proc instead, \
                         without tcp_info, timers and unix peers"
                    ));
                }
            }
        }
        self.proc_with_families(net_dir, is_live(proc_root))
    }

    /// Narrowed (`list --udp`), with many sockets left that no table read names: most
    /// are of the tables not read (unix, TCP), and asking those for their inodes alone
    /// (netlink/census.rs) costs a fraction of asking the kernel each one's protocol
    /// name (unnamed.rs). Inodes are unique across namespaces, so what the census of
    /// ours finds is no unnamed socket anywhere. Without our netlink socket, or with
    /// few left, each is named.
    fn rule_out_unread(&mut self, leftovers: &mut Vec<(u64, model::Owners)>) {
        const CENSUS_FROM: usize = 1000;
        let Some(netlink) = self.netlink.as_mut() else {
            return;
        };
        if self.selection.is_all() || leftovers.len() < CENSUS_FROM {
            return;
        }
        let mut inodes = Vec::new();
        for proto in self.selection.unread_big_tables() {
            if netlink.inodes(proto, &mut inodes).is_err() {
                return; // naming each one stays right
            }
        }
        let unread: HashSet<u64, foldhash::fast::RandomState> = inodes.into_iter().collect();
        leftovers.retain(|(inode, _)| !unread.contains(inode));
    }

    /// Our namespace's dump, of the families `present`.
    fn netlink_dump(&mut self, present: Present) -> Result<(Vec<Socket>, bool)> {
        let netlink = match &mut self.netlink {
            Some(netlink) => netlink,
            None => self
                .netlink
                .insert(Netlink::open().context("cannot open a sock_diag socket")?),
        };
        Ok((
            netlink.read_selected(&self.selection, present)?,
            netlink.unix_uids,
        ))
    }
}

impl Source for System {
    fn take_closed(&mut self) -> Vec<crate::model::Closed> {
        self.closed_log.take_closed()
    }

    fn is_live(&self) -> bool {
        is_live(&self.proc_root)
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
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
                socket.netns = Some(table.netns.clone());
                let found = match socket.proto {
                    _ if socket.inode == 0 => None,
                    Proto::Sctp => {
                        shared.push(socket.inode);
                        owners.by_inode.get(&socket.inode).cloned()
                    }
                    _ => owners.by_inode.remove(&socket.inode),
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
                    socket.uid = owner.uid;
                }
            }
        }
        for inode in shared {
            owners.by_inode.remove(&inode);
        }
        // What is left no table named: listed all the same (see unnamed.rs), when such
        // a socket can be wanted; with --pid, only theirs.
        let unnamed = if self.reader.selection.wants_unnamed() {
            let leftovers = owners.by_inode.drain().filter(|(_, holders)| {
                pids.is_none_or(|pids| holders.iter().any(|o| pids.contains(&o.pid)))
            });
            let mut leftovers = unnamed::in_namespace(&self.proc_root, &self.scope, leftovers);
            self.reader.rule_out_unread(&mut leftovers);
            unnamed::sockets(&self.proc_root, &self.reader.selection, leftovers)
        } else {
            Vec::new()
        };
        if tables.is_empty() {
            tables.push(Table::netlink((Vec::new(), false)));
        }
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
            tables[at].sockets.push(socket);
            tables[at].pairs = None;
        }
        // Emptied by the join but still its full size; peers need the room.
        drop(owners.by_inode);
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
        for mut table in tables {
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
        Ok(Snapshot {
            sockets,
            warnings,
            taken_at: SystemTime::now(),
            closed,
        })
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
                && let Some(found) = all.by_inode.get(&peer.inode)
            {
                peer.processes = found.clone();
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
