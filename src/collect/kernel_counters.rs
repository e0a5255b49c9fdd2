//! Host-wide (per network namespace) facts beside the socket tables: the TcpExt
//! counters in /proc/net/netstat (diagnosis reads the listen overflows, `export`
//! serves a few more) and the ephemeral port range.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow};

use super::read::{self, Follow, shown};
use crate::text::quote;

/// TcpExt ListenOverflows (a connection arrived to a full accept queue) and
/// ListenDrops (a SYN or final ACK to a listener was dropped, overflows included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenCounters {
    pub at: SystemTime,
    pub overflows: u64,
    pub drops: u64,
}

/// net.ipv4.ip_local_port_range: the local ports connect() picks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn len(&self) -> u32 {
        u32::from(self.high.saturating_sub(self.low)) + 1
    }

    pub fn is_empty(&self) -> bool {
        self.high < self.low
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }
}

/// Reads the facts of the network namespace the sockets are read in: the first
/// watched pid's (`--pid`), else ours. A captured tree (`--proc-root`) usually has
/// none, and then the rules that need them are skipped.
#[derive(Clone, Debug)]
pub struct KernelReader {
    proc_root: PathBuf,
    net_dir: PathBuf,
}

impl KernelReader {
    pub fn new(proc_root: &Path, pids: &[u32]) -> KernelReader {
        let net_dir = match pids.first() {
            Some(pid) => proc_root.join(pid.to_string()).join("net"),
            None => proc_root.join("net"),
        };
        KernelReader {
            proc_root: proc_root.to_path_buf(),
            net_dir,
        }
    }

    /// The listen counters now, stamped `at` (the snapshot's time).
    pub fn listen_counters(&self, at: SystemTime) -> Option<ListenCounters> {
        read_listen_counters(&self.net_dir, at).ok()
    }

    pub fn port_range(&self) -> Option<PortRange> {
        read_port_range(&self.proc_root).ok()
    }
}

/// Reads `<net_dir>/netstat` (e.g. /proc/net or /proc/1234/net).
pub fn read_listen_counters(net_dir: &Path, at: SystemTime) -> Result<ListenCounters> {
    read_tcp_ext(net_dir)?.listen_counters(at)
}

/// netstat holds pairs of lines, `TcpExt: Name Name ...` then `TcpExt: 1 2 ...`.
pub fn parse_listen_counters(text: &str, at: SystemTime) -> Result<ListenCounters> {
    parse_tcp_ext(text)?.listen_counters(at)
}

/// Every TcpExt counter of a netstat file, by the kernel's name (`ListenOverflows`,
/// `TCPAbortOnTimeout`, ...), in the kernel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpExt(pub Vec<(String, u64)>);

impl TcpExt {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The two counters the listen-overflow rule reads.
    pub fn listen_counters(&self, at: SystemTime) -> Result<ListenCounters> {
        let value = |name: &str| self.get(name).ok_or_else(|| anyhow!("no {name} counter"));
        Ok(ListenCounters {
            at,
            overflows: value("ListenOverflows")?,
            drops: value("ListenDrops")?,
        })
    }
}

/// Reads the TcpExt counters of `<net_dir>/netstat` (e.g. /proc/net or /proc/1234/net).
pub fn read_tcp_ext(net_dir: &Path) -> Result<TcpExt> {
    let path = net_dir.join("netstat");
    let bytes = read::small(&path, 64 * 1024, Follow::No)?;
    parse_tcp_ext(&String::from_utf8_lossy(&bytes))
        .with_context(|| format!("reading {}", shown(&path)))
}

/// The first `TcpExt:` line names the counters, the second holds their values.
pub fn parse_tcp_ext(text: &str) -> Result<TcpExt> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = lines
        .next()
        .zip(lines.next())
        .ok_or_else(|| anyhow!("no TcpExt lines"))?;
    let names = names.split_whitespace().skip(1);
    let mut values = values.split_whitespace().skip(1);
    let mut counters = Vec::new();
    for name in names {
        let shown_name = || quote(name.as_bytes(), 40);
        let text = values
            .next()
            .ok_or_else(|| anyhow!("no value for {}", shown_name()))?;
        let value = text.parse().with_context(|| {
            format!(
                "bad value \"{}\" for {}",
                quote(text.as_bytes(), 40),
                shown_name()
            )
        })?;
        counters.push((name.to_string(), value));
    }
    Ok(TcpExt(counters))
}

/// Reads `<proc_root>/sys/net/ipv4/ip_local_port_range`.
pub fn read_port_range(proc_root: &Path) -> Result<PortRange> {
    let path = proc_root.join("sys/net/ipv4/ip_local_port_range");
    let bytes = read::small(&path, 256, Follow::No)?;
    parse_port_range(&String::from_utf8_lossy(&bytes))
        .with_context(|| format!("reading {}", shown(&path)))
}

pub fn parse_port_range(text: &str) -> Result<PortRange> {
    let mut ports = text.split_whitespace().map(str::parse::<u16>);
    match (ports.next(), ports.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low <= high => Ok(PortRange { low, high }),
        _ => Err(anyhow!(
            "expected two ports, low and high, got \"{}\"",
            quote(text.as_bytes(), 40)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_counters_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TW\n\
                    TcpExt: 0 17 19 1059\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        let c = parse_listen_counters(text, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((c.overflows, c.drops), (17, 19));
        let ext = parse_tcp_ext(text).unwrap();
        assert_eq!(ext.get("TW"), Some(1059));
        assert_eq!(ext.0.len(), 4);
        assert!(parse_listen_counters("IpExt: A\nIpExt: 1\n", SystemTime::UNIX_EPOCH).is_err());
        assert!(
            parse_listen_counters(
                "TcpExt: ListenOverflows\nTcpExt: x\n",
                SystemTime::UNIX_EPOCH
            )
            .is_err()
        );
    }

    #[test]
    fn port_range() {
        let r = parse_port_range("32768\t60999\n").unwrap();
        assert_eq!((r.low, r.high, r.len()), (32768, 60999, 28232));
        assert!(r.contains(40000) && !r.contains(8080));
        assert!(parse_port_range("60999 32768").is_err());
        assert!(parse_port_range("nope").is_err());
    }
}
