//! Property tests of the parsers of the families after TCP, UDP and unix: the
//! packet_diag, netlink_diag and vsock_diag messages, inet_diag messages read as raw,
//! SCTP and MPTCP, and the /proc/net tables of proc_families. Generated input must
//! decode to what was put in; mutated and arbitrary input must never panic, and a
//! /proc line that does not parse is counted, never fatal.

mod proc_text;

use proc_text::{byte_edits, edits, mutate, token_soup};
use proptest::prelude::*;
use sockscope::collect::netlink::packet::{self, InterfaceNames};
use sockscope::collect::netlink::{inet_socket, netlink_diag, vsock};
use sockscope::collect::proc_families::{ProcTable, parse};
use sockscope::model::{Detail, Proto, SocketType, TcpState};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(300)
}

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(4 + value.len() as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// A packet_diag_msg: type, ethertype, inode, and the info, uid and meminfo attributes.
fn packet_msg(raw: bool, ethertype: u16, inode: u32, ifindex: u32, uid: u32, rmem: u32) -> Vec<u8> {
    let mut m = vec![17, if raw { 3 } else { 2 }];
    m.extend_from_slice(&ethertype.to_ne_bytes());
    m.extend(words(&[inode, 0, 0]));
    m.extend(nla(0, &words(&[ifindex, 2, 0, 0, 0, 1])));
    m.extend(nla(5, &words(&[uid])));
    m.extend(nla(6, &words(&[rmem, 0, 0, 0, 0, 0, 0, 0, 0])));
    m
}

/// A netlink_diag_msg with the meminfo and groups attributes.
fn netlink_msg(
    protocol: u8,
    connected: bool,
    ports: (u32, u32),
    inode: u32,
    queues: (u32, u32),
) -> Vec<u8> {
    let mut m = vec![16, 3, protocol, u8::from(connected)];
    m.extend(words(&[ports.0, ports.1, 0, inode, 0, 0]));
    m.extend(nla(0, &words(&[queues.0, 0, queues.1, 0])));
    m.extend(nla(1, &5u64.to_ne_bytes()));
    m
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn packet_messages_decode_to_what_was_sent(
        raw in any::<bool>(), ethertype in any::<u16>(), inode in any::<u32>(),
        ifindex in any::<u32>(), uid in any::<u32>(), rmem in any::<u32>(),
    ) {
        let msg = packet_msg(raw, ethertype, inode, ifindex, uid, rmem);
        let s = packet::socket(&msg, &mut InterfaceNames::none()).unwrap().unwrap();
        prop_assert_eq!(s.proto, Proto::Packet);
        prop_assert_eq!(s.socket_type, if raw { SocketType::Raw } else { SocketType::Dgram });
        prop_assert_eq!((s.inode, s.uid, s.recv_q, s.state), (u64::from(inode), uid, rmem, TcpState::Unconn));
        let detail = Detail::Packet { ethertype, ifindex, interface: None };
        prop_assert_eq!(s.detail.as_deref(), Some(&detail));
    }

    #[test]
    fn netlink_messages_decode_to_what_was_sent(
        protocol in any::<u8>(), connected in any::<bool>(), ports in any::<(u32, u32)>(),
        inode in any::<u32>(), queues in any::<(u32, u32)>(),
    ) {
        let s = netlink_diag::socket(&netlink_msg(protocol, connected, ports, inode, queues))
            .unwrap()
            .unwrap();
        prop_assert_eq!((s.proto, s.inode), (Proto::Netlink, u64::from(inode)));
        prop_assert_eq!((s.recv_q, s.send_q), queues);
        let Some(Detail::Netlink { netlink_protocol, port_id, peer_port_id, groups, .. }) =
            s.detail.as_deref().cloned() else {
            panic!("no netlink detail");
        };
        prop_assert_eq!((netlink_protocol, port_id, groups), (protocol, ports.0, 5));
        prop_assert_eq!(peer_port_id, connected.then_some(ports.1));
        let state = if connected { TcpState::Established } else { TcpState::Unconn };
        prop_assert_eq!(s.state, state);
    }

    #[test]
    fn vsock_messages_decode_to_what_was_sent(ends in any::<[u32; 4]>(), inode in any::<u32>(), state in 0u8..13) {
        let mut msg = vec![40, 1, state, 0];
        msg.extend(words(&ends));
        msg.extend(words(&[inode, 0, 0]));
        let s = vsock::socket(&msg).unwrap().unwrap();
        prop_assert_eq!((s.proto, s.inode), (Proto::Vsock, u64::from(inode)));
        let detail = Detail::Vsock {
            local_cid: Some(ends[0]),
            local_port: Some(ends[1]),
            remote_cid: Some(ends[2]),
            remote_port: Some(ends[3]),
        };
        prop_assert_eq!(s.detail.as_deref(), Some(&detail));
    }

    #[test]
    fn mutated_and_arbitrary_messages_never_panic(
        edits in byte_edits(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        fields in any::<(u16, u32, u32)>(),
    ) {
        let (ethertype, inode, port) = fields;
        let packet = packet_msg(true, ethertype, inode, 1, 0, 0);
        let netlink = netlink_msg(0, true, (port, 0), inode, (0, 0));
        let mut inet = vec![2u8, 7, 0, 0];
        inet.extend(vec![0u8; 68]);
        inet.extend(nla(10, &[1]));
        inet.extend(nla(13, &[0; 16]));
        for base in [&packet, &netlink, &inet] {
            for bytes in [mutate(base, &edits), raw.clone()] {
                let results = [
                    packet::socket(&bytes, &mut InterfaceNames::none()).map(|_| ()),
                    netlink_diag::socket(&bytes).map(|_| ()),
                    vsock::socket(&bytes).map(|_| ()),
                    inet_socket(Proto::Raw, &bytes).map(|_| ()),
                    inet_socket(Proto::Sctp, &bytes).map(|_| ()),
                    inet_socket(Proto::Mptcp, &bytes).map(|_| ()),
                ];
                for e in results.into_iter().filter_map(Result::err) {
                    let message = format!("{e:#}");
                    prop_assert!(!message.contains('\n'), "{}", message);
                }
            }
        }
    }

    #[test]
    fn proc_tables_skip_and_count_what_does_not_parse(
        soup in token_soup(),
        edits in edits(),
        which in 0usize..8,
    ) {
        let (table, file, good) = FIXTURE_LINES[which];
        for text in [soup.clone(), String::from_utf8_lossy(&mutate(good.as_bytes(), &edits)).into_owned()] {
            let mut out = Vec::new();
            let skipped = parse(table, file, &text, &mut out);
            let lines = text.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
            prop_assert_eq!(out.len() + skipped, lines);
        }
    }
}

/// One header and one good line of each table, as this kernel writes them.
const FIXTURE_LINES: [(ProcTable, &str, &str); 8] = [
    (
        ProcTable::Raw,
        "raw",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n 253: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21748 2 0000000030b31bc4 0\n",
    ),
    (
        ProcTable::Raw6,
        "raw6",
        "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  141: 00000000000000000000000000000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21749 2 00000000ab722676 0\n",
    ),
    (
        ProcTable::Icmp,
        "icmp",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n 1234: 0100007F:04D2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31750 2 0000000000000000 0\n",
    ),
    (
        ProcTable::Icmp6,
        "icmp6",
        "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n 1234: 00000000000000000000000001000000:04D2 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31751 2 0000000000000000 0\n",
    ),
    (
        ProcTable::Packet,
        "packet",
        "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n000000009521c18a 3      3    0003   0     1 0      0      21750\n",
    ),
    (
        ProcTable::Netlink,
        "netlink",
        "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n00000000213c8a22 0   4797       00000000 0        0        0     2        0        21760\n",
    ),
    (
        ProcTable::Sctp,
        "sctp/eps",
        " ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS\nffff88017e0a0200 ffff880299f7fa00 2   10  29   11165     0 209580 10.0.0.1 10.0.0.2\n",
    ),
    (
        ProcTable::Sctp,
        "sctp/assocs",
        " ASSOC     SOCK   STY SST ST HBKT ASSOC-ID TX_QUEUE RX_QUEUE UID INODE LPORT RPORT LADDRS <-> RADDRS HBINT INS OUTS MAXRT T1X T2X RTXC wmema wmemq sndbuf rcvbuf\nffff8805d36b3000 ffff88060b8d1e00 2   1   3  0   1     0        0     0 262150 11167 11168  10.0.0.1 <-> *10.0.0.2 10.0.0.3        7500     10    10    2    0    0        0        1   212992   212992\n",
    ),
];
