//! Frame handling for one direction of a WebSocket connection: the frame
//! decoder and the validator, turned into frame records.
//!
//! The decoder finds frames in the reassembled stream (and foreign bytes,
//! lost sync, gaps); the validator checks each frame against RFC 6455 and
//! RFC 7692. This part assembles what both say into one [`FrameRecord`] per
//! frame and hands it, finished, to a [`FrameOut`]: the connection, which
//! decides on masking and counts. One record is reused from frame to frame,
//! so a frame costs no allocation unless it has findings.

use crate::finding::{Code, Finding};
use crate::record::{FrameRecord, MaskKey};
use crate::tcp::{CloseReason, Dir, Gap, GapReason};
use crate::time::Timestamp;
use crate::websocket::validate::{self, Scratch, Validator};
use crate::websocket::{DecodeEvent, Expect, ForeignKind, FrameDecoder, Opcode, SyncLoss};

/// Where a direction's frames and connection-level findings go.
pub(super) trait FrameOut {
    /// Buffers shared by all validators.
    fn scratch(&mut self) -> &mut Scratch;
    /// A frame header announcing `payload_len` bytes was decoded.
    fn frame_started(&mut self, d: Dir, payload_len: u64);
    /// A finding about the connection rather than one frame.
    fn finding(&mut self, f: Finding);
    /// A close frame from `d` (in `packet`), with its status code if it
    /// carried one (RFC 6455 5.5.1: the body is optional).
    fn close_frame(&mut self, d: Dir, code: Option<u16>, packet: u64);
    /// What is ending the connection, while it is being closed.
    fn ending(&self) -> Option<CloseReason>;
    /// How far direction `d`'s stream had been acknowledged by the other
    /// side as of the packet now delivered.
    fn acked(&self, d: Dir) -> Option<u64>;
    /// A frame is complete (or cut short): the record is final. `acked`:
    /// how much of the other direction its sender had acknowledged when it
    /// sent the frame, what it had received by then.
    fn frame_done(&mut self, rec: &mut FrameRecord, acked: Option<u64>);
}

/// No acknowledgment seen.
const NOT_ACKED: u64 = u64::MAX;

/// How frames of one direction are checked.
#[derive(Clone, Copy, Debug)]
pub(super) struct FrameConfig {
    pub deflate: Option<crate::websocket::handshake::Deflate>,
    pub max_payload: Option<u64>,
    pub max_inflated: u64,
    /// Payload bytes kept for each frame's preview; 0 for none.
    pub preview: usize,
    /// The handshake was cut by the snaplen: RSV1 may mean compressed.
    pub extensions_unknown: bool,
}

/// One direction's decoder, validator and the frame being assembled.
pub(super) struct DirFrames {
    dec: FrameDecoder,
    frame: Assembly,
}

/// The validator and the record it fills (apart from the decoder, which
/// calls back into it).
struct Assembly {
    val: Validator,
    rec: FrameRecord,
    /// A frame has started and not ended.
    open: bool,
    /// How much of the other direction the sender had acknowledged when
    /// the frame's header was sent ([`NOT_ACKED`] when unknown: one word,
    /// as every direction of every connection has one).
    acked: u64,
}

impl DirFrames {
    /// Frames of direction `d` from stream `offset`; `aligned` when a frame
    /// is known to start there (else sync is searched for first).
    pub fn new(conn: u64, d: Dir, offset: u64, aligned: bool, cfg: FrameConfig) -> DirFrames {
        // Resync and foreign-byte detection accept RSV1 only where it can
        // mean "compressed" (RFC 7692 6).
        let expect = Expect {
            masked: d == Dir::ClientToServer,
            rsv1: cfg.deflate.is_some() || cfg.extensions_unknown,
        };
        let dec = if aligned {
            FrameDecoder::new(offset, expect)
        } else {
            FrameDecoder::new_lost(offset, expect)
        };
        let mut val = Validator::new(validate::Config {
            from_client: d == Dir::ClientToServer,
            deflate: cfg.deflate,
            max_payload: cfg.max_payload,
            max_inflated: cfg.max_inflated,
            preview: cfg.preview,
            extensions_unknown: cfg.extensions_unknown,
        });
        if !aligned {
            val.lost_sync();
        }
        DirFrames {
            dec,
            frame: Assembly {
                val,
                rec: FrameRecord::empty(conn, d),
                open: false,
                acked: NOT_ACKED,
            },
        }
    }

    /// Frames of the WebSocket on HTTP/2 stream `id` (RFC 8441): their
    /// records say so.
    pub fn on_h2_stream(mut self, id: u32) -> DirFrames {
        self.frame.rec.h2_stream = Some(id);
        self
    }

    /// This direction has sent its close frame.
    pub fn close_sent(&self) -> bool {
        self.frame.val.close_sent()
    }

    /// Frames started so far in this direction.
    pub fn frames(&self) -> u64 {
        self.dec.frames()
    }

    /// Still searching for where frames start: frames it finds later may
    /// begin before ones the other direction already gave.
    pub fn searching(&self) -> bool {
        self.dec.is_lost()
    }

    pub fn push(&mut self, data: &[u8], packet: u64, ts: Timestamp, out: &mut impl FrameOut) {
        let frame = &mut self.frame;
        self.dec
            .push(data, packet, ts, &mut |ev| frame.event(ev, None, out));
    }

    pub fn gap(&mut self, gap: Gap, out: &mut impl FrameOut) {
        let frame = &mut self.frame;
        self.dec.gap(gap.len, gap.packet, gap.ts, &mut |ev| {
            frame.event(ev, Some(gap), out)
        });
    }

    /// The stream ended: a frame or header in progress is cut short.
    pub fn finish(&mut self, out: &mut impl FrameOut) {
        let frame = &mut self.frame;
        self.dec.finish(&mut |ev| frame.event(ev, None, out));
    }
}

/// The finding code for bytes missing for `reason`, and why they are.
pub(super) fn gap_finding(reason: GapReason) -> (Code, &'static str) {
    match reason {
        GapReason::Snaplen => (Code::TruncatedPayload, "cut by the snaplen"),
        GapReason::Lost => (Code::CaptureGap, "lost by the capture"),
        GapReason::Memcap => (
            Code::CaptureGap,
            "released over a hole by the reassembly memory cap",
        ),
    }
}

/// What cut a frame short, for `incomplete_frame_at_end`: a peer closing
/// mid-frame is not the capture's fault.
fn ending_text(reason: Option<CloseReason>) -> &'static str {
    match reason {
        Some(CloseReason::Fin) => "the connection was closed (FIN)",
        Some(CloseReason::Rst) => "the connection was reset (RST)",
        Some(CloseReason::Reused) => "a new connection reused the 4-tuple",
        Some(CloseReason::Idle) => "the connection went idle past the timeout",
        Some(CloseReason::Evicted) => "the connection was retired (too many open at once)",
        Some(CloseReason::Interrupted) => "the run was interrupted",
        Some(CloseReason::EndOfCapture) | None => "the capture ends",
    }
}

impl Assembly {
    /// One decoder event. `gap` is set when it comes from a stream gap (its
    /// reason names the finding).
    ///
    /// Inlined into the decoder's calls, so that each goes straight to what
    /// handles its event: every frame makes three (its start, its payload,
    /// its end), and through one function that chose among all events each
    /// paid for a call, the event's copy and the choice.
    #[inline(always)]
    fn event(&mut self, ev: DecodeEvent<'_>, gap: Option<Gap>, out: &mut impl FrameOut) {
        match ev {
            DecodeEvent::Frame(start) => self.start(start, out),
            DecodeEvent::Payload { data, pos, .. } => self.payload(data, pos, out),
            DecodeEvent::End(end) => self.end(end, out),
            other => self.rare_event(other, gap, out),
        }
    }

    /// Payload bytes as sent, `pos` bytes into the frame's payload.
    fn payload(&mut self, data: &[u8], pos: u64, out: &mut impl FrameOut) {
        if self.open {
            self.rec.payload_captured += data.len() as u64;
            self.val
                .payload(data, pos, out.scratch(), &mut self.rec.findings);
        }
    }

    /// The events that are not a frame's start, payload or end: gaps, and
    /// where frame sync is lost and found.
    fn rare_event(&mut self, ev: DecodeEvent<'_>, gap: Option<Gap>, out: &mut impl FrameOut) {
        let d = self.rec.dir;
        match ev {
            DecodeEvent::Frame(start) => self.start(start, out),
            DecodeEvent::Payload { data, pos, .. } => self.payload(data, pos, out),
            DecodeEvent::End(end) => self.end(end, out),
            DecodeEvent::PayloadGap { pos, len } => self.payload_gap(pos, len, gap),
            DecodeEvent::SyncLost {
                offset,
                packet,
                reason,
                ..
            } => {
                self.val.lost_sync();
                // A header length of 2^63 is reported on its frame; a gap
                // over a header is worth saying where sync went.
                if reason == SyncLoss::GapInHeader {
                    let detail = format!(
                        "bytes missing where a frame header should be (stream offset {offset}); frame sync lost"
                    );
                    out.finding(Finding::new(Code::CaptureGap, detail).at(packet));
                }
            }
            DecodeEvent::Foreign {
                offset,
                packet,
                kind,
                excerpt,
                ..
            } => {
                self.val.lost_sync();
                out.finding(foreign_finding(d, offset, packet, kind, excerpt));
            }
            DecodeEvent::Resync {
                offset,
                skipped,
                packet,
                ..
            } => {
                self.val.lost_sync();
                if skipped > 0 {
                    let detail =
                        format!("skipped {skipped} bytes; frames resume at stream offset {offset}");
                    out.finding(Finding::new(Code::Resynchronized, detail).at(packet));
                }
            }
            DecodeEvent::PartialHeader {
                offset,
                have,
                packet,
            } => {
                let detail = format!(
                    "{} after {have} bytes of a frame header at stream offset {offset}",
                    ending_text(out.ending())
                );
                out.finding(Finding::new(Code::IncompleteFrameAtEnd, detail).at(packet));
            }
        }
    }

    /// A complete header: the record is reset and filled from it (RFC 6455
    /// 5.2), and the header rules checked.
    fn start(&mut self, start: crate::websocket::FrameStart, out: &mut impl FrameOut) {
        let h = start.header;
        out.frame_started(self.rec.dir, h.payload_len);
        self.acked = out.acked(self.rec.dir.reverse()).unwrap_or(NOT_ACKED);
        let r = &mut self.rec;
        r.index = start.index;
        r.packet = start.packet;
        r.last_packet = start.packet;
        r.ts = start.ts;
        r.offset = start.offset;
        r.fin = h.fin;
        r.rsv1 = h.rsv1;
        r.rsv2 = h.rsv2;
        r.rsv3 = h.rsv3;
        r.opcode = h.opcode;
        r.mask_key = h.mask.map(MaskKey);
        r.payload_len = h.payload_len;
        r.header_len = h.header_len;
        r.compressed = false;
        r.inflated_len = None;
        r.close_code = None;
        r.close_reason = None;
        r.preview.clear();
        r.payload_missing = 0;
        r.payload_captured = 0;
        r.complete = true;
        r.findings.clear();
        self.val.judged_header(&h, start.broken, &mut r.findings);
        self.open = true;
    }

    fn payload_gap(&mut self, pos: u64, len: u64, gap: Option<Gap>) {
        self.val.gap();
        if let (true, Some(g)) = (self.open, gap) {
            let (code, why) = gap_finding(g.reason);
            // One finding per frame and code, however many packets.
            if !self.rec.findings.iter().any(|f| f.code == code) {
                let detail = format!("payload bytes from {pos} ({len} bytes) {why}");
                self.rec
                    .findings
                    .push(Finding::new(code, detail).at(g.packet));
            }
        }
    }

    fn end(&mut self, end: crate::websocket::FrameEnd, out: &mut impl FrameOut) {
        if !std::mem::take(&mut self.open) {
            return;
        }
        let r = &mut self.rec;
        let facts = self.val.end(end.complete, out.scratch(), &mut r.findings);
        self.val.swap_preview(&mut r.preview);
        r.compressed = facts.compressed;
        r.inflated_len = facts.inflated;
        r.close_code = facts.close_code;
        r.close_reason = facts.close_reason;
        if r.opcode == Opcode::CLOSE {
            out.close_frame(r.dir, facts.close_code, r.packet);
        }
        r.last_packet = end.last_packet;
        r.payload_missing = end.missing;
        r.complete = end.complete;
        // A length of 2^63 or more is reported as length_msb_set instead.
        if !end.complete && r.payload_len >> 63 == 0 {
            let detail = format!(
                "{} inside this frame ({} payload bytes announced)",
                ending_text(out.ending()),
                r.payload_len
            );
            r.findings
                .push(Finding::new(Code::IncompleteFrameAtEnd, detail));
        }
        let acked = (self.acked != NOT_ACKED).then_some(self.acked);
        out.frame_done(r, acked);
        if r.findings.capacity() > 0 {
            // Frames with findings are rare: their buffer is not kept for
            // the next frame (tens of thousands of idle connections would
            // each keep one).
            r.findings = Vec::new();
        }
    }
}

/// Bytes that are not a frame where one should start (RFC 6455 5.2).
fn foreign_finding(d: Dir, offset: u64, packet: u64, kind: ForeignKind, bytes: &[u8]) -> Finding {
    let (code, what) = match kind {
        ForeignKind::Http => (Code::HttpInWebsocketStream, "HTTP"),
        ForeignKind::Tls => (Code::TlsInWebsocketStream, "a TLS record"),
        ForeignKind::Unknown => (Code::UnparseableFrameData, "bytes that are not a frame"),
    };
    let detail = format!(
        "{what} where a {} frame should start (stream offset {offset}): {}",
        d.as_str(),
        crate::text::excerpt(bytes)
    );
    Finding::new(code, detail).at(packet)
}
