//! Output that cannot be written: stdout or stderr on /dev/full, closed, or a pipe
//! whose reader left. Never a panic (exit 101); a one-line error where stderr works
//! and a non-zero exit, except a closed pipe, which ends quietly with 0. And bad
//! arguments: one short line, whatever their size or bytes.

mod common;

use std::fs::File;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

fn run(args: &[&str], stdout: Stdio, stderr: Stdio) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .output()
        .unwrap()
}

fn full() -> Stdio {
    File::options()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into()
}

/// Through sh, so a descriptor can be closed outright (`>&-`).
fn sh(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script, "sh", BIN])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn fails_in_one_line(out: &Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sockscope: ") && stderr.contains(says),
        "{stderr}"
    );
}

#[test]
fn stdout_on_dev_full_fails_in_one_line() {
    let args = ["--proc-root", common::FIXTURE, "list"];
    for format in [&[][..], &["--json"], &["--csv"]] {
        let all = [&args[..], format].concat();
        let out = run(&all, full(), Stdio::piped());
        fails_in_one_line(&out, 1, "No space left on device");
    }
    let out = run(&["--help"], full(), Stdio::piped());
    fails_in_one_line(&out, 1, "cannot write the help");
    let out = run(&["--version"], full(), Stdio::piped());
    fails_in_one_line(&out, 1, "No space left on device");
    let doctor = [
        "--proc-root",
        common::FIXTURE,
        "doctor",
        "--samples",
        "2",
        "--window",
        "0",
    ];
    let out = run(&doctor, full(), Stdio::piped());
    fails_in_one_line(&out, 2, "No space left on device");
}

#[test]
fn stderr_on_dev_full_is_no_panic() {
    // An error that cannot be told still exits non-zero.
    let out = run(&["list", "--pid", "999999999"], Stdio::null(), full());
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["list", "--port", "x"], Stdio::null(), full());
    assert_eq!(out.status.code(), Some(2));
    // A warning that cannot be told is lost; the listing still succeeds.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("net")).unwrap();
    std::fs::write(dir.path().join("net/tcp"), "header\nbad line\n").unwrap();
    let root = dir.path().to_str().unwrap();
    let out = run(&["--proc-root", root, "list"], Stdio::piped(), full());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("PROTO"));
}

#[test]
fn closed_descriptors_are_no_panic() {
    // A program started with fd 1 or 2 closed finds /dev/null there: Rust's runtime
    // opens it in their place before main, as C's does not. So the output is lost
    // without an error, like `>/dev/null`; what must hold is no panic, and the exit
    // status of an error.
    let out = sh(&format!(
        "exec \"$1\" --proc-root {} list >&-",
        common::FIXTURE
    ));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = sh("exec \"$1\" --help >&-");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = sh("exec \"$1\" list --pid 999999999 2>&-");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = sh("exec \"$1\" list --pid 999999999 >&- 2>&-");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [
        &["--proc-root", common::FIXTURE, "list", "--json"][..],
        &["--help"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn bad_arguments_are_one_short_escaped_line() {
    let huge = "9".repeat(100 * 1024);
    let hostile = "80\x1b]0;owned\x07\n2";
    for (args, says) in [
        (vec!["list", "--port", huge.as_str()], "invalid port"),
        (vec!["list", "--pid", huge.as_str()], "invalid"),
        (vec!["list", huge.as_str()], "unexpected argument"),
        (vec!["list", "--port", hostile], "\\x1b]0;owned\\x07\\n2"),
        (vec!["list", "--port", "0"], "port 0 is no port"),
    ] {
        let out = common::sockscope(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.len() < 600, "{} bytes", stderr.len());
        assert!(!stderr.contains('\x1b'), "{stderr:?}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}
