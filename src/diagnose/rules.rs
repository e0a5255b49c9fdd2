//! The rules, one function each, and the advice that goes with each kind.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, owners_text, plural};
use crate::model::{Proto, TcpState, endpoint_or_any, endpoint_text};
use crate::track::{History, Sample, Tracker};

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn tcp_in(tracker: &Tracker, state: TcpState) -> impl Iterator<Item = &History> + '_ {
    tracker
        .live()
        .filter(move |h| h.socket.proto == Proto::Tcp && h.socket.state == state)
}

/// By first owner's pid (None: no visible process), so each finding names one process.
fn by_owner<'a>(
    sockets: impl Iterator<Item = &'a History>,
) -> BTreeMap<Option<u32>, Vec<&'a History>> {
    let mut groups: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for h in sockets {
        groups
            .entry(h.socket.processes.first().map(|o| o.pid))
            .or_default()
            .push(h);
    }
    groups
}

pub(super) fn close_wait(tracker: &Tracker, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    for (_, group) in by_owner(tcp_in(tracker, TcpState::CloseWait)) {
        let (old, young): (Vec<_>, Vec<_>) = group
            .into_iter()
            .partition(|h| h.state_age() >= config.close_wait_age);
        let Some(oldest) = old.iter().map(|h| h.state_age()).max() else {
            continue; // young ones alone may be closing right now
        };
        // New ones joining old ones: the leak is ongoing.
        let growing = !young.is_empty();
        let mut summary = format!(
            "{} held by {} in CLOSE_WAIT, the oldest for at least {}",
            plural(old.len(), "socket"),
            owners_text(&old),
            secs(oldest),
        );
        if growing {
            summary += &format!(", and growing: {} newer", young.len());
        }
        let severity = if growing {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let sockets = old.into_iter().chain(young).collect();
        out.push(finding(Kind::CloseWait, severity, summary, sockets, config));
    }
}

pub(super) fn time_wait(
    tracker: &Tracker,
    kernel: &KernelFacts,
    config: &DiagnoseConfig,
    out: &mut Vec<Finding>,
) {
    let Some(range) = kernel.port_range else {
        return;
    };
    // Our side used an ephemeral port: we connected out, to `remote`.
    let mut by_destination: BTreeMap<(IpAddr, SocketAddr), Vec<&History>> = BTreeMap::new();
    for h in tcp_in(tracker, TcpState::TimeWait) {
        if let (Some(local), Some(remote)) = (h.socket.local, h.socket.remote)
            && range.contains(local.port())
        {
            by_destination
                .entry((local.ip(), remote))
                .or_default()
                .push(h);
        }
    }
    let size = f64::from(range.len());
    for ((_, remote), group) in by_destination {
        let share = group.len() as f64 / size;
        let severity = if share >= config.time_wait_critical {
            Severity::Critical
        } else if share >= config.time_wait_warning {
            Severity::Warning
        } else {
            continue;
        };
        let summary = format!(
            "{} to {} use {:.0}% of the {} ephemeral ports ({}-{})",
            plural(group.len(), "TIME_WAIT socket"),
            endpoint_text(remote),
            share * 100.0,
            range.len(),
            range.low,
            range.high,
        );
        out.push(finding(
            Kind::TimeWaitExhaustion,
            severity,
            summary,
            group,
            config,
        ));
    }
}

/// How much the listen counters rose over the last `n` readings: (overflows, drops).
fn listen_counters_rise(kernel: &KernelFacts, n: usize) -> (u64, u64) {
    let recent = &kernel.listen_counters[kernel.listen_counters.len().saturating_sub(n)..];
    match (recent.first(), recent.last()) {
        (Some(a), Some(b)) => (
            b.overflows.saturating_sub(a.overflows),
            b.drops.saturating_sub(a.drops),
        ),
        _ => (0, 0),
    }
}

/// A listener whose accept queue stayed non-empty; and ListenOverflows/Drops rising.
/// Send-Q of a listener is its backlog from netlink, but 0 (unknown) from /proc, so a
/// queue is judged by staying non-empty, and "full" only where the backlog is known
/// (a backlog-0 listener holds one connection: then the queue is full).
pub(super) fn listen_queues(
    tracker: &Tracker,
    kernel: &KernelFacts,
    config: &DiagnoseConfig,
    out: &mut Vec<Finding>,
) {
    let n = config.queue_samples.max(2);
    let (overflows, drops) = listen_counters_rise(kernel, n);
    let rising = overflows > 0 || drops > 0;
    let counters_text = format!("ListenOverflows +{overflows}, ListenDrops +{drops}");
    let mut blamed = false;
    let mut busy = Vec::new();
    for h in tcp_in(tracker, TcpState::Listen) {
        let recent: Vec<&Sample> = h.recent(n).collect();
        // One connection caught waiting is normal; a queue seen twice is a suspect.
        if recent.iter().filter(|s| s.recv_q > 0).count() >= 2 {
            busy.push(h);
        }
        if recent.len() < 2 || recent.iter().any(|s| s.recv_q == 0) {
            continue;
        }
        let last = recent[recent.len() - 1];
        // The backlog is known from netlink (which also brings tcp_info, hence the
        // counters), even when it is 0; from /proc it reads 0 whatever it is.
        let backlog_known = last.send_q > 0 || last.counters.is_some();
        let full = backlog_known && last.recv_q >= last.send_q;
        let mut summary = format!(
            "{} listening on {} has {} waiting to be accepted for {}",
            owners_text(&[h]),
            crate::text::escape(&h.socket.local_text()),
            plural(last.recv_q as usize, "connection"),
            secs(last.at.duration_since(recent[0].at).unwrap_or_default()),
        );
        if full {
            summary += &format!(", the full backlog of {}", last.send_q);
        }
        if rising {
            summary += &format!(" ({counters_text})");
        }
        let severity = if full || rising {
            Severity::Critical
        } else {
            Severity::Warning
        };
        out.push(finding(
            Kind::AcceptQueue,
            severity,
            summary,
            vec![h],
            config,
        ));
        blamed = true;
    }
    if !rising || blamed || (busy.is_empty() && !kernel.whole_namespace) {
        return;
    }
    let summary = if busy.is_empty() {
        format!("{counters_text}: an accept queue overflowed between samples")
    } else {
        format!(
            "{counters_text}; {} had connections waiting",
            plural(busy.len(), "listener")
        )
    };
    out.push(finding(
        Kind::ListenOverflows,
        Severity::Warning,
        summary,
        busy,
        config,
    ));
}

pub(super) fn syn_sent(tracker: &Tracker, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    let mut by_destination: BTreeMap<Option<SocketAddr>, Vec<&History>> = BTreeMap::new();
    for h in tcp_in(tracker, TcpState::SynSent) {
        if h.state_age() >= config.syn_sent_age {
            by_destination.entry(h.socket.remote).or_default().push(h);
        }
    }
    for (remote, group) in by_destination {
        let oldest = group
            .iter()
            .map(|h| h.state_age())
            .max()
            .unwrap_or_default();
        let summary = format!(
            "{} by {} to {} unanswered, the oldest for at least {}",
            plural(group.len(), "connection attempt"),
            owners_text(&group),
            endpoint_or_any(remote),
            secs(oldest),
        );
        out.push(finding(
            Kind::SynSent,
            Severity::Warning,
            summary,
            group,
            config,
        ));
    }
}

/// The latest samples, if there are enough to judge a trend.
fn trend(h: &History, config: &DiagnoseConfig) -> Option<Vec<Sample>> {
    let recent: Vec<Sample> = h.recent(config.queue_samples.max(2)).copied().collect();
    (recent.len() >= 2).then_some(recent)
}

fn never_falls(values: &[u32]) -> bool {
    values.iter().all(|&v| v > 0) && values.windows(2).all(|w| w[0] <= w[1])
}

/// Recv-Q non-empty at every recent sample and never shrinking: nobody reads.
pub(super) fn recv_q(tracker: &Tracker, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    // An empty queue now clears a socket without looking back: most are, and this
    // runs at every TUI refresh over every socket.
    let stuck = tcp_in(tracker, TcpState::Established).filter(|h| {
        h.socket.recv_q > 0
            && trend(h, config)
                .is_some_and(|t| never_falls(&t.iter().map(|s| s.recv_q).collect::<Vec<_>>()))
    });
    for (_, group) in by_owner(stuck) {
        let (first, last, span) = queue_totals(&group, config, |s| s.recv_q);
        let verb = if last > first {
            "growing"
        } else {
            "not draining"
        };
        let summary = format!(
            "Recv-Q {verb} on {} held by {}: {first} -> {last} bytes unread over {}",
            plural(group.len(), "socket"),
            owners_text(&group),
            secs(span),
        );
        out.push(finding(
            Kind::RecvQ,
            Severity::Warning,
            summary,
            group,
            config,
        ));
    }
}

/// Send-Q non-empty at every recent sample and blocked (see `send_q_blocked`). With
/// tcp_info, retransmits growing meanwhile make it critical: the peer or path is gone.
pub(super) fn send_q(tracker: &Tracker, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    let stuck = tcp_in(tracker, TcpState::Established)
        .chain(tcp_in(tracker, TcpState::CloseWait))
        .filter(|h| h.socket.send_q > 0) // as for Recv-Q: cheap first
        .filter(|h| trend(h, config).is_some_and(|t| send_q_blocked(&t, config)));
    for (_, group) in by_owner(stuck) {
        let (first, last, span) = queue_totals(&group, config, |s| s.send_q);
        let retransmits: u32 = group
            .iter()
            .filter_map(|h| trend(h, config))
            .filter_map(|t| {
                let (a, b) = (t.first()?.counters?, t.last()?.counters?);
                Some(b.total_retrans.saturating_sub(a.total_retrans))
            })
            .sum();
        let verb = if last > first { "growing" } else { "stuck" };
        let mut summary = format!(
            "Send-Q {verb} on {} held by {}: {first} -> {last} bytes unacknowledged over {}",
            plural(group.len(), "socket"),
            owners_text(&group),
            secs(span),
        );
        if retransmits > 0 {
            summary += &format!(", {} meanwhile", plural(retransmits as usize, "retransmit"));
        }
        let severity = if retransmits > 0 {
            Severity::Critical
        } else {
            Severity::Warning
        };
        out.push(finding(Kind::SendQ, severity, summary, group, config));
    }
}

/// With tcp_info: nothing acknowledged while data waits. Without it, a queue that never
/// shrinks and either grew or is too big to be a delayed ACK (a constant small Send-Q is
/// normal on request/response traffic: the ACK rides on the next request).
fn send_q_blocked(t: &[Sample], config: &DiagnoseConfig) -> bool {
    let q: Vec<u32> = t.iter().map(|s| s.send_q).collect();
    if !never_falls(&q) {
        return false;
    }
    let acked: Option<Vec<u64>> = t
        .iter()
        .map(|s| s.counters.map(|c| c.bytes_acked))
        .collect();
    match acked {
        Some(acked) => acked.iter().all(|&a| a == acked[0]),
        None => {
            let (first, last) = (q[0], q[q.len() - 1]);
            last > first || first >= config.stuck_send_q_bytes
        }
    }
}

/// A queue summed over the group at its first and last recent sample, and the time between.
fn queue_totals(
    group: &[&History],
    config: &DiagnoseConfig,
    queue: impl Fn(&Sample) -> u32,
) -> (u64, u64, Duration) {
    let mut totals = (0u64, 0u64, Duration::ZERO);
    for t in group.iter().filter_map(|h| trend(h, config)) {
        let (a, b) = (&t[0], &t[t.len() - 1]);
        totals.0 += u64::from(queue(a));
        totals.1 += u64::from(queue(b));
        totals.2 = totals.2.max(b.at.duration_since(a.at).unwrap_or_default());
    }
    totals
}
