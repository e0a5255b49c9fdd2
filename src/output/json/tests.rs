//! `output::json` against serde_json over every shape of socket.

use std::sync::Arc;

use super::*;
use crate::model::{
    Container, Detail, Family, PacingRate, Pod, Proto, SocketType, TcpState, TimerKind, WithNames,
};
use crate::test_sockets::{Build, owner as owner_of, tcp, udp, unix};

fn ours(s: &Socket, names: Option<&Naming>) -> String {
    let mut out = Vec::new();
    socket(&mut out, s, names);
    String::from_utf8(out).unwrap()
}

fn theirs(s: &Socket, names: Option<&Naming>) -> String {
    match names {
        None => serde_json::to_string(s).unwrap(),
        Some(naming) => serde_json::to_string(&WithNames { socket: s, naming }).unwrap(),
    }
}

/// One socket of every shape the schema has: each optional field both ways, hostile
/// text, both address families, every family's detail.
fn zoo() -> Vec<Socket> {
    let netns = Arc::new(Netns {
        inode: 4026531840,
        name: Some("blue\"\\\u{1}\n".into()),
    });
    let container = Arc::new(Container {
        runtime: "docker",
        id: "abc123".into(),
        name: Some("web\t1".into()),
        pod: Some(Pod {
            namespace: Some("shop".into()),
            name: None,
            uid: "u-1".into(),
        }),
    });
    let mut hostile = owner_of(7, 4, "\x1b[2Jevil\"\\\u{7f}\u{1f}ü\r\x08\x0c");
    hostile.container = Some(container);
    let mut sockets = Vec::new();

    let mut full = tcp("127.0.0.1:80", "127.0.0.2:51234", TcpState::Established)
        .inode(u64::MAX)
        .queues(u32::MAX, 0)
        .owned_by(vec![owner_of(1, 3, "nginx"), hostile.clone()]);
    full.uid = u32::MAX;
    full.tcp_info = Some(Box::new(TcpInfo {
        rtt_us: 1,
        ssthresh: 0x7fff_ffff,
        retransmits: 255,
        bytes_sent: u64::MAX,
        pacing_rate: Some(12345).into(),
        sndbuf_limited_us: 9,
        ..TcpInfo::default()
    }));
    full.timer = Some(Timer {
        kind: TimerKind::Keepalive,
        expires_ms: 7200000,
        retransmits: 3,
    });
    full.peer = Some(Peer {
        inode: 99,
        processes: vec![hostile.clone()].into(),
    });
    full.netns = Some(netns.clone());
    sockets.push(full.clone());
    for kind in [TimerKind::On, TimerKind::Timewait, TimerKind::Persist] {
        let mut s = full.clone();
        s.timer.as_mut().unwrap().kind = kind;
        s.tcp_info.as_mut().unwrap().pacing_rate = PacingRate::UNLIMITED;
        sockets.push(s);
    }
    sockets.push(tcp("[::1]:443", "[::ffff:10.0.0.1]:9", TcpState::CloseWait));
    sockets.push(tcp("[fe80::1:2]:0", "[::]:0", TcpState::Listen));
    sockets.push(tcp("0.0.0.0:22", "0.0.0.0:0", TcpState::Listen));
    sockets.push(udp("255.255.255.255:65535", "0.0.0.0:0", TcpState::Unconn));
    for state in TcpState::ALL {
        sockets.push(tcp("10.1.2.3:1", "10.3.2.1:2", state));
    }

    let mut named = unix(Some("/run/a\"b\\c\nd"), TcpState::Listen).inode(5);
    named.set_peer_inode(Some(6));
    named.netns = Some(Arc::new(Netns::default()));
    sockets.push(named);
    let mut raw = unix(None, TcpState::Unconn);
    raw.set_path(b"@bad\xff\x00name");
    raw.socket_type = SocketType::Dgram;
    sockets.push(raw);
    let mut seq = unix(Some(""), TcpState::Established);
    seq.socket_type = SocketType::Seqpacket;
    sockets.push(seq);

    let details = [
        (Proto::Raw, Family::Ipv4, Detail::Raw { protocol: 1 }),
        (
            Proto::Packet,
            Family::Packet,
            Detail::Packet {
                ethertype: 3,
                ifindex: 2,
                interface: Some("eth\n0".into()),
            },
        ),
        (
            Proto::Netlink,
            Family::Netlink,
            Detail::Netlink {
                netlink_protocol: 0,
                netlink_protocol_name: "ROUTE",
                port_id: 1234,
                peer_port_id: Some(0),
                peer_group: None,
                groups: 5,
            },
        ),
        (
            Proto::Vsock,
            Family::Vsock,
            Detail::Vsock {
                local_cid: Some(3),
                local_port: None,
                remote_cid: Some(u32::MAX),
                remote_port: Some(1024),
            },
        ),
        (
            Proto::Sctp,
            Family::Ipv6,
            Detail::Sctp {
                sctp_state: Some("COOKIE_WAIT"),
            },
        ),
        (
            Proto::Other,
            Family::Other,
            Detail::Other {
                kernel_name: Some("XDP".into()),
            },
        ),
    ];
    for (proto, family, detail) in details {
        for socket_type in [SocketType::Raw, SocketType::Unknown, SocketType::Stream] {
            let s = Socket::family(
                proto,
                family,
                socket_type,
                TcpState::Unconn,
                8,
                Some(detail.clone()),
            );
            sockets.push(s);
        }
    }
    for proto in [Proto::Icmp, Proto::Mptcp, Proto::Udp] {
        sockets.push(Socket::inet(
            proto,
            Family::Ipv4,
            TcpState::Established,
            "127.0.0.1:7".parse().unwrap(),
            "127.0.0.1:8".parse().unwrap(),
        ));
    }
    sockets
}

#[test]
fn every_shape_is_what_serde_json_writes() {
    for s in zoo() {
        assert_eq!(ours(&s, None), theirs(&s, None), "{s:?}");
    }
}

#[test]
fn the_name_fields_are_what_serde_json_writes() {
    use crate::model::names::HostNames;
    struct Hosts;
    impl HostNames for Hosts {
        fn host(&self, _: IpAddr) -> Option<Arc<str>> {
            Some("host\"\n".into())
        }
    }
    let mut services = crate::model::names::Services::default();
    services.insert(crate::model::names::ServiceProto::Tcp, 80, "http\"x");
    let with_hosts = Naming {
        services: Some(Arc::new(services)),
        unnamed: None,
        hosts: Some(Arc::new(Hosts)),
    };
    for naming in [&Naming::NUMERIC, &with_hosts] {
        for s in zoo() {
            assert_eq!(ours(&s, Some(naming)), theirs(&s, Some(naming)), "{s:?}");
        }
    }
}

#[test]
fn every_control_byte_escapes_as_serde_json_does() {
    let text: String = (0u8..0x80).map(char::from).collect();
    let mut out = Vec::new();
    string(&mut out, &text);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        serde_json::to_string(&text).unwrap()
    );
}
