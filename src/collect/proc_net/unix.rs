//! /proc/net/unix: its lines, and which of them could be the rest of a name.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use anyhow::Result;

use super::{MAX_LINE, MAX_TABLE, Skipped, is_blank};
use crate::collect::read::Lines;
use crate::model::{Socket, SocketType, TcpState};

/// The longest name /proc/net/unix prints: 108 bytes of sun_path (an abstract name
/// prints as '@' and 107 bytes).
const MAX_NAME: usize = 108;

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

/// A parsed unix line. (Only ever returned and matched at once, never stored: the
/// size of the Socket variant costs nothing.)
#[allow(clippy::large_enum_variant)]
enum UnixLine {
    Socket(Socket),
    /// A socket the kernel is still creating (type 0): not yet anything to show.
    Partial,
}

pub(super) fn unix_lines<R: BufRead>(
    lines: &mut Lines<R>,
    out: &mut Vec<Socket>,
) -> Result<UnixRead> {
    let mut read = UnixRead::default();
    // The printed length of a name that may still go on at the next line.
    let mut open_name: Option<usize> = None;
    while let Some(line) = lines.next_line()? {
        if line.number == 1 {
            continue; // the header
        }
        // Were a name open, this whole line could be the rest of it (after a newline).
        let len = line.text.len();
        let continued = open_name
            .map(|name| name + 1 + len)
            .filter(|&n| !line.cut && n <= MAX_NAME);
        let could_continue = continued.is_some();
        let parsed = if line.cut {
            None
        } else {
            parse_unix_line(line.text)
        };
        let own_name = match &parsed {
            Some(UnixLine::Socket(s)) => s.path().map(|p| printed_len(s, p)),
            _ => None,
        };
        // Conservative: the shortest name that may be open makes the most later lines
        // suspect.
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
    // (Any value: real addresses with no_hash_pointers are wider than the columns.)
    if !at.take(colon)?.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
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
    use crate::collect::proc_net::ProcTables;
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
            .map(|s| (s.state, s.socket_type, s.inode, s.path()))
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
    fn unhashed_kernel_addresses_are_fine() {
        let table = "h\nffff8d4a86a3c000: 00000002 00000000 00010000 0001 01 12345 /run/a\n";
        let mut out = Vec::new();
        let read = read_unix(table.as_bytes(), &mut out).unwrap();
        assert_eq!((out.len(), read.skipped.count), (1, 0));
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
        let paths: Vec<_> = out.iter().map(|s| s.path()).collect();
        // /tmp/x's line could be that name going on, too: without an owner it goes.
        assert!(read.unconfirmed.contains(&54322));
        assert_eq!(paths, [Some("@x")]);
    }

    #[test]
    fn invalid_utf8_names_keep_their_bytes() {
        let table = b"h\n0000000000000000: 00000002 00000000 00000000 0001 01 77777 /tmp/\xff\n";
        let mut out = Vec::new();
        read_unix(&table[..], &mut out).unwrap();
        assert_eq!(out[0].path(), Some("/tmp/\u{fffd}"));
        assert_eq!(out[0].path_bytes(), Some(&b"/tmp/\xff"[..]));
    }
}
