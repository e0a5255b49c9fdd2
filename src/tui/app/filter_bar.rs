//! The filter bar's text as a readline-style line: a cursor, the usual keys (Ctrl-U,
//! Ctrl-W, Ctrl-A/E, arrows, Home/End) and a history of the filters kept with Enter.
//! Pure text editing; `App` reparses the text after each edit.

use crate::query::Query;

/// What a key does to the filter bar's text (keys map to it in `event::action_for`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    Left,
    Right,
    /// Ctrl-A, Home.
    Start,
    /// Ctrl-E, End.
    End,
    /// Delete: the character under the cursor.
    Delete,
    /// Ctrl-U: everything before the cursor.
    KillToStart,
    /// Ctrl-K: everything from the cursor on.
    KillToEnd,
    /// Ctrl-W: the word before the cursor (and the spaces after it).
    KillWord,
    /// Up: the filter kept before this one.
    Older,
    /// Down: back toward the text being written.
    Newer,
}

/// Filters the history keeps.
const HISTORY: usize = 50;

/// The filter bar: its text, and the query of the last text that parsed.
#[derive(Clone, Debug, Default)]
pub struct FilterBar {
    pub text: String,
    pub editing: bool,
    /// Why the text does not parse; the previous query stays applied meanwhile.
    pub error: Option<String>,
    pub query: Query,
    /// What the bar says about the result: which bare numbers matched a port or a
    /// pid, or why nothing matches.
    pub note: Option<String>,
    /// The cursor, a byte offset on a char boundary of `text`.
    pub cursor: usize,
    /// Filters kept with Enter, oldest first.
    history: Vec<String>,
    /// Where Up/Down is in `history` (`history.len()`: the draft), and the draft.
    browsing: Option<(usize, String)>,
}

impl FilterBar {
    /// Starts editing: the cursor at the end, after a space when the text holds
    /// terms already (the command line's, or `pid:N` set from the processes view), so
    /// what is typed is a new term, never glued to the last one.
    pub fn begin(&mut self) {
        self.editing = true;
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.text.push(' ');
        }
        self.cursor = self.text.len();
        self.browsing = None;
    }

    /// Enter: keeps the text in the history.
    pub fn done(&mut self) {
        self.editing = false;
        self.browsing = None;
        let kept = self.text.trim();
        if !kept.is_empty() && self.history.last().map(String::as_str) != Some(kept) {
            if self.history.len() == HISTORY {
                self.history.remove(0);
            }
            self.history.push(kept.to_string());
        }
    }

    /// The text with `c` typed at the cursor.
    pub fn insert(&mut self, c: char) -> String {
        self.cursor = self.cursor.min(self.text.len());
        let mut text = self.text.clone();
        text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        text
    }

    /// The text after Backspace.
    pub fn backspace(&mut self) -> String {
        let mut text = self.text.clone();
        if let Some(prev) = self.prev_boundary() {
            text.replace_range(prev..self.cursor, "");
            self.cursor = prev;
        }
        text
    }

    /// The text after `edit`; the cursor moved with it.
    pub fn edit(&mut self, edit: Edit) -> String {
        let mut text = self.text.clone();
        let at = self.cursor.min(text.len());
        match edit {
            Edit::Left => self.cursor = self.prev_boundary().unwrap_or(0),
            Edit::Right => self.cursor = self.next_boundary().unwrap_or(text.len()),
            Edit::Start => self.cursor = 0,
            Edit::End => self.cursor = text.len(),
            Edit::Delete => {
                if let Some(next) = self.next_boundary() {
                    text.replace_range(at..next, "");
                }
            }
            Edit::KillToStart => {
                text.replace_range(..at, "");
                self.cursor = 0;
            }
            Edit::KillToEnd => text.truncate(at),
            Edit::KillWord => {
                let before = &text[..at];
                let word_end = before.trim_end().len();
                let start = before[..word_end]
                    .rfind(char::is_whitespace)
                    .map_or(0, |i| i + 1);
                text.replace_range(start..at, "");
                self.cursor = start;
            }
            Edit::Older | Edit::Newer => {
                let (pos, draft) = self
                    .browsing
                    .take()
                    .unwrap_or((self.history.len(), text.clone()));
                let pos = match edit {
                    Edit::Older => pos.saturating_sub(1),
                    _ => (pos + 1).min(self.history.len()),
                };
                text = self
                    .history
                    .get(pos)
                    .cloned()
                    .unwrap_or_else(|| draft.clone());
                self.browsing = Some((pos, draft));
                self.cursor = text.len();
            }
        }
        text
    }

    fn prev_boundary(&self) -> Option<usize> {
        let at = self.cursor.min(self.text.len());
        self.text[..at].char_indices().next_back().map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        let at = self.cursor.min(self.text.len());
        self.text[at..].chars().next().map(|c| at + c.len_utf8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `f` as App does: the returned text becomes the bar's text.
    fn run(bar: &mut FilterBar, f: impl FnOnce(&mut FilterBar) -> String) {
        bar.text = f(bar);
    }

    fn typed(bar: &mut FilterBar, text: &str) {
        for c in text.chars() {
            run(bar, |b| b.insert(c));
        }
    }

    #[test]
    fn typing_after_a_term_starts_a_new_one() {
        let mut bar = FilterBar {
            text: "pid:14303".into(),
            ..FilterBar::default()
        };
        bar.begin();
        typed(&mut bar, "estab");
        assert_eq!(bar.text, "pid:14303 estab");
    }

    #[test]
    fn readline_keys() {
        let mut bar = FilterBar::default();
        bar.begin();
        typed(&mut bar, "port:80 state:estab");
        run(&mut bar, |b| b.edit(Edit::KillWord));
        assert_eq!((bar.text.as_str(), bar.cursor), ("port:80 ", 8));
        typed(&mut bar, "udp  ");
        run(&mut bar, |b| b.edit(Edit::KillWord));
        assert_eq!(bar.text, "port:80 ");
        run(&mut bar, |b| b.edit(Edit::Start));
        typed(&mut bar, "tcp ");
        assert_eq!(bar.text, "tcp port:80 ");
        run(&mut bar, |b| b.edit(Edit::Right));
        run(&mut bar, |b| b.edit(Edit::KillToStart));
        assert_eq!((bar.text.as_str(), bar.cursor), ("ort:80 ", 0));
        run(&mut bar, |b| b.edit(Edit::Delete));
        assert_eq!(bar.text, "rt:80 ");
        run(&mut bar, |b| b.edit(Edit::End));
        run(&mut bar, |b| b.edit(Edit::Left));
        run(&mut bar, |b| b.backspace());
        assert_eq!((bar.text.as_str(), bar.cursor), ("rt:8 ", 4));
        run(&mut bar, |b| b.edit(Edit::KillToEnd));
        assert_eq!(bar.text, "rt:8");
        // Ctrl-U at the end clears the line.
        run(&mut bar, |b| b.edit(Edit::End));
        run(&mut bar, |b| b.edit(Edit::KillToStart));
        assert_eq!((bar.text.as_str(), bar.cursor), ("", 0));
        // Past either end nothing breaks, also with multi-byte text.
        typed(&mut bar, "é");
        for edit in [
            Edit::Left,
            Edit::Left,
            Edit::Delete,
            Edit::Right,
            Edit::Right,
        ] {
            run(&mut bar, |b| b.edit(edit));
        }
        run(&mut bar, |b| b.backspace());
        run(&mut bar, |b| b.backspace());
        assert_eq!(bar.text, "");
    }

    #[test]
    fn history_walks_back_and_returns_to_the_draft() {
        let mut bar = FilterBar::default();
        for kept in ["udp", "port:53", "port:53"] {
            bar.begin();
            run(&mut bar, |b| b.edit(Edit::KillToStart));
            typed(&mut bar, kept);
            bar.done();
        }
        bar.begin();
        run(&mut bar, |b| b.edit(Edit::KillToStart));
        typed(&mut bar, "draft");
        run(&mut bar, |b| b.edit(Edit::Older));
        assert_eq!(bar.text, "port:53");
        run(&mut bar, |b| b.edit(Edit::Older));
        assert_eq!(bar.text, "udp");
        run(&mut bar, |b| b.edit(Edit::Older));
        assert_eq!(bar.text, "udp");
        run(&mut bar, |b| b.edit(Edit::Newer));
        run(&mut bar, |b| b.edit(Edit::Newer));
        assert_eq!((bar.text.as_str(), bar.cursor), ("draft", 5));
    }
}
