//! The collector's refresh on the running system: what one snapshot of a source kept
//! between refreshes costs (the live view's collector thread, `watch`, `record`), the
//! first (a full walk) apart from the rest. Run by hand inside the namespace to measure,
//! never as a timed test; `scripts/bench.sh --refresh` runs it beside `list --json`
//! while `scripts/loadgen.py --churn` replaces sockets:
//!
//!     cargo bench --bench refresh                      # 20 refreshes, 1 s apart
//!     .../refresh-HASH --refreshes 30 --interval-ms 1000 [--full-every N] [--compare]
//!                      [--list BIN]
//!
//! `--compare` also takes a one-shot snapshot (a full walk) after each refresh and
//! counts the sockets whose owners differ: under live churn a few may, as the two are
//! moments apart (tests/owners_churn.rs compares at a quiet moment, exactly).
//! Prints the median and worst of the steady-state refreshes (not full walks), the
//! full walks' median, what the refreshes read, and the CPU time (every thread, the
//! snapshot's drop included) a steady refresh costs: at the live view's 1 s interval,
//! its share of one core.
//!
//! `--list BIN` runs `BIN list --json` (to /dev/null) after each steady refresh, within
//! the interval, and prints the median of each refresh's time / that list's, in wall
//! and CPU time (the list's from this process's children's times, 10 ms ticks). Timed
//! side by side, the two see the same machine: `list` alone moved 0.28-0.43 s between
//! runs minutes apart, the refresh far less.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockscope::collect::fd_cache::FullWalks;
use sockscope::collect::{PROC, Scope, Source, System, process};

fn main() {
    let mut refreshes = 20;
    let mut interval = Duration::from_millis(1000);
    let mut every = FullWalks::default().every;
    let mut compare = false;
    let mut list: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> u64 {
            args.next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| fail(&format!("{what} takes a number")))
        };
        match arg.as_str() {
            "--refreshes" => refreshes = number("--refreshes").max(2) as usize,
            "--interval-ms" => interval = Duration::from_millis(number("--interval-ms")),
            "--full-every" => every = number("--full-every").max(1) as u32,
            "--compare" => compare = true,
            "--list" => {
                list = Some(
                    args.next()
                        .map_or_else(|| fail("--list takes a path"), PathBuf::from),
                )
            }
            "--bench" => {}
            other => fail(&format!("unknown argument: {other}")),
        }
    }
    let period = FullWalks {
        every,
        after: Duration::from_secs(3600),
    };
    let mut source = System::new(PROC, Scope::Host)
        .and_then(|s| s.with_tables(Default::default()))
        .unwrap_or_else(|e| fail(&format!("{e:#}")))
        .with_full_walks(period);
    let mut steady = Vec::new();
    let mut steady_cpu = Vec::new();
    let mut full = Vec::new();
    // Each steady refresh's (wall, CPU) over the list's beside it.
    let (mut paired_wall, mut paired_cpu) = (Vec::new(), Vec::new());
    let (mut list_wall, mut list_cpu) = (Vec::new(), Vec::new());
    let mut rest = Duration::ZERO;
    let (mut listed, mut probed, mut readlinks, mut wider, mut differ) = (0, 0, 0, 0, 0);
    let mut sockets = 0;
    for i in 0..refreshes {
        if i > 0 {
            std::thread::sleep(interval.saturating_sub(rest));
        }
        let t = Instant::now();
        let cpu = cpu_time();
        let snapshot = source
            .snapshot()
            .unwrap_or_else(|e| fail(&format!("{e:#}")));
        let took = t.elapsed().as_secs_f64();
        let done = source.owner_refresh().unwrap_or_default();
        sockets = snapshot.sockets.len();
        let kept = compare.then(|| owners(&snapshot));
        drop(snapshot);
        let cpu = cpu_time() - cpu;
        if done.full {
            full.push(took);
        } else {
            steady.push(took);
            steady_cpu.push(cpu);
            listed += done.listed;
            probed += done.probed;
            readlinks += done.readlinks;
            wider += usize::from(done.wider);
            if let Some(bin) = &list {
                let t = Instant::now();
                let (wall, cpu_used) = timed_list(bin);
                rest = t.elapsed();
                paired_wall.push(took / wall);
                // Below one clock tick (10 ms: a small table) the list's CPU reads 0.
                if cpu_used > 0.0 {
                    paired_cpu.push(cpu / cpu_used);
                }
                list_wall.push(wall);
                list_cpu.push(cpu_used);
            }
        }
        if let Some(a) = kept {
            let oneshot = System::new(PROC, Scope::Host)
                .and_then(|mut s| s.snapshot())
                .unwrap_or_else(|e| fail(&format!("{e:#}")));
            let b = owners(&oneshot);
            differ += a
                .iter()
                .filter(|(i, o)| b.get(i).is_some_and(|p| p != *o))
                .count();
        }
    }
    let n = steady.len().max(1);
    println!(
        "refresh: {sockets} sockets; steady {:.4} s median, {:.4} s worst ({} refreshes), \
         {:.4} s CPU median; full {:.4} s median ({}); per steady refresh: {} fd dirs \
         listed, {} fd tables probed, {} links read, {} wider walks in all{}",
        median(&mut steady),
        steady.iter().copied().fold(0.0, f64::max),
        steady.len(),
        median(&mut steady_cpu),
        median(&mut full),
        full.len(),
        listed / n,
        probed / n,
        readlinks / n,
        wider,
        if compare {
            format!("; {differ} owner lists differ from a one-shot walk moments later")
        } else {
            String::new()
        }
    );
    if list.is_some() {
        println!(
            "beside each: list --json {:.4} s median, {:.2} s CPU median; refresh / list \
             {:.3}x wall, {:.3}x CPU (medians of the pairs)",
            median(&mut list_wall),
            median(&mut list_cpu),
            median(&mut paired_wall),
            median(&mut paired_cpu),
        );
    }
}

/// One `bin list --json` to /dev/null: its wall time and CPU time (user + system).
fn timed_list(bin: &PathBuf) -> (f64, f64) {
    let before = children_cpu();
    let t = Instant::now();
    let status = Command::new(bin)
        .args(["list", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run {}: {e}", bin.display())));
    let wall = t.elapsed().as_secs_f64();
    if !status.success() {
        fail(&format!("{} list --json: {status}", bin.display()));
    }
    (wall, children_cpu() - before)
}

/// The CPU time of this process's waited-for children so far, in seconds: cutime and
/// cstime of /proc/self/stat (fields 16 and 17, clock ticks).
fn children_cpu() -> f64 {
    let stat =
        std::fs::read_to_string(std::path::Path::new(PROC).join("self/stat")).unwrap_or_default();
    let ticks: u64 = [16, 17]
        .into_iter()
        .filter_map(|n| process::stat_field(&stat, n)?.parse::<u64>().ok())
        .sum();
    let per_second = rustix::param::clock_ticks_per_second();
    ticks as f64 / per_second as f64
}

/// Who holds each socket, by (pid, fd).
fn owners(snapshot: &sockscope::model::Snapshot) -> HashMap<u64, Vec<(u32, u32)>> {
    snapshot
        .sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| (s.inode, s.processes.iter().map(|o| (o.pid, o.fd)).collect()))
        .collect()
}

/// CPU time of the whole process so far (every thread), in seconds.
fn cpu_time() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fail(why: &str) -> ! {
    eprintln!("refresh: {why}");
    std::process::exit(2)
}
