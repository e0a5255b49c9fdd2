//! Names and paths from other processes reach the live view escaped, as in every text
//! output: a control sequence shows as `\x1b…`, a newline as `\n`, in the table, the
//! details, the processes view and the events log.

mod tui_fixture;

use crossterm::event::KeyCode;
use sockscope::model::TcpState;
use tui_fixture::*;

#[test]
fn hostile_names_show_escaped_in_every_view() {
    let evil = || owner(666, 3, "ev\x1b[2Jil", "r\too");
    let sockets = vec![
        unix(Some("/tmp/a\nb"), TcpState::Listen, 900, vec![evil()]),
        tcp(
            "127.0.0.1:7000",
            "0.0.0.0:0",
            TcpState::Listen,
            901,
            vec![evil()],
        ),
    ];
    let mut app = sockscope::tui::app::App::new(config());
    let mut term = terminal(140, 20);
    feed(&mut app, &mut term, vec![update(snapshot(vec![], 1))]);
    feed(&mut app, &mut term, vec![update(snapshot(sockets, 2))]);
    let table = screen_text(&term);
    assert!(table.contains("666 ev\\x1b[2Jil"), "{table}");
    assert!(table.contains("/tmp/a\\nb"), "{table}");
    assert!(table.contains("r\\too"), "{table}");

    feed(&mut app, &mut term, vec![key(KeyCode::Enter)]);
    let details = screen_text(&term);
    assert!(details.contains("ev\\x1b[2Jil"), "{details}");

    feed(
        &mut app,
        &mut term,
        vec![key(KeyCode::Esc), key(KeyCode::Tab)],
    );
    let processes = screen_text(&term);
    assert!(processes.contains("ev\\x1b[2Jil"), "{processes}");

    feed(&mut app, &mut term, vec![key(KeyCode::Tab), char('e')]);
    let events = screen_text(&term);
    assert!(events.contains("666 ev\\x1b[2Jil"), "{events}");
    assert!(events.contains("/tmp/a\\nb"), "{events}");
}
