//! Who talks to whom: the socket at the other end of each local connection.
//!
//! Run after owners are joined, on the sockets of one network namespace (TCP endpoints
//! repeat across namespaces). One sorted index, one pass: no per-pair search.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use crate::model::{Detail, Peer, Proto, Socket, TcpState};

/// Sets `peer` on every unix socket whose `peer_inode` is in `sockets`, on every
/// TCP connection whose mirror (local = our remote, remote = our local) is, and on
/// every netlink socket connected to a port another socket of the table has.
pub fn resolve(sockets: &mut [Socket]) {
    // A sorted vector of (hash of what identifies a socket, its index) rather than hash
    // maps keyed by address pairs: 16 bytes a socket instead of ~90, which at 100k
    // sockets is a good part of `list`'s memory budget. Equal hashes are checked.
    let mut index: Vec<(u64, u32)> = sockets
        .iter()
        .zip(0u32..)
        .filter_map(|(s, i)| Some((key(&own_identity(s)?), i)))
        .collect();
    index.sort_unstable();
    let found: Vec<Option<u32>> = sockets
        .iter()
        .zip(0u32..)
        .map(|(s, i)| {
            let wanted = peer_identity(s)?;
            let hash = key(&wanted);
            let first = index.partition_point(|&(k, _)| k < hash);
            index[first..]
                .iter()
                .take_while(|&&(k, _)| k == hash)
                .map(|&(_, j)| j)
                .find(|&j| j != i && own_identity(&sockets[j as usize]) == Some(wanted))
        })
        .collect();
    drop(index); // before the peers' owner lists are copied, which is the peak
    for (i, other) in found.into_iter().enumerate() {
        if let Some(j) = other {
            let other = &sockets[j as usize];
            let peer = Peer {
                inode: other.inode,
                processes: other.processes.clone(),
            };
            sockets[i].peer = Some(peer);
        }
    }
}

/// `resolve` over sockets of several network namespaces (a recording of
/// `--all-netns`): each namespace's on their own, so 127.0.0.1:80 in one is never
/// the peer of a connection in another. The order of `sockets` is not kept.
pub fn resolve_each_netns(sockets: &mut Vec<Socket>) {
    let inode = |s: &Socket| s.netns.as_ref().map_or(0, |n| n.inode);
    let first = sockets.first().map(inode);
    if sockets.iter().all(|s| Some(inode(s)) == first) {
        return resolve(sockets);
    }
    let mut by_netns: std::collections::BTreeMap<u64, Vec<Socket>> = Default::default();
    for socket in sockets.drain(..) {
        by_netns.entry(inode(&socket)).or_default().push(socket);
    }
    for mut group in by_netns.into_values() {
        resolve(&mut group);
        sockets.append(&mut group);
    }
}

/// What the other end of a connection knows this socket by.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
enum Identity {
    Unix(u64),
    Tcp(SocketAddr, SocketAddr),
    /// A netlink socket's protocol and port id: what a connected one names its peer by.
    Netlink(u8, u32),
}

fn own_identity(s: &Socket) -> Option<Identity> {
    match s.proto {
        Proto::Unix if s.inode != 0 => Some(Identity::Unix(s.inode)),
        Proto::Tcp => tcp_ends(s).map(|(local, remote)| Identity::Tcp(local, remote)),
        Proto::Netlink => match s.detail.as_deref() {
            Some(Detail::Netlink {
                netlink_protocol,
                port_id,
                ..
            }) if *port_id != 0 => Some(Identity::Netlink(*netlink_protocol, *port_id)),
            _ => None,
        },
        _ => None,
    }
}

fn peer_identity(s: &Socket) -> Option<Identity> {
    match s.proto {
        Proto::Unix => s.peer_inode.map(Identity::Unix),
        Proto::Tcp => tcp_ends(s).map(|(local, remote)| Identity::Tcp(remote, local)),
        Proto::Netlink => match s.detail.as_deref() {
            // Port 0 is the kernel, which holds no file.
            Some(Detail::Netlink {
                netlink_protocol,
                peer_port_id: Some(port),
                ..
            }) if *port != 0 => Some(Identity::Netlink(*netlink_protocol, *port)),
            _ => None,
        },
        _ => None,
    }
}

/// Any hash works, as equal hashes are checked; foldhash is a fast one.
fn key(identity: &Identity) -> u64 {
    foldhash::fast::FixedState::default().hash_one(identity)
}

/// A connection's two endpoints with IPv4-mapped IPv6 addresses made plain IPv4, so an
/// IPv4 client matches its accepted socket on a dual-stack listener. None for
/// listeners and other sockets without a remote end.
fn tcp_ends(s: &Socket) -> Option<(SocketAddr, SocketAddr)> {
    let (local, remote) = (s.local?, s.remote?);
    if s.state == TcpState::Listen || remote.port() == 0 || remote.ip().is_unspecified() {
        return None;
    }
    let plain = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    Some((plain(local), plain(remote)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, SocketType};
    use crate::test_sockets::{self, Build, owner};

    /// TCP with `ends`, unix without.
    fn socket(proto: Proto, state: TcpState, ends: Option<(&str, &str)>, inode: u64) -> Socket {
        let socket = match ends {
            Some((l, r)) => test_sockets::inet(proto, l, r, state),
            None => test_sockets::unix(None, state),
        };
        socket
            .inode(inode)
            .owned_by(vec![owner(inode as u32, 3, "x")])
    }

    fn netlink(inode: u64, port_id: u32, peer: Option<u32>) -> Socket {
        let detail = Detail::Netlink {
            netlink_protocol: 16,
            netlink_protocol_name: "GENERIC",
            port_id,
            peer_port_id: peer,
            peer_group: peer.map(|_| 0),
            groups: 0,
        };
        Socket {
            processes: socket(Proto::Unix, TcpState::Unconn, None, inode).processes,
            ..Socket::family(
                Proto::Netlink,
                Family::Netlink,
                SocketType::Raw,
                TcpState::Established,
                inode,
                Some(detail),
            )
        }
    }

    #[test]
    fn netlink_sockets_find_the_port_they_are_connected_to() {
        let mut sockets = vec![
            netlink(1, 100, Some(200)),
            netlink(2, 200, None),
            netlink(3, 300, Some(0)), // the kernel: no peer
            netlink(4, 0, None),
        ];
        resolve(&mut sockets);
        let peers: Vec<Option<u64>> = sockets
            .iter()
            .map(|s| s.peer.as_ref().map(|p| p.inode))
            .collect();
        assert_eq!(peers, [Some(2), None, None, None]);
    }

    #[test]
    fn tcp_mirrors_and_unix_inodes() {
        let est = TcpState::Established;
        let mut sockets = vec![
            socket(
                Proto::Tcp,
                est,
                Some(("127.0.0.1:5000", "127.0.0.1:80")),
                10,
            ),
            socket(
                Proto::Tcp,
                est,
                Some(("[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:5000")),
                20,
            ),
            socket(
                Proto::Tcp,
                TcpState::Listen,
                Some(("0.0.0.0:80", "0.0.0.0:0")),
                30,
            ),
            socket(Proto::Tcp, est, Some(("10.0.0.1:6000", "10.9.9.9:443")), 40),
            socket(Proto::Unix, est, None, 50),
            socket(Proto::Unix, est, None, 60),
            socket(Proto::Unix, est, None, 70),
        ];
        sockets[4].peer_inode = Some(60);
        sockets[5].peer_inode = Some(50);
        sockets[6].peer_inode = Some(999); // its peer is in another snapshot scope
        resolve(&mut sockets);
        let peers: Vec<Option<(u64, u32)>> = sockets
            .iter()
            .map(|s| s.peer.as_ref().map(|p| (p.inode, p.processes[0].pid)))
            .collect();
        assert_eq!(
            peers,
            [
                Some((20, 20)),
                Some((10, 10)),
                None,
                None,
                Some((60, 60)),
                Some((50, 50)),
                None
            ]
        );
    }
}
