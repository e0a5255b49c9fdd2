//! Rates from real tcp_info counters: bytes moved over loopback between two netlink
//! snapshots show up as the Tracker's rate for that socket.

mod common;
use common::netns::OwnAddr;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};

use sockscope::collect::{Scope, Source, System, Tables};
use sockscope::model::{Proto, TcpState};
use sockscope::track::{TrackConfig, Tracker};

#[test]
fn bytes_sent_over_loopback_give_a_rate() {
    // A loopback address of our own: other tests reuse these port numbers elsewhere.
    let own = OwnAddr::new();
    let listener = TcpListener::bind(own.any_port()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let (client_port, server_port) = (
        client.local_addr().unwrap().port(),
        server.local_addr().unwrap().port(),
    );

    let mut source = System::new("/proc", Scope::Pids(vec![std::process::id()]))
        .unwrap()
        .with_tables(Tables::Netlink)
        .unwrap();
    let mut tracker = Tracker::new(TrackConfig::default());
    tracker.observe(&source.snapshot().unwrap());

    // 256 KiB from client to server, all read, so it is all acknowledged.
    const BYTES: usize = 256 * 1024;
    let writer = std::thread::spawn(move || {
        let mut client = client;
        client.write_all(&vec![7u8; BYTES]).unwrap();
        client
    });
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < BYTES {
        let n = server.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed early");
        got += n;
    }
    let _client = writer.join().unwrap();
    // Time must pass between the snapshots for a rate (they carry wall-clock times).
    std::thread::sleep(std::time::Duration::from_millis(20));
    tracker.observe(&source.snapshot().unwrap());

    let find = |local: u16, remote: u16| {
        tracker
            .live()
            .find(|h| {
                let ours =
                    |a: Option<std::net::SocketAddr>| a.map(|a| a.ip()) == Some(IpAddr::V4(own.ip));
                h.socket().proto == Proto::Tcp
                    && (ours(h.socket().local) || ours(h.socket().remote))
                    && h.socket().state == TcpState::Established
                    && h.socket().local.map(|a| a.port()) == Some(local)
                    && h.socket().remote.map(|a| a.port()) == Some(remote)
            })
            .expect("the connection is tracked")
    };
    let sent = find(client_port, server_port)
        .rate()
        .expect("a client rate");
    let received = find(server_port, client_port)
        .rate()
        .expect("a server rate");
    assert!(sent.tx_per_sec > 0.0, "client tx {sent:?}");
    assert!(received.rx_per_sec > 0.0, "server rx {received:?}");
    // Nothing went the other way.
    assert_eq!(received.tx_per_sec, 0.0, "{received:?}");
}
