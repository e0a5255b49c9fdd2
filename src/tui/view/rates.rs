//! Throughput from tracking (tcp_info byte counters, netlink only): the
//! socket table's RX/s and TX/s columns and the details pane's rate sparklines.
//! Blank where unknown: UDP, unix, the /proc source, a socket seen once.

use ratatui::text::{Line, Span};

use super::states::sparkline;
use super::style;
use crate::model::{Proto, Socket};
use crate::text::units;
use crate::track::Rate;
use crate::tui::app::{App, DETAILS_RATES};
use crate::tui::rows::RowRef;

/// Bars in the details pane's sparklines: one per rate the tracker keeps.
const SPARK_WIDTH: usize = DETAILS_RATES;

/// Whether rates can be known at all: the source gives tcp_info (netlink), as the
/// last refresh found (the live view's model keeps few tcp_info: `Preparer::live`).
pub fn known(app: &App) -> bool {
    app.tracked.counted
}

/// The row's latest rate, if the tracker has one.
pub fn latest(app: &App, row: RowRef) -> Option<Rate> {
    app.tracked.rate(row)
}

/// The details pane's throughput section: rx and tx sparklines over the rates the
/// details view keeps, with the latest value. Nothing for sockets that cannot have byte
/// counters (not TCP, or the source gives no tcp_info).
pub fn details_lines(app: &App, socket: &Socket) -> Vec<Line<'static>> {
    if socket.proto != Proto::Tcp || !known(app) {
        return Vec::new();
    }
    let mut lines = vec![Line::raw(""), Line::styled("  throughput", style::TITLE)];
    let Some(rates) = app.details.as_ref().map(|d| &d.rates) else {
        return Vec::new();
    };
    if rates.is_empty() {
        lines.push(Line::styled(
            "    not known yet (it takes two refreshes)",
            style::DIM,
        ));
        return lines;
    }
    let row = |name: &str, per_sec: fn(&Rate) -> f64| {
        let series: Vec<usize> = rates.iter().map(|r| per_sec(r) as usize).collect();
        let latest = rates.back().map_or(0.0, per_sec);
        Line::from(vec![
            Span::styled(format!("    {name:<4}"), style::DIM),
            Span::styled(
                format!("{:<w$}", sparkline(&series, SPARK_WIDTH), w = SPARK_WIDTH),
                style::KEY,
            ),
            Span::raw(format!("  {}", units::rate(latest))),
        ])
    };
    lines.push(row("rx", |r| r.rx_per_sec));
    lines.push(row("tx", |r| r.tx_per_sec));
    lines
}
