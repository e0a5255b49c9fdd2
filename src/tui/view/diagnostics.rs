//! The diagnostics view (`d`): the findings of `diagnose` over the app's Tracker,
//! the same rules and thresholds as `sockscope doctor`, most severe first. Each says
//! what, who, what it usually means, what to check next, and the sockets involved.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::style;
use crate::diagnose::{Finding, Severity};
use crate::model::endpoint_text;
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let findings = &app.timeline.findings;
    let block = Block::new().borders(Borders::TOP).title(format!(
        " diagnostics · {} · of every collected socket, not just the filtered · Esc back ",
        count_text(findings.len())
    ));
    let lines: Vec<Line> = if findings.is_empty() {
        healthy(app)
    } else {
        findings.iter().flat_map(finding_lines).collect()
    };
    let scroll = app
        .timeline
        .diagnostics_scroll
        .min(lines.len().saturating_sub(1));
    let body = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((scroll as u16, 0));
    frame.render_widget(body, area);
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

fn healthy(app: &App) -> Vec<Line<'static>> {
    let text = match app.tracker.snapshots_seen() {
        0 => "  collecting…".to_string(),
        _ => format!(
            "  no findings: {} sockets look healthy",
            app.tracker.live().count()
        ),
    };
    vec![
        Line::styled(text, style::DIM),
        Line::raw(""),
        Line::styled(
            "  checked: CLOSE_WAIT held, TIME_WAIT vs the port range, accept queues and \
             ListenOverflows, SYN_SENT unanswered, Recv-Q unread, Send-Q stuck",
            style::DIM,
        ),
    ]
}

/// Exactly `app::finding_lines(f)` lines, so the app can bound the scroll.
fn finding_lines(f: &Finding) -> Vec<Line<'static>> {
    let severity = match f.severity {
        Severity::Warning => "WARNING ",
        Severity::Critical => "CRITICAL",
    };
    let label = |name: &str| Span::styled(format!("    {name:<9}"), style::DIM);
    let processes: Vec<String> = f
        .processes
        .iter()
        .map(|p| format!("{} {}", p.pid, p.comm))
        .collect();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("  {severity} "), severity_style(f.severity)),
            Span::styled(format!("{}: ", f.kind.label()), style::TITLE),
            Span::raw(f.summary.clone()),
        ]),
        Line::from(vec![
            label("who"),
            Span::raw(match processes.is_empty() {
                true => "no visible process".to_string(),
                false => processes.join(", "),
            }),
        ]),
        Line::from(vec![label("means"), Span::raw(f.meaning)]),
        Line::from(vec![label("check"), Span::raw(f.next_steps)]),
    ];
    for fs in &f.sockets {
        let s = &fs.socket;
        lines.push(Line::from(vec![
            label(""),
            Span::raw(format!("{} ", s.proto_text())),
            Span::styled(format!("{:<11} ", s.state.name()), style::state(s.state)),
            Span::raw(format!(
                "{} → {}  recv-q {} send-q {}  {:.1}s in state",
                s.local_text(),
                s.remote.map_or_else(|| "*".into(), endpoint_text),
                s.recv_q,
                s.send_q,
                fs.state_secs,
            )),
        ]));
    }
    if f.socket_count > f.sockets.len() {
        lines.push(Line::styled(
            format!(
                "             … and {} more",
                f.socket_count - f.sockets.len()
            ),
            style::DIM,
        ));
    }
    lines.push(Line::raw(""));
    lines
}
