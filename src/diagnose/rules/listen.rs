//! Listeners: an accept queue that stays full, and the kernel's listen overflow
//! counters rising (reported alone when no listener in view can be blamed).

use super::super::{
    DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, owners_text, plural,
};
use super::{KindText, Rule, secs, tcp_in};
use crate::model::TcpState;
use crate::states;
use crate::track::{Sample, Tracker};

pub(super) const RULE: Rule = Rule {
    checks: "accept queues and ListenOverflows",
    kinds: &[
        KindText {
            kind: Kind::AcceptQueue,
            label: "ACCEPT QUEUE",
            meaning: states::ACCEPT_QUEUE_WAITING,
            next_steps: "check the process is alive and not blocked (`cat /proc/PID/stack`, a debugger); \
             raise the listen() backlog and net.core.somaxconn; add accept workers",
        },
        KindText {
            kind: Kind::ListenOverflows,
            label: "LISTEN OVERFLOWS",
            meaning: "the kernel dropped connections because an accept queue was full \
             (TcpExt ListenOverflows / ListenDrops in /proc/net/netstat rose)",
            next_steps: "find the listener with a non-empty Recv-Q (`sockscope list --listening`), \
             then see why its process accepts slowly; `nstat -az TcpExtListenOverflows`",
        },
    ],
    check: listen_queues,
};

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
fn listen_queues(
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
        let recent: Vec<Sample> = h.recent(n).collect();
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
        // The window is the samples looked at, not how long the queue has been
        // waiting (older samples are gone): say so, or it reads as contradicting the
        // socket's own, longer, time in state.
        let mut summary = format!(
            "{} listening on {} has {} waiting to be accepted, in every sample of the last {}",
            owners_text(&[h]),
            crate::text::local_text(h.socket()),
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
