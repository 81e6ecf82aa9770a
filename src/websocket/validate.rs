//! Protocol validation for one direction of a WebSocket connection: every
//! rule of RFC 6455 sections 5-8 and RFC 7692 that frames in a capture can
//! show broken.
//!
//! It follows the decoder's events (header, payload pieces, gaps, end) and
//! keeps only what the checks need: the fragmentation state, a UTF-8 tail of
//! at most three bytes, a control frame's payload (at most 125 bytes) and,
//! with permessage-deflate, the inflater. Payloads pass through; binary
//! payloads that are not compressed are not even unmasked.

use super::frame::{BrokenRules, FrameHeader, Opcode, broken_rules};
use super::handshake::Deflate;
use crate::finding::{Code, Finding};
use crate::text::{Text, utf8_width};
use flate2::{Decompress, FlushDecompress, Status};

/// How the checks are configured for a direction.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Client-to-server: frames must be masked (section 5.1).
    pub from_client: bool,
    pub deflate: Option<Deflate>,
    /// `--max-payload`: frames above it get `frame_exceeds_limit`.
    pub max_payload: Option<u64>,
    /// Inflated bytes allowed per message.
    pub max_inflated: u64,
    /// Bytes of each frame's unmasked (inflated) payload to keep as a
    /// preview; 0 for none.
    pub preview: usize,
    /// Which extensions were negotiated is not known (the handshake was cut
    /// by the snaplen): RSV1 may mean "compressed", and is not judged.
    pub extensions_unknown: bool,
}

/// Facts about a frame learnt from its payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameFacts {
    pub close_code: Option<u16>,
    pub close_reason: Option<Text>,
    /// Part of a permessage-deflate compressed message.
    pub compressed: bool,
    /// Bytes this compressed frame inflated to, when it could be inflated
    /// whole (RFC 7692 7.2.2).
    pub inflated: Option<u64>,
}

/// Reusable buffers shared by all validators (the analysis is sequential).
pub struct Scratch {
    unmasked: Vec<u8>,
    inflated: Box<[u8]>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            unmasked: Vec::with_capacity(64 * 1024),
            inflated: vec![0; 32 * 1024].into_boxed_slice(),
        }
    }
}

/// Incremental UTF-8 check across fragments and chunk boundaries.
#[derive(Clone, Copy, Debug, Default)]
struct Utf8 {
    tail: [u8; 4],
    tail_len: u8,
    /// Bytes checked so far in this message.
    seen: u64,
    bad: Option<u64>,
}

/// Where bytes stop being UTF-8: the number of valid bytes before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Utf8Error {
    /// An invalid byte follows.
    Invalid(usize),
    /// The bytes end inside a character, which may go on in the next ones.
    Cut(usize),
}

/// `std::str::from_utf8`'s verdict on `data`, from simdutf8 (its SIMD
/// chosen at run time): 64 bytes a step whatever they hold, where a check
/// that skipped ASCII a word at a time went back to one character at a
/// time at each other one, every few dozen bytes in text that is not
/// English. On the mixed benchmark's first 10 MB, where a thousand
/// connections open at once and the analysis thread is the busier, that
/// check was a fifth of the thread.
fn check_utf8(data: &[u8]) -> Result<(), Utf8Error> {
    simdutf8::compat::from_utf8(data)
        .map(|_| ())
        .map_err(|e| match e.error_len() {
            None => Utf8Error::Cut(e.valid_up_to()),
            Some(_) => Utf8Error::Invalid(e.valid_up_to()),
        })
}

impl Utf8 {
    fn reset(&mut self) {
        *self = Utf8::default();
    }

    /// Feeds bytes; returns the message offset of the first invalid byte the
    /// first time one is found.
    fn feed(&mut self, mut data: &[u8]) -> Option<u64> {
        if self.bad.is_some() {
            return None;
        }
        if self.tail_len > 0 {
            // Complete the character split at the previous boundary.
            let have = usize::from(self.tail_len);
            let need = utf8_width(self.tail[0]) - have;
            let take = need.min(data.len());
            self.tail[have..have + take].copy_from_slice(&data[..take]);
            self.tail_len += take as u8;
            data = &data[take..];
            self.seen += take as u64;
            let t = &self.tail[..usize::from(self.tail_len)];
            match std::str::from_utf8(t) {
                Ok(_) => self.tail_len = 0,
                Err(e) if e.error_len().is_none() => return None,
                Err(_) => return self.fail(self.seen - take as u64 - have as u64),
            }
        }
        match check_utf8(data) {
            Ok(()) => self.seen += data.len() as u64,
            Err(Utf8Error::Invalid(valid)) => return self.fail(self.seen + valid as u64),
            Err(Utf8Error::Cut(valid)) => {
                let rest = &data[valid..];
                self.tail[..rest.len()].copy_from_slice(rest);
                self.tail_len = rest.len() as u8;
                self.seen += data.len() as u64;
            }
        }
        None
    }

    fn fail(&mut self, at: u64) -> Option<u64> {
        self.bad = Some(at);
        Some(at)
    }

    /// The message ended: a character cut at the end is invalid.
    fn finish(&mut self) -> Option<u64> {
        if self.bad.is_none() && self.tail_len > 0 {
            let at = self.seen - u64::from(self.tail_len);
            self.tail_len = 0;
            return self.fail(at);
        }
        None
    }
}

/// XORs `src` with `key` (starting `pos` bytes into the payload) into the
/// start of `dst`, grown to hold it if need be, and returns those bytes.
/// One pass, eight bytes at a time from `src` to `dst` (it vectorises); a
/// copy then an XOR in place went over the bytes twice, the copy a call to
/// memcpy.
pub fn unmask_into<'a>(src: &[u8], key: [u8; 4], pos: u64, dst: &'a mut Vec<u8>) -> &'a [u8] {
    if dst.len() < src.len() {
        dst.resize(src.len(), 0);
    }
    let r = (pos % 4) as usize;
    let k = [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]];
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut to = dst[..src.len()].chunks_exact_mut(8);
    let mut from = src.chunks_exact(8);
    for (t, f) in (&mut to).zip(&mut from) {
        let v = u64::from_ne_bytes(f.try_into().expect("8-byte chunk")) ^ wide;
        t.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = to.into_remainder().iter_mut().zip(from.remainder());
    for (i, (t, f)) in rest.enumerate() {
        *t = f ^ k[i % 4];
    }
    &dst[..src.len()]
}

/// The message being sent in fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Message {
    text: bool,
    compressed: bool,
}

/// What the current frame's payload is checked for.
#[derive(Clone, Copy, Debug, Default)]
struct Current {
    opcode: u8,
    mask: Option<[u8; 4]>,
    control: bool,
    /// UTF-8 is checked on this frame's (inflated) payload.
    text: bool,
    compressed: bool,
    /// Ends its message (FIN on a data frame).
    ends_message: bool,
    /// Some of the payload is missing from the capture.
    missing: bool,
    /// The message's inflated bytes when this frame began.
    inflated_at_start: u64,
}

pub struct Validator {
    cfg: Config,
    message: Option<Message>,
    close_sent: bool,
    cur: Current,
    /// The current control frame's payload (RFC 6455 5.5: at most 125
    /// bytes), boxed when the first one comes: tens of thousands of
    /// connections that have sent none keep no room for one.
    control: Option<Box<[u8; 125]>>,
    control_len: usize,
    utf8: Utf8,
    inflater: Option<Box<Decompress>>,
    /// Inflating stopped (a gap or an error lost the shared window).
    inflate_dead: bool,
    inflated: u64,
    /// The current message's inflation already failed or hit the limit.
    message_inflate_failed: bool,
    /// The sender ended its deflate stream with a final block (RFC 7692
    /// 7.2.3.4 allows it): nothing more inflates until the next message.
    stream_ended: bool,
    /// This message follows such an end while the sender keeps its window:
    /// it may refer to bytes a fresh inflater never saw, so a failure here
    /// stops inflating quietly instead of blaming the data.
    after_final: bool,
    /// Frame sync was lost (or never had: a capture started mid-stream), so
    /// whether a fragmented message is open is unknown until the next frame
    /// that starts or ends one.
    unknown_message: bool,
    preview: Vec<u8>,
}

impl Validator {
    /// This direction sent its close frame (RFC 6455 5.5.1).
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    pub fn new(cfg: Config) -> Validator {
        Validator {
            cfg,
            message: None,
            close_sent: false,
            cur: Current::default(),
            control: None,
            control_len: 0,
            utf8: Utf8::default(),
            inflater: None,
            inflate_dead: false,
            inflated: 0,
            message_inflate_failed: false,
            stream_ended: false,
            after_final: false,
            unknown_message: false,
            preview: Vec::new(),
        }
    }

    /// Keeps bytes for the preview, up to the configured length.
    fn keep(&mut self, bytes: &[u8]) {
        let room = self.cfg.preview.saturating_sub(self.preview.len());
        self.preview
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Bytes were skipped (sync lost, foreign bytes, a capture that starts
    /// mid-stream): message state is unknown and, with context takeover,
    /// so is the sender's compression window.
    pub fn lost_sync(&mut self) {
        self.message = None;
        self.unknown_message = true;
        self.utf8.reset();
        if self.cfg.deflate.is_some() && !self.no_context_takeover() {
            self.inflate_dead = true;
        }
    }

    /// Whether the sender resets its compression context per message.
    fn no_context_takeover(&self) -> bool {
        self.cfg.deflate.is_some_and(|d| {
            if self.cfg.from_client {
                d.client_no_context_takeover
            } else {
                d.server_no_context_takeover
            }
        })
    }

    /// Checks a frame header; findings go to `out`.
    pub fn header(&mut self, h: &FrameHeader, out: &mut Vec<Finding>) {
        let rsv1 = self.cfg.deflate.is_some() || self.cfg.extensions_unknown;
        let broken = broken_rules(h, self.cfg.from_client, rsv1);
        self.judged_header(h, broken, out);
    }

    /// [`Validator::header`] for a header whose stateless rules the frame
    /// decoder has already checked (`broken`, what [`broken_rules`] gives
    /// for this direction and extensions): every frame header is, to tell
    /// frames from other bytes. Inlined (the hint), like [`Validator::end`]:
    /// called for every frame, from one place.
    #[inline]
    pub fn judged_header(&mut self, h: &FrameHeader, broken: BrokenRules, out: &mut Vec<Finding>) {
        debug_assert_eq!(
            broken,
            broken_rules(
                h,
                self.cfg.from_client,
                self.cfg.deflate.is_some() || self.cfg.extensions_unknown
            ),
            "the decoder judged the header as this direction's"
        );
        let over_limit = self.cfg.max_payload.is_some_and(|l| h.payload_len > l);
        if !broken.is_empty() || self.close_sent || over_limit {
            self.header_findings(h, broken, out);
        }
        self.begin(h, out);
    }

    /// The findings of a header that breaks a rule. Apart from
    /// [`Validator::header`]: what only they need stays off the path of
    /// every frame (the compiler had hoisted it there).
    #[cold]
    fn header_findings(&self, h: &FrameHeader, broken: BrokenRules, out: &mut Vec<Finding>) {
        let op = h.opcode;
        let mut add = |code, detail: String| out.push(Finding::new(code, detail));
        for code in broken.iter() {
            add(code, rule_detail(code, h));
        }
        if self.close_sent {
            add(
                Code::DataAfterClose,
                format!("{} frame after this endpoint's close frame", op.name()),
            );
        }
        if let Some(limit) = self.cfg.max_payload
            && h.payload_len > limit
        {
            add(
                Code::FrameExceedsLimit,
                format!(
                    "payload of {} bytes exceeds --max-payload {limit}",
                    h.payload_len
                ),
            );
        }
    }

    /// Fragmentation (section 5.4) and what the payload will be checked for.
    fn begin(&mut self, h: &FrameHeader, out: &mut Vec<Finding>) {
        let op = h.opcode;
        self.cur = Current {
            opcode: op.0,
            mask: h.mask,
            control: op.is_control(),
            ..Current::default()
        };
        self.control_len = 0;
        self.preview.clear();
        if op.is_control() || op.is_reserved() {
            return;
        }
        let message = if op == Opcode::CONTINUATION {
            match self.message {
                Some(m) => m,
                None if self.unknown_message => {
                    // The start of this message was not seen.
                    self.unknown_message = !h.fin;
                    return;
                }
                None => {
                    out.push(Finding::new(
                        Code::ContinuationWithoutStart,
                        "continuation frame with no fragmented message in progress",
                    ));
                    return;
                }
            }
        } else {
            self.unknown_message = false;
            if self.message.is_some() {
                out.push(Finding::new(
                    Code::DataFrameDuringFragmentation,
                    format!(
                        "{} frame while a fragmented message is still open",
                        op.name()
                    ),
                ));
            }
            let m = Message {
                text: op == Opcode::TEXT,
                compressed: h.rsv1 && self.cfg.deflate.is_some(),
            };
            self.start_message(m);
            m
        };
        self.message = (!h.fin).then_some(message);
        self.cur.text = message.text;
        self.cur.compressed = message.compressed;
        self.cur.ends_message = h.fin;
        self.cur.inflated_at_start = self.inflated;
    }

    fn start_message(&mut self, m: Message) {
        self.utf8.reset();
        self.inflated = 0;
        self.message_inflate_failed = false;
        let takeover = !self.no_context_takeover();
        if m.compressed && !self.inflate_dead {
            let ended = std::mem::take(&mut self.stream_ended);
            self.after_final = ended && takeover;
            match &mut self.inflater {
                Some(d) if !takeover || ended => d.reset(false),
                Some(_) => {}
                None => self.inflater = Some(Box::new(Decompress::new(false))),
            }
        }
    }

    /// Payload bytes as sent, `pos` bytes into the frame's payload.
    pub fn payload(
        &mut self,
        data: &[u8],
        pos: u64,
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) {
        let c = self.cur;
        if c.control {
            let start = (pos as usize).min(125);
            let take = data.len().min(125 - start);
            if take > 0 {
                let bytes = unmasked(&data[..take], c.mask, pos, &mut scratch.unmasked);
                let control = self.control.get_or_insert_with(|| Box::new([0; 125]));
                control[start..start + take].copy_from_slice(bytes);
                self.control_len = self.control_len.max(start + take);
            }
            return;
        }
        if c.missing {
            return;
        }
        if !(c.text || c.compressed) {
            // Binary data is only unmasked for the preview.
            let want = self
                .cfg
                .preview
                .saturating_sub(self.preview.len())
                .min(data.len());
            if want > 0 {
                let bytes = unmasked(&data[..want], c.mask, pos, &mut scratch.unmasked);
                self.preview.extend_from_slice(bytes);
            }
            return;
        }
        let Scratch {
            unmasked: buf,
            inflated,
        } = scratch;
        let bytes = unmasked(data, c.mask, pos, buf);
        if c.compressed {
            self.inflate(bytes, inflated, out);
            return;
        }
        self.keep(bytes);
        if let Some(at) = self.utf8.feed(bytes) {
            out.push(Finding::new(
                Code::InvalidUtf8,
                format!("invalid UTF-8 at byte {at} of the text message"),
            ));
        }
    }

    fn inflate(&mut self, mut input: &[u8], buf: &mut [u8], out: &mut Vec<Finding>) {
        if self.inflate_dead || self.message_inflate_failed || self.stream_ended {
            return;
        }
        let takeover = !self.no_context_takeover();
        let Some(d) = self.inflater.as_deref_mut() else {
            return;
        };
        loop {
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d.decompress(input, buf, FlushDecompress::None);
            let used = (d.total_in() - in0) as usize;
            let made = (d.total_out() - out0) as usize;
            input = &input[used..];
            // What this call inflated is checked even when it then failed.
            self.inflated += made as u64;
            let room = self.cfg.preview.saturating_sub(self.preview.len());
            self.preview.extend_from_slice(&buf[..made.min(room)]);
            if self.cur.text
                && let Some(at) = self.utf8.feed(&buf[..made])
            {
                out.push(Finding::new(
                    Code::InvalidUtf8,
                    format!("invalid UTF-8 at byte {at} of the inflated text message"),
                ));
            }
            let status = match status {
                Ok(s) => s,
                Err(_) if self.after_final => {
                    self.inflate_dead = true;
                    self.message_inflate_failed = true;
                    return;
                }
                Err(e) => {
                    out.push(Finding::new(
                        Code::DeflateError,
                        format!("compressed message does not inflate: {e}"),
                    ));
                    self.message_inflate_failed = true;
                    // The sender's window is now unknown.
                    self.inflate_dead = takeover;
                    return;
                }
            };
            if self.inflated > self.cfg.max_inflated {
                out.push(Finding::new(
                    Code::DecompressionLimitExceeded,
                    format!(
                        "message inflates past {} bytes; inflation stopped",
                        self.cfg.max_inflated
                    ),
                ));
                self.message_inflate_failed = true;
                self.inflate_dead = takeover;
                return;
            }
            if status == Status::StreamEnd {
                // A final deflate block: nothing more inflates in this message.
                self.stream_ended = true;
                return;
            }
            if made < buf.len() && input.is_empty() {
                return;
            }
            if used == 0 && made == 0 {
                return;
            }
        }
    }

    /// Payload bytes missing from the capture.
    pub fn gap(&mut self) {
        self.cur.missing = true;
        if self.cur.compressed {
            self.message_inflate_failed = true;
            self.inflate_dead = !self.no_context_takeover();
        }
        // UTF-8 across a hole cannot be judged.
        self.utf8.bad = Some(u64::MAX);
    }

    /// The frame ended (`complete` = all of its payload was in the capture
    /// up to its last byte, which may still include gaps).
    #[inline]
    pub fn end(
        &mut self,
        complete: bool,
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) -> FrameFacts {
        let c = self.cur;
        let mut facts = FrameFacts {
            compressed: c.compressed,
            ..FrameFacts::default()
        };
        if self.cfg.preview > 0 && c.control {
            let n = self.control_len.min(self.cfg.preview);
            self.preview.clear();
            if let Some(control) = &self.control {
                self.preview.extend_from_slice(&control[..n]);
            }
        }
        if c.opcode == Opcode::CLOSE.0 {
            if complete && !c.missing {
                self.close_body(&mut facts, out);
            }
            self.close_sent = true;
        }
        if c.ends_message && complete && !c.missing {
            if c.compressed && !self.inflate_dead && !self.message_inflate_failed {
                // RFC 7692 7.2.2: append 0x00 0x00 0xff 0xff before inflating
                // the message's last bytes.
                self.inflate(&[0x00, 0x00, 0xff, 0xff], &mut scratch.inflated, out);
            }
            // A character cut by an inflation failure is not the sender's.
            if c.text
                && !(c.compressed && (self.message_inflate_failed || self.inflate_dead))
                && let Some(at) = self.utf8.finish().filter(|&a| a != u64::MAX)
            {
                out.push(Finding::new(
                    Code::InvalidUtf8,
                    format!("text message ends inside a UTF-8 sequence (byte {at})"),
                ));
            }
        }
        let whole = complete && !c.missing && !self.inflate_dead && !self.message_inflate_failed;
        if c.compressed && whole {
            facts.inflated = Some(self.inflated - c.inflated_at_start);
        }
        facts
    }

    /// The current control frame's payload bytes so far.
    fn control_body(&self) -> &[u8] {
        self.control
            .as_deref()
            .map_or(&[], |c| &c[..self.control_len])
    }

    /// The ended frame's first payload bytes as the application sees them
    /// (unmasked, inflated; empty when no preview was asked for).
    pub fn preview(&self) -> &[u8] {
        &self.preview
    }

    /// Swaps the ended frame's preview into `buf` (whose old contents the
    /// next frame clears): no copy and no allocation per frame.
    pub fn swap_preview(&mut self, buf: &mut Vec<u8>) {
        std::mem::swap(&mut self.preview, buf);
    }

    /// Section 5.5.1 and 7.4: the close code and reason.
    fn close_body(&mut self, facts: &mut FrameFacts, out: &mut Vec<Finding>) {
        let body = self.control_body();
        if body.len() < 2 {
            return;
        }
        let code = u16::from_be_bytes([body[0], body[1]]);
        facts.close_code = Some(code);
        if !close_code_allowed(code) {
            out.push(Finding::new(
                Code::InvalidCloseCode,
                format!("close code {code} must not be sent in a close frame"),
            ));
        }
        let reason = &body[2..];
        match std::str::from_utf8(reason) {
            Ok(s) => facts.close_reason = Some(s.into()),
            Err(e) => {
                facts.close_reason = Some(String::from_utf8_lossy(reason).into());
                out.push(Finding::new(
                    Code::InvalidUtf8,
                    format!("close reason is not UTF-8 (byte {})", e.valid_up_to()),
                ));
            }
        }
    }
}

/// The detail of a broken header rule (see [`broken_rules`] for which).
fn rule_detail(code: Code, h: &FrameHeader) -> String {
    let op = h.opcode.name();
    match code {
        // 5.1: "a client MUST mask all frames that it sends to the server";
        // "a server MUST NOT mask any frames that it sends to the client".
        Code::UnmaskedClientFrame => format!("{op} frame from the client without MASK"),
        Code::MaskedServerFrame => format!("{op} frame from the server with MASK set"),
        // 5.2 / RFC 7692 6: RSV1 means "compressed" only with
        // permessage-deflate, only on the first frame of a data message.
        Code::RsvBitsWithoutExtension if h.rsv2 || h.rsv3 => format!(
            "RSV2={} RSV3={} and no extension defines them",
            u8::from(h.rsv2),
            u8::from(h.rsv3)
        ),
        Code::RsvBitsWithoutExtension => {
            "RSV1 set but permessage-deflate was not negotiated".into()
        }
        Code::Rsv1OnControlFrame => format!("RSV1 set on a {op} frame"),
        Code::Rsv1OnContinuation => "RSV1 set on a continuation frame".into(),
        Code::ReservedOpcode => format!("opcode {:#x} is reserved", h.opcode.0),
        // 5.5: "All control frames MUST have a payload length of 125 bytes
        // or less and MUST NOT be fragmented."
        Code::ControlFrameTooLong => {
            format!("{op} frame with a {}-byte payload > 125", h.payload_len)
        }
        Code::FragmentedControlFrame => format!("{op} frame with FIN clear"),
        // 5.5.1: a close body, if any, starts with a 2-byte code.
        Code::ClosePayloadLengthOne => "close frame with a 1-byte payload".into(),
        Code::LengthMsbSet => format!(
            "64-bit payload length {:#018x} has its most significant bit set",
            h.payload_len
        ),
        Code::NonMinimalLength => {
            let form = if h.len7() == 126 { "16-bit" } else { "64-bit" };
            format!("payload length {} sent in the {form} form", h.payload_len)
        }
        other => other.description().to_string(),
    }
}

/// Section 7.4.1/7.4.2 and the IANA registry: codes a peer may send.
/// 1004-1006 and 1015 are reserved for local use and must never be sent.
pub fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn unmasked<'a>(data: &'a [u8], mask: Option<[u8; 4]>, pos: u64, buf: &'a mut Vec<u8>) -> &'a [u8] {
    match mask {
        Some(k) => unmask_into(data, k, pos, buf),
        None => data,
    }
}

#[cfg(test)]
mod tests;
