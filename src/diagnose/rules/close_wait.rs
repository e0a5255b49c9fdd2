//! CLOSE_WAIT held: the peer closed, the application never did.

use super::super::{
    DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, owners_text, plural,
};
use super::{KindText, Rule, by_owner, secs, tcp_in};
use crate::model::TcpState;
use crate::states;
use crate::track::Tracker;

pub(super) const RULE: Rule = Rule {
    checks: "CLOSE_WAIT held",
    kinds: &[KindText {
        kind: Kind::CloseWait,
        label: "CLOSE_WAIT",
        meaning: states::CLOSE_WAIT_LEAK,
        next_steps: "look for code paths that drop a connection without closing it (error paths, \
             pools that never evict); `ls -l /proc/PID/fd | wc -l` shows the fd count growing",
    }],
    check: close_wait,
};

fn close_wait(tracker: &Tracker, _: &KernelFacts, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
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
