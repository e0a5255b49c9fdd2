//! The kernel's TcpExt counters that `export` serves, under their Prometheus names:
//! the ones about accept queues, aborts and timeouts, which the socket metrics explain.

/// A TcpExt counter that is served, under its Prometheus name.
#[derive(Debug)]
pub struct KernelCounter {
    /// The kernel's name in /proc/net/netstat.
    pub kernel: &'static str,
    /// The metric name, without the `_total` the encoder adds.
    pub metric: &'static str,
    pub help: &'static str,
}

/// The TcpExt counters about accept queues, aborts and timeouts: what the socket
/// metrics explain. A kernel without one of them serves the others.
pub const KERNEL_COUNTERS: &[KernelCounter] = &[
    KernelCounter {
        kernel: "ListenOverflows",
        metric: "sockscope_tcp_listen_overflows",
        help: "Connections that found the accept queue full (TcpExt ListenOverflows)",
    },
    KernelCounter {
        kernel: "ListenDrops",
        metric: "sockscope_tcp_listen_drops",
        help: "SYNs and final ACKs to a listener that were dropped, overflows included (TcpExt ListenDrops)",
    },
    KernelCounter {
        kernel: "TCPReqQFullDrop",
        metric: "sockscope_tcp_syn_queue_full_drops",
        help: "SYNs dropped because the SYN queue was full and syncookies were off (TcpExt TCPReqQFullDrop)",
    },
    KernelCounter {
        kernel: "TCPReqQFullDoCookies",
        metric: "sockscope_tcp_syn_queue_full_cookies",
        help: "SYNs answered with a syncookie because the SYN queue was full (TcpExt TCPReqQFullDoCookies)",
    },
    KernelCounter {
        kernel: "TCPAbortOnTimeout",
        metric: "sockscope_tcp_abort_on_timeout",
        help: "Connections reset after too many retransmissions or keepalive probes (TcpExt TCPAbortOnTimeout)",
    },
    KernelCounter {
        kernel: "TCPAbortOnData",
        metric: "sockscope_tcp_abort_on_data",
        help: "Connections reset because data arrived after close (TcpExt TCPAbortOnData)",
    },
    KernelCounter {
        kernel: "TCPAbortOnClose",
        metric: "sockscope_tcp_abort_on_close",
        help: "Connections reset because they were closed with unread data (TcpExt TCPAbortOnClose)",
    },
    KernelCounter {
        kernel: "TCPAbortOnMemory",
        metric: "sockscope_tcp_abort_on_memory",
        help: "Connections reset for lack of memory or too many orphans (TcpExt TCPAbortOnMemory)",
    },
    KernelCounter {
        kernel: "TCPAbortOnLinger",
        metric: "sockscope_tcp_abort_on_linger",
        help: "Connections reset after the linger timeout ran out (TcpExt TCPAbortOnLinger)",
    },
    KernelCounter {
        kernel: "TCPTimeouts",
        metric: "sockscope_tcp_retransmit_timeouts",
        help: "Retransmission timeouts that fired (TcpExt TCPTimeouts)",
    },
    KernelCounter {
        kernel: "TCPSynRetrans",
        metric: "sockscope_tcp_syn_retransmits",
        help: "SYN and SYN-ACK retransmissions (TcpExt TCPSynRetrans)",
    },
    KernelCounter {
        kernel: "TCPTimeWaitOverflow",
        metric: "sockscope_tcp_time_wait_overflows",
        help: "Connections that skipped TIME_WAIT because tcp_max_tw_buckets was reached (TcpExt TCPTimeWaitOverflow)",
    },
];
