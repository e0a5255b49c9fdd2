//! Names from the container runtimes' own state on disk, under a root (`/` on the
//! running system): docker's `config.v2.json`, podman's `containers.json`, kubelet's
//! `/var/log/pods/<namespace>_<name>_<uid>` directories. Read bounded, never followed
//! through a final link; anything missing or malformed leaves the name unknown.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::collect::read::{self, Follow};
use crate::model::{Container, Pod};

/// Docker's config is a few KiB; podman's list grows with its containers.
const DOCKER_MAX: usize = 4 << 20;
const PODMAN_MAX: usize = 32 << 20;
/// Pod log directories looked at, at most.
const PODS_MAX: usize = 100_000;

pub(super) fn name(root: &Path, mut container: Container) -> Container {
    if container.name.is_none() {
        container.name = match container.runtime {
            "docker" => docker(root, &container.id),
            "podman" => podman(root, &container.id),
            _ => None,
        };
    }
    if let Some(pod) = &mut container.pod {
        kubelet(root, pod);
    }
    container
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(rename = "Name")]
    name: Option<String>,
}

/// `"Name": "/web"` in /var/lib/docker/containers/<id>/config.v2.json.
fn docker(root: &Path, id: &str) -> Option<String> {
    let path = root
        .join("var/lib/docker/containers")
        .join(id)
        .join("config.v2.json");
    let bytes = read::small(&path, DOCKER_MAX, Follow::No).ok()?;
    let config: DockerConfig = serde_json::from_slice(&bytes).ok()?;
    let name = config.name?;
    Some(name.strip_prefix('/').unwrap_or(&name).to_string())
}

#[derive(Deserialize)]
struct PodmanEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

/// The first of `names` of the entry with this id in containers/storage's list.
fn podman(root: &Path, id: &str) -> Option<String> {
    let path = root.join("var/lib/containers/storage/overlay-containers/containers.json");
    let bytes = read::small(&path, PODMAN_MAX, Follow::No).ok()?;
    let entries: Vec<PodmanEntry> = serde_json::from_slice(&bytes).ok()?;
    entries
        .into_iter()
        .find(|e| e.id == id)?
        .names
        .into_iter()
        .next()
}

/// Namespace and name from the directory kubelet keeps the pod's logs in.
fn kubelet(root: &Path, pod: &mut Pod) {
    let Ok(dir) = fs::read_dir(root.join("var/log/pods")) else {
        return;
    };
    let suffix = format!("_{}", pod.uid);
    for entry in dir.take(PODS_MAX).flatten() {
        let file_name = entry.file_name();
        let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(&suffix)) else {
            continue;
        };
        // Namespaces and pod names are DNS labels: no '_' in either.
        if let Some((namespace, name)) = stem.split_once('_') {
            pod.namespace = Some(namespace.to_string());
            pod.name = Some(name.to_string());
            return;
        }
    }
}
