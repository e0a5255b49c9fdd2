//! AF_VSOCK sockets over vsock_diag (`ss --vsock`): the sockets between a VM and its
//! host. Kernels without the vsock_diag module answer ENOENT; their vsock sockets are
//! then named through the fd walk, without CIDs and ports (see collect/snapshot.rs).

use anyhow::{Result, bail};

use super::u32_at;
use crate::model::{Detail, Family, Proto, Socket, SocketType, TcpState};

const AF_VSOCK: u8 = 40;
/// `struct vsock_diag_msg`: family, type, state, shutdown, src_cid, src_port, dst_cid,
/// dst_port, inode (u32 each), cookie (2 x u32).
const MSG_LEN: usize = 32;
/// Every state, as `ss -a` asks.
const ALL_STATES: u32 = u32::MAX;

/// `struct vsock_diag_req`: family, protocol (0), pad, states, inode (0: all), show, cookie.
pub fn request() -> Vec<u8> {
    let mut body = vec![0u8; 24];
    body[0] = AF_VSOCK;
    body[4..8].copy_from_slice(&ALL_STATES.to_ne_bytes());
    body
}

/// One `vsock_diag_msg`; None for a socket type sockscope does not model.
pub fn socket(payload: &[u8]) -> Result<Option<Socket>> {
    if payload.len() < MSG_LEN || payload[0] != AF_VSOCK {
        bail!("short or foreign vsock_diag message");
    }
    let Some(socket_type) = SocketType::from_kernel(payload[1].into()) else {
        return Ok(None);
    };
    // vsock keeps TCP's state numbers; TCP_CLOSE is an unconnected socket.
    let state = match payload[2] {
        7 => TcpState::Unconn,
        s => TcpState::from_kernel(s).unwrap_or(TcpState::Unconn),
    };
    let field = |i: usize| u32_at(payload, 4 + 4 * i);
    let detail = Detail::Vsock {
        local_cid: field(0),
        local_port: field(1),
        remote_cid: field(2),
        remote_port: field(3),
    };
    let inode = field(4).unwrap_or(0).into();
    Ok(Some(Socket::family(
        Proto::Vsock,
        Family::Vsock,
        socket_type,
        state,
        inode,
        Some(detail),
    )))
}
