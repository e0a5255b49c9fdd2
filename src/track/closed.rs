//! The closed-connection log joined with what tracking remembers: each socket the
//! kernel destroyed (`Snapshot::closed`) becomes a `Closed` event carrying its final
//! counters, once, and with an owner where one is known.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::observe::{event_socket, keep, push_built, push_event};
use super::{Change, Held, History, Tracker};
use crate::model::{Closed, Owners, Proto, Snapshot, Socket, SocketKey, TcpState};

/// What a destroyed socket is recognised by: it has no inode any more.
type Ends = (Proto, SocketAddr, SocketAddr);

fn ends(s: &Socket) -> Option<Ends> {
    Some((s.proto, s.local?, s.remote?))
}

impl Tracker {
    /// Runs before the snapshot diff, so a socket the log says is gone closes at the
    /// time the kernel destroyed it, with its final tcp_info, and the diff does not
    /// close it again.
    pub(super) fn observe_closed(&mut self, snapshot: &Snapshot, generation: u64) {
        if snapshot.closed.is_empty() {
            return;
        }
        // Connections the kernel still lists (TIME_WAIT outlives the full socket):
        // not closed yet; the diff closes them when they go.
        let listed: HashSet<Ends> = snapshot.sockets.iter().filter_map(ends).collect();
        let mut known: HashMap<Ends, SocketKey> = self
            .sockets
            .values()
            .filter_map(|h| Some((ends(h.socket())?, h.socket().key())))
            .collect();
        let listeners = Listeners::of(self.live());
        for closed in &snapshot.closed {
            let Some(e) = ends(&closed.socket) else {
                continue;
            };
            // Never bound (socket() then close()): nothing anyone could have seen.
            if e.1.port() == 0 || listed.contains(&e) {
                continue;
            }
            match known.get(&e).and_then(|key| self.sockets.get_mut(key)) {
                Some(h) if h.closed_at.is_none() => {
                    // Seen in an earlier snapshot: it closes now, as last seen, with
                    // the kernel's last word on its counters.
                    h.closed_at = Some(closed.at);
                    keep(h, &self.config);
                    let socket = h.kept_mut();
                    if closed.socket.tcp_info.is_some() {
                        socket.tcp_info.clone_from(&closed.socket.tcp_info);
                    }
                    let key = socket.key();
                    let socket = event_socket(&Change::Closed, socket);
                    self.closed_order.push_back((closed.at, key));
                    push_built(self, closed.at, Change::Closed, socket);
                }
                // Closed already (by an earlier diff); keep the final counters.
                Some(h) => {
                    keep(h, &self.config);
                    let socket = h.kept_mut();
                    if socket.tcp_info.is_none() {
                        socket.tcp_info.clone_from(&closed.socket.tcp_info);
                    }
                }
                None => {
                    let key = self.log_unseen(closed, &listeners, generation);
                    known.insert(e, key);
                }
            }
        }
    }

    /// Between snapshots (`watch`): logs at once the destroyed sockets no snapshot
    /// ever showed, which lived and died since the last one, and leaves in `closed`
    /// those tracking knows, for the next snapshot to close. (A connection whose
    /// full socket goes into TIME_WAIT is then logged closed, and its TIME_WAIT
    /// remnant, listed by the next snapshot, opens and closes on its own.)
    pub fn observe_unseen(&mut self, closed: &mut Vec<Closed>) {
        if closed.is_empty() {
            return;
        }
        let known: HashSet<Ends> = self
            .sockets
            .values()
            .filter_map(|h| ends(h.socket()))
            .collect();
        let listeners = Listeners::of(self.live());
        let mut seen = HashSet::new();
        let generation = self.generation;
        closed.retain(|c| {
            let Some(e) = ends(&c.socket) else {
                return false;
            };
            if e.1.port() == 0 || !seen.insert(e) {
                return false;
            }
            if known.contains(&e) {
                return true;
            }
            self.log_unseen(c, &listeners, generation);
            false
        });
    }

    /// A socket that lived and died between two snapshots: a closed history and its
    /// event, owned by its listener's process where there is one.
    fn log_unseen(&mut self, closed: &Closed, listeners: &Listeners, generation: u64) -> SocketKey {
        let mut socket = closed.socket.clone();
        socket.processes = listeners.owner_of(&socket);
        let key = socket.key();
        let h = unseen_history(&socket, closed, generation);
        self.sockets.insert(Box::new(h));
        self.closed_order.push_back((closed.at, key.clone()));
        push_event(self, closed.at, Change::Closed, &socket);
        key
    }
}

fn unseen_history(socket: &Socket, closed: &Closed, generation: u64) -> History {
    History {
        held: Held::Kept(Box::new(socket.clone())),
        first_seen: closed.at,
        seen_from_start: false,
        last_seen: closed.at,
        closed_at: Some(closed.at),
        states: std::sync::Arc::new([(closed.at, socket.state)]),
        samples: Default::default(),
        generation,
    }
}

/// The owners of the TCP listeners, by port: an accepted connection nobody saw was
/// held by its listener's process (after accept() it may have passed it on; this is
/// the best guess there is, and the only one made).
struct Listeners(HashMap<u16, Vec<(IpAddr, Owners)>>);

impl Listeners {
    fn of<'a>(live: impl Iterator<Item = &'a History>) -> Listeners {
        let mut by_port: HashMap<u16, Vec<(IpAddr, Owners)>> = HashMap::new();
        for h in live {
            let s = h.socket();
            if s.proto != Proto::Tcp || s.state != TcpState::Listen || s.processes.is_empty() {
                continue;
            }
            if let Some(local) = s.local {
                by_port
                    .entry(local.port())
                    .or_default()
                    .push((local.ip(), s.processes.clone()));
            }
        }
        Listeners(by_port)
    }

    /// Empty ("unknown") unless a listener on the socket's local port and address
    /// (or on every address) exists.
    fn owner_of(&self, socket: &Socket) -> Owners {
        let Some(local) = socket.local.filter(|_| socket.proto == Proto::Tcp) else {
            return Owners::default();
        };
        let ip = local.ip().to_canonical();
        self.0
            .get(&local.port())
            .and_then(|found| {
                found
                    .iter()
                    .find(|(at, _)| at.is_unspecified() || at.to_canonical() == ip)
            })
            .map(|(_, owners)| owners.clone())
            .unwrap_or_default()
    }
}
