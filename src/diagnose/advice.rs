//! What each kind of finding usually means and what to check next. Where a finding is
//! about a state that lasts, the meaning is the state's own words (`crate::states`),
//! so the live view's state pane and doctor say the same.

use super::Kind;
use crate::states;

/// (meaning, next steps) for a kind of finding.
pub(super) fn advice(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::CloseWait => (
            states::CLOSE_WAIT_LEAK,
            "look for code paths that drop a connection without closing it (error paths, \
             pools that never evict); `ls -l /proc/PID/fd | wc -l` shows the fd count growing",
        ),
        Kind::TimeWaitExhaustion => (
            states::TIME_WAIT_CHURN,
            "reuse connections (keep-alive, a pool); widen net.ipv4.ip_local_port_range; \
             consider net.ipv4.tcp_tw_reuse=1 for outgoing connections",
        ),
        Kind::AcceptQueue => (
            states::ACCEPT_QUEUE_WAITING,
            "check the process is alive and not blocked (`cat /proc/PID/stack`, a debugger); \
             raise the listen() backlog and net.core.somaxconn; add accept workers",
        ),
        Kind::ListenOverflows => (
            "the kernel dropped connections because an accept queue was full \
             (TcpExt ListenOverflows / ListenDrops in /proc/net/netstat rose)",
            "find the listener with a non-empty Recv-Q (`sockscope list --listening`), \
             then see why its process accepts slowly; `nstat -az TcpExtListenOverflows`",
        ),
        Kind::SynSent => (
            states::SYN_UNANSWERED,
            "check the destination is reachable and listening (`nc -vz HOST PORT`), the route \
             and firewall rules; on the peer, its listener's accept queue",
        ),
        Kind::RecvQ => (
            "data has arrived but the application does not read it: it is blocked, busy, \
             or forgot the socket; the peer will soon be stopped by a zero window",
            "see what the owning thread is doing (`cat /proc/PID/stack`, `py-spy dump`, \
             `jstack`); check it polls this fd",
        ),
        Kind::SendQ => (
            "data waits to be sent or acknowledged: the peer stopped reading (zero window) or \
             is gone; with retransmits growing, the path or peer is dead",
            "check the peer application reads; `ss -tino dst PEER` shows retransmits and the \
             peer's window; a dead peer is cleared by TCP keepalive or a user timeout",
        ),
    }
}
