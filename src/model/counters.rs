//! The tcp_info counters of a snapshot's TCP sockets, apart from the sockets: what the
//! live view keeps of the tcp_info it does not show (`collect::Source::snapshot_counted`).

use super::{Socket, TcpCounters};

/// Counters by sock_diag cookie, one run per network namespace: a cookie names one
/// socket while the kernel runs, within its namespace (kernels before 5.11 count
/// cookies per namespace, later ones host-wide). 24 bytes a socket, where its whole
/// tcp_info is a 112-byte allocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CounterTable {
    /// By network namespace inode.
    runs: Vec<(u64, CounterRun)>,
}

/// The counters of one namespace's sockets, by cookie, in the order a dump gives them
/// until `sort` (or `CounterTable::add`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CounterRun {
    /// (cookie, bytes_received, bytes_acked).
    bytes: Vec<(u64, u64, u64)>,
    /// (cookie, total_retrans) of the sockets that retransmitted at all, apart: few do,
    /// and in `bytes` it would be 8 bytes more for each socket (its alignment's).
    retrans: Vec<(u64, u32)>,
}

impl CounterTable {
    /// Adds the counters of the sockets of the namespace `netns` (`Netns::inode`).
    pub fn add(&mut self, netns: u64, mut run: CounterRun) {
        if run.is_empty() {
            return;
        }
        if let Some(at) = self.runs.iter().position(|(n, _)| *n == netns) {
            let (_, mut before) = self.runs.remove(at);
            before.bytes.append(&mut run.bytes);
            before.retrans.append(&mut run.retrans);
            run = before;
        }
        run.sort();
        self.runs.push((netns, run));
    }

    /// The counters of each of `sockets`, in their order, found by namespace and
    /// cookie; None for a socket the table does not hold (its tcp_info is whole in it,
    /// or it has none). Nothing at all when the table is empty. The table goes: what
    /// it gives is all that is read of it.
    ///
    /// A merge join: the sockets' cookies are sorted once and walked beside each sorted
    /// run. A binary search per socket missed the cache at nearly every step at 100k.
    pub fn by_socket(self, sockets: &[Socket]) -> Vec<Option<TcpCounters>> {
        if self.is_empty() {
            return Vec::new();
        }
        // (run, socket index, cookie): 16 bytes, beside the table and the answer.
        let run_of = |netns: u64| {
            let run = self.runs.iter().position(|(n, _)| *n == netns)?;
            u32::try_from(run).ok()
        };
        let mut wanted: Vec<(u32, u32, u64)> = (sockets.iter().zip(0..))
            .filter_map(|(s, i)| {
                let cookie = s.diag_id?.cookie.get();
                Some((run_of(s.netns.as_ref().map_or(0, |n| n.inode))?, i, cookie))
            })
            .collect();
        wanted.sort_unstable_by_key(|&(run, _, cookie)| (run, cookie));
        let mut found = vec![None; sockets.len()];
        let mut rest = &wanted[..];
        for (r, (_, run)) in (0..).zip(&self.runs) {
            let (this, after) = rest.split_at(rest.partition_point(|w| w.0 == r));
            run.fill(this, &mut found);
            rest = after;
        }
        found
    }

    /// Keeps the counters of `sockets` alone (the rest of the dump went: `--pid`).
    pub fn keep_only(&mut self, sockets: &[Socket]) {
        for (netns, run) in &mut self.runs {
            let mut cookies: Vec<u64> = (sockets.iter())
                .filter(|s| s.netns.as_ref().map_or(0, |n| n.inode) == *netns)
                .filter_map(|s| Some(s.diag_id?.cookie.get()))
                .collect();
            cookies.sort_unstable();
            let kept = |cookie: &u64| cookies.binary_search(cookie).is_ok();
            run.bytes.retain(|(cookie, ..)| kept(cookie));
            run.retrans.retain(|(cookie, _)| kept(cookie));
            run.shrink_to_fit();
        }
        self.runs.retain(|(_, run)| !run.is_empty());
    }

    /// How many sockets' counters it holds.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|(_, run)| run.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

impl CounterRun {
    pub fn with_capacity(sockets: usize) -> CounterRun {
        CounterRun {
            bytes: Vec::with_capacity(sockets),
            retrans: Vec::new(),
        }
    }

    pub fn push(&mut self, cookie: u64, counters: TcpCounters) {
        self.bytes
            .push((cookie, counters.bytes_received, counters.bytes_acked));
        if counters.total_retrans != 0 {
            self.retrans.push((cookie, counters.total_retrans));
        }
    }

    /// By cookie, for `get` (done by `CounterTable::add` when not done before).
    pub fn sort(&mut self) {
        if !self.bytes.is_sorted_by_key(|&(cookie, ..)| cookie) {
            self.bytes.sort_unstable_by_key(|&(cookie, ..)| cookie);
        }
        if !self.retrans.is_sorted_by_key(|&(cookie, _)| cookie) {
            self.retrans.sort_unstable_by_key(|&(cookie, _)| cookie);
        }
    }

    /// For each (_, index, cookie) of `wanted` (sorted by cookie) that it holds, its
    /// counters at `found[index]`: one walk of `wanted`, `bytes` and `retrans` together.
    fn fill(&self, wanted: &[(u32, u32, u64)], found: &mut [Option<TcpCounters>]) {
        let (mut bytes, mut retrans) = (&self.bytes[..], &self.retrans[..]);
        for &(_, index, cookie) in wanted {
            bytes = seek(bytes, cookie, |&(c, ..)| c);
            let Some(&(_, bytes_received, bytes_acked)) = bytes.first().filter(|b| b.0 == cookie)
            else {
                continue;
            };
            retrans = seek(retrans, cookie, |&(c, _)| c);
            let total_retrans = retrans.first().filter(|r| r.0 == cookie).map_or(0, |r| r.1);
            found[index as usize] = Some(TcpCounters {
                bytes_received,
                bytes_acked,
                total_retrans,
            });
        }
    }

    /// How many sockets' counters it holds.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Forgets them all, keeping the room.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.retrans.clear();
    }

    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.retrans.shrink_to_fit();
    }
}

/// What is left of `sorted` (by `cookie_of`) from the first entry at or past `cookie`.
fn seek<T>(sorted: &[T], cookie: u64, cookie_of: impl Fn(&T) -> u64) -> &[T] {
    let skip = sorted.iter().take_while(|t| cookie_of(t) < cookie).count();
    &sorted[skip..]
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::num::NonZeroU64;
    use std::sync::Arc;

    use super::*;
    use crate::model::{DiagId, Family, Netns, Proto, TcpState};

    fn socket(netns: u64, cookie: u64) -> Socket {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Socket {
            diag_id: NonZeroU64::new(cookie).map(|cookie| DiagId {
                cookie,
                interface: 0,
            }),
            netns: Some(Arc::new(Netns {
                inode: netns,
                name: None,
            })),
            ..Socket::inet(Proto::Tcp, Family::Ipv4, TcpState::Established, addr, addr)
        }
    }

    fn counters(n: u64) -> TcpCounters {
        TcpCounters {
            bytes_received: n,
            bytes_acked: n + 1,
            // Some retransmitted (kept apart), some did not.
            total_retrans: (n % 2) as u32 * 5,
        }
    }

    fn run(counters: &[(u64, TcpCounters)]) -> CounterRun {
        let mut run = CounterRun::with_capacity(counters.len());
        for &(cookie, c) in counters {
            run.push(cookie, c);
        }
        run
    }

    #[test]
    fn found_by_namespace_and_cookie() {
        let mut table = CounterTable::default();
        assert!(table.is_empty());
        let dumped = [(30, counters(3)), (10, counters(1)), (20, counters(2))];
        table.add(7, run(&dumped));
        // The same cookie in another namespace is another socket.
        table.add(8, run(&[(10, counters(9))]));
        table.add(7, run(&[(40, counters(4))]));
        table.add(9, CounterRun::default());
        assert_eq!(table.len(), 5);
        let sockets = [
            socket(7, 30),
            socket(7, 10),
            socket(8, 10),
            socket(7, 40),
            socket(7, 15),
            socket(9, 10),
            socket(7, 20),
            // No cookie (a socket from /proc or a recording): nothing to find it by.
            socket(7, 0),
        ];
        let found = [
            Some(counters(3)),
            Some(counters(1)),
            Some(counters(9)),
            Some(counters(4)),
            None,
            None,
            Some(counters(2)),
            None,
        ];
        assert_eq!(table.clone().by_socket(&sockets), found);
        table.keep_only(&[socket(7, 30), socket(8, 20), socket(9, 10)]);
        assert_eq!(table.len(), 1);
        let found = table.clone().by_socket(&[socket(7, 10), socket(7, 30)]);
        assert_eq!(found, [None, Some(counters(3))]);
        table.keep_only(&[]);
        assert!(table.is_empty());
        assert_eq!(table.by_socket(&[socket(7, 30)]), [], "nothing when empty");
    }
}
