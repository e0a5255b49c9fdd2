//! The recording file: a versioned header, then append-only blocks, one per snapshot.
//!
//! ```text
//! header  "sockscope-rec\n"  version u16 LE  meta length u32 LE  meta
//! block   length u32 LE  raw length u32 LE  FNV-1a of the payload u32 LE  payload
//! ```
//!
//! A payload is one zstd frame holding a keyframe (every socket) or a delta against
//! the snapshot before (sockets changed, removed, added), plus the sockets the kernel
//! destroyed since then. Each block is written with one write and depends only on
//! blocks before it, so a recorder killed at any moment leaves a file that reads up to
//! its last complete block; the checksum tells a torn or damaged block from a good one.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};

use super::codec::{Dec, Enc};
use crate::model::{Closed, Socket, SocketKey};

pub const MAGIC: &[u8; 14] = b"sockscope-rec\n";
/// 2: each socket's netns and each owner's container (see codec.rs). Version 1
/// recordings still read, without them.
pub const VERSION: u16 = 2;
/// The oldest version this sockscope reads.
const OLDEST: u16 = 1;
/// Block header: length, raw length, checksum.
const BLOCK_HEADER: usize = 12;
/// No snapshot decodes to more than this; a larger claim is damage, not data.
const MAX_RAW: u32 = 1 << 30;
const ZSTD_LEVEL: i32 = 9;

const KEYFRAME: u8 = 1;
const DELTA: u8 = 2;

/// What the header says about the whole recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Milliseconds since the Unix epoch.
    pub started_ms: u64,
    pub interval_ms: u64,
    pub hostname: String,
    /// The filters the recorder ran with, as the filter bar writes them.
    pub filter: String,
}

pub fn header(meta: &Meta) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.var(meta.started_ms);
    enc.var(meta.interval_ms);
    enc.str(&meta.hostname);
    enc.str(&meta.filter);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(enc.buf.len() as u32).to_le_bytes());
    out.extend_from_slice(&enc.buf);
    out
}

/// The header, where the blocks start, and the format version they are in.
pub fn read_header(bytes: &[u8]) -> Result<(Meta, usize, u16)> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        bail!("not a sockscope recording (no sockscope-rec header)");
    }
    let rest = &bytes[MAGIC.len()..];
    if rest.len() < 6 {
        bail!("the recording's header is cut short");
    }
    let version = u16::from_le_bytes([rest[0], rest[1]]);
    if !(OLDEST..=VERSION).contains(&version) {
        bail!(
            "recording format version {version}; this sockscope reads versions {OLDEST} to {VERSION}"
        );
    }
    let len = u32::from_le_bytes(rest[2..6].try_into()?) as usize;
    let meta_bytes = rest
        .get(6..6 + len)
        .context("the recording's header is cut short")?;
    let mut dec = Dec::new(meta_bytes);
    let meta = (|| {
        Ok::<_, anyhow::Error>(Meta {
            started_ms: dec.var()?,
            interval_ms: dec.var()?,
            hostname: dec.str()?,
            filter: dec.str()?,
        })
    })()
    .context("the recording's header is damaged")?;
    Ok((meta, MAGIC.len() + 6 + len, version))
}

/// FNV-1a, 32 bits: enough to tell a torn or flipped block from a good one.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// One snapshot as stored: its time, its warnings when they changed, the sockets as
/// a keyframe or a delta, and what closed.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub taken_ms: u64,
    /// None: the same as the block before.
    pub warnings: Option<Vec<String>>,
    pub sockets: Sockets,
    pub closed: Vec<Closed>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Sockets {
    Keyframe(Vec<Socket>),
    /// Against the list of the block before: replaced in place (index into it),
    /// removed (indices, ascending), added at the end. See `apply`.
    Delta {
        changed: Vec<(usize, Socket)>,
        removed: Vec<usize>,
        added: Vec<Socket>,
    },
}

/// The list after a delta: one definition, used by the writer to follow what the
/// reader will have, so both agree on every index.
pub fn apply<T>(
    list: &mut Vec<T>,
    changed: Vec<(usize, T)>,
    removed: &[usize],
    added: Vec<T>,
) -> Result<()> {
    for (i, item) in changed {
        *list
            .get_mut(i)
            .context("a change to a socket that is not there")? = item;
    }
    if removed.windows(2).any(|w| w[0] >= w[1]) || removed.last().is_some_and(|&i| i >= list.len())
    {
        bail!("a removal of a socket that is not there");
    }
    let mut gone = removed.iter().peekable();
    let mut i = 0;
    list.retain(|_| {
        let keep = gone.peek() != Some(&&i);
        if !keep {
            gone.next();
        }
        i += 1;
        keep
    });
    list.extend(added);
    Ok(())
}

fn encode_closed(enc: &mut Enc, closed: &[Closed], taken_ms: u64) {
    enc.var(closed.len() as u64);
    for c in closed {
        // Before the snapshot, as a rule; stored as how long before.
        enc.var(taken_ms.saturating_sub(super::millis(c.at)));
        enc.socket(&c.socket);
    }
}

pub fn encode_block(block: &Block) -> Result<Vec<u8>> {
    let mut enc = Enc::default();
    enc.u8(match block.sockets {
        Sockets::Keyframe(_) => KEYFRAME,
        Sockets::Delta { .. } => DELTA,
    });
    enc.var(block.taken_ms);
    match &block.warnings {
        None => enc.u8(0),
        Some(w) => {
            enc.u8(1);
            enc.var(w.len() as u64);
            for text in w {
                enc.str(text);
            }
        }
    }
    match &block.sockets {
        Sockets::Keyframe(all) => {
            enc.var(all.len() as u64);
            for s in all {
                enc.socket(s);
            }
        }
        Sockets::Delta {
            changed,
            removed,
            added,
        } => {
            enc.var(changed.len() as u64);
            for (i, s) in changed {
                enc.var(*i as u64);
                enc.socket(s);
            }
            enc.var(removed.len() as u64);
            let mut last = 0;
            for &i in removed {
                enc.var((i - last) as u64);
                last = i;
            }
            enc.var(added.len() as u64);
            for s in added {
                enc.socket(s);
            }
        }
    }
    encode_closed(&mut enc, &block.closed, block.taken_ms);
    let packed = zstd::bulk::compress(&enc.buf, ZSTD_LEVEL).context("compressing a block")?;
    let mut out = Vec::with_capacity(BLOCK_HEADER + packed.len());
    out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
    out.extend_from_slice(&(enc.buf.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&packed).to_le_bytes());
    out.extend_from_slice(&packed);
    Ok(out)
}

/// The next block at the start of `bytes`, and its length in the file. None at a
/// clean end; an error for a torn or damaged block. `version`: the header's.
pub fn decode_block(bytes: &[u8], version: u16) -> Result<Option<(Block, usize)>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() < BLOCK_HEADER {
        bail!("the last block is cut short");
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (len, raw_len, sum) = (word(0) as usize, word(4), word(8));
    let packed = bytes
        .get(BLOCK_HEADER..BLOCK_HEADER + len)
        .context("the last block is cut short")?;
    if checksum(packed) != sum || raw_len > MAX_RAW {
        bail!("a damaged block (checksum mismatch)");
    }
    let raw = zstd::bulk::decompress(packed, raw_len as usize).context("a damaged block")?;
    let block = parse_block(&raw, version).context("a damaged block")?;
    Ok(Some((block, BLOCK_HEADER + len)))
}

fn parse_block(raw: &[u8], version: u16) -> Result<Block> {
    let mut dec = Dec::of_version(raw, version);
    let kind = dec.u8()?;
    let taken_ms = dec.var()?;
    let warnings = match dec.u8()? {
        0 => None,
        1 => {
            let n = dec.count(1)?;
            Some((0..n).map(|_| dec.str()).collect::<Result<_>>()?)
        }
        t => bail!("unknown warnings tag {t}"),
    };
    // A socket takes at least 10 bytes; counts beyond the block are refused.
    const SOCKET_MIN: usize = 10;
    let sockets = match kind {
        KEYFRAME => {
            let n = dec.count(SOCKET_MIN)?;
            Sockets::Keyframe((0..n).map(|_| dec.socket()).collect::<Result<_>>()?)
        }
        DELTA => {
            let n = dec.count(SOCKET_MIN)?;
            let changed = (0..n)
                .map(|_| Ok((dec.var()? as usize, dec.socket()?)))
                .collect::<Result<_>>()?;
            let n = dec.count(1)?;
            let mut removed = Vec::with_capacity(n);
            let mut last = 0usize;
            for k in 0..n {
                let step = dec.var()? as usize;
                if k > 0 && step == 0 {
                    bail!("a socket removed twice");
                }
                last = last.checked_add(step).context("an index out of range")?;
                removed.push(last);
            }
            let n = dec.count(SOCKET_MIN)?;
            let added = (0..n).map(|_| dec.socket()).collect::<Result<_>>()?;
            Sockets::Delta {
                changed,
                removed,
                added,
            }
        }
        k => bail!("unknown block kind {k}"),
    };
    let n = dec.count(SOCKET_MIN)?;
    let mut closed = Vec::with_capacity(n);
    for _ in 0..n {
        let before = dec.var()?;
        let socket = dec.socket()?;
        let at_ms = taken_ms.checked_sub(before).context("a time before 1970")?;
        closed.push(Closed {
            at: super::from_millis(at_ms),
            socket,
        });
    }
    if !dec.is_empty() {
        bail!("bytes after the end of a block");
    }
    Ok(Block {
        taken_ms,
        warnings,
        sockets,
        closed,
    })
}

/// What the writer remembers of the last snapshot: each socket's encoding, in the
/// reader's order, to write only what changed.
#[derive(Default)]
pub struct DeltaState {
    /// (key, occurrence of that key within the snapshot) and the socket's encoding.
    list: Vec<((SocketKey, u32), Vec<u8>)>,
}

impl DeltaState {
    /// The delta from the last snapshot to `sockets`, or a keyframe when asked to
    /// (the writer asks for one first); remembers `sockets` as the reader will have them.
    pub fn next(&mut self, sockets: &[Socket], keyframe: bool) -> Sockets {
        let mut seen: HashMap<SocketKey, u32> = HashMap::new();
        let entries: Vec<((SocketKey, u32), Vec<u8>)> = sockets
            .iter()
            .map(|s| {
                let n = seen.entry(s.key()).or_default();
                *n += 1;
                let mut enc = Enc::default();
                enc.socket(s);
                ((s.key(), *n), enc.buf)
            })
            .collect();
        if keyframe {
            self.list = entries;
            return Sockets::Keyframe(sockets.to_vec());
        }
        let old: HashMap<&(SocketKey, u32), usize> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k, i))
            .collect();
        let mut changed = Vec::new();
        let mut added = Vec::new();
        let mut kept = vec![false; self.list.len()];
        let mut changed_entries = Vec::new();
        let mut added_entries = Vec::new();
        for (socket, entry) in sockets.iter().zip(entries) {
            match old.get(&entry.0) {
                Some(&i) => {
                    kept[i] = true;
                    if self.list[i].1 != entry.1 {
                        changed.push((i, socket.clone()));
                        changed_entries.push((i, entry));
                    }
                }
                None => {
                    added.push(socket.clone());
                    added_entries.push(entry);
                }
            }
        }
        drop(old);
        let removed: Vec<usize> = (0..kept.len()).filter(|&i| !kept[i]).collect();
        apply(&mut self.list, changed_entries, &removed, added_entries)
            .expect("the writer's own delta applies");
        Sockets::Delta {
            changed,
            removed,
            added,
        }
    }
}
