//! `sockscope export` as an HTTP server, in a network namespace of the test's own:
//! content negotiation, and bad requests (other paths, other methods, huge headers, a
//! client that never finishes its headers) get errors while a concurrent scrape is
//! answered.

mod export_support;

use std::io::{ErrorKind, Read, Write};

use export_support::*;

#[test]
fn formats_are_negotiated_and_bad_requests_do_not_stall_scrapes() {
    let ns = match Netns::create("export-http") {
        Ok(ns) => ns,
        Err(e) => return cannot_run(&format!("no network namespace (needs root): {e}")),
    };
    let (export, addr) = start_export(&ns, &["--read-timeout", "10"]);
    ns.enter();
    assert_eq!(addr.to_string(), "127.0.0.1:10155", "the default address");

    // No Accept header, or text/plain: Prometheus text 0.0.4, no # EOF.
    let text = get(addr, "/metrics", &[]);
    assert_eq!(text.status, 200, "{text:?}");
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(text.body.contains("\nsockscope_up 1\n"), "{}", text.body);
    assert!(text.body.contains("# TYPE sockscope_sockets gauge\n"));
    assert!(!text.body.contains("# EOF"));

    // What Prometheus sends: OpenMetrics, ending in # EOF.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                  version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = get(addr, "/metrics", &[("Accept", accept)]);
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text; version=1.0.0")),
        "{om:?}"
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(
        om.body
            .contains("# TYPE sockscope_scrape_timeouts counter\n")
    );

    assert_eq!(get(addr, "/nope", &[]).status, 404);
    assert_eq!(get(addr, "/metrics/", &[]).status, 404);
    let mut post = connect(addr);
    post.write_all(b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let post = read_reply(&mut post).unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // Headers past the 16 KiB limit: 431.
    let mut huge = connect(addr);
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 20 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let _ = huge.write_all(&request);
    let huge = read_reply(&mut huge).expect("a reply to huge headers");
    assert_eq!(huge.status, 431, "{huge:?}");

    // A client that starts its headers and never ends them, and one that says nothing.
    let mut slow = connect(addr);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let silent = connect(addr);

    // Scrapes are answered while both are still connected (well inside the 10 s
    // --read-timeout, however loaded the machine).
    for _ in 0..2 {
        let scrape = get(addr, "/metrics", &[]);
        assert_eq!(scrape.status, 200);
        assert!(scrape.body.contains("\nsockscope_up 1\n"));
    }
    for stream in [&slow, &silent] {
        stream.set_nonblocking(true).unwrap();
        let still_open =
            matches!((&*stream).read(&mut [0; 64]), Err(e) if e.kind() == ErrorKind::WouldBlock);
        assert!(
            still_open,
            "a bad client was dropped before the scrapes were answered"
        );
        stream.set_nonblocking(false).unwrap();
    }

    // Past --read-timeout both are closed by the server (a 408, an EOF or a reset);
    // reading blocks at most the 30 s read timeout `connect` sets.
    for mut stream in [slow, silent] {
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("a stalled client was never closed: {e}"),
        }
    }
    assert!(
        get(addr, "/metrics", &[])
            .body
            .contains("\nsockscope_up 1\n"),
        "export stopped serving: {}",
        export.stderr()
    );
}
