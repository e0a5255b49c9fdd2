//! The collection thread: owns the source, takes a snapshot every interval and sends
//! it whole to the UI, so the UI never waits on /proc. It also reads what only the
//! details view needs (full command lines), whether the watched pids still live, and
//! the kernel counters the diagnostics view needs beside the sockets.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use crate::collect::Source;
use crate::collect::kernel_counters::{
    ListenCounters, PortRange, read_listen_counters, read_port_range,
};
use crate::model::Snapshot;

use super::event::Input;

/// One refresh, as the UI receives it.
#[derive(Clone, Debug)]
pub struct Update {
    /// The error text when the source failed this time (the UI keeps the last view).
    pub snapshot: Result<Snapshot, String>,
    /// Full command lines of the processes in the snapshot, by pid.
    pub cmdlines: HashMap<u32, String>,
    /// The watched pids (`--pid`) that have exited.
    pub exited: Vec<u32>,
    /// Names of the watched pids that run, also those holding no socket.
    pub names: HashMap<u32, String>,
    /// ListenOverflows/ListenDrops of the namespace read, when readable.
    pub listen_counters: Option<ListenCounters>,
    /// The ephemeral port range, when readable.
    pub port_range: Option<PortRange>,
}

/// What the UI tells the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Interval(Duration),
    Pause(bool),
}

/// Starts the thread. It ends when the UI drops either end of the channels.
pub fn spawn(
    mut source: Box<dyn Source + Send>,
    mut interval: Duration,
    pids: Vec<u32>,
    proc_root: PathBuf,
    to_ui: Sender<Input>,
) -> Sender<Control> {
    let (control, from_ui) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _crash = CrashNotice(to_ui.clone());
        let mut cmdlines = Cmdlines::default();
        let mut paused = false;
        loop {
            if !paused {
                let update = collect(source.as_mut(), &pids, &proc_root, &mut cmdlines);
                if to_ui.send(Input::Update(Box::new(update))).is_err() {
                    return;
                }
            }
            // Sleeping on the channel wakes at once when the UI changes something,
            // so a new interval or a resume shows at once.
            match from_ui.recv_timeout(interval) {
                Ok(Control::Interval(d)) => interval = d,
                Ok(Control::Pause(p)) => paused = p,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    control
}

/// Tells the UI when the thread unwinds from a panic, so it stops instead of drawing
/// over the restored terminal forever.
struct CrashNotice(Sender<Input>);

impl Drop for CrashNotice {
    fn drop(&mut self) {
        if thread::panicking() {
            let _ = self.0.send(Input::CollectorCrashed);
        }
    }
}

fn collect(
    source: &mut dyn Source,
    pids: &[u32],
    proc_root: &Path,
    cmdlines: &mut Cmdlines,
) -> Update {
    let mut snapshot = source.snapshot().map_err(|e| format!("{e:#}"));
    // In display order, which the app needs: sorted here, off the UI thread.
    if let Ok(snapshot) = &mut snapshot {
        snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));
    }
    let cmdlines = match &snapshot {
        Ok(snapshot) => cmdlines.refresh(snapshot),
        Err(_) => HashMap::new(),
    };
    let holds = |pid: u32| {
        snapshot.as_ref().is_ok_and(|s| {
            s.sockets
                .iter()
                .any(|s| s.processes.iter().any(|o| o.pid == pid))
        })
    };
    let exited = pids
        .iter()
        .copied()
        .filter(|pid| !holds(*pid) && !is_running(*pid))
        .collect();
    let names = pids
        .iter()
        .filter_map(|&pid| {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, comm.trim_end().to_string()))
        })
        .collect();
    // The counters belong to the network namespace the sockets are read in; a
    // captured tree (--proc-root) usually has none, and then the rules skip them.
    let net_dir = match pids.first() {
        Some(pid) => proc_root.join(pid.to_string()).join("net"),
        None => proc_root.join("net"),
    };
    let at = snapshot
        .as_ref()
        .map_or_else(|_| std::time::SystemTime::now(), |s| s.taken_at);
    Update {
        snapshot,
        cmdlines,
        exited,
        names,
        listen_counters: read_listen_counters(&net_dir, at).ok(),
        port_range: read_port_range(proc_root).ok(),
    }
}

/// Whether the process exists and has not exited: a zombie (exited, not yet reaped by
/// its parent) still has a /proc entry, but no sockets any more.
fn is_running(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')', as comm may hold one.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Command lines by pid, read once per process (and again if it execs). A process
/// whose line could not be read is remembered as None, so it is not retried each time.
#[derive(Default)]
struct Cmdlines {
    by_pid: HashMap<u32, (Arc<str>, Option<String>)>,
}

impl Cmdlines {
    fn refresh(&mut self, snapshot: &Snapshot) -> HashMap<u32, String> {
        let mut next = HashMap::new();
        for owner in snapshot.sockets.iter().flat_map(|s| &s.processes) {
            if next.contains_key(&owner.pid) {
                continue;
            }
            let line = match self.by_pid.remove(&owner.pid) {
                Some((comm, line)) if comm == owner.comm => line,
                _ => crate::collect::process::cmdline(owner.pid, &owner.comm),
            };
            next.insert(owner.pid, (owner.comm.clone(), line));
        }
        self.by_pid = next;
        self.by_pid
            .iter()
            .filter_map(|(pid, (_, line))| Some((*pid, line.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::SystemTime;

    use super::*;

    /// Counts its snapshots; panics at the `panic_at`th.
    struct Fake {
        taken: usize,
        panic_at: usize,
    }

    impl Source for Fake {
        fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
            self.taken += 1;
            assert!(self.taken < self.panic_at, "fake source gives up");
            Ok(Snapshot {
                sockets: Vec::new(),
                warnings: vec![format!("snapshot {}", self.taken)],
                taken_at: SystemTime::now(),
                closed: Vec::new(),
            })
        }
    }

    #[test]
    fn sends_snapshots_then_says_when_it_crashed() {
        let (to_ui, inputs) = mpsc::channel();
        let fake = Fake {
            taken: 0,
            panic_at: 3,
        };
        let _control = spawn(
            Box::new(fake),
            Duration::from_millis(1),
            vec![],
            PathBuf::from("/proc"),
            to_ui,
        );
        let wait = Duration::from_secs(10);
        for n in 1..=2 {
            match inputs.recv_timeout(wait) {
                Ok(Input::Update(u)) => {
                    assert_eq!(u.snapshot.unwrap().warnings, [format!("snapshot {n}")]);
                }
                other => panic!("expected update {n}, got {other:?}"),
            }
        }
        assert!(matches!(
            inputs.recv_timeout(wait),
            Ok(Input::CollectorCrashed)
        ));
    }

    #[test]
    fn a_zombie_has_exited() {
        assert!(is_running(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Until it is reaped the child is a zombie; poll (bounded) for it to get there.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while is_running(pid) && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(!is_running(pid), "the exited child still counts as running");
        child.wait().unwrap();
    }
}
