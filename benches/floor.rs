//! The floor: the least work that answers "which process holds which TCP socket", written
//! by hand so `scripts/bench.sh` can put `sockscope list` beside it. One sock_diag dump
//! of TCP over IPv4 and IPv6 (with tcp_info, which `list` shows), read for the inode
//! alone, beside a walk of every /proc/<pid>/fd on two threads (readlinkat into a stack
//! buffer), then the join: a hash lookup per socket. Nothing is printed per socket.
//!
//!     cargo bench --bench floor                 # one run, its figures on stdout
//!     target/release/deps/floor-HASH            # what bench.sh times, as a process
//!     ... floor --readdir                       # the fd directories listed, no readlink
//!     ... floor --stat                          # one stat of each fd directory, no more
//!
//! `--readdir` and `--stat` are what an incremental refresh (src/collect/fd_cache.rs)
//! pays per process where a full walk pays a readlink per fd: the README's figures.
//! Linux only, root to see every process.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::fs::{CWD, Dir, Mode, OFlags, openat, readlinkat_raw};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// INET_DIAG_INFO (2) as an extension bit: 1 << (2 - 1).
const EXT_INFO: u8 = 2;
/// Where the inode sits in a message: the 16-byte header, then inet_diag_msg's 72.
const INODE_AT: usize = 16 + 68;

#[derive(Clone, Copy, PartialEq)]
enum Measure {
    Full,
    Readdir,
    Stat,
}

fn main() {
    let mut mode = Measure::Full;
    let mut threads = 2;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--readdir" => mode = Measure::Readdir,
            "--stat" => mode = Measure::Stat,
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| fail("--threads takes a number > 0"))
            }
            "--bench" => {} // cargo bench passes it
            other => fail(&format!("unknown argument: {other}")),
        }
    }
    let started = Instant::now();
    let (inodes, (owned, fds)) = thread::scope(|s| {
        let walker = s.spawn(|| walk(threads, mode));
        let inodes = dump().unwrap_or_else(|e| fail(&format!("netlink: {e}")));
        (inodes, walker.join().expect("walk"))
    });
    let joined = inodes.iter().filter(|i| owned.contains_key(i)).count();
    println!(
        "floor: {} TCP sockets, {} fds seen, {} sockets with an owner, {:.3} s",
        inodes.len(),
        fds,
        joined,
        started.elapsed().as_secs_f64()
    );
}

fn fail(why: &str) -> ! {
    eprintln!("floor: {why}");
    std::process::exit(2)
}

/// Every TCP socket's inode, IPv4 then IPv6, in every state.
fn dump() -> std::io::Result<Vec<u32>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut inodes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for (seq, family) in [AF_INET, AF_INET6].into_iter().enumerate() {
        // nlmsghdr, then inet_diag_req_v2: family, protocol, ext, pad, states, a zero id.
        let mut req = Vec::with_capacity(72);
        req.extend_from_slice(&72u32.to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&(seq as u32 + 1).to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&[family, IPPROTO_TCP, EXT_INFO, 0]);
        req.extend_from_slice(&((1u32 << 13) - 1).to_ne_bytes());
        req.resize(72, 0);
        socket.send(&req, 0)?;
        'dump: loop {
            let n = socket.recv(&mut &mut buf[..], 0)?;
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap());
                if len < 16 || at + len > n {
                    break;
                }
                match kind {
                    NLMSG_DONE => break 'dump,
                    NLMSG_ERROR => return Err(std::io::Error::other("dump refused")),
                    _ if len >= INODE_AT + 4 => {
                        let inode = &buf[at + INODE_AT..at + INODE_AT + 4];
                        inodes.push(u32::from_ne_bytes(inode.try_into().unwrap()));
                    }
                    _ => {}
                }
                at += (len + 3) & !3;
            }
        }
    }
    Ok(inodes)
}

/// Every process's fds on `threads` threads: inode -> (pid, fd), and how many fds.
fn walk(threads: usize, mode: Measure) -> (HashMap<u32, (u32, u32)>, usize) {
    let pids: Vec<u32> = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let next = AtomicUsize::new(0);
    let parts: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut found = HashMap::new();
                    let mut fds = 0;
                    while let Some(&pid) = pids.get(next.fetch_add(1, Ordering::Relaxed)) {
                        fds += walk_one(pid, mode, &mut found);
                    }
                    (found, fds)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("walker"))
            .collect()
    });
    let mut all = HashMap::new();
    let mut fds = 0;
    for (found, n) in parts {
        all.extend(found);
        fds += n;
    }
    (all, fds)
}

fn walk_one(pid: u32, mode: Measure, found: &mut HashMap<u32, (u32, u32)>) -> usize {
    let path = format!("/proc/{pid}/fd");
    if mode == Measure::Stat {
        return fs::metadata(&path).map_or(0, |m| m.size() as usize);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(dir_fd) = openat(CWD, &path, flags, Mode::empty()) else {
        return 0;
    };
    let Ok(mut dir) = Dir::new(dir_fd) else {
        return 0;
    };
    let mut fds = 0;
    let mut link = [0u8; 64];
    while let Some(Ok(entry)) = dir.read() {
        let name = entry.file_name();
        let Some(fd) = name.to_str().ok().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        fds += 1;
        if mode == Measure::Readdir {
            continue;
        }
        let Ok(at) = dir.fd() else { break };
        let Ok(len) = readlinkat_raw(at, name, &mut link[..]) else {
            continue;
        };
        let target = &link[..len.min(64)];
        if let Some(digits) = target
            .strip_prefix(b"socket:[")
            .and_then(|t| t.strip_suffix(b"]"))
            && let Some(inode) = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
        {
            found.insert(inode, (pid, fd));
        }
    }
    fds
}
