//! The title line (host, counts, interval, filter, paused), then the banner,
//! the snapshot's warnings, and what went wrong.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::line_fit::{self, Part};
use super::{diagnostics, style};
use crate::text::Escaped;
use crate::tui::app::{App, View};

pub fn height(app: &App, width: u16) -> u16 {
    lines(app, width).len() as u16
}

/// Right at the title line's end while paused.
const PAUSED: &str = "[paused] ";

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(Paragraph::new(lines(app, area.width)), area);
    if app.paused {
        let paused = Line::styled(PAUSED, style::WARNING).right_aligned();
        frame.render_widget(paused, Rect { height: 1, ..area });
    }
}

/// The title line in `room` cells. The findings badge stays whole longest: before
/// it goes short, the words around the numbers go, the watched process's name, the
/// host name and filter are cut, and the watched pid goes (the table shows it).
fn title(app: &App, room: u16) -> Line<'static> {
    let raw = |text: String| vec![Span::raw(text)];
    let host = Escaped::str(&app.hostname).to_string();
    let mut parts: Vec<Part> = vec![vec![vec![Span::styled("sockscope", style::TITLE)]]];
    const HOST: usize = 1;
    parts.push(vec![
        raw(format!("host {host}")),
        raw(host.clone()),
        raw(line_fit::cut(&host, 16)),
    ]);
    const WATCHED: usize = 2;
    parts.push(match app.pids.is_empty() {
        true => Vec::new(),
        false => vec![raw(watched(app, true)), raw(watched(app, false))],
    });
    const COUNTS: usize = 3;
    let counts = format!("{}/{}", thousands(app.shown()), thousands(app.total()));
    parts.push(vec![raw(format!("{counts} sockets")), raw(counts)]);
    const INTERVAL: usize = 4;
    let interval = match app.slowed {
        // The collector backed off: refreshes take longer than asked.
        Some(kept) => format!("{} (slowed)", interval_text(kept)),
        None => interval_text(app.interval),
    };
    parts.push(vec![raw(format!("every {interval}")), raw(interval)]);
    const FILTER: usize = 5;
    let filter = Escaped::str(app.filter.text.trim()).to_string();
    parts.push(match filter.is_empty() {
        true => Vec::new(),
        false => vec![
            raw(format!("filter: {filter}")),
            raw(format!("filter: {}", line_fit::cut(&filter, 12))),
        ],
    });
    const BADGE: usize = 6;
    parts.push(findings_badge(app));
    let steps = [
        HOST, INTERVAL, WATCHED, COUNTS, FILTER, HOST, WATCHED, BADGE, FILTER,
    ];
    line_fit::fit(" ", parts, " · ", &steps, room)
}

fn lines(app: &App, room: u16) -> Vec<Line<'static>> {
    let title_room = match app.paused {
        true => room.saturating_sub(PAUSED.len() as u16),
        false => room,
    };
    let mut lines = vec![title(app, title_room)];
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
            _ => lines.extend(app.banner.iter().flat_map(|b| legend_lines(b, room))),
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

/// A line of the banner in full, wrapped to `width`: a legend line ("127.0.0.1:80
/// echo server") goes on under its description, any other under its start.
fn legend_lines(line: &str, width: u16) -> Vec<Line<'static>> {
    let text = line.trim_start();
    let (label, rest) = match text.find("  ") {
        Some(at) => {
            let spaces = text[at..].len() - text[at..].trim_start().len();
            text.split_at(at + spaces)
        }
        None => ("", text),
    };
    let label = Span::raw(format!(" {label}"));
    let indent = label.width();
    super::machine::indent_by(label, indent, rest, width, ratatui::style::Style::new())
}

/// "⚠ 2 findings (d)" (press d), coloured by the most severe, or "⚠ 2 (d)" where
/// narrow; nothing when healthy.
fn findings_badge(app: &App) -> Part {
    let findings = &app.timeline.findings;
    let Some(worst) = findings.iter().map(|f| f.severity).max() else {
        return Vec::new();
    };
    let look = diagnostics::severity_style(worst);
    let long = format!("⚠ {} (d)", diagnostics::count_text(findings.len()));
    let short = format!("⚠ {} (d)", findings.len());
    vec![
        vec![Span::styled(long, look)],
        vec![Span::styled(short, look)],
    ]
}

/// "pid 1234 (nginx)", or "pids 1 (a), 2 (b)"; without `names`, "pid 1234".
fn watched(app: &App, names: bool) -> String {
    let texts: Vec<String> = match names {
        true => app.pids.iter().map(|p| process_text(app, *p)).collect(),
        false => app.pids.iter().map(|p| format!("pid {p}")).collect(),
    };
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
