//! The diagnostics view (`d`): the findings of `diagnose` over the app's Tracker,
//! the same rules and thresholds as `sockscope doctor`, most severe first. Each says
//! what, who, what it usually means, what to check next, and the sockets involved.
//! ↑/↓ move by whole findings; long text wraps under its label.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{line_fit, style};
use crate::diagnose::{Finding, RULES, Severity};
use crate::tui::app::App;

/// Where wrapped text continues: under the text after "    means    ".
const INDENT: usize = 13;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let findings = &app.timeline.findings;
    let first = app
        .timeline
        .diagnostics_first
        .min(findings.len().saturating_sub(1));
    let raw = |text: String| vec![Span::raw(text)];
    let position = match findings.len() {
        0 | 1 => Vec::new(),
        n => vec![
            raw(format!("from {} of {n} (↑/↓)", first + 1)),
            raw(format!("{} of {n}", first + 1)),
        ],
    };
    const POSITION: usize = 2;
    const SCOPE: usize = 3;
    const BACK: usize = 4;
    let parts = vec![
        vec![raw("diagnostics".into())],
        vec![raw(count_text(findings.len()))],
        position,
        vec![
            raw("every collected socket, whatever the filter".into()),
            raw("unfiltered".into()),
        ],
        vec![raw("Esc back".into())],
    ];
    // The border keeps a cell or two of its line after the title.
    let room = area.width.saturating_sub(3);
    let mut title = line_fit::fit(" ", parts, " · ", &[SCOPE, BACK, POSITION, SCOPE], room);
    title.spans.push(Span::raw(" "));
    let block = Block::new().borders(Borders::TOP).title(title);
    let width = area.width as usize;
    let lines: Vec<Line> = if findings.is_empty() {
        healthy(app, width)
    } else {
        let shown = &findings[first..];
        shown.iter().flat_map(|f| finding_lines(f, width)).collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::Warning => style::WARNING,
        Severity::Critical => style::ERROR,
    }
}

/// "1 finding", "3 findings".
pub fn count_text(n: usize) -> String {
    match n {
        1 => "1 finding".into(),
        n => format!("{n} findings"),
    }
}

fn healthy(app: &App, width: usize) -> Vec<Line<'static>> {
    let text = match app.tracked.snapshots_seen {
        0 => "collecting…".to_string(),
        _ => format!(
            "no findings: {} sockets look healthy",
            app.tracked.live_count
        ),
    };
    let checks: Vec<&str> = RULES.iter().map(|r| r.checks).collect();
    let checked = format!("checked: {}", checks.join(", "));
    let mut lines = vec![Line::styled(format!("  {text}"), style::DIM), Line::raw("")];
    lines.extend(
        wrap(&checked, width.saturating_sub(4))
            .into_iter()
            .map(|l| Line::styled(format!("  {l}"), style::DIM)),
    );
    lines
}

fn finding_lines(f: &Finding, width: usize) -> Vec<Line<'static>> {
    let severity = format!("{:<8}", f.severity.name());
    let who = f.who();
    let text_width = width.saturating_sub(INDENT + 1).max(20);
    let mut lines = Vec::new();
    let headline = f.headline();
    for (i, part) in wrap(&headline, text_width).into_iter().enumerate() {
        let lead = match i {
            0 => Span::styled(format!("  {severity}   "), severity_style(f.severity)),
            _ => Span::raw(" ".repeat(INDENT)),
        };
        lines.push(Line::from(vec![lead, Span::styled(part, style::TITLE)]));
    }
    for (label, text) in [
        ("who", who.as_str()),
        ("means", f.meaning),
        ("check", f.next_steps),
    ] {
        for (i, part) in wrap(text, text_width).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("    {label:<9}"), style::DIM),
                Span::raw(part),
            ]));
        }
    }
    for fs in &f.sockets {
        let s = &fs.socket;
        let lead = format!("{}{} ", " ".repeat(INDENT), s.proto_text());
        let state = format!("{:<11} ", s.state.name());
        // The endpoints, the queues, the age: on a narrow screen they go on under the
        // state, each group whole.
        let text = format!("{}  {} in state", fs.ends_and_queues("→"), fs.age());
        let first = width.saturating_sub(lead.len() + state.len());
        let mut parts = pack(&text, first, width.saturating_sub(INDENT + 2)).into_iter();
        lines.push(Line::from(vec![
            Span::raw(lead),
            Span::styled(state, style::state(s.state)),
            Span::raw(parts.next().unwrap_or_default()),
        ]));
        for part in parts {
            lines.push(Line::raw(format!("{}{part}", " ".repeat(INDENT + 2))));
        }
    }
    if f.unlisted() > 0 {
        lines.push(Line::styled(
            format!("{}… and {} more", " ".repeat(INDENT), f.unlisted()),
            style::DIM,
        ));
    }
    lines.push(Line::raw(""));
    lines
}

/// The groups of `text` (parted by two spaces) into lines, the first at most `first`
/// characters, the rest `rest`; a group longer than its line gets one alone.
fn pack(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for group in text.split("  ").filter(|g| !g.is_empty()) {
        let room = if lines.len() == 1 { first } else { rest };
        let line = lines.last_mut().expect("never empty");
        if line.is_empty() || line.chars().count() + 2 + group.chars().count() <= room {
            if !line.is_empty() {
                line.push_str("  ");
            }
            line.push_str(group);
        } else {
            lines.push(group.to_string());
        }
    }
    lines
}

/// Words into lines of at most `width` characters (a longer word gets a line alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 6), [""]);
        assert_eq!(wrap("longerthanwidth x", 4), ["longerthanwidth", "x"]);
    }

    #[test]
    fn packs_whole_groups() {
        use super::pack;
        let text = "1.2.3.4:5 → 6.7.8.9:10  recv-q 0 send-q 0  4.0s in state";
        assert_eq!(pack(text, 80, 80), [text]);
        assert_eq!(
            pack(text, 41, 30),
            ["1.2.3.4:5 → 6.7.8.9:10  recv-q 0 send-q 0", "4.0s in state"]
        );
        assert_eq!(
            pack(text, 10, 20),
            [
                "1.2.3.4:5 → 6.7.8.9:10",
                "recv-q 0 send-q 0",
                "4.0s in state"
            ]
        );
    }
}
