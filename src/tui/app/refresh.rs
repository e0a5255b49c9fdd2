//! Taking in refreshes: an `Update` as collected (prepared here: tests, replays) or a
//! `Ready` model the collector thread prepared, swapped in with moves; what K and X
//! did, for the collector's tracker and the events log meanwhile.

use std::sync::Arc;
use std::time::SystemTime;

use crate::model::{Snapshot, Socket};
use crate::track::{self, Event};
use crate::tui::event::Update;
use crate::tui::history::Tracked;
use crate::tui::prepare::{Choice, Model, Note, Outcome, Ready};
use crate::tui::rows::{ProcessRow, RowRef, Rows};

use super::{App, DETAILS_RATES};

impl App {
    /// Takes in one refresh as collected: prepares it here, then swaps it in.
    pub fn update(&mut self, update: Update) {
        if self.paused {
            return; // one already on its way when space was pressed
        }
        for note in std::mem::take(&mut self.notes_out) {
            self.preparer.note(note);
        }
        let ready = self.preparer.prepare(update, &self.choice());
        let _old = self.swap(ready);
    }

    /// What the rows are sorted and filtered for: the collector prepares them so.
    pub fn choice(&self) -> Choice {
        Choice {
            sort: self.sort,
            text: self.filter.text.clone(),
            query: self.filter.query.clone(),
            details: self.details.as_ref().map(|d| d.socket.key()),
        }
    }

    /// K and X results for the collector's tracker (the UI loop sends them).
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes_out)
    }

    /// Takes in one prepared refresh: moves, and the few lookups the selection and
    /// the details need. What it replaced goes back in the return value: freeing 100k
    /// sockets and their marks is work the caller may leave to another thread.
    pub fn swap(&mut self, ready: Ready) -> Option<Retired> {
        if self.paused {
            return None; // one already on its way when space was pressed
        }
        self.slowed = ready.slowed;
        self.exited = ready.exited;
        self.names.extend(ready.names);
        let model = match ready.outcome {
            Outcome::Model(model) => model,
            Outcome::Failed(e) => {
                self.error = Some(e);
                return None;
            }
            Outcome::AllExited => {
                self.error = None;
                return None;
            }
        };
        self.error = None;
        self.cmdlines = ready.cmdlines;
        let Model {
            snapshot,
            vanished,
            tracked,
            findings,
            choice,
            rows,
            shown,
            notes,
        } = *model;
        let mut vanished = vanished;
        if let Some(before) = &self.snapshot {
            with_tcp_info(&mut vanished, &before.sockets);
        }
        let old = Retired {
            snapshot: self.snapshot.replace(snapshot),
            vanished: std::mem::replace(&mut self.vanished, vanished),
            tracked: std::mem::replace(&mut self.tracked, tracked),
            rows: std::mem::take(&mut self.rows),
            processes: std::mem::take(&mut self.processes),
        };
        self.timeline.findings = findings;
        self.confirm_notes(notes);
        self.refresh_timeline();
        // The rows come sorted and filtered for the choice the collector knew; one
        // made since (a key in flight) is applied here.
        let same_filter = choice.text == self.filter.text && choice.query == self.filter.query;
        match (choice.sort == self.sort, same_filter) {
            (true, true) => {
                self.rows = rows;
                self.take_shown(shown, None);
            }
            (true, false) => {
                self.rows.sorted = rows.sorted;
                self.refilter();
            }
            // The same rows in another order: what they add up to holds.
            (false, true) => {
                self.rows = rows;
                self.take_shown(shown, None);
                self.resort();
            }
            (false, false) => {
                self.rows.sorted = rows.sorted; // to sort again, in its memory
                self.rebuild();
            }
        }
        self.follow_details();
        if let Some(details) = &mut self.details {
            // A model made for another socket's details has none of its tcp_info.
            details.tcp_info_pending = self.tracked.details_only
                && !details.gone
                && choice.details != Some(details.socket.key());
        }
        Some(old)
    }

    /// The details' socket in the new snapshot: followed as the tracker does, by key,
    /// else a connection by its endpoints (it lost its inode going into TIME_WAIT).
    fn follow_details(&mut self) {
        let Some(details) = &mut self.details else {
            return;
        };
        let key = details.socket.key();
        let ends = track::endpoints(&details.socket);
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let found = live.iter().position(|s| s.key() == key).or_else(|| {
            let ends = ends?;
            live.iter().position(|s| track::endpoints(s) == Some(ends))
        });
        let mut rate = None;
        match found {
            Some(i) => {
                details.socket = live[i].clone();
                if let Some(seen) = self.tracked.seen(RowRef::live(i)) {
                    details.seen = seen;
                }
                rate = self.tracked.rate(RowRef::live(i));
            }
            None => details.gone = true,
        }
        if let Some(rate) = rate
            && details.rates.back().is_none_or(|last| last.at < rate.at)
        {
            if details.rates.len() == DETAILS_RATES {
                details.rates.pop_front();
            }
            details.rates.push_back(rate);
        }
    }

    /// Drops the notes a model has carried back; shows the rest in its log.
    fn confirm_notes(&mut self, taken: u64) {
        while self
            .notes_unconfirmed
            .front()
            .is_some_and(|(n, _)| *n < taken)
        {
            self.notes_unconfirmed.pop_front();
        }
        if self.notes_unconfirmed.is_empty() {
            return;
        }
        let events = Arc::make_mut(&mut self.tracked.events);
        for (_, event) in &self.notes_unconfirmed {
            let mut event = event.clone();
            event.seq = events.back().map_or(0, |e| e.seq + 1);
            events.push_back(event);
        }
    }

    /// Logs what was done to `socket` now, and for the tracker (`take_notes`).
    pub(super) fn note(&mut self, at: SystemTime, change: track::Change, socket: &Socket) {
        let events = Arc::make_mut(&mut self.tracked.events);
        let event = Event {
            seq: events.back().map_or(0, |e| e.seq + 1),
            at,
            change: change.clone(),
            socket: Socket {
                tcp_info: None,
                ..socket.clone()
            },
        };
        events.push_back(event.clone());
        self.notes_unconfirmed.push_back((self.notes_made, event));
        self.notes_made += 1;
        self.notes_out.push(Note {
            at,
            change,
            socket: socket.clone(),
        });
    }
}

/// The tcp_info the tracker does not keep (`TrackConfig::keep_tcp_info`) for the
/// sockets that just vanished, from the snapshot that last listed them (in display
/// order, so found in a few steps each).
fn with_tcp_info(vanished: &mut [Socket], before: &[Socket]) {
    for socket in vanished.iter_mut().filter(|s| s.tcp_info.is_none()) {
        let from = before.partition_point(|s| s.display_order(socket).is_lt());
        let key = socket.key();
        let same = before[from..]
            .iter()
            .take_while(|s| s.display_order(socket).is_eq())
            .find(|s| s.key() == key);
        if let Some(last) = same {
            socket.tcp_info.clone_from(&last.tcp_info);
        }
    }
}

/// What a swap replaced (see `App::swap`).
#[derive(Debug)]
pub struct Retired {
    pub snapshot: Option<Arc<Snapshot>>,
    pub vanished: Vec<Socket>,
    pub tracked: Tracked,
    pub rows: Rows,
    pub processes: Vec<ProcessRow>,
}
