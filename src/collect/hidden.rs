//! What a snapshot says about owners it could not see, saying what is really the
//! case: fd directories we may not read (and whether root could), a /proc mounted to
//! hide other users' processes, or, for `--pid`, that the process itself is unreadable.
//! Sockets that simply have no process (in flight, kept by the kernel) are not hidden.

use std::path::Path;

use super::read::shown;
use super::{HIDDEN_OWNERS_HINT, Scope, owners, privilege};

/// The warning, if any; `hidden` counts sockets with an inode and no owner, `denied`
/// the processes whose fds could not be read.
pub(super) fn owners_warning(
    scope: &Scope,
    proc_root: &Path,
    hidden: usize,
    denied: &[u32],
) -> Option<String> {
    let as_root = privilege::reads_all_fds();
    let why_root = "a security module or a container's limits";
    if let Scope::Pids(wanted) = scope {
        // Nothing at all is listed for a process whose fds are unreadable: say so.
        let unreadable: Vec<u32> = wanted
            .iter()
            .copied()
            .filter(|p| denied.contains(p))
            .collect();
        if !unreadable.is_empty() {
            let why = if as_root {
                format!("even with root's privileges ({why_root})")
            } else {
                HIDDEN_OWNERS_HINT.to_string()
            };
            return Some(format!(
                "the fds of pid {} are unreadable, so no socket of theirs can be listed: {why}",
                pid_list(&unreadable)
            ));
        }
    }
    if hidden == 0 {
        return None;
    }
    let sockets = count(hidden, "socket");
    if !denied.is_empty() {
        let processes = count(denied.len(), "process");
        if as_root {
            return Some(format!(
                "owners of {sockets} are hidden or absent: the fds of {processes} (pid {}) \
                 are unreadable even with root's privileges ({why_root}); the others have \
                 no process",
                pid_list(denied)
            ));
        }
        return Some(format!(
            "owners of {sockets} are hidden: the fds of {processes} are unreadable; \
             {HIDDEN_OWNERS_HINT}"
        ));
    }
    let option = owners::hiding_mount(proc_root)?;
    Some(format!(
        "owners of {sockets} are hidden: {} is mounted with {option}, which hides other \
         users' processes; {HIDDEN_OWNERS_HINT}",
        shown(proc_root)
    ))
}

/// "1 socket", "3 processes".
fn count(n: usize, what: &str) -> String {
    match (n, what) {
        (1, _) => format!("1 {what}"),
        (_, "process") => format!("{n} processes"),
        _ => format!("{n} {what}s"),
    }
}

/// At most five pids, then "...".
fn pid_list(pids: &[u32]) -> String {
    let mut text: Vec<String> = pids.iter().take(5).map(u32::to_string).collect();
    if pids.len() > 5 {
        text.push("...".into());
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_pid_lists() {
        assert_eq!(count(1, "socket"), "1 socket");
        assert_eq!(count(2, "process"), "2 processes");
        assert_eq!(pid_list(&[1, 2, 3, 4, 5, 6]), "1, 2, 3, 4, 5, ...");
    }

    #[test]
    fn sockets_without_any_process_are_not_hidden() {
        let root = Path::new("/nonexistent-tree");
        assert_eq!(owners_warning(&Scope::Host, root, 0, &[1]), None);
        assert_eq!(owners_warning(&Scope::Host, root, 3, &[]), None);
        let said = owners_warning(&Scope::Host, root, 3, &[7]).unwrap();
        assert!(said.starts_with("owners of 3 sockets are hidden"), "{said}");
        let said = owners_warning(&Scope::Pids(vec![7]), root, 0, &[7]).unwrap();
        assert!(
            said.starts_with("the fds of pid 7 are unreadable"),
            "{said}"
        );
    }
}
