use super::*;
use crate::model::{Family, Owners};

fn tcp(state: TcpState, local: &str, owners: &[(u32, &str)]) -> Socket {
    let mut s = Socket::inet(
        Proto::Tcp,
        Family::Ipv4,
        state,
        local.parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
    );
    s.processes = Owners::from(
        owners
            .iter()
            .map(|&(pid, comm)| crate::test_sockets::owner(pid, 3, comm))
            .collect::<Vec<_>>(),
    );
    s
}

const LIMITS: Limits = Limits {
    processes: 2,
    listeners: 1,
    pid_label: false,
    places: None,
};

#[test]
fn with_all_netns_sockets_count_per_place_and_the_smallest_fold_into_other() {
    let in_ns = |name: &str, inode: u64, state| {
        let mut s = tcp(state, "127.0.0.1:80", &[]);
        s.netns = Some(Arc::new(crate::model::Netns {
            inode,
            name: (!name.is_empty()).then(|| name.to_string()),
        }));
        s
    };
    let sockets = vec![
        in_ns("blue", 1, TcpState::Listen),
        in_ns("blue", 1, TcpState::Established),
        in_ns("blue", 1, TcpState::Established),
        in_ns("", 2, TcpState::Established),
        in_ns("", 2, TcpState::Listen),
        in_ns("red\x1b", 3, TcpState::Listen),
    ];
    let limits = Limits {
        places: Some(2),
        ..LIMITS
    };
    let s = Summary::new(&sockets, &[], Kernel::default(), &[], limits);
    let get = |netns: &str, state| {
        s.sockets
            .get(&SocketLabels {
                proto: Proto::Tcp,
                state,
                place: Some(Place {
                    netns: netns.into(),
                    container: String::new(),
                }),
            })
            .copied()
    };
    assert_eq!(get("blue", TcpState::Established), Some(2));
    assert_eq!(get("blue", TcpState::Listen), Some(1));
    // Unnamed: by inode.
    assert_eq!(get("2", TcpState::Listen), Some(1));
    // Third place past the cap of 2.
    assert_eq!(
        s.sockets
            .get(&SocketLabels {
                proto: Proto::Tcp,
                state: TcpState::Listen,
                place: Some(Place::other()),
            })
            .copied(),
        Some(1)
    );
    // No zeros without a place to serve them for.
    assert_eq!(s.sockets.values().sum::<u64>(), 6);
}

#[test]
fn counts_by_proto_and_state_with_zeros() {
    let sockets = [
        tcp(TcpState::Established, "127.0.0.1:1", &[]),
        tcp(TcpState::Established, "127.0.0.1:2", &[]),
        tcp(TcpState::TimeWait, "127.0.0.1:3", &[]),
    ];
    let zero = SocketLabels {
        proto: Proto::Tcp,
        state: TcpState::CloseWait,
        place: None,
    };
    let s = Summary::new(&sockets, &[], Kernel::default(), &[zero], LIMITS);
    let get = |state| {
        s.sockets[&SocketLabels {
            proto: Proto::Tcp,
            state,
            place: None,
        }]
    };
    assert_eq!(get(TcpState::Established), 2);
    assert_eq!(get(TcpState::TimeWait), 1);
    assert_eq!(get(TcpState::CloseWait), 0);
    assert_eq!(s.sockets.len(), 3);
    assert_eq!(state_label(TcpState::CloseWait), "close_wait");
    assert_eq!(json_name(&Proto::Unix), "unix");
}

#[test]
fn top_processes_keep_rows_and_the_rest_fold_into_other() {
    let est = TcpState::Established;
    let sockets = [
        tcp(est, "127.0.0.1:1", &[(10, "nginx"), (11, "nginx")]),
        tcp(est, "127.0.0.1:2", &[(11, "nginx")]),
        tcp(TcpState::CloseWait, "127.0.0.1:3", &[(12, "nginx")]),
        tcp(est, "127.0.0.1:4", &[(20, "bad\nname")]),
        tcp(est, "127.0.0.1:5", &[(20, "bad\nname")]),
        tcp(est, "127.0.0.1:6", &[(30, "small")]),
        tcp(est, "127.0.0.1:7", &[(40, "tiny")]),
        tcp(TcpState::TimeWait, "127.0.0.1:8", &[]),
    ];
    let rows = processes(&sockets, LIMITS);
    let find = |comm: &str, state| {
        rows.iter()
            .find(|r| r.comm == comm && r.state == state)
            .map(|r| r.sockets)
    };
    // Forked holders of one name count the socket once.
    assert_eq!(find("nginx", est), Some(2));
    assert_eq!(find("nginx", TcpState::CloseWait), Some(1));
    assert_eq!(find("bad\\nname", est), Some(2));
    assert_eq!(find(OTHER, est), Some(2));
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.pid.is_none()));

    let with_pids = processes(
        &sockets,
        Limits {
            pid_label: true,
            ..LIMITS
        },
    );
    assert!(with_pids.iter().all(|r| r.pid.is_some()));
    // By pid, 11 and 20 hold two sockets each; 10, 12, 30 and 40 fold into other.
    assert!(with_pids.iter().any(|r| r.pid.as_deref() == Some("11")));
    assert!(with_pids.iter().any(|r| r.pid.as_deref() == Some(OTHER)));
}

#[test]
fn listeners_fullest_first_and_the_rest_summed() {
    let mut a = tcp(TcpState::Listen, "0.0.0.0:80", &[]);
    (a.recv_q, a.send_q) = (1, 128);
    let mut b = tcp(TcpState::Listen, "127.0.0.1:8080", &[]);
    (b.recv_q, b.send_q) = (4, 4);
    let mut c = tcp(TcpState::Listen, "127.0.0.1:8080", &[]);
    (c.recv_q, c.send_q) = (0, 4);
    let rows = listeners(&[a, b, c], 1);
    assert_eq!(
        rows,
        [
            ListenRow {
                addr: "127.0.0.1".into(),
                port: "8080".into(),
                queue: 4,
                backlog: 8
            },
            ListenRow {
                addr: OTHER.into(),
                port: OTHER.into(),
                queue: 1,
                backlog: 128
            },
        ]
    );
}

#[test]
fn kernel_counters_the_kernel_has() {
    let ext = TcpExt(vec![
        ("ListenOverflows".into(), 7),
        ("TCPAbortOnTimeout".into(), 3),
        ("Unrelated".into(), 1),
    ]);
    let kernel = Kernel {
        tcp_ext: Some(&ext),
        port_range: Some(PortRange {
            low: 32768,
            high: 60999,
        }),
    };
    let s = Summary::new(&[], &[], kernel, &[], LIMITS);
    let served: Vec<_> = s.counters.iter().map(|(c, v)| (c.kernel, *v)).collect();
    assert_eq!(served, [("ListenOverflows", 7), ("TCPAbortOnTimeout", 3)]);
    assert_eq!(s.ephemeral_ports, Some(28232));
}
