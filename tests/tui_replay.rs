//! `sockscope replay` driven without a terminal: a recording of the fixture's web host
//! (a connection opens at +60 s and closes at +120 s), the real app and player, keys
//! fed as the loop feeds them, screens drawn into a `TestBackend`.

mod tui_fixture;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sockscope::model::{Closed, TcpState};
use sockscope::record::format::Meta;
use sockscope::record::{Recording, Writer};
use sockscope::tui::app::App;
use sockscope::tui::event::Input;
use sockscope::tui::replay::Player;
use std::time::Duration;
use tui_fixture::*;

const SECS: u64 = 150;

fn recording(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("web.rec");
    let meta = Meta {
        started_ms: sockscope::record::millis(started_at()),
        interval_ms: 1000,
        hostname: "web-1".into(),
        filter: String::new(),
    };
    let mut writer = Writer::create(&path, &meta).unwrap();
    let extra = tcp(
        "127.0.0.1:8080",
        "127.0.0.1:51999",
        TcpState::Established,
        51999,
        vec![owner(901, 77, "nginx", "www-data")],
    );
    for secs in 0..SECS {
        let mut sockets = web_sockets();
        if (60..120).contains(&secs) {
            sockets.push(extra.clone());
        }
        sockets.sort_unstable_by(|a, b| a.display_order(b));
        let mut snap = snapshot(sockets, secs);
        if secs == 120 {
            snap.closed.push(Closed {
                at: snap.taken_at - Duration::from_millis(400),
                socket: extra.clone(),
            });
        }
        writer.write(&snap).unwrap();
    }
    path
}

struct Rig {
    player: Player,
    app: App,
    terminal: Terminal<TestBackend>,
}

impl Rig {
    fn new(dir: &std::path::Path) -> Rig {
        let player = Player::new(Recording::open(&recording(dir)).unwrap());
        let app = player.app("web.rec".into());
        let mut rig = Rig {
            player,
            app,
            terminal: terminal(80, 24),
        };
        rig.player
            .go(&mut rig.app, sockscope::tui::app::Seek::Steps(0))
            .unwrap();
        rig.draw();
        rig
    }

    fn keys(&mut self, inputs: Vec<Input>) {
        for input in inputs {
            self.player.input(&mut self.app, input).unwrap();
            self.draw();
        }
    }

    fn draw(&mut self) {
        sockscope::tui::draw(&mut self.terminal, &mut self.app).unwrap();
    }

    fn screen(&self) -> String {
        screen_text(&self.terminal)
    }
}

#[test]
fn the_time_cursor_steps_jumps_and_goes_to_a_typed_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(dir.path());
    assert!(rig.app.actions.off.is_some(), "K and X act on no recording");
    let screen = rig.screen();
    assert!(screen.contains("replay web.rec"), "{screen}");
    assert!(
        screen.contains("+0:00:00/+0:02:29 · 1/150 · paused"),
        "{screen}"
    );
    assert!(screen.contains("11/11 sockets"), "{screen}");

    rig.keys(vec![char(']'), char(']')]);
    assert!(rig.screen().contains("+0:00:02/+0:02:29 · 3/150"));
    rig.keys(vec![char('[')]);
    assert!(rig.screen().contains("+0:00:01/+0:02:29 · 2/150"));

    // A minute on: the extra connection is there.
    rig.keys(vec![char('}')]);
    let screen = rig.screen();
    assert!(screen.contains("+0:01:01/+0:02:29 · 62/150"), "{screen}");
    assert!(screen.contains("12/12 sockets"), "{screen}");

    // A typed time: after the close; the events log has it, from the closed log.
    let mut keys = vec![char('t')];
    keys.extend(typed("+125"));
    keys.push(key(KeyCode::Enter));
    rig.keys(keys);
    let screen = rig.screen();
    assert!(screen.contains("+0:02:05/+0:02:29 · 126/150"), "{screen}");
    assert!(screen.contains("11/11 sockets"), "{screen}");
    rig.keys(vec![char('e')]);
    let events = rig.screen();
    assert!(
        // At 80 columns too the endpoints show whole (the states take ss's names
        // first, where they must).
        events.contains("closed  tcp   127.0.0.1:8080 → 127.0.0.1:51999"),
        "{events}"
    );
    insta::assert_snapshot!("replay_events_after_a_jump", rig.terminal.backend());
    rig.keys(vec![char('e')]);

    // A minute back, and a time that does not parse: said, nothing moves.
    rig.keys(vec![char('{')]);
    assert!(rig.screen().contains("+0:01:05/+0:02:29 · 66/150"));
    let mut keys = vec![char('t')];
    keys.extend(typed("soon"));
    keys.push(key(KeyCode::Enter));
    rig.keys(keys);
    let screen = rig.screen();
    assert!(screen.contains("invalid time 'soon'"), "{screen}");
    assert!(screen.contains("66/150"));
    rig.keys(vec![key(KeyCode::Esc)]);
    assert!(!rig.screen().contains("go to ("));

    // Space plays: each tick of the clock is one recorded refresh; at the end it stops.
    rig.keys(vec![char(' ')]);
    assert!(rig.screen().contains("playing"));
    for _ in 0..200 {
        rig.player.play(&mut rig.app).unwrap();
    }
    rig.draw();
    let screen = rig.screen();
    assert!(screen.contains("150/150 · paused"), "{screen}");
}

#[test]
fn details_follow_their_socket_while_stepping() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(dir.path());
    // The fifth row: nginx's connection from curl.
    rig.keys(vec![
        char('j'),
        char('j'),
        char('j'),
        char('j'),
        key(KeyCode::Enter),
    ]);
    let before = rig.screen();
    rig.keys(vec![char(']'), char(']'), char(']')]);
    let after = rig.screen();
    assert!(after.contains("4/150"), "{after}");
    let socket = |s: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with("remote"))
            .unwrap_or_default()
            .to_string()
    };
    assert!(socket(&before).contains("127.0.0.1:51234"), "{before}");
    assert_eq!(socket(&before), socket(&after), "{before}\n{after}");
}
