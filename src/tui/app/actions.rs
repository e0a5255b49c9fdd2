//! The app's state for acting (K and X): whether actions are on, the dialog that asks
//! first, the request a confirmed dialog hands the UI loop (the app does no I/O), and
//! the last result, which also goes into the events log.

use std::time::SystemTime;

use crate::act::{self, Outcome, ProcessTarget, Signal, Verb};
use crate::model::{Proto, Socket};
use crate::track::Change;
use crate::tui::rows::Row;

use super::{App, View};

#[derive(Debug, Default)]
pub struct Actions {
    /// Why K and X do nothing (`--read-only`, not the running system); None: they
    /// ask, then act.
    pub off: Option<String>,
    pub dialog: Option<Dialog>,
    /// The last result, or why a key did nothing: the footer shows it until the next key.
    pub status: Option<Status>,
    request: Option<Request>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub ok: bool,
}

#[derive(Clone, Debug)]
pub enum Dialog {
    /// K: the processes to signal. `about` is the socket K was pressed on (in the
    /// processes view, the process's first socket): the events log files it there.
    Signal {
        targets: Vec<ProcessTarget>,
        about: Socket,
        /// Pressed on a process (the processes view) rather than a socket.
        on_process: bool,
    },
    /// X: the connection to close.
    Close { socket: Socket },
}

/// What a confirmed dialog asks the UI loop to do.
#[derive(Clone, Debug)]
pub enum Request {
    Signal {
        targets: Vec<ProcessTarget>,
        signal: Signal,
        about: Socket,
    },
    Close {
        socket: Socket,
    },
}

/// One action performed, as the UI loop reports it back.
#[derive(Clone, Debug)]
pub struct Done {
    pub at: SystemTime,
    pub about: Socket,
    pub verb: Verb,
    /// What it was done to, described in full (escaped), for the status line.
    pub target: String,
    /// Short, for the events log, whose row shows the socket already: "SIGTERM → pid
    /// 42 nginx", or empty.
    pub brief: String,
    pub outcome: Outcome,
}

impl App {
    /// K: the owners of the selected socket, or the selected process.
    pub(super) fn ask_signal(&mut self) {
        if self.refuse_when_off() {
            return;
        }
        let Some(snapshot) = &self.snapshot else {
            return self.say("nothing to act on yet", false);
        };
        if self.view == View::Processes && self.grouped {
            return self.say(
                "K signals one process: press c to list the processes, then pick one",
                false,
            );
        }
        let (about, pids, on_process) = if self.view == View::Processes {
            let Some(process) = self.processes.get(self.process_table.selected) else {
                return self.say("no process selected", false);
            };
            let pid = process.pid;
            let held = self.rows.iter().find_map(|row| match row.get() {
                Row::Live(i) => {
                    Some(&snapshot.sockets[i]).filter(|s| s.processes.iter().any(|o| o.pid == pid))
                }
                Row::Gone(_) => None,
            });
            let Some(socket) = held else {
                return self.say("that process holds no socket any more", false);
            };
            (socket.clone(), vec![pid], true)
        } else {
            match self.acted_on() {
                Ok(socket) => (socket, Vec::new(), false),
                Err(why) => return self.say(why, false),
            }
        };
        let cmdline = |pid: u32, _: &str| self.cmdlines.get(&pid).cloned();
        let targets = act::processes_of(
            [&about],
            &snapshot.sockets,
            &pids,
            snapshot.taken_at,
            cmdline,
        );
        if targets.is_empty() {
            return self.say(
                "no process holding this socket is visible (run as root to see them all)",
                false,
            );
        }
        self.actions.dialog = Some(Dialog::Signal {
            targets,
            about,
            on_process,
        });
    }

    /// X: the selected TCP connection.
    pub(super) fn ask_close(&mut self) {
        if self.refuse_when_off() {
            return;
        }
        if self.view == View::Processes {
            return self.say(
                "X closes one connection: pick it in the sockets view",
                false,
            );
        }
        let socket = match self.acted_on() {
            Ok(socket) => socket,
            Err(why) => return self.say(why, false),
        };
        if socket.proto != Proto::Tcp {
            return self.say(
                &format!("X closes TCP connections; this is {}", socket.proto_text()),
                false,
            );
        }
        if let Some(why) = act::unclosable(&socket) {
            return self.say(&format!("cannot close it: {why}"), false);
        }
        self.actions.dialog = Some(Dialog::Close { socket });
    }

    /// A key while a dialog is open: its confirmation key, Esc, or Ctrl-C.
    pub(super) fn answer_dialog(&mut self, action: super::Action) {
        use super::Action;
        let Some(dialog) = self.actions.dialog.take() else {
            return;
        };
        match (action, dialog) {
            (Action::Back, _) => self.say("cancelled, nothing was done", true),
            (Action::Quit, _) => self.quit = true,
            (Action::Signal(signal), Dialog::Signal { targets, about, .. }) => {
                self.actions.request = Some(Request::Signal {
                    targets,
                    signal,
                    about,
                });
            }
            (Action::Confirm, Dialog::Close { socket }) => {
                self.actions.request = Some(Request::Close { socket });
            }
            (_, dialog) => self.actions.dialog = Some(dialog),
        }
    }

    /// The confirmed request, for the UI loop to perform.
    pub fn take_request(&mut self) -> Option<Request> {
        self.actions.request.take()
    }

    /// The results of a request: each into the events log, all into the status.
    pub fn acted(&mut self, done: Vec<Done>) {
        let mut lines = Vec::new();
        let mut ok = true;
        for d in &done {
            let line = d.verb.line(&d.target, &d.outcome, false);
            let what = match d.verb {
                Verb::Signal(_) => "signal",
                Verb::Close => "close",
            };
            // The log's row has the result in a word already; say what, and why not.
            let text = match (d.brief.as_str(), &d.outcome) {
                ("", outcome) => outcome.text().to_string(),
                (brief, Outcome::Done) => brief.to_string(),
                (brief, outcome) => format!("{brief}: {}", outcome.text()),
            };
            let change = Change::Acted {
                what,
                result: d.outcome.word(),
                ok: d.outcome.ok(),
                text: text.into(),
            };
            self.note(d.at, change, &d.about);
            ok &= d.outcome.ok();
            lines.push(line);
        }
        let text = match lines.len() {
            0 => "nothing was done".to_string(),
            1 => lines.remove(0),
            n => format!("{} (and {} more: e shows all)", lines.remove(0), n - 1),
        };
        self.say(&text, ok);
    }

    /// The live socket the keys act on: the selected row, or the one in the details.
    fn acted_on(&self) -> Result<Socket, &'static str> {
        match self.view {
            View::Sockets => match self.selected_row() {
                Some(row) if row.is_gone() => Err("that socket is gone"),
                Some(row) => Ok(self.socket(row).clone()),
                None => Err("no socket selected"),
            },
            View::Details | View::Machine => match &self.details {
                Some(d) if !d.gone => Ok(d.socket.clone()),
                Some(_) => Err("that socket is gone"),
                None => Err("no socket selected"),
            },
            _ => Err("pick a socket in the sockets view (or a process: Tab) first"),
        }
    }

    fn refuse_when_off(&mut self) -> bool {
        let Some(why) = self.actions.off.clone() else {
            return false;
        };
        self.say(&why, false);
        true
    }

    fn say(&mut self, text: &str, ok: bool) {
        self.actions.status = Some(Status {
            text: text.to_string(),
            ok,
        });
    }
}
