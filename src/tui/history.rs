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
    /// Its `Latest`.
    rx: f32,
    tx: f32,
    state_age_ms: u32,
    /// It opened at the last refresh (those there when tracking began are not new).
    pub new: bool,
}

impl Default for Seen {
    fn default() -> Seen {
        let Latest {
            rx,
            tx,
            state_age_ms,
        } = Latest::default();
        Seen {
            states: Arc::new([]),
            rx,
            tx,
            state_age_ms,
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
            rx,
            tx,
            state_age_ms: u32::try_from(age_ms).unwrap_or(u32::MAX),
            new: !h.seen_from_start && Some(h.first_seen()) == tracker.last_at(),
        }
    }

    pub fn latest(&self) -> Latest {
        Latest {
            rx: self.rx,
            tx: self.tx,
            state_age_ms: self.state_age_ms,
        }
    }

    /// See `Latest::rate`.
    pub fn rate(&self, at: SystemTime) -> Option<Rate> {
        self.latest().rate(at)
    }

    /// See `Latest::state_age`.
    pub fn state_age(&self) -> Duration {
        self.latest().state_age()
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
        let latest = seen.latest();
        let (states, new) = (seen.states, seen.new);
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
        let Latest {
            rx,
            tx,
            state_age_ms,
        } = mark.latest;
        Some(Seen {
            states: self.states.get(mark.states()).cloned().unwrap_or_default(),
            rx,
            tx,
            state_age_ms,
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
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::model::Snapshot;
    use crate::test_sockets::{self, Build};
    use crate::track::TrackConfig;

    fn tcp(port: u16, state: TcpState) -> Socket {
        let local = format!("127.0.0.1:{port}");
        test_sockets::tcp(&local, "127.0.0.1:80", state).inode(u64::from(port))
    }

    fn observe(tracker: &mut Tracker, sockets: Vec<Socket>, secs: u64) {
        tracker.observe(&Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: UNIX_EPOCH + Duration::from_secs(secs),
            closed: Vec::new(),
        });
    }

    fn seen(t: &Tracker, socket: &Socket) -> Seen {
        Seen::of(t, t.get(&socket.key()).expect("tracked"))
    }

    fn is_new(t: &Tracker, socket: &Socket) -> bool {
        seen(t, socket).new
    }

    fn tracked(t: &Tracker) -> Tracked {
        Tracked {
            state_counts: t.state_counts().iter().cloned().collect(),
            ..Tracked::default()
        }
    }

    #[test]
    fn a_rows_marks_stay_small_and_read_back() {
        assert_eq!(
            std::mem::size_of::<Mark>(),
            16,
            "one per row, two models alive"
        );
        assert_eq!(std::mem::size_of::<Seen>(), 32, "the details' one");
        let mut t = Tracker::new(TrackConfig::default());
        let s = tcp(1, TcpState::Established);
        let counted = |n: u64| {
            let mut s = s.clone();
            s.tcp_info = Some(Box::new(crate::model::TcpInfo {
                bytes_received: 1000 * n,
                bytes_acked: 3000 * n,
                ..Default::default()
            }));
            s
        };
        observe(&mut t, vec![counted(1)], 1);
        assert_eq!(
            seen(&t, &s).rate(UNIX_EPOCH),
            None,
            "one sample: no rate yet"
        );
        observe(&mut t, vec![counted(3)], 3);
        let at = UNIX_EPOCH + Duration::from_secs(3);
        let rate = seen(&t, &s).rate(at).expect("two samples with counters");
        assert_eq!(
            (rate.at, rate.rx_per_sec, rate.tx_per_sec),
            (at, 1000.0, 3000.0)
        );
        assert_eq!(seen(&t, &s).state_age(), Duration::from_secs(2));
    }

    #[test]
    fn rows_in_the_same_states_share_them_and_read_back_as_seen() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        let mut t = Tracker::new(TrackConfig::default());
        let old: Vec<Socket> = (1..=3).map(|p| tcp(p, TcpState::Established)).collect();
        observe(&mut t, old.clone(), 1);
        let mut all = old.clone();
        all.push(tcp(4, TcpState::SynSent));
        all.push(tcp(5, TcpState::Established));
        all[2].state = TcpState::CloseWait;
        observe(&mut t, all.clone(), 2);

        let mut marking = Marking::default();
        // Not in display order: the lookup, not only the row before, finds them.
        let order = [0, 3, 1, 4, 2];
        let marks: Vec<Mark> = order
            .iter()
            .map(|&i| marking.mark(seen(&t, &all[i])))
            .collect();
        let tracked = Tracked {
            live: marks,
            states: marking.into_states(),
            at: Some(at(2)),
            ..Tracked::default()
        };
        let distinct: Vec<Vec<TcpState>> = tracked
            .states
            .iter()
            .map(|s| s.iter().map(|(_, state)| *state).collect())
            .collect();
        use TcpState::*;
        assert_eq!(
            distinct,
            [
                vec![Established],
                vec![SynSent],
                vec![Established],
                vec![Established, CloseWait]
            ],
            "port 5 opened at 2: its own"
        );
        let states = |row: usize| tracked.live[row].states();
        assert_eq!(states(0), states(2), "ports 1 and 2 share theirs");
        for (row, &i) in order.iter().enumerate() {
            let want = seen(&t, &all[i]);
            let got = tracked.seen(RowRef::live(row)).expect("a row");
            assert_eq!(got.states, want.states, "port {}", i + 1);
            assert_eq!(got.new, want.new, "port {}", i + 1);
            assert_eq!(got.state_age(), want.state_age());
            assert_eq!(tracked.mark(RowRef::live(row)).unwrap().is_new(), want.new);
        }
        assert!(
            tracked.seen(RowRef::live(3)).unwrap().new,
            "port 4 opened at 2"
        );
        assert!(tracked.seen(RowRef::live(5)).is_none(), "no such row");
        assert!(tracked.seen(RowRef::gone(0)).is_none(), "none gone");
    }

    #[test]
    fn new_vanished_and_states_seen() {
        let mut t = Tracker::new(TrackConfig::default());
        let first = vec![tcp(1, TcpState::SynSent), tcp(2, TcpState::Established)];
        observe(&mut t, first, 1);
        assert!(!is_new(&t, &tcp(1, TcpState::SynSent)), "not at start");

        let second = vec![tcp(1, TcpState::Established), tcp(3, TcpState::Established)];
        observe(&mut t, second.clone(), 2);
        assert!(is_new(&t, &tcp(3, TcpState::Established)));
        assert!(!is_new(&t, &tcp(1, TcpState::Established)));
        assert_eq!(vanished(&t), vec![tcp(2, TcpState::Established)]);
        let states: Vec<TcpState> = seen(&t, &tcp(1, TcpState::Listen))
            .states
            .iter()
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(states, [TcpState::SynSent, TcpState::Established]);

        // Vanished for one refresh only; no longer new either.
        observe(&mut t, second, 3);
        assert!(vanished(&t).is_empty());
        assert!(!is_new(&t, &tcp(3, TcpState::Established)));
    }

    #[test]
    fn vanished_are_exactly_those_closed_at_the_last_refresh() {
        let mut t = Tracker::new(TrackConfig::default());
        let all: Vec<Socket> = (1..=4).map(|p| tcp(p, TcpState::Established)).collect();
        observe(&mut t, all.clone(), 1);
        observe(&mut t, all[2..].to_vec(), 2);
        assert_eq!(vanished(&t), all[..2].to_vec());
        // One more closes; the two before are no longer news, though still remembered.
        observe(&mut t, all[3..].to_vec(), 3);
        assert_eq!(vanished(&t), all[2..3].to_vec());
        assert_eq!(t.recently_closed().count(), 3);
        // A key that reopens is live again, not vanished.
        observe(&mut t, all.clone(), 4);
        assert!(vanished(&t).is_empty());
    }

    #[test]
    fn buckets_count_by_protocol() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut udp = tcp(9, TcpState::Unconn);
        udp.proto = Proto::Udp;
        observe(&mut t, vec![tcp(1, TcpState::Listen)], 1);
        observe(&mut t, vec![tcp(1, TcpState::Listen), udp], 2);
        assert_eq!(counts(&tracked(&t), Bucket::Udp), vec![0, 1]);
        assert_eq!(
            counts(&tracked(&t), Bucket::Tcp(TcpState::Listen)),
            vec![1, 1]
        );
        assert_eq!(
            counts(&tracked(&t), Bucket::Tcp(TcpState::Unconn)),
            vec![0, 0]
        );
        assert!(had_any(&tracked(&t), Bucket::Udp));
        assert!(!had_any(&tracked(&t), Bucket::Unix));

        // Each other protocol is a group of its own.
        let mut raw = tcp(10, TcpState::Unconn);
        raw.proto = Proto::Raw;
        let mut netlink = tcp(11, TcpState::Unconn);
        netlink.proto = Proto::Netlink;
        observe(&mut t, vec![raw.clone(), raw, netlink], 3);
        assert_eq!(
            counts(&tracked(&t), Bucket::More(Proto::Raw)),
            vec![0, 0, 2]
        );
        assert_eq!(
            counts(&tracked(&t), Bucket::More(Proto::Netlink)),
            vec![0, 0, 1]
        );
        assert!(!had_any(&tracked(&t), Bucket::More(Proto::Packet)));
        let labels: Vec<&str> = Bucket::more().map(Bucket::label).collect();
        assert_eq!(
            labels,
            [
                "RAW", "ICMP", "SCTP", "MPTCP", "PACKET", "NETLINK", "VSOCK", "OTHER"
            ]
        );
    }
}
