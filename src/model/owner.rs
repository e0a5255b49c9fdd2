//! Who holds a socket: the processes, the containers they run in, the network
//! namespace the socket lives in.

use std::sync::Arc;

/// One process holding a socket through one of its file descriptors: 16 bytes, as
/// what the process's owners share (`ProcessInfo`) is one `Arc` per process. Serializes
/// as one flat object: pid, fd, comm, uid, user, container (model/json.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub fd: u32,
    pub process: Arc<ProcessInfo>,
}

/// What every owner of one process shares: its name, its user, its container. Made once
/// per process by the fd walk (a process holding 10k sockets has one of these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub comm: Arc<str>,
    pub uid: u32,
    pub user: Arc<str>,
    /// The container the process runs in, from its cgroup.
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

/// The processes holding a socket. Most sockets have one holder, kept inline (no
/// allocation); two or more (a fork, a dup, an fd passed on) share one list. Cloning is
/// cheap either way: the socket at the other end of a local connection names the same
/// owners as its `peer`. 16 bytes. Reads like a slice; built from a Vec or by `push`.
#[derive(Clone)]
pub struct Owners(Held);

#[derive(Clone)]
enum Held {
    One(Owner),
    /// None (no allocation), or two and more.
    List(Option<Arc<Vec<Owner>>>),
}

impl Owners {
    /// A list of one, without an allocation.
    pub fn one(owner: Owner) -> Owners {
        Owners(Held::One(owner))
    }

    pub fn as_slice(&self) -> &[Owner] {
        match &self.0 {
            Held::One(owner) => std::slice::from_ref(owner),
            Held::List(Some(list)) => list,
            Held::List(None) => &[],
        }
    }

    /// Adds a holder at the end (the fd walk, in walk order).
    pub fn push(&mut self, owner: Owner) {
        match &mut self.0 {
            Held::List(None) => self.0 = Held::One(owner),
            Held::List(Some(list)) => Arc::make_mut(list).push(owner),
            Held::One(first) => self.0 = Held::List(Some(Arc::new(vec![first.clone(), owner]))),
        }
    }
}

impl Default for Owners {
    fn default() -> Owners {
        Owners(Held::List(None))
    }
}

impl std::fmt::Debug for Owners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for Owners {
    fn eq(&self, other: &Owners) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Owners {}

impl serde::Serialize for Owners {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(serializer)
    }
}

impl std::ops::Deref for Owners {
    type Target = [Owner];
    fn deref(&self) -> &[Owner] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Owners {
    type Item = &'a Owner;
    type IntoIter = std::slice::Iter<'a, Owner>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl From<Vec<Owner>> for Owners {
    fn from(mut owners: Vec<Owner>) -> Owners {
        match owners.len() {
            0 => Owners::default(),
            1 => Owners::one(owners.remove(0)),
            _ => {
                owners.shrink_to_fit();
                Owners(Held::List(Some(Arc::new(owners))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(pid: u32, fd: u32) -> Owner {
        crate::test_sockets::owner(pid, fd, "x")
    }

    fn keys(owners: &Owners) -> Vec<(u32, u32)> {
        owners.iter().map(|o| (o.pid, o.fd)).collect()
    }

    #[test]
    fn owners_stay_small() {
        // One owner inline, more shared: what 1M sockets each hold twice (their own
        // and their peer's).
        assert_eq!(std::mem::size_of::<Owner>(), 16);
        assert_eq!(std::mem::size_of::<Owners>(), 16);
        let mut owners = Owners::default();
        owners.push(owner(1, 3));
        owners.push(owner(1, 4));
        owners.push(owner(2, 5));
        assert_eq!(keys(&owners), [(1, 3), (1, 4), (2, 5)]);
        assert_eq!(
            owners,
            Owners::from(vec![owner(1, 3), owner(1, 4), owner(2, 5)])
        );
        assert_eq!(Owners::from(vec![owner(1, 3)]), Owners::one(owner(1, 3)));
        assert!(Owners::from(Vec::new()).is_empty());
    }
}
