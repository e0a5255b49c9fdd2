//! What a finding says, in the words every text output uses: doctor's text and the
//! live view's diagnostics lay these out, each its own way (plain, or wrapped and
//! coloured). Data from other processes in them is escaped.

use crate::text::owners::Who;
use crate::text::{Escaped, local_text};

use super::{Finding, FindingSocket, Severity};

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl Finding {
    /// "CLOSE_WAIT: 3 sockets held by 901/nginx in CLOSE_WAIT, …" (the summary is
    /// escaped where it is made).
    pub fn headline(&self) -> String {
        format!("{}: {}", self.kind.label(), self.summary)
    }

    /// "901 nginx, 1500 curl", or "no visible process".
    pub fn who(&self) -> String {
        if self.processes.is_empty() {
            return "no visible process".into();
        }
        let who: Vec<String> = self
            .processes
            .iter()
            .map(|p| {
                Who {
                    pid: p.pid,
                    comm: &p.comm,
                    sep: " ",
                }
                .to_string()
            })
            .collect();
        who.join(", ")
    }

    /// Where its sockets are, as the summary says it when several network namespaces
    /// are in view: "container web (pod shop/web-1), netns blue", "netns 4026532000",
    /// "containers web, db, netns 4026532000, 4026532001". None when unknown.
    pub fn place(&self) -> Option<String> {
        let mut parts = Vec::new();
        let pods: Vec<String> = self
            .containers
            .iter()
            .filter_map(|c| c.pod.as_ref())
            .map(|p| p.label())
            .collect();
        let labels: Vec<&str> = self.containers.iter().map(|c| c.label()).collect();
        if !labels.is_empty() {
            let noun = if labels.len() == 1 {
                "container"
            } else {
                "containers"
            };
            let mut text = format!("{noun} {}", Escaped::str(&labels.join(", ")));
            if !pods.is_empty() {
                let noun = if pods.len() == 1 { "pod" } else { "pods" };
                text += &format!(" ({noun} {})", Escaped::str(&pods.join(", ")));
            }
            parts.push(text);
        }
        if !self.netns.is_empty() {
            let names: Vec<String> = self.netns.iter().map(|n| n.label()).collect();
            parts.push(format!("netns {}", Escaped::str(&names.join(", "))));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The sockets involved but not listed.
    pub fn unlisted(&self) -> usize {
        self.socket_count.saturating_sub(self.sockets.len())
    }
}

impl FindingSocket {
    /// "127.0.0.1:8080 -> 127.0.0.1:51300  recv-q 1 send-q 0", with `arrow` between.
    pub fn ends_and_queues(&self, arrow: &str) -> String {
        let s = &self.socket;
        format!(
            "{} {arrow} {}  recv-q {} send-q {}",
            local_text(s),
            s.remote_text(),
            s.recv_q,
            s.send_q
        )
    }

    /// "5.0s": how long it has been in its state.
    pub fn age(&self) -> String {
        format!("{:.1}s", self.state_secs)
    }
}
