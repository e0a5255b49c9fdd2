//! `c`: the processes view grouped by container, and by network namespace for the
//! processes in none (rows from `rows::groups`).

use super::{App, View};
use crate::tui::rows::{self, Cursor};

impl App {
    /// In the processes view: groups it, or ungroups it. Elsewhere: shows it grouped.
    pub(super) fn toggle_groups(&mut self) {
        self.grouped = self.view != View::Processes || !self.grouped;
        self.view = View::Processes;
        self.ensure_processes();
        self.process_table = Cursor::default();
        self.group_rows();
    }

    /// The group rows for the sockets shown, while grouped (on the UI thread: one pass
    /// over the shown sockets, and only in this mode); none otherwise.
    pub(super) fn group_rows(&mut self) {
        self.groups = if self.grouped {
            let live = self.snapshot.as_ref().map_or(&[][..], |s| &s.sockets);
            let shown = crate::tui::prepare::shown_live(live, &self.rows);
            rows::groups::groups(shown)
        } else {
            Vec::new()
        };
    }

    /// Rows in the processes view: groups when grouped, else processes.
    pub fn process_rows(&self) -> usize {
        if self.grouped {
            self.groups.len()
        } else {
            self.processes.len()
        }
    }

    /// Enter on a group: its sockets, filtered by `container:ID` or `netns:INODE`
    /// beside the filter's other terms.
    pub(super) fn open_group(&mut self) {
        let Some(group) = self.groups.get(self.process_table.selected) else {
            return;
        };
        // A namespace not known is nothing to filter by.
        let Some(term) = group.place.filter_term() else {
            return;
        };
        let mut terms: Vec<&str> = self
            .filter
            .text
            .split_whitespace()
            .filter(|t| {
                let t = t.to_ascii_lowercase();
                !t.starts_with("container:") && !t.starts_with("netns:")
            })
            .collect();
        terms.push(&term);
        let text = terms.join(" ");
        self.set_filter(text);
        self.view = View::Sockets;
        self.table = Cursor::default();
        self.selected_key = self.selected_row().map(|r| self.socket(r).key());
    }
}
