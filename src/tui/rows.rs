//! What the tables show: the filtered, sorted socket rows and the per-process summary.
//! Rebuilt on each snapshot, filter or sort change, never on a plain key press, so
//! moving the selection stays cheap at 100k sockets.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::column::{Column, SortKey};
use crate::model::{Proto, Socket, TcpState};
use crate::track::Rate;

use super::history::Bucket;

mod filter;
pub mod groups;
mod order;

pub use filter::matching;

/// What the socket table is sorted by: a column (`s` cycles through the sortable
/// ones of `Column::TUI`), or the total rate (`r`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Column(Column),
    /// In + out, busiest first; not in the `s` cycle.
    Rate,
}

impl SortBy {
    /// The next sortable column of the live view's table, after this one.
    pub fn next(self) -> SortBy {
        let sortable: Vec<Column> = Column::TUI
            .into_iter()
            .filter(|c| c.spec().sort.is_some())
            .collect();
        let i = match self {
            SortBy::Column(c) => sortable.iter().position(|s| *s == c).map_or(0, |i| i + 1),
            // So `s` goes on to the first rate column, then the next.
            SortBy::Rate => sortable.iter().position(|c| c.is_rate()).unwrap_or(0),
        };
        SortBy::Column(sortable[i % sortable.len()])
    }

    /// Sorted biggest first (queues and rates).
    pub fn descending(self) -> bool {
        match self {
            SortBy::Column(c) => c.spec().descending,
            SortBy::Rate => true,
        }
    }

    /// Whether `column`'s header shows the sort: the column, or every rate column.
    pub fn shows_on(self, column: Column) -> bool {
        match self {
            SortBy::Column(c) => c == column,
            SortBy::Rate => column.is_rate(),
        }
    }

    fn key(self) -> SortKey {
        match self {
            SortBy::Column(c) => c.spec().sort.unwrap_or(SortKey::Display),
            SortBy::Rate => SortKey::Rate(|r| r.rx_per_sec + r.tx_per_sec),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub by: SortBy,
    pub reverse: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            by: SortBy::Column(Column::State),
            reverse: false,
        }
    }
}

/// A row of the socket table: a socket of the latest snapshot, or one that vanished
/// with it (shown dimmed for one refresh). 4 bytes, as there are 100k of them in
/// each of the two models alive at a refresh: the index into `Snapshot::sockets` or
/// `App::vanished`, and the top bit saying which (a table holds fewer than 2^31
/// rows: see `order::MAX_ROWS`). Read as a `Row`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RowRef(u32);

/// What a `RowRef` says, to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Live(usize),
    Gone(usize),
}

/// The bit of a `RowRef` that says its row vanished.
const GONE_BIT: u32 = 1 << 31;

impl RowRef {
    pub fn live(index: usize) -> RowRef {
        debug_assert!(index < GONE_BIT as usize, "fewer than 2^31 rows");
        RowRef(index as u32)
    }

    pub fn gone(index: usize) -> RowRef {
        debug_assert!(index < GONE_BIT as usize, "fewer than 2^31 rows");
        RowRef(index as u32 | GONE_BIT)
    }

    pub fn get(self) -> Row {
        let index = (self.0 & !GONE_BIT) as usize;
        match self.0 & GONE_BIT {
            0 => Row::Live(index),
            _ => Row::Gone(index),
        }
    }

    /// A vanished socket's row.
    pub fn is_gone(self) -> bool {
        self.0 & GONE_BIT != 0
    }
}

impl std::fmt::Debug for RowRef {
    // As the row it stands for: `Live(3)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// The socket table's rows: every row in sort order, and those the filter shows
/// (what `Rows` derefs to). Without a filter they are the same rows, kept once, not
/// a second copy of 100k in each model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// Every row in sort order, filter or not: typing in the filter bar only filters
    /// these again (a sort at 100k sockets costs more than a key press may).
    pub sorted: Vec<RowRef>,
    /// The rows of `sorted` the filter matches, in its order; None without a filter
    /// (all of them: see `matching`).
    pub matched: Option<Vec<RowRef>>,
}

impl std::ops::Deref for Rows {
    type Target = [RowRef];

    /// The rows shown.
    fn deref(&self) -> &[RowRef] {
        self.matched.as_deref().unwrap_or(&self.sorted)
    }
}

impl Rows {
    /// The rows shown upside down (`S`): both orders reversed in place.
    pub fn reverse(&mut self) {
        self.sorted.reverse();
        if let Some(matched) = &mut self.matched {
            matched.reverse();
        }
    }
}

/// Every row of the socket table: the sockets of `live` and `gone` (the vanished), in
/// `sort` order. `rate` is a row's latest rate, asked once per row and only when
/// sorting by a rate column.
///
/// `live` must be in display order (`App` sorts each snapshot once): then a live row's
/// index is its rank, and ties, which are most rows in a sort by state, queue or rate,
/// go by rank. Only the same socket compares equal. How, at a million rows: order.rs.
///
/// The rows go into `rows` (emptied first): a refresh reuses the memory of the one
/// before it instead of freeing 100k rows and taking as many anew.
pub fn sorted_rows(
    rows: Vec<RowRef>,
    live: &[Socket],
    gone: &[Socket],
    sort: Sort,
    rate: impl Fn(RowRef) -> Option<Rate>,
) -> Vec<RowRef> {
    order::sorted_rows(rows, live, gone, sort, rate)
}

/// Empties `buffer` (a refresh's rows or per-row marks, kept from the one before)
/// and makes room for `n`: exactly, with a little headroom for the next refresh's
/// churn, never the doubling a `Vec` grown past its capacity does by itself (a
/// 100k-row buffer a few rows short would take room for 200k), and smaller again
/// when it holds far fewer than it has room for.
pub fn refill<T>(buffer: &mut Vec<T>, n: usize) {
    buffer.clear();
    let room = n + n / 64;
    if buffer.capacity() < n || buffer.capacity() > 2 * room + 1024 {
        *buffer = Vec::new();
        buffer.reserve_exact(room);
    }
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

/// Whether a socket listens on its port: TCP LISTEN and bound unconnected UDP. Raw,
/// packet and netlink sockets have no ports to listen on; unix listeners have paths,
/// shown elsewhere.
pub(crate) fn listens(socket: &Socket) -> bool {
    match socket.proto {
        Proto::Tcp | Proto::Sctp | Proto::Mptcp => socket.state == TcpState::Listen,
        Proto::Udp => socket.state == TcpState::Unconn,
        _ => false,
    }
}

/// foldhash: a pid is hashed once per socket (100k times a refresh at scale); pids
/// are the kernel's small numbers, not keys anyone picks to collide.
type Fast = foldhash::fast::RandomState;

/// One row per process holding any of `sockets`; most sockets first, then by pid.
/// `talks_to` comes from the sockets' peers: deduplicated by pid, most connections
/// first, the process itself last.
pub fn processes<'a>(sockets: impl Iterator<Item = &'a Socket>) -> Vec<ProcessRow> {
    let mut by_pid: HashMap<u32, ProcessRow, Fast> = HashMap::default();
    // Per process, per peer pid: the connections between them.
    let mut talks: HashMap<u32, HashMap<u32, Talk, Fast>, Fast> = HashMap::default();
    for socket in sockets {
        for owner in &socket.processes {
            let row = by_pid.entry(owner.pid).or_insert_with(|| ProcessRow {
                pid: owner.pid,
                comm: owner.process.comm.clone(),
                user: owner.process.user.clone(),
                sockets: 0,
                states: BTreeMap::new(),
                listening: BTreeSet::new(),
                talks_to: Vec::new(),
            });
            row.sockets += 1;
            *row.states.entry(socket.state).or_default() += 1;
            if listens(socket)
                && let Some(local) = socket.local
            {
                row.listening.insert((socket.proto, local.port()));
            }
            if let Some(peer) = &socket.peer {
                let theirs = talks.entry(owner.pid).or_default();
                for (i, other) in peer.processes.iter().enumerate() {
                    // A process holding the peer through two fds is one process.
                    if peer.processes[..i].iter().all(|o| o.pid != other.pid) {
                        let talk = theirs.entry(other.pid).or_insert_with(|| Talk {
                            pid: other.pid,
                            comm: other.process.comm.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_4_bytes_and_reads_back() {
        assert_eq!(std::mem::size_of::<RowRef>(), 4, "100k a model, two alive");
        let last = (1 << 31) - 1;
        for i in [0, 1, 99_999, last] {
            assert_eq!(RowRef::live(i).get(), Row::Live(i));
            assert_eq!(RowRef::gone(i).get(), Row::Gone(i));
            assert!(RowRef::gone(i).is_gone() && !RowRef::live(i).is_gone());
            assert_ne!(RowRef::live(i), RowRef::gone(i));
        }
        assert_eq!(format!("{:?}", RowRef::gone(7)), "Gone(7)");
    }

    #[test]
    fn without_a_filter_the_sorted_rows_are_the_ones_shown() {
        let sorted: Vec<RowRef> = [2, 0, 1].map(RowRef::live).into();
        let mut rows = Rows {
            sorted: sorted.clone(),
            matched: None,
        };
        assert_eq!(*rows, sorted[..]);
        rows.reverse();
        assert_eq!(*rows, [1, 0, 2].map(RowRef::live));
        rows.matched = Some(vec![RowRef::live(1), RowRef::gone(0)]);
        rows.reverse();
        assert_eq!(*rows, [RowRef::gone(0), RowRef::live(1)]);
        assert_eq!(rows.sorted, sorted, "both reversed");
    }
}
