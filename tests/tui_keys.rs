//! Key handling and selection, on the app alone (drawn into a `TestBackend` so page
//! sizes are real).

mod tui_fixture;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sockscope::column::Column;
use sockscope::model::{Socket, TcpState};
use sockscope::tui::app::{App, View};
use sockscope::tui::event::Input;
use sockscope::tui::rows::{RowRef, SortBy};
use tui_fixture::*;

fn selected(app: &App) -> Socket {
    app.socket(app.selected_row().expect("a row is selected"))
        .clone()
}

fn conn(port: u16) -> Socket {
    tcp(
        "127.0.0.1:8080",
        &format!("127.0.0.1:{port}"),
        TcpState::Established,
        u64::from(port),
        vec![owner(901, 10, "nginx", "www-data")],
    )
}

#[test]
fn selection_follows_the_socket_when_rows_move() {
    let (mut app, mut terminal) = web_app(110, 20);
    // Select the CLOSE_WAIT socket.
    feed(&mut app, &mut terminal, vec![char('j'); 6]);
    assert_eq!(selected(&app).state, TcpState::CloseWait);
    let before = app.table.selected;

    // New sockets sort above it: the selection moves down with it, not to the same index.
    let mut more = web_sockets();
    more.extend([conn(50001), conn(50002), conn(50003)]);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(more.clone(), 2))],
    );
    assert_eq!(selected(&app).state, TcpState::CloseWait);
    assert_eq!(app.table.selected, before + 3);

    // It vanishes: still selected for one refresh, shown as gone...
    more.retain(|s| s.state != TcpState::CloseWait);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(more.clone(), 3))],
    );
    assert!(app.selected_row().is_some_and(RowRef::is_gone));
    assert_eq!(selected(&app).state, TcpState::CloseWait);
    // ...then the selection stays at that place in the list.
    feed(&mut app, &mut terminal, vec![update(snapshot(more, 4))]);
    assert_eq!(app.table.selected, before + 3);
    assert_ne!(selected(&app).state, TcpState::CloseWait);
}

#[test]
fn moving_stays_in_bounds_and_pages_by_the_screen() {
    let mut sockets: Vec<Socket> = (0..100).map(|i| conn(40000 + i)).collect();
    sockets.sort_by(|a, b| a.display_order(b));
    let mut app = App::new(config());
    let mut terminal = terminal(100, 20);
    feed(&mut app, &mut terminal, vec![update(snapshot(sockets, 1))]);
    let page = app.page;
    assert_eq!(
        page,
        20 - 4,
        "header, state bar, table header and footer take 4 lines"
    );

    feed(&mut app, &mut terminal, vec![key(KeyCode::Up), char('k')]);
    assert_eq!(app.table.selected, 0);
    feed(&mut app, &mut terminal, vec![key(KeyCode::PageDown)]);
    assert_eq!(app.table.selected, page);
    let screen = terminal.backend().to_string();
    assert!(screen.contains(&format!(":{}", 40000 + page)), "{screen}");
    feed(&mut app, &mut terminal, vec![char('G')]);
    assert_eq!(app.table.selected, 99);
    assert!(terminal.backend().to_string().contains(":40099"));
    assert!(!terminal.backend().to_string().contains(":40000 "));
    feed(&mut app, &mut terminal, vec![key(KeyCode::Down), char('j')]);
    assert_eq!(app.table.selected, 99);
    feed(&mut app, &mut terminal, vec![key(KeyCode::PageUp)]);
    assert_eq!(app.table.selected, 99 - page);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Home)]);
    assert_eq!(app.table.selected, 0);
    feed(&mut app, &mut terminal, vec![key(KeyCode::End), char('g')]);
    assert_eq!(app.table.selected, 0);
}

#[test]
fn filter_applies_as_typed_keeps_the_last_good_query_and_esc_clears() {
    let (mut app, mut terminal) = web_app(110, 20);
    feed(&mut app, &mut terminal, vec![char('/')]);
    assert!(app.filter.editing);
    feed(&mut app, &mut terminal, typed("state:close-wait"));
    assert_eq!(app.rows.len(), 1);
    // While typing a bad term the previous query stays and the error shows.
    feed(&mut app, &mut terminal, typed(" port:x"));
    assert!(
        app.filter
            .error
            .as_deref()
            .unwrap()
            .contains("invalid port 'x'")
    );
    assert_eq!(app.rows.len(), 1);
    assert!(terminal.backend().to_string().contains("invalid port 'x'"));
    // Enter keeps it; letters are commands again.
    feed(&mut app, &mut terminal, vec![key(KeyCode::Backspace); 7]);
    feed(
        &mut app,
        &mut terminal,
        vec![key(KeyCode::Enter), char('s')],
    );
    assert!(!app.filter.editing);
    assert_eq!(app.sort.by, SortBy::Column(Column::Local));
    assert_eq!(app.filter.text, "state:close-wait");
    assert_eq!(app.rows.len(), 1);
    // Esc clears it.
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc)]);
    assert_eq!(app.filter.text, "");
    assert_eq!(app.rows.len(), 11);
    // Esc while editing clears too.
    let mut keys = vec![char('/')];
    keys.extend(typed("udp"));
    keys.push(key(KeyCode::Esc));
    feed(&mut app, &mut terminal, keys);
    assert_eq!((app.filter.editing, app.rows.len()), (false, 11));
}

#[test]
fn views_switch_and_enter_opens() {
    let (mut app, mut terminal) = web_app(110, 20);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
    assert_eq!(app.view, View::Details);
    let first = app.details.as_ref().unwrap().socket.key();
    // Up/down in details walk the sockets.
    feed(&mut app, &mut terminal, vec![char('j')]);
    assert_ne!(app.details.as_ref().unwrap().socket.key(), first);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc)]);
    assert_eq!(app.view, View::Sockets);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Tab)]);
    assert_eq!(app.view, View::Processes);
    // curl (pid 1500) is the fourth process; Enter shows its sockets.
    feed(
        &mut app,
        &mut terminal,
        vec![char('j'), char('j'), char('j'), key(KeyCode::Enter)],
    );
    assert_eq!(app.view, View::Sockets);
    assert_eq!(app.filter.text, "pid:1500");
    assert_eq!(app.rows.len(), 2);
    feed(
        &mut app,
        &mut terminal,
        vec![key(KeyCode::Tab), key(KeyCode::Tab)],
    );
    assert_eq!(app.view, View::Sockets);
}

#[test]
fn pause_interval_help_and_quit() {
    let (mut app, mut terminal) = web_app(110, 24);
    feed(&mut app, &mut terminal, vec![char(' ')]);
    assert!(app.paused);
    // Updates on their way while paused are dropped: the view holds still.
    feed(&mut app, &mut terminal, vec![update(snapshot(vec![], 2))]);
    assert_eq!(app.total(), 11);
    feed(
        &mut app,
        &mut terminal,
        vec![char(' '), update(snapshot(vec![], 3))],
    );
    assert_eq!(app.total(), 0);

    feed(&mut app, &mut terminal, vec![char('+')]);
    assert_eq!(app.interval, Duration::from_secs(2));
    assert!(terminal.backend().to_string().contains("every 2s"));
    feed(
        &mut app,
        &mut terminal,
        vec![char('-'), char('-'), char('-')],
    );
    assert_eq!(app.interval, Duration::from_millis(250));
    feed(&mut app, &mut terminal, vec![char('-'); 5]);
    assert_eq!(app.interval, Duration::from_millis(100));

    // 24 rows are fewer than the keys: the help scrolls, saying so, to the last key.
    feed(&mut app, &mut terminal, vec![char('?')]);
    assert!(app.help);
    let first = terminal.backend().to_string();
    assert!(first.contains("more: ↑/↓ scroll"), "{first}");
    assert!(!first.contains("Ctrl-C"), "{first}");
    feed(&mut app, &mut terminal, vec![char('G')]);
    let last = terminal.backend().to_string();
    assert!(last.contains("Ctrl-C") && last.contains("above"), "{last}");
    feed(&mut app, &mut terminal, vec![char('k')]);
    assert!(app.help, "a moving key scrolls the help");
    // Any other key closes it, also one that does nothing elsewhere.
    feed(&mut app, &mut terminal, vec![char('x')]);
    assert!(!app.help && !app.quit);
    // Where it fits, any key closes it.
    terminal.backend_mut().resize(110, 40);
    feed(&mut app, &mut terminal, vec![char('?')]);
    assert!(terminal.backend().to_string().contains("Ctrl-C"));
    feed(&mut app, &mut terminal, vec![char('j')]);
    assert!(!app.help && !app.quit);
    feed(&mut app, &mut terminal, vec![char('?'), char('q')]);
    assert!(app.quit);

    let (mut app, mut terminal) = web_app(110, 20);
    let ctrl_c = Input::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    feed(&mut app, &mut terminal, vec![char('/'), ctrl_c]);
    assert!(app.quit);
    let (mut app, mut terminal) = web_app(110, 20);
    feed(&mut app, &mut terminal, vec![Input::Quit]);
    assert!(app.quit);
}

#[test]
fn details_follow_a_connection_into_time_wait() {
    // One connection, seen ESTABLISHED, then in TIME_WAIT: the kernel dropped its
    // inode (and its owner), so its key changed, but it is the same connection.
    let established = conn(50001);
    let mut time_wait = conn(50001);
    time_wait.state = TcpState::TimeWait;
    time_wait.inode = 0;
    time_wait.processes = Default::default();
    let mut app = App::new(config());
    let mut terminal = terminal(110, 30);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(vec![established], 1)), key(KeyCode::Enter)],
    );
    assert_eq!(app.view, View::Details);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(vec![time_wait], 2))],
    );
    let details = app.details.as_ref().expect("details stay open");
    assert!(!details.gone, "the connection lives on in TIME_WAIT");
    assert_eq!(details.socket.state, TcpState::TimeWait);
    let screen = terminal.backend().to_string();
    assert!(!screen.contains("has closed"), "{screen}");
    // The states it went through, from the history that moved with it.
    assert!(screen.contains("ESTABLISHED +1"), "{screen}");
    assert!(screen.contains("TIME_WAIT   +2"), "{screen}");
}
