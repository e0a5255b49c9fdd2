//! The inodes of one table and nothing else: what a narrowed snapshot (`list --udp`)
//! asks of the tables it does not read, and only when many sockets are left that no
//! table it read names (see `collect::select`). Each answer is the bare message (16
//! bytes a unix socket, 72 an inet one): no attributes are asked for, none parsed,
//! and no socket is built or joined with its owners.

use anyhow::{Context, Result};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6};
use netlink_packet_sock_diag::inet::ExtensionFlags;
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};

use super::{Netlink, table_request, u32_at};
use crate::model::Proto;

/// `inode` in `struct unix_diag_msg` and in `struct inet_diag_msg`.
const UNIX_INODE_AT: usize = 4;
const INET_INODE_AT: usize = 68;

impl Netlink {
    /// Appends the inode of every TCP, UDP or unix socket (`proto`; others add none)
    /// in the namespace to `out`.
    pub fn inodes(&mut self, proto: Proto, out: &mut Vec<u64>) -> Result<()> {
        let mut each = |payload: &[u8], at: usize| {
            if let Some(inode) = u32_at(payload, at).filter(|&i| i != 0) {
                out.push(inode.into());
            }
        };
        match proto {
            Proto::Tcp | Proto::Udp => {
                for family in [AF_INET, AF_INET6] {
                    let request = table_request(proto, family, ExtensionFlags::empty());
                    self.dump(request, |payload| {
                        each(payload, INET_INODE_AT);
                        Ok(())
                    })
                    .with_context(|| format!("netlink {proto:?} inode dump"))?;
                }
            }
            Proto::Unix => {
                let request = SockDiagMessage::UnixRequest(UnixRequest {
                    state_flags: unix::StateFlags::from_bits_retain(u32::MAX),
                    inode: 0,
                    show_flags: ShowFlags::empty(),
                    cookie: [0xff; 8],
                });
                self.dump(request, |payload| {
                    each(payload, UNIX_INODE_AT);
                    Ok(())
                })
                .context("netlink unix inode dump")?;
            }
            _ => {}
        }
        Ok(())
    }
}
