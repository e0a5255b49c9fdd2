//! The JSON schema of a socket (README.md's), for serde: `list --json` writes the same
//! bytes by hand (output/json.rs, which its tests hold to this).

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Naming, Owner, Socket};

/// The JSON schema of README.md, written out field by field so it is visible in one place.
impl Serialize for Socket {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Socket", 21)?;
        self.serialize_fields(&mut s)?;
        s.end()
    }
}

/// A socket in JSON with the names `list --json -r` asks for after its fields:
/// `local_service`, `remote_service` (null where no name, or with `-n`) and
/// `remote_host` (null where none was found in time). The numbers stay as they are.
pub struct WithNames<'a> {
    pub socket: &'a Socket,
    pub naming: &'a Naming,
}

impl Serialize for WithNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (socket, naming) = (self.socket, self.naming);
        let mut s = serializer.serialize_struct("Socket", 24)?;
        socket.serialize_fields(&mut s)?;
        s.serialize_field("local_service", &socket.local_service(naming))?;
        s.serialize_field("remote_service", &socket.remote_service(naming))?;
        s.serialize_field("remote_host", &socket.remote_host(naming))?;
        s.end()
    }
}

impl Socket {
    fn serialize_fields<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
        s.serialize_field("proto", &self.proto)?;
        s.serialize_field("family", &self.family)?;
        s.serialize_field("state", &self.state)?;
        s.serialize_field("local_addr", &self.local.map(|a| a.ip()))?;
        s.serialize_field("local_port", &self.local_port())?;
        s.serialize_field("remote_addr", &self.remote.map(|a| a.ip()))?;
        s.serialize_field("remote_port", &self.remote_port())?;
        s.serialize_field("path", &self.path())?;
        // Only where `path` could not say it exactly: an array of byte values.
        if let Some(raw) = self.path_raw() {
            s.serialize_field("path_bytes", raw)?;
        } else {
            s.skip_field("path_bytes")?;
        }
        s.serialize_field("socket_type", &self.socket_type)?;
        s.serialize_field("recv_q", &self.recv_q)?;
        s.serialize_field("send_q", &self.send_q)?;
        s.serialize_field("inode", &self.inode)?;
        s.serialize_field("uid", &self.uid)?;
        s.serialize_field("processes", &self.processes)?;
        s.serialize_field("tcp_info", &self.tcp_info)?;
        s.serialize_field("timer", &self.timer)?;
        s.serialize_field("peer_inode", &self.peer_inode())?;
        s.serialize_field("peer", &self.peer)?;
        s.serialize_field("detail", &self.detail)?;
        s.serialize_field("netns", &self.netns)?;
        Ok(())
    }
}

/// One flat object: what the process shares (`ProcessInfo`) beside the pid and fd.
impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = &*self.process;
        let mut s = serializer.serialize_struct("Owner", 6)?;
        s.serialize_field("pid", &self.pid)?;
        s.serialize_field("fd", &self.fd)?;
        s.serialize_field("comm", &p.comm)?;
        s.serialize_field("uid", &p.uid)?;
        s.serialize_field("user", &p.user)?;
        s.serialize_field("container", &p.container)?;
        s.end()
    }
}
