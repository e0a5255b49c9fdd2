//! What each socket state means, in words: the one place for them. The live view's
//! state-machine pane, its details and `?` help explain a state with these, and
//! `diagnose` (so `sockscope doctor`) uses the same sentences where a finding is about
//! a state that lasts. Plain text, no I/O, no terminal: model-adjacent.
//!
//! Also the parts a port can play in a demonstration (`Role`), so a view can name the
//! demo's zoo when one of its sockets is selected.

use std::net::SocketAddr;

use crate::model::{Proto, Socket, SocketType, TcpState};

/// CLOSE_WAIT that lasts (doctor's `close_wait`).
pub const CLOSE_WAIT_LEAK: &str = "the peer closed the connection but the application never \
     called close() on its end: a connection or file descriptor leak";
/// SYN_SENT that lasts (doctor's `syn_sent`).
pub const SYN_UNANSWERED: &str = "connection attempts get no answer: the peer is down or \
     unreachable, a firewall drops the SYNs, or the peer's accept queue is full";
/// Many TIME_WAIT toward one destination (doctor's `time_wait_exhaustion`).
pub const TIME_WAIT_CHURN: &str = "many short connections to one destination: each closed one \
     holds its local port for 60 s, and new connects fail with EADDRNOTAVAIL when the range \
     runs out";
/// A listener whose accept queue stays non-empty (doctor's `accept_queue`).
pub const ACCEPT_QUEUE_WAITING: &str = "connections wait in the listener's accept queue: the \
     application calls accept() too slowly or not at all; when the queue is full the kernel \
     drops new SYNs";

/// One state explained: what it means and which side is in it (the first line), what
/// must happen next and when it is a problem (the second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub meaning: &'static str,
    pub side: &'static str,
    pub next: &'static str,
    /// When it is a problem ("it lasts"), and what that usually means: where doctor
    /// has a finding for it, doctor's own words.
    pub when: &'static str,
    pub why: &'static str,
}

impl Explanation {
    /// The two lines: "meaning; side." and "Next: … A problem when …: …".
    pub fn lines(&self) -> [String; 2] {
        [
            format!("{}; {}.", self.meaning, self.side),
            format!(
                "Next: {}. A problem when {}: {}.",
                self.next, self.when, self.why
            ),
        ]
    }
}

/// The TCP state machine's states, in the order a connection lives through them.
pub const TCP_STATES: [TcpState; 11] = [
    TcpState::Close,
    TcpState::Listen,
    TcpState::SynSent,
    TcpState::SynRecv,
    TcpState::Established,
    TcpState::FinWait1,
    TcpState::FinWait2,
    TcpState::CloseWait,
    TcpState::Closing,
    TcpState::LastAck,
    TcpState::TimeWait,
];

/// What a TCP socket in `state` is doing.
pub fn tcp(state: TcpState) -> Explanation {
    let (meaning, side, next, when, why) = match state {
        TcpState::Listen => (
            "waiting for connections: the kernel answers each SYN and queues finished \
             handshakes for accept()",
            "the server, after socket(), bind() and listen()",
            "the application calls accept() to take each waiting connection",
            "its Recv-Q stays above 0",
            ACCEPT_QUEUE_WAITING,
        ),
        TcpState::SynSent => (
            "connect() sent a SYN and waits for the SYN+ACK",
            "the client, opening",
            "the kernel: a SYN+ACK makes it ESTABLISHED; without one it resends the SYN for \
             about two minutes, then connect() fails",
            "it lasts",
            SYN_UNANSWERED,
        ),
        TcpState::SynRecv => (
            "a SYN arrived and the SYN+ACK went back; the final ACK has not",
            "the server, for a connection not yet accepted (no file yet)",
            "the kernel: the ACK makes it ESTABLISHED, in the listener's accept queue",
            "there are many",
            "a SYN flood, or clients that vanish mid-handshake",
        ),
        TcpState::Established => (
            "the connection is open: both ends send and receive data",
            "both sides",
            "the applications read and write; whichever is done first calls close() or \
             shutdown(), sending a FIN",
            "a queue never drains",
            "a Recv-Q, the application does not read; a Send-Q, the peer does not read or \
             is gone",
        ),
        TcpState::FinWait1 => (
            "close() sent a FIN; the peer has not acknowledged it yet",
            "the side that closed first",
            "the kernel: the ACK makes it FIN_WAIT2; the peer's FIN as well, CLOSING or \
             TIME_WAIT",
            "it lasts",
            "the peer does not acknowledge (gone, or its window shut) while data is resent",
        ),
        TcpState::FinWait2 => (
            "our FIN is acknowledged; the peer has not sent its own FIN",
            "the side that closed (or shutdown() for writing) first",
            "the peer's application must call close(); with no fd left here the kernel gives \
             up after tcp_fin_timeout (60 s)",
            "it lasts",
            "the peer never closes, and its end sits in CLOSE_WAIT",
        ),
        TcpState::CloseWait => (
            "the peer sent its FIN: it is done sending, but this end is still open",
            "the side that did not close first",
            "the application must read to end of file and call close(), sending its FIN",
            "it lasts",
            CLOSE_WAIT_LEAK,
        ),
        TcpState::Closing => (
            "both ends sent a FIN at once; ours is not acknowledged yet",
            "both sides, in a simultaneous close",
            "the kernel: the ACK makes it TIME_WAIT",
            "it lasts",
            "the peer vanished before acknowledging",
        ),
        TcpState::LastAck => (
            "the peer closed first, then we sent our FIN; waiting for its ACK",
            "the side that closed second",
            "the kernel: the ACK ends the connection and the socket is gone",
            "it lasts",
            "the peer vanished before acknowledging; the FIN is resent until the kernel \
             gives up",
        ),
        TcpState::TimeWait => (
            "closed; the kernel keeps the port pair for 2×MSL (60 s on Linux) so late \
             segments of this connection die out",
            "the side that closed first; no process holds it any more",
            "nothing: the kernel frees it when the timer ends",
            "many pile up, as the side that closes first churns connections",
            TIME_WAIT_CHURN,
        ),
        TcpState::Close | TcpState::Unconn => (
            "no connection: a socket not yet listening or connecting, or one torn down \
             (a received RST ends here from any state)",
            "either side",
            "the application calls listen() or connect(), or closes the fd",
            "many linger",
            "sockets opened and never used or closed",
        ),
    };
    Explanation {
        meaning,
        side,
        next,
        when,
        why,
    }
}

/// The short form for UDP and unix sockets, which have no handshake to draw: bound or
/// not, connected or not, stream or datagram. None for TCP.
pub fn short_form(s: &Socket) -> Option<Explanation> {
    const UNREAD: &str = "the application does not read, and the kernel drops datagrams \
                          once the buffer is full";
    let (meaning, side, next, when, why) = match (s.proto, s.socket_type, s.state) {
        (Proto::Udp, _, TcpState::Established) => (
            "a connected datagram socket: send() goes to one peer and only its datagrams \
             arrive; connect() sent nothing (UDP has no handshake)",
            "whoever called connect(), usually a client",
            "the application sends and receives; close() just frees it, nothing goes on the wire",
            "Recv-Q stays above 0",
            UNREAD,
        ),
        (Proto::Udp, ..) => (
            "an unconnected datagram socket: bound to a local address, it takes datagrams \
             from anyone; each sendto() names where to",
            "servers, and clients that talk to several peers",
            "the application reads with recvfrom(); nothing else happens on the wire",
            "Recv-Q stays above 0",
            UNREAD,
        ),
        (Proto::Unix, _, TcpState::Listen) => (
            "a stream listener on a path: connect() to it queues a connection for accept()",
            "the server, after socket(), bind() and listen()",
            "the application calls accept() to take each waiting connection",
            "its Recv-Q stays above 0",
            ACCEPT_QUEUE_WAITING,
        ),
        (Proto::Unix, SocketType::Dgram, TcpState::Established) => (
            "a connected datagram socket: send() goes to its one peer",
            "either end (a socketpair(), or connect() to a bound path)",
            "the application sends and receives; close() frees it at once",
            "Recv-Q stays above 0",
            UNREAD,
        ),
        (Proto::Unix, _, TcpState::Established) => (
            "a connected stream socket: bytes flow both ways to its peer",
            "either end: a client's connect(), the server's accept(), or a socketpair()",
            "the applications read and write; close() ends it at once (no TIME_WAIT for unix)",
            "a queue never drains",
            "the reader does not read",
        ),
        (Proto::Unix, ..) => (
            "not connected: bound to a path or unbound, not listening",
            "a datagram server takes datagrams from anyone; a stream socket is being set up",
            "the application calls listen(), connect() or sendto(), or closes it",
            "many linger",
            "sockets opened and never used or closed",
        ),
        (Proto::Raw | Proto::Icmp | Proto::Packet | Proto::Netlink | Proto::Other, ..) => (
            "no connection to track: it takes whole packets or messages as they come (raw \
             IP, ICMP echo, link-layer frames, netlink messages to and from the kernel)",
            "ping, sniffers, DHCP and routing daemons, and programs that talk to the kernel",
            "the application reads and sends; close() frees it, nothing goes on the wire",
            "Recv-Q stays above 0",
            UNREAD,
        ),
        // TCP has the whole machine (`tcp`); SCTP, MPTCP and vsock keep TCP's states.
        _ => return None,
    };
    Some(Explanation {
        meaning,
        side,
        next,
        when,
        why,
    })
}

/// Why a socket moved from one TCP state to the next: the label of that transition
/// in the state diagram. None where the diagram has no such arrow.
pub fn cause(from: TcpState, to: TcpState) -> Option<&'static str> {
    use TcpState::*;
    Some(match (from, to) {
        (Close, Listen) => "listen()",
        (Close, SynSent) => "connect() / SYN sent",
        (Listen, SynRecv) => "SYN received / SYN+ACK sent",
        (SynSent, Established) => "SYN+ACK received / ACK sent",
        (SynRecv, Established) => "ACK received",
        (Established, FinWait1) => "close() / FIN sent",
        (Established, CloseWait) => "FIN received / ACK sent",
        (FinWait1, FinWait2) => "ACK received",
        (FinWait1, Closing) => "FIN received / ACK sent",
        (FinWait1, TimeWait) => "FIN+ACK received / ACK sent",
        (FinWait2, TimeWait) => "FIN received / ACK sent",
        (Closing, TimeWait) => "ACK received",
        (CloseWait, LastAck) => "close() / FIN sent",
        (LastAck, Close) => "ACK received",
        (TimeWait, Close) => "timeout 2MSL",
        (_, Close) => "RST received (or close() early)",
        _ => return None,
    })
}

/// A place a demonstration gives a part, and that part: "127.0.0.1:40124 is the
/// backlog-0 listener". Sockets at either end of it are named by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub place: Place,
    /// Short: "zoo-syn".
    pub name: String,
    /// What it shows: "backlog-0 listener that never accepts: connectors wait in SYN_SENT".
    pub part: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A TCP or UDP port: the socket bound to it (and its accepted connections), and
    /// whoever connects to it.
    Addr(SocketAddr),
    /// A unix socket path (or "@abstract" name).
    Path(String),
}

/// Which end of a role's place a socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Bound there: the listener, or a connection it accepted.
    Server,
    /// Connected to it.
    Client,
}

impl Role {
    /// Whether `s` is at this role's place, and at which end.
    pub fn end_of(&self, s: &Socket) -> Option<End> {
        match &self.place {
            Place::Addr(addr) if s.local == Some(*addr) => Some(End::Server),
            Place::Addr(addr) if s.remote == Some(*addr) && s.proto != Proto::Unix => {
                Some(End::Client)
            }
            Place::Path(path) if s.path() == Some(path) => Some(End::Server),
            _ => None,
        }
    }
}

/// The role `s` plays among `roles`, and its end.
pub fn role_of<'a>(roles: &'a [Role], s: &Socket) -> Option<(&'a Role, End)> {
    roles.iter().find_map(|r| r.end_of(s).map(|end| (r, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tcp_state_is_explained_in_two_lines() {
        for state in TCP_STATES {
            let [first, second] = tcp(state).lines();
            assert!(
                first.ends_with('.') && second.starts_with("Next: "),
                "{state}"
            );
            assert!(!first.contains('\n') && !second.contains('\n'));
        }
    }

    #[test]
    fn causes_follow_the_diagram() {
        assert_eq!(
            cause(TcpState::Close, TcpState::SynSent),
            Some("connect() / SYN sent")
        );
        assert_eq!(
            cause(TcpState::TimeWait, TcpState::Close),
            Some("timeout 2MSL")
        );
        assert_eq!(cause(TcpState::Listen, TcpState::TimeWait), None);
    }

    #[test]
    fn doctor_and_the_pane_say_the_same() {
        // diagnose::advice uses these constants as its findings' meaning.
        assert_eq!(tcp(TcpState::CloseWait).why, CLOSE_WAIT_LEAK);
        assert_eq!(tcp(TcpState::SynSent).why, SYN_UNANSWERED);
        assert_eq!(tcp(TcpState::TimeWait).why, TIME_WAIT_CHURN);
        assert_eq!(tcp(TcpState::Listen).why, ACCEPT_QUEUE_WAITING);
    }
}
