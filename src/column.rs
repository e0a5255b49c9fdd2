//! The columns of every socket table: the live view's, `list`'s and `list --csv`'s.
//!
//! A column is one arm of `Column` and one entry in `Column::spec`: its header, its
//! CSV name, how wide the live view makes it, its alignment, how it sorts, and how its
//! cell reads. The outputs only choose which columns they show (`TUI`, `LIST`, `CSV`),
//! so a new column is an arm, a spec, and its place in those lists.
//!
//! Cells that hold data from other processes (paths, process and user names) are
//! escaped here (see `crate::text`), so every output gets them escaped.

pub mod fit;

use std::cmp::Ordering;
use std::fmt::Write;

use serde::Serialize;

use crate::model::{Naming, Proto, Socket};
use crate::text::{self, Escaped, owners, units};
use crate::track::Rate;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// The short protocol name ss prints: tcp, udp, u_str.
    Proto,
    /// The JSON `proto`: tcp, udp, unix.
    Protocol,
    Family,
    State,
    /// The local endpoint, or a unix socket's path.
    Local,
    LocalAddr,
    LocalPort,
    Remote,
    RemoteAddr,
    RemotePort,
    Path,
    SocketType,
    RecvQ,
    SendQ,
    Inode,
    Uid,
    /// Bytes per second in, from tcp_info (netlink); busiest first.
    RxRate,
    /// Bytes per second out (acknowledged by the peer); busiest first.
    TxRate,
    /// Every owner with its fd: `list`'s PROCESS.
    Owners,
    /// The first owner and how many more: the live view's PROCESS.
    Process,
    /// Every owner as pid/comm/fd: the CSV's `processes`.
    Processes,
    /// The first owner's fd.
    Fd,
    User,
    /// Who holds the other end of a local connection.
    Peer,
    /// The family's own fields (raw, packet, netlink, vsock, SCTP, other) as their JSON.
    Detail,
    /// The first owner's container, else the network namespace; shown when the
    /// sockets span more than one namespace (see `Column::with_place`).
    Place,
    /// The JSON `netns` as its JSON text, as `detail` is.
    Netns,
    /// The local port's service name (`list --csv -r`).
    LocalService,
    /// The remote port's service name.
    RemoteService,
    /// The remote address's host name, escaped.
    RemoteHost,
}

/// What a cell is read from: the socket, its latest rate where one is known, and
/// the names its endpoints are written with.
pub struct Row<'a> {
    pub socket: &'a Socket,
    pub rate: Option<Rate>,
    pub naming: &'a Naming,
}

impl<'a> Row<'a> {
    /// Numbers only, no rate.
    pub fn new(socket: &'a Socket) -> Row<'a> {
        Row::named(socket, &crate::model::names::NUMERIC)
    }

    pub fn named(socket: &'a Socket, naming: &'a Naming) -> Row<'a> {
        Row {
            socket,
            rate: None,
            naming,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How wide the live view makes a column. `list` fits every column to its widest cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Fixed(u16),
    /// As wide as the widest cell on screen, at least the header and its sort arrow.
    Fit {
        max: u16,
    },
    /// What the other columns leave.
    Fill,
}

/// How rows sort by a column.
#[derive(Clone, Copy)]
pub enum SortKey {
    /// The order `list` prints in: protocol, state, local endpoint.
    Display,
    Socket(fn(&Socket, &Socket) -> Ordering),
    /// A rate, busiest first; sockets without one after every socket with one.
    Rate(fn(&Rate) -> f64),
}

pub struct Spec {
    /// The table header.
    pub header: &'static str,
    /// The CSV header: the JSON field the column shows, where it is one.
    pub csv: &'static str,
    pub width: Width,
    pub align: Align,
    pub sort: Option<SortKey>,
    /// Sorted biggest first (queues and rates); `SortKey::Socket` orders so already.
    pub descending: bool,
    /// Writes the cell's text.
    pub cell: fn(&Row, &mut String),
    /// A narrower form of the cell for a narrow screen (ss's `ESTAB` for `ESTABLISHED`).
    pub short: Option<fn(&Row, &mut String)>,
    /// The narrowest the live view makes it before it drops it (see `fit`).
    pub min: u16,
}

impl Column {
    /// The live view's socket table, in order; `s` cycles through the sortable ones.
    pub const TUI: [Column; 12] = [
        Column::Proto,
        Column::State,
        Column::Local,
        Column::Remote,
        Column::RecvQ,
        Column::SendQ,
        Column::RxRate,
        Column::TxRate,
        Column::Process,
        Column::Fd,
        Column::User,
        Column::Peer,
    ];

    /// How the live view's table narrows, step by step until it fits (see `fit`):
    /// the details shrink, a path longer than every address is cut (from the left),
    /// the state names and PROCESS shorten, the details go, then the addresses shrink (keeping their port), then the
    /// numbers go; PROCESS is kept over all but where and what state.
    /// Room left over goes back in the reverse order.
    pub const NARROWING: [fit::Step; 21] = {
        use fit::Step::{Drop, Shrink, Trim};
        [
            Shrink(Column::Fd),
            Shrink(Column::User),
            Shrink(Column::Peer),
            Trim(Column::Local),
            Trim(Column::Remote),
            Shrink(Column::State),
            Shrink(Column::Process),
            Drop(Column::Fd),
            Drop(Column::User),
            Drop(Column::Peer),
            Drop(Column::TxRate),
            Drop(Column::RxRate),
            Shrink(Column::Local),
            Shrink(Column::Remote),
            Drop(Column::SendQ),
            Drop(Column::RecvQ),
            Drop(Column::Proto),
            Drop(Column::Process),
            Drop(Column::State),
            Drop(Column::Remote),
            Drop(Column::Local),
        ]
    };

    /// `sockscope list`.
    pub const LIST: [Column; 7] = [
        Column::Proto,
        Column::State,
        Column::Local,
        Column::Remote,
        Column::RecvQ,
        Column::SendQ,
        Column::Owners,
    ];

    /// `sockscope list --csv`: the JSON fields a flat row holds.
    pub const CSV: [Column; 16] = [
        Column::Protocol,
        Column::Family,
        Column::State,
        Column::LocalAddr,
        Column::LocalPort,
        Column::RemoteAddr,
        Column::RemotePort,
        Column::Path,
        Column::SocketType,
        Column::RecvQ,
        Column::SendQ,
        Column::Inode,
        Column::Uid,
        Column::Processes,
        Column::Detail,
        Column::Netns,
    ];

    /// What `list --csv -r` adds after `CSV` (and `list --json -r` after its fields).
    pub const CSV_NAMES: [Column; 3] = [
        Column::LocalService,
        Column::RemoteService,
        Column::RemoteHost,
    ];

    /// `columns` with NETNS/CONTAINER before the process column when `sockets` come
    /// from more than one network namespace (`--all-netns`).
    pub fn with_place(columns: &[Column], sockets: &[Socket]) -> Vec<Column> {
        let mut out = columns.to_vec();
        if crate::model::spans_namespaces(sockets) {
            let at = out
                .iter()
                .position(|c| matches!(c, Column::Owners | Column::Process))
                .unwrap_or(out.len());
            out.insert(at, Column::Place);
        }
        out
    }

    pub fn spec(self) -> Spec {
        use Align::{Left, Right};
        let text = |header, csv, width, cell| Spec {
            header,
            csv,
            width,
            align: Left,
            sort: None,
            descending: false,
            cell,
            short: None,
            min: header.len() as u16,
        };
        let number = |header, csv, cell| Spec {
            align: Right,
            ..text(header, csv, Width::Fixed(7), cell)
        };
        let sorted = |spec: Spec, key| Spec {
            sort: Some(SortKey::Socket(key)),
            ..spec
        };
        // Queues sort biggest first: the full queue is the one worth seeing.
        let queue = |header, csv, cell, key| Spec {
            descending: true,
            ..sorted(number(header, csv, cell), key)
        };
        let rate = |header, value: fn(&Rate) -> f64, cell| Spec {
            width: Width::Fixed(10),
            sort: Some(SortKey::Rate(value)),
            descending: true,
            ..number(header, "", cell)
        };
        match self {
            Column::Proto => text("PROTO", "", Width::Fixed(5), |r, out| {
                out.push_str(r.socket.proto_text())
            }),
            Column::Protocol => text("PROTOCOL", "proto", Width::Fixed(8), |r, out| {
                json_name(&r.socket.proto, out)
            }),
            Column::Family => text("FAMILY", "family", Width::Fixed(6), |r, out| {
                json_name(&r.socket.family, out)
            }),
            Column::State => Spec {
                sort: Some(SortKey::Display),
                short: Some(|r, out| out.push_str(r.socket.state.ss_name())),
                ..text("STATE", "state", Width::Fit { max: 11 }, |r, out| {
                    out.push_str(r.socket.state.name())
                })
            },
            Column::Local => sorted(
                Spec {
                    min: ENDPOINT_MIN,
                    ..text("LOCAL", "", Width::Fit { max: 45 }, |r, out| {
                        out.push_str(&text::local_text_with(r.socket, r.naming))
                    })
                },
                |a, b| (a.local, a.path()).cmp(&(b.local, b.path())),
            ),
            Column::LocalAddr => text("LOCAL ADDR", "local_addr", Width::Fill, |r, out| {
                put(out, r.socket.local.map(|a| a.ip()))
            }),
            Column::LocalPort => number("LPORT", "local_port", |r, out| {
                put(out, r.socket.local_port())
            }),
            Column::Remote => sorted(
                Spec {
                    min: ENDPOINT_MIN,
                    ..text("REMOTE", "", Width::Fit { max: 45 }, |r, out| {
                        out.push_str(&text::remote_text_with(r.socket, r.naming))
                    })
                },
                |a, b| a.remote.cmp(&b.remote),
            ),
            Column::RemoteAddr => text("REMOTE ADDR", "remote_addr", Width::Fill, |r, out| {
                put(out, r.socket.remote.map(|a| a.ip()))
            }),
            Column::RemotePort => number("RPORT", "remote_port", |r, out| {
                put(out, r.socket.remote_port())
            }),
            Column::Path => text("PATH", "path", Width::Fill, |r, out| {
                put(out, r.socket.path_bytes().map(Escaped))
            }),
            Column::SocketType => text("TYPE", "socket_type", Width::Fixed(9), |r, out| {
                json_name(&r.socket.socket_type, out)
            }),
            Column::RecvQ => queue(
                "RECV-Q",
                "recv_q",
                |r, out| put(out, Some(r.socket.recv_q)),
                |a, b| b.recv_q.cmp(&a.recv_q),
            ),
            Column::SendQ => queue(
                "SEND-Q",
                "send_q",
                |r, out| put(out, Some(r.socket.send_q)),
                |a, b| b.send_q.cmp(&a.send_q),
            ),
            Column::Inode => number("INODE", "inode", |r, out| put(out, Some(r.socket.inode))),
            Column::Uid => number("UID", "uid", |r, out| put(out, Some(r.socket.uid))),
            Column::RxRate => rate(
                "RX/s",
                |r| r.rx_per_sec,
                |r, out| put(out, r.rate.map(|r| units::rate(r.rx_per_sec))),
            ),
            Column::TxRate => rate(
                "TX/s",
                |r| r.tx_per_sec,
                |r, out| put(out, r.rate.map(|r| units::rate(r.tx_per_sec))),
            ),
            Column::Owners => text("PROCESS", "", Width::Fill, |r, out| {
                let _ = owners::with_fds(&r.socket.processes, out);
            }),
            Column::Process => sorted(
                Spec {
                    min: 12,
                    ..text("PROCESS", "", Width::Fill, |r, out| {
                        let _ = owners::first(&r.socket.processes, "-", out);
                    })
                },
                // Borrowed, not cloned: a sort at 100k sockets makes ~2M comparisons.
                |a, b| {
                    fn first(s: &Socket) -> Option<(&str, u32)> {
                        s.processes.first().map(|o| (&*o.comm, o.pid))
                    }
                    first(a).cmp(&first(b))
                },
            ),
            Column::Processes => text("PROCESSES", "processes", Width::Fill, |r, out| {
                let _ = owners::csv(&r.socket.processes, out);
            }),
            Column::Fd => Spec {
                width: Width::Fixed(4),
                ..number("FD", "", |r, out| {
                    put(out, r.socket.processes.first().map(|o| o.fd))
                })
            },
            Column::User => sorted(text("USER", "", Width::Fixed(8), user_cell), |a, b| {
                fn user(s: &Socket) -> Option<&str> {
                    s.processes.first().map(|o| &*o.user)
                }
                user(a).cmp(&user(b)).then(a.uid.cmp(&b.uid))
            }),
            Column::Peer => text("PEER", "", Width::Fill, peer_cell),
            // JSON escapes any control byte an interface name might hold.
            Column::Detail => text("DETAIL", "detail", Width::Fill, |r, out| {
                if let Some(detail) = &r.socket.detail {
                    out.push_str(&serde_json::to_string(detail).unwrap_or_default());
                }
            }),
            Column::Place => sorted(
                text("NETNS/CONTAINER", "", Width::Fit { max: 24 }, |r, out| {
                    let _ = write!(out, "{}", Escaped::str(&r.socket.place_text()));
                }),
                |a, b| a.place_text().cmp(&b.place_text()),
            ),
            Column::Netns => text("NETNS", "netns", Width::Fill, |r, out| {
                if let Some(netns) = &r.socket.netns {
                    out.push_str(&serde_json::to_string(netns).unwrap_or_default());
                }
            }),
            Column::LocalService => text("LSERVICE", "local_service", Width::Fill, |r, out| {
                put(out, r.socket.local_service(r.naming).map(Escaped::str))
            }),
            Column::RemoteService => text("RSERVICE", "remote_service", Width::Fill, |r, out| {
                put(out, r.socket.remote_service(r.naming).map(Escaped::str))
            }),
            Column::RemoteHost => text("RHOST", "remote_host", Width::Fill, |r, out| {
                put(
                    out,
                    r.socket.remote_host(r.naming).as_deref().map(Escaped::str),
                )
            }),
        }
    }

    /// The cell's text.
    pub fn text(self, row: &Row) -> String {
        let mut out = String::new();
        (self.spec().cell)(row, &mut out);
        out
    }

    /// The cell's narrow text, where the column has one.
    pub fn short_text(self, row: &Row) -> Option<String> {
        let short = self.spec().short?;
        let mut out = String::new();
        short(row, &mut out);
        Some(out)
    }

    /// Whether it shows a rate, which only a source with tcp_info gives.
    pub fn is_rate(self) -> bool {
        matches!(self.spec().sort, Some(SortKey::Rate(_)))
    }
}

/// The least an address column shrinks to: `…:65535` and a little of the address.
const ENDPOINT_MIN: u16 = 12;

/// Writes `value`, or nothing for None.
fn put(out: &mut String, value: Option<impl std::fmt::Display>) {
    if let Some(value) = value {
        let _ = write!(out, "{value}");
    }
}

/// The owner's user name; with no owner visible, the socket's uid where the kernel
/// gives a real one (not for unix sockets, nor for sockets without a file).
fn user_cell(r: &Row, out: &mut String) {
    let s = r.socket;
    match s.processes.first() {
        Some(owner) => {
            let _ = write!(out, "{}", Escaped::str(&owner.user));
        }
        None if s.inode == 0 || s.proto == Proto::Unix => out.push('-'),
        None => {
            let _ = write!(out, "{}", s.uid);
        }
    }
}

/// "20 nginx" (the peer's first owner, "+N" for more), else the peer's inode, else
/// nothing.
fn peer_cell(r: &Row, out: &mut String) {
    let s = r.socket;
    let _ = match &s.peer {
        None => match s.peer_inode() {
            Some(inode) if s.proto == Proto::Unix => write!(out, "inode {inode}"),
            _ => Ok(()),
        },
        Some(peer) if peer.processes.is_empty() && peer.inode == 0 => out.write_str("kernel"),
        Some(peer) if peer.processes.is_empty() => write!(out, "inode {}", peer.inode),
        Some(peer) => owners::first(&peer.processes, "", out),
    };
}

/// A unit variant's name in the JSON output (`"ipv4"` without its quotes), so the CSV
/// and JSON spell every value the same way.
fn json_name(value: &impl Serialize, out: &mut String) {
    if let Ok(serde_json::Value::String(name)) = serde_json::to_value(value) {
        out.push_str(&name);
    }
}

#[cfg(test)]
mod tests;
