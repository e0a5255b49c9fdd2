//! The state zoo: TCP connections held in one state on purpose, one listener each, so
//! the port says which is which.
//!
//! - SYN_SENT: a listener with backlog 0 that never accepts. Linux lets backlog + 1
//!   connections into its accept queue, so one "filler" connection fills it; after that
//!   the listener drops every SYN, and the next connectors sit in SYN_SENT, resending
//!   SYNs (6 retries, about two minutes, then they fail: so they are renewed, the
//!   last round kept alongside, so there are 2 to 4 of them).
//! - CLOSE_WAIT / FIN_WAIT2: the client half-closes (`shutdown(Write)` sends its FIN)
//!   and the server, which keeps the connection, never closes: the server sits in
//!   CLOSE_WAIT, the classic leak, and the client in FIN_WAIT2. The client keeps its fd
//!   open; an orphaned FIN_WAIT2 would time out after tcp_fin_timeout (60 s).
//! - TIME_WAIT: the server closes first, so its side waits 2MSL (60 s on Linux) in
//!   TIME_WAIT. It has no fd and no owner any more: only the kernel keeps it. New
//!   ones are made every `RENEW` so some are always there.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::stop::{self, Stop};
use super::{Fact, Part, tcp_listener};

/// How often the SYN_SENT connectors and the TIME_WAIT connections are made anew:
/// well inside both the SYN retry budget and the TIME_WAIT length.
const RENEW: Duration = Duration::from_secs(20);
const SYN_WAITERS: usize = 2;
const TIME_WAITS: usize = 2;

pub fn start(stop: Arc<Stop>) -> io::Result<Part> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));

    // listen(0): std always asks for a larger backlog.
    let syn_listener = tcp_listener(loopback, 0)?;
    let syn_addr = syn_listener.local_addr()?;
    let filler = TcpStream::connect(syn_addr)?;
    // Let the filler's final ACK land it in the accept queue before others knock.
    std::thread::sleep(Duration::from_millis(50));
    let mut waiters = syn_waiters(syn_addr)?;

    let close_wait_listener = TcpListener::bind(loopback)?;
    let close_wait_addr = close_wait_listener.local_addr()?;
    let half_closed = half_closed_pair(&close_wait_listener)?;

    let time_wait_listener = TcpListener::bind(loopback)?;
    let time_wait_addr = time_wait_listener.local_addr()?;
    server_closes_first(&time_wait_listener)?;

    let facts = vec![
        Fact::new(
            "zoo-syn",
            syn_addr.to_string(),
            "backlog-0 listener that never accepts: connectors wait in SYN_SENT",
        ),
        Fact::new(
            "zoo-close-wait",
            close_wait_addr.to_string(),
            "client half-closed, server never closes: server CLOSE_WAIT, client FIN_WAIT2",
        ),
        Fact::new(
            "zoo-time-wait",
            time_wait_addr.to_string(),
            "server closes first: its side waits in TIME_WAIT (60 s, renewed)",
        ),
    ];
    let keeper = stop::spawn("demo-zoo", move || {
        // Everything the zoo holds lives as long as this thread.
        let _held = (syn_listener, filler, close_wait_listener, half_closed);
        let mut previous = Vec::new();
        while !stop.wait(RENEW) {
            // Errors here are transient (e.g. out of ports): keep the old ones, retry.
            // The last round stays too, so some connectors are always old enough
            // for `doctor` to call them stuck, even right after a renewal.
            if let Ok(fresh) = syn_waiters(syn_addr) {
                previous = std::mem::replace(&mut waiters, fresh);
            }
            let _ = server_closes_first(&time_wait_listener);
        }
        drop((waiters, previous));
    })?;
    Ok(Part {
        facts,
        threads: vec![keeper],
    })
}

/// Connectors that send their SYN and do not wait for an answer (that never comes):
/// a non-blocking connect, which std does not offer, hence socket2.
fn syn_waiters(addr: SocketAddr) -> io::Result<Vec<Socket>> {
    (0..SYN_WAITERS)
        .map(|_| {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            match socket.connect(&SockAddr::from(addr)) {
                // EINPROGRESS: the SYN is out; the connect goes on in the kernel.
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(socket),
                Err(e) => Err(e),
                Ok(()) => Err(io::Error::other("backlog-0 listener accepted a connector")),
            }
        })
        .collect()
}

/// (client, server) of a connection whose client has sent its FIN and the server
/// will never send one.
fn half_closed_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.shutdown(std::net::Shutdown::Write)?;
    Ok((client, server))
}

/// Connections the server closes first; the client closes once it has seen the FIN.
fn server_closes_first(listener: &TcpListener) -> io::Result<()> {
    for _ in 0..TIME_WAITS {
        let client = TcpStream::connect(listener.local_addr()?)?;
        client.set_read_timeout(Some(Duration::from_secs(2)))?;
        let (server, _) = listener.accept()?;
        drop(server);
        let _ = (&client).read(&mut [0u8; 1])?; // 0 bytes: the server's FIN
    }
    Ok(())
}
