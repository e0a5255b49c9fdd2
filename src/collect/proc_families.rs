//! Socket tables of the families after TCP, UDP and unix, from /proc/<...>/net:
//! raw, raw6, icmp, icmp6, packet, netlink, sctp/eps and sctp/assocs.
//!
//! The fallback where sock_diag has no dump for a family (no raw_diag on this kernel,
//! say), the only source of ICMP "ping" sockets, and the source for another network
//! namespace's tables. A line that does not parse is skipped and counted, never fatal:
//! these tables are a bonus next to TCP and UDP, and one odd line must not hide them.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::collect::netlink::merge_sctp;
use crate::collect::netlink::netlink_diag::{NetlinkEnds, netlink_socket};
use crate::collect::netlink::packet::InterfaceNames;
use crate::collect::read::{self, Follow};
use crate::collect::select::Selection;
use crate::model::{Detail, Family, Proto, Socket, SocketType, TcpState};

/// One table under a net directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcTable {
    Raw,
    Raw6,
    Icmp,
    Icmp6,
    Packet,
    Netlink,
    /// sctp/eps and sctp/assocs, read together.
    Sctp,
}

impl ProcTable {
    pub const ALL: [ProcTable; 7] = [
        ProcTable::Raw,
        ProcTable::Raw6,
        ProcTable::Icmp,
        ProcTable::Icmp6,
        ProcTable::Packet,
        ProcTable::Netlink,
        ProcTable::Sctp,
    ];

    /// Whether `selection` wants what this table lists.
    pub fn read_for(self, selection: &Selection) -> bool {
        let (proto, family) = match self {
            ProcTable::Raw => (Proto::Raw, Family::Ipv4),
            ProcTable::Raw6 => (Proto::Raw, Family::Ipv6),
            ProcTable::Icmp => (Proto::Icmp, Family::Ipv4),
            ProcTable::Icmp6 => (Proto::Icmp, Family::Ipv6),
            ProcTable::Packet => (Proto::Packet, Family::Packet),
            ProcTable::Netlink => (Proto::Netlink, Family::Netlink),
            // Both families in one pair of files.
            ProcTable::Sctp => {
                return selection.reads(Proto::Sctp, Family::Ipv4)
                    || selection.reads(Proto::Sctp, Family::Ipv6);
            }
        };
        selection.reads(proto, family)
    }

    fn files(self) -> &'static [&'static str] {
        match self {
            ProcTable::Raw => &["raw"],
            ProcTable::Raw6 => &["raw6"],
            ProcTable::Icmp => &["icmp"],
            ProcTable::Icmp6 => &["icmp6"],
            ProcTable::Packet => &["packet"],
            ProcTable::Netlink => &["netlink"],
            ProcTable::Sctp => &["sctp/eps", "sctp/assocs"],
        }
    }
}

/// What the tables gave, and what they could not.
#[derive(Debug, Default)]
pub struct Parsed {
    pub sockets: Vec<Socket>,
    /// "3 lines of /proc/net/raw" and the like, for the snapshot's warnings.
    pub skipped: Vec<String>,
}

/// Reads `tables` under `net_dir`. A table the kernel does not have (no SCTP module,
/// no IPv6) is no socket of that kind, not an error. With `names`, packet sockets'
/// interface indexes are named (only right for our own network namespace).
pub fn read(net_dir: &Path, tables: &[ProcTable], names: Option<&mut InterfaceNames>) -> Parsed {
    let mut parsed = Parsed::default();
    for &table in tables {
        let start = parsed.sockets.len();
        for file in table.files() {
            let path = net_dir.join(file);
            let Ok(Some(text)) = read_table(&path) else {
                continue;
            };
            let skipped = parse(table, file, &text, &mut parsed.sockets);
            if skipped > 0 {
                parsed.skipped.push(format!(
                    "{} of {}",
                    plural_lines(skipped),
                    read::shown(&path)
                ));
            }
        }
        if table == ProcTable::Sctp {
            merge_sctp(&mut parsed.sockets, start);
        }
    }
    if let Some(names) = names {
        for socket in &mut parsed.sockets {
            if let Some(Detail::Packet {
                ifindex, interface, ..
            }) = socket.detail.as_deref_mut()
            {
                *interface = names.name(*ifindex);
            }
        }
    }
    parsed
}

fn plural_lines(n: usize) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{n} lines")
    }
}

/// Most a table is read to: far beyond any real one (a line is ~150 bytes), so a
/// runaway file cannot take the memory.
const MAX_TABLE: u64 = 256 << 20;

/// One whole table, None when it does not exist: through collect/read.rs like every
/// /proc read (non-blocking, a regular file, no link in its place, bounded).
fn read_table(path: &Path) -> io::Result<Option<String>> {
    let file = match read::open(path, Follow::No) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_TABLE).read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Parses one file of `table` (the header line first) into `out`; returns how many
/// lines were skipped. Public for the fixture and fuzz tests.
pub fn parse(table: ProcTable, file: &str, text: &str, out: &mut Vec<Socket>) -> usize {
    let mut skipped = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let socket = match (table, file) {
            (ProcTable::Raw, _) => inet_line(line, Proto::Raw, Family::Ipv4),
            (ProcTable::Raw6, _) => inet_line(line, Proto::Raw, Family::Ipv6),
            (ProcTable::Icmp, _) => inet_line(line, Proto::Icmp, Family::Ipv4),
            (ProcTable::Icmp6, _) => inet_line(line, Proto::Icmp, Family::Ipv6),
            (ProcTable::Packet, _) => packet_line(line),
            (ProcTable::Netlink, _) => netlink_line(line),
            (ProcTable::Sctp, "sctp/eps") => sctp_endpoint_line(line),
            (ProcTable::Sctp, _) => sctp_association_line(line),
        };
        match socket {
            Some(socket) => out.push(socket),
            None => skipped += 1,
        }
    }
    skipped
}

/// `hex:hex` as the kernel prints addresses: 8 hex digits for IPv4, 32 for IPv6, each
/// 32-bit group in the machine's byte order; the port in host order.
fn hex_endpoint(text: &str, family: Family) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let group = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match (family, addr.len()) {
        (Family::Ipv4, 8) => IpAddr::V4(Ipv4Addr::from(group(0)?)),
        (Family::Ipv6, 32) => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&group(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// raw, raw6, icmp, icmp6 (the layout of udp): `sl local remote st tx:rx tr tm
/// retrnsmt uid timeout inode ...`. A raw socket's port is its protocol; an ICMP
/// socket's is its echo identifier.
fn inet_line(line: &str, proto: Proto, family: Family) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let mut local = hex_endpoint(f.get(1)?, family)?;
    let mut remote = hex_endpoint(f.get(2)?, family)?;
    let state = match u8::from_str_radix(f.get(3)?, 16).ok()? {
        1 => TcpState::Established,
        _ => TcpState::Unconn,
    };
    let (tx, rx) = f.get(4)?.split_once(':')?;
    let send_q = u32::from_str_radix(tx, 16).ok()?;
    let recv_q = u32::from_str_radix(rx, 16).ok()?;
    let uid = f.get(7)?.parse().ok()?;
    let inode = f.get(9)?.parse().ok()?;
    let detail = match proto {
        Proto::Raw => {
            let protocol = u8::try_from(local.port()).ok()?;
            local.set_port(0);
            remote.set_port(0);
            Some(Box::new(Detail::Raw { protocol }))
        }
        _ => None,
    };
    Some(Socket {
        recv_q,
        send_q,
        uid,
        inode,
        detail,
        ..Socket::inet(proto, family, state, local, remote)
    })
}

/// packet: `sk RefCnt Type Proto Iface R Rmem User Inode`; Proto is the ethertype in
/// hex, host order. Interface names are not in the table; the index is.
fn packet_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let socket_type = match f.get(2)?.parse::<u32>().ok()? {
        3 => SocketType::Raw,
        2 => SocketType::Dgram,
        _ => return None,
    };
    let ethertype = u16::from_str_radix(f.get(3)?, 16).ok()?;
    let ifindex = f.get(4)?.parse().ok()?;
    let recv_q = f.get(6)?.parse().ok()?;
    let uid = f.get(7)?.parse().ok()?;
    let inode = f.get(8)?.parse().ok()?;
    let detail = Detail::Packet {
        ethertype,
        ifindex,
        interface: None,
    };
    Some(Socket {
        recv_q,
        uid,
        ..Socket::family(
            Proto::Packet,
            Family::Packet,
            socket_type,
            TcpState::Unconn,
            inode,
            Some(detail),
        )
    })
}

/// netlink: `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`. The table says
/// neither the socket type nor whom a connected socket talks to.
fn netlink_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let ends = NetlinkEnds {
        protocol: f.get(1)?.parse().ok()?,
        port_id: f.get(2)?.parse().ok()?,
        peer: None,
        groups: u32::from_str_radix(f.get(3)?, 16).ok()?,
    };
    let recv_q = f.get(4)?.parse().ok()?;
    let send_q = f.get(5)?.parse().ok()?;
    let inode: u64 = f.get(9)?.parse().ok()?;
    Some(netlink_socket(ends, SocketType::Raw, inode, recv_q, send_q))
}

/// An address of the LADDRS/RADDRS lists: `10.0.0.1`, `*10.0.0.2` (primary), `::1`.
fn sctp_addr(text: &str) -> Option<IpAddr> {
    text.trim_start_matches('*').parse().ok()
}

/// STY is `enum sctp_socket_type`, not SOCK_*: 0 (and 1) one-to-many "UDP-style"
/// sockets (SOCK_SEQPACKET), 2 one-to-one "TCP-style" ones (SOCK_STREAM).
fn sctp_type(text: &str) -> Option<SocketType> {
    match text.parse::<u32>().ok()? {
        0 | 1 => Some(SocketType::Seqpacket),
        2 => Some(SocketType::Stream),
        _ => None,
    }
}

fn family_of(ip: IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

/// sctp/eps: `ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS...`.
fn sctp_endpoint_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let socket_type = sctp_type(f.get(2)?)?;
    let sk_state: u8 = f.get(3)?.parse().ok()?;
    let port = f.get(5)?.parse().ok()?;
    let uid = f.get(6)?.parse().ok()?;
    let inode = f.get(7)?.parse().ok()?;
    let ip = f
        .get(8)
        .map_or(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), |a| sctp_addr(a))?;
    let (state, detail) = crate::collect::netlink::inet_state(Proto::Sctp, sk_state, false).ok()?;
    let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    Some(Socket {
        uid,
        inode,
        socket_type,
        detail: detail.map(Box::new),
        ..Socket::inet(
            Proto::Sctp,
            family_of(ip),
            state,
            SocketAddr::new(ip, port),
            unspecified,
        )
    })
}

/// sctp/assocs: `ASSOC SOCK STY SST ST HBKT ASSOC-ID TX_QUEUE RX_QUEUE UID INODE LPORT
/// RPORT LADDRS... <-> RADDRS... HBINT ...`; the remote is the primary (`*`) address.
fn sctp_association_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let socket_type = sctp_type(f.get(2)?)?;
    let assoc_state: u8 = f.get(4)?.parse().ok()?;
    let send_q = f.get(7)?.parse().ok()?;
    let recv_q = f.get(8)?.parse().ok()?;
    let uid = f.get(9)?.parse().ok()?;
    let inode = f.get(10)?.parse().ok()?;
    let lport = f.get(11)?.parse().ok()?;
    let rport = f.get(12)?.parse().ok()?;
    let rest = f.get(13..)?;
    let arrow = rest.iter().position(|t| *t == "<->")?;
    let local_ip = sctp_addr(rest.first()?)?;
    let remotes = rest[arrow + 1..]
        .iter()
        .take_while(|t| t.contains(['.', ':']));
    let remote_ip = remotes
        .clone()
        .find(|t| t.starts_with('*'))
        .or_else(|| remotes.clone().next())
        .and_then(|t| sctp_addr(t))?;
    let (state, detail) =
        crate::collect::netlink::inet_state(Proto::Sctp, assoc_state, true).ok()?;
    Some(Socket {
        uid,
        inode,
        recv_q,
        send_q,
        socket_type,
        detail: detail.map(Box::new),
        ..Socket::inet(
            Proto::Sctp,
            family_of(local_ip),
            state,
            SocketAddr::new(local_ip, lport),
            SocketAddr::new(remote_ip, rport),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_line_keeps_the_protocol_out_of_the_port() {
        let raw = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n 253: 0100007F:0001 00000000:0000 07 00000000:00000010 00:00000000 00000000     0        0 21748 2 0000000030b31bc4 0\n";
        let mut out = Vec::new();
        assert_eq!(parse(ProcTable::Raw, "raw", raw, &mut out), 0);
        let s = &out[0];
        assert_eq!(s.local, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(s.detail.as_deref(), Some(&Detail::Raw { protocol: 1 }));
        assert_eq!((s.inode, s.recv_q, s.state), (21748, 16, TcpState::Unconn));
        assert_eq!(s.local_text(), "127.0.0.1:icmp");
    }

    #[test]
    fn bad_lines_are_counted_not_fatal() {
        let text = "header\ngarbage\n\n 1: 0100007F:0001 00000000:0000 07 0:0 0 0 0 0 5\n";
        let mut out = Vec::new();
        assert_eq!(parse(ProcTable::Icmp, "icmp", text, &mut out), 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].local.map(|a| a.port()), Some(1));
    }
}
