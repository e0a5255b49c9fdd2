//! The help overlay: every key, from the same table `event.rs` documents, and what
//! the selected socket's state means (in the state-machine view, with room: every
//! TCP state), in the words of `crate::states`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{machine, style};
use crate::model::Socket;
use crate::tui::app::{App, View};
use crate::tui::event::KEYS;

/// Where a key's words start.
const KEY_COLUMN: usize = 16;

/// The keys column's width, borders included: its longest line, whole.
fn keys_width() -> u16 {
    let longest = KEYS.iter().map(|(_, what)| what.chars().count());
    (KEY_COLUMN + longest.max().unwrap_or(0) + 3) as u16
}

/// The states column's, beside the keys where the screen is wide enough.
/// (66 + 52 + 2: at 120 columns, the state machine's `?` has every state beside the keys.)
const STATES_WIDTH: u16 = 52;

/// What the overlay shows and how big it is.
struct Help {
    width: u16,
    height: u16,
    /// One or two columns of lines.
    columns: Vec<Vec<Line<'static>>>,
    /// The keys beside the selected socket's state, each column its own width.
    beside: bool,
    /// How far the one column scrolls, where it is taller than the screen.
    scroll_limit: u16,
}

fn layout(area: Rect, app: &App) -> Help {
    let mut keys: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {key:<width$}", width = KEY_COLUMN - 1),
                    style::KEY,
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    keys.push(Line::styled(" any key closes this help", style::DIM));
    let keys_height = keys.len() as u16 + 2;
    let keys_width = keys_width();
    let socket = selected(app);
    let help = |width, height, columns, beside, scroll_limit| Help {
        width,
        height,
        columns,
        beside,
        scroll_limit,
    };
    if area.width >= keys_width + STATES_WIDTH + 2
        && keys_height <= area.height
        && let Some(socket) = socket
    {
        let states = states_lines(app, Some(socket), STATES_WIDTH - 1, area.height - 2);
        let height = keys_height.max(states.len() as u16 + 2);
        let width = keys_width + STATES_WIDTH;
        return help(width, height, vec![keys, states], true, 0);
    }
    let below = socket.map_or_else(Vec::new, |s| state_lines(s, keys_width - 2));
    let with_below = keys_height + below.len() as u16 + 1;
    if with_below <= area.height && !below.is_empty() {
        keys.push(Line::raw(""));
        keys.extend(below);
        help(keys_width, with_below, vec![keys], false, 0)
    } else if keys_height <= area.height {
        help(keys_width, keys_height, vec![keys], false, 0)
    } else if area.width >= keys_width * 2 + 2 {
        // Too short for one column of keys, wide enough for two side by side.
        let half = keys.len().div_ceil(2);
        let second = keys.split_off(half);
        help(
            keys_width * 2,
            half as u16 + 2,
            vec![keys, second],
            false,
            0,
        )
    } else {
        // Neither: one column that scrolls (↑/↓, PgUp/PgDn), saying so at its foot.
        let limit = keys_height - area.height;
        if let Some(last) = keys.last_mut() {
            *last = Line::styled(" ↑/↓ scroll; any other key closes this help", style::DIM);
        }
        help(keys_width, area.height, vec![keys], false, limit)
    }
}

/// How far the help scrolls on a screen of `area`: 0 where it fits. Known also
/// while it is closed, so keys that arrive with `?`, before a draw, find it.
pub fn scroll_limit(area: Rect, app: &App) -> u16 {
    layout(area, app).scroll_limit
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let help = layout(area, app);
    let [row] = Layout::vertical([Constraint::Length(help.height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(help.width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    let mut block = Block::bordered().title(" keys ");
    let scroll = app.help_scroll.min(help.scroll_limit);
    if help.scroll_limit > 0 {
        let more = help.scroll_limit - scroll;
        let hint = match (scroll, more) {
            (0, _) => format!(" ↓ {more} more: ↑/↓ scroll · other keys close "),
            (_, 0) => format!(" ↑ {scroll} above: ↑/↓ scroll · other keys close "),
            _ => format!(" ↑ {scroll} above, ↓ {more} more · other keys close "),
        };
        block = block.title_bottom(Line::styled(hint, style::KEY).right_aligned());
    }
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    // Beside the keys: the keys keep their width. Two columns of keys: halves.
    let constraints = match (help.beside, help.columns.len()) {
        (true, _) => vec![Constraint::Length(keys_width() - 1), Constraint::Min(1)],
        (false, 2) => vec![Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)],
        _ => vec![Constraint::Min(1)],
    };
    let areas = Layout::horizontal(constraints).split(inner);
    for (lines, column) in help.columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), *column);
    }
}

/// The socket whose state the help explains: the one shown in the details or the
/// state machine, else the selected row's.
fn selected(app: &App) -> Option<&Socket> {
    match app.view {
        View::Details | View::Machine => app.details.as_ref().map(|d| &d.socket),
        _ => app.selected_row().map(|r| app.socket(r)),
    }
}

/// "the selected socket: ESTABLISHED" and its two lines.
fn state_lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(" the selected socket's state", style::TITLE)];
    lines.extend(machine::explanation_lines(s, width));
    lines
}

/// The column beside the keys: the selected socket's state, then (in the state
/// machine, where it fits) what every other TCP state means, one line each.
fn states_lines(app: &App, s: Option<&Socket>, width: u16, room: u16) -> Vec<Line<'static>> {
    let mut lines = s.map_or_else(Vec::new, |s| state_lines(s, width));
    if app.view != View::Machine {
        return lines;
    }
    let mut every = vec![Line::raw("")];
    every.extend(machine::glossary_lines(s.map(|s| s.state), width));
    if lines.len() + every.len() <= usize::from(room) {
        lines.extend(every);
    }
    lines
}
