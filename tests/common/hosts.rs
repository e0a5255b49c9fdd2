//! A line of /etc/hosts a test adds for a loopback address of its own (`OwnAddr`), so
//! the system resolver names it; removed on drop, also when the test fails.
//!
//! Other tests (in this process and in others) edit the file at the same time, so
//! every change takes a lock (flock on the /etc directory: no file is left behind, and
//! the lock outlives the rename that replaces /etc/hosts' inode), reads
//! the file as it is then, adds or removes only this line, and replaces the file whole
//! by a rename: a lookup reads the old file or the new one, never half of one.

#![allow(dead_code)] // each test file uses its own part

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const HOSTS: &str = "/etc/hosts";

pub struct HostsLine {
    line: String,
}

impl HostsLine {
    /// Adds `ip name` to /etc/hosts. `name` is written as given: a test may give it
    /// bytes a resolver passes through (escape sequences) but no whitespace.
    pub fn add(ip: Ipv4Addr, name: &str) -> HostsLine {
        assert!(
            ip.octets()[0] == 127 && ip != Ipv4Addr::LOCALHOST,
            "only a loopback address of the test's own: {ip}"
        );
        let line = format!("{ip} {name}  # sockscope test {}", std::process::id());
        edit(|lines| lines.push(line.clone()));
        HostsLine { line }
    }
}

impl Drop for HostsLine {
    fn drop(&mut self) {
        edit(|lines| lines.retain(|l| *l != self.line));
    }
}

/// Changes the file's lines under the lock, then renames the new file over it.
fn edit(change: impl FnOnce(&mut Vec<String>)) {
    let lock = fs::File::open("/etc").expect("open /etc to lock it");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    let text = fs::read_to_string(HOSTS).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    change(&mut lines);
    let mode = fs::metadata(HOSTS).map_or(0o644, |m| m.permissions().mode());
    let temp = format!("{HOSTS}.sockscope-test-{}", std::process::id());
    {
        let mut file = fs::File::create(&temp).expect("a temp file beside /etc/hosts");
        for line in &lines {
            writeln!(file, "{line}").unwrap();
        }
        file.sync_all().unwrap();
    }
    fs::set_permissions(&temp, fs::Permissions::from_mode(mode)).unwrap();
    if fs::rename(&temp, HOSTS).is_err() {
        // A bind-mounted /etc/hosts (some containers) cannot be replaced: rewrite it.
        let _ = fs::remove_file(&temp);
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(HOSTS, text).expect("rewrite /etc/hosts");
    }
    // The lock goes with the file.
    drop(lock);
}

/// Whether the test can edit /etc/hosts (root, a writable /etc).
pub fn editable() -> bool {
    let probe = Path::new("/etc").join(format!(".sockscope-probe-{}", std::process::id()));
    let ok = fs::write(&probe, "").is_ok();
    let _ = fs::remove_file(&probe);
    ok
}
