//! A scrape's numbers as text: one `prometheus_client` registry per scrape, written
//! as OpenMetrics or as the Prometheus text format 0.0.4, whichever the scraper asked
//! for (`Format::negotiate`). The crate writes HELP and TYPE lines and escapes label
//! values (`\`, `"`, newline) in both formats.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::summary::{Summary, json_name, state_label};

/// The exposition formats served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Prometheus text 0.0.4: what a scraper that does not ask for OpenMetrics gets.
    Text,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_text::CONTENT_TYPE,
        }
    }

    /// The format an `Accept` header prefers: OpenMetrics when its quality is the
    /// highest offered and above zero (Prometheus asks for it first), otherwise text,
    /// which also answers a missing header, `*/*` and `text/plain`.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut open_metrics = 0.0_f64;
        let mut plain = 0.0_f64;
        for range in accept.unwrap_or("").split(',') {
            let mut params = range.split(';').map(str::trim);
            let media = params.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0;
            let mut version_ok = true;
            for param in params {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => q = value.trim().parse().unwrap_or(0.0),
                    // The crate writes OpenMetrics 1.0.0; 0.0.1 is the same text.
                    "version" => version_ok = matches!(value.trim(), "1.0.0" | "0.0.1"),
                    _ => {}
                }
            }
            match media.as_str() {
                "application/openmetrics-text" if version_ok => open_metrics = open_metrics.max(q),
                "text/plain" | "text/*" | "*/*" => plain = plain.max(q),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= plain {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// How the scrape went; served as `sockscope_up` and beside it.
#[derive(Clone, Debug)]
pub struct Health<'a> {
    /// None when the snapshot failed or was not ready in time.
    pub summary: Option<&'a Summary>,
    /// How long the snapshot took (or how long was waited for it).
    pub duration: Duration,
    /// Scrapes so far that gave up waiting, and snapshots so far that failed.
    pub timeouts: u64,
    pub errors: u64,
}

type Labels = Vec<(&'static str, String)>;

pub fn encode(health: &Health, format: Format) -> String {
    let registry = registry(health);
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = match format {
        Format::OpenMetrics => text::encode(&mut out, &registry),
        Format::Text => prometheus_text::encode(&mut out, &registry),
    };
    out
}

fn registry(health: &Health) -> Registry {
    let mut r = Registry::default();
    let up: Gauge = Gauge::default();
    up.set(i64::from(health.summary.is_some()));
    r.register(
        "sockscope_up",
        "1 when this scrape's snapshot succeeded in time, else 0 (see the counters below)",
        up,
    );
    let duration: Gauge<f64, AtomicU64> = Gauge::default();
    duration.set(health.duration.as_secs_f64());
    r.register(
        "sockscope_scrape_duration_seconds",
        "Seconds the snapshot behind this scrape took, or was waited for before giving up",
        duration,
    );
    register_counter(
        &mut r,
        "sockscope_scrape_timeouts",
        "Scrapes that gave up waiting for a snapshot (--scrape-timeout)",
        health.timeouts,
    );
    register_counter(
        &mut r,
        "sockscope_scrape_errors",
        "Snapshots that failed (the error is printed on stderr)",
        health.errors,
    );
    r.register(
        "sockscope_build",
        "sockscope's version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION").to_string())]),
    );
    if let Some(summary) = health.summary {
        register_summary(&mut r, summary);
    }
    r
}

fn register_summary(r: &mut Registry, s: &Summary) {
    let sockets = Family::<Labels, Gauge>::default();
    for (key, n) in &s.sockets {
        let labels = vec![
            ("proto", json_name(&key.proto)),
            ("state", state_label(key.state)),
        ];
        sockets.get_or_create(&labels).set(to_i64(*n));
    }
    r.register(
        "sockscope_sockets",
        "Sockets by protocol and state",
        sockets,
    );

    let processes = Family::<Labels, Gauge>::default();
    for row in &s.processes {
        let mut labels = vec![("comm", row.comm.clone())];
        if let Some(pid) = &row.pid {
            labels.push(("pid", pid.clone()));
        }
        labels.push(("state", state_label(row.state)));
        processes.get_or_create(&labels).set(to_i64(row.sockets));
    }
    r.register(
        "sockscope_process_sockets",
        "Sockets held by the processes holding the most, by state; the rest are comm=\"other\"",
        processes,
    );

    let queue = Family::<Labels, Gauge>::default();
    let backlog = Family::<Labels, Gauge>::default();
    for row in &s.listeners {
        let labels = vec![("addr", row.addr.clone()), ("port", row.port.clone())];
        queue.get_or_create(&labels).set(to_i64(row.queue));
        backlog.get_or_create(&labels).set(to_i64(row.backlog));
    }
    r.register(
        "sockscope_listen_queue",
        "Connections waiting in a TCP listener's accept queue",
        queue,
    );
    r.register(
        "sockscope_listen_backlog",
        "The most a TCP listener's accept queue holds",
        backlog,
    );

    let findings = Family::<Labels, Gauge>::default();
    for ((rule, severity), n) in &s.findings {
        let labels = vec![("rule", rule.clone()), ("severity", severity.clone())];
        findings.get_or_create(&labels).set(to_i64(*n));
    }
    r.register(
        "sockscope_doctor_findings",
        "Findings of sockscope doctor's rules on the history of past scrapes",
        findings,
    );

    if let Some(ports) = s.ephemeral_ports {
        let gauge: Gauge = Gauge::default();
        gauge.set(i64::from(ports));
        r.register(
            "sockscope_ephemeral_ports",
            "Ports in net.ipv4.ip_local_port_range: what connect() picks local ports from",
            gauge,
        );
    }
    for (counter, value) in &s.counters {
        register_counter(r, counter.metric, counter.help, *value);
    }
}

/// A counter whose value is kept elsewhere (the kernel, the exporter's totals).
fn register_counter(r: &mut Registry, name: &'static str, help: &'static str, value: u64) {
    let counter: Counter = Counter::default();
    counter.inc_by(value);
    r.register(name, help, counter);
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_first() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=2.0.0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
    }

    #[test]
    fn both_formats_have_help_type_and_escaped_labels() {
        use super::super::summary::ProcessRow;
        use crate::model::TcpState;
        let summary = Summary {
            processes: vec![ProcessRow {
                comm: "a\"b\\c".into(),
                pid: None,
                state: TcpState::CloseWait,
                sockets: 3,
            }],
            ..Summary::default()
        };
        let health = Health {
            summary: Some(&summary),
            duration: Duration::from_millis(5),
            timeouts: 2,
            errors: 0,
        };
        let om = encode(&health, Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(
            om.contains("# TYPE sockscope_scrape_timeouts counter\n"),
            "{om}"
        );
        assert!(om.contains("sockscope_scrape_timeouts_total 2\n"), "{om}");
        assert!(om.contains("# TYPE sockscope_build info\n"), "{om}");
        assert!(
            om.contains(r#"sockscope_process_sockets{comm="a\"b\\c",state="close_wait"} 3"#),
            "{om}"
        );
        let text = encode(&health, Format::Text);
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE sockscope_scrape_timeouts_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# HELP sockscope_up "), "{text}");
        assert!(text.contains("sockscope_up 1\n"), "{text}");
        assert!(
            text.contains(&format!(
                "sockscope_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );

        let failed = encode(
            &Health {
                summary: None,
                ..health
            },
            Format::Text,
        );
        assert!(failed.contains("sockscope_up 0\n"), "{failed}");
        assert!(!failed.contains("sockscope_sockets"), "{failed}");
    }
}
