use super::*;

#[test]
fn sockets_round_trip_without_the_volatile_fields() {
    let owner = Owner {
        pid: 4242,
        fd: 7,
        comm: Arc::from("nginx\nx"),
        uid: 33,
        user: Arc::from("www-data"),
        container: None,
    };
    let tcp = Socket {
        recv_q: 3,
        send_q: 70_000,
        inode: 123_456_789,
        uid: 33,
        processes: vec![owner.clone(), owner].into(),
        tcp_info: Some(Box::new(TcpInfo {
            rtt_us: 1234,
            cwnd: 10,
            bytes_received: u64::MAX,
            ..TcpInfo::default()
        })),
        ..Socket::inet(
            Proto::Tcp,
            Family::Ipv6,
            TcpState::CloseWait,
            "[::1]:80".parse().unwrap(),
            "[::ffff:127.0.0.1]:40000".parse().unwrap(),
        )
    };
    let mut unix = Socket::unix(
        SocketType::Seqpacket,
        TcpState::Listen,
        Some("@a\0b".into()),
        9,
    );
    unix.set_peer_inode(Some(0));
    let udp = Socket::inet(
        Proto::Udp,
        Family::Ipv4,
        TcpState::Unconn,
        "127.0.0.1:53".parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
    );
    for s in [tcp, unix, udp] {
        let mut enc = Enc::default();
        enc.socket(&s);
        let mut dec = Dec::new(&enc.buf);
        assert_eq!(dec.socket().unwrap(), s);
        assert!(dec.is_empty());
        // Every cut is an error, never a panic.
        for cut in 0..enc.buf.len() {
            assert!(Dec::new(&enc.buf[..cut]).socket().is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn the_namespace_and_containers_round_trip_shared() {
    let container = Arc::new(Container {
        runtime: "containerd",
        id: "4f1c0a9d3e5b".repeat(5) + "abcd",
        name: Some("web".into()),
        pod: Some(Pod {
            namespace: Some("shop".into()),
            name: None,
            uid: "0d1c9a3e-2b4f-4c6d-8e0f-1a2b3c4d5e6f".into(),
        }),
    });
    let owner = |pid, container: Option<Arc<Container>>| Owner {
        pid,
        fd: 3,
        comm: Arc::from("app"),
        uid: 0,
        user: Arc::from("root"),
        container,
    };
    let netns = Arc::new(Netns {
        inode: 4026532000,
        name: Some("blue".into()),
    });
    let socket = Socket {
        processes: vec![owner(1, Some(container.clone())), owner(2, None)].into(),
        netns: Some(netns.clone()),
        ..Socket::inet(
            Proto::Tcp,
            Family::Ipv4,
            TcpState::Listen,
            "127.0.0.1:80".parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        )
    };
    let mut enc = Enc::default();
    enc.socket(&socket);
    enc.socket(&socket);
    let mut dec = Dec::new(&enc.buf);
    let (a, b) = (dec.socket().unwrap(), dec.socket().unwrap());
    assert!(dec.is_empty());
    assert_eq!(a, socket);
    // One namespace and one container for both, as collected.
    assert!(Arc::ptr_eq(
        a.netns.as_ref().unwrap(),
        b.netns.as_ref().unwrap()
    ));
    let c = |s: &Socket| s.processes[0].container.clone().unwrap();
    assert!(Arc::ptr_eq(&c(&a), &c(&b)));
    for cut in 0..enc.buf.len() / 2 {
        assert!(Dec::new(&enc.buf[..cut]).socket().is_err(), "cut at {cut}");
    }
}

#[test]
fn version_1_sockets_read_without_namespace_or_container() {
    // Version 2 appends a netns tag (0: none) and, per owner, a container tag;
    // without owners, version 1 is version 2 less its last byte.
    let socket = Socket::inet(
        Proto::Udp,
        Family::Ipv6,
        TcpState::Unconn,
        "[::1]:53".parse().unwrap(),
        "[::]:0".parse().unwrap(),
    );
    let mut enc = Enc::default();
    enc.socket(&socket);
    assert_eq!(enc.buf.pop(), Some(0));
    let mut dec = Dec::of_version(&enc.buf, 1);
    assert_eq!(dec.socket().unwrap(), socket);
    assert!(dec.is_empty());
    assert!(Dec::new(&enc.buf).socket().is_err());
}
