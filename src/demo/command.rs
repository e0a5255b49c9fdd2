//! The `sockscope demo` command: start the demo, show it, wait for the end, stop it.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Demo, DemoOptions, start};
use crate::cli::DemoArgs;
use crate::collect::{PROC, Scope, System};

impl From<&DemoArgs> for DemoOptions {
    fn from(args: &DemoArgs) -> Self {
        DemoOptions {
            port: args.port,
            clients: args.clients as usize,
            rate: args.rate,
            connections: args.connections as usize,
        }
    }
}

/// Starts the demo, shows it (headless lines, or the live view), and stops it on
/// Ctrl-C, SIGTERM or after `--duration`.
pub fn run(args: &DemoArgs) -> Result<()> {
    if !args.headless && !io::stdout().is_terminal() {
        anyhow::bail!("the demo's live view needs a terminal; use `sockscope demo --headless`");
    }
    // Installed before anything starts, so an early SIGTERM still ends us cleanly.
    let interrupted = on_signals()?;
    let demo = start(&DemoOptions::from(args))?;
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs(s));
    if args.headless {
        print_facts(&demo)?;
        wait(&interrupted, deadline);
        demo.stop();
        Ok(())
    } else {
        let shown = live_view(&demo);
        demo.stop();
        shown
    }
}

/// A flag that Ctrl-C, SIGTERM and SIGHUP (the terminal went away) set, so the demo
/// stops and removes its temp dir. std has no signal handling; signal-hook sets the
/// flag from the handler safely. A second signal, while the demo is still stopping,
/// exits at once.
fn on_signals() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&interrupted))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&interrupted)))
            .context("installing the signal handlers")?;
    }
    Ok(interrupted)
}

/// The headless output: `kind value` per fact, then `ready`, flushed at once so a
/// reader on a pipe sees it.
fn print_facts(demo: &Demo) -> io::Result<()> {
    let mut out = io::BufWriter::new(crate::stdio::Stdout);
    for fact in demo.facts() {
        writeln!(out, "{} {}", fact.kind, fact.value)?;
    }
    writeln!(out, "ready")?;
    out.flush()
}

/// The live view on our own pid, with the banner saying which port plays which role.
/// It runs until the user quits (q, Ctrl-C, SIGTERM); `--duration` is for headless runs.
fn live_view(demo: &Demo) -> Result<()> {
    let me = std::process::id();
    // Its sockets are its own: no walk of every process for their other holders.
    let source = System::new(PROC, Scope::Pids(vec![me]))?
        .without_co_holders()
        .with_list_order();
    crate::tui::run(crate::tui::Options {
        naming: Default::default(),
        source: Box::new(source),
        interval: Duration::from_millis(500),
        banner: demo.banner(),
        pids: vec![me],
        proc_root: PROC.into(),
        roles: demo.roles(),
    })
}

fn wait(interrupted: &AtomicBool, deadline: Option<Instant>) {
    while !interrupted.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
}
