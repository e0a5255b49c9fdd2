//! Sockets some walked process holds that no table named: still listed, with owners.
//!
//! After the owner join, every `socket:[inode]` fd left over is a socket of a family
//! no table covers (AF_ALG, AF_XDP, Bluetooth, CAN, TIPC...), of one whose table leaves
//! it out (an unbound netlink or ping socket, vsock without vsock_diag), or one opened between
//! the table dump and the fd walk. The kernel names its protocol in the
//! `system.sockprotoname` attribute of the fd, which says which of these it is.
//!
//! On the whole host the fd walk sees every process, also those of other network
//! namespaces, whose sockets are not in our tables by design; a socket is kept only
//! when one of its holders lives in our namespace (or that cannot be told).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::collect::Scope;
use crate::model::{Detail, Family, Owners, Proto, Socket, SocketType, TcpState};

/// The leftover inodes of the owner join, as sockets.
pub fn sockets(
    proc_root: &Path,
    scope: &Scope,
    leftovers: impl IntoIterator<Item = (u64, Owners)>,
) -> Vec<Socket> {
    let own_ns = fs::read_link(proc_root.join("self/ns/net")).ok();
    let mut ns_of: HashMap<u32, Option<PathBuf>> = HashMap::new();
    let mut out = Vec::new();
    for (inode, processes) in leftovers {
        let ours = match (scope, &own_ns) {
            // Only the pids' fds were walked, and their namespaces' tables were read.
            (Scope::Pids(_), _) => true,
            (Scope::Host, None) => true,
            (Scope::Host, Some(own)) => processes.iter().any(|o| {
                let ns = ns_of.entry(o.pid).or_insert_with(|| {
                    fs::read_link(proc_root.join(format!("{}/ns/net", o.pid))).ok()
                });
                ns.as_ref().is_none_or(|ns| ns == own)
            }),
        };
        if !ours {
            continue;
        }
        let kernel_name = processes
            .first()
            .and_then(|o| protocol_name(&proc_root.join(format!("{}/fd/{}", o.pid, o.fd))));
        let uid = processes.first().map_or(0, |o| o.uid);
        out.push(Socket {
            uid,
            processes,
            ..named(inode, kernel_name)
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

/// A socket of `inode` as its kernel name says: the families whose tables can leave a
/// socket out get their own proto (without the detail the table would have given);
/// everything else is `other`, keeping the name.
pub fn named(inode: u64, kernel_name: Option<String>) -> Socket {
    let (proto, family, detail) = match kernel_name.as_deref() {
        // Netlink tables list bound sockets only.
        Some("NETLINK") => (Proto::Netlink, Family::Netlink, None),
        // A ping socket enters /proc/net/icmp only once bound (or used).
        Some("PING") => (Proto::Icmp, Family::Ipv4, None),
        Some("PINGv6") => (Proto::Icmp, Family::Ipv6, None),
        // No vsock_diag on this kernel (and no /proc table at all).
        Some("AF_VSOCK") => (
            Proto::Vsock,
            Family::Vsock,
            Some(Detail::Vsock {
                local_cid: None,
                local_port: None,
                remote_cid: None,
                remote_port: None,
            }),
        ),
        _ => (
            Proto::Other,
            Family::Other,
            Some(Detail::Other { kernel_name }),
        ),
    };
    Socket::family(
        proto,
        family,
        SocketType::Unknown,
        TcpState::Unconn,
        inode,
        detail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_choose_the_family() {
        assert_eq!(named(1, Some("NETLINK".into())).proto, Proto::Netlink);
        assert_eq!(named(1, Some("AF_VSOCK".into())).family, Family::Vsock);
        assert_eq!(named(1, Some("PINGv6".into())).family, Family::Ipv6);
        let xdp = named(7, Some("XDP".into()));
        assert_eq!((xdp.proto, xdp.inode), (Proto::Other, 7));
        assert_eq!(xdp.local_text(), "XDP");
        assert_eq!(named(1, None).local_text(), "*");
    }
}
