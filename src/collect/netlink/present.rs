//! Which families a network namespace has any socket of, from its own counters, so
//! the dumps of the empty ones are skipped.
//!
//! /proc/<pid>/net/protocols counts, per namespace, the sockets of each protocol
//! that are hashed, which are the ones a sock_diag dump can find (a bound UDP socket,
//! a listening or connected TCP one, every raw one); /proc/<pid>/net/sockstat adds
//! TCP's TIME_WAITs ("tw"). A dump is cheap in a namespace of its own, except where
//! the kernel's table is shared by the host: the TCP hash (see `Netlink::read_tcp`),
//! and the listener hash that the MPTCP dump walks. A namespace with no TCP socket
//! is common (a pod's sidecar, a test's namespace), and there the walk is saved.

use std::path::Path;
use std::sync::OnceLock;

use crate::collect::read::{self, Follow};

/// A counter file is a few hundred bytes.
const MAX: usize = 16 * 1024;

/// Which dumps a namespace needs. Anything not known to be empty is dumped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Present {
    pub tcp: bool,
    pub udp: bool,
    pub raw: bool,
    pub sctp: bool,
    /// MPTCP's own counters count its connections and listeners since Linux 6.4;
    /// before, this follows `tcp` (an MPTCP socket has TCP subflows).
    pub mptcp: bool,
}

impl Present {
    pub const ALL: Present = Present {
        tcp: true,
        udp: true,
        raw: true,
        sctp: true,
        mptcp: true,
    };

    /// From the counters under `net_dir` (a /proc/<pid>/net); ALL where they cannot
    /// be read.
    pub fn read(net_dir: &Path) -> Present {
        let file = |name: &str| read::prefix(&net_dir.join(name), MAX, Follow::No).ok();
        match (file("protocols"), file("sockstat")) {
            (Some(protocols), Some(sockstat)) => {
                Present::parse(&protocols, &sockstat, mptcp_counted())
            }
            _ => Present::ALL,
        }
    }

    /// From the text of protocols and sockstat; `mptcp_counted`: whether this kernel
    /// keeps MPTCP's counters. A protocol missing from the table (a module not
    /// loaded) counts as present: its dump says for itself.
    pub fn parse(protocols: &[u8], sockstat: &[u8], mptcp_counted: bool) -> Present {
        let protocols = String::from_utf8_lossy(protocols);
        let count = |name: &str| -> Option<u64> {
            protocols.lines().skip(1).find_map(|line| {
                let mut cells = line.split_whitespace();
                // protocol, size, sockets, …
                (cells.next()? == name).then(|| cells.nth(1)?.parse().ok())?
            })
        };
        let any = |names: &[&str]| {
            let counts: Option<Vec<u64>> = names.iter().map(|n| count(n)).collect();
            counts.is_none_or(|c| c.iter().any(|&n| n > 0))
        };
        let sockstat = String::from_utf8_lossy(sockstat);
        let time_wait = sockstat
            .lines()
            .find_map(|l| l.strip_prefix("TCP: "))
            .and_then(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let at = words.iter().position(|w| *w == "tw")?;
                words.get(at + 1)?.parse::<u64>().ok()
            });
        let tcp = any(&["TCP", "TCPv6"]) || time_wait.is_none_or(|n| n > 0);
        Present {
            tcp,
            udp: any(&["UDP", "UDPv6"]),
            raw: any(&["RAW", "RAWv6"]),
            sctp: any(&["SCTP", "SCTPv6"]),
            mptcp: if mptcp_counted {
                any(&["MPTCP", "MPTCPv6"])
            } else {
                tcp
            },
        }
    }
}

/// Whether the running kernel counts MPTCP sockets in /proc/net/protocols: 6.4 and
/// later ("mptcp: add statistics for mptcp socket in use"). Read once.
fn mptcp_counted() -> bool {
    static COUNTED: OnceLock<bool> = OnceLock::new();
    *COUNTED.get_or_init(|| {
        let path = Path::new(crate::collect::PROC).join("sys/kernel/osrelease");
        let release = read::prefix(&path, 256, Follow::No).unwrap_or_default();
        release_at_least(&release, (6, 4))
    })
}

/// "6.18.44-fc-v1045" is at least (6, 4).
fn release_at_least(release: &[u8], want: (u64, u64)) -> bool {
    let text = String::from_utf8_lossy(release);
    let mut parts = text.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok());
    let minor = parts.next().and_then(|p| p.parse().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= want,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "protocol  size sockets  memory press maxhdr  slab module     cl co\n";

    fn table(rows: &[(&str, u64)]) -> String {
        let mut text = HEADER.to_string();
        for (name, n) in rows {
            text +=
                &format!("{name:<9} 1344 {n:>6}       0   NI       0   yes  kernel      y  y\n");
        }
        text
    }

    const SOCKSTAT: &str =
        "sockets: used 5\nTCP: inuse 0 orphan 0 tw 0 alloc 9 mem 1\nUDP: inuse 0 mem 0\n";

    #[test]
    fn empty_families_are_skipped_and_unknown_ones_kept() {
        let protocols = table(&[
            ("TCP", 0),
            ("TCPv6", 0),
            ("UDP", 0),
            ("UDPv6", 2),
            ("RAW", 0),
            ("RAWv6", 0),
        ]);
        let present = Present::parse(protocols.as_bytes(), SOCKSTAT.as_bytes(), false);
        assert_eq!(
            present,
            Present {
                tcp: false,
                udp: true,
                raw: false,
                // Not in the table: SCTP's module is not loaded; its dump says so.
                sctp: true,
                mptcp: false,
            }
        );
    }

    #[test]
    fn time_wait_alone_keeps_the_tcp_dump() {
        let protocols = table(&[("TCP", 0), ("TCPv6", 0)]);
        let sockstat = SOCKSTAT.replace("tw 0", "tw 3");
        let present = Present::parse(protocols.as_bytes(), sockstat.as_bytes(), false);
        assert!(present.tcp && present.mptcp);
        // Without the tw count, TCP is dumped.
        let present = Present::parse(protocols.as_bytes(), b"TCP: inuse 0\n", false);
        assert!(present.tcp);
    }

    #[test]
    fn mptcp_by_its_own_counters_where_the_kernel_keeps_them() {
        let protocols = table(&[("TCP", 4), ("TCPv6", 0), ("MPTCP", 0), ("MPTCPv6", 0)]);
        let parse = |counted| Present::parse(protocols.as_bytes(), SOCKSTAT.as_bytes(), counted);
        assert!(parse(false).mptcp);
        assert!(!parse(true).mptcp && parse(true).tcp);
        let protocols = table(&[("TCP", 4), ("MPTCP", 0), ("MPTCPv6", 1)]);
        assert!(Present::parse(protocols.as_bytes(), SOCKSTAT.as_bytes(), true).mptcp);
        assert!(release_at_least(b"6.18.44-fc-v1045\n", (6, 4)));
        assert!(release_at_least(b"6.4.0", (6, 4)));
        assert!(!release_at_least(b"6.3.13-arch1", (6, 4)));
        assert!(!release_at_least(b"5.15.0-91-generic", (6, 4)));
        assert!(!release_at_least(b"", (6, 4)));
    }

    #[test]
    fn garbage_dumps_everything() {
        assert_eq!(Present::parse(b"\xff\x00", b"", true), Present::ALL);
    }
}
