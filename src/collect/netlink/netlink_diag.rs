//! AF_NETLINK sockets over netlink_diag (`ss -f netlink`): the sockets of systemd,
//! network managers, audit daemons, and the kernel's own end of each protocol. Built
//! and read here by hand (the netlink-packet-sock-diag crate knows only inet and
//! unix); every read is bounded.

use anyhow::{Result, anyhow, bail};
use netlink_packet_core::NlasIterator;

use super::{u32_at, u64_at};
use crate::model::{Detail, Family, Proto, Socket, SocketType, TcpState, netlink_protocol_name};

const AF_NETLINK: u8 = 16;
/// Every netlink protocol.
const NDIAG_PROTO_ALL: u8 = 255;
const NDIAG_SHOW_MEMINFO: u32 = 0x1;
const NDIAG_SHOW_GROUPS: u32 = 0x2;
const NETLINK_DIAG_MEMINFO: u16 = 0;
const NETLINK_DIAG_GROUPS: u16 = 1;
/// NETLINK_CONNECTED: connect()ed to one port, which is then its peer.
const NETLINK_CONNECTED: u8 = 1;
/// `struct netlink_diag_msg`: family, type, protocol, state, portid, dst_portid,
/// dst_group, inode (u32 each), cookie (2 x u32); attributes follow.
const MSG_LEN: usize = 28;

/// `struct netlink_diag_req`: family, protocol (all), pad, inode (0: all), show, cookie.
pub fn request() -> Vec<u8> {
    let mut body = vec![0u8; 20];
    body[0] = AF_NETLINK;
    body[1] = NDIAG_PROTO_ALL;
    body[8..12].copy_from_slice(&(NDIAG_SHOW_MEMINFO | NDIAG_SHOW_GROUPS).to_ne_bytes());
    body
}

/// One `netlink_diag_msg` and its attributes; None for a socket type other than raw
/// and dgram (netlink has no other).
pub fn socket(payload: &[u8]) -> Result<Option<Socket>> {
    if payload.len() < MSG_LEN || payload[0] != AF_NETLINK {
        bail!("short or foreign netlink_diag message");
    }
    let socket_type = match payload[1] {
        3 => SocketType::Raw,
        2 => SocketType::Dgram,
        _ => return Ok(None),
    };
    let protocol = payload[2];
    let connected = payload[3] == NETLINK_CONNECTED;
    let field = |i: usize| u32_at(payload, 4 + 4 * i).unwrap_or(0);
    let (port_id, dst_port, dst_group, inode) = (field(0), field(1), field(2), field(3));
    let (mut recv_q, mut send_q, mut groups) = (0, 0, 0);
    for nla in NlasIterator::new(&payload[MSG_LEN..]) {
        let nla = nla.map_err(|e| anyhow!("{e}"))?;
        let value = nla.value();
        match nla.kind() {
            // SK_MEMINFO_RMEM_ALLOC and _WMEM_ALLOC: what ss shows as the queues.
            NETLINK_DIAG_MEMINFO => {
                recv_q = u32_at(value, 0).unwrap_or(0);
                send_q = u32_at(value, 8).unwrap_or(0);
            }
            // An array of unsigned long; the first 32 groups are what ss shows too.
            NETLINK_DIAG_GROUPS => groups = first_groups(value),
            _ => {}
        }
    }
    Ok(Some(netlink_socket(
        NetlinkEnds {
            protocol,
            port_id,
            peer: connected.then_some((dst_port, dst_group)),
            groups,
        },
        socket_type,
        inode.into(),
        recv_q,
        send_q,
    )))
}

/// The first 32 group bits of the kernel's `unsigned long` array, whatever its width.
fn first_groups(value: &[u8]) -> u32 {
    let long = u64_at(value, 0).filter(|_| cfg!(target_pointer_width = "64"));
    long.map_or_else(|| u32_at(value, 0).unwrap_or(0), |long| long as u32)
}

/// What both netlink tables (this dump and /proc/net/netlink) know of a socket's ends.
pub struct NetlinkEnds {
    pub protocol: u8,
    pub port_id: u32,
    /// The port and group it is connected to; None when not connected (or not known).
    pub peer: Option<(u32, u32)>,
    pub groups: u32,
}

/// A netlink socket: unconnected ones are UNCONN as ss shows them, connected ones
/// ESTABLISHED like a connected UDP socket.
pub fn netlink_socket(
    ends: NetlinkEnds,
    socket_type: SocketType,
    inode: u64,
    recv_q: u32,
    send_q: u32,
) -> Socket {
    let state = match ends.peer {
        Some(_) => TcpState::Established,
        None => TcpState::Unconn,
    };
    let detail = Detail::Netlink {
        netlink_protocol: ends.protocol,
        netlink_protocol_name: netlink_protocol_name(ends.protocol),
        port_id: ends.port_id,
        peer_port_id: ends.peer.map(|(port, _)| port),
        peer_group: ends.peer.map(|(_, group)| group),
        groups: ends.groups,
    };
    Socket {
        recv_q,
        send_q,
        ..Socket::family(
            Proto::Netlink,
            Family::Netlink,
            socket_type,
            state,
            inode,
            Some(detail),
        )
    }
}
