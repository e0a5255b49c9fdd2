//! `sockscope doctor`: a few snapshots over a short window, so "growing" and "older
//! than" can be judged, then the findings as text or JSON. `--watch` keeps the history
//! and adds one snapshot per round.

use std::io::Write;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::Filters;
use crate::collect::kernel_counters::{read_listen_counters, read_port_range};
use crate::collect::{Scope, Source, System, Tables};
use crate::diagnose::{DiagnoseConfig, Finding, KernelFacts, Severity, diagnose};
use crate::model::endpoint_text;
use crate::output::{local_cell, owners_text};
use crate::text::escape;
use crate::track::{TrackConfig, Tracker};

#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// Snapshots in the first round (2 at least), spread over `window`.
    pub samples: usize,
    pub window: Duration,
    pub json: bool,
    /// Repeat every this long, until interrupted.
    pub watch: Option<Duration>,
    /// Where socket tables come from (`--source`).
    pub tables: Tables,
    /// Diagnose a recording instead of the host (`--replay FILE`).
    pub replay: Option<std::path::PathBuf>,
    pub config: DiagnoseConfig,
}

/// Runs the rounds and prints them; says whether the last round found anything.
pub fn run(
    proc_root: &Path,
    filters: &Filters,
    options: &DoctorOptions,
    out: &mut impl Write,
) -> Result<bool> {
    if let Some(path) = &options.replay {
        return run_replay(path, filters, options, out);
    }
    let scope = filters.scope();
    let mut source = System::new(proc_root, scope.clone())?
        .with_tables(options.tables)?
        .with_closed_log();
    // The counters belong to the network namespace the sockets are read in.
    let net_dir = match &scope {
        Scope::Pids(pids) => proc_root.join(pids[0].to_string()).join("net"),
        Scope::Host | Scope::AllNetns | Scope::Netns(_) => proc_root.join("net"),
    };
    let query = filters.query();
    let mut kernel = KernelFacts {
        listen_counters: Vec::new(),
        // Without it (a fixture tree, an odd kernel) the TIME_WAIT rule is skipped.
        port_range: read_port_range(proc_root).ok(),
        whole_namespace: query.is_empty() && scope == Scope::Host,
    };
    let mut tracker = Tracker::new(TrackConfig::default());
    let mut warned = false;
    let mut take = |tracker: &mut Tracker, kernel: &mut KernelFacts| -> Result<()> {
        let mut snapshot = source.snapshot()?;
        if !warned {
            for warning in &snapshot.warnings {
                crate::stdio::warn(warning);
            }
            warned = true;
        }
        snapshot.sockets.retain(|s| query.matches(s));
        snapshot.closed.retain(|c| query.matches(&c.socket));
        if let Ok(counters) = read_listen_counters(&net_dir, snapshot.taken_at) {
            kernel.record(counters);
        }
        tracker.observe(&snapshot);
        Ok(())
    };

    let samples = options.samples.max(2);
    let step = options.window / (samples as u32 - 1);
    let started = Instant::now();
    for i in 0..samples {
        if i > 0 {
            sleep(step);
        }
        take(&mut tracker, &mut kernel)?;
    }
    loop {
        let findings = diagnose(&tracker, &kernel, &options.config);
        let sockets = tracker.live().count();
        if options.json {
            serde_json::to_writer(&mut *out, &findings)?;
            writeln!(out)?;
        } else {
            if options.watch.is_some() {
                writeln!(out, "--- t+{}s ---", started.elapsed().as_secs())?;
            }
            write_text(out, &findings, sockets)?;
        }
        out.flush()?;
        let Some(every) = options.watch else {
            return Ok(!findings.is_empty());
        };
        sleep(every);
        take(&mut tracker, &mut kernel)?;
    }
}

/// Every snapshot of a recording through the tracker, then the rules once, as at
/// its end. The kernel's listen counters are not recorded: those rules are skipped.
fn run_replay(
    path: &Path,
    filters: &Filters,
    options: &DoctorOptions,
    out: &mut impl Write,
) -> Result<bool> {
    let mut replay = crate::record::Replay::open(path)?;
    if let Some(damage) = &replay.recording.damage {
        crate::stdio::warn(format_args!("the recording ends early: {damage}"))
    }
    let mut query = filters.query();
    query.pids = filters.pid.clone(); // live, --pid chooses what is collected
    let mut tracker = Tracker::new(TrackConfig::default());
    for i in 0..replay.recording.len() {
        let mut snapshot = replay.snapshot_at(i)?;
        snapshot.sockets.retain(|s| query.matches(s));
        snapshot.closed.retain(|c| query.matches(&c.socket));
        tracker.observe(&snapshot);
    }
    let kernel = KernelFacts {
        listen_counters: Vec::new(),
        port_range: None,
        whole_namespace: false,
    };
    let findings = diagnose(&tracker, &kernel, &options.config);
    if options.json {
        serde_json::to_writer(&mut *out, &findings)?;
        writeln!(out)?;
    } else {
        write_text(out, &findings, tracker.live().count())?;
    }
    out.flush()?;
    Ok(!findings.is_empty())
}

/// The findings for a person: a headline each, what it means, what to check, the sockets.
pub fn write_text(out: &mut impl Write, findings: &[Finding], sockets: usize) -> Result<()> {
    for f in findings {
        let severity = match f.severity {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        };
        // The summary names processes: escaped here (JSON keeps it exact).
        writeln!(
            out,
            "{severity:<8}  {}: {}",
            f.kind.label(),
            escape(&f.summary)
        )?;
        writeln!(out, "    means: {}", f.meaning)?;
        writeln!(out, "    check: {}", f.next_steps)?;
        for fs in &f.sockets {
            let s = &fs.socket;
            writeln!(
                out,
                "    {} {} {} -> {}  recv-q {} send-q {}  {:.1}s  {}",
                s.proto_text(),
                s.state,
                local_cell(s),
                s.remote.map_or_else(|| "*".into(), endpoint_text),
                s.recv_q,
                s.send_q,
                fs.state_secs,
                owners_text(&s.processes),
            )?;
        }
        if f.socket_count > f.sockets.len() {
            writeln!(out, "    ... and {} more", f.socket_count - f.sockets.len())?;
        }
        writeln!(out)?;
    }
    match findings.len() {
        0 if sockets == 1 => writeln!(out, "no findings: 1 socket looks healthy")?,
        0 => writeln!(out, "no findings: {sockets} sockets look healthy")?,
        n => writeln!(out, "{n} finding{}", if n == 1 { "" } else { "s" })?,
    }
    Ok(())
}

/// The default first round: 3 snapshots over 2 s.
impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            samples: 3,
            window: Duration::from_secs(2),
            json: false,
            watch: None,
            tables: Tables::Auto,
            replay: None,
            config: DiagnoseConfig::default(),
        }
    }
}
