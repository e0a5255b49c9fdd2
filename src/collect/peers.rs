//! Who talks to whom: the socket at the other end of each local connection.
//!
//! On the sockets of one network namespace (TCP endpoints repeat across namespaces):
//! the search (`pairs`) needs only the tables, the owners are copied once they are
//! joined (`Pairs::fill`). One hash table, one probe a socket: no per-pair search.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use hashbrown::HashTable;

use crate::model::{Detail, Peer, Proto, Socket, TcpState};

/// Sets `peer` on every unix socket whose `peer_inode` is in `sockets`, on every
/// TCP connection whose mirror (local = our remote, remote = our local) is, and on
/// every netlink socket connected to a port another socket of the table has.
pub fn resolve(sockets: &mut [Socket]) {
    pairs(sockets).fill(sockets);
}

/// Which socket of a table is each one's peer: `resolve`'s search, which needs only
/// what the tables say, so it can run before the owners are joined (beside the fd
/// walk); `fill` then copies the owners.
pub struct Pairs {
    /// For each socket, its peer's index; `NONE` for none.
    peer_of: Vec<u32>,
}

const NONE: u32 = u32::MAX;

/// The search of `resolve` over `sockets`, which must not change (nor their order)
/// before `Pairs::fill`, but for their owners.
pub fn pairs(sockets: &[Socket]) -> Pairs {
    // A hash join: one table from the hash of what identifies a socket to its index,
    // then one probe per socket (one cache miss, where a binary search over a sorted
    // index took ~20 at 1M sockets). The table holds 5 bytes a slot rather than maps
    // keyed by address pairs (~90), which at 100k sockets is a good part of `list`'s
    // memory budget. Candidates are checked against the socket itself.
    let index = Index::new(sockets);
    // The second pass reads the packed identities alone where it can: a TCP socket's
    // peer is its own ends swapped, so only the other sockets are read again.
    let peer_of = (index.ids.iter().copied())
        .zip(0u32..)
        .map(|(id, i)| {
            let found = match mirrored(id) {
                Some(wanted) => index.find_packed(wanted, i),
                None => peer_identity(&sockets[i as usize]).and_then(|w| index.find(w, i)),
            };
            found.unwrap_or(NONE)
        })
        .collect();
    Pairs { peer_of }
}

impl Pairs {
    /// Whether these are the pairs of a table of `len` sockets.
    pub fn fits(&self, len: usize) -> bool {
        self.peer_of.len() == len
    }

    /// Sets each socket's `peer`, with the owners its peer has now.
    pub fn fill(self, sockets: &mut [Socket]) {
        debug_assert!(self.fits(sockets.len()));
        for (i, j) in self.peer_of.into_iter().enumerate() {
            if j != NONE {
                let other = &sockets[j as usize];
                let peer = Peer {
                    inode: other.inode,
                    processes: other.processes.clone(),
                };
                sockets[i].peer = Some(peer);
            }
        }
    }
}

/// Which sockets have an identity of a given hash: a table of their indices alone, 4
/// bytes a slot (10 MB at 1M sockets; a map from hash to index took 36), the hash
/// of one recomputed from its socket when the table grows. Beside it each socket's
/// identity packed in 16 bytes (`packed`), so most candidates are checked there, not
/// in the socket they name (232 bytes, somewhere in a table of 232 MB at 1M).
struct Index<'a> {
    sockets: &'a [Socket],
    table: HashTable<u32>,
    ids: Vec<u128>,
}

impl<'a> Index<'a> {
    fn new(sockets: &'a [Socket]) -> Index<'a> {
        let ids: Vec<u128> = (sockets.iter())
            .map(|s| own_identity(s).map_or(NO_IDENTITY, packed))
            .collect();
        let mut table = HashTable::with_capacity(sockets.len());
        let rehash = |&j: &u32| id_key(sockets, &ids, j);
        for (&id, i) in ids.iter().zip(0u32..) {
            if id != NO_IDENTITY {
                table.insert_unique(id_key(sockets, &ids, i), i, rehash);
            }
        }
        Index {
            sockets,
            table,
            ids,
        }
    }

    /// The lowest index but `not` whose socket is `wanted` (so that a socket whose
    /// identity several share, which the kernel should never show, gets the same peer
    /// whatever the table's layout). The table's candidates share some bits of the
    /// hash; each is checked.
    fn find(&self, wanted: Identity, not: u32) -> Option<u32> {
        match packed(wanted) {
            UNPACKED => (self.table.iter_hash(unpacked_key(&wanted)).copied())
                .filter(|&j| j != not && self.ids[j as usize] == UNPACKED)
                .filter(|&j| own_identity(&self.sockets[j as usize]) == Some(wanted))
                .min(),
            packed_wanted => self.find_packed(packed_wanted, not),
        }
    }

    /// `find` of an identity that packs: the packed ones alone can be it.
    fn find_packed(&self, wanted: u128, not: u32) -> Option<u32> {
        (self.table.iter_hash(packed_key(wanted)).copied())
            .filter(|&j| j != not && self.ids[j as usize] == wanted)
            .min()
    }
}

/// The table's hash of socket `j`, from its packed identity where it has one.
fn id_key(sockets: &[Socket], ids: &[u128], j: u32) -> u64 {
    match ids[j as usize] {
        UNPACKED => own_identity(&sockets[j as usize]).map_or(0, |id| unpacked_key(&id)),
        id => packed_key(id),
    }
}

/// The identity of a TCP socket's peer from its own packed one: the two ends swapped
/// (see `packed`). None for any other.
fn mirrored(id: u128) -> Option<u128> {
    const END: u128 = (1 << 48) - 1;
    (id >> 120 == 3).then_some(3 << 120 | (id & END) << 48 | (id >> 48) & END)
}

/// An identity in 128 bits, exactly: a tag in the top byte, then the inode, the
/// netlink protocol and port, or the IPv4 ends of a connection. `UNPACKED` for one
/// that does not fit (IPv6), which is checked against its socket.
fn packed(identity: Identity) -> u128 {
    let v4 = |a: SocketAddr| match a.ip() {
        std::net::IpAddr::V4(ip) => Some(u128::from(ip.to_bits()) << 16 | u128::from(a.port())),
        std::net::IpAddr::V6(_) => None,
    };
    match identity {
        Identity::Unix(inode) => 1 << 120 | u128::from(inode),
        Identity::Netlink(protocol, port) => {
            2 << 120 | u128::from(protocol) << 32 | u128::from(port)
        }
        Identity::Tcp(local, remote) => match (v4(local), v4(remote)) {
            (Some(l), Some(r)) => 3 << 120 | l << 48 | r,
            _ => UNPACKED,
        },
    }
}

const UNPACKED: u128 = u128::MAX;
/// What `Index::ids` holds for a socket without an identity (no tag is 0).
const NO_IDENTITY: u128 = 0;

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
        Proto::Unix => s.peer_inode().map(Identity::Unix),
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

/// Any hash works, as equal hashes are checked; foldhash is a fast one. An identity
/// that packs is hashed as its 128 bits (`packed_key`), one that does not (IPv6) as
/// its addresses as plain numbers (`unpacked_key`): `SocketAddr`'s own `Hash`
/// (discriminants, then byte by byte) was a sixth of `resolve` at 1M sockets. Equal
/// identities hash alike: these are their addresses and ports, less only a V6
/// address's flow and scope.
fn packed_key(id: u128) -> u64 {
    foldhash::fast::FixedState::default().hash_one(id)
}

fn unpacked_key(identity: &Identity) -> u64 {
    let state = foldhash::fast::FixedState::default();
    match *identity {
        Identity::Unix(inode) => state.hash_one((0u8, inode)),
        Identity::Tcp(local, remote) => state.hash_one((1u8, bits(local), bits(remote))),
        Identity::Netlink(protocol, port) => state.hash_one((2u8, protocol, port)),
    }
}

/// An address and port as numbers, for `unpacked_key`.
fn bits(address: SocketAddr) -> (u128, u16) {
    let ip = match address.ip() {
        std::net::IpAddr::V4(ip) => u128::from(ip.to_bits()),
        std::net::IpAddr::V6(ip) => ip.to_bits(),
    };
    (ip, address.port())
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
        sockets[4].set_peer_inode(Some(60));
        sockets[5].set_peer_inode(Some(50));
        sockets[6].set_peer_inode(Some(999)); // its peer is in another snapshot scope
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

    #[test]
    fn ipv6_ends_are_checked_against_the_sockets() {
        let est = TcpState::Established;
        let tcp = |l, r, inode| socket(Proto::Tcp, est, Some((l, r)), inode);
        let mut sockets = vec![
            tcp("[::1]:5000", "[::1]:80", 1),
            tcp("127.0.0.1:5000", "127.0.0.1:80", 2), // the same ports over IPv4
            tcp("[::1]:80", "[::1]:5000", 3),
            tcp("[::1]:80", "127.0.0.1:5000", 4), // mixed: no socket mirrors it
            tcp("127.0.0.1:80", "127.0.0.1:5000", 5),
        ];
        resolve(&mut sockets);
        let peers: Vec<Option<u64>> = sockets
            .iter()
            .map(|s| s.peer.as_ref().map(|p| p.inode))
            .collect();
        assert_eq!(peers, [Some(3), Some(5), Some(1), None, Some(2)]);
    }

    #[test]
    fn a_shared_identity_names_the_first_holder_and_never_the_socket_itself() {
        let est = TcpState::Established;
        let tcp = |l, r, inode| socket(Proto::Tcp, est, Some((l, r)), inode);
        let mut sockets = vec![
            tcp("127.0.0.1:7000", "127.0.0.1:7000", 1), // connected to itself
            tcp("127.0.0.1:5000", "127.0.0.1:80", 2),
            tcp("127.0.0.1:80", "127.0.0.1:5000", 3),
            tcp("127.0.0.1:80", "127.0.0.1:5000", 4), // the same ends as 3
        ];
        resolve(&mut sockets);
        let peers: Vec<Option<u64>> = sockets
            .iter()
            .map(|s| s.peer.as_ref().map(|p| p.inode))
            .collect();
        assert_eq!(peers, [None, Some(3), Some(2), Some(2)]);
    }
}
