//! What only a unix socket has: its name and its peer's inode, out of line on the
//! socket so the TCP and UDP sockets that make up a big host pay one pointer for it.

use super::Socket;

/// A unix socket's name and peer, boxed on `Socket::unix_info`: None there when the
/// socket has neither (unbound and unconnected), and on every other family. At 1M TCP
/// sockets inline these would cost 48 MB that no TCP socket uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnixInfo {
    /// The bound path, "@name" for abstract, None if unbound.
    pub path: Option<Box<str>>,
    /// The name's exact bytes when they are not UTF-8 (`path` then has U+FFFD in
    /// their place); None otherwise. See `Socket::set_path`.
    pub path_raw: Option<Box<[u8]>>,
    /// Only from netlink: the inode of the connected peer socket. UNIX_DIAG_PEER is 32
    /// bits, like every socket inode (the kernel numbers them with get_next_ino).
    pub peer_inode: Option<u32>,
}

impl Socket {
    /// Unix only: the bound path, "@name" for abstract, None if unbound.
    pub fn path(&self) -> Option<&str> {
        self.unix_info.as_ref()?.path.as_deref()
    }

    /// Sets the unix name from the kernel's bytes: `path` as text, and where the bytes
    /// are not UTF-8, lossily, with the exact bytes kept for JSON (`path_bytes`) and
    /// for escaped text output.
    pub fn set_path(&mut self, name: &[u8]) {
        let (path, path_raw) = match std::str::from_utf8(name) {
            Ok(text) => (text.into(), None),
            Err(_) => (String::from_utf8_lossy(name).into(), Some(name.into())),
        };
        let info = self.unix_info.get_or_insert_default();
        info.path = Some(path);
        info.path_raw = path_raw;
    }

    /// The exact bytes of the unix name where they are not UTF-8 (JSON's `path_bytes`).
    pub fn path_raw(&self) -> Option<&[u8]> {
        self.unix_info.as_ref()?.path_raw.as_deref()
    }

    /// The exact bytes of the unix name, for output that escapes them.
    pub fn path_bytes(&self) -> Option<&[u8]> {
        self.path_raw().or_else(|| self.path().map(str::as_bytes))
    }

    /// Unix only, and only from netlink: the inode of the connected peer socket.
    pub fn peer_inode(&self) -> Option<u64> {
        self.unix_info.as_ref()?.peer_inode.map(u64::from)
    }

    /// Sets (or with None clears) the unix peer's inode. A socket left with neither
    /// name nor peer drops its box, so it equals one that never had them.
    pub fn set_peer_inode(&mut self, inode: Option<u32>) {
        match (inode, self.unix_info.as_deref_mut()) {
            (None, None) => {}
            (None, Some(info)) if info.path.is_none() => self.unix_info = None,
            (inode, _) => self.unix_info.get_or_insert_default().peer_inode = inode,
        }
    }
}
