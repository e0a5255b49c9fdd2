//! The state-machine pane (`m`): the TCP state diagram with the selected socket's
//! path through it (see `diagram`), the times it was seen in each state, the part it
//! plays when the demo gave it one, and what its state means, in the words of
//! `crate::states` (which doctor shares). UDP and unix sockets get the short form
//! (`short_form`): bound or not, connected or not, stream or datagram, the unix peer.
//!
//! ```text
//! ─ CLOSE_WAIT for 12.0s · tcp 127.0.0.1:8080 → 127.0.0.1:51300 · pid 901 nginx ──
//!  seen in ESTABLISHED +1.0s → CLOSE_WAIT +75.0s     (wide: a column, with causes)
//!  demo zoo-close-wait, its server's end: …          (when the demo gave it a part)
//!  the diagram (78×12)                               │ wide screens (≥118×28): the
//!  CLOSE_WAIT what it means; who is in it.           │ part, the path one state a
//!  Next: …. A problem when …: ….                     │ line, what earlier ones meant
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::details::elapsed_text;
use super::{diagram, line_fit, short_form, style, tcp_info};
use crate::model::{Proto, Socket, TcpState};
use crate::states::{self, End};
use crate::tui::app::{App, Details};

/// The columns the diagram needs to be drawn unwrapped.
pub const DIAGRAM_WIDTH: u16 = diagram::WIDTH;

/// From this size on, the path and the explanation get a column of their own.
const WIDE: u16 = 118;
const TALL: u16 = 28;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(details) = &app.details else {
        let block = Block::new().borders(Borders::TOP).title(" state machine ");
        let text = Line::styled(
            "  no socket selected: pick one in the table (Esc)",
            style::DIM,
        );
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(summary(details, area.width));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let s = &details.socket;
    if s.proto != Proto::Tcp {
        let mut lines = role_lines(app, s, inner.width);
        lines.extend(short_form::lines(s, inner.width));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let wide = inner.width >= WIDE && inner.height >= TALL;
    let (left, right) = if wide {
        let [left, _, right] = Layout::horizontal([
            Constraint::Length(diagram::WIDTH + 1),
            Constraint::Length(1),
            Constraint::Min(20),
        ])
        .areas(inner);
        (left, Some(right))
    } else {
        (inner, None)
    };
    let mut head = Vec::new();
    if !wide {
        head.push(path_line(app, details));
        head.extend(role_lines(app, s, left.width));
    }
    let head_height = wrapped_height(&head, left.width);
    let fits = left.width >= diagram::WIDTH;
    let diagram_height = if fits { diagram::HEIGHT } else { 1 };
    let [head_area, diagram_area, text_area] = Layout::vertical([
        Constraint::Length(head_height),
        Constraint::Length(diagram_height),
        Constraint::Min(0),
    ])
    .areas(left);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), head_area);
    if fits {
        frame.render_widget(Paragraph::new(diagram_lines(details)), diagram_area);
    } else {
        let note = format!(
            "  (the diagram needs {} columns; this is {})",
            diagram::WIDTH,
            left.width
        );
        frame.render_widget(Line::styled(note, style::DIM), diagram_area);
    }
    let explanation = if wide {
        let mut lines = vec![Line::raw("")];
        lines.extend(labelled(s.state, text_area.width));
        let glossary = glossary_lines(Some(s.state), text_area.width);
        if lines.len() + 1 + glossary.len() <= usize::from(text_area.height) {
            lines.push(Line::raw(""));
            lines.extend(glossary);
        }
        lines
    } else {
        let full = explanation_lines(s, text_area.width);
        if full.len() > usize::from(text_area.height) {
            // Short of rows: what the problem means is doctor's to say (d).
            short_explanation_lines(s, text_area.width)
        } else {
            full
        }
    };
    frame.render_widget(Paragraph::new(explanation), text_area);
    if let Some(right) = right {
        let mut lines = role_lines(app, s, right.width);
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.extend(path_list(app, details, right.width));
        frame.render_widget(Paragraph::new(lines), right);
    }
}

/// How many rows `lines` take wrapped at `width`.
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    rows.try_into().unwrap_or(u16::MAX)
}

/// `text` in lines of at most `width` columns, broken at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
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

/// `label` then `text` wrapped to fit `width`, the lines after the first indented by
/// the label's width, so the paragraph hangs under its label.
fn hang(label: Span<'static>, text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    let indent = label.width();
    indent_by(label, indent, text, width, style)
}

/// As `hang`, with the lines after the first indented by `indent`.
pub fn indent_by(
    label: Span<'static>,
    indent: usize,
    text: &str,
    width: u16,
    style: Style,
) -> Vec<Line<'static>> {
    let first = usize::from(width).saturating_sub(label.width());
    if first < 12 {
        // No room beside the label: it gets a line of its own.
        let mut lines = vec![Line::from(label)];
        let pad = Span::raw(" ".repeat(indent));
        lines.extend(indent_by(pad, indent, text, width, style));
        return lines;
    }
    let rest = usize::from(width).saturating_sub(indent);
    // Wrapped for the narrower of the two, then the first line filled up.
    let mut wrapped = wrap(text, first.min(rest)).into_iter();
    let mut parts: Vec<String> = wrapped.next().into_iter().collect();
    parts.extend(wrap(&wrapped.collect::<Vec<_>>().join(" "), rest));
    parts.retain(|p| !p.is_empty());
    let mut lines = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let head = if i == 0 {
            label.clone()
        } else {
            Span::raw(" ".repeat(indent))
        };
        lines.push(Line::from(vec![head, Span::styled(part, style)]));
    }
    lines
}

/// The diagram lit up by the socket's path: for the pane and the details.
pub fn diagram_lines(details: &Details) -> Vec<Line<'static>> {
    let s = &details.socket;
    let seen: Vec<TcpState> = details
        .seen
        .states
        .iter()
        .map(|(_, state)| *state)
        .collect();
    let mut path = diagram::Path::from_seen(&seen, s.state);
    if s.state == TcpState::Listen {
        // Recv-Q is the queue now, Send-Q the backlog: known from netlink (with tcp_info
        // even when 0), while /proc reads 0 whatever it is.
        let backlog = (s.send_q > 0 || s.tcp_info.is_some()).then_some(s.send_q);
        path.accept_queue = Some((s.recv_q, backlog));
    }
    diagram::lines(&path)
}

/// The state's two lines, wrapped at `width`: for the pane, the details and `?`.
pub fn explanation_lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let mut lines = meaning_lines(s, width);
    lines.extend(next_lines(s, width));
    lines
}

fn explanation(s: &Socket) -> [String; 2] {
    match s.proto {
        Proto::Tcp => states::tcp(s.state),
        _ => states::short_form(s).unwrap_or_else(|| states::tcp(s.state)),
    }
    .lines()
}

/// The first line: what the state means and who is in it, after its name.
pub fn meaning_lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let [first, _] = explanation(s);
    let name = Span::styled(format!("  {} ", s.state.name()), style::state(s.state));
    indent_by(name, 2, &first, width, Style::new())
}

/// The second: what happens next, and when it is a problem.
pub fn next_lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let [_, second] = explanation(s);
    hang(Span::raw("  "), &second, width, style::DIM)
}

/// "every other TCP state": each one's meaning in a line, cut with "…" where longer;
/// for `?` and the wide pane.
pub fn glossary_lines(except: Option<TcpState>, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(" every other TCP state", style::TITLE)];
    for state in states::TCP_STATES {
        if except == Some(state) {
            continue;
        }
        let label = diagram::state_label(state);
        let name = Span::styled(format!(" {label:<12}"), style::state(state));
        let text = states::tcp(state).meaning;
        let wrapped = wrap(text, usize::from(width.saturating_sub(14)));
        let more = if wrapped.len() > 1 { "…" } else { "" };
        let head = wrapped.first().cloned().unwrap_or_default();
        lines.push(Line::from(vec![
            name,
            Span::styled(format!("{head}{more}"), style::DIM),
        ]));
    }
    lines
}

/// The two lines without what the problem usually means, for a short screen.
fn short_explanation_lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let e = states::tcp(s.state);
    let [first, _] = e.lines();
    let second = format!("Next: {}. A problem when {} (see d).", e.next, e.when);
    let name = Span::styled(format!("  {} ", s.state.name()), style::state(s.state));
    let mut lines = indent_by(name, 2, &first, width, Style::new());
    lines.extend(hang(Span::raw("  "), &second, width, style::DIM));
    lines
}

/// The four parts of a TCP state's explanation, each under its name (the wide pane).
fn labelled(state: TcpState, width: u16) -> Vec<Line<'static>> {
    let e = states::tcp(state);
    let mut lines = vec![Line::from(vec![
        Span::raw("  "),
        Span::styled(
            state.name(),
            style::state(state).add_modifier(Modifier::BOLD),
        ),
    ])];
    let parts = [
        ("what it means", e.meaning.to_string()),
        ("who is in it", e.side.to_string()),
        ("what is next", e.next.to_string()),
        ("a problem when", format!("{}: {}", e.when, e.why)),
    ];
    for (name, text) in parts {
        let label = Span::styled(format!("  {name:<16}"), style::DIM);
        lines.extend(hang(label, &text, width, Style::new()));
    }
    lines
}

/// The pane's title: " CLOSE_WAIT for 12.0s · tcp 127.0.0.1:8080 → … · pid 901 nginx ",
/// in `width`: where narrow the owner's name goes first, then the age.
fn summary(details: &Details, width: u16) -> Line<'static> {
    let s = &details.socket;
    // A unix socket's path is another process's text.
    let local = crate::text::local_text(s);
    let ends = match (s.proto, s.state) {
        (Proto::Unix, _) => local,
        (_, TcpState::Listen | TcpState::Unconn) => local,
        _ => format!("{local} → {}", s.remote_text()),
    };
    let owner = match s.processes.first() {
        Some(o) => vec![
            vec![Span::raw(format!(
                "pid {} {}",
                o.pid,
                crate::text::escape(&o.process.comm)
            ))],
            vec![Span::raw(format!("pid {}", o.pid))],
        ],
        None => vec![
            vec![Span::raw("no process (the kernel holds it)")],
            vec![Span::raw("no process")],
        ],
    };
    let name = Span::styled(s.state.name(), style::state(s.state));
    let mut state = vec![vec![name.clone()]];
    let age = details.seen.state_age();
    if !age.is_zero() {
        let with_age = vec![name, Span::raw(format!(" for {}", elapsed_text(age)))];
        state.insert(0, with_age);
    }
    let ends = format!("{} {}", s.proto_text(), crate::text::escape(&ends));
    let mut parts = vec![state, vec![vec![Span::raw(ends)]], owner];
    if details.gone {
        let gone = Span::styled("closed, as last seen", style::WARNING);
        parts.push(vec![vec![gone]]);
    }
    // The border keeps a cell or two after the title. The state's name never goes.
    let steps: &[usize] = if parts[0].len() > 1 { &[2, 0] } else { &[2] };
    let mut line = line_fit::fit(" ", parts, " · ", steps, width.saturating_sub(3));
    line.spans.push(Span::raw(" "));
    line
}

/// "seen in ESTABLISHED +1.0s → CLOSE_WAIT +75.0s" (times since sockscope started).
fn path_line(app: &App, details: &Details) -> Line<'static> {
    let mut spans = vec![Span::styled(" seen in ", style::DIM)];
    let seen = &details.seen.states[..];
    for (i, (at, state)) in seen.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" → ", style::DIM));
        }
        spans.push(Span::styled(state.name(), style::state(*state)));
        spans.push(Span::raw(format!(" {}", since_start(app, *at))));
    }
    if seen.is_empty() {
        spans.push(Span::styled("(not tracked yet)", style::DIM));
    }
    if let Some(timer) = shown_timer(&details.socket) {
        spans.push(Span::styled(format!(" · timer {timer}"), style::DIM));
    }
    Line::from(spans)
}

/// The kernel's timer where it says what happens next (TIME_WAIT's end, the next
/// SYN or FIN resent); netlink only. "timewait, in 42.1 s: the kernel forgets …".
fn shown_timer(s: &Socket) -> Option<String> {
    let timer = s.timer.as_ref()?;
    let teaches = !matches!(s.state, TcpState::Established | TcpState::Listen);
    teaches.then(|| {
        format!(
            "{}: {}",
            tcp_info::timer_text(timer),
            tcp_info::timer_meaning(timer.kind)
        )
    })
}

/// The wide pane's path: one line per state, with when and why it got there.
fn path_list(app: &App, details: &Details, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        "its path (time since sockscope started)",
        style::TITLE,
    )];
    let seen = &details.seen.states[..];
    let mut previous: Option<TcpState> = None;
    for (at, state) in seen {
        let why = match previous {
            None => "first seen".to_string(),
            Some(from) => states::cause(from, *state)
                .map_or_else(|| "between two refreshes".to_string(), str::to_string),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", state.name()), style::state(*state)),
            Span::raw(since_start(app, *at)),
        ]));
        lines.extend(hang(Span::raw("  "), &why, width, style::DIM));
        previous = Some(*state);
    }
    if let Some(timer) = shown_timer(&details.socket) {
        lines.extend(hang(Span::raw("  timer "), &timer, width, style::DIM));
    }
    // What each earlier state meant, for reading the path back.
    let earlier: Vec<TcpState> = seen.iter().map(|(_, s)| *s).collect();
    let mut told = Vec::new();
    for state in earlier.iter().rev().skip(1) {
        if told.contains(state) || *state == details.socket.state {
            continue;
        }
        told.push(*state);
        lines.push(Line::raw(""));
        lines.push(Line::styled(state.name(), style::state(*state)));
        let first = &states::tcp(*state).lines()[0];
        lines.extend(hang(Span::raw("  "), first, width, style::DIM));
    }
    lines
}

fn since_start(app: &App, at: std::time::SystemTime) -> String {
    let since = at.duration_since(app.started_at).unwrap_or_default();
    format!("+{}", elapsed_text(since))
}

/// "demo zoo-syn: backlog-0 listener …; this socket is the server's end".
fn role_lines(app: &App, s: &Socket, width: u16) -> Vec<Line<'static>> {
    let Some((role, end)) = states::role_of(&app.roles, s) else {
        return Vec::new();
    };
    let end = match end {
        End::Server => "its server's end",
        End::Client => "a client's end",
    };
    let label = Span::styled(format!(" demo {}, {end}: ", role.name), style::KEY);
    indent_by(
        label,
        2,
        &crate::text::escape(&role.part),
        width,
        Style::new(),
    )
}
