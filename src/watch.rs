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
use crate::output::owners_text;
use crate::query::Query;
use crate::text::escape;
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
    loop {
        let snapshot = source.snapshot()?;
        // Each warning once: a stream runs for hours.
        for warning in &snapshot.warnings {
            if warned.insert(warning.clone()) {
                eprintln!("sockscope: {warning}");
            }
        }
        tracker.observe(&snapshot);
        for event in tracker.events_since(next_seq) {
            next_seq = event.seq + 1;
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
        let elapsed = started.elapsed();
        match options.duration {
            Some(d) if elapsed >= d => return Ok(()),
            Some(d) => sleep(options.interval.min(d - elapsed)),
            None => sleep(options.interval),
        }
    }
}

/// The name scripts match on.
pub fn event_name(change: Change) -> &'static str {
    match change {
        Change::Opened => "opened",
        Change::Closed => "closed",
        Change::State { .. } => "state",
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
        event: event_name(event.change),
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
        owners => escape(&owners_text(owners)).into_owned(),
    };
    writeln!(
        out,
        "{} {:<6} {:<5} {:<28} {:<28} {:<24} {:<40} {}",
        rfc3339_ms(event.at),
        event_name(event.change),
        s.proto_text(),
        escape(&s.local_text()),
        escape(&s.remote_text()),
        state,
        counters,
        owner
    )?;
    Ok(())
}
