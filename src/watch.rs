//! `sockscope watch`: the events of the live view as a stream for scripts, one line
//! per event, flushed as it happens. Opened, state and closed events come from
//! snapshot diffs (`track`); where the closed-connection log is kept, closed events
//! also come from the kernel as sockets are destroyed, so a connection that lived
//! between two refreshes is there too.
//!
//! With `--json`, NDJSON: `{"time", "event", "from" (state events), "socket"}`, the
//! socket being one element of `list --json`.

use std::collections::HashSet;
use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::clock::rfc3339_ms;
use crate::collect::Source;
use crate::model::{Socket, TcpState};
use crate::query::Query;
use crate::text::{self, owners};
use crate::track::{Change, Event, TrackConfig, Tracker};

#[derive(Clone, Debug)]
pub struct Options {
    pub interval: Duration,
    pub json: bool,
    /// Stop after this long; None runs until interrupted or the reader goes away.
    pub duration: Option<Duration>,
}

/// Streams events until `duration` ends or writing fails (a closed pipe included,
/// which the caller treats as a quiet end).
pub fn run(
    source: &mut dyn Source,
    query: &Query,
    options: &Options,
    out: &mut impl Write,
) -> Result<()> {
    let started = Instant::now();
    let mut tracker = Tracker::new(TrackConfig::default());
    let mut warned = HashSet::new();
    let mut next_seq = 0;
    // Destroyed sockets tracking knows, held for the next snapshot to close.
    let mut pending = Vec::new();
    loop {
        let mut snapshot = source.snapshot()?;
        if !pending.is_empty() {
            pending.append(&mut snapshot.closed);
            snapshot.closed = std::mem::take(&mut pending);
        }
        // Each warning once: a stream runs for hours.
        for warning in &snapshot.warnings {
            if warned.insert(warning.clone()) {
                crate::stdio::warn(format_args!("{warning}"))
            }
        }
        tracker.observe_shared(&std::sync::Arc::new(snapshot));
        write_new(&tracker, &mut next_seq, query, options, out)?;
        let round = Instant::now();
        loop {
            let elapsed = started.elapsed();
            if options.duration.is_some_and(|d| elapsed >= d) {
                return Ok(());
            }
            let left = options.interval.saturating_sub(round.elapsed());
            if left.is_zero() {
                break;
            }
            // The closed-connection log as it comes: a socket that lived between two
            // snapshots is written within POLL of its end, not at the next snapshot.
            sleep(left.min(POLL));
            let mut closed = source.take_closed();
            tracker.observe_unseen(&mut closed);
            pending.append(&mut closed);
            write_new(&tracker, &mut next_seq, query, options, out)?;
        }
    }
}

/// How often the closed-connection log is read between snapshots.
const POLL: Duration = Duration::from_millis(100);

/// The events since `next_seq` that match, one line each, flushed.
fn write_new(
    tracker: &Tracker,
    next_seq: &mut u64,
    query: &Query,
    options: &Options,
    out: &mut impl Write,
) -> Result<()> {
    for event in tracker.events_since(*next_seq) {
        *next_seq = event.seq + 1;
        // Filtered as events, not as sockets: `--state CLOSE_WAIT` then shows the
        // sockets entering that state.
        if !query.matches(&event.socket) {
            continue;
        }
        if options.json {
            write_json(out, event)?;
        } else {
            write_line(out, event)?;
        }
        out.flush()?;
    }
    Ok(())
}

/// The name scripts match on.
pub fn event_name(change: &Change) -> &'static str {
    match change {
        Change::Opened => "opened",
        Change::Closed => "closed",
        Change::State { .. } => "state",
        // Only the live view acts on sockets; a stream never sees these.
        Change::Acted { .. } => "acted",
    }
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    time: String,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<TcpState>,
    socket: &'a Socket,
}

pub fn write_json(out: &mut impl Write, event: &Event) -> Result<()> {
    let from = match event.change {
        Change::State { from, .. } => Some(from),
        _ => None,
    };
    let line = JsonEvent {
        time: rfc3339_ms(event.at),
        event: event_name(&event.change),
        from,
        socket: &event.socket,
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)?;
    Ok(())
}

/// One aligned line: time, event, proto, endpoints, state (or the change), the final
/// counters of a closed TCP socket, and who held it. Names and paths escaped.
pub fn write_line(out: &mut impl Write, event: &Event) -> Result<()> {
    let s = &event.socket;
    let state = match event.change {
        Change::State { from, to } => format!("{from}->{to}"),
        _ => s.state.name().to_string(),
    };
    let counters = match (&event.change, &s.tcp_info) {
        (Change::Closed, Some(info)) => format!(
            "rx {} tx {} retrans {} rtt {:.3}ms",
            info.bytes_received,
            info.bytes_sent,
            info.total_retrans,
            f64::from(info.rtt_us) / 1000.0
        ),
        _ => String::new(),
    };
    let owner = match s.processes.as_slice() {
        [] => "unknown".into(),
        owners => owners::with_fds_text(owners),
    };
    writeln!(
        out,
        "{} {:<6} {:<5} {:<28} {:<28} {:<24} {:<40} {}",
        rfc3339_ms(event.at),
        event_name(&event.change),
        s.proto_text(),
        text::local_text(s),
        s.remote_text(),
        state,
        counters,
        owner
    )?;
    Ok(())
}
