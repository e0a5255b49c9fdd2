//! The app's state for the events log (`e`) and the diagnostics view (`d`): where the
//! log is scrolled, and the findings of `diagnose` over the collector's Tracker, made
//! at each refresh with the same rules and thresholds as `sockscope doctor`. Also
//! the toggles that open those views and the state machine (`m`).

use crate::diagnose::Finding;
use crate::track::Event;

use super::{App, View};

#[derive(Debug, Default)]
pub struct Timeline {
    /// How many matching events the log is scrolled up from the newest; 0 follows
    /// the newest as they come.
    pub events_back: usize,
    /// The seq the next event will get: what is new at a refresh starts there.
    next_seq: u64,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// The finding the diagnostics view starts at (↑/↓ move by whole findings, so
    /// scrolling does not depend on how the text wraps).
    pub diagnostics_first: usize,
}

impl App {
    /// After a refresh: the log's scroll kept on the same events when scrolled up.
    pub(super) fn refresh_timeline(&mut self) {
        let query = &self.filter.query;
        let events = &self.tracked.events;
        let skip = events.partition_point(|e| e.seq < self.timeline.next_seq);
        let arrived = events
            .iter()
            .skip(skip)
            .filter(|e| query.matches(&e.socket))
            .count();
        if self.timeline.events_back > 0 {
            self.timeline.events_back += arrived;
        }
        if let Some(last) = events.back() {
            self.timeline.next_seq = last.seq + 1;
        }
    }

    /// The events the filter bar's query matches, oldest first.
    pub fn matching_events(&self) -> impl DoubleEndedIterator<Item = &Event> + '_ {
        let query = &self.filter.query;
        self.tracked
            .events
            .iter()
            .filter(move |e| query.matches(&e.socket))
    }

    /// `e` and `d`: open that view, or go back to the sockets from it.
    pub(super) fn toggle(&mut self, view: View) {
        self.view = if self.view == view {
            View::Sockets
        } else {
            view
        };
    }

    /// `m`: the state machine of the selected socket (from the details: of the socket
    /// shown there); again, back to the sockets.
    pub(super) fn toggle_machine(&mut self) {
        if self.view == View::Machine {
            self.view = View::Sockets;
            return;
        }
        if self.view != View::Details {
            self.show_details();
        }
        self.view = View::Machine;
    }

    /// Up/down in the events log (negative: back in time) or the diagnostics.
    pub(super) fn scroll_timeline(&mut self, delta: isize) {
        match self.view {
            View::Events => {
                let count = self.matching_events().count();
                let top = count.saturating_sub(self.page) as isize;
                let back = (self.timeline.events_back as isize).saturating_sub(delta);
                self.timeline.events_back = back.clamp(0, top) as usize;
            }
            View::Diagnostics => {
                let last = self.timeline.findings.len().saturating_sub(1) as isize;
                let first = (self.timeline.diagnostics_first as isize).saturating_add(delta);
                self.timeline.diagnostics_first = first.clamp(0, last) as usize;
            }
            _ => {}
        }
    }
}
