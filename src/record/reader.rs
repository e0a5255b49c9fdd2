//! Reading a recording back: checked whole when opened (up to its last good block),
//! then any snapshot in it rebuilt from the keyframe before it.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::format::{self, Block, Meta, Sockets};
use super::from_millis;
use crate::collect::{Source, peers};
use crate::model::{Snapshot, Socket};

/// Where one snapshot's block is, and from which keyframe it is rebuilt.
#[derive(Clone, Copy, Debug)]
struct Entry {
    offset: usize,
    taken_ms: u64,
    keyframe: usize,
}

/// A recording, its blocks checked and indexed.
pub struct Recording {
    pub meta: Meta,
    /// The format version of its blocks.
    version: u16,
    bytes: Vec<u8>,
    index: Vec<Entry>,
    /// Why reading stopped before the end of the file (a torn last block after a
    /// kill, or damage): said once by whoever shows the recording.
    pub damage: Option<String>,
}

impl Recording {
    pub fn open(path: &Path) -> Result<Recording> {
        let shown = crate::text::escape(&path.display().to_string()).into_owned();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
        Recording::from_bytes(bytes).with_context(|| shown)
    }

    /// Checks every block in order; the first that does not read ends the recording
    /// there. An error only when not even one snapshot reads.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Recording> {
        let (meta, mut offset, version) = format::read_header(&bytes)?;
        let mut index = Vec::new();
        let mut damage = None;
        let mut list: Vec<Socket> = Vec::new();
        let mut keyframe = None;
        loop {
            let block = match format::decode_block(&bytes[offset..], version) {
                Ok(Some(block)) => block,
                Ok(None) => break,
                Err(e) => {
                    damage = Some(format!("{e:#}"));
                    break;
                }
            };
            let (block, len) = block;
            let at = index.len();
            if let Err(e) = step(&mut list, block.sockets, &mut keyframe, at) {
                damage = Some(format!("a damaged block: {e:#}"));
                break;
            }
            index.push(Entry {
                offset,
                taken_ms: block.taken_ms,
                keyframe: keyframe.unwrap_or(at),
            });
            offset += len;
        }
        if index.is_empty() {
            match damage {
                Some(why) => bail!("no complete snapshot in the recording ({why})"),
                None => bail!("no snapshot in the recording yet"),
            }
        }
        Ok(Recording {
            meta,
            version,
            bytes,
            index,
            damage,
        })
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn time_of(&self, i: usize) -> SystemTime {
        from_millis(self.index[i.min(self.index.len() - 1)].taken_ms)
    }

    pub fn start(&self) -> SystemTime {
        self.time_of(0)
    }

    pub fn end(&self) -> SystemTime {
        self.time_of(self.index.len() - 1)
    }

    /// The snapshot in effect at `at`: the last taken at or before it. None before
    /// the first.
    pub fn index_at(&self, at: SystemTime) -> Option<usize> {
        let ms = super::millis(at);
        self.index
            .partition_point(|e| e.taken_ms <= ms)
            .checked_sub(1)
    }

    fn block(&self, i: usize) -> Result<Block> {
        let (block, _) = format::decode_block(&self.bytes[self.index[i].offset..], self.version)?
            .context("a block vanished")?;
        Ok(block)
    }
}

/// One block's sockets applied to the list before it.
fn step(
    list: &mut Vec<Socket>,
    sockets: Sockets,
    keyframe: &mut Option<usize>,
    at: usize,
) -> Result<()> {
    match sockets {
        Sockets::Keyframe(all) => {
            *list = all;
            *keyframe = Some(at);
            Ok(())
        }
        Sockets::Delta { .. } if keyframe.is_none() => bail!("a delta before any keyframe"),
        Sockets::Delta {
            changed,
            removed,
            added,
        } => format::apply(list, changed, &removed, added),
    }
}

/// Snapshots out of a recording, in order (as a `Source`) or at any index.
pub struct Replay {
    pub recording: Recording,
    /// The index the list holds, and the list and warnings in effect there.
    at: Option<usize>,
    list: Vec<Socket>,
    warnings: Vec<String>,
    next: usize,
}

impl Replay {
    pub fn new(recording: Recording) -> Replay {
        Replay {
            recording,
            at: None,
            list: Vec::new(),
            warnings: Vec::new(),
            next: 0,
        }
    }

    pub fn open(path: &Path) -> Result<Replay> {
        Ok(Replay::new(Recording::open(path)?))
    }

    /// The snapshot at index `i`, as it was taken: from the list already held when
    /// `i` is ahead of it, else from the keyframe before `i`.
    pub fn snapshot_at(&mut self, i: usize) -> Result<Snapshot> {
        let i = i.min(self.recording.len() - 1);
        let keyframe = self.recording.index[i].keyframe;
        let mut from = match self.at {
            Some(at) if at <= i && at >= keyframe => at + 1,
            _ => keyframe,
        };
        let mut closed = Vec::new();
        let mut key = Some(keyframe);
        while from <= i {
            let block = self.recording.block(from)?;
            if let Some(w) = block.warnings {
                self.warnings = w;
            }
            step(&mut self.list, block.sockets, &mut key, from)?;
            closed = block.closed;
            self.at = Some(from);
            from += 1;
        }
        // At the index already held, its own closed list is read again.
        if self.at == Some(i) && closed.is_empty() {
            closed = self.recording.block(i)?.closed;
        }
        let mut sockets = self.list.clone();
        peers::resolve_each_netns(&mut sockets);
        // Deltas append what is new; give the order `list` and the live view use.
        sockets.sort_unstable_by(|a, b| a.display_order(b));
        Ok(Snapshot {
            sockets,
            warnings: self.warnings.clone(),
            taken_at: self.recording.time_of(i),
            closed,
        })
    }

    /// Where `snapshot()` goes next.
    pub fn seek(&mut self, i: usize) {
        self.next = i;
    }

    pub fn position(&self) -> usize {
        self.next
    }
}

/// Each call gives the next snapshot; past the last, the last again (a recording
/// that ended looks like a host where nothing changes).
impl Source for Replay {
    fn snapshot(&mut self) -> Result<Snapshot> {
        let i = self.next.min(self.recording.len() - 1);
        self.next = i + 1;
        self.snapshot_at(i)
    }
}
