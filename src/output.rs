//! Writers for `sockscope list`: an aligned table, a JSON array, CSV.

use std::io::{self, Write};

use crate::model::{Owner, Socket};
use crate::text::{Escaped, escape};

const HEADERS: [&str; 7] = [
    "PROTO", "STATE", "LOCAL", "REMOTE", "RECV-Q", "SEND-Q", "PROCESS",
];

/// `1234/nginx fd 3`, several owners comma-separated; sockets nobody holds are marked.
/// Names are escaped (anyone can name a process `\x1b[2J`).
pub fn owners_text(owners: &[Owner]) -> String {
    if owners.is_empty() {
        return "-".into();
    }
    let texts: Vec<String> = owners
        .iter()
        .map(|o| format!("{}/{} fd {}", o.pid, Escaped::str(&o.comm), o.fd))
        .collect();
    texts.join(", ")
}

/// The local endpoint for text output: a unix name escaped from its exact bytes.
pub fn local_cell(s: &Socket) -> String {
    match (s.local, s.path_bytes()) {
        (None, Some(name)) => Escaped(name).to_string(),
        _ => s.local_text(),
    }
}

/// The aligned columns of a row; the process column comes last and is not padded.
fn padded_cells(s: &Socket) -> [String; 6] {
    [
        s.proto_text().to_string(),
        s.state.name().to_string(),
        local_cell(s),
        s.remote_text(),
        s.recv_q.to_string(),
        s.send_q.to_string(),
    ]
}

/// Two passes, formatting each row twice, rather than holding every row's strings
/// until the widths are known (30 MB at 100k sockets).
pub fn table(out: &mut impl Write, sockets: &[Socket]) -> io::Result<()> {
    let mut widths = [0; 6];
    for (w, header) in widths.iter_mut().zip(HEADERS) {
        *w = header.len();
    }
    for s in sockets {
        for (w, cell) in widths.iter_mut().zip(padded_cells(s)) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let [w0, w1, w2, w3, w4, w5] = widths;
    let mut write_row = |cells: [&str; 6], process: &str| -> io::Result<()> {
        let [proto, state, local, remote, recv_q, send_q] = cells;
        writeln!(
            out,
            "{proto:<w0$} {state:<w1$} {local:<w2$} {remote:<w3$} {recv_q:>w4$} {send_q:>w5$} {process}"
        )
    };
    let [h0, h1, h2, h3, h4, h5, h6] = HEADERS;
    write_row([h0, h1, h2, h3, h4, h5], h6)?;
    for s in sockets {
        let cells = padded_cells(s);
        write_row(
            cells.each_ref().map(String::as_str),
            &owners_text(&s.processes),
        )?;
    }
    Ok(())
}

/// Sockets per serialized piece: ~400 KB of JSON, so the pieces in flight stay small.
const JSON_CHUNK: usize = 512;

/// One JSON array, one socket per element, in the schema of DESIGN.md: the same bytes
/// `serde_json::to_writer` gives.
///
/// Serializing is most of `list`'s own CPU time (15 MB of JSON at 20k sockets), so two
/// threads take alternate chunks and this one writes them in order. Each thread has at
/// most one chunk waiting, so memory does not grow with the socket count.
pub fn json(out: &mut impl Write, sockets: &[Socket]) -> io::Result<()> {
    let chunks: Vec<&[Socket]> = sockets.chunks(JSON_CHUNK).collect();
    const THREADS: usize = 2;
    std::thread::scope(|scope| {
        let receivers: Vec<_> = (0..THREADS)
            .map(|first| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let mine = chunks.iter().skip(first).step_by(THREADS);
                scope.spawn(move || {
                    for chunk in mine {
                        if tx.send(json_elements(chunk)).is_err() {
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
fn json_elements(sockets: &[Socket]) -> io::Result<Vec<u8>> {
    let mut piece = Vec::with_capacity(sockets.len() * 800);
    for (i, socket) in sockets.iter().enumerate() {
        if i > 0 {
            piece.push(b',');
        }
        serde_json::to_writer(&mut piece, socket)?;
    }
    Ok(piece)
}

const CSV_HEADER: &str = "proto,family,state,local_addr,local_port,remote_addr,remote_port,\
path,socket_type,recv_q,send_q,inode,uid,processes";

/// A header row, then one row per socket; `processes` is `pid/comm/fd` joined by `;`.
pub fn csv(out: &mut impl Write, sockets: &[Socket]) -> io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for s in sockets {
        // Going through the JSON value keeps one definition of every field's text.
        let value = serde_json::to_value(s)?;
        let processes: Vec<String> = s
            .processes
            .iter()
            .map(|o| format!("{}/{}/{}", o.pid, Escaped::str(&o.comm), o.fd))
            .collect();
        let cells: Vec<String> = CSV_HEADER
            .split(',')
            .map(|key| match key {
                "processes" => processes.join(";"),
                "path" => s
                    .path_bytes()
                    .map(|p| Escaped(p).to_string())
                    .unwrap_or_default(),
                key => escape(&text(&value[key])).into_owned(),
            })
            .map(|cell| csv_quote(&cell))
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// Quotes a cell that holds a comma, a quote or a line break (RFC 4180).
fn csv_quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_pieces_is_what_serde_json_writes() {
        use crate::model::{Family, Proto, TcpState};
        let socket = |i: usize| Socket {
            inode: i as u64,
            ..Socket::inet(
                Proto::Tcp,
                Family::Ipv4,
                TcpState::Established,
                ([127, 0, 0, 1], 80).into(),
                ([127, 0, 0, 1], (i % 60_000) as u16).into(),
            )
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
    fn csv_quoting() {
        assert_eq!(csv_quote("plain"), "plain");
        assert_eq!(csv_quote("/tmp/a,b"), "\"/tmp/a,b\"");
        assert_eq!(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
