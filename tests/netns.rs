//! `--all-netns` and `--netns` on real network namespaces this test creates
//! (`ip netns add`, unique names, deleted on drop, also when an assertion fails).
//! Two namespaces each hold the same listener, 127.0.0.1:PORT, and the same connection
//! to it (from the same fixed client port), held by different processes: both must be
//! listed, each with its own namespace and pid, and peers must not cross namespaces.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

/// Cannot run here: fail under CI (which installs everything), else skip visibly.
fn cannot_run(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
}

/// A named network namespace, deleted on drop.
struct NamedNs {
    name: String,
}

impl NamedNs {
    fn add(tag: &str) -> Option<NamedNs> {
        let name = format!("sockscope-netns-{}-{tag}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &name]).output();
        match made {
            Ok(out) if out.status.success() => Some(NamedNs { name }),
            other => {
                cannot_run(&format!("cannot create a network namespace: {other:?}"));
                None
            }
        }
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.name))
            .unwrap()
            .ino()
    }
}

impl Drop for NamedNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// A process inside a namespace holding a listener on 127.0.0.1:port and a connection
/// to it from 127.0.0.1:client; killed on drop (which also ends its sockets).
struct Holder {
    child: Child,
    _out: BufReader<ChildStdout>,
}

const HOLD: &str = r#"
import socket, sys
port, client = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(8)
c = socket.socket(); c.bind(("127.0.0.1", client)); c.connect(("127.0.0.1", port))
a, _ = l.accept()
print("ready", flush=True)
sys.stdin.read()
"#;

impl Holder {
    fn start(ns: &NamedNs, port: u16, client: u16) -> Holder {
        // `ip netns exec` and `exec` keep the pid: the child's pid is python's.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c"])
            .arg("ip link set lo up && exec python3 -c \"$0\" \"$1\" \"$2\"")
            .args([HOLD, &port.to_string(), &client.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run ip netns exec");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Ends at "ready", or at EOF when the child failed.
        out.read_line(&mut line).unwrap();
        let holder = Holder { child, _out: out };
        assert_eq!(
            line.trim(),
            "ready",
            "the holder in {} did not start",
            ns.name
        );
        holder
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn netns_of(socket: &Value) -> (u64, Option<&str>) {
    let ns = &socket["netns"];
    (
        ns["inode"].as_u64().expect("netns.inode"),
        ns["name"].as_str(),
    )
}

fn listeners(sockets: &[Value], port: u16) -> Vec<&Value> {
    sockets
        .iter()
        .filter(|s| {
            s["proto"] == "tcp"
                && s["state"] == "LISTEN"
                && s["local_addr"] == "127.0.0.1"
                && s["local_port"] == port
        })
        .collect()
}

fn port_for(offset: u16) -> u16 {
    20_000 + (std::process::id() % 20_000) as u16 + offset
}

#[test]
fn same_listener_in_two_namespaces_is_two_sockets() {
    let (Some(a), Some(b)) = (NamedNs::add("a"), NamedNs::add("b")) else {
        return;
    };
    let (port, client) = (port_for(0), port_for(1));
    let in_a = Holder::start(&a, port, client);
    let in_b = Holder::start(&b, port, client);

    let all = common::list_json(&["--all-netns", "--tcp"]);
    let found = listeners(&all, port);
    let mut seen: Vec<(u64, Option<&str>, Vec<u64>)> = found
        .iter()
        .map(|s| {
            let (inode, name) = netns_of(s);
            (inode, name, common::pids(s))
        })
        .filter(|(_, name, _)| *name == Some(&a.name) || *name == Some(&b.name))
        .collect();
    seen.sort();
    let mut want = vec![
        (a.inode(), Some(a.name.as_str()), vec![in_a.pid()]),
        (b.inode(), Some(b.name.as_str()), vec![in_b.pid()]),
    ];
    want.sort();
    assert_eq!(seen, want);
    // Every socket says its namespace.
    assert!(all.iter().all(|s| s["netns"]["inode"].is_u64()));

    // Peers stay in their namespace: both namespaces have the very same 4-tuples.
    for ns in [&a, &b] {
        let inodes: HashSet<u64> = all
            .iter()
            .filter(|s| netns_of(s).1 == Some(&ns.name))
            .map(|s| s["inode"].as_u64().unwrap())
            .collect();
        let connections: Vec<&Value> = all
            .iter()
            .filter(|s| netns_of(s).1 == Some(&ns.name) && s["state"] == "ESTABLISHED")
            .collect();
        assert_eq!(connections.len(), 2, "client and accepted in {}", ns.name);
        for c in connections {
            let peer = c["peer"]["inode"].as_u64().expect("a local peer");
            assert!(inodes.contains(&peer), "peer {peer} not in {}", ns.name);
        }
    }

    // --netns NAME and --netns PID select one namespace.
    for target in [a.name.clone(), in_a.pid().to_string()] {
        let one = common::list_json(&["--netns", &target]);
        assert!(
            one.iter()
                .all(|s| netns_of(s) == (a.inode(), Some(&*a.name)))
        );
        let found = listeners(&one, port);
        assert_eq!(found.len(), 1, "--netns {target}");
        assert_eq!(common::pids(found[0]), [in_a.pid()]);
    }

    // The table names each row's namespace; the CSV carries the fields.
    let port_text = port.to_string();
    let out = common::sockscope(&["list", "--all-netns", "--tcp", "-l", "--port", &port_text]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().next().unwrap().contains("NETNS/CONTAINER"),
        "{table}"
    );
    for ns in [&a, &b] {
        assert!(table.lines().any(|l| l.contains(&ns.name)), "{table}");
    }
    let out = common::sockscope(&["list", "--csv", "--netns", &a.name, "--port", &port_text]);
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",netns"), "{csv}");
    // The cell is the JSON `netns`, quoted as RFC 4180 says.
    let cell = format!(
        "\"{{\"\"inode\"\":{},\"\"name\"\":\"\"{}\"\"}}\"",
        a.inode(),
        a.name
    );
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|l| l.ends_with(&cell)), "{csv}");

    // Without either flag: our namespace only, and every socket says it.
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let own = own.to_string_lossy();
    let ours = common::list_json(&[]);
    assert!(
        ours.iter()
            .all(|s| format!("net:[{}]", netns_of(s).0) == own)
    );
    assert!(
        ours.iter()
            .all(|s| netns_of(s).1 != Some(&a.name) && netns_of(s).1 != Some(&b.name))
    );
}

#[test]
fn netns_errors_are_one_line() {
    let out = common::sockscope(&["list", "--netns", "sockscope-no-such-ns-at-all"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no network namespace of that name"), "{err}");
    assert_eq!(err.lines().count(), 1);
    let out = common::sockscope(&["list", "--netns", "../etc"]);
    assert!(!out.status.success());
    let out = common::sockscope(&["list", "--all-netns", "--pid", "1"]);
    assert!(!out.status.success());
}

/// Unprivileged, namespaces it cannot enter are said once, with why; ours is listed.
#[test]
fn unprivileged_lists_its_own_and_names_the_unreadable() {
    let Some(ns) = NamedNs::add("u") else {
        return;
    };
    // A copy nobody may run (the build dir may be closed to it).
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy: PathBuf = dir.path().join("sockscope");
    std::fs::copy(env!("CARGO_BIN_EXE_sockscope"), &copy).unwrap();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&copy)
        .args(["list", "--all-netns", "--json"])
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        other => return cannot_run(&format!("cannot run as nobody: {other:?}")),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(&ns.name).count(), 1, "{err}");
    assert!(err.contains("unreadable"), "{err}");
    let sockets: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(sockets.iter().all(|s| netns_of(s).1 != Some(&ns.name)));
}
