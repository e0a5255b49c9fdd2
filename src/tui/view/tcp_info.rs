//! The kernel's own view of a TCP connection (struct tcp_info and the timer, from
//! netlink) for the details pane: in units a person reads, the less obvious fields
//! with a phrase saying what they mean.

use ratatui::text::{Line, Span};

use super::{rates, style};
use crate::model::{Proto, Socket, TcpInfo, Timer, TimerKind};
use crate::text::units::bytes;
use crate::tui::app::App;

/// Name, value and explanation columns.
const NAME: usize = 15;
const VALUE: usize = 26;

/// The kernel's "no threshold yet" ssthresh is 0x7fffffff; like `ss`, anything this
/// big is treated as unset.
const SSTHRESH_UNSET: u32 = 0xFFFF;

/// The section's lines (empty for non-TCP sockets). `width` is the pane's: the
/// explanations are left out where they would not fit on the line.
pub fn lines(app: &App, s: &Socket, width: u16) -> Vec<Line<'static>> {
    if s.proto != Proto::Tcp {
        return Vec::new();
    }
    let mut rows: Vec<(&str, String, &str)> = Vec::new();
    if let Some(info) = &s.tcp_info {
        rows.extend(info_rows(info));
    }
    if let Some(timer) = &s.timer {
        rows.push(("timer", timer_text(timer), timer_meaning(timer.kind)));
    }
    let mut lines = vec![
        Line::raw(""),
        Line::styled("  tcp (from the kernel, live)", style::TITLE),
    ];
    let pending = app.details.as_ref().is_some_and(|d| d.tcp_info_pending);
    if s.tcp_info.is_none() {
        // A timer comes only from netlink too: then the kernel just has no tcp_info.
        let why = if pending {
            "    tcp_info (rtt, cwnd, bytes): with the next refresh".to_string()
        } else if s.timer.is_none() && !rates::known(app) {
            "    tcp_info (rtt, cwnd, bytes) needs the netlink source; this view reads /proc"
                .to_string()
        } else {
            format!(
                "    the kernel keeps no tcp_info for a socket in {}",
                s.state
            )
        };
        lines.push(Line::styled(why, style::DIM));
    }
    for (name, value, meaning) in rows {
        let mut spans = vec![
            Span::styled(format!("    {name:<NAME$}"), style::DIM),
            Span::raw(format!("{value:<VALUE$}")),
        ];
        if 4 + NAME + VALUE.max(value.chars().count()) + 2 + meaning.chars().count()
            <= width as usize
        {
            spans.push(Span::styled(format!("  {meaning}"), style::DIM));
        }
        lines.push(Line::from(spans));
    }
    lines
}

fn info_rows(i: &TcpInfo) -> Vec<(&'static str, String, &'static str)> {
    let segments = |n: u32| format!("{n} seg · {}", bytes(u64::from(n) * u64::from(i.mss)));
    let ssthresh = match i.ssthresh {
        n if n >= SSTHRESH_UNSET => "∞ (no loss yet)".to_string(),
        n => segments(n),
    };
    vec![
        (
            "rtt",
            format!("{} ± {}", ms_1(i.rtt_us), ms_1(i.rttvar_us)),
            "round trip time, smoothed ± its variation",
        ),
        (
            "rto",
            format!("{} ms", i.rto_ms),
            "wait before resending unacknowledged data",
        ),
        (
            "cwnd",
            segments(i.cwnd),
            "segments in flight allowed before an ACK",
        ),
        (
            "ssthresh",
            ssthresh,
            "cwnd where slow start ends; set at a loss",
        ),
        ("mss", format!("{} B", i.mss), "largest segment it sends"),
        (
            "retransmits",
            format!("{} now · {} total", i.retransmits, i.total_retrans),
            "timeouts in a row now · segments resent ever",
        ),
        (
            "lost",
            i.lost.to_string(),
            "segments in flight now thought lost",
        ),
        ("bytes sent", bytes(i.bytes_sent), "including resent ones"),
        (
            "bytes acked",
            bytes(i.bytes_acked),
            "the peer confirmed these",
        ),
        ("bytes received", bytes(i.bytes_received), ""),
        (
            "delivery rate",
            mbit(i.delivery_rate),
            "how fast data got through lately",
        ),
        (
            "pacing rate",
            i.pacing_rate
                .bytes_per_second()
                .map_or_else(|| "unlimited".to_string(), mbit),
            "the pace the kernel sends at",
        ),
        (
            "last data",
            format!(
                "sent {} · received {}",
                ms_ago(i.last_data_sent_ms),
                ms_ago(i.last_data_recv_ms)
            ),
            "",
        ),
        ("busy", us(i.busy_time_us), "time spent with data to send"),
        (
            "rwnd limited",
            us(i.rwnd_limited_us),
            "time stalled by the receiver's window",
        ),
        (
            "sndbuf limited",
            us(i.sndbuf_limited_us),
            "time stalled by a full send buffer",
        ),
    ]
}

/// As `ss -o` names it, with when it fires: "keepalive, in 7.2 s".
pub(super) fn timer_text(t: &Timer) -> String {
    let kind = format!("{:?}", t.kind).to_lowercase();
    let mut text = format!("{kind}, in {}", ms(u64::from(t.expires_ms)));
    if t.retransmits > 0 {
        text.push_str(&format!(", {} retrans", t.retransmits));
    }
    text
}

pub(super) fn timer_meaning(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::On => "resends if no ACK comes by then",
        TimerKind::Keepalive => "probes the idle peer then",
        TimerKind::Timewait => "the kernel forgets the connection then",
        TimerKind::Persist => "probes the peer's zero window then",
    }
}

/// Milliseconds with one decimal: "20.5 ms". Loopback round trips are tens of
/// microseconds, so below 0.1 ms three decimals keep them from reading as zero.
fn ms_1(us: u32) -> String {
    match us {
        1..100 => format!("{:.3} ms", f64::from(us) / 1000.0),
        _ => format!("{:.1} ms", f64::from(us) / 1000.0),
    }
}

/// Bytes per second as "94.3 Mbit/s", "9403 Mbit/s"; "<0.1 Mbit/s" rather than a
/// misleading 0.0.
fn mbit(bytes_per_sec: u64) -> String {
    let mbit = bytes_per_sec as f64 * 8.0 / 1_000_000.0;
    match mbit {
        0.0 => "0 Mbit/s".into(),
        ..0.1 => "<0.1 Mbit/s".into(),
        ..100.0 => format!("{mbit:.1} Mbit/s"),
        _ => format!("{mbit:.0} Mbit/s"),
    }
}

/// "120 ms", "4.2 s", "3m05s".
fn ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

fn ms_ago(n: u32) -> String {
    format!("{} ago", ms(u64::from(n)))
}

/// Microseconds of accumulated time: "0 ms", "12.3 ms" below a second, then as `ms`.
fn us(us: u64) -> String {
    match us {
        0..1_000_000 if us.is_multiple_of(1000) => format!("{} ms", us / 1000),
        0..1_000_000 => format!("{:.1} ms", us as f64 / 1000.0),
        _ => ms(us / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PacingRate;

    #[test]
    fn units_read_like_a_person_would_write_them() {
        assert_eq!(ms_1(123), "0.1 ms");
        assert_eq!(ms_1(45), "0.045 ms");
        assert_eq!(ms_1(0), "0.0 ms");
        assert_eq!(ms_1(20_460), "20.5 ms");
        assert_eq!(mbit(0), "0 Mbit/s");
        assert_eq!(mbit(100), "<0.1 Mbit/s");
        assert_eq!(mbit(1_234_567), "9.9 Mbit/s");
        assert_eq!(mbit(125_000_000), "1000 Mbit/s");
        assert_eq!(ms(999), "999 ms");
        assert_eq!(ms(4_240), "4.2 s");
        assert_eq!(ms(185_000), "3m05s");
        assert_eq!(us(0), "0 ms");
        assert_eq!(us(12_345), "12.3 ms");
        assert_eq!(us(2_500_000), "2.5 s");
    }

    #[test]
    fn rows_in_units() {
        let rows = info_rows(&TcpInfo {
            rtt_us: 1500,
            rttvar_us: 300,
            cwnd: 10,
            mss: 1448,
            ssthresh: 0x7fff_ffff,
            bytes_acked: 14_480,
            pacing_rate: PacingRate::UNLIMITED,
            ..TcpInfo::default()
        });
        let value = |name: &str| rows.iter().find(|r| r.0 == name).unwrap().1.clone();
        assert_eq!(value("rtt"), "1.5 ms ± 0.3 ms");
        assert_eq!(value("cwnd"), "10 seg · 14.1 KiB");
        assert_eq!(value("ssthresh"), "∞ (no loss yet)");
        assert_eq!(value("bytes acked"), "14.1 KiB");
        assert_eq!(value("pacing rate"), "unlimited");
        assert_eq!(value("retransmits"), "0 now · 0 total");
    }

    #[test]
    fn timers_name_their_kind_like_ss() {
        let t = Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 7_200,
            retransmits: 0,
        };
        assert_eq!(timer_text(&t), "keepalive, in 7.2 s");
        let t = Timer {
            kind: TimerKind::On,
            expires_ms: 200,
            retransmits: 2,
        };
        assert_eq!(timer_text(&t), "on, in 200 ms, 2 retrans");
    }
}
