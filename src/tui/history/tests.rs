use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::model::Snapshot;
use crate::test_sockets::{self, Build};
use crate::track::TrackConfig;

fn tcp(port: u16, state: TcpState) -> Socket {
    let local = format!("127.0.0.1:{port}");
    test_sockets::tcp(&local, "127.0.0.1:80", state).inode(u64::from(port))
}

fn observe(tracker: &mut Tracker, sockets: Vec<Socket>, secs: u64) {
    tracker.observe(&Snapshot {
        sockets,
        warnings: Vec::new(),
        taken_at: UNIX_EPOCH + Duration::from_secs(secs),
        closed: Vec::new(),
    });
}

fn seen(t: &Tracker, socket: &Socket) -> Seen {
    Seen::of(t, t.get(&socket.key()).expect("tracked"))
}

fn is_new(t: &Tracker, socket: &Socket) -> bool {
    seen(t, socket).new
}

fn tracked(t: &Tracker) -> Tracked {
    Tracked {
        state_counts: t.state_counts().iter().cloned().collect(),
        ..Tracked::default()
    }
}

#[test]
fn a_rows_marks_stay_small_and_read_back() {
    assert_eq!(
        std::mem::size_of::<Mark>(),
        16,
        "one per row, two models alive"
    );
    assert_eq!(std::mem::size_of::<Seen>(), 32, "the details' one");
    let mut t = Tracker::new(TrackConfig::default());
    let s = tcp(1, TcpState::Established);
    let counted = |n: u64| {
        let mut s = s.clone();
        s.tcp_info = Some(Box::new(crate::model::TcpInfo {
            bytes_received: 1000 * n,
            bytes_acked: 3000 * n,
            ..Default::default()
        }));
        s
    };
    observe(&mut t, vec![counted(1)], 1);
    assert_eq!(
        seen(&t, &s).rate(UNIX_EPOCH),
        None,
        "one sample: no rate yet"
    );
    observe(&mut t, vec![counted(3)], 3);
    let at = UNIX_EPOCH + Duration::from_secs(3);
    let rate = seen(&t, &s).rate(at).expect("two samples with counters");
    assert_eq!(
        (rate.at, rate.rx_per_sec, rate.tx_per_sec),
        (at, 1000.0, 3000.0)
    );
    assert_eq!(seen(&t, &s).state_age(), Duration::from_secs(2));
}

#[test]
fn rows_in_the_same_states_share_them_and_read_back_as_seen() {
    let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
    let mut t = Tracker::new(TrackConfig::default());
    let old: Vec<Socket> = (1..=3).map(|p| tcp(p, TcpState::Established)).collect();
    observe(&mut t, old.clone(), 1);
    let mut all = old.clone();
    all.push(tcp(4, TcpState::SynSent));
    all.push(tcp(5, TcpState::Established));
    all[2].state = TcpState::CloseWait;
    observe(&mut t, all.clone(), 2);

    let mut marking = Marking::default();
    // Not in display order: the lookup, not only the row before, finds them.
    let order = [0, 3, 1, 4, 2];
    let marks: Vec<Mark> = order
        .iter()
        .map(|&i| marking.mark(seen(&t, &all[i])))
        .collect();
    let tracked = Tracked {
        live: marks,
        states: marking.into_states(),
        at: Some(at(2)),
        ..Tracked::default()
    };
    let distinct: Vec<Vec<TcpState>> = tracked
        .states
        .iter()
        .map(|s| s.iter().map(|(_, state)| *state).collect())
        .collect();
    use TcpState::*;
    assert_eq!(
        distinct,
        [
            vec![Established],
            vec![SynSent],
            vec![Established],
            vec![Established, CloseWait]
        ],
        "port 5 opened at 2: its own"
    );
    let states = |row: usize| tracked.live[row].states();
    assert_eq!(states(0), states(2), "ports 1 and 2 share theirs");
    for (row, &i) in order.iter().enumerate() {
        let want = seen(&t, &all[i]);
        let got = tracked.seen(RowRef::live(row)).expect("a row");
        assert_eq!(got.states, want.states, "port {}", i + 1);
        assert_eq!(got.new, want.new, "port {}", i + 1);
        assert_eq!(got.state_age(), want.state_age());
        assert_eq!(tracked.mark(RowRef::live(row)).unwrap().is_new(), want.new);
    }
    assert!(
        tracked.seen(RowRef::live(3)).unwrap().new,
        "port 4 opened at 2"
    );
    assert!(tracked.seen(RowRef::live(5)).is_none(), "no such row");
    assert!(tracked.seen(RowRef::gone(0)).is_none(), "none gone");
}

#[test]
fn new_vanished_and_states_seen() {
    let mut t = Tracker::new(TrackConfig::default());
    let first = vec![tcp(1, TcpState::SynSent), tcp(2, TcpState::Established)];
    observe(&mut t, first, 1);
    assert!(!is_new(&t, &tcp(1, TcpState::SynSent)), "not at start");

    let second = vec![tcp(1, TcpState::Established), tcp(3, TcpState::Established)];
    observe(&mut t, second.clone(), 2);
    assert!(is_new(&t, &tcp(3, TcpState::Established)));
    assert!(!is_new(&t, &tcp(1, TcpState::Established)));
    assert_eq!(vanished(&t), vec![tcp(2, TcpState::Established)]);
    let states: Vec<TcpState> = seen(&t, &tcp(1, TcpState::Listen))
        .states
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(states, [TcpState::SynSent, TcpState::Established]);

    // Vanished for one refresh only; no longer new either.
    observe(&mut t, second, 3);
    assert!(vanished(&t).is_empty());
    assert!(!is_new(&t, &tcp(3, TcpState::Established)));
}

#[test]
fn vanished_are_exactly_those_closed_at_the_last_refresh() {
    let mut t = Tracker::new(TrackConfig::default());
    let all: Vec<Socket> = (1..=4).map(|p| tcp(p, TcpState::Established)).collect();
    observe(&mut t, all.clone(), 1);
    observe(&mut t, all[2..].to_vec(), 2);
    assert_eq!(vanished(&t), all[..2].to_vec());
    // One more closes; the two before are no longer news, though still remembered.
    observe(&mut t, all[3..].to_vec(), 3);
    assert_eq!(vanished(&t), all[2..3].to_vec());
    assert_eq!(t.recently_closed().count(), 3);
    // A key that reopens is live again, not vanished.
    observe(&mut t, all.clone(), 4);
    assert!(vanished(&t).is_empty());
}

#[test]
fn buckets_count_by_protocol() {
    let mut t = Tracker::new(TrackConfig::default());
    let mut udp = tcp(9, TcpState::Unconn);
    udp.proto = Proto::Udp;
    observe(&mut t, vec![tcp(1, TcpState::Listen)], 1);
    observe(&mut t, vec![tcp(1, TcpState::Listen), udp], 2);
    assert_eq!(counts(&tracked(&t), Bucket::Udp), vec![0, 1]);
    assert_eq!(
        counts(&tracked(&t), Bucket::Tcp(TcpState::Listen)),
        vec![1, 1]
    );
    assert_eq!(
        counts(&tracked(&t), Bucket::Tcp(TcpState::Unconn)),
        vec![0, 0]
    );
    assert!(had_any(&tracked(&t), Bucket::Udp));
    assert!(!had_any(&tracked(&t), Bucket::Unix));

    // Each other protocol is a group of its own.
    let mut raw = tcp(10, TcpState::Unconn);
    raw.proto = Proto::Raw;
    let mut netlink = tcp(11, TcpState::Unconn);
    netlink.proto = Proto::Netlink;
    observe(&mut t, vec![raw.clone(), raw, netlink], 3);
    assert_eq!(
        counts(&tracked(&t), Bucket::More(Proto::Raw)),
        vec![0, 0, 2]
    );
    assert_eq!(
        counts(&tracked(&t), Bucket::More(Proto::Netlink)),
        vec![0, 0, 1]
    );
    assert!(!had_any(&tracked(&t), Bucket::More(Proto::Packet)));
    let labels: Vec<&str> = Bucket::more().map(Bucket::label).collect();
    assert_eq!(
        labels,
        [
            "RAW", "ICMP", "SCTP", "MPTCP", "PACKET", "NETLINK", "VSOCK", "OTHER"
        ]
    );
}
