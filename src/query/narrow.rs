//! What a query rules out before anything is read: the protocols and IP families no
//! matching socket can have. `collect::Selection` turns them into the tables to skip.

use super::Query;
use crate::model::{Family, Proto, TcpState};

impl Query {
    /// The protocols a matching socket can have; None: any. What the protocol terms
    /// ask, less those whose sockets never take a state asked for, or have no port when
    /// a port is. Empty when nothing can match.
    pub fn possible_protos(&self) -> Option<Vec<Proto>> {
        if self.protos.is_empty() && self.states.is_empty() && self.ports.is_empty() {
            return None;
        }
        let asked: &[Proto] = match self.protos.is_empty() {
            true => &Proto::ALL,
            false => &self.protos,
        };
        let possible = asked
            .iter()
            .copied()
            .filter(|&p| self.states.is_empty() || self.states.iter().any(|&s| takes(p, s)))
            .filter(|p| self.ports.is_empty() || p.has_ports())
            .collect();
        Some(possible)
    }

    /// The IP families a matching socket can be in; None: any family, IP or not.
    pub fn possible_families(&self) -> Option<Vec<Family>> {
        (!self.families.is_empty()).then(|| self.families.clone())
    }
}

/// Whether a socket of `proto` can be in `state`, as collect reads them: UDP, raw,
/// ICMP, packet and netlink sockets are connected or not; unix ones also listen, and
/// /proc/net/unix says when one is disconnecting; the sockets no table names are
/// unconnected. TCP, MPTCP, SCTP and vsock take TCP's states.
fn takes(proto: Proto, state: TcpState) -> bool {
    use TcpState::{Close, Established, Listen, Unconn};
    match proto {
        Proto::Udp | Proto::Raw | Proto::Icmp | Proto::Packet | Proto::Netlink => {
            matches!(state, Established | Unconn)
        }
        Proto::Unix => matches!(state, Listen | Established | Unconn | Close),
        Proto::Other => state == Unconn,
        Proto::Tcp | Proto::Mptcp | Proto::Sctp | Proto::Vsock => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protos(filter: &str) -> Option<Vec<Proto>> {
        Query::parse(filter).unwrap().possible_protos()
    }

    #[test]
    fn protocols_asked_are_the_protocols_possible() {
        assert_eq!(protos(""), None);
        assert_eq!(protos("udp"), Some(vec![Proto::Udp]));
        assert_eq!(protos("tcp unix"), Some(vec![Proto::Tcp, Proto::Unix]));
        assert_eq!(protos("nginx 8080"), None, "a bare number may be a pid");
    }

    #[test]
    fn states_and_ports_rule_protocols_out() {
        let tcp_like = vec![Proto::Tcp, Proto::Sctp, Proto::Mptcp, Proto::Vsock];
        assert_eq!(protos("state:time-wait"), Some(tcp_like.clone()));
        assert_eq!(protos("state:syn-sent udp"), Some(vec![]));
        let listen = protos("state:listen").unwrap();
        assert!(listen.contains(&Proto::Unix) && !listen.contains(&Proto::Udp));
        assert_eq!(protos("port:53 unix"), Some(vec![]));
        let ported = protos(":53").unwrap();
        assert!(ported.contains(&Proto::Udp) && !ported.contains(&Proto::Unix));
    }

    #[test]
    fn families() {
        assert_eq!(
            Query::parse("-4").unwrap().possible_families(),
            Some(vec![Family::Ipv4])
        );
        assert_eq!(Query::parse("tcp").unwrap().possible_families(), None);
    }
}
