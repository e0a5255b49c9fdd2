//! The bottom line: the filter bar while editing (with the parse error inline), the
//! result of the last action (K, X) until the next key, otherwise the keys that matter
//! in the current view. "actions off" at the right end when K and X are.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::line_fit::{self, Part};
use super::style;
use crate::tui::app::{App, View};

const BADGE: &str = " actions off ";

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let line = if app.filter.editing {
        filter_bar(app)
    } else if let Some(status) = &app.actions.status {
        let look = if status.ok { style::NEW } else { style::ERROR };
        Line::from(vec![
            Span::raw(" "),
            Span::styled(status.text.as_str(), look),
        ])
    } else {
        let badge = match app.actions.off {
            Some(_) => BADGE.len() as u16,
            None => 0,
        };
        hints(app, area.width.saturating_sub(badge))
    };
    frame.render_widget(line, area);
    if app.actions.off.is_some() && !app.filter.editing {
        let width = (BADGE.len() as u16).min(area.width);
        let right = Rect {
            x: area.right() - width,
            width,
            ..area
        };
        frame.render_widget(Line::styled(BADGE, style::WARNING), right);
    }
}

fn filter_bar(app: &App) -> Line<'_> {
    let text = app.filter.text.as_str();
    let at = app.filter.cursor.min(text.len());
    // The cursor shows on the character under it, or as a block at the end.
    let (under, after, look) = match text[at..].chars().next() {
        Some(c) => (
            &text[at..at + c.len_utf8()],
            &text[at + c.len_utf8()..],
            style::SELECTED,
        ),
        None => ("█", "", style::DIM),
    };
    let mut spans = vec![
        Span::styled(" / ", style::KEY),
        Span::raw(&text[..at]),
        Span::styled(under, look),
        Span::raw(after),
    ];
    match (&app.filter.error, &app.filter.note) {
        (Some(error), _) => spans.push(Span::styled(format!("  {error}"), style::ERROR)),
        (None, Some(note)) => spans.push(Span::styled(format!("  {note}"), style::WARNING)),
        (None, None) => spans.push(Span::styled("  Enter keep · Esc clear", style::DIM)),
    }
    Line::from(spans)
}

/// The hints of the view, each with its rank: on a narrow screen the highest rank
/// goes first, so `?` and `q` stay longest.
fn hints(app: &App, room: u16) -> Line<'static> {
    let keys: &[(&str, &str, u8)] = match app.view {
        View::Sockets => &[
            ("?", "help", 0),
            ("/", "filter", 2),
            ("s", "sort", 6),
            ("Tab", "processes", 3),
            ("Enter", "details", 1),
            ("m", "states", 7),
            ("r", "busiest", 8),
            ("e", "events", 4),
            ("d", "diagnostics", 5),
            ("q", "quit", 0),
        ],
        View::Processes => &[
            ("?", "help", 0),
            ("/", "filter", 2),
            ("Tab", "sockets", 3),
            ("Enter", "its sockets", 1),
            ("c", "group", 4),
            ("space", "pause", 5),
            ("q", "quit", 0),
        ],
        View::Details => &[
            ("?", "help", 0),
            ("Esc", "back", 1),
            ("m", "state machine", 4),
            ("↑/↓", "next socket", 2),
            ("PgUp/PgDn", "scroll", 3),
            ("Tab", "processes", 5),
            ("q", "quit", 0),
        ],
        View::Events => &[
            ("?", "help", 0),
            ("/", "filter", 3),
            ("↑/↓ PgUp/PgDn", "scroll", 2),
            ("G", "follow", 4),
            ("space", "pause", 5),
            ("Esc", "back", 1),
            ("q", "quit", 0),
        ],
        View::Machine => &[
            ("?", "help, every state", 0),
            ("↑/↓", "next socket", 2),
            ("Enter", "details", 3),
            ("Esc", "back", 1),
            ("q", "quit", 0),
        ],
        View::Diagnostics => &[
            ("?", "help", 0),
            ("↑/↓", "scroll", 2),
            ("Esc", "back", 1),
            ("e", "events", 3),
            ("q", "quit", 0),
        ],
    };
    let mut parts: Vec<Part> = keys
        .iter()
        .map(|(key, what, _)| {
            vec![vec![
                Span::styled(*key, style::KEY),
                Span::raw(format!(" {what}")),
            ]]
        })
        .collect();
    let mut steps: Vec<usize> = (0..keys.len()).filter(|i| keys[*i].2 > 0).collect();
    steps.sort_by_key(|i| std::cmp::Reverse(keys[*i].2));
    // What the filter said stays, after the hints.
    if let Some(error) = &app.filter.error {
        parts.push(vec![vec![Span::styled(
            format!("filter: {error}"),
            style::ERROR,
        )]]);
    } else if let Some(note) = &app.filter.note {
        parts.push(vec![vec![Span::styled(
            format!("filter: {note}"),
            style::WARNING,
        )]]);
    }
    line_fit::fit(" ", parts, "  ", &steps, room)
}
