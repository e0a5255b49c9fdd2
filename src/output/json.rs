//! A socket's JSON element written by hand: the bytes `serde_json` gives for
//! `Socket`'s `Serialize` (model.rs, the schema's one definition), without serde's
//! per-field calls. At 100k sockets serde was most of `list --json`'s user time (a map
//! entry and an escape scan per field, ~875 bytes a socket); here the keys are literals
//! written once, numbers go through itoa, and a string is scanned once for what needs
//! escaping. The few nested values that are rare (`detail`, a container) still go
//! through serde_json. The tests below hold the two to the same bytes.

use std::net::IpAddr;

use crate::model::{Naming, Netns, Owner, Owners, Peer, Socket, TcpInfo, Timer};

/// Appends `socket` as one JSON object, the name fields of `names` after its own
/// where given (`WithNames`).
pub fn socket(out: &mut Vec<u8>, socket: &Socket, names: Option<&Naming>) {
    let s = socket;
    out.extend_from_slice(b"{\"proto\":");
    quoted(out, proto_name(s));
    out.extend_from_slice(b",\"family\":");
    quoted(out, family_name(s));
    out.extend_from_slice(b",\"state\":\"");
    out.extend_from_slice(s.state.name().as_bytes());
    out.extend_from_slice(b"\",\"local_addr\":");
    option(out, s.local.map(|a| a.ip()), ip);
    out.extend_from_slice(b",\"local_port\":");
    option(out, s.local_port(), number);
    out.extend_from_slice(b",\"remote_addr\":");
    option(out, s.remote.map(|a| a.ip()), ip);
    out.extend_from_slice(b",\"remote_port\":");
    option(out, s.remote_port(), number);
    out.extend_from_slice(b",\"path\":");
    option(out, s.path(), string);
    if let Some(raw) = s.path_raw() {
        out.extend_from_slice(b",\"path_bytes\":[");
        for (i, &b) in raw.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            number(out, b);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"socket_type\":");
    quoted(out, socket_type_name(s));
    out.extend_from_slice(b",\"recv_q\":");
    number(out, s.recv_q);
    out.extend_from_slice(b",\"send_q\":");
    number(out, s.send_q);
    out.extend_from_slice(b",\"inode\":");
    number(out, s.inode);
    out.extend_from_slice(b",\"uid\":");
    number(out, s.uid);
    out.extend_from_slice(b",\"processes\":");
    owners(out, &s.processes);
    out.extend_from_slice(b",\"tcp_info\":");
    option(out, s.tcp_info.as_deref(), tcp_info);
    out.extend_from_slice(b",\"timer\":");
    option(out, s.timer.as_ref(), timer);
    out.extend_from_slice(b",\"peer_inode\":");
    option(out, s.peer_inode(), number);
    out.extend_from_slice(b",\"peer\":");
    option(out, s.peer.as_ref(), peer);
    out.extend_from_slice(b",\"detail\":");
    option(out, s.detail.as_deref(), serde);
    out.extend_from_slice(b",\"netns\":");
    option(out, s.netns.as_deref(), netns);
    if let Some(naming) = names {
        out.extend_from_slice(b",\"local_service\":");
        option(out, s.local_service(naming), string);
        out.extend_from_slice(b",\"remote_service\":");
        option(out, s.remote_service(naming), string);
        out.extend_from_slice(b",\"remote_host\":");
        option(out, s.remote_host(naming).as_deref(), string);
    }
    out.push(b'}');
}

/// The enums' JSON names are their serde names: `proto_text` and friends differ (ss's
/// short names), so these follow the `rename_all` attributes in model.rs.
fn proto_name(s: &Socket) -> &'static str {
    use crate::model::Proto::*;
    match s.proto {
        Tcp => "tcp",
        Udp => "udp",
        Unix => "unix",
        Raw => "raw",
        Icmp => "icmp",
        Sctp => "sctp",
        Mptcp => "mptcp",
        Packet => "packet",
        Netlink => "netlink",
        Vsock => "vsock",
        Other => "other",
    }
}

fn family_name(s: &Socket) -> &'static str {
    use crate::model::Family::*;
    match s.family {
        Ipv4 => "ipv4",
        Ipv6 => "ipv6",
        Unix => "unix",
        Packet => "packet",
        Netlink => "netlink",
        Vsock => "vsock",
        Other => "other",
    }
}

fn socket_type_name(s: &Socket) -> &'static str {
    use crate::model::SocketType::*;
    match s.socket_type {
        Stream => "stream",
        Dgram => "dgram",
        Seqpacket => "seqpacket",
        Raw => "raw",
        Unknown => "unknown",
    }
}

fn option<T>(out: &mut Vec<u8>, value: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        Some(value) => write(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn number(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Each key (its comma and quotes included) followed by its number.
fn numbers(out: &mut Vec<u8>, fields: &[(&[u8], u64)]) {
    for &(key, value) in fields {
        out.extend_from_slice(key);
        number(out, value);
    }
}

/// A string known to need no escaping (our own names).
fn quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// A string as serde_json escapes it: `"` and `\` with a backslash, the control
/// characters below 0x20 as \b \t \n \f \r or \u00xx; everything else as it is.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            _ => 0,
        };
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let (hi, lo) = (HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]);
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
        }
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// An address as `IpAddr` displays it (serde's form for it), IPv4 without `fmt`.
fn ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.push(b'"');
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                number(out, octet);
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}"); // a Vec takes every write
        }
    }
    out.push(b'"');
}

fn owners(out: &mut Vec<u8>, owners: &Owners) {
    out.push(b'[');
    for (i, o) in owners.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        owner(out, o);
    }
    out.push(b']');
}

fn owner(out: &mut Vec<u8>, o: &Owner) {
    out.extend_from_slice(b"{\"pid\":");
    number(out, o.pid);
    out.extend_from_slice(b",\"fd\":");
    number(out, o.fd);
    out.extend_from_slice(b",\"comm\":");
    string(out, &o.process.comm);
    out.extend_from_slice(b",\"uid\":");
    number(out, o.process.uid);
    out.extend_from_slice(b",\"user\":");
    string(out, &o.process.user);
    out.extend_from_slice(b",\"container\":");
    option(out, o.process.container.as_deref(), serde);
    out.push(b'}');
}

fn tcp_info(out: &mut Vec<u8>, t: &TcpInfo) {
    // Field for field as TcpInfo declares them (serde's derive keeps that order).
    let fields: [(&[u8], u64); 13] = [
        (b"{\"rtt_us\":", t.rtt_us.into()),
        (b",\"rttvar_us\":", t.rttvar_us.into()),
        (b",\"rto_ms\":", t.rto_ms.into()),
        (b",\"cwnd\":", t.cwnd.into()),
        (b",\"ssthresh\":", t.ssthresh.into()),
        (b",\"mss\":", t.mss.into()),
        (b",\"retransmits\":", t.retransmits.into()),
        (b",\"total_retrans\":", t.total_retrans.into()),
        (b",\"lost\":", t.lost.into()),
        (b",\"bytes_sent\":", t.bytes_sent),
        (b",\"bytes_acked\":", t.bytes_acked),
        (b",\"bytes_received\":", t.bytes_received),
        (b",\"delivery_rate\":", t.delivery_rate),
    ];
    numbers(out, &fields);
    out.extend_from_slice(b",\"pacing_rate\":");
    option(out, t.pacing_rate.bytes_per_second(), number);
    let fields: [(&[u8], u64); 5] = [
        (b",\"last_data_sent_ms\":", t.last_data_sent_ms.into()),
        (b",\"last_data_recv_ms\":", t.last_data_recv_ms.into()),
        (b",\"busy_time_us\":", t.busy_time_us),
        (b",\"rwnd_limited_us\":", t.rwnd_limited_us),
        (b",\"sndbuf_limited_us\":", t.sndbuf_limited_us),
    ];
    numbers(out, &fields);
    out.push(b'}');
}

fn timer(out: &mut Vec<u8>, t: &Timer) {
    use crate::model::TimerKind::*;
    out.extend_from_slice(b"{\"kind\":");
    quoted(
        out,
        match t.kind {
            On => "on",
            Keepalive => "keepalive",
            Timewait => "timewait",
            Persist => "persist",
        },
    );
    out.extend_from_slice(b",\"expires_ms\":");
    number(out, t.expires_ms);
    out.extend_from_slice(b",\"retransmits\":");
    number(out, t.retransmits);
    out.push(b'}');
}

fn peer(out: &mut Vec<u8>, p: &Peer) {
    out.extend_from_slice(b"{\"inode\":");
    number(out, p.inode);
    out.extend_from_slice(b",\"processes\":");
    owners(out, &p.processes);
    out.push(b'}');
}

fn netns(out: &mut Vec<u8>, n: &Netns) {
    out.extend_from_slice(b"{\"inode\":");
    number(out, n.inode);
    out.extend_from_slice(b",\"name\":");
    option(out, n.name.as_deref(), string);
    out.push(b'}');
}

/// A rare nested value through serde_json itself.
fn serde(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // Writing plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests;
