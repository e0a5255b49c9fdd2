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
use crate::model::Socket;
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

    let endpoints = |e: &&Event| endpoints_text(&e.socket).chars().count();
    // On a narrow screen the endpoints take what the rest leave (OWNERS keeps a few
    // cells), each end shortened keeping its port.
    let room = area.width.saturating_sub(8 + 7 + 5 + 24 + 5 + 6).max(9);
    let fit = shown.iter().map(endpoints).max().unwrap_or(0).clamp(9, 60) as u16;
    let fit = fit.min(room);
    let widths = [
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(fit),
        Constraint::Length(24),
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
    let rows = shown.iter().map(|e| event_row(e, fit));
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
    // Over the header's right end, where the owners column has room to spare.
    let status = Line::styled(status(app, back, events.len()), style::HEADER_ROW);
    frame.render_widget(status.right_aligned(), Rect { height: 1, ..area });
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

/// Whether the log follows the newest, or how far back it is.
fn status(app: &App, back: usize, total: usize) -> String {
    if back > 0 {
        format!("{back} newer below · G follows ")
    } else if total > 0 && !app.paused {
        "following ".into()
    } else {
        String::new()
    }
}

fn event_row(e: &Event, width: u16) -> Row<'static> {
    let s = &e.socket;
    let (change, change_style, state) = match &e.change {
        Change::Opened => (
            "opened",
            style::NEW,
            Line::styled(s.state.name(), style::state(s.state)),
        ),
        Change::Closed => (
            "closed",
            style::DIM,
            Line::styled(s.state.name(), style::DIM),
        ),
        Change::State { from, to } => (
            "state",
            style::WARNING,
            Line::from(vec![
                Span::styled(from.name(), style::state(*from)),
                Span::raw(" → "),
                Span::styled(to.name(), style::state(*to)),
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
