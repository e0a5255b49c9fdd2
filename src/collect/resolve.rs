//! Reverse DNS for remote addresses (`-r`, the live view's `R`), off the caller's
//! thread: `host` answers at once from a cache, and an address not in it yet is
//! queued for a few lookup threads, so a refresh or a draw never waits on DNS. The
//! table shows the number until the name arrives.
//!
//! Lookups go through the system resolver (getnameinfo, through the `dns-lookup`
//! crate: safe Rust over libc), so /etc/hosts and nsswitch.conf are honoured as ss
//! and every other tool on the host honour them. getnameinfo cannot be cancelled, so
//! the time limit is ours: a lookup that has not answered within it counts as "no
//! name" (its late answer is dropped), and a thread stuck in one delays only the
//! lookups queued behind it. The queue is bounded: when it is full, an address is not
//! queued now and is asked again the next time it is shown. "No name" is believed for
//! two minutes, then the address is asked again (a DNS server may have been down).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::model::names::HostNames;

/// How long one lookup may take before it counts as finding no name.
pub const LIMIT: Duration = Duration::from_secs(2);
/// Lookups waiting for a thread.
const QUEUE: usize = 256;
/// Lookups at once.
const THREADS: usize = 4;
/// How long "no name" is believed.
const RETRY: Duration = Duration::from_secs(120);
/// Addresses remembered; past it the answered ones are forgotten (asked again when shown).
const CACHE: usize = 16_384;

/// A lookup: the host name of an address, or None.
pub type Lookup = fn(IpAddr) -> Option<String>;

pub struct Resolver {
    shared: Arc<Shared>,
    lookup: Lookup,
    /// The queue to the lookup threads, which start at the first address asked.
    queue: OnceLock<Option<SyncSender<IpAddr>>>,
}

struct Shared {
    cache: Mutex<HashMap<IpAddr, Entry>>,
    /// Notified at every answer (`wait`).
    answered: Condvar,
    limit: Duration,
}

#[derive(Clone, Debug)]
enum Entry {
    Queued,
    /// A thread has been asking since then.
    Looking(Instant),
    Named(Arc<str>),
    /// No name, found then: asked again after `RETRY` (the server may have been down).
    Unnamed(Instant),
}

impl Resolver {
    /// The system resolver (getnameinfo), with the usual time limit.
    pub fn system() -> Resolver {
        Resolver::new(system_lookup, LIMIT)
    }

    /// Any lookup (tests give a slow or a fake one), each given `limit`.
    pub fn new(lookup: Lookup, limit: Duration) -> Resolver {
        Resolver {
            shared: Arc::new(Shared {
                cache: Mutex::new(HashMap::new()),
                answered: Condvar::new(),
                limit,
            }),
            lookup,
            queue: OnceLock::new(),
        }
    }

    /// Queues `ip` unless it is known or queued already; never blocks. False when the
    /// queue is full (ask again later).
    pub fn ask(&self, ip: IpAddr) -> bool {
        let Some(queue) = self.queue() else {
            return false;
        };
        let mut cache = lock(&self.shared.cache);
        if cache.contains_key(&ip) {
            return true;
        }
        if cache.len() >= CACHE {
            cache.retain(|_, e| matches!(e, Entry::Queued | Entry::Looking(_)));
        }
        match queue.try_send(ip) {
            Ok(()) => {
                cache.insert(ip, Entry::Queued);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// For `list -r`: asks for every address in `ips` and waits until each has its
    /// answer (or ran out of its time limit), or `total` has passed.
    pub fn wait(&self, ips: &[IpAddr], total: Duration) {
        let deadline = Instant::now() + total;
        let mut pending = ips.to_vec();
        loop {
            // Those still without an answer, asked (again, if the queue was full).
            pending.retain(|ip| {
                let waiting = !self.settled(*ip);
                if waiting {
                    self.ask(*ip);
                }
                waiting
            });
            let now = Instant::now();
            if pending.is_empty() || now >= deadline {
                return;
            }
            // Woken by an answer, or after 50 ms to queue what did not fit; at most a
            // scan per 10 ms, however fast the answers come.
            let step = (deadline - now).min(Duration::from_millis(50));
            let cache = lock(&self.shared.cache);
            drop(self.shared.answered.wait_timeout(cache, step));
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(10)));
        }
    }

    /// Whether `ip` has its answer, or has run out of time for one.
    fn settled(&self, ip: IpAddr) -> bool {
        match lock(&self.shared.cache).get(&ip) {
            Some(Entry::Named(_) | Entry::Unnamed(_)) => true,
            Some(Entry::Looking(since)) => since.elapsed() >= self.shared.limit,
            Some(Entry::Queued) | None => false,
        }
    }

    /// The queue, starting the threads the first time; None if none could start.
    fn queue(&self) -> Option<&SyncSender<IpAddr>> {
        self.queue
            .get_or_init(|| {
                let (queue, work) = sync_channel(QUEUE);
                let work = Arc::new(Mutex::new(work));
                let mut started = 0;
                for _ in 0..THREADS {
                    let (shared, work, lookup) = (self.shared.clone(), work.clone(), self.lookup);
                    let thread = std::thread::Builder::new()
                        .name("resolver".into())
                        .spawn(move || serve(&shared, &work, lookup));
                    started += usize::from(thread.is_ok());
                }
                (started > 0).then_some(queue)
            })
            .as_ref()
    }
}

impl HostNames for Resolver {
    /// The name if known; else None, and the address is asked for.
    fn host(&self, ip: IpAddr) -> Option<Arc<str>> {
        {
            let mut cache = lock(&self.shared.cache);
            match cache.get(&ip) {
                Some(Entry::Named(name)) => return Some(name.clone()),
                Some(Entry::Unnamed(at)) if at.elapsed() >= RETRY => {
                    cache.remove(&ip);
                }
                Some(_) => return None,
                None => {}
            }
        }
        self.ask(ip);
        None
    }
}

/// A lookup thread: until the resolver is dropped, one address at a time.
fn serve(shared: &Shared, work: &Mutex<Receiver<IpAddr>>, lookup: Lookup) {
    loop {
        let next = lock(work).recv();
        let Ok(ip) = next else { return };
        let start = Instant::now();
        if let Some(entry) = lock(&shared.cache).get_mut(&ip) {
            *entry = Entry::Looking(start);
        }
        let name = lookup(ip).filter(|n| !n.is_empty());
        let entry = match name {
            Some(name) if start.elapsed() < shared.limit => Entry::Named(name.into()),
            _ => Entry::Unnamed(Instant::now()),
        };
        lock(&shared.cache).insert(ip, entry);
        shared.answered.notify_all();
    }
}

/// The distinct remote addresses of `sockets` a host name could be found for (IP
/// families, not unspecified), for `Resolver::wait`.
pub fn remote_ips(sockets: &[crate::model::Socket]) -> Vec<IpAddr> {
    use crate::model::Family;
    let mut ips: Vec<IpAddr> = sockets
        .iter()
        .filter(|s| matches!(s.family, Family::Ipv4 | Family::Ipv6))
        .filter_map(|s| s.remote.map(|a| a.ip()))
        .filter(|ip| !ip.is_unspecified())
        .collect();
    ips.sort_unstable();
    ips.dedup();
    ips
}

/// The system resolver's name for `ip` (PTR, or /etc/hosts), None when it has none.
fn system_lookup(ip: IpAddr) -> Option<String> {
    // ::ffff:1.2.3.4 is 1.2.3.4: its name is under in-addr.arpa.
    let addr = SocketAddr::new(ip.to_canonical(), 0);
    let (host, _service) = dns_lookup::getnameinfo(&addr, libc::NI_NAMEREQD).ok()?;
    Some(host)
}

/// A poisoned lock still holds a usable cache: a panicking lookup thread left it
/// between two whole entries.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Gates the fake's slow answers: a lookup of 192.0.2.9 waits for SLOW, one of
    /// 198.51.100.0/22 for FULL (each test opens its own).
    static SLOW: AtomicBool = AtomicBool::new(false);
    static FULL: AtomicBool = AtomicBool::new(false);

    fn held(gate: &AtomicBool) {
        for _ in 0..2000 {
            if gate.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn fake(ip: IpAddr) -> Option<String> {
        let text = ip.to_string();
        match text.as_str() {
            "192.0.2.1" => Some("one.example".into()),
            "192.0.2.9" => {
                held(&SLOW);
                Some("slow.example".into())
            }
            _ if text.starts_with("198.51.") => {
                held(&FULL);
                None
            }
            _ => None,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_name_arrives_later_and_is_cached() {
        let resolver = Resolver::new(fake, Duration::from_secs(60));
        // The first ask never waits: no name yet.
        assert_eq!(resolver.host(ip("192.0.2.1")), None);
        resolver.wait(&[ip("192.0.2.1"), ip("192.0.2.2")], Duration::from_secs(60));
        assert_eq!(
            resolver.host(ip("192.0.2.1")).as_deref(),
            Some("one.example")
        );
        assert_eq!(resolver.host(ip("192.0.2.2")), None);
        assert!(resolver.settled(ip("192.0.2.2")));
    }

    #[test]
    fn a_lookup_past_its_limit_finds_no_name() {
        let resolver = Resolver::new(fake, Duration::from_millis(100));
        resolver.wait(&[ip("192.0.2.9")], Duration::from_secs(60));
        // The wait ended with the limit, while the lookup still hangs.
        assert!(!SLOW.load(Ordering::SeqCst));
        assert!(resolver.settled(ip("192.0.2.9")));
        assert_eq!(resolver.host(ip("192.0.2.9")), None);
        // Its late answer is dropped.
        SLOW.store(true, Ordering::SeqCst);
        for _ in 0..200 {
            if matches!(
                lock(&resolver.shared.cache).get(&ip("192.0.2.9")),
                Some(Entry::Unnamed(_))
            ) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(
            lock(&resolver.shared.cache).get(&ip("192.0.2.9")),
            Some(Entry::Unnamed(_))
        ));
        assert_eq!(resolver.host(ip("192.0.2.9")), None);
    }

    #[test]
    fn the_queue_is_bounded_and_asking_never_blocks() {
        let resolver = Resolver::new(fake, Duration::from_secs(60));
        // Every lookup hangs: the threads take a few, the queue fills, the rest are
        // refused at once (asking returns; a blocked ask would hang this test).
        let asked = QUEUE + THREADS + 50;
        let refused = (0..asked as u32)
            .map(|i| IpAddr::from(std::net::Ipv4Addr::from(0xC633_6400 + i)))
            .filter(|ip| !resolver.ask(*ip))
            .count();
        assert!(refused >= 50, "{refused} of {asked} refused");
        // A refused address is not remembered: it is asked again when shown.
        let last = IpAddr::from(std::net::Ipv4Addr::from(0xC633_6400 + asked as u32 - 1));
        assert!(!lock(&resolver.shared.cache).contains_key(&last));
        // A total wait bounds list -r even while nothing answers.
        resolver.wait(&[last], Duration::from_millis(100));
        assert!(!resolver.settled(last));
        FULL.store(true, Ordering::SeqCst);
    }
}
