//! `sockscope demo` in a real terminal (tmux): the banner says to press `m`; a
//! socket of the zoo in a known state, selected with the filter, opens on the state
//! machine with its state bracketed, its demo role named and its state explained in
//! the words of `sockscope::states`. Frames are read once stable: the view is paused
//! (space) and two captures in a row must match. The demo runs in a network namespace
//! of the test's own.

mod common;
use common::need::{self, Need};
use common::netns::Netns;
use common::tmux::Tmux;

use std::thread::sleep;
use std::time::{Duration, Instant};

use sockscope::model::TcpState;

/// Polls (up to 15 s) until two captures 200 ms apart are identical and `check`
/// accepts them; returns that screen.
fn stable_screen(tmux: &Tmux, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = tmux.screen();
    loop {
        sleep(Duration::from_millis(200));
        let now = tmux.screen();
        if now == last && check(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for a stable {what}:\n{now}"
        );
        last = now;
    }
}

fn keys(tmux: &Tmux, keys: &[&str]) {
    for key in keys {
        tmux.run(&["send-keys", "-t", "tui", key]);
        // Esc then a letter, sent together, would read as Alt+letter.
        sleep(Duration::from_millis(150));
    }
}

/// Filters the table to `state`, opens the state machine on its first socket, and
/// returns the paused, stable screen showing it.
fn machine_of(tmux: &Tmux, state: TcpState, filter: &str) -> String {
    keys(tmux, &["Escape", "Escape", "/"]);
    tmux.run(&["send-keys", "-t", "tui", "-l", filter]);
    keys(tmux, &["Enter"]);
    let name = state.name();
    tmux.wait_for(&format!("a {name} row"), |s| {
        s.lines()
            .any(|l| l.contains(" tcp ") && l.contains(&name[..8.min(name.len())]))
    });
    keys(tmux, &["m", " "]);
    let bracketed = format!("[{name}]");
    let screen = stable_screen(tmux, &format!("{name} pane"), |s| {
        s.contains(&bracketed) && s.contains("[paused]")
    });
    keys(tmux, &[" "]); // resume
    screen
}

#[test]
fn the_demo_opens_on_the_hint_and_m_shows_the_zoo_on_the_state_machine() {
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
    tmux.start(120, 40, &script);
    let screen = tmux.wait_for("the demo's hint and its zoo", |s| {
        s.contains("press m: the TCP state machine") && s.contains("CLOSE_WAIT ")
    });
    assert!(screen.contains(sockscope::demo::HINT), "{screen}");
    // The banner's legend (b opens it) names the backlog-0 listener's port.
    tmux.run(&["send-keys", "-t", "tui", "b"]);
    let screen = tmux.wait_for("the legend", |s| s.contains("backlog-0 listener"));
    let syn_port = screen
        .lines()
        .find(|l| l.contains("backlog-0 listener"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|addr| addr.rsplit(':').next())
        .expect("the banner names the backlog-0 listener")
        .to_string();

    // The zoo's server end of a half-closed connection.
    let screen = machine_of(&tmux, TcpState::CloseWait, "state:close-wait");
    assert!(
        screen.contains("demo zoo-close-wait, its server's end"),
        "{screen}"
    );
    assert!(screen.contains("timeout 2MSL"), "the diagram:\n{screen}");
    let meaning = sockscope::states::tcp(TcpState::CloseWait).meaning;
    assert!(screen.contains(&meaning[..30]), "explained:\n{screen}");
    // The banner gives way to the diagram.
    assert!(!screen.contains("press m:"), "{screen}");

    // A connector stuck at the backlog-0 listener: a client's end, in SYN_SENT.
    let screen = machine_of(&tmux, TcpState::SynSent, "state:syn-sent");
    assert!(screen.contains("demo zoo-syn, a client's end"), "{screen}");
    assert!(screen.contains("connect() / SYN sent"), "{screen}");

    // The listener itself, its accept queue holding the one connection it admits.
    let filter = format!("listening port:{syn_port}");
    let screen = machine_of(&tmux, TcpState::Listen, &filter);
    assert!(
        screen.contains("demo zoo-syn, its server's end"),
        "{screen}"
    );
    assert!(
        screen.contains("1 waiting for accept()"),
        "the accept queue:\n{screen}"
    );

    keys(&tmux, &["q"]);
    let screen = tmux.wait_for("the demo to exit", |s| s.contains("exited with"));
    assert!(screen.contains("exited with 0"), "{screen}");
}
