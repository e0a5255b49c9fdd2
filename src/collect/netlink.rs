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
mod parse;
pub mod present;
pub mod tcp_info;
pub mod vsock;

pub use more::{Families, inet_state, merge_sctp};
pub use parse::{inet_socket, inet_socket_kept, unix_socket};
pub(crate) use parse::{ip_family, u32_at, u64_at};
pub use present::Present;

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use netlink_packet_core::{
    ErrorBuffer, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};
use netlink_sys::{Socket as NlSocket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::read::shown;
use super::select::Selection;

use crate::model::{CounterRun, Family, Proto, Socket, SocketKey};

/// How much of each TCP socket's tcp_info a dump keeps (see `Source::snapshot_counted`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TcpInfoKept {
    /// Every socket's, whole: every command but the live view.
    #[default]
    All,
    /// Only that of the socket with this key whole (the live view's details); of the
    /// others the counters alone, beside the sockets (see `Counted::counters`).
    Only(Option<SocketKey>),
}

/// What a dump read: its sockets, and the counters of the TCP sockets whose tcp_info
/// it did not keep (`TcpInfoKept::Only`), by sock_diag cookie, in dump order.
#[derive(Debug, Default)]
pub struct Counted {
    pub sockets: Vec<Socket>,
    pub counters: CounterRun,
}

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
    /// How many sockets the last read found, and how many counters: the next one's
    /// vectors start that big.
    last_len: usize,
    last_counted: usize,
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
            last_counted: 0,
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
        Ok(self
            .read_kept(selection, present, &TcpInfoKept::All)?
            .sockets)
    }

    /// Like `read_selected`, keeping of the tcp_info what `kept` says.
    pub fn read_kept(
        &mut self,
        selection: &Selection,
        present: Present,
        kept: &TcpInfoKept,
    ) -> Result<Counted> {
        // Kept between snapshots: the vector is made once at about its size, rather
        // than grown by doubling (each step a copy of every socket so far).
        let mut sockets = Vec::with_capacity(self.last_len + self.last_len / 32);
        let mut counters = match kept {
            TcpInfoKept::All => CounterRun::default(),
            TcpInfoKept::Only(_) => {
                CounterRun::with_capacity(self.last_counted + self.last_counted / 32)
            }
        };
        let mut out = Answers {
            kept,
            sockets: &mut sockets,
            counters: &mut counters,
        };
        if present.tcp {
            let (v4, v6) = (
                selection.reads(Proto::Tcp, Family::Ipv4),
                selection.reads(Proto::Tcp, Family::Ipv6),
            );
            let result = match (v4, v6) {
                (true, true) => self.read_tcp(&mut out),
                (true, false) => self.read_inet(Proto::Tcp, AF_INET, &mut out),
                (false, true) => self.read_inet(Proto::Tcp, AF_INET6, &mut out),
                (false, false) => Ok(()),
            };
            result.context("netlink Tcp dump")?;
        }
        for family in [AF_INET, AF_INET6] {
            if !present.udp || !selection.reads(Proto::Udp, ip_family(family)) {
                continue;
            }
            self.read_inet(Proto::Udp, family, &mut out)
                .context("netlink Udp dump")?;
        }
        if selection.reads(Proto::Unix, Family::Unix) {
            self.read_unix(&mut sockets).context("netlink unix dump")?;
        }
        self.read_more(&mut sockets, selection, present);
        // Give back the unused tail before the owners, peers and output add to the peak.
        sockets.shrink_to_fit();
        counters.shrink_to_fit();
        self.last_len = sockets.len();
        self.last_counted = counters.len();
        Ok(Counted { sockets, counters })
    }

    /// Every TCP socket, IPv4 and IPv6, in one walk of the kernel's TCP hash where the
    /// kernel still answers the old TCPDIAG_GETSOCK request (every kernel since 2.6),
    /// else in two (one per family). The TCP hash is one for the whole host unless
    /// `net.ipv4.tcp_child_ehash_entries` gave a namespace its own, so every dump
    /// walks every TCP socket on the host: with many namespaces the walks are the
    /// cost (see README, Performance), and one walk instead of two halves it.
    fn read_tcp(&mut self, out: &mut Answers) -> Result<()> {
        if self.tcp_in_one {
            let start = out.sockets.len();
            match self.dump_typed(TCPDIAG_GETSOCK, &tcp_request_v1(), |payload| {
                out.push(Proto::Tcp, payload)
            }) {
                Ok(()) => return Ok(()),
                Err(_) => {
                    out.sockets.truncate(start);
                    // TCP is read first: nothing else was counted.
                    out.counters.clear();
                    self.tcp_in_one = false;
                }
            }
        }
        self.read_inet(Proto::Tcp, AF_INET, out)?;
        self.read_inet(Proto::Tcp, AF_INET6, out)
    }

    fn read_inet(&mut self, proto: Proto, family: u8, out: &mut Answers) -> Result<()> {
        // tcp_info for TCP: the view's rates and `list`'s tcp_info field.
        let extensions = match proto {
            Proto::Tcp => ExtensionFlags::INFO,
            _ => ExtensionFlags::empty(),
        };
        let request = table_request(proto, family, extensions);
        self.dump(request, |payload| out.push(proto, payload))
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

/// Where the TCP and UDP dumps' answers go, and how much tcp_info they keep.
struct Answers<'a> {
    kept: &'a TcpInfoKept,
    sockets: &'a mut Vec<Socket>,
    counters: &'a mut CounterRun,
}

impl Answers<'_> {
    fn push(&mut self, proto: Proto, payload: &[u8]) -> Result<()> {
        let (socket, counters) = inet_socket_kept(proto, payload, self.kept)?;
        // Only a socket with a cookie gives its counters apart (see inet_socket_kept).
        if let (Some(counters), Some(id)) = (counters, socket.diag_id) {
            self.counters.push(id.cookie.get(), counters);
        }
        self.sockets.push(socket);
        Ok(())
    }
}

/// The dump of every TCP (or UDP) socket of one address family, in every state.
fn table_request(proto: Proto, family: u8, extensions: ExtensionFlags) -> SockDiagMessage {
    SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: match proto {
            Proto::Tcp => IPPROTO_TCP,
            _ => IPPROTO_UDP,
        },
        extensions,
        states: StateFlags::from_bits_retain(ALL_STATES),
        socket_id: match family {
            AF_INET => SocketId::new_v4(),
            _ => SocketId::new_v6(),
        },
    })
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
