//! A sockscope with more privilege than its user must not read paths the user picks.
//! The README's setcap copy (cap_sys_ptrace, cap_dac_read_search) is made for real in
//! this test's own temp dir and run as `nobody` with a /proc tree whose `comm` links to
//! a root-only file: `--proc-root` is refused, and the file's content never appears.

mod common;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Cannot run here: fail under CI (which installs everything), else skip visibly.
fn cannot_run(why: &str) {
    common::need::cannot(why);
}

/// A copy of the binary with the README's capabilities, in a dir nobody may enter.
struct CapableCopy {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl CapableCopy {
    fn new() -> Option<CapableCopy> {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.path().join("sockscope");
        fs::copy(env!("CARGO_BIN_EXE_sockscope"), &exe).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let set = Command::new("setcap")
            .args(["cap_sys_ptrace,cap_dac_read_search+ep"])
            .arg(&exe)
            .output();
        match set {
            Ok(out) if out.status.success() => Some(CapableCopy { dir, exe }),
            other => {
                cannot_run(&format!("setcap is not possible here: {other:?}"));
                None
            }
        }
    }

    /// Runs the copy as nobody.
    fn run_as_nobody(&self, args: &[&str]) -> Option<Output> {
        let out = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&self.exe)
            .args(args)
            .output();
        match out {
            Ok(out) if out.status.code() != Some(126) && out.status.code() != Some(127) => {
                Some(out)
            }
            other => {
                cannot_run(&format!("cannot run as nobody: {other:?}"));
                None
            }
        }
    }
}

/// The attack: a tree whose process 4242 is named by a root-only file and
/// holds socket 777, which net/tcp lists; and a net/udp that is that file itself.
fn hostile_tree(root: &Path, secret: &Path) {
    fs::create_dir_all(root.join("4242/fd")).unwrap();
    fs::create_dir_all(root.join("net")).unwrap();
    symlink(secret, root.join("4242/comm")).unwrap();
    symlink(secret, root.join("4242/cmdline")).unwrap();
    symlink("socket:[777]", root.join("4242/fd/3")).unwrap();
    fs::write(
        root.join("net/tcp"),
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n",
    )
    .unwrap();
    symlink(secret, root.join("net/udp")).unwrap();
}

#[test]
fn capable_copy_refuses_a_chosen_proc_root() {
    let Some(copy) = CapableCopy::new() else {
        return;
    };
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret");
    fs::write(&secret, "TOPSECRET-harden\nline two\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let tree = copy.dir.path().join("tree");
    hostile_tree(&tree, &secret);
    let tree = tree.to_str().unwrap();

    for args in [
        &["--proc-root", tree, "list"][..],
        &["--proc-root", tree, "list", "--json"],
        &["--proc-root", "/root", "list"],
        &[
            "--proc-root",
            tree,
            "doctor",
            "--samples",
            "2",
            "--window",
            "0",
        ],
    ] {
        let Some(out) = copy.run_as_nobody(args) else {
            return;
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran: {stdout}");
        assert!(!stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"));
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("--proc-root is refused")
                && stderr.contains("cap_sys_ptrace")
                && stderr.contains("more privilege than its user"),
            "{args:?}: {stderr}"
        );
    }

    // The capabilities are real: the copy sees the owner of our (root's) listener,
    // which nobody alone could not.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let Some(out) = copy.run_as_nobody(&["list", "--json", "--tcp", "--port", &port]) else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let me = u64::from(std::process::id());
    assert!(
        all.iter().any(|s| common::pids(s).contains(&me)),
        "the capable copy sees root's fds: {all:?}"
    );
}

#[test]
fn setuid_copy_refuses_a_chosen_proc_root() {
    // Setuid root: the effective uid is root's, the real one nobody's.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("sockscope");
    fs::copy(env!("CARGO_BIN_EXE_sockscope"), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o4755)).unwrap();
    let copy = CapableCopy { dir, exe };
    let Some(out) = copy.run_as_nobody(&["--proc-root", common::FIXTURE, "list"]) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains("--proc-root is refused") && stderr.contains("setuid"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unprivileged_run_reads_the_tree_but_not_through_links() {
    // Root here is not "raised": its privilege is its own, so --proc-root works, and
    // the links in the tree are still not followed where no link belongs.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, "TOPSECRET-harden\n").unwrap();
    let tree = dir.path().join("tree");
    hostile_tree(&tree, &secret);
    let out = common::sockscope(&["--proc-root", tree.to_str().unwrap(), "list", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
        "{stdout}{stderr}"
    );
    assert!(!out.status.success(), "net/udp is a link: {stdout}");
    assert!(stderr.contains("symbolic link"), "{stderr}");

    // Without the net/udp link the tree reads, and the linked comm is not followed.
    fs::remove_file(tree.join("net/udp")).unwrap();
    let out = common::sockscope(&["--proc-root", tree.to_str().unwrap(), "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["processes"][0]["pid"], 4242);
    assert_eq!(
        all[0]["processes"][0]["comm"], "",
        "comm behind a link is not read"
    );
}

#[test]
fn a_proc_root_that_is_no_proc_tree_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    for (root, says) in [
        ("/nonexistent-sockscope-harden", "No such file"),
        (empty.path().to_str().unwrap(), "no net/ directory"),
        ("/etc/hostname", "not a directory"),
    ] {
        let out = common::sockscope(&["--proc-root", root, "list"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{root}: {out:?}");
        assert_eq!(stderr.lines().count(), 1, "{root}: {stderr}");
        assert!(stderr.contains(says), "{root}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
