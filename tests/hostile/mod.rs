//! A hostile local process for the hardening tests: the test binary runs itself again
//! as a child (`Child::start`) that binds unix sockets with the names it is given,
//! renames itself, and holds a CLOSE_WAIT connection, so sockscope meets what an
//! attacker can really put in the kernel's tables. It lives until its stdin closes.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the child does; passed in environment variables.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// Unix stream listeners to bind: a leading NUL makes the name abstract.
    pub names: Vec<Vec<u8>>,
    /// What to call itself (/proc/<pid>/comm; the kernel keeps 15 bytes).
    pub comm: Option<Vec<u8>>,
    /// Hold a connection in CLOSE_WAIT on this loopback address (port 0: any).
    pub close_wait_on: Option<String>,
}

/// The running child; stopped (stdin closed, then killed) on drop.
pub struct Child {
    pub process: std::process::Child,
    /// The CLOSE_WAIT server side's local address, when asked for.
    pub close_wait: Option<String>,
}

const ENV: &str = "SOCKSCOPE_HOSTILE_CHILD";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

impl Child {
    /// Starts the child through the test binary's `entry_test` (the `#[test]` that
    /// calls `entry()`), and waits until its sockets are in place.
    pub fn start(entry_test: &str, spec: &Spec) -> Child {
        Child::start_in(&[], entry_test, spec)
    }

    /// Like `start`, run through `wrapper` (e.g. `ip netns exec NAME`), which must
    /// exec the child (so its pid is the child's).
    pub fn start_in(wrapper: &[&str], entry_test: &str, spec: &Spec) -> Child {
        let names: Vec<String> = spec.names.iter().map(|n| hex(n)).collect();
        let exe = std::env::current_exe().unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let mut process = command
            .args(["--exact", entry_test, "--nocapture", "--test-threads", "1"])
            .env(ENV, "1")
            .env("HOSTILE_NAMES", names.join(","))
            .env(
                "HOSTILE_COMM",
                spec.comm.as_deref().map(hex).unwrap_or_default(),
            )
            .env(
                "HOSTILE_CLOSE_WAIT",
                spec.close_wait_on.clone().unwrap_or_default(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the hostile child");
        let stdout = process.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut close_wait = None;
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the hostile child says ready within 30 s");
            // libtest may print "test NAME ... " before our line.
            let Some(at) = line.find("HOSTILE ") else {
                continue;
            };
            let said = &line[at + "HOSTILE ".len()..];
            if let Some(addr) = said.strip_prefix("close-wait ") {
                close_wait = Some(addr.to_string());
            }
            if said == "ready" {
                break;
            }
        }
        Child {
            process,
            close_wait,
        }
    }

    pub fn pid(&self) -> String {
        self.process.id().to_string()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        drop(self.process.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The child's body: does nothing unless run as the child (then never returns).
pub fn entry() {
    if std::env::var_os(ENV).is_none() {
        return;
    }
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    for name in std::env::var("HOSTILE_NAMES")
        .unwrap()
        .split(',')
        .filter(|n| !n.is_empty())
    {
        let name = unhex(name);
        let addr = match name.split_first() {
            Some((0, rest)) => SocketAddr::from_abstract_name(rest).unwrap(),
            _ => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(&name)).unwrap(),
        };
        held.push(Box::new(
            UnixListener::bind_addr(&addr).expect("bind a hostile name"),
        ));
    }
    let close_wait = std::env::var("HOSTILE_CLOSE_WAIT").unwrap();
    if !close_wait.is_empty() {
        let listener = TcpListener::bind(&close_wait).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(client); // the peer closes; we never do: CLOSE_WAIT
        println!("HOSTILE close-wait {}", server.local_addr().unwrap());
        held.push(Box::new(server));
        held.push(Box::new(listener));
    }
    let comm = unhex(&std::env::var("HOSTILE_COMM").unwrap());
    if !comm.is_empty() {
        // The process's name is its main thread's: /proc/self/comm names that one
        // (a thread's own prctl(PR_SET_NAME) would rename only the test thread).
        std::fs::write("/proc/self/comm", &comm).expect("rename the child");
    }
    println!("HOSTILE ready");
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(held);
    std::process::exit(0);
}
