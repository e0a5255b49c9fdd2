//! Collecting a snapshot: socket tables joined with the processes that hold them.
//!
//! `Source` is what the rest of the program asks for snapshots; `System` is the real one,
//! reading a /proc tree (the host's, or a captured fixture via `--proc-root`).

pub mod kernel_counters;
pub mod owners;
pub mod proc_net;

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Result, bail};

use crate::model::{Proto, Snapshot, Socket, TcpState};
use owners::Users;

/// Anything that can produce snapshots: the system, or a fake in tests.
pub trait Source {
    fn snapshot(&mut self) -> Result<Snapshot>;
}

/// Which sockets a snapshot covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every socket in our network namespace, with every process's fds walked.
    Host,
    /// The sockets of these processes, read in each one's own network namespace, plus
    /// the ownerless TCP sockets of their services (see `Scope::keeps`).
    Pids(Vec<u32>),
}

pub const HIDDEN_OWNERS_HINT: &str = "run as root, or grant cap_sys_ptrace and cap_dac_read_search";

/// The real source: /proc under `proc_root`.
pub struct System {
    proc_root: PathBuf,
    scope: Scope,
    users: Users,
}

impl System {
    /// Fails, naming it, when a pid in the scope does not exist.
    pub fn new(proc_root: impl Into<PathBuf>, scope: Scope) -> Result<System> {
        let proc_root = proc_root.into();
        if let Scope::Pids(pids) = &scope {
            for pid in pids {
                if !proc_root.join(pid.to_string()).is_dir() {
                    bail!("no process with pid {pid}");
                }
            }
        }
        Ok(System {
            proc_root,
            scope,
            users: Users::load(),
        })
    }

    /// The socket tables: ours, or once per distinct network namespace of the pids.
    fn tables(&self) -> Result<Vec<Socket>> {
        let Scope::Pids(pids) = &self.scope else {
            return proc_net::read_all(&self.proc_root.join("net"));
        };
        let mut seen_ns = HashSet::new();
        let mut sockets = Vec::new();
        for pid in pids {
            let dir = self.proc_root.join(pid.to_string());
            // Two pids in one namespace share one table; a pid whose ns link we cannot
            // read counts as its own namespace.
            let ns = fs::read_link(dir.join("ns/net")).unwrap_or_else(|_| dir.clone());
            if seen_ns.insert(ns) {
                sockets.extend(proc_net::read_all(&dir.join("net"))?);
            }
        }
        Ok(sockets)
    }
}

impl Source for System {
    fn snapshot(&mut self) -> Result<Snapshot> {
        let pids = match &self.scope {
            Scope::Host => None,
            Scope::Pids(pids) => Some(pids.as_slice()),
        };
        let mut sockets = self.tables()?;
        let mut owners = owners::walk(&self.proc_root, pids, &self.users);
        for socket in &mut sockets {
            if socket.inode != 0
                && let Some(found) = owners.by_inode.remove(&socket.inode)
            {
                socket.processes = found;
            }
            // /proc/net/unix has no uid column; the owner's is the best we know.
            if socket.proto == Proto::Unix
                && let Some(owner) = socket.processes.first()
            {
                socket.uid = owner.uid;
            }
        }
        if let Scope::Pids(pids) = &self.scope {
            let keep = Scope::keeps(pids, &sockets);
            sockets = sockets
                .into_iter()
                .zip(keep)
                .filter_map(|(s, k)| k.then_some(s))
                .collect();
        }

        let mut warnings = Vec::new();
        if owners.unreadable > 0 {
            let hidden = sockets
                .iter()
                .filter(|s| s.inode != 0 && s.processes.is_empty())
                .count();
            if hidden > 0 {
                warnings.push(format!(
                    "owners of {hidden} sockets are hidden: {HIDDEN_OWNERS_HINT}"
                ));
            }
        }
        Ok(Snapshot {
            sockets,
            warnings,
            taken_at: SystemTime::now(),
        })
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
