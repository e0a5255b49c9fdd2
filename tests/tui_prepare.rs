//! The split refresh: the collector's `Preparer` makes a `Ready` model, the app swaps
//! it in. Driven here as the two threads do it, without the threads: a model made
//! for another sort or filter than the app's (a key pressed while it was on its way)
//! is shown the app's way, and what K and X did stays in the events log until a
//! model carries it back.

mod tui_fixture;

use std::collections::HashMap;
use std::time::Duration;

use sockscope::act::Signal;
use sockscope::model::{Snapshot, TcpState};
use sockscope::track::Change;
use sockscope::tui::app::{Done, View};
use sockscope::tui::event::{Input, Update};
use sockscope::tui::prepare::{Choice, Outcome, Preparer};
use sockscope::tui::rows::RowRef;
use tui_fixture::*;

fn raw(snapshot: Snapshot) -> Update {
    Update {
        snapshot: Ok(snapshot),
        cmdlines: HashMap::new(),
        exited: Vec::new(),
        names: HashMap::new(),
        listen_counters: None,
        port_range: None,
    }
}

/// Selects the first row whose socket is `wanted` and opens its details (Enter).
fn open_details(
    app: &mut sockscope::tui::app::App,
    terminal: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    wanted: impl Fn(&sockscope::model::Socket) -> bool,
) {
    let row = (app.rows.iter())
        .position(|r| wanted(app.socket(*r)))
        .expect("a row with the socket the test wants");
    app.table.selected = row;
    feed(app, terminal, vec![key(crossterm::event::KeyCode::Enter)]);
}

fn ports(app: &sockscope::tui::app::App) -> Vec<u16> {
    let port = |row: &RowRef| app.socket(*row).local.map_or(0, |a| a.port());
    app.rows.iter().map(port).collect()
}

#[test]
fn a_model_for_an_old_choice_is_shown_the_apps_way() {
    let (mut app, mut terminal) = web_app(120, 30);
    let mut preparer = Preparer::new(Vec::new());
    let stale = Choice::default();
    let ready = preparer.prepare(raw(snapshot(web_sockets(), 2)), &stale);
    // Typed while that model was on its way.
    feed(&mut app, &mut terminal, typed("/ssh"));
    let filtered = ports(&app);
    assert!(!filtered.is_empty() && filtered.len() < web_sockets().len());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert_eq!(ports(&app), filtered, "the app's filter, not the model's");

    // Prepared for the app's own choice: taken as it comes, the same rows.
    let ready = preparer.prepare(raw(snapshot(web_sockets(), 3)), &app.choice());
    let Outcome::Model(model) = &ready.outcome else {
        panic!("a model");
    };
    assert_eq!(model.rows.len(), filtered.len());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert_eq!(ports(&app), filtered);
    assert!(screen_text(&terminal).contains("every 1s"));
}

#[test]
fn a_sort_in_flight_reorders_the_models_rows() {
    let (mut app, mut terminal) = web_app(120, 30);
    let mut preparer = Preparer::new(Vec::new());
    let ready = preparer.prepare(raw(snapshot(web_sockets(), 2)), &app.choice());
    feed(&mut app, &mut terminal, vec![char('s')]);
    let resorted = ports(&app);
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert_eq!(ports(&app), resorted);
    // S reverses the rows in place: the same as sorting the other way.
    feed(&mut app, &mut terminal, vec![char('S')]);
    let mut reversed = resorted.clone();
    reversed.reverse();
    assert_eq!(ports(&app), reversed);
}

#[test]
fn the_details_follow_their_socket_and_keep_its_states() {
    let (mut app, mut terminal) = web_app(120, 40);
    let mut preparer = Preparer::new(Vec::new());
    let first = preparer.prepare(raw(snapshot(web_sockets(), 2)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(first))]);
    // The CLOSE_WAIT connection (see tui_keys), then Enter.
    open_details(&mut app, &mut terminal, |s| s.state == TcpState::CloseWait);
    assert_eq!(app.view, View::Details);
    let inode = app.details.as_ref().unwrap().socket.inode;
    // It closes: the details say so and keep the states it was seen in.
    let rest = web_sockets()
        .into_iter()
        .filter(|s| s.inode != inode)
        .collect();
    let ready = preparer.prepare(raw(snapshot(rest, 3)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    let details = app.details.as_ref().unwrap();
    assert!(details.gone);
    assert_eq!(
        details.seen.states.last().map(|s| s.1),
        Some(TcpState::CloseWait)
    );
}

#[test]
fn what_k_did_stays_logged_until_a_model_carries_it() {
    let (mut app, mut terminal) = web_app(120, 30);
    let mut preparer = Preparer::new(Vec::new());
    let about = app.socket(RowRef::live(0)).clone();
    let in_flight = preparer.prepare(raw(snapshot(web_sockets(), 2)), &app.choice());
    app.acted(vec![Done {
        at: started_at() + Duration::from_secs(2),
        about,
        verb: sockscope::act::Verb::Signal(Signal::Term),
        target: "pid 901 (nginx)".into(),
        brief: "SIGTERM → pid 901 nginx".into(),
        outcome: sockscope::act::Outcome::Done,
    }]);
    let acted = |app: &sockscope::tui::app::App| {
        let events = app.tracked.events.iter();
        events
            .filter(|e| matches!(e.change, Change::Acted { .. }))
            .count()
    };
    assert_eq!(acted(&app), 1, "shown at once");
    let notes = app.take_notes();
    assert_eq!(notes.len(), 1);
    // A model made before the collector heard of it: still shown.
    feed(
        &mut app,
        &mut terminal,
        vec![Input::Ready(Box::new(in_flight))],
    );
    assert_eq!(acted(&app), 1);
    // The collector's tracker takes it; its next model carries it, once.
    for note in notes {
        preparer.note(note);
    }
    let ready = preparer.prepare(raw(snapshot(web_sockets(), 3)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert_eq!(acted(&app), 1);
    feed(&mut app, &mut terminal, vec![char('e')]);
    assert!(screen_text(&terminal).contains("SIGTERM → pid 901 nginx"));
}

#[test]
fn a_slowed_collector_shows_in_the_header() {
    let (mut app, mut terminal) = web_app(120, 30);
    let mut preparer = Preparer::new(Vec::new());
    let mut ready = preparer.prepare(raw(snapshot(web_sockets(), 2)), &app.choice());
    ready.slowed = Some(Duration::from_secs(2));
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert!(screen_text(&terminal).contains("every 2s (slowed)"));
    let ready = preparer.prepare(raw(snapshot(web_sockets(), 3)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    assert!(screen_text(&terminal).contains("every 1s"));
}

#[test]
fn a_vanished_row_has_its_last_tcp_info_though_the_tracker_keeps_none() {
    let (mut app, mut terminal) = web_app(120, 30);
    let mut preparer = Preparer::new(Vec::new());
    let mut sockets = web_sockets();
    let with_info = sockets
        .iter_mut()
        .find(|s| s.state == TcpState::Established)
        .expect("an ESTABLISHED socket");
    with_info.tcp_info = Some(Box::new(sockscope::model::TcpInfo {
        rtt_us: 1234,
        ..Default::default()
    }));
    let inode = with_info.inode;
    let ready = preparer.prepare(raw(snapshot(sockets.clone(), 2)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    sockets.retain(|s| s.inode != inode);
    let ready = preparer.prepare(raw(snapshot(sockets, 3)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    let gone = app
        .vanished
        .iter()
        .find(|s| s.inode == inode)
        .expect("vanished");
    assert_eq!(gone.tcp_info.as_ref().map(|i| i.rtt_us), Some(1234));
}

#[test]
fn processes_typed_away_from_their_view_are_made_when_it_opens() {
    let (mut app, mut terminal) = web_app(120, 30);
    let all = app.processes.len();
    feed(&mut app, &mut terminal, typed("/sshd"));
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Enter)],
    );
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Tab)],
    );
    assert_eq!(app.view, View::Processes);
    let pids: Vec<u32> = app.processes.iter().map(|p| p.pid).collect();
    assert!(all > 1 && pids == [812], "{pids:?} of {all}");
    // Typed in the processes view: made at once.
    feed(&mut app, &mut terminal, typed("/"));
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Esc)],
    );
    assert_eq!(app.processes.len(), all);
}

#[test]
fn the_live_model_keeps_tcp_info_for_the_details_socket_only() {
    let (mut app, mut terminal) = web_app(120, 40);
    let mut preparer = Preparer::live(Vec::new());
    let at = |secs: u64| {
        let mut sockets = web_sockets();
        for s in sockets
            .iter_mut()
            .filter(|s| s.state == TcpState::Established)
        {
            s.tcp_info = Some(Box::new(sockscope::model::TcpInfo {
                rtt_us: 1234,
                bytes_received: 1000 * secs,
                bytes_acked: 500 * secs,
                ..Default::default()
            }));
        }
        snapshot(sockets, secs)
    };
    let established: Vec<u64> = web_sockets()
        .into_iter()
        .filter(|s| s.state == TcpState::Established)
        .map(|s| s.inode)
        .collect();
    assert!(established.len() >= 2, "the fixture has a few");
    let ready = preparer.prepare(raw(at(2)), &app.choice());
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    let live = app.snapshot.clone().expect("a snapshot");
    assert!(live.sockets.iter().all(|s| s.tcp_info.is_none()), "let go");
    assert!(app.tracked.counted, "rates can be known all the same");

    // Enter on one: its tcp_info comes with the next refresh, and says so meanwhile.
    open_details(&mut app, &mut terminal, |s| s.inode == established[0]);
    assert!(app.details.as_ref().unwrap().tcp_info_pending);
    assert!(screen_text(&terminal).contains("with the next refresh"));
    let choice = app.choice();
    assert_eq!(
        choice.details.as_ref().map(|k| k.inode),
        Some(established[0])
    );
    let ready = preparer.prepare(raw(at(3)), &choice);
    let Outcome::Model(model) = &ready.outcome else {
        panic!("a model");
    };
    let kept: Vec<u64> = (model.snapshot.sockets.iter())
        .filter(|s| s.tcp_info.is_some())
        .map(|s| s.inode)
        .collect();
    assert_eq!(kept, [established[0]], "the details' socket's only");
    feed(&mut app, &mut terminal, vec![Input::Ready(Box::new(ready))]);
    let details = app.details.as_ref().unwrap();
    assert!(!details.tcp_info_pending);
    assert_eq!(
        details.socket.tcp_info.as_ref().map(|i| i.rtt_us),
        Some(1234)
    );
    assert!(!screen_text(&terminal).contains("with the next refresh"));
    // A TIME_WAIT socket's details say at once that the kernel keeps none, rather than
    // "with the next refresh" for an interval.
    feed(
        &mut app,
        &mut terminal,
        vec![key(crossterm::event::KeyCode::Esc)],
    );
    open_details(&mut app, &mut terminal, |s| s.state == TcpState::TimeWait);
    assert!(!app.details.as_ref().unwrap().tcp_info_pending);
    let screen = screen_text(&terminal);
    assert!(!screen.contains("with the next refresh"), "{screen}");
    assert!(
        screen.contains("the kernel keeps no tcp_info for a socket in TIME_WAIT"),
        "{screen}"
    );
    // The others' counters went to the tracker before their tcp_info went.
    let other = (0..app.snapshot.as_ref().unwrap().sockets.len())
        .find(|&i| app.snapshot.as_ref().unwrap().sockets[i].inode == established[1])
        .expect("the other");
    let rate = app.tracked.rate(RowRef::live(other)).expect("a rate");
    assert_eq!((rate.rx_per_sec, rate.tx_per_sec), (1000.0, 500.0));
}

/// The collector's source gives most sockets' counters beside the snapshot, not their
/// tcp_info (`Source::snapshot_counted`): the rates are those the whole tcp_info gives.
#[test]
fn counters_beside_the_snapshot_give_the_rates_tcp_info_gives() {
    use sockscope::model::{CounterRun, CounterTable, DiagId, TcpInfo};
    use std::num::NonZeroU64;

    // Every ESTABLISHED socket counts its own bytes; each has a cookie.
    let at = |secs: u64| {
        let mut sockets = web_sockets();
        for (n, s) in sockets.iter_mut().enumerate() {
            let n = n as u64 + 1;
            s.diag_id = NonZeroU64::new(100 + n).map(|cookie| DiagId {
                cookie,
                interface: 0,
            });
            if s.state == TcpState::Established {
                s.tcp_info = Some(Box::new(TcpInfo {
                    bytes_received: 1000 * n * secs,
                    bytes_acked: 10 * n * secs * secs,
                    // Some retransmitted, some did not.
                    total_retrans: (n % 2) as u32,
                    ..Default::default()
                }));
            }
        }
        snapshot(sockets, secs)
    };
    // What the source gives instead: no tcp_info, the counters by cookie.
    let counted = |secs: u64| {
        let mut snapshot = at(secs);
        let mut counters = CounterRun::default();
        for s in &mut snapshot.sockets {
            if let Some(info) = s.tcp_info.take() {
                counters.push(s.diag_id.unwrap().cookie.get(), info.counters());
            }
        }
        let mut table = CounterTable::default();
        table.add(0, counters);
        assert!(snapshot.sockets.iter().all(|s| s.netns.is_none()));
        (snapshot, table)
    };
    let mut whole = Preparer::live(Vec::new());
    let mut apart = Preparer::live(Vec::new());
    let choice = Choice::default();
    let mut models = Vec::new();
    for secs in [2, 3, 5] {
        let a = whole.prepare(raw(at(secs)), &choice);
        let (snapshot, table) = counted(secs);
        let b = apart.prepare_counted(raw(snapshot), table, &choice);
        models.push((a, b));
    }
    let (Outcome::Model(a), Outcome::Model(b)) = (&models[2].0.outcome, &models[2].1.outcome)
    else {
        panic!("models");
    };
    assert!(a.tracked.counted && b.tracked.counted);
    let rates = |m: &sockscope::tui::prepare::Model| {
        (0..m.snapshot.sockets.len())
            .map(|i| {
                m.tracked
                    .rate(RowRef::live(i))
                    .map(|r| (r.rx_per_sec, r.tx_per_sec))
            })
            .collect::<Vec<_>>()
    };
    let (ra, rb) = (rates(a), rates(b));
    assert_eq!(ra, rb);
    // Over the last two seconds: the rates of each socket's own bytes.
    let known: Vec<_> = ra.iter().flatten().copied().collect();
    assert!(known.len() >= 2, "{ra:?}");
    assert!(
        known.iter().all(|&(rx, tx)| rx > 0.0 && tx > 0.0),
        "{known:?}"
    );
}
