//! The processes view grouped (`c`): a row per container, and for processes in no
//! container, a row per network namespace; each with its processes and sockets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{Container, Netns, Proto, Socket, TcpState};

/// Where a group of processes runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Container(Arc<Container>),
    /// Processes in no container, by the namespace of their sockets (None: unknown).
    Netns(Option<Arc<Netns>>),
}

impl Place {
    /// What the filter bar selects this group's sockets by: `container:ID` or
    /// `netns:INODE` (see query.rs); None when the namespace is unknown.
    pub fn filter_term(&self) -> Option<String> {
        match self {
            Place::Container(c) => Some(format!("container:{}", c.id)),
            Place::Netns(n) => n.as_ref().map(|n| format!("netns:{}", n.inode)),
        }
    }

    /// Identifies the group: a container by runtime and id, a namespace by inode.
    fn key(&self) -> (u8, String) {
        match self {
            Place::Container(c) => (0, format!("{}/{}", c.runtime, c.id)),
            Place::Netns(n) => (1, n.as_ref().map_or(0, |n| n.inode).to_string()),
        }
    }
}

/// One row of the grouped processes view.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    pub place: Place,
    /// Distinct processes of the group holding any shown socket.
    pub processes: usize,
    /// Shown sockets its processes hold, each counted once however many of them do.
    pub sockets: usize,
    /// Those sockets per state, in the order a connection lives through.
    pub states: BTreeMap<TcpState, usize>,
    /// Ports they listen on: TCP LISTEN and bound unconnected UDP.
    pub listening: BTreeSet<(Proto, u16)>,
}

/// One row per container and per namespace (of processes in no container) among the
/// owners of `sockets`; most sockets first, then containers before namespaces.
pub fn groups<'a>(sockets: impl Iterator<Item = &'a Socket>) -> Vec<GroupRow> {
    let mut by_key: HashMap<(u8, String), (GroupRow, HashSet<u32>)> = HashMap::new();
    for socket in sockets {
        // The groups of this socket's holders, each once.
        let mut places: Vec<Place> = Vec::new();
        for owner in &socket.processes {
            let place = match &owner.process.container {
                Some(c) => Place::Container(c.clone()),
                None => Place::Netns(socket.netns.clone()),
            };
            let key = place.key();
            let (row, pids) = by_key.entry(key).or_insert_with(|| {
                let row = GroupRow {
                    place: place.clone(),
                    processes: 0,
                    sockets: 0,
                    states: BTreeMap::new(),
                    listening: BTreeSet::new(),
                };
                (row, HashSet::new())
            });
            pids.insert(owner.pid);
            if places.contains(&place) {
                continue;
            }
            places.push(place);
            row.sockets += 1;
            *row.states.entry(socket.state).or_default() += 1;
            if super::listens(socket)
                && let Some(local) = socket.local
            {
                row.listening.insert((socket.proto, local.port()));
            }
        }
    }
    let mut rows: Vec<GroupRow> = by_key
        .into_values()
        .map(|(mut row, pids)| {
            row.processes = pids.len();
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.sockets
            .cmp(&a.sockets)
            .then(a.place.key().cmp(&b.place.key()))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Owner, ProcessInfo};

    fn owner(pid: u32, container: Option<&Arc<Container>>) -> Owner {
        Owner {
            pid,
            fd: 3,
            process: Arc::new(ProcessInfo {
                comm: Arc::from("app"),
                uid: 0,
                user: Arc::from("root"),
                container: container.cloned(),
            }),
        }
    }

    #[test]
    fn containers_and_namespaces_count_processes_and_sockets_once() {
        let web = Arc::new(Container {
            runtime: "docker",
            id: "4f1c0a9d3e5b".repeat(5) + "abcd",
            name: Some("web".into()),
            pod: None,
        });
        let host = Some(Arc::new(Netns {
            inode: 1,
            name: None,
        }));
        let socket = |state, local: &str, owners: Vec<Owner>| Socket {
            processes: owners.into(),
            netns: host.clone(),
            ..Socket::inet(
                Proto::Tcp,
                Family::Ipv4,
                state,
                local.parse().unwrap(),
                "0.0.0.0:0".parse().unwrap(),
            )
        };
        let sockets = [
            // One listener shared by a master and its worker: one socket, two processes.
            socket(
                TcpState::Listen,
                "0.0.0.0:80",
                vec![owner(10, Some(&web)), owner(11, Some(&web))],
            ),
            socket(
                TcpState::Established,
                "10.0.0.2:80",
                vec![owner(11, Some(&web))],
            ),
            socket(
                TcpState::Established,
                "127.0.0.1:5000",
                vec![owner(1, None)],
            ),
            // Nobody's: in no group.
            socket(TcpState::TimeWait, "127.0.0.1:5001", vec![]),
        ];
        let rows = groups(sockets.iter());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].place, Place::Container(web.clone()));
        assert_eq!((rows[0].processes, rows[0].sockets), (2, 2));
        assert_eq!(rows[0].listening, BTreeSet::from([(Proto::Tcp, 80)]));
        assert_eq!(
            rows[0].states,
            BTreeMap::from([(TcpState::Established, 1), (TcpState::Listen, 1)])
        );
        assert_eq!(rows[1].place, Place::Netns(host.clone()));
        assert_eq!((rows[1].processes, rows[1].sockets), (1, 1));
        assert_eq!(
            rows[0].place.filter_term().unwrap(),
            format!("container:{}", web.id)
        );
        assert_eq!(rows[1].place.filter_term().unwrap(), "netns:1");
    }
}
