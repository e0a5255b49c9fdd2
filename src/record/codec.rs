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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, bail};

use crate::model::{Family, Owner, Owners, Proto, Socket, SocketType, TcpInfo, TcpState};

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
        match &s.path {
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
        self.var(s.peer_inode.map_or(0, |i| i + 1));
        match &s.tcp_info {
            None => self.u8(0),
            Some(i) => {
                self.u8(1);
                for v in [i.rtt_us, i.rttvar_us, i.rto_ms, i.cwnd, i.ssthresh, i.mss] {
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
    }
}

/// Reads what `Enc` wrote.
pub struct Dec<'a> {
    rest: &'a [u8],
}

impl<'a> Dec<'a> {
    pub fn new(bytes: &'a [u8]) -> Dec<'a> {
        Dec { rest: bytes }
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
        let path = match self.u8()? {
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
                // Not recorded (yet): a replay names no containers.
                container: None,
            });
        }
        let peer_inode = self.var()?.checked_sub(1);
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
                    mss,
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
        let base = match proto {
            Proto::Unix => Socket::unix(socket_type, state, path, inode),
            _ => Socket {
                local,
                remote,
                path,
                socket_type,
                ..Socket::inet(proto, family, state, unspecified(), unspecified())
            },
        };
        Ok(Socket {
            family,
            local,
            remote,
            recv_q,
            send_q,
            inode,
            uid,
            processes: Owners::from(processes),
            peer_inode,
            tcp_info,
            ..base
        })
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
mod tests {
    use super::*;

    #[test]
    fn sockets_round_trip_without_the_volatile_fields() {
        let owner = Owner {
            pid: 4242,
            fd: 7,
            comm: Arc::from("nginx\nx"),
            uid: 33,
            user: Arc::from("www-data"),
            container: None,
        };
        let tcp = Socket {
            recv_q: 3,
            send_q: 70_000,
            inode: 123_456_789,
            uid: 33,
            processes: vec![owner.clone(), owner].into(),
            tcp_info: Some(Box::new(TcpInfo {
                rtt_us: 1234,
                cwnd: 10,
                bytes_received: u64::MAX,
                ..TcpInfo::default()
            })),
            ..Socket::inet(
                Proto::Tcp,
                Family::Ipv6,
                TcpState::CloseWait,
                "[::1]:80".parse().unwrap(),
                "[::ffff:127.0.0.1]:40000".parse().unwrap(),
            )
        };
        let unix = Socket {
            peer_inode: Some(0),
            ..Socket::unix(
                SocketType::Seqpacket,
                TcpState::Listen,
                Some("@a\0b".into()),
                9,
            )
        };
        let udp = Socket::inet(
            Proto::Udp,
            Family::Ipv4,
            TcpState::Unconn,
            "127.0.0.1:53".parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        );
        for s in [tcp, unix, udp] {
            let mut enc = Enc::default();
            enc.socket(&s);
            let mut dec = Dec::new(&enc.buf);
            assert_eq!(dec.socket().unwrap(), s);
            assert!(dec.is_empty());
            // Every cut is an error, never a panic.
            for cut in 0..enc.buf.len() {
                assert!(Dec::new(&enc.buf[..cut]).socket().is_err(), "cut at {cut}");
            }
        }
    }
}
