//! The real thing: `sockscope demo --headless` as a child process, looked at with
//! `sockscope list --pid` and `ss`, then stopped with SIGTERM. Each demo runs in a
//! network namespace of its test's own, with everything that looks at it: no other
//! test's sockets (or their TIME_WAITs on the same port numbers) are there.

mod common;
use common::need::{self, Need};
use common::netns::Netns;
// The demo child, stopped on drop (SIGTERM, then SIGKILL).
use common::StopOnDrop as Running;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

/// Starts the demo and reads its facts up to `ready` (bounded wait).
fn start_demo(netns: &Netns) -> (Running, HashMap<String, String>) {
    let mut child = netns
        .command(BIN)
        .args(["demo", "--headless", "--clients", "2", "--rate", "20"])
        .args(["--duration", "120"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sockscope demo");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut facts = HashMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no `ready` from the demo in time ({e}); got {facts:?}"));
        if line == "ready" {
            break;
        }
        let (kind, value) = line.split_once(' ').expect("`kind value` lines");
        facts.insert(kind.to_string(), value.to_string());
    }
    (running, facts)
}

fn list(netns: &Netns, args: &[&str]) -> Vec<Value> {
    let out = netns
        .command(BIN)
        .arg("list")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "list {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn port_of(addr: &str) -> u64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// Retries `missing` (which names what is not there yet) until it is empty or
/// `limit` has passed; returns what is still missing.
fn poll(limit: Duration, mut missing: impl FnMut() -> Vec<String>) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let now_missing = missing();
        if now_missing.is_empty() || Instant::now() >= deadline {
            return now_missing;
        }
        thread::sleep(Duration::from_millis(300));
    }
}

type Check = (String, Box<dyn Fn(&Value) -> bool>);

/// One check per state the demo promises, each naming the socket it wants.
fn checks(facts: &HashMap<String, String>) -> Vec<Check> {
    let pid: u64 = facts["pid"].parse().unwrap();
    let echo = port_of(&facts["echo"]);
    let syn = port_of(&facts["zoo-syn"]);
    let close_wait = port_of(&facts["zoo-close-wait"]);
    let time_wait = port_of(&facts["zoo-time-wait"]);
    let udp = port_of(&facts["udp"]);
    let unix = facts["unix"].clone();
    let abstract_name = facts["unix-abstract"].clone();
    let ours = move |s: &Value| {
        let procs = s["processes"].as_array().unwrap();
        procs.iter().any(|p| p["pid"].as_u64() == Some(pid))
    };
    let sock = move |proto: &'static str, state: &'static str| {
        move |s: &Value| s["proto"] == proto && s["state"] == state
    };
    let mut checks: Vec<Check> = vec![
        (
            "tcp LISTEN on the echo port".into(),
            Box::new(move |s| sock("tcp", "LISTEN")(s) && s["local_port"] == echo && ours(s)),
        ),
        (
            "tcp ESTABLISHED client of the echo server".into(),
            Box::new(move |s| sock("tcp", "ESTABLISHED")(s) && s["remote_port"] == echo && ours(s)),
        ),
        (
            "tcp SYN_SENT to zoo-syn".into(),
            Box::new(move |s| sock("tcp", "SYN_SENT")(s) && s["remote_port"] == syn && ours(s)),
        ),
        (
            "tcp CLOSE_WAIT on zoo-close-wait".into(),
            Box::new(move |s| {
                sock("tcp", "CLOSE_WAIT")(s) && s["local_port"] == close_wait && ours(s)
            }),
        ),
        (
            "tcp FIN_WAIT2 to zoo-close-wait".into(),
            Box::new(move |s| {
                sock("tcp", "FIN_WAIT2")(s) && s["remote_port"] == close_wait && ours(s)
            }),
        ),
        (
            "tcp TIME_WAIT on zoo-time-wait".into(),
            Box::new(move |s| sock("tcp", "TIME_WAIT")(s) && s["local_port"] == time_wait),
        ),
        (
            "unix stream LISTEN at its path".into(),
            Box::new(move |s| {
                sock("unix", "LISTEN")(s)
                    && s["socket_type"] == "stream"
                    && s["path"] == unix.as_str()
                    && ours(s)
            }),
        ),
        (
            "unix stream LISTEN in the abstract namespace".into(),
            Box::new(move |s| {
                sock("unix", "LISTEN")(s) && s["path"] == abstract_name.as_str() && ours(s)
            }),
        ),
        (
            "unix stream ESTABLISHED".into(),
            Box::new(move |s| {
                sock("unix", "ESTABLISHED")(s) && s["socket_type"] == "stream" && ours(s)
            }),
        ),
        (
            "udp UNCONN (bound)".into(),
            Box::new(move |s| sock("udp", "UNCONN")(s) && s["local_port"] == udp && ours(s)),
        ),
        (
            "udp ESTABLISHED (connected)".into(),
            Box::new(move |s| sock("udp", "ESTABLISHED")(s) && s["remote_port"] == udp && ours(s)),
        ),
    ];
    if let Some(udp6) = facts.get("udp6") {
        let udp6 = port_of(udp6);
        checks.push((
            "udp6 UNCONN on ::1".into(),
            Box::new(move |s| {
                sock("udp", "UNCONN")(s) && s["family"] == "ipv6" && s["local_port"] == udp6
            }),
        ));
    }
    checks
}

/// `ss -tuxanp` lines that must be there: (what, words that one line must contain).
fn ss_expectations(facts: &HashMap<String, String>) -> Vec<(&'static str, Vec<String>)> {
    let pid = format!("pid={}", facts["pid"]);
    let at = |kind: &str| format!(":{} ", port_of(&facts[kind]));
    vec![
        (
            "echo LISTEN",
            vec!["LISTEN".into(), format!("{}", facts["echo"]), pid.clone()],
        ),
        (
            "SYN-SENT",
            vec!["SYN-SENT".into(), at("zoo-syn"), pid.clone()],
        ),
        (
            "CLOSE-WAIT",
            vec!["CLOSE-WAIT".into(), at("zoo-close-wait"), pid.clone()],
        ),
        (
            "FIN-WAIT-2",
            vec!["FIN-WAIT-2".into(), at("zoo-close-wait"), pid.clone()],
        ),
        ("TIME-WAIT", vec!["TIME-WAIT".into(), at("zoo-time-wait")]),
        (
            "unix path",
            vec![
                "u_str".into(),
                "LISTEN".into(),
                facts["unix"].clone(),
                pid.clone(),
            ],
        ),
        (
            "unix abstract",
            vec![
                "u_str".into(),
                "LISTEN".into(),
                facts["unix-abstract"].clone(),
            ],
        ),
        (
            "udp bound",
            vec!["udp".into(), "UNCONN".into(), at("udp"), pid.clone()],
        ),
        (
            "udp connected",
            vec!["udp".into(), "ESTAB".into(), at("udp"), pid],
        ),
    ]
}

fn ss_missing(netns: &Netns, facts: &HashMap<String, String>) -> Vec<String> {
    let out = netns.command("ss").arg("-tuxanp").output().expect("run ss");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // ss pads columns; one space between fields is enough to match on.
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + " ")
        .collect();
    ss_expectations(facts)
        .into_iter()
        .filter(|(_, words)| {
            !lines
                .iter()
                .any(|l| words.iter().all(|w| l.contains(w.as_str())))
        })
        .map(|(what, _)| what.to_string())
        .collect()
}

#[test]
fn demo_holds_every_state_and_leaves_nothing_behind() {
    if !need::met(&[Need::Ss]) {
        return;
    }
    let netns = Netns::new();
    let (mut demo, facts) = start_demo(&netns);
    let pid = facts["pid"].clone();
    assert_eq!(
        pid,
        demo.0.id().to_string(),
        "the `pid` line is the child's pid"
    );
    let tempdir = Path::new(&facts["tempdir"]).to_path_buf();
    assert!(
        tempdir.is_dir(),
        "temp dir {tempdir:?} exists while running"
    );
    assert!(Path::new(&facts["unix"]).starts_with(&tempdir));
    // Unpredictable, so no one can take the name first: a random part after the pid.
    let suffix = facts["unix-abstract"]
        .strip_prefix(&format!("@sockscope-demo-{pid}-"))
        .unwrap_or_else(|| panic!("abstract name {}", facts["unix-abstract"]));
    assert!(
        suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
        "{suffix}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = tempdir.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the temp dir is private");

    let checks = checks(&facts);
    let missing = poll(Duration::from_secs(20), || {
        let sockets = list(&netns, &["--pid", &pid]);
        checks
            .iter()
            .filter(|(_, found)| !sockets.iter().any(found))
            .map(|(what, _)| what.clone())
            .collect()
    });
    assert!(
        missing.is_empty(),
        "sockscope list --pid {pid} lacks: {missing:?}"
    );

    let missing = poll(Duration::from_secs(20), || ss_missing(&netns, &facts));
    assert!(missing.is_empty(), "ss -tuxanp lacks: {missing:?}");

    let status = common::terminate(&mut demo.0);
    assert!(
        status.success(),
        "demo exits cleanly on SIGTERM: {status:?}"
    );
    assert!(!tempdir.exists(), "temp dir {tempdir:?} removed");

    // Only TIME_WAIT may outlive the demo: the kernel keeps those, no process does.
    let ports: Vec<u64> = ["echo", "zoo-syn", "zoo-close-wait", "zoo-time-wait", "udp"]
        .iter()
        .map(|kind| port_of(&facts[*kind]))
        .collect();
    let paths = [facts["unix"].as_str(), facts["unix-abstract"].as_str()];
    let left = poll(Duration::from_secs(20), || {
        list(&netns, &[])
            .into_iter()
            .filter(|s| {
                let port = |field: &str| s[field].as_u64().unwrap_or(0);
                let on_port =
                    ports.contains(&port("local_port")) || ports.contains(&port("remote_port"));
                let at_path = paths.iter().any(|p| s["path"] == *p);
                // Other tests run on this host too and may reuse a port number: a
                // socket a live process holds is theirs (the demo has exited).
                let unheld = s["processes"].as_array().is_none_or(|p| p.is_empty());
                (on_port && unheld && s["state"] != "TIME_WAIT") || at_path
            })
            .map(|s| s.to_string())
            .collect()
    });
    assert!(
        left.is_empty(),
        "sockets left after the demo stopped: {left:?}"
    );
}

#[test]
fn a_port_in_use_is_one_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .args(["demo", "--headless", "--port", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&port) && stderr.contains("in use"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no facts printed for a demo that did not start"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [["--rate", "0"], ["--rate", "fast"], ["--clients", "-1"]] {
        let out = Command::new(BIN).arg("demo").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// `doctor --pid <demo>` names the zoo's leak, its stuck connects and its full accept
/// queue, each held by the demo's process. Retried (bounded) in case a round lands
/// right as the zoo renews its connectors.
#[test]
fn doctor_finds_the_zoos_problems_in_the_demo() {
    let netns = Netns::new();
    let (_demo, facts) = start_demo(&netns);
    let pid: u64 = facts["pid"].parse().unwrap();
    let syn = port_of(&facts["zoo-syn"]);
    let close_wait = port_of(&facts["zoo-close-wait"]);
    let mut last = String::new();
    let missing = poll(Duration::from_secs(60), || {
        let out = netns
            .command(BIN)
            .args(["doctor", "--json", "--pid", &pid.to_string()])
            .output()
            .unwrap();
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "findings exit 1: {last}");
        let findings: Vec<Value> = serde_json::from_str(&last).expect("doctor --json");
        let held_by_demo = |f: &Value| {
            f["processes"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["pid"] == pid))
        };
        let on_port = |f: &Value, field: &str, port: u64| {
            f["sockets"]
                .as_array()
                .is_some_and(|ss| ss.iter().any(|s| s[field] == port))
        };
        let wanted = [
            ("close_wait", "local_port", close_wait),
            ("syn_sent", "remote_port", syn),
            ("accept_queue", "local_port", syn),
        ];
        wanted
            .iter()
            .filter(|(kind, field, port)| {
                !findings
                    .iter()
                    .any(|f| f["kind"] == *kind && held_by_demo(f) && on_port(f, field, *port))
            })
            .map(|(kind, _, _)| kind.to_string())
            .collect()
    });
    assert!(missing.is_empty(), "doctor lacks {missing:?}: {last}");
    assert!(last.contains("full backlog of 0"), "{last}");
}
