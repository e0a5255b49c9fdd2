//! The socket table. Only the rows on screen are built, so it costs the same at 100
//! sockets and at 100k. A gutter marks the selection (›), new sockets (+) and ones
//! that just vanished (-), so the marks survive a terminal without colours. `p` adds
//! a PEER column: who holds the other end of a local connection.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use super::{peer, rates, style};
use crate::model::{Proto, Socket};
use crate::tui::app::App;
use crate::tui::history;
use crate::tui::rows::{Column, RowRef};

const HEADERS: [&str; 12] = [
    "", "PROTO", "STATE", "LOCAL", "REMOTE", "RECV-Q", "SEND-Q", "RX/s", "TX/s", "PROCESS", "FD",
    "USER",
];
/// Columns whose text is right-aligned: numbers.
const RIGHT: [usize; 5] = [5, 6, 7, 8, 10];
/// RX/s and TX/s, shown only when rates can be known.
const RATE_COLUMNS: [usize; 2] = [7, 8];

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    // Without tcp_info (the /proc source) every rate is blank: leave the room to the rest.
    let with_rates = rates::known(app);
    let shown_column = move |i: &usize| with_rates || !RATE_COLUMNS.contains(i);
    let height = area.height.saturating_sub(1) as usize;
    let (start, end) = window(app.table.selected, app.table.offset, app.rows.len(), height);
    let shown = &app.rows[start..end];
    // Endpoints get the width the rows on screen need; the process name takes the rest.
    let fit = |text: fn(&Socket) -> String, header: usize| {
        let widest = shown.iter().map(|r| text(app.socket(*r)).chars().count());
        widest.max().unwrap_or(0).clamp(header, 45) as u16
    };
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(fit(Socket::local_text, 6)),
        Constraint::Length(fit(Socket::remote_text, 7)),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Length(8),
    ];
    if app.show_peer {
        widths.push(Constraint::Fill(1));
    }
    let widths = widths
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shown_column(i));
    let widths: Vec<Constraint> = widths.map(|(_, w)| w).collect();
    let rows = shown.iter().enumerate().map(|(i, row)| {
        let selected = start + i == app.table.selected;
        socket_row(app, *row, selected, shown_column)
    });
    let table = Table::new(rows, widths)
        .header(header(app, shown_column).style(style::HEADER_ROW))
        .column_spacing(1);
    frame.render_widget(table, area);
    if app.rows.is_empty() {
        let empty = match app.snapshot {
            None => "collecting…",
            Some(_) => "no sockets match",
        };
        let below = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1).min(1),
            ..area
        };
        frame.render_widget(Line::styled(format!("  {empty}"), style::DIM), below);
    }
}

/// The rows [start, end) to draw: from the app's offset, moved so the selection shows
/// even when the screen shrank since the app last scrolled.
pub fn window(selected: usize, offset: usize, len: usize, height: usize) -> (usize, usize) {
    let mut start = offset.min(len.saturating_sub(height));
    if selected < start {
        start = selected;
    } else if height > 0 && selected >= start + height {
        start = selected + 1 - height;
    }
    (start, (start + height).min(len))
}

fn header(app: &App, shown_column: impl Fn(&usize) -> bool) -> Row<'static> {
    let sorted: &[usize] = match app.sort.column {
        Column::State => &[2],
        Column::Local => &[3],
        Column::Remote => &[4],
        Column::RecvQ => &[5],
        Column::SendQ => &[6],
        Column::RxRate => &[7],
        Column::TxRate => &[8],
        Column::Rate => &[7, 8],
        Column::Process => &[9],
        Column::User => &[11],
    };
    // Queues and rates sort biggest first; the arrow shows the direction on screen.
    let descending = app.sort.column.descending() != app.sort.reverse;
    let arrow = if descending { "▼" } else { "▲" };
    let peer = app.show_peer.then_some("PEER");
    let headers = HEADERS.iter().chain(&peer).enumerate();
    Row::new(headers.filter(|(i, _)| shown_column(i)).map(|(i, h)| {
        let text = if sorted.contains(&i) {
            format!("{h}{arrow}")
        } else {
            h.to_string()
        };
        if RIGHT.contains(&i) {
            Cell::from(Line::from(text).right_aligned())
        } else {
            Cell::from(text)
        }
    }))
}

fn socket_row(
    app: &App,
    row: RowRef,
    selected: bool,
    shown_column: impl Fn(&usize) -> bool,
) -> Row<'static> {
    let socket = app.socket(row);
    let (mark, row_style) = match row {
        RowRef::Gone(_) => ('-', Some(style::GONE)),
        RowRef::Live(_) if history::is_new(&app.tracker, &socket.key()) => ('+', Some(style::NEW)),
        RowRef::Live(_) => (' ', None),
    };
    let gutter = format!("{}{mark}", if selected { '›' } else { ' ' });
    let owner = socket.processes.first();
    let [rx, tx] = rates::cells(app, socket);
    let mut cells = vec![
        Cell::from(gutter),
        Cell::from(socket.proto_text()),
        Cell::from(socket.state.name()).style(style::state(socket.state)),
        Cell::from(socket.local_text()),
        Cell::from(socket.remote_text()),
        Cell::from(Line::from(socket.recv_q.to_string()).right_aligned()),
        Cell::from(Line::from(socket.send_q.to_string()).right_aligned()),
        rx,
        tx,
        Cell::from(process_text(socket)),
        Cell::from(Line::from(owner.map_or(String::new(), |o| o.fd.to_string())).right_aligned()),
        Cell::from(user_text(socket)),
    ];
    if app.show_peer {
        cells.push(Cell::from(peer::column_text(socket)));
    }
    let cells = cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shown_column(i));
    let mut out = Row::new(cells.map(|(_, c)| c));
    if let Some(s) = row_style {
        out = out.style(s);
    }
    if selected {
        out = out.style(row_style.unwrap_or_default().patch(style::SELECTED));
    }
    out
}

/// "812 nginx", "+1" more when several processes share it, "-" when none is visible.
fn process_text(socket: &Socket) -> String {
    match socket.processes.as_slice() {
        [] => "-".into(),
        [one] => format!("{} {}", one.pid, one.comm),
        [first, rest @ ..] => format!("{} {} +{}", first.pid, first.comm, rest.len()),
    }
}

/// The owner's user name; with no owner visible, the socket's uid where the kernel
/// gives a real one (not for unix sockets, nor for sockets without a file).
fn user_text(socket: &Socket) -> String {
    match socket.processes.first() {
        Some(owner) => owner.user.to_string(),
        None if socket.inode == 0 || socket.proto == Proto::Unix => "-".into(),
        None => socket.uid.to_string(),
    }
}
