//! The `sockscope demo` command: start the demo, show it, wait for the end, stop it.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Demo, DemoOptions, start};
use crate::cli::DemoArgs;

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
    // Installed before anything starts, so an early SIGTERM still ends us cleanly.
    let interrupted = on_signals()?;
    let demo = start(&DemoOptions::from(args))?;
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs(s));
    if args.headless {
        print_facts(&demo)?;
        wait(&interrupted, deadline);
    } else {
        // The live view goes here, as one call on our own pid with `demo.banner()`
        // as its header; until it exists, the banner goes to stderr.
        watch_without_live_view(&demo, &interrupted, deadline);
    }
    demo.stop();
    Ok(())
}

/// A flag that Ctrl-C and SIGTERM set. std has no signal handling; signal-hook sets
/// the flag from the handler safely. A second signal, while the demo is still
/// stopping, exits at once.
fn on_signals() -> Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&interrupted))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&interrupted)))
            .context("installing the signal handlers")?;
    }
    Ok(interrupted)
}

/// The headless output: `kind value` per fact, then `ready`, flushed at once so a
/// reader on a pipe sees it.
fn print_facts(demo: &Demo) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for fact in demo.facts() {
        writeln!(out, "{} {}", fact.kind, fact.value)?;
    }
    writeln!(out, "ready")?;
    out.flush()
}

fn watch_without_live_view(demo: &Demo, interrupted: &AtomicBool, deadline: Option<Instant>) {
    for line in demo.banner() {
        eprintln!("{line}");
    }
    eprintln!(
        "(the live view is not built yet: watch with `sockscope list --pid {}`; Ctrl-C stops)",
        std::process::id()
    );
    wait(interrupted, deadline);
}

fn wait(interrupted: &AtomicBool, deadline: Option<Instant>) {
    while !interrupted.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
}
