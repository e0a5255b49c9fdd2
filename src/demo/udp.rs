//! A UDP echo pair: a server socket that is only bound (no peer: `ss` and sockscope
//! show UNCONN) and a client socket connected to it (ESTABLISHED, though UDP has no
//! handshake: `connect` only fixes the peer address in the kernel).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use super::stop::{self, Stop};
use super::{Fact, Part};

/// How long a blocked receive waits before it looks at the stop signal again.
const RECV_POLL: Duration = Duration::from_millis(200);

/// One pair on `ip`. `kind` is `udp` or `udp6`; without `clients` the client socket
/// is connected but sends nothing.
pub fn start(
    kind: &'static str,
    ip: IpAddr,
    clients: bool,
    rate: f64,
    stop: &Arc<Stop>,
) -> io::Result<Part> {
    let server = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    let server_addr = server.local_addr()?;
    server.set_read_timeout(Some(RECV_POLL))?;
    let client = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    client.connect(server_addr)?;
    client.set_read_timeout(Some(RECV_POLL))?;

    let stop_server = Arc::clone(stop);
    let echo = stop::spawn("demo-udp-server", move || {
        let mut buf = [0u8; 2048];
        while !stop_server.is_set() {
            // Timeouts wake us to look at `stop`; a lost datagram is just lost.
            if let Ok((n, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&buf[..n], from);
            }
        }
    })?;
    let stop_client = Arc::clone(stop);
    let pause = Duration::from_secs_f64(1.0 / rate);
    let talk = stop::spawn("demo-udp-client", move || {
        let mut buf = [0u8; 2048];
        while !stop_client.wait(pause) {
            if clients && client.send(b"ping").is_ok() {
                let _ = client.recv(&mut buf);
            }
        }
    })?;
    Ok(Part {
        facts: vec![Fact::new(
            kind,
            server_addr.to_string(),
            "UDP echo: server only bound (UNCONN), client connected (ESTABLISHED)",
        )],
        threads: vec![echo, talk],
    })
}
