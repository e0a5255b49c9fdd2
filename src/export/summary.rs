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
}

/// The labels of one `sockscope_sockets` series. `--all-netns` (not built yet) adds
/// the socket's network namespace and container here, and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketLabels {
    pub proto: Proto,
    pub state: TcpState,
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
        let mut counts: BTreeMap<SocketLabels, u64> = zeros.iter().map(|&k| (k, 0)).collect();
        for s in sockets {
            let key = SocketLabels {
                proto: s.proto,
                state: s.state,
            };
            *counts.entry(key).or_default() += 1;
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
            let key = (o.comm.clone(), limits.pid_label.then_some(o.pid));
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
mod tests {
    use super::*;
    use crate::model::{Family, Owner, Owners};

    fn tcp(state: TcpState, local: &str, owners: &[(u32, &str)]) -> Socket {
        let mut s = Socket::inet(
            Proto::Tcp,
            Family::Ipv4,
            state,
            local.parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        );
        s.processes = Owners::from(
            owners
                .iter()
                .map(|&(pid, comm)| Owner {
                    pid,
                    fd: 3,
                    comm: comm.into(),
                    uid: 0,
                    user: "root".into(),
                    container: None,
                })
                .collect::<Vec<_>>(),
        );
        s
    }

    const LIMITS: Limits = Limits {
        processes: 2,
        listeners: 1,
        pid_label: false,
    };

    #[test]
    fn counts_by_proto_and_state_with_zeros() {
        let sockets = [
            tcp(TcpState::Established, "127.0.0.1:1", &[]),
            tcp(TcpState::Established, "127.0.0.1:2", &[]),
            tcp(TcpState::TimeWait, "127.0.0.1:3", &[]),
        ];
        let zero = SocketLabels {
            proto: Proto::Tcp,
            state: TcpState::CloseWait,
        };
        let s = Summary::new(&sockets, &[], Kernel::default(), &[zero], LIMITS);
        let get = |state| {
            s.sockets[&SocketLabels {
                proto: Proto::Tcp,
                state,
            }]
        };
        assert_eq!(get(TcpState::Established), 2);
        assert_eq!(get(TcpState::TimeWait), 1);
        assert_eq!(get(TcpState::CloseWait), 0);
        assert_eq!(s.sockets.len(), 3);
        assert_eq!(state_label(TcpState::CloseWait), "close_wait");
        assert_eq!(json_name(&Proto::Unix), "unix");
    }

    #[test]
    fn top_processes_keep_rows_and_the_rest_fold_into_other() {
        let est = TcpState::Established;
        let sockets = [
            tcp(est, "127.0.0.1:1", &[(10, "nginx"), (11, "nginx")]),
            tcp(est, "127.0.0.1:2", &[(11, "nginx")]),
            tcp(TcpState::CloseWait, "127.0.0.1:3", &[(12, "nginx")]),
            tcp(est, "127.0.0.1:4", &[(20, "bad\nname")]),
            tcp(est, "127.0.0.1:5", &[(20, "bad\nname")]),
            tcp(est, "127.0.0.1:6", &[(30, "small")]),
            tcp(est, "127.0.0.1:7", &[(40, "tiny")]),
            tcp(TcpState::TimeWait, "127.0.0.1:8", &[]),
        ];
        let rows = processes(&sockets, LIMITS);
        let find = |comm: &str, state| {
            rows.iter()
                .find(|r| r.comm == comm && r.state == state)
                .map(|r| r.sockets)
        };
        // Forked holders of one name count the socket once.
        assert_eq!(find("nginx", est), Some(2));
        assert_eq!(find("nginx", TcpState::CloseWait), Some(1));
        assert_eq!(find("bad\\nname", est), Some(2));
        assert_eq!(find(OTHER, est), Some(2));
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.pid.is_none()));

        let with_pids = processes(
            &sockets,
            Limits {
                pid_label: true,
                ..LIMITS
            },
        );
        assert!(with_pids.iter().all(|r| r.pid.is_some()));
        // By pid, 11 and 20 hold two sockets each; 10, 12, 30 and 40 fold into other.
        assert!(with_pids.iter().any(|r| r.pid.as_deref() == Some("11")));
        assert!(with_pids.iter().any(|r| r.pid.as_deref() == Some(OTHER)));
    }

    #[test]
    fn listeners_fullest_first_and_the_rest_summed() {
        let mut a = tcp(TcpState::Listen, "0.0.0.0:80", &[]);
        (a.recv_q, a.send_q) = (1, 128);
        let mut b = tcp(TcpState::Listen, "127.0.0.1:8080", &[]);
        (b.recv_q, b.send_q) = (4, 4);
        let mut c = tcp(TcpState::Listen, "127.0.0.1:8080", &[]);
        (c.recv_q, c.send_q) = (0, 4);
        let rows = listeners(&[a, b, c], 1);
        assert_eq!(
            rows,
            [
                ListenRow {
                    addr: "127.0.0.1".into(),
                    port: "8080".into(),
                    queue: 4,
                    backlog: 8
                },
                ListenRow {
                    addr: OTHER.into(),
                    port: OTHER.into(),
                    queue: 1,
                    backlog: 128
                },
            ]
        );
    }

    #[test]
    fn kernel_counters_the_kernel_has() {
        let ext = TcpExt(vec![
            ("ListenOverflows".into(), 7),
            ("TCPAbortOnTimeout".into(), 3),
            ("Unrelated".into(), 1),
        ]);
        let kernel = Kernel {
            tcp_ext: Some(&ext),
            port_range: Some(PortRange {
                low: 32768,
                high: 60999,
            }),
        };
        let s = Summary::new(&[], &[], kernel, &[], LIMITS);
        let served: Vec<_> = s.counters.iter().map(|(c, v)| (c.kernel, *v)).collect();
        assert_eq!(served, [("ListenOverflows", 7), ("TCPAbortOnTimeout", 3)]);
        assert_eq!(s.ephemeral_ports, Some(28232));
    }
}
