//! What the live view reads of tracking for marks and sparklines: the state bar's
//! groups (`Bucket`) and their recent counts, which sockets opened or closed at the
//! last refresh, and the states a socket passed through. The Tracker keeps the
//! history (bounded) on the collector's side; `Tracked` is what it hands the views.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::{Proto, Socket, TcpState};
use crate::track::{Event, History, Rate, StateCounts, Tracker};

use super::rows::{Row, RowRef};

/// How many refreshes of counts the sparklines look back over (2 minutes at 1 s).
pub const SAMPLES: usize = 120;

/// The state bar's groups: TCP sockets by state, UDP and unix sockets as one group each,
/// and one group for each other protocol (raw, packet, netlink, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    Tcp(TcpState),
    Udp,
    Unix,
    /// Any protocol but TCP, UDP and unix.
    More(Proto),
}

impl Bucket {
    pub fn of(socket: &Socket) -> Bucket {
        match socket.proto {
            Proto::Tcp => Bucket::Tcp(socket.state),
            Proto::Udp => Bucket::Udp,
            Proto::Unix => Bucket::Unix,
            proto => Bucket::More(proto),
        }
    }

    /// The groups of the protocols after unix, in protocol order.
    pub fn more() -> impl Iterator<Item = Bucket> {
        Proto::ALL
            .into_iter()
            .filter(|p| !matches!(p, Proto::Tcp | Proto::Udp | Proto::Unix))
            .map(Bucket::More)
    }

    pub fn label(self) -> &'static str {
        match self {
            Bucket::Tcp(state) => state.name(),
            Bucket::Udp => "UDP",
            Bucket::Unix => "UNIX",
            Bucket::More(Proto::Raw) => "RAW",
            Bucket::More(Proto::Icmp) => "ICMP",
            Bucket::More(Proto::Sctp) => "SCTP",
            Bucket::More(Proto::Mptcp) => "MPTCP",
            Bucket::More(Proto::Packet) => "PACKET",
            Bucket::More(Proto::Netlink) => "NETLINK",
            Bucket::More(Proto::Vsock) => "VSOCK",
            Bucket::More(_) => "OTHER",
        }
    }

    /// How many sockets of one snapshot's counts fall in this group.
    pub fn count_in(self, counts: &StateCounts) -> usize {
        let n = match self {
            Bucket::Tcp(state) => counts.of(Proto::Tcp, state),
            Bucket::Udp => counts.of_proto(Proto::Udp),
            Bucket::Unix => counts.of_proto(Proto::Unix),
            Bucket::More(proto) => counts.of_proto(proto),
        };
        n as usize
    }
}

/// The latest of a socket's history: its rate and how long it has been in its
/// state (12 bytes; 40 as a whole `Rate` and `Duration`).
#[derive(Clone, Copy, Debug)]
pub struct Latest {
    /// The latest rate in and out, bytes per second (NaN: none): see `rate`.
    rx: f32,
    tx: f32,
    /// How long it has been in its current state at its last sample, in ms.
    state_age_ms: u32,
}

impl Default for Latest {
    fn default() -> Latest {
        Latest {
            rx: f32::NAN,
            tx: f32::NAN,
            state_age_ms: 0,
        }
    }
}

impl Latest {
    /// The latest rate, from the last two samples with counters, as of `at` (the
    /// refresh the marks are for: a listed socket's last sample is at it).
    pub fn rate(&self, at: SystemTime) -> Option<Rate> {
        (!self.rx.is_nan()).then_some(Rate {
            at,
            rx_per_sec: f64::from(self.rx),
            tx_per_sec: f64::from(self.tx),
        })
    }

    /// How long it has been in its current state at its last sample (to the ms).
    pub fn state_age(&self) -> Duration {
        Duration::from_millis(u64::from(self.state_age_ms))
    }
}

/// What the views know of one socket's history: what the details show (see
/// `Details::seen`). The table's rows hold a `Mark` each instead, half the size.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The states it passed through, oldest first, each with when it entered it
    /// (shared with the tracker: no copy per socket per refresh).
    pub states: Arc<[(SystemTime, TcpState)]>,
    pub latest: Latest,
    /// It opened at the last refresh (those there when tracking began are not new).
    pub new: bool,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            states: Arc::new([]),
            latest: Latest::default(),
            new: false,
        }
    }
}

impl Seen {
    pub fn of(tracker: &Tracker, h: &History) -> Seen {
        let (rx, tx) = h.rate().map_or((f32::NAN, f32::NAN), |r| {
            (r.rx_per_sec as f32, r.tx_per_sec as f32)
        });
        let age_ms = h.state_age().as_millis();
        Seen {
            states: h.states.clone(),
            latest: Latest {
                rx,
                tx,
                state_age_ms: u32::try_from(age_ms).unwrap_or(u32::MAX),
            },
            new: !h.seen_from_start && Some(h.first_seen()) == tracker.last_at(),
        }
    }

    /// See `Latest::rate`.
    pub fn rate(&self, at: SystemTime) -> Option<Rate> {
        self.latest.rate(at)
    }

    /// See `Latest::state_age`.
    pub fn state_age(&self) -> Duration {
        self.latest.state_age()
    }
}

/// What the socket table reads of one socket's history, one per row, handed over
/// with each refresh: 16 bytes (3.2 MB at 100k rows in the two models alive at a
/// refresh; a whole `Seen` is 32). Its states are in `Tracked::states`, kept once
/// for all the rows that passed through the same ones at the same times: most rows
/// (those seen in one state since one refresh).
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    pub latest: Latest,
    /// Its states' index in `Tracked::states`, and in the top bit whether it is new
    /// (see `Seen::new`).
    states: u32,
}

/// The bit of `Mark::states` that says the socket is new.
const NEW_BIT: u32 = 1 << 31;

impl Mark {
    /// It opened at the last refresh: see `Seen::new`.
    pub fn is_new(&self) -> bool {
        self.states & NEW_BIT != 0
    }

    fn states(&self) -> usize {
        (self.states & !NEW_BIT) as usize
    }
}

/// Makes the marks of one refresh: each row's `Seen` as a `Mark`, and the distinct
/// states they passed through, each kept once (`Tracked::states`).
#[derive(Debug, Default)]
pub struct Marking {
    states: Vec<Arc<[(SystemTime, TcpState)]>>,
    index: HashMap<Arc<[(SystemTime, TcpState)]>, u32, foldhash::fast::RandomState>,
    /// The index of the states marked last.
    last: Option<u32>,
}

impl Marking {
    pub fn mark(&mut self, seen: Seen) -> Mark {
        let Seen {
            states,
            latest,
            new,
        } = seen;
        // Rows in display order go mostly by state: most often the states of the row
        // before, found without a lookup.
        let i = match self.last {
            Some(last) if *self.states[last as usize] == *states => last,
            _ => *self.index.entry(states).or_insert_with_key(|states| {
                self.states.push(states.clone());
                (self.states.len() - 1) as u32
            }),
        };
        self.last = Some(i);
        debug_assert!(i < NEW_BIT, "fewer than 2^31 rows");
        Mark {
            latest,
            states: i | if new { NEW_BIT } else { 0 },
        }
    }

    /// The distinct states marked, by their index in the marks.
    pub fn into_states(self) -> Vec<Arc<[(SystemTime, TcpState)]>> {
        self.states
    }
}

/// What the views read of tracking at one refresh, made on the collector's side
/// (`prepare`): one `Mark` per row, the events log, the recent counts.
#[derive(Clone, Debug, Default)]
pub struct Tracked {
    /// One per socket of the snapshot, in its order.
    pub live: Vec<Mark>,
    /// One per vanished socket, in its order.
    pub gone: Vec<Mark>,
    /// The states the rows passed through, each distinct one once (`Mark::states`).
    pub states: Vec<Arc<[(SystemTime, TcpState)]>>,
    /// Oldest first, at most `TrackConfig::events_cap`.
    pub events: Arc<VecDeque<Event>>,
    /// The last `SAMPLES`, oldest first.
    pub state_counts: Vec<StateCounts>,
    /// Snapshots observed so far.
    pub snapshots_seen: u64,
    /// Sockets live at the last snapshot.
    pub live_count: usize,
    /// When the snapshot the marks are for was taken.
    pub at: Option<SystemTime>,
    /// The source gives tcp_info (netlink): rates can be known.
    pub counted: bool,
    /// The snapshot keeps tcp_info for the details' socket only (`Preparer::live`).
    pub details_only: bool,
}

impl Tracked {
    /// The row's latest rate, if the tracker has one.
    pub fn rate(&self, row: RowRef) -> Option<Rate> {
        self.mark(row)?.latest.rate(self.at?)
    }

    pub fn mark(&self, row: RowRef) -> Option<&Mark> {
        match row.get() {
            Row::Live(i) => self.live.get(i),
            Row::Gone(i) => self.gone.get(i),
        }
    }

    /// All that is known of the row's history (for the details).
    pub fn seen(&self, row: RowRef) -> Option<Seen> {
        let mark = self.mark(row)?;
        Some(Seen {
            states: self.states.get(mark.states()).cloned().unwrap_or_default(),
            latest: mark.latest,
            new: mark.is_new(),
        })
    }
}

/// The counts of `bucket` over the last `SAMPLES` refreshes, oldest first.
pub fn counts(tracked: &Tracked, bucket: Bucket) -> Vec<usize> {
    let all = &tracked.state_counts;
    let recent = all.iter().skip(all.len().saturating_sub(SAMPLES));
    recent.map(|c| bucket.count_in(c)).collect()
}

/// Whether `bucket` had any socket in the last `SAMPLES` refreshes.
pub fn had_any(tracked: &Tracked, bucket: Bucket) -> bool {
    let all = &tracked.state_counts;
    let recent = all.iter().skip(all.len().saturating_sub(SAMPLES));
    recent.into_iter().any(|c| bucket.count_in(c) > 0)
}

/// The sockets that closed at the last refresh, as last seen: shown dimmed once.
pub fn vanished(tracker: &Tracker) -> Vec<Socket> {
    let mut gone: Vec<Socket> = tracker
        .closed_at_last()
        .map(|h| h.socket().clone())
        .collect();
    // In the order they closed; the table sorts them, this keeps ties stable.
    gone.sort_by(|a, b| a.display_order(b));
    // A key closed twice in one refresh (the closed log, then the diff) shows once.
    gone.dedup_by(|a, b| a.key() == b.key());
    gone
}

#[cfg(test)]
mod tests;
