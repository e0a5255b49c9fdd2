//! TIME_WAIT toward one destination eating the ephemeral port range.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::super::{DiagnoseConfig, Finding, KernelFacts, Kind, Severity, finding, plural};
use super::{KindText, Rule, tcp_in};
use crate::model::{TcpState, endpoint_text};
use crate::states;
use crate::track::{History, Tracker};

pub(super) const RULE: Rule = Rule {
    checks: "TIME_WAIT vs the port range",
    kinds: &[KindText {
        kind: Kind::TimeWaitExhaustion,
        label: "TIME_WAIT",
        meaning: states::TIME_WAIT_CHURN,
        next_steps: "reuse connections (keep-alive, a pool); widen net.ipv4.ip_local_port_range; \
             consider net.ipv4.tcp_tw_reuse=1 for outgoing connections",
    }],
    check: time_wait,
};

fn time_wait(
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
        if let (Some(local), Some(remote)) = (h.socket().local, h.socket().remote)
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
