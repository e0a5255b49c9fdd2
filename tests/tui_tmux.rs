//! End to end: the real binary in a real terminal (tmux), watching this test process's
//! own loopback sockets with `--pid`, on a loopback address of the test's own. Skipped,
//! saying so, where tmux is missing (a failure under CI).

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};

mod common;
use common::need::{self, Need};
use common::netns::OwnAddr;
use common::tmux::{Tmux, assert_exited_and_restored};

/// The table rows (not the state bar) that mention `addr`.
fn rows_with(screen: &str, addr: SocketAddr) -> Vec<&str> {
    let needle = addr.to_string();
    screen
        .lines()
        .filter(|l| l.contains(&needle) && (l.contains("tcp ") || l.contains("tcp\t")))
        .collect()
}

/// Starts `sockscope --pid <this process>` in a fresh tmux server. When it exits, the
/// shell around it prints its exit code and writes the terminal's modes to a file.
fn start() -> Tmux {
    let tmux = Tmux::new();
    // The inner shell records its pid, then becomes sockscope (exec), so that pid is
    // the one to signal.
    let script = format!(
        "sh -c 'echo $$ > {pidfile}; exec {bin} --pid {pid} --interval 200'; \
         echo \"exited with $?\"; stty -a > {stty}; sleep 30",
        pidfile = tmux.file("pid").display(),
        bin = env!("CARGO_BIN_EXE_sockscope"),
        pid = std::process::id(),
        stty = tmux.file("stty").display(),
    );
    tmux.start(140, 40, &script);
    tmux
}

#[test]
fn live_view_in_a_real_terminal() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    // Known sockets held by this process: a listener, one open connection, and one
    // whose client has closed but we have not (CLOSE_WAIT on our side).
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let addr = listener.local_addr().unwrap();
    let _client = TcpStream::connect(addr).unwrap();
    let (_served, _) = listener.accept().unwrap();
    let closing = TcpStream::connect(addr).unwrap();
    let (mut half_closed, _) = listener.accept().unwrap();
    closing.shutdown(Shutdown::Write).unwrap();
    // Our side has seen the FIN once a read returns end of file.
    assert_eq!(half_closed.read(&mut [0; 8]).unwrap(), 0);

    let tmux = start();
    let screen = tmux.wait_for("our sockets", |s| {
        let rows = rows_with(s, addr);
        // The kernel's names, or ss's where the STATE column is narrowed.
        [
            ["LISTEN", "LISTEN"],
            ["ESTABLISHED", "ESTAB"],
            ["CLOSE_WAIT", "CLOSE-WAIT"],
        ]
        .iter()
        .all(|names| rows.iter().any(|r| names.iter().any(|n| r.contains(n))))
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
    tmux.wait_for("the table again", |s| !rows_with(s, addr).is_empty());

    // `/` filters as typed: only the CLOSE_WAIT row of our port is left.
    tmux.run(&["send-keys", "-t", "tui", "/"]);
    tmux.run(&["send-keys", "-t", "tui", "-l", "state:close-wait"]);
    let screen = tmux.wait_for("the filter to apply", |s| {
        let rows = rows_with(s, addr);
        s.contains("filter: state:close-wait")
            && !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.contains("CLOSE_WAIT") || r.contains("CLOSE-WAIT"))
    });
    assert!(
        !rows_with(&screen, addr)
            .iter()
            .any(|r| r.contains("LISTEN"))
    );

    // Enter keeps the filter, q quits.
    tmux.run(&["send-keys", "-t", "tui", "Enter"]);
    tmux.run(&["send-keys", "-t", "tui", "q"]);
    assert_exited_and_restored(&tmux, || tmux.read_file("stty"));
}

#[test]
fn ctrl_c_restores_the_terminal() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let tmux = start();
    tmux.wait_for("the TUI", |s| s.contains("sockscope ·"));
    tmux.run(&["send-keys", "-t", "tui", "C-c"]);
    assert_exited_and_restored(&tmux, || tmux.read_file("stty"));
}

#[test]
fn sigterm_restores_the_terminal() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let tmux = start();
    tmux.wait_for("the TUI", |s| s.contains("sockscope ·"));
    let pid = tmux.read_file("pid").trim().parse().expect("a pid");
    common::sigterm(pid).expect("SIGTERM to the live view");
    assert_exited_and_restored(&tmux, || tmux.read_file("stty"));
}
