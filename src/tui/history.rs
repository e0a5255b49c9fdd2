//! What the live view remembers between refreshes: which sockets are new, which just
//! vanished, the states each socket was seen in, and recent counts for the sparklines.
//! Plain data, no I/O; `App` feeds it one snapshot at a time.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::SystemTime;

use crate::model::{Proto, Snapshot, Socket, SocketKey, TcpState};

/// How many refreshes of counts the sparklines look back over (2 minutes at 1 s).
pub const SAMPLES: usize = 120;

/// The state bar's groups: TCP sockets by state, UDP and unix sockets as one group each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    Tcp(TcpState),
    Udp,
    Unix,
}

impl Bucket {
    pub fn of(socket: &Socket) -> Bucket {
        match socket.proto {
            Proto::Tcp => Bucket::Tcp(socket.state),
            Proto::Udp => Bucket::Udp,
            Proto::Unix => Bucket::Unix,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Bucket::Tcp(state) => state.name(),
            Bucket::Udp => "UDP",
            Bucket::Unix => "UNIX",
        }
    }
}

/// One state a socket was seen in, and when it was first seen in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seen {
    pub state: TcpState,
    pub at: SystemTime,
}

/// What is remembered of one socket.
#[derive(Debug)]
struct Track {
    /// Its states in the order they were seen.
    states: Vec<Seen>,
    /// The last refresh it was in.
    refresh: u64,
}

#[derive(Debug, Default)]
pub struct History {
    /// Sockets of the latest refresh and the one before (the vanished ones).
    tracks: HashMap<SocketKey, Track, foldhash::fast::RandomState>,
    /// Per bucket, the counts of the last `SAMPLES` refreshes, oldest first.
    counts: BTreeMap<Bucket, VecDeque<usize>>,
    /// Snapshots recorded, and count samples pushed (they can differ: a filter
    /// change rebuilds the counts without a new snapshot).
    recorded: u64,
    refreshes: usize,
    /// Sockets in the latest snapshot that were not in the one before.
    pub new: HashSet<SocketKey, foldhash::fast::RandomState>,
    /// Sockets in the snapshot before that are not in the latest one.
    pub vanished: Vec<Socket>,
}

impl History {
    /// Takes in `next`, given the snapshot it replaces (None for the first one: then
    /// nothing counts as new). One map lookup per socket of each: this runs on the UI
    /// thread at every refresh, 100k sockets included.
    pub fn record(&mut self, previous: Option<&Snapshot>, next: &Snapshot) {
        self.recorded += 1;
        let now = self.recorded;
        self.new.clear();
        for socket in &next.sockets {
            let key = socket.key();
            let track = match self.tracks.entry(key.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(Track {
                    states: Vec::new(),
                    refresh: 0,
                }),
            };
            if previous.is_some() && track.refresh + 1 < now {
                self.new.insert(key);
            }
            track.refresh = now;
            if track.states.last().map(|s| s.state) != Some(socket.state) {
                track.states.push(Seen {
                    state: socket.state,
                    at: next.taken_at,
                });
            }
        }
        let tracks = &self.tracks;
        self.vanished = previous.map_or_else(Vec::new, |previous| {
            let gone = |s: &&Socket| tracks.get(&s.key()).is_none_or(|t| t.refresh != now);
            previous.sockets.iter().filter(gone).cloned().collect()
        });
        // Keep the vanished for one refresh (their details stay readable), then forget
        // them, so churn does not grow memory.
        self.tracks.retain(|_, t| t.refresh + 1 >= now);
    }

    /// Appends one refresh's counts; a bucket missing from `counts` counted zero.
    pub fn push_counts(&mut self, counts: &BTreeMap<Bucket, usize>) {
        for bucket in counts.keys() {
            // A bucket seen for the first time had zero in the refreshes before.
            let history_len = self.refreshes.min(SAMPLES);
            self.counts
                .entry(*bucket)
                .or_insert_with(|| VecDeque::from(vec![0; history_len]));
        }
        for (bucket, series) in &mut self.counts {
            if series.len() == SAMPLES {
                series.pop_front();
            }
            series.push_back(counts.get(bucket).copied().unwrap_or(0));
        }
        self.refreshes += 1;
    }

    /// The states `key` was seen in, oldest first.
    pub fn seen(&self, key: &SocketKey) -> &[Seen] {
        self.tracks.get(key).map_or(&[], |t| t.states.as_slice())
    }

    /// Recent counts of `bucket`, oldest first; empty if it never had any.
    pub fn counts(&self, bucket: Bucket) -> Vec<usize> {
        self.counts
            .get(&bucket)
            .map(|series| series.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `bucket` had any socket in the recent refreshes.
    pub fn had_any(&self, bucket: Bucket) -> bool {
        self.counts
            .get(&bucket)
            .is_some_and(|series| series.iter().any(|&n| n > 0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::model::{Family, SocketType};

    fn tcp(port: u16, state: TcpState) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state,
            socket_type: SocketType::Stream,
            local: Some(([127, 0, 0, 1], port).into()),
            remote: Some(([127, 0, 0, 1], 80).into()),
            path: None,
            recv_q: 0,
            send_q: 0,
            inode: u64::from(port),
            uid: 0,
            processes: Default::default(),
            tcp_info: None,
            timer: None,
            peer_inode: None,
            peer: None,
        }
    }

    fn snap(sockets: Vec<Socket>, secs: u64) -> Snapshot {
        Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn new_vanished_and_states_seen() {
        let mut history = History::default();
        let first = snap(
            vec![tcp(1, TcpState::SynSent), tcp(2, TcpState::Established)],
            1,
        );
        history.record(None, &first);
        assert!(history.new.is_empty(), "nothing is new at the start");

        let second = snap(
            vec![tcp(1, TcpState::Established), tcp(3, TcpState::Established)],
            2,
        );
        history.record(Some(&first), &second);
        assert_eq!(
            history.new,
            [tcp(3, TcpState::Established).key()].into_iter().collect()
        );
        assert_eq!(history.vanished, vec![tcp(2, TcpState::Established)]);
        let states: Vec<_> = history.seen(&tcp(1, TcpState::Listen).key()).to_vec();
        assert_eq!(states.len(), 2);
        assert_eq!(
            (states[0].state, states[1].state),
            (TcpState::SynSent, TcpState::Established)
        );
        assert_eq!(states[1].at, UNIX_EPOCH + Duration::from_secs(2));
        // The vanished one is remembered for one refresh, then forgotten.
        assert_eq!(history.seen(&tcp(2, TcpState::Listen).key()).len(), 1);
        let third = snap(vec![tcp(1, TcpState::Established)], 3);
        history.record(Some(&second), &third);
        assert!(history.seen(&tcp(2, TcpState::Listen).key()).is_empty());

        // Back after a gap: new again.
        let fourth = snap(
            vec![tcp(1, TcpState::Established), tcp(3, TcpState::Established)],
            4,
        );
        history.record(Some(&third), &fourth);
        assert!(history.new.contains(&tcp(3, TcpState::Established).key()));
    }

    #[test]
    fn counts_line_up_when_a_bucket_first_appears() {
        let mut history = History::default();
        let udp = Bucket::Udp;
        history.push_counts(&BTreeMap::from([(Bucket::Unix, 2)]));
        history.push_counts(&BTreeMap::from([(Bucket::Unix, 2), (udp, 5)]));
        assert_eq!(history.counts(udp), vec![0, 5]);
        assert_eq!(history.counts(Bucket::Unix), vec![2, 2]);
        history.push_counts(&BTreeMap::new());
        assert_eq!(history.counts(udp), vec![0, 5, 0]);
        assert!(history.had_any(udp));
    }
}
