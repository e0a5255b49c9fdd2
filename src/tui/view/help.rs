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

/// The keys column's width.
const KEYS_WIDTH: u16 = 62;
/// The states column's, beside the keys where the screen is wide enough.
const STATES_WIDTH: u16 = 56;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let mut keys: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<15}"), style::KEY),
                Span::raw(*what),
            ])
        })
        .collect();
    keys.push(Line::styled(" any key closes this help", style::DIM));
    let keys_height = keys.len() as u16 + 2;
    let socket = selected(app);
    let beside = area.width >= KEYS_WIDTH + STATES_WIDTH + 2 && socket.is_some();
    let (width, height, columns) = if beside {
        let states = states_lines(app, socket, STATES_WIDTH - 1, area.height - 2);
        let height = keys_height.max(states.len() as u16 + 2);
        let width = KEYS_WIDTH + STATES_WIDTH;
        (width, height, vec![keys, states])
    } else {
        let below = socket.map_or_else(Vec::new, |s| state_lines(s, KEYS_WIDTH - 2));
        let with_below = keys_height + below.len() as u16 + 1;
        if with_below <= area.height && !below.is_empty() {
            keys.push(Line::raw(""));
            keys.extend(below);
            (KEYS_WIDTH, with_below, vec![keys])
        } else if keys_height <= area.height {
            (KEYS_WIDTH, keys_height, vec![keys])
        } else {
            // Too short for one column of keys: two, side by side.
            let half = keys.len().div_ceil(2);
            let second = keys.split_off(half);
            let width = (KEYS_WIDTH * 2).min(area.width);
            (width, half as u16 + 2, vec![keys, second])
        }
    };
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    let block = Block::bordered().title(" keys ");
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    // Beside the keys: the keys keep their width. Two columns of keys: halves.
    let constraints = match (beside, columns.len()) {
        (true, _) => vec![Constraint::Length(KEYS_WIDTH - 1), Constraint::Min(1)],
        (false, 2) => vec![Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)],
        _ => vec![Constraint::Min(1)],
    };
    let areas = Layout::horizontal(constraints).split(inner);
    for (lines, column) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(lines), *column);
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
