//! The socket tables of a snapshot: one per network namespace, read through netlink
//! (kept open across snapshots) or /proc/net, and what is worked out from a table
//! alone beside the fd walk.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::netlink::packet::InterfaceNames;
use super::netlink::{Counted, Netlink, Present, TcpInfoKept};
use super::proc_families::ProcTable;
use super::proc_net::ProcTables;
use super::{Scope, Selection, Tables, is_live, netns, parallel, peers, proc_families, proc_net};
use crate::model::{self, CounterRun, Netns, Socket};

/// One network namespace's sockets, whether its unix sockets carry their uid
/// (netlink on kernel 5.3+; /proc/net/unix has no uid column), and the unix sockets
/// from /proc that need an owner to be believed (see `ProcTables::unconfirmed`).
pub(super) struct Table {
    pub(super) netns: Arc<Netns>,
    pub(super) sockets: Vec<Socket>,
    pub(super) unix_uids: bool,
    pub(super) unconfirmed: HashSet<u64>,
    /// Who is whose peer, found beside the fd walk (see `Table::prepare`); None once
    /// sockets are added or dropped, and `peers::resolve` searches again.
    pub(super) pairs: Option<peers::Pairs>,
    /// The counters of the TCP sockets whose tcp_info was not kept (`TcpInfoKept`), by
    /// cookie: sorted by it in `prepare`.
    pub(super) counters: CounterRun,
}

impl Table {
    pub(super) fn netlink((dump, unix_uids): (Counted, bool)) -> Table {
        Table {
            netns: Arc::default(),
            sockets: dump.sockets,
            unix_uids,
            unconfirmed: HashSet::new(),
            pairs: None,
            counters: dump.counters,
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
            counters: CounterRun::default(),
        })
    }

    /// What needs only the table, done while the fd walk still runs: each socket
    /// given the table's namespace, sorted in `list`'s order when `sort` (so `list`
    /// sorts nothing after the walk), and the peers paired, which leaves copying their
    /// owners for after the join.
    pub(super) fn prepare(&mut self, sort: bool) {
        for socket in &mut self.sockets {
            socket.netns = Some(self.netns.clone());
        }
        if sort {
            model::sort_in_display_order(&mut self.sockets);
        }
        self.pairs = Some(peers::pairs(&self.sockets));
        // For `CounterTable::add`, which would sort them after the walk.
        self.counters.sort();
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
pub(super) fn ns_key(inode: u64) -> PathBuf {
    PathBuf::from(format!("net:[{inode}]"))
}

/// Reads the socket tables, keeping the netlink socket open across snapshots.
pub(super) struct TableReader {
    pub(super) tables: Tables,
    pub(super) netlink: Option<Netlink>,
    /// Why `Auto` gave up on netlink; from then on /proc is read, and this is warned.
    pub(super) fallback: Option<String>,
    /// Sock_diag sockets opened inside other network namespaces (`--pid` of a
    /// process in a container), by the namespace's link text; Err: why not, so /proc
    /// is read there instead (and it is not tried again).
    pub(super) elsewhere: HashMap<PathBuf, Result<Netlink, String>>,
    /// `--all-netns`: the other namespaces' dumps, taken side by side before they are
    /// read in order (see parallel.rs); `dump_in` takes them from here.
    pub(super) dumped: HashMap<PathBuf, parallel::Dumped>,
    /// This read's warnings: skipped lines, namespaces read from /proc.
    pub(super) warnings: Vec<String>,
    /// Which tables are read.
    pub(super) selection: Selection,
    /// How much of the tcp_info the dumps keep (`Source::snapshot_counted`).
    pub(super) kept: TcpInfoKept,
}

impl TableReader {
    /// One table per distinct network namespace: ours (netlink or /proc/net), and for
    /// pids in other namespaces, theirs: netlink opened inside it where we may enter
    /// it, else their /proc/<pid>/net.
    pub(super) fn read(&mut self, proc_root: &Path, scope: &Scope) -> Result<Vec<Table>> {
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
        let dumped = ready
            .unwrap_or_else(|| parallel::dump(netlink, &self.selection, &self.kept, present()));
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
    pub(super) fn rule_out_unread(&mut self, leftovers: &mut Vec<(u64, model::Owners)>) {
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
    fn netlink_dump(&mut self, present: Present) -> Result<(Counted, bool)> {
        let netlink = match &mut self.netlink {
            Some(netlink) => netlink,
            None => self
                .netlink
                .insert(Netlink::open().context("cannot open a sock_diag socket")?),
        };
        Ok((
            netlink.read_kept(&self.selection, present, &self.kept)?,
            netlink.unix_uids,
        ))
    }
}
