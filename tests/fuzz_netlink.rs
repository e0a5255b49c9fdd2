//! Property tests of the sock_diag decoders: `inet_diag_msg` and `unix_diag_msg` with
//! their attributes, and struct tcp_info read by length. They are pure functions over
//! the bytes the kernel sends, so they are fed generated messages (which must decode to
//! what was put in), mutations of those, and arbitrary bytes (which must never panic).

mod proc_text;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proc_text::{byte_edits, mutate};
use proptest::prelude::*;
use sockscope::collect::netlink::{inet_socket, tcp_info, unix_socket};
use sockscope::model::{Proto, TcpState, TimerKind};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(300)
}

/// One attribute: length (header included), type, the value, padding to 4 bytes.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(4 + value.len() as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

#[derive(Clone, Debug)]
struct InetMsg {
    v6: bool,
    state: u8,
    timer: u8,
    ports: (u16, u16),
    src: [u8; 16],
    dst: [u8; 16],
    /// expires, rqueue, wqueue, uid, inode
    words: [u32; 5],
    /// The tcp_info attribute's value, if sent.
    info: Option<Vec<u8>>,
}

/// struct tcp_info as a kernel may send it, up to `max_len` bytes: any bytes but the MSS,
/// which the kernel keeps to 16 bits (see `TcpInfo::mss`).
fn kernel_tcp_info(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 0..max_len), any::<u16>()).prop_map(|(mut raw, mss)| {
        if let Some(field) = raw.get_mut(16..20) {
            field.copy_from_slice(&u32::from(mss).to_ne_bytes());
        }
        raw
    })
}

fn inet_msg() -> impl Strategy<Value = InetMsg> {
    (
        any::<bool>(),
        1u8..=12,
        0u8..=5,
        any::<(u16, u16)>(),
        (any::<[u8; 16]>(), any::<[u8; 16]>()),
        any::<[u32; 5]>(),
        proptest::option::of(kernel_tcp_info(240)),
    )
        .prop_map(
            |(v6, state, timer, ports, (src, dst), words, info)| InetMsg {
                v6,
                state,
                timer,
                ports,
                src,
                dst,
                words,
                info,
            },
        )
}

impl InetMsg {
    /// `struct inet_diag_msg` (72 bytes), then INET_DIAG_INFO.
    fn bytes(&self) -> Vec<u8> {
        let family = if self.v6 { 10 } else { 2 };
        let mut out = vec![family, self.state, self.timer, 0];
        out.extend_from_slice(&self.ports.0.to_be_bytes());
        out.extend_from_slice(&self.ports.1.to_be_bytes());
        out.extend_from_slice(&self.addr(&self.src));
        out.extend_from_slice(&self.addr(&self.dst));
        out.extend_from_slice(&[0; 12]); // interface, cookie
        for word in self.words {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        if let Some(info) = &self.info {
            out.extend(nla(2, info));
        }
        out
    }

    /// An IPv4 address fills the first 4 bytes of the 16.
    fn addr(&self, raw: &[u8; 16]) -> [u8; 16] {
        let mut out = *raw;
        if !self.v6 {
            out[4..].fill(0);
        }
        out
    }

    fn ip(&self, raw: &[u8; 16]) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(*raw))
        } else {
            IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
        }
    }
}

#[derive(Clone, Debug)]
struct UnixMsg {
    socket_type: u8,
    state: u8,
    inode: u32,
    name: Option<Vec<u8>>,
    peer: Option<u32>,
    queues: Option<(u32, u32)>,
    uid: Option<u32>,
}

fn unix_msg() -> impl Strategy<Value = UnixMsg> {
    (
        prop::sample::select(vec![1u8, 2, 5]),
        prop::sample::select(vec![1u8, 7, 10]),
        any::<u32>(),
        proptest::option::of("(/[a-z0-9 ._-]{1,30}|\0[a-z0-9]{1,10})".prop_map(String::into_bytes)),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(socket_type, state, inode, name, peer, queues, uid)| UnixMsg {
                socket_type,
                state,
                inode,
                name,
                peer,
                queues,
                uid,
            },
        )
}

impl UnixMsg {
    /// `struct unix_diag_msg` (16 bytes), then the attributes that were asked for.
    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![1, self.socket_type, self.state, 0];
        out.extend_from_slice(&self.inode.to_ne_bytes());
        out.extend_from_slice(&[0; 8]); // cookie
        if let Some(name) = &self.name {
            out.extend(nla(0, name));
        }
        if let Some(peer) = self.peer {
            out.extend(nla(2, &peer.to_ne_bytes()));
        }
        if let Some((rq, wq)) = self.queues {
            out.extend(nla(4, &[rq.to_ne_bytes(), wq.to_ne_bytes()].concat()));
        }
        if let Some(uid) = self.uid {
            out.extend(nla(7, &uid.to_ne_bytes()));
        }
        out
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tcp_info_is_read_whole_or_not_at_all(
        raw in prop_oneof![kernel_tcp_info(300), prop::collection::vec(any::<u8>(), 0..300)],
    ) {
        let info = tcp_info::parse(&raw);
        let u32_at = |at: usize| u32::from_ne_bytes(raw[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_ne_bytes(raw[at..at + 8].try_into().unwrap());
        // Present only when the struct reaches bytes_sent (Linux 4.19 and later) and
        // its MSS is one a kernel sends.
        let whole = raw.len() >= 208;
        prop_assert_eq!(info.is_some(), whole && u32_at(16) <= u32::from(u16::MAX));
        if let Some(info) = info {
            prop_assert_eq!(u32::from(info.mss), u32_at(16));
            prop_assert_eq!(info.retransmits, raw[2]);
            prop_assert_eq!(info.rtt_us, u32_at(68));
            prop_assert_eq!(info.cwnd, u32_at(80));
            prop_assert_eq!(info.bytes_acked, u64_at(120));
            prop_assert_eq!(info.bytes_sent, u64_at(200));
        }
    }

    #[test]
    fn inet_messages_decode_to_what_was_sent(msg in inet_msg(), tcp in any::<bool>()) {
        let proto = if tcp { Proto::Tcp } else { Proto::Udp };
        let s = inet_socket(proto, &msg.bytes()).unwrap();
        let local = s.local.unwrap();
        let remote = s.remote.unwrap();
        prop_assert_eq!((local.ip(), local.port()), (msg.ip(&msg.src), msg.ports.0));
        prop_assert_eq!((remote.ip(), remote.port()), (msg.ip(&msg.dst), msg.ports.1));
        let [_expires, rq, wq, uid, inode] = msg.words;
        prop_assert_eq!((s.recv_q, s.send_q, s.uid, s.inode), (rq, wq, uid, u64::from(inode)));
        prop_assert_eq!(s.timer.is_some(), TimerKind::from_kernel(msg.timer).is_some());
        let full_info = msg.info.as_ref().is_some_and(|i| i.len() >= 208);
        prop_assert_eq!(s.tcp_info.is_some(), tcp && full_info);
        if tcp {
            prop_assert_eq!(Some(s.state), TcpState::from_kernel(msg.state));
        }
    }

    #[test]
    fn unix_messages_decode_to_what_was_sent(msg in unix_msg()) {
        let mut has_uid = false;
        let s = unix_socket(&msg.bytes(), &mut has_uid).unwrap().unwrap();
        prop_assert_eq!(s.inode, u64::from(msg.inode));
        prop_assert_eq!(s.peer_inode(), msg.peer.map(u64::from));
        prop_assert_eq!((s.recv_q, s.send_q), msg.queues.unwrap_or((0, 0)));
        prop_assert_eq!(has_uid, msg.uid.is_some());
        prop_assert_eq!(s.uid, msg.uid.unwrap_or(0));
        let name = msg.name.as_ref().map(|n| match n.split_first() {
            Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
            _ => String::from_utf8_lossy(n).into_owned(),
        });
        prop_assert_eq!(s.path(), name.as_deref());
        let state = match msg.state {
            10 => TcpState::Listen,
            1 => TcpState::Established,
            _ => TcpState::Unconn,
        };
        prop_assert_eq!(s.state, state);
    }

    #[test]
    fn mutated_and_arbitrary_messages_never_panic(
        inet in inet_msg(),
        unix in unix_msg(),
        edits in byte_edits(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        for bytes in [mutate(&inet.bytes(), &edits), raw.clone()] {
            for proto in [Proto::Tcp, Proto::Udp] {
                if let Err(e) = inet_socket(proto, &bytes) {
                    let message = format!("{e:#}");
                    prop_assert!(!message.contains('\n'), "{}", message);
                }
            }
        }
        for bytes in [mutate(&unix.bytes(), &edits), raw] {
            if let Err(e) = unix_socket(&bytes, &mut false) {
                let message = format!("{e:#}");
                    prop_assert!(!message.contains('\n'), "{}", message);
            }
        }
    }
}
