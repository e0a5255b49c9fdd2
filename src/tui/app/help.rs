//! The help overlay's keys: where it is taller than the screen the moving keys
//! scroll it; any other key closes it.

use crate::tui::event::Action;

use super::App;

impl App {
    /// A key while the help is open.
    pub(super) fn apply_help(&mut self, action: Action) {
        let limit = self.help_scroll_limit;
        self.help_scroll = match action {
            _ if limit == 0 => return self.close_help(action),
            Action::Up => self.help_scroll.saturating_sub(1),
            Action::Down => self.help_scroll.saturating_add(1).min(limit),
            Action::PageUp | Action::Top => 0,
            Action::PageDown | Action::Bottom => limit,
            _ => return self.close_help(action),
        };
    }

    /// Quitting still quits.
    fn close_help(&mut self, action: Action) {
        self.help = false;
        self.quit = action == Action::Quit;
    }

    /// How far the help scrolls on the screen last drawn (0 where it fits).
    pub fn set_help_scroll_limit(&mut self, limit: u16) {
        self.help_scroll_limit = limit;
    }
}
