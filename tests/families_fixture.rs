//! The /proc fallback of every family after TCP, UDP and unix, on a captured tree
//! (tests/fixtures/proc_families): net/{raw,raw6,icmp,icmp6,packet,netlink} and
//! net/sctp/{eps,assocs}, with processes holding each kind of socket and one holding a
//! socket no table names. Runs without root or a kernel, through `--proc-root`.

mod common;

use common::{list_json, pids, sockscope};
use serde_json::{Value, json};

const TREE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc_families");

fn list(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--proc-root", TREE];
    all.extend_from_slice(args);
    list_json(&all)
}

fn by_inode(sockets: &[Value], inode: u64) -> Vec<&Value> {
    sockets.iter().filter(|s| s["inode"] == inode).collect()
}

fn one(sockets: &[Value], inode: u64) -> &Value {
    let found = by_inode(sockets, inode);
    assert_eq!(found.len(), 1, "inode {inode}: {found:?}");
    found[0]
}

#[test]
fn raw_and_icmp_tables() {
    let all = list(&[]);
    let raw = one(&all, 3001);
    assert_eq!(
        (&raw["proto"], &raw["family"], &raw["socket_type"]),
        (&json!("raw"), &json!("ipv4"), &json!("raw"))
    );
    assert_eq!(raw["local_addr"], "127.0.0.1");
    // The protocol is not a port.
    assert_eq!(raw["local_port"], Value::Null);
    assert_eq!(raw["detail"], json!({"protocol": 1}));
    assert_eq!(pids(raw), [500]);
    assert_eq!(one(&all, 3002)["detail"], json!({"protocol": 58}));
    assert_eq!(one(&all, 3002)["family"], "ipv6");
    // A raw socket nobody holds (inode 0) is listed like a TIME_WAIT one.
    assert!(all.iter().any(|s| s["detail"] == json!({"protocol": 112})));

    let ping = one(&all, 3003);
    assert_eq!(
        (&ping["proto"], &ping["state"]),
        (&json!("icmp"), &json!("UNCONN"))
    );
    assert_eq!(
        (&ping["local_port"], &ping["uid"]),
        (&json!(1234), &json!(1000))
    );
    let ping6 = one(&all, 3004);
    assert_eq!(
        (&ping6["family"], &ping6["state"]),
        (&json!("ipv6"), &json!("ESTABLISHED"))
    );
    assert_eq!(ping6["remote_addr"], "::1");
}

#[test]
fn packet_and_netlink_tables() {
    let all = list(&[]);
    let sniffer = one(&all, 3005);
    assert_eq!(
        (&sniffer["proto"], &sniffer["socket_type"]),
        (&json!("packet"), &json!("raw"))
    );
    assert_eq!(
        sniffer["detail"],
        json!({"ethertype": 3, "ifindex": 0, "interface": null})
    );
    let dhcp = one(&all, 3006);
    assert_eq!(
        (&dhcp["socket_type"], &dhcp["recv_q"]),
        (&json!("dgram"), &json!(768))
    );
    assert_eq!(dhcp["detail"]["ethertype"], 0x0800);
    assert_eq!(pids(dhcp), [501]);

    let route = one(&all, 3007);
    assert_eq!(route["proto"], "netlink");
    assert_eq!(route["detail"]["netlink_protocol_name"], "ROUTE");
    assert_eq!(
        (&route["detail"]["port_id"], &route["detail"]["groups"]),
        (&json!(502), &json!(0x111))
    );
    let audit = one(&all, 3008);
    assert_eq!(audit["detail"]["netlink_protocol_name"], "AUDIT");
    assert_eq!(audit["recv_q"], 4352);
    // The kernel's own socket: listed, no owner, and not counted as a hidden owner.
    let kernel = one(&all, 4);
    assert_eq!(kernel["detail"]["port_id"], 0);
    assert!(pids(kernel).is_empty());
}

#[test]
fn sctp_endpoints_and_associations() {
    let all = list(&[]);
    let listener = one(&all, 3009);
    assert_eq!(
        (&listener["proto"], &listener["state"]),
        (&json!("sctp"), &json!("LISTEN"))
    );
    assert_eq!(
        (&listener["local_port"], &listener["socket_type"]),
        (&json!(5000), &json!("stream"))
    );
    // A one-to-one client: its one association fills the row.
    let client = one(&all, 3010);
    assert_eq!(client["state"], "ESTABLISHED");
    assert_eq!(
        (&client["remote_addr"], &client["remote_port"]),
        (&json!("127.0.0.1"), &json!(5000))
    );
    assert_eq!(client["detail"], json!({"sctp_state": "ESTABLISHED"}));
    // A one-to-many listener: its endpoint and each association, all held by its fd.
    let many = by_inode(&all, 3011);
    let states: Vec<&Value> = many.iter().map(|s| &s["detail"]["sctp_state"]).collect();
    assert_eq!(many.len(), 3, "{many:?}");
    assert!(states.contains(&&Value::Null));
    assert!(states.contains(&&json!("COOKIE_WAIT")));
    let primary = many.iter().find(|s| s["remote_port"] == 41000).unwrap();
    assert_eq!(primary["remote_addr"], "127.0.0.3");
    assert_eq!(
        (&primary["recv_q"], &primary["send_q"]),
        (&json!(16), &json!(0))
    );
    assert!(many.iter().all(|s| pids(s) == [503]));
}

#[test]
fn a_socket_no_table_names_is_listed_with_its_owner() {
    let all = list(&["--pid", "504"]);
    assert_eq!(all.len(), 1, "{all:?}");
    let odd = &all[0];
    assert_eq!(
        (&odd["proto"], &odd["family"]),
        (&json!("other"), &json!("other"))
    );
    assert_eq!(odd["socket_type"], "unknown");
    assert_eq!(odd["inode"], 3999);
    assert_eq!(pids(odd), [504]);
}

#[test]
fn every_fd_of_every_process_is_one_row_or_more() {
    let all = list(&[]);
    for (pid, inodes) in [
        (500, &[3001, 3002, 3003, 3004][..]),
        (501, &[3005, 3006]),
        (502, &[3007, 3008]),
        (503, &[3009, 3010, 3011]),
        (504, &[3999]),
    ] {
        for &inode in inodes {
            let rows = by_inode(&all, inode);
            assert!(!rows.is_empty(), "pid {pid} inode {inode} not listed");
            assert!(rows.iter().all(|s| pids(s) == [pid]));
        }
    }
}

#[test]
fn family_filters_and_bad_lines() {
    let protos = |args: &[&str]| -> Vec<String> {
        let mut found: Vec<String> = list(args)
            .iter()
            .map(|s| s["proto"].as_str().unwrap().to_string())
            .collect();
        found.dedup();
        found
    };
    assert_eq!(protos(&["-w"]), ["raw"]);
    assert_eq!(protos(&["--raw", "-6"]), ["raw"]);
    assert_eq!(protos(&["-0"]), ["packet"]);
    assert_eq!(protos(&["--netlink"]), ["netlink"]);
    assert_eq!(protos(&["--icmp", "--sctp"]), ["icmp", "sctp"]);

    // The unreadable line of net/raw is skipped, and said once on stderr.
    let out = sockscope(&["--proc-root", TREE, "list", "--raw"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 line of") && stderr.contains("net/raw"),
        "{stderr}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("127.0.0.1:icmp"), "{table}");

    // CSV: no port for a raw socket, and its detail as JSON text (quoted, RFC 4180).
    let out = sockscope(&["--proc-root", TREE, "list", "--csv", "--raw", "-4"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",processes,detail,netns"),
        "{csv}"
    );
    let row = csv
        .lines()
        .find(|l| l.contains(",3001,"))
        .expect("the raw row");
    assert!(
        row.starts_with("raw,ipv4,UNCONN,127.0.0.1,,0.0.0.0,,"),
        "{row}"
    );
    assert!(row.contains(",\"{\"\"protocol\"\":1}\","), "{row}");
}
