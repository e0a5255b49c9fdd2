//! The rules. Each is one `Rule` in `RULES`, in a file of its own under rules/, with
//! everything about it there: what it checks, the kinds of finding it makes with their
//! labels and advice, and the check itself. A new rule is a file and a line in `RULES`.

mod close_wait;
mod listen;
mod queues;
mod syn_sent;
mod time_wait;

use std::collections::BTreeMap;
use std::time::Duration;

use super::{DiagnoseConfig, Finding, KernelFacts, Kind};
use crate::model::{Proto, TcpState};
use crate::track::{History, Tracker};

/// One rule of diagnosis.
pub struct Rule {
    /// What it looks at, in a few words: the live view's "checked:" line lists them.
    pub checks: &'static str,
    /// The kinds of finding it makes (a few when one pass judges them together).
    pub kinds: &'static [KindText],
    /// Adds its findings to the list.
    pub check: fn(&Tracker, &KernelFacts, &DiagnoseConfig, &mut Vec<Finding>),
}

/// What a kind of finding is called and what it says.
pub struct KindText {
    pub kind: Kind,
    /// The short tag the text output and the TUI show.
    pub label: &'static str,
    /// What it usually means. For a state that lasts, the state's own words
    /// (`crate::states`), so the live view's state pane and doctor say the same.
    pub meaning: &'static str,
    /// What to check next.
    pub next_steps: &'static str,
}

/// Every rule, in the order they run (findings are sorted afterwards).
pub const RULES: [&Rule; 6] = [
    &close_wait::RULE,
    &time_wait::RULE,
    &listen::RULE,
    &syn_sent::RULE,
    &queues::RECV_Q,
    &queues::SEND_Q,
];

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn tcp_in(tracker: &Tracker, state: TcpState) -> impl Iterator<Item = &History> + '_ {
    tracker.live_in(Proto::Tcp, state)
}

/// By first owner's pid (None: no visible process), so each finding names one process.
fn by_owner<'a>(
    sockets: impl Iterator<Item = &'a History>,
) -> BTreeMap<Option<u32>, Vec<&'a History>> {
    let mut groups: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for h in sockets {
        groups
            .entry(h.socket().processes.first().map(|o| o.pid))
            .or_default()
            .push(h);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_made_by_one_rule() {
        use Kind::*;
        let kinds = [
            CloseWait,
            TimeWaitExhaustion,
            AcceptQueue,
            ListenOverflows,
            SynSent,
            RecvQ,
            SendQ,
        ];
        let made: Vec<Kind> = RULES.iter().flat_map(|r| r.kinds).map(|k| k.kind).collect();
        assert_eq!(made.len(), kinds.len(), "{made:?}");
        for kind in kinds {
            assert_eq!(made.iter().filter(|k| **k == kind).count(), 1, "{kind:?}");
            assert!(!kind.label().is_empty());
        }
    }
}
