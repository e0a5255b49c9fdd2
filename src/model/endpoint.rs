//! The text of an endpoint, with or without names: the one definition every text
//! output uses.

use std::net::{IpAddr, SocketAddr};

/// Unspecified addresses and port 0 print as `*`; IPv6 goes in brackets.
pub fn endpoint_text(addr: SocketAddr) -> String {
    Endpoint(addr).to_string()
}

/// `endpoint_text`, or `*` for none: the one text of a remote end.
pub fn endpoint_or_any(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "*".into(), endpoint_text)
}

/// An address as the table prints it (see `endpoint_text`), written without
/// intermediate strings.
pub struct Endpoint(pub SocketAddr);

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        NamedEndpoint::new(self.0, None, None).fmt(f)
    }
}

/// An endpoint with names where known: the host's in place of the address, the
/// service's in place of the port (`localhost:https`, `127.0.0.1:https`). The one
/// definition of an endpoint's text; `Endpoint` is it without names.
pub struct NamedEndpoint<'a> {
    pub addr: SocketAddr,
    pub host: Option<&'a str>,
    pub service: Option<&'a str>,
}

impl<'a> NamedEndpoint<'a> {
    pub fn new(addr: SocketAddr, host: Option<&'a str>, service: Option<&'a str>) -> Self {
        NamedEndpoint {
            addr,
            host,
            service,
        }
    }
}

impl std::fmt::Display for NamedEndpoint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.host, self.addr.ip()) {
            (_, ip) if ip.is_unspecified() => f.write_str("*")?,
            (Some(host), _) => f.write_str(host)?,
            (None, IpAddr::V4(ip)) => write!(f, "{ip}")?,
            (None, IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        match (self.addr.port(), self.service) {
            (0, _) => f.write_str(":*"),
            (_, Some(name)) => write!(f, ":{name}"),
            (port, None) => write!(f, ":{port}"),
        }
    }
}
