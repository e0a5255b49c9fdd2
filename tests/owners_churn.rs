//! The fd walk kept between refreshes (collect/fd_cache.rs) under churn: real processes
//! open, close, pass (SCM_RIGHTS), dup and fork sockets (tests/owners_churn/agent.py)
//! while a `System` with incremental owners refreshes, also in the middle of the churn.
//! At each quiet moment its snapshot's owners of our processes' sockets must equal those
//! of a one-shot snapshot (a full walk by the other walker, owners::walk) taken at once.
//!
//! What the agent leaves out, on purpose: two ops on one process between two quiet
//! moments (each worker does one op per step) whose fd-count changes cancel out while no
//! inode is born or dies (say it closes a pipe and receives a socket another process
//! holds). No fd count and no dump can see
//! that; fd_cache.rs says so, and its full walk at a bounded period is what corrects it
//! (`periodic_full_walk_corrects_a_count_preserving_swap` below shows it doing so).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::need::{self, Need};
use common::netns::OwnAddr;
use sockscope::collect::fd_cache::FullWalks;
use sockscope::collect::{PROC, Scope, Source, System};
use sockscope::model::Snapshot;

const STEPS: usize = 20;
/// `CHURN_SEED=N` runs another sequence (the failure message names the seed).
fn seed() -> u64 {
    std::env::var("CHURN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(21)
}
/// Long enough for a loaded machine; a step takes milliseconds.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// The agent, killed on drop (its workers exit when it does: their control pairs close).
struct Agent {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Agent {
    fn start(ip: &str) -> Agent {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/owners_churn/agent.py");
        let mut child = Command::new("python3")
            .args([script, ip, &seed().to_string(), &STEPS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Agent {
            child,
            stdin,
            lines,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(LINE_TIMEOUT)
            .expect("the churn agent said nothing for 60 s (or died)")
    }

    fn go(&mut self) {
        writeln!(self.stdin, "go").expect("tell the agent to go on");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// inode -> (pid, fd, comm, uid) of every owner, for the sockets any of `ours` holds.
type Held = BTreeMap<u64, Vec<(u32, u32, String, u32)>>;

fn held_by(snapshot: &Snapshot, ours: &[u32]) -> Held {
    snapshot
        .sockets
        .iter()
        .filter(|s| s.inode != 0 && s.processes.iter().any(|o| ours.contains(&o.pid)))
        .map(|s| {
            let owners = s
                .processes
                .iter()
                .map(|o| (o.pid, o.fd, o.process.comm.to_string(), o.process.uid))
                .collect();
            (s.inode, owners)
        })
        .collect()
}

#[test]
fn incremental_owners_match_a_full_walk_under_churn() {
    if !need::met(&[Need::Root]) {
        return;
    }
    let addr = OwnAddr::new();
    // No full walk by period: every refresh after the first is incremental (unless
    // one cannot settle, which this counts).
    let period = FullWalks {
        every: u32::MAX,
        after: Duration::from_secs(24 * 3600),
    };
    let mut incremental = System::new(PROC, Scope::Host)
        .expect("a system source")
        .with_full_walks(period);
    let mut agent = Agent::start(&addr.text());
    let (mut compared, mut sockets_seen, mut partial, mut wider, mut full) = (0, 0, 0, 0, 0);
    let mut refreshes = 0;
    loop {
        let line = agent.line();
        if line == "done" {
            break;
        }
        // Mid-churn: the agent is still at work; nothing to compare, the cache must
        // come through it.
        let snapshot = incremental.snapshot().expect("an incremental snapshot");
        refreshes += 1;
        let done = incremental
            .owner_refresh()
            .expect("owners kept between refreshes");
        if refreshes == 2 && done.full {
            need::cannot("this kernel does not count fds in /proc/PID/fd's size (Linux 6.2+)");
            return;
        }
        full += usize::from(done.full);
        wider += usize::from(done.wider);
        partial += usize::from(!done.full && done.listed < done.processes);
        let Some(pids) = line.strip_prefix("ready ") else {
            assert_eq!(line, "mid", "unexpected line from the agent");
            continue;
        };
        let ours: Vec<u32> = pids.split(' ').map(|p| p.parse().unwrap()).collect();
        let oneshot = System::new(PROC, Scope::Host)
            .and_then(|mut s| s.snapshot())
            .expect("a one-shot snapshot");
        let (got, want) = (held_by(&snapshot, &ours), held_by(&oneshot, &ours));
        if got != want {
            let diff: Vec<String> = got
                .keys()
                .chain(want.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|i| got.get(i) != want.get(i))
                .map(|i| {
                    format!(
                        "inode {i}: incremental {:?}, full {:?}",
                        got.get(i),
                        want.get(i)
                    )
                })
                .collect();
            panic!(
                "step {compared} (seed {}, last refresh {done:?}): owners differ:\n{}",
                seed(),
                diff.join("\n")
            );
        }
        sockets_seen += got.len();
        compared += 1;
        agent.go();
    }
    assert_eq!(compared, STEPS, "the agent ended early");
    // The comparisons meant something: our sockets were there, and the refreshes were
    // incremental (listing part of the processes), some of them walking wider.
    assert!(
        sockets_seen > STEPS,
        "our processes held few sockets: {sockets_seen}"
    );
    assert!(
        full <= 2,
        "{full} of {refreshes} refreshes fell back to a full walk"
    );
    assert!(
        partial >= STEPS,
        "only {partial} refreshes listed fewer than all processes"
    );
    assert!(
        wider > 0,
        "no refresh walked wider (the agent's swaps should make some)"
    );
}

/// The blind spot, and what bounds it: a process closes a pipe and receives a socket
/// another process holds, so its fd count stays and no inode is born or dies. The
/// next full walk (here every second refresh) finds it, and matches a one-shot walk.
#[test]
fn periodic_full_walk_corrects_a_count_preserving_swap() {
    if !need::met(&[Need::Root]) {
        return;
    }
    let addr = OwnAddr::new();
    // The parent holds a UDP socket on our address; the child holds a pipe. On "swap"
    // the child closes its pipe and receives the parent's socket (the parent keeps it).
    let script = r#"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0))
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
pid = os.fork()
if pid == 0:
    a.close(); s.close(); r, w = os.pipe()
    b.recv(1); os.close(r)
    socket.recv_fds(b, 1, 1); b.send(b"k"); b.recv(1); os._exit(0)
b.close()
print("ready", pid, flush=True)
sys.stdin.readline()
a.send(b"x"); socket.send_fds(a, [b"y"], [s.fileno()]); a.recv(1)
print("swapped", flush=True)
sys.stdin.readline()
a.send(b"q"); os.waitpid(pid, 0)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &addr.text()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let child = common::StopOnDrop(child);
    let mut line = String::new();
    out.read_line(&mut line).expect("the script's first line");
    let forked: u32 = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {line:?}"));
    let ours = [child.0.id(), forked];
    let period = FullWalks {
        every: 2,
        after: Duration::from_secs(24 * 3600),
    };
    let mut incremental = System::new(PROC, Scope::Host)
        .expect("a system source")
        .with_full_walks(period);
    incremental.snapshot().expect("the first (full) snapshot");
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "swapped");
    let blind = incremental.snapshot().expect("an incremental snapshot");
    let done = incremental.owner_refresh().unwrap();
    if done.full {
        need::cannot("this kernel does not count fds in /proc/PID/fd's size (Linux 6.2+)");
        return;
    }
    let corrected = incremental.snapshot().expect("a full snapshot");
    assert!(
        incremental.owner_refresh().unwrap().full,
        "every 2nd refresh is full"
    );
    let oneshot = System::new(PROC, Scope::Host)
        .and_then(|mut s| s.snapshot())
        .unwrap();
    let want = held_by(&oneshot, &ours);
    assert_eq!(held_by(&corrected, &ours), want);
    // The received socket is held by both, fd count unchanged in the child.
    assert!(
        want.values().any(|o| o.iter().any(|h| h.0 == forked)),
        "the child should hold the parent's socket: {want:?}"
    );
    need::say(&format!(
        "{}: between full walks the swap was {}",
        need::test_name(),
        if held_by(&blind, &ours) == want {
            "seen anyway"
        } else {
            "not seen (as documented)"
        }
    ));
    writeln!(stdin, "go").unwrap();
    drop(child);
}
