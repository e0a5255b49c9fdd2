//! Tracking: consecutive snapshots -> events, per-socket history, state counts, rates.
//!
//! Pure: time comes from each snapshot's `taken_at`, never from the clock, so one
//! sequence of snapshots always gives one history (and tests are deterministic).
//!
//! Memory is bounded by `TrackConfig`, whatever the churn: each socket keeps at most
//! `samples_per_socket` samples and `states_per_socket` state changes; closed sockets
//! are forgotten after `keep_closed_for` (or sooner past `closed_cap`); the event log
//! and the state-count ring are capped. A listed socket's history keeps no copy of the
//! socket: it points into the snapshot that listed it last (`observe_shared` shares it
//! with the caller, the live view's model), so it costs ~100 bytes: its 96-byte slot
//! (its place, times, a few samples packed in place: see `History`) and its 4-byte
//! position in the table (states shared). A closed one keeps a copy of its socket
//! until it is forgotten.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::{Proto, Snapshot, Socket, SocketKey, TcpState};

pub use crate::model::TcpCounters;

/// The one place tracking reads tcp_info (filled by the netlink source only).
pub fn tcp_counters(socket: &Socket) -> Option<TcpCounters> {
    socket
        .tcp_info
        .as_deref()
        .map(crate::model::TcpInfo::counters)
}

#[derive(Clone, Debug)]
pub struct TrackConfig {
    pub samples_per_socket: usize,
    pub states_per_socket: usize,
    pub state_counts_len: usize,
    pub events_cap: usize,
    pub keep_closed_for: Duration,
    pub closed_cap: usize,
    /// Whether a closed history's copy of its socket keeps its tcp_info (a listed
    /// one reads it in the snapshot). Off, ~130 bytes less a closed socket, for a view
    /// that has the snapshot itself (and the counters are in the samples either way).
    /// A socket the kernel's closed log reports keeps its final tcp_info all the same.
    pub keep_tcp_info: bool,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            // A rate takes two, the queue rules three; a view that draws a longer
            // history keeps it for the socket it shows (the live view's details).
            samples_per_socket: 4,
            states_per_socket: 16,
            state_counts_len: 600,
            // Scrollback for the events view: ~40 s of a busy host's churn (50 a
            // second). Full, it is ~2 MB; a longer log takes minutes to fill, and
            // until then the view's memory keeps growing.
            events_cap: 2_000,
            // Enough for a view to show what vanished; events keep their own copies.
            keep_closed_for: Duration::from_secs(10),
            closed_cap: 10_000,
            keep_tcp_info: true,
        }
    }
}

/// One socket at one snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub at: SystemTime,
    pub recv_q: u32,
    pub send_q: u32,
    pub counters: Option<TcpCounters>,
}

/// Bytes per second between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub at: SystemTime,
    pub rx_per_sec: f64,
    pub tx_per_sec: f64,
}

/// What is known about one socket across snapshots.
///
/// Compact, as the tracker keeps one per socket (100k and more): its times are
/// `Stamp`s of 8 bytes, its samples are packed in place (`Samples`), and a closed
/// one's time of closing sits beside its own copy of the socket (only a closed one
/// has either): 96 bytes in all (`a_history_stays_small`).
#[derive(Clone, Debug)]
pub struct History {
    /// As last seen (`socket()`).
    held: Held,
    first_seen: Stamp,
    /// It was in the first snapshot: it opened before tracking began.
    pub seen_from_start: bool,
    last_seen: Stamp,
    /// The states it passed through, oldest first, with when it entered each.
    /// Shared: a view handed the histories of 100k sockets takes a reference to each,
    /// not a copy (they change only when the state does).
    pub states: Arc<[(SystemTime, TcpState)]>,
    /// Consecutive samples while seen, the newest at `last_seen` (`samples()`).
    samples: Samples,
    /// The snapshot (`Tracker::generation`, wrapped) it was last seen in: compared
    /// only with the current one, which a listed history is seen in or else closes.
    generation: u32,
}

/// Where a history's socket is: while listed, in the snapshot that listed it last,
/// shared with whoever else holds that snapshot (the live view's model), so 100k
/// tracked sockets cost no copy of 100k sockets; once closed, a copy of its own, as
/// the snapshot it was in goes.
#[derive(Clone)]
enum Held {
    Listed(Arc<Snapshot>, u32),
    Kept(Box<Kept>),
}

/// A closed history's socket and when it closed.
#[derive(Clone)]
struct Kept {
    socket: Socket,
    closed_at: SystemTime,
}

impl Held {
    fn socket(&self) -> &Socket {
        match self {
            Held::Listed(snapshot, i) => &snapshot.sockets[*i as usize],
            Held::Kept(kept) => &kept.socket,
        }
    }
}

impl std::fmt::Debug for Held {
    // The socket, not the whole snapshot it sits in.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.socket().fmt(f)
    }
}

impl History {
    /// The socket as last seen.
    pub fn socket(&self) -> &Socket {
        self.held.socket()
    }

    /// When it was first seen (by a snapshot, or the kernel's log of closed ones).
    pub fn first_seen(&self) -> SystemTime {
        self.first_seen.time()
    }

    /// When it was last seen: its newest sample's time.
    pub fn last_seen(&self) -> SystemTime {
        self.last_seen.time()
    }

    /// When it closed; `None` while listed.
    pub fn closed_at(&self) -> Option<SystemTime> {
        match &self.held {
            Held::Kept(kept) => Some(kept.closed_at),
            Held::Listed(..) => None,
        }
    }

    /// The socket of a closed history (`observe::close` made it its own); changing it
    /// must keep its key (`table::Histories`).
    fn kept_mut(&mut self) -> &mut Socket {
        match &mut self.held {
            Held::Kept(kept) => &mut kept.socket,
            Held::Listed(..) => unreachable!("kept when it closed"),
        }
    }

    /// When it entered its current state (as far as tracking knows).
    pub fn state_since(&self) -> SystemTime {
        self.states.last().map_or(self.first_seen(), |(at, _)| *at)
    }

    /// How long it has been in its current state at its last sample.
    pub fn state_age(&self) -> Duration {
        age(self.state_since(), self.last_seen())
    }

    /// Its samples, oldest first: consecutive snapshots while it was seen, at most
    /// `TrackConfig::samples_per_socket`.
    pub fn samples(
        &self,
    ) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + Clone + use<> {
        self.recent(usize::MAX)
    }

    fn newest_first(&self) -> samples::Newest<'_> {
        self.samples.newest_first(self.last_seen)
    }

    /// The latest rate, from the last two samples with counters.
    pub fn rate(&self) -> Option<Rate> {
        let mut newest = self.newest_first();
        let (b, a) = (newest.next()?, newest.next()?);
        rate_between(&a, &b)
    }

    /// Every rate the samples give, oldest first: what a sparkline draws.
    pub fn rates(&self) -> impl Iterator<Item = Rate> + use<> {
        let samples = self.samples();
        samples
            .clone()
            .zip(samples.skip(1))
            .filter_map(|(a, b)| rate_between(&a, &b))
    }

    /// The last `n` samples, oldest first (stored newest first: read, then turned).
    pub fn recent(
        &self,
        n: usize,
    ) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + Clone + use<> {
        let mut recent: Vec<Sample> = self.newest_first().take(n).collect();
        recent.reverse();
        recent.into_iter()
    }
}

fn age(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

fn rate_between(a: &Sample, b: &Sample) -> Option<Rate> {
    let (ca, cb) = (a.counters?, b.counters?);
    let secs = b.at.duration_since(a.at).ok()?.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    // A counter going back means a different socket reused the key: no rate, not a huge one.
    let per_sec = |x: u64, y: u64| y.checked_sub(x).map(|d| d as f64 / secs);
    Some(Rate {
        at: b.at,
        rx_per_sec: per_sec(ca.bytes_received, cb.bytes_received)?,
        tx_per_sec: per_sec(ca.bytes_acked, cb.bytes_acked)?,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Opened,
    Closed,
    State {
        from: TcpState,
        to: TcpState,
    },
    /// Not seen in a snapshot but done to the socket or its owner: the live view's K
    /// and X (`what`: "signal", "close"); `result` in a word ("done", "failed"), `ok`
    /// when it holds now, `text` the whole of it.
    Acted {
        what: &'static str,
        result: &'static str,
        ok: bool,
        text: Arc<str>,
    },
}

/// Something that happened between two snapshots. `socket` is the socket as seen
/// then (for `Closed`, as last seen), so the filter bar's `Query::matches` applies.
#[derive(Clone, Debug)]
pub struct Event {
    /// Counts every event ever made, so a view can ask for what is new.
    pub seq: u64,
    pub at: SystemTime,
    pub change: Change,
    /// Without its tcp_info: the log keeps thousands of these.
    pub socket: Socket,
}

/// How many sockets were in each state at one snapshot, per protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct StateCounts {
    pub at: SystemTime,
    counts: [[u32; TcpState::ALL.len()]; Proto::ALL.len()],
}

impl StateCounts {
    /// Sockets of every protocol in `state`.
    pub fn get(&self, state: TcpState) -> u32 {
        self.counts.iter().map(|c| c[state as usize]).sum()
    }

    /// Sockets of `proto` in `state`.
    pub fn of(&self, proto: Proto, state: TcpState) -> u32 {
        self.counts[proto as usize][state as usize]
    }

    /// Sockets of `proto` in any state.
    pub fn of_proto(&self, proto: Proto) -> u32 {
        self.counts[proto as usize].iter().sum()
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }
}

/// Feed it snapshots in order with `observe`; read events, histories and counts.
#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackConfig,
    /// Side by side, each found by its socket's key (`table::Histories`).
    sockets: table::Histories,
    /// Closed sockets in the order they closed, to forget the oldest first.
    /// Where they are and when they closed (a position is a history's while it is
    /// remembered; a later one there is another history, closed at another time):
    /// 16 bytes each, where a key would be 88.
    closed_order: VecDeque<(Stamp, table::Position)>,
    /// How many of the last entries of `closed_order` the last snapshot added.
    closed_last: usize,
    events: VecDeque<Event>,
    next_seq: u64,
    state_counts: VecDeque<StateCounts>,
    generation: u64,
    last_at: Option<SystemTime>,
    /// The snapshot observed last, which the live histories point into: read in its
    /// order (one pass over memory in a row) where every live socket is looked at.
    last: Option<Arc<Snapshot>>,
    /// Where the history of each socket of `last` is (`observe::UNLISTED`: a
    /// duplicate key, tracked under the first socket that has it).
    listed: Vec<table::Position>,
    /// Where the sockets of each (proto, state) are in `last`, when each is one run of
    /// them in a row, as the display order puts them; None when some are apart.
    grouped: Option<Groups>,
}

/// Each (proto, state) of a snapshot with where its sockets are, one run in a row.
type Groups = Vec<((Proto, TcpState), Range<usize>)>;

mod closed;
mod observe;
mod samples;
use samples::Samples;
mod stamp;
use stamp::Stamp;
mod table;

impl Tracker {
    pub fn new(config: TrackConfig) -> Tracker {
        Tracker {
            config,
            ..Tracker::default()
        }
    }

    /// Takes the next snapshot, reading counters through `tcp_counters`. The
    /// histories keep a copy of it; `observe_shared` shares one instead.
    pub fn observe(&mut self, snapshot: &Snapshot) {
        self.observe_shared(&Arc::new(snapshot.clone()));
    }

    /// Takes the next snapshot, held by the histories of its sockets until the next
    /// (they keep no copy of their own).
    pub fn observe_shared(&mut self, snapshot: &Arc<Snapshot>) {
        self.observe_shared_with(snapshot, tcp_counters);
    }

    pub fn get(&self, key: &SocketKey) -> Option<&History> {
        self.sockets.get(key)
    }

    /// The sockets of the last snapshot, in its order.
    pub fn live(&self) -> impl Iterator<Item = &History> + '_ {
        self.listed
            .iter()
            .filter_map(|&p| self.sockets.at(p))
            .filter(|h| h.closed_at().is_none())
    }

    /// `live`, of `proto` in `state` alone: only theirs are read where the snapshot
    /// keeps each (proto, state) together (`Tracker::grouped`). The rules ask for one
    /// state at a time, seven passes over 100k sockets a refresh otherwise.
    pub fn live_in(&self, proto: Proto, state: TcpState) -> impl Iterator<Item = &History> + '_ {
        let range = match &self.grouped {
            Some(runs) => (runs.iter())
                .find(|(of, _)| *of == (proto, state))
                .map_or(0..0, |(_, range)| range.clone()),
            None => 0..self.listed.len(),
        };
        self.listed[range]
            .iter()
            .filter_map(|&p| self.sockets.at(p))
            .filter(|h| h.closed_at().is_none())
            .filter(move |h| h.socket().proto == proto && h.socket().state == state)
    }

    /// The history of each socket of the last snapshot, in its order (a socket with
    /// the key of one before it has that one's): what a view shows beside each row,
    /// without a lookup per socket.
    pub fn listed(&self) -> impl Iterator<Item = Option<&History>> + '_ {
        let sockets = self.last.iter().flat_map(|s| &s.sockets);
        sockets.zip(&self.listed).map(|(socket, &p)| match p {
            observe::UNLISTED => self.get(&socket.key()),
            p => self.sockets.at(p),
        })
    }

    /// Sockets that closed and are not forgotten yet.
    pub fn recently_closed(&self) -> impl Iterator<Item = &History> + '_ {
        self.sockets.values().filter(|h| h.closed_at().is_some())
    }

    /// The sockets that closed at the last snapshot's time, found through the close
    /// order (a few at most), not by walking every socket remembered (100k of them).
    pub fn closed_at_last(&self) -> impl Iterator<Item = &History> + '_ {
        let skip = self.closed_order.len() - self.closed_last;
        let last = self.last_at;
        self.closed_order
            .iter()
            .skip(skip)
            .filter_map(|&(_, p)| self.sockets.at(p))
            .filter(move |h| h.closed_at().is_some() && h.closed_at() == last)
    }

    /// Every socket remembered, live or recently closed.
    pub fn tracked_len(&self) -> usize {
        self.sockets.len()
    }

    /// Logs what was done to `socket` (a `Change::Acted`) among the events.
    pub fn note(&mut self, at: SystemTime, change: Change, socket: &Socket) {
        observe::push_event(self, at, change, socket);
    }

    /// The event log, oldest first, at most `events_cap` long.
    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }

    /// Events with `seq >= seq`, oldest first.
    pub fn events_since(&self, seq: u64) -> impl Iterator<Item = &Event> + '_ {
        let skip = self.events.partition_point(|e| e.seq < seq);
        self.events.iter().skip(skip)
    }

    /// Per-state counts, one per snapshot, oldest first.
    pub fn state_counts(&self) -> &VecDeque<StateCounts> {
        &self.state_counts
    }

    /// The time of the last snapshot.
    pub fn last_at(&self) -> Option<SystemTime> {
        self.last_at
    }

    /// Snapshots observed so far (ever, not just those remembered).
    pub fn snapshots_seen(&self) -> u64 {
        self.generation
    }
}

/// TCP sockets change inode without changing connection: 0 before accept(), a real
/// inode after; a real one before close(), 0 in TIME_WAIT and orphaned FIN_WAIT.
/// They are followed by their endpoints when the inode key loses them.
/// A TCP connection's endpoints: what stays when the kernel drops its inode (into
/// TIME_WAIT, or when its owner closes it), so it can be followed to its new key.
pub fn endpoints(s: &Socket) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
    match (s.proto, s.local, s.remote) {
        (Proto::Tcp, Some(l), Some(r)) if r.port() != 0 => Some((l, r)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tracker keeps one of these per socket (100k and more in the live view):
    /// a field more is 100k times as much. Shrink what is added, or raise the figure
    /// with the reason beside it.
    #[test]
    fn a_history_stays_small() {
        // Held 16, states 16, two stamps 16, samples 40 (in place: three idle
        // samples take ~27 bytes), generation and a flag 5; a slot costs no more.
        assert_eq!(size_of::<History>(), 96);
        assert_eq!(size_of::<Option<History>>(), 96);
        assert_eq!(size_of::<Samples>(), 40);
    }
}
