//! Everything a command prints to stdout goes through `write`, in one of the `Format`s
//! its data offers (`Printable::FORMATS`); the command line offers the same list (see
//! `cli::FormatArg`). Sockets print as a table or CSV driven by `Column`, or JSON in the
//! README's "JSON schema"; findings as doctor's text or JSON.

mod csv;
mod findings;
mod json;

use std::io::{self, Write};

use crate::column::{Align, Column, Row};
use crate::model::{Naming, Socket, TcpState};

/// How a command prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// For people: an aligned table, or text.
    #[default]
    Table,
    Json,
    Csv,
}

impl Format {
    /// Its name on the command line: `--format NAME`, and `--NAME` where `flag` says so.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// Whether `--NAME` alone asks for it (the default needs no flag).
    pub fn flag(self) -> bool {
        self != Format::Table
    }
}

/// What a command prints: the formats it offers, with their help, and how it writes
/// each. `Context` is what the text needs beside the items.
pub trait Printable: Sized {
    const FORMATS: &'static [(Format, &'static str)];
    type Context;
    fn print(
        out: &mut dyn Write,
        format: Format,
        items: &[Self],
        context: &Self::Context,
    ) -> io::Result<()>;
}

/// Writes `items` in `format`, which must be one of `T::FORMATS` (the command line
/// offers only those).
pub fn write<T: Printable>(
    out: &mut impl Write,
    format: Format,
    items: &[T],
    context: &T::Context,
) -> io::Result<()> {
    if !T::FORMATS.iter().any(|(f, _)| *f == format) {
        return Err(io::Error::other(format!("cannot print {}", format.name())));
    }
    T::print(out, format, items, context)
}

impl Printable for Socket {
    const FORMATS: &'static [(Format, &'static str)] = &[
        (Format::Table, "An aligned table (the default)"),
        (Format::Json, "One JSON array, one element per socket"),
        (Format::Csv, "CSV with a header row"),
    ];
    type Context = Listing;

    fn print(
        mut out: &mut dyn Write,
        format: Format,
        sockets: &[Socket],
        listing: &Listing,
    ) -> io::Result<()> {
        let naming = &listing.naming;
        let fields = listing.name_fields.then_some(naming);
        match format {
            Format::Table => table_in(&mut out, sockets, listing.colour, naming),
            Format::Json => json_with(&mut out, sockets, fields),
            Format::Csv => csv::write(&mut out, sockets, fields),
        }
    }
}

/// How `list` prints its sockets beside the format.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The table colours its states.
    pub colour: bool,
    /// The names the table's endpoints are written with (`-n`, `-r`).
    pub naming: Naming,
    /// JSON and CSV add local_service, remote_service and remote_host (`-r`); they
    /// keep the numbers either way.
    pub name_fields: bool,
}

/// `Column::LIST` aligned; the last column is not padded. Two passes, formatting each
/// row twice, rather than holding every row's strings until the widths are known
/// (30 MB at 100k sockets).
pub fn table(out: &mut impl Write, sockets: &[Socket]) -> io::Result<()> {
    table_in(out, sockets, false, &Naming::NUMERIC)
}

/// `table`, its STATE cells coloured when `colour`: the colours the live view gives
/// them (green established, red CLOSE_WAIT, yellow in between, dim TIME_WAIT); its
/// endpoints written with `naming`.
pub fn table_in(
    out: &mut impl Write,
    sockets: &[Socket],
    colour: bool,
    naming: &Naming,
) -> io::Result<()> {
    let columns = Column::with_place(&Column::LIST, sockets);
    let specs: Vec<_> = columns.iter().map(|c| c.spec()).collect();
    let mut widths: Vec<usize> = specs.iter().map(|s| s.header.chars().count()).collect();
    let mut cell = String::new();
    for s in sockets {
        for (w, spec) in widths.iter_mut().zip(&specs) {
            cell.clear();
            (spec.cell)(&Row::named(s, naming), &mut cell);
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = String::new();
    let mut write_row =
        |state: Option<TcpState>, cells: &mut dyn FnMut(usize, &mut String)| -> io::Result<()> {
            line.clear();
            for (i, (spec, width)) in specs.iter().zip(widths.iter().copied()).enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                cell.clear();
                cells(i, &mut cell);
                let pad = width.saturating_sub(cell.chars().count());
                let last = i == specs.len() - 1;
                let sgr = state
                    .filter(|_| colour && columns[i] == Column::State)
                    .and_then(sgr);
                if let Some(code) = sgr {
                    line.push_str(code);
                }
                match spec.align {
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(&cell);
                    }
                    Align::Left if last => line.push_str(&cell),
                    Align::Left => {
                        line.push_str(&cell);
                        if sgr.is_some() {
                            line.push_str("\x1b[0m");
                        }
                        line.extend(std::iter::repeat_n(' ', pad));
                        continue;
                    }
                }
                if sgr.is_some() {
                    line.push_str("\x1b[0m");
                }
            }
            line.push('\n');
            out.write_all(line.as_bytes())
        };
    write_row(None, &mut |i, cell| cell.push_str(specs[i].header))?;
    for s in sockets {
        write_row(Some(s.state), &mut |i, cell| {
            (specs[i].cell)(&Row::named(s, naming), cell)
        })?;
    }
    Ok(())
}

/// The SGR code that colours `state` in the list table, as the live view does.
fn sgr(state: TcpState) -> Option<&'static str> {
    Some(match state {
        TcpState::Listen => "\x1b[36m",
        TcpState::Established => "\x1b[32m",
        TcpState::CloseWait => "\x1b[1;31m",
        TcpState::TimeWait => "\x1b[2m",
        TcpState::Close | TcpState::Unconn => return None,
        _ => "\x1b[33m",
    })
}

/// Sockets per serialized piece: ~450 KB of JSON, so the pieces in flight stay small.
const JSON_CHUNK: usize = 512;

/// One JSON array, one socket per element, in the README's schema: the same bytes
/// `serde_json::to_writer` gives.
///
/// Serializing is most of `list`'s own CPU time (15 MB of JSON at 20k sockets), so two
/// threads take alternate chunks and this one writes them in order. Each thread has at
/// most one chunk waiting, so memory does not grow with the socket count.
pub fn json(out: &mut impl Write, sockets: &[Socket]) -> io::Result<()> {
    json_with(out, sockets, None)
}

/// `json`, each socket with the name fields of `naming` after its own where given
/// (`list --json -r`).
pub fn json_with(
    out: &mut impl Write,
    sockets: &[Socket],
    names: Option<&Naming>,
) -> io::Result<()> {
    let chunks: Vec<&[Socket]> = sockets.chunks(JSON_CHUNK).collect();
    const THREADS: usize = 2;
    std::thread::scope(|scope| {
        let receivers: Vec<_> = (0..THREADS)
            .map(|first| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let mine = chunks.iter().skip(first).step_by(THREADS);
                scope.spawn(move || {
                    for chunk in mine {
                        if tx.send(json_elements(chunk, names)).is_err() {
                            return; // the writer stopped (a closed pipe)
                        }
                    }
                });
                rx
            })
            .collect();
        out.write_all(b"[")?;
        for i in 0..chunks.len() {
            let piece = receivers[i % THREADS]
                .recv()
                .map_err(|_| io::Error::other("a JSON thread stopped"))??;
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(&piece)?;
        }
        out.write_all(b"]\n")
    })
}

/// The elements of `sockets`, comma-separated, without the array's brackets.
fn json_elements(sockets: &[Socket], names: Option<&Naming>) -> io::Result<Vec<u8>> {
    // A TCP socket with tcp_info takes ~880 bytes: room for that, so a piece is not
    // copied to a doubled buffer halfway.
    let mut piece = Vec::with_capacity(sockets.len() * 1024);
    for (k, group) in sockets.chunks(WARM_GROUP).enumerate() {
        warm(group);
        for (i, socket) in group.iter().enumerate() {
            if k > 0 || i > 0 {
                piece.push(b',');
            }
            json::socket(&mut piece, socket, names);
        }
    }
    Ok(piece)
}

/// How many sockets `warm` touches ahead of writing them: what they point to then
/// fits in the L1 cache (~500 bytes a socket).
const WARM_GROUP: usize = 64;

/// Loads what `sockets` point to (tcp_info, the owner lists, the peer's) in one tight
/// loop, so the cache misses overlap, before the JSON is written from them. The boxes
/// lie in the order the dump and the walk made them, not in display order: written
/// one socket at a time, each miss waited alone, and at 200k sockets they were over
/// half the time of the JSON.
fn warm(sockets: &[Socket]) {
    let mut sum = 0u64;
    for s in sockets {
        // Fields spread over the whole struct (~100 bytes, two or three cache lines,
        // wherever the compiler lays them out).
        if let Some(t) = s.tcp_info.as_deref() {
            let ends = u64::from(t.rtt_us) ^ u64::from(t.retransmits) ^ t.bytes_sent;
            let middle = t.pacing_rate.bytes_per_second().unwrap_or(0) ^ t.delivery_rate;
            let middle = middle ^ t.sndbuf_limited_us;
            sum = sum.wrapping_add(ends ^ middle ^ u64::from(t.last_data_recv_ms));
        }
        let peer = s.peer.as_ref().map(|p| &p.processes);
        for o in [Some(&s.processes), peer]
            .into_iter()
            .flatten()
            .flat_map(|o| o.first())
        {
            let comm = o.process.comm.as_bytes().first().copied().unwrap_or(0);
            sum = sum.wrapping_add(u64::from(o.pid) ^ u64::from(o.process.uid) ^ u64::from(comm));
        }
    }
    std::hint::black_box(sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_pieces_is_what_serde_json_writes() {
        use crate::model::TcpState;
        use crate::test_sockets::{Build, tcp};
        let socket = |i: usize| {
            let remote = format!("127.0.0.1:{}", i % 60_000);
            tcp("127.0.0.1:80", &remote, TcpState::Established).inode(i as u64)
        };
        for n in [0, 1, JSON_CHUNK, JSON_CHUNK + 1, 3 * JSON_CHUNK + 7] {
            let sockets: Vec<Socket> = (0..n).map(socket).collect();
            let mut ours = Vec::new();
            json(&mut ours, &sockets).unwrap();
            let theirs = serde_json::to_string(&sockets).unwrap() + "\n";
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{n} sockets");
        }
    }

    #[test]
    fn the_table_keeps_hostile_names_on_one_line() {
        use crate::model::TcpState;
        use crate::test_sockets::{Build, owner, unix};
        let socket = unix(Some("/tmp/x\ny"), TcpState::Listen)
            .inode(3)
            .owned_by(vec![owner(7, 4, "\x1b[2Jevil")]);
        let mut out = Vec::new();
        table(&mut out, &[socket]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "PROTO STATE  LOCAL     REMOTE RECV-Q SEND-Q PROCESS\n\
             u_str LISTEN /tmp/x\\ny *           0      0 7/\\x1b[2Jevil fd 4\n"
        );
    }
}
