//! Everything the UI loop reacts to, and the one place keys become actions.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::collect::kernel_counters::{ListenCounters, PortRange};
use crate::model::Snapshot;

/// One refresh, as the collector thread sends it to the UI.
#[derive(Clone, Debug)]
pub struct Update {
    /// The error text when the source failed this time (the UI keeps the last view).
    pub snapshot: Result<Snapshot, String>,
    /// Full command lines of the processes in the snapshot, by pid.
    pub cmdlines: HashMap<u32, String>,
    /// The watched pids (`--pid`) that have exited.
    pub exited: Vec<u32>,
    /// Names of the watched pids that run, also those holding no socket.
    pub names: HashMap<u32, String>,
    /// ListenOverflows/ListenDrops of the namespace read, when readable.
    pub listen_counters: Option<ListenCounters>,
    /// The ephemeral port range, when readable.
    pub port_range: Option<PortRange>,
}

/// What arrives on the UI loop's one channel.
#[derive(Clone, Debug)]
pub enum Input {
    Key(KeyEvent),
    /// A click or the wheel (mouse capture is on in the live view).
    Mouse(crossterm::event::MouseEvent),
    Resize,
    /// A refresh as collected: the app prepares it itself (tests, replays).
    Update(Box<Update>),
    /// A refresh the collector has prepared: the app swaps it in.
    Ready(Box<crate::tui::prepare::Ready>),
    /// SIGTERM, SIGHUP or SIGINT from outside.
    Quit,
    /// The collector thread panicked: nothing more will come.
    CollectorCrashed,
}

/// What a key asks the app to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: details of the socket, or the sockets of the process.
    Open,
    /// Esc: close the overlay or details, else clear the filter.
    Back,
    /// Tab: sockets <-> processes.
    SwitchView,
    EditFilter,
    FilterChar(char),
    FilterBackspace,
    /// The readline keys of the filter bar: cursor, kills, history.
    FilterEdit(crate::tui::app::Edit),
    /// Enter while editing: keep the filter, leave the bar.
    FilterDone,
    NextSort,
    ReverseSort,
    /// `r`: sort by total rate, busiest first.
    SortByRate,
    /// `e`: the events log (again: back to the sockets).
    Events,
    /// `d`: the diagnostics (again: back to the sockets).
    Diagnostics,
    /// `m`: the TCP state machine with the selected socket's path (again: back).
    Machine,
    TogglePause,
    /// `+`: refresh less often.
    Slower,
    /// `-`: refresh more often.
    Faster,
    ToggleHelp,
    /// A click on a row of the list shown: select it.
    Select(usize),
    /// A click on a column header: sort by it (again: reverse).
    SortBy(crate::column::Column),
    /// `p`: show or hide the PEER column.
    TogglePeer,
    /// `b`: the banner in full (the demo's legend), or folded into one line.
    ToggleBanner,
    /// `c`: the processes view grouped by container (or namespace), or not.
    ToggleGroups,
    /// `n`: port names (`:https`) or numbers.
    ToggleServices,
    /// `R`: remote host names (reverse DNS) or addresses.
    ToggleHosts,
    /// Replay only: `[` `]` one refresh back / forward, `{` `}` a minute, `t` a
    /// typed time.
    StepBack,
    StepForward,
    JumpBack,
    JumpForward,
    JumpTo,
    /// `K`: ask whether to signal the owners of the socket or process.
    AskSignal,
    /// `X`: ask whether to close the TCP connection in the kernel.
    AskClose,
    /// In the signal dialog: `t` SIGTERM, `k` SIGKILL.
    Signal(crate::act::Signal),
    /// In the close dialog: `y`.
    Confirm,
    Quit,
}

/// Every key with what it does, for the help overlay; keep in step with `action_for`.
pub const KEYS: [(&str, &str); 23] = [
    ("↑/↓  j/k", "move the selection"),
    ("PgUp/PgDn", "move a page; scroll the details"),
    ("g/G  Home/End", "first / last row"),
    ("Enter", "socket details; a process's sockets"),
    ("Esc", "close details or help; clear the filter"),
    ("Tab  c", "sockets / processes; c: by container, netns"),
    ("/", "edit the filter (applied as you type)"),
    ("  in filter", "Enter keeps, Esc clears, ↑/↓ history, ^U ^W"),
    (
        "  filter terms",
        "port:N :N state:S pid:N N tcp udp unix -4 -6",
    ),
    ("", "a state (estab), listening, or a word"),
    ("s / S", "sort by the next column / reverse the sort"),
    ("r", "sort by rate (RX+TX), busiest first"),
    ("e / d", "events log / diagnostics (Esc back)"),
    ("m", "TCP state machine, the socket's path on it"),
    ("space", "pause / resume refreshing"),
    ("+ / -", "refresh less / more often"),
    ("p / n / R", "on/off: PEER column, port names, host names"),
    ("b", "the whole banner (the demo's legend) / one line"),
    ("[ ] { } t", "replay: step, jump a minute, go to a time"),
    ("K / X", "signal the owners / close the TCP connection"),
    ("mouse", "click: select, or sort by a header; wheel: move"),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
];

/// The action of `key`; `editing` is whether the filter bar has the keyboard.
pub fn action_for(key: KeyEvent, editing: bool) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if editing && let Some(edit) = filter_edit(key.code, ctrl) {
        return Some(Action::FilterEdit(edit));
    }
    Some(match (editing, key.code) {
        (_, KeyCode::Char('c')) if ctrl => Action::Quit,
        (_, KeyCode::Up) => Action::Up,
        (_, KeyCode::Down) => Action::Down,
        (_, KeyCode::PageUp) => Action::PageUp,
        (_, KeyCode::PageDown) => Action::PageDown,
        (_, KeyCode::Home) => Action::Top,
        (_, KeyCode::End) => Action::Bottom,
        (_, KeyCode::Tab) => Action::SwitchView,
        (true, KeyCode::Enter) => Action::FilterDone,
        (true, KeyCode::Esc) => Action::Back,
        (true, KeyCode::Backspace) => Action::FilterBackspace,
        (true, KeyCode::Char(c)) if !ctrl => Action::FilterChar(c),
        (true, _) => return None,
        (false, KeyCode::Char('k')) => Action::Up,
        (false, KeyCode::Char('j')) => Action::Down,
        (false, KeyCode::Char('g')) => Action::Top,
        (false, KeyCode::Char('G')) => Action::Bottom,
        (false, KeyCode::Enter) => Action::Open,
        (false, KeyCode::Esc) => Action::Back,
        (false, KeyCode::Char('/')) => Action::EditFilter,
        (false, KeyCode::Char('s')) => Action::NextSort,
        (false, KeyCode::Char('S')) => Action::ReverseSort,
        (false, KeyCode::Char('r')) => Action::SortByRate,
        (false, KeyCode::Char('e')) => Action::Events,
        (false, KeyCode::Char('d')) => Action::Diagnostics,
        (false, KeyCode::Char('m')) => Action::Machine,
        (false, KeyCode::Char(' ')) => Action::TogglePause,
        (false, KeyCode::Char('+')) => Action::Slower,
        (false, KeyCode::Char('-')) => Action::Faster,
        (false, KeyCode::Char('?')) => Action::ToggleHelp,
        (false, KeyCode::Char('p')) => Action::TogglePeer,
        (false, KeyCode::Char('b')) => Action::ToggleBanner,
        (false, KeyCode::Char('c')) => Action::ToggleGroups,
        (false, KeyCode::Char('n')) => Action::ToggleServices,
        (false, KeyCode::Char('R')) => Action::ToggleHosts,
        (false, KeyCode::Char('[')) => Action::StepBack,
        (false, KeyCode::Char(']')) => Action::StepForward,
        (false, KeyCode::Char('{')) => Action::JumpBack,
        (false, KeyCode::Char('}')) => Action::JumpForward,
        (false, KeyCode::Char('t')) => Action::JumpTo,
        (false, KeyCode::Char('K')) => Action::AskSignal,
        (false, KeyCode::Char('X')) => Action::AskClose,
        (false, KeyCode::Char('q')) => Action::Quit,
        (false, _) => return None,
    })
}

/// The readline keys of the filter bar.
fn filter_edit(code: KeyCode, ctrl: bool) -> Option<crate::tui::app::Edit> {
    use crate::tui::app::Edit;
    Some(match code {
        KeyCode::Left => Edit::Left,
        KeyCode::Right => Edit::Right,
        KeyCode::Home => Edit::Start,
        KeyCode::End => Edit::End,
        KeyCode::Delete => Edit::Delete,
        KeyCode::Up => Edit::Older,
        KeyCode::Down => Edit::Newer,
        KeyCode::Char('a') if ctrl => Edit::Start,
        KeyCode::Char('e') if ctrl => Edit::End,
        KeyCode::Char('b') if ctrl => Edit::Left,
        KeyCode::Char('f') if ctrl => Edit::Right,
        KeyCode::Char('d') if ctrl => Edit::Delete,
        KeyCode::Char('u') if ctrl => Edit::KillToStart,
        KeyCode::Char('k') if ctrl => Edit::KillToEnd,
        KeyCode::Char('w') if ctrl => Edit::KillWord,
        _ => return None,
    })
}

/// The action of `key` while a K or X dialog is open: only its own keys act, so no
/// stray key does anything, and nothing happens without its confirmation key.
pub fn dialog_action_for(key: KeyEvent) -> Option<Action> {
    use crate::act::Signal;
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('t') => Action::Signal(Signal::Term),
        KeyCode::Char('k') => Action::Signal(Signal::Kill),
        KeyCode::Char('y') => Action::Confirm,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn letters_are_commands_unless_editing() {
        assert_eq!(
            action_for(key(KeyCode::Char('q')), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(key(KeyCode::Char('q')), true),
            Some(Action::FilterChar('q'))
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl_c, true), Some(Action::Quit));
        assert_eq!(action_for(ctrl_c, false), Some(Action::Quit));
        assert_eq!(action_for(key(KeyCode::Esc), true), Some(Action::Back));
        assert_eq!(
            action_for(key(KeyCode::Enter), true),
            Some(Action::FilterDone)
        );
        assert_eq!(action_for(key(KeyCode::Char('x')), false), None);
    }

    #[test]
    fn dialogs_take_only_their_keys() {
        use crate::act::Signal;
        let act = |c| dialog_action_for(key(KeyCode::Char(c)));
        assert_eq!(act('t'), Some(Action::Signal(Signal::Term)));
        assert_eq!(act('k'), Some(Action::Signal(Signal::Kill)));
        assert_eq!(act('y'), Some(Action::Confirm));
        assert_eq!(act('q'), None);
        assert_eq!(act('j'), None);
        assert_eq!(dialog_action_for(key(KeyCode::Enter)), None);
        assert_eq!(dialog_action_for(key(KeyCode::Esc)), Some(Action::Back));
        assert_eq!(
            action_for(key(KeyCode::Char('K')), false),
            Some(Action::AskSignal)
        );
        assert_eq!(
            action_for(key(KeyCode::Char('X')), false),
            Some(Action::AskClose)
        );
    }

    #[test]
    fn time_keys() {
        let act = |c| action_for(key(KeyCode::Char(c)), false);
        assert_eq!(act('e'), Some(Action::Events));
        assert_eq!(act('d'), Some(Action::Diagnostics));
        assert_eq!(act('r'), Some(Action::SortByRate));
        assert_eq!(act('m'), Some(Action::Machine));
        assert_eq!(act('n'), Some(Action::ToggleServices));
        assert_eq!(act('R'), Some(Action::ToggleHosts));
        assert_eq!(
            action_for(key(KeyCode::Char('e')), true),
            Some(Action::FilterChar('e'))
        );
    }
}
