//! The closed-connection log in tracking, on synthetic snapshots: each destroyed
//! socket is one `Closed` event with its final counters and the best owner known.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sockscope::model::{
    Closed, Family, Owner, Owners, ProcessInfo, Proto, Snapshot, Socket, TcpInfo, TcpState,
};
use sockscope::track::{Change, Tracker};

fn at_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

fn owners(pid: u32, comm: &str) -> Owners {
    Owners::one(Owner {
        pid,
        fd: 3,
        process: Arc::new(ProcessInfo {
            comm: Arc::from(comm),
            uid: 0,
            user: Arc::from("root"),
            container: None,
        }),
    })
}

fn tcp(local_port: u16, remote_port: u16, state: TcpState, inode: u64) -> Socket {
    Socket {
        inode,
        processes: if inode == 0 {
            Owners::default()
        } else {
            owners(42, "server")
        },
        ..Socket::inet(
            Proto::Tcp,
            Family::Ipv4,
            state,
            ([127, 0, 0, 1], local_port).into(),
            ([127, 0, 0, 1], remote_port).into(),
        )
    }
}

/// As the kernel sends it: no inode, no owner, state CLOSE, final tcp_info.
fn destroyed(local_port: u16, remote_port: u16, ms: u64, bytes_received: u64) -> Closed {
    Closed {
        at: at_ms(ms),
        socket: Socket {
            tcp_info: Some(Box::new(TcpInfo {
                bytes_received,
                ..TcpInfo::default()
            })),
            processes: Owners::default(),
            ..tcp(local_port, remote_port, TcpState::Close, 0)
        },
    }
}

fn snap(ms: u64, sockets: Vec<Socket>, closed: Vec<Closed>) -> Snapshot {
    Snapshot {
        sockets,
        warnings: Vec::new(),
        taken_at: at_ms(ms),
        closed,
    }
}

fn closed_events(t: &Tracker) -> Vec<(u64, u16, Option<u64>, String)> {
    t.events()
        .iter()
        .filter(|e| e.change == Change::Closed)
        .map(|e| {
            let ms = e.at.duration_since(at_ms(0)).unwrap().as_millis() as u64;
            let owner = e
                .socket
                .processes
                .first()
                .map_or("unknown".into(), |o| o.process.comm.to_string());
            let bytes = e.socket.tcp_info.as_ref().map(|i| i.bytes_received);
            (ms, e.socket.remote.unwrap().port(), bytes, owner)
        })
        .collect()
}

#[test]
fn a_connection_between_two_snapshots_is_logged_with_its_listeners_owner() {
    let mut t = Tracker::default();
    let listener = tcp(80, 0, TcpState::Listen, 1);
    t.observe(&snap(0, vec![listener.clone()], vec![]));
    // Accepted and gone within 20 ms, between the snapshots at 0 and 1000 ms; the
    // client's side (remote port 80) had an ephemeral port nobody listens on.
    t.observe(&snap(
        1000,
        vec![listener.clone()],
        vec![
            destroyed(80, 40001, 300, 5000),
            destroyed(40001, 80, 320, 10),
        ],
    ));
    assert_eq!(
        closed_events(&t),
        [
            (300, 40001, Some(5000), "server".to_string()),
            (320, 80, Some(10), "unknown".to_string()),
        ]
    );
    // In the history too, as recently closed.
    assert_eq!(t.recently_closed().count(), 2);
    // The next snapshot does not close them again.
    t.observe(&snap(2000, vec![listener], vec![]));
    assert_eq!(closed_events(&t).len(), 2);
}

#[test]
fn a_socket_seen_before_closes_once_at_the_kernels_time_with_final_counters() {
    let mut t = Tracker::default();
    let conn = tcp(80, 40002, TcpState::Established, 7);
    t.observe(&snap(0, vec![conn.clone()], vec![]));
    t.observe(&snap(1000, vec![], vec![destroyed(80, 40002, 1500, 777)]));
    // Closed at 1500 (the log's time), as last seen (ESTABLISHED, its owner), once.
    let events: Vec<_> = t.events().iter().collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].socket.state, TcpState::Established);
    assert_eq!(
        closed_events(&t),
        [(1500, 40002, Some(777), "server".into())]
    );
}

#[test]
fn a_connection_still_listed_in_time_wait_is_not_closed_yet() {
    let mut t = Tracker::default();
    t.observe(&snap(
        0,
        vec![tcp(40003, 80, TcpState::Established, 8)],
        vec![],
    ));
    // Its full socket went; the kernel still lists the connection in TIME_WAIT.
    t.observe(&snap(
        1000,
        vec![tcp(40003, 80, TcpState::TimeWait, 0)],
        vec![destroyed(40003, 80, 900, 1)],
    ));
    assert!(closed_events(&t).is_empty());
    assert!(matches!(
        t.events().back().map(|e| e.change.clone()),
        Some(Change::State {
            to: TcpState::TimeWait,
            ..
        })
    ));
    // Closed when TIME_WAIT goes.
    t.observe(&snap(61_000, vec![], vec![]));
    assert_eq!(closed_events(&t).len(), 1);
}

#[test]
fn unbound_sockets_are_not_logged() {
    let mut t = Tracker::default();
    t.observe(&snap(0, vec![], vec![]));
    t.observe(&snap(1000, vec![], vec![destroyed(0, 0, 10, 0)]));
    assert!(t.events().is_empty());
}

#[test]
fn between_snapshots_only_the_unseen_are_logged_at_once() {
    let mut t = Tracker::default();
    let listener = tcp(80, 0, TcpState::Listen, 1);
    let conn = tcp(80, 40005, TcpState::Established, 9);
    t.observe(&snap(0, vec![listener.clone(), conn], vec![]));
    let mut closed = vec![destroyed(80, 40004, 200, 10), destroyed(80, 40005, 300, 20)];
    t.observe_unseen(&mut closed);
    // The unseen one at once, with its listener's owner; the known one waits.
    assert_eq!(closed_events(&t), [(200, 40004, Some(10), "server".into())]);
    assert_eq!(closed.len(), 1);
    // The next snapshot closes the known one, once, at the kernel's time.
    t.observe(&snap(1000, vec![listener], closed));
    assert_eq!(
        closed_events(&t),
        [
            (200, 40004, Some(10), "server".into()),
            (300, 40005, Some(20), "server".into()),
        ]
    );
}
