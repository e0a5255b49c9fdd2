//! The one way tests build sockets: the way the table readers build theirs
//! (`Socket::inet`, `Socket::unix`), then the few fields a test sets, so every test
//! keeps compiling as the model grows. Integration tests get it as `common::sockets`
//! (the TUI tests through `tui_fixture`), unit tests as `crate::test_sockets`
//! (src/lib.rs includes this file).
#![allow(dead_code)] // each test uses its own part

use std::net::SocketAddr;
use std::sync::Arc;

use sockscope::model::{Family, Owner, ProcessInfo, Proto, Socket, SocketType, TcpState};

/// A process of root's holding the socket as `fd`.
pub fn owner(pid: u32, fd: u32, comm: &str) -> Owner {
    owner_as(pid, fd, comm, "root", 0)
}

pub fn owner_as(pid: u32, fd: u32, comm: &str, user: &str, uid: u32) -> Owner {
    Owner {
        pid,
        fd,
        process: process_as(comm, user, uid),
    }
}

/// A process of root's, as an owner shares it.
pub fn process(comm: &str) -> Arc<ProcessInfo> {
    process_as(comm, "root", 0)
}

fn process_as(comm: &str, user: &str, uid: u32) -> Arc<ProcessInfo> {
    Arc::new(ProcessInfo {
        comm: comm.into(),
        uid,
        user: user.into(),
        container: None,
    })
}

/// Numbers that look random and are the same every run (xorshift64), below `n`.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        Rng(0x9e37_79b9_7f4a_7c15)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A TCP or UDP socket between two `address:port` texts; the family is the local one's.
pub fn inet(proto: Proto, local: &str, remote: &str, state: TcpState) -> Socket {
    let local: SocketAddr = local.parse().expect("a local address:port");
    let remote: SocketAddr = remote.parse().expect("a remote address:port");
    let family = if local.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    Socket::inet(proto, family, state, local, remote)
}

pub fn tcp(local: &str, remote: &str, state: TcpState) -> Socket {
    inet(Proto::Tcp, local, remote, state)
}

/// A TCP socket (inode 1) held by pid 42, fd 3, named `comm`: the filters' usual subject.
pub fn held_tcp(local: &str, remote: &str, state: TcpState, comm: &str) -> Socket {
    tcp(local, remote, state)
        .inode(1)
        .owned_by(vec![owner(42, 3, comm)])
}

pub fn udp(local: &str, remote: &str, state: TcpState) -> Socket {
    inet(Proto::Udp, local, remote, state)
}

/// A unix stream socket, bound to `path` or not.
pub fn unix(path: Option<&str>, state: TcpState) -> Socket {
    Socket::unix(SocketType::Stream, state, path.map(str::to_string), 0)
}

/// The fields tests set, as chained calls: `tcp(..).inode(7).owned_by(vec![..])`.
pub trait Build {
    fn inode(self, inode: u64) -> Socket;
    /// Held by `owners`; the socket's uid is the first one's, as the kernel's would be.
    fn owned_by(self, owners: Vec<Owner>) -> Socket;
    fn queues(self, recv_q: u32, send_q: u32) -> Socket;
}

impl Build for Socket {
    fn inode(mut self, inode: u64) -> Socket {
        self.inode = inode;
        self
    }

    fn owned_by(mut self, owners: Vec<Owner>) -> Socket {
        self.uid = owners.first().map_or(self.uid, |o| o.process.uid);
        self.processes = owners.into();
        self
    }

    fn queues(mut self, recv_q: u32, send_q: u32) -> Socket {
        self.recv_q = recv_q;
        self.send_q = send_q;
        self
    }
}
