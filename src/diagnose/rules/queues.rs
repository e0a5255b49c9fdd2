//! Queues nobody drains: Recv-Q unread by the application, Send-Q not acknowledged
//! by the peer.

use std::time::Duration;

use super::super::{
    DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, owners_text, plural,
};
use super::{KindText, Rule, by_owner, secs, tcp_in};
use crate::model::TcpState;
use crate::track::{History, Sample, Tracker};

pub(super) const RECV_Q: Rule = Rule {
    checks: "Recv-Q unread",
    kinds: &[KindText {
        kind: Kind::RecvQ,
        label: "RECV-Q",
        meaning: "data has arrived but the application does not read it: it is blocked, busy, \
             or forgot the socket; the peer will soon be stopped by a zero window",
        next_steps: "see what the owning thread is doing (`cat /proc/PID/stack`, `py-spy dump`, \
             `jstack`); check it polls this fd",
    }],
    check: recv_q,
};

pub(super) const SEND_Q: Rule = Rule {
    checks: "Send-Q stuck",
    kinds: &[KindText {
        kind: Kind::SendQ,
        label: "SEND-Q",
        meaning: "data waits to be sent or acknowledged: the peer stopped reading (zero window) or \
             is gone; with retransmits growing, the path or peer is dead",
        next_steps: "check the peer application reads; `ss -tino dst PEER` shows retransmits and the \
             peer's window; a dead peer is cleared by TCP keepalive or a user timeout",
    }],
    check: send_q,
};

fn trend(h: &History, config: &DiagnoseConfig) -> Option<Vec<Sample>> {
    let recent: Vec<Sample> = h.recent(config.queue_samples.max(2)).collect();
    (recent.len() >= 2).then_some(recent)
}

fn never_falls(values: &[u32]) -> bool {
    values.iter().all(|&v| v > 0) && values.windows(2).all(|w| w[0] <= w[1])
}

/// Recv-Q non-empty at every recent sample and never shrinking: nobody reads.
fn recv_q(tracker: &Tracker, _: &KernelFacts, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    // An empty queue now clears a socket without looking back: most are, and this
    // runs at every TUI refresh over every socket.
    let stuck = tcp_in(tracker, TcpState::Established).filter(|h| {
        h.socket().recv_q > 0
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
fn send_q(tracker: &Tracker, _: &KernelFacts, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    let stuck = tcp_in(tracker, TcpState::Established)
        .chain(tcp_in(tracker, TcpState::CloseWait))
        .filter(|h| h.socket().send_q > 0) // as for Recv-Q: cheap first
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
