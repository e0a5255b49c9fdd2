//! The processes view grouped (`c`): a row per container (its name or short id,
//! runtime and pod) and per network namespace of the processes in none, with their
//! processes, sockets, states and listening ports.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use super::processes::{draw_owner_table, listed, listening, states_line, states_text};
use super::style;
use super::table::window;
use crate::text::Escaped;
use crate::tui::app::App;
use crate::tui::rows::groups::{GroupRow, Place};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(1) as usize;
    let cursor = app.process_table;
    let (start, end) = window(cursor.selected, cursor.offset, app.groups.len(), height);
    let shown = &app.groups[start..end];
    let texts: Vec<[String; 3]> = shown.iter().map(texts).collect();
    let fit = |i: usize, header: usize, most: usize| {
        let widest = texts.iter().map(|t| t[i].chars().count()).max();
        widest.unwrap_or(0).clamp(header, most) as u16
    };
    let (name_width, runtime_width, mut pod_width) = (fit(0, 15, 24), fit(1, 7, 14), fit(2, 3, 24));
    let mut states_width = shown
        .iter()
        .map(|g| states_text(&g.states).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 40) as u16;
    // On a narrow screen STATES gives way first (down to "+N"), then POD, so that
    // LISTENING keeps 9 columns: 7 spaces between 8 columns, the cursor, the counts.
    let left = area.width.saturating_sub(7 + 1 + 5 + 7 + 9);
    let taken = |states: u16, pod: u16| name_width + runtime_width + pod + states;
    if taken(states_width, pod_width) > left {
        let room = left.saturating_sub(taken(0, pod_width));
        states_width = states_width.min(room.max(6));
    }
    if taken(states_width, pod_width) > left {
        let room = left.saturating_sub(taken(states_width, 0));
        pod_width = pod_width.min(room.max(3));
    }
    let widths = [
        Constraint::Length(1),
        Constraint::Length(name_width),
        Constraint::Length(runtime_width),
        Constraint::Length(pod_width),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(states_width),
        Constraint::Fill(1),
    ];
    // LISTENING takes what is left on the line.
    let fixed = 1 + name_width + runtime_width + pod_width + 5 + 7 + states_width + 7;
    let listening_width = area.width.saturating_sub(fixed).max(9) as usize;
    let rows = shown.iter().zip(texts).enumerate().map(|(i, (g, text))| {
        let selected = start + i == cursor.selected;
        let [name, runtime, pod] = text;
        let row = Row::new([
            Cell::from(if selected { "›" } else { " " }),
            Cell::from(name),
            Cell::from(runtime),
            Cell::from(pod),
            Cell::from(Line::from(g.processes.to_string()).right_aligned()),
            Cell::from(Line::from(g.sockets.to_string()).right_aligned()),
            Cell::from(states_line(&g.states, states_width.into())),
            Cell::from(listed(&listening(&g.listening), ",", listening_width).1),
        ]);
        if selected {
            row.style(style::SELECTED)
        } else {
            row
        }
    });
    let header = Row::new([
        Cell::from(""),
        Cell::from("CONTAINER/NETNS"),
        Cell::from("RUNTIME"),
        Cell::from("POD"),
        Cell::from(Line::from("PROCS").right_aligned()),
        Cell::from(Line::from("SOCKETS").right_aligned()),
        Cell::from("STATES"),
        Cell::from("LISTENING"),
    ])
    .style(style::HEADER_ROW);
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    draw_owner_table(frame, area, table, app.groups.is_empty());
}

/// The name, runtime and pod cells, escaped: names come from the runtimes' state on
/// disk and from /run/netns, written by others.
fn texts(g: &GroupRow) -> [String; 3] {
    match &g.place {
        Place::Container(c) => [
            Escaped::str(c.label()).to_string(),
            c.runtime.to_string(),
            c.pod
                .as_ref()
                .map_or_else(|| "-".into(), |p| Escaped::str(&p.label()).to_string()),
        ],
        Place::Netns(n) => [
            match n {
                Some(n) => format!("netns {}", Escaped::str(&n.label())),
                None => "netns ?".into(),
            },
            "-".into(),
            "-".into(),
        ],
    }
}
