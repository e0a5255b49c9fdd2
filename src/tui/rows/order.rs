//! The socket table's order, fast enough for a million rows (`s`, `r`, a click on a
//! header). A comparison sort that reads two sockets per comparison reads ~20M of
//! them scattered over a few hundred megabytes at 1M rows; here each row's value in
//! the sort column is read once, in memory order, and packed into an integer with
//! its rank (`Packed`: strings and IPv6 addresses by their rank among the few
//! distinct ones), and the integers are sorted: by a radix sort when keys differ in
//! a few bytes, else by comparisons on two threads. Where an integer cannot hold a
//! whole value (a unix path, a scoped IPv6 address, a column without a key here),
//! rows with equal integers are put in order by the column's own comparison
//! afterwards. The order is always `plain`'s, the definition (the tests compare).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{SocketAddr, SocketAddrV6};

use crate::column::{Column, SortKey};
use crate::model::Socket;
use crate::track::Rate;

use super::{Row, RowRef, Sort, SortBy};

/// Rows sorted on two threads from this many on: below it a thread costs more than
/// it saves.
const PARALLEL_FROM: usize = 50_000;

/// See `rows::sorted_rows`.
pub fn sorted_rows(
    mut rows: Vec<RowRef>,
    live: &[Socket],
    gone: &[Socket],
    sort: Sort,
    rate: impl Fn(RowRef) -> Option<Rate>,
) -> Vec<RowRef> {
    if live.len() + gone.len() > MAX_ROWS {
        return plain(live, gone, sort, rate);
    }
    // Every row in display order: ties go by this rank.
    let merged = Merged::new(live, gone);
    let socket = |row: RowRef| match row.get() {
        Row::Live(i) => &live[i],
        Row::Gone(i) => &gone[i],
    };
    let (mut packed, by_column) = match sort.by.key() {
        // Ties only: display order itself.
        SortKey::Display => {
            super::refill(&mut rows, merged.rows().len());
            rows.extend(merged.rows());
            if sort.reverse {
                rows.reverse();
            }
            return rows;
        }
        SortKey::Rate(value) => {
            // Unknown rates (no tcp_info) sort after every known one, 0 B/s included,
            // and the sockets that just closed after those (as in `plain`).
            let keys = merged.rows().map(|row| {
                let rate = match row.is_gone() {
                    true => -2.0,
                    false => rate(row).map_or(-1.0, |r| value(&r)),
                };
                Key::exact(!ascending(rate))
            });
            (pack(&merged, keys), None)
        }
        SortKey::Socket(order) => {
            let packed = match sort.by {
                SortBy::Column(column) => column_keys(column, &merged, socket),
                SortBy::Rate => None,
            };
            // A column without keys here: its comparison alone.
            let packed =
                packed.unwrap_or_else(|| pack(&merged, merged.rows().map(|_| Key::inexact(0))));
            (packed, Some(order))
        }
    };
    sort_packed(&mut packed);
    if let Some(order) = by_column {
        settle_ties(&mut packed, |a, b| order(socket(a), socket(b)));
    }
    super::refill(&mut rows, packed.len());
    match sort.reverse {
        // Reversed, the whole order (ties too) is reversed: `S` shows the rows
        // upside down.
        true => rows.extend(packed.iter().rev().map(|p| row_of(*p))),
        false => rows.extend(packed.iter().map(|p| row_of(*p))),
    }
    rows
}

/// The live rows (in display order already) with the vanished ones merged in.
struct Merged {
    live: usize,
    /// Each vanished row, in display order, with the live row it goes before.
    gone_at: Vec<(usize, usize)>,
}

impl Merged {
    fn new(live: &[Socket], gone: &[Socket]) -> Merged {
        let mut order: Vec<usize> = (0..gone.len()).collect();
        order.sort_by(|&a, &b| gone[a].display_order(&gone[b]));
        let mut next = 0;
        let gone_at = order
            .into_iter()
            .map(|g| {
                next = live
                    .partition_point(|s| s.display_order(&gone[g]).is_lt())
                    .max(next);
                (next, g)
            })
            .collect();
        Merged {
            live: live.len(),
            gone_at,
        }
    }

    fn rows(&self) -> Rows<'_> {
        Rows {
            merged: self,
            live: 0,
            gone: 0,
        }
    }
}

/// The rows of a `Merged`, in display order.
struct Rows<'a> {
    merged: &'a Merged,
    live: usize,
    gone: usize,
}

impl Iterator for Rows<'_> {
    type Item = RowRef;

    fn next(&mut self) -> Option<RowRef> {
        if let Some(&(at, g)) = self.merged.gone_at.get(self.gone)
            && at == self.live
        {
            self.gone += 1;
            return Some(RowRef::gone(g));
        }
        if self.live < self.merged.live {
            self.live += 1;
            return Some(RowRef::live(self.live - 1));
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.merged.live - self.live + self.merged.gone_at.len() - self.gone;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Rows<'_> {}

/// Rows the packing holds: a rank and an index in 31 bits each (a table that long
/// would take 500 GB; past it, the plain sort).
const MAX_ROWS: usize = 1 << 31;

/// A row's value in the sort column as an integer: a smaller one sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    value: u64,
    /// Two rows with equal values are equal in the column only if both are exact;
    /// else the column's comparison decides between them.
    exact: bool,
}

impl Key {
    fn exact(value: u64) -> Key {
        Key { value, exact: true }
    }

    fn inexact(value: u64) -> Key {
        Key {
            value,
            exact: false,
        }
    }
}

/// The rows packed with their keys in the columns `Column::spec` sorts with a
/// comparison, in the same order (the tests hold them to `plain`); None for a
/// column without.
fn column_keys<'a>(
    column: Column,
    merged: &Merged,
    socket: impl Fn(RowRef) -> &'a Socket,
) -> Option<Vec<Packed>> {
    let sockets = || merged.rows().map(&socket);
    let packed = match column {
        // Biggest first.
        Column::RecvQ => pack(merged, sockets().map(|s| Key::exact(u64::from(!s.recv_q)))),
        Column::SendQ => pack(merged, sockets().map(|s| Key::exact(u64::from(!s.send_q)))),
        Column::Local => {
            let mut packed = pack(
                merged,
                sockets().map(|s| match (s.path(), s.local) {
                    (None, local) => address_key(local),
                    // A unix socket's path: its first bytes, after the unbound ones.
                    (Some(path), None) => Key::inexact(1 << 61 | prefix(path.as_bytes())),
                    (Some(_), local) => Key::inexact(address_key(local).value),
                }),
            );
            rank_v6(
                &mut packed,
                sockets().map(|s| (s.local, s.path().is_some())),
            );
            packed
        }
        Column::Remote => {
            let mut packed = pack(merged, sockets().map(|s| address_key(s.remote)));
            rank_v6(&mut packed, sockets().map(|s| (s.remote, false)));
            packed
        }
        // Process names and users are few: each one's rank among them, found by its
        // pid or its text's address first.
        Column::Process => {
            let first = |s: &'a Socket| s.processes.first().map(|o| (&*o.process.comm, o.pid));
            let slot = |v: &Option<(&str, u32)>| v.map_or(0, |(_, pid)| pid as usize);
            let ranks = dense(sockets().map(first), slot);
            pack(merged, ranks.into_iter().map(Key::exact))
        }
        Column::User => {
            let user = |s: &'a Socket| s.processes.first().map(|o| &*o.process.user);
            let slot = |v: &Option<&str>| v.map_or(0, |u| u.as_ptr() as usize >> 3);
            let ranks = dense(sockets().map(user), slot);
            let uids = sockets().map(|s| u64::from(s.uid));
            let keys = ranks.into_iter().zip(uids);
            pack(merged, keys.map(|(user, uid)| Key::exact(user << 32 | uid)))
        }
        _ => return None,
    };
    Some(packed)
}

/// `Option<SocketAddr>`'s order: none, then IPv4 by address and port, then IPv6. An
/// IPv6 address is keyed by its first 62 bits here; `rank_v6` does better.
fn address_key(addr: Option<SocketAddr>) -> Key {
    match addr {
        None => Key::exact(0),
        Some(SocketAddr::V4(a)) => {
            Key::exact(1 << 62 | u64::from(a.ip().to_bits()) << 16 | u64::from(a.port()))
        }
        Some(SocketAddr::V6(a)) => Key::inexact(2 << 62 | (a.ip().to_bits() >> 66) as u64),
    }
}

/// The keys of the IPv6 rows of `packed` (whose addresses `addrs` gives, in rank
/// order, each with whether more follows it in the order: a path) made whole where
/// they fit: the address by its rank among the rows' few distinct ones, then the
/// port. Exact unless a flow label, a scope or a path follows.
fn rank_v6(packed: &mut [Packed], addrs: impl Iterator<Item = (Option<SocketAddr>, bool)>) {
    let v6: Vec<(usize, SocketAddrV6, bool)> = addrs
        .enumerate()
        .filter_map(|(i, addr)| match addr {
            (Some(SocketAddr::V6(a)), more) => Some((i, a, more)),
            _ => None,
        })
        .collect();
    if v6.is_empty() {
        return;
    }
    let mut ips: Vec<u128> = v6.iter().map(|(_, a, _)| a.ip().to_bits()).collect();
    ips.sort_unstable();
    ips.dedup();
    if ips.len() >= 1 << 30 {
        return;
    }
    for (i, a, more) in v6 {
        let Ok(rank) = ips.binary_search(&a.ip().to_bits()) else {
            continue;
        };
        let whole = a.flowinfo() == 0 && a.scope_id() == 0 && !more;
        let low = match whole {
            true => packed[i] as u64 & !INEXACT,
            false => packed[i] as u64 | INEXACT,
        };
        let key = 2 << 62 | (rank as u64) << 32 | u64::from(a.port()) << 16;
        packed[i] = u128::from(key) << 64 | u128::from(low);
    }
}

/// The first 7 bytes as a number, in byte order; a shorter text padded with zeros
/// (so it sorts no later than any longer one it starts).
fn prefix(bytes: &[u8]) -> u64 {
    (0..7).fold(0, |key, i| {
        key << 8 | u64::from(bytes.get(i).copied().unwrap_or(0))
    })
}

/// Each value's rank among the distinct values (equal values, equal ranks). A
/// small cache by `slot` saves most lookups of the few distinct values.
fn dense<T: Ord + Hash + Copy>(
    values: impl Iterator<Item = T>,
    slot: impl Fn(&T) -> usize,
) -> Vec<u64> {
    const SLOTS: usize = 64;
    let mut ids: HashMap<T, u32, foldhash::fast::FixedState> = HashMap::default();
    let mut cache: [Option<(T, u32)>; SLOTS] = [None; SLOTS];
    let per_row: Vec<u32> = values
        .map(|v| {
            let at = slot(&v) % SLOTS;
            match cache[at] {
                Some((cached, id)) if cached == v => id,
                _ => {
                    let next = ids.len() as u32;
                    let id = *ids.entry(v).or_insert(next);
                    cache[at] = Some((v, id));
                    id
                }
            }
        })
        .collect();
    let mut distinct: Vec<(T, u32)> = ids.into_iter().collect();
    distinct.sort_unstable_by_key(|d| d.0);
    let mut rank = vec![0u64; distinct.len()];
    for (r, (_, id)) in distinct.iter().enumerate() {
        rank[*id as usize] = r as u64;
    }
    per_row.into_iter().map(|id| rank[id as usize]).collect()
}

/// `f64::total_cmp`'s order as unsigned integers.
fn ascending(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// A row as one integer, so sorting these sorts by key, ties by rank: from the top,
/// the key (64 bits), the rank (31), whether the key is inexact, whether the row is
/// a vanished one, its index (31).
type Packed = u128;

const INEXACT: u64 = 1 << 32;
const GONE: u64 = 1 << 31;

/// The rows of `merged` with their keys, in rank order.
fn pack(merged: &Merged, keys: impl Iterator<Item = Key>) -> Vec<Packed> {
    merged
        .rows()
        .zip(keys)
        .enumerate()
        .map(|(rank, (row, key))| {
            let (gone, index) = match row.get() {
                Row::Live(i) => (0, i as u64),
                Row::Gone(i) => (GONE, i as u64),
            };
            let inexact = if key.exact { 0 } else { INEXACT };
            let low = (rank as u64) << 33 | inexact | gone | index;
            u128::from(key.value) << 64 | u128::from(low)
        })
        .collect()
}

fn key_of(p: Packed) -> u64 {
    (p >> 64) as u64
}

fn row_of(p: Packed) -> RowRef {
    let low = p as u64;
    let index = (low & (GONE - 1)) as usize;
    match low & GONE {
        0 => RowRef::live(index),
        _ => RowRef::gone(index),
    }
}

/// Key bytes that differ between rows up to which a radix sort goes: each is a
/// pass over the rows; more, a comparison sort costs less.
const RADIX_BYTES: usize = 5;

/// Sorted: most often nothing to do (a column of ties, already in rank order); keys
/// that differ in a few bytes only by a radix sort; others by comparisons, on two
/// threads when there are many, split at the median (the values are distinct).
fn sort_packed(packed: &mut Vec<Packed>) {
    if packed.is_sorted() {
        return;
    }
    let (or, and) = packed.iter().fold((0, u64::MAX), |(or, and), p| {
        (or | key_of(*p), and & key_of(*p))
    });
    let varying: Vec<u32> = (0..8)
        .filter(|b| ((or ^ and) >> (8 * b)) & 0xff != 0)
        .collect();
    if varying.len() <= RADIX_BYTES {
        return radix(packed, &varying);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if packed.len() < PARALLEL_FROM || threads < 2 {
        packed.sort_unstable();
        return;
    }
    let mid = packed.len() / 2;
    packed.select_nth_unstable(mid);
    let (left, right) = packed.split_at_mut(mid);
    std::thread::scope(|scope| {
        scope.spawn(|| left.sort_unstable());
        right.sort_unstable();
    });
}

/// A least-significant-byte-first radix sort by the key's `bytes`, stable: `packed`
/// comes in rank order, so ties stay in it without a pass over the rank.
fn radix(packed: &mut Vec<Packed>, bytes: &[u32]) {
    let byte = |p: Packed, b: u32| ((p >> (64 + 8 * b)) & 0xff) as usize;
    let mut counts = vec![[0usize; 256]; bytes.len()];
    for p in packed.iter() {
        for (count, b) in counts.iter_mut().zip(bytes) {
            count[byte(*p, *b)] += 1;
        }
    }
    let mut from = std::mem::take(packed);
    let mut to = vec![0; from.len()];
    for (count, b) in counts.iter().zip(bytes) {
        let mut at = [0usize; 256];
        let mut sum = 0;
        for (start, n) in at.iter_mut().zip(count) {
            *start = sum;
            sum += n;
        }
        for p in &from {
            let slot = &mut at[byte(*p, *b)];
            to[*slot] = *p;
            *slot += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *packed = from;
}

/// Runs of equal keys holding an inexact one, put in the column's order, then rank.
fn settle_ties(packed: &mut [Packed], order: impl Fn(RowRef, RowRef) -> Ordering) {
    if packed.iter().all(|p| (*p as u64) & INEXACT == 0) {
        return;
    }
    let mut start = 0;
    while start < packed.len() {
        let key = key_of(packed[start]);
        let len = packed[start..]
            .iter()
            .take_while(|p| key_of(**p) == key)
            .count();
        let run = &mut packed[start..start + len];
        if len > 1 && run.iter().any(|p| (*p as u64) & INEXACT != 0) {
            // Within a run the packed order is the rank's.
            run.sort_unstable_by(|a, b| order(row_of(*a), row_of(*b)).then(a.cmp(b)));
        }
        start += len;
    }
}

/// The definition `sorted_rows` keeps to: a comparison sort, ties by rank.
pub fn plain(
    live: &[Socket],
    gone: &[Socket],
    sort: Sort,
    rate: impl Fn(RowRef) -> Option<Rate>,
) -> Vec<RowRef> {
    let socket = |row: &RowRef| match row.get() {
        Row::Live(i) => &live[i],
        Row::Gone(i) => &gone[i],
    };
    let tie = |a: &RowRef, b: &RowRef| match (a.get(), b.get()) {
        (Row::Live(i), Row::Live(j)) => i.cmp(&j),
        _ => socket(a).display_order(socket(b)),
    };
    let directed = |order: Ordering| if sort.reverse { order.reverse() } else { order };
    let mut rows: Vec<RowRef> = (0..live.len()).map(RowRef::live).collect();
    rows.extend((0..gone.len()).map(RowRef::gone));
    let by_column: fn(&Socket, &Socket) -> Ordering = match sort.by.key() {
        SortKey::Display => |_, _| Ordering::Equal,
        SortKey::Socket(order) => order,
        SortKey::Rate(value) => {
            let key = |row: &RowRef| match row.is_gone() {
                true => -2.0,
                false => rate(*row).map_or(-1.0, |r| value(&r)),
            };
            let mut keyed: Vec<(f64, RowRef)> = rows.into_iter().map(|r| (key(&r), r)).collect();
            keyed.sort_unstable_by(|(x, a), (y, b)| {
                directed(y.total_cmp(x).then_with(|| tie(a, b)))
            });
            return keyed.into_iter().map(|(_, row)| row).collect();
        }
    };
    rows.sort_unstable_by(|a, b| directed(by_column(socket(a), socket(b)).then_with(|| tie(a, b))));
    rows
}

#[cfg(test)]
mod tests;
