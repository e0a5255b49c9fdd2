//! struct tcp_info from the INET_DIAG_INFO attribute, read field by field by offset.
//!
//! The struct has grown over kernel versions and the kernel sends as much of it as it
//! knows. sockscope reads it only when it reaches bytes_sent (Linux 4.19, 2018), so
//! every field it shows is there. Offsets are those of `struct tcp_info` in
//! include/uapi/linux/tcp.h; all values are in host byte order.

use super::{u32_at, u64_at};
use crate::model::{PacingRate, TcpCounters, TcpInfo};

/// The struct up to and including tcpi_bytes_sent.
const NEEDED: usize = 208;

/// tcpi_snd_mss; None when the struct is too short to be read (see `NEEDED`), or says
/// what no kernel does (an MSS past 16 bits: see `TcpInfo::mss`). Either way the struct
/// is not read at all: `parse` and `counters` take or leave the same ones.
fn mss(raw: &[u8]) -> Option<u16> {
    if raw.len() < NEEDED {
        return None;
    }
    u16::try_from(u32_at(raw, 16)?).ok()
}

/// The fields sockscope shows; None when the struct is not to be read (see `mss`).
pub fn parse(raw: &[u8]) -> Option<TcpInfo> {
    let mss = mss(raw)?;
    Some(TcpInfo {
        retransmits: raw[2],
        // tcpi_rto is in microseconds; ss prints it in milliseconds.
        rto_ms: u32_at(raw, 8)? / 1000,
        mss,
        lost: u32_at(raw, 32)?,
        last_data_sent_ms: u32_at(raw, 44)?,
        last_data_recv_ms: u32_at(raw, 52)?,
        rtt_us: u32_at(raw, 68)?,
        rttvar_us: u32_at(raw, 72)?,
        ssthresh: u32_at(raw, 76)?,
        cwnd: u32_at(raw, 80)?,
        total_retrans: u32_at(raw, 100)?,
        // ~0 means no pacing limit (ss prints nothing then).
        pacing_rate: PacingRate::from_kernel(u64_at(raw, 104)?),
        bytes_acked: u64_at(raw, 120)?,
        bytes_received: u64_at(raw, 128)?,
        delivery_rate: u64_at(raw, 160)?,
        busy_time_us: u64_at(raw, 168)?,
        rwnd_limited_us: u64_at(raw, 176)?,
        sndbuf_limited_us: u64_at(raw, 184)?,
        bytes_sent: u64_at(raw, 200)?,
    })
}

/// `parse(raw)`'s `TcpInfo::counters`, with nothing allocated (the struct is read on
/// the stack, not boxed): what the live view keeps of most sockets (see
/// `Source::snapshot_counted`).
pub fn counters(raw: &[u8]) -> Option<TcpCounters> {
    parse(raw).map(|info| info.counters())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 232-byte struct (kernel 5.x size) with each field set to a recognisable value.
    fn sample() -> Vec<u8> {
        let mut raw = vec![0u8; 232];
        let put32 = |raw: &mut Vec<u8>, at: usize, v: u32| {
            raw[at..at + 4].copy_from_slice(&v.to_ne_bytes())
        };
        let put64 = |raw: &mut Vec<u8>, at: usize, v: u64| {
            raw[at..at + 8].copy_from_slice(&v.to_ne_bytes())
        };
        raw[2] = 3;
        put32(&mut raw, 8, 204_000);
        put32(&mut raw, 16, 65483);
        put32(&mut raw, 68, 1234);
        put32(&mut raw, 80, 10);
        put64(&mut raw, 120, 1_000_001);
        put64(&mut raw, 128, 2_000_002);
        put64(&mut raw, 200, 3_000_003);
        raw
    }

    #[test]
    fn full_struct() {
        let info = parse(&sample()).unwrap();
        assert_eq!(info.retransmits, 3);
        assert_eq!(info.rto_ms, 204);
        assert_eq!(info.mss, 65483);
        assert_eq!(info.rtt_us, 1234);
        assert_eq!(info.cwnd, 10);
        assert_eq!(info.bytes_acked, 1_000_001);
        assert_eq!(info.bytes_received, 2_000_002);
        assert_eq!(info.bytes_sent, 3_000_003);
        assert_eq!(info.sndbuf_limited_us, 0);
        assert_eq!(info.pacing_rate.bytes_per_second(), Some(0));
    }

    #[test]
    fn counters_are_those_of_the_whole_struct() {
        let mut raw = sample();
        raw[100..104].copy_from_slice(&17u32.to_ne_bytes());
        let whole = parse(&raw).unwrap();
        assert_eq!(counters(&raw), Some(whole.counters()));
        assert_eq!(whole.counters().total_retrans, 17);
        // Taken or left with the struct, never alone.
        for len in [0, 104, 207, 208, 232] {
            let cut = &raw[..len];
            assert_eq!(
                counters(cut),
                parse(cut).map(|i| i.counters()),
                "{len} bytes"
            );
        }
        raw[16..20].copy_from_slice(&65_536u32.to_ne_bytes());
        assert_eq!(counters(&raw), None);
    }

    #[test]
    fn short_struct_is_none() {
        // 104 bytes: the struct of kernels before pacing_rate (3.15).
        assert_eq!(parse(&sample()[..104]), None);
        // Cut inside bytes_sent: not misread.
        assert_eq!(parse(&sample()[..207]), None);
        assert_eq!(parse(&[]), None);
        assert!(parse(&sample()[..208]).is_some());
    }

    #[test]
    fn an_mss_no_kernel_sends_is_no_tcp_info() {
        let mut raw = sample();
        raw[16..20].copy_from_slice(&65_535u32.to_ne_bytes());
        assert_eq!(parse(&raw).unwrap().mss, 65_535);
        raw[16..20].copy_from_slice(&65_536u32.to_ne_bytes());
        assert_eq!(parse(&raw), None);
    }

    #[test]
    fn unlimited_pacing_is_none() {
        let mut raw = sample();
        raw[104..112].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert_eq!(parse(&raw).unwrap().pacing_rate, PacingRate::UNLIMITED);
    }
}
