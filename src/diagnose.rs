//! Diagnosis: findings from tracked history and kernel counters.
//!
//! Pure: reads a `Tracker` and the kernel facts it is given, never the clock or /proc,
//! so the TUI (panel `d`) and `sockscope doctor` share it and tests stage it freely.
//! Every finding names the sockets and processes involved, what it usually means, what
//! to check next, and a severity. Healthy traffic gives none.
//!
//! The rules are in `RULES` (diagnose/rules.rs, a file each). `sockscope doctor
//! --json` prints one JSON array of `Finding`s (with `--watch`, one array per line per
//! round), in the schema `findings_schema` writes and README.md shows.

mod rules;
mod text;

pub use rules::{KindText, RULES, Rule};

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::collect::kernel_counters::{ListenCounters, PortRange};
use crate::model::{Container, Netns, Socket};
use crate::track::{History, Tracker};

#[derive(Clone, Debug)]
pub struct DiagnoseConfig {
    /// A CLOSE_WAIT socket held this long is not being closed.
    pub close_wait_age: Duration,
    /// A SYN_SENT socket this old is not getting an answer.
    pub syn_sent_age: Duration,
    /// Queue rules judge this many of each socket's latest samples (2 at least).
    pub queue_samples: usize,
    /// Share of the ephemeral port range in TIME_WAIT toward one destination that
    /// makes a warning, and a critical finding.
    pub time_wait_warning: f64,
    pub time_wait_critical: f64,
    /// Without tcp_info, a Send-Q that does not move counts as stuck from this size:
    /// above one loopback segment (64 KiB), so a delayed ACK never looks stuck.
    pub stuck_send_q_bytes: u32,
    /// Sockets listed per finding; `socket_count` says how many there are.
    pub max_sockets_listed: usize,
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        DiagnoseConfig {
            close_wait_age: Duration::from_secs(2),
            syn_sent_age: Duration::from_secs(2),
            queue_samples: 3,
            time_wait_warning: 0.5,
            time_wait_critical: 0.8,
            stuck_send_q_bytes: 64 * 1024,
            max_sockets_listed: 20,
        }
    }
}

/// What diagnosis needs beside the sockets.
#[derive(Clone, Debug, Default)]
pub struct KernelFacts {
    /// One reading per snapshot, oldest first (they are per network namespace).
    pub listen_counters: Vec<ListenCounters>,
    pub port_range: Option<PortRange>,
    /// The snapshots cover the whole namespace (no filter): counters rising are
    /// reported even when no listener in view can be blamed.
    pub whole_namespace: bool,
}

impl KernelFacts {
    /// Readings kept: the rules look at the last few only.
    const COUNTERS_KEPT: usize = 100;

    /// Adds the reading taken with a snapshot, forgetting the oldest past the limit.
    pub fn record(&mut self, counters: ListenCounters) {
        self.listen_counters.push(counters);
        let excess = self
            .listen_counters
            .len()
            .saturating_sub(Self::COUNTERS_KEPT);
        self.listen_counters.drain(..excess);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CloseWait,
    TimeWaitExhaustion,
    AcceptQueue,
    ListenOverflows,
    SynSent,
    RecvQ,
    SendQ,
}

impl Kind {
    /// Its entry in the rule that makes it (see `RULES`).
    pub fn text(self) -> &'static KindText {
        RULES
            .iter()
            .flat_map(|r| r.kinds)
            .find(|k| k.kind == self)
            .expect("every kind is made by a rule in RULES")
    }

    /// The short tag the text output and the TUI show.
    pub fn label(self) -> &'static str {
        self.text().label
    }

    /// Its name in `doctor --json`: "close_wait".
    pub fn json_name(self) -> String {
        serde_json::to_string(&self).unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ProcessRef {
    pub pid: u32,
    pub comm: Arc<str>,
}

/// A socket in a finding: the `list --json` fields plus how long it has been in its state.
#[derive(Clone, Debug, Serialize)]
pub struct FindingSocket {
    #[serde(flatten)]
    pub socket: Socket,
    pub state_secs: f64,
}

/// One problem found. Serialized as one element of `doctor --json`'s array.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// One line: what, who, how much. Text for people, with names and paths escaped
    /// (`processes` and `sockets` hold the exact values).
    pub summary: String,
    /// What it usually means.
    pub meaning: &'static str,
    /// What to check next.
    pub next_steps: &'static str,
    pub processes: Vec<ProcessRef>,
    pub socket_count: usize,
    /// The sockets involved, longest in their state first, at most `max_sockets_listed`.
    pub sockets: Vec<FindingSocket>,
    /// The network namespaces of all the sockets involved, by inode.
    pub netns: Vec<Arc<Netns>>,
    /// The containers their processes run in, by id.
    pub containers: Vec<Arc<Container>>,
}

/// `doctor --json`'s schema, as the Markdown table README.md holds (a test keeps
/// the two the same): the kinds come from `RULES`. New fields may be added; these keep
/// their meaning.
pub fn findings_schema() -> String {
    let kinds: Vec<String> = RULES
        .iter()
        .flat_map(|r| r.kinds)
        .map(|k| k.kind.json_name())
        .collect();
    let severities = [Severity::Warning, Severity::Critical]
        .map(|s| serde_json::to_string(&s).unwrap_or_default());
    let rows = [
        ("kind", kinds.join(" \\| "), "the rule that fired"),
        (
            "severity",
            severities.join(" \\| "),
            "critical: growing, full, or dropping now",
        ),
        ("summary", "string".into(), "one line: what, who, how much"),
        ("meaning", "string".into(), "what it usually means"),
        ("next_steps", "string".into(), "what to check next"),
        (
            "processes",
            "array of {pid, comm}".into(),
            "every process holding the sockets, by pid",
        ),
        (
            "socket_count",
            "integer".into(),
            "sockets involved (may exceed the list below)",
        ),
        (
            "netns",
            "array of {inode, name}".into(),
            "the network namespaces of all the sockets involved (as `list --json`'s `netns`); \
             the summary names them when the sockets looked at span several",
        ),
        (
            "containers",
            "array".into(),
            "the containers their processes run in (each as a `processes` entry's `container`)",
        ),
        (
            "sockets",
            "array".into(),
            "at most 20, longest in their state first: each a `list --json` socket plus \
             `state_secs` (number: seconds in its state; a lower bound for sockets there \
             when watching began)",
        ),
    ];
    let mut table = String::from("| field | type | meaning |\n|---|---|---|\n");
    for (field, kind, meaning) in rows {
        table += &format!("| {field} | {kind} | {meaning} |\n");
    }
    table
}

/// Whether the live sockets are in more than one network namespace.
fn several_namespaces(tracker: &Tracker) -> bool {
    let mut inodes = tracker
        .live()
        .map(|h| h.socket().netns.as_ref().map(|n| n.inode));
    let first = inodes.next();
    first.is_some() && inodes.any(|i| Some(i) != first)
}

/// Every finding, most severe first.
pub fn diagnose(tracker: &Tracker, kernel: &KernelFacts, config: &DiagnoseConfig) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in RULES {
        (rule.check)(tracker, kernel, config, &mut findings);
    }
    // With several namespaces in view, 127.0.0.1:8080 says little: say where. Looked
    // at only when there is a finding to place: it is a pass over every socket.
    if !findings.is_empty() && several_namespaces(tracker) {
        for f in &mut findings {
            if let Some(place) = f.place() {
                f.summary = format!("{} (in {place})", f.summary);
            }
        }
    }
    findings
        .sort_by(|a, b| (b.severity, a.kind, &a.summary).cmp(&(a.severity, b.kind, &b.summary)));
    findings
}

/// Builds a finding around `sockets`, listing their processes and the oldest first.
fn finding(
    kind: Kind,
    severity: Severity,
    summary: String,
    mut sockets: Vec<&History>,
    config: &DiagnoseConfig,
) -> Finding {
    let mut processes: Vec<ProcessRef> = sockets
        .iter()
        .flat_map(|h| &h.socket().processes)
        .map(|o| ProcessRef {
            pid: o.pid,
            comm: o.process.comm.clone(),
        })
        .collect();
    processes.sort();
    processes.dedup();
    sockets.sort_by_key(|h| (std::cmp::Reverse(h.state_age()), h.socket().local));
    let mut netns: Vec<Arc<Netns>> = sockets
        .iter()
        .filter_map(|h| h.socket().netns.clone())
        .collect();
    netns.sort_by_key(|n| n.inode);
    netns.dedup_by_key(|n| n.inode);
    let mut containers: Vec<Arc<Container>> = sockets
        .iter()
        .flat_map(|h| &h.socket().processes)
        .filter_map(|o| o.process.container.clone())
        .collect();
    containers.sort_by(|a, b| a.id.cmp(&b.id));
    containers.dedup_by(|a, b| a.id == b.id);
    let text = kind.text();
    Finding {
        kind,
        severity,
        summary,
        meaning: text.meaning,
        next_steps: text.next_steps,
        processes,
        socket_count: sockets.len(),
        sockets: sockets
            .iter()
            .take(config.max_sockets_listed)
            .map(|h| FindingSocket {
                socket: h.socket().clone(),
                state_secs: h.state_age().as_secs_f64(),
            })
            .collect(),
        netns,
        containers,
    }
}

/// Who holds the sockets: `1234/nginx`, `3 processes`, or `no visible process` when
/// owners are hidden or gone (TIME_WAIT, not yet accepted).
fn owners_text(sockets: &[&History]) -> String {
    let first_owners = sockets.iter().filter_map(|h| h.socket().processes.first());
    crate::text::owners::group(first_owners.map(|o| (o.pid, &*o.process.comm)))
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}
