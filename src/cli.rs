//! The command surface (ARCHITECTURE.md): `sockscope [FILTERS]`, `list`, `doctor`,
//! `demo`, and the hidden `--proc-root` that points the whole binary at a captured
//! /proc tree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::diagnose::Finding;
use crate::model::{Socket, TcpState};
use crate::query::{self, Query};

mod format_arg;
pub use format_arg::FormatArg;

#[derive(Debug, Parser)]
#[command(
    name = "sockscope",
    version,
    about = "Every socket on this host, its state, queues and owning processes, live."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub filters: Filters,

    #[command(flatten)]
    pub names: NameArgs,

    /// Refresh interval of the live view, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval: u64,

    /// Read this directory instead of /proc (for captured fixtures)
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = crate::collect::PROC,
        hide = true
    )]
    pub proc_root: PathBuf,

    /// Where socket tables come from [default: netlink where it works, else proc]
    #[arg(long, global = true, value_name = "SOURCE")]
    pub source: Option<SourceArg>,

    /// Turn every action off: kill, close, and the live view's K and X (also when
    /// SOCKSCOPE_READ_ONLY is set)
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorArg,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl ColorArg {
    /// Whether to colour output going to a terminal (`tty`) or not: auto colours
    /// only a terminal, and never when NO_COLOR is set to anything but "".
    pub fn wanted(self, tty: bool) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// `--source`: netlink sock_diag (tcp_info, timers, unix peers) or /proc/net/* text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    Proc,
    Netlink,
}

impl Cli {
    /// The table source to use: the one forced, or netlink with /proc as fallback.
    pub fn tables(&self) -> crate::collect::Tables {
        use crate::collect::Tables;
        match self.source {
            None => Tables::Auto,
            Some(SourceArg::Proc) => Tables::Proc,
            Some(SourceArg::Netlink) => Tables::Netlink,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one snapshot to stdout: a table, or --json / --csv for scripts
    List {
        #[command(flatten)]
        filters: Filters,
        #[command(flatten)]
        output: FormatArg<Socket>,
        #[command(flatten)]
        names: NameArgs,
        #[command(flatten)]
        replay: ReplayAt,
    },
    /// Look for trouble: CLOSE_WAIT leaks, stuck connects, full accept queues, queues
    /// nobody drains. Exit status 0 when healthy, 1 when findings exist, 2 on error.
    Doctor {
        #[command(flatten)]
        filters: Filters,
        /// Run the rules over a recording (`sockscope record`) instead of the host
        #[arg(long, value_name = "FILE", conflicts_with = "watch")]
        replay: Option<PathBuf>,
        #[command(flatten)]
        output: FormatArg<Finding>,
        /// Repeat every SECONDS, adding one snapshot to the history each time, until Ctrl-C
        #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
        watch: Option<Duration>,
        /// Snapshots taken before the first diagnosis
        #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=100))]
        samples: u16,
        /// Time the first snapshots are spread over
        #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
        window: Duration,
        /// CLOSE_WAIT and SYN_SENT sockets count as stuck once this long in their state
        #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
        min_age: Duration,
    },
    /// Serve the sockets' numbers to Prometheus: GET /metrics, OpenMetrics or text
    Export {
        #[command(flatten)]
        args: ExportArgs,
    },
    /// A stream of events, one per line: opened, state, closed (NDJSON with --json)
    Watch {
        #[command(flatten)]
        filters: Filters,
        /// One JSON object per line: {time, event, from, socket}
        #[arg(long)]
        json: bool,
        /// Time between snapshots, in milliseconds
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
        interval: u64,
        /// Stop after this many seconds
        #[arg(long, value_name = "S", value_parser = parse_seconds)]
        duration: Option<Duration>,
    },
    /// Record snapshots and closed connections to FILE, until Ctrl-C or --duration
    Record {
        #[command(flatten)]
        filters: Filters,
        /// The recording to write (replaced if it exists)
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// Time between snapshots, in milliseconds
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
        interval: u64,
        /// Stop after this many seconds
        #[arg(long, value_name = "S", value_parser = parse_seconds)]
        duration: Option<Duration>,
    },
    /// The live view over a recording: space plays and pauses, [ ] step, { } jump a
    /// minute, t jumps to a time
    Replay {
        /// A file written by `sockscope record`
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Live demo traffic on loopback: an echo server, clients, every classic TCP state
    Demo {
        #[command(flatten)]
        args: DemoArgs,
    },
    /// Signal the processes holding the matching sockets. Prints what it would do
    /// unless --yes; never pid 1 nor other users' processes (unless run as root)
    Kill {
        #[command(flatten)]
        filters: Filters,
        /// TERM, KILL, HUP, INT, QUIT, USR1, USR2, STOP or CONT
        #[arg(long, value_name = "SIG", default_value = "TERM", value_parser = crate::act::Signal::parse)]
        signal: crate::act::Signal,
        /// Do it (without: print what would be done, and do nothing)
        #[arg(long)]
        yes: bool,
    },
    /// Close the matching TCP sockets in the kernel, as `ss -K` (needs CAP_NET_ADMIN).
    /// Prints what it would do unless --yes
    Close {
        #[command(flatten)]
        filters: Filters,
        /// Do it (without: print what would be done, and do nothing)
        #[arg(long)]
        yes: bool,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man -l -` or a man directory
    Man,
}

/// `sockscope completions SHELL`: the script, generated from this command surface.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "sockscope", out);
}

/// `sockscope man`: the manual page, generated from this command surface.
pub fn write_man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// Seconds as a person types them: `2`, `0.5`; at most a day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "invalid duration '{text}': expected seconds from 0 to 86400"
        )),
    }
}

/// Like `parse_seconds`, but never zero: a repeat interval.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        d if d >= Duration::from_millis(100) => Ok(d),
        _ => Err(format!(
            "invalid interval '{text}': expected at least 0.1 seconds"
        )),
    }
}

/// `-n` and `-r`, as ss has them: ports are named from /etc/services unless numeric,
/// remote hosts only when asked.
#[derive(Debug, Args, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameArgs {
    /// Port numbers, not service names from /etc/services (as `ss -n`; the live view's n)
    #[arg(long, short = 'n')]
    pub numeric: bool,
    /// Remote host names by reverse DNS, /etc/hosts first (as `ss -r`; the live view's
    /// R); --json and --csv then add local_service, remote_service and remote_host
    #[arg(long, short = 'r')]
    pub resolve: bool,
}

/// `list --replay FILE --at TIME`: one snapshot out of a recording.
#[derive(Debug, Args, Clone, Default, PartialEq)]
pub struct ReplayAt {
    /// Read the snapshot from a recording (`sockscope record`) instead of the host
    #[arg(long, value_name = "FILE", requires = "at")]
    pub replay: Option<PathBuf>,
    /// With --replay: the snapshot in effect at +SECONDS from the start, or at an
    /// RFC 3339 time (2026-12-01T09:20:00Z)
    #[arg(long, value_name = "TIME", requires = "replay", value_parser = crate::record::At::parse)]
    pub at: Option<crate::record::At>,
}

/// The default port: 10155. The Prometheus wiki's default-port-allocations page has
/// no free port left in 9100-9999; new exporters take ports from 10000 up.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10155";

/// `sockscope export`'s flags.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// Address and port to serve /metrics on
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A scrape waits at most this long for its snapshot, then answers sockscope_up 0
    /// (Prometheus's X-Prometheus-Scrape-Timeout-Seconds shortens it)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_interval)]
    pub scrape_timeout: Duration,
    /// A client must send its request headers within this long; idle keep-alive
    /// connections are closed after it too
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_interval)]
    pub read_timeout: Duration,
    /// Processes with the most sockets that get series of their own; the rest are
    /// summed as comm="other"
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub top_processes: u16,
    /// TCP listeners (fullest queue first) that get series of their own; the rest are
    /// summed as addr="other"
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u16).range(0..=10000))]
    pub top_listeners: u16,
    /// Add a pid label to sockscope_process_sockets: one series per process instead of
    /// per name (more series, and new ones whenever processes restart)
    #[arg(long)]
    pub pid_label: bool,
}

/// `sockscope demo`'s flags.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// No live view: print one `kind value` line per fact, then `ready`, and run until
    /// Ctrl-C, SIGTERM or --duration
    #[arg(long)]
    pub headless: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "S")]
    pub duration: Option<u64>,
    /// Port of the echo server on 127.0.0.1 (default: a free one)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Echo clients sending lines; 0 runs the servers alone, with no traffic
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub clients: u32,
    /// Lines per second each client sends
    #[arg(long, value_name = "R", default_value_t = 5.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Extra idle echo connections to hold open, for load
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub connections: u32,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 10_000.0 => Ok(rate),
        _ => Err(format!(
            "'{text}' is not a rate: give lines per second, more than 0 and at most 10000"
        )),
    }
}

/// The filters shared by every command.
#[derive(Debug, Args, Clone, Default, PartialEq)]
pub struct Filters {
    /// Only sockets of this process (repeatable), read in its own network namespace
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Only sockets with this local or remote port (repeatable)
    #[arg(long, value_name = "PORT", value_parser = query::parse_port)]
    pub port: Vec<u16>,
    /// Only sockets in this state (repeatable): LISTEN, ESTABLISHED, TIME_WAIT, estab, syn-sent, ...
    #[arg(long, value_name = "STATE", value_parser = query::parse_state)]
    pub state: Vec<TcpState>,
    /// TCP sockets
    #[arg(long, short = 't')]
    pub tcp: bool,
    /// UDP sockets
    #[arg(long, short = 'u')]
    pub udp: bool,
    /// Unix domain sockets
    #[arg(long, short = 'x')]
    pub unix: bool,
    /// Raw IP sockets (as `ss -w`)
    #[arg(long, short = 'w')]
    pub raw: bool,
    /// Packet (AF_PACKET) sockets (as `ss -0`)
    #[arg(long, short = '0')]
    pub packet: bool,
    /// Netlink sockets (as `ss -f netlink`)
    #[arg(long)]
    pub netlink: bool,
    /// ICMP "ping" datagram sockets
    #[arg(long)]
    pub icmp: bool,
    /// SCTP sockets (as `ss -S`)
    #[arg(long)]
    pub sctp: bool,
    /// MPTCP sockets (as `ss -M`)
    #[arg(long)]
    pub mptcp: bool,
    /// Vsock sockets, between a VM and its host (as `ss --vsock`)
    #[arg(long)]
    pub vsock: bool,
    /// IPv4 only
    #[arg(short = '4')]
    pub ipv4: bool,
    /// IPv6 only
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Only listening sockets (LISTEN, and bound unconnected UDP and unix)
    #[arg(long, short = 'l')]
    pub listening: bool,
    /// Every network namespace on the host: each one a process is in, and those in /run/netns
    #[arg(long, conflicts_with_all = ["pid", "netns"])]
    pub all_netns: bool,
    /// Only the sockets of one network namespace: a name in /run/netns, or a pid's
    #[arg(long, value_name = "NAME|PID", conflicts_with = "pid")]
    pub netns: Option<String>,
}

impl Filters {
    /// The filter the flags describe. `--pid` is not part of it: it chooses what is
    /// collected (a process's namespace and fds), see `collect::Scope`.
    pub fn query(&self) -> Query {
        use crate::model::{Family, Proto};
        Query {
            pids: Vec::new(),
            ports: self.port.clone(),
            states: self.state.clone(),
            protos: flagged(&[
                (self.tcp, Proto::Tcp),
                (self.udp, Proto::Udp),
                (self.unix, Proto::Unix),
                (self.raw, Proto::Raw),
                (self.packet, Proto::Packet),
                (self.netlink, Proto::Netlink),
                (self.icmp, Proto::Icmp),
                (self.sctp, Proto::Sctp),
                (self.mptcp, Proto::Mptcp),
                (self.vsock, Proto::Vsock),
            ]),
            families: flagged(&[(self.ipv4, Family::Ipv4), (self.ipv6, Family::Ipv6)]),
            listening: self.listening,
            // --netns chooses what is collected (see `scope`), not a filter.
            netns: Vec::new(),
            containers: Vec::new(),
            words: Vec::new(),
            ..Query::default()
        }
    }

    /// The tables these filters need read (see `collect::Selection`).
    pub fn selection(&self) -> crate::collect::Selection {
        let query = self.query();
        crate::collect::Selection::new(query.possible_protos(), query.possible_families())
    }

    pub fn scope(&self) -> crate::collect::Scope {
        use crate::collect::Scope;
        if !self.pid.is_empty() {
            Scope::Pids(self.pid.clone())
        } else if self.all_netns {
            Scope::AllNetns
        } else if let Some(target) = &self.netns {
            Scope::Netns(target.clone())
        } else {
            Scope::Host
        }
    }
}

/// The values whose flag is set.
fn flagged<T: Copy>(pairs: &[(bool, T)]) -> Vec<T> {
    pairs
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, v)| *v)
        .collect()
}
