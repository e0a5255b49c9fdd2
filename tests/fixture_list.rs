//! `sockscope list` on a captured /proc tree (tests/fixtures/proc), via the hidden
//! `--proc-root`: the parsers, the owner join and every filter, without root or a kernel.

mod common;
use common::{FIXTURE, list_json, pids, sockscope};

/// The table with port numbers (`-n`): the fixture's, whatever this machine's
/// /etc/services names (`names_from_a_services_file` has the names).
fn table(args: &[&str]) -> String {
    let mut all = vec!["--proc-root", FIXTURE, "list", "-n"];
    all.extend_from_slice(args);
    let out = sockscope(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn names_from_a_services_file() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    std::fs::write(
        &services,
        "http-alt 8080/tcp webcache\ndomain 53/udp\ndomain 53/tcp\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["--proc-root", FIXTURE, "list"])
        .env("SOCKSCOPE_SERVICES", &services)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("tcp   LISTEN      127.0.0.1:http-alt "),
        "{text}"
    );
    assert!(
        lines[4].contains(" 127.0.0.1:50000         127.0.0.1:http-alt "),
        "{text}"
    );
    assert!(
        lines[7].contains(" 127.0.0.1:54321         127.0.0.1:domain "),
        "{text}"
    );
    // 9090 and 5353 have no name in that file.
    assert!(
        text.contains("[::ffff:127.0.0.1]:9090 ") && text.contains("[::1]:5353 "),
        "{text}"
    );
}

#[test]
fn whole_table() {
    let expected = "\
PROTO STATE       LOCAL                   REMOTE          RECV-Q SEND-Q PROCESS
tcp   LISTEN      127.0.0.1:8080          *:*                  2      0 100/nginx fd 3, 101/nginx fd 3
tcp   LISTEN      [::ffff:127.0.0.1]:9090 *:*                  0      0 100/nginx fd 5
tcp   ESTABLISHED 127.0.0.1:8080          127.0.0.1:50000      0      0 100/nginx fd 4
tcp   ESTABLISHED 127.0.0.1:50000         127.0.0.1:8080      16      0 200/curl fd 3
tcp   CLOSE_WAIT  127.0.0.1:8080          127.0.0.1:49998      0      1 100/nginx fd 7
tcp   TIME_WAIT   127.0.0.1:8080          127.0.0.1:49999      0      0 -
udp   ESTABLISHED 127.0.0.1:54321         127.0.0.1:53         0      0 300/dnsd fd 8
udp   UNCONN      127.0.0.1:53            *:*                  0      0 300/dnsd fd 7
udp   UNCONN      [::1]:5353              *:*                  0      0 300/dnsd fd 9
u_str LISTEN      /run/app.sock           *                    0      0 100/nginx fd 6
u_str LISTEN      @abstract-app           *                    0      0 300/dnsd fd 10
u_str ESTABLISHED *                       *                    0      0 200/curl fd 4
u_dgr UNCONN      /dev/log                *                    0      0 300/dnsd fd 11
";
    assert_eq!(table(&[]), expected);
}

#[test]
fn json_follows_the_schema() {
    let all = list_json(&["--proc-root", FIXTURE]);
    assert_eq!(all.len(), 13);
    let listener = &all[0];
    for (key, value) in [
        ("proto", "tcp"),
        ("family", "ipv4"),
        ("state", "LISTEN"),
        ("local_addr", "127.0.0.1"),
        ("remote_addr", "0.0.0.0"),
        ("socket_type", "stream"),
    ] {
        assert_eq!(listener[key], value, "{key}");
    }
    assert_eq!(listener["local_port"], 8080);
    assert_eq!(listener["recv_q"], 2);
    assert_eq!(listener["inode"], 1001);
    assert_eq!(listener["uid"], 33);
    assert!(listener["path"].is_null());
    assert_eq!(pids(listener), [100, 101]);
    assert_eq!(listener["processes"][0]["comm"], "nginx");
    assert_eq!(listener["processes"][0]["fd"], 3);
    assert!(listener["processes"][0]["user"].is_string());

    let mapped = &all[1];
    assert_eq!(mapped["family"], "ipv6");
    assert_eq!(mapped["local_addr"], "::ffff:127.0.0.1");

    let time_wait = all.iter().find(|s| s["state"] == "TIME_WAIT").unwrap();
    assert_eq!(time_wait["inode"], 0);
    assert_eq!(pids(time_wait), Vec::<u64>::new());

    let abstract_ = all.iter().find(|s| s["path"] == "@abstract-app").unwrap();
    assert_eq!(abstract_["family"], "unix");
    assert!(abstract_["local_addr"].is_null() && abstract_["local_port"].is_null());
    // /proc/net/unix has no uid; the owner's is used.
    assert!(abstract_["uid"].is_u64());
}

#[test]
fn csv_has_a_header_and_a_row_per_socket() {
    let csv = table(&["--csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "proto,family,state,local_addr,local_port,remote_addr,remote_port,path,socket_type,recv_q,send_q,inode,uid,processes,detail,netns"
    );
    assert_eq!(
        lines.next().unwrap(),
        "tcp,ipv4,LISTEN,127.0.0.1,8080,0.0.0.0,0,,stream,2,0,1001,33,100/nginx/3;101/nginx/3,,\"{\"\"inode\"\":0,\"\"name\"\":null}\""
    );
    assert_eq!(lines.count(), 12);
}

/// The local endpoints (or paths) a filter keeps, in output order.
fn kept(args: &[&str]) -> Vec<String> {
    let mut all = vec!["--proc-root", FIXTURE];
    all.extend_from_slice(args);
    list_json(&all)
        .iter()
        .map(|s| match s["path"].as_str() {
            Some(path) => path.to_string(),
            None if s["family"] == "unix" => "*".to_string(),
            None => format!(
                "{} {}:{}",
                s["state"].as_str().unwrap(),
                s["local_addr"].as_str().unwrap(),
                s["local_port"]
            ),
        })
        .collect()
}

#[test]
fn filters() {
    assert_eq!(
        kept(&["--state", "time-wait", "--state", "CLOSE_WAIT"]),
        ["CLOSE_WAIT 127.0.0.1:8080", "TIME_WAIT 127.0.0.1:8080"]
    );
    assert_eq!(kept(&["--state", "estab", "--tcp"]).len(), 2);
    assert_eq!(
        kept(&["--port", "53"]),
        ["ESTABLISHED 127.0.0.1:54321", "UNCONN 127.0.0.1:53"]
    );
    assert_eq!(kept(&["--udp", "-6"]), ["UNCONN ::1:5353"]);
    assert_eq!(kept(&["--tcp", "-6"]), ["LISTEN ::ffff:127.0.0.1:9090"]);
    assert_eq!(
        kept(&["--unix"]),
        ["/run/app.sock", "@abstract-app", "*", "/dev/log"]
    );
    assert_eq!(
        kept(&["--listening"]),
        [
            "LISTEN 127.0.0.1:8080",
            "LISTEN ::ffff:127.0.0.1:9090",
            "UNCONN 127.0.0.1:53",
            "UNCONN ::1:5353",
            "/run/app.sock",
            "@abstract-app",
            "/dev/log"
        ]
    );
    assert_eq!(
        kept(&["--tcp", "--udp", "--port", "8080", "--listening"]),
        ["LISTEN 127.0.0.1:8080"]
    );
}

#[test]
fn pid_scope_keeps_the_ownerless_sockets_of_its_service() {
    // nginx (100) listens on 8080: its TIME_WAIT there comes along, curl's socket does not.
    // Its worker (101) shares the listener: every holder is named, as on the whole host.
    assert_eq!(
        table(&["--pid", "100"]),
        "\
PROTO STATE       LOCAL                   REMOTE          RECV-Q SEND-Q PROCESS
tcp   LISTEN      127.0.0.1:8080          *:*                  2      0 100/nginx fd 3, 101/nginx fd 3
tcp   LISTEN      [::ffff:127.0.0.1]:9090 *:*                  0      0 100/nginx fd 5
tcp   ESTABLISHED 127.0.0.1:8080          127.0.0.1:50000      0      0 100/nginx fd 4
tcp   CLOSE_WAIT  127.0.0.1:8080          127.0.0.1:49998      0      1 100/nginx fd 7
tcp   TIME_WAIT   127.0.0.1:8080          127.0.0.1:49999      0      0 -
u_str LISTEN      /run/app.sock           *                    0      0 100/nginx fd 6
"
    );
    // Two pids: the union; curl listens nowhere, so nothing ownerless is added for it.
    let both = kept(&["--pid", "200", "--pid", "300"]);
    assert_eq!(both.len(), 2 + 5, "{both:?}");
}

/// `--color always` colours the states (and only them), aligned as without colour;
/// `never`, and `auto` into a pipe, print no escape at all, NO_COLOR or not.
#[test]
fn color_always_colours_states_only() {
    let plain = table(&[]);
    let coloured = table(&["--color", "always"]);
    assert!(
        coloured.contains("tcp   \x1b[32mESTABLISHED\x1b[0m 127.0.0.1:8080"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[1;31mCLOSE_WAIT\x1b[0m  127.0.0.1:8080"));
    assert!(coloured.contains("\x1b[36mLISTEN\x1b[0m      127.0.0.1:8080"));
    // UNCONN means nothing alarming: left plain.
    assert!(coloured.contains("udp   UNCONN      127.0.0.1:53"));
    let stripped = coloured
        .replace("\x1b[0m", "")
        .replace("\x1b[32m", "")
        .replace("\x1b[1;31m", "")
        .replace("\x1b[36m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[2m", "");
    assert_eq!(stripped, plain);
    assert!(!table(&["--color", "never"]).contains('\x1b'));
    assert!(
        !table(&["--color", "auto"]).contains('\x1b'),
        "a pipe is no tty"
    );
}
