//! A namespace's dumps skip the families it has no socket of (collect/netlink/
//! present.rs): what it has is still listed, whatever it lacks. Sockets are opened
//! inside a network namespace the test makes (deleted on drop) by a thread that
//! entered it, and listed with `--netns` and `--all-netns`.

mod common;
use common::netns::Netns;

use std::net::{TcpListener, UdpSocket};

use serde_json::Value;

fn in_netns<'a>(sockets: &'a [Value], name: &str) -> Vec<&'a Value> {
    sockets
        .iter()
        .filter(|s| s["netns"]["name"] == name && s["proto"] != "netlink")
        .collect()
}

fn protos(sockets: &[&Value]) -> Vec<String> {
    let mut protos: Vec<String> = sockets
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["proto"].as_str().unwrap(),
                s["state"].as_str().unwrap()
            )
        })
        .collect();
    protos.sort();
    protos
}

#[test]
fn a_namespace_with_one_family_lists_it_and_then_the_next() {
    let netns = Netns::new();
    if !netns.is_own() {
        return; // said by Netns::new (and a failure under CI)
    }
    let name = netns.name().to_string();
    // A process in it, whose /proc/<pid>/net has the namespace's counters (without
    // one, every family is dumped).
    let sleeper = Sleeper(netns.command("sleep").arg("600").spawn().unwrap());
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let link = format!("/proc/{}/ns/net", sleeper.0.id());
    let entered = (0..200).any(|_| {
        let there = std::fs::read_link(&link).is_ok_and(|l| l != own);
        if !there {
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        there
    });
    assert!(entered, "sleep never entered {name}");
    // UDP only: the TCP dump (a walk of the host's TCP hash) is skipped.
    let udp = {
        let _inside = netns.enter();
        UdpSocket::bind("127.0.0.1:0").unwrap()
    };
    let udp_port = udp.local_addr().unwrap().port().to_string();
    // --all-netns on its port: only ours in the namespace; the rest is the host's.
    for args in [
        vec!["--netns", name.as_str()],
        vec!["--all-netns", "--port", &udp_port],
    ] {
        let all = common::list_json(&args);
        assert_eq!(protos(&in_netns(&all, &name)), ["udp UNCONN"], "{args:?}");
    }
    // Then TCP only.
    drop(udp);
    let tcp = {
        let _inside = netns.enter();
        TcpListener::bind("127.0.0.1:0").unwrap()
    };
    let port = tcp.local_addr().unwrap().port();
    let port_text = port.to_string();
    for args in [
        vec!["--netns", name.as_str()],
        vec!["--all-netns", "--port", &port_text],
    ] {
        let all = common::list_json(&args);
        let ours = in_netns(&all, &name);
        assert_eq!(protos(&ours), ["tcp LISTEN"], "{args:?}");
        assert_eq!(ours[0]["local_port"], port);
        assert_eq!(common::pids(ours[0]), [u64::from(std::process::id())]);
    }
    drop(sleeper);
}

/// Killed and reaped on drop, also when an assertion fails.
struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
