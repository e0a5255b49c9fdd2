//! Sockets some walked process holds that no table named: still listed, with owners.
//!
//! After the owner join, every `socket:[inode]` fd left over is a socket of a family
//! no table covers (AF_ALG, AF_XDP, Bluetooth, CAN, TIPC...), of one whose table leaves
//! it out (an unbound TCP, UDP, netlink or ping socket, vsock without vsock_diag), or
//! one opened between the table dump and the fd walk. The kernel names its protocol in the
//! `system.sockprotoname` attribute of the fd, which says which of these it is.
//!
//! On the whole host the fd walk sees every process, also those of other network
//! namespaces, whose sockets are not in our tables by design; a socket is kept only
//! when one of its holders lives in our namespace (or that cannot be told).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::collect::{Scope, Selection};
use crate::model::{Detail, Family, Owners, Proto, Socket, SocketType, TcpState};

/// The leftover inodes of the owner join that belong to the tables read: on the
/// whole host, those one of whose holders is in our namespace.
pub fn in_namespace(
    proc_root: &Path,
    scope: &Scope,
    leftovers: impl IntoIterator<Item = (u64, Owners)>,
) -> Vec<(u64, Owners)> {
    let own_ns = fs::read_link(proc_root.join("self/ns/net")).ok();
    // Whether a pid lives in our namespace, read once per pid. On a host with
    // containers most leftovers are theirs, so this is the loop's whole cost: one
    // fast hash lookup per leftover.
    let mut in_ours: HashMap<u32, bool, foldhash::fast::RandomState> = HashMap::default();
    let mut out = Vec::new();
    for (inode, processes) in leftovers {
        let ours = match (scope, &own_ns) {
            // Only the pids' fds were walked, and their namespaces' tables were read.
            (Scope::Pids(_), _) => true,
            // Every namespace's tables were read: whatever is left is unnamed anywhere.
            (Scope::AllNetns, _) => true,
            // Not told apart from the other namespaces' leftovers here: left out.
            (Scope::Netns(_), _) => false,
            (Scope::Host, None) => true,
            (Scope::Host, Some(own)) => processes.iter().any(|o| {
                *in_ours.entry(o.pid).or_insert_with(|| {
                    let ns = fs::read_link(proc_root.join(format!("{}/ns/net", o.pid)));
                    ns.map_or(true, |ns| &ns == own)
                })
            }),
        };
        if ours {
            out.push((inode, processes));
        }
    }
    out
}

/// Leftovers (of `in_namespace`) as sockets: those `selection` wants.
pub fn sockets(
    proc_root: &Path,
    selection: &Selection,
    leftovers: impl IntoIterator<Item = (u64, Owners)>,
) -> Vec<Socket> {
    let mut out = Vec::new();
    for (inode, processes) in leftovers {
        let kernel_name = processes
            .first()
            .and_then(|o| protocol_name(&proc_root.join(format!("{}/fd/{}", o.pid, o.fd))));
        // Told before the socket is built: with `list --udp` most leftovers are the
        // unix and TCP sockets whose tables were not read.
        let (proto, family, ..) = kind(kernel_name.as_deref().unwrap_or_default());
        if !selection.keeps_unnamed(proto, family) {
            continue;
        }
        let socket = named(inode, kernel_name);
        let uid = processes.first().map_or(0, |o| o.process.uid);
        out.push(Socket {
            uid,
            processes,
            ..socket
        });
    }
    out
}

/// The kernel's protocol name of the socket behind an fd link ("TCP", "NETLINK",
/// "AF_VSOCK", "XDP"...): the `system.sockprotoname` attribute sockfs gives every
/// socket. None when the fd closed meanwhile or the attribute cannot be read.
fn protocol_name(fd_link: &Path) -> Option<String> {
    let mut buf = [0u8; 64];
    let len = rustix::fs::getxattr(fd_link, "system.sockprotoname", &mut buf[..]).ok()?;
    let name = buf.get(..len)?.split(|&b| b == 0).next()?;
    let name = String::from_utf8_lossy(name).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// A socket of `inode` as its kernel name says. A family whose tables leave sockets
/// out gets its own proto, without what the table would have said: TCP, UDP, MPTCP
/// and SCTP sockets enter their tables only once bound or connected (an unbound one
/// is also what a socket opened during the snapshot looks like), ping sockets once
/// bound, netlink sockets once bound, and vsock has no table without vsock_diag.
/// Everything else is `other`, keeping the name.
pub fn named(inode: u64, kernel_name: Option<String>) -> Socket {
    let (proto, family, socket_type, state) = kind(kernel_name.as_deref().unwrap_or_default());
    let detail = match proto {
        Proto::Vsock => Some(Detail::Vsock {
            local_cid: None,
            local_port: None,
            remote_cid: None,
            remote_port: None,
        }),
        Proto::Other => Some(Detail::Other { kernel_name }),
        _ => None,
    };
    Socket::family(proto, family, socket_type, state, inode, detail)
}

/// What `named` makes of a kernel name.
fn kind(name: &str) -> (Proto, Family, SocketType, TcpState) {
    let ip = || {
        if name.ends_with("v6") {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    };
    match name.trim_end_matches("v6") {
        "TCP" => (Proto::Tcp, ip(), SocketType::Stream, TcpState::Close),
        "UDP" => (Proto::Udp, ip(), SocketType::Dgram, TcpState::Unconn),
        "MPTCP" => (Proto::Mptcp, ip(), SocketType::Stream, TcpState::Close),
        "SCTP" => (Proto::Sctp, ip(), SocketType::Unknown, TcpState::Close),
        "PING" => (Proto::Icmp, ip(), SocketType::Dgram, TcpState::Unconn),
        "NETLINK" => (
            Proto::Netlink,
            Family::Netlink,
            SocketType::Unknown,
            TcpState::Unconn,
        ),
        "AF_VSOCK" => (
            Proto::Vsock,
            Family::Vsock,
            SocketType::Unknown,
            TcpState::Unconn,
        ),
        _ => (
            Proto::Other,
            Family::Other,
            SocketType::Unknown,
            TcpState::Unconn,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_choose_the_family() {
        assert_eq!(named(1, Some("NETLINK".into())).proto, Proto::Netlink);
        assert_eq!(named(1, Some("AF_VSOCK".into())).family, Family::Vsock);
        assert_eq!(named(1, Some("PINGv6".into())).family, Family::Ipv6);
        let tcp = named(1, Some("TCPv6".into()));
        assert_eq!(
            (tcp.proto, tcp.family, tcp.state),
            (Proto::Tcp, Family::Ipv6, TcpState::Close)
        );
        let xdp = named(7, Some("XDP".into()));
        assert_eq!((xdp.proto, xdp.inode), (Proto::Other, 7));
        assert_eq!(xdp.local_text(), "XDP");
        assert_eq!(named(1, None).local_text(), "*");
    }
}
