//! The replay's time cursor, under the title: which file, what moment, how far in,
//! playing or paused, the keys; and the `t` prompt while a time is typed.
//!
//! ```text
//!  ⏵ replay f.rec · 2026-12-01T09:20:01Z +0:12:34/+1:00:00 · 755/3600 · playing
//!  go to (+SECONDS or RFC 3339): +90▏
//! ```

use ratatui::text::{Line, Span};

use super::style;
use crate::tui::app::App;
use crate::tui::replay::offset_text;

pub fn lines(app: &App) -> Vec<Line<'static>> {
    let Some(r) = &app.replay else {
        return Vec::new();
    };
    // The keys are in the help (`?`); this line must fit 80 columns.
    let (mark, state) = if app.paused {
        ("⏸", "paused")
    } else {
        ("⏵", "playing")
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!(" {mark} replay "), style::KEY),
        Span::raw(format!(
            "{} · {} {}/{} · {}/{} · {state}",
            r.file,
            seconds(&crate::clock::rfc3339_ms(r.at)),
            offset_text(r.start, r.at),
            offset_text(r.start, r.end),
            r.index + 1,
            r.len,
        )),
    ])];
    if let Some(text) = &r.prompt {
        lines.push(Line::from(vec![
            Span::styled(" go to (+SECONDS or RFC 3339): ", style::KEY),
            Span::raw(format!("{}▏", crate::text::escape(text))),
        ]));
    }
    if let Some(error) = &r.prompt_error {
        lines.push(Line::styled(format!(" {error}"), style::ERROR));
    }
    lines
}

/// "2026-12-01T09:20:01Z": the bar has no room for milliseconds.
fn seconds(rfc3339_ms: &str) -> String {
    match rfc3339_ms.get(..19) {
        Some(head) => format!("{head}Z"),
        None => rfc3339_ms.to_string(),
    }
}
