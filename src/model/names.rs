//! Names for numbers, as `ss` shows them: a service name for a port (`:https`, from
//! /etc/services) and a host name for a remote address (reverse DNS, `-r`). Plain
//! data and one trait: the reading is collect's (`collect::services`,
//! `collect::resolve`); `Naming` is the choice a view or `list` made, handed to the
//! text of an endpoint (`Socket::local_text_with`, `remote_text_with`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use super::Proto;

/// Service names by protocol and port: what /etc/services says, the first name given
/// for a port (as getservbyport answers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    by_port: HashMap<(ServiceProto, u16), Box<str>>,
}

/// The protocols /etc/services names ports for that sockscope lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceProto {
    Tcp,
    Udp,
    Sctp,
}

impl ServiceProto {
    /// As /etc/services spells it ("443/tcp").
    pub fn parse(text: &str) -> Option<ServiceProto> {
        Some(match text {
            "tcp" => ServiceProto::Tcp,
            "udp" => ServiceProto::Udp,
            "sctp" => ServiceProto::Sctp,
            _ => return None,
        })
    }

    /// Whose ports a socket of `proto` uses: MPTCP's are TCP's; ICMP's "port" is an
    /// echo id, raw sockets have a protocol there: no names.
    pub fn of(proto: Proto) -> Option<ServiceProto> {
        match proto {
            Proto::Tcp | Proto::Mptcp => Some(ServiceProto::Tcp),
            Proto::Udp => Some(ServiceProto::Udp),
            Proto::Sctp => Some(ServiceProto::Sctp),
            _ => None,
        }
    }
}

impl Services {
    /// Adds a name, unless the port already has one (the file's first line wins).
    pub fn insert(&mut self, proto: ServiceProto, port: u16, name: &str) {
        self.by_port
            .entry((proto, port))
            .or_insert_with(|| name.into());
    }

    pub fn get(&self, proto: ServiceProto, port: u16) -> Option<&str> {
        self.by_port.get(&(proto, port)).map(|n| &**n)
    }

    pub fn len(&self) -> usize {
        self.by_port.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }
}

/// Host names for addresses, as a resolver has them so far: `host` answers at once,
/// with None until (and unless) a name is known. Asking may start a lookup.
pub trait HostNames: Send + Sync {
    fn host(&self, ip: IpAddr) -> Option<Arc<str>>;
}

/// Which names endpoints are written with. The default (`Naming::NUMERIC`) is numbers
/// only, as the JSON and every text that does not say otherwise keep them.
#[derive(Clone, Default)]
pub struct Naming {
    /// Port names; None for numbers (`-n`, the live view's `n`).
    pub services: Option<Arc<Services>>,
    /// Ports not named, as ss leaves them: the ephemeral range (a client's port 40000
    /// is no service, whatever /etc/services says).
    pub unnamed: Option<RangeInclusive<u16>>,
    /// Remote host names; None for addresses (the default; `-r`, `R` turn it on).
    pub hosts: Option<Arc<dyn HostNames>>,
}

impl std::fmt::Debug for Naming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Naming")
            .field("services", &self.services.as_ref().map(|s| s.len()))
            .field("unnamed", &self.unnamed)
            .field("hosts", &self.hosts.is_some())
            .finish()
    }
}

impl Naming {
    /// Numbers only.
    pub const NUMERIC: Naming = Naming {
        services: None,
        unnamed: None,
        hosts: None,
    };

    /// The name of `port` for a socket of `proto`, if it has one and names are on.
    pub fn service(&self, proto: Proto, port: u16) -> Option<&str> {
        if port == 0 || self.unnamed.as_ref().is_some_and(|r| r.contains(&port)) {
            return None;
        }
        self.services.as_ref()?.get(ServiceProto::of(proto)?, port)
    }

    /// The host name of a remote address, if resolving is on and it is known yet. An
    /// unspecified address (`*`) has none.
    pub fn host(&self, ip: IpAddr) -> Option<Arc<str>> {
        if ip.is_unspecified() {
            return None;
        }
        self.hosts.as_ref()?.host(ip)
    }
}

/// The numbers-only naming, for callers that need a `&'static Naming`.
pub static NUMERIC: Naming = Naming::NUMERIC;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_name_wins_and_ephemeral_ports_stay_numbers() {
        let mut services = Services::default();
        services.insert(ServiceProto::Tcp, 443, "https");
        services.insert(ServiceProto::Tcp, 443, "later");
        services.insert(ServiceProto::Tcp, 40000, "busy");
        let naming = Naming {
            services: Some(Arc::new(services)),
            unnamed: Some(32768..=60999),
            hosts: None,
        };
        assert_eq!(naming.service(Proto::Tcp, 443), Some("https"));
        assert_eq!(naming.service(Proto::Mptcp, 443), Some("https"));
        assert_eq!(naming.service(Proto::Udp, 443), None);
        assert_eq!(naming.service(Proto::Icmp, 443), None);
        assert_eq!(naming.service(Proto::Tcp, 40000), None);
        assert_eq!(Naming::NUMERIC.service(Proto::Tcp, 443), None);
        assert_eq!(naming.host("10.0.0.1".parse().unwrap()), None);
    }
}
