//! `sockscope record`: snapshots (and the closed-connection log) into a compact file,
//! and everything that reads one back: `list --replay`, `doctor --replay`, `replay`.
//!
//! The file (see `format`) is keyframes plus deltas, each block compressed with zstd:
//! a socket is written when it appears, changes or goes, not at every refresh, so an
//! hour of a 10k-socket host with 50 changes a second stays under 5 MB (README).

pub mod codec;
pub mod format;
pub mod reader;
pub mod writer;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use reader::{Recording, Replay};
pub use writer::{RecordOptions, Writer, run};

/// A moment in a recording, as `--at` takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// `+SECONDS` from the first snapshot.
    FromStart(Duration),
    /// An RFC 3339 time.
    Time(SystemTime),
}

impl At {
    pub fn parse(text: &str) -> Result<At, String> {
        match text.strip_prefix('+') {
            Some(secs) => match secs.parse::<f64>() {
                Ok(s) if s.is_finite() && (0.0..1e9).contains(&s) => {
                    Ok(At::FromStart(Duration::from_secs_f64(s)))
                }
                _ => Err(format!(
                    "invalid time '{text}': expected +SECONDS from the start, or RFC 3339"
                )),
            },
            None => crate::clock::parse_rfc3339(text).map(At::Time),
        }
    }

    pub fn in_recording(&self, recording: &Recording) -> SystemTime {
        match *self {
            At::FromStart(d) => recording.start() + d,
            At::Time(t) => t,
        }
    }
}

/// `list --replay FILE --at TIME`: the snapshot in effect at TIME. Before the first
/// snapshot is an error; after the last, the last (said on stderr).
pub fn snapshot_at(path: &std::path::Path, at: &At) -> anyhow::Result<crate::model::Snapshot> {
    use crate::clock::rfc3339_ms;
    let mut replay = Replay::open(path)?;
    let recording = &replay.recording;
    if let Some(damage) = &recording.damage {
        crate::stdio::warn(format_args!(
            "the recording ends early at {}: {damage}",
            rfc3339_ms(recording.end())
        ))
    }
    let time = at.in_recording(recording);
    let Some(i) = recording.index_at(time) else {
        anyhow::bail!(
            "{} is before the recording starts ({})",
            rfc3339_ms(time),
            rfc3339_ms(recording.start())
        );
    };
    if i + 1 == recording.len()
        && time > recording.end() + Duration::from_millis(recording.meta.interval_ms)
    {
        crate::stdio::warn(format_args!(
            "{} is after the recording ends ({}); showing its last snapshot",
            rfc3339_ms(time),
            rfc3339_ms(recording.end())
        ));
    }
    replay.snapshot_at(i)
}

/// Milliseconds since the Unix epoch, as the file stores times.
pub fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

pub fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
