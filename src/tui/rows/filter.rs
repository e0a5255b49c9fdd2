//! The rows the filter bar shows, at a million sockets: the live sockets are tested
//! once each in memory order (`Query::matches_each`, on two threads), and the
//! sorted rows kept by that answer, so no socket is read in the table's order.

use crate::model::Socket;
use crate::query::Query;

use super::{Row, RowRef};

/// Below a `FEW`th of the live sockets, rows are tested in the table's order: a
/// socket read out of order costs a few times one read in order.
const FEW: usize = 4;

/// The rows of `sorted` that `query` matches, in its order, in `rows`' memory
/// (emptied first; see `rows::sorted_rows`). None for an empty query: all of them,
/// which `sorted` holds already (`Rows::matched`).
pub fn matching(
    mut rows: Vec<RowRef>,
    live: &[Socket],
    gone: &[Socket],
    sorted: &[RowRef],
    query: &Query,
) -> Option<Vec<RowRef>> {
    if query.is_empty() {
        return None;
    }
    // Room for every row: what the filter keeps is known only after.
    super::refill(&mut rows, sorted.len());
    // Few rows (a narrowed filter's): tested as they are.
    if sorted.len() < live.len() / FEW {
        let keep = |row: &RowRef| match row.get() {
            Row::Live(i) => query.matches(&live[i]),
            Row::Gone(i) => query.matches(&gone[i]),
        };
        rows.extend(sorted.iter().copied().filter(keep));
        return Some(rows);
    }
    let live_matches = query.matches_each(live);
    let keep = |row: &RowRef| match row.get() {
        Row::Live(i) => live_matches[i],
        Row::Gone(i) => query.matches(&gone[i]),
    };
    rows.extend(sorted.iter().copied().filter(keep));
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TcpState;
    use crate::test_sockets::held_tcp;

    #[test]
    fn keeps_the_rows_one_at_a_time_would_in_the_sorted_order() {
        let socket = |i: usize| {
            let state = [TcpState::Established, TcpState::Listen][i % 2];
            let comm = ["nginx", "curl"][i % 3 % 2];
            held_tcp(
                &format!("127.0.0.{}:{}", i % 5 + 1, 1000 + i),
                "127.0.0.1:80",
                state,
                comm,
            )
        };
        let live: Vec<Socket> = (0..50_000).map(socket).collect();
        let few: Vec<RowRef> = (0..1000).map(|i| RowRef::live(i * 31)).collect();
        let q = Query::parse("nginx").unwrap();
        let want: Vec<RowRef> = few
            .iter()
            .copied()
            .filter(|r| match r.get() {
                Row::Live(i) => q.matches(&live[i]),
                Row::Gone(_) => false,
            })
            .collect();
        assert_eq!(matching(Vec::new(), &live, &[], &few, &q), Some(want));
        let gone: Vec<Socket> = (0..40).map(|i| socket(i * 7)).collect();
        // Any order: the gone rows among the live ones, both ways round.
        let mut sorted: Vec<RowRef> = (0..live.len()).rev().map(RowRef::live).collect();
        for (at, g) in (0..gone.len()).enumerate() {
            sorted.insert(at * 997, RowRef::gone(g));
        }
        for text in [
            "",
            "nginx",
            "1003",
            "estab 127.0.0.2",
            "listening curl",
            "none",
        ] {
            let q = Query::parse(text).unwrap();
            let want: Vec<RowRef> = sorted
                .iter()
                .copied()
                .filter(|r| match r.get() {
                    Row::Live(i) => q.matches(&live[i]),
                    Row::Gone(i) => q.matches(&gone[i]),
                })
                .collect();
            let matched = matching(Vec::new(), &live, &gone, &sorted, &q);
            assert_eq!(matched.is_none(), text.is_empty(), "{text}");
            assert_eq!(matched.as_deref().unwrap_or(&sorted), want, "{text}");
        }
    }
}
