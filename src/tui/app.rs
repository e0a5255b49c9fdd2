//! The live view's state: what is shown, selected, sorted and filtered. No I/O: the
//! loop in `tui.rs` feeds it updates and actions, the views render it read-only, and
//! tests drive it the same way without a terminal.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::{Snapshot, Socket, SocketKey, TcpState};
use crate::track::{Event, Rate};

use super::event::Action;
use super::history::{Bucket, Mark, Seen, Tracked};
use super::prepare::{Note, Preparer};
use super::rows::{self, Cursor, ProcessRow, Row, RowRef, Rows, Sort, SortBy};

mod actions;
mod filter_bar;
mod groups;
mod help;
mod refresh;
mod replay;
mod table;
mod timeline;
pub use actions::{Actions, Dialog, Done, Request, Status};
pub use filter_bar::{Edit, FilterBar};
pub use refresh::Retired;
pub use replay::{ReplayState, Seek};
pub use timeline::Timeline;

/// What the app is started with; everything machine-specific comes in here.
#[derive(Clone, Debug)]
pub struct Config {
    pub hostname: String,
    pub banner: Vec<String>,
    pub pids: Vec<u32>,
    pub interval: Duration,
    /// The filter bar's starting text (the command line's filters).
    pub filter: String,
    /// "Seen in" times in the details view count from here.
    pub started_at: SystemTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Sockets,
    Processes,
    Details,
    /// The log of opened, closed and state-changed sockets.
    Events,
    /// The findings of `diagnose`, as `sockscope doctor` shows them.
    Diagnostics,
    /// The TCP state diagram with the details' socket on it (`m`).
    Machine,
}

/// The socket shown in the details view; kept when it vanishes, marked gone.
#[derive(Clone, Debug)]
pub struct Details {
    pub socket: Socket,
    pub gone: bool,
    /// Its rates, oldest first, for the sparklines: what the tracker had when the
    /// view opened, then one per refresh. Kept here, for the one socket shown, so the
    /// tracker needs only a few samples per socket (100k of them).
    pub rates: VecDeque<Rate>,
    /// Its history as of the last refresh that listed it: the states it passed
    /// through (kept when it is gone).
    pub seen: Seen,
    /// Its tcp_info comes with the next refresh: the live view's models keep only
    /// the details' socket's (`Preparer::live`).
    pub tcp_info_pending: bool,
    /// The first line shown (PgUp/PgDn), at most `scroll_limit`.
    pub scroll: u16,
    /// How far it can scroll on the screen it was last drawn on.
    scroll_limit: u16,
}

/// Rates the details view keeps: its sparklines' width.
pub const DETAILS_RATES: usize = 16;

/// Refresh intervals `+` and `-` step through.
const INTERVALS_MS: [u64; 8] = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000];

pub struct App {
    pub hostname: String,
    pub banner: Vec<String>,
    pub pids: Vec<u32>,
    pub interval: Duration,
    pub started_at: SystemTime,
    /// Ports and paths with a known part (the demo's), named in the state pane.
    pub roles: Vec<crate::states::Role>,
    pub paused: bool,
    pub view: View,
    pub help: bool,
    /// The help's first line shown, where it is taller than the screen (app/help.rs).
    pub help_scroll: u16,
    help_scroll_limit: u16,
    /// Whether the socket table shows the PEER column (`p`).
    pub show_peer: bool,
    /// The banner in full (`b`), else folded into its first line.
    pub banner_open: bool,
    /// Colours on (else only bold, reverse and the like: `--color never`, NO_COLOR).
    pub colour: bool,
    /// Port and host names in the table (`n`, `R`).
    pub naming: super::naming::LiveNaming,
    /// The screen as last drawn: where a click lands.
    pub screen: ratatui::layout::Rect,
    pub filter: FilterBar,
    pub sort: Sort,
    /// Shared with the tracker that made the model (`prepare::Model::snapshot`).
    pub snapshot: Option<Arc<Snapshot>>,
    /// The last collection error, until a snapshot succeeds again.
    pub error: Option<String>,
    pub exited: Vec<u32>,
    /// Names of the watched pids, remembered for when they exit.
    pub names: HashMap<u32, Arc<str>>,
    pub cmdlines: HashMap<u32, String>,
    /// What tracking says at the last refresh: per row, events, counts, rates.
    pub tracked: Tracked,
    /// Tracks and diagnoses the updates handed to the app as collected (tests,
    /// replays); live, the collector thread has its own and sends `Ready` models.
    pub preparer: Preparer,
    /// K and X results for the collector's tracker, not sent yet (`take_notes`).
    notes_out: Vec<Note>,
    /// Notes made so far, and the events of those no model has carried back yet:
    /// shown meanwhile.
    notes_made: u64,
    notes_unconfirmed: VecDeque<(u64, Event)>,
    /// The interval the collector backed off to (refreshes took longer than asked).
    pub slowed: Option<Duration>,
    /// Sockets that closed at the last refresh, as last seen (shown dimmed once).
    pub vanished: Vec<Socket>,
    /// The events log's scroll and the diagnostics' findings.
    pub timeline: Timeline,
    /// K and X: whether they are on, the dialog asking first, the last result.
    pub actions: Actions,
    /// Every row in sort order, and the rows shown (`rows` derefs to them): those that
    /// match the filter.
    pub rows: Rows,
    /// Shown sockets per state-bar group.
    pub counts: BTreeMap<Bucket, usize>,
    pub processes: Vec<ProcessRow>,
    /// `c`: the processes view shows a row per container or namespace (`groups`).
    pub grouped: bool,
    /// Those rows while `grouped`; empty otherwise.
    pub groups: Vec<rows::groups::GroupRow>,
    /// `processes` is not for the rows shown (the filter changed outside the
    /// processes view); made again when that view opens.
    processes_stale: bool,
    pub table: Cursor,
    pub process_table: Cursor,
    selected_key: Option<SocketKey>,
    /// After `r`: the selection stays on the busiest socket while it lives, and moves
    /// to the next busiest when it closes; moving the selection or sorting otherwise
    /// ends it.
    following_busiest: bool,
    pub details: Option<Details>,
    /// Set when the app shows a recording (`sockscope replay`): its time cursor.
    pub replay: Option<ReplayState>,
    /// Rows that fit in the list area at the last draw.
    pub page: usize,
    pub quit: bool,
}

impl App {
    pub fn new(config: Config) -> App {
        let mut app = App {
            hostname: config.hostname,
            banner: config.banner,
            pids: config.pids.clone(),
            interval: config.interval,
            started_at: config.started_at,
            roles: Vec::new(),
            paused: false,
            view: View::Sockets,
            help: false,
            help_scroll: 0,
            help_scroll_limit: 0,
            show_peer: false,
            banner_open: false,
            colour: true,
            naming: Default::default(),
            screen: ratatui::layout::Rect::default(),
            filter: FilterBar::default(),
            sort: Sort::default(),
            snapshot: None,
            error: None,
            exited: Vec::new(),
            names: HashMap::new(),
            cmdlines: HashMap::new(),
            tracked: Tracked::default(),
            preparer: Preparer::new(config.pids.clone()),
            notes_out: Vec::new(),
            notes_made: 0,
            notes_unconfirmed: VecDeque::new(),
            slowed: None,
            vanished: Vec::new(),
            timeline: Timeline::default(),
            actions: Actions::default(),
            rows: Rows::default(),
            counts: BTreeMap::new(),
            processes: Vec::new(),
            grouped: false,
            groups: Vec::new(),
            processes_stale: false,
            table: Cursor::default(),
            process_table: Cursor::default(),
            selected_key: None,
            following_busiest: false,
            details: None,
            page: 10,
            quit: false,
            replay: None,
        };
        app.set_filter(config.filter);
        app
    }

    pub fn apply(&mut self, action: Action) {
        // A result shows until the next key.
        self.actions.status = None;
        if self.actions.dialog.is_some() {
            return self.answer_dialog(action);
        }
        if self.help {
            return self.apply_help(action);
        }
        if self.apply_replay(action) {
            return;
        }
        let page = self.page as isize;
        match action {
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp | Action::PageDown if self.view == View::Details => {
                self.scroll_details(action == Action::PageDown);
            }
            Action::PageUp => self.step(-page),
            Action::PageDown => self.step(page),
            Action::Top => self.step(isize::MIN / 2),
            Action::Bottom => self.step(isize::MAX / 2),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::SwitchView => {
                self.view = match self.view {
                    View::Processes | View::Events | View::Diagnostics => View::Sockets,
                    View::Sockets | View::Details | View::Machine => View::Processes,
                };
                if self.view == View::Processes {
                    self.ensure_processes();
                }
            }
            Action::EditFilter => self.filter.begin(),
            Action::FilterChar(c) => {
                let text = self.filter.insert(c);
                self.set_filter(text);
            }
            Action::FilterBackspace => {
                let text = self.filter.backspace();
                self.set_filter(text);
            }
            Action::FilterEdit(edit) => {
                let text = self.filter.edit(edit);
                self.set_filter(text);
            }
            Action::FilterDone => self.filter.done(),
            Action::NextSort => self.set_sort(Sort {
                by: self.sort.by.next(),
                reverse: false,
            }),
            Action::ReverseSort => self.set_sort(Sort {
                reverse: !self.sort.reverse,
                ..self.sort
            }),
            Action::SortByRate => {
                // The busiest connection, selected: Enter shows its details.
                self.view = View::Sockets;
                self.selected_key = None;
                self.table = Cursor::default();
                self.set_sort(BUSIEST_FIRST);
                self.following_busiest = true;
            }
            Action::Events => self.toggle(View::Events),
            Action::Diagnostics => self.toggle(View::Diagnostics),
            Action::Machine => self.toggle_machine(),
            Action::TogglePause => self.paused = !self.paused,
            Action::Slower => self.interval = step_interval(self.interval, true),
            Action::Faster => self.interval = step_interval(self.interval, false),
            Action::ToggleHelp => (self.help, self.help_scroll) = (true, 0),
            Action::TogglePeer => self.show_peer = !self.show_peer,
            Action::Select(row) => {
                let now = match self.view {
                    View::Processes => self.process_table.selected,
                    _ => self.table.selected,
                };
                self.step(row as isize - now as isize);
            }
            Action::SortBy(column) => {
                let by = SortBy::Column(column);
                let reverse = self.sort.by == by && !self.sort.reverse;
                self.set_sort(Sort { by, reverse });
            }
            Action::ToggleBanner => self.banner_open = !self.banner_open,
            Action::ToggleGroups => self.toggle_groups(),
            Action::ToggleServices => {
                let said = self.naming.toggle_services();
                self.naming_status(said);
            }
            Action::ToggleHosts => {
                let said = self.naming.toggle_hosts();
                self.naming_status(said);
            }
            Action::AskSignal => self.ask_signal(),
            Action::AskClose => self.ask_close(),
            Action::Signal(_) | Action::Confirm => {} // keys of the dialogs only
            Action::Quit => self.quit = true,
            // Taken by apply_replay above.
            Action::StepBack
            | Action::StepForward
            | Action::JumpBack
            | Action::JumpForward
            | Action::JumpTo => {}
        }
    }

    /// What `n` or `R` did, in the footer until the next key.
    fn naming_status(&mut self, text: &str) {
        self.actions.status = Some(actions::Status {
            text: text.into(),
            ok: true,
        });
    }

    /// Called after each draw with the rows the list area holds.
    /// After a draw: how far the details pane can scroll on this screen.
    pub fn set_details_scroll_limit(&mut self, limit: u16) {
        if let Some(details) = &mut self.details {
            details.scroll_limit = limit;
            details.scroll = details.scroll.min(limit);
        }
    }

    /// PgUp/PgDn in the details: half a screen, within what there is to see.
    fn scroll_details(&mut self, down: bool) {
        let by = (self.page / 2).max(1) as u16;
        if let Some(d) = &mut self.details {
            d.scroll = if down {
                d.scroll.saturating_add(by).min(d.scroll_limit)
            } else {
                d.scroll.saturating_sub(by)
            };
        }
    }

    pub fn set_page(&mut self, rows: usize) {
        self.page = rows.max(1);
        self.table.step(0, self.rows.len(), self.page);
        let len = self.process_rows();
        self.process_table.step(0, len, self.page);
    }

    pub fn socket(&self, row: RowRef) -> &Socket {
        match row.get() {
            Row::Live(i) => &self.snapshot.as_ref().expect("rows come from it").sockets[i],
            Row::Gone(i) => &self.vanished[i],
        }
    }

    pub fn selected_row(&self) -> Option<RowRef> {
        self.rows.get(self.table.selected).copied()
    }

    pub fn total(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.sockets.len())
    }

    /// Sockets shown, not counting the vanished ones still on screen.
    pub fn shown(&self) -> usize {
        self.counts.values().sum()
    }

    fn step(&mut self, delta: isize) {
        match self.view {
            View::Processes => {
                let len = self.process_rows();
                self.process_table.step(delta, len, self.page)
            }
            View::Sockets | View::Details | View::Machine => {
                self.following_busiest = false;
                self.table.step(delta, self.rows.len(), self.page);
                self.selected_key = self.selected_row().map(|r| self.socket(r).key());
                if matches!(self.view, View::Details | View::Machine) {
                    self.show_details();
                }
            }
            View::Events | View::Diagnostics => self.scroll_timeline(delta),
        }
    }

    fn open(&mut self) {
        match self.view {
            View::Sockets => {
                self.view = View::Details;
                self.show_details();
            }
            View::Details => self.view = View::Sockets,
            View::Machine => self.view = View::Details,
            View::Events | View::Diagnostics => {}
            View::Processes if self.grouped => self.open_group(),
            View::Processes => {
                let Some(process) = self.processes.get(self.process_table.selected) else {
                    return;
                };
                let pid = process.pid;
                let mut terms: Vec<&str> = self
                    .filter
                    .text
                    .split_whitespace()
                    .filter(|t| !t.to_ascii_lowercase().starts_with("pid:"))
                    .collect();
                let pid_term = format!("pid:{pid}");
                terms.push(&pid_term);
                self.set_filter(terms.join(" "));
                self.view = View::Sockets;
                self.table = Cursor::default();
                self.selected_key = self.selected_row().map(|r| self.socket(r).key());
            }
        }
    }

    fn back(&mut self) {
        if self.filter.editing {
            self.filter.editing = false;
            self.set_filter(String::new());
        } else if matches!(
            self.view,
            View::Details | View::Events | View::Diagnostics | View::Machine
        ) {
            self.view = View::Sockets;
        } else if !self.filter.text.is_empty() {
            self.set_filter(String::new());
        }
    }

    fn show_details(&mut self) {
        self.details = self.selected_row().map(|row| {
            let seen = self.tracked.seen(row).unwrap_or_default();
            let socket = self.socket(row);
            Details {
                gone: row.is_gone(),
                // What the tracker had: its latest (it keeps a few samples per socket).
                rates: self.tracked.rate(row).into_iter().collect(),
                seen,
                // The kernel keeps no tcp_info for a TIME_WAIT socket: none comes.
                tcp_info_pending: self.tracked.details_only
                    && !row.is_gone()
                    && socket.tcp_info.is_none()
                    && socket.state != TcpState::TimeWait,
                socket: socket.clone(),
                scroll: 0,
                scroll_limit: 0,
            }
        });
    }

    /// What the table shows of the tracking of the socket at `row`.
    pub fn mark(&self, row: RowRef) -> Option<&Mark> {
        self.tracked.mark(row)
    }
}

/// What `r` sorts by.
const BUSIEST_FIRST: Sort = Sort {
    by: SortBy::Rate,
    reverse: false,
};

fn step_interval(now: Duration, slower: bool) -> Duration {
    let ms = now.as_millis() as u64;
    let next = if slower {
        INTERVALS_MS.iter().copied().find(|&i| i > ms)
    } else {
        INTERVALS_MS.iter().rev().copied().find(|&i| i < ms)
    };
    next.map_or(now, Duration::from_millis)
}
