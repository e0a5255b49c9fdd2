//! The demo's echo protocol over real sockets, with the demo started in this process
//! through the library API (`demo::start`), and what `stop` leaves behind. Each test's
//! thread enters a network namespace of its own first, so its demo's sockets (its
//! threads inherit the namespace) and its clients' are there alone: "nobody listens on
//! the port after stop" cannot meet another test binding that port number meanwhile.

mod common;
use common::netns::Netns;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use sockscope::demo::echo::MAX_LINE;
use sockscope::demo::{self, DemoOptions};

/// A demo with no client traffic: the servers and the zoo alone.
fn quiet_demo() -> demo::Demo {
    let opts = DemoOptions {
        clients: 0,
        ..DemoOptions::default()
    };
    demo::start(&opts).expect("demo starts")
}

struct Client<S: Read + Write>(BufReader<S>);

impl<S: Read + Write> Client<S> {
    fn send(&mut self, bytes: &[u8]) {
        self.0.get_mut().write_all(bytes).unwrap();
    }

    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        assert!(line.ends_with('\n'), "a whole reply line, got {line:?}");
        line.trim_end_matches('\n').to_string()
    }

    fn ask(&mut self, request: &str) -> String {
        self.send(format!("{request}\n").as_bytes());
        self.reply()
    }

    /// True when the server has closed: read gives end of stream.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.0.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }
}

fn tcp_client(demo: &demo::Demo) -> Client<TcpStream> {
    let stream = TcpStream::connect(demo.echo_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Client(BufReader::new(stream))
}

#[test]
fn echo_server_speaks_the_line_protocol_over_tcp() {
    let netns = Netns::new();
    let _inside = netns.enter();
    let demo = quiet_demo();
    let mut c = tcp_client(&demo);
    assert_eq!(c.ask("ping"), "pong");
    assert_eq!(c.ask("echo hello, sockets"), "hello, sockets");
    assert_eq!(c.ask("ping\r"), "pong", "CRLF is fine too");
    assert_eq!(
        c.ask("dance"),
        "error: unknown command 'dance' (try ping, echo <text>, quit)"
    );

    // A line in pieces is answered once, when its end arrives.
    c.send(b"ec");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"ho in ");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"pieces\nping\n");
    assert_eq!(c.reply(), "in pieces");
    assert_eq!(c.reply(), "pong");

    // A long line gets one error; the connection goes on.
    let long = vec![b'x'; MAX_LINE * 10];
    c.send(&long);
    c.send(b"\n");
    assert_eq!(
        c.reply(),
        format!("error: line longer than {MAX_LINE} bytes")
    );
    assert_eq!(c.ask("ping"), "pong");

    assert_eq!(c.ask("quit"), "bye");
    assert!(c.closed(), "the server closes after quit");
}

#[test]
fn unix_servers_speak_it_too() {
    let netns = Netns::new();
    let _inside = netns.enter();
    let demo = quiet_demo();
    let path = demo.tempdir().join("echo.sock");
    let mut c = Client(BufReader::new(UnixStream::connect(&path).unwrap()));
    assert_eq!(c.ask("echo over a unix socket"), "over a unix socket");

    let abstract_name = demo
        .facts()
        .iter()
        .find(|f| f.kind == "unix-abstract")
        .unwrap()
        .value
        .clone();
    use std::os::linux::net::SocketAddrExt;
    let name = abstract_name.strip_prefix('@').unwrap();
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
    let mut c = Client(BufReader::new(UnixStream::connect_addr(&addr).unwrap()));
    assert_eq!(c.ask("ping"), "pong");
    assert_eq!(c.ask("quit"), "bye");
    assert!(c.closed());
}

#[test]
fn banner_names_every_part_with_its_address() {
    let netns = Netns::new();
    let _inside = netns.enter();
    let demo = quiet_demo();
    let banner = demo.banner();
    assert!(banner[0].contains("sockscope demo"), "{banner:?}");
    let echo = demo.echo_addr().to_string();
    let has = |addr: &str, role: &str| {
        banner
            .iter()
            .any(|l| l.starts_with(addr) && l.contains(role))
    };
    assert!(has(&echo, "echo server"), "{banner:?}");
    for fact in demo.facts().iter().filter(|f| f.kind != "pid") {
        assert!(has(&fact.value, &fact.role), "{} in {banner:?}", fact.kind);
    }
    for kind in ["zoo-syn", "zoo-close-wait", "zoo-time-wait", "unix", "udp"] {
        assert!(demo.facts().iter().any(|f| f.kind == kind), "{kind}");
    }
}

#[test]
fn stop_closes_everything_and_removes_the_temp_dir() {
    let netns = Netns::new();
    let _inside = netns.enter();
    let demo = quiet_demo();
    let addr = demo.echo_addr();
    let dir = demo.tempdir().to_path_buf();
    assert!(dir.join("echo.sock").exists());
    let mut open = tcp_client(&demo);
    assert_eq!(open.ask("ping"), "pong");

    demo.stop();
    assert!(open.closed(), "an open connection is hung up");
    assert!(!dir.exists(), "temp dir removed");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nobody listens on {addr}"
    );
}

#[test]
fn a_busy_port_is_refused_by_name() {
    let netns = Netns::new();
    let _inside = netns.enter();
    let first = quiet_demo();
    let opts = DemoOptions {
        port: Some(first.echo_addr().port()),
        clients: 0,
        ..DemoOptions::default()
    };
    let err = demo::start(&opts).err().expect("the port is taken");
    let text = format!("{err:#}");
    assert!(
        text.contains(&first.echo_addr().port().to_string()),
        "{text}"
    );
    assert!(text.contains("already in use"), "{text}");
}

#[test]
fn idle_connections_are_held_open() {
    // In the host namespace: the snapshot below is of this process's sockets, which
    // the library looks for in this process's (main thread's) namespace. Counted by
    // the exact echo address, nothing else's can match.
    let opts = DemoOptions {
        clients: 0,
        connections: 20,
        ..DemoOptions::default()
    };
    let demo = demo::start(&opts).unwrap();
    // Each idle connection is a socket of this process connected to the echo port.
    use sockscope::collect::{Scope, Source, System};
    use sockscope::model::TcpState;
    let echo = demo.echo_addr();
    let mut source = System::new("/proc", Scope::Pids(vec![std::process::id()])).unwrap();
    let snapshot = source.snapshot().unwrap();
    let idle = snapshot
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Established && s.remote == Some(echo))
        .count();
    assert_eq!(idle, 20, "one client socket per idle connection");
}
