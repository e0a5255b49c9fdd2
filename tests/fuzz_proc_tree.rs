//! The whole /proc path end to end over generated trees: socket tables under net/ (some
//! missing, some corrupted) and processes whose fd links point at those sockets, at
//! sockets nobody lists (which are listed as `other`, with their owners), at pipes, or
//! at garbage. `System` (the library) reads each tree
//! like the real /proc, and the binary reads some through `--proc-root`.
//!
//! A valid tree must come back exactly: every row listed, and each owner a real link of
//! a real process; a corrupted one may fail, in one line, never panic. Bounded by the
//! case count (`CASES` trees).

mod common;
mod proc_text;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use proc_text::{Edits, InetRow, UnixRow, edits, inet_row, inet_text, mutate, unix_row, unix_text};
use proptest::prelude::*;
use sockscope::collect::proc_net::read_unix;
use sockscope::collect::{Scope, Source, System};
use sockscope::model::Snapshot;

const CASES: u32 = 200;
/// Every this many trees, the binary reads the tree too.
const BINARY_EVERY: usize = 25;

/// Where an fd link points.
#[derive(Clone, Debug)]
enum Link {
    /// One of the tree's listed sockets (an index into all of its rows).
    Listed(usize),
    /// A socket no table lists.
    Unlisted(u64),
    Pipe(u64),
    DevNull,
    /// `socket:[` and more digits than any inode: longer than the walk's link buffer.
    Long,
    Garbage(String),
}

fn link() -> impl Strategy<Value = Link> {
    prop_oneof![
        4 => any::<usize>().prop_map(Link::Listed),
        1 => any::<u64>().prop_map(Link::Unlisted),
        1 => any::<u64>().prop_map(Link::Pipe),
        1 => Just(Link::DevNull),
        1 => Just(Link::Long),
        1 => "[^\0]{1,80}".prop_map(Link::Garbage),
    ]
}

#[derive(Clone, Debug)]
struct Process {
    comm: String,
    /// (fd number, target); fd numbers are made unique when written.
    fds: Vec<(u32, Link)>,
}

#[derive(Clone, Debug)]
struct Tree {
    /// tcp, tcp6, udp, udp6; None: the file is missing.
    inet: [Option<Vec<InetRow>>; 4],
    unix: Option<Vec<UnixRow>>,
    /// Which table (0..5, unix last) to corrupt, and how.
    corrupt: Option<(usize, Edits)>,
    processes: Vec<Process>,
}

const INET_FILES: [(&str, bool, bool); 4] = [
    ("tcp", true, false),
    ("tcp6", true, true),
    ("udp", false, false),
    ("udp6", false, true),
];

fn rows(tcp: bool, v6: bool) -> impl Strategy<Value = Option<Vec<InetRow>>> {
    proptest::option::weighted(0.9, prop::collection::vec(inet_row(tcp, v6), 0..8))
}

fn tree() -> impl Strategy<Value = Tree> {
    let process = (
        "[a-z]{1,15}",
        prop::collection::vec((0u32..64, link()), 0..10),
    )
        .prop_map(|(comm, fds)| Process { comm, fds });
    (
        (
            rows(true, false),
            rows(true, true),
            rows(false, false),
            rows(false, true),
        ),
        proptest::option::weighted(0.9, prop::collection::vec(unix_row(), 0..8)),
        proptest::option::weighted(0.3, (0usize..5, edits())),
        prop::collection::vec(process, 0..5),
    )
        .prop_map(|((a, b, c, d), unix, corrupt, processes)| Tree {
            inet: [a, b, c, d],
            unix,
            corrupt,
            processes,
        })
}

impl Tree {
    /// Every listed socket's inode, in table order (inet tables, then unix).
    fn inodes(&self) -> Vec<u64> {
        let inet = self.inet.iter().flatten().flatten().map(|r| r.inode);
        let unix = self.unix.iter().flatten().map(|r| r.inode);
        inet.chain(unix).collect()
    }

    /// How many unix rows the reader may not believe without an owner, and have none.
    fn unowned_suspects(&self, links: &[(u32, u32, u64)]) -> usize {
        let Some(rows) = &self.unix else { return 0 };
        let mut sockets = Vec::new();
        let read = read_unix(unix_text(rows).as_bytes(), &mut sockets).unwrap();
        rows.iter()
            .filter(|r| read.unconfirmed.contains(&r.inode))
            .filter(|r| !links.iter().any(|l| l.2 == r.inode))
            .count()
    }

    fn pid(index: usize) -> u32 {
        100 + 7 * index as u32
    }

    /// Writes the tree under `root`; returns every (pid, fd, inode) socket link written.
    fn write(&self, root: &Path) -> Vec<(u32, u32, u64)> {
        let net = root.join("net");
        fs::create_dir(&net).unwrap();
        let mut tables: Vec<(&str, Option<String>)> = INET_FILES
            .iter()
            .zip(&self.inet)
            .map(|((name, _, _), rows)| (*name, rows.as_deref().map(inet_text)))
            .collect();
        tables.push(("unix", self.unix.as_deref().map(unix_text)));
        for (i, (name, text)) in tables.into_iter().enumerate() {
            let Some(text) = text else { continue };
            let bytes = match &self.corrupt {
                Some((which, edits)) if *which == i => mutate(text.as_bytes(), edits),
                _ => text.into_bytes(),
            };
            fs::write(net.join(name), bytes).unwrap();
        }

        let inodes = self.inodes();
        let mut links = Vec::new();
        for (i, process) in self.processes.iter().enumerate() {
            let pid = Tree::pid(i);
            let dir = root.join(pid.to_string());
            fs::create_dir_all(dir.join("fd")).unwrap();
            fs::create_dir_all(dir.join("ns")).unwrap();
            fs::write(dir.join("comm"), format!("{}\n", process.comm)).unwrap();
            symlink("../net", dir.join("net")).unwrap();
            symlink("net:[4026531840]", dir.join("ns/net")).unwrap();
            let mut used = HashSet::new();
            for (fd, target) in &process.fds {
                if !used.insert(*fd) {
                    continue;
                }
                let text = match target {
                    Link::Listed(_) if inodes.is_empty() => "/dev/null".to_string(),
                    Link::Listed(n) => {
                        let inode = inodes[n % inodes.len()];
                        links.push((pid, *fd, inode));
                        format!("socket:[{inode}]")
                    }
                    // Not in a table, but a socket all the same: listed as `other`.
                    Link::Unlisted(inode) => {
                        links.push((pid, *fd, *inode));
                        format!("socket:[{inode}]")
                    }
                    Link::Pipe(n) => format!("pipe:[{n}]"),
                    Link::DevNull => "/dev/null".to_string(),
                    Link::Long => format!("socket:[{}]", "9".repeat(80)),
                    Link::Garbage(text) => text.clone(),
                };
                symlink(text, dir.join("fd").join(fd.to_string())).unwrap();
            }
        }
        links
    }
}

/// Every owner reported is a socket link the tree has, with the process's comm.
fn assert_owners_are_real(snapshot: &Snapshot, tree: &Tree, links: &[(u32, u32, u64)]) {
    for s in &snapshot.sockets {
        for o in &s.processes {
            assert!(
                links.contains(&(o.pid, o.fd, s.inode)),
                "{}/fd/{} is not a link to socket {}: {links:?}",
                o.pid,
                o.fd,
                s.inode
            );
            let index = ((o.pid - 100) / 7) as usize;
            assert_eq!(&*o.process.comm, tree.processes[index].comm);
        }
    }
}

fn assert_one_line(e: &anyhow::Error) {
    let message = format!("{e:#}");
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{message:?}"
    );
}

static TREES: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn generated_proc_trees_read_back(tree in tree()) {
        let dir = tempfile::tempdir().unwrap();
        let links = tree.write(dir.path());
        let valid = tree.corrupt.is_none();

        let host = System::new(dir.path(), Scope::Host).and_then(|mut s| s.snapshot());
        match &host {
            Ok(snapshot) => {
                assert_owners_are_real(snapshot, &tree, &links);
                if valid {
                    // Unix lines that could be the rest of a name holding a newline
                    // stay only with an owner (see proc_net::ProcTables::unconfirmed);
                    // and each inode only fds name is one `other` row.
                    let dropped = tree.unowned_suspects(&links);
                    let listed: HashSet<u64> = tree.inodes().into_iter().collect();
                    let unnamed: HashSet<u64> =
                        links.iter().map(|l| l.2).filter(|i| !listed.contains(i)).collect();
                    prop_assert_eq!(
                        snapshot.sockets.len(),
                        tree.inodes().len() - dropped + unnamed.len()
                    );
                    for s in &snapshot.sockets {
                        if unnamed.contains(&s.inode) {
                            prop_assert_eq!(s.proto, sockscope::model::Proto::Other);
                        }
                    }
                    // Every link to a listed socket found its way to one (the first
                    // of that inode, should two rows share it).
                    for &(pid, fd, inode) in links.iter().filter(|l| l.2 != 0) {
                        let owned = snapshot.sockets.iter().any(|s| {
                            s.inode == inode && s.processes.iter().any(|o| (o.pid, o.fd) == (pid, fd))
                        });
                        prop_assert!(owned, "{pid}/fd/{fd} -> socket:[{inode}] lost");
                    }
                }
            }
            Err(e) => {
                prop_assert!(!valid, "a valid tree failed: {e:#}");
                assert_one_line(e);
            }
        }

        if !tree.processes.is_empty() {
            let pid = Tree::pid(0);
            match System::new(dir.path(), Scope::Pids(vec![pid])).and_then(|mut s| s.snapshot()) {
                Ok(snapshot) => {
                    assert_owners_are_real(&snapshot, &tree, &links);
                    for s in &snapshot.sockets {
                        let held = s.processes.iter().any(|o| o.pid == pid);
                        prop_assert!(held || s.inode == 0, "socket {} is not {pid}'s", s.inode);
                    }
                }
                Err(e) => {
                    prop_assert!(!valid, "a valid tree failed for --pid: {e:#}");
                    assert_one_line(&e);
                }
            }
        }

        if TREES
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(BINARY_EVERY) {
            let root = dir.path().to_str().unwrap();
            let out = common::sockscope(&["--proc-root", root, "list", "--json"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!stderr.contains("panicked"), "{}", stderr);
            if out.status.success() {
                let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
                prop_assert_eq!(all.len(), host.as_ref().map_or(0, |s| s.sockets.len()));
            } else {
                prop_assert!(!valid, "{}", stderr);
                prop_assert_eq!(stderr.lines().count(), 1, "{}", stderr);
                prop_assert!(stderr.starts_with("sockscope: "), "{}", stderr);
            }
        }
    }
}
