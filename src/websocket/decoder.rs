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
//! the decoder then searches the following bytes for a run of plausible
//! headers (a header whose frame ends exactly where another plausible header
//! starts) and reports how many bytes it skipped. It never reports a frame
//! it did not find in this way.

use super::frame::{self, FrameHeader, Opcode, Parsed};
use super::kept::Kept;
use crate::finding::Code;
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

/// Bytes found where a frame should start that are not WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignKind {
    /// An HTTP message (a status line or a request line).
    Http,
    /// A TLS record header.
    Tls,
    /// A header breaking two or more framing rules at once: not a frame.
    Unknown,
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

/// What a plausible header looks like in this direction, for resync.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// RFC 6455 5.3: client frames are masked, server frames are not.
    pub masked: bool,
    /// An extension that uses RSV1 (permessage-deflate) was negotiated.
    pub rsv1: bool,
}

/// Bytes looked at before judging a header that breaks a rule: enough to
/// recognise an HTTP status or request line or a TLS record header.
const PEEK: usize = 24;

/// Bytes searched for a resync point before giving up on a window.
const RESYNC_WINDOW: usize = 64 * 1024;
/// A header claiming more than this is not taken as a resync point.
const RESYNC_MAX_LEN: u64 = 1 << 32;

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
    scan: Kept,
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
            scan: Kept::default(),
            lost_at: 0,
        }
    }

    /// A decoder that does not know where frames start (the capture began
    /// mid-stream, or after a gap): it searches for them as after a loss of
    /// sync, but reports no loss.
    pub fn new_lost(offset: u64, expect: Expect) -> FrameDecoder {
        let mut d = FrameDecoder::new(offset, expect);
        d.state = State::Lost;
        d.lost_at = offset;
        d.scan.reset(offset);
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
                State::Lost => return self.lost_bytes(data, packet, ts, out),
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
                match judge(data, &h, self.expect, false) {
                    Verdict::Frame => {
                        let n = usize::from(h.header_len);
                        self.offset += n as u64;
                        self.start_frame(h, packet, ts, out);
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
            self.decide_buffered(true, packet, ts, out);
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
            Parsed::Complete(h) if violations(&h, self.expect) != (0, 0) => {
                (PEEK as u64).min((hl as u64).saturating_add(h.payload_len)) as usize
            }
            _ => hl,
        }
    }

    /// Decides on the buffered header bytes: a frame (whose first payload
    /// bytes may already be buffered) or foreign bytes.
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
        match judge(&buf[..have], &h, self.expect, complete) {
            Verdict::Foreign(kind) => {
                self.offset -= have as u64;
                self.foreign(kind, &buf[..have], out);
                self.push(&buf[..have], packet, ts, out);
            }
            Verdict::Frame | Verdict::NeedMore => {
                let hl = usize::from(h.header_len);
                self.offset -= (have - hl) as u64;
                self.start_frame(h, packet, ts, out);
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
        self.state = State::Lost;
        self.hdr_have = 0;
        self.lost_at = offset;
        self.offset = offset;
        self.scan.reset(offset);
    }

    fn start_frame(
        &mut self,
        h: FrameHeader,
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
        }));
        self.next_index += 1;
        self.remaining = h.payload_len;
        self.pos = 0;
        self.missing = 0;
        self.last = (packet, ts);
        if h.length_msb_set() {
            // No peer can send 2^63 bytes: report the frame, then look for
            // the next real header right after this one.
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
                self.scan.reset(self.offset);
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
        self.state = State::Lost;
        self.hdr_have = 0;
        self.lost_at = at;
        self.scan.reset(self.offset);
    }

    /// While lost: keep bytes until a confirmed header is found, then decode
    /// from it.
    fn lost_bytes(
        &mut self,
        data: &[u8],
        packet: u64,
        ts: Timestamp,
        out: &mut impl FnMut(DecodeEvent<'_>),
    ) {
        let mut data = data;
        while !data.is_empty() {
            let take = self.scan.push(data, packet, ts, RESYNC_WINDOW);
            self.offset += take as u64;
            data = &data[take..];
            let full = self.scan.len() == RESYNC_WINDOW;
            match find_resync(&mut self.scan, self.expect, full) {
                Search::Found(p) => {
                    self.resync_at(p, out);
                    if !data.is_empty() {
                        // Whatever state resync left us in, continue there.
                        self.push(data, packet, ts, out);
                    }
                    return;
                }
                Search::None | Search::Wait if full => {
                    // Nothing in this window; keep its tail (a header may
                    // straddle the cut) and slide on.
                    self.scan.drop_front(RESYNC_WINDOW - 16);
                }
                Search::None | Search::Wait => {}
            }
        }
    }

    fn resync_at(&mut self, p: usize, out: &mut impl FnMut(DecodeEvent<'_>)) {
        let kept = std::mem::take(&mut self.scan);
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
            State::Lost if !self.scan.is_empty() => {
                // At the very end a single plausible header whose frame ends
                // exactly with the stream is enough.
                if let Some(p) =
                    find_resync_at_end(self.scan.bytes(), &self.scan.starts(), self.expect)
                {
                    self.resync_at(p, out);
                    self.finish(out);
                }
            }
            _ => {}
        }
    }
}

/// What a resync search sees at one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidate {
    /// Not a header a peer following the RFC would send in this direction.
    No,
    /// Too few bytes to tell.
    NeedMore,
    /// A plausible header; the frame's total length.
    Frame(u64),
}

/// Judges the bytes at the start of `buf` as a frame header sent in this
/// direction, within sane limits.
fn candidate(buf: &[u8], expect: Expect) -> Candidate {
    let h = match frame::parse(buf) {
        Parsed::Complete(h) => h,
        Parsed::Incomplete(_) => return Candidate::NeedMore,
    };
    // An empty, non-final continuation is legal but says nothing, and it is
    // what runs of zero bytes look like: never a resync point.
    let empty_fragment = h.opcode == Opcode::CONTINUATION && !h.fin && h.payload_len == 0;
    let ok = violations(&h, expect) == (0, 0)
        && h.payload_len < RESYNC_MAX_LEN
        && (h.opcode != Opcode::CLOSE || h.payload_len != 1)
        && !empty_fragment;
    if ok {
        Candidate::Frame(u64::from(h.header_len) + h.payload_len)
    } else {
        Candidate::No
    }
}

/// Stateless framing rules a header breaks (sections 5.1, 5.2, 5.5), as
/// (strong, weak) counts. Strong rules are the ones random bytes break most
/// (reserved opcode, RSV bits no extension defines, the wrong MASK bit for
/// the direction): two at once are not a frame but garbage. Weak ones
/// (control frame length or fragmentation, length encoding) are what buggy
/// or deliberately crafted peers send, so they never make a header garbage.
fn violations(h: &FrameHeader, expect: Expect) -> (u32, u32) {
    let (mut strong, mut weak) = (0, 0);
    for code in frame::broken_rules(h, expect.masked, expect.rsv1).iter() {
        match code {
            // RSV2/RSV3 and an undefined RSV1 count apart: random bytes
            // set several RSV bits at once.
            Code::RsvBitsWithoutExtension => {
                strong += u32::from(h.rsv2 || h.rsv3) + u32::from(h.rsv1 && !expect.rsv1)
            }
            Code::UnmaskedClientFrame
            | Code::MaskedServerFrame
            | Code::ReservedOpcode
            | Code::Rsv1OnControlFrame => strong += 1,
            Code::ControlFrameTooLong
            | Code::FragmentedControlFrame
            | Code::NonMinimalLength
            | Code::LengthMsbSet => weak += 1,
            // Legal shapes a peer may send by mistake: judged as frames.
            _ => {}
        }
    }
    (strong, weak)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Frame,
    Foreign(ForeignKind),
    /// Suspicious, and too few bytes yet to tell.
    NeedMore,
}

/// Judges the bytes at a frame boundary (`bytes` starts with header `h`).
/// A header that breaks no rule is a frame. Otherwise the first bytes decide:
/// HTTP or TLS text is foreign, two strong broken rules are garbage,
/// anything else is a frame from a peer with a bug. `complete` = no more bytes will come.
fn judge(bytes: &[u8], h: &FrameHeader, expect: Expect, complete: bool) -> Verdict {
    let (strong, weak) = violations(h, expect);
    if strong + weak == 0 {
        return Verdict::Frame;
    }
    let total = u64::from(h.header_len).saturating_add(h.payload_len);
    if !complete && bytes.len() < PEEK && (bytes.len() as u64) < total {
        return Verdict::NeedMore;
    }
    if looks_like_http(bytes) {
        Verdict::Foreign(ForeignKind::Http)
    } else if looks_like_tls(bytes) {
        Verdict::Foreign(ForeignKind::Tls)
    } else if strong >= 2 {
        Verdict::Foreign(ForeignKind::Unknown)
    } else {
        Verdict::Frame
    }
}

/// An HTTP status line or request line.
pub fn looks_like_http(b: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    b.starts_with(b"HTTP/1.")
        || b.starts_with(b"HTTP/2")
        || METHODS.iter().any(|m| b.starts_with(m))
}

/// A TLS record header: content type 20-24, version 3.x, a record length
/// within the limit (RFC 8446 5.1: 2^14 + 256 for ciphertext).
pub fn looks_like_tls(b: &[u8]) -> bool {
    match b {
        [t, 3, minor, hi, lo, ..] => {
            (20..=24).contains(t)
                && *minor <= 4
                && (1..=16640).contains(&u16::from_be_bytes([*hi, *lo]))
        }
        _ => false,
    }
}

/// Headers in a chain that rule out chance.
const CHAIN_PROOF: u32 = 3;

/// Follows frames from `p` (at most [`CHAIN_PROOF`] of them, so a search
/// stays linear): `None` if an implausible header breaks the chain, else
/// the number of headers and whether the last frame ends exactly at the
/// end of `scan`.
fn chain(scan: &[u8], p: usize, expect: Expect) -> Option<(u32, bool)> {
    let mut q = p as u64;
    let mut count = 0;
    while q < scan.len() as u64 && count < CHAIN_PROOF {
        match candidate(&scan[q as usize..], expect) {
            Candidate::No => return None,
            Candidate::NeedMore => return Some((count, false)),
            Candidate::Frame(total) => {
                count += 1;
                q += total;
            }
        }
    }
    Some((count, q == scan.len() as u64))
}

/// Outcome of a resync search over the bytes kept so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Search {
    Found(usize),
    /// A candidate needs more bytes to be confirmed or refuted.
    Wait,
    /// Nothing here.
    None,
}

/// Finds where frames start again in the kept bytes. A position is
/// accepted when the frames from it (followed up to [`CHAIN_PROOF`]
/// headers, or to the end of what is kept) all look like frames a peer
/// following the RFC sends in this direction, with enough of them that
/// chance is ruled out: three headers, or two starting at a packet boundary
/// (senders start writes at segment starts; random positions rarely
/// coincide). Random data passes one header check about once in 60
/// positions, so a single header is never enough in the middle of the
/// stream. `full` means no more bytes will be kept: unconfirmed candidates
/// are then passed over.
fn find_resync(kept: &mut Kept, expect: Expect, full: bool) -> Search {
    let scan = kept.bytes();
    // Positions a chain refutes stay refuted as bytes are added: resume
    // after them, so a search over a window grown byte by byte stays linear.
    let mut open = None;
    let mut found = Search::None;
    for p in kept.searched()..scan.len() {
        let Some((count, _)) = chain(scan, p, expect) else {
            continue;
        };
        open = open.or(Some(p));
        let at_boundary = kept.is_start(p);
        if count >= CHAIN_PROOF || (count >= 2 && at_boundary) {
            found = Search::Found(p);
            break;
        }
        if !full {
            found = Search::Wait;
            break;
        }
        // The window is full and this chain still runs past it: a frame
        // longer than the window. Taken when it starts a packet (where
        // senders start frames); elsewhere it could be payload.
        if count >= 1 && at_boundary {
            found = Search::Found(p);
            break;
        }
    }
    let end = scan.len();
    kept.set_searched(open.unwrap_or(end));
    found
}

/// Whether `bytes` (the first bytes of a direction, `boundaries` = where
/// its packets start) hold a proven run of frames as a peer in this
/// direction sends them: the test used to recognise WebSocket without a
/// handshake.
pub fn proven_frames(kept: &mut Kept, expect: Expect) -> bool {
    matches!(find_resync(kept, expect, false), Search::Found(_))
}

/// At the end of the stream, a chain that ends exactly with it is accepted
/// with one header fewer.
fn find_resync_at_end(scan: &[u8], boundaries: &[usize], expect: Expect) -> Option<usize> {
    (0..scan.len()).find(|&p| {
        let at_boundary = boundaries.binary_search(&p).is_ok();
        matches!(chain(scan, p, expect), Some((n, true)) if n >= 2 || (n >= 1 && at_boundary))
    })
}

#[cfg(test)]
mod tests;
