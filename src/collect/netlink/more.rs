//! The dumps after TCP, UDP and unix: raw, SCTP and MPTCP over inet_diag, then the
//! packet_diag, netlink_diag and vsock_diag families (their parsers are in
//! `packet`, `netlink_diag` and `vsock`).
//!
//! What `ss -w`, `-S`, `-M`, `-0`, `-f netlink` and `--vsock` ask. Each is one small
//! dump on a normal host. A kernel without one of the diag modules answers ENOENT (or
//! EINVAL, EOPNOTSUPP); that family is then not asked again, and its sockets show as
//! `other` through the fd walk (see collect/snapshot.rs) rather than failing the
//! snapshot. Any other failure of these dumps is also kept out of the TCP/UDP/unix
//! result: the family is skipped for this snapshot and tried again on the next.
//!
//! ICMP "ping" sockets have no diag module at all; they come from /proc/net/icmp
//! (collect/proc_families.rs) on every source.

use std::io;

use anyhow::{Result, anyhow};

use super::{Netlink, Present, inet_socket, netlink_diag, packet, vsock};
use crate::collect::proc_families::ProcTable;
use crate::collect::select::Selection;
use crate::model::{Detail, Family, Proto, Socket, TcpState, sctp_state_name};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_SCTP: u8 = 132;
const IPPROTO_RAW: u8 = 255;
/// Wider than the request's u8: sent in an INET_DIAG_REQ_PROTOCOL attribute (5.10+).
const IPPROTO_MPTCP: u32 = 262;
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// Every state, as for TCP.
const ALL_STATES: u32 = (1 << 12) - 1;

/// One dump the kernel may or may not offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dump {
    Raw4,
    Raw6,
    Sctp4,
    Sctp6,
    Mptcp4,
    Mptcp6,
    Packet,
    Netlink,
    Vsock,
}

const DUMPS: [Dump; 9] = [
    Dump::Raw4,
    Dump::Raw6,
    Dump::Sctp4,
    Dump::Sctp6,
    Dump::Mptcp4,
    Dump::Mptcp6,
    Dump::Packet,
    Dump::Netlink,
    Dump::Vsock,
];

impl Dump {
    /// Whether `selection` wants what this dump lists.
    fn read_for(self, selection: &Selection) -> bool {
        let (proto, family) = match self {
            Dump::Raw4 => (Proto::Raw, Family::Ipv4),
            Dump::Raw6 => (Proto::Raw, Family::Ipv6),
            Dump::Sctp4 => (Proto::Sctp, Family::Ipv4),
            Dump::Sctp6 => (Proto::Sctp, Family::Ipv6),
            Dump::Mptcp4 => (Proto::Mptcp, Family::Ipv4),
            Dump::Mptcp6 => (Proto::Mptcp, Family::Ipv6),
            Dump::Packet => (Proto::Packet, Family::Packet),
            Dump::Netlink => (Proto::Netlink, Family::Netlink),
            Dump::Vsock => (Proto::Vsock, Family::Vsock),
        };
        selection.reads(proto, family)
    }
}

/// Which dumps the kernel said it does not have (remembered for the socket's life),
/// and which failed otherwise in the last snapshot.
#[derive(Clone, Debug, Default)]
pub struct Families {
    missing: Vec<Dump>,
    failed: Vec<Dump>,
}

impl Netlink {
    /// The /proc tables to read beside the last dumps: ICMP always (no diag module
    /// exists for it), and those of the families netlink did not answer for.
    pub fn proc_tables(&self) -> Vec<ProcTable> {
        let mut tables = vec![ProcTable::Icmp, ProcTable::Icmp6];
        let f = &self.families;
        for dump in f.missing.iter().chain(&f.failed) {
            let table = match dump {
                Dump::Raw4 => ProcTable::Raw,
                Dump::Raw6 => ProcTable::Raw6,
                Dump::Sctp4 | Dump::Sctp6 => ProcTable::Sctp,
                Dump::Packet => ProcTable::Packet,
                Dump::Netlink => ProcTable::Netlink,
                // No /proc table: their sockets are named by the fd walk.
                Dump::Mptcp4 | Dump::Mptcp6 | Dump::Vsock => continue,
            };
            if !tables.contains(&table) {
                tables.push(table);
            }
        }
        tables
    }
}

impl Netlink {
    /// Appends the sockets of every other family the kernel offers a dump for.
    pub(super) fn read_more(
        &mut self,
        out: &mut Vec<Socket>,
        selection: &Selection,
        present: Present,
    ) {
        let mut names = packet::InterfaceNames::default();
        self.families.failed.clear();
        for dump in DUMPS {
            if self.families.missing.contains(&dump) || !dump.read_for(selection) {
                continue;
            }
            let empty = match dump {
                Dump::Raw4 | Dump::Raw6 => !present.raw,
                Dump::Sctp4 | Dump::Sctp6 => !present.sctp,
                Dump::Mptcp4 | Dump::Mptcp6 => !present.mptcp,
                Dump::Packet | Dump::Netlink | Dump::Vsock => false,
            };
            if empty {
                continue;
            }
            let start = out.len();
            let result = match dump {
                Dump::Raw4 => self.read_inet_more(Proto::Raw, AF_INET, out),
                Dump::Raw6 => self.read_inet_more(Proto::Raw, AF_INET6, out),
                Dump::Sctp4 => self.read_inet_more(Proto::Sctp, AF_INET, out),
                Dump::Sctp6 => self.read_inet_more(Proto::Sctp, AF_INET6, out),
                Dump::Mptcp4 => self.read_inet_more(Proto::Mptcp, AF_INET, out),
                Dump::Mptcp6 => self.read_inet_more(Proto::Mptcp, AF_INET6, out),
                Dump::Packet => self.dump_raw(&packet::request(), |payload| {
                    out.extend(packet::socket(payload, &mut names)?);
                    Ok(())
                }),
                Dump::Netlink => self.dump_raw(&netlink_diag::request(), |payload| {
                    out.extend(netlink_diag::socket(payload)?);
                    Ok(())
                }),
                Dump::Vsock => self.dump_raw(&vsock::request(), |payload| {
                    out.extend(vsock::socket(payload)?);
                    Ok(())
                }),
            };
            if let Err(e) = result {
                // Half a dump is worse than none: /proc or the fd walk names the rest.
                out.truncate(start);
                if is_unsupported(&e) {
                    self.families.missing.push(dump);
                } else {
                    self.families.failed.push(dump);
                }
            }
        }
        Self::drop_mptcp_subflows(out);
    }

    /// An MPTCP socket's first subflow is a TCP socket that the TCP dump lists too,
    /// under the MPTCP socket's inode. The fd is the MPTCP socket: its row stays, and
    /// the subflow's goes (`ss -t` shows both; `lsof` shows one).
    fn drop_mptcp_subflows(out: &mut Vec<Socket>) {
        let mptcp: std::collections::HashSet<u64> = out
            .iter()
            .filter(|s| s.proto == Proto::Mptcp && s.inode != 0)
            .map(|s| s.inode)
            .collect();
        if !mptcp.is_empty() {
            out.retain(|s| !(s.proto == Proto::Tcp && mptcp.contains(&s.inode)));
        }
    }

    fn read_inet_more(&mut self, proto: Proto, family: u8, out: &mut Vec<Socket>) -> Result<()> {
        let body = inet_request(proto, family);
        let start = out.len();
        self.dump_raw(&body, |payload| {
            out.push(inet_socket(proto, payload)?);
            Ok(())
        })?;
        if proto == Proto::Sctp {
            merge_sctp(out, start);
        }
        Ok(())
    }
}

/// ENOENT: no diag handler for the family or protocol (module absent); EINVAL and
/// EOPNOTSUPP: a kernel that does not know the request's shape.
fn is_unsupported(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .filter_map(io::Error::raw_os_error)
        .any(|code| {
            [
                libc::ENOENT,
                libc::EINVAL,
                libc::EOPNOTSUPP,
                libc::EPROTONOSUPPORT,
                libc::EAFNOSUPPORT,
            ]
            .contains(&code)
        })
}

/// `struct inet_diag_req_v2` (56 bytes) for raw, SCTP or MPTCP.
///
/// Raw: protocol IPPROTO_RAW with `sdiag_raw_protocol` (the pad byte) 0, which dumps
/// raw sockets of every protocol, as `ss -w` asks. MPTCP's number does not fit the u8:
/// the request carries 0 there, which kernels without the attribute refuse (ENOENT)
/// rather than misread, and the real number in INET_DIAG_REQ_PROTOCOL, as ss sends it.
pub fn inet_request(proto: Proto, family: u8) -> Vec<u8> {
    let protocol = match proto {
        Proto::Raw => IPPROTO_RAW,
        Proto::Sctp => IPPROTO_SCTP,
        _ => 0,
    };
    let mut body = vec![0u8; 56];
    body[0] = family;
    body[1] = protocol;
    // idiag_ext 0: no extensions asked; byte 3 is sdiag_raw_protocol, 0 = all.
    body[4..8].copy_from_slice(&ALL_STATES.to_ne_bytes());
    // The socket id stays zero, cookie included, as ss sends it: a dump matches all.
    if proto == Proto::Mptcp {
        body.extend_from_slice(&8u16.to_ne_bytes()); // nla_len: header + u32
        body.extend_from_slice(&INET_DIAG_REQ_PROTOCOL.to_ne_bytes());
        body.extend_from_slice(&IPPROTO_MPTCP.to_ne_bytes());
    }
    body
}

/// The state of an inet_diag answer beyond TCP and UDP, and the detail it implies.
///
/// SCTP sends two kinds of message: an endpoint (the socket; its `sk_state`, a TCP
/// number: LISTEN, ESTABLISHED, CLOSE_WAIT for closing, CLOSE) and an association (with
/// peer addresses; its own `enum sctp_state`), mapped to the nearest TCP state with the
/// exact name kept in the detail.
pub fn inet_state(
    proto: Proto,
    state: u8,
    sctp_association: bool,
) -> Result<(TcpState, Option<Detail>)> {
    let unknown = || anyhow!("unknown {} state {state}", proto.name());
    Ok(match proto {
        Proto::Tcp | Proto::Mptcp => (TcpState::from_kernel(state).ok_or_else(unknown)?, None),
        Proto::Sctp if sctp_association => {
            let tcp_like = match state {
                0 => TcpState::Close,
                1 | 2 => TcpState::SynSent,
                3 => TcpState::Established,
                4 | 5 => TcpState::FinWait1,
                6 => TcpState::CloseWait,
                7 => TcpState::LastAck,
                _ => return Err(unknown()),
            };
            let sctp_state = sctp_state_name(state);
            (tcp_like, Some(Detail::Sctp { sctp_state }))
        }
        Proto::Sctp => {
            let tcp_like = match state {
                7 => TcpState::Unconn,
                s => TcpState::from_kernel(s).ok_or_else(unknown)?,
            };
            (tcp_like, Some(Detail::Sctp { sctp_state: None }))
        }
        // UDP, raw (and ICMP) use only TCP_ESTABLISHED (connected) and TCP_CLOSE (not).
        _ if state == 1 => (TcpState::Established, None),
        _ => (TcpState::Unconn, None),
    })
}

/// An SCTP dump lists each socket (endpoint) and then its associations, and a listener
/// with associations twice. One row per socket: the first association of a socket fills
/// in its remote end and state (a one-to-one socket has just that one); any further one
/// (one-to-many sockets) stays a row of its own, with the socket's inode.
pub fn merge_sctp(sockets: &mut Vec<Socket>, start: usize) {
    let mut merged: Vec<Socket> = Vec::new();
    for socket in sockets.drain(start..) {
        let association = matches!(
            socket.detail.as_deref(),
            Some(Detail::Sctp {
                sctp_state: Some(_)
            })
        );
        let endpoint = merged.iter_mut().rev().find(|s| {
            s.inode == socket.inode
                && matches!(s.detail.as_deref(), Some(Detail::Sctp { sctp_state: None }))
        });
        match (association, endpoint) {
            (false, Some(_)) => {} // the same endpoint again
            (true, Some(ep)) if ep.state != TcpState::Listen => {
                ep.remote = socket.remote;
                ep.state = socket.state;
                ep.detail = socket.detail;
            }
            _ => merged.push(socket),
        }
    }
    sockets.append(&mut merged);
}
