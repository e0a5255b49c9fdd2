//! A query over a whole snapshot at once, for the live view's filter bar at a
//! million sockets: each socket tested in memory order (never in the table's order,
//! which jumps over a few hundred megabytes), the halves on two threads when there
//! are many.

use super::Query;
use crate::model::Socket;

/// Sockets tested on two threads from this many on: below it a thread costs more
/// than it saves.
const PARALLEL_FROM: usize = 20_000;

impl Query {
    /// Whether each of `sockets` matches, in their order.
    pub fn matches_each(&self, sockets: &[Socket]) -> Vec<bool> {
        halves(sockets, |half| {
            half.iter().map(|s| self.matches(s)).collect::<Vec<bool>>()
        })
        .concat()
    }
}

impl Query {
    /// Whether every socket this query matches matches `before` too: the same query
    /// (a term still being typed, or one that does not parse, keeps it), or the same
    /// terms and words that contain `before`'s (a word typed on), so the rows
    /// `before` showed are the only ones to test.
    pub fn narrows(&self, before: &Query) -> bool {
        if self == before {
            return true;
        }
        let others = |q: &Query| Query {
            words: Vec::new(),
            ..q.clone()
        };
        !before.words.is_empty()
            && others(self) == others(before)
            && before
                .words
                .iter()
                .all(|old| self.words.iter().any(|new| new.contains(old.as_str())))
    }
}

/// How many of `sockets` pass `test`.
pub(crate) fn count(sockets: &[Socket], test: impl Fn(&Socket) -> bool + Sync) -> usize {
    let [n] = tally(sockets, |s| [test(s)]);
    n
}

/// How many of `sockets` pass each of the tests `test` makes, in one pass.
pub(crate) fn tally<const N: usize>(
    sockets: &[Socket],
    test: impl Fn(&Socket) -> [bool; N] + Sync,
) -> [usize; N] {
    let counted = halves(sockets, |half| {
        half.iter().fold([0; N], |mut counts, s| {
            for (count, yes) in counts.iter_mut().zip(test(s)) {
                *count += usize::from(yes);
            }
            counts
        })
    });
    counted.iter().fold([0; N], |mut sum, counts| {
        for (total, n) in sum.iter_mut().zip(counts) {
            *total += n;
        }
        sum
    })
}

/// `work` on each half of `sockets`, the first on a thread of its own when there
/// are many (and a second core); the results in order.
fn halves<T: Send>(sockets: &[Socket], work: impl Fn(&[Socket]) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if sockets.len() < PARALLEL_FROM || threads < 2 {
        return vec![work(sockets)];
    }
    let (first, second) = sockets.split_at(sockets.len() / 2);
    let work = &work;
    std::thread::scope(|scope| {
        let first = scope.spawn(move || work(first));
        let second = work(second);
        let first = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        vec![first, second]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TcpState;
    use crate::test_sockets::held_tcp;

    #[test]
    fn a_word_typed_on_narrows() {
        let narrows = |now: &str, before: &str| {
            Query::parse(now)
                .unwrap()
                .narrows(&Query::parse(before).unwrap())
        };
        assert!(narrows("ngin", "ngi"));
        assert!(narrows("tcp nginx", "tcp ngi"));
        assert!(narrows("nginx curl", "nginx"));
        assert!(narrows("127.0.0.1", "127.0"));
        assert!(!narrows("ngin", "ngin x"));
        assert!(!narrows("ngi", "ngin"));
        assert!(!narrows("udp nginx", "tcp ngin"));
        assert!(!narrows("50", "5"), "numbers are exact");
        assert!(!narrows("nginx", ""), "nothing to narrow from");
        assert!(narrows("50", "50") && narrows("", ""), "the same query");
    }

    #[test]
    fn each_and_count_agree_with_one_at_a_time() {
        let sockets: Vec<Socket> = (0..PARALLEL_FROM * 2 + 7)
            .map(|i| {
                let port = 1000 + (i % 3000) as u16;
                let state = [TcpState::Established, TcpState::Listen][i % 2];
                let comm = ["nginx", "curl", "postgres"][i % 3];
                held_tcp(&format!("127.0.0.1:{port}"), "127.0.0.1:80", state, comm)
            })
            .collect();
        for text in [
            "",
            "1001",
            "estab nginx",
            "port:1500",
            "curl listening",
            "x",
        ] {
            let q = Query::parse(text).unwrap();
            let want: Vec<bool> = sockets.iter().map(|s| q.matches(s)).collect();
            assert_eq!(q.matches_each(&sockets), want, "{text}");
            assert_eq!(q.matches_each(&sockets[..10]), want[..10], "{text}");
            let n = want.iter().filter(|m| **m).count();
            assert_eq!(count(&sockets, |s| q.matches(s)), n, "{text}");
            let both = tally(&sockets, |s| [q.matches(s), !q.matches(s)]);
            assert_eq!(both, [n, sockets.len() - n], "{text}");
        }
    }
}
