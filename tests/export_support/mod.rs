//! What the `sockscope export` tests share: a network namespace of their own, the
//! exporter (and Prometheus) run in it, and a plain HTTP/1.0 client for the test thread,
//! which enters the namespace to reach them on its loopback.
#![allow(dead_code)] // each test file uses its own part

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A test that cannot run says so: it fails under CI (which installs everything) and
/// is skipped visibly elsewhere. Returns so the caller can `return`.
pub fn cannot_run(reason: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("cannot run under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// A network namespace made for one test, deleted on drop with anything left in it.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(tag: &str) -> Result<Netns, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sockscope-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// `ip netns exec NAME program`: a command run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Moves the calling thread into the namespace: the sockets it opens from now on
    /// are there (a Rust test runs on a thread of its own).
    pub fn enter(&self) {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("open netns");
        rustix::thread::move_into_link_name_space(
            file.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the test's namespace");
    }

    /// `ss -Htan` in the namespace: TCP sockets by state label (`established`, ...).
    pub fn tcp_states(&self) -> std::collections::BTreeMap<String, u64> {
        let out = self.command("ss").arg("-Htan").output().expect("run ss");
        assert!(out.status.success(), "ss -Htan failed");
        let mut counts = std::collections::BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(state) = line.split_whitespace().next() {
                *counts.entry(ss_state_label(state)).or_default() += 1;
            }
        }
        counts
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only what runs in our own namespace: all of it was started by this test
        // (`ip` itself may be listed: it starts from a thread in the namespace).
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill")
                    .args(["-KILL", pid])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// ss's state names as sockscope's `state` label writes them.
pub fn ss_state_label(ss: &str) -> String {
    match ss {
        "ESTAB" => "established".into(),
        "UNCONN" => "close".into(), // a TCP socket in TCP_CLOSE
        "FIN-WAIT-1" => "fin_wait1".into(),
        "FIN-WAIT-2" => "fin_wait2".into(),
        other => other.to_ascii_lowercase().replace('-', "_"),
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A child killed (and reaped) on drop, with its stderr kept for failure messages.
pub struct Running {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// Starts `sockscope export ARGS` in `ns` and waits (up to 20 s) for it to say where
/// it serves.
pub fn start_export(ns: &Netns, args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_sockscope"));
    cmd.arg("export").args(args);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockscope export");
    let (running, first_lines) = keep_stderr(child);
    let line = first_lines
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("export did not start: {}", running.stderr()));
    let addr = line
        .strip_prefix("sockscope: serving http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected first line from export: {line:?}"))
        .parse()
        .expect("a socket address");
    (running, addr)
}

/// Drains the child's stderr on a thread (so it never blocks on a full pipe), keeping
/// it all; the first line is also sent on the channel.
pub fn keep_stderr(mut child: Child) -> (Running, mpsc::Receiver<String>) {
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    if let Some(pipe) = child.stderr.take() {
        let kept = stderr.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
    }
    (Running { child, stderr }, rx)
}

/// An HTTP reply, as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A connection that closes with a reset: no TIME_WAIT left behind to change the
/// namespace's counts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// `GET path` as HTTP/1.0 (so the reply ends when the server closes), with headers.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).expect("send request");
    read_reply(&mut stream).expect("read reply")
}

pub fn read_reply(stream: &mut TcpStream) -> io::Result<Reply> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// Calls `f` every 250 ms until it gives a value, for at most `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(250));
    }
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
