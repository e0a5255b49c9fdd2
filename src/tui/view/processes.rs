//! The processes view, lsof-style: one row per process holding a shown socket.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::style;
use super::table::window;
use crate::model::{Proto, TcpState};
use crate::tui::app::App;
use crate::tui::rows::ProcessRow;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(1) as usize;
    let cursor = app.process_table;
    let (start, end) = window(cursor.selected, cursor.offset, app.processes.len(), height);
    let rows = app.processes[start..end]
        .iter()
        .enumerate()
        .map(|(i, p)| process_row(p, start + i == cursor.selected));
    let header = Row::new([
        Cell::from(""),
        Cell::from(Line::from("PID").right_aligned()),
        Cell::from("USER"),
        Cell::from("COMMAND"),
        Cell::from(Line::from("SOCKETS").right_aligned()),
        Cell::from("STATES"),
        Cell::from("LISTENING"),
    ])
    .style(style::HEADER_ROW);
    let widths = [
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(7),
        Constraint::Fill(2),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
    if app.processes.is_empty() {
        let below = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1).min(1),
            ..area
        };
        let text = "  no process holds a shown socket (or owners are hidden)";
        frame.render_widget(Line::styled(text, style::DIM), below);
    }
}

fn process_row(p: &ProcessRow, selected: bool) -> Row<'static> {
    let mut states: Vec<Span> = Vec::new();
    for (state, n) in &p.states {
        if !states.is_empty() {
            states.push(Span::raw(" "));
        }
        states.push(Span::styled(short(*state), style::state(*state)));
        states.push(Span::raw(format!(" {n}")));
    }
    let ports: Vec<String> = p
        .listening
        .iter()
        .map(|(proto, port)| match proto {
            Proto::Udp => format!("udp/{port}"),
            _ => port.to_string(),
        })
        .collect();
    let row = Row::new([
        Cell::from(if selected { "›" } else { " " }),
        Cell::from(Line::from(p.pid.to_string()).right_aligned()),
        Cell::from(p.user.to_string()),
        Cell::from(p.comm.to_string()),
        Cell::from(Line::from(p.sockets.to_string()).right_aligned()),
        Cell::from(Line::from(states)),
        Cell::from(ports.join(",")),
    ]);
    if selected {
        row.style(style::SELECTED)
    } else {
        row
    }
}

/// State names short enough for a column of several.
fn short(state: TcpState) -> &'static str {
    match state {
        TcpState::Established => "ESTAB",
        TcpState::CloseWait => "CLOSE_WAIT",
        TcpState::TimeWait => "TIME_WAIT",
        other => other.name(),
    }
}
