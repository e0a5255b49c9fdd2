//! The processes view grouped by container (`c`) and the details pane naming the
//! container and pod, drawn by the real app over a fixture host running containers
//! (tests/tui_fixture/containers.rs).

mod tui_fixture;

use crossterm::event::KeyCode;
use sockscope::tui::app::App;
use tui_fixture::containers::{WEB_ID, container_sockets};
use tui_fixture::*;

fn container_app(
    width: u16,
    height: u16,
) -> (App, ratatui::Terminal<ratatui::backend::TestBackend>) {
    let mut app = App::new(config());
    let mut terminal = terminal(width, height);
    let first = update(snapshot(container_sockets(), 1));
    feed(&mut app, &mut terminal, vec![first]);
    (app, terminal)
}

#[test]
fn processes_grouped_by_container() {
    let (mut app, mut terminal) = container_app(110, 16);
    feed(&mut app, &mut terminal, vec![char('c')]);
    insta::assert_snapshot!("grouped", terminal.backend());
    let screen = screen_text(&terminal);
    // web: two processes, three sockets (the shared listener counted once).
    let web = screen.lines().find(|l| l.contains(" web ")).unwrap();
    assert!(web.contains("docker"), "{web}");
    let cells: Vec<&str> = web.split_whitespace().collect();
    assert!(cells.windows(2).any(|w| w == ["2", "3"]), "{web}");
    assert!(screen.contains("shop/cart-5f7"), "{screen}");

    // A new snapshot keeps the grouping.
    feed(
        &mut app,
        &mut terminal,
        vec![update(snapshot(container_sockets(), 2))],
    );
    assert_eq!(screen_text(&terminal), screen);

    // Enter: that container's sockets, by the filter word for it.
    feed(&mut app, &mut terminal, vec![key(KeyCode::Enter)]);
    assert_eq!(app.filter.text, format!("container:{WEB_ID}"));
    assert_eq!(app.rows.len(), 3);

    // c from the sockets view: the groups again; c there: processes one by one.
    feed(&mut app, &mut terminal, vec![char('c')]);
    assert!(app.grouped && screen_text(&terminal).contains("CONTAINER/NETNS"));
    feed(&mut app, &mut terminal, vec![char('c')]);
    assert!(!app.grouped);
    assert!(screen_text(&terminal).contains("TALKS TO"));
}

#[test]
fn grouped_at_80x24() {
    let (mut app, mut terminal) = container_app(80, 24);
    feed(&mut app, &mut terminal, vec![char('c')]);
    insta::assert_snapshot!("grouped_80x24", terminal.backend());
}

#[test]
fn details_name_the_container_and_pod() {
    let (mut app, mut terminal) = container_app(110, 40);
    feed(&mut app, &mut terminal, typed("/8080"));
    feed(
        &mut app,
        &mut terminal,
        vec![key(KeyCode::Enter), key(KeyCode::Enter)],
    );
    let screen = screen_text(&terminal);
    assert!(screen.contains("containerd 9a8b7c6d5e4f"), "{screen}");
    assert!(screen.contains("shop/cart-5f7"), "{screen}");
    assert!(screen.contains("cni-7f3a (inode 4026532415)"), "{screen}");
}
