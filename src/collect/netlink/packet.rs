//! AF_PACKET sockets over packet_diag (`ss -0`): the sockets of sniffers, DHCP
//! clients, LLDP daemons. Request and answer are built and read here by hand (the
//! netlink-packet-sock-diag crate knows only inet and unix); every read is bounded.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use anyhow::{Result, bail};
use netlink_packet_core::NlasIterator;

use super::u32_at;
use crate::model::{Detail, Family, Proto, Socket, SocketType, TcpState};

const AF_PACKET: u8 = 17;
/// `struct packet_diag_msg`: family, type, num (the ethertype, host order), inode,
/// cookie (2 x u32); attributes follow.
const MSG_LEN: usize = 16;
const PACKET_SHOW_INFO: u32 = 0x01;
const PACKET_SHOW_MEMINFO: u32 = 0x10;
const PACKET_DIAG_INFO: u16 = 0;
const PACKET_DIAG_UID: u16 = 5;
const PACKET_DIAG_MEMINFO: u16 = 6;
/// SK_MEMINFO_RMEM_ALLOC in the meminfo array: Recv-Q as ss (and /proc's Rmem) show
/// it; packet sockets have no Send-Q there.
const RMEM_ALLOC: usize = 0;

/// `struct packet_diag_req`: family, protocol (0), pad, inode (0: all), show, cookie.
pub fn request() -> Vec<u8> {
    let mut body = vec![0u8; 20];
    body[0] = AF_PACKET;
    body[8..12].copy_from_slice(&(PACKET_SHOW_INFO | PACKET_SHOW_MEMINFO).to_ne_bytes());
    body
}

/// One `packet_diag_msg` and its attributes. `names` turns interface indexes into names
/// (in our network namespace); a fuzz test passes one that never looks anything up.
pub fn socket(payload: &[u8], names: &mut InterfaceNames) -> Result<Option<Socket>> {
    if payload.len() < MSG_LEN || payload[0] != AF_PACKET {
        bail!("short or foreign packet_diag message");
    }
    // SOCK_RAW (with link-layer header) or SOCK_DGRAM (without): p_raw and p_dgr.
    let socket_type = match payload[1] {
        3 => SocketType::Raw,
        2 => SocketType::Dgram,
        _ => return Ok(None),
    };
    let ethertype = u16::from_ne_bytes([payload[2], payload[3]]);
    let inode = u32_at(payload, 4).unwrap_or(0).into();
    let mut ifindex = 0;
    let (mut uid, mut recv_q) = (0, 0);
    for nla in NlasIterator::new(&payload[MSG_LEN..]) {
        let nla = nla.map_err(|e| anyhow::anyhow!("{e}"))?;
        let value = nla.value();
        match nla.kind() {
            // struct packet_diag_info starts with pdi_index, the bound interface.
            PACKET_DIAG_INFO => ifindex = u32_at(value, 0).unwrap_or(0),
            PACKET_DIAG_UID => uid = u32_at(value, 0).unwrap_or(0),
            PACKET_DIAG_MEMINFO => recv_q = u32_at(value, RMEM_ALLOC * 4).unwrap_or(0),
            _ => {}
        }
    }
    let detail = Detail::Packet {
        ethertype,
        ifindex,
        interface: names.name(ifindex),
    };
    Ok(Some(Socket {
        uid,
        recv_q,
        ..Socket::family(
            Proto::Packet,
            Family::Packet,
            socket_type,
            TcpState::Unconn,
            inode,
            Some(detail),
        )
    }))
}

/// Interface names by index, asked of the kernel (SIOCGIFNAME) once per index per
/// dump, through a socket of our own network namespace.
#[derive(Default)]
pub struct InterfaceNames {
    socket: Option<OwnedFd>,
    known: HashMap<u32, Option<String>>,
    /// Set when the lookup socket cannot be opened, or for a fuzz test: no lookups.
    disabled: bool,
}

impl InterfaceNames {
    /// Never looks a name up.
    pub fn none() -> InterfaceNames {
        InterfaceNames {
            disabled: true,
            ..InterfaceNames::default()
        }
    }

    pub fn name(&mut self, ifindex: u32) -> Option<String> {
        if ifindex == 0 || self.disabled {
            return None;
        }
        if let Some(known) = self.known.get(&ifindex) {
            return known.clone();
        }
        if self.socket.is_none() {
            use rustix::net::{AddressFamily, SocketType, socket};
            match socket(AddressFamily::UNIX, SocketType::DGRAM, None) {
                Ok(fd) => self.socket = Some(fd),
                Err(_) => {
                    self.disabled = true;
                    return None;
                }
            }
        }
        let name = self
            .socket
            .as_ref()
            .and_then(|fd| rustix::net::netdevice::index_to_name(fd, ifindex).ok());
        self.known.insert(ifindex, name.clone());
        name
    }
}
