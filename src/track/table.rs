//! The tracker's histories: side by side in one Vec, found by their socket's key
//! through a table of positions that stores no key.
//!
//! A history per allocation (a `Box` each) cost 100k allocations at the first
//! snapshot and one per socket opened, spread over the heap in no useful order; a
//! `HashMap<SocketKey, History>` would keep an 88-byte key beside each, in every slot
//! of a table with room for up to twice the sockets it holds. Here the histories sit
//! in a Vec (a slot freed is used again first), the table keeps a 4-byte position per
//! history, and the key is worked out from the history's socket when it is needed.
//! A position stays the history's while it is remembered, so the tracker can list the
//! histories in the order of the snapshot (`Tracker::listed`) and read them in a row.
//! The Vec grows by what is needed and a little (`grow`), never doubling: doubled, 100k
//! sockets and 10k closed ones had 131072 slots, 2 MB of them empty.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::History;
use crate::model::SocketKey;

/// Where a history sits in `Histories`, as long as it is remembered.
pub(super) type Position = u32;

/// Invariant: each history's position is in `index` under `history.socket().key()`
/// (so `insert` takes no key, and nothing hands out a `&mut History` whose socket
/// could change key).
#[derive(Debug, Default)]
pub(super) struct Histories {
    slots: Vec<Option<History>>,
    /// Slots emptied by `remove`, used again before the Vec grows.
    free: Vec<Position>,
    index: HashTable<Position>,
    /// foldhash: hashed once or twice per socket per snapshot, 100k times at scale.
    hasher: foldhash::fast::RandomState,
}

impl Histories {
    fn hash(&self, key: &SocketKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The history's socket has `key`: compared field by field, without making a key.
    fn is_at(slots: &[Option<History>], at: Position, key: &SocketKey) -> bool {
        (slots.get(at as usize))
            .and_then(Option::as_ref)
            .is_some_and(|h| h.socket().has_key(key))
    }

    /// Where the history of `key` is.
    pub fn find(&self, key: &SocketKey) -> Option<Position> {
        let slots = &self.slots;
        self.index
            .find(self.hash(key), |&at| Self::is_at(slots, at, key))
            .copied()
    }

    /// `find`, trying `guess` first: where it holds the history of `key`, that is read
    /// in place of a hash and a lookup at random (see `Tracker::observe_counted`).
    pub fn find_near(&self, key: &SocketKey, guess: Position) -> Option<Position> {
        match Self::is_at(&self.slots, guess, key) {
            true => Some(guess),
            false => self.find(key),
        }
    }

    pub fn get(&self, key: &SocketKey) -> Option<&History> {
        self.at(self.find(key)?)
    }

    pub fn at(&self, at: Position) -> Option<&History> {
        self.slots.get(at as usize)?.as_ref()
    }

    /// A history to update in place. Whoever changes its socket must keep its key
    /// (the socket's state, queues and owners, never its endpoints or inode).
    pub fn at_mut(&mut self, at: Position) -> Option<&mut History> {
        self.slots.get_mut(at as usize)?.as_mut()
    }

    /// Puts `history` under its socket's key, replacing any there; says where.
    pub fn insert(&mut self, history: History) -> Position {
        let key = history.socket().key();
        let hash = self.hash(&key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        let entry = self.index.entry(
            hash,
            |&at| Self::is_at(slots, at, &key),
            |&at| {
                let h = slots[at as usize].as_ref().expect("indexed slots are full");
                hasher.hash_one(h.socket().key())
            },
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => {
                let at = *e.get();
                self.slots[at as usize] = Some(history);
                at
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                let at = match self.free.pop() {
                    Some(at) => {
                        self.slots[at as usize] = Some(history);
                        at
                    }
                    None => {
                        Self::grow(&mut self.slots, 1);
                        self.slots.push(Some(history));
                        Position::try_from(self.slots.len() - 1).expect("under 4G histories")
                    }
                };
                e.insert(at);
                at
            }
        }
    }

    /// Makes room for `more` histories besides those held (the new sockets of a
    /// snapshot), so they go in with one allocation.
    pub fn reserve(&mut self, more: usize) {
        Self::grow(&mut self.slots, more.saturating_sub(self.free.len()));
    }

    /// Room for `more` slots past the end: exactly that, or a sixteenth more than
    /// there are (a few hundred more each snapshot would move the Vec each time).
    fn grow(slots: &mut Vec<Option<History>>, more: usize) {
        if slots.capacity() - slots.len() < more {
            slots.reserve_exact(more.max(slots.len() / 16));
        }
    }

    pub fn remove(&mut self, key: &SocketKey) -> Option<History> {
        let hash = self.hash(key);
        let slots = &self.slots;
        let at = match self
            .index
            .find_entry(hash, |&at| Self::is_at(slots, at, key))
        {
            Ok(e) => e.remove().0,
            Err(_) => return None,
        };
        self.free.push(at);
        self.slots[at as usize].take()
    }

    pub fn values(&self) -> impl Iterator<Item = &History> + '_ {
        self.slots.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use crate::model::{Proto, Snapshot, Socket, TcpState};
    use crate::test_sockets::{self, Build};
    use crate::track::{TrackConfig, Tracker};

    fn tcp(port: u16) -> Socket {
        let local = format!("127.0.0.1:{port}");
        test_sockets::tcp(&local, "127.0.0.1:80", TcpState::Established).inode(u64::from(port))
    }

    fn observe(t: &mut Tracker, sockets: Vec<Socket>, secs: u64) {
        t.observe(&Snapshot {
            sockets,
            warnings: Vec::new(),
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            closed: Vec::new(),
        });
    }

    fn port(s: &Socket) -> u16 {
        s.local.map_or(0, |a| a.port())
    }

    #[test]
    fn listed_follows_the_snapshot_and_slots_are_used_again() {
        let config = TrackConfig {
            keep_closed_for: Duration::from_secs(1),
            ..TrackConfig::default()
        };
        let mut t = Tracker::new(config);
        // A duplicate key is tracked once, under the first socket that has it.
        observe(&mut t, vec![tcp(3), tcp(1), tcp(1), tcp(2)], 1);
        let listed: Vec<u16> = t.listed().map(|h| port(h.unwrap().socket())).collect();
        assert_eq!(listed, [3, 1, 1, 2]);
        let live: Vec<u16> = t.live().map(|h| port(h.socket())).collect();
        assert_eq!(live, [3, 1, 2], "in the snapshot's order, once each");

        // 1 closes, is forgotten, and 4 takes its slot.
        observe(&mut t, vec![tcp(3), tcp(2)], 2);
        assert!(t.get(&tcp(1).key()).unwrap().closed_at().is_some());
        observe(&mut t, vec![tcp(3), tcp(2)], 4);
        assert!(t.get(&tcp(1).key()).is_none(), "forgotten");
        observe(&mut t, vec![tcp(4), tcp(3), tcp(2)], 5);
        assert_eq!(
            t.sockets.slots.len(),
            3,
            "no slot more than the most remembered"
        );
        let listed: Vec<u16> = t.listed().map(|h| port(h.unwrap().socket())).collect();
        assert_eq!(listed, [4, 3, 2]);
        for s in [tcp(2), tcp(3), tcp(4)] {
            assert_eq!(port(t.get(&s.key()).unwrap().socket()), port(&s));
        }
        assert_eq!(t.tracked_len(), 3);
    }

    #[test]
    fn live_in_reads_one_state_whether_the_snapshot_groups_them_or_not() {
        use TcpState::*;
        let mut t = Tracker::default();
        let s = |port: u16, state| {
            let local = format!("127.0.0.1:{port}");
            test_sockets::tcp(&local, "127.0.0.1:80", state).inode(u64::from(port))
        };
        let ports = |t: &Tracker, proto, state| -> Vec<u16> {
            let live = t.live_in(proto, state);
            live.map(|h| port(h.socket())).collect()
        };
        let udp = test_sockets::udp("127.0.0.1:9", "0.0.0.0:0", Close).inode(9);
        let grouped = vec![
            s(1, Listen),
            s(2, Established),
            s(3, Established),
            udp.clone(),
        ];
        observe(&mut t, grouped, 1);
        assert!(t.grouped.is_some());
        assert_eq!(ports(&t, Proto::Tcp, Established), [2, 3]);
        assert_eq!(ports(&t, Proto::Tcp, Listen), [1]);
        assert_eq!(ports(&t, Proto::Udp, Close), [9]);
        assert!(ports(&t, Proto::Tcp, Close).is_empty());
        assert!(ports(&t, Proto::Tcp, CloseWait).is_empty());

        // 3 moved to CLOSE_WAIT between the two ESTABLISHED; 1 closed.
        let apart = vec![s(2, Established), s(3, CloseWait), s(4, Established), udp];
        observe(&mut t, apart, 2);
        assert!(t.grouped.is_none());
        assert_eq!(ports(&t, Proto::Tcp, Established), [2, 4]);
        assert_eq!(ports(&t, Proto::Tcp, CloseWait), [3]);
        assert!(
            ports(&t, Proto::Tcp, Listen).is_empty(),
            "closed is not live"
        );
    }

    #[test]
    fn the_close_order_forgets_only_the_history_it_names() {
        let config = TrackConfig {
            keep_closed_for: Duration::from_secs(1),
            ..TrackConfig::default()
        };
        let mut t = Tracker::new(config);
        let closed_at = |t: &Tracker, s: &Socket| t.get(&s.key()).and_then(|h| h.closed_at());
        observe(&mut t, vec![tcp(1), tcp(2)], 1);
        observe(&mut t, vec![tcp(2)], 2); // 1 closes
        observe(&mut t, vec![tcp(1), tcp(2)], 3); // and reopens in its place
        observe(&mut t, vec![tcp(2)], 4); // and closes again
        // The first close expired: its place holds the second, which stays.
        assert_eq!(
            closed_at(&t, &tcp(1)),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(4))
        );
        observe(&mut t, vec![tcp(2)], 6);
        assert_eq!(
            t.get(&tcp(1).key()).map(|h| h.first_seen()),
            None,
            "forgotten"
        );
        // Its place goes to 3, which closes; the order names the place once for each.
        observe(&mut t, vec![tcp(3), tcp(2)], 7);
        assert_eq!(t.sockets.slots.len(), 2);
        observe(&mut t, vec![tcp(2)], 8);
        let closed: Vec<u16> = t.closed_at_last().map(|h| port(h.socket())).collect();
        assert_eq!(closed, [3]);
        observe(&mut t, vec![tcp(2)], 10);
        assert_eq!(t.tracked_len(), 1);
    }
}
