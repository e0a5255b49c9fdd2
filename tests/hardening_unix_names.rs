//! Unix socket names a local user may bind, read back through /proc and netlink: a
//! newline and a whole forged LISTEN line inside an abstract name, a path with a bare
//! newline, bytes that are not UTF-8, terminal escapes. Bound for real by a child
//! process (tests/hostile), in this test's own temp dir and with names that carry its
//! pid, so no other test's sockets are involved.

mod common;
mod hostile;

use std::process::Command;

use serde_json::Value;

use hostile::{Child, Spec};

/// Never a real socket's inode here (they count up from small numbers).
const FORGED_INODE: u64 = 3_999_999_999;

#[test]
fn hostile_child_entry() {
    hostile::entry(); // only does something when run as the child
}

struct Names {
    forged_path: String,
    newline_path: Vec<u8>,
    not_utf8: Vec<u8>,
    escapes: Vec<u8>,
    all: Vec<Vec<u8>>,
    _dir: tempfile::TempDir,
}

fn names(tag: &str) -> Names {
    let dir = tempfile::tempdir().unwrap();
    let me = std::process::id();
    let forged_path = format!("/run/FAKE{me}.sock");
    // What the kernel would print for a listener; after the newline it is a line.
    let forged = format!(
        "0000000000000000: 00000002 00000000 00010000 0001 01 {FORGED_INODE} {forged_path}"
    );
    let forging = format!("\0h{tag}{me}\n{forged}").into_bytes();
    assert!(forging.len() <= 108, "fits sun_path");
    let mut newline_path = dir.path().as_os_str().as_encoded_bytes().to_vec();
    newline_path.extend_from_slice(b"/x\nsock");
    let mut not_utf8 = format!("\0h{tag}{me}-").into_bytes();
    not_utf8.extend_from_slice(b"\xff\xfe");
    let escapes = format!("\0h{tag}{me}-\x1b]0;owned\x07\x1b[2J").into_bytes();
    Names {
        forged_path,
        all: vec![
            forging,
            newline_path.clone(),
            not_utf8.clone(),
            escapes.clone(),
        ],
        newline_path,
        not_utf8,
        escapes,
        _dir: dir,
    }
}

fn list(args: &[&str]) -> (Vec<Value>, String) {
    let out = common::sockscope(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let all: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (all.as_array().unwrap().clone(), stderr)
}

fn paths(all: &[Value]) -> Vec<String> {
    all.iter()
        .filter_map(|s| s["path"].as_str().map(str::to_string))
        .collect()
}

fn held_by(all: &[Value], pid: &str) -> Vec<Value> {
    all.iter()
        .filter(|s| common::pids(s).iter().any(|p| p.to_string() == pid))
        .cloned()
        .collect()
}

#[test]
fn proc_never_shows_a_forged_line_and_survives_a_bare_newline() {
    let names = names("p");
    let child = Child::start(
        "hostile_child_entry",
        &Spec {
            names: names.all.clone(),
            ..Spec::default()
        },
    );
    let pid = child.pid();
    for scope in [&["--pid", pid.as_str()][..], &[]] {
        let mut args = vec!["list", "--json", "--unix", "--source", "proc"];
        args.extend_from_slice(scope);
        let (all, stderr) = list(&args);
        assert!(
            !paths(&all).iter().any(|p| p.contains(&names.forged_path)),
            "{scope:?}: the forged socket is listed: {stderr}"
        );
        // /proc cuts the bare-newline name at its newline: that is all it can say.
        let mut cut = names.newline_path.clone();
        cut.truncate(cut.len() - "\nsock".len());
        assert!(paths(&all).iter().any(|p| p.as_bytes() == cut), "{scope:?}");
        assert!(
            !all.iter().any(|s| s["inode"] == FORGED_INODE),
            "{scope:?}: forged inode listed"
        );
        // Every real hostile socket is still there, held by the child.
        assert_eq!(held_by(&all, &pid).len(), 4, "{scope:?}: {stderr}");
        // The bare "sock" continuation is counted, never fatal.
        assert!(
            stderr.contains("unreadable line") && stderr.contains("/proc/"),
            "{scope:?}: {stderr}"
        );
        assert!(!stderr.contains('\x1b'), "escaped: {stderr:?}");
    }
}

#[test]
fn netlink_gives_names_exactly() {
    let names = names("n");
    let child = Child::start(
        "hostile_child_entry",
        &Spec {
            names: names.all.clone(),
            ..Spec::default()
        },
    );
    let pid = child.pid();
    let (all, stderr) = list(&[
        "list", "--json", "--unix", "--source", "netlink", "--pid", &pid,
    ]);
    let held = held_by(&all, &pid);
    assert_eq!(held.len(), 4, "{stderr}");
    let path_of = |wanted: &[u8]| -> Vec<u8> {
        // As /proc prints them: abstract names with '@' for their NULs.
        let printed: Vec<u8> = match wanted.split_first() {
            Some((0, rest)) => [b"@", rest].concat(),
            _ => wanted.to_vec(),
        };
        printed
    };
    let exact = |s: &Value| -> Vec<u8> {
        match s.get("path_bytes") {
            Some(bytes) => bytes
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect(),
            None => s["path"].as_str().unwrap().as_bytes().to_vec(),
        }
    };
    let got: Vec<Vec<u8>> = held.iter().map(exact).collect();
    for name in &names.all {
        assert!(
            got.contains(&path_of(name)),
            "{:?} not given exactly; got {got:?}",
            String::from_utf8_lossy(name)
        );
    }
    // path_bytes only where path cannot say it.
    let with_bytes: Vec<_> = held
        .iter()
        .filter(|s| s.get("path_bytes").is_some())
        .collect();
    assert_eq!(with_bytes.len(), 1, "{with_bytes:?}");
    assert!(with_bytes[0]["path"].as_str().unwrap().contains('\u{fffd}'));
    assert_eq!(exact(with_bytes[0]), path_of(&names.not_utf8));
    let _ = (&names.newline_path, &names.escapes);
}

/// A network namespace made for one test, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Option<Netns> {
        let name = format!("sockscope-harden-{}", std::process::id());
        match Command::new("ip").args(["netns", "add", &name]).status() {
            Ok(s) if s.success() => Some(Netns(name)),
            other => {
                let why = format!("cannot create a network namespace ({other:?})");
                common::need::cannot(&why);
                None
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn pid_in_another_namespace_is_read_through_netlink_there() {
    let Some(netns) = Netns::new() else { return };
    let names = names("s");
    // The child enters the namespace (as a container's process would be in one).
    let child = Child::start_in(
        &["ip", "netns", "exec", &netns.0],
        "hostile_child_entry",
        &Spec {
            names: names.all.clone(),
            ..Spec::default()
        },
    );
    let pid = child.pid();
    let (all, stderr) = list(&["list", "--json", "--unix", "--pid", &pid]);
    assert!(
        !stderr.contains("through netlink"),
        "netlink inside the namespace: {stderr}"
    );
    let held = held_by(&all, &pid);
    assert_eq!(held.len(), 4, "{stderr}");
    // Only netlink has the whole name after the newline; /proc/P/net cuts it there.
    let full = &names.newline_path[..];
    assert!(
        held.iter()
            .any(|s| s["path"].as_str().map(str::as_bytes) == Some(full)),
        "{held:?}"
    );
    // The same namespace by its /run/netns name, as a later --all-netns would read it.
    let ns_file = std::path::Path::new("/run/netns").join(&netns.0);
    let (sockets, _) = sockscope::collect::netlink::read_netns(&ns_file).unwrap();
    assert!(
        sockets
            .iter()
            .any(|s| s.path().map(str::as_bytes) == Some(full)),
        "read_netns sees the child's sockets"
    );
    // The forging socket's exact name holds the fake line; no socket is made of it.
    assert!(!paths(&all).contains(&names.forged_path), "{all:?}");
    assert!(!all.iter().any(|s| s["inode"] == FORGED_INODE));
}
