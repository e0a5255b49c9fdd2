//! Service names for ports, from /etc/services, read once (bounded, through
//! `collect::read`) and kept for the process: `list` and the live view show
//! `127.0.0.1:https` where ss would.
//!
//! `SOCKSCOPE_SERVICES=FILE` reads another file in its place, for tests; it is a path
//! the user chose, so a sockscope with more privilege than its user refuses it.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Result;

use super::read::{self, Follow};
use crate::model::names::{ServiceProto, Services};

/// The system's table.
pub const SERVICES: &str = "/etc/services";

/// The environment variable that names another file (tests).
pub const OVERRIDE: &str = "SOCKSCOPE_SERVICES";

/// More than any real table (Debian's is 13 KB, IANA's full registry about 2 MB).
const MAX_BYTES: u64 = 8 << 20;
const MAX_LINE: usize = 4096;

/// The table every caller shares: read at the first call, the same afterwards. A
/// missing file is an empty table (ports stay numbers); an unreadable one, or the
/// override under raised privilege, an error each time it is asked for.
pub fn system() -> Result<Arc<Services>> {
    static TABLE: OnceLock<Result<Arc<Services>, String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let path = match std::env::var_os(OVERRIDE) {
            Some(path) => {
                super::privilege::allow_chosen_path(OVERRIDE).map_err(|e| format!("{e:#}"))?;
                PathBuf::from(path)
            }
            None => PathBuf::from(SERVICES),
        };
        read_file(&path).map(Arc::new).map_err(|e| format!("{e:#}"))
    });
    table.clone().map_err(anyhow::Error::msg)
}

/// The ports ss leaves unnamed: the ephemeral range of the network namespace read
/// (`<proc_root>/sys/net/ipv4/ip_local_port_range`), where it can be read.
pub fn unnamed_ports(proc_root: &Path) -> Option<RangeInclusive<u16>> {
    let range = super::kernel_counters::read_port_range(proc_root).ok()?;
    Some(range.low..=range.high)
}

/// Reads and parses `path`; a missing file is an empty table.
pub fn read_file(path: &Path) -> Result<Services> {
    let Some(mut lines) = read::Lines::open(path, Follow::Yes, 64 * 1024, MAX_LINE, MAX_BYTES)?
    else {
        return Ok(Services::default());
    };
    let mut services = Services::default();
    while let Some(line) = lines.next_line()? {
        parse_line(&String::from_utf8_lossy(line.text), &mut services);
    }
    Ok(services)
}

/// Parses a whole table (for tests and fixtures).
pub fn parse(text: &str) -> Services {
    let mut services = Services::default();
    for line in text.lines() {
        parse_line(line, &mut services);
    }
    services
}

/// One line of services(5): `name port/protocol [aliases ...] [# comment]`. Lines
/// that do not read so (blank, comments, a bad port, another protocol) add nothing.
fn parse_line(line: &str, services: &mut Services) {
    let line = line.split('#').next().unwrap_or("");
    let mut words = line.split_whitespace();
    let (Some(name), Some(port)) = (words.next(), words.next()) else {
        return;
    };
    let Some((port, proto)) = port.split_once('/') else {
        return;
    };
    let (Ok(port), Some(proto)) = (port.parse::<u16>(), ServiceProto::parse(proto)) else {
        return;
    };
    if port != 0 {
        services.insert(proto, port, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_lines_as_services_5_says() {
        let table = parse(
            "# Network services, Internet style\n\
             \n\
             tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n\
             https\t\t443/tcp\t\t\t\t# http protocol over TLS/SSL\n\
             https\t\t443/udp\t\t\t\t# HTTP/3\n\
             http-alt\t8080/tcp\twebcache\t# WWW caching service\n\
             webcache-again\t8080/tcp\n\
             sctp-thing 9/sctp\n\
             ddp-thing 4/ddp\n\
             bad 70000/tcp\n\
             noport tcp\n\
             zero 0/tcp\n\
             lonely\n\
             commented # 12/tcp\n",
        );
        assert_eq!(table.get(ServiceProto::Tcp, 1), Some("tcpmux"));
        assert_eq!(table.get(ServiceProto::Tcp, 443), Some("https"));
        assert_eq!(table.get(ServiceProto::Udp, 443), Some("https"));
        // The first name, not its alias nor a later line's.
        assert_eq!(table.get(ServiceProto::Tcp, 8080), Some("http-alt"));
        assert_eq!(table.get(ServiceProto::Sctp, 9), Some("sctp-thing"));
        assert_eq!(table.get(ServiceProto::Udp, 8080), None);
        assert_eq!(table.get(ServiceProto::Tcp, 12), None);
        assert_eq!(table.len(), 5, "{table:?}");
    }

    #[test]
    fn a_missing_file_names_nothing_and_a_huge_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_file(&dir.path().join("none")).unwrap().is_empty());
        let big = dir.path().join("big");
        let line = "name 1/tcp\n".repeat(1 << 20);
        std::fs::write(&big, line).unwrap();
        let e = format!("{:#}", read_file(&big).unwrap_err());
        assert!(e.contains("larger than"), "{e}");
        // A FIFO in its place does not hang the read.
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(read_file(&fifo).is_err());
    }

    #[test]
    fn the_system_table_reads_when_there_is_one() {
        if Path::new(SERVICES).exists() && std::env::var_os(OVERRIDE).is_none() {
            let table = system().unwrap();
            assert!(!table.is_empty());
        }
    }
}
