//! `sockscope kill` and `sockscope close` on real processes and connections. Each test
//! owns its address (`OwnAddr`, one per test) and ports below the ephemeral range that no other
//! socket uses, so `--port` matches only what the test made.

mod common;
use common::holder::{self, unused_port};
use common::netns::OwnAddr;
use common::{StopOnDrop, list_json, sockscope};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[test]
#[ignore = "a child process of the tests below, not a test"]
fn hold_listener() {
    holder::hold_if_asked();
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn addr(own: &OwnAddr, port: u16) -> SocketAddr {
    SocketAddr::from((own.ip, port))
}

/// Waits (up to 10 s) for the holder to exit; its status.
fn exited(child: &mut StopOnDrop) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "pid {} still runs", child.0.id());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(child: &mut StopOnDrop) -> bool {
    child.0.try_wait().unwrap().is_none()
}

/// A connected pair over loopback: (client, server side).
fn connection(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    (client, server)
}

fn states(port: u16) -> Vec<String> {
    let mut states: Vec<String> = list_json(&["--port", &port.to_string()])
        .iter()
        .map(|s| s["state"].as_str().unwrap().to_string())
        .collect();
    states.sort();
    states
}

/// One byte each way still gets through.
fn still_talks(client: &mut TcpStream, server: &mut TcpStream) {
    let mut byte = [0];
    client.write_all(b"x").unwrap();
    server.read_exact(&mut byte).unwrap();
    server.write_all(b"y").unwrap();
    client.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"y");
}

#[test]
fn kill_signals_only_the_process_on_the_port() {
    let own = OwnAddr::new();
    let (p1, p2) = (unused_port(1), unused_port(2));
    let mut target = holder::spawn(addr(&own, p1));
    let mut bystander = holder::spawn(addr(&own, p2));
    let pid = target.0.id();

    // A dry run names the one process and leaves it running.
    let out = sockscope(&["kill", "--port", &p1.to_string()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("would send SIGTERM to pid {pid} (")),
        "{stdout}"
    );
    assert!(lines[0].ends_with(", 1 socket"), "{stdout}");
    assert!(
        stderr.contains("dry run, nothing was done; add --yes"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(&mut target), "a dry run signalled pid {pid}");
    assert_eq!(states(p1), ["LISTEN"]);

    let out = sockscope(&["kill", "--port", &p1.to_string(), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("sent SIGTERM to pid {pid} (")),
        "{stdout}"
    );
    assert_eq!(exited(&mut target).signal(), Some(libc::SIGTERM));
    assert!(
        alive(&mut bystander),
        "the process on the other port was hit too"
    );
    assert_eq!(states(p2), ["LISTEN"]);

    // SIGKILL by name, on the other one.
    let out = sockscope(&[
        "kill",
        "--port",
        &p2.to_string(),
        "--signal",
        "kill",
        "--yes",
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.starts_with("sent SIGKILL to pid"));
    assert_eq!(exited(&mut bystander).signal(), Some(libc::SIGKILL));
}

#[test]
fn close_destroys_only_the_connections_on_the_port() {
    let own = OwnAddr::new();
    let (p1, p2) = (unused_port(3), unused_port(4));
    let listener1 = TcpListener::bind(addr(&own, p1)).unwrap();
    let listener2 = TcpListener::bind(addr(&own, p2)).unwrap();
    let (mut client1, mut server1) = connection(&listener1);
    let (mut client2, mut server2) = connection(&listener2);

    // The dry run lists the listener and both ends, and changes nothing.
    let out = sockscope(&["close", "--port", &p1.to_string()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("would close tcp ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{} LISTEN", addr(&own, p1))),
        "{stdout}"
    );
    assert_eq!(states(p1), ["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
    still_talks(&mut client1, &mut server1);

    let out = sockscope(&["close", "--port", &p1.to_string(), "--yes"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("closed tcp ")),
        "{stdout}"
    );
    holder::assert_closed("client", &mut client1);
    holder::assert_closed("server", &mut server1);
    assert_eq!(states(p1), Vec::<String>::new());
    // The listener is gone too: nothing accepts there any more.
    assert!(TcpStream::connect_timeout(&addr(&own, p1), Duration::from_secs(5)).is_err());

    // The connection on the other port is untouched.
    assert_eq!(states(p2), ["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
    still_talks(&mut client2, &mut server2);
    drop(listener1);
}

/// Skips, saying why, where a tool or privilege is missing; in CI that is a failure.
fn cannot_run(why: &str) -> bool {
    common::need::cannot(why);
    true
}

/// Runs sockscope as `nobody`, or None (said) where that cannot be done.
fn as_nobody(args: &[&str]) -> Option<Output> {
    if !rustix::process::getuid().is_root() {
        cannot_run("running as nobody needs root");
        return None;
    }
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_sockscope")])
        .args(args)
        .output();
    match out {
        Ok(out) if !String::from_utf8_lossy(&out.stderr).contains("runuser:") => Some(out),
        other => {
            cannot_run(&format!("runuser -u nobody does not work here: {other:?}"));
            None
        }
    }
}

#[test]
fn others_cannot_close_roots_connection() {
    let own = OwnAddr::new();
    let port = unused_port(5);
    let listener = TcpListener::bind(addr(&own, port)).unwrap();
    let (mut client, mut server) = connection(&listener);
    let port_text = port.to_string();

    if let Some(out) = as_nobody(&["close", "--port", &port_text, "--yes"]) {
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains("did not close tcp")
                && stdout.contains("belongs to uid 0; as uid 65534 you may act only on your own"),
            "{stdout}{stderr}"
        );
        assert!(!stdout.contains("closed tcp"), "{stdout}");
        assert_eq!(states(port), ["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
        still_talks(&mut client, &mut server);
    }

    // Root without CAP_NET_ADMIN passes our rule, and the kernel says no.
    let setpriv = Command::new("setpriv")
        .args(["--inh-caps=-net_admin", "--bounding-set=-net_admin"])
        .arg(env!("CARGO_BIN_EXE_sockscope"))
        .args(["close", "--port", &port_text, "--state", "listen", "--yes"])
        .output();
    match setpriv {
        Ok(out) if rustix::process::getuid().is_root() && out.status.code() != Some(127) => {
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
            assert!(
                stdout.contains("permission denied: closing a socket needs CAP_NET_ADMIN"),
                "{stdout}{stderr}"
            );
            assert_eq!(states(port), ["ESTABLISHED", "ESTABLISHED", "LISTEN"]);
        }
        other => {
            cannot_run(&format!(
                "setpriv cannot drop CAP_NET_ADMIN here: {other:?}"
            ));
        }
    }
}

#[test]
fn read_only_refuses_every_action() {
    let own = OwnAddr::new();
    let (p1, p2) = (unused_port(6), unused_port(7));
    let mut holder = holder::spawn(addr(&own, p1));
    let listener = TcpListener::bind(addr(&own, p2)).unwrap();
    let (mut client, mut server) = connection(&listener);
    let (p1, p2) = (p1.to_string(), p2.to_string());

    let runs: [(&[&str], Option<&str>); 4] = [
        (&["--read-only", "kill", "--port", &p1, "--yes"], None),
        (&["kill", "--read-only", "--port", &p1, "--yes"], None),
        (&["close", "--port", &p2, "--yes"], Some("1")),
        (&["kill", "--port", &p1, "--yes"], Some("yes")),
    ];
    for (args, env) in runs {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sockscope"));
        command.args(args);
        if let Some(value) = env {
            command.env("SOCKSCOPE_READ_ONLY", value);
        }
        let out = command.output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("sockscope: actions are off (")),
            "{args:?}: {stderr}"
        );
    }
    // A value that says no leaves actions on (a dry run here).
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["close", "--port", &p2])
        .env("SOCKSCOPE_READ_ONLY", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(alive(&mut holder));
    still_talks(&mut client, &mut server);
}

#[test]
fn bad_requests_say_why_and_do_nothing() {
    let port = unused_port(8).to_string();
    let cases: [(&[&str], &str); 6] = [
        (&["kill"], "needs --pid, --port or --state"),
        (
            &["kill", "--tcp", "--yes"],
            "needs --pid, --port or --state",
        ),
        (&["close", "--listening"], "needs --pid, --port or --state"),
        (&["kill", "--port", &port], "no socket matches the filters"),
        (
            &["close", "--port", &port, "--yes"],
            "no TCP socket matches",
        ),
        (&["close", "--udp", "--port", "53"], "TCP connections only"),
    ];
    for (args, says) in cases {
        let out = sockscope(args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        // The last line says why (warnings about the host may come first).
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("sockscope: ") && last.contains(says),
            "{args:?}: {stderr}"
        );
    }
    // A captured tree is not the running system: its pids are not processes here.
    let out = sockscope(&[
        "kill",
        "--proc-root",
        common::FIXTURE,
        "--port",
        "80",
        "--yes",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("not the running system"), "{stderr}");
    let out = sockscope(&["kill", "--port", "80", "--signal", "SIGNOPE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("unknown signal 'SIGNOPE'"));
}

/// A connection in another network namespace is closed there: a netlink socket reaches
/// only its own namespace's sockets, so sockscope makes one inside that namespace.
#[test]
fn close_reaches_into_another_network_namespace() {
    let netns = common::netns::Netns::new();
    if !netns.is_own() {
        return;
    }
    let (listener, (mut client, mut server)) = {
        let _inside = netns.enter();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let pair = connection(&listener);
        (listener, pair)
    };
    let port = listener.local_addr().unwrap().port().to_string();
    let out = sockscope(&["close", "--netns", netns.name(), "--port", &port, "--yes"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("closed tcp 127.0.0.1:"), "{stdout}");
    assert!(
        !stdout.contains("did not close") || stdout.contains("already gone"),
        "{stdout}"
    );
    holder::assert_closed("client", &mut client);
    holder::assert_closed("server", &mut server);
}
