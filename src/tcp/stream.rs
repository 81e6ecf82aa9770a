//! One direction of a TCP connection: from segments in capture order to an
//! ordered run of byte chunks and gaps.
//!
//! The rules are those of a receiver (RFC 9293 section 3.10.7.4, "segment
//! text"), applied to what a capture saw rather than what a host got:
//!
//! * Bytes are delivered exactly once, in stream order. The fast path (the
//!   segment starts at or before the reassembly point) delivers straight from
//!   the packet buffer; only out-of-order bytes are copied and held.
//! * Overlaps keep the bytes that arrived first. A retransmission whose bytes
//!   differ from the ones already seen is reported, since the two ends may
//!   have seen different streams.
//! * Bytes the capture never held become a [`Gap`] of known length at a known
//!   offset: lost by the capture (later data, the peer's ACK or the FIN proves
//!   they were sent), cut by the snaplen (the IP length says how many), or
//!   released because a memory cap was reached.

use super::seq::{OffsetMap, SeqNumber};
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Why bytes of a stream are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// Sent (later data, an ACK or the FIN proves it) but not in the capture.
    Lost,
    /// Cut from the end of a packet by the capture's snaplen.
    Snaplen,
    /// Held out-of-order data was released over a hole because a memory cap
    /// was reached.
    Memcap,
}

impl GapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Lost => "lost",
            GapReason::Snaplen => "snaplen",
            GapReason::Memcap => "memcap",
        }
    }
}

/// Bytes of the stream carried by one packet.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    pub offset: u64,
    pub data: &'a [u8],
    pub packet: u64,
    pub ts: Timestamp,
}

/// A run of bytes the capture does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub offset: u64,
    pub len: u64,
    pub reason: GapReason,
    /// The packet whose arrival (or whose missing tail) revealed the gap.
    pub packet: u64,
    pub ts: Timestamp,
}

/// What one direction hands to the layer above.
#[derive(Clone, Copy, Debug)]
pub enum StreamEvent<'a> {
    Data(Chunk<'a>),
    Gap(Gap),
    /// A retransmission carried bytes that differ from the ones first seen
    /// for the same range; the first bytes were kept.
    Conflict {
        offset: u64,
        len: u64,
        packet: u64,
        ts: Timestamp,
    },
}

/// One segment's view for this direction.
#[derive(Clone, Copy, Debug)]
pub struct SegmentIn<'a> {
    pub seq: SeqNumber,
    pub syn: bool,
    pub fin: bool,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload length on the wire (>= `payload.len()`).
    pub payload_len: u32,
    pub packet: u64,
    pub ts: Timestamp,
}

/// Limits on what one direction may hold.
#[derive(Clone, Copy, Debug)]
pub struct HalfLimits {
    pub max_bytes: usize,
    pub max_segments: usize,
}

/// Counters kept per direction, for the connection record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HalfStats {
    /// Payload bytes seen on the wire, retransmissions included.
    pub wire_bytes: u64,
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Bytes seen again (retransmitted or overlapping) and dropped.
    pub duplicate_bytes: u64,
    pub conflicts: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Segments that fell before the start of the stream (mid-stream pickup).
    pub before_start: u64,
    /// Segments out of order on arrival.
    pub out_of_order: u64,
}

/// Held bytes, or a known-length hole (snaplen cut) held in order with them.
#[derive(Debug)]
struct Held {
    len: u64,
    /// Empty for a snaplen hole.
    bytes: Vec<u8>,
    packet: u64,
    ts: Timestamp,
}

impl Held {
    fn is_hole(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// How long an ACK for bytes not yet seen must be old before those bytes
/// are declared lost by the capture.
const ACK_GRACE_NS: i64 = 100_000_000;
/// ... or once this many later segments were held meanwhile.
const ACK_GRACE_SEGMENTS: u32 = 3;

/// Bookkeeping cost of a held piece beyond its bytes, so that floods of
/// one-byte segments hit the cap too.
const HELD_OVERHEAD: usize = 64;

/// A few recently delivered chunks, hashed, so that a retransmission of data
/// already passed up can still be compared without keeping the data.
#[derive(Clone, Copy, Debug, Default)]
struct Recent {
    entries: [(u64, u32, u64); RECENT],
    next: usize,
}

const RECENT: usize = 4;

impl Recent {
    fn record(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.entries[self.next] = (offset, data.len() as u32, hash(data));
        self.next = (self.next + 1) % RECENT;
    }

    /// True when some remembered chunk lies inside `[offset, offset+data.len())`
    /// and the bytes there now hash differently. Returns the differing range.
    fn conflict(&self, offset: u64, data: &[u8]) -> Option<(u64, u64)> {
        let end = offset + data.len() as u64;
        self.entries.iter().find_map(|&(o, len, h)| {
            let e = o + u64::from(len);
            if len == 0 || o < offset || e > end {
                return None;
            }
            let slice = &data[(o - offset) as usize..(e - offset) as usize];
            (hash(slice) != h).then_some((o, u64::from(len)))
        })
    }
}

/// A fast non-cryptographic hash; it only has to tell a changed
/// retransmission from an identical one. Every delivered byte goes through
/// it, so it is foldhash's (16 bytes per multiply; about a quarter faster
/// than the four-lane hash of our own it replaced).
fn hash(data: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x9E37_79B9_7F4A_7C15).hash_one(data)
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Half {
    map: Option<OffsetMap>,
    /// Initial sequence number, when the SYN was seen.
    isn: Option<SeqNumber>,
    /// Everything before this offset was delivered or reported as a gap.
    next: u64,
    /// Offset of the FIN (the end of the stream), once seen.
    fin: Option<u64>,
    /// Highest offset the peer acknowledged.
    acked: u64,
    /// When the peer's ACK first covered bytes not yet seen here.
    acked_ahead_since: Option<Timestamp>,
    /// Segments held since then.
    held_since_ack: u32,
    /// End of the furthest data seen.
    highest: u64,
    held: BTreeMap<u64, Held>,
    held_cost: usize,
    recent: Recent,
    pub stats: HalfStats,
}

impl Half {
    pub fn isn(&self) -> Option<SeqNumber> {
        self.isn
    }

    /// Memory held for out-of-order data, as counted against the caps.
    pub fn held_cost(&self) -> usize {
        self.held_cost
    }

    /// The FIN was seen and every byte before it is accounted for.
    pub fn finished(&self) -> bool {
        self.fin.is_some_and(|f| self.next >= f)
    }

    /// Whether this direction has a sequence-number origin (SYN or data seen).
    pub fn started(&self) -> bool {
        self.map.is_some()
    }

    /// Handles one segment sent in this direction.
    pub fn segment(
        &mut self,
        seg: &SegmentIn<'_>,
        limits: HalfLimits,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if seg.syn {
            // RFC 9293 3.4: the SYN occupies the sequence number ISN; data
            // starts at ISN + 1.
            if self.map.is_none() {
                self.isn = Some(seg.seq);
                self.map = Some(OffsetMap::new(seg.seq.plus(1)));
            }
        }
        let data_seq = if seg.syn { seg.seq.plus(1) } else { seg.seq };
        let map = match self.map {
            Some(m) => m,
            None if seg.payload_len == 0 && !seg.fin => return,
            None => {
                // Picked up mid-stream: the first byte seen is offset 0.
                let m = OffsetMap::new(data_seq);
                self.map = Some(m);
                m
            }
        };
        let Some(off) = map.offset_of(data_seq, self.next) else {
            self.stats.before_start += 1;
            return;
        };
        self.stats.wire_bytes += u64::from(seg.payload_len);
        let captured = &seg.payload[..seg.payload.len().min(seg.payload_len as usize)];
        let missing = u64::from(seg.payload_len) - captured.len() as u64;
        if seg.fin {
            // RFC 9293 3.4: the FIN occupies the sequence number after the
            // last data byte.
            let fin_off = off + u64::from(seg.payload_len);
            self.fin = Some(self.fin.map_or(fin_off, |f| f.min(fin_off)));
        }
        if seg.payload_len == 0 {
            return;
        }
        // Reordered: new bytes arriving after bytes that follow them. Data
        // after a hole the capture lost is not reordered, only held.
        let end = off + u64::from(seg.payload_len);
        if off < self.highest && end > self.next {
            self.stats.out_of_order += 1;
        }
        self.highest = self.highest.max(end);
        if off <= self.next {
            self.in_order(off, captured, missing, seg.packet, seg.ts, out);
            if !self.held.is_empty() {
                self.drain(out);
            }
        } else {
            self.hold(off, captured, missing, seg.packet, seg.ts, out);
            // Later data has arrived while the peer already acknowledged the
            // hole: the hole's bytes were received, so the capture missed
            // them and they will not come again.
            self.release_acked(seg.ts, out);
            self.enforce(limits, out);
        }
    }

    /// Stream offset up to which the peer has acknowledged this direction's
    /// bytes (RFC 9293 3.4), once it has acknowledged any.
    pub fn acked(&self) -> Option<u64> {
        self.map.map(|_| self.acked)
    }

    /// Records the peer's acknowledgment number for this direction, seen
    /// at `ts`.
    pub fn peer_ack(&mut self, ack: SeqNumber, ts: Timestamp) {
        let Some(map) = self.map else { return };
        if let Some(a) = map.offset_of(ack, self.next) {
            // An ACK may also cover the FIN (one past the last byte).
            let a = match self.fin {
                Some(f) if a > f => f,
                _ => a,
            };
            self.acked = self.acked.max(a);
            if self.acked > self.next && self.acked_ahead_since.is_none() {
                self.acked_ahead_since = Some(ts);
                self.held_since_ack = 0;
            }
        }
    }

    /// A segment starting at or before `next`: deliver what is new straight
    /// from the packet.
    fn in_order(
        &mut self,
        off: u64,
        captured: &[u8],
        missing: u64,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        let end = off + captured.len() as u64 + missing;
        if end <= self.next {
            self.stats.duplicate_bytes += end - off;
            self.check_recent(off, captured, packet, ts, out);
            return;
        }
        let skip = self.next - off;
        if skip > 0 {
            self.stats.duplicate_bytes += skip;
            let old = &captured[..(skip as usize).min(captured.len())];
            self.check_recent(off, old, packet, ts, out);
        }
        let fresh = captured.get(skip as usize..).unwrap_or(&[]);
        // Up to the first held piece the bytes are new; beyond it they
        // overlap what is held, where the bytes that came first win.
        let limit = self.held.first_key_value().map_or(u64::MAX, |(&o, _)| o);
        let upto = ((limit - self.next) as usize).min(fresh.len());
        let start = self.next;
        if upto > 0 {
            self.deliver(&fresh[..upto], packet, ts, out);
        }
        if end <= limit {
            if end > self.next {
                self.gap(end - self.next, GapReason::Snaplen, packet, ts, out);
            }
            return;
        }
        let rest = &fresh[upto..];
        let rest_off = start + upto as u64;
        let rest_missing = end - rest_off - rest.len() as u64;
        self.hold(rest_off, rest, rest_missing, packet, ts, out);
    }

    fn check_recent(
        &mut self,
        off: u64,
        old: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if let Some((offset, len)) = self.recent.conflict(off, old) {
            self.stats.conflicts += 1;
            out(StreamEvent::Conflict {
                offset,
                len,
                packet,
                ts,
            });
        }
    }

    fn deliver(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        self.recent.record(self.next, data);
        out(StreamEvent::Data(Chunk {
            offset: self.next,
            data,
            packet,
            ts,
        }));
        self.next += data.len() as u64;
        self.stats.delivered += data.len() as u64;
    }

    fn gap(
        &mut self,
        len: u64,
        reason: GapReason,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        out(StreamEvent::Gap(Gap {
            offset: self.next,
            len,
            reason,
            packet,
            ts,
        }));
        self.next += len;
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
    }

    /// Stores an out-of-order segment, keeping bytes that arrived first where
    /// it overlaps what is already held.
    fn hold(
        &mut self,
        off: u64,
        captured: &[u8],
        missing: u64,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        // The captured bytes, then the snaplen hole after them, each placed
        // into the free ranges between held pieces.
        self.place(off, Piece::Bytes(captured), packet, ts, out);
        if missing > 0 {
            self.place(
                off + captured.len() as u64,
                Piece::Hole(missing),
                packet,
                ts,
                out,
            );
        }
    }

    fn place(
        &mut self,
        start: u64,
        piece: Piece<'_>,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        // A segment the snaplen cut to nothing (or whose captured bytes are
        // all placed already) leaves an empty piece: nothing to place.
        if piece.len() == 0 {
            return;
        }
        let end = start + piece.len();
        let mut cur = start;
        // Walk the held pieces that overlap [start, end), filling the free
        // ranges between them. Held pieces never overlap one another, so
        // after one the next starts at or after `cur`, and what was just
        // inserted (before the piece) is behind `cur`: a fresh lookup per
        // step finds the next piece without collecting the keys first.
        let mut next = self
            .held
            .range(..=start)
            .next_back()
            .or_else(|| self.held.range(start..end).next());
        while let Some((&hs, h)) = next {
            let he = hs + h.len;
            if hs > cur {
                let free_end = hs.min(end);
                self.insert(cur, piece.slice(cur - start, free_end - start), packet, ts);
                cur = free_end;
            }
            if he > cur && cur < end {
                // Overlap [cur, min(he, end)) with what is held: first bytes
                // win.
                let ov_end = he.min(end);
                self.stats.duplicate_bytes += ov_end - cur;
                let h = &self.held[&hs];
                if let (Piece::Bytes(new), false) = (piece, h.is_hole()) {
                    let a = &h.bytes[(cur - hs) as usize..(ov_end - hs) as usize];
                    let b = &new[(cur - start) as usize..(ov_end - start) as usize];
                    if a != b {
                        self.stats.conflicts += 1;
                        out(StreamEvent::Conflict {
                            offset: cur,
                            len: ov_end - cur,
                            packet,
                            ts,
                        });
                    }
                }
                cur = ov_end;
            }
            if cur >= end {
                break;
            }
            next = self.held.range(cur..end).next();
        }
        if cur < end {
            self.insert(cur, piece.slice(cur - start, end - start), packet, ts);
        }
    }

    fn insert(&mut self, off: u64, piece: Piece<'_>, packet: u64, ts: Timestamp) {
        let held = match piece {
            Piece::Bytes(b) => Held {
                len: b.len() as u64,
                bytes: b.to_vec(),
                packet,
                ts,
            },
            Piece::Hole(n) => Held {
                len: n,
                bytes: Vec::new(),
                packet,
                ts,
            },
        };
        if held.len == 0 {
            return;
        }
        self.held_cost += held.bytes.len() + HELD_OVERHEAD;
        self.held.insert(off, held);
    }

    /// Delivers held pieces that have become contiguous with `next`.
    fn drain(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.held.first_entry() {
            let off = *entry.key();
            if off > self.next {
                break;
            }
            let h = entry.remove();
            self.held_cost -= h.bytes.len() + HELD_OVERHEAD;
            let end = off + h.len;
            if end <= self.next {
                self.stats.duplicate_bytes += h.len;
                continue;
            }
            let skip = self.next - off;
            self.stats.duplicate_bytes += skip;
            if h.is_hole() {
                self.gap(end - self.next, GapReason::Snaplen, h.packet, h.ts, out);
            } else {
                self.deliver(&h.bytes[skip as usize..], h.packet, h.ts, out);
            }
        }
    }

    /// Declares the hole before the first held piece lost and delivers on.
    fn skip_hole(&mut self, reason: GapReason, upto: u64, out: &mut impl FnMut(StreamEvent<'_>)) {
        let Some((&first, h)) = self.held.first_key_value() else {
            return;
        };
        let target = first.min(upto);
        if target > self.next {
            let (packet, ts) = (h.packet, h.ts);
            self.gap(target - self.next, reason, packet, ts, out);
        }
        self.drain(out);
    }

    /// The peer acknowledged bytes this direction has not seen, and later
    /// data is here: once the ACK is older than [`ACK_GRACE_NS`] or
    /// [`ACK_GRACE_SEGMENTS`] later segments have been held since, the
    /// hole's bytes were received but missed by the capture, and will not
    /// come again. The grace lets a capture that shows an ACK just before the
    /// data it acknowledges (reordering at the capture point) deliver that
    /// data.
    fn release_acked(&mut self, now: Timestamp, out: &mut impl FnMut(StreamEvent<'_>)) {
        let Some(since) = self.acked_ahead_since else {
            return;
        };
        self.held_since_ack += 1;
        let old = now.0.saturating_sub(since.0) >= ACK_GRACE_NS
            || self.held_since_ack >= ACK_GRACE_SEGMENTS;
        if self.acked <= self.next {
            self.acked_ahead_since = None;
        } else if !self.held.is_empty() && old {
            self.skip_hole(GapReason::Lost, self.acked, out);
            self.acked_ahead_since = (self.acked > self.next).then_some(now);
            self.held_since_ack = 0;
        }
    }

    /// Releases held data over holes until this direction is within its caps.
    fn enforce(&mut self, limits: HalfLimits, out: &mut impl FnMut(StreamEvent<'_>)) {
        while !self.held.is_empty()
            && (self.held_cost > limits.max_bytes || self.held.len() > limits.max_segments)
        {
            self.skip_hole(GapReason::Memcap, u64::MAX, out);
        }
    }

    /// Releases everything held (memory pressure elsewhere): holes become
    /// `Memcap` gaps.
    pub fn release_all(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        while !self.held.is_empty() {
            self.skip_hole(GapReason::Memcap, u64::MAX, out);
        }
    }

    /// The connection is over (FIN, RST, idle or end of capture): deliver
    /// what is held across its holes, then account for bytes proven sent
    /// (up to the FIN or the peer's ACK) but never captured.
    pub fn flush(&mut self, packet: u64, ts: Timestamp, out: &mut impl FnMut(StreamEvent<'_>)) {
        while !self.held.is_empty() {
            self.skip_hole(GapReason::Lost, u64::MAX, out);
        }
        let end = self.fin.unwrap_or(0).max(self.acked);
        if end > self.next {
            self.gap(end - self.next, GapReason::Lost, packet, ts, out);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Piece<'a> {
    Bytes(&'a [u8]),
    Hole(u64),
}

impl<'a> Piece<'a> {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Hole(n) => *n,
        }
    }

    fn slice(&self, from: u64, to: u64) -> Piece<'a> {
        match *self {
            Piece::Bytes(b) => Piece::Bytes(&b[from as usize..to as usize]),
            Piece::Hole(_) => Piece::Hole(to - from),
        }
    }
}

#[cfg(test)]
mod tests;
