//! The closed-connection log against the real kernel: a loopback connection that opens,
//! carries data and closes arrives as destroyed sockets with its ports and bytes.
//! Needs CAP_NET_ADMIN (root); each test owns its own 127.18.x.y address.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sockscope::collect::netlink::destroyed::Destroyed;
use sockscope::model::{Proto, TcpState};

/// Skips visibly where the log cannot be joined; in CI that is a failure.
fn open_or_skip() -> Option<Destroyed> {
    match Destroyed::open() {
        Ok(log) => Some(log),
        Err(e) => {
            common::need::cannot(&format!("the closed-connection log is unavailable ({e})"));
            None
        }
    }
}

#[test]
fn a_short_connection_arrives_with_ports_and_bytes() {
    let Some(mut log) = open_or_skip() else {
        return;
    };
    let server = TcpListener::bind("127.18.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let mut client = connect_from(addr);
    let client_addr = client.local_addr().unwrap();
    let (mut accepted, _) = server.accept().unwrap();
    client.write_all(&[7u8; 5000]).unwrap();
    let mut got = vec![0u8; 5000];
    accepted.read_exact(&mut got).unwrap();
    accepted.write_all(b"bye").unwrap();
    let mut bye = [0u8; 3];
    client.read_exact(&mut bye).unwrap();
    drop(client);
    drop(accepted);

    let mine = |l: SocketAddr, r: SocketAddr| l.ip() == addr.ip() && r.ip() == addr.ip();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let (closed, _) = log.take();
        seen.extend(
            closed
                .into_iter()
                .filter(|c| mine(c.socket.local.unwrap(), c.socket.remote.unwrap())),
        );
        if seen.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let server_side = seen
        .iter()
        .find(|c| c.socket.local == Some(addr) && c.socket.remote == Some(client_addr))
        .unwrap_or_else(|| panic!("no destroy event of the accepted socket in {seen:#?}"));
    assert_eq!(server_side.socket.proto, Proto::Tcp);
    let info = server_side
        .socket
        .tcp_info
        .as_ref()
        .expect("final tcp_info");
    // The peer's FIN counts as one byte received once it arrived.
    assert!((5000..=5001).contains(&info.bytes_received), "{info:?}");
    assert_eq!(info.bytes_sent, 3);
    let client_side = seen
        .iter()
        .find(|c| c.socket.local == Some(client_addr))
        .expect("the client's socket");
    assert_eq!(
        client_side.socket.tcp_info.as_ref().unwrap().bytes_sent,
        5000
    );
    // The kernel destroys a socket once it is closed for good.
    assert_eq!(server_side.socket.state, TcpState::Close);
}

/// A client bound to the server's own address, so the connection is all ours.
fn connect_from(server: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(server.ip(), 0).into())
        .unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

proptest::proptest! {
    /// Whatever a datagram holds, parsing it ends without a panic.
    #[test]
    fn any_datagram_parses_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let _ = sockscope::collect::netlink::destroyed::parse_datagram(&bytes);
        let _ = sockscope::collect::netlink::destroyed::destroyed_socket(&bytes);
    }
}
