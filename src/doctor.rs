//! `sockscope doctor`: a few snapshots over a short window, so "growing" and "older
//! than" can be judged, then the findings as text or JSON. `--watch` keeps the history
//! and adds one snapshot per round.

use std::io::Write;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::Filters;
use crate::collect::kernel_counters::KernelReader;
use crate::collect::{Scope, Source, System, Tables};
use crate::diagnose::{DiagnoseConfig, KernelFacts, diagnose};
use crate::output::{self, Format};
use crate::track::{TrackConfig, Tracker};

#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// Snapshots in the first round (2 at least), spread over `window`.
    pub samples: usize,
    pub window: Duration,
    /// Text or JSON (`Finding`'s formats).
    pub format: Format,
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
        .with_selection(filters.selection())
        .with_closed_log();
    // The counters belong to the network namespace the sockets are read in.
    let reader = KernelReader::new(proc_root, &filters.pid);
    let query = filters.query();
    let mut kernel = KernelFacts {
        listen_counters: Vec::new(),
        // Without it (a fixture tree, an odd kernel) the TIME_WAIT rule is skipped.
        port_range: reader.port_range(),
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
        if let Some(counters) = reader.listen_counters(snapshot.taken_at) {
            kernel.record(counters);
        }
        tracker.observe_shared(&std::sync::Arc::new(snapshot));
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
        if options.watch.is_some() && options.format == Format::Table {
            writeln!(out, "--- t+{}s ---", started.elapsed().as_secs())?;
        }
        output::write(out, options.format, &findings, &sockets)?;
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
        tracker.observe_shared(&std::sync::Arc::new(snapshot));
    }
    let kernel = KernelFacts {
        listen_counters: Vec::new(),
        port_range: None,
        whole_namespace: false,
    };
    let findings = diagnose(&tracker, &kernel, &options.config);
    output::write(out, options.format, &findings, &tracker.live().count())?;
    out.flush()?;
    Ok(!findings.is_empty())
}

/// The default first round: 3 snapshots over 2 s.
impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            samples: 3,
            window: Duration::from_secs(2),
            format: Format::Table,
            watch: None,
            tables: Tables::Auto,
            replay: None,
            config: DiagnoseConfig::default(),
        }
    }
}
