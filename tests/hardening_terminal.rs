//! What reaches a terminal: `list` and `doctor` run on a real pty (util-linux
//! `script`, which records every byte written to it) over a hostile child process
//! (tests/hostile) named `\x1b]0;x\x07` (a title-setting escape) that holds a unix
//! socket named with escapes and a newline, and a CLOSE_WAIT connection so that
//! doctor names it. No ESC byte may arrive from that data, and each socket stays one
//! row.

mod common;

mod hostile;

use std::process::Command;

use hostile::{Child, Spec};

#[test]
fn hostile_child_entry() {
    hostile::entry(); // only does something when run as the child
}

const COMM: &[u8] = b"\x1b]0;x\x07";

/// `tag` keeps the tests' names apart (abstract names are per network namespace).
fn start(tag: &str) -> Child {
    let name = format!("\0h{tag}{}\x1b[2J\nrow", std::process::id()).into_bytes();
    Child::start(
        "hostile_child_entry",
        &Spec {
            names: vec![name],
            comm: Some(COMM.to_vec()),
            close_wait_on: Some("127.0.0.1:0".into()),
        },
    )
}

/// Runs sockscope with ARGS on a fresh pty; everything written to the terminal.
fn on_a_pty(args: &[&str]) -> Option<Vec<u8>> {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_sockscope"));
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("TERM", "xterm")
        // On a terminal, `list` colours its STATE cells: with colour off, every ESC
        // byte that arrives could only have come from the data.
        .env("NO_COLOR", "1")
        .output();
    match out {
        Ok(out) if out.status.code().is_some_and(|c| c <= 1) => Some(out.stdout),
        other => {
            let why = format!("cannot run script(1) for a pty: {other:?}");
            common::need::cannot(&why);
            None
        }
    }
}

fn no_escape_arrives(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !bytes.contains(&0x1b) && !bytes.contains(&0x07),
        "{what}: a raw escape reached the terminal: {text:?}"
    );
}

#[test]
fn list_writes_hostile_names_escaped() {
    let child = start("L");
    let pid = child.pid();
    let Some(table) = on_a_pty(&["list", "--pid", &pid]) else {
        return;
    };
    no_escape_arrives("list", &table);
    let text = String::from_utf8_lossy(&table);
    assert!(
        text.contains("\\x1b]0;x\\x07"),
        "the name is shown escaped: {text:?}"
    );
    // The header, the unix listener, the TCP listener, the CLOSE_WAIT end and the
    // client's FIN_WAIT2... whatever the rows, every one is a socket of the child's,
    // and the unix name's newline did not make a row of its own.
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert!(
        rows.iter().any(|r| r.contains("\\x1b[2J\\nrow")),
        "{text:?}"
    );
    assert!(!rows.iter().any(|r| r.starts_with("row")), "{text:?}");
    let csv = on_a_pty(&["list", "--pid", &pid, "--csv"]).unwrap();
    no_escape_arrives("list --csv", &csv);
}

#[test]
fn doctor_writes_hostile_names_escaped() {
    let child = start("D");
    let pid = child.pid();
    let Some(report) = on_a_pty(&[
        "doctor",
        "--pid",
        &pid,
        "--min-age",
        "0",
        "--samples",
        "2",
        "--window",
        "0.2",
    ]) else {
        return;
    };
    no_escape_arrives("doctor", &report);
    let text = String::from_utf8_lossy(&report);
    assert!(text.contains("CLOSE_WAIT"), "the leak is found: {text:?}");
    assert!(
        text.contains("\\x1b]0;x\\x07"),
        "the owner is named, escaped: {text:?}"
    );
    let _ = &child.close_wait;
}
