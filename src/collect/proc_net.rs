//! Socket tables from /proc/<...>/net/{tcp,tcp6,udp,udp6,unix}.
//!
//! Each line is checked against the exact format the kernel prints. A line that does
//! not match is skipped and counted (the snapshot says so), never fatal and never
//! turned into a socket: a captured tree may be damaged, and /proc/net/unix prints
//! socket names raw, so anyone can put a newline and a whole fake line into it.
//! Such a line can only follow a line that ends in a name, so a line that could be
//! the rest of a name is marked unconfirmed: it stays only if the fd walk finds a
//! process holding its inode (see `ProcTables::unconfirmed`). Netlink, which gives
//! names as exact bytes, is preferred wherever it works (see collect.rs).

use std::collections::HashSet;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use anyhow::Result;

use super::read::{Follow, Line, Lines, shown};
use crate::model::{Family, Proto, Socket, SocketType, TcpState};

/// Longer lines are no kernel table's (a unix line is at most ~170 bytes).
const MAX_LINE: usize = 4096;
/// More than a million sockets' worth; past it a "table" is something else.
const MAX_TABLE: u64 = 1 << 30;
/// Read size: the kernel fills what it is asked for, and fewer reads are fewer walks
/// of its socket hash table.
const READ_SIZE: usize = 256 * 1024;
/// The longest name /proc/net/unix prints: 108 bytes of sun_path (an abstract name
/// prints as '@' and 107 bytes).
const MAX_NAME: usize = 108;

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
    let mut tables = ProcTables::default();
    for (name, proto, family) in [
        ("tcp", Proto::Tcp, Family::Ipv4),
        ("tcp6", Proto::Tcp, Family::Ipv6),
        ("udp", Proto::Udp, Family::Ipv4),
        ("udp6", Proto::Udp, Family::Ipv6),
    ] {
        let path = net_dir.join(name);
        if let Some(mut lines) = open(&path)? {
            let skipped = inet_lines(&mut lines, proto, family, &mut tables.sockets)?;
            tables.warnings.extend(skipped.warning(&path));
        }
    }
    let path = net_dir.join("unix");
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

fn is_blank(text: &[u8]) -> bool {
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

/// What reading /proc/net/unix found besides its sockets.
#[derive(Debug, Default)]
pub struct UnixRead {
    pub skipped: Skipped,
    /// See `ProcTables::unconfirmed`.
    pub unconfirmed: HashSet<u64>,
}

/// Parses /proc/net/unix from any reader (the fuzz tests' entry).
pub fn read_unix(reader: impl BufRead, out: &mut Vec<Socket>) -> Result<UnixRead> {
    let mut lines = Lines::new(reader, Path::new("input"), MAX_LINE, MAX_TABLE);
    unix_lines(&mut lines, out)
}

/// A parsed unix line.
enum UnixLine {
    Socket(Socket),
    /// A socket the kernel is still creating (type 0): not yet anything to show.
    Partial,
}

fn unix_lines<R: BufRead>(lines: &mut Lines<R>, out: &mut Vec<Socket>) -> Result<UnixRead> {
    let mut read = UnixRead::default();
    // The printed length of a name that may still go on at the next line.
    let mut open_name: Option<usize> = None;
    while let Some(line) = lines.next_line()? {
        if line.number == 1 {
            continue; // the header
        }
        let len = line.text.len();
        let continues = |name: usize| name + 1 + len;
        let could_continue = !line.cut && open_name.is_some_and(|n| continues(n) <= MAX_NAME);
        let parsed = if line.cut {
            None
        } else {
            parse_unix_line(line.text)
        };
        let own_name = match &parsed {
            Some(UnixLine::Socket(s)) => s.path.as_ref().map(|p| printed_len(s, p)),
            _ => None,
        };
        // Conservative: the shortest name that may be open makes the most later lines
        // suspect.
        let continued = open_name
            .map(continues)
            .filter(|&n| could_continue && n <= MAX_NAME);
        open_name = match (continued, own_name) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match parsed {
            Some(UnixLine::Socket(socket)) => {
                if could_continue {
                    read.unconfirmed.insert(socket.inode);
                }
                out.push(socket);
            }
            Some(UnixLine::Partial) => {}
            None if is_blank(line.text) && !could_continue => {}
            None => read.skipped.add(&line),
        }
    }
    Ok(read)
}

/// How many bytes the kernel printed for the name.
fn printed_len(socket: &Socket, path: &str) -> usize {
    socket.path_bytes().map_or(path.len(), <[u8]>::len)
}

/// `__SO_ACCEPTCON`: the kernel's mark for a listening unix socket in the Flags column.
const SO_ACCEPTCON: u32 = 0x10000;

/// One line as unix_seq_show prints it:
/// `"%pK: %08X %08X %08X %04X %02X %5lu"`, then ` name` when bound. None unless exact.
fn parse_unix_line(line: &[u8]) -> Option<UnixLine> {
    let mut at = Cursor(line);
    // %pK: 16 hex digits on 64-bit kernels (zeros when pointers are hidden), 8 on 32.
    let colon = line.iter().position(|&b| b == b':')?;
    if colon != 8 && colon != 16 {
        return None;
    }
    hex_bytes(at.take(colon)?)?;
    at.expect(b':')?;
    let _refcount = at.column(8)?;
    let protocol = at.column(8)?;
    let flags = at.column(8)?;
    let socket_type = at.column(4)?;
    let st = at.column(2)?;
    if protocol != 0 || (flags != 0 && flags != SO_ACCEPTCON) {
        return None;
    }
    // " %5lu": right-aligned in five columns, more digits when larger.
    at.expect(b' ')?;
    let pad = at.count(|b| b == b' ');
    at.take(pad)?;
    let digits = at.count(|b| b.is_ascii_digit());
    if digits == 0 || (digits < 5 && pad + digits != 5) || (digits >= 5 && pad != 0) {
        return None;
    }
    let inode: u64 = std::str::from_utf8(at.take(digits)?).ok()?.parse().ok()?;
    let name = match at.0 {
        [] => None,
        [b' ', name @ ..] if !name.is_empty() => Some(name),
        _ => return None,
    };
    let socket_type = match socket_type {
        0 => return Some(UnixLine::Partial),
        1 => SocketType::Stream,
        2 => SocketType::Dgram,
        5 => SocketType::Seqpacket,
        _ => return None,
    };
    // St is SS_CONNECTED (3) for a connected socket and SS_CONNECTING (2) for one the
    // kernel set up but nobody accepted yet; both are established connections.
    let state = if flags == SO_ACCEPTCON {
        TcpState::Listen
    } else {
        match st {
            1 => TcpState::Unconn,
            2 | 3 => TcpState::Established,
            4 => TcpState::Close,
            _ => return None,
        }
    };
    let mut socket = Socket::unix(socket_type, state, None, inode);
    if let Some(name) = name {
        socket.set_path(name);
    }
    Some(UnixLine::Socket(socket))
}

/// What is left of a line being parsed.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.take(1)? == [byte]).then_some(())
    }

    /// A space, then exactly `width` hex digits.
    fn column(&mut self, width: usize) -> Option<u32> {
        self.expect(b' ')?;
        hex_bytes(self.take(width)?)
    }

    fn count(&self, f: impl Fn(u8) -> bool) -> usize {
        self.0.iter().take_while(|&&b| f(b)).count()
    }
}

fn hex_bytes(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/my app.sock
0000000000000000: 00000002 00000000 00010000 0005 01 23457 @abstract-name
0000000000000000: 00000003 00000000 00000000 0001 03 23458
0000000000000000: 00000002 00000000 00000000 0002 01 123459 /dev/log
0000000000000000: 00000002 00000000 00000000 0001 02     0
0000000000000000: 00000002 00000000 00000000 0000 02   571
";

    #[test]
    fn unix_table() {
        let mut out = Vec::new();
        let read = read_unix(UNIX.as_bytes(), &mut out).unwrap();
        assert_eq!(read.skipped, Skipped::default());
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
                (
                    TcpState::Unconn,
                    SocketType::Dgram,
                    123459,
                    Some("/dev/log")
                ),
                (TcpState::Established, SocketType::Stream, 0, None),
            ]
        );
        // "/run/my app.sock" (16 bytes), a newline and the whole next line fit in one
        // name (108 bytes), so that line needs an owner to be believed; so does the
        // one after it. /dev/log's line is too long to be part of a name.
        assert_eq!(read.unconfirmed, HashSet::from([23457, 23458, 0]));
    }

    #[test]
    fn malformed_unix_lines_are_skipped_and_counted() {
        let bad = "x\n0000: 1 2\n0: 1 0 zz 1 1 5\n\
                   0000000000000000: 00000002 00000000 00000000 0009 01 12345\n\
                   0000000000000000: 00000002 00000000 00000000 0001 01 -1234\n\
                   0000000000000000: 00000002 00000000 00000000 0001 01 1234\n";
        let mut out = Vec::new();
        let read = read_unix(bad.as_bytes(), &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(read.skipped.count, 5);
        assert_eq!(read.skipped.first.as_deref(), Some("line 2: \"0000: 1 2\""));
    }

    #[test]
    fn a_forged_line_inside_a_name_needs_an_owner() {
        // What the kernel prints for a socket bound to
        // "\0x\n0000000000000000: ... 01 99999 /run/FAKE-docker.sock".
        let table = "header\n\
            0000000000000000: 00000002 00000000 00000000 0001 01 54321 @x\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 99999 /run/FAKE-docker.sock\n\
            0000000000000000: 00000002 00000000 00000000 0001 01 54322 /tmp/x\n\
            sock\n";
        let mut out = Vec::new();
        let read = read_unix(table.as_bytes(), &mut out).unwrap();
        assert_eq!(read.skipped.count, 1, "the bare 'sock' continuation");
        assert!(read.unconfirmed.contains(&99999));
        assert!(ProcTables::confirm(&mut out, &read.unconfirmed).is_some());
        let paths: Vec<_> = out.iter().map(|s| s.path.as_deref()).collect();
        // /tmp/x's line could be that name going on, too: without an owner it goes.
        assert!(read.unconfirmed.contains(&54322));
        assert_eq!(paths, [Some("@x")]);
    }

    #[test]
    fn invalid_utf8_names_keep_their_bytes() {
        let table = b"h\n0000000000000000: 00000002 00000000 00000000 0001 01 77777 /tmp/\xff\n";
        let mut out = Vec::new();
        read_unix(&table[..], &mut out).unwrap();
        assert_eq!(out[0].path.as_deref(), Some("/tmp/\u{fffd}"));
        assert_eq!(out[0].path_bytes(), Some(&b"/tmp/\xff"[..]));
    }

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
