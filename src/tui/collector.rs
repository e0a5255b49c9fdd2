//! The collection thread: owns the source, takes a snapshot every interval and sends
//! it whole to the UI, so the UI never waits on /proc. It also asks collect for what
//! only the details view needs (full command lines), whether the watched pids still
//! live, and the kernel counters the diagnostics view needs beside the sockets; the
//! reading itself is collect's (`collect::process`, `KernelReader`), under the proc root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use crate::collect::Source;
use crate::collect::kernel_counters::KernelReader;
use crate::collect::process::{self, Cmdlines};

use super::event::{Input, Update};

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
        let kernel = KernelReader::new(&proc_root, &pids);
        let mut cmdlines = Cmdlines::default();
        let mut paused = false;
        loop {
            if !paused {
                let update = collect(source.as_mut(), &pids, &proc_root, &kernel, &mut cmdlines);
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
    kernel: &KernelReader,
    cmdlines: &mut Cmdlines,
) -> Update {
    let mut snapshot = source.snapshot().map_err(|e| format!("{e:#}"));
    // In display order, which the app needs: sorted here, off the UI thread.
    if let Ok(snapshot) = &mut snapshot {
        snapshot.sockets.sort_unstable_by(|a, b| a.display_order(b));
    }
    let cmdlines = match &snapshot {
        Ok(snapshot) => cmdlines.refresh(proc_root, snapshot),
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
        .filter(|pid| !holds(*pid) && !process::is_running(proc_root, *pid))
        .collect();
    let names = pids
        .iter()
        .filter_map(|&pid| Some((pid, process::comm(proc_root, pid)?)))
        .collect();
    let at = snapshot
        .as_ref()
        .map_or_else(|_| std::time::SystemTime::now(), |s| s.taken_at);
    Update {
        snapshot,
        cmdlines,
        exited,
        names,
        listen_counters: kernel.listen_counters(at),
        port_range: kernel.port_range(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::SystemTime;

    use super::*;
    use crate::model::Snapshot;

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
            PathBuf::from(crate::collect::PROC),
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
}
