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

    let name = abstract_name();
    let abstract_addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    let in_abstract = UnixListener::bind_addr(&abstract_addr)?;

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

/// `sockscope-demo-<pid>`, with a counter after it for a second demo in one process.
fn abstract_name() -> String {
    let pid = std::process::id();
    match STARTED.fetch_add(1, Ordering::Relaxed) {
        0 => format!("sockscope-demo-{pid}"),
        n => format!("sockscope-demo-{pid}-{n}"),
    }
}
