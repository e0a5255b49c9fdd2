//! The events log (`e`): sockets opened, closed and changing state, newest at the
//! bottom. It follows the newest unless scrolled up; the filter bar's query picks
//! the events whose socket it matches; space (pause) stops it with the refreshes.

use std::time::{SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

use crate::column::{Column, fit};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::style;
use crate::model::{Socket, TcpState};
use crate::text::{local_text, owners};
use crate::track::{Change, Event};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(1) as usize;
    let events: Vec<&Event> = app.matching_events().collect();
    // Scrolled up `back` from the newest, but never past the oldest page.
    let back = app
        .timeline
        .events_back
        .min(events.len().saturating_sub(height));
    let end = events.len() - back;
    let shown = &events[end.saturating_sub(height)..end];

    // The fixed columns, the spaces between the six, and what OWNERS keeps at least.
    let rest = 8 + 7 + 5 + 5 + OWNERS_MIN;
    let room = area.width.saturating_sub(rest);
    let ends = shown
        .iter()
        .map(|e| endpoints_text(&e.socket).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, 60) as u16;
    let states = |short| {
        let widest = shown.iter().map(|e| state_width(e, short)).max();
        widest.unwrap_or(0).max(5) as u16
    };
    // The kernel's state names where both columns fit whole, else ss's shorter ones
    // (OWNERS giving up all but its pid before an address is shortened); then the
    // endpoints take what is left, each end shortened keeping its port.
    let short = ends + states(false) > room;
    let state = states(short);
    let room = match ends + state > room {
        true => room + OWNERS_MIN - PID_WIDTH,
        false => room,
    };
    let fit = ends.min(room.saturating_sub(state)).max(9);
    let widths = [
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(fit),
        Constraint::Length(state),
        Constraint::Fill(1),
    ];
    let header = Row::new([
        "TIME UTC".to_string(),
        "CHANGE".into(),
        "PROTO".into(),
        "LOCAL → REMOTE".into(),
        "STATE".into(),
        "OWNERS".into(),
    ])
    .style(style::HEADER_ROW);
    let rows = shown.iter().map(|e| event_row(e, fit, short));
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
    // Over the header's right end, where the owners column has room to spare: the
    // longest form that leaves "OWNERS" whole.
    let owners_at = 8 + 7 + 5 + fit + state + 5;
    let spare = area
        .width
        .saturating_sub(owners_at + "OWNERS ".len() as u16);
    let status = status(app, back, events.len())
        .into_iter()
        .find(|s| s.chars().count() <= usize::from(spare));
    if let Some(status) = status {
        let status = Line::styled(status, style::HEADER_ROW).right_aligned();
        frame.render_widget(status, Rect { height: 1, ..area });
    }
    if events.is_empty() {
        let text = match app.tracked.snapshots_seen {
            0 => "  collecting…",
            1 => "  no events yet: sockets opening, closing or changing state show up here",
            _ if !app.filter.query.is_empty() => "  no events match the filter",
            _ => "  no events yet: sockets opening, closing or changing state show up here",
        };
        let below = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1).min(1),
            ..area
        };
        frame.render_widget(Line::styled(text, style::DIM), below);
    }
}

/// Whether the log follows the newest, or how far back it is: the words, then
/// shorter forms for a narrow screen.
fn status(app: &App, back: usize, total: usize) -> Vec<String> {
    if back > 0 {
        vec![
            format!("{back} newer below · G follows "),
            format!("{back} newer below "),
            format!("{back} newer ↓ "),
        ]
    } else if total > 0 && !app.paused {
        vec!["following ".into(), "live ".into()]
    } else {
        Vec::new()
    }
}

/// The least OWNERS keeps: a pid and the start of its name; at the very least a pid.
const OWNERS_MIN: u16 = 10;
const PID_WIDTH: u16 = 6;

/// A state's name, or ss's short one.
fn state_name(state: TcpState, short: bool) -> &'static str {
    match short {
        true => state.ss_name(),
        false => state.name(),
    }
}

/// Between a change's two states: no spaces when short.
fn arrow(short: bool) -> &'static str {
    match short {
        true => "→",
        false => " → ",
    }
}

/// How wide the event's STATE cell is.
fn state_width(e: &Event, short: bool) -> usize {
    match &e.change {
        Change::Opened | Change::Closed => state_name(e.socket.state, short).len(),
        Change::State { from, to } => {
            state_name(*from, short).len()
                + arrow(short).chars().count()
                + state_name(*to, short).len()
        }
        Change::Acted { result, .. } => result.chars().count(),
    }
}

fn event_row(e: &Event, width: u16, short: bool) -> Row<'static> {
    let s = &e.socket;
    let name = |state| state_name(state, short);
    let (change, change_style, state) = match &e.change {
        Change::Opened => (
            "opened",
            style::NEW,
            Line::styled(name(s.state), style::state(s.state)),
        ),
        Change::Closed => (
            "closed",
            style::DIM,
            Line::styled(name(s.state), style::DIM),
        ),
        Change::State { from, to } => (
            "state",
            style::WARNING,
            Line::from(vec![
                Span::styled(name(*from), style::state(*from)),
                Span::raw(arrow(short)),
                Span::styled(name(*to), style::state(*to)),
            ]),
        ),
        // What sockscope did: the result in a word where the state goes, the whole
        // of it where the owners go, since it names them.
        Change::Acted {
            what,
            result,
            ok,
            text,
        } => {
            let look = if *ok { style::NEW } else { style::ERROR };
            return Row::new([
                Cell::from(clock_text(e.at)),
                Cell::from(*what).style(style::WARNING),
                Cell::from(s.proto_text()),
                Cell::from(endpoints_fitted(s, width)),
                Cell::from(*result).style(look),
                Cell::from(text.to_string()).style(look),
            ]);
        }
    };
    Row::new([
        Cell::from(clock_text(e.at)),
        Cell::from(change).style(change_style),
        Cell::from(s.proto_text()),
        Cell::from(endpoints_fitted(s, width)),
        Cell::from(state),
        Cell::from(owners::first_text(&s.processes)),
    ])
}

/// `endpoints_text` in `width` cells: each end shortened keeping its port, the local
/// one only as far as it must.
fn endpoints_fitted(s: &Socket, width: u16) -> String {
    let text = endpoints_text(s);
    if text.chars().count() <= usize::from(width) {
        return text;
    }
    let Some(_) = s.remote else {
        return fit::squeeze(Column::Local, &text, width).into_owned();
    };
    let (local, remote) = (local_text(s), s.remote_text());
    let sides = width.saturating_sub(3);
    let local_width = (local.chars().count() as u16).min(sides / 2);
    let local = fit::squeeze(Column::Local, &local, local_width);
    let remote = fit::squeeze(Column::Remote, &remote, sides - local_width);
    format!("{local} → {remote}")
}

/// "127.0.0.1:5000 → 127.0.0.1:80"; a unix socket's path (or "*") alone.
fn endpoints_text(s: &Socket) -> String {
    match s.remote {
        Some(_) => format!("{} → {}", local_text(s), s.remote_text()),
        None => local_text(s),
    }
}

/// "14:03:07": the time of day in UTC (no time zone database needed, and log lines
/// elsewhere are often in UTC too).
fn clock_text(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
