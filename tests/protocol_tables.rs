//! Filters that rule a protocol out skip its tables: `list --udp` neither dumps unix
//! or TCP sock_diag nor opens /proc/net/unix or /proc/net/tcp (seen under strace), and
//! it lists exactly what `list` lists, filtered to UDP. This test's sockets live on a
//! loopback address of its own; an unbound UDP socket (in no table, named by the fd
//! walk) and a unix socketpair are held too.

mod common;
use common::need::{self, Need};
use common::netns::{Netns, OwnAddr};
use common::{list_json, sockscope};

use std::collections::BTreeMap;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::process::Command;

use serde_json::Value;
use socket2::{Domain, Socket, Type};

/// This test's sockets, held until dropped.
struct Staged {
    _own: OwnAddr,
    tcp: TcpListener,
    udp: UdpSocket,
    /// Unbound: no UDP table lists it; only the fd walk and the kernel's name for it do.
    unbound: Socket,
    pair: (UnixStream, UnixStream),
}

fn stage() -> Staged {
    let own = OwnAddr::new();
    let tcp = TcpListener::bind(own.any_port()).unwrap();
    let udp = UdpSocket::bind(own.any_port()).unwrap();
    let unbound = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    Staged {
        _own: own,
        tcp,
        udp,
        unbound,
        pair: UnixStream::pair().unwrap(),
    }
}

/// The socket inode behind one of our fds.
fn inode(fd: &impl AsRawFd) -> u64 {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    std::fs::metadata(link).unwrap().ino()
}

impl Staged {
    fn inodes(&self) -> [u64; 5] {
        [
            inode(&self.tcp),
            inode(&self.udp),
            inode(&self.unbound),
            inode(&self.pair.0),
            inode(&self.pair.1),
        ]
    }

    /// Ours among `rows`, by inode: other tests' sockets come and go meanwhile.
    fn ours(&self, rows: &[Value]) -> BTreeMap<u64, Value> {
        let inodes = self.inodes();
        rows.iter()
            .filter_map(|s| Some((s["inode"].as_u64()?, s)))
            .filter(|(i, _)| inodes.contains(i))
            .map(|(i, s)| (i, s.clone()))
            .collect()
    }
}

/// What `list ARGS --json` opens and sends, traced, run inside `netns` (else in ours):
/// (paths opened, sendto lines). (collect::read opens with open(2), the rest of the
/// program with openat(2).)
fn traced(netns: Option<&Netns>, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.txt");
    let mut command = match netns {
        Some(netns) => netns.command("strace"),
        None => Command::new("strace"),
    };
    let out = command
        .args([
            "-f",
            "-qq",
            "-s",
            "512",
            "-e",
            "trace=open,openat,openat2,sendto",
            "-o",
        ])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_sockscope"))
        .args(["list", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let opened = text
        .lines()
        .filter(|l| {
            ["open(", "openat(", "openat2("]
                .iter()
                .any(|c| l.contains(c))
        })
        .filter_map(|l| Some(l.split('"').nth(1)?.to_string()))
        .collect();
    let sent = text
        .lines()
        .filter(|l| l.contains("sendto("))
        .map(String::from)
        .collect();
    (opened, sent)
}

fn opens_table(opened: &[String], table: &str) -> bool {
    opened.iter().any(|p| p.ends_with(&format!("/net/{table}")))
}

/// In a namespace of its own, where only sockscope's own netlink socket is left that no
/// table read names, `list --udp` asks for the UDP tables and nothing else.
#[test]
fn udp_reads_no_unix_or_tcp_table() {
    if !need::met(&[Need::Strace]) {
        return;
    }
    let netns = Netns::new();
    let traced = |args: &[&str]| traced(Some(&netns), args);
    let (opened, sent) = traced(&["--udp"]);
    let dumps = |what: &str| sent.iter().filter(|l| l.contains(what)).count();
    if dumps("SOCK_DIAG_BY_FAMILY") > 0 {
        // Netlink: the two UDP dumps and nothing else.
        assert_eq!(dumps("sdiag_protocol=IPPROTO_UDP"), 2, "{sent:#?}");
        assert_eq!(dumps("SOCK_DIAG_BY_FAMILY"), 2, "{sent:#?}");
        assert_eq!(dumps("AF_UNIX"), 0, "{sent:#?}");
    } else {
        need::say("netlink sock_diag unavailable here: only the /proc source is checked");
    }
    assert!(!opens_table(&opened, "unix"), "{opened:#?}");
    assert!(!opens_table(&opened, "tcp"), "{opened:#?}");

    // The /proc source: udp and udp6, not unix, tcp or the other families.
    let (opened, sent) = traced(&["--udp", "--source", "proc"]);
    assert!(
        sent.iter().all(|l| !l.contains("SOCK_DIAG_BY_FAMILY")),
        "{sent:#?}"
    );
    assert!(opens_table(&opened, "udp"), "{opened:#?}");
    for table in ["unix", "tcp", "tcp6", "raw", "icmp", "packet", "netlink"] {
        assert!(!opens_table(&opened, table), "{table}: {opened:#?}");
    }

    // The trace sees these opens when they happen: `list` reads them all.
    let (opened, _) = traced(&["--source", "proc"]);
    assert!(
        opens_table(&opened, "unix") && opens_table(&opened, "tcp"),
        "{opened:#?}"
    );

    // And --unix dumps unix alone.
    let (opened, sent) = traced(&["--unix"]);
    assert!(!opens_table(&opened, "udp") && !opens_table(&opened, "tcp"));
    assert!(sent.iter().all(|l| !l.contains("AF_INET")), "{sent:#?}");
}

#[test]
fn narrowed_lists_are_the_full_list_filtered() {
    let staged = stage();
    let [tcp, udp, unbound, pair0, pair1] = staged.inodes();
    for (flag, proto, expected) in [
        ("--udp", "udp", vec![udp, unbound]),
        ("--tcp", "tcp", vec![tcp]),
        ("--unix", "unix", vec![pair0, pair1]),
    ] {
        let narrowed = list_json(&[flag]);
        assert!(narrowed.iter().all(|s| s["proto"] == proto), "{flag}");
        let full = list_json(&[]);
        let full: Vec<Value> = full.into_iter().filter(|s| s["proto"] == proto).collect();
        let (a, b) = (staged.ours(&narrowed), staged.ours(&full));
        assert_eq!(a, b, "{flag}");
        let mut listed: Vec<u64> = a.keys().copied().collect();
        let mut expected = expected;
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected, "{flag}");
    }
    // The unbound UDP socket, in no table, is still listed by --udp, as by list.
    let rows = staged.ours(&list_json(&["--udp"]));
    let unbound = &rows[&unbound];
    assert_eq!(unbound["proto"], "udp");
    assert_eq!(unbound["state"], "UNCONN");

    // Filters that rule everything out read nothing and list nothing.
    let out = sockscope(&["list", "--json", "--udp", "--state", "time-wait"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

/// With many sockets left that no table read names (here 2,200 unix sockets of ours),
/// `list --udp` tells them apart by asking the unread tables for their inodes alone
/// (cheaper than asking the kernel each one's protocol): no names, peers, queues or
/// tcp_info, nothing parsed; and it still lists just what `list` lists as UDP.
#[test]
fn many_leftovers_are_told_apart_by_inode_alone() {
    if !need::met(&[Need::Strace]) {
        return;
    }
    let staged = stage();
    let _many: Vec<(UnixStream, UnixStream)> =
        (0..1100).map(|_| UnixStream::pair().unwrap()).collect();
    let (opened, sent) = traced(None, &["--udp"]);
    assert!(!opens_table(&opened, "unix") && !opens_table(&opened, "tcp"));
    let requests: Vec<&String> = sent
        .iter()
        .filter(|l| l.contains("SOCK_DIAG_BY_FAMILY"))
        .collect();
    if !requests.is_empty() {
        assert!(
            requests.iter().any(|l| l.contains("AF_UNIX")),
            "{requests:#?}"
        );
        for line in &requests {
            if line.contains("AF_UNIX") {
                assert!(line.contains("udiag_show=0"), "{line}");
            } else if line.contains("IPPROTO_TCP") {
                assert!(line.contains("idiag_ext=0"), "{line}");
            } else {
                assert!(line.contains("IPPROTO_UDP"), "{line}");
            }
        }
    }
    let [_, udp, unbound, ..] = staged.inodes();
    let narrowed = staged.ours(&list_json(&["--udp"]));
    let full = list_json(&[]);
    let full: Vec<Value> = full.into_iter().filter(|s| s["proto"] == "udp").collect();
    assert_eq!(narrowed, staged.ours(&full));
    assert_eq!(narrowed.keys().copied().collect::<Vec<_>>().len(), 2);
    assert!(narrowed.contains_key(&udp) && narrowed.contains_key(&unbound));
}
