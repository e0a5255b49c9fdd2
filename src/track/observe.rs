//! One step of tracking: a new snapshot against what is remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::{
    Change, Event, Groups, Held, History, Kept, Sample, Stamp, StateCounts, TcpCounters, Tracker,
    endpoints, table,
};
use crate::model::{Proto, Snapshot, Socket, TcpState};

/// A history's states (`History::states`).
type States = Arc<[(SystemTime, TcpState)]>;

/// foldhash: the vanished sockets' endpoints, hashed in the process's own seed.
type Fast = foldhash::fast::RandomState;

/// In `Tracker::listed`: a socket whose key an earlier one of the snapshot has.
pub(super) const UNLISTED: table::Position = table::Position::MAX;

impl Tracker {
    /// Takes the next snapshot, reading counters through `counters` (tests pass a fake).
    /// The first snapshot makes no events: its sockets were there before tracking began.
    pub fn observe_with(
        &mut self,
        snapshot: &Snapshot,
        counters: impl Fn(&Socket) -> Option<TcpCounters>,
    ) {
        self.observe_shared_with(&Arc::new(snapshot.clone()), counters);
    }

    /// `observe_with` a snapshot the histories share (`observe_shared`).
    pub fn observe_shared_with(
        &mut self,
        shared: &Arc<Snapshot>,
        counters: impl Fn(&Socket) -> Option<TcpCounters>,
    ) {
        self.observe_counted(shared, |i| counters(&shared.sockets[i]));
    }

    /// `observe_shared_with`, the counters of the `i`th socket of the snapshot given
    /// apart from it (the live view reads them before it lets the tcp_info go).
    pub fn observe_counted(
        &mut self,
        shared: &Arc<Snapshot>,
        counters: impl Fn(usize) -> Option<TcpCounters>,
    ) {
        let snapshot = &**shared;
        let at = snapshot.taken_at;
        let first = self.last_at.is_none();
        self.generation += 1;
        let generation = self.generation as u32; // wrapped: see `History::generation`
        let queued = self.closed_order.len();
        self.observe_closed(snapshot, generation);

        // Where each socket's history is (`Tracker::listed`), filled in below.
        let before = std::mem::take(&mut self.listed);
        let mut listed = vec![UNLISTED; snapshot.sockets.len()];

        // Sockets seen before under the same key. The others are kept by index, not
        // with their sample (at the first snapshot, 100k of them: 6.4 MB).
        let mut unmatched = Vec::new();
        // Snapshots come sorted (the collector sorts in display order), so most sockets
        // come in the order the last one listed them: the history after the last one
        // found is tried first (`find_near`) and read in a row, where a hash lookup at
        // random missed the cache for nearly every one of 100k sockets. Unsorted, the
        // guess misses and the hash finds it.
        let mut next = 0;
        for (i, socket) in snapshot.sockets.iter().enumerate() {
            let guess = before.get(next).copied().unwrap_or(UNLISTED);
            let found = self.sockets.find_near(&socket.key(), guess);
            match found.and_then(|p| Some((p, self.sockets.at_mut(p)?))) {
                // A duplicate key within one snapshot (e.g. unix sockets nobody
                // accepted yet, all inode 0 and no address) is tracked once.
                Some((_, h)) if h.generation == generation => {}
                Some((p, h)) if h.closed_at().is_none() => {
                    // Not seen yet in this snapshot, so listed in the last one.
                    if let Held::Listed(_, at) = h.held {
                        next = at as usize + 1;
                    }
                    listed[i] = p;
                    let held = Held::Listed(shared.clone(), i as u32);
                    let sample = sample(socket, at, counters(i));
                    if let Some(change) = update(h, held, sample, generation, &self.config) {
                        push_event(self, at, change, socket);
                    }
                }
                _ => unmatched.push(i),
            }
        }

        // Sockets gone from their key: closed, or a TCP connection under a new inode.
        // The live ones are those the last snapshot listed.
        let vanished: Vec<_> = before
            .iter()
            .filter_map(|&p| self.sockets.at(p))
            .filter(|h| h.closed_at().is_none() && h.generation != generation)
            .map(|h| (h.socket().key(), endpoints(h.socket())))
            .collect();
        let mut by_endpoints: HashMap<_, _, Fast> = vanished
            .iter()
            .filter_map(|(key, ends)| ends.map(|e| (e, key.clone())))
            .collect();

        // The sockets new now share their one-state history, one per state: at the
        // first snapshot that is 100k slices of one entry, 4.8 MB, made a dozen.
        let mut entered: [Option<States>; TcpState::ALL.len()] = Default::default();
        self.sockets.reserve(unmatched.len());
        for i in unmatched {
            let socket = &snapshot.sockets[i];
            let sample = sample(socket, at, counters(i));
            let held = Held::Listed(shared.clone(), i as u32);
            if self
                .sockets
                .get(&socket.key())
                .is_some_and(|h| h.generation == generation)
            {
                continue; // a duplicate key, new in this snapshot
            }
            let moved = endpoints(socket)
                .and_then(|e| by_endpoints.remove(&e))
                .and_then(|old| self.sockets.remove(&old));
            let change = match moved {
                Some(mut h) => {
                    let change = update(&mut h, held, sample, generation, &self.config);
                    listed[i] = self.sockets.insert(h);
                    change
                }
                None => {
                    let states = entered[socket.state as usize]
                        .get_or_insert_with(|| Arc::new([(at, socket.state)]))
                        .clone();
                    let h = new_history(held, sample, states, first, generation);
                    listed[i] = self.sockets.insert(h);
                    (!first).then_some(Change::Opened)
                }
            };
            if let Some(change) = change {
                push_event(self, at, change, socket);
            }
        }

        for (key, _) in vanished {
            let Some(p) = self.sockets.find(&key) else {
                continue; // moved to a new key above
            };
            let h = self.sockets.at_mut(p).expect("found");
            if h.generation == generation {
                continue;
            }
            close(h, at, &self.config);
            let socket = event_socket(&Change::Closed, h.socket());
            self.closed_order.push_back((Stamp::of(at), p));
            push_built(self, at, Change::Closed, socket);
        }

        let pushed = self.closed_order.len() - queued;
        self.forget_closed(at);
        // What closed now is the back of `closed_order`: `closed_at_last` reads it
        // there instead of walking every socket remembered.
        self.closed_last = pushed.min(self.closed_order.len());
        self.count_states(snapshot);
        self.last_at = Some(at);
        self.last = Some(shared.clone());
        self.listed = listed;
    }

    fn forget_closed(&mut self, now: SystemTime) {
        while let Some(&(closed_at, p)) = self.closed_order.front() {
            let closed_at = closed_at.time();
            let expired =
                now.duration_since(closed_at).unwrap_or_default() > self.config.keep_closed_for;
            if !expired && self.closed_order.len() <= self.config.closed_cap {
                break;
            }
            // A key that reopened since (or a place used again) is someone else's
            // now; leave it.
            let gone = self.sockets.at(p);
            if let Some(key) = gone.filter(|h| h.closed_at() == Some(closed_at)) {
                let key = key.socket().key();
                self.sockets.remove(&key);
            }
            self.closed_order.pop_front();
        }
    }

    /// Counts the snapshot's sockets of each (proto, state) and notes where each is
    /// (`Tracker::grouped`), in one pass over them.
    fn count_states(&mut self, snapshot: &Snapshot) {
        let mut counts = [[0; TcpState::ALL.len()]; Proto::ALL.len()];
        let mut runs = Some(Groups::new());
        for (i, s) in snapshot.sockets.iter().enumerate() {
            counts[s.proto as usize][s.state as usize] += 1;
            runs = runs.and_then(|runs| grouped_with(runs, i, (s.proto, s.state)));
        }
        self.grouped = runs;
        while self.state_counts.len() >= self.config.state_counts_len.max(1) {
            self.state_counts.pop_front();
        }
        self.state_counts.push_back(StateCounts {
            at: snapshot.taken_at,
            counts,
        });
    }
}

/// `runs` (`Tracker::grouped`) with the `i`th socket, of `of`, added; None once some
/// (proto, state) is apart.
fn grouped_with(mut runs: Groups, i: usize, of: (Proto, TcpState)) -> Option<Groups> {
    if let Some((last, range)) = runs.last_mut()
        && *last == of
    {
        range.end = i + 1;
    } else if runs.iter().any(|(seen, _)| *seen == of) {
        return None;
    } else {
        runs.push((of, i..i + 1));
    }
    Some(runs)
}

fn sample(socket: &Socket, at: SystemTime, counters: Option<TcpCounters>) -> Sample {
    Sample {
        at,
        recv_q: socket.recv_q,
        send_q: socket.send_q,
        counters,
    }
}

fn new_history(
    held: Held,
    sample: Sample,
    states: States,
    first: bool,
    generation: u32,
) -> History {
    History {
        held,
        first_seen: Stamp::of(sample.at),
        seen_from_start: first,
        last_seen: Stamp::of(sample.at),
        states,
        samples: super::Samples::first(&sample),
        generation,
    }
}

/// A history closes `at`: it keeps its socket itself, as the snapshot it was listed
/// in goes; without its tcp_info unless `TrackConfig::keep_tcp_info`.
pub(super) fn close(h: &mut History, at: SystemTime, config: &super::TrackConfig) {
    if let Held::Listed(..) = h.held {
        let socket = h.socket();
        let socket = match config.keep_tcp_info {
            true => socket.clone(),
            false => Socket {
                tcp_info: None,
                ..socket.clone()
            },
        };
        h.held = Held::Kept(Box::new(Kept {
            socket,
            closed_at: at,
        }));
    }
}

/// Records a new sighting (`held`: the socket, where it is listed now); says how
/// the state changed, if it did.
fn update(
    h: &mut History,
    held: Held,
    sample: Sample,
    generation: u32,
    config: &super::TrackConfig,
) -> Option<Change> {
    let from = h.socket().state;
    h.generation = generation;
    h.samples
        .push(&sample, h.last_seen, config.samples_per_socket);
    h.last_seen = Stamp::of(sample.at);
    h.held = held;
    let to = h.socket().state;
    if from == to {
        return None;
    }
    // A new slice: the old one may be shared with a view (see `History::states`).
    let keep = h.states.len().min(config.states_per_socket.max(1) - 1);
    let old = &h.states[h.states.len() - keep..];
    h.states = old.iter().copied().chain([(sample.at, to)]).collect();
    Some(Change::State { from, to })
}

pub(super) fn push_event(tracker: &mut Tracker, at: SystemTime, change: Change, socket: &Socket) {
    let socket = event_socket(&change, socket);
    push_built(tracker, at, change, socket);
}

/// What an event keeps of its socket: who and where; a copy of tcp_info would
/// double its size. A closed socket keeps it: its final counters are what there is
/// to see.
pub(super) fn event_socket(change: &Change, socket: &Socket) -> Socket {
    Socket {
        tcp_info: match change {
            Change::Closed => socket.tcp_info.clone(),
            _ => None,
        },
        ..socket.clone()
    }
}

/// Logs an event whose socket is made (`event_socket`).
pub(super) fn push_built(tracker: &mut Tracker, at: SystemTime, change: Change, socket: Socket) {
    while tracker.events.len() >= tracker.config.events_cap.max(1) {
        tracker.events.pop_front();
    }
    tracker.events.push_back(Event {
        seq: tracker.next_seq,
        at,
        change,
        socket,
    });
    tracker.next_seq += 1;
}
