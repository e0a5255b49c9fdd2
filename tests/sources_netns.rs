//! `--pid P` for a process in another network namespace reads /proc/P/net/* (netlink
//! sees only ours), while pids in our namespace still get netlink's depth.
//! The namespace is one this test creates with `unshare -n`; it holds one UDP socket
//! connected over its own loopback.

mod common;
mod netlink_common;

use common::need::{self, Need};
use common::netns::OwnAddr;
use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use netlink_common::*;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pid_in_another_namespace_reads_its_proc_tables() {
    if !need::met(&[Need::Root, Need::Unshare, Need::Ip]) {
        return;
    }
    // unshare and both bashes exec, so the child's pid ends up being `sleep`'s.
    let child = Command::new("unshare")
        .args(["-n", "bash", "-c"])
        .arg("ip link set lo up && exec bash -c 'exec 3<>/dev/udp/127.0.0.1/9; exec sleep 30'")
        .stdin(Stdio::null())
        .spawn()
        .expect("run unshare");
    let child = Killed(child);
    let pid = child.0.id().to_string();
    let inode = wait_for(20, || {
        let link = fs::read_link(format!("/proc/{pid}/fd/3")).ok()?;
        let text = link.to_string_lossy().into_owned();
        let digits = text.strip_prefix("socket:[")?.strip_suffix(']')?;
        digits.parse::<u64>().ok()
    });
    let inode = inode.expect("the namespace's UDP socket appeared");
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id().to_string();

    let theirs = list(&["--pid", &pid]);
    let udp = find_inode(&theirs, inode);
    assert_eq!(
        (udp["proto"].as_str(), udp["state"].as_str()),
        (Some("udp"), Some("ESTABLISHED"))
    );
    assert_eq!(udp["remote_port"], 9);
    assert_eq!(common::pids(udp), [child.0.id() as u64]);

    // Our namespace does not have it: netlink could not have described it.
    let ours = list(&["--source", "netlink"]);
    assert!(ours.iter().all(|s| s["inode"] != inode));

    // Both at once: their table from /proc, ours from netlink with tcp_info.
    let both = list(&["--pid", &me, "--pid", &pid]);
    assert!(find_inode(&both, inode)["tcp_info"].is_null());
    let both_ours = on(both.clone(), &own.text());
    assert!(find_inet(&both_ours, "tcp", port, 0)["tcp_info"].is_object());
    drop(listener);
}
