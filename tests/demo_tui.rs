//! `sockscope demo` as a newcomer runs it: the live view in a real terminal (tmux) shows
//! the demo's banner and every classic state, and `q` leaves nothing behind.

mod common;
use common::tmux::{Tmux, tmux_missing};

use std::thread::sleep;
use std::time::{Duration, Instant};

#[test]
fn demo_shows_every_state_and_q_cleans_up() {
    if tmux_missing("demo_shows_every_state_and_q_cleans_up") {
        return;
    }
    let tmux = Tmux::new(&format!("demo-{}", std::process::id()));
    let script = format!(
        "{} demo; echo \"exited with $?\"; sleep 30",
        env!("CARGO_BIN_EXE_sockscope")
    );
    tmux.start(150, 60, &script);

    // The state bar names each state with its count once the zoo is in place.
    let states = [
        "LISTEN",
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT2",
        "CLOSE_WAIT",
        "TIME_WAIT",
        "UDP",
        "UNIX",
    ];
    let screen = tmux.wait_for("every state on screen", |s| {
        let bar = s.lines().find(|l| l.contains(" │ ")).unwrap_or("");
        states
            .iter()
            .all(|state| bar.contains(&format!("{state} ")))
    });
    assert!(screen.contains("sockscope demo (pid"), "banner:\n{screen}");
    assert!(screen.contains("echo server"), "banner:\n{screen}");
    for state in ["LISTEN", "SYN_SENT", "FIN_WAIT2", "CLOSE_WAIT"] {
        assert!(
            screen
                .lines()
                .any(|l| l.contains(" tcp ") && l.contains(state)),
            "a tcp row in {state}:\n{screen}"
        );
    }
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
