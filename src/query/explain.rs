//! What the filter bar says about a filter: which thing each bare number matched, and
//! why a filter matches nothing. Only worked out when the bar needs it, so typing
//! costs no extra pass over the sockets.

use super::mask::{count, tally};
use super::{Query, has_pid, has_port, word_matches};
use crate::model::Socket;

/// What each bare number of the filter matched among `sockets`, for the filter bar:
/// `8080: port of 3 sockets, pid of none`. None without bare numbers.
pub fn number_note(query: &Query, sockets: &[Socket]) -> Option<String> {
    if query.numbers.is_empty() {
        return None;
    }
    let notes: Vec<String> = query
        .numbers
        .iter()
        .map(|&n| {
            let [ports, pids] = tally(sockets, |s| [has_port(s, n), has_pid(s, n)]);
            match (ports, pids) {
                (0, 0) => format!("{n}: no port or pid"),
                (p, 0) => format!("{n}: port ({})", sockets_text(p)),
                (0, p) => format!("{n}: pid ({})", sockets_text(p)),
                (p, q) => format!(
                    "{n}: port ({}) and pid ({})",
                    sockets_text(p),
                    sockets_text(q)
                ),
            }
        })
        .collect();
    Some(notes.join("; "))
}

/// Why a filter matches nothing among `sockets`: each term alone, how many it
/// matches, and for a bare word read as a state, how many hold the word elsewhere
/// (a process called `listen`). `no sockets match state:ESTABLISHED; 12 match
/// 'estab' in names, addresses or paths`.
pub fn why_empty(text: &str, sockets: &[Socket]) -> String {
    let mut parts = Vec::new();
    let terms: Vec<&str> = text.split_whitespace().collect();
    for term in &terms {
        let Ok(q) = Query::parse(term) else { continue };
        let n = count(sockets, |s| q.matches(s));
        let word = term.to_ascii_lowercase();
        let as_state = q.states.len() == 1 && !term.contains(':');
        if n == 0 {
            let mut part = format!("no sockets match {q}");
            if as_state {
                let as_word = count(sockets, |s| word_matches(&word, s));
                if as_word > 0 {
                    part.push_str(&format!(
                        "; {} match '{word}' in names, addresses or paths",
                        thousands(as_word)
                    ));
                }
            }
            parts.push(part);
        } else if terms.len() > 1 {
            parts.push(format!("{q} alone: {}", thousands(n)));
        }
    }
    if parts.is_empty() {
        return "no sockets match".into();
    }
    if terms.len() > 1 && parts.iter().all(|p| !p.starts_with("no sockets")) {
        parts.insert(0, "no socket matches every term".into());
    }
    parts.join("; ")
}

fn sockets_text(n: usize) -> String {
    match n {
        1 => "1 socket".into(),
        n => format!("{} sockets", thousands(n)),
    }
}

fn thousands(n: usize) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TcpState;
    use crate::test_sockets::held_tcp as tcp;

    #[test]
    fn notes_say_what_numbers_matched_and_why_nothing_did() {
        let web = tcp(
            "127.0.0.1:8080",
            "127.0.0.1:42",
            TcpState::Established,
            "nginx",
        );
        let listen = tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen, "listen-d");
        let all = [web.clone(), listen];
        let q = Query::parse("42").unwrap();
        assert_eq!(
            number_note(&q, &all).unwrap(),
            "42: port (1 socket) and pid (2 sockets)"
        );
        let q = Query::parse("8080").unwrap();
        assert_eq!(number_note(&q, &all).unwrap(), "8080: port (1 socket)");
        assert_eq!(number_note(&Query::parse("udp").unwrap(), &all), None);

        let only_web = [web];
        assert_eq!(
            why_empty("listen", &only_web),
            "no sockets match state:LISTEN"
        );
        let named = [tcp(
            "127.0.0.1:9",
            "127.0.0.1:10",
            TcpState::Established,
            "listener",
        )];
        assert_eq!(
            why_empty("listen", &named),
            "no sockets match state:LISTEN; 1 match 'listen' in names, addresses or paths"
        );
        assert_eq!(
            why_empty("udp estab", &named),
            "no sockets match udp; state:ESTABLISHED alone: 1"
        );
        assert_eq!(
            why_empty("port:9 listener", &named),
            "no socket matches every term; port:9 alone: 1; listener alone: 1"
        );
    }
}
