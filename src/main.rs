use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use sockscope::cli::{Cli, Command, Filters};
use sockscope::collect::{Source, System};
use sockscope::output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::List { filters, json, csv }) => list(&cli.proc_root, &filters, json, csv),
        Some(Command::Demo { args }) => {
            sockscope::demo::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        None => anyhow::bail!("the live view is not built yet; use `sockscope list`"),
    }
}

fn list(proc_root: &std::path::Path, filters: &Filters, json: bool, csv: bool) -> Result<ExitCode> {
    let mut source = System::new(proc_root, filters.scope())?;
    let mut snapshot = source.snapshot()?;
    for warning in &snapshot.warnings {
        eprintln!("sockscope: {warning}");
    }
    let query = filters.query();
    snapshot.sockets.retain(|s| query.matches(s));
    snapshot.sockets.sort_by(|a, b| a.display_order(b));

    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    if json {
        output::json(&mut out, &snapshot.sockets)?;
    } else if csv {
        output::csv(&mut out, &snapshot.sockets)?;
    } else {
        output::table(&mut out, &snapshot.sockets)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// clap's errors span several lines; users get the first, and where to look next.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("sockscope: {first} (see 'sockscope --help')");
    ExitCode::from(2)
}

/// `sockscope list | head -1` closes our stdout early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
