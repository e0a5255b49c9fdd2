//! The answers of a sock_diag dump, bytes in and sockets out: `inet_diag_msg` (TCP,
//! UDP, raw, SCTP, MPTCP) and `unix_diag_msg` with their attributes. Pure, and public
//! so the fuzz tests can feed them anything.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU64;

use anyhow::{Result, anyhow, bail};
use netlink_packet_core::NlasIterator;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, AF_UNIX};

use super::{INET_MSG_LEN, TcpInfoKept, more, tcp_info};
use crate::model::{
    Detail, DiagId, Family, Proto, Socket, SocketKey, SocketType, TcpCounters, TcpState, Timer,
    TimerKind,
};

/// In `struct inet_diag_msg` (see `INET_MSG_LEN`): where `idiag_expires` is.
const INET_EXPIRES_AT: usize = 52;
/// `struct unix_diag_msg`: family, type, state, pad, inode (u32), cookie (2 x u32).
const UNIX_MSG_LEN: usize = 16;

const INET_DIAG_INFO: u16 = 2;
/// The socket's own IP protocol (raw sockets: the one they were opened for).
pub(super) const INET_DIAG_PROTOCOL: u16 = 10;
/// SCTP: the peer addresses of an association (an endpoint has none).
const INET_DIAG_PEERS: u16 = 13;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;

/// The model's family of an AF_INET or AF_INET6 request.
pub(crate) fn ip_family(family: u8) -> Family {
    if family == AF_INET6 {
        Family::Ipv6
    } else {
        Family::Ipv4
    }
}

/// The 4 bytes at `offset`, in host order (as the kernel sends its structs); None past
/// the end.
pub(crate) fn u32_at(raw: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        raw.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

/// The 8 bytes at `offset`, as `u32_at`.
pub(crate) fn u64_at(raw: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        raw.get(offset..offset + 8)?.try_into().ok()?,
    ))
}

/// One `inet_diag_msg` and its attributes: TCP, UDP, and the raw, SCTP and MPTCP
/// sockets of `more`. Pure (bytes in, socket out), and public so the parser fuzz tests
/// (tests/fuzz_parsers.rs, tests/fuzz_families.rs) can feed it arbitrary bytes.
pub fn inet_socket(proto: Proto, payload: &[u8]) -> Result<Socket> {
    Ok(inet_socket_kept(proto, payload, &TcpInfoKept::All)?.0)
}

/// `inet_socket`, keeping a TCP socket's tcp_info whole only where `kept` says; for one
/// it does not, the counters alone come beside the socket (read by offset, nothing
/// allocated). A socket without a cookie to find its counters by keeps it whole.
pub fn inet_socket_kept(
    proto: Proto,
    payload: &[u8],
    kept: &TcpInfoKept,
) -> Result<(Socket, Option<TcpCounters>)> {
    // Read by offset rather than through the crate's InetResponseHeader and
    // NlasIterator: at 200k sockets their per-field Results were a tenth of `list`'s
    // own CPU time in the dump.
    if payload.len() < INET_MSG_LEN {
        bail!("short inet_diag message: {} bytes", payload.len());
    }
    let family = match payload[0] {
        AF_INET => Family::Ipv4,
        AF_INET6 => Family::Ipv6,
        f => bail!("unexpected address family {f}"),
    };
    let at = |offset| u32_at(payload, offset).unwrap_or(0);
    let port = |offset: usize| u16::from_be_bytes([payload[offset], payload[offset + 1]]);
    let address = |offset: usize| -> IpAddr {
        let bytes: [u8; 16] = payload[offset..offset + 16].try_into().unwrap_or_default();
        match family {
            Family::Ipv4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into(),
            _ => Ipv6Addr::from(bytes).into(),
        }
    };
    // SCTP and MPTCP timers are their own; only TCP's (and UDP's none) mean `Timer`.
    let timer = TimerKind::from_kernel(payload[2])
        .filter(|_| matches!(proto, Proto::Tcp | Proto::Udp))
        .map(|kind| Timer {
            kind,
            expires_ms: at(INET_EXPIRES_AT),
            retransmits: payload[3],
        });
    let mut raw_tcp_info = None;
    let mut own_protocol = None;
    let mut sctp_association = false;
    for nla in attributes(&payload[INET_MSG_LEN..]) {
        let (kind, value) = nla?;
        match kind {
            // MPTCP and SCTP send their own info structs under the same number.
            INET_DIAG_INFO if proto == Proto::Tcp => raw_tcp_info = Some(value),
            INET_DIAG_PROTOCOL => own_protocol = value.first().copied(),
            INET_DIAG_PEERS => sctp_association = true,
            _ => {}
        }
    }
    let header = Header {
        state: payload[1],
        source_port: port(4),
        destination_port: port(6),
        source_address: address(8),
        destination_address: address(24),
        interface_id: at(40),
        cookie: payload[44..52].try_into().unwrap_or_default(),
        recv_queue: at(56),
        send_queue: at(60),
        uid: at(64),
        inode: at(68),
    };
    let (state, detail) = more::inet_state(proto, header.state, sctp_association)?;
    let (mut local, mut remote) = (
        SocketAddr::new(header.source_address, header.source_port),
        SocketAddr::new(header.destination_address, header.destination_port),
    );
    let detail = match proto {
        // A raw socket's "port" is its protocol (inet_num); older kernels send no
        // INET_DIAG_PROTOCOL, and there the port is all there is.
        Proto::Raw => {
            let protocol = own_protocol.unwrap_or(header.source_port as u8);
            local.set_port(0);
            remote.set_port(0);
            Some(Detail::Raw { protocol })
        }
        _ => detail,
    };
    let mut socket = Socket {
        recv_q: header.recv_queue,
        send_q: header.send_queue,
        inode: header.inode.into(),
        uid: header.uid,
        timer,
        detail: detail.map(Box::new),
        // What SOCK_DESTROY (`sockscope close`) sends back: TCP and UDP only. The
        // kernel's cookies start at 1; a 0 is none.
        diag_id: NonZeroU64::new(u64::from_ne_bytes(header.cookie))
            .filter(|_| matches!(proto, Proto::Tcp | Proto::Udp))
            .map(|cookie| DiagId {
                cookie,
                interface: header.interface_id,
            }),
        ..Socket::inet(proto, family, state, local, remote)
    };
    let mut counters = None;
    if let Some(raw) = raw_tcp_info {
        match kept {
            TcpInfoKept::Only(key)
                if socket.diag_id.is_some() && !key.as_ref().is_some_and(|k| names(k, &socket)) =>
            {
                counters = tcp_info::counters(raw);
            }
            _ => socket.tcp_info = tcp_info::parse(raw).map(Box::new),
        }
    }
    Ok((socket, counters))
}

/// Whether `key` may be `socket`'s: all of it but the namespace, which a dump does not
/// know (it is set on the table's sockets after), so in another namespace a socket on
/// the same inode and endpoints keeps its tcp_info too. Inodes are unique host-wide,
/// but 0 for a socket without a file, which the endpoints then tell apart.
fn names(key: &SocketKey, socket: &Socket) -> bool {
    key.inode == socket.inode
        && key.proto == socket.proto
        && key.local == socket.local
        && key.remote == socket.remote
}

/// The fields of `struct inet_diag_msg` that `inet_socket` keeps, in its socket id's
/// names.
struct Header {
    state: u8,
    source_port: u16,
    destination_port: u16,
    source_address: IpAddr,
    destination_address: IpAddr,
    interface_id: u32,
    cookie: [u8; 8],
    recv_queue: u32,
    send_queue: u32,
    uid: u32,
    inode: u32,
}

/// Netlink attributes: (type without its flag bits, value) each; an error for one
/// whose length is short or past the end, and nothing after it.
fn attributes(mut raw: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8])>> {
    const NLA_TYPE_MASK: u16 = 0x3fff;
    std::iter::from_fn(move || {
        if raw.is_empty() {
            return None;
        }
        let header = raw.get(..4).map(|h| {
            let len = u16::from_ne_bytes([h[0], h[1]]) as usize;
            (len, u16::from_ne_bytes([h[2], h[3]]) & NLA_TYPE_MASK)
        });
        match header {
            Some((len, kind)) if (4..=raw.len()).contains(&len) => {
                let value = &raw[4..len];
                raw = raw.get(len.next_multiple_of(4)..).unwrap_or_default();
                Some(Ok((kind, value)))
            }
            _ => {
                let len = raw.len();
                raw = &[];
                Some(Err(anyhow!("bad netlink attribute in {len} bytes")))
            }
        }
    })
}

/// One `unix_diag_msg` and its attributes; None for a socket type sockscope does not
/// model (there are none today besides stream, dgram and seqpacket). Sets `has_uid`
/// when the kernel sent the socket's uid. Pure and public, like `inet_socket`.
pub fn unix_socket(payload: &[u8], has_uid: &mut bool) -> Result<Option<Socket>> {
    if payload.len() < UNIX_MSG_LEN || payload[0] != AF_UNIX {
        bail!("short or foreign unix_diag message");
    }
    let socket_type = match payload[1] {
        1 => SocketType::Stream,
        2 => SocketType::Dgram,
        5 => SocketType::Seqpacket,
        _ => return Ok(None),
    };
    // sk_state: TCP_LISTEN for listeners, TCP_ESTABLISHED when connected, TCP_CLOSE
    // for unconnected sockets.
    let state = match payload[2] {
        10 => TcpState::Listen,
        1 => TcpState::Established,
        7 => TcpState::Unconn,
        s => TcpState::from_kernel(s).ok_or_else(|| anyhow!("unknown unix state {s}"))?,
    };
    let inode = u32_at(payload, 4).unwrap_or(0).into();
    let mut socket = Socket::unix(socket_type, state, None, inode);
    for nla in NlasIterator::new(&payload[UNIX_MSG_LEN..]) {
        let nla = nla.map_err(|e| anyhow!("{e}"))?;
        let value = nla.value();
        match nla.kind() {
            UNIX_DIAG_NAME => {
                if let Some(name) = unix_name(value) {
                    socket.set_path(&name);
                }
            }
            UNIX_DIAG_PEER => socket.set_peer_inode(u32_at(value, 0)),
            // For listeners: accept queue now and backlog; otherwise bytes queued.
            UNIX_DIAG_RQLEN => {
                socket.recv_q = u32_at(value, 0).unwrap_or(0);
                socket.send_q = u32_at(value, 4).unwrap_or(0);
            }
            UNIX_DIAG_UID => {
                socket.uid = u32_at(value, 0).unwrap_or(0);
                *has_uid = true;
            }
            _ => {}
        }
    }
    Ok(Some(socket))
}

/// The bound name as /proc/net/unix prints it, as exact bytes: the path, or "@name"
/// for an abstract name (whose NUL bytes /proc also prints as '@').
fn unix_name(raw: &[u8]) -> Option<Vec<u8>> {
    match raw.split_first() {
        None => None,
        Some((0, abstract_name)) => {
            let mut name = Vec::with_capacity(raw.len());
            name.push(b'@');
            name.extend(abstract_name.iter().map(|&b| if b == 0 { b'@' } else { b }));
            Some(name)
        }
        Some(_) => Some(raw.split(|&b| b == 0).next().unwrap_or_default().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_names_print_like_proc() {
        assert_eq!(
            unix_name(b"/run/a.sock\0").as_deref(),
            Some(&b"/run/a.sock"[..])
        );
        assert_eq!(unix_name(b"\0name\0x").as_deref(), Some(&b"@name@x"[..]));
        assert_eq!(unix_name(b"/tmp/\xff").as_deref(), Some(&b"/tmp/\xff"[..]));
        assert_eq!(unix_name(b""), None);
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        assert!(unix_socket(&[1, 1, 1], &mut false).is_err());
        assert!(inet_socket(Proto::Tcp, &[2; 10]).is_err());
        // A valid unix header with a truncated attribute.
        let mut msg = vec![AF_UNIX, 1, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&[200, 0, 2, 0, 1]);
        assert!(unix_socket(&msg, &mut false).is_err());
    }
}
