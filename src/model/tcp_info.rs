//! What sock_diag says of a TCP connection beyond its state: tcp_info and its timer.

/// Fields of the kernel's struct tcp_info, in the units `ss -i` uses.
///
/// Plain numbers, not an Option each: the whole struct is there or not (the netlink
/// reader takes it only from kernels that send all of these, Linux 4.19 and later),
/// and at 100k sockets an Option per field would cost 10 MB of `list`'s 50 MB budget.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TcpInfo {
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub rto_ms: u32,
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Slow-start threshold in segments; the kernel's "infinity" (0x7fffffff) until loss.
    pub ssthresh: u32,
    /// Send maximum segment size, bytes. tcpi_snd_mss is 32 bits, but the kernel keeps it
    /// at or under the 16-bit MSS clamp (tcp_sync_mss: the peer's MSS option or the
    /// default 536), and 16 bits are what fit TcpInfo in 104 bytes, a 112-byte malloc
    /// chunk rather than 128 (16 MB at 1M sockets).
    pub mss: u16,
    /// Retransmission timeouts in a row now (tcpi_retransmits).
    pub retransmits: u8,
    pub total_retrans: u32,
    /// Segments currently thought lost.
    pub lost: u32,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    /// Bytes per second.
    pub delivery_rate: u64,
    /// Bytes per second, or unlimited (null in JSON).
    pub pacing_rate: PacingRate,
    pub last_data_sent_ms: u32,
    pub last_data_recv_ms: u32,
    pub busy_time_us: u64,
    pub rwnd_limited_us: u64,
    pub sndbuf_limited_us: u64,
}

impl TcpInfo {
    /// What tracking reads of it: the byte counters behind the rates, and retransmissions.
    pub fn counters(&self) -> TcpCounters {
        TcpCounters {
            bytes_received: self.bytes_received,
            bytes_acked: self.bytes_acked,
            total_retrans: self.total_retrans,
        }
    }
}

/// The tcp_info counters tracking and diagnosis use. The live view keeps these alone
/// for most sockets (`CounterTable`), not the whole `TcpInfo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    pub bytes_received: u64,
    /// Bytes the peer acknowledged: what ss calls bytes sent that arrived.
    pub bytes_acked: u64,
    pub total_retrans: u32,
}

/// How fast the kernel lets a connection send, in bytes per second, or no limit. Kept
/// as the kernel sends it, ~0 for unlimited, so it costs 8 bytes, not an Option's 16: one
/// TcpInfo per TCP socket, and that is what makes it fit a smaller malloc chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacingRate(u64);

impl PacingRate {
    pub const UNLIMITED: PacingRate = PacingRate(u64::MAX);

    /// tcpi_pacing_rate as the kernel sends it (~0 is unlimited).
    pub fn from_kernel(raw: u64) -> PacingRate {
        PacingRate(raw)
    }

    /// Bytes per second; None when unlimited.
    pub fn bytes_per_second(self) -> Option<u64> {
        (self != PacingRate::UNLIMITED).then_some(self.0)
    }
}

impl Default for PacingRate {
    fn default() -> PacingRate {
        PacingRate::UNLIMITED
    }
}

/// None is unlimited; so is u64::MAX bytes a second, as to the kernel.
impl From<Option<u64>> for PacingRate {
    fn from(rate: Option<u64>) -> PacingRate {
        rate.map_or(PacingRate::UNLIMITED, PacingRate)
    }
}

/// A number, or null when unlimited.
impl serde::Serialize for PacingRate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.bytes_per_second().serialize(serializer)
    }
}

/// A TCP timer as `ss -o` shows it: `timer:(on,200ms,0)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Timer {
    pub kind: TimerKind,
    /// Milliseconds until it fires.
    pub expires_ms: u32,
    /// Retransmissions so far (the third number ss prints).
    pub retransmits: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerKind {
    /// Retransmit (or SYN retransmit) timer.
    On,
    Keepalive,
    Timewait,
    /// Zero-window probe.
    Persist,
}

impl TimerKind {
    /// The kernel's idiag_timer number; 0 (off) and unknown values give None.
    pub fn from_kernel(n: u8) -> Option<TimerKind> {
        Some(match n {
            1 => TimerKind::On,
            2 => TimerKind::Keepalive,
            3 => TimerKind::Timewait,
            4 => TimerKind::Persist,
            _ => return None,
        })
    }
}
