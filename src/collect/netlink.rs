//! Socket tables from the kernel's sock_diag netlink interface, what `ss` uses.
//!
//! One dump per table (TCP and UDP over IPv4 and IPv6, then unix), no per-socket
//! syscalls. Besides what /proc/net/* has, it carries tcp_info, TCP timers, the listen
//! backlog, unix queues, uids and peers. It sees only our own network namespace.
//!
//! netlink-sys gives the socket (safe wrappers over socket/bind/send/recv) and
//! netlink-packet-sock-diag builds the requests and parses the inet header. The
//! attributes are read here from their raw bytes: tcp_info must be read by length (the
//! crate's typed struct needs the newest, full size), and the crate drops the TIME_WAIT
//! expiry and does not know UNIX_DIAG_UID.

mod census;
pub mod destroy;
pub mod destroyed;
mod more;
pub mod netlink_diag;
pub mod packet;
pub mod present;
pub mod tcp_info;
pub mod vsock;

pub use more::{Families, inet_state, merge_sctp};
pub use present::Present;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use netlink_packet_core::{
    ErrorBuffer, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, NlasIterator, Parseable,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
};
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};
use netlink_sys::{Socket as NlSocket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::read::shown;
use super::select::Selection;

use crate::model::{Detail, DiagId, Family, Proto, Socket, SocketType, TcpState, Timer, TimerKind};

/// Every socket of the network namespace `ns_file` names, read exactly through
/// netlink inside it (see `Netlink::open_in`), and whether unix sockets carry uids.
/// For one-off reads; a caller taking snapshots keeps the `Netlink`.
pub fn read_netns(ns_file: &Path) -> Result<(Vec<Socket>, bool)> {
    let mut netlink = Netlink::open_in(ns_file)?;
    let sockets = netlink.read_all()?;
    Ok((sockets, netlink.unix_uids))
}

/// `struct inet_diag_msg`: 4 bytes of family/state/timer/retrans, the 48-byte socket id,
/// then expires, rqueue, wqueue, uid, inode (u32 each); attributes follow.
pub(crate) const INET_MSG_LEN: usize = 72;
const INET_EXPIRES_AT: usize = 52;
/// `struct unix_diag_msg`: family, type, state, pad, inode (u32), cookie (2 x u32).
const UNIX_MSG_LEN: usize = 16;

const INET_DIAG_INFO: u16 = 2;
/// The socket's own IP protocol (raw sockets: the one they were opened for).
const INET_DIAG_PROTOCOL: u16 = 10;
/// SCTP: the peer addresses of an association (an endpoint has none).
const INET_DIAG_PEERS: u16 = 13;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;
/// Not in the crate's ShowFlags (kernel 5.3+); older kernels ignore it.
const UDIAG_SHOW_UID: u32 = 0x40;
/// The old inet_diag request type, which dumps TCP over both address families in one
/// walk (the kernel's compat path asks for AF_UNSPEC); its answers carry this type.
const TCPDIAG_GETSOCK: u16 = 18;
/// Every TCP state including TCP_NEW_SYN_RECV (12), as `ss -a` asks.
const ALL_STATES: u32 = (1 << 13) - 1;

/// An open sock_diag socket, kept across snapshots.
pub struct Netlink {
    socket: NlSocket,
    buf: Vec<u8>,
    seq: u32,
    /// Whether the kernel answers the one-walk TCP dump (see `read_tcp`).
    tcp_in_one: bool,
    /// Whether the last unix dump carried uids (kernel 5.3+); if not, owners' stand in.
    pub unix_uids: bool,
    /// Which of the other families' dumps the kernel answers (see `more`).
    families: Families,
    /// How many sockets the last read found: the next one's vector starts that big.
    last_len: usize,
}

impl Netlink {
    /// Fails when netlink is unavailable (seccomp, an LSM, a kernel without sock_diag).
    pub fn open() -> io::Result<Netlink> {
        let mut socket = NlSocket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NlAddr::new(0, 0))?;
        Ok(Netlink {
            socket,
            // The kernel fills at most ~32 KiB per datagram in a dump.
            buf: vec![0; 64 * 1024],
            seq: 0,
            tcp_in_one: true,
            unix_uids: false,
            families: Families::default(),
            last_len: 0,
        })
    }

    /// A sock_diag socket inside the network namespace that `ns_file` names
    /// (`/proc/<pid>/ns/net`, or `/run/netns/NAME`). A socket answers for the
    /// namespace it was created in, so a short-lived thread joins that namespace (as
    /// `ip netns exec` does, with setns), creates the socket and ends; the socket then
    /// dumps that namespace from any thread, and our own threads never leave ours.
    /// Needs CAP_SYS_ADMIN over the namespace (root); fails with EPERM otherwise.
    pub fn open_in(ns_file: &Path) -> Result<Netlink> {
        let ns = rustix::fs::open(ns_file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .with_context(|| format!("cannot open {}", shown(ns_file)))?;
        let opened = std::thread::Builder::new()
            .name("netns-open".into())
            .spawn(move || -> Result<Netlink> {
                move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
                    .context("cannot enter the network namespace")?;
                Netlink::open().context("cannot open a sock_diag socket there")
            })
            .context("cannot start a thread")?
            .join();
        opened.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Every TCP, UDP and unix socket in our network namespace (or the one it was
    /// opened in, see `open_in`), and those of the other families whose dumps the
    /// kernel offers (raw, SCTP, MPTCP, packet, netlink, vsock).
    pub fn read_all(&mut self) -> Result<Vec<Socket>> {
        self.read_selected(&Selection::ALL, Present::ALL)
    }

    /// Like `read_all`, dumping only the tables `selection` reads, and of those only
    /// the families `present` says the namespace has sockets of.
    pub fn read_selected(
        &mut self,
        selection: &Selection,
        present: Present,
    ) -> Result<Vec<Socket>> {
        // Kept between snapshots: the vector is made once at about its size, rather
        // than grown by doubling (each step a copy of every socket so far).
        let mut sockets = Vec::with_capacity(self.last_len + self.last_len / 32);
        if present.tcp {
            let (v4, v6) = (
                selection.reads(Proto::Tcp, Family::Ipv4),
                selection.reads(Proto::Tcp, Family::Ipv6),
            );
            let result = match (v4, v6) {
                (true, true) => self.read_tcp(&mut sockets),
                (true, false) => self.read_inet(Proto::Tcp, AF_INET, &mut sockets),
                (false, true) => self.read_inet(Proto::Tcp, AF_INET6, &mut sockets),
                (false, false) => Ok(()),
            };
            result.context("netlink Tcp dump")?;
        }
        for family in [AF_INET, AF_INET6] {
            if !present.udp || !selection.reads(Proto::Udp, ip_family(family)) {
                continue;
            }
            self.read_inet(Proto::Udp, family, &mut sockets)
                .context("netlink Udp dump")?;
        }
        if selection.reads(Proto::Unix, Family::Unix) {
            self.read_unix(&mut sockets).context("netlink unix dump")?;
        }
        self.read_more(&mut sockets, selection, present);
        // Give back the unused tail before the owners, peers and output add to the peak.
        sockets.shrink_to_fit();
        self.last_len = sockets.len();
        Ok(sockets)
    }

    /// Every TCP socket, IPv4 and IPv6, in one walk of the kernel's TCP hash where the
    /// kernel still answers the old TCPDIAG_GETSOCK request (every kernel since 2.6),
    /// else in two (one per family). The TCP hash is one for the whole host unless
    /// `net.ipv4.tcp_child_ehash_entries` gave a namespace its own, so every dump
    /// walks every TCP socket on the host: with many namespaces the walks are the
    /// cost (see README, Performance), and one walk instead of two halves it.
    fn read_tcp(&mut self, out: &mut Vec<Socket>) -> Result<()> {
        if self.tcp_in_one {
            let start = out.len();
            match self.dump_typed(TCPDIAG_GETSOCK, &tcp_request_v1(), |payload| {
                out.push(inet_socket(Proto::Tcp, payload)?);
                Ok(())
            }) {
                Ok(()) => return Ok(()),
                Err(_) => {
                    out.truncate(start);
                    self.tcp_in_one = false;
                }
            }
        }
        self.read_inet(Proto::Tcp, AF_INET, out)?;
        self.read_inet(Proto::Tcp, AF_INET6, out)
    }

    fn read_inet(&mut self, proto: Proto, family: u8, out: &mut Vec<Socket>) -> Result<()> {
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: if proto == Proto::Tcp {
                IPPROTO_TCP
            } else {
                IPPROTO_UDP
            },
            extensions: if proto == Proto::Tcp {
                ExtensionFlags::INFO
            } else {
                ExtensionFlags::empty()
            },
            states: StateFlags::from_bits_retain(ALL_STATES),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        });
        self.dump(request, |payload| {
            out.push(inet_socket(proto, payload)?);
            Ok(())
        })
    }

    fn read_unix(&mut self, out: &mut Vec<Socket>) -> Result<()> {
        let show = ShowFlags::NAME.bits()
            | ShowFlags::PEER.bits()
            | ShowFlags::RQLEN.bits()
            | UDIAG_SHOW_UID;
        let request = SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: unix::StateFlags::from_bits_retain(u32::MAX),
            inode: 0,
            show_flags: ShowFlags::from_bits_retain(show),
            cookie: [0xff; 8],
        });
        let mut uids = false;
        self.dump(request, |payload| {
            if let Some(socket) = unix_socket(payload, &mut uids)? {
                out.push(socket);
            }
            Ok(())
        })?;
        self.unix_uids = uids;
        Ok(())
    }

    /// Sends one dump request and hands each answer's payload to `each`, until the
    /// kernel says done. Messages of an earlier, abandoned dump are skipped by sequence.
    fn dump(
        &mut self,
        request: SockDiagMessage,
        each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, request.into());
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.send_and_receive(&bytes, each)
    }

    /// Like `dump`, for a request the crate cannot build: `body` is the family's
    /// request struct (and attributes), put behind a netlink header here.
    fn dump_raw(&mut self, body: &[u8], each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.dump_typed(SOCK_DIAG_BY_FAMILY, body, each)
    }

    /// `dump_raw` with another message type; the answers come back under it.
    fn dump_typed(
        &mut self,
        kind: u16,
        body: &[u8],
        each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        const HEADER_LEN: usize = 16;
        let len = u32::try_from(HEADER_LEN + body.len()).context("request too long")?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.extend_from_slice(&len.to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        bytes.extend_from_slice(&self.seq.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        bytes.extend_from_slice(body);
        self.send_and_receive(&bytes, each)
    }

    /// Sends a request (sequence number `self.seq`) and hands each answer to `each`.
    fn send_and_receive(
        &mut self,
        bytes: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.socket.send(bytes, 0).context("sending the request")?;

        loop {
            let len = self
                .socket
                .recv(&mut &mut self.buf[..], 0)
                .context("receiving")?;
            if len == 0 || len > self.buf.len() {
                bail!("bad netlink datagram of {len} bytes");
            }
            let mut rest = &self.buf[..len];
            while !rest.is_empty() {
                let msg = NetlinkBuffer::new_checked(rest).map_err(|e| anyhow!("{e}"))?;
                let msg_len = msg.length() as usize;
                let payload = msg.payload();
                if msg.sequence_number() == self.seq {
                    match msg.message_type() {
                        // A dump the kernel cannot serve (no diag module for the
                        // protocol) ends in DONE carrying the negative errno.
                        NLMSG_DONE => match payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().unwrap_or_default()))
                        {
                            Some(code) if code < 0 => {
                                let err = io::Error::from_raw_os_error(-code);
                                return Err(err).context("the kernel refused the dump");
                            }
                            _ => return Ok(()),
                        },
                        NLMSG_ERROR => {
                            let error =
                                ErrorBuffer::new_checked(payload).map_err(|e| anyhow!("{e}"))?;
                            if let Some(code) = error.code() {
                                let err = io::Error::from_raw_os_error(-code.get());
                                return Err(err).context("the kernel refused the dump");
                            }
                        }
                        SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => each(payload)?,
                        _ => {}
                    }
                }
                // Messages are 4-byte aligned; the last one may not be padded.
                rest = rest.get(msg_len.next_multiple_of(4)..).unwrap_or_default();
            }
        }
    }
}

/// `struct inet_diag_req`, the old request: family, src_len, dst_len, ext, the 48-byte
/// socket id (cookie "none"), states, dbs. Family and id are ignored by a dump.
fn tcp_request_v1() -> [u8; 60] {
    let mut body = [0u8; 60];
    body[0] = AF_INET;
    body[3] = ExtensionFlags::INFO.bits();
    body[44..52].fill(0xff);
    body[52..56].copy_from_slice(&ALL_STATES.to_ne_bytes());
    body
}

/// The model's family of an AF_INET or AF_INET6 request.
pub(crate) fn ip_family(family: u8) -> Family {
    if family == AF_INET6 {
        Family::Ipv6
    } else {
        Family::Ipv4
    }
}

pub(crate) fn u32_at(raw: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        raw.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

/// One `inet_diag_msg` and its attributes: TCP, UDP, and the raw, SCTP and MPTCP
/// sockets of `more`. Pure (bytes in, socket out), and public so the parser fuzz tests
/// (tests/fuzz_parsers.rs, tests/fuzz_families.rs) can feed it arbitrary bytes.
pub fn inet_socket(proto: Proto, payload: &[u8]) -> Result<Socket> {
    let header = InetResponseHeader::parse(payload).map_err(|e| anyhow!("{e}"))?;
    let family = match header.family {
        AF_INET => Family::Ipv4,
        AF_INET6 => Family::Ipv6,
        f => bail!("unexpected address family {f}"),
    };
    let id = &header.socket_id;
    // SCTP and MPTCP timers are their own; only TCP's (and UDP's none) mean `Timer`.
    let timer = TimerKind::from_kernel(payload[2])
        .filter(|_| matches!(proto, Proto::Tcp | Proto::Udp))
        .map(|kind| Timer {
            kind,
            expires_ms: u32_at(payload, INET_EXPIRES_AT).unwrap_or(0),
            retransmits: payload[3],
        });
    let mut tcp_info = None;
    let mut own_protocol = None;
    let mut sctp_association = false;
    for nla in NlasIterator::new(payload.get(INET_MSG_LEN..).unwrap_or_default()) {
        let nla = nla.map_err(|e| anyhow!("{e}"))?;
        match nla.kind() {
            // MPTCP and SCTP send their own info structs under the same number.
            INET_DIAG_INFO if proto == Proto::Tcp => {
                tcp_info = tcp_info::parse(nla.value()).map(Box::new);
            }
            INET_DIAG_PROTOCOL => own_protocol = nla.value().first().copied(),
            INET_DIAG_PEERS => sctp_association = true,
            _ => {}
        }
    }
    let (state, detail) = more::inet_state(proto, header.state, sctp_association)?;
    let (mut local, mut remote) = (
        SocketAddr::new(id.source_address, id.source_port),
        SocketAddr::new(id.destination_address, id.destination_port),
    );
    let detail = match proto {
        // A raw socket's "port" is its protocol (inet_num); older kernels send no
        // INET_DIAG_PROTOCOL, and there the port is all there is.
        Proto::Raw => {
            let protocol = own_protocol.unwrap_or(id.source_port as u8);
            local.set_port(0);
            remote.set_port(0);
            Some(Detail::Raw { protocol })
        }
        _ => detail,
    };
    Ok(Socket {
        recv_q: header.recv_queue,
        send_q: header.send_queue,
        inode: header.inode.into(),
        uid: header.uid,
        tcp_info,
        timer,
        detail: detail.map(Box::new),
        // What SOCK_DESTROY (`sockscope close`) sends back: TCP and UDP only.
        diag_id: matches!(proto, Proto::Tcp | Proto::Udp).then_some(DiagId {
            cookie: u64::from_ne_bytes(id.cookie),
            interface: id.interface_id,
        }),
        ..Socket::inet(proto, family, state, local, remote)
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
            UNIX_DIAG_PEER => socket.peer_inode = u32_at(value, 0).map(u64::from),
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
