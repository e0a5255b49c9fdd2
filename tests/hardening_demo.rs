//! The headless demo on a hostile host: its temp dir is private (0700), its abstract
//! name cannot be guessed (so no one can take it first), and a hangup (the terminal
//! closing) stops it like SIGTERM, temp dir removed.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::StopOnDrop;

/// Starts a demo (no clients) and reads its facts up to `ready`.
fn start() -> (StopOnDrop, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["demo", "--headless", "--clients", "0", "--duration", "120"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = StopOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut facts = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo is ready within 30 s");
        if line == "ready" {
            return (demo, facts);
        }
        let (kind, value) = line.split_once(' ').unwrap();
        facts.push((kind.to_string(), value.to_string()));
    }
}

fn fact<'a>(facts: &'a [(String, String)], kind: &str) -> &'a str {
    &facts.iter().find(|(k, _)| k == kind).unwrap().1
}

#[test]
fn sighup_stops_the_demo_and_removes_its_private_temp_dir() {
    let (mut demo, facts) = start();
    let tempdir = PathBuf::from(fact(&facts, "tempdir"));
    let mode = tempdir.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{tempdir:?} is private");

    let pid = demo.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo ignored SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(!tempdir.exists(), "{tempdir:?} is left behind");
}

#[test]
fn two_demos_get_different_unguessable_names() {
    let (_a, first) = start();
    let (_b, second) = start();
    let (a, b) = (
        fact(&first, "unix-abstract"),
        fact(&second, "unix-abstract"),
    );
    assert_ne!(a, b);
    for (name, facts) in [(a, &first), (b, &second)] {
        let pid = fact(facts, "pid");
        let random = name
            .strip_prefix(&format!("@sockscope-demo-{pid}-"))
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(random.len(), 16, "{name}");
    }
}
