//! The processes view, lsof-style: one row per process holding a shown socket, and
//! the processes it talks to over local connections.

use std::collections::{BTreeMap, BTreeSet};

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::style;
use super::table::window;
use crate::model::{Proto, TcpState};
use crate::text::{Escaped, escape};
use crate::tui::app::App;
use crate::tui::rows::ProcessRow;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if app.grouped {
        return super::containers::render(frame, area, app);
    }
    let height = area.height.saturating_sub(1) as usize;
    let cursor = app.process_table;
    let (start, end) = window(cursor.selected, cursor.offset, app.processes.len(), height);
    let shown = &app.processes[start..end];
    // STATES and LISTENING get the width the rows on screen need; TALKS TO the rest.
    let fit = |text: fn(&ProcessRow) -> String, header: usize, most: usize| {
        let widest = shown.iter().map(|p| text(p).chars().count());
        widest.max().unwrap_or(0).clamp(header, most) as u16
    };
    // On a narrow screen they share what the fixed columns leave (2/5, 3/10, the
    // rest), and each list is cut between items ("+N"), never inside one.
    let left = area.width.saturating_sub(1 + 7 + 8 + 16 + 7 + 7);
    let (mut states_width, mut listening_width) = (
        fit(|p| states_text(&p.states), 6, 40),
        fit(|p| listening_text(&p.listening), 9, 24),
    );
    if states_width + listening_width + 2 + 10 > left {
        states_width = states_width.min((left * 2 / 5).max(6));
        listening_width = listening_width.min((left * 3 / 10).max(9));
    }
    let widths = [
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(7),
        Constraint::Length(states_width),
        Constraint::Length(listening_width),
        Constraint::Fill(1),
    ];
    // The table lays its columns out the same way (Flex::Start, spacing 1).
    let talks_width = Layout::horizontal(widths)
        .flex(Flex::Start)
        .spacing(1)
        .split(area)[7]
        .width as usize;
    let rows = shown.iter().enumerate().map(|(i, p)| {
        let widths = [states_width.into(), listening_width.into(), talks_width];
        process_row(p, start + i == cursor.selected, widths)
    });
    let header = Row::new([
        Cell::from(""),
        Cell::from(Line::from("PID").right_aligned()),
        Cell::from("USER"),
        Cell::from("COMMAND"),
        Cell::from(Line::from("SOCKETS").right_aligned()),
        Cell::from("STATES"),
        Cell::from("LISTENING"),
        Cell::from("TALKS TO"),
    ])
    .style(style::HEADER_ROW);
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    draw_owner_table(frame, area, table, app.processes.is_empty());
}

/// Draws a table of owners (processes, or their containers), saying why it is empty.
pub(super) fn draw_owner_table(frame: &mut Frame, area: Rect, table: Table, empty: bool) {
    frame.render_widget(table, area);
    if empty {
        let below = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1).min(1),
            ..area
        };
        let text = "  no process holds a shown socket (or owners are hidden)";
        frame.render_widget(Line::styled(text, style::DIM), below);
    }
}

/// `widths`: of STATES, LISTENING and TALKS TO.
fn process_row(p: &ProcessRow, selected: bool, widths: [usize; 3]) -> Row<'static> {
    let [states_width, listening_width, talks_width] = widths;
    let row = Row::new([
        Cell::from(if selected { "›" } else { " " }),
        Cell::from(Line::from(p.pid.to_string()).right_aligned()),
        Cell::from(escape(&p.user).into_owned()),
        Cell::from(escape(&p.comm).into_owned()),
        Cell::from(Line::from(p.sockets.to_string()).right_aligned()),
        Cell::from(states_line(&p.states, states_width)),
        Cell::from(listed(&listening(&p.listening), ",", listening_width).1),
        Cell::from(talks_text(p, talks_width)),
    ]);
    if selected {
        row.style(style::SELECTED)
    } else {
        row
    }
}

/// The STATES cell: "LISTEN 1 ESTAB 2", each state in its colour, as many as fit in
/// `width`, then "+N".
pub(super) fn states_line(states: &BTreeMap<TcpState, usize>, width: usize) -> Line<'static> {
    let items: Vec<String> = states
        .iter()
        .map(|(s, n)| format!("{} {n}", short(*s)))
        .collect();
    let fits = listed(&items, " ", width).0;
    let mut spans: Vec<Span> = Vec::new();
    for (state, n) in states.iter().take(fits) {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(short(*state), style::state(*state)));
        spans.push(Span::raw(format!(" {n}")));
    }
    if fits < items.len() {
        let sep = if fits == 0 { "" } else { " " };
        spans.push(Span::raw(format!("{sep}+{}", items.len() - fits)));
    }
    Line::from(spans)
}

/// "LISTEN 1 ESTAB 2", as the STATES cell shows it (there in colour).
pub(super) fn states_text(states: &BTreeMap<TcpState, usize>) -> String {
    let states = states.iter().map(|(s, n)| format!("{} {n}", short(*s)));
    states.collect::<Vec<_>>().join(" ")
}

/// "22,8080,udp/53".
pub(super) fn listening_text(ports: &BTreeSet<(Proto, u16)>) -> String {
    listening(ports).join(",")
}

pub(super) fn listening(ports: &BTreeSet<(Proto, u16)>) -> Vec<String> {
    ports
        .iter()
        .map(|(proto, port)| match proto {
            Proto::Udp | Proto::Sctp | Proto::Mptcp => format!("{}/{port}", proto.name()),
            _ => port.to_string(),
        })
        .collect()
}

/// "nginx/901 ×3, curl/1500, itself ×2", as much as fits in `width`, then "+N" for
/// the processes left out.
pub fn talks_text(p: &ProcessRow, width: usize) -> String {
    let names: Vec<String> = p
        .talks_to
        .iter()
        .map(|t| {
            let who = if t.pid == p.pid {
                "itself".to_string()
            } else {
                format!("{}/{}", Escaped::str(&t.comm), t.pid)
            };
            match t.connections {
                1 => who,
                n => format!("{who} ×{n}"),
            }
        })
        .collect();
    listed(&names, ", ", width).1
}

/// `items` joined by `sep`, as many as fit in `width`, then "+N" for the ones left
/// out; and how many it shows.
pub(super) fn listed(items: &[String], sep: &str, width: usize) -> (usize, String) {
    let mut text = String::new();
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { sep };
        let more = match items.len() - i - 1 {
            0 => 0,
            n => sep.chars().count() + format!("+{n}").len(),
        };
        let needed = text.chars().count() + sep.chars().count() + item.chars().count() + more;
        if needed > width {
            text.push_str(&format!("{sep}+{}", items.len() - i));
            return (i, text);
        }
        text.push_str(sep);
        text.push_str(item);
    }
    (items.len(), text)
}

/// State names short enough for a column of several: ss's.
fn short(state: TcpState) -> &'static str {
    state.ss_name()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::tui::rows::Talk;

    #[test]
    fn talks_to_is_cut_to_fit_saying_how_many_more() {
        let talk = |pid, comm: &str, connections| Talk {
            pid,
            comm: Arc::from(comm),
            connections,
        };
        let row = ProcessRow {
            pid: 7,
            comm: Arc::from("app"),
            user: Arc::from("root"),
            sockets: 9,
            states: Default::default(),
            listening: Default::default(),
            talks_to: vec![
                talk(901, "nginx", 3),
                talk(1500, "curl", 1),
                talk(7, "app", 2),
            ],
        };
        assert_eq!(talks_text(&row, 60), "nginx/901 ×3, curl/1500, itself ×2");
        assert_eq!(talks_text(&row, 30), "nginx/901 ×3, curl/1500, +1");
        assert_eq!(talks_text(&row, 20), "nginx/901 ×3, +2");
        assert_eq!(talks_text(&row, 5), "+3");
    }
}
