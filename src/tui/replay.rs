//! `sockscope replay FILE`: the live view over a recording. The recording takes the
//! collector's place: the loop below reads snapshots out of it as the keys and the
//! play clock ask, and feeds them to the same `App` as live, so every view works.
//!
//! Playing is one recorded refresh per `app.interval` (the recording's interval to
//! start with; `+`/`-` change the speed). A jump (`{` `}` `t`, `[` back) starts the
//! history afresh a few refreshes before the target, so rates and events are there.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::app::{App, Config, ReplayState, Seek, Timeline};
use super::event::Input;
use super::event::Update;
use super::{TerminalGuard, draw, enter_terminal, handle, spawn_keys, spawn_signals};
use crate::clock::rfc3339_ms;
use crate::record::{Recording, Replay};

/// Refreshes fed to the history before a jump's target.
const LEAD_IN: usize = 30;

/// Reads the recording and runs the view until the user quits.
pub fn replay(path: &Path) -> Result<()> {
    use std::io::IsTerminal;
    let recording = Recording::open(path)?;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the replay view needs a terminal; for pipes use `sockscope list --replay`");
    }
    let file = crate::text::escape(&path.display().to_string()).into_owned();
    let mut player = Player::new(recording);
    let mut app = player.app(file);
    // Names as in the live view (this host's /etc/services; R resolves from here).
    app.naming = super::live_naming(Path::new(crate::collect::PROC), Default::default());
    let (to_ui, inputs) = mpsc::channel();
    spawn_signals(to_ui.clone())?;
    spawn_keys(to_ui);
    let _restore = TerminalGuard;
    let mut terminal = enter_terminal().context("cannot set up the terminal")?;
    player.go(&mut app, Seek::Steps(0))?;
    draw(&mut terminal, &mut app)?;
    while !app.quit {
        let wait = if app.paused {
            Duration::from_secs(3600)
        } else {
            app.interval
        };
        match inputs.recv_timeout(wait) {
            Ok(input) => {
                for input in std::iter::once(input).chain(inputs.try_iter()) {
                    player.input(&mut app, input)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => player.play(&mut app)?,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if !app.quit {
            draw(&mut terminal, &mut app)?;
        }
    }
    Ok(())
}

/// The recording and where in it the app is.
pub struct Player {
    replay: Replay,
    /// The snapshot the app shows; None before the first.
    shown: Option<usize>,
}

impl Player {
    pub fn new(recording: Recording) -> Player {
        Player {
            replay: Replay::new(recording),
            shown: None,
        }
    }

    /// An app set up for this recording, paused at its start.
    pub fn app(&self, file: String) -> App {
        let recording = &self.replay.recording;
        let mut app = App::new(Config {
            hostname: recording.meta.hostname.clone(),
            banner: recording
                .damage
                .iter()
                .map(|d| format!("the recording ends early: {d}"))
                .collect(),
            pids: Vec::new(),
            interval: Duration::from_millis(recording.meta.interval_ms.max(50)),
            filter: recording.meta.filter.clone(),
            started_at: recording.start(),
        });
        app.paused = true;
        // A recording is not the running system: K and X must not act on what it shows.
        app.actions.off = crate::act::off(crate::collect::Source::is_live(&self.replay));
        app.replay = Some(ReplayState::new(
            file,
            recording.len(),
            recording.start(),
            recording.end(),
        ));
        app
    }

    /// A key (or resize, or quit) as the live view takes it, then the move it asked
    /// for: what the loop does, for tests too.
    pub fn input(&mut self, app: &mut App, input: Input) -> Result<()> {
        drop(handle(app, input));
        match app.replay.as_mut().and_then(|r| r.request.take()) {
            Some(seek) => self.go(app, seek),
            None => Ok(()),
        }
    }

    /// One refresh on, while playing; at the end it stops.
    pub fn play(&mut self, app: &mut App) -> Result<()> {
        if self
            .shown
            .is_some_and(|i| i + 1 >= self.replay.recording.len())
        {
            app.paused = true;
            return Ok(());
        }
        self.go(app, Seek::Steps(1))
    }

    /// Moves the time cursor and shows the snapshot there.
    pub fn go(&mut self, app: &mut App, seek: Seek) -> Result<()> {
        let recording = &self.replay.recording;
        let last = recording.len() - 1;
        let now = self.shown.unwrap_or(0);
        let at = |i: usize| recording.time_of(i);
        let target = match seek {
            Seek::Steps(n) => now.saturating_add_signed(n).min(last),
            Seek::Forward(d) => recording
                .index_at(at(now) + d)
                .unwrap_or(0)
                .max(now + 1)
                .min(last),
            Seek::Back(d) => at(now)
                .checked_sub(d)
                .and_then(|t| recording.index_at(t))
                .unwrap_or(0),
            Seek::To(to) => {
                let time = to.in_recording(recording);
                match recording.index_at(time) {
                    Some(i) => i,
                    None => {
                        if let Some(r) = &mut app.replay {
                            r.prompt_error = Some(format!(
                                "{} is before the recording starts ({})",
                                rfc3339_ms(time),
                                rfc3339_ms(recording.start())
                            ));
                        }
                        return Ok(());
                    }
                }
            }
        };
        if self.shown == Some(target) {
            return Ok(());
        }
        if self.shown.is_none_or(|i| i + 1 != target) {
            // A jump: the history starts afresh a little before the target.
            app.preparer.restart();
            app.timeline = Timeline::default();
            if let Some(details) = &mut app.details {
                details.rates.clear();
            }
            for i in target.saturating_sub(LEAD_IN)..target {
                let snapshot = self.replay.snapshot_at(i)?;
                app.preparer.observe(&snapshot);
            }
        }
        let snapshot = self.replay.snapshot_at(target)?;
        let taken_at = snapshot.taken_at;
        let update = Update {
            snapshot: Ok(snapshot),
            cmdlines: Default::default(),
            exited: Vec::new(),
            names: Default::default(),
            listen_counters: None,
            port_range: None,
        };
        // The app drops updates while paused (live, one may be on its way); here
        // paused only means not playing.
        let paused = std::mem::replace(&mut app.paused, false);
        app.update(update);
        app.paused = paused;
        self.shown = Some(target);
        if let Some(r) = &mut app.replay {
            r.index = target;
            r.at = taken_at;
        }
        Ok(())
    }
}

/// "+1:02:03": how far into the recording.
pub fn offset_text(from: SystemTime, at: SystemTime) -> String {
    let secs = at.duration_since(from).unwrap_or_default().as_secs();
    format!("+{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}
