//! The other end of a local connection, as the details pane shows it: who holds this
//! socket ↔ who holds the one it is connected to. (The PEER column is `Column::Peer`.)

use ratatui::text::{Line, Span};

use super::style;
use crate::model::{Owner, Proto, Socket};
use crate::text::owners;

/// Owners named before "+N more" in the details line.
const NAMED_OWNERS: usize = 3;

/// The details pane's peer line, "pid 10 curl ↔ pid 20 nginx  their end …"; nothing
/// for a socket whose other end is not known to be on this host.
pub fn lines(s: &Socket) -> Vec<Line<'static>> {
    let name = Span::styled(format!("  {:<10}", "peer"), style::DIM);
    let Some(peer) = &s.peer else {
        // A unix socket knows its peer's inode even when that socket was not read
        // (another network namespace, or outside a --pid view).
        return match s.peer_inode() {
            Some(inode) if s.proto == Proto::Unix => vec![Line::from(vec![
                name,
                Span::raw(format!("inode {inode}")),
                Span::styled("  (not among the sockets read)", style::DIM),
            ])],
            _ => Vec::new(),
        };
    };
    let theirs = match s.proto {
        // The TCP peer is the socket whose endpoints mirror ours: our remote is its local.
        Proto::Tcp => format!("their end {}, inode {}", s.remote_text(), peer.inode),
        _ => format!("their socket: inode {}", peer.inode),
    };
    vec![Line::from(vec![
        name,
        Span::raw(format!(
            "{} ↔ {}",
            owners_text(&s.processes, s.inode),
            owners_text(&peer.processes, peer.inode)
        )),
        Span::styled(format!("  {theirs}"), style::DIM),
    ])]
}

/// "pid 10 curl", "pid 10 curl, pid 11 curl", "… +2"; the inode when no owner is visible.
fn owners_text(owners: &[Owner], inode: u64) -> String {
    match (owners.is_empty(), inode) {
        (true, 0) => "no process (the kernel holds it)".into(),
        (true, _) => format!("inode {inode} (no owner visible)"),
        _ => owners::named(owners, NAMED_OWNERS),
    }
}
