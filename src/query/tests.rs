use super::*;
use crate::test_sockets::held_tcp as tcp;

#[test]
fn states_in_every_spelling() {
    for (text, state) in [
        ("TIME_WAIT", TcpState::TimeWait),
        ("time-wait", TcpState::TimeWait),
        ("estab", TcpState::Established),
        ("Established", TcpState::Established),
        ("syn-sent", TcpState::SynSent),
        ("fin-wait-2", TcpState::FinWait2),
        ("FIN_WAIT1", TcpState::FinWait1),
        ("close-wait", TcpState::CloseWait),
        ("unconn", TcpState::Unconn),
    ] {
        assert_eq!(parse_state(text), Ok(state), "{text}");
    }
    let err = parse_state("bogus").unwrap_err();
    assert!(
        err.contains("ESTABLISHED") && err.contains("bogus"),
        "{err}"
    );
}

#[test]
fn terms_combine() {
    let s = tcp(
        "127.0.0.1:8080",
        "127.0.0.1:50000",
        TcpState::Established,
        "nginx",
    );
    let yes = [
        "",
        "port:8080",
        "port:50000",
        "state:estab",
        "tcp",
        "-4",
        "nginx",
        "NGINX",
        "pid:42",
        "127.0.0.1",
        "127.0.0.1:8080",
        "port:1 port:8080",
        "state:listen state:estab",
    ];
    for text in yes {
        assert!(Query::parse(text).unwrap().matches(&s), "{text}");
    }
    let no = [
        "port:80",
        "state:listen",
        "udp",
        "-6",
        "apache",
        "pid:1",
        "listening",
        "tcp nginx port:1",
    ];
    for text in no {
        assert!(!Query::parse(text).unwrap().matches(&s), "{text}");
    }
}

#[test]
fn bare_states_numbers_and_colon_ports() {
    let q = Query::parse("estab time-wait CLOSE_WAIT").unwrap();
    assert_eq!(
        q.states,
        [
            TcpState::Established,
            TcpState::TimeWait,
            TcpState::CloseWait
        ]
    );
    assert!(q.words.is_empty());
    assert_eq!(Query::parse(":8080").unwrap().ports, [8080]);
    assert_eq!(Query::parse("8080").unwrap().numbers, [8080]);
    assert!(Query::parse(":0").is_err());
    let s = tcp(
        "127.0.0.1:8080",
        "127.0.0.1:50000",
        TcpState::Established,
        "nginx",
    );
    for yes in ["estab", ":8080", "8080", "42", "50000 estab"] {
        assert!(Query::parse(yes).unwrap().matches(&s), "{yes}");
    }
    for no in ["listen", ":42", "43", "8080 43"] {
        assert!(!Query::parse(no).unwrap().matches(&s), "{no}");
    }
    // Round trip: a bare state is written as state:NAME, a number stays bare.
    let q = Query::parse("estab 42").unwrap();
    assert_eq!(q.to_string(), "state:ESTABLISHED 42");
    assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
}

#[test]
fn v4_mapped_matches_the_v4_address() {
    let s = tcp("[::ffff:10.1.2.3]:80", "[::]:0", TcpState::Listen, "srv");
    assert!(Query::parse("10.1.2.3").unwrap().matches(&s));
    assert!(Query::parse("-6 listening").unwrap().matches(&s));
}

#[test]
fn addresses_are_written_in_the_bytes_words_are_checked_for() {
    for addr in [
        "127.0.0.1:80",
        "0.0.0.0:0",
        "[::]:0",
        "[::1]:65535",
        "[::ffff:10.1.2.3]:443",
        "[fe80::abcd:ef01:2345:6789]:8080",
        "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:1",
    ] {
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        let texts = [
            crate::model::Endpoint(addr).to_string(),
            addr.ip().to_string(),
        ];
        for text in texts {
            assert!(text.bytes().all(in_address_text), "{text}");
        }
    }
    let s = tcp("[::1]:80", "[::]:0", TcpState::Listen, "srv");
    assert!(Query::parse("[::1]:80").unwrap().matches(&s));
    assert!(!Query::parse("x::1").unwrap().matches(&s));
    assert!(Query::parse("srv").unwrap().matches(&s));
}

#[test]
fn text_round_trips() {
    for text in [
        "",
        "pid:7 port:80 state:TIME_WAIT udp -6 listening nginx",
        "tcp -4",
    ] {
        let q = Query::parse(text).unwrap();
        assert_eq!(q.to_string(), text);
        assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
    }
}

#[test]
fn every_protocol_by_name_or_key() {
    let raw = Socket::family(
        Proto::Raw,
        Family::Ipv4,
        crate::model::SocketType::Raw,
        TcpState::Unconn,
        9,
        None,
    );
    for yes in ["raw", "RAW", "proto:raw", "tcp raw", "-4 raw"] {
        let mut q = Query::parse(yes).unwrap();
        q.families.retain(|_| false); // raw has no address here
        assert!(q.matches(&raw), "{yes}");
    }
    for no in ["tcp", "proto:packet", "netlink"] {
        assert!(!Query::parse(no).unwrap().matches(&raw), "{no}");
    }
    for proto in Proto::ALL {
        let q = Query::parse(&format!("proto:{}", proto.name())).unwrap();
        assert_eq!(q.protos, [proto]);
        assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
    }
    assert!(
        Query::parse("proto:bogus")
            .unwrap_err()
            .contains("unknown protocol 'bogus'")
    );
}

#[test]
fn bad_terms_say_why() {
    assert!(
        Query::parse("port:http")
            .unwrap_err()
            .contains("invalid port 'http'")
    );
    assert!(
        Query::parse("state:nope")
            .unwrap_err()
            .contains("unknown state")
    );
    assert!(Query::parse("pid:x").unwrap_err().contains("invalid pid"));
}
