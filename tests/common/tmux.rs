//! A tmux server of our own, for tests that drive the real binary in a real terminal.
//! Its socket is in a temp dir of the test's own (`tmux -S`), removed with the server,
//! so nothing is left in /tmp or in tmux's shared socket directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a screen may take to show what a test waits for (a loaded machine).
const WAIT: Duration = Duration::from_secs(20);
/// Two captures this far apart that are the same: the frame is completely drawn.
const SETTLE: Duration = Duration::from_millis(60);

/// A tmux server of our own, killed (and its directory removed) when the test ends.
/// Check `need::met(&[Need::Tmux])` before making one.
pub struct Tmux {
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Tmux {
    /// A server whose one session is called `tui`, not started yet.
    pub fn new() -> Tmux {
        let dir = tempfile::Builder::new()
            .prefix("sockscope-tmux-")
            .tempdir()
            .expect("a temp dir for tmux");
        let socket = dir.path().join("tmux.sock");
        Tmux { dir, socket }
    }

    /// A directory of this test's own, removed at the end: for files its scripts write.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in `dir()`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits (bounded) for a file a script writes, complete (ending in a newline).
    pub fn read_file(&self, name: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match std::fs::read_to_string(self.file(name)) {
                Ok(text) if text.ends_with('\n') => return text,
                _ if Instant::now() < deadline => sleep(Duration::from_millis(100)),
                _ => panic!("{name} never appeared"),
            }
        }
    }

    /// Starts the session `tui`, `width`×`height`, running `script` under `sh -c`.
    pub fn start(&self, width: u16, height: u16, script: &str) {
        let (x, y) = (width.to_string(), height.to_string());
        let args = ["new-session", "-d", "-s", "tui", "-x", &x, "-y", &y];
        let started = self.run(&[&args[..], &["sh", "-c", script]].concat());
        assert!(started.status.success(), "tmux: {started:?}");
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into()
    }

    pub fn format(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "tui", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls (bounded) until a completely drawn screen satisfies `check`: the check
    /// passes, and a second capture a moment later is the same (a capture taken while
    /// the program is still writing its frame shows part old, part new). Returns it.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if check(&screen) {
                sleep(SETTLE);
                if self.screen() == screen {
                    return screen;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{screen}"
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Polls (bounded) until `check` accepts one capture, settled or not: for a view
    /// redrawn faster than captures can agree (`--interval 50`), to know it is up.
    pub fn wait_for_any(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{screen}"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        // The temp dir (with the socket) goes when `dir` drops, right after.
    }
}

/// After sockscope has been told to quit (its script prints "exited with $?" and then
/// saves `stty -a`, given here): it exited 0 and the terminal is as before.
pub fn assert_exited_and_restored(tmux: &Tmux, stty_after: impl Fn() -> String) {
    let screen = tmux.wait_for("sockscope to exit", |s| s.contains("exited with"));
    assert!(screen.contains("exited with 0"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
    assert!(
        !screen.contains("sockscope ·"),
        "the TUI is gone from the screen:\n{screen}"
    );
    assert_eq!(tmux.format("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor shown again");
    let modes = stty_after();
    let words: Vec<&str> = modes.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&mode),
            "raw mode left on: {mode} is off in\n{modes}"
        );
    }
}
