//! `--pid P` lists P's sockets with every process that holds them, as `ss -p` does:
//! a process this test starts listens on a loopback address of its own and forks a
//! child (`sleep`) that keeps the listener's fd. `list --pid PARENT` and `--pid CHILD`
//! both show both as holders; the rows stay the chosen process's own.

mod common;
use common::netns::OwnAddr;
use common::{StopOnDrop, list_json, pids, sigterm};

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const ADDR_ENV: &str = "SOCKSCOPE_TEST_FORK_ADDR";

/// Run by `spawn_parent` only (the test binary started again): listens on the address
/// in the environment, binds a UDP socket of its own there, starts `sleep` holding the
/// listener as its stdin, says `ready ADDR CHILD`, and holds both until killed (at
/// most five minutes, and the child the same).
#[test]
#[ignore]
fn fork_and_hold() {
    let Ok(ip) = std::env::var(ADDR_ENV) else {
        return;
    };
    let listener = TcpListener::bind((ip.as_str(), 0)).expect("bind the parent's listener");
    let udp = UdpSocket::bind((ip.as_str(), 0)).expect("bind the parent's own UDP socket");
    let shared: OwnedFd = listener.try_clone().unwrap().into();
    let child = Command::new("sleep")
        .arg("300")
        .stdin(Stdio::from(shared))
        .spawn()
        .expect("fork the child");
    println!(
        "ready {} {} {}",
        listener.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
        child.id()
    );
    std::thread::sleep(Duration::from_secs(300));
    drop((listener, udp, child));
}

/// The parent and its child; both stopped on drop, also when an assertion fails.
struct Family {
    parent: StopOnDrop,
    child: u32,
    tcp_port: u64,
    udp_port: u64,
    _own: OwnAddr,
}

impl Drop for Family {
    fn drop(&mut self) {
        let _ = sigterm(self.child);
    }
}

fn spawn_parent() -> Family {
    let own = OwnAddr::new();
    let exe = std::env::current_exe().expect("the test binary");
    let child: Child = Command::new(exe)
        .args(["--exact", "fork_and_hold", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(ADDR_ENV, own.text())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the parent");
    let mut parent = StopOnDrop(child);
    let out = parent.0.stdout.take().unwrap();
    // Bounded: the parent prints `ready` or exits (end of file) within five minutes.
    let ready = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| Some(line[line.find("ready ")? + 6..].to_string()))
        .expect("the parent never said ready");
    let fields: Vec<u64> = ready
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    let [tcp_port, udp_port, child] = fields[..] else {
        panic!("bad ready line: {ready}");
    };
    Family {
        parent,
        child: child as u32,
        tcp_port,
        udp_port,
        _own: own,
    }
}

fn port(socket: &Value) -> u64 {
    socket["local_port"].as_u64().unwrap_or(0)
}

fn sorted<T: Ord>(mut pids: Vec<T>) -> Vec<T> {
    pids.sort();
    pids
}

#[test]
fn pid_lists_every_holder_of_its_sockets() {
    let family = spawn_parent();
    let parent = u64::from(family.parent.0.id());
    let child = u64::from(family.child);
    let both = sorted(vec![parent, child]);

    // The parent: its listener, held by both, and its own UDP socket, by it alone.
    let rows = list_json(&["--pid", &parent.to_string()]);
    for row in &rows {
        assert!(pids(row).contains(&parent), "not the parent's: {row:#}");
    }
    let listener: Vec<&Value> = rows
        .iter()
        .filter(|s| s["proto"] == "tcp" && port(s) == family.tcp_port)
        .collect();
    assert_eq!(listener.len(), 1, "{rows:#?}");
    assert_eq!(listener[0]["state"], "LISTEN");
    assert_eq!(sorted(pids(listener[0])), both, "{:#}", listener[0]);
    let in_child = listener[0]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["pid"] == child)
        .unwrap();
    assert_eq!(
        (&in_child["comm"], &in_child["fd"]),
        (&"sleep".into(), &0.into())
    );
    let udp: Vec<&Value> = rows
        .iter()
        .filter(|s| s["proto"] == "udp" && port(s) == family.udp_port)
        .collect();
    assert_eq!(udp.len(), 1, "{rows:#?}");
    assert_eq!(pids(udp[0]), [parent]);

    // The child holds the listener alone (sleep opens nothing): one row, both holders.
    let rows = list_json(&["--pid", &child.to_string()]);
    let held: Vec<&Value> = rows.iter().filter(|s| !pids(s).is_empty()).collect();
    assert_eq!(held.len(), 1, "{rows:#?}");
    assert_eq!(port(held[0]), family.tcp_port);
    assert_eq!(sorted(pids(held[0])), both);
    // What else comes along is the ownerless TCP of the listener's port (none here).
    for row in &rows {
        assert!(pids(row).contains(&child) || row["inode"] == 0, "{row:#}");
    }

    // Both pids: each socket once, the UDP socket among them.
    let rows = list_json(&["--pid", &parent.to_string(), "--pid", &child.to_string()]);
    let inodes: Vec<u64> = rows.iter().filter_map(|s| s["inode"].as_u64()).collect();
    let distinct: HashSet<u64> = inodes.iter().copied().filter(|&i| i != 0).collect();
    assert_eq!(distinct.len(), inodes.iter().filter(|&&i| i != 0).count());
    assert!(rows.iter().any(|s| port(s) == family.udp_port));

    // The whole host agrees.
    let host = list_json(&["--port", &family.tcp_port.to_string(), "--listening"]);
    let host: Vec<&Value> = host.iter().filter(|s| pids(s).contains(&parent)).collect();
    assert_eq!(host.len(), 1, "{host:#?}");
    assert_eq!(
        pids(host[0]),
        pids(listener[0]),
        "same holders in the same order"
    );
}

/// The live view's source: its first snapshot walks the pid alone (no delay for the
/// first frame), the next ones every process, so the co-holder joins from the second.
#[test]
fn the_live_view_adds_co_holders_from_its_second_snapshot() {
    use sockscope::collect::{PROC, Scope, Source, System};
    let family = spawn_parent();
    let parent = family.parent.0.id();
    let mut source = System::new(PROC, Scope::Pids(vec![parent]))
        .unwrap()
        .with_co_holders_later();
    let holders = |source: &mut System| -> Vec<u32> {
        let snapshot = source.snapshot().unwrap();
        let listener: Vec<_> = (snapshot.sockets.iter())
            .filter(|s| {
                s.local
                    .is_some_and(|a| u64::from(a.port()) == family.tcp_port)
            })
            .collect();
        assert_eq!(listener.len(), 1, "{listener:#?}");
        let mut pids: Vec<u32> = listener[0].processes.iter().map(|o| o.pid).collect();
        pids.sort();
        pids
    };
    assert_eq!(holders(&mut source), [parent]);
    assert_eq!(holders(&mut source), sorted(vec![parent, family.child]));
    assert_eq!(holders(&mut source), sorted(vec![parent, family.child]));
}
