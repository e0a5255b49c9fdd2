//! Hostile files in a /proc tree (`--proc-root`, the test's own temp dir): real FIFOs
//! where tables and process names belong, /dev/zero (a link to it, and a device node
//! of its own), a 1 MB line. Each run must end in seconds, in bounded memory, with at
//! most a one-line message that quotes at most ~200 bytes.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const TCP_LINE: &str = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0";

/// A small valid tree: process 4242 holds socket 777, which net/tcp lists.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("net")).unwrap();
    fs::create_dir_all(root.join("4242/fd")).unwrap();
    fs::create_dir_all(root.join("sys/net/ipv4")).unwrap();
    fs::write(root.join("net/tcp"), format!("{TCP_HEADER}\n{TCP_LINE}\n")).unwrap();
    fs::write(root.join("4242/comm"), "server\n").unwrap();
    symlink("socket:[777]", root.join("4242/fd/3")).unwrap();
    fs::write(
        root.join("sys/net/ipv4/ip_local_port_range"),
        "32768 60999\n",
    )
    .unwrap();
    dir
}

fn fifo(path: &Path) {
    let _ = fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {path:?}");
}

/// Runs sockscope on `root`; fails the test if it is still running after 20 s.
fn run(root: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .arg("--proc-root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sockscope {args:?} on {root:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn one_line_error(out: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(stderr.len() < 600, "{stderr}");
}

fn list_json(root: &Path) -> (Vec<serde_json::Value>, String) {
    let out = run(root, &["list", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn a_fifo_table_is_refused_at_once() {
    let dir = tree();
    fifo(&dir.path().join("net/tcp"));
    one_line_error(&run(dir.path(), &["list"]), "not a regular file (a FIFO)");
    let out = run(dir.path(), &["list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("net/tcp"),
        "names the file"
    );
}

#[test]
fn a_fifo_comm_or_cmdline_leaves_the_name_empty() {
    let dir = tree();
    fifo(&dir.path().join("4242/comm"));
    fifo(&dir.path().join("4242/cmdline"));
    let (all, _) = list_json(dir.path());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["processes"][0]["pid"], 4242);
    assert_eq!(all[0]["processes"][0]["comm"], "");
}

#[test]
fn dev_zero_is_refused_as_a_link_and_as_a_device() {
    let dir = tree();
    let tcp = dir.path().join("net/tcp");
    fs::remove_file(&tcp).unwrap();
    symlink("/dev/zero", &tcp).unwrap();
    one_line_error(&run(dir.path(), &["list"]), "symbolic link");

    // A device node of its own (as root; /dev/zero is char 1:5).
    fs::remove_file(&tcp).unwrap();
    let made = Command::new("mknod")
        .arg(&tcp)
        .args(["c", "1", "5"])
        .status();
    if made.is_ok_and(|s| s.success()) {
        one_line_error(&run(dir.path(), &["list"]), "character device");
    } else {
        common::need::cannot("cannot mknod here");
    }

    // Where a whole file is read at once (doctor's counters): the same.
    let dir = tree();
    symlink("/dev/zero", dir.path().join("net/netstat")).unwrap();
    let range = dir.path().join("sys/net/ipv4/ip_local_port_range");
    fs::remove_file(&range).unwrap();
    fifo(&range);
    let out = run(dir.path(), &["doctor", "--samples", "2", "--window", "0"]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{out:?}"
    );
}

#[test]
fn a_megabyte_line_is_skipped_and_quoted_short() {
    let dir = tree();
    let long = format!("   1: {}", "A".repeat(1 << 20));
    fs::write(
        dir.path().join("net/tcp"),
        format!("{TCP_HEADER}\n{TCP_LINE}\n{long}\n"),
    )
    .unwrap();
    let (all, stderr) = list_json(dir.path());
    assert_eq!(all.len(), 1, "the good line is still read");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("1 unreadable line in") && stderr.contains("net/tcp skipped"),
        "{stderr}"
    );
    assert!(stderr.len() < 600, "quoted short: {} bytes", stderr.len());
}

#[test]
fn escapes_in_a_bad_line_are_quoted_escaped() {
    let dir = tree();
    fs::write(
        dir.path().join("net/tcp"),
        format!("{TCP_HEADER}\n{TCP_LINE}\n   1: \x1b]0;owned\x07\x1b[2J\n"),
    )
    .unwrap();
    let (_, stderr) = list_json(dir.path());
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(stderr.contains("\\x1b]0;owned\\x07"), "{stderr:?}");
}
