//! The live view with sockets of every family: the table shows them as `ss` names them
//! (raw, p_raw, nl, other), the state bar counts each family that has sockets, the
//! filter bar takes `proto:raw`, and the processes view counts every socket.

mod tui_fixture;

use sockscope::model::{Detail, Family, Proto, Socket, SocketType, TcpState};
use tui_fixture::*;

fn family_socket(proto: Proto, family: Family, inode: u64, detail: Detail) -> Socket {
    let socket_type = match proto {
        Proto::Other => SocketType::Unknown,
        _ => SocketType::Raw,
    };
    Socket {
        processes: vec![owner(4242, inode as u32 - 7000, "sniffd", "root")].into(),
        local: matches!(family, Family::Ipv4).then(|| "0.0.0.0:0".parse().unwrap()),
        remote: matches!(family, Family::Ipv4).then(|| "0.0.0.0:0".parse().unwrap()),
        ..Socket::family(
            proto,
            family,
            socket_type,
            TcpState::Unconn,
            inode,
            Some(detail),
        )
    }
}

fn with_families() -> Vec<Socket> {
    let mut sockets = web_sockets();
    sockets.push(family_socket(
        Proto::Raw,
        Family::Ipv4,
        7003,
        Detail::Raw { protocol: 1 },
    ));
    sockets.push(family_socket(
        Proto::Packet,
        Family::Packet,
        7004,
        Detail::Packet {
            ethertype: 3,
            ifindex: 0,
            interface: None,
        },
    ));
    sockets.push(family_socket(
        Proto::Netlink,
        Family::Netlink,
        7005,
        Detail::Netlink {
            netlink_protocol: 0,
            netlink_protocol_name: "ROUTE",
            port_id: 4242,
            peer_port_id: None,
            peer_group: None,
            groups: 1,
        },
    ));
    sockets.push(family_socket(
        Proto::Other,
        Family::Other,
        7006,
        Detail::Other {
            kernel_name: Some("XDP".into()),
        },
    ));
    sockets
}

#[test]
fn every_family_in_the_table_and_the_state_bar() {
    let mut app = sockscope::tui::app::App::new(config());
    let mut terminal = terminal(110, 30);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(with_families(), 1))],
    );
    let screen = format!("{:?}", terminal.backend());
    for text in [
        "RAW 1",
        "PACKET 1",
        "NETLINK 1",
        "OTHER 1",
        "*:icmp",
        "p_raw",
        "ROUTE:4242",
        "XDP",
    ] {
        assert!(screen.contains(text), "{text} not on screen:\n{screen}");
    }
    insta::assert_snapshot!(terminal.backend());

    // One filter language: `proto:raw` keeps the raw socket alone.
    let mut keys = vec![char('/')];
    keys.extend(typed("proto:raw"));
    feed(&mut app, &mut terminal, keys);
    let screen = format!("{:?}", terminal.backend());
    assert!(
        screen.contains("*:icmp") && !screen.contains("ROUTE:4242"),
        "{screen}"
    );
}

#[test]
fn the_processes_view_counts_every_family() {
    let mut app = sockscope::tui::app::App::new(config());
    let mut terminal = terminal(110, 24);
    feed(
        &mut app,
        &mut terminal,
        vec![
            update(snapshot(with_families(), 1)),
            key(crossterm::event::KeyCode::Tab),
        ],
    );
    let screen = format!("{:?}", terminal.backend());
    let row = screen
        .lines()
        .find(|l| l.contains("sniffd"))
        .unwrap_or_else(|| panic!("no sniffd row:\n{screen}"));
    assert!(row.contains(" 4 "), "sniffd holds 4 sockets: {row}");
}
