//! The live view's state: what is shown, selected, sorted and filtered. No I/O: the
//! loop in `tui.rs` feeds it updates and actions, the views render it read-only, and
//! tests drive it the same way without a terminal.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::{Snapshot, Socket, SocketKey};
use crate::query::Query;
use crate::track::{self, Rate, TrackConfig, Tracker};

use super::event::{Action, Update};
use super::history::{self, Bucket};
use super::rows::{self, Cursor, ProcessRow, RowRef, Sort, SortBy};

mod actions;
mod filter_bar;
mod help;
mod replay;
mod timeline;
pub use actions::{Actions, Dialog, Done, Request, Status};
pub use filter_bar::{Edit, FilterBar};
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
    pub snapshot: Option<Snapshot>,
    /// The last collection error, until a snapshot succeeds again.
    pub error: Option<String>,
    pub exited: Vec<u32>,
    /// Names of the watched pids, remembered for when they exit.
    pub names: HashMap<u32, Arc<str>>,
    pub cmdlines: HashMap<u32, String>,
    /// Every snapshot goes through it: events, per-socket history, counts, rates.
    pub tracker: Tracker,
    /// Sockets that closed at the last refresh, as last seen (shown dimmed once).
    pub vanished: Vec<Socket>,
    /// The events log's scroll and the diagnostics' findings.
    pub timeline: Timeline,
    /// K and X: whether they are on, the dialog asking first, the last result.
    pub actions: Actions,
    /// Every row in sort order, filter or not: typing in the filter bar only filters
    /// this again (a sort at 100k sockets costs more than a key press may).
    sorted: Vec<RowRef>,
    /// The rows shown: `sorted` that match the filter.
    pub rows: Vec<RowRef>,
    /// Shown sockets per state-bar group.
    pub counts: BTreeMap<Bucket, usize>,
    pub processes: Vec<ProcessRow>,
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
            pids: config.pids,
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
            tracker: Tracker::new(TrackConfig::default()),
            vanished: Vec::new(),
            timeline: Timeline::default(),
            actions: Actions::default(),
            sorted: Vec::new(),
            rows: Vec::new(),
            counts: BTreeMap::new(),
            processes: Vec::new(),
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

    /// Takes in one refresh from the collector.
    pub fn update(&mut self, update: Update) {
        if self.paused {
            return; // one already on its way when space was pressed
        }
        self.exited = update.exited;
        for (pid, name) in update.names {
            self.names.insert(pid, name.into());
        }
        if !self.pids.is_empty() && self.exited.len() == self.pids.len() {
            // Everything watched is gone (reading it may fail too): keep the last view.
            self.error = None;
            return;
        }
        let mut snapshot = match update.snapshot {
            Ok(snapshot) => snapshot,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.error = None;
        // Display order makes a row's index its rank (see rows::sorted_rows). The
        // collector sends it sorted, so this is one check, and a sort only for a
        // source that does not (tests, replays).
        if !snapshot
            .sockets
            .is_sorted_by(|a, b| a.display_order(b).is_le())
        {
            snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));
        }
        for owner in snapshot.sockets.iter().flat_map(|s| &s.processes) {
            if self.pids.contains(&owner.pid) {
                self.names.insert(owner.pid, owner.comm.clone());
            }
        }
        self.cmdlines = update.cmdlines;
        self.tracker.observe(&snapshot);
        self.vanished = history::vanished(&self.tracker);
        self.refresh_timeline(update.listen_counters, update.port_range);
        self.snapshot = Some(snapshot);
        self.rebuild();
        if let Some(details) = &mut self.details {
            let key = details.socket.key();
            let ends = track::endpoints(&details.socket);
            let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
            // Followed as the tracker does: by key, else a connection by its endpoints
            // (it lost its inode going into TIME_WAIT).
            let found = live.iter().find(|s| s.key() == key).or_else(|| {
                let ends = ends?;
                live.iter().find(|s| track::endpoints(s) == Some(ends))
            });
            match found {
                Some(socket) => details.socket = socket.clone(),
                None => details.gone = true,
            }
            let history = self.tracker.get(&details.socket.key());
            if let Some(rate) = history.and_then(|h| h.rate())
                && details.rates.back().is_none_or(|last| last.at < rate.at)
            {
                if details.rates.len() == DETAILS_RATES {
                    details.rates.pop_front();
                }
                details.rates.push_back(rate);
            }
        }
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
        self.process_table.step(0, self.processes.len(), self.page);
    }

    pub fn socket(&self, row: RowRef) -> &Socket {
        match row {
            RowRef::Live(i) => &self.snapshot.as_ref().expect("rows come from it").sockets[i],
            RowRef::Gone(i) => &self.vanished[i],
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
            View::Processes => self
                .process_table
                .step(delta, self.processes.len(), self.page),
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
            let socket = self.socket(row).clone();
            let history = self.tracker.get(&socket.key());
            Details {
                gone: matches!(row, RowRef::Gone(_)),
                rates: history.map(|h| h.rates().collect()).unwrap_or_default(),
                socket,
                scroll: 0,
                scroll_limit: 0,
            }
        });
    }

    fn set_filter(&mut self, text: String) {
        // A term still being typed ("port:") is left out rather than matched as a word.
        let complete: Vec<&str> = text
            .split_whitespace()
            .filter(|t| !t.ends_with(':'))
            .collect();
        match Query::parse(&complete.join(" ")) {
            Ok(query) => {
                self.filter.query = query;
                self.filter.error = None;
            }
            Err(e) => self.filter.error = Some(e),
        }
        self.filter.cursor = self.filter.cursor.min(text.len());
        self.filter.text = text;
        self.refilter();
    }

    fn set_sort(&mut self, sort: Sort) {
        self.sort = sort;
        self.following_busiest &= sort == BUSIEST_FIRST;
        self.rebuild();
    }

    /// Re-sorts every row after a new snapshot or sort, then filters them.
    fn rebuild(&mut self) {
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let tracker = &self.tracker;
        let rate = |s: &Socket| tracker.get(&s.key()).and_then(|h| h.rate());
        self.sorted = rows::sorted_rows(live, &self.vanished, self.sort, rate);
        self.refilter();
    }

    /// The shown rows from `sorted` and the filter; the selection stays on the same
    /// socket when it is still there.
    fn refilter(&mut self) {
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let query = &self.filter.query;
        self.rows = if query.is_empty() {
            self.sorted.clone()
        } else {
            let gone = &self.vanished;
            let socket = |row: &RowRef| match *row {
                RowRef::Live(i) => &live[i],
                RowRef::Gone(i) => &gone[i],
            };
            let matching = self.sorted.iter().filter(|r| query.matches(socket(r)));
            matching.copied().collect()
        };
        let shown = self.rows.iter().filter_map(|row| match row {
            RowRef::Live(i) => Some(&live[*i]),
            RowRef::Gone(_) => None,
        });
        self.counts = rows::counts(shown.clone());
        self.processes = rows::processes(shown);
        self.filter.note = self.filter_note(live);

        // Most refreshes leave the selected socket on its row: look there first,
        // before a walk over every row.
        let at = |i: usize| self.rows.get(i).map(|r| self.socket(*r).key());
        let found = self.selected_key.as_ref().and_then(|key| {
            let here = self.table.selected;
            if at(here).as_ref() == Some(key) {
                return Some(here);
            }
            self.rows.iter().position(|r| self.socket(*r).key() == *key)
        });
        // Following the busiest: once its socket closed (gone, or a vanished row at
        // the bottom), the top row, the busiest that lives.
        let found = match found {
            Some(i) if self.following_busiest && matches!(self.rows[i], RowRef::Gone(_)) => None,
            found => found,
        };
        let selected = match found {
            None if self.following_busiest => 0,
            found => found.unwrap_or(self.table.selected),
        };
        self.table.go(selected, self.rows.len(), self.page);
        self.selected_key = self.selected_row().map(|r| self.socket(r).key());
        let selected = self.process_table.selected;
        self.process_table
            .go(selected, self.processes.len(), self.page);
    }
}

/// What `r` sorts by.
const BUSIEST_FIRST: Sort = Sort {
    by: SortBy::Rate,
    reverse: false,
};

impl App {
    /// What the filter bar says about the result (see `FilterBar::note`): only worked
    /// out when there are bare numbers or nothing matches, so typing at 100k sockets
    /// costs no more than filtering.
    fn filter_note(&self, live: &[Socket]) -> Option<String> {
        let query = &self.filter.query;
        if query.is_empty() || live.is_empty() {
            return None;
        }
        if self.rows.is_empty() {
            let complete: Vec<&str> = self
                .filter
                .text
                .split_whitespace()
                .filter(|t| !t.ends_with(':'))
                .collect();
            return Some(crate::query::why_empty(&complete.join(" "), live.iter()));
        }
        crate::query::number_note(query, live.iter())
    }
}

fn step_interval(now: Duration, slower: bool) -> Duration {
    let ms = now.as_millis() as u64;
    let next = if slower {
        INTERVALS_MS.iter().copied().find(|&i| i > ms)
    } else {
        INTERVALS_MS.iter().rev().copied().find(|&i| i < ms)
    };
    next.map_or(now, Duration::from_millis)
}
