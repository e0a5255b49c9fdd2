//! The socket table. Only the rows on screen are built, so it costs the same at 100
//! sockets and at 100k. A gutter marks the selection (›), new sockets (+) and ones
//! that just vanished (-), so the marks survive a terminal without colours. On a
//! narrow screen the columns shrink and drop as `Column::NARROWING` says. `p` adds
//! a PEER column: who holds the other end of a local connection.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use super::{rates, style};
use crate::column::{Align, Column, Row as Cells, Width, fit};
use crate::model::Naming;
use crate::tui::app::App;
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

/// The rows measured for the column widths: every shown row up to this many, else this
/// many spread evenly over them. The same rows whatever is on screen, so the widths
/// stay put while scrolling.
const MEASURED: usize = 1000;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(1) as usize;
    let (start, end) = window(app.table.selected, app.table.offset, app.rows.len(), height);
    let cells = |row: RowRef| {
        let socket = app.socket(row);
        Cells {
            socket,
            rate: rates::latest(app, row),
            naming: &app.naming.naming,
        }
    };
    let shown = fitted(app, area.width);
    let columns: Vec<Column> = shown.iter().map(|(c, _, _)| *c).collect();
    let mut widths = vec![Constraint::Length(2)];
    widths.extend(shown.iter().map(|(_, w, _)| Constraint::Length(*w)));
    let rows = (start..end).map(|i| {
        let row = app.rows[i];
        let cells = cells(row);
        let texts = shown
            .iter()
            .map(|(c, w, short)| {
                let mut text = match short {
                    true => c.short_text(&cells).unwrap_or_default(),
                    false => c.text(&cells),
                };
                if !fit::keeps_port(*c, &text, *w) {
                    // A service name too long to keep: the port's number.
                    let numbers = Naming {
                        services: None,
                        ..cells.naming.clone()
                    };
                    text = c.text(&Cells {
                        naming: &numbers,
                        ..cells
                    });
                }
                fit::squeeze(*c, &text, *w).into_owned()
            })
            .collect();
        socket_row(app, row, i == app.table.selected, &columns, texts)
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

/// The columns shown on a screen `width` wide, each with its width and whether it
/// shows its short form.
fn fitted(app: &App, width: u16) -> Vec<(Column, u16, bool)> {
    let all = columns(app);
    let cells = |row: RowRef| {
        let socket = app.socket(row);
        Cells {
            socket,
            rate: rates::latest(app, row),
            naming: &app.naming.naming,
        }
    };
    // What each column's cells need, over the whole filtered set (or a sample of it).
    let mut needs = vec![fit::Need::default(); all.len()];
    let n = app.rows.len();
    for k in 0..n.min(MEASURED) {
        let row = cells(app.rows[k * n / n.min(MEASURED)]);
        for (c, need) in all.iter().zip(&mut needs) {
            if matches!(c.spec().width, Width::Fixed(_)) {
                continue;
            }
            let width = |t: &str| t.chars().count() as u16;
            let text = c.text(&row);
            need.widest = need.widest.max(width(&text));
            if let Some(short) = c.short_text(&row) {
                need.widest_short = Some(need.widest_short.unwrap_or(0).max(width(&short)));
            }
            // An address column's usual cells: its addresses, not a unix socket's path.
            if matches!(c, Column::Local | Column::Remote) && !text.starts_with(['/', '@']) {
                need.usual = Some(need.usual.unwrap_or(0).max(width(&text)));
            }
        }
    }
    // What the user asked to see stays on a narrow screen: the column the rows are
    // sorted by (after `r`, the rates), PEER after `p`.
    let keep: Vec<Column> = all
        .iter()
        .copied()
        .filter(|c| app.sort.by.shows_on(*c) || *c == Column::Peer)
        .collect();
    // After the two-cell gutter.
    let fitted = fit::widths(&all, &needs, width.saturating_sub(3), 1, &keep);
    all.iter()
        .zip(&needs)
        .zip(&fitted)
        .filter_map(|((c, need), w)| {
            let w = (*w)?;
            Some((*c, w, need.widest_short.is_some() && w < need.widest))
        })
        .collect()
}

/// The socket column under screen column `x` of the table in `area`.
pub fn column_at(area: Rect, app: &App, x: u16) -> Option<Column> {
    // The gutter and its spacing, then each column and one cell between.
    let mut left = area.x + 3;
    for (column, width, _) in fitted(app, area.width) {
        if x >= left && x < left + width {
            return Some(column);
        }
        left += width + 1;
    }
    None
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
    let (mark, row_style) = match row.is_gone() {
        true => ('-', Some(style::GONE)),
        false if app.mark(row).is_some_and(|m| m.is_new()) => ('+', Some(style::NEW)),
        false => (' ', None),
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
