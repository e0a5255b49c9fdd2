//! The recording reader fed damaged files: cut, flipped or foreign bytes give an error
//! or fewer snapshots, never a panic; an undamaged file gives back what was written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use sockscope::model::{
    Closed, Family, Owner, ProcessInfo, Proto, Snapshot, Socket, SocketType, TcpInfo, TcpState,
};
use sockscope::record::format::Meta;
use sockscope::record::{Recording, Replay, Writer};

fn socket(seed: u32) -> Socket {
    let state = TcpState::ALL[seed as usize % TcpState::ALL.len()];
    if seed.is_multiple_of(5) {
        return Socket::unix(
            SocketType::Stream,
            state,
            Some(format!("/run/s{seed}\n")),
            u64::from(seed),
        );
    }
    let local: SocketAddr = ([127, 0, (seed >> 8) as u8, seed as u8], 80).into();
    let remote: SocketAddr = ([127, 0, 0, 1], (seed % 60_000) as u16 + 1024).into();
    Socket {
        inode: u64::from(seed) + 1,
        recv_q: seed % 7,
        processes: vec![Owner {
            pid: seed % 100 + 1,
            fd: 3,
            process: Arc::new(ProcessInfo {
                comm: Arc::from("app"),
                uid: 0,
                user: Arc::from("root"),
                container: None,
            }),
        }]
        .into(),
        tcp_info: seed.is_multiple_of(2).then(|| {
            Box::new(TcpInfo {
                bytes_received: u64::from(seed) * 1000,
                ..TcpInfo::default()
            })
        }),
        ..Socket::inet(Proto::Tcp, Family::Ipv4, state, local, remote)
    }
}

/// Snapshots of the given socket seeds, one a second, with a destroyed socket each.
fn recording(steps: &[Vec<u32>]) -> (Vec<u8>, Vec<Snapshot>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.rec");
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let meta = Meta {
        started_ms: sockscope::record::millis(start),
        interval_ms: 1000,
        hostname: "h".into(),
        filter: String::new(),
    };
    let mut writer = Writer::create(&path, &meta).unwrap();
    let mut written = Vec::new();
    for (i, seeds) in steps.iter().enumerate() {
        let at = start + Duration::from_secs(i as u64);
        let mut sockets: Vec<Socket> = seeds.iter().map(|&s| socket(s)).collect();
        sockets.sort_unstable_by(|a, b| a.display_order(b));
        let snapshot = Snapshot {
            sockets,
            warnings: vec![format!("warning {}", i / 3)],
            taken_at: at,
            closed: vec![Closed {
                at: at - Duration::from_millis(250),
                socket: socket(i as u32 * 3 + 1),
            }],
        };
        writer.write(&snapshot).unwrap();
        written.push(snapshot);
    }
    (std::fs::read(&path).unwrap(), written)
}

/// Opening and reading every snapshot; whatever happens, it returns.
fn read_all(bytes: Vec<u8>) -> Option<usize> {
    let recording = Recording::from_bytes(bytes).ok()?;
    let n = recording.len();
    let mut replay = Replay::new(recording);
    for i in (0..n).rev().chain(0..n) {
        let _ = replay.snapshot_at(i);
    }
    Some(n)
}

fn steps() -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(prop::collection::vec(0u32..400, 0..30), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn what_was_written_reads_back(steps in steps()) {
        let (bytes, written) = recording(&steps);
        let mut replay = Replay::new(Recording::from_bytes(bytes).unwrap());
        prop_assert_eq!(replay.recording.len(), written.len());
        // Backwards too: each seek rebuilds from the keyframe.
        for i in (0..written.len()).rev().chain(0..written.len()) {
            let got = replay.snapshot_at(i).unwrap();
            prop_assert_eq!(&got.sockets, &written[i].sockets);
            prop_assert_eq!(&got.warnings, &written[i].warnings);
            prop_assert_eq!(&got.closed, &written[i].closed);
            prop_assert_eq!(got.taken_at, written[i].taken_at);
        }
    }

    #[test]
    fn a_cut_file_reads_to_the_block_before_the_cut(steps in steps(), cut in 0.0f64..1.0) {
        let (bytes, written) = recording(&steps);
        let at = (bytes.len() as f64 * cut) as usize;
        if let Some(n) = read_all(bytes[..at].to_vec()) {
            prop_assert!(n <= written.len());
        }
    }

    #[test]
    fn flipped_bytes_never_panic(steps in steps(), flips in prop::collection::vec((0.0f64..1.0, 1u8..=255), 1..6)) {
        let (mut bytes, _) = recording(&steps);
        for (at, x) in flips {
            let last = bytes.len() - 1;
            let i = ((bytes.len() as f64 * at) as usize).min(last);
            bytes[i] ^= x;
        }
        let _ = read_all(bytes);
    }

    #[test]
    fn garbage_after_a_good_header_never_panics(tail in prop::collection::vec(any::<u8>(), 0..400)) {
        let (bytes, _) = recording(&[vec![1, 2, 3]]);
        let header_len = 14 + 2 + 4 + (u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize);
        let mut damaged = bytes[..header_len].to_vec();
        damaged.extend(tail);
        let _ = read_all(damaged);
    }
}
