//! The closed-connection log joined with what tracking remembers: each socket the
//! kernel destroyed (`Snapshot::closed`) becomes a `Closed` event carrying its final
//! counters, once, and with an owner where one is known.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use super::observe::{close, event_socket, push_built, push_event};
use super::{Change, Held, History, Kept, Stamp, Tracker};
use crate::model::{Closed, Owners, Proto, Snapshot, Socket, SocketKey, TcpState};

/// What a destroyed socket is recognised by: it has no inode any more.
type Ends = (Proto, SocketAddr, SocketAddr);

/// foldhash: the log's connections are looked up once per socket listed and per
/// socket tracked (100k each at scale); the keys are endpoints, hashed with a seed of
/// the process's own, so SipHash's defence against chosen keys buys nothing here.
type Fast = foldhash::fast::RandomState;

/// The history a logged connection is, and whether it is live.
struct Known {
    key: SocketKey,
    live: bool,
}

fn ends(s: &Socket) -> Option<Ends> {
    Some((s.proto, s.local?, s.remote?))
}

impl Tracker {
    /// Runs before the snapshot diff, so a socket the log says is gone closes at the
    /// time the kernel destroyed it, with its final tcp_info, and the diff does not
    /// close it again.
    ///
    /// The log holds a few entries a refresh, the snapshot and the tracker 100k
    /// sockets each: the maps are made of the log's connections, and the snapshot and
    /// the histories are each read once against them (no map of every socket).
    pub(super) fn observe_closed(&mut self, snapshot: &Snapshot, generation: u32) {
        // Never bound (socket() then close()): nothing anyone could have seen.
        let logged = snapshot
            .closed
            .iter()
            .filter_map(|c| ends(&c.socket))
            .filter(|e| e.1.port() != 0);
        let mut wanted: HashMap<Ends, Option<Known>, Fast> = logged.map(|e| (e, None)).collect();
        // Connections the kernel still lists (TIME_WAIT outlives the full socket):
        // not closed yet; the diff closes them when they go.
        for e in snapshot.sockets.iter().filter_map(ends) {
            if wanted.is_empty() {
                return;
            }
            wanted.remove(&e);
        }
        if wanted.is_empty() {
            return;
        }
        self.find_known(&mut wanted);
        let mut listeners = None;
        for closed in &snapshot.closed {
            let Some(e) = ends(&closed.socket) else {
                continue;
            };
            let Some(known) = wanted.get(&e) else {
                continue; // listed, or never bound
            };
            let found = known.as_ref().and_then(|k| self.sockets.find(&k.key));
            match found.and_then(|p| Some((p, self.sockets.at_mut(p)?))) {
                Some((p, h)) if h.closed_at().is_none() => {
                    // Seen in an earlier snapshot: it closes now, as last seen, with
                    // the kernel's last word on its counters.
                    close(h, closed.at, &self.config);
                    let socket = h.kept_mut();
                    if closed.socket.tcp_info.is_some() {
                        socket.tcp_info.clone_from(&closed.socket.tcp_info);
                    }
                    let socket = event_socket(&Change::Closed, socket);
                    self.closed_order.push_back((Stamp::of(closed.at), p));
                    push_built(self, closed.at, Change::Closed, socket);
                }
                // Closed already (by an earlier diff); keep the final counters.
                Some((_, h)) => {
                    let socket = h.kept_mut();
                    if socket.tcp_info.is_none() {
                        socket.tcp_info.clone_from(&closed.socket.tcp_info);
                    }
                }
                None => {
                    let listeners = listeners.get_or_insert_with(|| {
                        Listeners::of(self.last.iter().flat_map(|s| &s.sockets))
                    });
                    let key = self.log_unseen(closed, listeners, generation);
                    wanted.insert(e, Some(Known { key, live: false }));
                }
            }
        }
    }

    /// The history each of `wanted`'s connections is, where tracking has one: a
    /// live one over a closed one with the same endpoints (a 4-tuple used again).
    fn find_known(&self, wanted: &mut HashMap<Ends, Option<Known>, Fast>) {
        // The live ones are the last snapshot's sockets, read in its order; the
        // closed ones are in the close order (10k at most).
        let listed = self.last.iter().flat_map(|s| &s.sockets);
        let closed = self
            .closed_order
            .iter()
            .filter_map(|&(_, p)| self.sockets.at(p));
        for socket in listed.chain(closed.map(History::socket)) {
            let Some(slot) = ends(socket).and_then(|e| wanted.get_mut(&e)) else {
                continue;
            };
            let key = socket.key();
            let Some(h) = self.get(&key) else {
                continue;
            };
            let live = h.closed_at().is_none();
            if slot.as_ref().is_none_or(|k| live && !k.live) {
                *slot = Some(Known { key, live });
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
        let mut wanted: HashMap<Ends, Option<Known>, Fast> = closed
            .iter()
            .filter_map(|c| ends(&c.socket))
            .map(|e| (e, None))
            .collect();
        self.find_known(&mut wanted);
        let mut listeners = None;
        let mut seen = HashSet::new();
        let generation = self.generation as u32; // wrapped, as `observe` does
        closed.retain(|c| {
            let Some(e) = ends(&c.socket) else {
                return false;
            };
            if e.1.port() == 0 || !seen.insert(e) {
                return false;
            }
            if wanted.get(&e).is_some_and(Option::is_some) {
                return true;
            }
            let listeners = listeners
                .get_or_insert_with(|| Listeners::of(self.last.iter().flat_map(|s| &s.sockets)));
            self.log_unseen(c, listeners, generation);
            false
        });
    }

    /// A socket that lived and died between two snapshots: a closed history and its
    /// event, owned by its listener's process where there is one.
    fn log_unseen(&mut self, closed: &Closed, listeners: &Listeners, generation: u32) -> SocketKey {
        let mut socket = closed.socket.clone();
        socket.processes = listeners.owner_of(&socket);
        let key = socket.key();
        let h = unseen_history(&socket, closed, generation);
        let p = self.sockets.insert(h);
        self.closed_order.push_back((Stamp::of(closed.at), p));
        push_event(self, closed.at, Change::Closed, &socket);
        key
    }
}

fn unseen_history(socket: &Socket, closed: &Closed, generation: u32) -> History {
    History {
        held: Held::Kept(Box::new(Kept {
            socket: socket.clone(),
            closed_at: closed.at,
        })),
        first_seen: Stamp::of(closed.at),
        seen_from_start: false,
        last_seen: Stamp::of(closed.at),
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
    /// From the sockets of the last snapshot (the live ones).
    fn of<'a>(live: impl Iterator<Item = &'a Socket>) -> Listeners {
        let mut by_port: HashMap<u16, Vec<(IpAddr, Owners)>> = HashMap::new();
        for s in live {
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
