//! Whether sockscope runs with more privilege than the user who started it.
//!
//! The README suggests `setcap cap_sys_ptrace,cap_dac_read_search+ep`, and some run it
//! setuid root. Such a binary is started by users who could not read what it can, so
//! it must never read a path they choose (`--proc-root`, and any later option that
//! reads a file): `raised()` says when that is the case, and why, for the refusal.
//!
//! Root starting it is not "raised": root's capabilities are its own.

use std::path::Path;

use rustix::process::{getegid, geteuid, getgid, getuid};
use rustix::thread::{CapabilitySet, capabilities};

use super::read;

/// Why sockscope runs with more privilege than its caller, or None when it does not.
/// Checked each time it is asked (a few syscalls and one small read); callers ask once.
pub fn raised() -> Option<String> {
    let (uid, euid) = (getuid(), geteuid());
    if uid != euid {
        return Some(format!(
            "it runs setuid (real uid {}, effective uid {})",
            uid.as_raw(),
            euid.as_raw()
        ));
    }
    let (gid, egid) = (getgid(), getegid());
    if gid != egid {
        return Some(format!(
            "it runs setgid (real gid {}, effective gid {})",
            gid.as_raw(),
            egid.as_raw()
        ));
    }
    if !uid.is_root() {
        match capabilities(None) {
            Ok(caps) if !(caps.effective | caps.permitted).is_empty() => {
                return Some(format!(
                    "it holds capabilities ({}) its user {} does not have",
                    cap_names(caps.effective | caps.permitted),
                    uid.as_raw()
                ));
            }
            Ok(_) => {}
            Err(e) => return Some(format!("its capabilities cannot be read ({e})")),
        }
    }
    match at_secure() {
        Ok(false) => None,
        Ok(true) => Some("the kernel started it in secure mode (AT_SECURE)".into()),
        // We cannot read our own auxv: assume the worst rather than read a chosen path.
        Err(e) => Some(format!(
            "AT_SECURE cannot be read, so it is assumed ({e:#})"
        )),
    }
}

/// Refuses `option` (one that makes sockscope read a path its user chose: `--proc-root`,
/// and any later one) when sockscope runs with more privilege than its user. Every
/// such option calls this before reading anything.
pub fn allow_chosen_path(option: &str) -> anyhow::Result<()> {
    match raised() {
        None => Ok(()),
        Some(why) => anyhow::bail!(
            "{option} is refused: sockscope runs with more privilege than its user ({why}), \
             and would open any file for them; use an ordinary copy of the binary"
        ),
    }
}

/// Whether this process may read every process's fd directory: root's, or granted the
/// two capabilities the README names. Decides what a hidden owner means.
pub fn reads_all_fds() -> bool {
    capabilities(None).is_ok_and(|caps| {
        caps.effective
            .contains(CapabilitySet::SYS_PTRACE | CapabilitySet::DAC_READ_SEARCH)
    })
}

/// `AT_SECURE` from our auxiliary vector: set by the kernel for setuid/setgid and
/// file-capability executions, and by an LSM that asks for it (e.g. an SELinux
/// domain transition), whatever the ids say now.
fn at_secure() -> anyhow::Result<bool> {
    const AT_NULL: u64 = 0;
    const AT_SECURE: u64 = 23;
    let auxv = read::small(Path::new("/proc/self/auxv"), 4096, read::Follow::No)?;
    let word = size_of::<usize>();
    for pair in auxv.chunks_exact(2 * word) {
        let value = |at: usize| -> u64 {
            let mut bytes = [0u8; 8];
            bytes[..word].copy_from_slice(&pair[at..at + word]);
            u64::from_ne_bytes(bytes)
        };
        match value(0) {
            AT_NULL => break,
            AT_SECURE => return Ok(value(word) != 0),
            _ => {}
        }
    }
    Ok(false)
}

/// "cap_sys_ptrace, cap_dac_read_search" for the two the README grants; other
/// capabilities by number, so the message stays short but exact.
fn cap_names(caps: CapabilitySet) -> String {
    let known = [
        (CapabilitySet::SYS_PTRACE, "cap_sys_ptrace"),
        (CapabilitySet::DAC_READ_SEARCH, "cap_dac_read_search"),
        (CapabilitySet::DAC_OVERRIDE, "cap_dac_override"),
        (CapabilitySet::SYS_ADMIN, "cap_sys_admin"),
        (CapabilitySet::NET_ADMIN, "cap_net_admin"),
    ];
    let mut names: Vec<String> = Vec::new();
    let mut rest = caps;
    for (cap, name) in known {
        if caps.contains(cap) {
            names.push(name.into());
            rest.remove(cap);
        }
    }
    for bit in 0..64 {
        if rest.bits() & (1 << bit) != 0 {
            names.push(format!("cap {bit}"));
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_capabilities_and_numbers_the_rest() {
        let caps = CapabilitySet::SYS_PTRACE | CapabilitySet::DAC_READ_SEARCH | CapabilitySet::BPF;
        assert_eq!(
            cap_names(caps),
            "cap_sys_ptrace, cap_dac_read_search, cap 39"
        );
    }

    #[test]
    fn auxv_is_readable_here() {
        // The test binary is neither setuid nor capable: its auxv says so.
        assert!(at_secure().is_ok());
    }
}
