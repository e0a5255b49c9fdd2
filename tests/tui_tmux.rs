//! End to end: the real binary in a real terminal (tmux), watching this test process's
//! own loopback sockets with `--pid`. Skipped, saying so, where tmux is missing.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

mod common;
use common::tmux::{Tmux, assert_exited_and_restored, tmux_missing};

/// The table rows (not the state bar) that mention `port`.
fn rows_with_port(screen: &str, port: u16) -> Vec<&str> {
    let needle = format!("127.0.0.1:{port}");
    screen
        .lines()
        .filter(|l| l.contains(&needle) && (l.contains("tcp ") || l.contains("tcp\t")))
        .collect()
}

/// Starts `sockscope --pid <this process>` in a fresh tmux server. When it exits, the
/// shell around it prints its exit code and writes the terminal's modes to a file.
fn start(name: &str) -> (Tmux, Session) {
    let id = format!("{name}-{}", std::process::id());
    let tmux = Tmux::new(&id);
    let dir = std::env::temp_dir().join(format!("sockscope-tmux-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let session = Session { dir };
    // The inner shell records its pid, then becomes sockscope (exec), so that pid is
    // the one to signal.
    let script = format!(
        "sh -c 'echo $$ > {pidfile}; exec {bin} --pid {pid} --interval 200'; \
         echo \"exited with $?\"; stty -a > {stty}; sleep 30",
        pidfile = session.file("pid").display(),
        bin = env!("CARGO_BIN_EXE_sockscope"),
        pid = std::process::id(),
        stty = session.file("stty").display(),
    );
    tmux.start(140, 40, &script);
    (tmux, session)
}

/// Files the shell around sockscope writes.
struct Session {
    dir: std::path::PathBuf,
}

impl Session {
    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }

    /// Waits (up to 10 s) for a file the shell writes.
    fn read(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match std::fs::read_to_string(self.file(name)) {
                Ok(text) if text.ends_with('\n') => return text,
                _ if Instant::now() < deadline => sleep(Duration::from_millis(100)),
                _ => panic!("{name} never appeared"),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn live_view_in_a_real_terminal() {
    if tmux_missing("live_view_in_a_real_terminal") {
        return;
    }
    // Known sockets held by this process: a listener, one open connection, and one
    // whose client has closed but we have not (CLOSE_WAIT on our side).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_served, _) = listener.accept().unwrap();
    let closing = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut half_closed, _) = listener.accept().unwrap();
    closing.shutdown(Shutdown::Write).unwrap();
    // Our side has seen the FIN once a read returns end of file.
    assert_eq!(half_closed.read(&mut [0; 8]).unwrap(), 0);

    let (tmux, session) = start("keys");
    let screen = tmux.wait_for("our sockets", |s| {
        let rows = rows_with_port(s, port);
        ["LISTEN", "ESTABLISHED", "CLOSE_WAIT"]
            .iter()
            .all(|state| rows.iter().any(|r| r.contains(state)))
    });
    let pid_text = format!("pid {}", std::process::id());
    assert!(
        screen.contains(&pid_text),
        "header names the pid:\n{screen}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the TUI uses the alternate screen"
    );

    // Resizes are followed: too small says so, and growing back shows the table.
    tmux.run(&["resize-window", "-t", "tui", "-x", "30", "-y", "8"]);
    tmux.wait_for("the too-small notice", |s| s.contains("too small"));
    tmux.run(&["resize-window", "-t", "tui", "-x", "140", "-y", "40"]);
    tmux.wait_for("the table again", |s| !rows_with_port(s, port).is_empty());

    // `/` filters as typed: only the CLOSE_WAIT row of our port is left.
    tmux.run(&["send-keys", "-t", "tui", "/"]);
    tmux.run(&["send-keys", "-t", "tui", "-l", "state:close-wait"]);
    let screen = tmux.wait_for("the filter to apply", |s| {
        let rows = rows_with_port(s, port);
        s.contains("filter: state:close-wait")
            && !rows.is_empty()
            && rows.iter().all(|r| r.contains("CLOSE_WAIT"))
    });
    assert!(
        !rows_with_port(&screen, port)
            .iter()
            .any(|r| r.contains("LISTEN"))
    );

    // Enter keeps the filter, q quits.
    tmux.run(&["send-keys", "-t", "tui", "Enter"]);
    tmux.run(&["send-keys", "-t", "tui", "q"]);
    assert_exited_and_restored(&tmux, || session.read("stty"));
}

#[test]
fn ctrl_c_restores_the_terminal() {
    if tmux_missing("ctrl_c_restores_the_terminal") {
        return;
    }
    let (tmux, session) = start("ctrl-c");
    tmux.wait_for("the TUI", |s| s.contains("sockscope ·"));
    tmux.run(&["send-keys", "-t", "tui", "C-c"]);
    assert_exited_and_restored(&tmux, || session.read("stty"));
}

#[test]
fn sigterm_restores_the_terminal() {
    if tmux_missing("sigterm_restores_the_terminal") {
        return;
    }
    let (tmux, session) = start("sigterm");
    tmux.wait_for("the TUI", |s| s.contains("sockscope ·"));
    let pid = session.read("pid");
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_exited_and_restored(&tmux, || session.read("stty"));
}
