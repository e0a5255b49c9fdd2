//! The help overlay: every key, from the same table `event.rs` documents.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style;
use crate::tui::app::App;
use crate::tui::event::KEYS;

pub fn render(frame: &mut Frame, area: Rect, _app: &App) {
    let width = 62.min(area.width);
    let height = (KEYS.len() as u16 + 3).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<15}"), style::KEY),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::styled(" any key closes this help", style::DIM));
    let block = Block::bordered().title(" keys ");
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
