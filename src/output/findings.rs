//! `sockscope doctor`'s output: the findings for a person, or one JSON array (a line
//! of its own, so `--watch` prints one array per line).

use std::io::{self, Write};

use crate::diagnose::Finding;
use crate::text::owners;

use super::{Format, Printable};

impl Printable for Finding {
    const FORMATS: &'static [(Format, &'static str)] = &[
        (Format::Table, "Text for a person (the default)"),
        (
            Format::Json,
            "One JSON array of findings (with --watch, one array per line per round)",
        ),
    ];
    /// How many sockets were looked at: the healthy line says so.
    type Context = usize;

    fn print(
        mut out: &mut dyn Write,
        format: Format,
        findings: &[Finding],
        sockets: &usize,
    ) -> io::Result<()> {
        match format {
            Format::Json => {
                serde_json::to_writer(&mut out, findings)?;
                writeln!(out)
            }
            _ => text(out, findings, *sockets),
        }
    }
}

/// A headline each, what it means, what to check, the sockets; then a count.
fn text(out: &mut dyn Write, findings: &[Finding], sockets: usize) -> io::Result<()> {
    for f in findings {
        writeln!(out, "{:<8}  {}", f.severity.name(), f.headline())?;
        writeln!(out, "    means: {}", f.meaning)?;
        writeln!(out, "    check: {}", f.next_steps)?;
        for fs in &f.sockets {
            let s = &fs.socket;
            let mut held = String::new();
            let _ = owners::with_fds(&s.processes, &mut held);
            writeln!(
                out,
                "    {} {} {}  {}  {held}",
                s.proto_text(),
                s.state,
                fs.ends_and_queues("->"),
                fs.age(),
            )?;
        }
        if f.unlisted() > 0 {
            writeln!(out, "    ... and {} more", f.unlisted())?;
        }
        writeln!(out)?;
    }
    match findings.len() {
        0 if sockets == 1 => writeln!(out, "no findings: 1 socket looks healthy"),
        0 => writeln!(out, "no findings: {sockets} sockets look healthy"),
        n => writeln!(out, "{n} finding{}", if n == 1 { "" } else { "s" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{FindingSocket, Kind, Severity};
    use crate::model::TcpState;
    use crate::test_sockets::{Build, owner, unix};

    #[test]
    fn socket_lines_escape_names_and_paths() {
        let socket = unix(Some("/run/a\nb"), TcpState::Listen)
            .inode(5)
            .owned_by(vec![owner(9, 4, "x\x1b]0;pwned\x07")]);
        let finding = Finding {
            kind: Kind::AcceptQueue,
            severity: Severity::Warning,
            summary: "a summary".into(),
            meaning: "m",
            next_steps: "n",
            processes: Vec::new(),
            socket_count: 1,
            sockets: vec![FindingSocket {
                socket,
                state_secs: 1.0,
            }],
            netns: Vec::new(),
            containers: Vec::new(),
        };
        let mut out = Vec::new();
        text(&mut out, &[finding], 1).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().nth(3),
            Some(
                "    u_str LISTEN /run/a\\nb -> *  recv-q 0 send-q 0  1.0s  9/x\\x1b]0;pwned\\x07 fd 4"
            )
        );
    }
}
