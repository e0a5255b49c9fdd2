//! netlink and /proc describe the same sockets the same way; what only netlink knows
//! (tcp_info, timers, backlogs, unix queues and peers) is real. Every socket here is
//! held by the test process itself, on a loopback address of the test's own (IPv4), on
//! ::1 (held by us: IPv6 has one loopback address) or in a temp dir, and found by that
//! address, by inode or by path: other tests run in parallel and reuse port numbers.

mod common;
mod netlink_common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self, UnixListener, UnixStream};
use std::path::PathBuf;
use std::{fs, io};

use common::netns::OwnAddr;
use netlink_common::*;
use serde_json::Value;
use socket2::{Domain, SockAddr, Socket, Type};

fn local_port(addr: io::Result<SocketAddr>) -> u16 {
    addr.unwrap().port()
}

/// A fresh directory for unix socket paths, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sockscope-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A listener with an exact backlog, which std does not let us choose.
fn listener_with_backlog(addr: SocketAddr, backlog: i32) -> Socket {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(backlog).unwrap();
    socket
}

fn state_of(sockets: &[Value], proto: &str, local: u16, remote: u16) -> Value {
    find_inet(sockets, proto, local, remote)["state"].clone()
}

/// The fields both sources carry, minus the ones /proc cannot know: the backlog of a
/// TCP listener (its send_q) and unix queue sizes.
fn shared_fields(socket: &Value) -> String {
    let mut s = socket.clone();
    let map = s.as_object_mut().unwrap();
    for only_netlink in ["tcp_info", "timer", "peer_inode", "peer"] {
        map.remove(only_netlink);
    }
    if map["proto"] == "unix" {
        map.remove("recv_q");
        map.remove("send_q");
    } else if map["state"] == "LISTEN" {
        map.remove("send_q");
    }
    s.to_string()
}

#[test]
fn netlink_and_proc_agree_in_every_state() {
    let dir = TempDir::new("agree");
    let addr = OwnAddr::new();
    let ip = addr.text();
    // LISTEN and ESTABLISHED over IPv4 and IPv6.
    let l4 = TcpListener::bind(addr.any_port()).unwrap();
    let c4 = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
    let (s4, _) = l4.accept().unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let c6 = TcpStream::connect(l6.local_addr().unwrap()).unwrap();
    let (s6, _) = l6.accept().unwrap();
    // SYN_SENT: a backlog-0 listener that never accepts takes one connection into its
    // accept queue; the next connector's SYNs are dropped.
    let l0 = listener_with_backlog(addr.any_port(), 0);
    let l0_addr = l0.local_addr().unwrap().as_socket().unwrap();
    let queued = TcpStream::connect(l0_addr).unwrap();
    let filled = wait_for(20, || {
        (find_inet(&on(own("netlink"), &ip), "tcp", l0_addr.port(), 0)["recv_q"] == 1).then_some(())
    });
    assert!(filled.is_some(), "the backlog-0 accept queue never filled");
    let syn = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    syn.set_nonblocking(true).unwrap();
    let _ = syn.connect(&l0_addr.into()); // EINPROGRESS
    let syn_port = syn.local_addr().unwrap().as_socket().unwrap().port();
    // Half-close: the client shuts down its side (FIN_WAIT2), the server has not
    // (CLOSE_WAIT).
    let lh = TcpListener::bind(addr.any_port()).unwrap();
    let ch = TcpStream::connect(lh.local_addr().unwrap()).unwrap();
    let (sh, _) = lh.accept().unwrap();
    ch.shutdown(Shutdown::Write).unwrap();
    // TIME_WAIT: the server closes first, then the client once it has read the EOF.
    let lt = TcpListener::bind(addr.any_port()).unwrap();
    let mut ct = TcpStream::connect(lt.local_addr().unwrap()).unwrap();
    let ct_port = local_port(ct.local_addr());
    drop(lt.accept().unwrap().0);
    assert_eq!(ct.read(&mut [0; 16]).unwrap(), 0);
    drop(ct);
    // UDP: bound, connected, and bound on IPv6.
    let u = UdpSocket::bind(addr.any_port()).unwrap();
    let uc = UdpSocket::bind(addr.any_port()).unwrap();
    uc.connect(u.local_addr().unwrap()).unwrap();
    let u6 = UdpSocket::bind("[::1]:0").unwrap();
    // Unix streams at a path and at an abstract name.
    let path = dir.0.join("agree.sock");
    let ul = UnixListener::bind(&path).unwrap();
    let uc_path = UnixStream::connect(&path).unwrap();
    let (us_path, _) = ul.accept().unwrap();
    let name = format!("sockscope-agree-{}", std::process::id());
    let abstract_addr = net::SocketAddr::from_abstract_name(&name).unwrap();
    let ual = UnixListener::bind_addr(&abstract_addr).unwrap();
    let uc_abstract = UnixStream::connect_addr(&abstract_addr).unwrap();
    let (us_abstract, _) = ual.accept().unwrap();

    let (p4, p6, p0) = (
        local_port(l4.local_addr()),
        local_port(l6.local_addr()),
        l0_addr.port(),
    );
    let (ph, pt) = (local_port(lh.local_addr()), local_port(lt.local_addr()));
    let (pu, puc, pu6) = (
        local_port(u.local_addr()),
        local_port(uc.local_addr()),
        local_port(u6.local_addr()),
    );
    let ports = [p4, p6, p0, ph, pt, pu, puc, pu6];
    let unix_inodes = [
        &ul as &dyn std::os::fd::AsRawFd,
        &uc_path,
        &us_path,
        &ual,
        &uc_abstract,
        &us_abstract,
    ]
    .map(inode_of);
    let (ch_port, sh_port) = (local_port(ch.local_addr()), local_port(sh.peer_addr()));
    let settled = wait_for(20, || {
        let n = on(own("netlink"), &ip);
        (state_of(&n, "tcp", ch_port, ph) == "FIN_WAIT2"
            && state_of(&n, "tcp", ph, sh_port) == "CLOSE_WAIT"
            && state_of(&n, "tcp", pt, ct_port) == "TIME_WAIT")
            .then_some(())
    });
    assert!(settled.is_some(), "half-close and TIME_WAIT never settled");

    let me = u64::from(std::process::id());
    let mine = |sockets: Vec<Value>| -> Vec<Value> {
        let mut mine: Vec<Value> = sockets
            .into_iter()
            .filter(|s| {
                // Every socket to or from our own address is ours; on ::1, the ones
                // we hold.
                let v4 = touches(s, &ip);
                let v6 = s["local_addr"] == "::1"
                    && common::pids(s).contains(&me)
                    && [port(s, "local_port"), port(s, "remote_port")]
                        .iter()
                        .any(|p| p.is_some_and(|p| ports.contains(&p)));
                let unix = s["inode"]
                    .as_u64()
                    .is_some_and(|i| unix_inodes.contains(&i));
                v4 || v6 || unix
            })
            .collect();
        mine.sort_by_key(shared_fields);
        mine
    };
    let shared = |v: &[Value]| v.iter().map(shared_fields).collect::<Vec<_>>();
    // 15 TCP (3 listeners with 2 ends each, the queued pair, SYN_SENT, the backlog-0
    // and two more listeners, the half-closed pair, TIME_WAIT), 3 UDP, 6 unix.
    let agree =
        |netlink: &[Value], proc: &[Value]| netlink.len() == 24 && shared(netlink) == shared(proc);
    // Our sockets stay as they are now, but the kernel's tables are read in pieces
    // (/proc text and netlink dumps alike) while other processes' sockets come and go:
    // a line can be repeated or missed. A disagreement is read again (a few times); one
    // that persists is real.
    let mut netlink = mine(own("netlink"));
    let mut proc = mine(own("proc"));
    for _ in 0..4 {
        if agree(&netlink, &proc) {
            break;
        }
        netlink = mine(own("netlink"));
        proc = mine(own("proc"));
    }
    assert_eq!(netlink.len(), 24, "{netlink:#?}");
    assert_eq!(shared(&netlink), shared(&proc));

    // Every staged state is there, with the right family and owner.
    let expect = |proto: &str, local: u16, remote: u16, state: &str, family: &str| {
        let s = find_inet(&netlink, proto, local, remote);
        assert_eq!(
            (s["state"].as_str(), s["family"].as_str()),
            (Some(state), Some(family))
        );
        s.clone()
    };
    let c4_port = local_port(c4.local_addr());
    let c6_port = local_port(c6.local_addr());
    for s in [
        expect("tcp", p4, 0, "LISTEN", "ipv4"),
        expect("tcp", c4_port, p4, "ESTABLISHED", "ipv4"),
        expect("tcp", p4, local_port(s4.peer_addr()), "ESTABLISHED", "ipv4"),
        expect("tcp", p6, 0, "LISTEN", "ipv6"),
        expect("tcp", c6_port, p6, "ESTABLISHED", "ipv6"),
        expect("tcp", p6, local_port(s6.peer_addr()), "ESTABLISHED", "ipv6"),
        expect("tcp", syn_port, p0, "SYN_SENT", "ipv4"),
        expect("tcp", ch_port, ph, "FIN_WAIT2", "ipv4"),
        expect("tcp", ph, sh_port, "CLOSE_WAIT", "ipv4"),
        expect("udp", pu, 0, "UNCONN", "ipv4"),
        expect("udp", puc, pu, "ESTABLISHED", "ipv4"),
        expect("udp", pu6, 0, "UNCONN", "ipv6"),
    ] {
        assert!(common::pids(&s).contains(&me), "{s}");
    }
    // Not yet accepted, and TIME_WAIT: no file, so inode 0 and no owner.
    let queued_port = local_port(queued.local_addr());
    let embryo = expect("tcp", p0, queued_port, "ESTABLISHED", "ipv4");
    let time_wait = expect("tcp", pt, ct_port, "TIME_WAIT", "ipv4");
    assert_eq!(
        (embryo["inode"].as_u64(), time_wait["inode"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(time_wait["timer"]["kind"], "timewait");
    assert!(time_wait["timer"]["expires_ms"].as_u64().unwrap() <= 60_000);

    let [ul_i, ucp_i, usp_i, ual_i, uca_i, usa_i] = unix_inodes;
    let unix = |inode: u64| find_inode(&netlink, inode).clone();
    assert_eq!(unix(ul_i)["path"], path.to_str().unwrap());
    assert_eq!(unix(ul_i)["state"], "LISTEN");
    assert_eq!(unix(ual_i)["path"], format!("@{name}"));
    assert_eq!(unix(usp_i)["path"], path.to_str().unwrap());
    assert_eq!(unix(usa_i)["state"], "ESTABLISHED");
    for (a, b) in [(ucp_i, usp_i), (uca_i, usa_i)] {
        assert_eq!(unix(a)["peer_inode"], b);
        assert_eq!(unix(b)["peer_inode"], a);
        assert_eq!(unix(a)["peer"]["inode"], b);
        assert!(common::pids(&unix(a)["peer"]).contains(&me));
    }

    // tcp_info and timers come only from netlink; /proc gives the same sockets without.
    assert!(
        proc.iter()
            .all(|s| s["tcp_info"].is_null() && s["timer"].is_null())
    );
    assert!(proc.iter().all(|s| s["peer_inode"].is_null()));
    for s in [
        &find_inet(&netlink, "tcp", c4_port, p4),
        &find_inet(&netlink, "tcp", syn_port, p0),
    ] {
        assert!(s["tcp_info"].is_object(), "{s}");
    }
    assert_eq!(
        find_inet(&netlink, "tcp", syn_port, p0)["timer"]["kind"],
        "on"
    );
    assert!(find_inet(&netlink, "udp", pu, 0)["tcp_info"].is_null());
    // Without --source, netlink is used.
    let default = list(&["--pid", &me.to_string(), "--port", &p4.to_string()]);
    assert!(find_inet(&on(default, &ip), "tcp", c4_port, p4)["tcp_info"].is_object());
}

#[test]
fn listen_backlog_is_send_q() {
    let addr = OwnAddr::new();
    let tcp = listener_with_backlog(addr.any_port(), 37);
    let tcp_port = tcp.local_addr().unwrap().as_socket().unwrap().port();
    let dir = TempDir::new("backlog");
    let path = dir.0.join("backlog.sock");
    let unix = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    unix.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    unix.listen(5).unwrap();
    let queued = UnixStream::connect(&path).unwrap();

    let sockets = own("netlink");
    let inet = on(sockets.clone(), &addr.text());
    let listener = find_inet(&inet, "tcp", tcp_port, 0);
    assert_eq!(
        (listener["recv_q"].as_u64(), listener["send_q"].as_u64()),
        (Some(0), Some(37))
    );
    let unix = find_inode(&sockets, inode_of(&unix));
    assert_eq!(unix["state"], "LISTEN");
    // One connection waits in the accept queue.
    assert_eq!(
        (unix["recv_q"].as_u64(), unix["send_q"].as_u64()),
        (Some(1), Some(5))
    );
    drop(queued);
}

#[test]
fn tcp_info_counts_real_bytes() {
    const UP: usize = 1 << 20;
    const DOWN: usize = 300_000;
    let addr = OwnAddr::new();
    let listener = TcpListener::bind(addr.any_port()).unwrap();
    let lp = local_port(listener.local_addr());
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let cp = local_port(client.local_addr());
    let writer = std::thread::spawn(move || {
        client.write_all(&vec![7u8; UP]).unwrap();
        let mut back = vec![0u8; DOWN];
        client.read_exact(&mut back).unwrap();
        client
    });
    let mut got = vec![0u8; UP];
    server.read_exact(&mut got).unwrap();
    server.write_all(&vec![9u8; DOWN]).unwrap();
    let client = writer.join().unwrap();

    // The last ACKs may still be in flight right after the reads return.
    let found = wait_for(20, || {
        let sockets = on(own("netlink"), &addr.text());
        let c = find_inet(&sockets, "tcp", cp, lp)["tcp_info"].clone();
        let s = find_inet(&sockets, "tcp", lp, cp)["tcp_info"].clone();
        let at_least =
            |v: &Value, key: &str, n: usize| v[key].as_u64().is_some_and(|b| b >= n as u64);
        (at_least(&c, "bytes_acked", UP)
            && at_least(&c, "bytes_received", DOWN)
            && at_least(&c, "bytes_sent", UP)
            && at_least(&s, "bytes_received", UP)
            && at_least(&s, "bytes_acked", DOWN))
        .then_some((c, s))
    });
    let (c, s) = found.expect("tcp_info byte counters never reached the bytes sent");
    for info in [&c, &s] {
        assert!(info["rtt_us"].as_u64().unwrap() > 0, "{info}");
        assert!(info["cwnd"].as_u64().unwrap() > 0, "{info}");
        assert!(info["mss"].as_u64().unwrap() > 0, "{info}");
    }
    drop((client, server));
}

/// What the live view asks for (`Source::snapshot_counted`): tcp_info whole for the
/// details' socket alone, and for every other TCP socket its counters beside the
/// snapshot, the very numbers its whole tcp_info says.
#[test]
fn counted_snapshots_keep_one_tcp_info_and_the_others_counters() {
    use sockscope::collect::{PROC, Scope, Source, System, Tables};
    use sockscope::model::{Proto, Snapshot, Socket as Row, TcpCounters};

    let addr = OwnAddr::new();
    let listener = TcpListener::bind(addr.any_port()).unwrap();
    // Three connections, each with bytes of its own both ways.
    let mut pairs = Vec::new();
    for n in 1..=3 {
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&vec![1u8; 20_000 * n]).unwrap();
        server.read_exact(&mut vec![0u8; 20_000 * n]).unwrap();
        server.write_all(&vec![2u8; 3_000 * n]).unwrap();
        client.read_exact(&mut vec![0u8; 3_000 * n]).unwrap();
        pairs.push((client, server));
    }
    let client = pairs[1].0.local_addr().unwrap();
    // Our own sockets only (other tests' share this process): the pid alone walked.
    let mut system = System::new(PROC, Scope::Pids(vec![std::process::id()]))
        .unwrap()
        .with_tables(Tables::Netlink)
        .unwrap()
        .without_co_holders();
    // At either end of our address (the clients are on 127.0.0.1).
    let on = |a: Option<SocketAddr>| a.is_some_and(|a| a.ip() == addr.ip);
    let ours = |snapshot: &Snapshot| -> Vec<Row> {
        let mut rows: Vec<Row> = (snapshot.sockets.iter())
            .filter(|s| s.proto == Proto::Tcp && (on(s.local) || on(s.remote)))
            .cloned()
            .collect();
        rows.sort_by_key(|s| (s.local, s.remote));
        rows
    };
    let whole = |rows: &[Row]| -> Vec<Option<TcpCounters>> {
        rows.iter()
            .map(|s| s.tcp_info.as_ref().map(|i| i.counters()))
            .collect()
    };
    // The last ACKs may be in flight: counters that hold still over the counted one.
    let mut checked = false;
    for _ in 0..50 {
        let before = ours(&system.snapshot().unwrap());
        assert_eq!(before.len(), 7, "a listener and three pairs: {before:?}");
        assert!(whole(&before).iter().all(Option::is_some), "all whole");
        let kept = before
            .iter()
            .find(|s| s.local == Some(client))
            .expect("the second client")
            .key();
        let (counted, counters) = system.snapshot_counted(Some(&kept)).unwrap();
        let after = ours(&system.snapshot().unwrap());
        if whole(&before) != whole(&after) {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        let with_info: Vec<_> = (counted.sockets.iter())
            .filter(|s| s.tcp_info.is_some())
            .map(Row::key)
            .collect();
        assert_eq!(
            with_info,
            std::slice::from_ref(&kept),
            "the kept socket's tcp_info alone"
        );
        let rows = ours(&counted);
        assert_eq!(rows.len(), 7);
        let beside = counters.by_socket(&rows);
        for ((row, whole), beside) in rows.iter().zip(whole(&before)).zip(&beside) {
            let given = match row.key() == kept {
                true => row.tcp_info.as_ref().map(|i| i.counters()),
                false => *beside,
            };
            assert_eq!(given, whole, "{row:?}");
        }
        // Real bytes, not zeros that would match anyway.
        // Sorted by local address: the clients (on 127.0.0.1), the listener, the servers.
        let server = beside[6].expect("a server socket's counters");
        assert!(server.bytes_received >= 20_000, "{server:?}");
        checked = true;
        break;
    }
    assert!(checked, "the counters never held still for three snapshots");
    drop((pairs, listener));
}
