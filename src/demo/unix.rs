//! Unix domain stream sockets speaking the echo protocol: one server bound to a path
//! in the demo's temp dir (like /var/run/docker.sock), one in the abstract namespace
//! (a name with no file behind it, shown as `@name`; it vanishes with its socket).

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::stop::{Conns, Stop};
use super::{Fact, Part, clients, echo};

/// Distinguishes demos started in one process (tests do that).
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Names tried before giving up: a collision with a random name is someone guessing.
const ATTEMPTS: usize = 8;

pub fn start(
    dir: &Path,
    clients: bool,
    rate: f64,
    stop: &Arc<Stop>,
    conns: &Arc<Conns>,
) -> io::Result<Part> {
    let path = dir.join("echo.sock");
    let on_path = UnixListener::bind(&path)?;
    let path_addr = SocketAddr::from_pathname(&path)?;

    let (name, abstract_addr, in_abstract) = bind_abstract()?;

    let mut part = Part {
        facts: vec![
            Fact::new(
                "unix",
                path.display().to_string(),
                "unix stream echo server at a path",
            ),
            Fact::new(
                "unix-abstract",
                format!("@{name}"),
                "unix stream echo server in the abstract namespace",
            ),
        ],
        threads: Vec::new(),
    };
    for (listener, addr) in [(on_path, path_addr), (in_abstract, abstract_addr)] {
        listener.set_nonblocking(true)?;
        part.threads
            .push(echo::serve(listener, Arc::clone(stop), Arc::clone(conns))?);
        if clients {
            let connect = move || clients::connect_unix(&addr);
            part.threads
                .push(clients::spawn(0, rate, connect, Arc::clone(stop))?);
        }
    }
    Ok(part)
}

/// Binds the abstract server to `sockscope-demo-<pid>-<random>`. Abstract names
/// have no permissions: anyone may take a name first, so a predictable one would let
/// any user keep the demo from starting. A taken name is retried with a new one.
fn bind_abstract() -> io::Result<(String, SocketAddr, UnixListener)> {
    let pid = std::process::id();
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let mut random = [0u8; 8];
        rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = match n {
            0 => format!("sockscope-demo-{pid}-{suffix}"),
            n => format!("sockscope-demo-{pid}-{n}-{suffix}"),
        };
        let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
        match UnixListener::bind_addr(&addr) {
            Ok(listener) => return Ok((name, addr, listener)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no abstract name was free")))
}
