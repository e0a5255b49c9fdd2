//! With `--all-netns`, what doctor and recordings say about where a socket lives. The
//! test makes a network namespace of its own (`ip netns add`, deleted on drop), opens
//! its sockets inside it from a thread that entered it, and filters on their port, so
//! only its own sockets are judged; the host's namespace is in view beside it.

mod common;
use common::netns::Netns;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Our own namespace, or None (a visible skip; under CI a failure) without root.
fn own_netns() -> Option<Netns> {
    let netns = Netns::new();
    netns.is_own().then_some(netns)
}

/// A connection in CLOSE_WAIT inside `netns` to a listener on `port` (0: any): the
/// peer half-closed, we hold our end. Returns the port and what must stay open.
fn close_wait_in(netns: &Netns, port: u16) -> (u16, TcpListener, TcpStream, TcpStream) {
    let _inside = netns.enter();
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let port = l.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = l.accept().unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    (port, l, client, server)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `doctor` on `port` in the namespaces `place` names: three samples over 1.5 s, a
/// CLOSE_WAIT counted from 1 s (quick, and long enough for the rule).
fn doctor<'a>(place: &[&'a str], port: &'a str) -> Vec<&'a str> {
    let mut args = vec!["doctor"];
    args.extend_from_slice(place);
    args.extend(["--port", port]);
    args.extend(["--samples", "3", "--window", "1.5", "--min-age", "1"]);
    args
}

#[test]
fn doctor_names_the_namespace_when_several_are_in_view() {
    let Some(netns) = own_netns() else { return };
    // The port's sockets span two namespaces: a listener on it in the host's too.
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let (port, _l, _client, _server) = close_wait_in(&netns, host.local_addr().unwrap().port());
    let port = port.to_string();
    let args = doctor(&["--all-netns"], &port);
    let (code, text, err) = run(&args);
    assert_eq!(code, 1, "{text}{err}");
    let headline = text
        .lines()
        .find(|l| l.contains("CLOSE_WAIT:"))
        .unwrap_or_else(|| panic!("no CLOSE_WAIT finding: {text}"));
    assert!(
        headline.ends_with(&format!("(in netns {})", netns.name())),
        "{headline}"
    );

    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    let (code, out, err) = run(&json);
    assert_eq!(code, 1, "{out}{err}");
    let found: Value = serde_json::from_str(&out).unwrap();
    let f = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "close_wait")
        .unwrap_or_else(|| panic!("{found:#}"));
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(in netns {})", netns.name())),
        "{f:#}"
    );
    let spaces = f["netns"].as_array().unwrap();
    assert_eq!(spaces.len(), 1, "{f:#}");
    assert_eq!(spaces[0]["name"], netns.name());
    assert_eq!(f["containers"], Value::Array(Vec::new()));

    // One namespace in view: the summary says nothing of where.
    drop(host);
    let (code, out, err) = run(&doctor(&["--netns", netns.name()], &port));
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("(in netns"), "{out}");
}

#[test]
fn a_recording_of_every_namespace_replays_with_them() {
    let Some(netns) = own_netns() else { return };
    // A listener on the same port in the host's namespace too: the recording spans
    // two. Bound first there, where ports are shared; ours is empty.
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host.local_addr().unwrap().port();
    let (port, _l, _client, _server) = close_wait_in(&netns, host_port);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.rec");
    let file = file.to_str().unwrap();
    let port = port.to_string();
    let (code, out, err) = run(&[
        "record",
        "-o",
        file,
        "--all-netns",
        "--port",
        &port,
        "--interval",
        "200",
        "--duration",
        "1",
    ]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = run(&["list", "--replay", file, "--at", "+0", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let sockets: Vec<Value> = serde_json::from_str(&out).unwrap();
    let ours: Vec<&Value> = sockets
        .iter()
        .filter(|s| s["netns"]["name"] == netns.name())
        .collect();
    // The listener, the half-closed client and our end in CLOSE_WAIT.
    let mut states: Vec<&str> = ours.iter().map(|s| s["state"].as_str().unwrap()).collect();
    states.sort();
    assert_eq!(
        states,
        ["CLOSE_WAIT", "FIN_WAIT2", "LISTEN"],
        "{sockets:#?}"
    );
    let inode = ours[0]["netns"]["inode"].as_u64().unwrap();
    assert!(inode > 0 && ours.iter().all(|s| s["netns"]["inode"] == inode));
    // Peers are found again, inside the namespace.
    let me = u64::from(std::process::id());
    for s in ours.iter().filter(|s| s["state"] != "LISTEN") {
        assert_eq!(common::lasting_holders(s), [me], "{s:#}");
        assert!(s["peer"]["inode"].is_u64(), "{s:#}");
    }

    // The host's listener is there too, in another namespace, held by us.
    let theirs: Vec<&Value> = sockets
        .iter()
        .filter(|s| s["netns"]["inode"] != inode && s["state"] == "LISTEN")
        .collect();
    assert_eq!(theirs.len(), 1, "{sockets:#?}");
    assert_eq!(common::lasting_holders(theirs[0]), [me]);

    // The table of the replay names each row's namespace, as a live list does.
    let (code, table, err) = run(&["list", "--replay", file, "--at", "+0"]);
    assert_eq!(code, 0, "{table}{err}");
    assert!(
        table.lines().next().unwrap().contains("NETNS/CONTAINER"),
        "{table}"
    );
    let named: Vec<&str> = table.lines().filter(|l| l.contains(netns.name())).collect();
    assert_eq!(named.len(), 3, "{table}");
    drop(host);
}

/// A recording of format version 1 (before namespaces) still opens.
#[test]
fn a_version_1_header_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.rec");
    // A version 1 header with an empty meta: "no snapshot in the recording yet",
    // not a version error.
    std::fs::write(
        &path,
        b"sockscope-rec\n\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00",
    )
    .unwrap();
    let (code, _, err) = run(&["list", "--replay", path.to_str().unwrap(), "--at", "+0"]);
    assert_eq!(code, 1);
    assert!(err.contains("no snapshot in the recording yet"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
