//! SOCK_DESTROY: closing one TCP socket in the kernel, as `ss -K` does.
//!
//! The request is sock_diag message type 21 (SOCK_DESTROY) carrying an
//! `inet_diag_req_v2`, the same struct a dump sends, but naming one socket exactly:
//! family, protocol, both endpoints, the interface it is bound to and its cookie, all as
//! the dump reported them. The kernel looks the socket up by the endpoints and
//! interface, then compares the cookie (a new socket on the same 4-tuple has another
//! one: ENOENT, ESTALE on older kernels), checks CAP_NET_ADMIN over the socket's
//! namespace (EPERM), and aborts it: the holder's next call fails with ECONNABORTED,
//! and the peer gets a reset.
//! NLM_F_ACK makes the kernel answer success too, with an error message of code 0.
//!
//! netlink-packet-sock-diag builds the bytes (`SockDiagDestroy` wraps the request with
//! the right message type); netlink-sys gives the socket. Nothing unsafe.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use netlink_packet_core::{
    ErrorBuffer, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::{SockDiagDestroy, SockDiagMessage};
use netlink_sys::{Socket as NlSocket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::model::{Family, Proto, Socket};

/// A sock_diag socket for destroy requests, one answer per request.
pub struct Destroyer {
    socket: NlSocket,
    seq: u32,
}

impl Destroyer {
    pub fn open() -> io::Result<Destroyer> {
        let mut socket = NlSocket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NlAddr::new(0, 0))?;
        Ok(Destroyer { socket, seq: 0 })
    }

    /// A destroyer for the sockets of another network namespace: a netlink socket
    /// reaches only the sockets of the namespace it was made in, so it is made there,
    /// on a short-lived thread that enters it (as `Netlink::open_in`).
    pub fn open_in(ns_file: &Path) -> io::Result<Destroyer> {
        let ns = rustix::fs::open(ns_file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        std::thread::Builder::new()
            .name("netns-destroy".into())
            .spawn(move || -> io::Result<Destroyer> {
                move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
                Destroyer::open()
            })?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Destroys `socket`, a TCP socket read from a netlink dump in this destroyer's namespace (it
    /// needs the dump's `diag_id`). The error is the kernel's: EPERM without
    /// CAP_NET_ADMIN, EOPNOTSUPP without CONFIG_INET_DIAG_DESTROY, ENOENT when no such
    /// socket exists any more (also when another socket took its endpoints: ESTALE on
    /// older kernels).
    pub fn destroy(&mut self, socket: &Socket) -> io::Result<()> {
        let bytes = self.request(socket)?;
        self.socket.send(&bytes, 0)?;
        let mut buf = vec![0; 8192];
        // Bounded: the kernel sends exactly one answer; a few stray datagrams of an
        // earlier request (there are none on a fresh socket) are skipped by sequence.
        for _ in 0..16 {
            let len = self.socket.recv(&mut &mut buf[..], 0)?;
            let Some(answer) = buf.get(..len) else {
                return Err(invalid("netlink datagram longer than its buffer"));
            };
            if let Some(result) = self.answer(answer)? {
                return result;
            }
        }
        Err(invalid("the kernel did not answer the destroy request"))
    }

    fn request(&mut self, socket: &Socket) -> io::Result<Vec<u8>> {
        let (Some(local), Some(remote), Some(id)) = (socket.local, socket.remote, socket.diag_id)
        else {
            return Err(invalid("the socket has no kernel id (read from /proc?)"));
        };
        if socket.proto != Proto::Tcp {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let family = match socket.family {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
            _ => return Err(io::Error::from(io::ErrorKind::Unsupported)),
        };
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            // The exact lookup ignores the states; every state, as a dump asks.
            states: StateFlags::from_bits_retain(super::ALL_STATES),
            socket_id: SocketId {
                source_port: local.port(),
                destination_port: remote.port(),
                source_address: local.ip(),
                destination_address: remote.ip(),
                interface_id: id.interface,
                cookie: id.cookie.get().to_ne_bytes(),
            },
        });
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, SockDiagDestroy::new(request).into());
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        Ok(bytes)
    }

    /// The result in one datagram: Some once the kernel's ack or error for our
    /// request is in it.
    fn answer(&self, mut rest: &[u8]) -> io::Result<Option<io::Result<()>>> {
        while !rest.is_empty() {
            let msg = NetlinkBuffer::new_checked(rest).map_err(|e| invalid(&e.to_string()))?;
            if msg.sequence_number() == self.seq && msg.message_type() == NLMSG_ERROR {
                let error =
                    ErrorBuffer::new_checked(msg.payload()).map_err(|e| invalid(&e.to_string()))?;
                return Ok(Some(match error.code() {
                    None => Ok(()),
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                }));
            }
            let len = (msg.length() as usize).next_multiple_of(4);
            rest = rest.get(len..).unwrap_or_default();
        }
        Ok(None)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DiagId, TcpState};
    use std::num::NonZeroU64;

    #[test]
    fn the_request_names_one_socket_exactly() {
        let socket = Socket {
            diag_id: Some(DiagId {
                cookie: NonZeroU64::new(0x1122_3344_5566_7788).unwrap(),
                interface: 3,
            }),
            ..Socket::inet(
                Proto::Tcp,
                Family::Ipv4,
                TcpState::Established,
                "127.0.0.1:5000".parse().unwrap(),
                "127.0.0.2:80".parse().unwrap(),
            )
        };
        let mut destroyer = Destroyer::open().unwrap();
        let bytes = destroyer.request(&socket).unwrap();
        let u16_at = |i: usize| u16::from_ne_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap());
        // nlmsghdr: length, type SOCK_DESTROY (21), REQUEST | ACK, sequence.
        assert_eq!(u32_at(0) as usize, bytes.len());
        assert_eq!(u16_at(4), 21);
        assert_eq!(u16_at(6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32_at(8), 1);
        // inet_diag_req_v2: family, protocol, extensions, pad, states, then the id:
        // ports big-endian, addresses, interface, cookie.
        let req = &bytes[16..];
        assert_eq!((req[0], req[1], req[2]), (AF_INET, IPPROTO_TCP, 0));
        let id = &req[8..];
        assert_eq!(&id[0..4], &[0x13, 0x88, 0, 80]);
        assert_eq!(&id[4..8], &[127, 0, 0, 1]);
        assert_eq!(&id[20..24], &[127, 0, 0, 2]);
        assert_eq!(u32::from_ne_bytes(id[36..40].try_into().unwrap()), 3);
        assert_eq!(&id[40..48], &0x1122_3344_5566_7788u64.to_ne_bytes());
        assert_eq!(bytes.len(), 16 + 56);
        // Without the dump's id there is nothing exact to name.
        let from_proc = Socket {
            diag_id: None,
            ..socket
        };
        assert!(destroyer.request(&from_proc).is_err());
    }
}
