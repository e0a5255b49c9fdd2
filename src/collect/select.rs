//! Which socket tables a snapshot reads: the protocols and IP families a command's
//! filters can still match (`list --udp` reads no unix or TCP table).
//!
//! A table is skipped only when no socket it holds could pass the filter, and nothing
//! the wanted rows show depends on it:
//! - TCP peers: an IPv4 client's accepted end on a dual-stack listener is in the IPv6
//!   table, so TCP reads both families whatever `-4`/`-6` say.
//! - MPTCP: its first subflow is listed by the TCP dump under the MPTCP inode and is
//!   dropped by it (see `drop_mptcp_subflows`), so wanting TCP reads MPTCP too.
//! - The sockets no table names (unnamed.rs) are named by the kernel one by one; that
//!   pass runs only when a protocol it can yield is wanted, and keeps only those.
//! - `other` is whatever no table holds, which needs every table: wanting it reads all.
//!
//! The live view does not narrow: its filter bar can ask for anything at any time.

use crate::model::{Family, Proto};

/// The protocols (None: all) and IP families (None: both) whose sockets are wanted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    protos: Option<Vec<Proto>>,
    families: Option<Vec<Family>>,
}

impl Selection {
    /// Everything: every table is read.
    pub const ALL: Selection = Selection {
        protos: None,
        families: None,
    };

    /// Only sockets of `protos` (None: any; empty: none) in `families` (None or
    /// empty: any; a family other than IPv4/IPv6 wants no IP socket).
    pub fn new(protos: Option<Vec<Proto>>, families: Option<Vec<Family>>) -> Selection {
        let protos = protos.filter(|p| !p.contains(&Proto::Other));
        let families = families.filter(|f| !f.is_empty());
        Selection { protos, families }
    }

    pub fn is_all(&self) -> bool {
        self.protos.is_none() && self.families.is_none()
    }

    /// Whether any socket of `proto` is wanted.
    pub fn wants(&self, proto: Proto) -> bool {
        let proto_ok = self.protos.as_ref().is_none_or(|p| p.contains(&proto));
        proto_ok
            && match (&self.families, ip_proto(proto)) {
                (Some(families), true) => {
                    families.contains(&Family::Ipv4) || families.contains(&Family::Ipv6)
                }
                // Unix, packet, netlink, vsock: their own family, never IPv4/IPv6.
                (Some(families), false) => families.iter().any(|f| !ip_family(*f)),
                (None, _) => true,
            }
    }

    /// Whether the table of `proto` over `family` (IPv4 or IPv6) is read.
    pub fn reads(&self, proto: Proto, family: Family) -> bool {
        match proto {
            // Peers across families, and MPTCP subflows: see the module comment.
            Proto::Tcp => self.wants(Proto::Tcp),
            Proto::Mptcp => self.wants(Proto::Mptcp) || self.wants(Proto::Tcp),
            _ => self.wants(proto) && self.families.as_ref().is_none_or(|f| f.contains(&family)),
        }
    }

    /// Whether a socket no table named, of `proto`, is kept (see unnamed.rs).
    pub fn keeps_unnamed(&self, proto: Proto, family: Family) -> bool {
        self.wants(proto)
            && (!ip_proto(proto) || self.families.as_ref().is_none_or(|f| f.contains(&family)))
    }

    /// The TCP, UDP and unix tables (the ones that grow to 100k sockets) not read in
    /// full: the census in `TableReader::rule_out_unread` asks them for inodes.
    pub fn unread_big_tables(&self) -> Vec<Proto> {
        let unread = |proto, families: &[Family]| families.iter().any(|&f| !self.reads(proto, f));
        [
            (Proto::Tcp, &[Family::Ipv4, Family::Ipv6][..]),
            (Proto::Udp, &[Family::Ipv4, Family::Ipv6]),
            (Proto::Unix, &[Family::Unix]),
        ]
        .into_iter()
        .filter(|(proto, families)| unread(*proto, families))
        .map(|(proto, _)| proto)
        .collect()
    }

    /// Whether the pass over the sockets no table named can yield a wanted one.
    pub fn wants_unnamed(&self) -> bool {
        UNNAMED.iter().any(|&p| self.wants(p))
    }
}

/// What `unnamed::named` can make of a socket no table listed. Never unix: unix_diag
/// and /proc/net/unix list every unix socket, bound or not.
const UNNAMED: [Proto; 8] = [
    Proto::Tcp,
    Proto::Udp,
    Proto::Mptcp,
    Proto::Sctp,
    Proto::Icmp,
    Proto::Netlink,
    Proto::Vsock,
    Proto::Other,
];

fn ip_proto(proto: Proto) -> bool {
    matches!(
        proto,
        Proto::Tcp | Proto::Udp | Proto::Raw | Proto::Icmp | Proto::Sctp | Proto::Mptcp
    )
}

fn ip_family(family: Family) -> bool {
    matches!(family, Family::Ipv4 | Family::Ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_reads_udp_alone() {
        let udp = Selection::new(Some(vec![Proto::Udp]), None);
        assert!(udp.reads(Proto::Udp, Family::Ipv4) && udp.reads(Proto::Udp, Family::Ipv6));
        for proto in [
            Proto::Tcp,
            Proto::Unix,
            Proto::Mptcp,
            Proto::Raw,
            Proto::Netlink,
        ] {
            assert!(!udp.reads(proto, Family::Ipv4), "{proto:?}");
        }
        assert!(udp.wants_unnamed());
        assert_eq!(udp.unread_big_tables(), [Proto::Tcp, Proto::Unix]);
        assert!(Selection::ALL.unread_big_tables().is_empty());
        assert!(!Selection::new(Some(vec![Proto::Unix]), None).wants_unnamed());
    }

    #[test]
    fn tcp_keeps_what_its_rows_need() {
        let tcp4 = Selection::new(Some(vec![Proto::Tcp]), Some(vec![Family::Ipv4]));
        assert!(
            tcp4.reads(Proto::Tcp, Family::Ipv6),
            "peers across families"
        );
        assert!(tcp4.reads(Proto::Mptcp, Family::Ipv4), "subflows");
        assert!(!tcp4.reads(Proto::Udp, Family::Ipv4));
        assert!(tcp4.keeps_unnamed(Proto::Tcp, Family::Ipv4));
        assert!(!tcp4.keeps_unnamed(Proto::Tcp, Family::Ipv6));
    }

    #[test]
    fn families_rule_out_the_other_families() {
        let v6 = Selection::new(None, Some(vec![Family::Ipv6]));
        assert!(!v6.wants(Proto::Unix) && !v6.wants(Proto::Netlink));
        assert!(v6.reads(Proto::Udp, Family::Ipv6) && !v6.reads(Proto::Udp, Family::Ipv4));
        assert!(v6.reads(Proto::Tcp, Family::Ipv4));
    }

    #[test]
    fn other_or_nothing_reads_everything() {
        assert!(Selection::new(Some(vec![Proto::Other, Proto::Udp]), None).is_all());
        assert!(Selection::new(None, Some(vec![])).is_all());
        let none = Selection::new(Some(vec![]), None);
        assert!(!none.reads(Proto::Tcp, Family::Ipv4) && !none.wants_unnamed());
        assert!(Selection::ALL.reads(Proto::Unix, Family::Unix));
    }
}
