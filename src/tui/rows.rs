//! What the tables show: the filtered, sorted socket rows and the per-process summary.
//! Rebuilt on each snapshot, filter or sort change, never on a plain key press, so
//! moving the selection stays cheap at 100k sockets.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::{Proto, Socket, TcpState};
use crate::track::Rate;

use super::history::Bucket;

/// The column the socket table is sorted by; `s` cycles through them in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Protocol, then state, then local endpoint: the order `list` prints.
    State,
    Local,
    Remote,
    RecvQ,
    SendQ,
    /// Bytes per second in, from tcp_info (netlink); busiest first.
    RxRate,
    /// Bytes per second out (acknowledged by the peer); busiest first.
    TxRate,
    Process,
    User,
    /// In + out, busiest first: the `r` key; not in the `s` cycle.
    Rate,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::State,
        Column::Local,
        Column::Remote,
        Column::RecvQ,
        Column::SendQ,
        Column::RxRate,
        Column::TxRate,
        Column::Process,
        Column::User,
    ];

    pub fn next(self) -> Column {
        let from = if self == Column::Rate {
            Column::SendQ // so `s` goes on to RX, then TX
        } else {
            self
        };
        let i = Column::ALL.iter().position(|c| *c == from).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            Column::State => "STATE",
            Column::Local => "LOCAL",
            Column::Remote => "REMOTE",
            Column::RecvQ => "RECV-Q",
            Column::SendQ => "SEND-Q",
            Column::RxRate => "RX/s",
            Column::TxRate => "TX/s",
            Column::Process => "PROCESS",
            Column::User => "USER",
            Column::Rate => "RX+TX/s",
        }
    }

    /// Sorted biggest first (queues and rates).
    pub fn descending(self) -> bool {
        matches!(
            self,
            Column::RecvQ | Column::SendQ | Column::RxRate | Column::TxRate | Column::Rate
        )
    }

    /// For rate columns: the number sorted by, from a socket's rate.
    fn rate_value(self) -> Option<fn(&Rate) -> f64> {
        match self {
            Column::RxRate => Some(|r| r.rx_per_sec),
            Column::TxRate => Some(|r| r.tx_per_sec),
            Column::Rate => Some(|r| r.rx_per_sec + r.tx_per_sec),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub reverse: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            column: Column::State,
            reverse: false,
        }
    }
}

impl Sort {
    /// The order of the sort's column alone; ties are left to `sorted_rows`. Queues
    /// sort biggest first: the full queue is the one worth seeing.
    fn by_column(self, a: &Socket, b: &Socket) -> Ordering {
        // Borrowed, not cloned: a sort at 100k sockets makes ~2M comparisons.
        fn first_owner(s: &Socket) -> Option<(&str, u32)> {
            s.processes.first().map(|o| (&*o.comm, o.pid))
        }
        fn user(s: &Socket) -> Option<&str> {
            s.processes.first().map(|o| &*o.user)
        }
        match self.column {
            Column::State => Ordering::Equal,
            Column::Local => (a.local, &a.path).cmp(&(b.local, &b.path)),
            Column::Remote => a.remote.cmp(&b.remote),
            Column::RecvQ => b.recv_q.cmp(&a.recv_q),
            Column::SendQ => b.send_q.cmp(&a.send_q),
            Column::Process => first_owner(a).cmp(&first_owner(b)),
            Column::User => user(a).cmp(&user(b)).then(a.uid.cmp(&b.uid)),
            // Sorted in `sorted_rows`, which knows the rates.
            Column::RxRate | Column::TxRate | Column::Rate => Ordering::Equal,
        }
    }
}

/// A row of the socket table: a socket of the latest snapshot, or one that vanished
/// with it (shown dimmed for one refresh). The index is into `Snapshot::sockets` or
/// `App::vanished`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowRef {
    Live(usize),
    Gone(usize),
}

/// Every row of the socket table: the sockets of `live` and `gone` (the vanished), in
/// `sort` order. `rate` is a socket's latest rate, asked once per row and only when
/// sorting by a rate column.
///
/// `live` must be in display order (`App` sorts each snapshot once): then a live row's
/// index is its rank, and ties, which are most rows in a sort by state, queue or rate,
/// compare two numbers instead of two sockets. Unstable sorts: only the same socket
/// compares equal.
pub fn sorted_rows(
    live: &[Socket],
    gone: &[Socket],
    sort: Sort,
    rate: impl Fn(&Socket) -> Option<Rate>,
) -> Vec<RowRef> {
    let socket = |row: &RowRef| match *row {
        RowRef::Live(i) => &live[i],
        RowRef::Gone(i) => &gone[i],
    };
    let tie = |a: &RowRef, b: &RowRef| match (a, b) {
        (RowRef::Live(i), RowRef::Live(j)) => i.cmp(j),
        _ => socket(a).display_order(socket(b)),
    };
    let directed = |order: Ordering| if sort.reverse { order.reverse() } else { order };
    let mut rows: Vec<RowRef> = (0..live.len()).map(RowRef::Live).collect();
    rows.extend((0..gone.len()).map(RowRef::Gone));
    let Some(value) = sort.column.rate_value() else {
        rows.sort_unstable_by(|a, b| {
            let by_column = sort.by_column(socket(a), socket(b));
            directed(by_column.then_with(|| tie(a, b)))
        });
        return rows;
    };
    // Unknown rates (no tcp_info) sort after every known one, 0 B/s included, and
    // the sockets that just closed after those: the busiest on top is a live one.
    let key = |row: &RowRef| match row {
        RowRef::Gone(_) => -2.0,
        RowRef::Live(_) => rate(socket(row)).map_or(-1.0, |r| value(&r)),
    };
    let mut keyed: Vec<(f64, RowRef)> = rows.into_iter().map(|row| (key(&row), row)).collect();
    keyed.sort_unstable_by(|(x, a), (y, b)| directed(y.total_cmp(x).then_with(|| tie(a, b))));
    keyed.into_iter().map(|(_, row)| row).collect()
}

/// Sockets per state-bar group.
pub fn counts<'a>(sockets: impl Iterator<Item = &'a Socket>) -> BTreeMap<Bucket, usize> {
    let mut counts = BTreeMap::new();
    for socket in sockets {
        *counts.entry(Bucket::of(socket)).or_default() += 1;
    }
    counts
}

/// A selection in a list taller than the screen: the selected row and the first shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

impl Cursor {
    pub fn go(&mut self, to: usize, len: usize, page: usize) {
        self.selected = to.min(len.saturating_sub(1));
        self.offset = self.offset.min(len.saturating_sub(page));
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
    }

    pub fn step(&mut self, delta: isize, len: usize, page: usize) {
        self.go(self.selected.saturating_add_signed(delta), len, page);
    }
}

/// One row of the processes view, lsof-style.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessRow {
    pub pid: u32,
    pub comm: Arc<str>,
    pub user: Arc<str>,
    pub sockets: usize,
    /// Sockets per state, in the order a connection lives through.
    pub states: BTreeMap<TcpState, usize>,
    /// Ports it listens on: TCP LISTEN and bound unconnected UDP.
    pub listening: BTreeSet<(Proto, u16)>,
    /// The processes at the other end of its local connections (see `processes`).
    pub talks_to: Vec<Talk>,
}

/// A process at the other end of some of a process's local connections.
#[derive(Clone, Debug, PartialEq)]
pub struct Talk {
    pub pid: u32,
    pub comm: Arc<str>,
    /// This process's sockets whose peer it holds. A connection to itself has both
    /// ends here, so it counts twice.
    pub connections: usize,
}

/// One row per process holding any of `sockets`; most sockets first, then by pid.
/// `talks_to` comes from the sockets' peers: deduplicated by pid, most connections
/// first, the process itself last.
pub fn processes<'a>(sockets: impl Iterator<Item = &'a Socket>) -> Vec<ProcessRow> {
    let mut by_pid: HashMap<u32, ProcessRow> = HashMap::new();
    // Per process, per peer pid: the connections between them.
    let mut talks: HashMap<u32, HashMap<u32, Talk>> = HashMap::new();
    for socket in sockets {
        for owner in &socket.processes {
            let row = by_pid.entry(owner.pid).or_insert_with(|| ProcessRow {
                pid: owner.pid,
                comm: owner.comm.clone(),
                user: owner.user.clone(),
                sockets: 0,
                states: BTreeMap::new(),
                listening: BTreeSet::new(),
                talks_to: Vec::new(),
            });
            row.sockets += 1;
            *row.states.entry(socket.state).or_default() += 1;
            let listens = match socket.proto {
                Proto::Tcp | Proto::Sctp | Proto::Mptcp => socket.state == TcpState::Listen,
                Proto::Udp => socket.state == TcpState::Unconn,
                // Raw, packet and netlink sockets have no ports to listen on; unix
                // listeners have paths, shown elsewhere.
                _ => false,
            };
            if listens && let Some(local) = socket.local {
                row.listening.insert((socket.proto, local.port()));
            }
            if let Some(peer) = &socket.peer {
                let theirs = talks.entry(owner.pid).or_default();
                for (i, other) in peer.processes.iter().enumerate() {
                    // A process holding the peer through two fds is one process.
                    if peer.processes[..i].iter().all(|o| o.pid != other.pid) {
                        let talk = theirs.entry(other.pid).or_insert_with(|| Talk {
                            pid: other.pid,
                            comm: other.comm.clone(),
                            connections: 0,
                        });
                        talk.connections += 1;
                    }
                }
            }
        }
    }
    for (pid, theirs) in talks {
        if let Some(row) = by_pid.get_mut(&pid) {
            row.talks_to = theirs.into_values().collect();
            // Itself (loopback to its own server, a socketpair) says least: last.
            row.talks_to
                .sort_by_key(|t| (t.pid == pid, std::cmp::Reverse(t.connections), t.pid));
        }
    }
    let mut rows: Vec<ProcessRow> = by_pid.into_values().collect();
    rows.sort_by(|a, b| b.sockets.cmp(&a.sockets).then(a.pid.cmp(&b.pid)));
    rows
}
