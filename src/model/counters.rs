//! The tcp_info counters of a snapshot's TCP sockets, apart from the sockets: what the
//! live view keeps of the tcp_info it does not show (`collect::Source::snapshot_counted`).

use super::{Socket, TcpCounters};

/// Counters by sock_diag cookie, one run sorted by cookie per network namespace: a
/// cookie names one socket while the kernel runs, within its namespace (kernels
/// before 5.11 count cookies per namespace, later ones host-wide). 32 bytes a socket,
/// where its whole tcp_info is a 112-byte allocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CounterTable {
    /// (network namespace inode, (cookie, counters) by cookie).
    runs: Vec<(u64, Vec<(u64, TcpCounters)>)>,
}

impl CounterTable {
    /// Adds the counters of the sockets of the namespace `netns` (`Netns::inode`), by
    /// cookie, in any order.
    pub fn add(&mut self, netns: u64, mut counters: Vec<(u64, TcpCounters)>) {
        if counters.is_empty() {
            return;
        }
        if let Some((_, run)) = self.runs.iter_mut().find(|(n, _)| *n == netns) {
            run.append(&mut counters);
            counters = std::mem::take(run);
            self.runs.retain(|(n, _)| *n != netns);
        }
        if !counters.is_sorted_by_key(|&(cookie, _)| cookie) {
            counters.sort_unstable_by_key(|&(cookie, _)| cookie);
        }
        self.runs.push((netns, counters));
    }

    /// The counters of `socket`, found by its namespace and cookie; None for a socket
    /// the table does not hold (its tcp_info is whole in it, or it has none).
    pub fn get(&self, socket: &Socket) -> Option<TcpCounters> {
        let cookie = socket.diag_id?.cookie.get();
        let netns = socket.netns.as_ref().map_or(0, |n| n.inode);
        let (_, run) = self.runs.iter().find(|(n, _)| *n == netns)?;
        let at = run.binary_search_by_key(&cookie, |&(c, _)| c).ok()?;
        Some(run[at].1)
    }

    /// Keeps the counters of `sockets` alone (the rest of the dump went: `--pid`).
    pub fn keep_only(&mut self, sockets: &[Socket]) {
        for (netns, run) in &mut self.runs {
            let mut cookies: Vec<u64> = (sockets.iter())
                .filter(|s| s.netns.as_ref().map_or(0, |n| n.inode) == *netns)
                .filter_map(|s| Some(s.diag_id?.cookie.get()))
                .collect();
            cookies.sort_unstable();
            run.retain(|(cookie, _)| cookies.binary_search(cookie).is_ok());
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
            total_retrans: n as u32,
        }
    }

    #[test]
    fn found_by_namespace_and_cookie() {
        let mut table = CounterTable::default();
        assert!(table.is_empty());
        table.add(
            7,
            vec![(30, counters(3)), (10, counters(1)), (20, counters(2))],
        );
        // The same cookie in another namespace is another socket.
        table.add(8, vec![(10, counters(9))]);
        table.add(7, vec![(40, counters(4))]);
        table.add(9, Vec::new());
        assert_eq!(table.len(), 5);
        assert_eq!(table.get(&socket(7, 10)), Some(counters(1)));
        assert_eq!(table.get(&socket(7, 30)), Some(counters(3)));
        assert_eq!(table.get(&socket(7, 40)), Some(counters(4)));
        assert_eq!(table.get(&socket(8, 10)), Some(counters(9)));
        assert_eq!(table.get(&socket(7, 15)), None);
        assert_eq!(table.get(&socket(9, 10)), None);
        // No cookie (a socket from /proc or a recording): nothing to find it by.
        assert_eq!(table.get(&socket(7, 0)), None);

        table.keep_only(&[socket(7, 30), socket(8, 20), socket(9, 10)]);
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(&socket(7, 30)), Some(counters(3)));
        assert_eq!(table.get(&socket(7, 10)), None);
        table.keep_only(&[]);
        assert!(table.is_empty());
    }
}
