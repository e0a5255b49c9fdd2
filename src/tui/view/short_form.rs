//! The state pane's short form for UDP and unix sockets, which have no handshake to
//! draw: stream or datagram, bound or not, connected or not, for unix the peer, and
//! what that means (in the words of `crate::states`).

use ratatui::text::{Line, Span};

use super::{machine, peer, style};
use crate::model::{Proto, Socket, SocketType, TcpState};

/// UDP and unix: what it is (stream or datagram), bound or not, connected or not,
/// the unix peer, as a one-line "machine", then what it means.
pub fn lines(s: &Socket, width: u16) -> Vec<Line<'static>> {
    let kind = match s.socket_type {
        SocketType::Stream => "stream (a byte stream, connected first)",
        SocketType::Dgram => "datagram (messages, no connection needed)",
        SocketType::Seqpacket => "seqpacket (messages over a connection)",
        SocketType::Raw => "raw (whole packets or messages, no ports)",
        SocketType::Unknown => "not known (no table lists this socket)",
    };
    let bound = match (s.proto, s.path(), s.local) {
        (Proto::Unix, Some(path), _) => format!("bound to {}", crate::text::escape(path)),
        (Proto::Unix, None, _) => "unbound (no path: a client end, or a socketpair)".into(),
        (_, _, Some(local)) if local.port() != 0 => format!("bound to {}", s.local_text()),
        _ => "unbound".into(),
    };
    let connected = match s.state {
        TcpState::Listen => "listening".to_string(),
        TcpState::Established if s.proto == Proto::Udp => {
            format!("connected to {}", s.remote_text())
        }
        TcpState::Established => "connected".to_string(),
        _ => "not connected".to_string(),
    };
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("  {name:<10}"), style::DIM),
            Span::raw(value),
        ])
    };
    let mut lines = vec![
        field("type", kind.to_string()),
        field("address", bound),
        field("now", connected),
    ];
    lines.extend(states_lines(s));
    if s.proto == Proto::Unix {
        let peer = peer::lines(s);
        if peer.is_empty() {
            lines.push(field("peer", "none known".into()));
        }
        lines.extend(peer);
    }
    lines.push(Line::raw(""));
    lines.extend(machine::explanation_lines(s, width));
    lines
}

/// The short form's "machine": unbound → bound → connected (or listening), with the
/// socket's place on it bracketed. Unix streams take one of two roads.
fn states_lines(s: &Socket) -> Vec<Line<'static>> {
    let bound = s.path().is_some() || s.local.is_some_and(|l| l.port() != 0);
    let connected = s.state == TcpState::Established;
    let roads: Vec<Vec<(&str, bool)>> = match (s.proto, s.socket_type) {
        (Proto::Unix, SocketType::Stream | SocketType::Seqpacket) => vec![
            vec![
                ("unbound", !bound && !connected),
                ("bind()", false),
                ("bound", bound && s.state == TcpState::Unconn),
                ("listen()", false),
                ("LISTEN", s.state == TcpState::Listen),
            ],
            vec![
                ("unbound or LISTEN", false),
                ("connect() / accept()", false),
                ("connected", connected),
            ],
        ],
        _ => vec![vec![
            ("unbound", !bound),
            ("bind()", false),
            ("bound", bound && !connected),
            ("connect()", false),
            ("connected", connected),
        ]],
    };
    let mut lines = Vec::new();
    for (n, road) in roads.into_iter().enumerate() {
        let name = if n == 0 { "states" } else { "" };
        let mut spans = vec![Span::styled(format!("  {name:<10}"), style::DIM)];
        for (i, (step, here)) in road.into_iter().enumerate() {
            let span = match (i % 2 == 1, here) {
                (true, _) => Span::styled(format!(" ─{step}─► "), style::DIM),
                (false, true) => Span::styled(format!("[{step}]"), style::KEY),
                (false, false) => Span::raw(step.to_string()),
            };
            spans.push(span);
        }
        lines.push(Line::from(spans));
    }
    lines
}
