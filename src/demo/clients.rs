//! Echo clients: they connect, talk at a steady pace, and now and then leave and come
//! back, so connections keep being opened and closed in front of the viewer.
//!
//! Every session ends one of two ways, in turn: the client sends `quit` and the server
//! closes first (the server's side lingers in TIME_WAIT), or the client just closes
//! first (the client's side lingers in TIME_WAIT).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::stop::{self, Stop};

/// How long a client waits for a reply, or for a refused server to come back.
const PATIENCE: Duration = Duration::from_secs(2);

/// Starts a client thread that reconnects with `connect` until the demo stops.
pub fn spawn<S, C>(id: usize, rate: f64, connect: C, stop: Arc<Stop>) -> io::Result<JoinHandle<()>>
where
    S: Read + Write,
    C: Fn() -> io::Result<S> + Send + 'static,
{
    let pause = Duration::from_secs_f64(1.0 / rate);
    stop::spawn("demo-client", move || {
        for round in 0.. {
            if stop.is_set() {
                break;
            }
            let Ok(stream) = connect() else {
                stop.wait(PATIENCE);
                continue;
            };
            // A session can fail when the demo stops under it; just go round again.
            let _ = session(stream, id, round, pause, &stop);
        }
    })
}

/// One connection's life: a few lines, then goodbye.
fn session(
    stream: impl Read + Write,
    id: usize,
    round: usize,
    pause: Duration,
    stop: &Stop,
) -> io::Result<()> {
    let mut conn = BufReader::new(stream);
    // Sessions of different lengths, so the clients do not all reconnect together.
    let lines = 8 + (id * 5 + round * 3) % 13;
    for i in 0..lines {
        if stop.wait(pause) {
            return Ok(());
        }
        let request = if i.is_multiple_of(2) {
            "ping".to_string()
        } else {
            format!("echo client {id} round {round} line {i}")
        };
        ask(&mut conn, &request)?;
    }
    if round.is_multiple_of(2) {
        ask(&mut conn, "quit")?;
        // Wait for the server's close, so it is the one that closed first.
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest)?;
    }
    Ok(())
}

/// Sends one request line and reads its one reply line.
fn ask(conn: &mut BufReader<impl Read + Write>, request: &str) -> io::Result<String> {
    conn.get_mut()
        .write_all(format!("{request}\n").as_bytes())?;
    let mut reply = String::new();
    if conn.read_line(&mut reply)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(reply.trim_end().to_string())
}

/// A TCP connection to `addr` whose reads give up after `PATIENCE`.
pub fn connect_tcp(addr: std::net::SocketAddr) -> io::Result<std::net::TcpStream> {
    let stream = std::net::TcpStream::connect_timeout(&addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    Ok(stream)
}

/// A unix stream connection whose reads give up after `PATIENCE`.
pub fn connect_unix(
    addr: &std::os::unix::net::SocketAddr,
) -> io::Result<std::os::unix::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::connect_addr(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    Ok(stream)
}
