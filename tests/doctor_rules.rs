//! The diagnosis rules on synthetic histories: the cases a loopback test cannot stage
//! (28,000 TIME_WAIT sockets, tcp_info retransmits) and the edges of each rule.

use std::time::{Duration, SystemTime};

use sockscope::collect::kernel_counters::{ListenCounters, PortRange};
use sockscope::diagnose::{DiagnoseConfig, Finding, KernelFacts, Kind, Severity, diagnose};
mod common;

use common::sockets::{self, Build, owner};
use sockscope::model::{Snapshot, Socket, TcpState};
use sockscope::output::Format;
use sockscope::track::{TcpCounters, Tracker};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn tcp(local_port: u16, remote_port: u16, state: TcpState, pid: u32) -> Socket {
    let local = format!("10.0.0.1:{local_port}");
    let remote = format!("10.0.0.2:{remote_port}");
    sockets::tcp(&local, &remote, state)
        .inode(u64::from(local_port) + 1)
        .owned_by(vec![owner(pid, 3, "app")])
}

fn track(steps: &[Vec<Socket>]) -> Tracker {
    let mut t = Tracker::default();
    for (secs, sockets) in steps.iter().enumerate() {
        t.observe(&Snapshot {
            sockets: sockets.clone(),
            warnings: Vec::new(),
            taken_at: at(secs as u64),
            closed: Vec::new(),
        });
    }
    t
}

fn run(t: &Tracker, kernel: &KernelFacts) -> Vec<Finding> {
    diagnose(t, kernel, &DiagnoseConfig::default())
}

fn kinds(found: &[Finding]) -> Vec<(Kind, Severity)> {
    found.iter().map(|f| (f.kind, f.severity)).collect()
}

#[test]
fn close_wait_old_is_a_warning_and_growing_is_critical() {
    let cw = |port| tcp(port, 80, TcpState::CloseWait, 7);
    let old = vec![cw(1), cw(2)];
    let t = track(&[old.clone(), old.clone(), old.clone()]);
    let found = run(&t, &KernelFacts::default());
    assert_eq!(kinds(&found), [(Kind::CloseWait, Severity::Warning)]);
    assert_eq!(found[0].socket_count, 2);
    assert_eq!(found[0].processes[0].pid, 7);

    let t = track(&[old.clone(), old.clone(), vec![cw(1), cw(2), cw(3)]]);
    let found = run(&t, &KernelFacts::default());
    assert_eq!(kinds(&found), [(Kind::CloseWait, Severity::Critical)]);
    assert_eq!(found[0].socket_count, 3);

    // Young ones alone are connections being closed right now.
    let t = track(&[vec![], vec![], vec![cw(1)]]);
    assert!(run(&t, &KernelFacts::default()).is_empty());
}

#[test]
fn time_wait_near_the_port_range_for_one_destination() {
    let range = PortRange {
        low: 40000,
        high: 40009,
    };
    let kernel = KernelFacts {
        port_range: Some(range),
        ..KernelFacts::default()
    };
    let tw = |port| {
        let mut s = tcp(port, 5432, TcpState::TimeWait, 0);
        s.inode = 0;
        s.processes = Default::default();
        s
    };
    let eight: Vec<Socket> = (40000..40008).map(tw).collect();
    let found = run(&track(&[eight]), &kernel);
    assert_eq!(
        kinds(&found),
        [(Kind::TimeWaitExhaustion, Severity::Critical)]
    );
    assert!(
        found[0].summary.contains("10.0.0.2:5432"),
        "{}",
        found[0].summary
    );
    assert!(found[0].summary.contains("80%"), "{}", found[0].summary);

    // Few of them, or on service ports (we were the server): nothing.
    let three: Vec<Socket> = (40000..40003).map(tw).collect();
    assert!(run(&track(&[three]), &kernel).is_empty());
    let server_side: Vec<Socket> = (1..9).map(tw).collect();
    assert!(run(&track(&[server_side]), &kernel).is_empty());
}

fn listener(recv_q: u32, backlog: u32) -> Socket {
    let mut s = tcp(8080, 0, TcpState::Listen, 9);
    s.remote = Some(([0, 0, 0, 0], 0).into());
    s.recv_q = recv_q;
    s.send_q = backlog;
    s
}

fn counters(values: &[u64]) -> Vec<ListenCounters> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| ListenCounters {
            at: at(i as u64),
            overflows: v,
            drops: v,
        })
        .collect()
}

#[test]
fn accept_queue_and_listen_overflows() {
    // Netlink gives the backlog: 128 of 128 is full.
    let full = vec![listener(128, 128)];
    let t = track(&[full.clone(), full.clone(), full]);
    let found = run(&t, &KernelFacts::default());
    assert_eq!(kinds(&found), [(Kind::AcceptQueue, Severity::Critical)]);
    assert!(found[0].summary.contains("full backlog of 128"));

    // /proc: backlog unknown; a queue that stays is a warning, critical with overflows.
    let waiting = vec![listener(1, 0)];
    let t = track(&[waiting.clone(), waiting.clone(), waiting]);
    assert_eq!(
        kinds(&run(&t, &KernelFacts::default())),
        [(Kind::AcceptQueue, Severity::Warning)]
    );
    let rising = KernelFacts {
        listen_counters: counters(&[5, 6, 9]),
        ..KernelFacts::default()
    };
    let found = run(&t, &rising);
    assert_eq!(kinds(&found), [(Kind::AcceptQueue, Severity::Critical)]);
    assert!(
        found[0].summary.contains("ListenOverflows +4"),
        "{}",
        found[0].summary
    );

    // A queue that drains is healthy, even while the host's counters rise elsewhere...
    let t = track(&[
        vec![listener(1, 0)],
        vec![listener(0, 0)],
        vec![listener(0, 0)],
    ]);
    assert!(run(&t, &rising).is_empty());
    // ...unless the view is the whole namespace: then the rise itself is reported.
    let whole = KernelFacts {
        whole_namespace: true,
        ..rising.clone()
    };
    assert_eq!(
        kinds(&run(&t, &whole)),
        [(Kind::ListenOverflows, Severity::Warning)]
    );
    let found = run(&t, &whole);
    assert!(found[0].sockets.is_empty(), "nobody to blame in view");
    // A listener caught with a queue twice is named as the likely one.
    let t2 = track(&[
        vec![listener(1, 0)],
        vec![listener(0, 0)],
        vec![listener(2, 0)],
    ]);
    let found = run(&t2, &rising);
    assert_eq!(kinds(&found), [(Kind::ListenOverflows, Severity::Warning)]);
    assert_eq!(found[0].processes[0].pid, 9);
    let steady = KernelFacts {
        listen_counters: counters(&[5, 5, 5]),
        whole_namespace: true,
        ..KernelFacts::default()
    };
    assert!(run(&t, &steady).is_empty());
}

#[test]
fn syn_sent_only_once_old() {
    let syn = vec![tcp(50000, 443, TcpState::SynSent, 3)];
    assert!(run(&track(&[syn.clone(), syn.clone()]), &KernelFacts::default()).is_empty());
    let found = run(
        &track(&[syn.clone(), syn.clone(), syn]),
        &KernelFacts::default(),
    );
    assert_eq!(kinds(&found), [(Kind::SynSent, Severity::Warning)]);
    assert!(found[0].summary.contains("10.0.0.2:443"));
}

fn with_queues(recv_q: u32, send_q: u32) -> Vec<Socket> {
    let mut s = tcp(50000, 443, TcpState::Established, 3);
    s.recv_q = recv_q;
    s.send_q = send_q;
    vec![s]
}

#[test]
fn queues_that_grow_or_stick_and_ones_that_move() {
    let none = KernelFacts::default();
    let found = run(
        &track(&[with_queues(10, 0), with_queues(10, 0), with_queues(50, 0)]),
        &none,
    );
    assert_eq!(kinds(&found), [(Kind::RecvQ, Severity::Warning)]);
    assert!(
        found[0].summary.contains("10 -> 50"),
        "{}",
        found[0].summary
    );
    // Drained once: someone reads.
    assert!(
        run(
            &track(&[with_queues(10, 0), with_queues(0, 0), with_queues(50, 0)]),
            &none
        )
        .is_empty()
    );

    let found = run(
        &track(&[with_queues(0, 10), with_queues(0, 20), with_queues(0, 30)]),
        &none,
    );
    assert_eq!(kinds(&found), [(Kind::SendQ, Severity::Warning)]);
    // Growing, then the writer blocks on a full send buffer: still blocked.
    let found = run(
        &track(&[
            with_queues(0, 10_000),
            with_queues(0, 70_000),
            with_queues(0, 70_000),
        ]),
        &none,
    );
    assert_eq!(kinds(&found), [(Kind::SendQ, Severity::Warning)]);
    // A small constant Send-Q is a delayed ACK; a big constant one is stuck.
    assert!(
        run(
            &track(&[with_queues(0, 64), with_queues(0, 64), with_queues(0, 64)]),
            &none
        )
        .is_empty()
    );
    let big = 200_000;
    let found = run(
        &track(&[
            with_queues(0, big),
            with_queues(0, big),
            with_queues(0, big),
        ]),
        &none,
    );
    assert_eq!(kinds(&found), [(Kind::SendQ, Severity::Warning)]);
}

#[test]
fn send_q_with_tcp_info_judges_by_acks_and_retransmits() {
    // A fake tcp_info: (bytes_acked, total_retrans) per step.
    let observe = |steps: &[(u64, u32)]| {
        let mut t = Tracker::default();
        for (i, &(acked, retrans)) in steps.iter().enumerate() {
            let snapshot = Snapshot {
                sockets: with_queues(0, 64),
                warnings: Vec::new(),
                taken_at: at(i as u64),
                closed: Vec::new(),
            };
            t.observe_with(&snapshot, |_| {
                Some(TcpCounters {
                    bytes_received: 0,
                    bytes_acked: acked,
                    total_retrans: retrans,
                })
            });
        }
        t
    };
    let none = KernelFacts::default();
    let found = run(&observe(&[(100, 1), (100, 3), (100, 6)]), &none);
    assert_eq!(kinds(&found), [(Kind::SendQ, Severity::Critical)]);
    assert!(
        found[0].summary.contains("5 retransmits"),
        "{}",
        found[0].summary
    );
    // Acks moving: the data flows, whatever the queue looks like.
    assert!(run(&observe(&[(100, 0), (200, 0), (300, 0)]), &none).is_empty());
}

#[test]
fn text_output_names_who_what_and_next_steps() {
    let cw = |port| tcp(port, 80, TcpState::CloseWait, 7);
    let t = track(&[vec![cw(1)], vec![cw(1)], vec![cw(1), cw(2)]]);
    let found = run(&t, &KernelFacts::default());
    let mut text = Vec::new();
    sockscope::output::write(&mut text, Format::Table, &found, &t.live().count()).unwrap();
    let text = String::from_utf8(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "CRITICAL  CLOSE_WAIT: 1 socket held by 7/app in CLOSE_WAIT, \
         the oldest for at least 2.0s, and growing: 1 newer"
    );
    assert!(lines[1].starts_with("    means: the peer closed"), "{text}");
    assert!(lines[2].starts_with("    check: "), "{text}");
    assert_eq!(
        lines[3],
        "    tcp CLOSE_WAIT 10.0.0.1:1 -> 10.0.0.2:80  recv-q 0 send-q 0  2.0s  7/app fd 3"
    );
    assert_eq!(
        lines[4],
        "    tcp CLOSE_WAIT 10.0.0.1:2 -> 10.0.0.2:80  recv-q 0 send-q 0  0.0s  7/app fd 3"
    );
    assert_eq!(*lines.last().unwrap(), "1 finding");

    let mut text = Vec::new();
    sockscope::output::write(&mut text, Format::Table, &[] as &[Finding], &12).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "no findings: 12 sockets look healthy\n"
    );
}
