//! Socket tables from /proc/<...>/net/{tcp,tcp6,udp,udp6,unix}.
//!
//! TCP and UDP go through the procfs crate's parsers. Unix sockets are parsed here:
//! procfs drops the Flags column, which is the only place /proc says a unix socket is
//! listening, and it cuts paths at the first space.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use procfs::net::{TcpNetEntries, UdpNetEntries};
use procfs::{FromBufReadSI, ProcError};

use crate::model::{Family, Proto, Socket, SocketType, TcpState};

/// Every TCP, UDP and unix socket in the tables under `net_dir` (e.g. /proc/net or
/// /proc/1234/net). A table the kernel does not have (no IPv6) is skipped.
pub fn read_all(net_dir: &Path) -> Result<Vec<Socket>> {
    let mut sockets = Vec::new();
    for (name, proto, family) in [
        ("tcp", Proto::Tcp, Family::Ipv4),
        ("tcp6", Proto::Tcp, Family::Ipv6),
        ("udp", Proto::Udp, Family::Ipv4),
        ("udp6", Proto::Udp, Family::Ipv6),
    ] {
        if let Some(reader) = open(&net_dir.join(name))? {
            read_inet(reader, proto, family, &mut sockets)
                .with_context(|| format!("reading {}", net_dir.join(name).display()))?;
        }
    }
    if let Some(reader) = open(&net_dir.join("unix"))? {
        read_unix(reader, &mut sockets)
            .with_context(|| format!("reading {}", net_dir.join("unix").display()))?;
    }
    Ok(sockets)
}

fn open(path: &Path) -> Result<Option<BufReader<File>>> {
    match File::open(path) {
        // Large buffer: the kernel fills what it is asked for, and fewer reads are
        // fewer walks of its socket hash table.
        Ok(file) => Ok(Some(BufReader::with_capacity(256 * 1024, file))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot open {}", path.display())),
    }
}

/// Parses one of tcp, tcp6, udp, udp6.
pub fn read_inet(
    reader: impl BufRead,
    proto: Proto,
    family: Family,
    out: &mut Vec<Socket>,
) -> Result<()> {
    let info = procfs::current_system_info();
    let mut last = LastLine::default();
    let reader = Tracking {
        inner: reader,
        last: &mut last,
    };
    let inet = |local, remote, state, recv_q, send_q, uid, inode| Socket {
        recv_q,
        send_q,
        uid,
        inode,
        ..Socket::inet(proto, family, state, local, remote)
    };
    match proto {
        Proto::Tcp => {
            let table = TcpNetEntries::from_buf_read(reader, info).map_err(|e| last.error(&e))?;
            for e in table.0 {
                let state = TcpState::from_kernel(e.state.to_u8())
                    .ok_or_else(|| anyhow!("unknown TCP state {}", e.state.to_u8()))?;
                out.push(inet(
                    e.local_address,
                    e.remote_address,
                    state,
                    e.rx_queue,
                    e.tx_queue,
                    e.uid,
                    e.inode,
                ));
            }
        }
        Proto::Udp => {
            let table = UdpNetEntries::from_buf_read(reader, info).map_err(|e| last.error(&e))?;
            for e in table.0 {
                // UDP uses only TCP_ESTABLISHED (connected) and TCP_CLOSE (not).
                let state = match e.state.to_u8() {
                    1 => TcpState::Established,
                    _ => TcpState::Unconn,
                };
                out.push(inet(
                    e.local_address,
                    e.remote_address,
                    state,
                    e.rx_queue,
                    e.tx_queue,
                    e.uid,
                    e.inode,
                ));
            }
        }
        _ => bail!("not a TCP or UDP table"),
    }
    Ok(())
}

/// The line procfs read last, so that a malformed one can be named: procfs's own error
/// is two lines long, blames procfs, and does not say which line.
#[derive(Default)]
struct LastLine {
    number: usize,
    text: String,
    /// The next line could not be read at all (not UTF-8).
    read_failed: bool,
}

impl LastLine {
    /// One line: where, what, and why, e.g.
    /// `line 3: "   1: 0100007F:1F90 ...": invalid digit found in string`.
    fn error(&self, e: &ProcError) -> anyhow::Error {
        if self.read_failed {
            return anyhow!("line {}: {}", self.number + 1, one_line(&e.to_string()));
        }
        let why = match e {
            ProcError::InternalError(e) => {
                let msg = e.msg.trim_start_matches("Internal Unwrap Error: ");
                if msg == "NoneError" {
                    "unknown state".to_string()
                } else if msg.ends_with("NoneError") {
                    "too few fields".to_string()
                } else {
                    // "Failed to parse <macro text> (\"0G\") as a u32: invalid digit ..."
                    msg.rsplit(": ").next().unwrap_or(msg).to_string()
                }
            }
            e => one_line(&e.to_string()),
        };
        anyhow!("line {}: {:?}: {why}", self.number, self.text)
    }
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// A reader that keeps the last line read in `last`. procfs reads through `lines()`,
/// i.e. `read_line`; the copy of each line is cheap next to parsing it.
struct Tracking<'a, R> {
    inner: R,
    last: &'a mut LastLine,
}

impl<R: BufRead> Read for Tracking<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for Tracking<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }

    fn read_line(&mut self, buf: &mut String) -> io::Result<usize> {
        let start = buf.len();
        let result = self.inner.read_line(buf);
        match &result {
            Ok(0) => {}
            Ok(_) => {
                self.last.number += 1;
                self.last.text.clear();
                self.last.text.push_str(buf[start..].trim_end());
            }
            Err(_) => self.last.read_failed = true,
        }
        result
    }
}

/// `__SO_ACCEPTCON`: the kernel's mark for a listening unix socket in the Flags column.
const SO_ACCEPTCON: u32 = 0x10000;

/// Parses /proc/net/unix:
/// `Num RefCount Protocol Flags Type St Inode Path`, the path being the rest of the line.
pub fn read_unix(reader: impl BufRead, out: &mut Vec<Socket>) -> Result<()> {
    for (n, line) in reader.lines().enumerate().skip(1) {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_unix_line(&line).with_context(|| format!("line {}: {line:?}", n + 1))?);
    }
    Ok(())
}

fn parse_unix_line(line: &str) -> Result<Socket> {
    let mut rest = line;
    let mut field = || -> Result<&str> {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        let (f, r) = rest.split_at(end);
        rest = r;
        if f.is_empty() {
            bail!("too few fields");
        }
        Ok(f)
    };
    let _slot = field()?;
    let _refcount = field()?;
    let _protocol = field()?;
    let flags = u32::from_str_radix(field()?, 16).context("bad Flags")?;
    let socket_type = match u16::from_str_radix(field()?, 16).context("bad Type")? {
        1 => SocketType::Stream,
        2 => SocketType::Dgram,
        5 => SocketType::Seqpacket,
        t => bail!("unknown socket type {t}"),
    };
    // St is SS_CONNECTED (3) for a connected socket and SS_CONNECTING (2) for one the
    // kernel set up but nobody accepted yet; both are established connections.
    let st = u8::from_str_radix(field()?, 16).context("bad St")?;
    let inode: u64 = field()?.parse().context("bad Inode")?;
    let path = rest.trim();
    let state = if flags & SO_ACCEPTCON != 0 {
        TcpState::Listen
    } else {
        match st {
            1 => TcpState::Unconn,
            2 | 3 => TcpState::Established,
            4 => TcpState::Close,
            s => bail!("unknown unix state {s}"),
        }
    };
    let path = (!path.is_empty()).then(|| path.to_string());
    Ok(Socket::unix(socket_type, state, path, inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/my app.sock
0000000000000000: 00000002 00000000 00010000 0005 01 23457 @abstract-name
0000000000000000: 00000003 00000000 00000000 0001 03 23458
0000000000000000: 00000002 00000000 00000000 0002 01 23459 /dev/log
0000000000000000: 00000002 00000000 00000000 0001 02 0
";

    #[test]
    fn unix_table() {
        let mut out = Vec::new();
        read_unix(UNIX.as_bytes(), &mut out).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.state, s.socket_type, s.inode, s.path.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    TcpState::Listen,
                    SocketType::Stream,
                    23456,
                    Some("/run/my app.sock")
                ),
                (
                    TcpState::Listen,
                    SocketType::Seqpacket,
                    23457,
                    Some("@abstract-name")
                ),
                (TcpState::Established, SocketType::Stream, 23458, None),
                (TcpState::Unconn, SocketType::Dgram, 23459, Some("/dev/log")),
                (TcpState::Established, SocketType::Stream, 0, None),
            ]
        );
    }

    #[test]
    fn malformed_unix_line_is_an_error_not_a_panic() {
        for bad in [
            "x\n0000: 1 2",
            "x\n0: 1 0 zz 1 1 5",
            "x\n0: 1 0 0 9 1 5",
            "x\n0: 1 0 0 1 1 -5",
        ] {
            assert!(
                read_unix(bad.as_bytes(), &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_tcp_line_is_one_line_naming_it() {
        let tcp = "header\n   0: 0100007F:1F90 00000000:0000 0A 0000000G:00000002 00:0 0 33 0 7\n";
        let err = read_inet(tcp.as_bytes(), Proto::Tcp, Family::Ipv4, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2: \"   0: 0100007F"), "{err}");
        assert!(err.ends_with(": invalid digit found in string"), "{err}");
        let short = "header\n   0: 0100007F:1F90\n";
        let err = read_inet(short.as_bytes(), Proto::Udp, Family::Ipv4, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 2: \"   0: 0100007F:1F90\": too few fields");
    }

    #[test]
    fn tcp6_with_v4_mapped_address() {
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000080 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n";
        let mut out = Vec::new();
        read_inet(tcp6.as_bytes(), Proto::Tcp, Family::Ipv6, &mut out).unwrap();
        assert_eq!(
            out[0].local,
            Some("[::ffff:127.0.0.1]:8080".parse().unwrap())
        );
        assert_eq!(out[0].state, TcpState::Listen);
        assert_eq!(
            (out[0].recv_q, out[0].send_q, out[0].inode),
            (0x80, 0, 4242)
        );
    }
}
