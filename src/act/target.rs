//! Who and what an action is about, as the snapshot showed them, and the one-line
//! (escaped) descriptions the CLI, the dialogs and the events log all use.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::model::{Socket, endpoint_text};
use crate::text::escape;

/// A process to signal, as the snapshot showed it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessTarget {
    pub pid: u32,
    pub comm: Arc<str>,
    /// None when unreadable (another user's, without root) or gone.
    pub cmdline: Option<String>,
    pub uid: u32,
    pub user: Arc<str>,
    /// Sockets it holds in the whole snapshot.
    pub sockets: usize,
    /// When the snapshot was taken: the process had started by then, so a younger one
    /// with its pid is another process.
    pub seen_at: SystemTime,
}

impl ProcessTarget {
    /// "pid 4242 (nc -l 8080), user root, 2 sockets": escaped, one line.
    pub fn describe(&self) -> String {
        let name = self.cmdline.as_deref().unwrap_or(&self.comm);
        let plural = if self.sockets == 1 { "" } else { "s" };
        format!(
            "pid {} ({}), user {}, {} socket{plural}",
            self.pid,
            escape(name),
            escape(&self.user),
            self.sockets
        )
    }
}

/// The processes holding any of `matching`, in order of first appearance, each once;
/// only `pids` of them when that is not empty. `all` is the whole snapshot, where
/// their sockets are counted; `cmdline` names them.
pub fn processes_of<'a>(
    matching: impl IntoIterator<Item = &'a Socket>,
    all: &[Socket],
    pids: &[u32],
    seen_at: SystemTime,
    cmdline: impl Fn(u32, &str) -> Option<String>,
) -> Vec<ProcessTarget> {
    let mut targets: Vec<ProcessTarget> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    for owner in matching.into_iter().flat_map(|s| &s.processes) {
        if index.contains_key(&owner.pid) || (!pids.is_empty() && !pids.contains(&owner.pid)) {
            continue;
        }
        index.insert(owner.pid, targets.len());
        targets.push(ProcessTarget {
            pid: owner.pid,
            comm: owner.process.comm.clone(),
            cmdline: cmdline(owner.pid, &owner.process.comm),
            uid: owner.process.uid,
            user: owner.process.user.clone(),
            sockets: 0,
            seen_at,
        });
    }
    // One pass over the snapshot; a socket a process holds through two fds counts once.
    for socket in all {
        for (i, owner) in socket.processes.iter().enumerate() {
            let again = socket.processes[..i].iter().any(|o| o.pid == owner.pid);
            if let (false, Some(&t)) = (again, index.get(&owner.pid)) {
                targets[t].sockets += 1;
            }
        }
    }
    targets
}

/// "tcp 127.0.0.1:5000 → 127.0.0.1:8080 ESTABLISHED, held by pid 42 (nginx) user root":
/// escaped, one line.
pub fn describe_socket(socket: &Socket) -> String {
    format!(
        "{} {}, {}",
        endpoints(socket),
        socket.state.name(),
        holders(socket)
    )
}

/// "tcp 127.0.0.1:5000 → 127.0.0.1:8080", a listener's "tcp 127.0.0.1:8080" alone, a
/// unix socket's path escaped.
pub fn endpoints(socket: &Socket) -> String {
    let local = crate::text::local_text(socket);
    match socket.remote {
        Some(remote) if remote.port() != 0 => {
            format!(
                "{} {local} → {}",
                socket.proto_text(),
                endpoint_text(remote)
            )
        }
        _ => format!("{} {local}", socket.proto_text()),
    }
}

/// "held by pid 42 (nginx) user root", "held by no visible process".
pub fn holders(socket: &Socket) -> String {
    let owners: Vec<String> = socket
        .processes
        .iter()
        .map(|o| {
            format!(
                "pid {} ({}) user {}",
                o.pid,
                escape(&o.process.comm),
                escape(&o.process.user)
            )
        })
        .collect();
    if owners.is_empty() {
        "held by no visible process".into()
    } else {
        format!("held by {}", owners.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Owner, Owners, Proto, TcpState};

    fn tcp() -> Socket {
        Socket::inet(
            Proto::Tcp,
            Family::Ipv4,
            TcpState::Established,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        )
    }

    #[test]
    fn targets_once_each_counted_over_the_snapshot_and_escaped() {
        let owner = |pid: u32, comm: &str| crate::test_sockets::owner(pid, 3, comm);
        let held = |owners: Vec<Owner>| Socket {
            processes: Owners::from(owners),
            ..tcp()
        };
        let all = vec![
            held(vec![owner(10, "a\nb"), owner(11, "fork")]),
            // A dup: one socket through two fds of one process counts once.
            held(vec![owner(10, "a\nb"), owner(10, "a\nb")]),
            held(vec![owner(12, "other")]),
        ];
        let at = SystemTime::UNIX_EPOCH;
        let targets = processes_of(&all[..1], &all, &[], at, |_, _| None);
        let pids: Vec<u32> = targets.iter().map(|t| t.pid).collect();
        assert_eq!(pids, [10, 11]);
        assert_eq!(targets[0].sockets, 2);
        assert_eq!(
            targets[0].describe(),
            "pid 10 (a\\nb), user root, 2 sockets"
        );
        assert_eq!(targets[1].describe(), "pid 11 (fork), user root, 1 socket");
        let only = processes_of(&all, &all, &[12], at, |_, _| Some("x --y".into()));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].describe(), "pid 12 (x --y), user root, 1 socket");
        assert_eq!(
            describe_socket(&all[0]),
            "tcp 127.0.0.1:5000 → 127.0.0.1:80 ESTABLISHED, held by pid 10 (a\\nb) user root, \
             pid 11 (fork) user root"
        );
    }
}
