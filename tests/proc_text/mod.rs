//! Generated /proc/net text for the fuzz tests: valid tables whose rows are known (so a
//! parse can be checked field by field), and byte-level mutations of any text.
#![allow(dead_code)] // each fuzz test file uses its own part

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use proptest::sample::select;

pub const INET_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
pub const UNIX_HEADER: &str = "Num       RefCount Protocol Flags    Type St Inode Path";

/// One row of tcp, tcp6, udp or udp6.
#[derive(Clone, Debug)]
pub struct InetRow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The kernel's state number (TCP 1..=11; UDP 1 connected or 7 not).
    pub state: u8,
    pub tx_queue: u32,
    pub rx_queue: u32,
    pub uid: u32,
    pub inode: u64,
}

fn ip(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed()
    } else {
        any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed()
    }
}

pub fn inet_row(tcp: bool, v6: bool) -> impl Strategy<Value = InetRow> {
    let state = if tcp {
        (1u8..=11).boxed()
    } else {
        select(vec![1u8, 7]).boxed()
    };
    (
        (ip(v6), any::<u16>()),
        (ip(v6), any::<u16>()),
        state,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(l, r, state, tx_queue, rx_queue, uid, inode)| InetRow {
            local: SocketAddr::new(l.0, l.1),
            remote: SocketAddr::new(r.0, r.1),
            state,
            tx_queue,
            rx_queue,
            uid,
            inode,
        })
}

/// An address as the kernel prints it: each 32-bit word of the network-order address
/// read as a host (little-endian here) integer, in hex.
fn hex_addr(addr: SocketAddr) -> String {
    let octets = match addr.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let mut text = String::new();
    for word in octets.chunks(4) {
        let word = u32::from_le_bytes(word.try_into().unwrap());
        write!(text, "{word:08X}").unwrap();
    }
    write!(text, ":{:04X}", addr.port()).unwrap();
    text
}

/// A whole table, header first, one line per row, as /proc/net/tcp prints it.
pub fn inet_text(rows: &[InetRow]) -> String {
    let mut text = format!("{INET_HEADER}\n");
    for (sl, r) in rows.iter().enumerate() {
        writeln!(
            text,
            "{sl:4}: {} {} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} 0 {} 1 0000000000000000 100 0 0 10 0",
            hex_addr(r.local),
            hex_addr(r.remote),
            r.state,
            r.tx_queue,
            r.rx_queue,
            r.uid,
            r.inode
        )
        .unwrap();
    }
    text
}

/// One row of /proc/net/unix.
#[derive(Clone, Debug)]
pub struct UnixRow {
    pub listening: bool,
    /// 1 stream, 2 dgram, 5 seqpacket.
    pub socket_type: u16,
    /// 1 unconnected, 2 connecting, 3 connected, 4 disconnecting.
    pub st: u8,
    pub inode: u64,
    /// A path (spaces inside, none at the end), "@abstract", or unbound.
    pub path: Option<String>,
}

pub fn unix_row() -> impl Strategy<Value = UnixRow> {
    (
        any::<bool>(),
        select(vec![1u16, 2, 5]),
        1u8..=4,
        any::<u64>(),
        proptest::option::of("(/[a-z0-9 ._-]{0,20}[a-z0-9]|@[a-z0-9@ ]{0,10}[a-z])"),
    )
        .prop_map(|(listening, socket_type, st, inode, path)| UnixRow {
            listening,
            socket_type,
            st,
            inode,
            path,
        })
}

pub fn unix_text(rows: &[UnixRow]) -> String {
    let mut text = format!("{UNIX_HEADER}\n");
    for r in rows {
        let flags = if r.listening { 0x10000 } else { 0 };
        write!(
            text,
            "0000000000000000: 00000002 00000000 {flags:08X} {:04X} {:02X} {:5}",
            r.socket_type, r.st, r.inode
        )
        .unwrap();
        if let Some(path) = &r.path {
            write!(text, " {path}").unwrap();
        }
        text.push('\n');
    }
    text
}

/// Bytes that break parsers: separators, non-hex, invalid UTF-8, a multi-byte char's
/// first byte.
const NOISE: &[u8] = b" :\n\t0F9Gz-+[]@/\xff\xc3";

/// Edits to apply to some text: (where, what, which byte).
pub type Edits = Vec<(usize, u8, u8)>;

pub fn edits() -> impl Strategy<Value = Edits> {
    prop::collection::vec((any::<usize>(), 0u8..4, select(NOISE.to_vec())), 1..8)
}

/// Edits with any byte at all, for binary input.
pub fn byte_edits() -> impl Strategy<Value = Edits> {
    prop::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 1..8)
}

/// `input` with each edit applied in turn: delete, insert, replace a byte, or cut there.
pub fn mutate(input: &[u8], edits: &Edits) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for &(at, op, byte) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = at % bytes.len();
        match op {
            0 => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, byte),
            2 => bytes[at] = byte,
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// Text made of the pieces /proc/net lines are made of, in any order: gets further
/// into a parser than uniformly random bytes.
pub fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        " ",
        "  ",
        "\n",
        ":",
        "0",
        "1",
        "0A",
        "07",
        "FF",
        "0100007F:1F90",
        "00000000:0000",
        "00000000000000000000000001000000:14E9",
        "0000000000000000:",
        "00010000",
        "0001",
        "0005",
        "01",
        "03",
        "12345",
        "-1",
        "18446744073709551616",
        "socket:[1]",
        "@",
        "/a b",
        "\t",
        "zz",
        "é",
        // What hostile unix names put in /proc/net/unix: escapes, C1, bad UTF-8,
        // and the start of a forged line after a newline.
        "\x1b]0;x\x07",
        "\x1b[2J",
        "\u{9b}",
        "\n0000000000000000: 00000002 00000000 00010000 0001 01 99999 /run/FAKE",
        "/tmp/x\nsock",
    ];
    prop::collection::vec(select(tokens), 0..80).prop_map(|t| t.concat())
}

/// The inode of the socket with a hostile name, and the one its forged line claims.
pub const HOSTILE_INODE: u64 = 424242;
pub const FORGED_INODE: u64 = 999999;

/// Names a local user may bind (abstract ones start with '@' as /proc prints them):
/// newlines, whole forged lines, terminal escapes, invalid UTF-8.
pub fn hostile_name() -> impl Strategy<Value = Vec<u8>> {
    let forged = format!(
        "0000000000000000: 00000002 00000000 00010000 0001 01 {FORGED_INODE} /run/FAKE-docker.sock"
    );
    select(vec![
        format!("@x\n{forged}").into_bytes(),
        format!("/tmp/x\n{forged}\n{forged}").into_bytes(),
        format!("@\n{forged}\n").into_bytes(),
        b"/tmp/x\nsock".to_vec(),
        b"/tmp/x\n".to_vec(),
        b"@\n\n\n".to_vec(),
        b"@\x1b]0;owned\x07\x1b[2J".to_vec(),
        b"/tmp/\xff\xfe\x9b2J".to_vec(),
        b"@0: 0 0 10000 1 01 1 /run/FAKE".to_vec(),
        format!(
            "@{}",
            "\n0000000000000000: 00000002 00000000 00000000 0001 01 999999"
        )
        .into_bytes(),
    ])
}

/// The line the kernel prints for a bound socket named `name`.
pub fn hostile_line(name: &[u8]) -> Vec<u8> {
    let mut line = format!("0000000000000000: 00000002 00000000 00000000 0001 01 {HOSTILE_INODE} ")
        .into_bytes();
    line.extend_from_slice(name);
    line.push(b'\n');
    line
}
