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
