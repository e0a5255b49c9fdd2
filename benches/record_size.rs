//! What a recording costs on disk: 10k sockets, 50 socket changes a second (10
//! connections open, 10 close with their destroy events, 10 change state), one
//! snapshot a second, for a simulated hour. Run by hand, never as a timed test:
//!
//!     cargo bench --bench record_size            # one hour
//!     cargo bench --bench record_size -- 600     # another length, in seconds
//!
//! Goal (issue 18): at most 5 MB per hour.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sockscope::model::{
    Closed, Family, Owner, ProcessInfo, Proto, Snapshot, Socket, TcpInfo, TcpState,
};
use sockscope::record::Writer;
use sockscope::record::format::Meta;

const SOCKETS: usize = 10_000;
const PER_SECOND: usize = 10;

struct Host {
    owners: Vec<Owner>,
    /// Connections by client port; each is two sockets.
    next_port: u32,
    next_inode: u64,
    conns: std::collections::VecDeque<(u32, [Socket; 2])>,
}

impl Host {
    fn connection(&mut self, state: TcpState) -> (u32, [Socket; 2]) {
        let port = self.next_port;
        self.next_port += 1;
        let server: SocketAddr = ([10, 0, 0, 1], 443).into();
        let client: SocketAddr =
            ([10, 1, (port >> 16) as u8, 2], (port & 0xffff) as u16 | 1).into();
        let owner = self.owners[port as usize % self.owners.len()].clone();
        let mut make = |local, remote| {
            self.next_inode += 1;
            Socket {
                inode: self.next_inode,
                uid: 33,
                processes: vec![owner.clone()].into(),
                tcp_info: Some(Box::new(TcpInfo {
                    rtt_us: 200 + port % 50,
                    cwnd: 10,
                    mss: 1448,
                    ssthresh: 0x7fff_ffff,
                    bytes_acked: 1000 + u64::from(port % 5000),
                    bytes_received: 300 + u64::from(port % 700),
                    ..TcpInfo::default()
                })),
                ..Socket::inet(Proto::Tcp, Family::Ipv4, state, local, remote)
            }
        };
        (port, [make(server, client), make(client, server)])
    }

    fn snapshot(&self, at: SystemTime, closed: Vec<Closed>) -> Snapshot {
        let mut sockets: Vec<Socket> = self
            .conns
            .iter()
            .flat_map(|(_, pair)| pair.iter().cloned())
            .collect();
        sockets.sort_unstable_by(|a, b| a.display_order(b));
        Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: at,
            closed,
        }
    }
}

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3600);
    let owners = (0..10)
        .map(|i| Owner {
            pid: 2000 + i,
            fd: 3,
            process: Arc::new(ProcessInfo {
                comm: Arc::from(format!("worker-{i}")),
                uid: 33,
                user: Arc::from("www-data"),
                container: None,
            }),
        })
        .collect();
    let mut host = Host {
        owners,
        next_port: 1,
        next_inode: 100_000,
        conns: Default::default(),
    };
    for _ in 0..SOCKETS / 2 {
        let c = host.connection(TcpState::Established);
        host.conns.push_back(c);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.rec");
    let start = SystemTime::now();
    let meta = Meta {
        started_ms: sockscope::record::millis(start),
        interval_ms: 1000,
        hostname: "bench".into(),
        filter: String::new(),
    };
    let mut writer = Writer::create(&path, &meta).unwrap();
    let clock = Instant::now();
    for second in 0..secs {
        let at = start + Duration::from_secs(second);
        let mut closed = Vec::new();
        if second > 0 {
            // 10 close (20 sockets gone, each in the destroy log), 10 open (20 new),
            // 10 sockets change state: 50 changes.
            for _ in 0..PER_SECOND {
                let (_, pair) = host.conns.pop_front().unwrap();
                for s in pair {
                    closed.push(Closed {
                        at: at - Duration::from_millis(300),
                        socket: Socket {
                            inode: 0,
                            processes: Default::default(),
                            state: TcpState::Close,
                            ..s
                        },
                    });
                }
                let c = host.connection(TcpState::Established);
                host.conns.push_back(c);
            }
            for k in 0..PER_SECOND {
                let i = (second as usize * 37 + k * 101) % host.conns.len();
                let s = &mut host.conns[i].1[0];
                s.state = match s.state {
                    TcpState::Established => TcpState::CloseWait,
                    _ => TcpState::Established,
                };
            }
        }
        writer.write(&host.snapshot(at, closed)).unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    let per_hour = bytes as f64 * 3600.0 / secs as f64;
    println!(
        "{secs} s of {SOCKETS} sockets, 50 changes/s: {bytes} bytes, {:.2} MB per hour \
         (goal 5 MB); {:.1} ms CPU per snapshot",
        per_hour / 1e6,
        clock.elapsed().as_secs_f64() * 1000.0 / secs as f64
    );
    // And it reads back, to its last snapshot.
    let mut replay = sockscope::record::Replay::open(&path).unwrap();
    let last = replay.snapshot_at(replay.recording.len() - 1).unwrap();
    assert_eq!(last.sockets.len(), SOCKETS);
}
