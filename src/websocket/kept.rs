//! Bytes kept while their meaning is not known yet (frame sync was lost, or
//! no handshake was seen), each run remembering the packet it came from, so
//! that decoding them later still names the right packets.

use crate::time::Timestamp;

#[derive(Debug, Default)]
pub struct Kept {
    bytes: Vec<u8>,
    /// (start within `bytes`, packet, time), in order.
    runs: Vec<(usize, u64, Timestamp)>,
    /// Stream offset of `bytes[0]`.
    offset: u64,
    /// Positions before this one were ruled out by a search; bytes added
    /// later cannot change that, so the next search resumes here.
    searched: usize,
}

impl Kept {
    /// Forgets everything; the next byte kept is at stream `offset`.
    pub fn reset(&mut self, offset: u64) {
        self.bytes.clear();
        self.runs.clear();
        self.offset = offset;
        self.searched = 0;
    }

    pub fn searched(&self) -> usize {
        self.searched
    }

    pub fn set_searched(&mut self, at: usize) {
        self.searched = at.min(self.bytes.len());
    }

    /// Whether a packet starts at `at`.
    pub fn is_start(&self, at: usize) -> bool {
        self.runs.binary_search_by_key(&at, |r| r.0).is_ok()
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Keeps as much of `data` as fits under `limit` bytes in all; returns
    /// how much was kept.
    pub fn push(&mut self, data: &[u8], packet: u64, ts: Timestamp, limit: usize) -> usize {
        let take = limit.saturating_sub(self.bytes.len()).min(data.len());
        if take > 0 {
            self.runs.push((self.bytes.len(), packet, ts));
            self.bytes.extend_from_slice(&data[..take]);
        }
        take
    }

    /// Drops the first `n` bytes.
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        self.offset += n as u64;
        self.searched = self.searched.saturating_sub(n);
        // The run holding byte `n` now starts at 0; earlier runs go.
        let first = self.runs.iter().rposition(|r| r.0 <= n).unwrap_or(0);
        self.runs.drain(..first);
        for r in &mut self.runs {
            r.0 = r.0.saturating_sub(n);
        }
    }

    /// The packet (and time) holding byte `at`.
    pub fn packet_at(&self, at: usize) -> (u64, Timestamp) {
        self.runs
            .iter()
            .rev()
            .find(|r| r.0 <= at)
            .or(self.runs.first())
            .map_or((0, Timestamp(0)), |r| (r.1, r.2))
    }

    /// The kept bytes from `from` on, run by run: (stream offset, bytes,
    /// packet, time).
    pub fn runs_from(
        &self,
        from: usize,
    ) -> impl Iterator<Item = (u64, &[u8], u64, Timestamp)> + '_ {
        self.runs
            .iter()
            .enumerate()
            .filter_map(move |(i, &(start, packet, ts))| {
                let end = self.runs.get(i + 1).map_or(self.bytes.len(), |r| r.0);
                let start = start.max(from);
                (start < end).then(|| {
                    (
                        self.offset + start as u64,
                        &self.bytes[start..end],
                        packet,
                        ts,
                    )
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_keep_their_packets() {
        let mut k = Kept::default();
        k.reset(100);
        assert_eq!(k.push(b"abc", 1, Timestamp(1), 8), 3);
        assert_eq!(k.push(b"defgh", 2, Timestamp(2), 8), 5);
        assert_eq!(k.push(b"ij", 3, Timestamp(3), 8), 0);
        assert!(k.is_start(0) && k.is_start(3) && !k.is_start(1));
        assert_eq!(k.packet_at(4), (2, Timestamp(2)));
        let runs: Vec<_> = k
            .runs_from(2)
            .map(|(o, b, p, _)| (o, b.to_vec(), p))
            .collect();
        assert_eq!(runs, [(102, b"c".to_vec(), 1), (103, b"defgh".to_vec(), 2)]);
        k.drop_front(4);
        assert_eq!((k.offset(), k.bytes()), (104, &b"efgh"[..]));
        assert!(k.is_start(0) && !k.is_start(3));
        assert_eq!(k.packet_at(0), (2, Timestamp(2)));
    }
}
