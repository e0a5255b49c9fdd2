//! The compact binary encoding of sockets in a recording: varints, length-prefixed
//! strings, one tag byte per enum. Decoding never panics: every read is checked and a
//! short or nonsensical input is an error (tests/record_fuzz.rs feeds it garbage).
//!
//! What is kept of a socket is what stays meaningful over time: endpoints, state,
//! queues, inode, uid, owners, unix peer inode, and the slow tcp_info fields (rtt,
//! window, retransmits, byte counters). The fields that change every refresh on an
//! idle socket (timers counting down, "ms since last data", busy times, rates) are not
//! kept: a socket is only written again when something that matters changed, and
//! those would make every socket change every time. Peers are found again on replay.
//!
//! Version 2 of the format (see format.rs) adds each socket's network namespace and
//! each owner's container at the end of what version 1 wrote; a version 1 recording
//! reads with neither.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, bail};

use crate::model::{
    Container, Family, Netns, Owner, Owners, Pod, Proto, Socket, SocketType, TcpInfo, TcpState,
};

/// Appends to a byte vector.
#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn str(&mut self, s: &str) {
        self.var(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    fn container(&mut self, c: Option<&Container>) {
        let Some(c) = c else {
            return self.u8(0);
        };
        let tag = Container::RUNTIMES.iter().position(|r| *r == c.runtime);
        self.u8(tag.map_or(0, |t| t as u8 + 1));
        self.str(&c.id);
        self.opt_str(c.name.as_deref());
        match &c.pod {
            None => self.u8(0),
            Some(pod) => {
                self.u8(1);
                self.opt_str(pod.namespace.as_deref());
                self.opt_str(pod.name.as_deref());
                self.str(&pod.uid);
            }
        }
    }

    fn addr(&mut self, addr: Option<SocketAddr>) {
        match addr {
            None => self.u8(0),
            Some(SocketAddr::V4(a)) => {
                self.u8(4);
                self.buf.extend_from_slice(&a.ip().octets());
                self.var(a.port().into());
            }
            Some(SocketAddr::V6(a)) => {
                self.u8(6);
                self.buf.extend_from_slice(&a.ip().octets());
                self.var(a.port().into());
            }
        }
    }

    pub fn socket(&mut self, s: &Socket) {
        self.u8(proto_tag(s.proto) | family_tag(s.family) << 2 | type_tag(s.socket_type) << 4);
        self.u8(state_tag(s.state));
        self.addr(s.local);
        self.addr(s.remote);
        match s.path() {
            None => self.u8(0),
            Some(p) => {
                self.u8(1);
                self.str(p);
            }
        }
        self.var(s.recv_q.into());
        self.var(s.send_q.into());
        self.var(s.inode);
        self.var(s.uid.into());
        self.var(s.processes.len() as u64);
        for o in &s.processes {
            self.var(o.pid.into());
            self.var(o.fd.into());
            self.str(&o.comm);
            self.var(o.uid.into());
            self.str(&o.user);
        }
        self.var(s.peer_inode().map_or(0, |i| i + 1));
        match &s.tcp_info {
            None => self.u8(0),
            Some(i) => {
                self.u8(1);
                let mss = i.mss.into();
                for v in [i.rtt_us, i.rttvar_us, i.rto_ms, i.cwnd, i.ssthresh, mss] {
                    self.var(v.into());
                }
                self.var(i.retransmits.into());
                self.var(i.total_retrans.into());
                self.var(i.lost.into());
                self.var(i.bytes_sent);
                self.var(i.bytes_acked);
                self.var(i.bytes_received);
            }
        }
        // Version 2: where it lives and in which containers its owners run.
        match &s.netns {
            None => self.u8(0),
            Some(n) => {
                self.u8(1);
                self.var(n.inode);
                self.opt_str(n.name.as_deref());
            }
        }
        for o in &s.processes {
            self.container(o.container.as_deref());
        }
    }
}

/// Reads what `Enc` wrote, or an older version's encoding.
pub struct Dec<'a> {
    rest: &'a [u8],
    version: u16,
    /// The namespace and container decoded last: the sockets of one namespace, and
    /// the processes of one container, share one value, as they do when collected.
    last_netns: Option<Arc<Netns>>,
    last_container: Option<Arc<Container>>,
}

impl<'a> Dec<'a> {
    /// Bytes in the current version's encoding.
    pub fn new(bytes: &'a [u8]) -> Dec<'a> {
        Dec::of_version(bytes, super::format::VERSION)
    }

    /// Bytes a recording of format `version` holds.
    pub fn of_version(bytes: &'a [u8], version: u16) -> Dec<'a> {
        Dec {
            rest: bytes,
            version,
            last_netns: None,
            last_container: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            bail!("record ends inside a value");
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn var(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("a number longer than 64 bits")
    }

    fn u32(&mut self) -> Result<u32> {
        u32::try_from(self.var()?).map_err(|_| anyhow::anyhow!("a number out of range"))
    }

    /// A count of items each at least `min_bytes` long: more than the rest can hold
    /// is corruption, and refusing it keeps a bad count from allocating gigabytes.
    pub fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.var()?;
        if n > (self.rest.len() / min_bytes.max(1)) as u64 {
            bail!("a count larger than the record");
        }
        Ok(n as usize)
    }

    pub fn str(&mut self) -> Result<String> {
        let n = self.count(1)?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| anyhow::anyhow!("text that is not UTF-8"))
    }

    fn opt_str(&mut self) -> Result<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            t => bail!("unknown text tag {t}"),
        }
    }

    fn netns(&mut self) -> Result<Option<Arc<Netns>>> {
        let netns = match self.u8()? {
            0 => return Ok(None),
            1 => Netns {
                inode: self.var()?,
                name: self.opt_str()?,
            },
            t => bail!("unknown netns tag {t}"),
        };
        Ok(Some(shared(&mut self.last_netns, netns)))
    }

    fn container(&mut self) -> Result<Option<Arc<Container>>> {
        let runtime = match self.u8()? {
            0 => return Ok(None),
            t => *Container::RUNTIMES
                .get(usize::from(t) - 1)
                .ok_or_else(|| anyhow::anyhow!("unknown container runtime {t}"))?,
        };
        let id = self.str()?;
        let name = self.opt_str()?;
        let pod = match self.u8()? {
            0 => None,
            1 => Some(Pod {
                namespace: self.opt_str()?,
                name: self.opt_str()?,
                uid: self.str()?,
            }),
            t => bail!("unknown pod tag {t}"),
        };
        let container = Container {
            runtime,
            id,
            name,
            pod,
        };
        Ok(Some(shared(&mut self.last_container, container)))
    }

    fn addr(&mut self) -> Result<Option<SocketAddr>> {
        let ip: IpAddr = match self.u8()? {
            0 => return Ok(None),
            4 => {
                let o: [u8; 4] = self.take(4)?.try_into()?;
                Ipv4Addr::from(o).into()
            }
            6 => {
                let o: [u8; 16] = self.take(16)?.try_into()?;
                Ipv6Addr::from(o).into()
            }
            t => bail!("unknown address tag {t}"),
        };
        let port = u16::try_from(self.var()?)?;
        Ok(Some(SocketAddr::new(ip, port)))
    }

    pub fn socket(&mut self) -> Result<Socket> {
        let kinds = self.u8()?;
        let proto = from_tag(kinds & 3, &[Proto::Tcp, Proto::Udp, Proto::Unix])?;
        let family = from_tag(kinds >> 2 & 3, &[Family::Ipv4, Family::Ipv6, Family::Unix])?;
        let socket_type = from_tag(
            kinds >> 4 & 3,
            &[SocketType::Stream, SocketType::Dgram, SocketType::Seqpacket],
        )?;
        let state = from_tag(self.u8()?, &TcpState::ALL)?;
        let local = self.addr()?;
        let remote = self.addr()?;
        let mut path = match self.u8()? {
            0 => None,
            1 => Some(self.str()?),
            t => bail!("unknown path tag {t}"),
        };
        let recv_q = self.u32()?;
        let send_q = self.u32()?;
        let inode = self.var()?;
        let uid = self.u32()?;
        let owners = self.count(5)?;
        let mut processes = Vec::with_capacity(owners);
        for _ in 0..owners {
            processes.push(Owner {
                pid: self.u32()?,
                fd: self.u32()?,
                comm: Arc::from(self.str()?),
                uid: self.u32()?,
                user: Arc::from(self.str()?),
                // Version 2 has it after the socket's other fields.
                container: None,
            });
        }
        let peer_inode = self.var()?.checked_sub(1).map(u32::try_from).transpose()?;
        let tcp_info = match self.u8()? {
            0 => None,
            1 => {
                let mut next = || self.u32();
                let (rtt_us, rttvar_us, rto_ms) = (next()?, next()?, next()?);
                let (cwnd, ssthresh, mss) = (next()?, next()?, next()?);
                let retransmits = u8::try_from(self.var()?)?;
                Some(Box::new(TcpInfo {
                    rtt_us,
                    rttvar_us,
                    rto_ms,
                    cwnd,
                    ssthresh,
                    mss: u16::try_from(mss)?,
                    retransmits,
                    total_retrans: self.u32()?,
                    lost: self.u32()?,
                    bytes_sent: self.var()?,
                    bytes_acked: self.var()?,
                    bytes_received: self.var()?,
                    ..TcpInfo::default()
                }))
            }
            t => bail!("unknown tcp_info tag {t}"),
        };
        let mut netns = None;
        if self.version >= 2 {
            netns = self.netns()?;
            for owner in &mut processes {
                owner.container = self.container()?;
            }
        }
        let mut base = match proto {
            Proto::Unix => Socket::unix(socket_type, state, path.take(), inode),
            _ => Socket {
                local,
                remote,
                socket_type,
                ..Socket::inet(proto, family, state, unspecified(), unspecified())
            },
        };
        // Only unix sockets have a name, but a file says what it says.
        if let Some(path) = path {
            base.set_path(path.as_bytes());
        }
        base.set_peer_inode(peer_inode);
        Ok(Socket {
            family,
            local,
            remote,
            recv_q,
            send_q,
            inode,
            uid,
            processes: Owners::from(processes),
            tcp_info,
            netns,
            ..base
        })
    }
}

/// `value` shared with the one decoded before it when they are equal.
fn shared<T: PartialEq>(last: &mut Option<Arc<T>>, value: T) -> Arc<T> {
    match last {
        Some(same) if **same == value => same.clone(),
        _ => last.insert(Arc::new(value)).clone(),
    }
}

fn unspecified() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
}

fn from_tag<T: Copy>(tag: u8, all: &[T]) -> Result<T> {
    match all.get(usize::from(tag)) {
        Some(v) => Ok(*v),
        None => bail!("unknown tag {tag}"),
    }
}

fn proto_tag(p: Proto) -> u8 {
    p as u8
}

fn family_tag(f: Family) -> u8 {
    f as u8
}

fn type_tag(t: SocketType) -> u8 {
    t as u8
}

fn state_tag(s: TcpState) -> u8 {
    s as u8
}

#[cfg(test)]
mod tests;
