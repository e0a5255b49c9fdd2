//! Network namespaces: which exist (every one a process is in, plus the named ones
//! under /run/netns that no process holds), what their inodes are, and their names.
//!
//! A namespace is known by the inode of its nsfs file: `/proc/<pid>/ns/net` links to
//! `net:[INODE]`, and a `/run/netns/NAME` bind mount has that inode when stat'ed.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};

use super::owners::list_pids;
use super::read::shown;
use crate::model::Netns;

/// Where `ip netns add` mounts named namespaces.
pub const NAMED_DIR: &str = "/run/netns";

/// A namespace to read: the file to enter it by, and a process in it, whose
/// /proc/<pid>/net is the fallback when it cannot be entered.
#[derive(Clone, Debug)]
pub struct Place {
    pub netns: Arc<Netns>,
    pub ns_file: PathBuf,
    pub pid: Option<u32>,
}

/// The inode in a namespace link's text, "net:[4026531840]".
pub fn link_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The inode of the namespace that the link `ns_link` (…/ns/net) points at.
pub fn inode_at(ns_link: &Path) -> Option<u64> {
    link_inode(fs::read_link(ns_link).ok()?.as_os_str().as_bytes())
}

/// The namespace we read our own tables in: that of `proc_root`'s `self`. 0 when it
/// is unknown (a captured tree without `self`).
pub fn own_inode(proc_root: &Path) -> u64 {
    inode_at(&proc_root.join("self/ns/net")).unwrap_or(0)
}

/// A file to enter the namespace `netns` by: its /run/netns name, else the ns link
/// of one of `pids` that is in it (checked, so a pid reused since the snapshot is not
/// taken for it). None when neither is there any more.
pub fn file_of(
    proc_root: &Path,
    netns: &Netns,
    pids: impl Iterator<Item = u32>,
) -> Option<PathBuf> {
    if let Some(name) = &netns.name {
        let named = Path::new(NAMED_DIR).join(name);
        if inode_at_file(&named) == Some(netns.inode) {
            return Some(named);
        }
    }
    pids.map(|pid| proc_root.join(pid.to_string()).join("ns/net"))
        .find(|link| inode_at(link) == Some(netns.inode))
}

/// The inode of a namespace file itself (a /run/netns bind mount is the namespace).
fn inode_at_file(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

/// Named namespaces by inode. Only the running system has them; a captured tree none.
pub fn names(live: bool) -> HashMap<u64, String> {
    let mut found = HashMap::new();
    if !live {
        return found;
    }
    let Ok(dir) = fs::read_dir(NAMED_DIR) else {
        return found;
    };
    for entry in dir.flatten() {
        if let Ok(meta) = fs::metadata(entry.path()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Two names for one namespace: the first in name order, so it is stable.
            let slot = found.entry(meta.ino()).or_insert_with(|| name.clone());
            if name < *slot {
                *slot = name;
            }
        }
    }
    found
}

/// Every network namespace: one place per distinct inode that a process under
/// `proc_root` is in (the lowest pid in it), then the named ones no process is in.
/// Ours first, the rest by inode.
pub fn all(proc_root: &Path, live: bool) -> Vec<Place> {
    let names = names(live);
    let mut by_inode: HashMap<u64, u32> = HashMap::new();
    for pid in list_pids(proc_root) {
        if let Some(inode) = inode_at(&proc_root.join(pid.to_string()).join("ns/net")) {
            let slot = by_inode.entry(inode).or_insert(pid);
            *slot = (*slot).min(pid);
        }
    }
    let mut places: Vec<Place> = by_inode
        .iter()
        .map(|(&inode, &pid)| Place {
            netns: Arc::new(Netns {
                inode,
                name: names.get(&inode).cloned(),
            }),
            ns_file: proc_root.join(pid.to_string()).join("ns/net"),
            pid: Some(pid),
        })
        .collect();
    for (&inode, name) in &names {
        if !by_inode.contains_key(&inode) {
            places.push(Place {
                netns: Arc::new(Netns {
                    inode,
                    name: Some(name.clone()),
                }),
                ns_file: Path::new(NAMED_DIR).join(name),
                pid: None,
            });
        }
    }
    let own = own_inode(proc_root);
    places.sort_by_key(|p| (p.netns.inode != own, p.netns.inode));
    places
}

/// The namespace `--netns` names: a pid's, or a name under /run/netns.
pub fn select(proc_root: &Path, live: bool, target: &str) -> Result<Place> {
    if let Ok(pid) = target.parse::<u32>() {
        let link = proc_root.join(pid.to_string()).join("ns/net");
        if !proc_root.join(pid.to_string()).is_dir() {
            bail!("--netns {pid}: no process with pid {pid}");
        }
        let Some(inode) = inode_at(&link) else {
            bail!("--netns {pid}: cannot read which network namespace pid {pid} is in");
        };
        return Ok(Place {
            netns: Arc::new(Netns {
                inode,
                name: names(live).remove(&inode),
            }),
            ns_file: link,
            pid: Some(pid),
        });
    }
    check_name(target)?;
    if !live {
        bail!(
            "--netns {target}: named namespaces exist only on the running system, not in a --proc-root tree"
        );
    }
    let ns_file = Path::new(NAMED_DIR).join(target);
    let inode = match fs::metadata(&ns_file) {
        Ok(meta) => meta.ino(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--netns {target}: no network namespace of that name in {NAMED_DIR}")
        }
        Err(e) => bail!("--netns {target}: {}: {e}", shown(&ns_file)),
    };
    // A process in it, for the /proc fallback; the lowest pid, as `all` picks.
    let pid = list_pids(proc_root)
        .into_iter()
        .filter(|pid| inode_at(&proc_root.join(pid.to_string()).join("ns/net")) == Some(inode))
        .min();
    Ok(Place {
        netns: Arc::new(Netns {
            inode,
            name: Some(target.to_string()),
        }),
        ns_file,
        pid,
    })
}

/// A name as `ip netns` makes them: one path component, nothing that leaves the dir.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        bail!(
            "--netns {}: not a namespace name (a name under {NAMED_DIR}) nor a pid",
            crate::text::Escaped(name.as_bytes())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_text_gives_the_inode() {
        assert_eq!(link_inode(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(link_inode(b"net:[]"), None);
        assert_eq!(link_inode(b"mnt:[4026531840]"), None);
        assert_eq!(link_inode(b"net:[12"), None);
    }

    #[test]
    fn names_stay_in_the_directory() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("blue-1").is_ok());
    }

    #[test]
    fn a_fixture_tree_lists_its_processes_namespaces() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc"));
        let places = all(root, false);
        assert!(!places.is_empty());
        let inodes: Vec<u64> = places.iter().map(|p| p.netns.inode).collect();
        let mut unique = inodes.clone();
        unique.dedup();
        assert_eq!(inodes, unique);
        assert!(
            places
                .iter()
                .all(|p| p.pid.is_some() && p.netns.name.is_none())
        );
    }
}
