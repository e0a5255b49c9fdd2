//! Writing a recording: one block per snapshot, appended with one write each.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::format::{self, Block, DeltaState, Meta};
use super::millis;
use crate::collect::Source;
use crate::model::Snapshot;
use crate::query::Query;

/// A keyframe at least this often: replay seeks from the last one before the time
/// asked for, so this bounds the deltas a seek replays (900 at one a second).
pub const KEYFRAME_EVERY: Duration = Duration::from_secs(15 * 60);

pub struct Writer {
    file: File,
    delta: DeltaState,
    /// When the last keyframe was taken (snapshot time, so a recording made from
    /// synthetic snapshots has keyframes where a live one would).
    last_keyframe_ms: Option<u64>,
    warnings: Option<Vec<String>>,
    pub blocks: u64,
    pub bytes: u64,
}

impl Writer {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path, meta: &Meta) -> Result<Writer> {
        let mut file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let header = format::header(meta);
        file.write_all(&header)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Writer {
            file,
            delta: DeltaState::default(),
            last_keyframe_ms: None,
            warnings: None,
            blocks: 0,
            bytes: header.len() as u64,
        })
    }

    /// Appends one snapshot: a keyframe when one is due, else a delta.
    pub fn write(&mut self, snapshot: &Snapshot) -> Result<()> {
        let taken_ms = millis(snapshot.taken_at);
        let keyframe = self
            .last_keyframe_ms
            .is_none_or(|at| taken_ms.saturating_sub(at) >= KEYFRAME_EVERY.as_millis() as u64);
        if keyframe {
            self.last_keyframe_ms = Some(taken_ms);
        }
        let warnings = (self.warnings.as_ref() != Some(&snapshot.warnings) || keyframe)
            .then(|| snapshot.warnings.clone());
        if warnings.is_some() {
            self.warnings = warnings.clone();
        }
        let block = Block {
            taken_ms,
            warnings,
            sockets: self.delta.next(&snapshot.sockets, keyframe),
            closed: snapshot.closed.clone(),
        };
        let bytes = format::encode_block(&block)?;
        // One write per block: a kill leaves whole blocks and at most one torn one.
        self.file
            .write_all(&bytes)
            .context("writing the recording")?;
        self.blocks += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub interval: Duration,
    pub duration: Option<Duration>,
}

/// Records until `duration` ends or SIGINT/SIGTERM, then says what it wrote.
pub fn run(
    source: &mut dyn Source,
    query: &Query,
    path: &Path,
    options: &RecordOptions,
    hostname: String,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install signal handlers")?;
    }
    let meta = Meta {
        started_ms: millis(std::time::SystemTime::now()),
        interval_ms: options.interval.as_millis() as u64,
        hostname,
        filter: query.to_string(),
    };
    let mut writer = Writer::create(path, &meta)?;
    let started = Instant::now();
    let mut warned = std::collections::HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        let round = Instant::now();
        let mut snapshot = source.snapshot()?;
        for warning in &snapshot.warnings {
            if warned.insert(warning.clone()) {
                crate::stdio::warn(format_args!("{warning}"))
            }
        }
        snapshot.sockets.retain(|s| query.matches(s));
        snapshot.closed.retain(|c| query.matches(&c.socket));
        // The order the reader rebuilds; sorted, deltas are smaller and lists ready.
        snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));
        writer.write(&snapshot)?;
        if options.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        // Sleep in small steps so a signal ends it promptly.
        let next = round + options.interval;
        while !stop.load(Ordering::Relaxed) {
            let Some(left) = next.checked_duration_since(Instant::now()) else {
                break;
            };
            sleep(left.min(Duration::from_millis(100)));
        }
    }
    crate::stdio::warn(format_args!(
        "recorded {} snapshots, {} bytes, to {}",
        writer.blocks,
        writer.bytes,
        crate::text::escape(&path.display().to_string())
    ));
    Ok(())
}
