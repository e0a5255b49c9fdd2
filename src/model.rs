//! The snapshot: plain data about sockets and the processes holding them.
//! No I/O here; collectors fill it, everything else reads it.

use std::cmp::Ordering;
use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::SystemTime;

mod family;
pub use family::{
    Detail, ETH_P_ALL, ethertype_text, ip_protocol_text, netlink_protocol_name, sctp_state_name,
};
pub mod names;
pub use names::Naming;
mod order;
pub use order::{in_display_order, sort_in_display_order};
mod endpoint;
pub use endpoint::{Endpoint, NamedEndpoint, endpoint_or_any, endpoint_text};
mod json;
pub use json::WithNames;
mod owner;
pub use owner::{Container, Netns, Owner, Owners, Pod, ProcessInfo};
mod state;
pub use state::TcpState;
mod tcp_info;
pub use tcp_info::{PacingRate, TcpCounters, TcpInfo, Timer, TimerKind};
mod counters;
pub use counters::{CounterRun, CounterTable};
mod unix_info;
pub use unix_info::UnixInfo;

/// Declared in the order `list` sorts by. The families after unix are listed as `ss`
/// lists them (`ss -w`, `-0`, `-f netlink`, `--vsock`, `-S`, `-M`); `Other` is a socket
/// some process holds that no table names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Unix,
    /// Raw IP sockets (SOCK_RAW over AF_INET/AF_INET6).
    Raw,
    /// ICMP "ping" datagram sockets (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6).
    Icmp,
    Sctp,
    Mptcp,
    /// AF_PACKET sockets.
    Packet,
    /// AF_NETLINK sockets.
    Netlink,
    /// AF_VSOCK sockets (between a VM and its host).
    Vsock,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
    Unix,
    Packet,
    Netlink,
    Vsock,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketType {
    Stream,
    Dgram,
    Seqpacket,
    /// SOCK_RAW: raw IP, packet (`p_raw`) and netlink sockets.
    Raw,
    /// A socket no table names: its type is not known.
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Socket {
    pub proto: Proto,
    pub family: Family,
    pub state: TcpState,
    pub socket_type: SocketType,
    /// None for unix sockets.
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// Unix only: the name and the peer's inode (read through `path()`, `path_bytes()`,
    /// `peer_inode()`); None when it has neither. Boxed, so other sockets pay a pointer.
    pub unix_info: Option<Box<UnixInfo>>,
    /// As ss shows them; for LISTEN, the accept queue now and the backlog.
    pub recv_q: u32,
    pub send_q: u32,
    /// 0 when the kernel keeps the socket without a file (TIME_WAIT, not yet accepted).
    pub inode: u64,
    pub uid: u32,
    /// Every process holding the socket; empty when none is visible.
    pub processes: Owners,
    /// TCP only, and only from netlink: the kernel's struct tcp_info. Boxed: it is
    /// ~120 bytes, and UDP, unix and /proc-read sockets should not pay for it.
    pub tcp_info: Option<Box<TcpInfo>>,
    /// The timer `ss -o` shows; only from netlink, None when no timer runs.
    pub timer: Option<Timer>,
    /// The other end when it is on this host: a unix peer, the TCP socket whose
    /// endpoints mirror this one's, or the netlink socket this one is connected to.
    /// Filled after the owner join.
    pub peer: Option<Peer>,
    /// What only this socket's family has (raw protocol, packet interface, netlink
    /// port, vsock CIDs, SCTP association state); None for TCP, UDP and unix. Boxed,
    /// like tcp_info, so the common sockets pay one pointer.
    pub detail: Option<Box<Detail>>,
    /// TCP and UDP, only from netlink: how the kernel itself names this socket.
    /// Internal, not in the JSON.
    pub diag_id: Option<DiagId>,
    /// The network namespace the socket lives in, shared by its table; set on every
    /// socket of a snapshot (None only for sockets made by hand).
    pub netns: Option<Arc<Netns>>,
}

/// What a sock_diag dump says identifies a socket besides its endpoints: the socket
/// cookie (unique while the kernel runs, so a new socket on the same 4-tuple is told
/// apart) and the interface it is bound to. SOCK_DESTROY (`sockscope close`) sends
/// both back. Valid in the network namespace the dump was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagId {
    /// Never 0: the kernel gives each socket the next of a counter that starts at 1
    /// (sock_gen_cookie; a socket's 0 there means "none given yet"), so `Option<DiagId>`
    /// needs no tag of its own (16 bytes, not 24).
    pub cookie: NonZeroU64,
    pub interface: u32,
}

/// The socket at the other end of a local connection, and who holds it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Peer {
    pub inode: u64,
    pub processes: Owners,
}

/// Where a socket lives, for following it across snapshots. The inode is unique
/// while the socket has a file; sockets without one are told apart by endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketKey {
    pub proto: Proto,
    /// The network namespace's inode: 127.0.0.1:80 in two namespaces are two sockets.
    pub netns: u64,
    pub inode: u64,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

impl Socket {
    /// A TCP, UDP (or raw, ICMP, SCTP, MPTCP) socket as a kernel table lists it: no queues, owners, tcp_info or
    /// peer yet. Both table readers start here and fill in what they know.
    pub fn inet(
        proto: Proto,
        family: Family,
        state: TcpState,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Socket {
        let socket_type = match proto {
            Proto::Tcp | Proto::Mptcp | Proto::Sctp => SocketType::Stream,
            Proto::Raw => SocketType::Raw,
            _ => SocketType::Dgram,
        };
        Socket {
            local: Some(local),
            remote: Some(remote),
            ..Socket::bare(proto, family, socket_type, state)
        }
    }

    /// A unix socket as a kernel table lists it, likewise; `inode` is what the
    /// tables know it by.
    pub fn unix(
        socket_type: SocketType,
        state: TcpState,
        path: Option<String>,
        inode: u64,
    ) -> Socket {
        Socket {
            unix_info: path.map(|path| {
                Box::new(UnixInfo {
                    path: Some(path.into_boxed_str()),
                    ..UnixInfo::default()
                })
            }),
            inode,
            ..Socket::bare(Proto::Unix, Family::Unix, socket_type, state)
        }
    }

    /// Every other field empty.
    fn bare(proto: Proto, family: Family, socket_type: SocketType, state: TcpState) -> Socket {
        Socket {
            proto,
            family,
            state,
            socket_type,
            local: None,
            remote: None,
            unix_info: None,
            recv_q: 0,
            send_q: 0,
            inode: 0,
            uid: 0,
            processes: Owners::default(),
            tcp_info: None,
            timer: None,
            peer: None,
            detail: None,
            diag_id: None,
            netns: None,
        }
    }

    /// A socket of one of the families after unix, as its table lists it: `local` and
    /// `remote` only for the IP ones, the rest in `detail`.
    pub fn family(
        proto: Proto,
        family: Family,
        socket_type: SocketType,
        state: TcpState,
        inode: u64,
        detail: Option<Detail>,
    ) -> Socket {
        Socket {
            inode,
            detail: detail.map(Box::new),
            ..Socket::bare(proto, family, socket_type, state)
        }
    }

    /// The local port, where the protocol has ports: raw sockets keep their protocol
    /// in its place, which is in `detail`, not here.
    pub fn local_port(&self) -> Option<u16> {
        self.local
            .filter(|_| self.proto.has_ports())
            .map(|a| a.port())
    }

    pub fn remote_port(&self) -> Option<u16> {
        self.remote
            .filter(|_| self.proto.has_ports())
            .map(|a| a.port())
    }

    /// The kernel's own end of a netlink protocol (port id 0): no process holds it.
    pub fn is_kernels(&self) -> bool {
        matches!(
            self.detail.as_deref(),
            Some(Detail::Netlink { port_id: 0, .. })
        )
    }

    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            netns: self.netns.as_ref().map_or(0, |n| n.inode),
            inode: self.inode,
            local: self.local,
            remote: self.remote,
        }
    }

    /// Whether `key` is this socket's (`key() == *key`), compared field by field without
    /// making a key, the inode first (it tells most sockets apart).
    pub fn has_key(&self, key: &SocketKey) -> bool {
        self.inode == key.inode
            && self.local == key.local
            && self.remote == key.remote
            && self.proto == key.proto
            && self.netns.as_ref().map_or(0, |n| n.inode) == key.netns
    }

    /// "127.0.0.1:80", "[::1]:80", "*:22" for unspecified, the path for unix; for the
    /// other families what `ss` prints there: "*:icmp" (raw: address and protocol),
    /// "ip:eth0" (packet: ethertype and interface), "ROUTE:1234" (netlink: protocol
    /// and port id, "kernel" for port 0), "3:1024" (vsock: CID and port).
    pub fn local_text(&self) -> String {
        self.local_text_with(&Naming::NUMERIC)
    }

    /// `local_text` with the port's service name where `naming` has one
    /// (`127.0.0.1:https`). Local addresses are never resolved (ss resolves them with
    /// `-r`; they are this host's own, and a lookup each costs more than it tells).
    pub fn local_text_with(&self, naming: &Naming) -> String {
        if let Some(text) = self
            .detail
            .as_deref()
            .and_then(|d| d.local_text(self.local))
        {
            return text;
        }
        match self.local {
            Some(addr) => {
                let service = self.service_of(addr, naming);
                NamedEndpoint::new(addr, None, service).to_string()
            }
            None => self.path().unwrap_or("*").to_string(),
        }
    }

    /// The other end as `ss` prints it; for netlink "kernel" or the peer's port id when
    /// connected, "*" when not.
    pub fn remote_text(&self) -> String {
        self.remote_text_with(&Naming::NUMERIC)
    }

    /// `remote_text` with the host's name and the port's service name where `naming`
    /// has them (`localhost:https`). A host name comes from DNS or /etc/hosts: escape
    /// it for text output (`text::remote_text`).
    pub fn remote_text_with(&self, naming: &Naming) -> String {
        if let Some(text) = self
            .detail
            .as_deref()
            .and_then(|d| d.remote_text(self.remote))
        {
            return text;
        }
        match self.remote {
            Some(addr) => {
                let host = self.remote_host(naming);
                let service = self.service_of(addr, naming);
                NamedEndpoint::new(addr, host.as_deref(), service).to_string()
            }
            None => "*".into(),
        }
    }

    /// The service name of `addr`'s port, where the protocol has ports and names are on.
    fn service_of<'n>(&self, addr: SocketAddr, naming: &'n Naming) -> Option<&'n str> {
        if !self.proto.has_ports() {
            return None;
        }
        naming.service(self.proto, addr.port())
    }

    /// The local port's service name (`local_service` in JSON with `-r`).
    pub fn local_service<'n>(&self, naming: &'n Naming) -> Option<&'n str> {
        self.local.and_then(|a| self.service_of(a, naming))
    }

    /// The remote port's service name (`remote_service`).
    pub fn remote_service<'n>(&self, naming: &'n Naming) -> Option<&'n str> {
        self.remote.and_then(|a| self.service_of(a, naming))
    }

    /// The remote address's host name, where resolving is on and it is known yet
    /// (`remote_host`). Only IP families: a vsock CID or netlink port has no host.
    pub fn remote_host(&self, naming: &Naming) -> Option<Arc<str>> {
        if !matches!(self.family, Family::Ipv4 | Family::Ipv6) {
            return None;
        }
        naming.host(self.remote?.ip())
    }

    /// The short protocol name ss uses: tcp, udp, u_str, u_dgr, u_seq, raw, p_raw,
    /// p_dgr, nl, v_str, v_dgr, sctp, mptcp; icmp and other where ss has none.
    pub fn proto_text(&self) -> &'static str {
        match (self.proto, self.socket_type) {
            (Proto::Tcp, _) => "tcp",
            (Proto::Udp, _) => "udp",
            (Proto::Unix, SocketType::Dgram) => "u_dgr",
            (Proto::Unix, SocketType::Seqpacket) => "u_seq",
            (Proto::Unix, _) => "u_str",
            (Proto::Raw, _) => "raw",
            (Proto::Icmp, _) => "icmp",
            (Proto::Sctp, _) => "sctp",
            (Proto::Mptcp, _) => "mptcp",
            (Proto::Packet, SocketType::Dgram) => "p_dgr",
            (Proto::Packet, _) => "p_raw",
            (Proto::Netlink, _) => "nl",
            (Proto::Vsock, SocketType::Dgram) => "v_dgr",
            (Proto::Vsock, SocketType::Seqpacket) => "v_seq",
            (Proto::Vsock, _) => "v_str",
            (Proto::Other, _) => "other",
        }
    }

    /// The order `list` prints in: proto, state, local endpoint, then the rest.
    pub fn display_order(&self, other: &Socket) -> Ordering {
        (self.proto, self.state)
            .cmp(&(other.proto, other.state))
            .then_with(|| self.local.cmp(&other.local))
            .then_with(|| self.path().cmp(&other.path()))
            .then_with(|| self.remote.cmp(&other.remote))
            .then_with(|| self.inode.cmp(&other.inode))
    }
}

impl Socket {
    /// Where the socket lives, for the NETNS/CONTAINER column: its first owner's
    /// container (name, else short id), else its namespace (name, else inode).
    pub fn place_text(&self) -> String {
        if let Some(c) = self
            .processes
            .iter()
            .find_map(|o| o.process.container.as_ref())
        {
            return c.label().to_string();
        }
        self.netns
            .as_ref()
            .map_or_else(|| "-".into(), |n| n.label())
    }
}

/// Whether `sockets` come from more than one network namespace: then each row says
/// which (the NETNS/CONTAINER column of `list` and the live view).
pub fn spans_namespaces(sockets: &[Socket]) -> bool {
    let mut inodes = sockets.iter().map(|s| s.netns.as_ref().map(|n| n.inode));
    let first = inodes.next();
    inodes.any(|i| Some(i) != first)
}

/// Every socket seen at one moment, with what could not be seen said in `warnings`.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub sockets: Vec<Socket>,
    pub warnings: Vec<String>,
    pub taken_at: SystemTime,
    /// Sockets the kernel destroyed since the previous snapshot, oldest first, from
    /// the closed-connection log (empty where it is not kept: see
    /// `collect::netlink::destroyed`). Some lived and died between two snapshots.
    pub closed: Vec<Closed>,
}

/// A socket as the kernel destroyed it: endpoints, last state, final tcp_info. No
/// inode and no owners (the kernel sends neither); tracking fills in who held it.
#[derive(Clone, Debug, PartialEq)]
pub struct Closed {
    pub at: SystemTime,
    pub socket: Socket,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_print_like_ss() {
        assert_eq!(endpoint_text("0.0.0.0:22".parse().unwrap()), "*:22");
        assert_eq!(endpoint_text("127.0.0.1:0".parse().unwrap()), "127.0.0.1:*");
        assert_eq!(endpoint_text("[::1]:80".parse().unwrap()), "[::1]:80");
        assert_eq!(endpoint_text("[::]:0".parse().unwrap()), "*:*");
        assert_eq!(
            endpoint_text("[::ffff:127.0.0.1]:8080".parse().unwrap()),
            "[::ffff:127.0.0.1]:8080"
        );
    }

    /// `list --json` holds every socket at once: at 1M sockets each byte of `Socket` is
    /// 1 MB of its peak (issue 21 wants 400 MB in all), and the live view holds them
    /// too. A field that makes this fail is a deliberate choice: box what only some
    /// sockets have (as `unix_info`, `tcp_info`, `detail` are) or raise the figure with
    /// the reason beside it.
    #[test]
    fn socket_stays_small() {
        // 184 + 8: `Owners` keeps one `Owner` inline (no 80-byte owner list a socket),
        // which leaves `Option<Peer>` no niche, so it is 8 bytes more than a `Peer`.
        assert!(size_of::<Socket>() <= 192, "{}", size_of::<Socket>());
        assert_eq!(size_of::<Option<DiagId>>(), 16);
        // One 48-byte malloc chunk per named or connected unix socket.
        assert!(size_of::<UnixInfo>() <= 40, "{}", size_of::<UnixInfo>());
        // One 112-byte malloc chunk per TCP socket from netlink (105 bytes would take 128).
        assert!(size_of::<TcpInfo>() <= 104, "{}", size_of::<TcpInfo>());
    }

    #[test]
    fn state_names_match_serde() {
        for state in TcpState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
        }
    }
}
