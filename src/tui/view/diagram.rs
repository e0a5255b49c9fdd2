//! The TCP state diagram, drawn with box-drawing characters on a 78×13 grid: every
//! state, every transition labelled by what causes it. A socket's path lights it up:
//! its current state in brackets and reversed, the states it was seen in earlier
//! ticked, and the transitions it took drawn bright.
//!
//! ```text
//!        ┌───── listen() ────── CLOSED ────── connect() / SYN sent ───────┐
//!        ▼            an RST received: CLOSED, from any state             ▼
//!      LISTEN                                                        [SYN_SENT]
//!        ▼ SYN rcvd / SYN+ACK sent               SYN+ACK rcvd / ACK sent │
//!      SYN_RECV ───── ACK rcvd ──────► ESTABLISHED ◄──────────────────────┘
//!   … then the active close down the left, the passive close down the right
//! ```

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::style;
use crate::model::TcpState;
use crate::states;

/// The grid's size: it needs this much room to be drawn unwrapped.
pub const WIDTH: u16 = 78;
pub const HEIGHT: u16 = 12;

/// What a cell of the grid belongs to, which decides its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Plain,
    State(TcpState),
    /// A transition: its arrow and its label.
    Edge(TcpState, TcpState),
    /// A listener's accept queue, beside LISTEN.
    Queue,
    Note,
}

/// Where the socket is and has been: what lights the diagram up.
#[derive(Clone, Debug, Default)]
pub struct Path {
    pub current: Option<TcpState>,
    /// Earlier states, oldest first (the current one not included).
    pub earlier: Vec<TcpState>,
    /// Transitions taken, as (from, to).
    pub taken: Vec<(TcpState, TcpState)>,
    /// A listener's accept queue: connections waiting, and the backlog when known.
    pub accept_queue: Option<(u32, Option<u32>)>,
}

impl Path {
    /// From the states a socket was seen in, oldest first, ending in its current one.
    /// LISTEN and SYN_SENT are entered only from CLOSED, so that step is known even
    /// when tracking began later.
    pub fn from_seen(seen: &[TcpState], current: TcpState) -> Path {
        let mut states: Vec<TcpState> = seen.to_vec();
        if states.last() != Some(&current) {
            states.push(current);
        }
        let mut taken: Vec<(TcpState, TcpState)> = states
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|(a, b)| states::cause(*a, *b).is_some())
            .collect();
        if let Some(&first @ (TcpState::Listen | TcpState::SynSent)) = states.first() {
            taken.insert(0, (TcpState::Close, first));
        }
        let earlier = states[..states.len() - 1].to_vec();
        Path {
            current: Some(current),
            earlier,
            taken,
            accept_queue: None,
        }
    }
}

struct Grid {
    cells: Vec<Vec<(char, Tag)>>,
}

impl Grid {
    fn new() -> Grid {
        Grid {
            cells: vec![vec![(' ', Tag::Plain); WIDTH as usize]; HEIGHT as usize],
        }
    }

    fn text(&mut self, row: usize, col: usize, text: &str, tag: Tag) {
        for (i, c) in text.chars().enumerate() {
            if let Some(cell) = self.cells[row].get_mut(col + i) {
                *cell = (c, tag);
            }
        }
    }

    fn state(&mut self, row: usize, col: usize, state: TcpState) {
        self.text(row, col, state_label(state), Tag::State(state));
    }

    /// `─` from `from` to `to` inclusive, with `label` centred on it (spaced).
    fn hline(&mut self, row: usize, from: usize, to: usize, label: &str, tag: Tag) {
        for col in from..=to {
            self.text(row, col, "─", tag);
        }
        if !label.is_empty() {
            let text = format!(" {label} ");
            let len = text.chars().count();
            let start = from + ((to + 1 - from).saturating_sub(len)) / 2;
            self.text(row, start, &text, tag);
        }
    }
}

/// CLOSE is drawn as the diagrams in the RFCs name it.
pub fn state_label(state: TcpState) -> &'static str {
    match state {
        TcpState::Close => "CLOSED",
        other => other.name(),
    }
}

/// The diagram's lines, styled for `path`.
pub fn lines(path: &Path) -> Vec<Line<'static>> {
    use TcpState::*;
    let mut g = Grid::new();
    let edge = Tag::Edge;
    // Opening: the passive side down the left, the active side down the right.
    g.text(0, 7, "┌", edge(Close, Listen));
    g.hline(0, 8, 28, "listen()", edge(Close, Listen));
    g.state(0, 30, Close);
    g.hline(0, 37, 71, "connect() / SYN sent", edge(Close, SynSent));
    g.text(0, 72, "┐", edge(Close, SynSent));
    g.text(1, 7, "▼", edge(Close, Listen));
    g.text(1, 72, "▼", edge(Close, SynSent));
    g.state(2, 5, Listen);
    g.state(2, 68, SynSent);
    g.text(3, 7, "▼ SYN rcvd / SYN+ACK sent", edge(Listen, SynRecv));
    g.text(
        3,
        47,
        "SYN+ACK rcvd / ACK sent │",
        edge(SynSent, Established),
    );
    g.state(4, 5, SynRecv);
    g.hline(4, 14, 34, "ACK rcvd", edge(SynRecv, Established));
    g.text(4, 35, "►", edge(SynRecv, Established));
    g.state(4, 37, Established);
    g.text(4, 49, "◄", edge(SynSent, Established));
    g.hline(4, 50, 71, "", edge(SynSent, Established));
    g.text(4, 72, "┘", edge(SynSent, Established));
    // Closing: whoever closes first goes left, the other side right.
    g.text(5, 10, "┌", edge(Established, FinWait1));
    g.hline(5, 11, 38, "close() / FIN sent", edge(Established, FinWait1));
    g.text(5, 39, "┘", edge(Established, FinWait1));
    g.text(5, 45, "└", edge(Established, CloseWait));
    g.hline(
        5,
        46,
        70,
        "FIN rcvd / ACK sent",
        edge(Established, CloseWait),
    );
    g.text(5, 71, "┐", edge(Established, CloseWait));
    g.text(6, 10, "▼", edge(Established, FinWait1));
    g.text(6, 71, "▼", edge(Established, CloseWait));
    g.state(7, 6, FinWait1);
    g.hline(7, 16, 40, "FIN rcvd / ACK sent", edge(FinWait1, Closing));
    g.text(7, 41, "►", edge(FinWait1, Closing));
    g.state(7, 43, Closing);
    g.state(7, 66, CloseWait);
    g.text(8, 1, "ACK rcvd ▼", edge(FinWait1, FinWait2));
    g.text(8, 36, "ACK rcvd ▼", edge(Closing, TimeWait));
    g.text(8, 52, "close() / FIN sent ▼", edge(CloseWait, LastAck));
    g.state(9, 6, FinWait2);
    g.hline(9, 16, 40, "FIN rcvd / ACK sent", edge(FinWait2, TimeWait));
    g.text(9, 41, "►", edge(FinWait2, TimeWait));
    g.state(9, 43, TimeWait);
    g.state(9, 67, LastAck);
    g.text(10, 33, "timeout 2MSL │", edge(TimeWait, Close));
    g.text(10, 62, "ACK rcvd │", edge(LastAck, Close));
    g.text(11, 46, "└", edge(TimeWait, Close));
    g.hline(11, 47, 55, "", edge(TimeWait, Close));
    g.text(11, 56, "►", edge(TimeWait, Close));
    g.state(11, 58, Close);
    g.text(11, 65, "◄", edge(LastAck, Close));
    g.hline(11, 66, 70, "", edge(LastAck, Close));
    g.text(11, 71, "┘", edge(LastAck, Close));
    g.text(1, 20, "an RST received: CLOSED, from any state", Tag::Note);
    g.text(10, 1, "[NOW] ✓ seen earlier", Tag::Note);
    g.text(11, 1, "rcvd: received", Tag::Note);
    if let Some((waiting, backlog)) = path.accept_queue {
        g.text(2, 13, &queue_text(waiting, backlog), Tag::Queue);
    }
    mark(&mut g, path);
    g.cells.iter().map(|row| styled(row, path)).collect()
}

/// "◄ ■□ 1 waiting for accept(), room for 1": the queue as cells, at most 10 (each
/// then a tenth of the room). The kernel lets backlog + 1 connections wait.
fn queue_text(waiting: u32, backlog: Option<u32>) -> String {
    const CELLS: u64 = 10;
    let waiting_cells = |room: u64| -> u64 {
        match room {
            0..=CELLS => u64::from(waiting).min(room),
            _ => (u64::from(waiting) * CELLS).div_ceil(room).min(CELLS),
        }
    };
    match backlog {
        Some(backlog) => {
            let room = u64::from(backlog) + 1;
            let filled = waiting_cells(room);
            let bar =
                "■".repeat(filled as usize) + &"□".repeat((room.min(CELLS) - filled) as usize);
            format!("◄ {bar} {waiting} waiting for accept(), room for {room}")
        }
        None => {
            let bar = "■".repeat(u64::from(waiting).min(CELLS) as usize) + " ";
            format!("◄ {}{waiting} waiting for accept()", bar.trim_start())
        }
    }
}

/// Brackets around the current state, a tick after the earlier ones, in the spaces
/// either side of each name.
fn mark(g: &mut Grid, path: &Path) {
    for row in &mut g.cells {
        let len = row.len();
        let mut col = 0;
        while col < len {
            let Tag::State(state) = row[col].1 else {
                col += 1;
                continue;
            };
            let end = (col..len)
                .find(|&c| row[c].1 != Tag::State(state))
                .unwrap_or(len);
            let tag = Tag::State(state);
            if path.current == Some(state) {
                if col > 0 {
                    row[col - 1] = ('[', tag);
                }
                if end < len {
                    row[end] = (']', tag);
                }
            } else if path.earlier.contains(&state) && end < len {
                row[end] = ('✓', tag);
            }
            col = end + 1;
        }
    }
}

fn cell_style(tag: Tag, path: &Path) -> Style {
    match tag {
        Tag::Plain => Style::new(),
        Tag::Note => style::DIM,
        Tag::Queue => style::state(TcpState::Listen),
        Tag::State(state) if path.current == Some(state) => {
            style::state(state).add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
        Tag::State(state) if path.earlier.contains(&state) => {
            style::state(state).add_modifier(Modifier::BOLD)
        }
        Tag::State(_) => Style::new().add_modifier(Modifier::BOLD),
        Tag::Edge(a, b) if path.taken.contains(&(a, b)) => style::KEY,
        Tag::Edge(..) => style::DIM,
    }
}

/// One grid row as spans, one per run of cells styled alike.
fn styled(row: &[(char, Tag)], path: &Path) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut current: Option<Style> = None;
    for &(c, tag) in row {
        let style = if c == ' ' && !matches!(tag, Tag::State(_)) {
            Style::new()
        } else {
            cell_style(tag, path)
        };
        if current != Some(style) && !text.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                current.unwrap_or_default(),
            ));
        }
        current = Some(style);
        text.push(c);
    }
    let trimmed = text.trim_end().to_string();
    if !trimmed.is_empty() {
        spans.push(Span::styled(trimmed, current.unwrap_or_default()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &Path) -> Vec<String> {
        lines(path).iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn every_state_is_drawn_and_fits() {
        let drawn = text(&Path::default()).join("\n");
        for state in states::TCP_STATES {
            assert!(drawn.contains(state_label(state)), "{state:?}");
        }
        for line in text(&Path::default()) {
            assert!(line.chars().count() <= WIDTH as usize, "{line}");
        }
    }

    #[test]
    fn the_path_is_marked() {
        use TcpState::*;
        let path = Path::from_seen(&[Established], CloseWait);
        assert_eq!(path.taken, [(Established, CloseWait)]);
        let drawn = text(&path).join("\n");
        assert!(drawn.contains("[CLOSE_WAIT]"), "{drawn}");
        assert!(drawn.contains("ESTABLISHED✓"), "{drawn}");
        // A connector came from CLOSED by connect(), whenever tracking began.
        let path = Path::from_seen(&[SynSent], SynSent);
        assert_eq!(path.taken, [(Close, SynSent)]);
        assert!(path.earlier.is_empty());
    }
}
