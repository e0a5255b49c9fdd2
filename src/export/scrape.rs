//! One snapshot per scrape, shared by concurrent scrapes, never waited for longer than
//! the scrape's time limit.
//!
//! The first scrape to arrive asks the snapshot thread for a snapshot, published on
//! a watch channel; scrapes that arrive while it runs wait on the same channel
//! instead of starting another. A scrape that runs out of time answers at once with
//! `sockscope_up 0`; the snapshot goes on and serves whoever waits for it. Each
//! snapshot also feeds the tracker, so doctor's rules see the history of past scrapes
//! as `sockscope doctor --watch` sees its rounds.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;

use super::summary::{Kernel, Limits, SocketLabels, Summary};
use crate::collect::kernel_counters::{read_port_range, read_tcp_ext};
use crate::collect::{Scope, Source};
use crate::diagnose::{DiagnoseConfig, KernelFacts, diagnose};
use crate::model::{Proto, TcpState};
use crate::query::Query;
use crate::track::{TrackConfig, Tracker};

/// What one snapshot gave: the numbers, or why there are none, and how long it took.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Result<Summary, String>,
    pub duration: Duration,
}

/// The answer to one scrape.
pub enum Scrape {
    Done(Arc<Outcome>),
    /// Nothing in time; how long was waited.
    TimedOut(Duration),
}

type Slot = watch::Receiver<Option<Arc<Outcome>>>;
type Publish = watch::Sender<Option<Arc<Outcome>>>;

pub struct Scraper {
    shared: Arc<Shared>,
    /// Asks the snapshot thread for one snapshot, to publish on the sender sent.
    requests: Mutex<mpsc::Sender<Publish>>,
}

/// What the scrapes and the snapshot thread both see.
struct Shared {
    /// The snapshot being taken, for scrapes that arrive meanwhile to wait on.
    in_flight: Mutex<Option<Slot>>,
    timeouts: AtomicU64,
    errors: AtomicU64,
}

impl Scraper {
    /// Starts the snapshot thread, which owns `collector`. One thread for every
    /// snapshot, so they all allocate from one malloc arena (a pool of threads would
    /// grow one arena each, and the RSS with them).
    pub fn new(collector: Collector) -> Arc<Scraper> {
        let shared = Arc::new(Shared {
            in_flight: Mutex::new(None),
            timeouts: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let (requests, incoming) = mpsc::channel::<Publish>();
        let theirs = shared.clone();
        let spawned = thread::Builder::new()
            .name("sockscope-snapshot".into())
            .spawn(move || snapshots(collector, &theirs, &incoming));
        if let Err(e) = spawned {
            // Every scrape then reports the failure: see `join_or_start`.
            crate::stdio::warn(format_args!("cannot start the snapshot thread: {e}"));
        }
        Arc::new(Scraper {
            shared,
            requests: Mutex::new(requests),
        })
    }

    /// Scrapes so far that gave up waiting.
    pub fn timeouts(&self) -> u64 {
        self.shared.timeouts.load(Ordering::Relaxed)
    }

    /// Snapshots so far that failed.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Waits at most `limit` for a snapshot: the one being taken, or a new one.
    pub async fn scrape(&self, limit: Duration) -> Scrape {
        let started = Instant::now();
        let mut slot = self.join_or_start();
        match tokio::time::timeout(limit, slot.wait_for(Option::is_some)).await {
            Ok(Ok(outcome)) => match outcome.as_ref() {
                Some(outcome) => Scrape::Done(outcome.clone()),
                None => unreachable!("wait_for returned a value that fails its test"),
            },
            // The snapshot thread is gone and dropped the sender.
            Ok(Err(_)) => Scrape::Done(Arc::new(Outcome {
                summary: Err("the snapshot thread is not running".into()),
                duration: started.elapsed(),
            })),
            Err(_) => {
                self.shared.timeouts.fetch_add(1, Ordering::Relaxed);
                Scrape::TimedOut(started.elapsed())
            }
        }
    }

    fn join_or_start(&self) -> Slot {
        let mut in_flight = lock(&self.shared.in_flight);
        if let Some(slot) = in_flight.as_ref() {
            return slot.clone();
        }
        let (publish, slot) = watch::channel(None);
        if lock(&self.requests).send(publish).is_ok() {
            *in_flight = Some(slot.clone());
        }
        // Else the thread is gone, and so is `publish`: the caller sees it at once.
        slot
    }
}

/// The snapshot thread: one snapshot per request, until the scraper is dropped.
fn snapshots(mut collector: Collector, shared: &Shared, incoming: &mpsc::Receiver<Publish>) {
    for publish in incoming {
        let outcome =
            panic::catch_unwind(AssertUnwindSafe(|| collector.collect())).unwrap_or_else(|_| {
                Outcome {
                    summary: Err("taking the snapshot panicked".into()),
                    duration: Duration::ZERO,
                }
            });
        if let Err(e) = &outcome.summary {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            crate::stdio::warn(format_args!("snapshot failed: {e}"));
        }
        // Cleared before the outcome is published: a scrape that arrives after it
        // takes a snapshot of its own.
        *lock(&shared.in_flight) = None;
        let _ = publish.send(Some(Arc::new(outcome)));
    }
}

/// A poisoned lock only means a thread panicked; what it guards is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes the snapshots and keeps their history.
pub struct Collector {
    source: Box<dyn Source + Send>,
    query: Query,
    proc_root: PathBuf,
    /// Where the namespace's counters are: the one the sockets are read in.
    net_dir: PathBuf,
    tracker: Tracker,
    kernel: KernelFacts,
    config: DiagnoseConfig,
    limits: Limits,
    zeros: Vec<SocketLabels>,
    warned: bool,
}

impl Collector {
    pub fn new(
        source: Box<dyn Source + Send>,
        proc_root: &std::path::Path,
        scope: &Scope,
        query: Query,
        limits: Limits,
    ) -> Collector {
        let net_dir = match scope {
            Scope::Pids(pids) => proc_root.join(pids[0].to_string()).join("net"),
            // --all-netns and --netns: the counters of ours.
            Scope::Host | Scope::AllNetns | Scope::Netns(_) => proc_root.join("net"),
        };
        let kernel = KernelFacts {
            listen_counters: Vec::new(),
            // Without it (a fixture tree, an odd kernel) the TIME_WAIT rule is skipped.
            port_range: None,
            whole_namespace: query.is_empty() && *scope == Scope::Host,
        };
        Collector {
            source,
            zeros: zeros(&query),
            query,
            proc_root: proc_root.to_path_buf(),
            net_dir,
            // Diagnosis reads live histories only: no event log, no counts ring, no
            // closed sockets kept, which saves memory and time at 100k sockets.
            tracker: Tracker::new(TrackConfig {
                events_cap: 1,
                state_counts_len: 1,
                keep_closed_for: Duration::ZERO,
                closed_cap: 0,
                ..TrackConfig::default()
            }),
            kernel,
            config: DiagnoseConfig::default(),
            limits,
            warned: false,
        }
    }

    pub fn collect(&mut self) -> Outcome {
        let started = Instant::now();
        let summary = self.take().map_err(|e| format!("{e:#}"));
        Outcome {
            summary,
            duration: started.elapsed(),
        }
    }

    fn take(&mut self) -> Result<Summary> {
        let mut snapshot = self.source.snapshot()?;
        if !self.warned {
            for warning in &snapshot.warnings {
                crate::stdio::warn(format_args!("{warning}"));
            }
            self.warned = true;
        }
        snapshot.sockets.retain(|s| self.query.matches(s));
        // Counters are extra: a tree without them still has sockets to serve.
        let tcp_ext = read_tcp_ext(&self.net_dir).ok();
        if let Some(counters) = tcp_ext
            .as_ref()
            .and_then(|ext| ext.listen_counters(snapshot.taken_at).ok())
        {
            self.kernel.record(counters);
        }
        // Read each time: a sysctl can change it while we run.
        if let Ok(range) = read_port_range(&self.proc_root) {
            self.kernel.port_range = Some(range);
        }
        let snapshot = std::sync::Arc::new(snapshot);
        self.tracker.observe_shared(&snapshot);
        let findings = diagnose(&self.tracker, &self.kernel, &self.config);
        let kernel = Kernel {
            tcp_ext: tcp_ext.as_ref(),
            port_range: self.kernel.port_range,
        };
        Ok(Summary::new(
            &snapshot.sockets,
            &findings,
            kernel,
            &self.zeros,
            self.limits,
        ))
    }
}

/// The (proto, state) pairs served as 0 when empty: every TCP state, UDP's and unix's
/// usual ones, limited to what the filters let through.
fn zeros(query: &Query) -> Vec<SocketLabels> {
    let tcp = TcpState::ALL
        .into_iter()
        .filter(|s| *s != TcpState::Unconn)
        .map(|state| (Proto::Tcp, state));
    let udp = [TcpState::Established, TcpState::Unconn].map(|state| (Proto::Udp, state));
    let unix = [TcpState::Listen, TcpState::Established, TcpState::Unconn]
        .map(|state| (Proto::Unix, state));
    tcp.chain(udp)
        .chain(unix)
        .filter(|(proto, state)| {
            (query.protos.is_empty() || query.protos.contains(proto))
                && (query.states.is_empty() || query.states.contains(state))
                && (!query.listening || matches!(state, TcpState::Listen | TcpState::Unconn))
        })
        .map(|(proto, state)| SocketLabels {
            proto,
            state,
            place: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;
    use std::path::Path;
    use std::sync::atomic::AtomicUsize;
    use std::time::SystemTime;

    /// A source whose snapshots take `delay` and are counted.
    struct Slow {
        calls: Arc<AtomicUsize>,
        delay: Duration,
    }

    impl Source for Slow {
        fn snapshot(&mut self) -> Result<Snapshot> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            Ok(Snapshot {
                sockets: Vec::new(),
                warnings: Vec::new(),
                taken_at: SystemTime::now(),
                closed: Vec::new(),
            })
        }
    }

    fn scraper(delay: Duration) -> (Arc<Scraper>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let source = Slow {
            calls: calls.clone(),
            delay,
        };
        let limits = Limits {
            processes: 1,
            listeners: 1,
            pid_label: false,
            places: None,
        };
        let collector = Collector::new(
            Box::new(source),
            Path::new("/nonexistent"),
            &Scope::Host,
            Query::default(),
            limits,
        );
        (Scraper::new(collector), calls)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    fn spawn(s: &Arc<Scraper>, limit: Duration) -> tokio::task::JoinHandle<Scrape> {
        let s = s.clone();
        tokio::spawn(async move { s.scrape(limit).await })
    }

    #[test]
    fn concurrent_scrapes_share_one_snapshot() {
        let (s, calls) = scraper(Duration::from_millis(300));
        runtime().block_on(async {
            let waiting: Vec<_> = (0..4).map(|_| spawn(&s, Duration::from_secs(30))).collect();
            let mut outcomes = Vec::new();
            for w in waiting {
                match w.await.unwrap() {
                    Scrape::Done(o) => outcomes.push(o),
                    Scrape::TimedOut(_) => panic!("timed out"),
                }
            }
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert!(outcomes.iter().all(|o| Arc::ptr_eq(o, &outcomes[0])));
            assert!(outcomes[0].summary.is_ok());
            // Once published, the next scrape takes a snapshot of its own.
            assert!(matches!(
                s.scrape(Duration::from_secs(30)).await,
                Scrape::Done(_)
            ));
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn a_scrape_gives_up_in_time_and_the_snapshot_serves_the_next() {
        let (s, calls) = scraper(Duration::from_secs(2));
        runtime().block_on(async {
            let first = s.scrape(Duration::from_millis(50)).await;
            assert!(matches!(first, Scrape::TimedOut(_)));
            // It answered while the snapshot was still being taken.
            assert!(lock(&s.shared.in_flight).is_some());
            assert_eq!(s.timeouts(), 1);
            // The snapshot the first one started is still being taken: joined, not redone.
            assert!(matches!(
                s.scrape(Duration::from_secs(30)).await,
                Scrape::Done(_)
            ));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        });
    }
}
