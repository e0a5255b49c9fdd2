//! Screen snapshots of every view, drawn by the real app into a `TestBackend`.
//! Colours are not in the text snapshots; `colours_mean_something` checks a few.

mod tui_fixture;

use crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use sockscope::model::TcpState;
use sockscope::tui::app::{App, Config};
use sockscope::tui::event::Input;
use sockscope::tui::event::Update;
use tui_fixture::*;

#[test]
fn table() {
    let (_, terminal) = web_app(110, 20);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn new_and_vanished_sockets_are_marked_and_counts_have_sparklines() {
    let (mut app, mut terminal) = web_app(110, 20);
    let mut later = web_sockets();
    later.retain(|s| s.state != TcpState::TimeWait); // gone: marked "-"
    for port in [51500, 51501, 51502] {
        // three new connections: marked "+"
        later.push(tcp(
            "127.0.0.1:8080",
            &format!("127.0.0.1:{port}"),
            TcpState::Established,
            u64::from(port),
            vec![owner(901, port - 51480, "nginx", "www-data")],
        ));
    }
    feed(&mut app, &mut terminal, vec![update(snapshot(later, 2))]);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn sorted_table() {
    let (mut app, mut terminal) = web_app(110, 20);
    // STATE -> LOCAL -> REMOTE -> RECV-Q, then reversed.
    feed(
        &mut app,
        &mut terminal,
        vec![char('s'), char('s'), char('s')],
    );
    insta::assert_snapshot!("sorted_by_recv_q", terminal.backend());
    feed(&mut app, &mut terminal, vec![char('S')]);
    insta::assert_snapshot!("sorted_by_recv_q_reversed", terminal.backend());
}

#[test]
fn filter() {
    let (mut app, mut terminal) = web_app(110, 16);
    let mut keys = vec![char('/')];
    keys.extend(typed("port:8080 nginx"));
    feed(&mut app, &mut terminal, keys);
    insta::assert_snapshot!("filter_as_typed", terminal.backend());

    feed(&mut app, &mut terminal, typed(" state:bogus"));
    insta::assert_snapshot!("filter_error_inline", terminal.backend());
}

#[test]
fn details() {
    let mut app = App::new(config());
    let mut terminal = terminal(100, 26);
    let conn = |state| {
        tcp(
            "127.0.0.1:8080",
            "127.0.0.1:51300",
            state,
            202,
            vec![
                owner(901, 12, "nginx", "www-data"),
                owner(900, 12, "nginx", "www-data"),
            ],
        )
    };
    feed(
        &mut app,
        &mut terminal,
        vec![
            update(snapshot(vec![conn(TcpState::Established)], 1)),
            update(snapshot(vec![conn(TcpState::Established)], 2)),
            update(snapshot(
                vec![with_queues(conn(TcpState::CloseWait), 42, 0)],
                75,
            )),
            key(KeyCode::Enter),
        ],
    );
    insta::assert_snapshot!("details", terminal.backend());
    // It closes: the details stay, saying so.
    feed(&mut app, &mut terminal, vec![update(snapshot(vec![], 76))]);
    insta::assert_snapshot!("details_gone", terminal.backend());
}

#[test]
fn processes() {
    let (mut app, mut terminal) = web_app(110, 16);
    feed(&mut app, &mut terminal, vec![key(KeyCode::Tab)]);
    insta::assert_snapshot!("processes", terminal.backend());
    // Enter: that process's sockets.
    feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
    insta::assert_snapshot!("process_sockets", terminal.backend());
}

#[test]
fn help() {
    let (mut app, mut terminal) = web_app(100, 26);
    feed(&mut app, &mut terminal, vec![char('?')]);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn too_small() {
    let (mut app, _) = web_app(110, 16);
    let mut small = terminal(39, 9);
    sockscope::tui::draw(&mut small, &mut app).unwrap();
    insta::assert_snapshot!(small.backend());
    // Narrower than the notice: it wraps rather than being cut.
    small.backend_mut().resize(20, 6);
    feed(&mut app, &mut small, vec![Input::Resize]);
    insta::assert_snapshot!("too_small_narrow", small.backend());
    // Growing back draws the table again.
    small.backend_mut().resize(60, 12);
    feed(&mut app, &mut small, vec![Input::Resize]);
    assert!(small.backend().to_string().contains("PROTO"));
}

#[test]
fn hidden_owners_warning() {
    let mut app = App::new(config());
    let mut terminal = terminal(110, 12);
    let mut snap = snapshot(web_sockets(), 1);
    for socket in &mut snap.sockets {
        socket.processes = Default::default();
    }
    snap.warnings.push(
        "owners of 10 sockets are hidden: run as root, or grant cap_sys_ptrace and cap_dac_read_search"
            .into(),
    );
    feed(&mut app, &mut terminal, vec![update(snap)]);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn watched_pid_exits_and_the_last_view_stays() {
    let mut app = App::new(Config {
        pids: vec![901],
        banner: vec!["port 40123 → echo server".into()],
        filter: "port:8080".into(),
        ..config()
    });
    let mut terminal = terminal(110, 14);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(web_sockets(), 1))],
    );
    let gone = Input::Update(Box::new(Update {
        snapshot: Ok(snapshot(vec![], 2)),
        cmdlines: Default::default(),
        exited: vec![901],
        names: Default::default(),
        listen_counters: None,
        port_range: None,
    }));
    feed(&mut app, &mut terminal, vec![gone, char(' ')]);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn colours_mean_something() {
    let (_, terminal) = web_app(110, 20);
    let buffer = terminal.backend().buffer();
    let colour_of = |word: &str| {
        let area = buffer.area;
        for y in 3..area.height {
            let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
            if let Some(col) = line.find(word) {
                let x = line[..col].chars().count() as u16;
                return (buffer[(x, y)].fg, buffer[(x, y)].modifier);
            }
        }
        panic!("{word} not on screen");
    };
    assert_eq!(colour_of("CLOSE_WAIT").0, Color::Red);
    assert!(colour_of("CLOSE_WAIT").1.contains(Modifier::BOLD));
    assert_eq!(colour_of("ESTABLISHED").0, Color::Green);
    assert_eq!(colour_of("SYN_SENT").0, Color::Yellow);
    assert_eq!(colour_of("TIME_WAIT").0, Color::DarkGray);
}

/// Every main view at the sizes people run it: 80×24 must be fully usable (addresses
/// keep their ports, states shorten as ss does, PROCESS stays), the wider ones show
/// more columns.
#[test]
fn views_at_80x24_120x40_200x50() {
    for (width, height) in [(80, 24), (120, 40), (200, 50)] {
        let (mut app, mut terminal) = web_app(width, height);
        let mut later = web_sockets();
        later.retain(|s| s.state != TcpState::TimeWait);
        later.push(tcp(
            "127.0.0.1:8080",
            "127.0.0.1:51500",
            TcpState::Established,
            51500,
            vec![owner(901, 20, "nginx", "www-data")],
        ));
        feed(&mut app, &mut terminal, vec![update(snapshot(later, 40))]);
        let name = |view: &str| format!("{view}_{width}x{height}");
        insta::assert_snapshot!(name("table"), terminal.backend());
        feed(&mut app, &mut terminal, vec![key(KeyCode::Tab)]);
        insta::assert_snapshot!(name("processes"), terminal.backend());
        feed(
            &mut app,
            &mut terminal,
            vec![key(KeyCode::Tab), char('j'), char('j')],
        );
        feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
        insta::assert_snapshot!(name("details"), terminal.backend());
        feed(&mut app, &mut terminal, vec![key(KeyCode::Esc), char('e')]);
        insta::assert_snapshot!(name("events"), terminal.backend());
        feed(&mut app, &mut terminal, vec![char('d')]);
        insta::assert_snapshot!(name("diagnostics"), terminal.backend());
    }
}

/// The demo's banner takes one line until `b` opens it.
#[test]
fn banner_folds_into_one_line() {
    let mut app = App::new(Config {
        banner: vec![
            "sockscope demo (pid 4242): live loopback traffic".into(),
            "press m: the TCP state machine".into(),
            "127.0.0.1:40123         echo server".into(),
        ],
        ..config()
    });
    let mut terminal = terminal(80, 24);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(web_sockets(), 1))],
    );
    let folded = screen_text(&terminal);
    assert!(
        folded.contains("press m: the TCP state machine (b: legend)"),
        "{folded}"
    );
    assert!(!folded.contains("echo server"), "{folded}");
    feed(&mut app, &mut terminal, vec![char('b')]);
    let open = screen_text(&terminal);
    assert!(open.contains("echo server"), "{open}");
}

/// `--color never` / NO_COLOR: no colour anywhere, and still readable: the selection
/// reversed, the header bold, CLOSE_WAIT bold.
#[test]
fn without_colour_the_selection_is_reversed() {
    let (mut app, mut terminal) = web_app(110, 20);
    app.colour = false;
    feed(&mut app, &mut terminal, vec![char('j')]);
    let buffer = terminal.backend().buffer();
    for cell in &buffer.content {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    let row = |word: &str| {
        (0..buffer.area.height)
            .find(|y| {
                let line: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, *y)].symbol())
                    .collect();
                line.contains(word)
            })
            .unwrap()
    };
    let selected = row("›");
    assert!(buffer[(5, selected)].modifier.contains(Modifier::REVERSED));
    assert!(buffer[(5, row("PROTO"))].modifier.contains(Modifier::BOLD));
    assert!(
        !buffer[(5, row("CLOSE_WAIT"))]
            .modifier
            .contains(Modifier::REVERSED)
    );
}

/// The mouse: a click selects the row under it, the wheel moves the selection, a
/// click on a header sorts by that column (again: reversed).
#[test]
fn mouse_selects_scrolls_and_sorts() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    use sockscope::column::Column;
    use sockscope::tui::rows::SortBy;
    let (mut app, mut terminal) = web_app(110, 20);
    let mouse = |kind, column, row| {
        Input::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: crossterm::event::KeyModifiers::NONE,
        })
    };
    let text = screen_text(&terminal);
    let lines: Vec<&str> = text.lines().collect();
    let header_y = lines.iter().position(|l| l.contains("PROTO")).unwrap() as u16;
    let click = MouseEventKind::Down(MouseButton::Left);
    // The fourth row under the header.
    feed(
        &mut app,
        &mut terminal,
        vec![mouse(click, 10, header_y + 4)],
    );
    assert_eq!(app.table.selected, 3);
    feed(
        &mut app,
        &mut terminal,
        vec![mouse(MouseEventKind::ScrollDown, 10, header_y + 4)],
    );
    assert_eq!(app.table.selected, 4);
    feed(
        &mut app,
        &mut terminal,
        vec![mouse(MouseEventKind::ScrollUp, 10, header_y + 4)],
    );
    assert_eq!(app.table.selected, 3);
    let recv_q = lines[header_y as usize].find("RECV-Q").unwrap() as u16;
    let recv_q = lines[header_y as usize][..recv_q as usize].chars().count() as u16;
    feed(
        &mut app,
        &mut terminal,
        vec![mouse(click, recv_q + 1, header_y)],
    );
    assert_eq!(app.sort.by, SortBy::Column(Column::RecvQ));
    assert!(!app.sort.reverse);
    feed(
        &mut app,
        &mut terminal,
        vec![mouse(click, recv_q + 1, header_y)],
    );
    assert!(app.sort.reverse, "a second click reverses");
}

/// At 80×24 the help is taller than the screen: it scrolls (↑/↓, PgUp/PgDn, g/G) and
/// says so at its foot; between its first and last screens every key is there whole.
#[test]
fn help_at_80x24_scrolls_to_every_key() {
    let (mut app, mut terminal) = web_app(80, 24);
    feed(&mut app, &mut terminal, vec![char('?')]);
    let first = screen_text(&terminal);
    insta::assert_snapshot!("help_80x24", terminal.backend());
    feed(&mut app, &mut terminal, vec![key(KeyCode::End)]);
    let last = screen_text(&terminal);
    insta::assert_snapshot!("help_80x24_end", terminal.backend());
    for (keys, what) in sockscope::tui::event::KEYS {
        let listed = |screen: &str| screen.lines().any(|l| l.contains(keys) && l.contains(what));
        assert!(
            listed(&first) || listed(&last),
            "{keys} {what} missing:\n{first}\n{last}"
        );
    }
    assert!(app.help, "the moving keys scroll it");
    feed(&mut app, &mut terminal, vec![key(KeyCode::Esc)]);
    assert!(!app.help);
    // `?` and G in one read of the terminal, with no draw between: G scrolls too.
    sockscope::tui::handle(&mut app, char('?'));
    sockscope::tui::handle(&mut app, key(KeyCode::End));
    sockscope::tui::draw(&mut terminal, &mut app).unwrap();
    assert!(app.help && screen_text(&terminal).contains("Ctrl-C"));
}

/// The title line at 80 columns with everything in it (a watched pid, a filter, a
/// refresh interval in ms, findings): the words and the watched pid go before the
/// badge does.
#[test]
fn header_keeps_the_findings_badge_whole_at_80_columns() {
    let mut app = App::new(Config {
        pids: vec![901],
        interval: std::time::Duration::from_millis(500),
        filter: "port:8080".into(),
        ..config()
    });
    let mut terminal = terminal(80, 24);
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(web_sockets(), 1))],
    );
    let mut later = web_sockets();
    later.retain(|s| s.state != TcpState::TimeWait);
    feed(&mut app, &mut terminal, vec![update(snapshot(later, 40))]);
    let screen = screen_text(&terminal);
    let title = screen.lines().next().unwrap();
    assert!(title.contains("⚠ 2 findings (d)"), "{title}");
    assert!(title.contains("filter: port:8080"), "{title}");
    // The words went, the watched process's name, then (the table shows it) the pid.
    assert!(
        title.contains(" 500ms") && !title.contains("nginx"),
        "{title}"
    );
    // Paused: the marker takes the right end, the badge still whole beside it.
    feed(&mut app, &mut terminal, vec![char(' ')]);
    let screen = screen_text(&terminal);
    let title = screen.lines().next().unwrap();
    assert!(
        title.contains("(d)") && title.contains("[paused]"),
        "{title}"
    );
}

/// Many states passed through (each with a sparkline) at 80 columns: the state bar's
/// two lines still end with UDP and UNIX, the sparklines giving way.
#[test]
fn the_state_bar_keeps_every_group_at_80_columns() {
    let (mut app, mut terminal) = web_app(80, 24);
    let mut busy = web_sockets();
    let states = [
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::Close,
    ];
    for (i, state) in states.into_iter().enumerate() {
        let port = 52000 + i as u16;
        busy.push(tcp(
            "127.0.0.1:8080",
            &format!("127.0.0.1:{port}"),
            state,
            u64::from(port),
            vec![owner(901, 30 + u32::from(port) % 100, "nginx", "www-data")],
        ));
    }
    let inputs = vec![
        update(snapshot(busy.clone(), 2)),
        update(snapshot(web_sockets(), 3)),
        update(snapshot(busy, 4)),
    ];
    feed(&mut app, &mut terminal, inputs);
    let screen = screen_text(&terminal);
    let bar: Vec<&str> = screen.lines().skip(1).take(2).collect();
    assert!(bar.iter().any(|l| l.contains("UDP 1")), "{screen}");
    assert!(bar.iter().any(|l| l.contains("UNIX 2")), "{screen}");
}
