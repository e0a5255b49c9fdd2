//! Filters: one language for the CLI flags and the TUI filter bar.
//!
//! The filter bar takes terms like `port:8080 state:estab pid:1234 udp -6 nginx`
//! (a protocol alone or as `proto:raw`);
//! the CLI flags (`--port 8080 --state estab --udp -6`) fill the same `Query`
//! through the same term parsers. Terms of one kind are alternatives (two states
//! match either); different kinds must all match.

use crate::model::{Family, Proto, Socket, TcpState};

mod explain;
mod mask;
mod narrow;
pub use explain::{number_note, why_empty};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pub pids: Vec<u32>,
    pub ports: Vec<u16>,
    pub states: Vec<TcpState>,
    pub protos: Vec<Proto>,
    pub families: Vec<Family>,
    /// LISTEN sockets and bound, unconnected ones, as `ss -l` shows.
    pub listening: bool,
    /// Bare numbers: a port or a pid (either matches; `number_note` says which did).
    pub numbers: Vec<u32>,
    /// `netns:NAME|INODE`: the socket's network namespace.
    pub netns: Vec<String>,
    /// `container:NAME|ID`: an owner's container, by name or by (a prefix of) its id.
    pub containers: Vec<String>,
    /// Bare words: a process name, an address or a unix path containing the word.
    pub words: Vec<String>,
}

impl Query {
    /// Parses the filter bar's text. The error says which term is wrong and why.
    pub fn parse(text: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for term in text.split_whitespace() {
            q.add_term(term)?;
        }
        Ok(q)
    }

    fn add_term(&mut self, term: &str) -> Result<(), String> {
        if let Some((key, value)) = term.split_once(':')
            && !value.is_empty()
        {
            match key.to_ascii_lowercase().as_str() {
                "port" => self.ports.push(parse_port(value)?),
                "state" => self.states.push(parse_state(value)?),
                "pid" => self.pids.push(parse_pid(value)?),
                "proto" => self.protos.push(parse_proto(value)?),
                // `:8080`, as ss and lsof write a port.
                "" => self.ports.push(parse_port(value)?),
                "netns" => self.netns.push(value.to_string()),
                "container" => self.containers.push(value.to_string()),
                // Anything else with a colon is an address like ::1 or 127.0.0.1:80.
                _ => {
                    self.words.push(term.to_ascii_lowercase());
                }
            }
            return Ok(());
        }
        let lower = term.to_ascii_lowercase();
        if let Ok(proto) = parse_proto(&lower) {
            self.protos.push(proto);
            return Ok(());
        }
        match lower.as_str() {
            "-4" | "ipv4" => self.families.push(Family::Ipv4),
            "-6" | "ipv6" => self.families.push(Family::Ipv6),
            "listening" | "-l" => self.listening = true,
            number if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                self.numbers.push(parse_pid(number)?)
            }
            // A state in any spelling (estab, time-wait, CLOSE_WAIT) is that state:
            // people type the word they see in the STATE column.
            word => match parse_state(word) {
                Ok(state) => self.states.push(state),
                Err(_) => self.words.push(word.to_string()),
            },
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Query::default()
    }

    pub fn matches(&self, s: &Socket) -> bool {
        any_or_none(&self.pids, |pid| s.processes.iter().any(|o| o.pid == *pid))
            && self
                .numbers
                .iter()
                .all(|n| has_port(s, *n) || has_pid(s, *n))
            && any_or_none(&self.ports, |port| has_port(s, u32::from(*port)))
            && any_or_none(&self.states, |state| *state == s.state)
            && any_or_none(&self.protos, |proto| *proto == s.proto)
            && any_or_none(&self.families, |family| *family == s.family)
            && (!self.listening || matches!(s.state, TcpState::Listen | TcpState::Unconn))
            && any_or_none(&self.netns, |want| netns_matches(want, s))
            && any_or_none(&self.containers, |want| container_matches(want, s))
            && self.words.iter().all(|w| word_matches(w, s))
    }
}

/// The filter bar text of a query: `Query::parse(&q.to_string()) == Ok(q)`. The live
/// view starts with the command line's filters written out this way.
impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut terms: Vec<String> = Vec::new();
        terms.extend(self.pids.iter().map(|p| format!("pid:{p}")));
        terms.extend(self.ports.iter().map(|p| format!("port:{p}")));
        terms.extend(self.states.iter().map(|s| format!("state:{}", s.name())));
        terms.extend(self.protos.iter().map(|p| p.name().to_string()));
        terms.extend(self.families.iter().map(|fam| {
            match fam {
                Family::Ipv4 => "-4",
                Family::Ipv6 => "-6",
                Family::Unix => "unix",
                // Never parsed into a family (the protocol names them), so not written.
                Family::Packet | Family::Netlink | Family::Vsock | Family::Other => "",
            }
            .to_string()
        }));
        if self.listening {
            terms.push("listening".into());
        }
        terms.extend(self.numbers.iter().map(|n| n.to_string()));
        terms.extend(self.netns.iter().map(|n| format!("netns:{n}")));
        terms.extend(self.containers.iter().map(|c| format!("container:{c}")));
        terms.extend(self.words.iter().cloned());
        f.write_str(&terms.join(" "))
    }
}

pub(crate) fn has_port(s: &Socket, port: u32) -> bool {
    [s.local, s.remote]
        .iter()
        .flatten()
        .any(|a| u32::from(a.port()) == port)
}

pub(crate) fn has_pid(s: &Socket, pid: u32) -> bool {
    s.processes.iter().any(|o| o.pid == pid)
}

/// `netns:` names a namespace by its /run/netns name or its inode.
fn netns_matches(want: &str, s: &Socket) -> bool {
    s.netns
        .as_ref()
        .is_some_and(|n| n.name.as_deref() == Some(want) || n.inode.to_string() == want)
}

/// `container:` names a container by its name or the start of its id (docker's
/// short ids are its first 12 digits).
fn container_matches(want: &str, s: &Socket) -> bool {
    s.processes
        .iter()
        .filter_map(|o| o.container.as_ref())
        .any(|c| c.name.as_deref() == Some(want) || c.id.starts_with(want))
}

/// An empty list of alternatives puts no condition.
fn any_or_none<T>(alternatives: &[T], matches: impl Fn(&T) -> bool) -> bool {
    alternatives.is_empty() || alternatives.iter().any(matches)
}

/// A word matches a process name, an address (also an IPv4 address inside an
/// IPv4-mapped IPv6 one, which its text contains), an `address:port` as the table
/// prints it, or a unix path. Words are lowercase already (see `add_term`).
///
/// Run on every socket for every key typed in the filter bar, so at 100k sockets it
/// formats into one buffer instead of allocating a string per form.
pub(crate) fn word_matches(word: &str, s: &Socket) -> bool {
    use std::fmt::Write;
    if s.processes
        .iter()
        .any(|o| contains_ignore_case(&o.comm, word))
        || s.path().is_some_and(|p| contains_ignore_case(p, word))
    {
        return true;
    }
    // Most words (a process name) hold a letter no address has: no text to write.
    if !word.bytes().all(in_address_text) {
        return false;
    }
    let mut text = String::with_capacity(64);
    for a in [s.local, s.remote].iter().flatten() {
        // The endpoint holds the bare IP, except an unspecified one (printed `*`).
        // A newline between texts, which no word contains.
        let _ = writeln!(text, "{}", crate::model::Endpoint(*a));
        if a.ip().is_unspecified() {
            let _ = writeln!(text, "{}", a.ip());
        }
    }
    text.contains(word)
}

/// The bytes an address's text is made of (`Endpoint`, and a bare IP): digits,
/// lowercase hex, `.`, `:`, the brackets round an IPv6 one and the `*` of an
/// unspecified address or port.
fn in_address_text(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'.' | b':' | b'[' | b']' | b'*')
}

fn contains_ignore_case(text: &str, lowercase: &str) -> bool {
    lowercase.is_empty()
        || text
            .as_bytes()
            .windows(lowercase.len())
            .any(|w| w.eq_ignore_ascii_case(lowercase.as_bytes()))
}

/// A protocol by its JSON name (tcp, udp, unix, raw, icmp, sctp, mptcp, packet,
/// netlink, vsock, other), any case.
pub fn parse_proto(text: &str) -> Result<Proto, String> {
    Proto::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            let names: Vec<_> = Proto::ALL.iter().map(|p| p.name()).collect();
            format!(
                "unknown protocol '{text}': expected one of {}",
                names.join(", ")
            )
        })
}

/// 1 to 65535: port 0 is no port (every listener's remote end is `*:0`), so it would
/// match everything.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse() {
        Ok(0) => Err("port 0 is no port: expected a number from 1 to 65535".into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!(
            "invalid port '{}': expected a number from 1 to 65535",
            crate::text::quote(text.as_bytes(), 40)
        )),
    }
}

pub fn parse_pid(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("invalid pid '{text}': expected a process id number"))
}

/// Kernel names (TIME_WAIT) and ss spellings (time-wait, estab, syn-sent), any case.
pub fn parse_state(text: &str) -> Result<TcpState, String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_'], "");
    let wanted = norm(text);
    let alias = match wanted.as_str() {
        "estab" => Some(TcpState::Established),
        "closed" => Some(TcpState::Close),
        "unconnected" => Some(TcpState::Unconn),
        "listening" => Some(TcpState::Listen),
        _ => None,
    };
    alias
        .or_else(|| TcpState::ALL.into_iter().find(|s| norm(s.name()) == wanted))
        .ok_or_else(|| {
            let names: Vec<_> = TcpState::ALL.iter().map(|s| s.name()).collect();
            format!(
                "unknown state '{text}': expected one of {}",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod netns_tests;
