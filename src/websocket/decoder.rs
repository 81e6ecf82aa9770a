//! Incremental (sans-IO) frame decoder for one direction of a WebSocket
//! connection.
//!
//! It takes the reassembled stream as chunks and gaps, in order, and emits a
//! frame's header once it is complete, then its payload as it passes (never
//! held), then its end. The result does not depend on how the bytes were
//! split into chunks.
//!
//! A gap inside a payload costs nothing: its length is known, so the next
//! header is still found. A gap that covers header bytes loses frame sync;
//! so do a length of 2^63 or more and bytes at a frame boundary that are
//! not a frame (HTTP, TLS, garbage). The decoder then keeps the following
//! bytes, has [`resync`] search them for a run of plausible headers (a
//! header whose frame ends exactly where another plausible header starts),
//! and reports how many bytes it skipped. It never reports a frame it did
//! not find in this way.
//!
//! What the bytes are is [`resync`]'s decision; this module keeps the
//! stream offsets, packets and frame indices exact around it.
//!
//! [`resync`]: super::resync

use super::frame::{self, BrokenRules, FrameHeader, Parsed};
use super::kept::Kept;
use super::resync::{self, Expect, ForeignKind, PEEK, Verdict};
use crate::time::Timestamp;

/// Where a frame starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStart {
    /// Index of the frame in this direction, from 0.
    pub index: u64,
    /// Stream offset of the header's first byte.
    pub offset: u64,
    /// Packet holding the header's first byte, and its time.
    pub packet: u64,
    pub ts: Timestamp,
    pub header: FrameHeader,
    /// The stateless rules the header breaks in this direction (found to
    /// judge it; the validator reports them).
    pub broken: BrokenRules,
}

/// How a frame ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameEnd {
    /// Packet holding the last payload byte (the header's last byte for an
    /// empty payload; the packet that revealed the gap if the last bytes
    /// were not captured).
    pub last_packet: u64,
    pub last_ts: Timestamp,
    /// Payload bytes that fell in capture gaps.
    pub missing: u64,
    /// False when the stream ended before the payload did.
    pub complete: bool,
}

/// Why frame sync was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncLoss {
    /// A capture gap covered (part of) a frame header.
    GapInHeader,
    /// A header announced a length of 2^63 or more: no such frame exists.
    ImpossibleLength,
}

/// What the decoder reports.
#[derive(Clone, Copy, Debug)]
pub enum DecodeEvent<'a> {
    /// A complete header.
    Frame(FrameStart),
    /// Payload bytes as sent (still masked); `pos` is their offset within
    /// the payload.
    Payload {
        data: &'a [u8],
        pos: u64,
        packet: u64,
    },
    /// Payload bytes missing from the capture.
    PayloadGap {
        pos: u64,
        len: u64,
    },
    End(FrameEnd),
    /// Sync lost at stream `offset`.
    SyncLost {
        offset: u64,
        packet: u64,
        ts: Timestamp,
        reason: SyncLoss,
    },
    /// Sync regained: `skipped` bytes (captured or not) between the loss and
    /// the next frame at `offset`.
    Resync {
        offset: u64,
        skipped: u64,
        packet: u64,
        ts: Timestamp,
    },
    /// Bytes that are not a frame where a frame should start; sync is lost
    /// there and the decoder searches for frames after them. `excerpt` holds
    /// the first bytes.
    Foreign {
        offset: u64,
        packet: u64,
        ts: Timestamp,
        kind: ForeignKind,
        excerpt: &'a [u8],
    },
    /// The stream ended before a header was complete (`have` bytes of it).
    PartialHeader {
        offset: u64,
        have: u8,
        packet: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Header,
    Payload,
    Lost,
}

/// Decoder for one direction.
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    expect: Expect,
    /// Stream offset of the next byte.
    offset: u64,
    next_index: u64,
    hdr: [u8; PEEK],
    hdr_have: u8,
    hdr_start: (u64, u64, Timestamp),
    remaining: u64,
    pos: u64,
    missing: u64,
    last: (u64, Timestamp),
    /// While lost: bytes kept for the resync search.
    /// Boxed and only while lost: most directions never lose sync.
    scan: Option<Box<Kept>>,
    lost_at: u64,
}

impl FrameDecoder {
    /// A decoder positioned at a frame boundary at stream `offset`.
    pub fn new(offset: u64, expect: Expect) -> FrameDecoder {
        FrameDecoder {
            state: State::Header,
            expect,
            offset,
            next_index: 0,
            hdr: [0; PEEK],
            hdr_have: 0,
            hdr_start: (offset, 0, Timestamp(0)),
            remaining: 0,
            pos: 0,
            missing: 0,
            last: (0, Timestamp(0)),
            scan: None,
            lost_at: 0,
        }
    }

    /// A decoder that does not know where frames start (the capture began
    /// mid-stream, or after a gap): it searches for them as after a loss of
    /// sync, but reports no loss.
    pub fn new_lost(offset: u64, expect: Expect) -> FrameDecoder {
        let mut d = FrameDecoder::new(offset, expect);
        d.enter_lost(offset);
        d
    }

    pub fn set_expect(&mut self, expect: Expect) {
        self.expect = expect;
    }

    /// Frames started so far.
    pub fn frames(&self) -> u64 {
        self.next_index
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Between frames (no header or payload in progress).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Header && self.hdr_have == 0
    }

    /// Searching for frames after a loss of sync (or before the first
    /// frame of a stream joined mid-way).
    pub fn is_lost(&self) -> bool {
        self.state == State::Lost
    }

    /// Feeds bytes that follow the previous input.
    pub fn push(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let mut data = data;
        while !data.is_empty() {
            let used = match self.state {
                State::Header => self.header_bytes(data, packet, ts, out),
                State::Payload => self.payload_bytes(data, packet, ts, out),
                State::Lost => self.lost_bytes(data, packet, ts, out),
            };
            data = &data[used..];
        }
    }

    fn header_bytes(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) -> usize {
        if self.hdr_have == 0 {
            self.hdr_start = (self.offset, packet, ts);
            // Fast path: the header (and, for a suspicious one, enough bytes
            // to judge it) is in this chunk.
            if let Parsed::Complete(h) = frame::parse(data) {
                // Judged on what the buffered path would see, so that how
                // the stream was split into chunks changes nothing.
                let seen = &data[..data.len().min(PEEK)];
                let broken = self.expect.broken_rules(&h);
                match resync::judge(seen, &h, broken, self.expect, false) {
                    Verdict::Frame => {
                        let n = usize::from(h.header_len);
                        self.offset += n as u64;
                        self.start_frame(h, broken, packet, ts, out);
                        return n;
                    }
                    Verdict::Foreign(kind) => {
                        // Consume nothing: the lost state rescans from here.
                        self.foreign(kind, &data[..data.len().min(PEEK)], out);
                        return 0;
                    }
                    Verdict::NeedMore => {}
                }
            }
        }
        let have = usize::from(self.hdr_have);
        let target = self.peek_target();
        let take = target.saturating_sub(have).min(data.len());
        self.hdr[have..have + take].copy_from_slice(&data[..take]);
        self.hdr_have += take as u8;
        self.offset += take as u64;
        if usize::from(self.hdr_have) == self.peek_target() {
            // All the bytes it takes to judge, but the stream goes on: an
            // empty rest is no chain (as the fast path judges it).
            self.decide_buffered(false, packet, ts, out);
        }
        take
    }

    /// How many bytes to collect before deciding on the buffered header.
    fn peek_target(&self) -> usize {
        let have = usize::from(self.hdr_have);
        if have < 2 {
            return 2;
        }
        let hl = frame::header_len([self.hdr[0], self.hdr[1]]);
        if have < hl {
            return hl;
        }
        match frame::parse(&self.hdr[..hl]) {
            Parsed::Complete(h) if resync::suspicious(&h, self.expect) => {
                // Enough to read HTTP or TLS text, and for a header that
                // looks like garbage, the next header too (RFC 6455 5.2:
                // the frames must chain).
                let next = if resync::needs_chain(&h, self.expect) {
                    14
                } else {
                    0
                };
                let total = (hl as u64).saturating_add(h.payload_len);
                (PEEK as u64).min(total.saturating_add(next)) as usize
            }
            _ => hl,
        }
    }

    /// Decides on the buffered header bytes: a frame (whose first payload
    /// bytes may already be buffered) or foreign bytes. `complete`: the
    /// stream ended.
    fn decide_buffered(
        &mut self,
        complete: bool,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let have = usize::from(self.hdr_have);
        let buf = self.hdr;
        let Parsed::Complete(h) = frame::parse(&buf[..have]) else {
            return;
        };
        self.hdr_have = 0;
        let broken = self.expect.broken_rules(&h);
        match resync::judge(&buf[..have], &h, broken, self.expect, complete) {
            Verdict::Foreign(kind) => {
                self.offset -= have as u64;
                self.foreign(kind, &buf[..have], out);
                self.push(&buf[..have], packet, ts, out);
            }
            Verdict::Frame | Verdict::NeedMore => {
                let hl = usize::from(h.header_len);
                self.offset -= (have - hl) as u64;
                self.start_frame(h, broken, packet, ts, out);
                if have > hl {
                    self.push(&buf[hl..have], packet, ts, out);
                }
            }
        }
    }

    fn foreign(
        &mut self,
        kind: ForeignKind,
        excerpt: &[u8],
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let (offset, packet, ts) = self.hdr_start;
        out(DecodeEvent::Foreign {
            offset,
            packet,
            ts,
            kind,
            excerpt,
        });
        self.offset = offset;
        self.enter_lost(offset);
    }

    fn start_frame(
        &mut self,
        h: FrameHeader,
        broken: BrokenRules,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let (offset, first_packet, first_ts) = self.hdr_start;
        out(DecodeEvent::Frame(FrameStart {
            index: self.next_index,
            offset,
            packet: first_packet,
            ts: first_ts,
            header: h,
            broken,
        }));
        self.next_index += 1;
        self.remaining = h.payload_len;
        self.pos = 0;
        self.missing = 0;
        self.last = (packet, ts);
        if h.length_msb_set() {
            // RFC 6455 5.2 keeps the top bit of a 64-bit length 0, and no
            // peer can send 2^63 bytes: report the frame, then look for the
            // next real header right after this one.
            self.end_frame(false, out);
            self.lose(SyncLoss::ImpossibleLength, packet, ts, out);
        } else if h.payload_len == 0 {
            self.end_frame(true, out);
        } else {
            self.state = State::Payload;
        }
    }

    fn payload_bytes(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) -> usize {
        let take = (data.len() as u64).min(self.remaining) as usize;
        out(DecodeEvent::Payload {
            data: &data[..take],
            pos: self.pos,
            packet,
        });
        self.pos += take as u64;
        self.remaining -= take as u64;
        self.offset += take as u64;
        self.last = (packet, ts);
        if self.remaining == 0 {
            self.end_frame(true, out);
        }
        take
    }

    fn end_frame(&mut self, complete: bool, out: &mut impl FnMut(DecodeEvent<'_>)) {
        out(DecodeEvent::End(FrameEnd {
            last_packet: self.last.0,
            last_ts: self.last.1,
            missing: self.missing,
            complete,
        }));
        self.state = State::Header;
        self.hdr_have = 0;
        self.remaining = 0;
    }

    /// Bytes the capture does not hold, at the current position.
    pub fn gap(
        &mut self,
        len: u64,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let mut len = len;
        if self.state == State::Payload {
            let inside = len.min(self.remaining);
            out(DecodeEvent::PayloadGap {
                pos: self.pos,
                len: inside,
            });
            self.pos += inside;
            self.remaining -= inside;
            self.missing += inside;
            self.offset += inside;
            len -= inside;
            if self.remaining == 0 {
                self.last = (packet, ts);
                self.end_frame(true, out);
            }
        }
        if len == 0 {
            return;
        }
        match self.state {
            State::Header => {
                // The gap covers the start of (at least) one header.
                let at = if self.hdr_have > 0 {
                    self.hdr_start.0
                } else {
                    self.offset
                };
                self.offset += len;
                self.lose_at(at, SyncLoss::GapInHeader, packet, ts, out);
            }
            State::Lost => {
                // Whatever was buffered cannot be contiguous with what follows.
                self.offset += len;
                self.scan.get_or_insert_default().reset(self.offset);
            }
            State::Payload => unreachable!("payload gap handled above"),
        }
    }

    fn lose(
        &mut self,
        reason: SyncLoss,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        self.lose_at(self.offset, reason, packet, ts, out);
    }

    fn lose_at(
        &mut self,
        at: u64,
        reason: SyncLoss,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        out(DecodeEvent::SyncLost {
            offset: at,
            packet,
            ts,
            reason,
        });
        self.enter_lost(at);
    }

    /// Sync was lost at `at`: what follows the current offset is kept for
    /// the resync search, and the bytes from `at` on count as skipped.
    fn enter_lost(&mut self, at: u64) {
        self.state = State::Lost;
        self.hdr_have = 0;
        self.lost_at = at;
        self.scan.get_or_insert_default().reset(self.offset);
    }

    /// While lost: keep bytes until [`resync`] finds where frames start,
    /// then decode from there (the caller goes on in the new state).
    fn lost_bytes(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) -> usize {
        let scan = self.scan.get_or_insert_default();
        let fed = resync::feed(scan, data, packet, ts, self.expect);
        self.offset += fed.taken as u64;
        if let Some(p) = fed.found {
            self.resync_at(p, out);
        }
        fed.taken
    }

    fn resync_at(&mut self, p: usize, out: &mut impl FnMut(DecodeEvent<'_>)) {
        let kept = self.scan.take().unwrap_or_default();
        let at = kept.offset() + p as u64;
        let (packet, ts) = kept.packet_at(p);
        out(DecodeEvent::Resync {
            offset: at,
            skipped: at - self.lost_at,
            packet,
            ts,
        });
        self.state = State::Header;
        self.hdr_have = 0;
        self.offset = at;
        // Replay the kept bytes from the resync point, run by run, so each
        // byte keeps its packet.
        for (_, bytes, pkt, t) in kept.runs_from(p) {
            self.push(bytes, pkt, t, out);
        }
    }

    /// The stream ended: report what was in progress.
    pub fn finish(&mut self, out: &mut impl FnMut(DecodeEvent<'_>)) {
        match self.state {
            State::Payload => self.end_frame(false, out),
            State::Header
                if self.hdr_have >= 2
                    && usize::from(self.hdr_have)
                        >= frame::header_len([self.hdr[0], self.hdr[1]]) =>
            {
                // A suspicious header still waiting for bytes to judge it.
                let (_, packet, ts) = self.hdr_start;
                self.decide_buffered(true, packet, ts, out);
                self.finish(out);
            }
            State::Header if self.hdr_have > 0 => {
                out(DecodeEvent::PartialHeader {
                    offset: self.hdr_start.0,
                    have: self.hdr_have,
                    packet: self.hdr_start.1,
                });
                self.hdr_have = 0;
            }
            State::Lost if self.scan.as_ref().is_some_and(|s| !s.is_empty()) => {
                // At the very end a single plausible header whose frame ends
                // exactly with the stream is enough.
                let scan = self.scan.as_deref().expect("checked");
                if let Some(p) = resync::find_at_end(scan, self.expect) {
                    self.resync_at(p, out);
                    self.finish(out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
