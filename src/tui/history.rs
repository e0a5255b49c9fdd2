//! What the live view remembers between refreshes: which sockets are new, which just
//! vanished, the states each socket was seen in, and recent counts for the sparklines.
//! Plain data, no I/O; `App` feeds it one snapshot at a time.

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

#[derive(Debug, Default)]
pub struct History {
    /// Per socket, its states in the order they were seen.
    seen: HashMap<SocketKey, Vec<Seen>>,
    /// Per bucket, the counts of the last `SAMPLES` refreshes, oldest first.
    counts: BTreeMap<Bucket, VecDeque<usize>>,
    refreshes: usize,
    /// Sockets in the latest snapshot that were not in the one before.
    pub new: HashSet<SocketKey>,
    /// Sockets in the snapshot before that are not in the latest one.
    pub vanished: Vec<Socket>,
}

impl History {
    /// Takes in `next`, given the snapshot it replaces (None for the first one: then
    /// nothing counts as new).
    pub fn record(&mut self, previous: Option<&Snapshot>, next: &Snapshot) {
        let keys: HashSet<SocketKey> = next.sockets.iter().map(Socket::key).collect();
        self.new.clear();
        self.vanished.clear();
        if let Some(previous) = previous {
            let before: HashSet<SocketKey> = previous.sockets.iter().map(Socket::key).collect();
            self.new = keys.difference(&before).cloned().collect();
            self.vanished = previous
                .sockets
                .iter()
                .filter(|s| !keys.contains(&s.key()))
                .cloned()
                .collect();
        }
        for socket in &next.sockets {
            let states = self.seen.entry(socket.key()).or_default();
            if states.last().map(|s| s.state) != Some(socket.state) {
                states.push(Seen {
                    state: socket.state,
                    at: next.taken_at,
                });
            }
        }
        // Forget sockets once they are off the screen, so churn does not grow memory.
        let vanished: HashSet<SocketKey> = self.vanished.iter().map(Socket::key).collect();
        self.seen
            .retain(|key, _| keys.contains(key) || vanished.contains(key));
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
        self.seen.get(key).map_or(&[], Vec::as_slice)
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
