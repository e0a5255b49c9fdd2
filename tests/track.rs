//! Tracking on synthetic snapshot sequences: no kernel, time from `taken_at`.

use std::time::{Duration, SystemTime};

mod common;

use common::sockets::{self, Build, owner};
use sockscope::model::{Family, Proto, Snapshot, Socket, TcpState};
use sockscope::track::{Change, TcpCounters, TrackConfig, Tracker};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn tcp(local_port: u16, remote_port: u16, state: TcpState, inode: u64) -> Socket {
    let local = format!("127.0.0.1:{local_port}");
    let remote = format!("127.0.0.1:{remote_port}");
    sockets::tcp(&local, &remote, state)
        .inode(inode)
        .owned_by(vec![owner(42, 3, "app")])
}

fn snap(secs: u64, sockets: Vec<Socket>) -> Snapshot {
    Snapshot {
        sockets,
        warnings: Vec::new(),
        taken_at: at(secs),
        closed: Vec::new(),
    }
}

fn changes(tracker: &Tracker) -> Vec<(u64, Change, u16)> {
    tracker
        .events()
        .iter()
        .map(|e| {
            let secs = e.at.duration_since(at(0)).unwrap().as_secs();
            (secs, e.change.clone(), e.socket.local.unwrap().port())
        })
        .collect()
}

#[test]
fn opened_closed_and_state_changes_become_events() {
    let mut t = Tracker::default();
    let listener = tcp(80, 0, TcpState::Listen, 1);
    t.observe(&snap(
        0,
        vec![listener.clone(), tcp(5000, 80, TcpState::SynSent, 2)],
    ));
    assert!(t.events().is_empty(), "the first snapshot is the baseline");

    t.observe(&snap(
        1,
        vec![
            listener.clone(),
            tcp(5000, 80, TcpState::Established, 2),
            tcp(5001, 80, TcpState::Established, 3),
        ],
    ));
    t.observe(&snap(
        2,
        vec![listener.clone(), tcp(5001, 80, TcpState::Established, 3)],
    ));

    assert_eq!(
        changes(&t),
        [
            (
                1,
                Change::State {
                    from: TcpState::SynSent,
                    to: TcpState::Established
                },
                5000
            ),
            (1, Change::Opened, 5001),
            (2, Change::Closed, 5000),
        ]
    );
    assert_eq!(
        t.events()[1].socket.processes[0].pid,
        42,
        "events carry owners"
    );
    let seqs: Vec<u64> = t.events_since(1).map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2]);

    let first = t.get(&tcp(5000, 80, TcpState::SynSent, 2).key()).unwrap();
    assert!(first.seen_from_start);
    assert_eq!(first.first_seen(), at(0));
    assert_eq!(first.closed_at(), Some(at(2)));
    assert_eq!(
        *first.states,
        [(at(0), TcpState::SynSent), (at(1), TcpState::Established)]
    );
    let second = t
        .get(&tcp(5001, 80, TcpState::Established, 3).key())
        .unwrap();
    assert!(!second.seen_from_start);
    assert_eq!(second.first_seen(), at(1));
    assert_eq!(second.state_age(), Duration::from_secs(1));

    assert_eq!(t.live().count(), 2);
    let counts = t.state_counts();
    assert_eq!(counts.len(), 3);
    assert_eq!(counts[1].get(TcpState::Established), 2);
    assert_eq!(counts[2].get(TcpState::Established), 1);
    assert_eq!(counts[2].get(TcpState::Listen), 1);
    assert_eq!(counts[2].total(), 2);
}

#[test]
fn a_connection_losing_its_inode_is_the_same_connection() {
    // close() moves a connection to TIME_WAIT, where the kernel keeps it without a
    // file: inode 0. It is the same connection changing state, not a close and an open.
    let mut t = Tracker::default();
    t.observe(&snap(0, vec![tcp(5000, 80, TcpState::Established, 7)]));
    t.observe(&snap(1, vec![tcp(5000, 80, TcpState::TimeWait, 0)]));
    t.observe(&snap(2, vec![]));
    assert_eq!(
        changes(&t),
        [
            (
                1,
                Change::State {
                    from: TcpState::Established,
                    to: TcpState::TimeWait
                },
                5000
            ),
            (2, Change::Closed, 5000),
        ]
    );
    let h = t.get(&tcp(5000, 80, TcpState::TimeWait, 0).key()).unwrap();
    assert_eq!(h.first_seen(), at(0));
    assert_eq!(h.samples().len(), 2);
}

#[test]
fn rates_come_from_byte_counters() {
    let mut t = Tracker::default();
    let s = tcp(5000, 80, TcpState::Established, 9);
    // A fake tcp_info: bytes received and acked at each second.
    let bytes = [(0, 0), (1000, 500), (3000, 500), (3000, 4500)];
    for (secs, (rx, tx)) in bytes.iter().enumerate() {
        let counters = |_: &Socket| {
            Some(TcpCounters {
                bytes_received: *rx,
                bytes_acked: *tx,
                total_retrans: 0,
            })
        };
        t.observe_with(&snap(secs as u64 * 2, vec![s.clone()]), counters);
    }
    let h = t.get(&s.key()).unwrap();
    let rates: Vec<(f64, f64)> = h.rates().map(|r| (r.rx_per_sec, r.tx_per_sec)).collect();
    assert_eq!(rates, [(500.0, 250.0), (1000.0, 0.0), (0.0, 2000.0)]);
    assert_eq!(h.rate().unwrap().at, at(6));

    // Without counters (the /proc source) there is no rate, rather than a zero one.
    let mut plain = Tracker::default();
    plain.observe(&snap(0, vec![s.clone()]));
    plain.observe(&snap(1, vec![s.clone()]));
    assert_eq!(plain.get(&s.key()).unwrap().rate(), None);
}

#[test]
fn queue_history_is_kept_per_socket() {
    let mut t = Tracker::default();
    for (secs, recv_q) in [10, 20, 30].into_iter().enumerate() {
        let mut s = tcp(5000, 80, TcpState::Established, 9);
        s.recv_q = recv_q;
        s.send_q = 1;
        t.observe(&snap(secs as u64, vec![s]));
    }
    let h = t
        .get(&tcp(5000, 80, TcpState::Established, 9).key())
        .unwrap();
    let q: Vec<u32> = h.recent(2).map(|s| s.recv_q).collect();
    assert_eq!(q, [20, 30]);
    assert!(h.samples().all(|s| s.send_q == 1));
}

#[test]
fn memory_stays_bounded_under_churn() {
    let config = TrackConfig {
        samples_per_socket: 8,
        states_per_socket: 4,
        state_counts_len: 100,
        events_cap: 500,
        keep_closed_for: Duration::from_secs(5),
        closed_cap: 1_000,
        keep_tcp_info: true,
    };
    let mut t = Tracker::new(config.clone());
    let mut max_tracked = 0;
    for n in 0..10_000u64 {
        // 20 long-lived sockets flipping state, and 20 short-lived ones replaced every step.
        let mut sockets: Vec<Socket> = (0..20)
            .map(|i| {
                let state = if n % 2 == 0 {
                    TcpState::Established
                } else {
                    TcpState::CloseWait
                };
                tcp(1000 + i, 80, state, 1 + i as u64)
            })
            .collect();
        sockets.extend((0..20).map(|i| {
            let id = n * 20 + i;
            tcp(
                2000 + (id % 60_000) as u16,
                443,
                TcpState::Established,
                1_000 + id,
            )
        }));
        t.observe(&snap(n, sockets));
        max_tracked = max_tracked.max(t.tracked_len());
    }
    // Live 40, plus closed ones remembered for 5 s: 20 close per second.
    assert!(max_tracked <= 40 + 20 * 6, "tracked {max_tracked}");
    assert_eq!(t.live().count(), 40);
    assert_eq!(t.events().len(), config.events_cap);
    assert_eq!(t.state_counts().len(), config.state_counts_len);
    for h in t.live() {
        assert!(h.samples().len() <= config.samples_per_socket);
        assert!(h.states.len() <= config.states_per_socket);
    }
    assert_eq!(t.snapshots_seen(), 10_000);
    // The log keeps the newest events.
    assert_eq!(t.events().back().unwrap().at, at(9_999));
}

#[test]
fn closed_sockets_are_capped_even_when_young() {
    let config = TrackConfig {
        closed_cap: 50,
        ..TrackConfig::default()
    };
    let mut t = Tracker::new(config);
    for n in 0..100u64 {
        let sockets = (0..100)
            .map(|i| {
                tcp(
                    3000 + i,
                    80,
                    TcpState::Established,
                    n * 1_000 + i as u64 + 1,
                )
            })
            .collect();
        t.observe(&snap(n, sockets));
        assert!(t.tracked_len() <= 100 + 50, "tracked {}", t.tracked_len());
    }
}

#[test]
fn a_key_that_reopens_is_a_new_socket() {
    let mut t = Tracker::default();
    let s = tcp(5000, 80, TcpState::Established, 0);
    t.observe(&snap(0, vec![s.clone()]));
    t.observe(&snap(1, vec![]));
    t.observe(&snap(2, vec![s.clone()]));
    let h = t.get(&s.key()).unwrap();
    assert_eq!(
        (h.first_seen(), h.closed_at(), h.seen_from_start),
        (at(2), None, false)
    );
    let kinds: Vec<Change> = t.events().iter().map(|e| e.change.clone()).collect();
    assert_eq!(kinds, [Change::Closed, Change::Opened]);
}

#[test]
fn duplicate_keys_in_one_snapshot_are_one_socket() {
    // Unix connections nobody accepted yet: inode 0, no address, all one key.
    let pending = Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        local: None,
        remote: None,
        state: TcpState::Established,
        inode: 0,
        ..tcp(1, 2, TcpState::Established, 0)
    };
    let mut t = Tracker::default();
    t.observe(&snap(0, vec![]));
    t.observe(&snap(1, vec![pending.clone(), pending.clone()]));
    t.observe(&snap(2, vec![pending.clone(), pending.clone()]));
    let kinds: Vec<Change> = t.events().iter().map(|e| e.change.clone()).collect();
    assert_eq!(kinds, [Change::Opened]);
    assert_eq!(t.tracked_len(), 1);
    assert_eq!(t.state_counts()[2].get(TcpState::Established), 2);
}
