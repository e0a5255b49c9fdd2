//! The title line (host, counts, interval, filter, paused), then the banner,
//! the snapshot's warnings, and what went wrong.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{diagnostics, style};
use crate::text::Escaped;
use crate::tui::app::{App, View};

pub fn height(app: &App) -> u16 {
    lines(app).len() as u16
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(Paragraph::new(lines(app)), area);
    if app.paused {
        let paused = Line::styled("[paused] ", style::WARNING).right_aligned();
        frame.render_widget(paused, Rect { height: 1, ..area });
    }
}

fn lines(app: &App) -> Vec<Line<'_>> {
    let mut title = vec![
        Span::styled(" sockscope", style::TITLE),
        Span::raw(format!(" · host {}", Escaped::str(&app.hostname))),
    ];
    if !app.pids.is_empty() {
        title.push(Span::raw(format!(" · {}", watched(app))));
    }
    title.push(Span::raw(format!(
        " · {}/{} sockets · every {}",
        thousands(app.shown()),
        thousands(app.total()),
        match app.slowed {
            // The collector backed off: refreshes take longer than asked.
            Some(kept) => format!("{} (slowed)", interval_text(kept)),
            None => interval_text(app.interval),
        }
    )));
    if !app.filter.text.trim().is_empty() {
        title.push(Span::raw(format!(
            " · filter: {}",
            app.filter.text.trim_end()
        )));
    }
    title.extend(findings_badge(app));
    let mut lines = vec![Line::from(title)];
    lines.extend(super::timebar::lines(app));
    // The state machine needs the room; the pane names the demo's part itself.
    // Folded into one line unless asked for (b): 24 rows need the room.
    if app.view != View::Machine {
        match (app.banner_open, app.banner.as_slice()) {
            (_, []) => {}
            // The demo's second line says where to start (press m): that one stays.
            (false, [_, second, _, ..]) | (false, [second, _]) => lines.push(Line::from(vec![
                Span::raw(format!(" {second} ")),
                Span::styled("(b: legend)", style::DIM),
            ])),
            _ => lines.extend(app.banner.iter().map(|b| Line::raw(format!(" {b}")))),
        }
    }
    for warning in app.snapshot.iter().flat_map(|s| &s.warnings) {
        lines.push(Line::styled(format!(" ⚠ {warning}"), style::WARNING));
    }
    if !app.exited.is_empty() {
        let gone: Vec<String> = app.exited.iter().map(|p| process_text(app, *p)).collect();
        lines.push(Line::styled(
            format!(" {} exited; showing the last view", gone.join(", ")),
            style::ERROR,
        ));
    }
    if let Some(error) = &app.error {
        lines.push(Line::styled(
            format!(" collecting failed: {error}"),
            style::ERROR,
        ));
    }
    lines
}

/// " · ⚠ 2 findings" (press d), coloured by the most severe; nothing when healthy.
fn findings_badge(app: &App) -> Option<Span<'static>> {
    let findings = &app.timeline.findings;
    let worst = findings.iter().map(|f| f.severity).max()?;
    let text = format!(" · ⚠ {} (d)", diagnostics::count_text(findings.len()));
    Some(Span::styled(text, diagnostics::severity_style(worst)))
}

/// "pid 1234 (nginx)", or "pids 1 (a), 2 (b)".
fn watched(app: &App) -> String {
    let texts: Vec<String> = app.pids.iter().map(|p| process_text(app, *p)).collect();
    texts.join(", ")
}

fn process_text(app: &App, pid: u32) -> String {
    match app.names.get(&pid) {
        Some(name) => format!("pid {pid} ({})", Escaped::str(name)),
        None => format!("pid {pid}"),
    }
}

pub fn interval_text(interval: std::time::Duration) -> String {
    let ms = interval.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// 1284 -> "1,284".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1284), "1,284");
        assert_eq!(super::thousands(1_000_000), "1,000,000");
    }
}
