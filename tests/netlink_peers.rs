//! Who talks to whom: a connection split between the test process and a child
//! (`sleep` holding one end as its stdin) resolves to the child's pid and back. TCP is
//! on a loopback address of the test's own, filtered on: other tests reuse port numbers.

mod common;
mod netlink_common;

use common::lasting_holders;
use common::netns::OwnAddr;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use netlink_common::*;

/// `sleep 30` holding `end` as its stdin; killed on drop.
struct Holder(Child);

impl Holder {
    fn spawn(end: OwnedFd) -> Holder {
        let child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::from(end))
            .spawn()
            .expect("spawn sleep");
        Holder(child)
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn unix_socketpair_resolves_both_ways() {
    let (mine, theirs) = UnixStream::pair().unwrap();
    let (my_inode, their_inode) = (inode_of(&mine), inode_of(&theirs));
    let child = Holder::spawn(theirs.into());
    let me = u64::from(std::process::id());
    let child_pid: u64 = child.pid().parse().unwrap();

    let ours = own("netlink");
    let s = find_inode(&ours, my_inode);
    assert_eq!(s["peer_inode"], their_inode);
    assert_eq!(s["peer"]["inode"], their_inode);
    assert_eq!(lasting_holders(&s["peer"]), [child_pid]);

    let theirs = list(&["--source", "netlink", "--pid", &child.pid()]);
    let s = find_inode(&theirs, their_inode);
    assert_eq!(common::pids(s), [child_pid]);
    assert_eq!(s["peer"]["inode"], my_inode);
    assert_eq!(lasting_holders(&s["peer"]), [me]);
}

#[test]
fn loopback_tcp_resolves_both_ways_from_either_source() {
    let own = OwnAddr::new();
    let ip = own.text();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let lp = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let cp = client.local_addr().unwrap().port();
    let (server, _) = listener.accept().unwrap();
    let (client_inode, server_inode) = (inode_of(&client), inode_of(&server));
    let child = Holder::spawn(client.into());
    let me = u64::from(std::process::id());
    let child_pid: u64 = child.pid().parse().unwrap();

    for source in ["netlink", "proc"] {
        let ours = on(list(&["--source", source, "--pid", &me.to_string()]), &ip);
        let s = find_inet(&ours, "tcp", lp, cp);
        assert_eq!(s["peer"]["inode"], client_inode, "{source}");
        assert_eq!(lasting_holders(&s["peer"]), [child_pid], "{source}");

        let theirs = on(list(&["--source", source, "--pid", &child.pid()]), &ip);
        let s = find_inet(&theirs, "tcp", cp, lp);
        assert_eq!(common::pids(s), [child_pid], "{source}");
        assert_eq!(s["peer"]["inode"], server_inode, "{source}");
        assert_eq!(lasting_holders(&s["peer"]), [me], "{source}");
    }
    // The whole host view resolves it too, without --pid.
    let host = on(list(&["--port", &cp.to_string()]), &ip);
    assert_eq!(
        lasting_holders(&find_inet(&host, "tcp", lp, cp)["peer"]),
        [child_pid]
    );
    drop(server);
}
