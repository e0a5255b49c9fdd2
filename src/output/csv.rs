//! `list --csv`: a header row of JSON field names, then one row per socket, its cells
//! written straight from the socket by `Column::CSV`. Cells arrive escaped (see
//! `crate::text`), so none holds a line break; one with a comma or a quote is quoted
//! as RFC 4180 says.

use std::io::{self, Write};

use crate::column::{Column, Row};
use crate::model::{Naming, Socket};

/// `names`: the name columns after the rest (`list --csv -r`), written with it.
pub fn write(out: &mut impl Write, sockets: &[Socket], names: Option<&Naming>) -> io::Result<()> {
    let extra: &[Column] = if names.is_some() {
        &Column::CSV_NAMES
    } else {
        &[]
    };
    let naming = names.unwrap_or(&crate::model::names::NUMERIC);
    let specs: Vec<_> = Column::CSV.iter().chain(extra).map(|c| c.spec()).collect();
    let mut line = String::with_capacity(256);
    for (i, spec) in specs.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        quote_into(spec.csv, &mut line);
    }
    line.push('\n');
    out.write_all(line.as_bytes())?;
    let mut cell = String::with_capacity(64);
    for s in sockets {
        line.clear();
        for (i, spec) in specs.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            cell.clear();
            (spec.cell)(&Row::named(s, naming), &mut cell);
            quote_into(&cell, &mut line);
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Appends `cell`, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn quote_into(cell: &str, line: &mut String) {
    if cell.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TcpState;
    use crate::test_sockets::{Build, owner, unix};

    fn quoted(cell: &str) -> String {
        let mut line = String::new();
        quote_into(cell, &mut line);
        line
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("/tmp/a,b"), "\"/tmp/a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn hostile_names_stay_on_their_row() {
        let socket = unix(Some("/tmp/a,\"b\"\nc"), TcpState::Listen)
            .inode(9)
            .owned_by(vec![owner(7, 3, "evil\r\x1b[2J")]);
        let mut out = Vec::new();
        write(&mut out, &[socket], None).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(
            rows[1],
            "unix,unix,LISTEN,,,,,\"/tmp/a,\"\"b\"\"\\nc\",stream,0,0,9,0,7/evil\\r\\x1b[2J/3,,"
        );
    }
}
