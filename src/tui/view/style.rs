//! Colours that mean something: calm for listeners, healthy for established,
//! amber for the states a connection passes through, alarming for CLOSE_WAIT (the
//! application has not closed its end), dim for TIME_WAIT (the kernel's business).

use ratatui::style::{Color, Modifier, Style};

use crate::model::TcpState;
use crate::tui::history::Bucket;

pub fn state(state: TcpState) -> Style {
    match state {
        TcpState::Listen => Style::new().fg(Color::Cyan),
        TcpState::Established => Style::new().fg(Color::Green),
        TcpState::SynSent
        | TcpState::SynRecv
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::Closing
        | TcpState::LastAck => Style::new().fg(Color::Yellow),
        TcpState::CloseWait => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        TcpState::TimeWait => Style::new().fg(Color::DarkGray),
        TcpState::Close | TcpState::Unconn => Style::new(),
    }
}

pub fn bucket(bucket: Bucket) -> Style {
    match bucket {
        Bucket::Tcp(s) => state(s),
        Bucket::Udp => Style::new().fg(Color::Magenta),
        Bucket::Unix => Style::new().fg(Color::Blue),
        Bucket::More(_) => Style::new().fg(Color::Cyan),
    }
}

/// Every colour out of `buffer`, the modifiers kept: the live view without colour
/// (the selection is reversed, headers bold, new sockets bold, vanished ones crossed
/// out), so it reads the same.
pub fn strip_colours(buffer: &mut ratatui::buffer::Buffer) {
    for cell in &mut buffer.content {
        cell.set_fg(Color::Reset);
        cell.set_bg(Color::Reset);
    }
}

pub const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
pub const HEADER_ROW: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Gray)
    .add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
/// A socket that appeared at the last refresh.
pub const NEW: Style = Style::new()
    .fg(Color::LightGreen)
    .add_modifier(Modifier::BOLD);
/// A socket that vanished at the last refresh.
pub const GONE: Style = Style::new()
    .fg(Color::DarkGray)
    .add_modifier(Modifier::CROSSED_OUT);
pub const WARNING: Style = Style::new().fg(Color::Yellow);
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const KEY: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
