//! Property tests of the /proc text parsers: /proc/net/{tcp,tcp6,udp,udp6} (our own
//! strict parser behind `read_inet`), /proc/net/unix, and fd link targets.
//!
//! Valid generated tables must parse to exactly their rows; mutated and arbitrary text
//! must never panic, and a line that does not parse is skipped and counted, never
//! turned into a socket of another kind. Hostile unix names (newlines, forged lines,
//! escapes, invalid UTF-8) are in the corpus. The case count is fixed (see `config`),
//! so the run is bounded.

mod proc_text;

use proc_text::{
    FORGED_INODE, HOSTILE_INODE, InetRow, edits, hostile_line, hostile_name, inet_row, inet_text,
    mutate, token_soup, unix_row, unix_text,
};
use proptest::prelude::*;
use sockscope::collect::owners::socket_inode;
use sockscope::collect::proc_net::{read_inet, read_unix};
use sockscope::model::{Family, Proto, Socket, SocketType, TcpState};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(300)
}

/// (proto, family, tcp?, v6?) for each of the four inet tables.
fn inet_kind() -> impl Strategy<Value = (Proto, Family, bool, bool)> {
    prop_oneof![
        Just((Proto::Tcp, Family::Ipv4, true, false)),
        Just((Proto::Tcp, Family::Ipv6, true, true)),
        Just((Proto::Udp, Family::Ipv4, false, false)),
        Just((Proto::Udp, Family::Ipv6, false, true)),
    ]
}

/// A table kind and some valid rows of it.
fn inet_table() -> impl Strategy<Value = (Proto, Family, Vec<InetRow>)> {
    inet_kind().prop_flat_map(|(proto, family, tcp, v6)| {
        prop::collection::vec(inet_row(tcp, v6), 0..20).prop_map(move |rows| (proto, family, rows))
    })
}

/// What a parse may end in: sockets of the asked kind, each from a line of the input,
/// the rest counted as skipped; or (for a read error) one line of error.
fn check_outcome(result: anyhow::Result<usize>, sockets: &[Socket], proto: Proto, input: &[u8]) {
    match result {
        Ok(skipped) => {
            let lines = input.split(|&b| b == b'\n').count();
            assert!(sockets.len() + skipped <= lines, "{input:?}");
            for s in sockets {
                assert_eq!(s.proto, proto, "{input:?}");
            }
        }
        Err(e) => {
            let message = format!("{e:#}");
            assert!(!message.is_empty());
            assert!(
                !message.contains('\n'),
                "a parse error is one line, got {message:?} for {input:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_inet_tables_parse_to_their_rows((proto, family, rows) in inet_table()) {
        let text = inet_text(&rows);
        let mut out = Vec::new();
        let skipped = read_inet(text.as_bytes(), proto, family, &mut out).unwrap();
        prop_assert_eq!(skipped.count, 0);
        prop_assert_eq!(out.len(), rows.len());
        for (s, r) in out.iter().zip(&rows) {
            prop_assert_eq!((s.proto, s.family), (proto, family));
            prop_assert_eq!(s.local, Some(r.local));
            prop_assert_eq!(s.remote, Some(r.remote));
            prop_assert_eq!((s.send_q, s.recv_q), (r.tx_queue, r.rx_queue));
            prop_assert_eq!((s.uid, s.inode), (r.uid, r.inode));
            let state = match (proto, r.state) {
                (Proto::Udp, 1) => TcpState::Established,
                (Proto::Udp, _) => TcpState::Unconn,
                (_, n) => TcpState::from_kernel(n).unwrap(),
            };
            prop_assert_eq!(s.state, state);
        }
    }

    #[test]
    fn mutated_inet_tables_fail_cleanly(
        (proto, family, rows) in inet_table(),
        edits in edits(),
    ) {
        let input = mutate(inet_text(&rows).as_bytes(), &edits);
        let mut out = Vec::new();
        let result = read_inet(&input[..], proto, family, &mut out).map(|s| s.count);
        check_outcome(result, &out, proto, &input);
    }

    #[test]
    fn arbitrary_inet_text_fails_cleanly(
        (proto, family, _, _) in inet_kind(),
        soup in token_soup(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        for input in [soup.as_bytes(), &bytes[..]] {
            let mut out = Vec::new();
            let result = read_inet(input, proto, family, &mut out).map(|s| s.count);
            check_outcome(result, &out, proto, input);
        }
    }

    #[test]
    fn valid_unix_tables_parse_to_their_rows(rows in prop::collection::vec(unix_row(), 0..20)) {
        let text = unix_text(&rows);
        let mut out = Vec::new();
        let read = read_unix(text.as_bytes(), &mut out).unwrap();
        prop_assert_eq!(read.skipped.count, 0);
        prop_assert_eq!(out.len(), rows.len());
        for (s, r) in out.iter().zip(&rows) {
            prop_assert_eq!((s.proto, s.family), (Proto::Unix, Family::Unix));
            prop_assert_eq!(s.inode, r.inode);
            prop_assert_eq!(s.path(), r.path.as_deref());
            let socket_type = match r.socket_type {
                1 => SocketType::Stream,
                2 => SocketType::Dgram,
                _ => SocketType::Seqpacket,
            };
            prop_assert_eq!(s.socket_type, socket_type);
            let state = match (r.listening, r.st) {
                (true, _) => TcpState::Listen,
                (false, 1) => TcpState::Unconn,
                (false, 2 | 3) => TcpState::Established,
                (false, _) => TcpState::Close,
            };
            prop_assert_eq!(s.state, state);
        }
    }

    #[test]
    fn mutated_unix_tables_fail_cleanly(
        rows in prop::collection::vec(unix_row(), 0..20),
        edits in edits(),
    ) {
        let input = mutate(unix_text(&rows).as_bytes(), &edits);
        let mut out = Vec::new();
        let result = read_unix(&input[..], &mut out).map(|r| r.skipped.count);
        check_outcome(result, &out, Proto::Unix, &input);
    }

    #[test]
    fn arbitrary_unix_text_fails_cleanly(
        soup in token_soup(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        for input in [soup.as_bytes(), &bytes[..]] {
            let mut out = Vec::new();
            let result = read_unix(input, &mut out).map(|r| r.skipped.count);
            check_outcome(result, &out, Proto::Unix, input);
        }
    }

    #[test]
    fn hostile_unix_names_never_forge_a_socket(
        rows in prop::collection::vec(unix_row(), 0..6),
        name in hostile_name(),
        at in any::<usize>(),
    ) {
        // One real line whose name is hostile, somewhere among valid ones.
        let mut text = unix_text(&rows).into_bytes();
        let hostile = hostile_line(&name);
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let cut = 1 + at % lines.len().max(1);
        let mut input: Vec<u8> = lines[..cut.min(lines.len())].concat();
        input.extend_from_slice(&hostile);
        input.extend_from_slice(&lines[cut.min(lines.len())..].concat());
        text.clear();
        let mut out = Vec::new();
        let read = read_unix(&input[..], &mut out).unwrap();
        // Every socket left once unowned suspects are dropped is a real row or the
        // hostile socket itself: never the forged FAKE inode.
        sockscope::collect::proc_net::ProcTables::confirm(&mut out, &read.unconfirmed);
        for s in &out {
            prop_assert!(s.inode != FORGED_INODE, "forged socket listed: {s:?} from {input:?}");
            prop_assert!(
                s.inode == HOSTILE_INODE || rows.iter().any(|r| r.inode == s.inode),
                "{s:?} from {input:?}"
            );
        }
    }

    #[test]
    fn socket_links_give_their_inode(inode in any::<u64>()) {
        let target = format!("socket:[{inode}]");
        prop_assert_eq!(socket_inode(target.as_bytes()), Some(inode));
    }

    #[test]
    fn other_link_targets_are_not_sockets(
        kind in prop::sample::select(vec!["pipe", "anon_inode", "net", "/dev/pts/0", "socket"]),
        inside in "[0-9a-z:\\[\\] ]{0,24}",
        junk in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let target = format!("{kind}:[{inside}]");
        let expected = match kind {
            "socket" => inside.parse::<u64>().ok(),
            _ => None,
        };
        prop_assert_eq!(socket_inode(target.as_bytes()), expected);
        // Anything at all: a socket inode only behind the exact prefix and suffix.
        if let Some(inode) = socket_inode(&junk) {
            prop_assert!(junk.starts_with(b"socket:[") && junk.ends_with(b"]"));
            let digits = &junk[8..junk.len() - 1];
            prop_assert_eq!(std::str::from_utf8(digits).unwrap().parse::<u64>().ok(), Some(inode));
        }
    }
}
