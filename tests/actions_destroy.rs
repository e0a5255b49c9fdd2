//! SOCK_DESTROY through the library, on this test's own loopback connection
//! (its own address, `OwnAddr`): the cookie from the dump names exactly one socket, so a stale one
//! destroys nothing, and a socket already gone is said to be.

mod common;
use common::netns::OwnAddr;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU64;
use std::time::Duration;

use sockscope::act::{self, Caller, Outcome};
use sockscope::collect::netlink::Netlink;
use sockscope::model::{Proto, Socket};

/// Our connection's client end as a netlink dump reports it.
fn dumped(client: &TcpStream) -> Socket {
    let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let sockets = Netlink::open().unwrap().read_all().unwrap();
    sockets
        .into_iter()
        .find(|s| s.proto == Proto::Tcp && s.local == Some(local) && s.remote == Some(remote))
        .expect("the client end is in the dump")
}

#[test]
fn the_cookie_names_one_socket() {
    // Closing sockets needs CAP_NET_ADMIN.
    if !common::need::met(&[common::need::Need::Root]) {
        return;
    }
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let socket = dumped(&client);
    let id = socket.diag_id.expect("netlink gives a cookie");
    let caller = Caller::current();
    let mut destroyer = act::Destroyers::default();

    // The same endpoints with another cookie: a different socket, left alone (the
    // kernel answers ENOENT, or ESTALE on older ones: gone, either way).
    let mut stale = socket.clone();
    stale.diag_id = Some(sockscope::model::DiagId {
        cookie: NonZeroU64::new(id.cookie.get() ^ 1).expect("not the boot's first socket"),
        ..id
    });
    let outcome = act::close(&stale, &caller, &mut destroyer);
    assert!(matches!(&outcome, Outcome::Gone(_)), "{outcome:?}");
    client.write_all(b"x").unwrap();
    server.read_exact(&mut [0]).unwrap();

    // The right one is destroyed: its holder's next read fails, ECONNABORTED.
    assert_eq!(act::close(&socket, &caller, &mut destroyer), Outcome::Done);
    let err = client.read(&mut [0; 4]).expect_err("destroyed");
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted, "{err:?}");
    // Again: nothing left to close.
    let again = act::close(&socket, &caller, &mut destroyer);
    assert!(
        matches!(&again, Outcome::Gone(why) if why == "the socket is already gone"),
        "{again:?}"
    );
}
