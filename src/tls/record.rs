//! TLS record framing of one direction's reassembled stream (RFC 8446 5.1,
//! RFC 5246 6.2): a 5-byte header (content type, version, length) and the
//! fragment. Each record is handed on whole, with the packet that carried
//! its header's first byte and the packet where it ended.
//!
//! After a gap, records are searched for: a position whose 5 bytes look
//! like a record header, whose whole record is at hand, is offered to the
//! caller, who accepts it only if it authenticates. Bytes before it are
//! dropped; what is kept while searching is bounded.

use crate::time::Timestamp;
use std::cell::Cell;

/// Largest fragment a record may carry: 2^14 + 2048 for TLS 1.2
/// ciphertext (RFC 5246 6.2.3), more than TLS 1.3's 2^14 + 256.
pub const MAX_FRAGMENT: usize = (1 << 14) + 2048;

/// Bytes kept while searching for a record after a gap.
pub const MAX_SEARCH: usize = 4 * (MAX_FRAGMENT + 5);

/// Packets whose bytes are kept while searching, at most (their runs cost
/// 24 bytes each: a stream of one-byte segments must not cost more).
pub const MAX_RUNS: usize = 4096;

thread_local! {
    /// Where a record that came whole is copied to be decrypted in place:
    /// one buffer per thread, warm in the cache. Each connection's own
    /// buffer, touched once in a thousand records when a thousand
    /// connections interleave, cost a cache miss per record (about 4% of
    /// the CPU time of a capture of small records).
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A whole record, its fragment writable (for decryption in place).
pub struct Record<'a> {
    pub header: [u8; 5],
    pub fragment: &'a mut [u8],
    /// Packet holding the header's first byte, and its time.
    pub packet: u64,
    pub ts: Timestamp,
    /// Packet holding the record's last byte.
    pub end_packet: u64,
    /// Stream offset of the header.
    pub offset: u64,
}

impl Record<'_> {
    pub fn content_type(&self) -> u8 {
        self.header[0]
    }
}

/// Bytes that cannot be a record header where one must start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotTls {
    pub offset: u64,
    pub packet: u64,
}

/// Whether 5 bytes can be a record header: a known content type
/// (change_cipher_spec 20 to heartbeat 24), version 3.x and a length a
/// record may have.
pub fn plausible(h: &[u8]) -> bool {
    h.len() >= 5
        && (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && usize::from(u16::from_be_bytes([h[3], h[4]])) <= MAX_FRAGMENT
}

fn record_len(h: &[u8]) -> usize {
    5 + usize::from(u16::from_be_bytes([h[3], h[4]]))
}

/// One direction's framing.
#[derive(Default)]
pub struct Framer {
    /// A record begun and not complete (or, while searching, the bytes
    /// after the gap).
    buf: Vec<u8>,
    /// Where `buf` starts: stream offset, packet and time of its first
    /// byte.
    start: (u64, u64, Timestamp),
    /// Searching after a gap: the packet of each run of bytes in `buf`.
    search: Option<Vec<(usize, u64, Timestamp)>>,
    /// While searching: bytes of `buf` already ruled out as a record start
    /// (each byte is looked at once, however the bytes come).
    scanned: usize,
    /// Stream offset of the next byte.
    pub offset: u64,
}

impl Framer {
    pub fn searching(&self) -> bool {
        self.search.is_some()
    }

    /// Bytes following the previous ones. `take` gets each whole record;
    /// while searching it says whether the record is real (it
    /// authenticated), and must leave the bytes of one it refuses as they
    /// were; else its answer is ignored.
    pub fn push(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        take: &mut impl FnMut(Record<'_>) -> bool,
    ) -> Result<(), NotTls> {
        if self.search.is_some() {
            return self.search_push(data, packet, ts, take);
        }
        let mut data = data;
        while !data.is_empty() {
            if self.buf.is_empty() {
                let used = self.whole_record(data, packet, ts, take);
                if used > 0 {
                    data = &data[used..];
                    continue;
                }
                self.start = (self.offset, packet, ts);
            }
            let have = self.buf.len();
            let need = if have < 5 { 5 } else { record_len(&self.buf) };
            let n = (need - have).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.offset += n as u64;
            if self.buf.len() == 5 && !plausible(&self.buf) {
                let (offset, packet, _) = self.start;
                self.buf.clear();
                return Err(NotTls { offset, packet });
            }
            if self.buf.len() >= 5 && self.buf.len() == record_len(&self.buf) {
                self.emit(0, packet, take);
                self.release();
            }
        }
        Ok(())
    }

    /// Hands on the record at the start of `data` if it is there whole
    /// (as most are: nothing begun is pending), decrypted in [`SCRATCH`];
    /// returns the bytes used, 0 for none.
    fn whole_record(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        take: &mut impl FnMut(Record<'_>) -> bool,
    ) -> usize {
        if !plausible(data) || record_len(data) > data.len() {
            return 0;
        }
        let len = record_len(data);
        // Taken out of the cell while in use: a nested use (none today)
        // would find it empty, not borrowed.
        let mut buf = SCRATCH.take();
        buf.clear();
        buf.extend_from_slice(&data[..len]);
        let (header, fragment) = buf.split_at_mut(5);
        take(Record {
            header: header.try_into().expect("5 bytes"),
            fragment,
            packet,
            ts,
            end_packet: packet,
            offset: self.offset,
        });
        SCRATCH.set(buf);
        self.offset += len as u64;
        len
    }

    /// Hands on the whole record at `buf[at..]`, ending in `end_packet`.
    fn emit(
        &mut self,
        at: usize,
        end_packet: u64,
        take: &mut impl FnMut(Record<'_>) -> bool,
    ) -> bool {
        let (offset, packet, ts) = self.start;
        let len = record_len(&self.buf[at..]);
        let (header, fragment) = self.buf[at..at + len].split_at_mut(5);
        take(Record {
            header: header.try_into().expect("5 bytes"),
            fragment,
            packet,
            ts,
            end_packet,
            offset,
        })
    }

    /// Empties the record buffer; a large one is freed (a connection
    /// between records holds nothing: thousands may be open).
    fn release(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > 4096 {
            self.buf = Vec::new();
        }
    }

    /// Heap bytes held.
    pub fn held(&self) -> usize {
        self.buf.capacity() + self.search.as_ref().map_or(0, |r| r.capacity() * 24)
    }

    /// Drops everything held and stops: nothing more is framed.
    pub fn abandon(&mut self) {
        self.buf = Vec::new();
        self.search = None;
    }

    /// A gap of `len` bytes: what was begun is lost, and the next record
    /// must be searched for.
    pub fn gap(&mut self, len: u64) {
        self.offset += len;
        self.buf.clear();
        self.search = Some(Vec::new());
        self.scanned = 0;
    }

    fn search_push(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        take: &mut impl FnMut(Record<'_>) -> bool,
    ) -> Result<(), NotTls> {
        if self.buf.is_empty() {
            self.scanned = 0;
        }
        let runs = self.search.as_mut().expect("searching");
        if self.buf.is_empty() {
            self.start = (self.offset, packet, ts);
            runs.clear();
        }
        runs.push((self.buf.len(), packet, ts));
        self.buf.extend_from_slice(data);
        self.offset += data.len() as u64;
        match self.find(take) {
            Some(next) => {
                // Found: frame normally from the record after it.
                let rest = self.buf.split_off(next);
                let last = self.packet_at(rest.len().saturating_sub(1) + next).0;
                self.release();
                self.search = None;
                self.offset -= rest.len() as u64;
                self.push(&rest, last, ts, take)
            }
            None => {
                self.trim();
                Ok(())
            }
        }
    }

    /// The packet and time of byte `i` of `buf` while searching.
    fn packet_at(&self, i: usize) -> (u64, Timestamp) {
        let runs = self.search.as_deref().unwrap_or_default();
        let r = runs
            .partition_point(|&(at, _, _)| at <= i)
            .saturating_sub(1);
        runs.get(r)
            .map_or((self.start.1, self.start.2), |&(_, p, t)| (p, t))
    }

    /// The first plausible whole record in `buf` that `take` accepts;
    /// returns where the bytes after it start.
    fn find(&mut self, take: &mut impl FnMut(Record<'_>) -> bool) -> Option<usize> {
        let mut at = self.scanned;
        while at + 5 <= self.buf.len() {
            if plausible(&self.buf[at..]) {
                let end = at + record_len(&self.buf[at..]);
                if end > self.buf.len() {
                    // Maybe real: wait for the rest of it.
                    self.scanned = at;
                    return None;
                }
                let (packet, ts) = self.packet_at(at);
                let end_packet = self.packet_at(end - 1).0;
                let saved = self.start;
                self.start = (self.start.0 + at as u64, packet, ts);
                let ok = self.emit(at, end_packet, take);
                if ok {
                    self.scanned = 0;
                    return Some(end);
                }
                self.start = saved;
            }
            at += 1;
        }
        self.scanned = at;
        None
    }

    /// Keeps at most [`MAX_SEARCH`] bytes while searching: the oldest go.
    fn trim(&mut self) {
        let runs = self.search.as_ref().map_or(0, Vec::len);
        if self.buf.len() <= MAX_SEARCH && runs <= MAX_RUNS {
            return;
        }
        let drop = self.buf.len() - self.buf.len().min(MAX_SEARCH) / 2;
        self.scanned = self.scanned.saturating_sub(drop);
        let (packet, ts) = self.packet_at(drop);
        self.buf.drain(..drop);
        let runs = self.search.as_mut().expect("searching");
        let r = runs
            .partition_point(|&(at, _, _)| at <= drop)
            .saturating_sub(1);
        runs.drain(..r);
        for run in runs.iter_mut() {
            run.0 = run.0.saturating_sub(drop);
        }
        self.start = (self.start.0 + drop as u64, packet, ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    type Seen = Vec<(u8, Vec<u8>, u64, u64, u64)>;

    fn feed(
        f: &mut Framer,
        parts: &[(&[u8], u64)],
        accept: impl Fn(&[u8]) -> bool,
    ) -> (Seen, Result<(), NotTls>) {
        let mut seen = Vec::new();
        let mut res = Ok(());
        for (data, packet) in parts {
            res = f.push(data, *packet, Timestamp(0), &mut |r| {
                let ok = accept(r.fragment);
                if ok {
                    seen.push((
                        r.content_type(),
                        r.fragment.to_vec(),
                        r.packet,
                        r.end_packet,
                        r.offset,
                    ));
                }
                ok
            });
        }
        (seen, res)
    }

    #[test]
    fn records_split_anyhow_keep_their_start_and_end_packets() {
        let mut stream = rec(22, b"hello");
        stream.extend(rec(23, b"abc"));
        stream.extend(rec(23, b""));
        let mut f = Framer::default();
        let parts: Vec<(&[u8], u64)> =
            vec![(&stream[..2], 1), (&stream[2..12], 2), (&stream[12..], 3)];
        let (seen, res) = feed(&mut f, &parts, |_| true);
        assert_eq!(res, Ok(()));
        assert_eq!(
            seen,
            vec![
                (22, b"hello".to_vec(), 1, 2, 0),
                (23, b"abc".to_vec(), 2, 3, 10),
                (23, vec![], 3, 3, 18)
            ]
        );
    }

    #[test]
    fn not_a_record_header_is_reported_where_it_starts() {
        let mut f = Framer::default();
        let mut stream = rec(23, b"x");
        stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let (_, res) = feed(&mut f, &[(&stream, 4)], |_| true);
        assert_eq!(
            res,
            Err(NotTls {
                offset: 6,
                packet: 4
            })
        );
    }

    #[test]
    fn after_a_gap_the_first_record_that_authenticates_is_taken() {
        let mut f = Framer::default();
        let a = rec(23, b"first");
        f.push(&a[..4], 1, Timestamp(0), &mut |_| true).unwrap();
        f.gap(100);
        // Junk that looks like a header (but does not authenticate), then
        // a real record, then another.
        let mut after = vec![0x55, 0x17, 3, 3, 0, 2, 0xee, 0xee];
        after.extend(rec(23, b"real"));
        after.extend(rec(23, b"next"));
        let (seen, res) = feed(&mut f, &[(&after[..10], 7), (&after[10..], 8)], |b| {
            b != [0xee, 0xee]
        });
        assert_eq!(res, Ok(()));
        assert_eq!(
            seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
            vec![b"real".to_vec(), b"next".to_vec()]
        );
        // "real" starts at byte 8 after the gap (stream offset 4 + 100 + 8),
        // in packet 7, and ends in packet 8.
        assert_eq!((seen[0].2, seen[0].3, seen[0].4), (7, 8, 112));
        assert_eq!((seen[1].2, seen[1].3, seen[1].4), (8, 8, 121));
        assert!(!f.searching());
    }

    #[test]
    fn search_keeps_bounded_bytes_of_garbage() {
        let mut f = Framer::default();
        f.gap(1);
        let junk = vec![0u8; 10_000];
        for p in 0..100 {
            f.push(&junk, p, Timestamp(0), &mut |_| true).unwrap();
        }
        assert!(f.buf.len() <= MAX_SEARCH);
        assert!(f.searching());
        for p in 0..20_000 {
            f.push(&[0], p, Timestamp(0), &mut |_| true).unwrap();
        }
        assert!(f.search.as_ref().unwrap().len() <= MAX_RUNS + 1);
    }
}
