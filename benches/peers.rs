//! `collect::peers::resolve` alone on N synthetic loopback connections (both ends of
//! each, owned, in a scattered order as a dump gives them): median and worst of R
//! runs in ms. `cargo bench --bench peers [-- N[,N...] [R]]` (default 200000,1000000
//! and 5 runs). What `list` pays to find every connection's other end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sockscope::collect::peers;
use sockscope::model::{Family, Owner, ProcessInfo, Proto, Socket, TcpState};

fn sockets(n: usize) -> Vec<Socket> {
    let owners: Vec<Owner> = (0..100u32)
        .map(|i| Owner {
            pid: 1000 + i,
            fd: 3,
            process: Arc::new(ProcessInfo {
                comm: Arc::from(format!("loadgen-{i}")),
                uid: 0,
                user: Arc::from("root"),
                container: None,
            }),
        })
        .collect();
    let server: SocketAddr = ([127, 0, 0, 1], 5000).into();
    let mut out = Vec::with_capacity(n);
    for i in 0..n / 2 {
        let client: SocketAddr =
            ([127, 0, (i / 60_000) as u8, 2], (1024 + i % 60_000) as u16).into();
        let owner = &owners[i % owners.len()];
        for (j, (local, remote)) in [(client, server), (server, client)].into_iter().enumerate() {
            out.push(Socket {
                inode: (2 * i + j) as u64 + 1,
                processes: vec![owner.clone()].into(),
                ..Socket::inet(
                    Proto::Tcp,
                    Family::Ipv4,
                    TcpState::Established,
                    local,
                    remote,
                )
            });
        }
    }
    // A dump lists sockets by hash bucket: the two ends of a connection lie far apart.
    out.sort_unstable_by_key(|s| s.inode.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sizes: Vec<usize> = match args.first() {
        Some(s) => s.split(',').filter_map(|n| n.parse().ok()).collect(),
        None => vec![200_000, 1_000_000],
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    for n in sizes {
        let mut sockets = sockets(n);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            sockets.iter_mut().for_each(|s| s.peer = None);
            let t = Instant::now();
            peers::resolve(&mut sockets);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let found = sockets.iter().filter(|s| s.peer.is_some()).count();
        assert_eq!(found, n / 2 * 2, "every socket has its other end");
        times.sort_by(f64::total_cmp);
        println!(
            "peers::resolve at {n} sockets: {:.1} ms median, {:.1} ms worst ({runs} runs)",
            times[runs / 2],
            times[runs - 1]
        );
    }
}
