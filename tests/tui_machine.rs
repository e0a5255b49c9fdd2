//! The state-machine pane (`m`): for a socket in each of the classic states, at 80×24
//! and at 120×40, drawn by the real app from fixture snapshots whose history walks the
//! socket through its states.

mod tui_fixture;

use crossterm::event::KeyCode;
use ratatui::style::Modifier;
use sockscope::model::{Socket, TcpState, Timer, TimerKind};
use sockscope::states::{Place, Role};
use sockscope::tui::app::{App, View};
use tui_fixture::*;

use TcpState::*;

/// The app after `socket` was seen in each of `states` (one refresh a second, from
/// +1 s), with `m` pressed on it, on a `width`×`height` screen.
fn pane(socket: Socket, states: &[TcpState], width: u16, height: u16) -> (App, String) {
    let mut app = App::new(config());
    app.roles = roles();
    let mut terminal = terminal(width, height);
    for (i, state) in states.iter().enumerate() {
        let mut s = socket.clone();
        s.state = *state;
        if *state == TimeWait {
            // The kernel keeps it without a file and owner; the tracker follows it by
            // its endpoints.
            s.inode = 0;
            s.processes = Vec::new().into();
            // From netlink: when the kernel lets it go.
            s.timer = Some(Timer {
                kind: TimerKind::Timewait,
                expires_ms: 42_100,
                retransmits: 0,
            });
        }
        feed(
            &mut app,
            &mut terminal,
            vec![update(snapshot(vec![s], i as u64 + 1))],
        );
    }
    feed(&mut app, &mut terminal, vec![char('m')]);
    assert_eq!(app.view, View::Machine);
    let screen = format!("{}", terminal.backend());
    (app, screen)
}

/// The demo's zoo, as `sockscope demo` passes it.
fn roles() -> Vec<Role> {
    vec![Role {
        place: Place::Addr("127.0.0.1:40125".parse().unwrap()),
        name: "zoo-close-wait".into(),
        part: "client half-closed, server never closes: server CLOSE_WAIT, client FIN_WAIT2".into(),
    }]
}

fn nginx() -> Vec<sockscope::model::Owner> {
    vec![owner(901, 12, "nginx", "www-data")]
}

fn curl() -> Vec<sockscope::model::Owner> {
    vec![owner(1500, 3, "curl", "root")]
}

fn listener() -> Socket {
    with_queues(
        tcp("127.0.0.1:8080", "0.0.0.0:0", Listen, 200, nginx()),
        2,
        4,
    )
}

fn client() -> Socket {
    tcp("127.0.0.1:51234", "127.0.0.1:8080", SynSent, 300, curl())
}

fn served() -> Socket {
    tcp(
        "127.0.0.1:40125",
        "127.0.0.1:51300",
        Established,
        202,
        nginx(),
    )
}

fn half_closer() -> Socket {
    tcp(
        "127.0.0.1:51300",
        "127.0.0.1:40125",
        Established,
        301,
        curl(),
    )
}

/// Each case: a name, the socket, the states it is seen in.
fn cases() -> Vec<(&'static str, Socket, Vec<TcpState>)> {
    vec![
        ("listen", listener(), vec![Listen]),
        ("syn_sent", client(), vec![SynSent]),
        ("established", client(), vec![SynSent, Established]),
        (
            "fin_wait2",
            half_closer(),
            vec![Established, FinWait1, FinWait2],
        ),
        ("close_wait", served(), vec![Established, CloseWait]),
        (
            "time_wait",
            client(),
            vec![Established, FinWait1, FinWait2, TimeWait],
        ),
    ]
}

#[test]
fn the_pane_in_each_state_at_80x24() {
    for (name, socket, states) in cases() {
        let (_, screen) = pane(socket, &states, 80, 24);
        insta::assert_snapshot!(format!("{name}_80x24"), screen);
    }
}

#[test]
fn the_pane_in_each_state_at_120x40() {
    for (name, socket, states) in cases() {
        let (_, screen) = pane(socket, &states, 120, 40);
        insta::assert_snapshot!(format!("{name}_120x40"), screen);
    }
}

#[test]
fn the_current_state_is_lit_and_the_path_drawn_bright() {
    let mut app = App::new(config());
    let mut terminal = terminal(80, 24);
    for (i, state) in [Established, CloseWait].into_iter().enumerate() {
        let mut s = served();
        s.state = state;
        feed(
            &mut app,
            &mut terminal,
            vec![update(snapshot(vec![s], i as u64 + 1))],
        );
    }
    feed(&mut app, &mut terminal, vec![char('m')]);
    let buffer = terminal.backend().buffer().clone();
    let find = |text: &str| {
        (0..buffer.area.height)
            .find_map(|y| {
                let row: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect();
                row.find(text).map(|byte| {
                    let x = row[..byte].chars().count() as u16;
                    (x, y)
                })
            })
            .unwrap_or_else(|| panic!("{text} on screen"))
    };
    let (x, y) = find("[CLOSE_WAIT]");
    assert!(buffer[(x + 1, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find("FIN rcvd / ACK sent ─");
    let (other_x, other_y) = find("close() / FIN sent ─");
    assert_ne!(
        buffer[(x, y)].fg,
        buffer[(other_x, other_y)].fg,
        "taken vs not"
    );
}

#[test]
fn keys_in_and_out_of_the_pane() {
    let (mut app, mut terminal) = web_app(80, 24);
    feed(&mut app, &mut terminal, vec![char('m')]);
    assert_eq!(app.view, View::Machine);
    let first = app.details.as_ref().unwrap().socket.key();
    // ↓: the next socket in the table, on the diagram.
    feed(&mut app, &mut terminal, vec![key(KeyCode::Down)]);
    assert_eq!(app.view, View::Machine);
    assert_ne!(app.details.as_ref().unwrap().socket.key(), first);
    // Enter: its details; m there: back to the diagram, same socket.
    let shown = app.details.as_ref().unwrap().socket.key();
    feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
    assert_eq!(app.view, View::Details);
    feed(&mut app, &mut terminal, vec![char('m')]);
    assert_eq!(app.view, View::Machine);
    assert_eq!(app.details.as_ref().unwrap().socket.key(), shown);
    // m again, or Esc: the table.
    feed(&mut app, &mut terminal, vec![char('m')]);
    assert_eq!(app.view, View::Sockets);
    feed(&mut app, &mut terminal, vec![char('m'), key(KeyCode::Esc)]);
    assert_eq!(app.view, View::Sockets);
}

/// UDP and unix get the short form: bound or not, connected or not, the unix peer.
#[test]
fn udp_and_unix_get_the_short_form() {
    let resolver = udp(
        "127.0.0.53:53",
        400,
        vec![owner(600, 12, "systemd-resolve", "root")],
    );
    let mut dbus = unix(
        None,
        Established,
        501,
        vec![owner(700, 9, "dbus-daemon", "root")],
    );
    dbus.set_peer_inode(Some(502));
    for (name, socket) in [("udp", resolver), ("unix", dbus)] {
        let mut app = App::new(config());
        let mut terminal = terminal(80, 24);
        let inputs = vec![update(snapshot(vec![socket], 1)), char('m')];
        feed(&mut app, &mut terminal, inputs);
        insta::assert_snapshot!(format!("short_form_{name}"), terminal.backend());
    }
}

/// `?` over the pane: the keys, the selected socket's state in two lines, and with
/// room, every other state.
#[test]
fn help_explains_the_states() {
    let (mut app, _) = pane(served(), &[Established, CloseWait], 120, 40);
    let mut terminal = terminal(120, 40);
    feed(&mut app, &mut terminal, vec![char('?')]);
    insta::assert_snapshot!("help_in_the_pane", terminal.backend());
    let screen = terminal.backend().to_string();
    let [first, _] = sockscope::states::tcp(CloseWait).lines();
    assert!(screen.contains(&first[..30]), "{screen}");
}

/// The details of a TCP socket end with its place on the diagram (PgDn to it).
#[test]
fn details_end_with_the_diagram() {
    let (mut app, _) = pane(served(), &[Established, CloseWait], 100, 30);
    let mut terminal = terminal(100, 30);
    let keys = vec![char('m'), key(KeyCode::Enter)];
    feed(&mut app, &mut terminal, keys);
    assert_eq!(app.view, View::Details);
    feed(&mut app, &mut terminal, vec![key(KeyCode::PageDown); 4]);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("state machine (m: the whole pane)"),
        "{screen}"
    );
    assert!(screen.contains("[CLOSE_WAIT]"), "{screen}");
    assert!(screen.contains("ESTABLISHED✓"), "{screen}");
}
