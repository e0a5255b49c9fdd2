//! Performing one action and saying how it ended, in words a user can act on.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::io::Errno;

use super::{Caller, Outcome, ProcessTarget, Signal};
use crate::collect::netlink::destroy::Destroyer;
use crate::collect::process::Process;
use crate::collect::{PROC, netns};
use crate::model::Socket;

/// How far apart the snapshot's clock and the process's start time (from uptime and
/// clock ticks, to a hundredth of a second) may be before it counts as a younger process.
const CLOCK_SLACK: Duration = Duration::from_secs(1);

/// Sends `signal` to `target` if it is still the process the snapshot showed, and the
/// caller may signal it.
pub fn signal(target: &ProcessTarget, signal: Signal, caller: &Caller) -> Outcome {
    if let Some(why) = caller.refuses_signal(target.pid, target.uid) {
        return Outcome::Refused(why);
    }
    let process = match Process::open(target.pid) {
        Ok(process) => process,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Outcome::Gone("the process is gone".into());
        }
        Err(e) => return Outcome::Failed(format!("cannot read the process: {e}")),
    };
    let started = SystemTime::now().checked_sub(process.age);
    let younger = started.is_some_and(|at| at > target.seen_at + CLOCK_SLACK);
    if process.comm != *target.comm || younger {
        return Outcome::Gone(format!(
            "the process is gone (pid {} is now another process, left alone)",
            target.pid
        ));
    }
    if !caller.may_signal(process.real_uid, process.effective_uid) {
        return Outcome::Refused(super::not_yours(
            "process",
            process.effective_uid,
            caller.uid,
        ));
    }
    match process.signal(signal.number()) {
        Ok(()) => Outcome::Done,
        Err(e) => match Errno::from_io_error(&e) {
            Some(Errno::SRCH) => Outcome::Gone("the process is gone".into()),
            Some(Errno::PERM) => Outcome::Failed(
                "permission denied: it runs as another user (run as root, or as that user)".into(),
            ),
            _ => Outcome::Failed(format!("cannot signal it: {e}")),
        },
    }
}

/// One destroyer per network namespace, each opened on first use and kept: a netlink
/// socket reaches only the sockets of the namespace it was made in.
#[derive(Default)]
pub struct Destroyers {
    by_netns: HashMap<u64, Destroyer>,
}

impl Destroyers {
    /// The destroyer for `socket`'s namespace: ours, or one made inside the other.
    fn for_socket(&mut self, socket: &Socket) -> Result<&mut Destroyer, String> {
        let proc = Path::new(PROC);
        let own = netns::own_inode(proc);
        let netns = socket
            .netns
            .as_deref()
            .filter(|n| n.inode != own && n.inode != 0);
        let key = netns.map_or(own, |n| n.inode);
        if self.by_netns.contains_key(&key) {
            return Ok(self.by_netns.get_mut(&key).expect("just checked"));
        }
        let opened = match netns {
            None => Destroyer::open(),
            Some(netns) => {
                let pids = socket.processes.iter().map(|o| o.pid);
                let Some(file) = netns::file_of(proc, netns, pids) else {
                    return Err(format!(
                        "its network namespace ({}) is gone, or no process is left in it",
                        netns.label()
                    ));
                };
                Destroyer::open_in(&file)
            }
        };
        match opened {
            Ok(destroyer) => Ok(self.by_netns.entry(key).or_insert(destroyer)),
            Err(e) => Err(format!(
                "cannot open a sock_diag socket in its namespace: {e}"
            )),
        }
    }
}

/// Destroys `socket` in the kernel, in its own network namespace, if the caller may
/// close it.
pub fn close(socket: &Socket, caller: &Caller, destroyers: &mut Destroyers) -> Outcome {
    if let Some(why) = caller.refuses_close(socket) {
        return Outcome::Refused(why);
    }
    let netlink = match destroyers.for_socket(socket) {
        Ok(netlink) => netlink,
        Err(why) => return Outcome::Failed(why),
    };
    match netlink.destroy(socket) {
        Ok(()) => Outcome::Done,
        Err(e) => match Errno::from_io_error(&e) {
            // Also a new socket on the same endpoints (another cookie), left alone.
            Some(Errno::NOENT) => Outcome::Gone("the socket is already gone".into()),
            Some(Errno::STALE) => Outcome::Gone(
                "the socket is already gone (a new one has its endpoints, left alone)".into(),
            ),
            Some(Errno::PERM | Errno::ACCESS) => Outcome::Failed(
                "permission denied: closing a socket needs CAP_NET_ADMIN (run as root)".into(),
            ),
            Some(Errno::OPNOTSUPP) => Outcome::Failed(
                "this kernel cannot close sockets (built without CONFIG_INET_DIAG_DESTROY)".into(),
            ),
            _ => Outcome::Failed(format!("the kernel refused: {e}")),
        },
    }
}
