//! `sockscope demo`: live loopback traffic that puts sockets in every classic state.
//!
//! Everything runs inside this one process, on 127.0.0.1, ::1 and unix sockets in a
//! fresh temp dir, with plain threads and blocking sockets:
//!
//! - an echo server speaking a line protocol (`echo`: ping, echo, quit), and clients
//!   that talk to it and now and then leave and reconnect (`clients`);
//! - the state zoo: SYN_SENT, CLOSE_WAIT, FIN_WAIT2 and TIME_WAIT held on purpose
//!   (`zoo`);
//! - unix stream echo servers at a path and in the abstract namespace (`unix`);
//! - UDP echo pairs on 127.0.0.1 and ::1, one socket bound, one connected (`udp`).
//!
//! `--headless` prints one line per fact to stdout, each `<kind> <value>`, flushed, in
//! this order, then `ready` once every socket is in place:
//!
//! ```text
//! pid 12345
//! tempdir /tmp/sockscope-demo-AbC123
//! echo 127.0.0.1:40123
//! zoo-syn 127.0.0.1:40124
//! zoo-close-wait 127.0.0.1:40125
//! zoo-time-wait 127.0.0.1:40126
//! unix /tmp/sockscope-demo-AbC123/echo.sock
//! unix-abstract @sockscope-demo-12345-9f3c0a1b2c3d4e5f
//! udp 127.0.0.1:40127
//! udp6 [::1]:40128
//! ready
//! ```
//!
//! `udp6` is left out where ::1 cannot be bound (IPv6 disabled). The demo then runs
//! until SIGINT, SIGTERM or `--duration`, stops the traffic, closes every socket and
//! removes the temp dir.

mod clients;
mod command;
pub mod echo;
mod stop;
mod udp;
mod unix;
mod zoo;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};

pub use command::run;
use stop::{Conns, Stop};

/// The banner's second line: where a newcomer starts. Short enough that, folded with
/// its "(b: legend)", it fits an 80-column terminal.
pub const HINT: &str = "press m: the TCP state machine, live, with this socket's path";

/// What to start. `Default` is what `sockscope demo` starts with no flags.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoOptions {
    /// Port of the echo server on 127.0.0.1; `None` for a free one.
    pub port: Option<u16>,
    /// Echo clients on TCP. 0: no client traffic anywhere (servers and zoo only).
    pub clients: usize,
    /// Lines (or datagrams) per second each client sends; > 0.
    pub rate: f64,
    /// Extra idle echo connections held open, for load.
    pub connections: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            port: None,
            clients: 4,
            rate: 5.0,
            connections: 0,
        }
    }
}

/// One thing the demo set up: `kind value` in headless output, `value  role` in the
/// banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub kind: &'static str,
    pub value: String,
    pub role: String,
}

impl Fact {
    fn new(kind: &'static str, value: String, role: &str) -> Fact {
        Fact {
            kind,
            value,
            role: role.to_string(),
        }
    }
}

/// What one part of the demo adds: its facts and the threads that run it.
struct Part {
    facts: Vec<Fact>,
    threads: Vec<JoinHandle<()>>,
}

/// The running demo. Stopping it (`stop`, or dropping it) ends the traffic, closes
/// every socket and removes the temp dir.
pub struct Demo {
    facts: Vec<Fact>,
    echo_addr: SocketAddr,
    stop: Arc<Stop>,
    conns: Arc<Conns>,
    threads: Vec<JoinHandle<()>>,
    idle: Vec<TcpStream>,
    tempdir: Option<tempfile::TempDir>,
}

/// Starts every part; when it returns, every socket is in place.
pub fn start(opts: &DemoOptions) -> Result<Demo> {
    if !(opts.rate > 0.0 && opts.rate.is_finite()) {
        bail!("--rate must be a positive number of lines per second");
    }
    check_fd_budget(opts.connections)?;
    let tempdir = private_tempdir()?;
    let stop = Arc::new(Stop::default());
    let conns = Arc::new(Conns::default());
    let listener = echo_listener(opts.port.unwrap_or(0))?;
    let echo_addr = listener.local_addr()?;
    let dir = tempdir.path().to_path_buf();
    let mut demo = Demo {
        facts: vec![
            Fact::new("pid", std::process::id().to_string(), "this demo's process"),
            Fact::new(
                "tempdir",
                tempdir.path().display().to_string(),
                "temp dir for the unix sockets (removed on exit)",
            ),
            Fact::new(
                "echo",
                echo_addr.to_string(),
                "echo server (ping/pong/echo/quit)",
            ),
        ],
        echo_addr,
        stop: Arc::clone(&stop),
        conns: Arc::clone(&conns),
        threads: Vec::new(),
        idle: Vec::new(),
        tempdir: Some(tempdir),
    };
    // From here on, an early return drops `demo`, which stops what was started.
    listener.set_nonblocking(true)?;
    demo.threads.push(echo::serve(
        listener,
        Arc::clone(&stop),
        Arc::clone(&conns),
    )?);
    for id in 0..opts.clients {
        let connect = move || clients::connect_tcp(echo_addr);
        let client = clients::spawn(id, opts.rate, connect, Arc::clone(&stop))?;
        demo.threads.push(client);
    }
    for n in 0..opts.connections {
        let conn = TcpStream::connect(echo_addr).with_context(|| {
            format!("opening idle connection {} of {}", n + 1, opts.connections)
        })?;
        demo.idle.push(conn);
    }

    demo.add(zoo::start(Arc::clone(&stop)).context("starting the state zoo")?);
    let talk = opts.clients > 0;
    let unix = unix::start(&dir, talk, opts.rate, &stop, &conns);
    demo.add(unix.context("starting the unix socket servers")?);
    let udp = udp::start("udp", Ipv4Addr::LOCALHOST.into(), talk, opts.rate, &stop);
    demo.add(udp.context("starting the UDP echo pair")?);
    // ::1 is missing where IPv6 is disabled; the demo goes on without it.
    if let Ok(part) = udp::start("udp6", Ipv6Addr::LOCALHOST.into(), talk, opts.rate, &stop) {
        demo.add(part);
    }
    Ok(demo)
}

/// The temp dir for the unix sockets: mode 0700, so no other user can reach the
/// sockets in it or swap files under it. (tempfile asks for 0700, less any umask; it
/// is checked, not assumed.)
fn private_tempdir() -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    // TMPDIR is the user's choice: a setuid sockscope would create its dir wherever
    // they point, so with raised privileges it is /tmp.
    let base = match crate::collect::privilege::raised() {
        Some(_) => std::path::PathBuf::from("/tmp"),
        None => std::env::temp_dir(),
    };
    let dir = tempfile::Builder::new()
        .prefix("sockscope-demo-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
        .context("creating the demo's temp dir")?;
    let mode = dir.path().metadata()?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .context("making the demo's temp dir private")?;
    }
    Ok(dir)
}

/// Fails early, saying what to do, when `--connections` cannot fit in the open-file
/// limit: each idle connection takes two descriptors (our end and the server's).
fn check_fd_budget(connections: usize) -> Result<()> {
    let need = 2 * connections + 100; // + the demo's own few dozen sockets
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let soft = limit.and_then(|n| usize::try_from(n).ok());
    match soft {
        Some(soft) if need > soft => bail!(
            "--connections {connections} needs about {need} open files but the limit is {soft}; raise it with `ulimit -n {need}`"
        ),
        _ => Ok(()),
    }
}

/// The echo server's listener on 127.0.0.1, with a long accept queue so
/// `--connections` can connect faster than the server accepts.
fn echo_listener(port: u16) -> Result<TcpListener> {
    tcp_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), 4096).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {port} on 127.0.0.1 is already in use; pick another with --port, or leave it out for a free one"
            )
        } else {
            anyhow::Error::new(e).context(format!("binding the echo server to 127.0.0.1:{port}"))
        }
    })
}

/// A TCP listener with the backlog we choose: std always asks for 128, hence socket2.
fn tcp_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    // As std does: a restarted demo can rebind its --port while TIME_WAIT sockets of
    // the last run still hold it (a listener on it is still refused).
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

impl Demo {
    fn add(&mut self, part: Part) {
        self.facts.extend(part.facts);
        self.threads.extend(part.threads);
    }

    /// Everything set up, in the order of the headless output.
    pub fn facts(&self) -> &[Fact] {
        &self.facts
    }

    pub fn echo_addr(&self) -> SocketAddr {
        self.echo_addr
    }

    /// Where the unix socket files live (removed on stop).
    pub fn tempdir(&self) -> &Path {
        self.tempdir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// A header for the live view: what this is, then one `address  role` line each.
    pub fn banner(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "sockscope demo (pid {}): live loopback traffic; every socket below is the demo's",
            std::process::id()
        )];
        lines.push(HINT.to_string());
        let shown = self.facts.iter().filter(|f| f.kind != "pid");
        lines.extend(shown.map(|f| format!("{:<22}  {}", f.value, f.role)));
        lines
    }

    /// Each port and unix path the demo set up, with its part, for the live view to
    /// name a selected socket by (the pid and temp dir are not places).
    pub fn roles(&self) -> Vec<crate::states::Role> {
        use crate::states::{Place, Role};
        let place = |f: &Fact| match f.value.parse() {
            Ok(addr) => Some(Place::Addr(addr)),
            Err(_) if f.kind.starts_with("unix") => Some(Place::Path(f.value.clone())),
            Err(_) => None,
        };
        let roles = self.facts.iter().filter_map(|f| {
            Some(Role {
                place: place(f)?,
                name: f.kind.to_string(),
                part: f.role.clone(),
            })
        });
        roles.collect()
    }

    /// Ends the traffic, closes every socket, removes the temp dir. Also on drop.
    pub fn stop(self) {}

    fn shut_down(&mut self) {
        self.stop.set();
        self.conns.hang_up_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.idle.clear();
        if let Some(dir) = self.tempdir.take() {
            let _ = dir.close();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.shut_down();
    }
}
