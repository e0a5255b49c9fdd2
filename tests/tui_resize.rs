//! The live view in a real terminal (tmux) survives resizes down to 1×1 and back: after
//! each size it is still running, after growing back it draws the header and our socket
//! again, and a SIGTERM at the end restores the terminal. Skipped, saying so, where tmux
//! is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

mod common;
use common::tmux::{Tmux, assert_exited_and_restored, tmux_missing};

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

/// Files the shell around sockscope writes, removed at the end.
struct Files(PathBuf);

impl Files {
    /// Waits (up to 10 s) for a file the shell writes.
    fn read(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match std::fs::read_to_string(self.0.join(name)) {
                Ok(text) if text.ends_with('\n') => return text,
                _ if Instant::now() < deadline => sleep(Duration::from_millis(100)),
                _ => panic!("{name} never appeared"),
            }
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
    if tmux_missing("resizes_down_to_one_cell_and_back") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let row = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());

    let id = format!("resize-{}", std::process::id());
    let tmux = Tmux::new(&id);
    let files = Files(std::env::temp_dir().join(format!("sockscope-tmux-{id}")));
    std::fs::create_dir_all(&files.0).unwrap();
    // The inner shell records its pid, then becomes sockscope (exec); the outer one
    // reports how it ended and the terminal's modes afterwards.
    let script = format!(
        "sh -c 'echo $$ > {dir}/pid; exec {bin} --pid {me} --interval 100'; \
         echo \"exited with $?\"; stty -a > {dir}/stty; sleep 30",
        dir = files.0.display(),
        bin = env!("CARGO_BIN_EXE_sockscope"),
        me = std::process::id(),
    );
    tmux.start(120, 40, &script);
    let pid = files.read("pid").trim().to_string();
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
    let screen = tmux.screen();
    assert_eq!(screen.lines().count(), 40, "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains(&row) && l.contains("LISTEN")),
        "{screen}"
    );

    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    assert_exited_and_restored(&tmux, || files.read("stty"));
}
