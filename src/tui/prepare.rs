//! The heavy half of a refresh, done off the UI thread: the snapshot goes through the
//! `Tracker` and `diagnose`, its rows are sorted and filtered for what the view
//! shows (`Choice`), and all the views read comes out as one `Ready` that the app
//! swaps in. The collector thread runs a `Preparer` live; the app runs its own for
//! updates handed to it as they are (tests, replays), so both take one path.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::diagnose::{DiagnoseConfig, Finding, KernelFacts, diagnose};
use crate::model::{self, CounterTable, Snapshot, Socket, SocketKey};
use crate::query::Query;
use crate::track::{self, Change, Event, TcpCounters, TrackConfig, Tracker};

use super::event::Update;
use super::history::{self, Bucket, Mark, Marking, Seen, Tracked};
use super::rows::{self, ProcessRow, Row, RowRef, Rows, Sort};

/// What the view shows of the rows: the sort and the filter bar's text and query.
/// The app sends it to the collector when it changes; the rows come back for it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choice {
    pub sort: Sort,
    pub text: String,
    pub query: Query,
    /// The socket the details view shows: the live view's model keeps its tcp_info
    /// (see `Preparer::live`).
    pub details: Option<SocketKey>,
}

/// What is worked out from the rows the filter shows.
#[derive(Clone, Debug, Default)]
pub struct Shown {
    /// Shown sockets per state-bar group.
    pub counts: BTreeMap<Bucket, usize>,
    pub processes: Vec<ProcessRow>,
    /// What the filter bar says about the result (see `FilterBar::note`).
    pub note: Option<String>,
}

/// A thing done to a socket (K, X), for the events log.
#[derive(Clone, Debug)]
pub struct Note {
    pub at: SystemTime,
    pub change: Change,
    pub socket: Socket,
}

/// One refresh, ready to show.
#[derive(Clone, Debug)]
pub struct Model {
    /// In display order: a live row's index is its rank. Shared with the tracker,
    /// whose histories point into it (they keep no copy of 100k sockets).
    pub snapshot: Arc<Snapshot>,
    /// Sockets that closed at this refresh, as last seen (shown dimmed once).
    pub vanished: Vec<Socket>,
    pub tracked: Tracked,
    pub findings: Vec<Finding>,
    /// What `rows` and `shown` were made for.
    pub choice: Choice,
    /// Every row in `choice.sort` order, and those the filter shows.
    pub rows: Rows,
    pub shown: Shown,
    /// How many notes the tracker has taken: the app shows those after them itself.
    pub notes: u64,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Model(Box<Model>),
    /// The source failed this time (the view keeps the last model).
    Failed(String),
    /// Every watched pid is gone: the view keeps its last model.
    AllExited,
}

/// What the collector sends the UI each refresh.
#[derive(Clone, Debug)]
pub struct Ready {
    pub outcome: Outcome,
    /// The watched pids (`--pid`) that have exited.
    pub exited: Vec<u32>,
    /// Names of the watched pids, for when they exit.
    pub names: HashMap<u32, Arc<str>>,
    /// Full command lines of the processes in the snapshot, by pid.
    pub cmdlines: HashMap<u32, String>,
    /// The interval the collector keeps when refreshes take longer than the one asked
    /// for (it backs off); None when it keeps the one asked for.
    pub slowed: Option<Duration>,
}

/// Tracking and diagnosis across refreshes: one per view.
#[derive(Debug)]
pub struct Preparer {
    tracker: Tracker,
    kernel: KernelFacts,
    pids: Vec<u32>,
    notes: u64,
    /// Shared with the models sent, until the log changes.
    events: Arc<VecDeque<Event>>,
    events_next: u64,
    /// What the model before the last one held, emptied, to fill again (`recycle`).
    spare: Spare,
    /// Whether the models keep tcp_info for the details' socket only (`live`).
    details_only: bool,
}

/// The big buffers of a retired model, kept for the next: freeing 100k rows a refresh
/// and taking them anew leaves holes the allocator fills with small things, and the
/// process grows (measured: RSS rising refresh after refresh with the heap flat).
#[derive(Debug, Default)]
struct Spare {
    live: Vec<Mark>,
    sorted: Vec<RowRef>,
    matched: Vec<RowRef>,
}

impl Preparer {
    pub fn new(pids: Vec<u32>) -> Preparer {
        Preparer {
            // Three samples: a rate takes two, the queue rules three (the details
            // keep a longer series for the one socket they show). One fewer than the
            // default leaves a busy socket's samples room in place (`track::Samples`).
            tracker: Tracker::new(TrackConfig {
                samples_per_socket: DiagnoseConfig::default().queue_samples.max(2),
                // The app has the snapshot; a vanished row gets its tcp_info back
                // from the one before (`App::swap`).
                keep_tcp_info: false,
                ..TrackConfig::default()
            }),
            kernel: KernelFacts {
                // With --pid, the view sees only some sockets of the namespace.
                whole_namespace: pids.is_empty(),
                ..KernelFacts::default()
            },
            pids,
            notes: 0,
            events: Arc::default(),
            events_next: 0,
            spare: Spare::default(),
            details_only: false,
        }
    }

    /// As the live view's collector runs it: a model keeps the tcp_info of the
    /// socket the details show (`Choice::details`) alone. The table shows none of it
    /// (only rates, which come from the counters), and 100k of them are 10 MB of small
    /// allocations: so the collector asks its source for that one only, and the
    /// others' counters beside the snapshot (`Source::snapshot_counted`, 2.4 MB), which
    /// are freed once the tracker has read them; a source that gives every tcp_info
    /// has the rest let go here (`let_tcp_info_go`). A socket the details open on
    /// gets its tcp_info from the next refresh (`Details::tcp_info_pending`).
    pub fn live(pids: Vec<u32>) -> Preparer {
        Preparer {
            details_only: true,
            ..Preparer::new(pids)
        }
    }

    /// Takes back what a swap replaced (`App::swap`), to free, keeping its big
    /// buffers for the next refresh.
    pub fn recycle(&mut self, old: super::app::Retired) {
        let super::app::Retired {
            mut tracked, rows, ..
        } = old;
        tracked.live.clear();
        let Rows {
            mut sorted,
            matched,
        } = rows;
        sorted.clear();
        let mut matched = matched.unwrap_or_default();
        matched.clear();
        self.spare = Spare {
            live: tracked.live,
            sorted,
            matched,
        };
    }

    /// History afresh (a replay's jump); notes taken stay counted.
    pub fn restart(&mut self) {
        let notes = self.notes;
        let details_only = self.details_only;
        *self = Preparer::new(std::mem::take(&mut self.pids));
        self.notes = notes;
        self.details_only = details_only;
    }

    /// A snapshot into the history only (a replay's lead-in before a jump's target).
    pub fn observe(&mut self, snapshot: &Snapshot) {
        self.tracker.observe(snapshot);
    }

    pub fn note(&mut self, note: Note) {
        self.tracker.note(note.at, note.change, &note.socket);
        self.notes += 1;
    }

    /// The whole of a refresh but what only the UI thread can do.
    pub fn prepare(&mut self, update: Update, choice: &Choice) -> Ready {
        self.prepare_counted(update, CounterTable::default(), choice)
    }

    /// `prepare`, with the counters of the TCP sockets whose tcp_info the snapshot left
    /// out (`Source::snapshot_counted`), for the tracker; freed once it has read them.
    pub fn prepare_counted(
        &mut self,
        update: Update,
        counters: CounterTable,
        choice: &Choice,
    ) -> Ready {
        let mut names: HashMap<u32, Arc<str>> = update
            .names
            .into_iter()
            .map(|(pid, name)| (pid, name.into()))
            .collect();
        let mut ready = Ready {
            outcome: Outcome::AllExited,
            exited: update.exited,
            names: HashMap::new(),
            cmdlines: HashMap::new(),
            slowed: None,
        };
        if !self.pids.is_empty() && ready.exited.len() == self.pids.len() {
            // Everything watched is gone (reading it may fail too): keep the last view.
            ready.names = names;
            return ready;
        }
        let mut snapshot = match update.snapshot {
            Ok(snapshot) => snapshot,
            Err(e) => {
                ready.names = names;
                ready.outcome = Outcome::Failed(e);
                return ready;
            }
        };
        // Display order makes a row's index its rank (see rows::sorted_rows). The live
        // view's sources sort each table as they collect (`with_list_order`), so this
        // is one check, and a sort only where they do not (several namespaces' tables
        // together, tests, replays).
        if !model::in_display_order(&snapshot.sockets) {
            model::sort_in_display_order(&mut snapshot.sockets);
        }
        if !self.pids.is_empty() {
            for owner in snapshot.sockets.iter().flat_map(|s| &s.processes) {
                if self.pids.contains(&owner.pid) {
                    names.insert(owner.pid, owner.process.comm.clone());
                }
            }
        }
        ready.names = names;
        ready.cmdlines = update.cmdlines;
        // Whether the source gives any (stops at the first socket with tcp_info).
        let counted = !counters.is_empty() || snapshot.sockets.iter().any(|s| s.tcp_info.is_some());
        let let_go = match self.details_only {
            true => let_tcp_info_go(&mut snapshot.sockets, choice.details.as_ref()),
            false => Vec::new(),
        };
        let counters = counters.by_socket(&snapshot.sockets);
        let snapshot = Arc::new(snapshot);
        self.tracker.observe_counted(&snapshot, |i| {
            track::tcp_counters(&snapshot.sockets[i])
                .or_else(|| let_go.get(i).copied().flatten())
                .or_else(|| counters.get(i).copied().flatten())
        });
        drop((let_go, counters));
        if let Some(counters) = update.listen_counters {
            self.kernel.record(counters);
        }
        self.kernel.port_range = update.port_range.or(self.kernel.port_range);
        let findings = diagnose(&self.tracker, &self.kernel, &DiagnoseConfig::default());
        let vanished = history::vanished(&self.tracker);
        let tracked = self.tracked(&snapshot, &vanished, counted);
        let spare = std::mem::take(&mut self.spare.sorted);
        let sorted = sort(spare, &snapshot.sockets, &vanished, &tracked, choice.sort);
        let spare = std::mem::take(&mut self.spare.matched);
        let matched = rows::matching(spare, &snapshot.sockets, &vanished, &sorted, &choice.query);
        let rows = Rows { sorted, matched };
        let shown = shown(&snapshot.sockets, &rows, choice, true);
        ready.outcome = Outcome::Model(Box::new(Model {
            snapshot,
            vanished,
            tracked,
            findings,
            choice: choice.clone(),
            rows,
            shown,
            notes: self.notes,
        }));
        ready
    }

    /// What the views read of the tracker after `snapshot`.
    fn tracked(&mut self, snapshot: &Snapshot, vanished: &[Socket], counted: bool) -> Tracked {
        let tracker = &self.tracker;
        let seen = |s: &Socket| {
            tracker
                .get(&s.key())
                .map(|h| Seen::of(tracker, h))
                .unwrap_or_default()
        };
        let next = tracker.events().back().map_or(0, |e| e.seq + 1);
        if next != self.events_next {
            // A copy per refresh that logged anything (the log is capped, ~2 MB full).
            self.events = Arc::new(tracker.events().clone());
            self.events_next = next;
        }
        let counts = tracker.state_counts();
        let recent = counts
            .iter()
            .skip(counts.len().saturating_sub(history::SAMPLES));
        // The tracker lists the snapshot it observed last, this one: its histories
        // in its order, found without a lookup each.
        let of = |h: Option<&_>| h.map(|h| Seen::of(tracker, h)).unwrap_or_default();
        let mut marking = Marking::default();
        let mut live = std::mem::take(&mut self.spare.live);
        rows::refill(&mut live, snapshot.sockets.len());
        live.extend(tracker.listed().map(|h| marking.mark(of(h))));
        if live.len() != snapshot.sockets.len() {
            // Never: see prepare.
            marking = Marking::default();
            live = snapshot
                .sockets
                .iter()
                .map(|s| marking.mark(seen(s)))
                .collect();
        }
        let gone = vanished.iter().map(|s| marking.mark(seen(s))).collect();
        Tracked {
            live,
            gone,
            states: marking.into_states(),
            events: self.events.clone(),
            state_counts: recent.cloned().collect(),
            snapshots_seen: tracker.snapshots_seen(),
            live_count: tracker.live().count(),
            at: tracker.last_at(),
            counted,
            details_only: self.details_only,
        }
    }
}

/// Lets every tcp_info go but that of the socket `keep` (see `Preparer::live`), and
/// gives the counters of each socket as they were, by index (what the tracker reads of
/// tcp_info); none when nothing was let go (a source that kept the details' socket's
/// alone: `Source::snapshot_counted`).
fn let_tcp_info_go(sockets: &mut [Socket], keep: Option<&SocketKey>) -> Vec<Option<TcpCounters>> {
    let kept = |s: &Socket| keep.is_some_and(|k| s.has_key(k));
    let goes = |s: &Socket| s.tcp_info.is_some() && !kept(s);
    if !sockets.iter().any(goes) {
        return Vec::new();
    }
    sockets
        .iter_mut()
        .map(|s| {
            let counters = track::tcp_counters(s);
            if goes(s) {
                s.tcp_info = None;
            }
            counters
        })
        .collect()
}

/// Every row of the socket table in `sort` order, in `rows`' memory (see
/// `rows::sorted_rows`), rates read from `tracked`.
pub fn sort(
    rows: Vec<RowRef>,
    live: &[Socket],
    gone: &[Socket],
    tracked: &Tracked,
    sort: Sort,
) -> Vec<RowRef> {
    let rate = |row: RowRef| tracked.rate(row);
    rows::sorted_rows(rows, live, gone, sort, rate)
}

/// What follows from the rows shown (`rows`, filtered for `choice`); the process
/// rows only if `with_processes` (else none: see `App::refilter`).
pub fn shown(live: &[Socket], rows: &[RowRef], choice: &Choice, with_processes: bool) -> Shown {
    let counts = rows::counts(shown_live(live, rows));
    let processes = match with_processes {
        true => rows::processes(shown_live(live, rows)),
        false => Vec::new(),
    };
    let note = note(live, rows.is_empty(), choice);
    Shown {
        counts,
        processes,
        note,
    }
}

/// The live sockets of `rows` (the vanished are not counted).
pub fn shown_live<'a>(
    live: &'a [Socket],
    rows: &'a [RowRef],
) -> impl Iterator<Item = &'a Socket> + Clone + 'a {
    rows.iter().filter_map(|row| match row.get() {
        Row::Live(i) => Some(&live[i]),
        Row::Gone(_) => None,
    })
}

/// What the filter bar says about the result (see `FilterBar::note`): only worked
/// out when there are bare numbers or nothing matches, so typing at 100k sockets
/// costs no more than filtering.
fn note(live: &[Socket], nothing_shown: bool, choice: &Choice) -> Option<String> {
    let query = &choice.query;
    if query.is_empty() || live.is_empty() {
        return None;
    }
    if nothing_shown {
        return Some(crate::query::why_empty(&complete_terms(&choice.text), live));
    }
    crate::query::number_note(query, live)
}

/// The filter text without a term still being typed ("port:"), which is left out
/// rather than matched as a word.
pub fn complete_terms(text: &str) -> String {
    let complete: Vec<&str> = text
        .split_whitespace()
        .filter(|t| !t.ends_with(':'))
        .collect();
    complete.join(" ")
}
