//! The filter bar as people type into it: bare states and numbers, readline keys,
//! a space before what is typed after a term set for them, and why nothing matches.

mod tui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sockscope::tui::app::View;
use sockscope::tui::event::Input;
use tui_fixture::*;

fn ctrl(c: char) -> Input {
    Input::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn bottom_line(terminal: &ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    screen_text(terminal)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_bare_state_filters_by_state_and_an_empty_result_says_why() {
    let (mut app, mut terminal) = web_app(110, 20);
    let mut keys = vec![char('/')];
    keys.extend(typed("close-wait"));
    feed(&mut app, &mut terminal, keys);
    assert_eq!(app.rows.len(), 1, "{}", screen_text(&terminal));
    // Ctrl-U clears; a state nothing is in says so.
    let mut keys = vec![ctrl('u')];
    keys.extend(typed("syn-recv"));
    feed(&mut app, &mut terminal, keys);
    assert!(app.rows.is_empty());
    assert!(
        bottom_line(&terminal).contains("no sockets match state:SYN_RECV"),
        "{}",
        screen_text(&terminal)
    );
    insta::assert_snapshot!("empty_result_says_why", terminal.backend());
}

#[test]
fn a_bare_number_says_whether_it_matched_a_port_or_a_pid() {
    let (mut app, mut terminal) = web_app(110, 20);
    let mut keys = vec![char('/')];
    keys.extend(typed("1500"));
    feed(&mut app, &mut terminal, keys);
    assert_eq!(app.rows.len(), 2);
    let note = app.filter.note.clone().unwrap();
    assert!(note.starts_with("1500: pid"), "{note}");
    assert!(bottom_line(&terminal).contains("1500: pid"));
    insta::assert_snapshot!("bare_number_note", terminal.backend());
}

#[test]
fn typing_after_a_pid_set_from_the_processes_view_starts_a_new_term() {
    let (mut app, mut terminal) = web_app(110, 20);
    // curl (pid 1500) is the fourth process.
    feed(
        &mut app,
        &mut terminal,
        vec![
            key(KeyCode::Tab),
            char('j'),
            char('j'),
            char('j'),
            key(KeyCode::Enter),
        ],
    );
    assert_eq!(
        (app.view, app.filter.text.as_str()),
        (View::Sockets, "pid:1500")
    );
    let mut keys = vec![char('/')];
    keys.extend(typed("estab"));
    feed(&mut app, &mut terminal, keys);
    assert_eq!(app.filter.text, "pid:1500 estab");
    assert_eq!(app.filter.error, None);
    // Ctrl-W takes the last word back; Home, Ctrl-E and the arrows move the cursor.
    feed(&mut app, &mut terminal, vec![ctrl('w')]);
    assert_eq!(app.filter.text, "pid:1500 ");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Home)]);
    feed(&mut app, &mut terminal, typed("tcp "));
    assert_eq!(app.filter.text, "tcp pid:1500 ");
    feed(&mut app, &mut terminal, vec![ctrl('e'), key(KeyCode::Left)]);
    assert_eq!(app.filter.cursor, app.filter.text.len() - 1);
    // Enter keeps it in the history; Up brings it back after a clear.
    feed(
        &mut app,
        &mut terminal,
        vec![key(KeyCode::Enter), char('/'), ctrl('u')],
    );
    assert_eq!(app.filter.text, "");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Up)]);
    assert_eq!(app.filter.text, "tcp pid:1500");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Down)]);
    assert_eq!(app.filter.text, "");
}

#[test]
fn a_colon_port_filters_by_port() {
    let (mut app, mut terminal) = web_app(110, 20);
    let mut keys = vec![char('/')];
    keys.extend(typed(":8080"));
    feed(&mut app, &mut terminal, keys);
    assert!(!app.rows.is_empty());
    assert_eq!(app.filter.query.ports, [8080]);
}

/// Typing a word on tests only the rows shown (a narrowing); typed key by key,
/// with a backspace and the key again, it shows what the filter given at start shows.
#[test]
fn a_word_typed_key_by_key_shows_what_it_shows_given_at_once() {
    let mut checked = 0;
    for text in ["ngin", "127.0.0", "curl", "nginx 80", "ngin x", "ssh"] {
        let (mut app, mut terminal) = web_app(110, 20);
        let mut keys = vec![char('/')];
        keys.extend(typed(text));
        feed(&mut app, &mut terminal, keys);
        let mut given = sockscope::tui::app::App::new(sockscope::tui::app::Config {
            filter: text.to_string(),
            ..config()
        });
        feed(
            &mut given,
            &mut terminal,
            vec![update(snapshot(web_sockets(), 1))],
        );
        assert_eq!(app.rows, given.rows, "{text}");
        checked += usize::from(!given.rows.is_empty());
        // Back one character and on again: a widening, then a narrowing.
        let last = text.chars().last().unwrap();
        let back = Input::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
        feed(&mut app, &mut terminal, vec![back, char(last)]);
        assert_eq!(app.rows, given.rows, "{text} after a backspace");
    }
    assert!(checked >= 3, "the filters match some rows");
}
