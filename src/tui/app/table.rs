//! The socket table's rows in the app: a new filter or sort applied to the rows it
//! has (on the UI thread, between the collector's models), and the selection kept on
//! its socket across them.

use crate::query::Query;
use crate::tui::prepare::{self, Shown};
use crate::tui::rows::{self, Cursor, RowRef, Rows, Sort};

use super::{App, BUSIEST_FIRST, View};

impl App {
    pub(super) fn set_filter(&mut self, text: String) {
        let before = self.filter.query.clone();
        // A term still being typed ("port:") is left out rather than matched as a word.
        match Query::parse(&prepare::complete_terms(&text)) {
            Ok(query) => {
                self.filter.query = query;
                self.filter.error = None;
            }
            Err(e) => self.filter.error = Some(e),
        }
        self.filter.cursor = self.filter.cursor.min(text.len());
        self.filter.text = text;
        // A word typed on: only the rows shown can still match.
        let narrowed = self.filter.query.narrows(&before);
        let was = self.selected_row();
        self.refilter_among(narrowed, was);
    }

    pub(super) fn set_sort(&mut self, sort: Sort) {
        let reversed = sort.by == self.sort.by && sort.reverse != self.sort.reverse;
        let same = sort == self.sort;
        self.sort = sort;
        self.following_busiest &= sort == BUSIEST_FIRST;
        if same {
            // `r` again: the rows are in this order already (a sort of a million rows
            // would give them back as they are); only the selection moves.
            let was = self.selected_row();
            self.reselect(was);
        } else if reversed {
            // `S`: ties are ordered by the same (reversed) comparison, so the reverse
            // sort is exactly the rows reversed.
            let was = self.selected_row();
            self.rows.reverse();
            self.reselect(was);
        } else {
            self.resort();
        }
    }

    /// The rows in a new order after `s`, `r` or a click on a header: the filter
    /// shows the same rows, so the counts, processes and note stay as they are.
    pub(super) fn resort(&mut self) {
        let was = self.selected_row();
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let Rows { sorted, matched } = std::mem::take(&mut self.rows);
        let sorted = prepare::sort(sorted, live, &self.vanished, &self.tracked, self.sort);
        let matched = matched.unwrap_or_default();
        let matched = rows::matching(matched, live, &self.vanished, &sorted, &self.filter.query);
        self.rows = Rows { sorted, matched };
        self.reselect(was);
    }

    /// Re-sorts every row after a new sort (or a snapshot prepared for another),
    /// then filters them.
    pub(super) fn rebuild(&mut self) {
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let sorted = std::mem::take(&mut self.rows.sorted);
        self.rows.sorted = prepare::sort(sorted, live, &self.vanished, &self.tracked, self.sort);
        self.refilter();
    }

    /// The shown rows from the sorted ones and the filter, after a new snapshot (the
    /// rows before it are not its rows). The process rows (a third of the work at
    /// 100k sockets) wait until the processes view shows them.
    pub(super) fn refilter(&mut self) {
        self.refilter_among(false, None);
    }

    /// `refilter` among the rows shown only (`shown_only`: the new filter narrows the
    /// one they were shown for), else among all; `was`, the selected row, if these
    /// are the rows of the snapshot it was selected in.
    fn refilter_among(&mut self, shown_only: bool, was: Option<RowRef>) {
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        let with_processes = self.view == View::Processes;
        let choice = self.choice();
        let among = if shown_only {
            &*self.rows
        } else {
            &self.rows.sorted
        };
        let matched = rows::matching(Vec::new(), live, &self.vanished, among, &choice.query);
        let shown_rows = matched.as_deref().unwrap_or(&self.rows.sorted);
        let shown = prepare::shown(live, shown_rows, &choice, with_processes);
        self.rows.matched = matched;
        self.take_shown(shown, was);
        self.processes_stale = !with_processes;
    }

    /// The process rows for the shown sockets, if a filter changed since they were made.
    pub(super) fn ensure_processes(&mut self) {
        if !std::mem::take(&mut self.processes_stale) {
            return;
        }
        let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
        self.processes = rows::processes(prepare::shown_live(live, &self.rows));
        self.process_table = Cursor::default();
    }

    /// Shows `shown` (made for the rows in `rows`); the selection stays on the same
    /// socket when it is still there (`was`: its row, when the snapshot is the same).
    pub(super) fn take_shown(&mut self, shown: Shown, was: Option<RowRef>) {
        self.counts = shown.counts;
        self.processes = shown.processes;
        self.group_rows();
        self.filter.note = shown.note;
        self.processes_stale = false;
        self.reselect(was);
    }

    /// The selection on the same socket as before, when it is still shown. `was`, its
    /// row in the same snapshot (a sort or filter), finds it without reading 100k
    /// sockets in a new order.
    fn reselect(&mut self, was: Option<RowRef>) {
        let found = match was {
            Some(was) if self.selected_key.is_some() => self.rows.iter().position(|r| *r == was),
            _ => self.find_selected_key(),
        };
        // Following the busiest: once its socket closed (gone, or a vanished row at
        // the bottom), the top row, the busiest that lives.
        let found = match found {
            Some(i) if self.following_busiest && self.rows[i].is_gone() => None,
            found => found,
        };
        let selected = match found {
            None if self.following_busiest => 0,
            found => found.unwrap_or(self.table.selected),
        };
        self.table.go(selected, self.rows.len(), self.page);
        self.selected_key = self.selected_row().map(|r| self.socket(r).key());
        let selected = self.process_table.selected;
        let len = self.process_rows();
        self.process_table.go(selected, len, self.page);
    }

    /// The row of the selected socket's key, in new rows.
    fn find_selected_key(&self) -> Option<usize> {
        // Most refreshes leave the selected socket on its row: look there first,
        // before a walk over every row.
        let at = |i: usize| self.rows.get(i).map(|r| self.socket(*r).key());
        self.selected_key.as_ref().and_then(|key| {
            let here = self.table.selected;
            if at(here).as_ref() == Some(key) {
                return Some(here);
            }
            self.rows.iter().position(|r| self.socket(*r).key() == *key)
        })
    }
}
