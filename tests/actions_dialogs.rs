//! The K and X dialogs, the refusal when actions are off, and actions in the events
//! log, drawn from the fixture host into a TestBackend at 80×24. Confirming is checked
//! on the request the app hands its loop, never performed: the fixture's pids are made
//! up, and may be real processes here.

mod tui_fixture;
use tui_fixture::*;

use std::num::NonZeroU64;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sockscope::act::{Outcome, Signal, Verb};
use sockscope::model::{DiagId, Peer, Proto, Socket, TcpState};
use sockscope::tui::app::{App, Dialog, Done, Request};
use sockscope::tui::event::{Action, dialog_action_for};

/// The web host as netlink would read it: TCP sockets with a kernel id, and the
/// client and server ends of the local connection naming each other as peers.
fn netlink_host() -> Vec<Socket> {
    let mut sockets = web_sockets();
    for s in &mut sockets {
        if s.proto == Proto::Tcp {
            s.diag_id = Some(DiagId {
                // One of its own each, never 0 (the TIME_WAIT has inode 0).
                cookie: NonZeroU64::MIN.saturating_add(s.inode),
                interface: 0,
            });
        }
    }
    let by_inode = |inode: u64, all: &[Socket]| {
        let s = all.iter().find(|s| s.inode == inode).unwrap();
        Peer {
            inode,
            processes: s.processes.clone(),
        }
    };
    let (server, client) = (by_inode(201, &sockets), by_inode(300, &sockets));
    for s in &mut sockets {
        match s.inode {
            201 => s.peer = Some(client.clone()),
            300 => s.peer = Some(server.clone()),
            _ => {}
        }
    }
    sockets
}

fn app_on(sockets: Vec<Socket>) -> (App, ratatui::Terminal<ratatui::backend::TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(80, 24);
    feed(&mut app, &mut terminal, vec![update(snapshot(sockets, 1))]);
    (app, terminal)
}

/// The row of the socket with `inode`, selected with j from the top.
fn select(
    app: &mut App,
    terminal: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    inode: u64,
) {
    feed(app, terminal, vec![char('g')]);
    for _ in 0..app.rows.len() {
        let row = app.selected_row().unwrap();
        if app.socket(row).inode == inode {
            return;
        }
        feed(app, terminal, vec![char('j')]);
    }
    panic!("no row with inode {inode}");
}

#[test]
fn k_names_every_owner_and_asks() {
    let (mut app, mut terminal) = app_on(netlink_host());
    // The nginx listener: the master and a worker hold it after fork.
    select(&mut app, &mut terminal, 200);
    feed(&mut app, &mut terminal, vec![char('K')]);
    insta::assert_snapshot!("signal_dialog_shared_listener", terminal.backend());
    let Some(Dialog::Signal { targets, .. }) = &app.actions.dialog else {
        panic!("no signal dialog");
    };
    let pids: Vec<u32> = targets.iter().map(|t| t.pid).collect();
    assert_eq!(pids, [900, 901]);

    // Stray keys neither act nor close it (y confirms only the close dialog); Esc
    // cancels and asks nothing of the loop.
    for c in ['j', 'q', 'K', 'X', 'y', 'g'] {
        let action = dialog_action_for(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        assert!(
            matches!(action, None | Some(Action::Confirm)),
            "{c}: {action:?}"
        );
        app.apply(action.unwrap_or(Action::FilterChar(c)));
    }
    assert!(app.actions.dialog.is_some());
    assert!(app.take_request().is_none());
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc)]);
    assert!(app.actions.dialog.is_none());
    assert!(app.take_request().is_none());
    assert!(
        terminal
            .backend()
            .to_string()
            .contains("cancelled, nothing was done")
    );

    // t asks for SIGTERM to both, k for SIGKILL.
    for (action, signal) in [
        (Action::Signal(Signal::Term), Signal::Term),
        (Action::Signal(Signal::Kill), Signal::Kill),
    ] {
        app.apply(Action::AskSignal);
        app.apply(action);
        match app.take_request() {
            Some(Request::Signal {
                targets, signal: s, ..
            }) => {
                assert_eq!(s, signal);
                assert_eq!(targets.len(), 2);
                assert_eq!(targets[1].cmdline.as_deref(), Some("nginx: worker process"));
            }
            other => panic!("expected a signal request, got {other:?}"),
        }
        assert!(app.actions.dialog.is_none());
    }
}

#[test]
fn many_owners_are_counted_not_cut() {
    // A prefork server: thirty workers share one listener.
    let workers = (0..30)
        .map(|i| owner(2000 + i, 3, "worker", "www-data"))
        .collect();
    let mut listener = tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen, 900, workers);
    listener.diag_id = Some(DiagId {
        cookie: NonZeroU64::MIN,
        interface: 0,
    });
    let (mut app, mut terminal) = app_on(vec![listener]);
    feed(&mut app, &mut terminal, vec![char('K')]);
    insta::assert_snapshot!("signal_dialog_many", terminal.backend());
    let Some(Dialog::Signal { targets, .. }) = &app.actions.dialog else {
        panic!("no signal dialog");
    };
    assert_eq!(targets.len(), 30, "every worker is a target, shown or not");
}

#[test]
fn k_on_a_process() {
    let (mut app, mut terminal) = app_on(netlink_host());
    feed(&mut app, &mut terminal, vec![key(KeyCode::Tab), char('K')]);
    insta::assert_snapshot!("signal_dialog_process", terminal.backend());
}

#[test]
fn x_names_both_ends_and_asks() {
    let (mut app, mut terminal) = app_on(netlink_host());
    select(&mut app, &mut terminal, 201);
    feed(&mut app, &mut terminal, vec![char('X')]);
    insta::assert_snapshot!("close_dialog", terminal.backend());
    app.apply(Action::Signal(Signal::Term)); // not this dialog's key
    assert!(app.take_request().is_none());
    app.apply(Action::Confirm);
    match app.take_request() {
        Some(Request::Close { socket }) => assert_eq!(socket.inode, 201),
        other => panic!("expected a close request, got {other:?}"),
    }
}

#[test]
fn x_says_why_it_cannot() {
    // UDP, and TCP read from /proc (no kernel id), are refused before any dialog.
    let (mut app, mut terminal) = app_on(web_sockets());
    select(&mut app, &mut terminal, 201);
    feed(&mut app, &mut terminal, vec![char('X')]);
    assert!(app.actions.dialog.is_none());
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("cannot close it: no kernel socket id"),
        "{screen}"
    );
    select(&mut app, &mut terminal, 400);
    feed(&mut app, &mut terminal, vec![char('X')]);
    assert!(
        terminal
            .backend()
            .to_string()
            .contains("X closes TCP connections; this is udp")
    );
    // The TIME_WAIT nobody holds: no owner to signal.
    select(&mut app, &mut terminal, 0);
    feed(&mut app, &mut terminal, vec![char('K')]);
    assert!(app.actions.dialog.is_none());
    assert!(
        terminal
            .backend()
            .to_string()
            .contains("no process holding this socket")
    );
}

#[test]
fn actions_off_refuses_and_says_so() {
    let (mut app, mut terminal) = app_on(netlink_host());
    app.actions.off = Some("actions are off (--read-only)".into());
    feed(&mut app, &mut terminal, vec![char('K')]);
    assert!(app.actions.dialog.is_none());
    insta::assert_snapshot!("actions_off", terminal.backend());
    feed(&mut app, &mut terminal, vec![char('X')]);
    assert!(app.actions.dialog.is_none());
    assert!(app.take_request().is_none());
}

#[test]
fn results_go_to_the_status_and_the_events_log() {
    let (mut app, mut terminal) = app_on(netlink_host());
    let socket = |inode| {
        app.snapshot
            .as_ref()
            .unwrap()
            .sockets
            .iter()
            .find(|s: &&Socket| s.inode == inode)
            .unwrap()
            .clone()
    };
    let (listener, connection) = (socket(200), socket(201));
    let at = started_at() + Duration::from_secs(2);
    app.acted(vec![
        Done {
            at,
            about: listener.clone(),
            verb: Verb::Signal(Signal::Term),
            target: "pid 900 (nginx), user www-data, 1 socket".into(),
            brief: "SIGTERM → pid 900 nginx".into(),
            outcome: Outcome::Done,
        },
        Done {
            at,
            about: listener,
            verb: Verb::Signal(Signal::Term),
            target: "pid 901 (nginx: worker process), user www-data, 3 sockets".into(),
            brief: "SIGTERM → pid 901 nginx".into(),
            outcome: Outcome::Gone("the process is gone".into()),
        },
    ]);
    app.acted(vec![Done {
        at,
        about: connection,
        verb: Verb::Close,
        target: "tcp 127.0.0.1:8080 → 127.0.0.1:51234".into(),
        brief: String::new(),
        outcome: Outcome::Failed(
            "permission denied: closing a socket needs CAP_NET_ADMIN (run as root)".into(),
        ),
    }]);
    sockscope::tui::draw(&mut terminal, &mut app).unwrap();
    let status = terminal.backend().to_string();
    assert!(
        status.contains("did not close tcp 127.0.0.1:8080 → 127.0.0.1:51234: permission"),
        "{status}"
    );
    assert!(!app.actions.status.as_ref().unwrap().ok);
    feed(&mut app, &mut terminal, vec![char('e')]);
    insta::assert_snapshot!("events_with_actions", terminal.backend());
    // Wider, the whole of each result shows.
    terminal.backend_mut().resize(130, 12);
    feed(
        &mut app,
        &mut terminal,
        vec![sockscope::tui::event::Input::Resize],
    );
    insta::assert_snapshot!("events_with_actions_wide", terminal.backend());
    // The filter applies to them as to every event.
    feed(&mut app, &mut terminal, vec![char('/')]);
    feed(&mut app, &mut terminal, typed("51234"));
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("permission denied") && !screen.contains("SIGTERM"),
        "{screen}"
    );
}
