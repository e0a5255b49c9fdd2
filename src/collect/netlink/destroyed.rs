//! The closed-connection log: sock_diag's destroy multicast groups (what `ss -E` reads).
//!
//! The kernel broadcasts every TCP and UDP socket it destroys, with its final tcp_info,
//! as it happens; a connection that lived 20 ms between two refreshes is there too.
//! Anyone may join the groups on current kernels (the sock_diag netlink family allows
//! unprivileged receivers); where joining is refused, that is said instead.
//!
//! A thread reads the broadcast socket and hands each destroyed socket to a bounded
//! queue: under a flood (a retry storm closing 100k connections a second) the queue
//! stays at `QUEUE_CAP` and what does not fit is counted, never kept. The queue holds
//! memory for what is in it only (a channel that grows and gives back in small blocks,
//! its length counted beside it): a `sync_channel` would take room for all of
//! `QUEUE_CAP` at once, ~5 MB that 1,000 closes a second soon make resident. The kernel's own
//! socket buffer can overrun as well (ENOBUFS); that loss is counted too, as one event
//! of unknown size.
//!
//! The messages are those of an inet_diag dump, so `super::inet_socket` parses them.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, SystemTime};

use anyhow::{Result, anyhow};
use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NlasIterator};
use netlink_packet_sock_diag::constants::{IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY};
use netlink_sys::{Socket as NlSocket, protocols::NETLINK_SOCK_DIAG};

use super::parse::INET_DIAG_PROTOCOL;
use super::{INET_MSG_LEN, inet_socket};
use crate::model::{Closed, Proto, Socket};

/// SKNLGRP_INET_TCP_DESTROY, INET_UDP_DESTROY, INET6_TCP_DESTROY, INET6_UDP_DESTROY
/// (include/uapi/linux/sock_diag.h).
const GROUPS: [u32; 4] = [1, 2, 3, 4];
/// Closed sockets kept between two snapshots: ~350 bytes each (the socket and its
/// tcp_info), so a full queue is about 7 MB.
pub const QUEUE_CAP: usize = 20_000;
/// The kernel-side buffer asked for; a burst between two reads of the thread waits here.
const RCVBUF: usize = 4 << 20;
/// How often the reading thread looks whether it is still wanted.
const POLL: Duration = Duration::from_millis(200);

/// What is said where the log is not kept; the reason follows.
pub const NO_LOG: &str = "short-lived connections can be missed (no closed-connection log)";
/// What `watch` and `record` say with `--pid`, where the log is off.
pub const PIDS_NO_LOG: &str = "short-lived connections can be missed (no closed-connection \
     log): with --pid only snapshot diffs are seen";

/// A running subscription. Dropping it stops the thread (within `POLL`).
pub struct Destroyed {
    queue: Receiver<Closed>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Closed sockets that did not fit in the queue, or were lost to a kernel overrun
    /// (each overrun counts one: the kernel does not say how many).
    dropped: AtomicU64,
    /// Sockets in the queue: sent and not yet taken.
    queued: AtomicUsize,
    stop: AtomicBool,
}

impl Destroyed {
    /// Joins the groups. Fails (EPERM) without CAP_NET_ADMIN, or where sock_diag is
    /// unavailable.
    pub fn open() -> io::Result<Destroyed> {
        let mut socket = NlSocket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        for group in GROUPS {
            socket.add_membership(group)?;
        }
        // Best effort: a smaller buffer only overruns sooner, and that is counted.
        let _ = socket.set_rx_buf_sz(RCVBUF);
        socket2::SockRef::from(&socket).set_read_timeout(Some(POLL))?;
        let (to_queue, queue) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let reader = Arc::clone(&shared);
        thread::Builder::new()
            .name("closed-log".into())
            .spawn(move || read_loop(&socket, &to_queue, &reader))?;
        Ok(Destroyed { queue, shared })
    }

    /// Every socket destroyed since the last call, oldest first, and how many were
    /// dropped meanwhile.
    pub fn take(&mut self) -> (Vec<Closed>, u64) {
        (
            self.take_closed(),
            self.shared.dropped.swap(0, Ordering::Relaxed),
        )
    }

    /// The sockets alone; what was dropped is told by the next `take`.
    pub fn take_closed(&mut self) -> Vec<Closed> {
        let taken: Vec<Closed> = self.queue.try_iter().collect();
        self.shared.queued.fetch_sub(taken.len(), Ordering::Relaxed);
        taken
    }
}

impl Drop for Destroyed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Whether a source keeps the closed-connection log, as `collect::System` holds it.
#[derive(Default)]
pub enum ClosedLog {
    /// Not asked for (`list` needs no history).
    #[default]
    Off,
    On(Destroyed),
    /// Asked for and not possible; the text says why, in every snapshot's warnings.
    Unavailable(String),
}

impl ClosedLog {
    /// Subscribes, or says why not.
    pub fn start() -> ClosedLog {
        match Destroyed::open() {
            Ok(log) => ClosedLog::On(log),
            // Joining is open to all on kernels since 4.x; an LSM or an old kernel
            // may still refuse.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => ClosedLog::unavailable(
                "joining sock_diag's destroy groups needs root or CAP_NET_ADMIN here",
            ),
            Err(e) => ClosedLog::unavailable(&format!("sock_diag destroy events: {e}")),
        }
    }

    /// Off, saying `why` with every snapshot.
    pub fn unavailable(why: &str) -> ClosedLog {
        ClosedLog::Unavailable(format!("{NO_LOG}: {why}"))
    }

    /// What closed since the last call, between snapshots (see `Source::take_closed`).
    pub fn take_closed(&mut self) -> Vec<Closed> {
        match self {
            ClosedLog::On(log) => log.take_closed(),
            _ => Vec::new(),
        }
    }

    /// What closed since the last call; what could not be kept is said in `warnings`.
    pub fn take(&mut self, warnings: &mut Vec<String>) -> Vec<Closed> {
        match self {
            ClosedLog::Off => Vec::new(),
            ClosedLog::Unavailable(why) => {
                warnings.push(why.clone());
                Vec::new()
            }
            ClosedLog::On(log) => {
                let (closed, dropped) = log.take();
                if dropped > 0 {
                    warnings.push(format!(
                        "{dropped} closed connections were not logged: more closed between \
                         two refreshes than the log keeps ({QUEUE_CAP})"
                    ));
                }
                closed
            }
        }
    }
}

fn read_loop(socket: &NlSocket, queue: &Sender<Closed>, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::Relaxed) {
        let len = match socket.recv(&mut &mut buf[..], 0) {
            Ok(len) => len.min(buf.len()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // ENOBUFS: the kernel dropped broadcasts it could not queue for us.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(_) => return,
        };
        let at = SystemTime::now();
        for socket in parse_datagram(&buf[..len]) {
            // Counted before it is sent, so the taker never counts it down first.
            if shared.queued.fetch_add(1, Ordering::Relaxed) >= QUEUE_CAP {
                shared.queued.fetch_sub(1, Ordering::Relaxed);
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if queue.send(Closed { at, socket }).is_err() {
                return;
            }
        }
    }
}

/// The destroyed sockets in one datagram; malformed messages are skipped. Pure and
/// public, so the parser fuzz test can feed it arbitrary bytes.
pub fn parse_datagram(mut rest: &[u8]) -> Vec<Socket> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Ok(msg) = NetlinkBuffer::new_checked(rest) else {
            break;
        };
        let msg_len = msg.length() as usize;
        if msg_len < 16 {
            break; // a header that claims less than itself would never advance
        }
        match msg.message_type() {
            NLMSG_DONE | NLMSG_ERROR => {}
            SOCK_DIAG_BY_FAMILY => {
                if let Ok(socket) = destroyed_socket(msg.payload()) {
                    out.push(socket);
                }
            }
            _ => {}
        }
        rest = rest.get(msg_len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}

/// One broadcast `inet_diag_msg`: its protocol is in INET_DIAG_PROTOCOL (the dump
/// replies carry it implicitly, from the request).
pub fn destroyed_socket(payload: &[u8]) -> Result<Socket> {
    let attrs = payload
        .get(INET_MSG_LEN..)
        .ok_or_else(|| anyhow!("short inet_diag message"))?;
    let mut protocol = None;
    for nla in NlasIterator::new(attrs) {
        let nla = nla.map_err(|e| anyhow!("{e}"))?;
        if nla.kind() == INET_DIAG_PROTOCOL {
            protocol = nla.value().first().copied();
        }
    }
    let proto = match protocol {
        Some(IPPROTO_TCP) => Proto::Tcp,
        Some(IPPROTO_UDP) => Proto::Udp,
        Some(p) => return Err(anyhow!("protocol {p} is not TCP or UDP")),
        None => return Err(anyhow!("no INET_DIAG_PROTOCOL attribute")),
    };
    inet_socket(proto, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gives_nothing_and_no_panic() {
        assert!(parse_datagram(&[]).is_empty());
        assert!(parse_datagram(&[1, 2, 3]).is_empty());
        assert!(parse_datagram(&[255; 100]).is_empty());
        assert!(destroyed_socket(&[2; 80]).is_err());
    }
}
