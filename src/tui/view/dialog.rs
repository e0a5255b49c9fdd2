//! The dialogs K and X open: what exactly would be done, to whom, and the keys that do
//! it. Nothing happens until one of those keys; Esc cancels.
//!
//! ```text
//! ┌ signal the owners of tcp 127.0.0.1:8080 LISTEN ───────────┐
//! │ pid 901 (nginx: master process), user root, 3 sockets      │
//! │ pid 902 (nginx: worker process), user www-data, 2 sockets  │
//! │                                                            │
//! │ t SIGTERM (asks it to stop)  k SIGKILL (forces)  Esc cancel│
//! └────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::style;
use crate::act;
use crate::model::{Socket, TcpState};
use crate::tui::app::{App, Dialog};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(dialog) = &app.actions.dialog else {
        return;
    };
    let (title, mut lines, keys) = match dialog {
        Dialog::Signal {
            targets,
            about,
            on_process,
        } => {
            let title = if *on_process {
                " signal this process ".to_string()
            } else {
                format!(
                    " signal the owners of {} {} ",
                    act::endpoints(about),
                    about.state.name()
                )
            };
            let lines = targets
                .iter()
                .map(|t| Line::raw(t.describe()))
                .collect::<Vec<_>>();
            let keys = vec![
                ("t", "SIGTERM (asks it to stop)"),
                ("k", "SIGKILL (forces it)"),
                ("Esc", "cancel"),
            ];
            (title, lines, keys)
        }
        Dialog::Close { socket } => {
            let mut lines = vec![
                Line::from(vec![
                    Span::raw(act::endpoints(socket)),
                    Span::raw(" "),
                    Span::styled(socket.state.name(), style::state(socket.state)),
                ]),
                Line::raw(act::holders(socket)),
            ];
            if let Some(peer) = socket.peer.as_ref().filter(|p| !p.processes.is_empty()) {
                let other = Socket {
                    processes: peer.processes.clone(),
                    ..socket.clone()
                };
                lines.push(Line::raw(format!("other end {}", act::holders(&other))));
            }
            let effect = if socket.state == TcpState::Listen {
                "The listener is destroyed in the kernel: no new connections to it."
            } else {
                "Destroyed in the kernel: its holder gets ECONNABORTED, the other end a reset."
            };
            lines.push(Line::styled(effect, style::DIM));
            let keys = vec![("y", "close it"), ("Esc", "cancel")];
            (" close this TCP connection ".to_string(), lines, keys)
        }
    };
    let mut spans = Vec::new();
    for (key, what) in keys {
        spans.push(Span::styled(key, style::KEY));
        spans.push(Span::raw(format!(" {what}   ")));
    }
    let keys = Line::from(spans);

    let width = 76.min(area.width.saturating_sub(2)).max(20);
    // Inside the border and a column of padding either side.
    let inner = width.saturating_sub(4).max(1) as usize;
    // The rows each line wraps to, by characters, and one more for a wrapped line
    // since words wrap earlier; a row too many is blank, one too few would hide text.
    let rows_of = |l: &Line| match l.width().max(1).div_ceil(inner) {
        1 => 1,
        n => n + 1,
    };
    // What does not fit (many workers sharing a listener) is counted, never silently cut.
    let room = area.height.saturating_sub(4).max(1) as usize;
    let total = lines.len();
    let fits =
        |lines: &[Line], extra: usize| lines.iter().map(rows_of).sum::<usize>() + extra <= room;
    if !fits(&lines, 0) {
        while lines.len() > 1 && !fits(&lines, 1) {
            lines.pop();
        }
    }
    if lines.len() < total {
        let more = format!("… and {} more, all included", total - lines.len());
        lines.push(Line::styled(more, style::DIM));
    }
    let rows: usize = lines.iter().map(rows_of).sum();
    // The text, a blank row, the keys, and the border.
    let height = (rows as u16 + 4).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    let block = Block::bordered()
        .title(Span::styled(title, style::TITLE))
        .border_style(style::WARNING)
        .padding(Padding::horizontal(1));
    let body = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [text_area, _, keys_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(body);
    let text = Paragraph::new(lines).wrap(Wrap { trim: false });
    frame.render_widget(text, text_area);
    frame.render_widget(keys, keys_area);
}
