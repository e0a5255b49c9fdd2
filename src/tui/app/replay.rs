//! The app's state when it shows a recording (`sockscope replay`): where the time
//! cursor is, and what the keys asked for. No I/O: `tui::replay` reads the file and
//! feeds the app, as the collector does live.

use std::time::{Duration, SystemTime};

use crate::record::At;
use crate::tui::event::Action;

use super::App;

#[derive(Clone, Debug)]
pub struct ReplayState {
    /// The file's name, escaped for the screen.
    pub file: String,
    /// The snapshot shown, of `len`.
    pub index: usize,
    pub len: usize,
    pub at: SystemTime,
    pub start: SystemTime,
    pub end: SystemTime,
    /// `t`: the time being typed, until Enter or Esc.
    pub prompt: Option<String>,
    /// Why the last typed time was not taken.
    pub prompt_error: Option<String>,
    /// What the keys asked for; the replay loop takes it.
    pub request: Option<Seek>,
}

/// Where to move the time cursor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seek {
    /// By this many refreshes (`[` `]`, and playing).
    Steps(isize),
    /// By this long, back or forward (`{` `}`).
    Back(Duration),
    Forward(Duration),
    To(At),
}

/// What `{` and `}` jump.
pub const JUMP: Duration = Duration::from_secs(60);

impl ReplayState {
    pub fn new(file: String, len: usize, start: SystemTime, end: SystemTime) -> ReplayState {
        ReplayState {
            file,
            index: 0,
            len,
            at: start,
            start,
            end,
            prompt: None,
            prompt_error: None,
            request: None,
        }
    }
}

impl App {
    /// Whether the keyboard goes to the time prompt.
    pub fn typing_time(&self) -> bool {
        self.replay.as_ref().is_some_and(|r| r.prompt.is_some())
    }

    /// Takes the replay keys, and every key while the time prompt is open; says
    /// whether it did. Live, the replay keys do nothing.
    pub(super) fn apply_replay(&mut self, action: Action) -> bool {
        let replay_key = matches!(
            action,
            Action::StepBack
                | Action::StepForward
                | Action::JumpBack
                | Action::JumpForward
                | Action::JumpTo
        );
        let Some(replay) = &mut self.replay else {
            return replay_key;
        };
        if let Some(text) = &mut replay.prompt {
            match action {
                Action::FilterChar(c) => text.push(c),
                Action::FilterBackspace => {
                    text.pop();
                }
                Action::Back => replay.prompt = None,
                Action::FilterDone => match At::parse(text.trim()) {
                    Ok(at) => {
                        replay.request = Some(Seek::To(at));
                        replay.prompt = None;
                        replay.prompt_error = None;
                    }
                    Err(e) => replay.prompt_error = Some(e),
                },
                Action::Quit => return false,
                _ => {}
            }
            return true;
        }
        replay.request = match action {
            Action::StepBack => Some(Seek::Steps(-1)),
            Action::StepForward => Some(Seek::Steps(1)),
            Action::JumpBack => Some(Seek::Back(JUMP)),
            Action::JumpForward => Some(Seek::Forward(JUMP)),
            Action::JumpTo => {
                replay.prompt = Some(String::new());
                replay.prompt_error = None;
                None
            }
            _ => return false,
        };
        // Stepping by hand pauses playing, as a video player does.
        if replay.request.is_some() {
            self.paused = true;
        }
        true
    }
}
