//! What keeps other tests' sockets out of a test's measurements: a network namespace of
//! its own, or, for a test whose own process holds the sockets it looks at, a loopback
//! address of its own.

use std::ffi::OsStr;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::need::{self, Need};

const PREFIX: &str = "sockscope-test-";
const NETNS_DIR: &str = "/run/netns";

/// A network namespace made for one test (`ip netns add sockscope-test-<pid>-<n>`, its
/// loopback up), deleted on drop. Only what the test starts inside is in it, so nothing
/// else on the host (other tests, other runs, their TIME_WAITs) reaches what it measures.
///
/// Making one needs root and `ip`. Without them: under CI the test fails; elsewhere it
/// says once that it runs in the host namespace, and `command`/`enter` do nothing more.
pub struct Netns {
    name: Option<String>,
}

impl Netns {
    pub fn new() -> Netns {
        if ![Need::Root, Need::Ip].iter().all(|n| need::met_quietly(*n)) {
            let test = need::test_name();
            assert!(
                !need::in_ci(),
                "{test}: a network namespace of its own needs root and ip (CI=true)"
            );
            need::say(&format!(
                "NOTE: {test}: no network namespace of its own (needs root and ip): runs in \
                 the host's, where other tests' sockets may reach it"
            ));
            return Netns { name: None };
        }
        remove_stale();
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let netns = Netns { name: Some(name) };
        let name = netns.name();
        ip(&["-n", name, "link", "set", "lo", "up"]);
        netns
    }

    /// False for the stand-in (not root, outside CI): everything is in the host's.
    pub fn is_own(&self) -> bool {
        self.name.is_some()
    }

    /// The namespace's name (as `ip netns` knows it); "" for the host stand-in.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// `program` to be run inside the namespace (`ip netns exec NAME program`, which
    /// execs it: the child's pid is the program's).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.name {
            Some(name) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", name]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// The same as a shell command prefix, for scripts (tmux).
    pub fn shell_prefix(&self) -> String {
        match &self.name {
            Some(name) => format!("ip netns exec {name} "),
            None => String::new(),
        }
    }

    /// Moves the calling thread into the namespace until the guard drops: sockets it
    /// (and threads it starts) opens meanwhile are inside. Processes see them there,
    /// not under `--pid <this process>` (that is the main thread's namespace).
    pub fn enter(&self) -> Entered {
        let Some(name) = &self.name else {
            return Entered { back: None };
        };
        let back = File::open("/proc/thread-self/ns/net").expect("this thread's namespace");
        let ns = File::open(format!("{NETNS_DIR}/{name}")).expect("the test's namespace");
        move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
            .expect("setns into the test's namespace");
        Entered { back: Some(back) }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            let _ = Command::new("ip")
                .args(["netns", "delete", name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The calling thread is inside a test's namespace until this drops.
pub struct Entered {
    back: Option<File>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Some(back) = &self.back {
            let _ = move_into_link_name_space(back.as_fd(), Some(LinkNameSpaceType::Network));
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes namespaces that killed test runs left behind (their pid is gone).
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten().take(10_000) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["netns", "delete", &name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A loopback address of this test's own, 127.a.b.c with a >= 200: nothing else on the
/// host uses it while this is held, so any socket on it is the test's. Claimed with an
/// abstract unix socket named after it (released on drop, even on a crash); chosen from
/// the pid and a counter so that a run shortly after (whose TIME_WAITs outlive it) picks
/// another.
pub struct OwnAddr {
    pub ip: Ipv4Addr,
    _claim: UnixListener,
}

impl OwnAddr {
    pub fn new() -> OwnAddr {
        static N: AtomicUsize = AtomicUsize::new(0);
        let pid = std::process::id() as usize;
        for _ in 0..1000 {
            let n = N.fetch_add(1, Ordering::Relaxed);
            // 54 * 256 * 252 addresses; consecutive pids and counters land apart.
            let h = (pid.wrapping_mul(2_654_435_761) ^ n.wrapping_mul(40_503)) % (54 * 256 * 252);
            let ip = Ipv4Addr::new(
                127,
                200 + (h % 54) as u8,
                (h / 54 % 256) as u8,
                3 + (h / 54 / 256) as u8,
            );
            let name = format!("{PREFIX}addr-{ip}");
            let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
            if let Ok(claim) = UnixListener::bind_addr(&addr) {
                return OwnAddr { ip, _claim: claim };
            }
        }
        panic!("no free loopback address in 1000 tries");
    }

    /// This address with port 0 (any free port), to bind.
    pub fn any_port(&self) -> SocketAddr {
        SocketAddr::from((self.ip, 0))
    }

    pub fn text(&self) -> String {
        self.ip.to_string()
    }
}
