//! `sockscope list` on real sockets: this test process opens sockets in known states on
//! loopback, and `list --pid <us> --json` must report each with its state, endpoints and
//! owners; `ss -tuxanp` must agree. Each test stages on a loopback address of its own
//! (and ::1, where its sockets are told apart by port: nothing here leaves TIME_WAIT on
//! ::1), so neither the other tests of this file, which run in this same process, nor
//! any other test's sockets are mistaken for its own.

mod common;
use common::need::{self, Need};
use common::netns::OwnAddr;
use common::{lasting_holders, list_json, pids, sockscope};

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use socket2::{Domain, Socket, Type};

/// Sockets in every classic state, held until dropped.
struct Staged {
    /// The address every IPv4 socket here is bound or connected to.
    own: OwnAddr,
    listener: TcpListener,
    listener6: TcpListener,
    established: (TcpStream, TcpStream),
    syn_sent: Socket,
    backlog0: Socket,
    _queued: TcpStream,
    half_closed: (TcpStream, TcpStream),
    time_wait_port: u16,
    udp_bound: UdpSocket,
    udp_connected: UdpSocket,
    unix_path: String,
    _unix: UnixListener,
    _unix_abstract: UnixListener,
    abstract_name: String,
    _dir: tempfile::TempDir,
    /// A child holding our listener as its stdin: one socket, two processes.
    sharer: Child,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = self.sharer.kill();
        let _ = self.sharer.wait();
    }
}

fn stage() -> Staged {
    let own = OwnAddr::new();
    let loopback0 = || own.any_port();
    let listener = TcpListener::bind(loopback0()).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener6 = TcpListener::bind("[::1]:0").unwrap();

    let client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();

    // A backlog-0 listener that never accepts: Linux queues one connection (backlog + 1),
    // so once that is queued, the next connector's SYNs are dropped: SYN_SENT.
    let backlog0 = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    backlog0.bind(&loopback0().into()).unwrap();
    backlog0.listen(0).unwrap();
    let b0addr = backlog0.local_addr().unwrap();
    let queued = TcpStream::connect(b0addr.as_socket().unwrap()).unwrap();
    let syn_sent = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    syn_sent.set_nonblocking(true).unwrap();
    let _ = syn_sent.connect(&b0addr); // EINPROGRESS

    // Half-close: the client's FIN makes the server CLOSE_WAIT and the client FIN_WAIT2.
    let hc_client = TcpStream::connect(addr).unwrap();
    let (hc_server, _) = listener.accept().unwrap();
    hc_client.shutdown(Shutdown::Write).unwrap();

    // The side that closes first keeps TIME_WAIT, with no file and no owner.
    let tw_client = TcpStream::connect(addr).unwrap();
    let time_wait_port = tw_client.local_addr().unwrap().port();
    let (tw_server, _) = listener.accept().unwrap();
    drop(tw_client);
    sleep(Duration::from_millis(50));
    drop(tw_server);

    let udp_bound = UdpSocket::bind(loopback0()).unwrap();
    let udp_connected = UdpSocket::bind(loopback0()).unwrap();
    udp_connected
        .connect(udp_bound.local_addr().unwrap())
        .unwrap();
    udp_connected.send(b"hello").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let unix_path = dir.path().join("app.sock").to_str().unwrap().to_string();
    let unix = UnixListener::bind(&unix_path).unwrap();
    // Unique per call: the tests of this file stage in parallel in one process.
    static STAGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STAGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let abstract_name = format!("sockscope-test-{}-{n}", std::process::id());
    let unix_abstract =
        UnixListener::bind_addr(&UnixAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();

    let shared: OwnedFd = listener.try_clone().unwrap().into();
    let sharer = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::from(shared))
        .spawn()
        .unwrap();

    Staged {
        own,
        listener,
        listener6,
        established: (client, server),
        syn_sent,
        backlog0,
        _queued: queued,
        half_closed: (hc_client, hc_server),
        time_wait_port,
        udp_bound,
        udp_connected,
        unix_path,
        _unix: unix,
        _unix_abstract: unix_abstract,
        abstract_name: format!("@{}", abstract_name),
        _dir: dir,
        sharer,
    }
}

fn port_of(addr: SocketAddr) -> u64 {
    addr.port().into()
}

impl Staged {
    /// Whether a socket is to or from this stage's own address, or on ::1.
    fn owns(&self, s: &Value) -> bool {
        let ip = self.own.text();
        [&s["local_addr"], &s["remote_addr"]]
            .iter()
            .any(|a| **a == ip.as_str() || **a == "::1")
    }

    /// The one socket of this stage with these local and remote ports (remote 0 for
    /// unconnected).
    fn find<'a>(&self, all: &'a [Value], proto: &str, local: u64, remote: u64) -> &'a Value {
        let found: Vec<_> = all
            .iter()
            .filter(|s| {
                self.owns(s)
                    && s["proto"] == proto
                    && s["local_port"] == local
                    && s["remote_port"] == remote
            })
            .collect();
        assert_eq!(found.len(), 1, "{proto} {local}->{remote} in {all:#?}");
        found[0]
    }
}

#[test]
fn every_state_with_its_owners() {
    let staged = stage();
    let me = u64::from(std::process::id());
    let all = list_json(&["--pid", &me.to_string()]);

    let lport = port_of(staged.listener.local_addr().unwrap());
    let listener = staged.find(&all, "tcp", lport, 0);
    assert_eq!(listener["state"], "LISTEN");
    assert_eq!(listener["local_addr"], staged.own.text());
    assert!(pids(listener).contains(&me));

    let l6 = staged.find(
        &all,
        "tcp",
        port_of(staged.listener6.local_addr().unwrap()),
        0,
    );
    assert_eq!(
        (&l6["family"], &l6["local_addr"]),
        (&"ipv6".into(), &"::1".into())
    );

    let (client, server) = &staged.established;
    let cport = port_of(client.local_addr().unwrap());
    for s in [
        staged.find(&all, "tcp", cport, lport),
        staged.find(&all, "tcp", lport, cport),
    ] {
        assert_eq!(s["state"], "ESTABLISHED");
        assert_eq!(lasting_holders(s), [me]);
        assert_eq!(
            s["processes"][0]["comm"].as_str().map(|c| c.len() <= 15),
            Some(true)
        );
    }
    let server_fd = {
        use std::os::fd::AsRawFd;
        server.as_raw_fd() as u64
    };
    assert_eq!(
        staged.find(&all, "tcp", lport, cport)["processes"][0]["fd"],
        server_fd
    );

    let syn = staged.find(
        &all,
        "tcp",
        port_of(staged.syn_sent.local_addr().unwrap().as_socket().unwrap()),
        port_of(staged.backlog0.local_addr().unwrap().as_socket().unwrap()),
    );
    assert_eq!(syn["state"], "SYN_SENT");
    assert_eq!(lasting_holders(syn), [me]);

    let (hc_client, _) = &staged.half_closed;
    let hport = port_of(hc_client.local_addr().unwrap());
    assert_eq!(staged.find(&all, "tcp", hport, lport)["state"], "FIN_WAIT2");
    assert_eq!(
        staged.find(&all, "tcp", lport, hport)["state"],
        "CLOSE_WAIT"
    );

    // Nobody holds a TIME_WAIT socket; --pid keeps it because it talks to our listener.
    let tw = staged.find(&all, "tcp", staged.time_wait_port.into(), lport);
    assert_eq!(tw["state"], "TIME_WAIT");
    assert_eq!(tw["inode"], 0);
    assert!(pids(tw).is_empty());

    let bound = staged.find(
        &all,
        "udp",
        port_of(staged.udp_bound.local_addr().unwrap()),
        0,
    );
    assert_eq!(bound["state"], "UNCONN");
    let connected = staged.find(
        &all,
        "udp",
        port_of(staged.udp_connected.local_addr().unwrap()),
        port_of(staged.udp_bound.local_addr().unwrap()),
    );
    assert_eq!(connected["state"], "ESTABLISHED");

    for path in [&staged.unix_path, &staged.abstract_name] {
        let unix: Vec<_> = all.iter().filter(|s| s["path"] == path.as_str()).collect();
        assert_eq!(unix.len(), 1, "{path}");
        assert_eq!(unix[0]["state"], "LISTEN");
        assert_eq!(unix[0]["socket_type"], "stream");
        assert_eq!(lasting_holders(unix[0]), [me]);
    }

    // The shared listener, seen from the host-wide walk: both processes hold it.
    let host = list_json(&["--port", &lport.to_string(), "--listening"]);
    let host: Vec<&Value> = host.iter().filter(|s| staged.owns(s)).collect();
    assert_eq!(host.len(), 1, "{host:#?}");
    let mut owners = lasting_holders(host[0]);
    owners.sort();
    let mut expected = vec![me, u64::from(staged.sharer.id())];
    expected.sort();
    assert_eq!(owners, expected);

    compare_with_ss(&all, me);
}

/// The address `ss` prints (`127.0.0.1:80`, `[::1]:80`, `*:80`, `[::ffff:…]:80`, with a
/// `%lo` scope at times) as sockscope's (address text, port).
fn ss_endpoint(text: &str) -> (String, u64) {
    let (addr, port) = text.rsplit_once(':').expect("ss address:port");
    let addr = addr.split('%').next().unwrap();
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    (
        addr.to_string(),
        port.replace('*', "0").parse().expect("ss port"),
    )
}

/// Every inet socket of ours that ss lists with a process must have the same state and
/// pid in our output, and every unix socket the same state by inode.
fn compare_with_ss(ours: &[Value], me: u64) {
    if !need::met(&[Need::Ss]) {
        return;
    }
    let out = Command::new("ss").args(["-tuxanpH"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("pid={me},");
    let mut compared = 0;
    for line in text.lines().filter(|l| l.contains(&needle)) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let state = sockscope::query::parse_state(f[1])
            .expect("ss state")
            .name();
        let found = if f[0] == "tcp" || f[0] == "udp" {
            // By address and port: the other tests of this file hold sockets in this
            // process too, on other addresses and maybe with the same port numbers.
            let (local, local_port) = ss_endpoint(f[4]);
            let (_, peer_port) = ss_endpoint(f[5]);
            ours.iter().find(|s| {
                s["proto"] == f[0]
                    && s["local_addr"] == local.as_str()
                    && s["local_port"] == local_port
                    && s["remote_port"] == peer_port
            })
        } else {
            let inode: u64 = f[5].parse().expect("ss unix inode");
            ours.iter().find(|s| s["inode"] == inode)
        };
        let Some(found) = found else { continue }; // ss may list sockets we hold only briefly
        assert_eq!(found["state"], state, "ss: {line}");
        assert!(pids(found).contains(&me), "ss: {line}");
        compared += 1;
    }
    assert!(
        compared >= 10,
        "only {compared} sockets compared with ss:\n{text}"
    );
}

#[test]
fn closed_pipe_exits_quietly() {
    let _staged = stage(); // enough rows that writing takes a moment
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["list", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Only the hidden-owners warning may appear (it does where some fds are unreadable).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().all(|l| l.contains("are hidden")), "{stderr}");
}

#[test]
fn unprivileged_run_lists_everything_and_warns_once() {
    if !need::met(&[Need::Root, Need::Runuser]) {
        return;
    }
    let staged = stage();
    let lport = staged.listener.local_addr().unwrap().port().to_string();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_sockscope")])
        .args(["list", "--json", "--port", &lport])
        .output()
        .expect("run runuser");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 126/127: nobody may not reach the binary (a target dir under a private home).
    if matches!(out.status.code(), Some(126 | 127)) {
        need::cannot(&format!("nobody cannot run the test binary here: {stderr}"));
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<_> = stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("owners of") && warnings[0].contains("hidden"),
        "{stderr}"
    );
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let listener = all
        .iter()
        .find(|s| s["state"] == "LISTEN" && staged.owns(s))
        .expect("our listener is listed");
    assert!(pids(listener).is_empty(), "owners are hidden from nobody");
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    for args in [
        &["list", "--pid", "999999999"][..],
        &["list", "--pid", "abc"],
        &["list", "--state", "bogus"],
        &["list", "--port", "70000"],
        &["list", "--frobnicate"],
        &["frobnicate"],
        &["list", "--json", "--csv"],
    ] {
        let out = sockscope(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("sockscope: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = sockscope(&["list", "--pid", "999999999"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process with pid 999999999"));
    let out = sockscope(&["list", "--state", "bogus"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TIME_WAIT"),
        "lists valid names"
    );
}

#[test]
fn pid_scope_lists_that_process_sockets_with_every_holder() {
    let staged = stage();
    // `sleep` holds exactly one socket: our shared listener, as its fd 0.
    let sharer = staged.sharer.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let all = loop {
        let all = list_json(&["--pid", &sharer, "--tcp"]);
        // ownerless TIME_WAITs on the listener's port may come along; the held socket is one
        let held: Vec<_> = all
            .iter()
            .filter(|s| !pids(s).is_empty())
            .cloned()
            .collect();
        if !held.is_empty() || Instant::now() > deadline {
            break held;
        }
        sleep(Duration::from_millis(100));
    };
    // Its one socket, with every holder: this test process holds it too.
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["state"], "LISTEN");
    let me = u64::from(std::process::id());
    let mut holders = lasting_holders(&all[0]);
    holders.sort();
    let mut expected = vec![me, u64::from(staged.sharer.id())];
    expected.sort();
    assert_eq!(holders, expected);
    let held = all[0]["processes"].as_array().unwrap();
    let sleep = held.iter().find(|o| o["comm"] == "sleep").unwrap();
    assert_eq!(sleep["fd"], 0);
}
