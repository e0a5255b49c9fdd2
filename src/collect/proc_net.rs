//! Socket tables from /proc/<...>/net/{tcp,tcp6,udp,udp6,unix}.
//!
//! Each line is checked against the exact format the kernel prints. A line that does
//! not match is skipped and counted (the snapshot says so), never fatal and never
//! turned into a socket: a captured tree may be damaged, and /proc/net/unix prints
//! socket names raw, so anyone can put a newline and a whole fake line into it.
//! Such a line can only follow a line that ends in a name, so a line that could be
//! the rest of a name is marked unconfirmed: it stays only if the fd walk finds a
//! process holding its inode (see `ProcTables::unconfirmed`). Netlink, which gives
//! names as exact bytes, is preferred wherever it works (see collect/tables.rs).

use std::collections::HashSet;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use anyhow::Result;

mod unix;

use unix::unix_lines;
pub use unix::{UnixRead, read_unix};

use super::read::{Follow, Line, Lines, shown};
use super::select::Selection;
use crate::model::{Family, Proto, Socket, TcpState};

/// Longer lines are no kernel table's (a unix line is at most ~170 bytes).
pub(super) const MAX_LINE: usize = 4096;
/// More than a million sockets' worth; past it a "table" is something else.
pub(super) const MAX_TABLE: u64 = 1 << 30;
/// Read size: the kernel fills what it is asked for, and fewer reads are fewer walks
/// of its socket hash table.
const READ_SIZE: usize = 256 * 1024;

/// The tables of one /proc net directory.
#[derive(Debug, Default)]
pub struct ProcTables {
    pub sockets: Vec<Socket>,
    /// One per table with skipped lines: "2 unreadable lines in /proc/net/unix skipped".
    pub warnings: Vec<String>,
    /// Unix sockets (by inode) whose line could be the rest of an earlier socket's name
    /// with a newline in it: kept only when a process holds the inode (see `confirm`).
    /// A forged line could claim any name, state or inode, so nothing else vouches.
    pub unconfirmed: HashSet<u64>,
}

impl ProcTables {
    /// Drops the unconfirmed sockets no process holds, once owners are joined; says
    /// how many went.
    pub fn confirm(sockets: &mut Vec<Socket>, unconfirmed: &HashSet<u64>) -> Option<String> {
        if unconfirmed.is_empty() {
            return None;
        }
        let before = sockets.len();
        sockets.retain(|s| {
            !(s.proto == Proto::Unix && unconfirmed.contains(&s.inode) && s.processes.is_empty())
        });
        let dropped = before - sockets.len();
        let sockets = if dropped == 1 { "socket" } else { "sockets" };
        (dropped > 0).then(|| {
            format!(
                "{dropped} unix {sockets} in /proc skipped: each line could be the rest of \
                 another socket's name holding a newline, and no process holds it (netlink \
                 reads names exactly)"
            )
        })
    }
}

/// Lines that did not parse in one table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub count: usize,
    /// The first one, described (`line 3: "…"`, cut and escaped).
    pub first: Option<String>,
}

impl Skipped {
    fn add(&mut self, line: &Line) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(line.describe());
        }
    }

    /// The warning for `path`, if any line was skipped.
    pub fn warning(&self, path: &Path) -> Option<String> {
        let first = self.first.as_deref()?;
        let lines = if self.count == 1 { "line" } else { "lines" };
        Some(format!(
            "{} unreadable {lines} in {} skipped (first: {first})",
            self.count,
            shown(path)
        ))
    }
}

/// Every TCP, UDP and unix socket in the tables under `net_dir` (e.g. /proc/net or
/// /proc/1234/net). A table the kernel does not have (no IPv6) is skipped; a table
/// that cannot be read (not a regular file, too large, unreadable) is an error.
pub fn read_all(net_dir: &Path) -> Result<ProcTables> {
    read_selected(net_dir, &Selection::ALL)
}

/// Like `read_all`, opening only the tables `selection` reads.
pub fn read_selected(net_dir: &Path, selection: &Selection) -> Result<ProcTables> {
    let mut tables = ProcTables::default();
    for (name, proto, family) in [
        ("tcp", Proto::Tcp, Family::Ipv4),
        ("tcp6", Proto::Tcp, Family::Ipv6),
        ("udp", Proto::Udp, Family::Ipv4),
        ("udp6", Proto::Udp, Family::Ipv6),
    ] {
        if !selection.reads(proto, family) {
            continue;
        }
        let path = net_dir.join(name);
        if let Some(mut lines) = open(&path)? {
            let skipped = inet_lines(&mut lines, proto, family, &mut tables.sockets)?;
            tables.warnings.extend(skipped.warning(&path));
        }
    }
    let path = net_dir.join("unix");
    if !selection.reads(Proto::Unix, Family::Unix) {
        return Ok(tables);
    }
    if let Some(mut lines) = open(&path)? {
        let read = unix_lines(&mut lines, &mut tables.sockets)?;
        tables.warnings.extend(read.skipped.warning(&path));
        tables.unconfirmed = read.unconfirmed;
    }
    Ok(tables)
}

fn open(path: &Path) -> Result<Option<Lines<std::io::BufReader<std::fs::File>>>> {
    Lines::open(path, Follow::No, READ_SIZE, MAX_LINE, MAX_TABLE)
}

/// Parses one of tcp, tcp6, udp, udp6 from any reader (the fuzz tests' entry).
pub fn read_inet(
    reader: impl BufRead,
    proto: Proto,
    family: Family,
    out: &mut Vec<Socket>,
) -> Result<Skipped> {
    let mut lines = Lines::new(reader, Path::new("input"), MAX_LINE, MAX_TABLE);
    inet_lines(&mut lines, proto, family, out)
}

fn inet_lines<R: BufRead>(
    lines: &mut Lines<R>,
    proto: Proto,
    family: Family,
    out: &mut Vec<Socket>,
) -> Result<Skipped> {
    let mut skipped = Skipped::default();
    while let Some(line) = lines.next_line()? {
        if line.number == 1 || is_blank(line.text) {
            continue; // the header
        }
        match parse_inet_line(line.text, proto, family).filter(|_| !line.cut) {
            Some(socket) => out.push(socket),
            None => skipped.add(&line),
        }
    }
    Ok(skipped)
}

pub(super) fn is_blank(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_whitespace)
}

/// `sl: local remote st tx:rx tr:when retrnsmt uid timeout inode ...`, as
/// tcp4_seq_show and udp4_seq_show print it; None unless every field is well-formed.
fn parse_inet_line(line: &[u8], proto: Proto, family: Family) -> Option<Socket> {
    let line = std::str::from_utf8(line).ok()?;
    let mut fields = line.split_ascii_whitespace();
    let slot = fields.next()?.strip_suffix(':')?;
    if slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let local = endpoint(fields.next()?, family)?;
    let remote = endpoint(fields.next()?, family)?;
    let st = hex_exact(fields.next()?, 2)? as u8;
    let (tx, rx) = fields.next()?.split_once(':')?;
    let (send_q, recv_q) = (hex_exact(tx, 8)? as u32, hex_exact(rx, 8)? as u32);
    let _timer = fields.next()?.split_once(':')?;
    let _retransmits = hex_exact(fields.next()?, 8)?;
    let uid: u32 = decimal(fields.next()?)?;
    let _timeout: i64 = fields.next()?.parse().ok()?;
    let inode: u64 = decimal(fields.next()?)?;
    let state = match proto {
        Proto::Tcp => TcpState::from_kernel(st)?,
        // UDP uses only TCP_ESTABLISHED (connected) and TCP_CLOSE (not).
        _ => match st {
            1 => TcpState::Established,
            7 => TcpState::Unconn,
            _ => return None,
        },
    };
    Some(Socket {
        recv_q,
        send_q,
        uid,
        inode,
        ..Socket::inet(proto, family, state, local, remote)
    })
}

/// Exactly `width` hex digits.
fn hex_exact(text: &str, width: usize) -> Option<u64> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// Plain decimal digits, no sign.
fn decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `0100007F:1F90`: each 32-bit word of the address as the host prints the integer
/// (so a little-endian host shows 127.0.0.1 as 0100007F), then the port.
fn endpoint(text: &str, family: Family) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = hex_exact(port, 4)? as u16;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some((hex_exact(addr.get(i * 8..i * 8 + 8)?, 8)? as u32).to_ne_bytes())
    };
    let ip = match family {
        Family::Ipv4 if addr.len() == 8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        Family::Ipv6 if addr.len() == 32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn malformed_tcp_line_is_skipped_and_named() {
        let tcp = "header\n   0: 0100007F:1F90 00000000:0000 0A 0000000G:00000002 00:0 0 33 0 7\n";
        let mut out = Vec::new();
        let skipped = read_inet(tcp.as_bytes(), Proto::Tcp, Family::Ipv4, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(skipped.count, 1);
        let warning = skipped.warning(Path::new("/proc/net/tcp")).unwrap();
        assert!(
            warning.starts_with(
                "1 unreadable line in /proc/net/tcp skipped (first: line 2: \"   0: 0100007F"
            ),
            "{warning}"
        );
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
