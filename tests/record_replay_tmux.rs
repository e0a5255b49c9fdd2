//! `sockscope replay FILE` in a real terminal (tmux): the time cursor moves with the
//! keys, space plays, q quits and the terminal is restored. The recording is made
//! here from synthetic snapshots, so the test owns everything it looks at.

mod common;
use common::need::{self, Need};
use common::tmux::{Tmux, assert_exited_and_restored};

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use sockscope::model::{Family, Proto, Snapshot, Socket, TcpState};
use sockscope::record::Writer;
use sockscope::record::format::Meta;

fn write_recording(path: &std::path::Path) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let meta = Meta {
        started_ms: sockscope::record::millis(start),
        interval_ms: 200,
        hostname: "rec-host".into(),
        filter: String::new(),
    };
    let mut writer = Writer::create(path, &meta).unwrap();
    for i in 0..50u64 {
        let remote: SocketAddr = ([127, 0, 0, 1], 40000 + i as u16).into();
        let sockets = (0..=i % 5)
            .map(|k| Socket {
                inode: 100 + k,
                ..Socket::inet(
                    Proto::Tcp,
                    Family::Ipv4,
                    TcpState::Established,
                    ([127, 0, 0, 1], 8000 + k as u16).into(),
                    remote,
                )
            })
            .collect();
        let snapshot = Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: start + Duration::from_millis(200 * i),
            closed: Vec::new(),
        };
        writer.write(&snapshot).unwrap();
    }
}

#[test]
fn replay_steps_plays_and_quits_cleanly() {
    if !need::met(&[Need::Tmux]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.rec");
    write_recording(&file);
    let stty = dir.path().join("stty");
    let tmux = Tmux::new();
    // From its directory: a short name leaves the time cursor room at 80 columns.
    let script = format!(
        "cd {} && {} replay r.rec; echo \"exited with $?\"; stty -a > {}; sleep 30",
        dir.path().display(),
        env!("CARGO_BIN_EXE_sockscope"),
        stty.display()
    );
    tmux.start(80, 24, &script);
    tmux.wait_for("the first snapshot", |s| {
        s.contains("1/50 · paused") && s.contains("rec-host")
    });
    tmux.run(&["send-keys", "-t", "tui", "]", "]"]);
    tmux.wait_for("two steps", |s| s.contains("3/50 · paused"));
    tmux.run(&["send-keys", "-t", "tui", "t", "+", "5", "Enter"]);
    tmux.wait_for("the typed time", |s| {
        s.contains("+0:00:05/+0:00:09 · 26/50")
    });
    tmux.run(&["send-keys", "-t", "tui", " "]);
    tmux.wait_for("playing to the end", |s| s.contains("50/50 · paused"));
    tmux.run(&["send-keys", "-t", "tui", "q"]);
    assert_exited_and_restored(&tmux, || std::fs::read_to_string(&stty).unwrap_or_default());
}

#[test]
fn replay_of_a_bad_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.rec");
    std::fs::write(&file, b"sockscope-rec\n\x01\x00\x00\x00\x00\x00\xff\xff").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .arg("replay")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.rec: the recording's header is damaged") && err.lines().count() == 1,
        "{err}"
    );
}
