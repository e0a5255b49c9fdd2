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
        || s.path
            .as_deref()
            .is_some_and(|p| contains_ignore_case(p, word))
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
mod tests {
    use super::*;
    use crate::test_sockets::held_tcp as tcp;

    #[test]
    fn states_in_every_spelling() {
        for (text, state) in [
            ("TIME_WAIT", TcpState::TimeWait),
            ("time-wait", TcpState::TimeWait),
            ("estab", TcpState::Established),
            ("Established", TcpState::Established),
            ("syn-sent", TcpState::SynSent),
            ("fin-wait-2", TcpState::FinWait2),
            ("FIN_WAIT1", TcpState::FinWait1),
            ("close-wait", TcpState::CloseWait),
            ("unconn", TcpState::Unconn),
        ] {
            assert_eq!(parse_state(text), Ok(state), "{text}");
        }
        let err = parse_state("bogus").unwrap_err();
        assert!(
            err.contains("ESTABLISHED") && err.contains("bogus"),
            "{err}"
        );
    }

    #[test]
    fn terms_combine() {
        let s = tcp(
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            TcpState::Established,
            "nginx",
        );
        let yes = [
            "",
            "port:8080",
            "port:50000",
            "state:estab",
            "tcp",
            "-4",
            "nginx",
            "NGINX",
            "pid:42",
            "127.0.0.1",
            "127.0.0.1:8080",
            "port:1 port:8080",
            "state:listen state:estab",
        ];
        for text in yes {
            assert!(Query::parse(text).unwrap().matches(&s), "{text}");
        }
        let no = [
            "port:80",
            "state:listen",
            "udp",
            "-6",
            "apache",
            "pid:1",
            "listening",
            "tcp nginx port:1",
        ];
        for text in no {
            assert!(!Query::parse(text).unwrap().matches(&s), "{text}");
        }
    }

    #[test]
    fn bare_states_numbers_and_colon_ports() {
        let q = Query::parse("estab time-wait CLOSE_WAIT").unwrap();
        assert_eq!(
            q.states,
            [
                TcpState::Established,
                TcpState::TimeWait,
                TcpState::CloseWait
            ]
        );
        assert!(q.words.is_empty());
        assert_eq!(Query::parse(":8080").unwrap().ports, [8080]);
        assert_eq!(Query::parse("8080").unwrap().numbers, [8080]);
        assert!(Query::parse(":0").is_err());
        let s = tcp(
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            TcpState::Established,
            "nginx",
        );
        for yes in ["estab", ":8080", "8080", "42", "50000 estab"] {
            assert!(Query::parse(yes).unwrap().matches(&s), "{yes}");
        }
        for no in ["listen", ":42", "43", "8080 43"] {
            assert!(!Query::parse(no).unwrap().matches(&s), "{no}");
        }
        // Round trip: a bare state is written as state:NAME, a number stays bare.
        let q = Query::parse("estab 42").unwrap();
        assert_eq!(q.to_string(), "state:ESTABLISHED 42");
        assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
    }

    #[test]
    fn v4_mapped_matches_the_v4_address() {
        let s = tcp("[::ffff:10.1.2.3]:80", "[::]:0", TcpState::Listen, "srv");
        assert!(Query::parse("10.1.2.3").unwrap().matches(&s));
        assert!(Query::parse("-6 listening").unwrap().matches(&s));
    }

    #[test]
    fn addresses_are_written_in_the_bytes_words_are_checked_for() {
        for addr in [
            "127.0.0.1:80",
            "0.0.0.0:0",
            "[::]:0",
            "[::1]:65535",
            "[::ffff:10.1.2.3]:443",
            "[fe80::abcd:ef01:2345:6789]:8080",
            "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:1",
        ] {
            let addr: std::net::SocketAddr = addr.parse().unwrap();
            let texts = [
                crate::model::Endpoint(addr).to_string(),
                addr.ip().to_string(),
            ];
            for text in texts {
                assert!(text.bytes().all(in_address_text), "{text}");
            }
        }
        let s = tcp("[::1]:80", "[::]:0", TcpState::Listen, "srv");
        assert!(Query::parse("[::1]:80").unwrap().matches(&s));
        assert!(!Query::parse("x::1").unwrap().matches(&s));
        assert!(Query::parse("srv").unwrap().matches(&s));
    }

    #[test]
    fn text_round_trips() {
        for text in [
            "",
            "pid:7 port:80 state:TIME_WAIT udp -6 listening nginx",
            "tcp -4",
        ] {
            let q = Query::parse(text).unwrap();
            assert_eq!(q.to_string(), text);
            assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
        }
    }

    #[test]
    fn every_protocol_by_name_or_key() {
        let raw = Socket::family(
            Proto::Raw,
            Family::Ipv4,
            crate::model::SocketType::Raw,
            TcpState::Unconn,
            9,
            None,
        );
        for yes in ["raw", "RAW", "proto:raw", "tcp raw", "-4 raw"] {
            let mut q = Query::parse(yes).unwrap();
            q.families.retain(|_| false); // raw has no address here
            assert!(q.matches(&raw), "{yes}");
        }
        for no in ["tcp", "proto:packet", "netlink"] {
            assert!(!Query::parse(no).unwrap().matches(&raw), "{no}");
        }
        for proto in Proto::ALL {
            let q = Query::parse(&format!("proto:{}", proto.name())).unwrap();
            assert_eq!(q.protos, [proto]);
            assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
        }
        assert!(
            Query::parse("proto:bogus")
                .unwrap_err()
                .contains("unknown protocol 'bogus'")
        );
    }

    #[test]
    fn bad_terms_say_why() {
        assert!(
            Query::parse("port:http")
                .unwrap_err()
                .contains("invalid port 'http'")
        );
        assert!(
            Query::parse("state:nope")
                .unwrap_err()
                .contains("unknown state")
        );
        assert!(Query::parse("pid:x").unwrap_err().contains("invalid pid"));
    }
}

#[cfg(test)]
mod netns_tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Container, Netns};
    use crate::test_sockets::{self, Build, owner};

    const ID: &str = "4f1c0a9d3e5b7c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a";

    fn in_container(name: Option<&str>, inode: u64) -> Socket {
        let mut o = owner(42, 3, "app");
        o.container = Some(Arc::new(Container {
            runtime: "docker",
            id: ID.into(),
            name: name.map(str::to_string),
            pod: None,
        }));
        let mut s = test_sockets::tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen)
            .inode(1)
            .owned_by(vec![o]);
        s.netns = Some(Arc::new(Netns {
            inode,
            name: Some("blue".into()),
        }));
        s
    }

    #[test]
    fn netns_and_container_words() {
        let s = in_container(Some("web"), 4026532315);
        for (text, hit) in [
            ("netns:blue", true),
            ("netns:4026532315", true),
            ("netns:red", false),
            ("container:web", true),
            ("container:4f1c0a9d3e5b", true),
            ("container:db", false),
            ("netns:red netns:blue", true),
            ("netns:blue container:db", false),
        ] {
            let q = Query::parse(text).unwrap();
            assert_eq!(q.matches(&s), hit, "{text}");
            assert_eq!(Query::parse(&q.to_string()), Ok(q), "{text}");
        }
        let bare = test_sockets::tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen);
        assert!(!Query::parse("container:web").unwrap().matches(&bare));
        assert!(!Query::parse("netns:blue").unwrap().matches(&bare));
    }

    #[test]
    fn the_place_column_appears_with_a_second_namespace() {
        use crate::column::Column;
        let one = vec![in_container(None, 1), in_container(None, 1)];
        assert_eq!(
            Column::with_place(&Column::LIST, &one),
            Column::LIST.to_vec()
        );
        let two = vec![in_container(Some("web"), 1), in_container(None, 2)];
        let cols = Column::with_place(&Column::LIST, &two);
        assert_eq!(cols[cols.len() - 2], Column::Place);
        let row = crate::column::Row::new(&two[0]);
        assert_eq!(Column::Place.text(&row), "web");
        assert_eq!(
            Column::Place.text(&crate::column::Row::new(&two[1])),
            &ID[..12]
        );
        assert_eq!(Column::Netns.text(&row), r#"{"inode":1,"name":"blue"}"#);
    }
}
