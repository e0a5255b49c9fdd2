//! Drawing: `render(frame, &App)` lays out the screen and hands each area to one view.
//! Views read the app and never change it.

mod containers;
mod details;
mod diagnostics;
mod diagram;
mod dialog;
mod events;
mod footer;
mod header;
mod help;
mod line_fit;
mod machine;
mod peer;
mod processes;
mod rates;
mod short_form;
mod states;
pub mod style;
mod table;
mod tcp_info;
mod timebar;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, View};

/// The smallest screen the views are laid out for.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

/// ```text
/// ┌──────────────────────────────────────────────────────────────┐
/// │ header: title · host · count · interval · filter   [paused]  │  1 line
/// │         banner lines, warnings, errors                       │  0..n lines
/// │ state bar: LISTEN 3 ▁▂ │ ESTABLISHED 40 ▃▅▇ │ ... │ UNIX 88   │  1-2 lines
/// ├──────────────────────────────────────────────────────────────┤
/// │ main: socket table | processes table | details of a socket   │  the rest
/// │       | events log | diagnostics | state machine              │
/// ├──────────────────────────────────────────────────────────────┤
/// │ footer: key hints, or the filter bar while editing           │  1 line
/// └──────────────────────────────────────────────────────────────┘
///   help, and the K / X dialogs: overlays over the middle of everything
/// ```
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}×{}, need {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        // Wrapped, so a very narrow terminal still shows all of it.
        let middle = Rect {
            y: area.y + area.height.saturating_sub(1) / 2,
            height: area.height.min(3),
            ..area
        };
        let notice = Paragraph::new(Line::from(text).centered()).wrap(Wrap { trim: true });
        frame.render_widget(notice, middle);
        return;
    }
    let [head, states_area, main, foot] = areas(area, app);
    header::render(frame, head, app);
    states::render(frame, states_area, app);
    match app.view {
        View::Sockets => table::render(frame, main, app),
        View::Processes => processes::render(frame, main, app),
        View::Details => details::render(frame, main, app),
        View::Events => events::render(frame, main, app),
        View::Diagnostics => diagnostics::render(frame, main, app),
        View::Machine => machine::render(frame, main, app),
    }
    footer::render(frame, foot, app);
    dialog::render(frame, area, app);
    if app.help {
        help::render(frame, area, app);
    }
}

/// What a click or the wheel on the socket or processes list does: the wheel moves
/// the selection, a click on a row selects it, a click on a socket column's header
/// sorts by it (when it sorts).
pub fn mouse_action(
    app: &App,
    mouse: crossterm::event::MouseEvent,
) -> Option<super::event::Action> {
    use super::event::Action;
    use crossterm::event::{MouseButton, MouseEventKind};
    if app.help || !matches!(app.view, View::Sockets | View::Processes) {
        return None;
    }
    let [_, _, main, _] = areas(app.screen, app);
    let (x, y) = (mouse.column, mouse.row);
    if x < main.x || x >= main.right() || y < main.y || y >= main.bottom() {
        return None;
    }
    match mouse.kind {
        MouseEventKind::ScrollUp => Some(Action::Up),
        MouseEventKind::ScrollDown => Some(Action::Down),
        MouseEventKind::Down(MouseButton::Left) if y == main.y => match app.view {
            View::Sockets => table::column_at(main, app, x)
                .filter(|c| c.spec().sort.is_some())
                .map(Action::SortBy),
            _ => None,
        },
        MouseEventKind::Down(MouseButton::Left) => {
            let height = main.height.saturating_sub(1) as usize;
            let (cursor, len) = match app.view {
                View::Processes => (app.process_table, app.process_rows()),
                _ => (app.table, app.rows.len()),
            };
            let (start, end) = table::window(cursor.selected, cursor.offset, len, height);
            let row = start + usize::from(y - main.y - 1);
            (row < end).then_some(Action::Select(row))
        }
        _ => None,
    }
}

/// How many list rows fit on a screen of `area` (the list has a header line).
pub fn list_rows(area: Rect, app: &App) -> usize {
    let [_, _, main, _] = areas(area, app);
    main.height.saturating_sub(1) as usize
}

/// How far the details pane can scroll on a screen of `area`.
pub fn details_scroll_limit(area: Rect, app: &App) -> u16 {
    let [_, _, main, _] = areas(area, app);
    details::scroll_limit(main, app)
}

/// How far the help overlay can scroll on a screen of `area` (0 where it fits).
pub fn help_scroll_limit(area: Rect, app: &App) -> u16 {
    help::scroll_limit(area, app)
}

fn areas(area: Rect, app: &App) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(header::height(app, area.width)),
        Constraint::Length(states::height(app, area.width)),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area)
}
