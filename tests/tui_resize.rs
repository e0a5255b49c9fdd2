//! The live view in a real terminal (tmux) survives resizes down to 1×1 and back: after
//! each size it is still running, after growing back it draws the header and our socket
//! again, and a SIGTERM at the end restores the terminal. Skipped, saying so, where tmux
//! is missing (a failure under CI).

use std::net::TcpListener;
use std::thread::sleep;
use std::time::Duration;

mod common;
use common::need::{self, Need};
use common::netns::OwnAddr;
use common::tmux::{Tmux, assert_exited_and_restored};

/// From tiny to large and back; 120×40 last.
const SIZES: [(u16, u16); 11] = [
    (1, 1),
    (2, 3),
    (10, 5),
    (40, 12),
    (200, 60),
    (1, 1),
    (3, 1),
    (1, 3),
    (80, 2),
    (2, 50),
    (120, 40),
];

/// Running, and not a zombie: /proc/<pid>/stat's state is not Z.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

#[test]
fn resizes_down_to_one_cell_and_back() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let row = listener.local_addr().unwrap().to_string();

    let tmux = Tmux::new();
    // The inner shell records its pid, then becomes sockscope (exec); the outer one
    // reports how it ended and the terminal's modes afterwards.
    let script = format!(
        "sh -c 'echo $$ > {dir}/pid; exec {bin} --pid {me} --interval 100'; \
         echo \"exited with $?\"; stty -a > {dir}/stty; sleep 30",
        dir = tmux.dir().display(),
        bin = env!("CARGO_BIN_EXE_sockscope"),
        me = std::process::id(),
    );
    tmux.start(120, 40, &script);
    let pid = tmux.read_file("pid").trim().to_string();
    tmux.wait_for("our listener", |s| {
        s.contains("sockscope ·") && s.contains(&row)
    });

    for (width, height) in SIZES {
        let (w, h) = (width.to_string(), height.to_string());
        let resized = tmux.run(&["resize-window", "-t", "tui", "-x", &w, "-y", &h]);
        assert!(resized.status.success(), "{width}x{height}: {resized:?}");
        assert_eq!(
            tmux.format("#{window_width}x#{window_height}"),
            format!("{width}x{height}")
        );
        // A few refreshes at this size.
        sleep(Duration::from_millis(400));
        assert!(
            alive(&pid),
            "sockscope died at {width}x{height}:\n{}",
            tmux.screen()
        );
        if width >= 80 && height >= 20 {
            tmux.wait_for("the table after the resize", |s| {
                s.contains("sockscope ·") && s.contains(&row)
            });
        }
    }
    let screen = tmux.wait_for("our LISTEN row at 120x40", |s| {
        s.lines().any(|l| l.contains(&row) && l.contains("LISTEN"))
    });
    assert_eq!(screen.lines().count(), 40, "{screen}");

    common::sigterm(pid.parse().unwrap()).expect("SIGTERM to the live view");
    assert_exited_and_restored(&tmux, || tmux.read_file("stty"));
}
