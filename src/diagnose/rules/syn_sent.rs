//! SYN_SENT unanswered: connects that get no reply.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::super::{
    DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, owners_text, plural,
};
use super::{KindText, Rule, secs, tcp_in};
use crate::model::{TcpState, endpoint_or_any};
use crate::states;
use crate::track::{History, Tracker};

pub(super) const RULE: Rule = Rule {
    checks: "SYN_SENT unanswered",
    kinds: &[KindText {
        kind: Kind::SynSent,
        label: "SYN_SENT",
        meaning: states::SYN_UNANSWERED,
        next_steps: "check the destination is reachable and listening (`nc -vz HOST PORT`), the route \
             and firewall rules; on the peer, its listener's accept queue",
    }],
    check: syn_sent,
};

fn syn_sent(tracker: &Tracker, _: &KernelFacts, config: &DiagnoseConfig, out: &mut Vec<Finding>) {
    let mut by_destination: BTreeMap<Option<SocketAddr>, Vec<&History>> = BTreeMap::new();
    for h in tcp_in(tracker, TcpState::SynSent) {
        if h.state_age() >= config.syn_sent_age {
            by_destination.entry(h.socket().remote).or_default().push(h);
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
