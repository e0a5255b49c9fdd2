//! Names in `sockscope list`, on real sockets: port names from /etc/services by
//! default and numbers with `-n`, as ss; remote host names with `-r`. JSON and CSV
//! keep the numbers and add local_service, remote_service and remote_host only with
//! `-r`. A host name is hostile data: escaped in the table, exact in JSON.
//!
//! `-r` runs where the system resolver knows only the test's own names: in a mount
//! namespace of its own, a private /etc/hosts naming the test's loopback address and
//! an nsswitch.conf with `hosts: files`. So no lookup asks DNS (tests send nothing off
//! the host), and no other test's /etc/hosts edits reach these.

mod common;
use common::need::{self, Need};
use common::netns::OwnAddr;
use common::{list_json, sockscope};

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The ephemeral range: ss names no port in it, nor does sockscope.
fn ephemeral() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut ports = text.split_whitespace().map(|p| p.parse::<u16>().unwrap());
    (ports.next().unwrap(), ports.next().unwrap())
}

/// A TCP listener on `ip` at a port /etc/services names (outside the ephemeral range),
/// with that name; None (said) when there is no /etc/services.
fn named_listener(ip: Ipv4Addr) -> Option<(TcpListener, String)> {
    let Ok(text) = std::fs::read_to_string("/etc/services") else {
        common::need::cannot("needs /etc/services (apt-get install netbase)");
        return None;
    };
    let (low, high) = ephemeral();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        let mut words = line.split('#').next().unwrap().split_whitespace();
        let (Some(name), Some(port)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(port) = port
            .strip_suffix("/tcp")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            continue;
        };
        // The first name of a port is its name.
        if !seen.insert(port) || port == 0 || (low..=high).contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind((ip, port)) {
            return Some((listener, name.to_string()));
        }
    }
    panic!("no port named in /etc/services could be bound on {ip}");
}

/// `sockscope ARGS` succeeding: its stdout.
fn run(args: &[&str]) -> String {
    let out = sockscope(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs sockscope with a resolver that knows only the names given (see the top).
struct Resolving {
    dir: tempfile::TempDir,
}

impl Resolving {
    /// None (said) where a mount namespace cannot be had.
    fn new(names: &[(Ipv4Addr, &str)]) -> Option<Resolving> {
        if !need::met(&[Need::Root, Need::Unshare]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut hosts = String::from("127.0.0.1 localhost\n");
        for (ip, name) in names {
            hosts.push_str(&format!("{ip} {name}\n"));
        }
        std::fs::write(dir.path().join("hosts"), hosts).unwrap();
        std::fs::write(dir.path().join("nsswitch.conf"), "hosts: files\n").unwrap();
        let resolving = Resolving { dir };
        // The namespace works here, or the test cannot run.
        let out = resolving.output(&["--version"]);
        if !out.status.success() {
            need::cannot(&format!(
                "no private /etc/hosts (unshare -m, mount --bind): {out:?}"
            ));
            return None;
        }
        Some(resolving)
    }

    fn output(&self, args: &[&str]) -> Output {
        let file = |name: &str| -> PathBuf { self.dir.path().join(name) };
        Command::new("unshare")
            .args(["--mount", "--", "sh", "-c"])
            .arg(
                "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/nsswitch.conf \
                 && shift 2 && exec \"$@\"",
            )
            .arg("sh")
            .arg(file("hosts"))
            .arg(file("nsswitch.conf"))
            .arg(env!("CARGO_BIN_EXE_sockscope"))
            .args(args)
            .output()
            .expect("run unshare")
    }

    /// `sockscope ARGS` succeeding: its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// `sockscope list --json ARGS`.
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["list", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.run(&all)).unwrap()
    }
}

/// A connection from `ip` to `listener` (on `ip` too): both ends this test's own.
fn connect_from(ip: Ipv4Addr, listener: &TcpListener) -> (TcpStream, TcpStream) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((ip, 0)).into()).unwrap();
    socket
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let client = TcpStream::from(socket);
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn ports_are_named_from_etc_services_unless_numeric() {
    let own = OwnAddr::new();
    let Some((listener, name)) = named_listener(own.ip) else {
        return;
    };
    let port = listener.local_addr().unwrap().port().to_string();
    let named = format!("{}:{name} ", own.ip);
    let numbered = format!("{}:{port} ", own.ip);

    let table = run(&["list", "-t", "-l", "--port", &port]);
    let line = table.lines().find(|l| l.contains(&own.text())).unwrap();
    assert!(line.contains(&named) && line.contains("LISTEN"), "{table}");
    for flag in ["-n", "--numeric"] {
        let table = run(&["list", "-t", "-l", flag, "--port", &port]);
        let line = table.lines().find(|l| l.contains(&own.text())).unwrap();
        assert!(
            line.contains(&numbered) && !line.contains(&named),
            "{table}"
        );
    }
    // A client's port in the ephemeral range stays a number, as ss leaves it.
    let (client, _server) = connect_from(own.ip, &listener);
    let client_port = client.local_addr().unwrap().port();
    let table = run(&["list", "-t", "--port", &client_port.to_string()]);
    let line = table
        .lines()
        .find(|l| l.starts_with("tcp") && l.contains(&format!("{}:{client_port} ", own.ip)))
        .unwrap_or_else(|| panic!("{table}"));
    let theirs = format!("{}:{name}", own.ip);
    assert!(line.contains(&theirs), "{table}");

    // JSON keeps the numbers and adds nothing unless -r.
    let all = list_json(&["-t", "-l", "--port", &port]);
    let me = find(&all, own.ip, "LISTEN");
    assert_eq!(
        me["local_port"].as_u64().map(|p| p.to_string()),
        Some(port.clone())
    );
    assert!(me.get("local_service").is_none(), "{me}");
    // With -r.
    let Some(resolving) = Resolving::new(&[]) else {
        return;
    };
    let all = resolving.json(&["-t", "-l", "-r", "--port", &port]);
    let me = find(&all, own.ip, "LISTEN");
    assert_eq!(me["local_service"], name.as_str(), "{me}");
    assert_eq!(me["remote_service"], Value::Null);
    assert_eq!(me["remote_host"], Value::Null);
    assert_eq!(
        me["local_port"].as_u64().map(|p| p.to_string()),
        Some(port.clone())
    );
    // -n -r: numbers for ports, the fields still there.
    let all = resolving.json(&["-t", "-l", "-r", "-n", "--port", &port]);
    assert_eq!(find(&all, own.ip, "LISTEN")["local_service"], Value::Null);
}

/// The socket of `state` bound to `ip`.
fn find<'a>(all: &'a [Value], ip: Ipv4Addr, state: &str) -> &'a Value {
    all.iter()
        .find(|s| s["local_addr"] == ip.to_string().as_str() && s["state"] == state)
        .unwrap_or_else(|| panic!("no {state} on {ip}: {all:?}"))
}

#[test]
fn remote_hosts_are_resolved_only_with_r_through_etc_hosts() {
    let own = OwnAddr::new();
    let host = format!(
        "names-{}-{}.sockscope.test",
        std::process::id(),
        own.ip.octets()[3]
    );
    let Some(resolving) = Resolving::new(&[(own.ip, &host)]) else {
        return;
    };
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (client, _server) = connect_from(own.ip, &listener);
    let client_port = client.local_addr().unwrap().port().to_string();

    // The client's end: its remote is the listener, by name.
    let table = resolving.run(&["list", "-t", "-r", "--port", &client_port]);
    let ours = table
        .lines()
        .find(|l| l.contains(&format!("{}:{client_port} ", own.ip)))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(ours.contains(&format!(" {host}:{port} ")), "{table}");
    // Local addresses are never resolved.
    assert!(!ours.starts_with(&host) && !ours.contains(&format!("{host}:{client_port}")));
    // Without -r: the number.
    let table = run(&["list", "-t", "--port", &client_port]);
    assert!(!table.contains(&host), "{table}");
    assert!(table.contains(&format!("{}:{port} ", own.ip)), "{table}");

    // JSON: the address stays, remote_host is added.
    let all = resolving.json(&["-t", "-r", "--port", &client_port]);
    let socket = all
        .iter()
        .find(|s| s["local_port"].as_u64().map(|p| p.to_string()) == Some(client_port.clone()))
        .unwrap();
    assert_eq!(socket["remote_addr"], own.text().as_str());
    assert_eq!(socket["remote_host"], host.as_str(), "{socket}");
    // CSV: the three columns after the rest.
    let csv = resolving.run(&["list", "--csv", "-t", "-r", "--port", &client_port]);
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",local_service,remote_service,remote_host"),
        "{header}"
    );
    assert!(
        csv.lines().any(|l| l.ends_with(&format!(",{host}"))),
        "{csv}"
    );
    let csv = run(&["list", "--csv", "-t", "--port", &client_port]);
    assert!(!csv.contains("remote_host"), "{csv}");
}

#[test]
fn a_hostile_host_name_is_escaped_in_text_and_exact_in_json() {
    let own = OwnAddr::new();
    let host = format!("ev\x1b[2J\x07il-{}.test", std::process::id());
    let Some(resolving) = Resolving::new(&[(own.ip, &host)]) else {
        return;
    };
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let (client, _server) = connect_from(own.ip, &listener);
    let client_port = client.local_addr().unwrap().port().to_string();

    let table = resolving.run(&["list", "-t", "-r", "--port", &client_port]);
    assert!(
        !table.contains('\x1b') && !table.contains('\x07'),
        "{table:?}"
    );
    let escaped = format!("ev\\x1b[2J\\x07il-{}.test:", std::process::id());
    assert!(table.contains(&escaped), "{table}");
    let csv = resolving.run(&["list", "--csv", "-t", "-r", "--port", &client_port]);
    assert!(
        !csv.contains('\x1b') && csv.contains(&escaped[..escaped.len() - 1]),
        "{csv:?}"
    );
    let all = resolving.json(&["-t", "-r", "--port", &client_port]);
    assert!(
        all.iter().any(|s| s["remote_host"] == host.as_str()),
        "{all:?}"
    );
}

#[test]
fn another_services_file_names_ports_and_is_refused_with_more_privilege() {
    use std::os::unix::fs::PermissionsExt;
    let own = OwnAddr::new();
    // Above the ephemeral range (ports in it are never named); the address is ours.
    let port = 61999;
    let _listener = TcpListener::bind((own.ip, port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services");
    std::fs::write(&file, format!("# ours\nsockscope-test\t{port}/tcp\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["list", "-t", "-l", "--port", &port.to_string()])
        .env("SOCKSCOPE_SERVICES", &file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("{}:sockscope-test ", own.ip)),
        "{table}"
    );

    // Setuid root, run as nobody: the file is refused before anything is read.
    let exe_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(exe_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = exe_dir.path().join("sockscope");
    std::fs::copy(env!("CARGO_BIN_EXE_sockscope"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&exe)
        .args(["list", "-t"])
        .env("SOCKSCOPE_SERVICES", &file)
        .output();
    match out {
        Ok(out) if !matches!(out.status.code(), Some(126 | 127)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{out:?}");
            assert!(
                stderr.contains("SOCKSCOPE_SERVICES is refused") && stderr.contains("setuid"),
                "{stderr}"
            );
            assert!(out.stdout.is_empty());
        }
        other => common::need::cannot(&format!("cannot run as nobody: {other:?}")),
    }
}

#[test]
fn names_go_after_the_subcommand() {
    let out = sockscope(&["-r", "list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("go after the subcommand"), "{stderr}");
}
