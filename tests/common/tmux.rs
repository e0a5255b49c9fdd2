//! A tmux server of our own, for tests that drive the real binary in a real terminal.

use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket name), killed when the test ends.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named after `id`; its one session is called `tui`.
    pub fn new(id: &str) -> Tmux {
        Tmux {
            socket: format!("sockscope-test-{id}"),
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
            .args(["-L", &self.socket, "-f", "/dev/null"])
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

    /// Polls (up to 10 s) until `check` accepts the screen; returns that screen.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
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

pub fn tmux_missing(test: &str) -> bool {
    let missing = Command::new("tmux").arg("-V").output().is_err();
    if missing {
        eprintln!("skipping {test}: tmux is not installed");
    }
    missing
}
