//! `sockscope demo` as a newcomer runs it: the live view in a real terminal (tmux) shows
//! the demo's banner and every classic state, and `q` leaves nothing behind. The demo
//! runs in a network namespace of its own, so no other test's sockets are on screen.

mod common;
use common::need::{self, Need};
use common::netns::Netns;
use common::tmux::Tmux;

use std::thread::sleep;
use std::time::{Duration, Instant};

const STATES: [&str; 8] = [
    "LISTEN",
    "SYN_SENT",
    "ESTABLISHED",
    "FIN_WAIT2",
    "CLOSE_WAIT",
    "TIME_WAIT",
    "UDP",
    "UNIX",
];

/// The zoo is in place: the state bar counts every state, the table has a tcp row in
/// each state the zoo holds, and the banner is up.
fn zoo_on_screen(screen: &str) -> bool {
    let bar = screen.lines().find(|l| l.contains(" │ ")).unwrap_or("");
    let tcp_row = |state: &str| {
        screen
            .lines()
            .any(|l| l.contains(" tcp ") && l.contains(state))
    };
    // The bar spells states ss's way (ESTAB, FIN-WAIT-2) when the full names do not fit.
    let ss = |state: &str| match state {
        "ESTABLISHED" => "ESTAB".to_string(),
        "FIN_WAIT2" => "FIN-WAIT-2".to_string(),
        other => other.replace('_', "-"),
    };
    STATES
        .iter()
        .all(|state| bar.contains(&format!("{state} ")) || bar.contains(&format!("{} ", ss(state))))
        && ["LISTEN", "SYN_SENT", "FIN_WAIT2", "CLOSE_WAIT"]
            .iter()
            .all(|state| tcp_row(state))
        && screen.contains("sockscope demo (pid")
        && screen.contains("echo server")
}

#[test]
fn demo_shows_every_state_and_q_cleans_up() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let netns = Netns::new();
    let tmux = Tmux::new();
    let script = format!(
        "{}{} demo; echo \"exited with $?\"; sleep 30",
        netns.shell_prefix(),
        env!("CARGO_BIN_EXE_sockscope")
    );
    tmux.start(150, 60, &script);

    // The banner starts folded into one line; b opens the legend (ports, temp dir).
    tmux.wait_for("the folded banner", |s| s.contains("(b: legend)"));
    tmux.run(&["send-keys", "-t", "tui", "b"]);
    // Read only a completely drawn frame: the state bar is drawn before the table.
    let screen = tmux.wait_for("every state on screen, with its rows", zoo_on_screen);
    let tempdir = screen
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/sockscope-demo-") && !w.ends_with(".sock"))
        .expect("the banner names the temp dir")
        .to_string();
    assert!(std::path::Path::new(&tempdir).is_dir());

    tmux.run(&["send-keys", "-t", "tui", "q"]);
    let screen = tmux.wait_for("the demo to exit", |s| s.contains("exited with"));
    assert!(screen.contains("exited with 0"), "{screen}");
    // Stopping joins every thread before the process exits, so this is immediate;
    // allow a moment anyway.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&tempdir).exists() && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
    }
    assert!(
        !std::path::Path::new(&tempdir).exists(),
        "{tempdir} removed"
    );
}
