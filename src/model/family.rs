//! What only some socket families have (`Detail`), and the names `ss` prints for them.
//!
//! TCP, UDP and unix sockets have no detail: everything they have fits the common
//! fields. Raw, ICMP, packet, netlink, vsock, SCTP and sockets no table names carry
//! one `Detail`, boxed on the socket so the common case pays one pointer.

use std::net::{IpAddr, SocketAddr};

use super::{Proto, SocketType};

impl Proto {
    pub const ALL: [Proto; 11] = [
        Proto::Tcp,
        Proto::Udp,
        Proto::Unix,
        Proto::Raw,
        Proto::Icmp,
        Proto::Sctp,
        Proto::Mptcp,
        Proto::Packet,
        Proto::Netlink,
        Proto::Vsock,
        Proto::Other,
    ];

    /// The name in JSON and in filters (`proto:raw`, or `raw` alone).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Unix => "unix",
            Proto::Raw => "raw",
            Proto::Icmp => "icmp",
            Proto::Sctp => "sctp",
            Proto::Mptcp => "mptcp",
            Proto::Packet => "packet",
            Proto::Netlink => "netlink",
            Proto::Vsock => "vsock",
            Proto::Other => "other",
        }
    }

    /// Whether its sockets have IP ports (raw sockets have a protocol instead, ICMP
    /// sockets an echo identifier in the port's place).
    pub fn has_ports(self) -> bool {
        matches!(
            self,
            Proto::Tcp | Proto::Udp | Proto::Icmp | Proto::Sctp | Proto::Mptcp
        )
    }
}

impl SocketType {
    /// The kernel's SOCK_* number; None for one sockscope does not model (SOCK_RDM...).
    pub fn from_kernel(n: u32) -> Option<SocketType> {
        Some(match n {
            1 => SocketType::Stream,
            2 => SocketType::Dgram,
            3 => SocketType::Raw,
            5 => SocketType::Seqpacket,
            _ => return None,
        })
    }
}

/// The family-specific fields, in JSON as the `detail` object (see the README's schema).
/// Which variant a socket has follows from its `proto`; the field names do not repeat
/// across variants, so a reader can also tell them apart by field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// A raw IP socket: the IP protocol it was opened for (1 icmp, 58 ipv6-icmp, 255 any).
    Raw { protocol: u8 },
    /// A packet socket: the ethertype it receives (3 = every protocol, ETH_P_ALL), the
    /// interface it is bound to (0 = every one) and that interface's name where known.
    Packet {
        ethertype: u16,
        ifindex: u32,
        interface: Option<String>,
    },
    /// A netlink socket: its netlink protocol (0 ROUTE, 9 AUDIT, ...), its port id
    /// (0 is the kernel's own socket), the port and groups it sends to when connected
    /// (`peer_port_id` 0 is the kernel), and the multicast groups it listens to.
    Netlink {
        netlink_protocol: u8,
        netlink_protocol_name: &'static str,
        port_id: u32,
        peer_port_id: Option<u32>,
        peer_group: Option<u32>,
        groups: u32,
    },
    /// A vsock socket: context ids and ports; 4294967295 (VMADDR_CID_ANY /
    /// VMADDR_PORT_ANY) means any. None when the kernel has no vsock_diag to ask.
    Vsock {
        local_cid: Option<u32>,
        local_port: Option<u32>,
        remote_cid: Option<u32>,
        remote_port: Option<u32>,
    },
    /// An SCTP association's own state ("COOKIE_WAIT", "ESTABLISHED", ...), which the
    /// common `state` can only approximate; None for an endpoint (the socket itself).
    Sctp { sctp_state: Option<&'static str> },
    /// A socket no table names: the kernel's name of its protocol (its
    /// `system.sockprotoname`, e.g. "ALG", "XDP"), None when that could not be read.
    Other { kernel_name: Option<String> },
}

impl Detail {
    /// The LOCAL column as ss prints it for this family; None for the common text.
    pub(super) fn local_text(&self, local: Option<SocketAddr>) -> Option<String> {
        Some(match self {
            Detail::Raw { protocol } => {
                format!("{}:{}", ip_text(local?.ip()), ip_protocol_text(*protocol))
            }
            Detail::Packet {
                ethertype,
                ifindex,
                interface,
            } => {
                let iface = match (ifindex, interface) {
                    (0, _) => "*".to_string(),
                    // Escaped where it is printed (text::local_text), like any name.
                    (_, Some(name)) => name.clone(),
                    (n, None) => format!("if{n}"),
                };
                format!("{}:{iface}", ethertype_text(*ethertype))
            }
            Detail::Netlink {
                netlink_protocol_name,
                port_id: 0,
                ..
            } => format!("{netlink_protocol_name}:kernel"),
            Detail::Netlink {
                netlink_protocol_name,
                port_id,
                ..
            } => format!("{netlink_protocol_name}:{port_id}"),
            Detail::Vsock {
                local_cid,
                local_port,
                ..
            } => format!("{}:{}", vsock_part(*local_cid), vsock_part(*local_port)),
            Detail::Other { kernel_name } => kernel_name.clone().unwrap_or_else(|| "*".into()),
            Detail::Sctp { .. } => return None,
        })
    }

    /// The REMOTE column likewise.
    pub(super) fn remote_text(&self, remote: Option<SocketAddr>) -> Option<String> {
        Some(match self {
            Detail::Raw { .. } => match remote? {
                addr if addr.ip().is_unspecified() => "*".into(),
                addr => ip_text(addr.ip()),
            },
            Detail::Netlink {
                peer_port_id: Some(0),
                ..
            } => "kernel".into(),
            Detail::Netlink {
                peer_port_id: Some(port),
                ..
            } => port.to_string(),
            Detail::Vsock {
                remote_cid,
                remote_port,
                ..
            } => format!("{}:{}", vsock_part(*remote_cid), vsock_part(*remote_port)),
            _ => return None,
        })
    }
}

/// An address alone as endpoints print it: `*` when unspecified, IPv6 in brackets.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        ip if ip.is_unspecified() => "*".into(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// ETH_P_ALL: a packet socket that sees every protocol.
pub const ETH_P_ALL: u16 = 0x0003;

/// "*" for ETH_P_ALL, a short name for the common ethertypes, else "0x88cc".
pub fn ethertype_text(ethertype: u16) -> String {
    let name = match ethertype {
        ETH_P_ALL => "*",
        0x0800 => "ip",
        0x0806 => "arp",
        0x86dd => "ipv6",
        0x8100 => "802.1q",
        0x88cc => "lldp",
        0x888e => "eapol",
        0x8863 => "pppoe-d",
        0x8864 => "pppoe-s",
        _ => return format!("{ethertype:#06x}"),
    };
    name.to_string()
}

/// The name /etc/protocols gives an IP protocol number, for the ones raw sockets use.
pub fn ip_protocol_text(protocol: u8) -> String {
    let name = match protocol {
        0 => "ip",
        1 => "icmp",
        2 => "igmp",
        4 => "ipencap",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        255 => "raw",
        n => return n.to_string(),
    };
    name.to_string()
}

/// The kernel's names of the netlink protocols (NETLINK_ROUTE is "ROUTE"), by number.
pub fn netlink_protocol_name(protocol: u8) -> &'static str {
    match protocol {
        0 => "ROUTE",
        1 => "UNUSED",
        2 => "USERSOCK",
        3 => "FIREWALL",
        4 => "SOCK_DIAG",
        5 => "NFLOG",
        6 => "XFRM",
        7 => "SELINUX",
        8 => "ISCSI",
        9 => "AUDIT",
        10 => "FIB_LOOKUP",
        11 => "CONNECTOR",
        12 => "NETFILTER",
        13 => "IP6_FW",
        14 => "DNRTMSG",
        15 => "KOBJECT_UEVENT",
        16 => "GENERIC",
        18 => "SCSITRANSPORT",
        19 => "ECRYPTFS",
        20 => "RDMA",
        21 => "CRYPTO",
        22 => "SMC",
        _ => "UNKNOWN",
    }
}

/// SCTP association states (enum sctp_state), by the kernel's number.
pub fn sctp_state_name(state: u8) -> Option<&'static str> {
    Some(match state {
        0 => "CLOSED",
        1 => "COOKIE_WAIT",
        2 => "COOKIE_ECHOED",
        3 => "ESTABLISHED",
        4 => "SHUTDOWN_PENDING",
        5 => "SHUTDOWN_SENT",
        6 => "SHUTDOWN_RECEIVED",
        7 => "SHUTDOWN_ACK_SENT",
        _ => return None,
    })
}

/// "*" for VMADDR_CID_ANY / VMADDR_PORT_ANY (and unknown), else the number.
pub fn vsock_part(value: Option<u32>) -> String {
    match value {
        None | Some(u32::MAX) => "*".into(),
        Some(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_ss() {
        assert_eq!(ethertype_text(3), "*");
        assert_eq!(ethertype_text(0x0800), "ip");
        assert_eq!(ethertype_text(0x1234), "0x1234");
        assert_eq!(ip_protocol_text(58), "ipv6-icmp");
        assert_eq!(ip_protocol_text(200), "200");
        assert_eq!(netlink_protocol_name(9), "AUDIT");
        assert_eq!(netlink_protocol_name(99), "UNKNOWN");
        assert_eq!(sctp_state_name(3), Some("ESTABLISHED"));
        assert_eq!(sctp_state_name(8), None);
        assert_eq!(vsock_part(Some(u32::MAX)), "*");
        assert_eq!(vsock_part(Some(2)), "2");
    }
}
