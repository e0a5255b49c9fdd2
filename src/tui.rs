//! The live view: `sockscope [FILTERS]`.
//!
//! Three threads feed one channel: the collector (every interval, a refresh made
//! ready to swap in: `prepare`), terminal input, and signals. The UI loop takes what
//! arrives, steps the `App`, and draws; it tells the collector the interval, pause,
//! sort and filter, and hands back what a refresh replaced, to be freed there. `step` and `draw` are generic over the ratatui backend, so tests drive the
//! real app into a `TestBackend` with no terminal and no sleeps.

pub mod app;
pub mod collector;
pub mod event;
pub mod history;
pub mod naming;
pub mod replay;
pub use replay::replay;
pub mod perform;
pub mod prepare;
pub mod rows;
pub mod view;

use std::io::{self, IsTerminal, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

use app::{App, Config};
use collector::Control;
use event::Input;

pub struct Options {
    pub source: Box<dyn crate::collect::Source + Send>,
    pub interval: Duration,
    /// Extra header lines shown under the title, e.g. the demo's "port 40123 → echo server".
    pub banner: Vec<String>,
    /// The pids the view is scoped to (--pid), so the header can say "pid 1234 (nginx)"
    /// and say so when the process exits (keep the last view).
    pub pids: Vec<u32>,
    /// Where /proc is (`--proc-root`): command lines, names, the host name and the
    /// kernel counters diagnosis reads are read there.
    pub proc_root: std::path::PathBuf,
    /// Ports and paths that play a known part (the demo's zoo), named in the state pane.
    pub roles: Vec<crate::states::Role>,
    /// Port and host names at the start (`-n`, `-r`); `n` and `R` toggle them.
    pub naming: naming::Start,
}

/// Whether the live view colours (`--color`, NO_COLOR): set once by main, before any
/// live view starts (the demo's and replay's too).
static COLOUR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

pub fn set_colour(colour: bool) {
    COLOUR.store(colour, Ordering::SeqCst);
}

/// Runs the live view until the user quits.
pub fn run(options: Options) -> Result<()> {
    run_with_filter(options, String::new())
}

/// Runs the live view with `filter` (the filter bar's language) already typed in.
pub fn run_with_filter(options: Options, filter: String) -> Result<()> {
    if !io::stdout().is_terminal() {
        bail!("the live view needs a terminal; for pipes and files use `sockscope list`");
    }
    if options.interval < Duration::from_millis(50) {
        bail!("the refresh interval must be at least 50 ms");
    }
    let actions_off = crate::act::off(options.source.is_live());
    let (to_ui, inputs) = mpsc::channel();
    let mut app = App::new(Config {
        hostname: crate::collect::host::hostname(&options.proc_root).unwrap_or_else(|| "?".into()),
        banner: options.banner,
        pids: options.pids.clone(),
        interval: options.interval,
        filter,
        started_at: SystemTime::now(),
    });
    app.colour = COLOUR.load(Ordering::SeqCst);
    app.naming = live_naming(&options.proc_root, options.naming);
    let control = collector::spawn(
        options.source,
        options.interval,
        options.pids,
        options.proc_root,
        to_ui.clone(),
    );
    // The rows come prepared for the command line's filter from the first refresh.
    let _ = control.send(Control::Choice(Box::new(app.choice())));
    spawn_signals(to_ui.clone())?;
    spawn_keys(to_ui);

    app.roles = options.roles;
    app.actions.off = actions_off;
    let _restore = TerminalGuard;
    let mut terminal = enter_terminal().context("cannot set up the terminal")?;
    draw(&mut terminal, &mut app)?;
    while !app.quit {
        let Ok(input) = inputs.recv() else { break };
        let (interval, paused) = (app.interval, app.paused);
        let (sort, filter) = (app.sort, app.filter.text.clone());
        let details = app.details.as_ref().map(|d| d.socket.key());
        // A burst (a held key, a paste) is handled whole, then drawn once.
        for input in std::iter::once(input).chain(inputs.try_iter()) {
            if matches!(input, Input::CollectorCrashed) {
                // The panic hook has already restored the terminal and said why.
                bail!("collecting snapshots failed unexpectedly (see the panic above)");
            }
            if let Some(old) = handle(&mut app, input) {
                // Freed on the thread that made it, before it makes the next: 100k
                // sockets take milliseconds to free, which a key would wait for here.
                let _ = control.send(Control::Free(Box::new(old)));
            }
        }
        if app.interval != interval {
            let _ = control.send(Control::Interval(app.interval));
        }
        if app.paused != paused {
            let _ = control.send(Control::Pause(app.paused));
        }
        // The details' socket too: its model keeps that socket's tcp_info.
        let details_now = app.details.as_ref().map(|d| d.socket.key());
        if app.sort != sort || app.filter.text != filter || details_now != details {
            let _ = control.send(Control::Choice(Box::new(app.choice())));
        }
        for note in app.take_notes() {
            let _ = control.send(Control::Note(Box::new(note)));
        }
        if !app.quit {
            draw(&mut terminal, &mut app)?;
        }
    }
    Ok(())
}

/// The names the view can show: /etc/services (a warning and numbers when it cannot
/// be read), and a resolver whose threads start at the first `R`.
pub(crate) fn live_naming(proc_root: &std::path::Path, start: naming::Start) -> naming::LiveNaming {
    use crate::collect::{resolve, services};
    let table = services::system()
        .map_err(|e| crate::stdio::warn(format_args!("no port names: {e:#}")))
        .ok();
    let hosts: Arc<dyn crate::model::names::HostNames> = Arc::new(resolve::Resolver::system());
    naming::LiveNaming::new(
        table,
        services::unnamed_ports(proc_root),
        Some(hosts),
        start,
    )
}

/// One input, then a redraw: what the loop does, for tests.
pub fn step<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: Input,
) -> Result<(), B::Error> {
    drop(handle(app, input));
    draw(terminal, app)
}

/// One input into the app; what a refresh replaced comes back, for the caller to
/// free where it costs no key press.
pub fn handle(app: &mut App, input: Input) -> Option<app::Retired> {
    match input {
        Input::Key(key) => {
            let action = if app.actions.dialog.is_some() {
                event::dialog_action_for(key)
            } else {
                event::action_for(key, app.filter.editing || app.typing_time())
            };
            // Any key closes the help, also one that does nothing elsewhere.
            let closes_help = app.help && key.kind != crossterm::event::KeyEventKind::Release;
            let action = action.or(closes_help.then_some(event::Action::Back));
            if let Some(action) = action {
                app.apply(action);
            }
            if let Some(request) = app.take_request() {
                app.acted(perform::perform(request));
            }
        }
        Input::Mouse(mouse) => {
            if app.actions.dialog.is_none()
                && let Some(action) = view::mouse_action(app, mouse)
            {
                app.apply(action);
            }
        }
        Input::Resize => {} // the next draw sizes itself to the terminal
        Input::Update(update) => app.update(*update),
        Input::Ready(ready) => return app.swap(*ready),
        Input::Quit | Input::CollectorCrashed => app.quit = true,
    }
    None
}

/// Draws the app, then tells it how many rows the list holds (for PgUp/PgDn).
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), B::Error> {
    terminal.autoresize()?;
    let area = terminal
        .draw(|frame| {
            view::render(frame, app);
            if !app.colour {
                view::style::strip_colours(frame.buffer_mut());
            }
        })?
        .area;
    app.screen = area;
    app.set_page(view::list_rows(area, app));
    app.set_details_scroll_limit(view::details_scroll_limit(area, app));
    app.set_help_scroll_limit(view::help_scroll_limit(area, app));
    Ok(())
}

fn enter_terminal() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    TERMINAL_TAKEN.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, Hide, EnableMouseCapture)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Whether the terminal is set up for the view and not yet restored.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen and shows the cursor, once: on a panic
/// both the hook and the unwinding guard get here, and leaving the alternate screen
/// twice would move the cursor back over the panic message.
fn restore_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            Show
        );
    }
}

/// Restores the terminal however `run` returns: quit, error, or unwinding panic.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Keys and resizes. The thread blocks in `read` and ends with the process.
fn spawn_keys(to_ui: Sender<Input>) {
    thread::spawn(move || {
        loop {
            let input = match crossterm::event::read() {
                Ok(Event::Key(key)) => Input::Key(key),
                Ok(Event::Mouse(mouse)) => Input::Mouse(mouse),
                Ok(Event::Resize(..)) => Input::Resize,
                Ok(_) => continue,
                Err(_) => Input::Quit, // the terminal went away
            };
            let quit = matches!(input, Input::Quit);
            if to_ui.send(input).is_err() || quit {
                return;
            }
        }
    });
}

/// SIGTERM, SIGHUP and an outside SIGINT become a normal quit, so the terminal is
/// restored. (Ctrl-C itself arrives as a key: raw mode turns signals off.)
fn spawn_signals(to_ui: Sender<Input>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])
        .context("cannot install signal handlers")?;
    thread::spawn(move || {
        for _ in signals.forever() {
            if to_ui.send(Input::Quit).is_err() {
                return;
            }
        }
    });
    Ok(())
}
