//! `sockscope kill` and `sockscope close`: one snapshot, the sockets the filters match,
//! then one line per process or socket. Without `--yes` the lines say what would be
//! done and nothing is; with it, what was done, or why not.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::{Caller, Outcome, Signal, describe_socket, processes_of};
use crate::cli::Filters;
use crate::collect::{HIDDEN_OWNERS_HINT, PROC, Source, System, Tables, process};
use crate::model::{Proto, Snapshot, Socket};

/// What a line says was (or would be) done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Signal(Signal),
    Close,
}

impl Verb {
    /// One line: `would send SIGTERM to pid 42 (…)` when `planned`, `sent SIGTERM to …`
    /// once done, `did not close tcp …: why` when not. The live view's status and
    /// events log say the same.
    pub fn line(self, target: &str, outcome: &Outcome, planned: bool) -> String {
        let (doing, done, not) = match self {
            Verb::Signal(s) => (
                format!("send {} to", s.name()),
                format!("sent {} to", s.name()),
                "signal",
            ),
            Verb::Close => ("close".into(), "closed".into(), "close"),
        };
        match (planned, outcome) {
            (true, Outcome::Done) => format!("would {doing} {target}"),
            (true, o) => format!("would not {not} {target}: {}", o.text()),
            (false, Outcome::Done) => format!("{done} {target}"),
            (false, o) => format!("did not {not} {target}: {}", o.text()),
        }
    }
}

/// `sockscope kill`: signals the processes holding the matching sockets. Exit status 1
/// when an action failed or was refused.
pub fn kill(
    proc_root: &Path,
    tables: Tables,
    filters: &Filters,
    signal: Signal,
    yes: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let (caller, snapshot) = prepare(proc_root, tables, filters, "kill")?;
    let query = filters.query();
    let matching: Vec<&Socket> = snapshot
        .sockets
        .iter()
        .filter(|s| query.matches(s))
        .collect();
    if matching.is_empty() {
        bail!("no socket matches the filters: nothing to signal");
    }
    let targets = processes_of(
        matching.iter().copied(),
        &snapshot.sockets,
        &filters.pid,
        snapshot.taken_at,
        // The live /proc: the processes acted on are this kernel's.
        |pid, comm| process::cmdline(Path::new(PROC), pid, comm),
    );
    if targets.is_empty() {
        bail!(
            "{} sockets match, but no process holding them is visible ({HIDDEN_OWNERS_HINT})",
            matching.len()
        );
    }
    let verb = Verb::Signal(signal);
    let mut report = Report::new(out, yes);
    for target in &targets {
        let outcome = if yes {
            super::signal(target, signal, &caller)
        } else {
            planned(caller.refuses_signal(target.pid, target.uid))
        };
        report.line(&verb.line(&target.describe(), &outcome, !yes), &outcome);
    }
    report.finish()
}

/// `sockscope close`: destroys the matching TCP sockets in the kernel.
pub fn close(
    proc_root: &Path,
    tables: Tables,
    filters: &Filters,
    yes: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if filters.udp || filters.unix {
        bail!("close works on TCP connections only (leave out --udp and --unix)");
    }
    let (caller, mut snapshot) = prepare(proc_root, tables, filters, "close")?;
    let mut query = filters.query();
    query.protos = vec![Proto::Tcp];
    snapshot.sockets.retain(|s| query.matches(s));
    if snapshot.sockets.is_empty() {
        bail!("no TCP socket matches the filters: nothing to close");
    }
    snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));
    let mut destroyers = super::Destroyers::default();
    let mut report = Report::new(out, yes);
    for socket in &snapshot.sockets {
        let outcome = if yes {
            super::close(socket, &caller, &mut destroyers)
        } else {
            planned(caller.refuses_close(socket))
        };
        let line = Verb::Close.line(&describe_socket(socket), &outcome, !yes);
        report.line(&line, &outcome);
    }
    report.finish()
}

/// The checks, then the snapshot: actions on (the flag and the environment before
/// anything is read), a narrowing filter given, the running system (not a captured tree).
fn prepare(
    proc_root: &Path,
    tables: Tables,
    filters: &Filters,
    command: &str,
) -> Result<(Caller, Snapshot)> {
    let refuse = |why: String| anyhow::anyhow!("{why}: `{command}` does nothing");
    if let Some(why) = super::off(true) {
        return Err(refuse(why));
    }
    if filters.pid.is_empty() && filters.port.is_empty() && filters.state.is_empty() {
        bail!(
            "`{command}` needs --pid, --port or --state to say which sockets; \
             it never acts on every socket"
        );
    }
    let mut source = System::new(proc_root, filters.scope())?
        .with_tables(tables)?
        .with_selection(filters.selection());
    if let Some(why) = super::off(source.is_live()) {
        return Err(refuse(why));
    }
    let snapshot = source.snapshot()?;
    for warning in &snapshot.warnings {
        crate::stdio::warn(warning);
    }
    Ok((Caller::current(), snapshot))
}

fn planned(refusal: Option<String>) -> Outcome {
    refusal.map_or(Outcome::Done, Outcome::Refused)
}

/// The lines as they happen, and the exit status they add up to.
struct Report<'a, W: Write> {
    out: &'a mut W,
    yes: bool,
    ok: bool,
    /// The first failed write. Acting goes on without an audience (`| head -1`):
    /// what --yes asked for is done whole, not up to where the pipe closed.
    write_error: Option<io::Error>,
}

impl<'a, W: Write> Report<'a, W> {
    fn new(out: &'a mut W, yes: bool) -> Self {
        Report {
            out,
            yes,
            ok: true,
            write_error: None,
        }
    }

    fn line(&mut self, line: &str, outcome: &Outcome) {
        self.ok &= outcome.ok();
        if self.write_error.is_none()
            && let Err(e) = writeln!(self.out, "{line}").and_then(|()| self.out.flush())
        {
            self.write_error = Some(e);
        }
    }

    /// A dry run says how to make it real, and succeeds whatever it would do.
    fn finish(self) -> Result<ExitCode> {
        if let Some(e) = self.write_error {
            return Err(e.into());
        }
        if !self.yes {
            crate::stdio::warn("dry run, nothing was done; add --yes to do it");
            return Ok(ExitCode::SUCCESS);
        }
        Ok(if self.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_what_would_be_done_what_was_and_why_not() {
        let kill = Verb::Signal(Signal::Term);
        let refused = Outcome::Refused("pid 1 is never signalled".into());
        assert_eq!(
            kill.line("pid 7 (x)", &Outcome::Done, true),
            "would send SIGTERM to pid 7 (x)"
        );
        assert_eq!(
            kill.line("pid 7 (x)", &Outcome::Done, false),
            "sent SIGTERM to pid 7 (x)"
        );
        assert_eq!(
            kill.line("pid 1 (init)", &refused, true),
            "would not signal pid 1 (init): pid 1 is never signalled"
        );
        let gone = Outcome::Gone("the socket is already gone".into());
        assert_eq!(
            Verb::Close.line("tcp a → b", &gone, false),
            "did not close tcp a → b: the socket is already gone"
        );
        assert_eq!(
            Verb::Close.line("tcp a → b", &Outcome::Done, false),
            "closed tcp a → b"
        );
    }
}
