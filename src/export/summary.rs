//! One scrape's numbers: the sockets of a snapshot, doctor's findings on the history
//! so far, and the kernel's TcpExt counters, folded into label sets of bounded size.
//! Pure: no I/O and no clock, so tests stage it freely; `encode` writes it out.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::counters::{KERNEL_COUNTERS, KernelCounter};
use crate::collect::kernel_counters::{PortRange, TcpExt};
use crate::diagnose::Finding;
use crate::model::{Proto, Socket, TcpState};
use crate::text;

/// What a label value is when the rows past a cap are added up into one.
pub const OTHER: &str = "other";

/// The caps on label sets (see the module doc of `export`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Processes with the most sockets that get a `comm` series of their own.
    pub processes: usize,
    /// Listeners (address and port) that get a queue series of their own.
    pub listeners: usize,
    /// Split processes by pid too (`--pid-label`): one series per process, not per name.
    pub pid_label: bool,
    /// With `--all-netns`: `netns` and `container` labels on `sockscope_sockets`, for
    /// this many places with the most sockets; the rest summed as netns="other".
    pub places: Option<usize>,
}

/// The labels of one `sockscope_sockets` series. With `--all-netns` (`Limits::places`)
/// also where the socket lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketLabels {
    pub proto: Proto,
    pub state: TcpState,
    pub place: Option<Place>,
}

/// A socket's network namespace (its /run/netns name, else its inode) and the container
/// of its first owner (name, else the id's first 12 digits as docker shows it; empty
/// when none), escaped: container names come from files other users may write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub netns: String,
    pub container: String,
}

impl Place {
    fn of(s: &Socket) -> Place {
        let container = s
            .processes
            .iter()
            .find_map(|o| o.process.container.as_ref())
            .map(|c| match &c.name {
                Some(name) => text::escape(name).into_owned(),
                None => text::escape(c.id.get(..12).unwrap_or(&c.id)).into_owned(),
            })
            .unwrap_or_default();
        Place {
            netns: s
                .netns
                .as_ref()
                .map_or_else(String::new, |n| text::escape(&n.label()).into_owned()),
            container,
        }
    }

    fn other() -> Place {
        Place {
            netns: OTHER.into(),
            container: OTHER.into(),
        }
    }
}

/// Each socket's place, the `cap` places with the most sockets kept and the rest
/// folded into one `other`.
fn places(sockets: &[Socket], cap: usize) -> Vec<Place> {
    let all: Vec<Place> = sockets.iter().map(Place::of).collect();
    let mut totals: HashMap<&Place, usize> = HashMap::new();
    for place in &all {
        *totals.entry(place).or_default() += 1;
    }
    let mut ranked: Vec<(&Place, usize)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let kept: std::collections::HashSet<Place> =
        ranked.iter().take(cap).map(|(p, _)| (*p).clone()).collect();
    all.into_iter()
        .map(|p| if kept.contains(&p) { p } else { Place::other() })
        .collect()
}

/// Sockets of one process (or of every process of one name) in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRow {
    /// Escaped as every text output escapes process names; `other` for the folded rest.
    pub comm: String,
    /// Only with `Limits::pid_label`: the pid, or `other` for the folded rest.
    pub pid: Option<String>,
    pub state: TcpState,
    pub sockets: u64,
}

/// The TCP listeners on one address and port (several with SO_REUSEPORT), summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenRow {
    pub addr: String,
    pub port: String,
    /// Connections waiting in the accept queue now.
    pub queue: u64,
    /// The most the queue holds (listen()'s backlog, capped by net.core.somaxconn).
    pub backlog: u64,
}

/// The namespace's kernel facts read with the snapshot, where readable.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernel<'a> {
    pub tcp_ext: Option<&'a TcpExt>,
    pub port_range: Option<PortRange>,
}

/// Everything one scrape serves besides its own health.
#[derive(Debug, Default)]
pub struct Summary {
    pub sockets: BTreeMap<SocketLabels, u64>,
    pub processes: Vec<ProcessRow>,
    pub listeners: Vec<ListenRow>,
    /// Findings by (rule, severity), as `doctor --json` names them.
    pub findings: BTreeMap<(String, String), u64>,
    /// The served counters the kernel has, in `KERNEL_COUNTERS` order.
    pub counters: Vec<(&'static KernelCounter, u64)>,
    /// Ports in net.ipv4.ip_local_port_range, when readable.
    pub ephemeral_ports: Option<u32>,
}

impl Summary {
    /// `zeros`: the (proto, state) pairs served even when no socket is in them, so an
    /// alert can tell "none" from "not scraped".
    pub fn new(
        sockets: &[Socket],
        findings: &[Finding],
        kernel: Kernel<'_>,
        zeros: &[SocketLabels],
        limits: Limits,
    ) -> Summary {
        let mut counts: BTreeMap<SocketLabels, u64> = BTreeMap::new();
        match limits.places {
            // Zeros have no place to be served for: only what is there is counted.
            Some(cap) => {
                for (s, place) in sockets.iter().zip(places(sockets, cap)) {
                    let key = SocketLabels {
                        proto: s.proto,
                        state: s.state,
                        place: Some(place),
                    };
                    *counts.entry(key).or_default() += 1;
                }
            }
            None => {
                counts.extend(zeros.iter().map(|k| (k.clone(), 0)));
                for s in sockets {
                    let key = SocketLabels {
                        proto: s.proto,
                        state: s.state,
                        place: None,
                    };
                    *counts.entry(key).or_default() += 1;
                }
            }
        }
        Summary {
            sockets: counts,
            processes: processes(sockets, limits),
            listeners: listeners(sockets, limits.listeners),
            findings: findings_by_rule(findings),
            counters: kernel.tcp_ext.map_or_else(Vec::new, |ext| {
                KERNEL_COUNTERS
                    .iter()
                    .filter_map(|c| Some((c, ext.get(c.kernel)?)))
                    .collect()
            }),
            ephemeral_ports: kernel.port_range.map(|r| r.len()),
        }
    }
}

/// The `state` label: the JSON name in lower case (`time_wait`), as node_exporter's
/// tcpstat names states.
pub fn state_label(state: TcpState) -> String {
    state.name().to_ascii_lowercase()
}

/// A label value as the JSON output names the value (`tcp`, `close_wait`, `critical`):
/// one name for each thing, whatever enum it comes from.
pub fn json_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => OTHER.to_string(),
    }
}

/// Who a socket counts for: a process name, and its pid when pids are labels.
type ProcessKey = (Arc<str>, Option<u32>);

/// Sockets per process and state: the `limits.processes` processes holding the most
/// sockets keep their own rows; the others are added up under `comm="other"`.
/// Sockets no process holds (TIME_WAIT, hidden owners) are in no row.
fn processes(sockets: &[Socket], limits: Limits) -> Vec<ProcessRow> {
    let mut by_process: HashMap<ProcessKey, BTreeMap<TcpState, u64>> = HashMap::new();
    let mut keys: Vec<ProcessKey> = Vec::new();
    for s in sockets {
        // After fork two processes (often of one name) hold one socket: count it once
        // per row it belongs to.
        keys.clear();
        for o in &s.processes {
            let key = (o.process.comm.clone(), limits.pid_label.then_some(o.pid));
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        for key in keys.drain(..) {
            *by_process
                .entry(key)
                .or_default()
                .entry(s.state)
                .or_default() += 1;
        }
    }
    let mut ranked: Vec<(ProcessKey, BTreeMap<TcpState, u64>)> = by_process.into_iter().collect();
    let total = |states: &BTreeMap<TcpState, u64>| states.values().sum::<u64>();
    ranked.sort_by(|(ka, a), (kb, b)| total(b).cmp(&total(a)).then_with(|| ka.cmp(kb)));
    let rest = ranked.split_off(limits.processes.min(ranked.len()));

    let mut rows = Vec::new();
    for ((comm, pid), states) in ranked {
        for (state, n) in states {
            rows.push(ProcessRow {
                comm: text::escape(&comm).into_owned(),
                pid: pid.map(|p| p.to_string()),
                state,
                sockets: n,
            });
        }
    }
    let mut folded: BTreeMap<TcpState, u64> = BTreeMap::new();
    for (_, states) in rest {
        for (state, n) in states {
            *folded.entry(state).or_default() += n;
        }
    }
    for (state, n) in folded {
        rows.push(ProcessRow {
            comm: OTHER.to_string(),
            pid: limits.pid_label.then(|| OTHER.to_string()),
            state,
            sockets: n,
        });
    }
    rows
}

/// TCP listeners by address and port, fullest accept queue first; past `cap` they are
/// added up under `addr="other", port="other"`.
fn listeners(sockets: &[Socket], cap: usize) -> Vec<ListenRow> {
    let mut by_endpoint: BTreeMap<(IpAddr, u16), (u64, u64)> = BTreeMap::new();
    for s in sockets {
        if s.proto != Proto::Tcp || s.state != TcpState::Listen {
            continue;
        }
        let Some(local) = s.local else { continue };
        let entry = by_endpoint.entry((local.ip(), local.port())).or_default();
        entry.0 += u64::from(s.recv_q);
        entry.1 += u64::from(s.send_q);
    }
    let mut ranked: Vec<_> = by_endpoint.into_iter().collect();
    // Fullest first: queue / backlog compared as queue_a * backlog_b vs queue_b * backlog_a.
    ranked.sort_by(|(ea, (qa, ba)), (eb, (qb, bb))| {
        (u128::from(*qb) * u128::from((*ba).max(1)))
            .cmp(&(u128::from(*qa) * u128::from((*bb).max(1))))
            .then_with(|| qb.cmp(qa))
            .then_with(|| ea.cmp(eb))
    });
    let rest = ranked.split_off(cap.min(ranked.len()));
    let mut rows: Vec<ListenRow> = ranked
        .into_iter()
        .map(|((ip, port), (queue, backlog))| ListenRow {
            addr: ip.to_string(),
            port: port.to_string(),
            queue,
            backlog,
        })
        .collect();
    if !rest.is_empty() {
        let (queue, backlog) = rest
            .iter()
            .fold((0, 0), |(q, b), (_, (qi, bi))| (q + qi, b + bi));
        rows.push(ListenRow {
            addr: OTHER.to_string(),
            port: OTHER.to_string(),
            queue,
            backlog,
        });
    }
    rows
}

fn findings_by_rule(findings: &[Finding]) -> BTreeMap<(String, String), u64> {
    let mut by_rule = BTreeMap::new();
    for f in findings {
        *by_rule
            .entry((json_name(&f.kind), json_name(&f.severity)))
            .or_default() += 1;
    }
    by_rule
}

#[cfg(test)]
mod tests;
