//! The collection thread: owns the source, takes a snapshot every interval, and does
//! the heavy half of the refresh (tracking, diagnosis, sorting and filtering the rows:
//! `prepare`) before it sends the UI a `Ready` model, so the UI never waits on /proc
//! or on 100k sockets. It also asks collect for what only the details view needs (full
//! command lines), whether the watched pids still live, and the kernel counters the
//! diagnostics view needs beside the sockets; the reading itself is collect's
//! (`collect::process`, `KernelReader`), under the proc root.
//!
//! When a refresh takes longer than the interval, it backs off (see `backed_off`),
//! and each `Ready` says the interval kept, for the header.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::collect::Source;
use crate::collect::kernel_counters::KernelReader;
use crate::collect::process::{self, Cmdlines};
use crate::model::{CounterTable, SocketKey};

use super::app::Retired;
use super::event::{Input, Update};
use super::prepare::{Choice, Note, Preparer};

/// What the UI tells the collector.
#[derive(Debug)]
pub enum Control {
    Interval(Duration),
    Pause(bool),
    /// The sort and filter the rows are prepared for, from the next refresh on.
    Choice(Box<Choice>),
    /// Something done to a socket (K, X), for the events log.
    Note(Box<Note>),
    /// What a refresh replaced in the UI, to free here: where it was made, before the
    /// next is made (which reuses its memory, and its big buffers: `Preparer::recycle`),
    /// and not on the UI thread.
    Free(Box<Retired>),
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
        let mut preparer = Preparer::live(pids.clone());
        let mut choice = Choice::default();
        let mut paused = false;
        // The interval kept: `interval`, or longer while refreshes take longer.
        let mut kept = interval;
        loop {
            // What the UI said since the wait ended (a choice sent at start, before
            // the first refresh), before this refresh.
            for said in from_ui.try_iter() {
                match said {
                    Control::Interval(d) => (interval, kept) = (d, d),
                    Control::Pause(p) => paused = p,
                    Control::Choice(c) => choice = *c,
                    Control::Note(note) => preparer.note(*note),
                    Control::Free(old) => preparer.recycle(*old),
                }
            }
            if !paused {
                let started = Instant::now();
                let keep = choice.details.as_ref();
                let (update, counters) = collect(
                    source.as_mut(),
                    keep,
                    &pids,
                    &proc_root,
                    &kernel,
                    &mut cmdlines,
                );
                let mut ready = preparer.prepare_counted(update, counters, &choice);
                kept = backed_off(interval, kept, started.elapsed());
                ready.slowed = (kept > interval).then_some(kept);
                if to_ui.send(Input::Ready(Box::new(ready))).is_err() {
                    return;
                }
            }
            // Sleeping on the channel wakes at once when the UI changes the interval
            // or pauses, so a new interval or a resume shows at once; a new choice or
            // a note waits for the next refresh.
            let until = Instant::now() + kept;
            loop {
                let wait = match paused {
                    true => Duration::from_secs(3600),
                    false => until.saturating_duration_since(Instant::now()),
                };
                match from_ui.recv_timeout(wait) {
                    Ok(Control::Interval(d)) => {
                        (interval, kept) = (d, d);
                        break;
                    }
                    Ok(Control::Pause(p)) => {
                        paused = p;
                        break;
                    }
                    Ok(Control::Choice(c)) => choice = *c,
                    Ok(Control::Note(note)) => preparer.note(*note),
                    Ok(Control::Free(old)) => preparer.recycle(*old),
                    Err(RecvTimeoutError::Timeout) if paused => {}
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    });
    control
}

/// Longest interval backing off goes to.
const SLOWEST: Duration = Duration::from_secs(60);

/// The interval to keep after a refresh that took `took`, `kept` being the one kept
/// so far: `asked` while refreshes take no longer than it; else doubled until one
/// would (a refresh then runs at most about half the time), and halved again once
/// refreshes take under a quarter of it (so it does not swing at the boundary).
pub fn backed_off(asked: Duration, kept: Duration, took: Duration) -> Duration {
    let mut kept = kept.max(asked);
    while took > kept && kept < SLOWEST {
        kept = (kept * 2).min(SLOWEST.max(asked));
    }
    while kept > asked && took < kept / 4 {
        kept = (kept / 2).max(asked);
    }
    kept
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

/// A refresh's update, the snapshot keeping whole only the tcp_info of the socket
/// `keep` names (the details'), and beside it the others' counters (see
/// `Source::snapshot_counted`).
fn collect(
    source: &mut dyn Source,
    keep: Option<&SocketKey>,
    pids: &[u32],
    proc_root: &Path,
    kernel: &KernelReader,
    cmdlines: &mut Cmdlines,
) -> (Update, CounterTable) {
    let (snapshot, counters) = match source.snapshot_counted(keep) {
        Ok((snapshot, counters)) => (Ok(snapshot), counters),
        Err(e) => (Err(format!("{e:#}")), CounterTable::default()),
    };
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
    let update = Update {
        snapshot,
        cmdlines,
        exited,
        names,
        listen_counters: kernel.listen_counters(at),
        port_range: kernel.port_range(),
    };
    (update, counters)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::SystemTime;

    use super::*;
    use crate::model::Snapshot;
    use crate::tui::prepare::Outcome;

    #[test]
    fn backs_off_when_refreshes_take_longer_and_comes_back() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(backed_off(s(1), s(1), ms(300)), s(1));
        assert_eq!(backed_off(s(1), s(1), ms(1300)), s(2));
        assert_eq!(backed_off(s(1), s(1), ms(4500)), s(8));
        // Held while refreshes take over a quarter of it; down when they get cheaper.
        assert_eq!(backed_off(s(1), s(2), ms(600)), s(2));
        assert_eq!(backed_off(s(1), s(8), ms(900)), s(2));
        assert_eq!(backed_off(s(1), s(8), ms(100)), s(1));
        assert_eq!(backed_off(s(1), s(1), s(600)), s(60));
        // Never faster than asked.
        assert_eq!(backed_off(s(5), s(1), ms(10)), s(5));
    }

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
                Ok(Input::Ready(ready)) => match ready.outcome {
                    Outcome::Model(m) => {
                        assert_eq!(m.snapshot.warnings, [format!("snapshot {n}")]);
                    }
                    other => panic!("expected a model, got {other:?}"),
                },
                other => panic!("expected update {n}, got {other:?}"),
            }
        }
        assert!(matches!(
            inputs.recv_timeout(wait),
            Ok(Input::CollectorCrashed)
        ));
    }
}
