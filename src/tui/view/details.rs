//! Everything known about one socket: endpoints, state, queues, inode, user, every
//! owner with its full command line, the peer, the kernel's tcp_info, and the states
//! it was seen in since start.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{machine, peer, rates, style, tcp_info};
use crate::model::{Proto, Socket};
use crate::text::escape;
use crate::tui::app::{App, Details};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::new()
        .borders(Borders::TOP)
        .title(" socket details · Esc back · ↑/↓ next socket · PgUp/PgDn scroll ");
    let Some(details) = &app.details else {
        let text = Line::styled("  no socket selected", style::DIM);
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let lines = lines(app, details, area.width);
    let scroll = details.scroll.min(max_scroll(lines.len(), area));
    let body = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(body, area);
}

/// How far the pane in `area` can scroll: until its last line is at the bottom.
pub fn scroll_limit(area: Rect, app: &App) -> u16 {
    app.details
        .as_ref()
        .map_or(0, |d| max_scroll(lines(app, d, area.width).len(), area))
}

fn max_scroll(lines: usize, area: Rect) -> u16 {
    // The block's top border takes a line.
    let visible = area.height.saturating_sub(1) as usize;
    lines.saturating_sub(visible).try_into().unwrap_or(u16::MAX)
}

fn lines(app: &App, details: &Details, width: u16) -> Vec<Line<'static>> {
    let s = &details.socket;
    let mut lines = Vec::new();
    if details.gone {
        lines.push(Line::styled(
            "  this socket has closed; showing what was last seen",
            style::WARNING,
        ));
    }
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("  {name:<10}"), style::DIM),
            Span::raw(value),
        ])
    };
    let family = format!("{:?}", s.family).to_lowercase();
    let socket_type = format!("{:?}", s.socket_type).to_lowercase();
    lines.push(field(
        "protocol",
        format!("{} ({family}, {socket_type})", s.proto_text()),
    ));
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<10}", "state"), style::DIM),
        Span::styled(s.state.name(), style::state(s.state)),
    ]));
    // What the state means, in the words the state machine (m) and doctor use; what
    // comes next is with the diagram, at the end.
    lines.extend(machine::meaning_lines(s, width));
    // With names on (n, R), the names and, beside them, the numbers they stand for.
    let naming = &app.naming.naming;
    let both = |numbers: String, names: String| match names == numbers {
        true => numbers,
        false => format!("{names}  ({numbers})"),
    };
    let numbers = &crate::model::Naming::NUMERIC;
    lines.push(field(
        "local",
        both(
            crate::text::local_text(s),
            crate::text::local_text_with(s, naming),
        ),
    ));
    lines.push(field(
        "remote",
        both(
            crate::text::remote_text_with(s, numbers),
            crate::text::remote_text_with(s, naming),
        ),
    ));
    if s.detail.is_some() {
        let text = crate::column::Column::Detail.text(&crate::column::Row::new(s));
        lines.push(field("detail", text));
    }
    lines.push(field("recv-q", s.recv_q.to_string()));
    lines.push(field("send-q", s.send_q.to_string()));
    lines.push(field("inode", inode_text(s)));
    lines.push(field("user", user_text(s)));
    if let Some(netns) = &s.netns {
        lines.push(field("netns", escape(&netns_text(netns)).into_owned()));
    }
    for (name, value) in container_fields(s) {
        lines.push(field(name, escape(&value).into_owned()));
    }
    lines.extend(peer::lines(s));
    lines.push(Line::raw(""));
    lines.push(Line::styled("  owners", style::TITLE));
    if s.processes.is_empty() {
        lines.push(Line::styled(
            "    none visible (no process holds it, or owners are hidden)",
            style::DIM,
        ));
    }
    for owner in &s.processes {
        let cmdline = app.cmdlines.get(&owner.pid).map_or("", String::as_str);
        let who = Span::raw(format!(
            "    pid {:<7} fd {:<4} {:<10} {:<16} ",
            owner.pid,
            owner.fd,
            escape(&owner.process.user),
            escape(&owner.process.comm)
        ));
        // A long command line goes on under the pid, not back at the left edge.
        match escape(cmdline) {
            cmdline if cmdline.trim().is_empty() => lines.push(Line::from(who)),
            cmdline => lines.extend(machine::indent_by(who, 6, &cmdline, width, style::DIM)),
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "  seen in (time since sockscope started)",
        style::TITLE,
    ));
    for (at, state) in details.seen.states.iter() {
        let since = at.duration_since(app.started_at).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("    {:<12}", state.name()), style::state(*state)),
            Span::raw(format!("+{}", elapsed_text(since))),
        ]));
    }
    lines.extend(rates::details_lines(app, s));
    lines.extend(tcp_info::lines(app, s, width));
    // Last: the longest section, so on a short screen it is the one cut (PgDn, or m).
    lines.extend(machine_lines(details, width));
    lines
}

/// `blue (inode 4026532315)`, or the inode alone.
fn netns_text(netns: &crate::model::Netns) -> String {
    match &netns.name {
        Some(name) => format!("{name} (inode {})", netns.inode),
        None => format!("inode {}", netns.inode),
    }
}

/// The container and pod of the first owner in one: `docker web (4f1c0a9d3e5b)`,
/// `pod shop/cart-5f7`. Unescaped; the caller escapes.
fn container_fields(s: &Socket) -> Vec<(&'static str, String)> {
    let Some(c) = s
        .processes
        .iter()
        .find_map(|o| o.process.container.as_ref())
    else {
        return Vec::new();
    };
    let short = c.id.get(..12).unwrap_or(&c.id);
    let mut fields = vec![(
        "container",
        match &c.name {
            Some(name) => format!("{} {name} ({short})", c.runtime),
            None => format!("{} {short}", c.runtime),
        },
    )];
    if let Some(pod) = &c.pod {
        fields.push(("pod", pod.label()));
    }
    fields
}

/// A TCP socket's place on the state diagram, where the pane is wide enough to draw
/// it unwrapped; `m` shows it with the rest of the state machine.
fn machine_lines(details: &Details, width: u16) -> Vec<Line<'static>> {
    if details.socket.proto != Proto::Tcp {
        return Vec::new();
    }
    let mut lines = vec![
        Line::raw(""),
        Line::styled("  state machine (m: the whole pane)", style::TITLE),
    ];
    lines.extend(machine::next_lines(&details.socket, width));
    if width >= machine::DIAGRAM_WIDTH {
        lines.extend(machine::diagram_lines(details));
    }
    lines
}

fn inode_text(s: &Socket) -> String {
    match s.inode {
        0 => "0 (held by the kernel, no file: TIME_WAIT or not yet accepted)".into(),
        n => n.to_string(),
    }
}

/// The user's name when an owner runs as the socket's uid, else the number.
fn user_text(s: &Socket) -> String {
    match s.processes.iter().find(|o| o.process.uid == s.uid) {
        Some(o) => format!("{} (uid {})", escape(&o.process.user), s.uid),
        None => format!("uid {}", s.uid),
    }
}

/// "4.2s", "3m05s", "1h02m".
pub fn elapsed_text(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}
