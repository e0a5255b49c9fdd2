//! The bottom line: the filter bar while editing (with the parse error inline), the
//! result of the last action (K, X) until the next key, otherwise the keys that matter
//! in the current view. "actions off" at the right end when K and X are.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::style;
use crate::tui::app::{App, View};

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
        hints(app)
    };
    frame.render_widget(line, area);
    if app.actions.off.is_some() && !app.filter.editing {
        const BADGE: &str = " actions off ";
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

fn hints(app: &App) -> Line<'static> {
    let keys: &[(&str, &str)] = match app.view {
        View::Sockets => &[
            ("?", "help"),
            ("/", "filter"),
            ("s", "sort"),
            ("Tab", "processes"),
            ("Enter", "details"),
            ("m", "states"),
            ("r", "busiest"),
            ("e", "events"),
            ("d", "diagnostics"),
            ("q", "quit"),
        ],
        View::Processes => &[
            ("?", "help"),
            ("/", "filter"),
            ("Tab", "sockets"),
            ("Enter", "its sockets"),
            ("c", "group"),
            ("space", "pause"),
            ("q", "quit"),
        ],
        View::Details => &[
            ("?", "help"),
            ("Esc", "back"),
            ("m", "state machine"),
            ("↑/↓", "next socket"),
            ("Tab", "processes"),
            ("q", "quit"),
        ],
        View::Events => &[
            ("?", "help"),
            ("/", "filter"),
            ("↑/↓ PgUp/PgDn", "scroll"),
            ("G", "follow"),
            ("space", "pause"),
            ("Esc", "back"),
            ("q", "quit"),
        ],
        View::Machine => &[
            ("?", "help, every state"),
            ("↑/↓", "next socket"),
            ("Enter", "details"),
            ("Esc", "back"),
            ("q", "quit"),
        ],
        View::Diagnostics => &[
            ("?", "help"),
            ("↑/↓", "scroll"),
            ("Esc", "back"),
            ("e", "events"),
            ("q", "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys {
        spans.push(Span::styled(*key, style::KEY));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    if let Some(error) = &app.filter.error {
        spans.push(Span::styled(format!("filter: {error}"), style::ERROR));
    } else if let Some(note) = &app.filter.note {
        spans.push(Span::styled(format!("filter: {note}"), style::WARNING));
    }
    Line::from(spans)
}
