//! The socket table. Only the rows on screen are built, so it costs the same at 100
//! sockets and at 100k. A gutter marks the selection (›), new sockets (+) and ones
//! that just vanished (-), so the marks survive a terminal without colours. `p` adds
//! a PEER column: who holds the other end of a local connection.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use super::{rates, style};
use crate::column::{Align, Column, Row as Cells, Width};
use crate::tui::app::App;
use crate::tui::history;
use crate::tui::rows::RowRef;

/// The columns shown: `Column::TUI`, without the rates when the source gives none (the
/// /proc source: every rate would be blank, so the room goes to the rest), and PEER
/// only when asked for (`p`), NETNS/CONTAINER only when there are several namespaces.
fn columns(app: &App) -> Vec<Column> {
    let with_rates = rates::known(app);
    let shown: Vec<Column> = Column::TUI
        .into_iter()
        .filter(|c| with_rates || !c.is_rate())
        .filter(|c| app.show_peer || *c != Column::Peer)
        .collect();
    // NETNS/CONTAINER when more than one namespace is in view (`--all-netns`).
    let sockets = app.snapshot.as_ref().map_or(&[][..], |s| &s.sockets[..]);
    Column::with_place(&shown, sockets)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let columns = columns(app);
    let height = area.height.saturating_sub(1) as usize;
    let (start, end) = window(app.table.selected, app.table.offset, app.rows.len(), height);
    let shown = &app.rows[start..end];
    // Every cell's text, once: the fitted columns need the widest on screen.
    let texts: Vec<Vec<String>> = shown
        .iter()
        .map(|row| {
            let socket = app.socket(*row);
            let cells = Cells {
                socket,
                rate: rates::latest(app, socket),
            };
            columns.iter().map(|c| c.text(&cells)).collect()
        })
        .collect();
    // The gutter, then each column as its spec says.
    let mut widths = vec![Constraint::Length(2)];
    widths.extend(columns.iter().enumerate().map(|(i, c)| {
        let spec = c.spec();
        match spec.width {
            Width::Fixed(n) => Constraint::Length(n),
            Width::Fill => Constraint::Fill(1),
            Width::Fit { max } => {
                // Room for the header and its sort arrow.
                let least = spec.header.chars().count() + 1;
                let widest = texts.iter().map(|t| t[i].chars().count()).max();
                Constraint::Length(widest.unwrap_or(0).clamp(least, max.into()) as u16)
            }
        }
    }));
    let rows = shown
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(i, (row, texts))| {
            let selected = start + i == app.table.selected;
            socket_row(app, *row, selected, &columns, texts)
        });
    let table = Table::new(rows, widths)
        .header(header(app, &columns).style(style::HEADER_ROW))
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

fn header(app: &App, columns: &[Column]) -> Row<'static> {
    // Queues and rates sort biggest first; the arrow shows the direction on screen.
    let descending = app.sort.by.descending() != app.sort.reverse;
    let arrow = if descending { "▼" } else { "▲" };
    let headers = columns.iter().map(|c| {
        let spec = c.spec();
        let text = match app.sort.by.shows_on(*c) {
            true => format!("{}{arrow}", spec.header),
            false => spec.header.to_string(),
        };
        aligned(text, spec.align)
    });
    Row::new(std::iter::once(Cell::from("")).chain(headers))
}

fn aligned(text: String, align: Align) -> Cell<'static> {
    match align {
        Align::Left => Cell::from(text),
        Align::Right => Cell::from(Line::from(text).right_aligned()),
    }
}

fn socket_row(
    app: &App,
    row: RowRef,
    selected: bool,
    columns: &[Column],
    texts: Vec<String>,
) -> Row<'static> {
    let socket = app.socket(row);
    let (mark, row_style) = match row {
        RowRef::Gone(_) => ('-', Some(style::GONE)),
        RowRef::Live(_) if history::is_new(&app.tracker, &socket.key()) => ('+', Some(style::NEW)),
        RowRef::Live(_) => (' ', None),
    };
    let gutter = format!("{}{mark}", if selected { '›' } else { ' ' });
    let cells = columns.iter().zip(texts).map(|(c, text)| {
        let cell = aligned(text, c.spec().align);
        match c {
            Column::State => cell.style(style::state(socket.state)),
            _ => cell,
        }
    });
    let mut out = Row::new(std::iter::once(Cell::from(gutter)).chain(cells));
    if let Some(s) = row_style {
        out = out.style(s);
    }
    if selected {
        out = out.style(row_style.unwrap_or_default().patch(style::SELECTED));
    }
    out
}
