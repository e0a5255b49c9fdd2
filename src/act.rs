//! Acting on what is seen: signalling the processes that hold sockets (`sockscope kill`,
//! `K` in the live view) and destroying TCP sockets in the kernel (`sockscope close`,
//! `X`), as `ss -K` does. The CLI and the live view share everything here: who the
//! targets are, the rules that refuse some, performing them, and the words for results.
//!
//! The rules hold whatever privileges the binary has (setcap, setuid), so they need no
//! detection of raised privileges: act only as the invoking (real) user may. A process
//! is signalled only when its real and effective uid are the caller's real uid, a
//! socket closed only when its uid is the caller's real uid, unless that is 0 (root).
//! pid 1 and sockscope itself are never signalled. `--read-only` or
//! SOCKSCOPE_READ_ONLY turns every action off, and so does a source that is not the
//! running system (a `--proc-root` tree, a recording).

pub mod command;
mod perform;
mod target;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::Socket;

pub use command::Verb;
pub use perform::{Destroyers, close, signal};
pub use target::{ProcessTarget, describe_socket, endpoints, holders, processes_of};

/// The environment variable that turns actions off like `--read-only`; any value
/// but empty, `0`, `false` or `no`.
pub const READ_ONLY_ENV: &str = "SOCKSCOPE_READ_ONLY";

static READ_ONLY: AtomicBool = AtomicBool::new(false);

/// `--read-only`: from now on, in this process, no action runs.
pub fn set_read_only() {
    READ_ONLY.store(true, Ordering::SeqCst);
}

/// Why actions are off, or None when they may run. `live`: the sockets come from the
/// running system (not a captured tree or a recording).
pub fn off(live: bool) -> Option<String> {
    let env = std::env::var(READ_ONLY_ENV).unwrap_or_default();
    if READ_ONLY.load(Ordering::SeqCst) {
        Some("actions are off (--read-only)".into())
    } else if !matches!(env.trim(), "" | "0" | "false" | "no") {
        Some(format!("actions are off ({READ_ONLY_ENV} is set)"))
    } else if !live {
        Some("actions are off: these sockets are not the running system's".into())
    } else {
        None
    }
}

/// Who asks: the real uid (not the effective one a setuid or setcap binary gets) and
/// our own pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub pid: u32,
}

impl Caller {
    pub fn current() -> Caller {
        Caller {
            uid: rustix::process::getuid().as_raw(),
            pid: std::process::id(),
        }
    }

    /// May this caller signal a process with these uids?
    fn may_signal(&self, real_uid: u32, effective_uid: u32) -> bool {
        self.uid == 0 || (real_uid == self.uid && effective_uid == self.uid)
    }

    /// Why a process may not be signalled, judged from the snapshot (`uid` is the
    /// owner's as the fd walk saw it). Performing checks the live uids again.
    pub fn refuses_signal(&self, pid: u32, uid: u32) -> Option<String> {
        if pid == 1 {
            Some("pid 1 is never signalled".into())
        } else if pid == self.pid {
            Some("that is sockscope itself".into())
        } else if !self.may_signal(uid, uid) {
            Some(not_yours("process", uid, self.uid))
        } else {
            None
        }
    }

    /// Why a socket may not be closed: not TCP, no kernel id to name it by (read from
    /// /proc, or from another network namespace), or another user's.
    pub fn refuses_close(&self, socket: &Socket) -> Option<String> {
        if let Some(why) = unclosable(socket) {
            Some(why)
        } else if self.uid != 0 && socket.uid != self.uid {
            Some(not_yours("socket", socket.uid, self.uid))
        } else {
            None
        }
    }
}

/// Why no one can close `socket`: it is not TCP, or has no kernel id to name it by
/// (read from /proc: another network namespace, or `--source proc`).
pub fn unclosable(socket: &Socket) -> Option<String> {
    if socket.proto != crate::model::Proto::Tcp {
        Some(format!(
            "only TCP connections can be closed; this is {}",
            socket.proto_text()
        ))
    } else if socket.diag_id.is_none() {
        Some(
            "no kernel socket id for it (it was read from /proc: another network \
             namespace, or --source proc); close needs netlink sock_diag"
                .into(),
        )
    } else {
        None
    }
}

fn not_yours(what: &str, theirs: u32, yours: u32) -> String {
    format!(
        "the {what} belongs to uid {theirs}; as uid {yours} you may act only on your own (or run as root)"
    )
}

/// The signals `--signal` takes, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Hup,
    Int,
    Quit,
    Usr1,
    Usr2,
    Stop,
    Cont,
}

impl Signal {
    const ALL: [Signal; 9] = [
        Signal::Term,
        Signal::Kill,
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Stop,
        Signal::Cont,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
            Signal::Stop => "SIGSTOP",
            Signal::Cont => "SIGCONT",
        }
    }

    pub fn number(self) -> i32 {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Hup => libc::SIGHUP,
            Signal::Int => libc::SIGINT,
            Signal::Quit => libc::SIGQUIT,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
        }
    }

    /// `TERM`, `SIGTERM`, `term` or `15`.
    pub fn parse(text: &str) -> Result<Signal, String> {
        let upper = text.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        Signal::ALL
            .into_iter()
            .find(|s| s.name()[3..] == *name || s.number().to_string() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Signal::ALL.iter().map(|s| &s.name()[3..]).collect();
                format!(
                    "unknown signal '{text}': expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// How one action ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Nothing left to do: the process exited, or the socket is already closed.
    Gone(String),
    /// Not attempted: one of the rules above says no.
    Refused(String),
    /// Attempted, and the system said no.
    Failed(String),
}

impl Outcome {
    /// Done or gone: what was asked for holds now.
    pub fn ok(&self) -> bool {
        matches!(self, Outcome::Done | Outcome::Gone(_))
    }

    /// In a word: "done", "already gone", "refused", "failed".
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Gone(_) => "already gone",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }

    /// "done", or why not.
    pub fn text(&self) -> &str {
        match self {
            Outcome::Done => "done",
            Outcome::Gone(why) | Outcome::Refused(why) | Outcome::Failed(why) => why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DiagId, Family, Proto, TcpState};
    use std::num::NonZeroU64;

    fn caller(uid: u32) -> Caller {
        Caller { uid, pid: 4000 }
    }

    #[test]
    fn signals_by_any_name() {
        for text in ["TERM", "sigterm", "SIGTERM", "15", " term "] {
            assert_eq!(Signal::parse(text), Ok(Signal::Term), "{text}");
        }
        assert_eq!(Signal::parse("kill"), Ok(Signal::Kill));
        assert_eq!(Signal::parse("9"), Ok(Signal::Kill));
        let err = Signal::parse("SIGWHAT").unwrap_err();
        assert!(
            err.contains("unknown signal 'SIGWHAT'") && err.contains("TERM"),
            "{err}"
        );
    }

    #[test]
    fn never_init_nor_ourselves_nor_another_users() {
        assert!(caller(0).refuses_signal(1, 0).unwrap().contains("pid 1"));
        assert!(
            caller(0)
                .refuses_signal(4000, 0)
                .unwrap()
                .contains("itself")
        );
        assert_eq!(caller(0).refuses_signal(77, 1000), None);
        assert_eq!(caller(1000).refuses_signal(77, 1000), None);
        let other = caller(1000).refuses_signal(77, 0).unwrap();
        assert!(
            other.contains("uid 0") && other.contains("uid 1000"),
            "{other}"
        );
        // Both uids must be the caller's: a setuid program run by them is not theirs.
        assert!(!caller(1000).may_signal(1000, 0));
        assert!(caller(0).may_signal(5, 6));
    }

    fn tcp(uid: u32, diag: bool) -> Socket {
        Socket {
            uid,
            diag_id: diag.then_some(DiagId {
                cookie: NonZeroU64::new(7).unwrap(),
                interface: 0,
            }),
            ..Socket::inet(
                Proto::Tcp,
                Family::Ipv4,
                TcpState::Established,
                "127.0.0.1:5000".parse().unwrap(),
                "127.0.0.1:80".parse().unwrap(),
            )
        }
    }

    #[test]
    fn close_needs_tcp_a_kernel_id_and_the_owner() {
        assert_eq!(caller(0).refuses_close(&tcp(1000, true)), None);
        assert_eq!(caller(1000).refuses_close(&tcp(1000, true)), None);
        assert!(
            caller(1000)
                .refuses_close(&tcp(0, true))
                .unwrap()
                .contains("uid 0")
        );
        assert!(
            caller(0)
                .refuses_close(&tcp(0, false))
                .unwrap()
                .contains("no kernel socket id")
        );
        let udp = Socket {
            proto: Proto::Udp,
            ..tcp(0, true)
        };
        assert!(caller(0).refuses_close(&udp).unwrap().contains("only TCP"));
    }

    #[test]
    fn read_only_by_flag_environment_or_source() {
        // The flag and the environment are process-wide; only the source varies here.
        if std::env::var_os(READ_ONLY_ENV).is_none() && !READ_ONLY.load(Ordering::SeqCst) {
            assert_eq!(off(true), None);
            assert!(off(false).unwrap().contains("not the running system"));
        }
    }
}
