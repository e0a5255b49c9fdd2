//! The live view's names, as ss shows them: port names from /etc/services unless
//! `-n` (`n` toggles), remote host names only when asked (`-r`, `R` toggles). The
//! table's cells read `LiveNaming::naming`; the host names come from a resolver that
//! looks them up on its own threads (`collect::resolve`), so a draw never waits.

use std::ops::RangeInclusive;
use std::sync::Arc;

use crate::model::Naming;
use crate::model::names::{HostNames, Services};

/// What the live view can name, and what it names now.
#[derive(Clone, Debug, Default)]
pub struct LiveNaming {
    /// What endpoints are written with now.
    pub naming: Naming,
    /// What `n` and `R` turn on: loaded at the start, kept while off.
    available: Naming,
}

/// How the live view starts: `-n` and `-r` on its command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Start {
    pub numeric: bool,
    pub resolve: bool,
}

impl LiveNaming {
    /// `services` from /etc/services (None when it could not be read), `unnamed` the
    /// ephemeral ports ss leaves as numbers, `hosts` the resolver `R` asks.
    pub fn new(
        services: Option<Arc<Services>>,
        unnamed: Option<RangeInclusive<u16>>,
        hosts: Option<Arc<dyn HostNames>>,
        start: Start,
    ) -> LiveNaming {
        let available = Naming {
            services,
            unnamed,
            hosts,
        };
        let mut live = LiveNaming {
            naming: Naming {
                unnamed: available.unnamed.clone(),
                ..Naming::NUMERIC
            },
            available,
        };
        if !start.numeric {
            live.toggle_services();
        }
        if start.resolve {
            live.toggle_hosts();
        }
        live
    }

    pub fn services_on(&self) -> bool {
        self.naming.services.is_some()
    }

    pub fn hosts_on(&self) -> bool {
        self.naming.hosts.is_some()
    }

    /// `n`: port names on or off; says which (or why there are none).
    pub fn toggle_services(&mut self) -> &'static str {
        if self.services_on() {
            self.naming.services = None;
            return "port numbers (n: names)";
        }
        match &self.available.services {
            Some(services) if !services.is_empty() => {
                self.naming.services = Some(services.clone());
                "port names from /etc/services (n: numbers)"
            }
            _ => "no port names: /etc/services is missing or empty",
        }
    }

    /// `R`: remote host names on or off.
    pub fn toggle_hosts(&mut self) -> &'static str {
        if self.hosts_on() {
            self.naming.hosts = None;
            return "remote addresses (R: host names)";
        }
        match &self.available.hosts {
            Some(hosts) => {
                self.naming.hosts = Some(hosts.clone());
                "resolving remote hosts, numbers until names arrive (R: off)"
            }
            None => "no resolver in this view",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;
    use crate::model::names::ServiceProto;

    #[test]
    fn n_and_r_toggle_what_is_available() {
        let mut services = Services::default();
        services.insert(ServiceProto::Tcp, 443, "https");
        let mut live = LiveNaming::new(Some(Arc::new(services)), None, None, Start::default());
        assert_eq!(live.naming.service(Proto::Tcp, 443), Some("https"));
        live.toggle_services();
        assert_eq!(live.naming.service(Proto::Tcp, 443), None);
        assert!(live.toggle_hosts().starts_with("no resolver"));
        assert!(!live.hosts_on());
        let numeric = Start {
            numeric: true,
            resolve: false,
        };
        let live = LiveNaming::new(None, None, None, numeric);
        assert!(!live.services_on());
    }
}
