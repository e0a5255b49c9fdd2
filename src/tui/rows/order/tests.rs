//! The fast order against `plain`, on mixed sockets: every sort, both directions,
//! with vanished rows and unknown rates, small and big enough for two threads.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::SystemTime;

use super::*;
use crate::model::{Family, Owner, ProcessInfo, Proto, SocketType, TcpState};

/// xorshift64: the same mix every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn owner(dice: &mut Dice, comms: &[Arc<str>], users: &[Arc<str>]) -> Owner {
    let pid = 100 + dice.below(12) as u32;
    Owner {
        pid,
        fd: 3,
        process: Arc::new(ProcessInfo {
            // Mostly one name per pid, sometimes another (a copy, not the same Arc).
            comm: match dice.below(8) {
                0 => Arc::from(&*comms[dice.below(comms.len() as u64) as usize]),
                _ => comms[pid as usize % comms.len()].clone(),
            },
            uid: pid % 3,
            user: users[dice.below(users.len() as u64) as usize].clone(),
            container: None,
        }),
    }
}

fn address(dice: &mut Dice) -> SocketAddr {
    let port = [0, 22, 80, 443, 5000, 65535][dice.below(6) as usize];
    let port = if dice.below(3) == 0 {
        dice.below(65536) as u16
    } else {
        port
    };
    match dice.below(5) {
        0 | 1 => ([127, 0, dice.below(3) as u8, dice.below(4) as u8], port).into(),
        2 => ([0, 0, 0, 0], port).into(),
        // IPv6 sharing their first 62 bits and more, a few scoped.
        _ => {
            let ip = match dice.below(4) {
                0 => Ipv6Addr::LOCALHOST,
                1 => Ipv6Addr::UNSPECIFIED,
                2 => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, dice.below(3) as u16),
                _ => Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, dice.below(2) as u16, 1),
            };
            let scope = if dice.below(6) == 0 { 2 } else { 0 };
            let flow = if dice.below(9) == 0 { 7 } else { 0 };
            SocketAddrV6::new(ip, port, flow, scope).into()
        }
    }
}

fn sockets(dice: &mut Dice, n: usize) -> Vec<Socket> {
    let comms: Vec<Arc<str>> = ["nginx", "nginx", "curl", "a", "ab", "Zed", "postgres"]
        .map(Arc::from)
        .into();
    let users: Vec<Arc<str>> = ["root", "www", "alice"].map(Arc::from).into();
    let states = [
        TcpState::Established,
        TcpState::Listen,
        TcpState::TimeWait,
        TcpState::Unconn,
    ];
    let mut out: Vec<Socket> = (0..n)
        .map(|i| {
            let state = states[dice.below(states.len() as u64) as usize];
            let mut s = match dice.below(6) {
                0 => {
                    let path = match dice.below(4) {
                        0 => None,
                        1 => Some("/run/a.sock".to_string()),
                        2 => Some("/run/a.sock.long.name".to_string()),
                        _ => Some(format!("@abstract{}", dice.below(5))),
                    };
                    Socket::unix(SocketType::Stream, state, path, 0)
                }
                1 => Socket::inet(
                    Proto::Udp,
                    Family::Ipv4,
                    state,
                    address(dice),
                    address(dice),
                ),
                _ => Socket::inet(
                    Proto::Tcp,
                    Family::Ipv4,
                    state,
                    address(dice),
                    address(dice),
                ),
            };
            // Distinct sockets: distinct inodes.
            s.inode = i as u64 + 1;
            s.recv_q = [0, 0, 0, 1, 7, u32::MAX][dice.below(6) as usize];
            s.send_q = dice.below(3) as u32;
            s.uid = dice.below(3) as u32;
            let owners: Vec<Owner> = (0..dice.below(3))
                .map(|_| owner(dice, &comms, &users))
                .collect();
            s.processes = owners.into();
            s
        })
        .collect();
    out.sort_by(|a, b| a.display_order(b));
    out
}

fn rate(dice: &mut Dice) -> Option<Rate> {
    let value = |dice: &mut Dice| [0.0, 0.5, 12.0, 1e9, -0.0][dice.below(5) as usize];
    (dice.below(4) != 0).then(|| Rate {
        at: SystemTime::UNIX_EPOCH,
        rx_per_sec: value(dice),
        tx_per_sec: value(dice),
    })
}

fn every_sort() -> Vec<Sort> {
    let mut by: Vec<SortBy> = Column::TUI
        .into_iter()
        .chain([Column::Place])
        .filter(|c| c.spec().sort.is_some())
        .map(SortBy::Column)
        .collect();
    by.push(SortBy::Rate);
    by.into_iter()
        .flat_map(|by| [false, true].map(|reverse| Sort { by, reverse }))
        .collect()
}

fn same_as_plain(seed: u64, live: usize, gone: usize) {
    let mut dice = Dice(seed);
    let live = sockets(&mut dice, live);
    let mut gone = sockets(&mut dice, gone);
    // Vanished ones are not in display order, and their inodes are their own.
    for (i, s) in gone.iter_mut().enumerate() {
        s.inode += 10_000_000 + i as u64;
    }
    gone.reverse();
    let rates: Vec<Option<Rate>> = (0..live.len()).map(|_| rate(&mut dice)).collect();
    let rate = |row: RowRef| match row.get() {
        Row::Live(i) => rates[i],
        Row::Gone(_) => None,
    };
    for sort in every_sort() {
        let fast = sorted_rows(Vec::new(), &live, &gone, sort, rate);
        let want = plain(&live, &gone, sort, rate);
        assert_eq!(fast.len(), want.len(), "{sort:?}");
        if let Some(at) = (0..fast.len()).find(|&i| fast[i] != want[i]) {
            panic!(
                "{sort:?}: row {at} is {:?}, plain has {:?}",
                fast[at], want[at]
            );
        }
    }
}

#[test]
fn small_mixes_sort_as_plain() {
    for seed in 1..40 {
        same_as_plain(seed, seed as usize * 7, seed as usize % 5);
    }
    same_as_plain(99, 0, 0);
    same_as_plain(98, 0, 3);
}

#[test]
fn a_big_mix_sorts_as_plain_on_two_threads() {
    same_as_plain(7, PARALLEL_FROM + 1234, 321);
}

#[test]
fn keys_keep_their_order() {
    assert!(ascending(-2.0) < ascending(-1.0));
    assert!(ascending(-1.0) < ascending(-0.0));
    assert!(ascending(-0.0) < ascending(0.0));
    assert!(ascending(0.0) < ascending(1e-300));
    assert!(ascending(1.0) < ascending(f64::INFINITY));
    assert!(prefix(b"a") <= prefix(b"a\0b"));
    assert!(prefix(b"ab") < prefix(b"b"));
    assert!(prefix(b"abcdefg") == prefix(b"abcdefgh"));
    let words = ["b", "a", "b", "c", "a"];
    assert_eq!(dense(words.into_iter(), |_| 0), [1, 0, 1, 2, 0]);
    assert_eq!(dense(words.into_iter(), |w| w.len()), [1, 0, 1, 2, 0]);
}

#[test]
fn radix_and_comparisons_agree() {
    let mut dice = Dice(5);
    for (n, mask) in [
        (1000, 0xff),
        (5000, 0xff_ff00_00ff),
        (70_000, u64::MAX),
        (3, 0),
    ] {
        let packed: Vec<Packed> = (0..n)
            .map(|rank| {
                let key = dice.next() & mask;
                u128::from(key) << 64 | u128::from((rank as u64) << 33 | rank as u64)
            })
            .collect();
        let mut want = packed.clone();
        want.sort_unstable();
        let mut fast = packed.clone();
        sort_packed(&mut fast);
        assert_eq!(fast, want, "{n} keys of {mask:x}");
        let (or, and) = (mask, 0);
        let bytes: Vec<u32> = (0..8)
            .filter(|b| ((or ^ and) >> (8 * b)) & 0xff != 0)
            .collect();
        let mut radixed = packed;
        radix(&mut radixed, &bytes);
        assert_eq!(radixed, want, "radix, {n} keys of {mask:x}");
    }
}
