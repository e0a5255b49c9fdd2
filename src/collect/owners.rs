//! Which processes hold which sockets: a walk of /proc/<pid>/fd/* links.
//!
//! Processes come and go during the walk; a vanished process or fd is skipped, never
//! an error. A directory we may not read (another user's, without root) is counted,
//! so the snapshot can say owners are hidden instead of pretending there are none.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::model::Owner;

#[derive(Debug, Default)]
pub struct Owners {
    /// Socket inode -> every (process, fd) holding it.
    pub by_inode: HashMap<u64, Vec<Owner>>,
    /// Processes whose fd directory could not be read for lack of permission.
    pub unreadable: usize,
}

/// Walks the fd directories of `pids`, or of every process under `proc_root` when None.
pub fn walk(proc_root: &Path, pids: Option<&[u32]>, users: &Users) -> Owners {
    let mut owners = Owners::default();
    let all;
    let pids = match pids {
        Some(pids) => pids,
        None => {
            all = list_pids(proc_root);
            &all
        }
    };
    for &pid in pids {
        walk_process(proc_root, pid, users, &mut owners);
    }
    owners
}

/// Every numeric entry of `proc_root`, i.e. every process.
pub fn list_pids(proc_root: &Path) -> Vec<u32> {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn walk_process(proc_root: &Path, pid: u32, users: &Users, owners: &mut Owners) {
    let proc_dir = proc_root.join(pid.to_string());
    let fd_dir = match fs::read_dir(proc_dir.join("fd")) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            owners.unreadable += 1;
            return;
        }
        Err(_) => return, // gone, or a kernel thread
    };
    // Looked up once the process turns out to hold a socket.
    let mut process: Option<(Arc<str>, u32, Arc<str>)> = None;
    for entry in fd_dir.flatten() {
        let target = match fs::read_link(entry.path()) {
            Ok(target) => target,
            // Some sandboxes let us list the fds but not read where they point.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                owners.unreadable += 1;
                return;
            }
            Err(_) => continue, // closed meanwhile
        };
        let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let (comm, uid, user) = process
            .get_or_insert_with(|| {
                let comm = fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
                let uid = fs::metadata(&proc_dir).map(|m| m.uid()).unwrap_or(0);
                (comm.trim_end().into(), uid, users.name(uid))
            })
            .clone();
        owners.by_inode.entry(inode).or_default().push(Owner {
            pid,
            fd,
            comm,
            uid,
            user,
        });
    }
}

/// The inode in a `socket:[12345]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// User names by uid, from /etc/passwd; a uid without a name prints as its number.
#[derive(Debug, Default)]
pub struct Users(HashMap<u32, Arc<str>>);

impl Users {
    pub fn load() -> Users {
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        Users::parse(&passwd)
    }

    pub fn parse(passwd: &str) -> Users {
        let map = passwd
            .lines()
            .filter_map(|line| {
                let mut f = line.split(':');
                let name = f.next()?;
                let uid = f.nth(1)?.parse().ok()?;
                Some((uid, Arc::from(name)))
            })
            .collect();
        Users(map)
    }

    pub fn name(&self, uid: u32) -> Arc<str> {
        self.0
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
    }

    #[test]
    fn passwd() {
        let users =
            Users::parse("root:x:0:0:root:/root:/bin/bash\nbad line\nwww-data:x:33:33::/:\n");
        assert_eq!(&*users.name(0), "root");
        assert_eq!(&*users.name(33), "www-data");
        assert_eq!(&*users.name(1000), "1000");
    }
}
