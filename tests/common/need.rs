//! What a test needs from the machine, checked the same way everywhere. A test that
//! cannot run never passes silently: under CI (`CI=true`; `.ci/run` installs every
//! package, and runs as root) a missing need fails the test with the reason; elsewhere
//! the test prints `SKIPPED: <test>: <reason>` straight to stdout, past the harness's
//! output capture, so `cargo test` shows it with or without `--nocapture`, and returns.

use std::io::Write;
use std::process::{Command, Stdio};

/// Something a test needs that a fresh machine may lack.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Effective uid 0: network namespaces, runuser, reading every /proc/<pid>/fd.
    Root,
    Tmux,
    Strace,
    /// `ss` (iproute2).
    Ss,
    /// `ip` (iproute2), for `ip netns`.
    Ip,
    /// `unshare` (util-linux).
    Unshare,
    /// `runuser` (util-linux).
    Runuser,
}

impl Need {
    /// Why it is missing, if it is: what to install or how to run.
    fn missing(self) -> Option<&'static str> {
        let runs = |program: &str, arg: &str| {
            Command::new(program)
                .arg(arg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let here = match self {
            Need::Root => rustix::process::geteuid().is_root(),
            Need::Tmux => runs("tmux", "-V"),
            Need::Strace => runs("strace", "-V"),
            Need::Ss => runs("ss", "-V"),
            Need::Ip => runs("ip", "-V"),
            Need::Unshare => runs("unshare", "--version"),
            Need::Runuser => runs("runuser", "--version"),
        };
        (!here).then_some(match self {
            Need::Root => "needs root",
            Need::Tmux => "needs tmux (apt-get install tmux)",
            Need::Strace => "needs strace (apt-get install strace)",
            Need::Ss => "needs ss (apt-get install iproute2)",
            Need::Ip => "needs ip (apt-get install iproute2)",
            Need::Unshare => "needs unshare (apt-get install util-linux)",
            Need::Runuser => "needs runuser (apt-get install util-linux)",
        })
    }
}

/// The running test's name: the harness names each test's thread after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// True when `need` is met; says nothing either way.
pub fn met_quietly(need: Need) -> bool {
    need.missing().is_none()
}

/// True when every need is met. Otherwise: under CI, fails the test naming what is
/// missing; elsewhere prints one `SKIPPED:` line and returns false (the caller returns).
pub fn met(needs: &[Need]) -> bool {
    let missing: Vec<&str> = needs.iter().filter_map(|n| n.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    cannot(&missing.join(", "));
    false
}

/// The test cannot do what it is for, for `reason`: fails under CI, else says SKIPPED.
pub fn cannot(reason: &str) {
    let test = test_name();
    assert!(
        !in_ci(),
        "{test} cannot run here: {reason} (CI=true: .ci/run installs everything and runs as root)"
    );
    say(&format!("SKIPPED: {test}: {reason}"));
}

/// One line on the real stdout, which the test harness does not capture.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
