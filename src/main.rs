use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use sockscope::cli::{Cli, Command, Filters};
use sockscope::collect::{Source, System, Tables};
use sockscope::diagnose::DiagnoseConfig;
use sockscope::doctor::DoctorOptions;
use sockscope::{output, tui};

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
    if cli.command.is_some() && cli.filters != Filters::default() {
        anyhow::bail!("filters go after the subcommand, e.g. `sockscope list --pid 1234`");
    }
    let tables = cli.tables();
    match cli.command {
        Some(Command::List { filters, json, csv }) => {
            list(&cli.proc_root, tables, &filters, json, csv)
        }
        Some(Command::Doctor {
            filters,
            json,
            watch,
            samples,
            window,
            min_age,
        }) => {
            let options = DoctorOptions {
                samples: samples.into(),
                window,
                json,
                watch,
                tables,
                config: DiagnoseConfig {
                    close_wait_age: min_age,
                    syn_sent_age: min_age,
                    ..DiagnoseConfig::default()
                },
            };
            doctor(&cli.proc_root, &filters, &options)
        }
        Some(Command::Export { args }) => {
            sockscope::export::run(&cli.proc_root, tables, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo { args }) => {
            sockscope::demo::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        None => live(&cli, tables),
    }
}

fn list(
    proc_root: &std::path::Path,
    tables: Tables,
    filters: &Filters,
    json: bool,
    csv: bool,
) -> Result<ExitCode> {
    let mut source = System::new(proc_root, filters.scope())?.with_tables(tables)?;
    let mut snapshot = source.snapshot()?;
    for warning in &snapshot.warnings {
        eprintln!("sockscope: {warning}");
    }
    let query = filters.query();
    snapshot.sockets.retain(|s| query.matches(s));
    // Unstable: in place, where a stable sort would allocate half the snapshot again;
    // display_order ends on the inode, so equal keys are the same socket.
    snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));

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

/// Exit status 1 means findings, so errors exit 2 here (a broken pipe still exits 0).
fn doctor(
    proc_root: &std::path::Path,
    filters: &Filters,
    options: &DoctorOptions,
) -> Result<ExitCode> {
    let mut out = BufWriter::new(io::stdout().lock());
    match sockscope::doctor::run(proc_root, filters, options, &mut out) {
        Ok(found) => Ok(ExitCode::from(u8::from(found))),
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("sockscope: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The TUI: the command line's filters start out in its filter bar, where they can be
/// seen and edited; `--pid` chooses what is collected.
fn live(cli: &Cli, tables: Tables) -> Result<ExitCode> {
    let source = System::new(&cli.proc_root, cli.filters.scope())?.with_tables(tables)?;
    let options = tui::Options {
        source: Box::new(source),
        interval: std::time::Duration::from_millis(cli.interval),
        banner: Vec::new(),
        pids: cli.filters.pid.clone(),
        proc_root: cli.proc_root.clone(),
    };
    tui::run_with_filter(options, cli.filters.query().to_string())?;
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
