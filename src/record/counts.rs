//! Counts keyed by a typed value (finding code, severity, diagnosed cause)
//! and written as a JSON object keyed by the value's stable name.
//!
//! One type for every tally in the records, so adding, merging, filtering
//! and writing them is done once. Keys are kept sorted by name: the JSON
//! objects come out in name order (as they always have), whatever order the
//! enum declares its variants in.

use crate::finding::{Code, Severity};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A value with a stable snake_case name, used as a JSON key.
pub trait Named: Copy + Eq + 'static {
    fn name(self) -> &'static str;
}

/// Counts per key, non-zero only; empty until something is counted (no
/// allocation for the many connections with nothing to count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts<K: Named> {
    by_name: Vec<(K, u64)>,
}

impl<K: Named> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            by_name: Vec::new(),
        }
    }
}

impl<K: Named> Counts<K> {
    /// Adds `n` to `key` (nothing when `n` is 0, so only non-zero counts
    /// are ever present).
    pub fn add(&mut self, key: K, n: u64) {
        if n == 0 {
            return;
        }
        match self
            .by_name
            .binary_search_by(|(k, _)| k.name().cmp(key.name()))
        {
            Ok(i) => self.by_name[i].1 = self.by_name[i].1.saturating_add(n),
            Err(i) => {
                // A few keys per connection: no room kept for more.
                self.by_name.reserve_exact(1);
                self.by_name.insert(i, (key, n));
            }
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts<K>) {
        for &(k, n) in &other.by_name {
            self.add(k, n);
        }
    }

    pub fn get(&self, key: K) -> u64 {
        self.by_name
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |&(_, n)| n)
    }

    pub fn contains(&self, key: K) -> bool {
        self.get(key) > 0
    }

    /// (key, count) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.by_name.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.by_name.iter().map(|&(_, n)| n).sum()
    }

    /// Keeps only the keys `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(K) -> bool) {
        self.by_name.retain(|&(k, _)| keep(k));
    }
}

/// Counts of codes per severity as reported (a tolerated masking violation
/// counts under `warning`, though its code is an error), written as
/// `{"error": {code: n}, "warning": {...}}` with empty severities left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodesBySeverity {
    by_severity: Counts<Severity>,
    error: Counts<Code>,
    warning: Counts<Code>,
    info: Counts<Code>,
}

impl CodesBySeverity {
    pub fn add(&mut self, severity: Severity, code: Code, n: u64) {
        self.by_severity.add(severity, n);
        self.codes_mut(severity).add(code, n);
    }

    fn codes_mut(&mut self, severity: Severity) -> &mut Counts<Code> {
        match severity {
            Severity::Error => &mut self.error,
            Severity::Warning => &mut self.warning,
            Severity::Info => &mut self.info,
        }
    }

    /// The codes reported at `severity`.
    pub fn codes(&self, severity: Severity) -> &Counts<Code> {
        match severity {
            Severity::Error => &self.error,
            Severity::Warning => &self.warning,
            Severity::Info => &self.info,
        }
    }
}

impl Serialize for CodesBySeverity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        // Name order, as every keyed object in the records.
        for (severity, _) in self.by_severity.iter() {
            m.serialize_entry(severity.name(), self.codes(severity))?;
        }
        m.end()
    }
}

impl<K: Named> Serialize for Counts<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.by_name.len()))?;
        for (k, n) in &self.by_name {
            m.serialize_entry(k.name(), n)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_write_in_name_order_and_skip_zero() {
        let mut c = Counts::default();
        c.add(Severity::Warning, 2);
        c.add(Severity::Error, 1);
        c.add(Severity::Info, 0);
        c.add(Severity::Error, 3);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"error":4,"warning":2}"#
        );
        assert_eq!(c.total(), 6);
        assert!(!c.contains(Severity::Info));
        c.retain(|s| s >= Severity::Error);
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"error":4}"#);
    }

    #[test]
    fn codes_sort_by_name_not_declaration() {
        let mut c = Counts::default();
        c.add(Code::Resynchronized, 1);
        c.add(Code::BadAcceptKey, 1);
        c.add(Code::HandshakeRejected, 1);
        let mut other = Counts::default();
        other.add(Code::BadAcceptKey, 2);
        c.merge(&other);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"bad_accept_key":3,"handshake_rejected":1,"resynchronized":1}"#
        );
    }
}
