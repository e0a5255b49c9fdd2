//! `sockscope export`: a Prometheus exporter. `GET /metrics` takes one snapshot (shared
//! by scrapes that arrive while it is taken, see `scrape`) and serves it as
//! OpenMetrics or Prometheus text 0.0.4, as the scraper's `Accept` header asks.
//!
//! Metrics (HELP and TYPE lines in the output say the same):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | sockscope_sockets | gauge | proto, state (`established`, `time_wait`, ...; every TCP state served, 0 when empty) |
//! | sockscope_process_sockets | gauge | comm, state; `pid` too with `--pid-label`. The `--top-processes` processes holding the most sockets; the rest summed as comm="other" |
//! | sockscope_listen_queue, sockscope_listen_backlog | gauge | addr, port: TCP listeners, fullest first, `--top-listeners` of them; the rest summed as addr="other", port="other" |
//! | sockscope_doctor_findings | gauge | rule, severity: `sockscope doctor`'s findings on the history of past scrapes |
//! | sockscope_tcp_*_total | counter | TcpExt counters: listen overflows and drops, SYN-queue drops, aborts, timeouts |
//! | sockscope_ephemeral_ports | gauge | the size of net.ipv4.ip_local_port_range |
//! | sockscope_up, sockscope_scrape_duration_seconds | gauge | |
//! | sockscope_scrape_timeouts_total, sockscope_scrape_errors_total | counter | |
//! | sockscope_build_info | gauge (info) | version |
//!
//! Process names come from other processes: `comm` is escaped as every text output
//! escapes them (`text::escape`), then as the exposition format escapes label values.
//!
//! The server: hyper's HTTP/1 on a one-thread tokio runtime, snapshots on a thread of
//! their own. Each connection is a task, so a slow or stuck client holds only its own;
//! headers must arrive within `--read-timeout` and fit in 16 KiB (431 otherwise);
//! at most `MAX_CONNECTIONS` are open at once.

mod counters;
mod encode;
mod scrape;
mod summary;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::cli::ExportArgs;
use crate::collect::{Source, System, Tables};
use encode::{Format, Health};
use scrape::{Collector, Scrape, Scraper};
use summary::Limits;

/// Connections open at once; more are closed as soon as they are accepted.
const MAX_CONNECTIONS: usize = 64;
/// Request headers beyond this get 431.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves until killed. Errors only at start: bad address, port in use, no source.
pub fn run(proc_root: &Path, tables: Tables, args: &ExportArgs) -> Result<()> {
    let scope = args.filters.scope();
    let source = System::new(proc_root, scope.clone())?.with_tables(tables)?;
    let limits = Limits {
        processes: args.top_processes.into(),
        listeners: args.top_listeners.into(),
        pid_label: args.pid_label,
    };
    let source: Box<dyn Source + Send> = Box::new(source);
    let collector = Collector::new(source, proc_root, &scope, args.filters.query(), limits);
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let serving = listener.local_addr()?;
    crate::stdio::warn(format_args!("serving http://{serving}/metrics"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the HTTP server")?;
    let server = Server {
        scraper: Scraper::new(collector),
        scrape_timeout: args.scrape_timeout,
    };
    runtime.block_on(serve(listener, Arc::new(server), args.read_timeout))
}

struct Server {
    scraper: Arc<Scraper>,
    scrape_timeout: Duration,
}

async fn serve(
    listener: std::net::TcpListener,
    server: Arc<Server>,
    read_timeout: Duration,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let open = Arc::new(AtomicUsize::new(0));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(64);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of fds and the like: wait for some to close rather than spin.
            Err(e) => {
                crate::stdio::warn(format_args!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        let guard = Open::new(&open);
        let server = server.clone();
        let connection = http.serve_connection(
            TokioIo::new(stream),
            service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.answer(&request).await) }
            }),
        );
        tokio::spawn(async move {
            let _open = guard;
            // A client that sends garbage or goes away is its own problem.
            let _ = connection.await;
        });
    }
}

/// Counts a connection as open while it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Server {
    async fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        match request.uri().path() {
            "/metrics" if matches!(*request.method(), Method::GET | Method::HEAD) => {
                self.metrics(request).await
            }
            "/metrics" => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            }
            "/" => plain(
                StatusCode::OK,
                "sockscope exporter: the metrics are at /metrics\n",
            ),
            _ => plain(
                StatusCode::NOT_FOUND,
                "not found: the metrics are at /metrics\n",
            ),
        }
    }

    async fn metrics(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let format = Format::negotiate(header(request, ACCEPT.as_str()));
        // Prometheus says how long it waits; answering later helps nobody.
        let limit = header(request, "x-prometheus-scrape-timeout-seconds")
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(self.scrape_timeout, |s| {
                self.scrape_timeout.min(Duration::from_secs_f64(s))
            });
        let scrape = self.scraper.scrape(limit).await;
        let (summary, duration) = match &scrape {
            Scrape::Done(outcome) => (outcome.summary.as_ref().ok(), outcome.duration),
            Scrape::TimedOut(waited) => (None, *waited),
        };
        let health = Health {
            summary,
            duration,
            timeouts: self.scraper.timeouts(),
            errors: self.scraper.errors(),
        };
        let body = encode::encode(&health, format);
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        response
    }
}

fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name)?.to_str().ok()
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
