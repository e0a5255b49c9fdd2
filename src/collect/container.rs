//! Which container a process runs in: its /proc/<pid>/cgroup path as the runtimes lay
//! cgroups out, then named from the runtime's own state on disk where it is readable
//! (see `state`). Nothing is executed and no daemon is asked.
//!
//! Layouts recognised, in the cgroup v2 `0::` line or any v1 line:
//! `docker-<id>.scope`, `/docker/<id>`, `libpod-<id>[.scope]`, `cri-containerd-<id>.scope`,
//! `crio-<id>.scope`, `kubepods…pod<uid>…` (systemd and cgroupfs drivers),
//! `lxc.payload.<name>`, `/lxc/<name>`, and `machine.slice/systemd-nspawn@<name>.service`
//! or `machine.slice/machine-<name>.scope`.

mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::privilege;
use super::read::{self, Follow};
use crate::model::{Container, Pod};

/// Points the runtime-state lookups (/var/lib/docker, /var/lib/containers,
/// /var/log/pods) under another root, for tests. Refused when privileged.
pub const STATE_ROOT_ENV: &str = "SOCKSCOPE_STATE_ROOT";

/// A cgroup file is a few lines; a longer one is cut, not refused.
const CGROUP_MAX: usize = 64 * 1024;
/// Distinct cgroup files remembered; past it the cache starts over.
const CACHE_MAX: usize = 8192;

/// The container lookups of a source, cached by cgroup file content: processes of
/// one container share one `Container`, and its state files are read once.
pub struct Containers {
    /// Under which the runtimes' state lives; None: ids only (a captured tree).
    state_root: Option<PathBuf>,
    cache: Mutex<HashMap<Vec<u8>, Option<Arc<Container>>>>,
}

impl Containers {
    /// The running system's state under /, a captured tree's under nothing, unless
    /// `SOCKSCOPE_STATE_ROOT` says where (refused with raised privileges).
    pub fn new(live: bool) -> Result<Containers> {
        let state_root = match std::env::var_os(STATE_ROOT_ENV) {
            Some(root) => {
                privilege::allow_chosen_path(STATE_ROOT_ENV)?;
                Some(PathBuf::from(root))
            }
            None => live.then(|| PathBuf::from("/")),
        };
        Ok(Containers {
            state_root,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The container of the process whose /proc directory is `proc_dir`, if any.
    pub fn of(&self, proc_dir: &Path) -> Option<Arc<Container>> {
        let text = read::prefix(&proc_dir.join("cgroup"), CGROUP_MAX, Follow::No).ok()?;
        let lock = || self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = lock().get(&text) {
            return known.clone();
        }
        // Named outside the lock: reading state files may take a while.
        let found = parse(&text).map(|c| Arc::new(self.named(c)));
        let mut cache = lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(text, found.clone());
        found
    }

    fn named(&self, container: Container) -> Container {
        match &self.state_root {
            Some(root) => state::name(root, container),
            None => container,
        }
    }
}

/// The container a /proc/<pid>/cgroup file names: the v2 line's if it names one,
/// else the first v1 line's that does.
pub fn parse(cgroup: &[u8]) -> Option<Container> {
    let text = String::from_utf8_lossy(cgroup);
    let mut v1 = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(hierarchy), Some(_controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let found = from_path(path);
        if hierarchy == "0" && found.is_some() {
            return found;
        }
        if v1.is_none() {
            v1 = found;
        }
    }
    v1
}

/// The container one cgroup path names: its innermost component that names one.
fn from_path(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let kube = parts.iter().any(|p| p.starts_with("kubepods"));
    let pod = parts
        .iter()
        .filter(|_| kube)
        .find_map(|p| pod_uid(p))
        .map(|uid| Pod {
            namespace: None,
            name: None,
            uid,
        });
    let container = |runtime, id: &str, name: Option<&str>| Container {
        runtime,
        id: id.to_string(),
        name: name.map(str::to_string),
        pod: pod.clone(),
    };
    for (i, part) in parts.iter().enumerate().rev() {
        if let Some((runtime, id)) = scoped(part) {
            return Some(container(runtime, id, None));
        }
        let parent = i.checked_sub(1).map(|j| parts[j]);
        if is_id(part) {
            match parent {
                Some("docker") => return Some(container("docker", part, None)),
                // The cgroupfs driver of kubelet names no runtime; containerd is
                // what kubelet runs today.
                _ if pod.is_some() => return Some(container("containerd", part, None)),
                _ => {}
            }
        }
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return Some(container("lxc", name, Some(name)));
        }
        if parent == Some("lxc") {
            return Some(container("lxc", part, Some(part)));
        }
        if parent == Some("machine.slice") {
            let name = part
                .strip_prefix("systemd-nspawn@")
                .and_then(|n| n.strip_suffix(".service"))
                .or_else(|| part.strip_prefix("machine-")?.strip_suffix(".scope"));
            if let Some(name) = name {
                // systemd escapes '-' in unit names as \x2d.
                let name = name.replace("\\x2d", "-");
                return Some(container("systemd-nspawn", &name, Some(&name)));
            }
        }
    }
    None
}

/// `docker-<id>.scope`, `libpod-<id>.scope` (or, cgroupfs, `libpod-<id>`),
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`; never the `-conmon-` monitors.
fn scoped(part: &str) -> Option<(&'static str, &str)> {
    let stem = part.strip_suffix(".scope").unwrap_or(part);
    [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
    ]
    .into_iter()
    .find_map(|(prefix, runtime)| {
        Some((runtime, stem.strip_prefix(prefix).filter(|id| is_id(id))?))
    })
}

/// A full container id: 64 hex digits.
fn is_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The pod uid in `kubepods-besteffort-pod<uid>.slice` (systemd driver, '-' written
/// '_') or `pod<uid>` (cgroupfs driver).
fn pod_uid(part: &str) -> Option<String> {
    let stem = part.strip_suffix(".slice").unwrap_or(part);
    let uid = match stem.strip_prefix("pod") {
        Some(uid) => uid.to_string(),
        None => stem
            .rsplit('-')
            .next()?
            .strip_prefix("pod")?
            .replace('_', "-"),
    };
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

#[cfg(test)]
mod tests;
