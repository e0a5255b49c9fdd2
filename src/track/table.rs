//! The tracker's histories, found by their socket's key without storing the key.
//!
//! A `HashMap<SocketKey, Box<History>>` keeps an 88-byte key beside each 8-byte box,
//! in every slot of a table that has room for up to twice the sockets it holds:
//! ~12 MB at 100k sockets. The key is already in the history (`socket.key()`), so the
//! table keeps only the boxes and works the key out from the socket when it needs it.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::History;
use crate::model::SocketKey;

/// Invariant: each history sits under `history.socket().key()` (so `insert` takes no
/// key, and nothing hands out a `&mut History` whose socket could change key).
#[derive(Debug, Default)]
pub(super) struct Histories {
    table: HashTable<Box<History>>,
    /// foldhash: hashed once or twice per socket per snapshot, 100k times at scale.
    hasher: foldhash::fast::RandomState,
}

impl Histories {
    fn hash(&self, key: &SocketKey) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn get(&self, key: &SocketKey) -> Option<&History> {
        let hash = self.hash(key);
        self.table
            .find(hash, |h| h.socket().key() == *key)
            .map(|h| &**h)
    }

    /// A history to update in place. Whoever changes its socket must keep its key
    /// (the socket's state, queues and owners, never its endpoints or inode).
    pub fn get_mut(&mut self, key: &SocketKey) -> Option<&mut History> {
        let hash = self.hash(key);
        self.table
            .find_mut(hash, |h| h.socket().key() == *key)
            .map(|h| &mut **h)
    }

    /// Puts `history` under its socket's key, replacing any there.
    pub fn insert(&mut self, history: Box<History>) {
        let key = history.socket().key();
        let hash = self.hash(&key);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |h| h.socket().key() == key,
            |h| hasher.hash_one(h.socket().key()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = history,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(history);
            }
        }
    }

    pub fn remove(&mut self, key: &SocketKey) -> Option<Box<History>> {
        let hash = self.hash(key);
        match self.table.find_entry(hash, |h| h.socket().key() == *key) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &History> + '_ {
        self.table.iter().map(|h| &**h)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}
