//! The reassembler's connections by 4-tuple: a hash table that can also
//! be asked, packets ahead, to bring an entry into the cache.
//!
//! A busy capture interleaves the packets of a thousand connections or
//! more, so each packet's table entry, and the state it points to, are
//! usually out of the cache: two misses in a row, each waited on. The
//! reading loop knows the next packets' 4-tuples (see
//! [`crate::capture::CaptureReader::ahead`]), so it asks in two steps:
//! first for the entry (where it lies is found from the table's
//! small control bytes, without reading the entry), then, once the entry
//! is at hand, for the state it points to.

use super::FlowKey;
use crate::prefetch;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::BuildHasher;

pub(super) struct FlowTable<V> {
    table: HashTable<(FlowKey, V)>,
    hasher: foldhash::fast::RandomState,
}

/// Connections the table has room for from the start: captures open
/// hundreds at once, and each doubling on the way there rehashes the table
/// into memory touched for the first time.
const INITIAL_ROOM: usize = 1024;

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable {
            table: HashTable::with_capacity(INITIAL_ROOM),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<V> FlowTable<V> {
    /// The hash `key` is found by: a packet looks its connection up more
    /// than once (to decide, then to change it), hashing its key once.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn get(&self, key: &FlowKey) -> Option<&V> {
        self.get_hashed(self.hash(key), key)
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut V> {
        self.get_mut_hashed(self.hash(key), key)
    }

    /// [`FlowTable::get_mut`] with the key's [`FlowTable::hash`].
    pub fn get_mut_hashed(&mut self, hash: u64, key: &FlowKey) -> Option<&mut V> {
        self.table.find_mut(hash, |(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key`'s value; the one it replaces, if any.
    pub fn insert(&mut self, key: FlowKey, value: V) -> Option<V> {
        let hash = self.hash(&key);
        let hasher = &self.hasher;
        let entry = self
            .table
            .entry(hash, |(k, _)| *k == key, |(k, _)| hasher.hash_one(k));
        match entry {
            Entry::Occupied(mut e) => Some(std::mem::replace(&mut e.get_mut().1, value)),
            Entry::Vacant(e) => {
                e.insert((key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &FlowKey) -> Option<V> {
        let hash = self.hash(key);
        let entry = self.table.find_entry(hash, |(k, _)| k == key).ok()?;
        Some(entry.remove().0.1)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, &V)> {
        self.table.iter().map(|(k, v)| (k, v))
    }

    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// Asks for the entry `key` would be in, without reading any entry:
    /// the first whose control byte matches the key's hash (almost always
    /// the right one; a wrong guess only costs a useless prefetch).
    /// Returns the hash, for [`FlowTable::get_hashed`] later.
    pub fn prefetch_entry(&self, key: &FlowKey) -> u64 {
        let hash = self.hash(key);
        if let Some(entry) = self.table.find(hash, |_| true) {
            prefetch::lines(entry, size_of::<(FlowKey, V)>().div_ceil(64) + 1);
        }
        hash
    }

    /// [`FlowTable::get`] with the key's hash as [`FlowTable::hash`] or
    /// [`FlowTable::prefetch_entry`] gave it.
    pub fn get_hashed(&self, hash: u64, key: &FlowKey) -> Option<&V> {
        self.table.find(hash, |(k, _)| k == key).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn key(port: u16) -> FlowKey {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b = SocketAddr::new("10.0.0.2".parse().unwrap(), port);
        FlowKey::new(a, b)
    }

    #[test]
    fn keeps_one_value_a_key() {
        let mut t = FlowTable::default();
        assert_eq!(t.insert(key(80), 1), None);
        assert_eq!(t.insert(key(81), 2), None);
        assert_eq!(t.insert(key(80), 3), Some(1));
        assert_eq!(t.get(&key(80)), Some(&3));
        *t.get_mut(&key(81)).unwrap() += 10;
        assert_eq!(t.get(&key(81)), Some(&12));
        assert_eq!(t.remove(&key(80)), Some(3));
        assert_eq!(t.remove(&key(80)), None);
        assert_eq!(t.get(&key(80)), None);
        // A hint, for present and absent keys alike, changes nothing.
        let hash = t.prefetch_entry(&key(81));
        assert_eq!(t.get_hashed(hash, &key(81)), Some(&12));
        let hash = t.prefetch_entry(&key(99));
        assert_eq!(t.get_hashed(hash, &key(99)), None);
        assert_eq!(t.get(&key(81)), Some(&12));
        t.clear();
        assert_eq!(t.get(&key(81)), None);
    }

    #[test]
    fn both_directions_are_one_key() {
        let mut t = FlowTable::default();
        let a: SocketAddr = "[::1]:5000".parse().unwrap();
        let b: SocketAddr = "[::1]:443".parse().unwrap();
        t.insert(FlowKey::new(a, b), "conn");
        assert_eq!(t.get(&FlowKey::new(b, a)), Some(&"conn"));
    }
}
