//! Who holds a socket: the processes, the containers they run in, the network
//! namespace the socket lives in.

use std::sync::Arc;

/// One process holding a socket through one of its file descriptors.
/// `comm` and `user` are shared between all sockets of a process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub pid: u32,
    pub fd: u32,
    pub comm: Arc<str>,
    pub uid: u32,
    pub user: Arc<str>,
    /// The container the process runs in, from its cgroup; shared by its sockets.
    pub container: Option<Arc<Container>>,
}

/// A container as its cgroup and the runtime's state on disk name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Container {
    /// "docker", "podman", "containerd", "cri-o", "lxc" or "systemd-nspawn".
    pub runtime: &'static str,
    /// The full id (for lxc and systemd-nspawn, which have none, the name).
    pub id: String,
    pub name: Option<String>,
    pub pod: Option<Pod>,
}

/// A Kubernetes pod, from the kubepods cgroup (uid) and kubelet's log directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Pod {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub uid: String,
}

impl Container {
    /// Every runtime a container may be of (`runtime`).
    pub const RUNTIMES: [&'static str; 6] = [
        "docker",
        "podman",
        "containerd",
        "cri-o",
        "lxc",
        "systemd-nspawn",
    ];

    /// The name if known, else the id cut to 12 characters as docker shows it.
    pub fn label(&self) -> &str {
        match &self.name {
            Some(name) => name,
            None => self.id.get(..12).unwrap_or(&self.id),
        }
    }
}

impl Pod {
    /// "shop/cart-5f7" (namespace/name), else the name, else "uid <uid>".
    pub fn label(&self) -> String {
        match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(name)) => name.clone(),
            _ => format!("uid {}", self.uid),
        }
    }
}

/// A network namespace: its nsfs inode (what /proc/<pid>/ns/net points at) and the
/// name it has under /run/netns, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Netns {
    pub inode: u64,
    pub name: Option<String>,
}

impl Netns {
    /// The name, else the inode.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.inode.to_string())
    }
}

/// The processes holding a socket: a shared list, because the socket at the other end
/// of a local connection names the same list as its `peer`, and at 100k sockets a copy
/// each would cost 6 MB. Reads like a slice; built from a Vec.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Owners(Arc<[Owner]>);

impl Owners {
    /// A list of one, allocated once (no Vec on the way).
    pub fn one(owner: Owner) -> Owners {
        Owners(Arc::from([owner]))
    }

    pub fn as_slice(&self) -> &[Owner] {
        &self.0
    }
}

impl std::ops::Deref for Owners {
    type Target = [Owner];
    fn deref(&self) -> &[Owner] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Owners {
    type Item = &'a Owner;
    type IntoIter = std::slice::Iter<'a, Owner>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<Owner>> for Owners {
    fn from(owners: Vec<Owner>) -> Owners {
        Owners(owners.into())
    }
}
