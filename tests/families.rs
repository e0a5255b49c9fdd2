//! Every family a process can hold, real: a child process in a network namespace this
//! test creates opens each kind of socket this machine allows (raw IPv4 and IPv6,
//! packet raw and dgram, netlink bound and unbound, ICMP ping sockets, MPTCP, SCTP,
//! vsock, an AF_XDP socket no table names, a TCP listener), and `sockscope list --pid`
//! run in that namespace must list every one of its `socket:` fds, as netlink and as
//! /proc read them (and with --pid from outside the namespace),
//! agreeing with `ss -wanp`, `ss -0anp` and `ss -f netlink -an`.
//!
//! No libtest harness (`harness = false` in Cargo.toml): the same binary is the child,
//! re-run under `ip netns exec` with FAMILIES_CHILD set, so the child's sockets are
//! opened with socket2 and netlink-sys in a process the test controls. A kind this
//! kernel lacks (no SCTP module, no vsock) is skipped, and says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const CHILD_ENV: &str = "FAMILIES_CHILD";

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    // `cargo test -- some_filter` passes arguments; only run when not filtered out.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filter.is_empty()
        && !filter
            .iter()
            .any(|f| "families_of_a_real_process".contains(f.as_str()))
    {
        return;
    }
    println!("test families_of_a_real_process ...");
    families_of_a_real_process();
    println!("test families_of_a_real_process ... ok");
}

/// A network namespace of our own, removed on drop.
struct Netns(String);

impl Netns {
    fn create() -> Option<Netns> {
        let name = format!("sockscope-families-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        let ns = Netns(name);
        ns.run("ip", &["link", "set", "lo", "up"]).ok()?;
        Some(ns)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0, program]);
        cmd
    }

    /// Runs a program in the namespace; its stdout, or why it failed.
    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The child, killed and reaped on drop (also when an assertion fails).
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        drop(self.0.stdin.take()); // its signal to exit
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("cannot run in CI: {why}");
    }
    println!("SKIPPED families_of_a_real_process: {why}");
}

fn families_of_a_real_process() {
    let Some(ns) = Netns::create() else {
        return skip_or_fail("cannot create a network namespace (needs root and ip)");
    };
    // Ping sockets are for the groups in ping_group_range, a setting of each network
    // namespace: allowed for all in ours, the host's untouched.
    let allow = "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range";
    if let Err(e) = ns.run("sh", &["-c", allow]) {
        println!("note: cannot allow ping sockets in the namespace: {e}");
    }
    // SCTP where the module loads; the kernel may have it built in, or not at all.
    let _ = Command::new("modprobe")
        .arg("sctp")
        .stderr(Stdio::null())
        .status();

    let exe = std::env::current_exe().expect("own path");
    let mut kid = Kid(ns
        .command(exe.to_str().expect("utf-8 path"))
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the child"));
    let opened = read_report(kid.0.stdout.take().expect("child stdout"));
    let pid = kid.0.id(); // `ip netns exec` execs the program: same pid
    for (kind, why) in &opened.skipped {
        println!("SKIPPED {kind}: {why}");
    }
    assert!(
        opened.fds.contains_key("raw4"),
        "raw sockets need root: {opened:?}"
    );

    let fds = socket_fds(pid);
    let pid_text = pid.to_string();
    let sockscope = env!("CARGO_BIN_EXE_sockscope");
    for source in ["netlink", "proc"] {
        let json = ns
            .run(
                sockscope,
                &["list", "--pid", &pid_text, "--source", source, "--json"],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let sockets: Vec<Value> = serde_json::from_str(&json).expect("JSON");
        check_every_fd(&sockets, &fds, pid, source);
        check_kinds(&sockets, &opened, source);
    }

    // From outside the namespace, --pid reads the child's namespace: through netlink
    // opened inside it where it may, else its /proc/P/net. Checked as /proc reads it.
    let out = Command::new(sockscope)
        .args(["list", "--pid", &pid_text, "--json"])
        .output()
        .expect("run sockscope");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sockets: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    check_every_fd(&sockets, &fds, pid, "proc, from outside");
    check_kinds(&sockets, &opened, "proc");

    // The netlink source, against ss in the same namespace.
    let json = ns
        .run(sockscope, &["list", "--pid", &pid_text, "--json"])
        .unwrap_or_else(|e| panic!("{e}"));
    let sockets: Vec<Value> = serde_json::from_str(&json).expect("JSON");
    let ours = |proto: &str| sockets.iter().filter(|s| s["proto"] == proto).count();
    let theirs = |args: &[&str]| {
        let out = ns.run("ss", args).unwrap_or_else(|e| panic!("{e}"));
        out.lines()
            .filter(|l| l.contains(&format!("pid={pid},")))
            .count()
    };
    assert_eq!(ours("raw"), theirs(&["-wanp"]), "raw sockets, as ss -wanp");
    assert_eq!(
        ours("packet"),
        theirs(&["-0anp"]),
        "packet sockets, as ss -0anp"
    );
    // ss names no process for netlink sockets; it prints PROTO:PORT, numbers with -n.
    let ss_netlink = ns
        .run("ss", &["-f", "netlink", "-an"])
        .unwrap_or_else(|e| panic!("{e}"));
    let route = sockets
        .iter()
        .find(|s| s["detail"]["netlink_protocol_name"] == "ROUTE")
        .expect("the bound ROUTE socket");
    let port = route["detail"]["port_id"].as_u64().unwrap();
    assert!(
        ss_netlink
            .split_whitespace()
            .any(|w| w == format!("0:{port}")),
        "ss -f netlink shows no 0:{port}:\n{ss_netlink}"
    );

    // The whole namespace: the kernel's netlink sockets too, and the child's; but not
    // the sockets of processes in other namespaces, which no table of this one has
    // (this test's own listener, on the host's loopback).
    let outside = std::net::TcpListener::bind("127.0.0.1:0").expect("a host listener");
    let json = ns
        .run(sockscope, &["list", "--json"])
        .unwrap_or_else(|e| panic!("{e}"));
    let all: Vec<Value> = serde_json::from_str(&json).expect("JSON");
    let me = u64::from(std::process::id());
    let mine = |s: &&Value| {
        let holders = s["processes"].as_array().into_iter().flatten();
        holders.clone().any(|p| p["pid"] == me)
    };
    assert_eq!(
        all.iter().filter(mine).count(),
        0,
        "another namespace's socket listed"
    );
    drop(outside);
    assert!(
        all.iter()
            .any(|s| s["detail"]["port_id"] == 0 && s["proto"] == "netlink")
    );
    assert!(all.iter().any(|s| s["detail"]["port_id"] == port));
    let table = ns
        .run(sockscope, &["list", "-w", "-0", "--netlink"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        table.contains("*:icmp") && table.contains("p_raw") && table.contains("ROUTE:"),
        "{table}"
    );
    drop(kid);
}

/// What the child opened: kind -> fd, and the kinds it could not open, with why.
#[derive(Debug, Default)]
struct Opened {
    fds: BTreeMap<String, u64>,
    skipped: Vec<(String, String)>,
}

fn read_report(stdout: ChildStdout) -> Opened {
    let mut opened = Opened::default();
    // Bounded: the child prints at most one line per kind, then `ready`.
    for line in BufReader::new(stdout).lines().take(64) {
        let line = line.expect("child output");
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("ready"), _, _) => return opened,
            (Some("open"), Some(kind), Some(fd)) => {
                opened.fds.insert(kind.into(), fd.parse().expect("fd"));
            }
            (Some("skip"), Some(kind), Some(why)) => opened.skipped.push((kind.into(), why.into())),
            _ => panic!("child said {line:?}"),
        }
    }
    panic!("the child never got ready: {opened:?}");
}

/// fd -> inode of every `socket:` link in /proc/PID/fd.
fn socket_fds(pid: u32) -> BTreeMap<u64, u64> {
    let mut fds = BTreeMap::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd")).expect("the child's fds") {
        let entry = entry.expect("fd entry");
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            let fd = entry
                .file_name()
                .to_string_lossy()
                .parse()
                .expect("fd number");
            fds.insert(fd, inode.parse().expect("inode"));
        }
    }
    fds
}

/// Every socket fd of the child is a listed socket held by it at that fd, and every
/// listed socket it holds is one of those fds.
fn check_every_fd(sockets: &[Value], fds: &BTreeMap<u64, u64>, pid: u32, source: &str) {
    let held: BTreeSet<(u64, u64)> = sockets
        .iter()
        .flat_map(|s| {
            s["processes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["pid"] == pid)
                .map(move |p| (p["fd"].as_u64().unwrap(), s["inode"].as_u64().unwrap()))
        })
        .collect();
    let want: BTreeSet<(u64, u64)> = fds.iter().map(|(&fd, &inode)| (fd, inode)).collect();
    assert_eq!(
        held, want,
        "--source {source}: listed (fd, inode) vs /proc/{pid}/fd"
    );
    let inodes: BTreeSet<u64> = fds.values().copied().collect();
    let rows = sockets
        .iter()
        .filter(|s| inodes.contains(&s["inode"].as_u64().unwrap()))
        .count();
    assert_eq!(rows, fds.len(), "--source {source}: one row per socket fd");
}

/// Each kind the child opened reads as its family.
fn check_kinds(sockets: &[Value], opened: &Opened, source: &str) {
    let at = |kind: &str| -> Option<&Value> {
        let fd = *opened.fds.get(kind)?;
        sockets.iter().find(|s| {
            s["processes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["fd"] == fd)
        })
    };
    let expect = |kind: &str, proto: &str, family: &str| {
        if let Some(s) = at(kind) {
            assert_eq!(
                (s["proto"].as_str(), s["family"].as_str()),
                (Some(proto), Some(family)),
                "{kind} ({source}): {s}"
            );
            Some(s)
        } else {
            assert!(
                !opened.fds.contains_key(kind),
                "{kind} ({source}) not listed"
            );
            None
        }
    };
    let raw4 = expect("raw4", "raw", "ipv4").unwrap();
    assert_eq!(raw4["detail"]["protocol"], 1, "{source}");
    assert!(raw4["local_port"].is_null());
    let raw6 = expect("raw6", "raw", "ipv6").unwrap();
    assert_eq!(raw6["detail"]["protocol"], 58, "{source}");
    let all = expect("packet_raw", "packet", "packet").unwrap();
    assert_eq!(
        (&all["socket_type"], &all["detail"]["ethertype"]),
        (&"raw".into(), &3.into())
    );
    let ip = expect("packet_dgram", "packet", "packet").unwrap();
    assert_eq!(
        (&ip["socket_type"], &ip["detail"]["ethertype"]),
        (&"dgram".into(), &0x0800.into())
    );
    // Not bound to an interface (binding needs a sockaddr_ll, which takes unsafe code).
    assert_eq!(
        (&ip["detail"]["ifindex"], &ip["local_addr"]),
        (&0.into(), &Value::Null)
    );
    let route = expect("netlink_route", "netlink", "netlink").unwrap();
    assert_eq!(route["detail"]["netlink_protocol_name"], "ROUTE");
    assert!(route["detail"]["port_id"].as_u64().unwrap() > 0);
    // Connected to the other's port: REMOTE is that port, `peer` the socket holding it
    // (netlink_diag says whom a socket is connected to; /proc/net/netlink does not).
    if let (Some(server), Some(client)) = (at("netlink_server"), at("netlink_client")) {
        assert_eq!(client["detail"]["netlink_protocol_name"], "USERSOCK");
        if source == "netlink" {
            assert_eq!(client["state"], "ESTABLISHED");
            assert_eq!(
                client["detail"]["peer_port_id"],
                server["detail"]["port_id"]
            );
            assert_eq!(client["peer"]["inode"], server["inode"], "{client}");
            let holder = &client["peer"]["processes"][0]["fd"];
            assert_eq!(holder, &Value::from(opened.fds["netlink_server"]));
        }
    }
    // Unbound: in no netlink table, named by the kernel's protocol name.
    expect("netlink_unbound", "netlink", "netlink");
    if let Some(ping) = expect("icmp4", "icmp", "ipv4") {
        assert_eq!(
            (&ping["socket_type"], &ping["local_addr"]),
            (&"dgram".into(), &"127.0.0.1".into())
        );
    }
    expect("icmp6", "icmp", "ipv6");
    expect("tcp", "tcp", "ipv4");
    // /proc has no MPTCP table: there it is the TCP socket the kernel shows.
    if source == "netlink" {
        expect("mptcp", "mptcp", "ipv4");
    }
    expect("sctp", "sctp", "ipv4");
    expect("vsock", "vsock", "vsock");
    if let Some(xdp) = expect("xdp", "other", "other") {
        assert_eq!(xdp["detail"]["kernel_name"], "XDP");
    }
}

/// The child: opens what it can, reports `open KIND FD` or `skip KIND WHY` for each,
/// then `ready`, and holds everything until its stdin closes.
fn child() {
    let mut held: Vec<Socket> = Vec::new();
    let mut netlink: Vec<netlink_sys::Socket> = Vec::new();
    let mut report = |kind: &str, result: std::io::Result<Socket>| match result {
        Ok(socket) => {
            use std::os::fd::AsRawFd;
            println!("open {kind} {}", socket.as_raw_fd());
            held.push(socket);
        }
        Err(e) => println!("skip {kind} {e}"),
    };
    let proto = |n: i32| Some(Protocol::from(n));
    report(
        "raw4",
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)),
    );
    report(
        "raw6",
        Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)),
    );
    // ETH_P_ALL and ETH_P_IP, in network byte order as the socket call wants them.
    report(
        "packet_raw",
        Socket::new(Domain::PACKET, Type::RAW, proto(0x0003u16.to_be().into())),
    );
    report("packet_dgram", packet_ip());
    // Bound, so it is in /proc/net/icmp; the IPv6 one is not, and is named by the fd.
    report("icmp4", bound_ping());
    report(
        "icmp6",
        Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6)),
    );
    report("tcp", listener(None));
    report("mptcp", listener(Some(Protocol::MPTCP)));
    report("sctp", listener(Some(Protocol::SCTP)));
    report("vsock", vsock_listener());
    report("xdp", Socket::new(Domain::from(44), Type::RAW, None));
    report(
        "netlink_unbound",
        Socket::new(Domain::from(16), Type::DGRAM, proto(9)),
    );
    match netlink_sys::Socket::new(0).and_then(|mut s| s.bind_auto().map(|_| s)) {
        Ok(s) => {
            use std::os::fd::AsRawFd;
            println!("open netlink_route {}", s.as_raw_fd());
            netlink.push(s);
        }
        Err(e) => println!("skip netlink_route {e}"),
    }
    // Two NETLINK_USERSOCK sockets, one connected to the other's port: a netlink peer.
    match netlink_pair() {
        Ok((a, b)) => {
            use std::os::fd::AsRawFd;
            println!("open netlink_server {}", a.as_raw_fd());
            println!("open netlink_client {}", b.as_raw_fd());
            netlink.extend([a, b]);
        }
        Err(e) => println!("skip netlink_pair {e}"),
    }
    println!("ready");
    // Until the test closes our stdin (or dies): a read that ends at EOF.
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

fn netlink_pair() -> std::io::Result<(netlink_sys::Socket, netlink_sys::Socket)> {
    const NETLINK_USERSOCK: isize = 2;
    let mut server = netlink_sys::Socket::new(NETLINK_USERSOCK)?;
    let port = server.bind_auto()?.port_number();
    let mut client = netlink_sys::Socket::new(NETLINK_USERSOCK)?;
    client.bind_auto()?;
    client.connect(&netlink_sys::SocketAddr::new(port, 0))?;
    Ok((server, client))
}

fn bound_ping() -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))?;
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into())?;
    Ok(socket)
}

fn listener(protocol: Option<Protocol>) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, protocol)?;
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into())?;
    socket.listen(8)?;
    Ok(socket)
}

fn packet_ip() -> std::io::Result<Socket> {
    let ip = 0x0800u16.to_be();
    Socket::new(
        Domain::PACKET,
        Type::DGRAM,
        Some(Protocol::from(i32::from(ip))),
    )
}

fn vsock_listener() -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::VSOCK, Type::STREAM, None)?;
    socket.bind(&SockAddr::vsock(
        u32::MAX,
        20_000 + std::process::id() % 10_000,
    ))?;
    socket.listen(1)?;
    Ok(socket)
}
