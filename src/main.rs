use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use sockscope::cli::{Cli, Command, Filters, NameArgs};
use sockscope::collect::netlink::destroyed;
use sockscope::collect::{Source, System, Tables, privilege};
use sockscope::diagnose::DiagnoseConfig;
use sockscope::doctor::DoctorOptions;
use sockscope::stdio::{Stdout, is_broken_pipe, warn};
use sockscope::{act, output, text, tui};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    tui::set_colour(cli.color.wanted(std::io::stdout().is_terminal()));
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            warn(error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error as one line (`warn` escapes what slipped through unescaped), cut long.
fn error_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    if text.len() > 4096 {
        text::quote(text.as_bytes(), 4096)
    } else {
        text
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if cli.command.is_some() && cli.filters != Filters::default() {
        anyhow::bail!("filters go after the subcommand, e.g. `sockscope list --pid 1234`");
    }
    if cli.command.is_some() && cli.names != NameArgs::default() {
        anyhow::bail!("-n and -r go after the subcommand, e.g. `sockscope list -r`");
    }
    let tables = cli.tables();
    if cli.read_only {
        sockscope::act::set_read_only();
    }
    // A setcap/setuid sockscope reads only the kernel's /proc, never a tree the user
    // points it at: through it, any file it may read would be theirs.
    if cli.proc_root != Path::new(sockscope::collect::PROC) {
        privilege::allow_chosen_path("--proc-root")?;
    }
    // Recordings are files the user names, read or written: the same rule.
    let recording = match &cli.command {
        Some(Command::List { replay, .. }) if replay.replay.is_some() => Some("--replay"),
        Some(Command::Doctor { replay, .. }) if replay.is_some() => Some("--replay"),
        Some(Command::Record { .. }) => Some("record -o"),
        Some(Command::Replay { .. }) => Some("replay FILE"),
        _ => None,
    };
    if let Some(option) = recording {
        privilege::allow_chosen_path(option)?;
    }
    // A services file other than /etc/services (tests): a path the user chose.
    if std::env::var_os(sockscope::collect::services::OVERRIDE).is_some() {
        privilege::allow_chosen_path(sockscope::collect::services::OVERRIDE)?;
    }
    match cli.command {
        Some(Command::List {
            filters,
            output,
            names,
            replay,
        }) => {
            let colour = cli.color.wanted(std::io::stdout().is_terminal());
            list(
                &cli.proc_root,
                tables,
                &filters,
                (output.format, colour, names),
                &replay,
            )
        }
        Some(Command::Doctor {
            filters,
            replay,
            output,
            watch,
            samples,
            window,
            min_age,
        }) => {
            let options = DoctorOptions {
                samples: samples.into(),
                window,
                format: output.format,
                watch,
                tables,
                replay,
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
        Some(Command::Watch {
            filters,
            json,
            interval,
            duration,
        }) => {
            let mut source = with_closed_log(&cli.proc_root, tables, &filters)?;
            let options = sockscope::watch::Options {
                interval: std::time::Duration::from_millis(interval),
                json,
                duration,
            };
            let mut out = BufWriter::new(Stdout);
            sockscope::watch::run(&mut source, &filters.query(), &options, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Record {
            filters,
            output,
            interval,
            duration,
        }) => {
            let mut source = with_closed_log(&cli.proc_root, tables, &filters)?;
            let options = sockscope::record::RecordOptions {
                interval: std::time::Duration::from_millis(interval),
                duration,
            };
            let host =
                sockscope::collect::host::hostname(&cli.proc_root).unwrap_or_else(|| "?".into());
            sockscope::record::run(&mut source, &filters.query(), &output, &options, host)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Replay { file }) => {
            tui::replay(&file)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Completions { shell }) => {
            let mut out = BufWriter::new(Stdout);
            sockscope::cli::write_completions(shell, &mut out);
            out.flush().context("cannot write the completions")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            let mut out = BufWriter::new(Stdout);
            sockscope::cli::write_man(&mut out).context("cannot write the manual page")?;
            out.flush().context("cannot write the manual page")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo { args }) => {
            sockscope::demo::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Kill {
            filters,
            signal,
            yes,
        }) => act::command::kill(&cli.proc_root, tables, &filters, signal, yes, &mut Stdout),
        Some(Command::Close { filters, yes }) => {
            act::command::close(&cli.proc_root, tables, &filters, yes, &mut Stdout)
        }
        None => live(&cli, tables),
    }
}

fn list(
    proc_root: &std::path::Path,
    tables: Tables,
    filters: &Filters,
    (format, colour, names): (output::Format, bool, NameArgs),
    replay: &sockscope::cli::ReplayAt,
) -> Result<ExitCode> {
    let mut snapshot = match (&replay.replay, &replay.at) {
        (Some(file), Some(at)) => sockscope::record::snapshot_at(file, at)?,
        _ => System::new(proc_root, filters.scope())?
            .with_tables(tables)?
            .with_selection(filters.selection())
            .with_list_order()
            .snapshot()?,
    };
    for warning in &snapshot.warnings {
        warn(warning);
    }
    let mut query = filters.query();
    if replay.replay.is_some() {
        // Live, --pid chooses what is collected; a recording holds everyone's.
        query.pids = filters.pid.clone();
    }
    snapshot.sockets.retain(|s| query.matches(s));
    // Collected sorted, mostly (see `with_list_order`): then one look suffices.
    if !sockscope::model::in_display_order(&snapshot.sockets) {
        sockscope::model::sort_in_display_order(&mut snapshot.sockets);
    }

    let listing = output::Listing {
        colour,
        naming: list_naming(proc_root, names, &snapshot.sockets),
        name_fields: names.resolve,
    };
    let mut out = BufWriter::with_capacity(64 * 1024, Stdout);
    output::write(&mut out, format, &snapshot.sockets, &listing)
        .and_then(|()| out.flush())
        .context("cannot write the output")?;
    // The process exits next and the kernel takes its memory back at once: freeing
    // every socket, owner list and box one by one was ~2% of list's CPU at 200k.
    std::mem::forget(snapshot);
    Ok(ExitCode::SUCCESS)
}

/// How long `list -r` waits for host names in all; what has not answered by then
/// prints as a number (each lookup has its own, shorter, limit: `resolve::LIMIT`).
const LIST_RESOLVE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The names `list` writes endpoints with: port names unless `-n` (numbers, and a
/// warning, when /etc/services cannot be read), and with `-r` the host names of the
/// listed sockets' remote addresses, looked up before anything is printed.
fn list_naming(
    proc_root: &Path,
    names: NameArgs,
    sockets: &[sockscope::model::Socket],
) -> sockscope::model::Naming {
    use sockscope::collect::{resolve, services};
    let services = match names.numeric {
        true => None,
        false => services::system()
            .map_err(|e| warn(format_args!("no port names: {e:#}")))
            .ok(),
    };
    let hosts = names.resolve.then(|| {
        let resolver = resolve::Resolver::system();
        resolver.wait(&resolve::remote_ips(sockets), LIST_RESOLVE_WAIT);
        std::sync::Arc::new(resolver) as std::sync::Arc<dyn sockscope::model::names::HostNames>
    });
    sockscope::model::Naming {
        services,
        unnamed: services::unnamed_ports(proc_root),
        hosts,
    }
}

/// Exit status 1 means findings, so errors exit 2 here (a broken pipe still exits 0).
fn doctor(
    proc_root: &std::path::Path,
    filters: &Filters,
    options: &DoctorOptions,
) -> Result<ExitCode> {
    let mut out = BufWriter::new(Stdout);
    match sockscope::doctor::run(proc_root, filters, options, &mut out) {
        Ok(found) => Ok(ExitCode::from(u8::from(found))),
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            warn(error_line(&e));
            Ok(ExitCode::from(2))
        }
    }
}

/// The TUI: the command line's filters start out in its filter bar, where they can be
/// seen and edited; `--pid` chooses what is collected.
fn live(cli: &Cli, tables: Tables) -> Result<ExitCode> {
    // No `with_selection`: the filter bar can ask for any protocol later.
    let source = System::new(&cli.proc_root, cli.filters.scope())?
        .with_tables(tables)?
        .with_list_order()
        .with_co_holders_later()
        .with_closed_log()
        .with_incremental_owners();
    let options = tui::Options {
        source: Box::new(source),
        interval: std::time::Duration::from_millis(cli.interval),
        banner: Vec::new(),
        pids: cli.filters.pid.clone(),
        proc_root: cli.proc_root.clone(),
        roles: Vec::new(),
        naming: tui::naming::Start {
            numeric: cli.names.numeric,
            resolve: cli.names.resolve,
        },
    };
    tui::run_with_filter(options, cli.filters.query().to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The source for `watch` and `record`: snapshots plus the closed-connection log, which
/// `--pid` turns off (what closed cannot be told to be theirs), said once; the fd walk
/// kept between snapshots (see collect/fd_cache.rs).
fn with_closed_log(proc_root: &Path, tables: Tables, filters: &Filters) -> Result<System> {
    let source = System::new(proc_root, filters.scope())?
        .with_tables(tables)?
        .with_selection(filters.selection())
        .with_closed_log()
        .with_incremental_owners();
    if !filters.pid.is_empty() {
        warn(destroyed::PIDS_NO_LOG);
    }
    Ok(source)
}

/// clap's errors span several lines; users get the first, and where to look next.
/// `--help` and `--version` go to stdout, and fail like any output when it does.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let rendered = e.render();
        let text = if std::io::stdout().is_terminal() {
            rendered.ansi().to_string()
        } else {
            rendered.to_string()
        };
        let mut out = Stdout;
        return match out.write_all(text.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                warn(format_args!("cannot write the help: {e}"));
                ExitCode::FAILURE
            }
        };
    }
    warn(format_args!("{} (see 'sockscope --help')", usage_line(&e)));
    ExitCode::from(2)
}

/// clap's message in one line, with the offending argument cut and escaped: clap
/// quotes it whole (a 100 KB argument, a newline in it) and strips escapes from it.
fn usage_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let get = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let cut = |s: &str| text::quote(s.as_bytes(), 60);
    let arg = get(ContextKind::InvalidArg);
    match (e.kind(), arg, get(ContextKind::InvalidValue)) {
        (ErrorKind::ValueValidation | ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            // Our parsers' reasons quote the value themselves, cut and escaped.
            let why = std::error::Error::source(e)
                .map(|why| format!(": {why}"))
                .unwrap_or_default();
            format!("invalid value '{}' for '{arg}'{why}", cut(value))
        }
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            format!("unexpected argument '{}' found", cut(arg))
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            text::quote(first.as_bytes(), 300)
        }
    }
}
