//! Telling WebSocket frame headers from other bytes (RFC 6455 section 5),
//! for the frame decoder.
//!
//! * At a frame boundary, `judge` says whether a header that breaks a
//!   framing rule comes from a peer with a bug (a frame, whose broken rules
//!   the validator reports) or is foreign bytes written into the connection:
//!   an HTTP message, a TLS record, garbage.
//! * After frame sync is lost, `feed` keeps the bytes that follow and
//!   searches them for where frames start again. A position is taken only
//!   when the frames from it chain (each ends exactly where the next
//!   plausible header starts) with enough headers to rule out chance.
//! * [`proven_frames`] is the same search over the first bytes of a
//!   connection whose handshake was not captured.
//!
//! These are heuristics, tuned to what random bytes and real peers send,
//! and they need nothing but the bytes (held in a [`Kept`] with their
//! packets). They are apart from the decoder so that their rules and
//! thresholds can be read and tested on their own: the decoder keeps
//! offsets, packets and frame indices exact and decides when to ask; this
//! module decides what the bytes are.

use super::frame::{self, BrokenRules, FrameHeader, Opcode, Parsed};
use super::kept::Kept;
use crate::finding::Code;
use crate::http::{looks_like_http, looks_like_tls};
use crate::time::Timestamp;

/// What a plausible header looks like in one direction.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// RFC 6455 5.3: client frames are masked, server frames are not.
    pub masked: bool,
    /// An extension that uses RSV1 (permessage-deflate) was negotiated.
    pub rsv1: bool,
}

impl Expect {
    /// The stateless rules `h` breaks, sent in this direction.
    pub fn broken_rules(self, h: &FrameHeader) -> BrokenRules {
        frame::broken_rules(h, self.masked, self.rsv1)
    }
}

#[cfg(test)]
impl Expect {
    /// Client frames without extensions.
    pub(super) const CLIENT: Expect = Expect {
        masked: true,
        rsv1: false,
    };
    /// Server frames without extensions.
    pub(super) const SERVER: Expect = Expect {
        masked: false,
        rsv1: false,
    };
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

/// Bytes looked at before judging a header that breaks a rule: enough to
/// recognise an HTTP status or request line or a TLS record header.
pub(super) const PEEK: usize = 24;

/// Bytes searched for a resync point before giving up on a window.
const WINDOW: usize = 64 * 1024;
/// Bytes a window keeps when it slides on: a header (at most 14 bytes) may
/// straddle the cut.
const WINDOW_TAIL: usize = 16;
/// A header claiming more than this is not taken as a resync point.
const MAX_LEN: u64 = 1 << 32;
/// Headers in a chain that rule out chance.
const CHAIN_PROOF: u32 = 3;

/// Stateless framing rules a header breaks, by weight. Strong rules are the
/// ones random bytes break most (reserved opcode, RSV bits no extension
/// defines, the wrong MASK bit for the direction): two at once are not a
/// frame but garbage. Weak ones (control frame length or fragmentation,
/// length encoding) are what buggy or deliberately crafted peers send, so
/// they never make a header garbage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Violations {
    strong: u32,
    weak: u32,
}

impl Violations {
    /// Weighs the rules `broken` that header `h` breaks.
    fn of(h: &FrameHeader, broken: BrokenRules, expect: Expect) -> Violations {
        let mut v = Violations { strong: 0, weak: 0 };
        for code in broken.iter() {
            match code {
                // RFC 6455 5.2: RSV2/RSV3 and an undefined RSV1 count apart,
                // as random bytes set several RSV bits at once.
                Code::RsvBitsWithoutExtension => {
                    v.strong += u32::from(h.rsv2 || h.rsv3) + u32::from(h.rsv1 && !expect.rsv1)
                }
                // RFC 6455 5.1 (masking by direction), 5.2 (reserved
                // opcodes); RFC 7692 6.1 (no RSV1 on control frames).
                Code::UnmaskedClientFrame
                | Code::MaskedServerFrame
                | Code::ReservedOpcode
                | Code::Rsv1OnControlFrame => v.strong += 1,
                // RFC 6455 5.5 (control frames: at most 125 bytes, never
                // fragmented), 5.2 (length encoding).
                Code::ControlFrameTooLong
                | Code::FragmentedControlFrame
                | Code::NonMinimalLength
                | Code::LengthMsbSet => v.weak += 1,
                // Legal shapes a peer may send by mistake: judged as frames.
                _ => {}
            }
        }
        v
    }

    fn none(self) -> bool {
        self.strong + self.weak == 0
    }
}

/// Whether a header breaks a framing rule, so that [`judge`] wants the bytes
/// after it (up to [`PEEK`]) before it can tell a frame from foreign bytes.
pub(super) fn suspicious(h: &FrameHeader, expect: Expect) -> bool {
    !Violations::of(h, expect.broken_rules(h), expect).none()
}

/// Whether a header breaks rules enough that [`judge`] must see the next
/// header (up to 14 bytes after the frame, within [`PEEK`]) to call it a
/// frame.
pub(super) fn needs_chain(h: &FrameHeader, expect: Expect) -> bool {
    Violations::of(h, expect.broken_rules(h), expect).strong >= 2
}

/// What the bytes at a frame boundary are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Frame,
    Foreign(ForeignKind),
    /// Suspicious, and too few bytes yet to tell.
    NeedMore,
}

/// Judges the bytes at a frame boundary (`bytes` starts with header `h`).
/// A header that breaks no rule is a frame. Otherwise the first bytes decide:
/// HTTP or TLS text is foreign. A header breaking two strong rules at once
/// (what random bytes look like) is a frame only if the frame it implies
/// chains: it ends exactly where the bytes end, or where another plausible
/// header starts; else garbage. Anything else is a frame from a peer with a
/// bug (RFC 6455 5.2: the receiver sees a frame and fails it). `broken`:
/// the rules `h` breaks ([`Expect::broken_rules`]); `complete`: no more
/// bytes will come.
///
/// Inlined up to the first test: it is asked at every frame boundary, and
/// nearly every header breaks no rule.
#[inline]
pub(super) fn judge(
    bytes: &[u8],
    h: &FrameHeader,
    broken: BrokenRules,
    expect: Expect,
    complete: bool,
) -> Verdict {
    if broken.is_empty() {
        return Verdict::Frame;
    }
    judge_broken(bytes, h, broken, expect, complete)
}

/// [`judge`] on a header that breaks rules.
fn judge_broken(
    bytes: &[u8],
    h: &FrameHeader,
    broken: BrokenRules,
    expect: Expect,
    complete: bool,
) -> Verdict {
    let v = Violations::of(h, broken, expect);
    if v.none() {
        return Verdict::Frame;
    }
    let total = u64::from(h.header_len).saturating_add(h.payload_len);
    if !complete && bytes.len() < PEEK && (bytes.len() as u64) < total {
        return Verdict::NeedMore;
    }
    if looks_like_http(bytes) {
        return Verdict::Foreign(ForeignKind::Http);
    }
    if looks_like_tls(bytes) {
        return Verdict::Foreign(ForeignKind::Tls);
    }
    if v.strong < 2 {
        return Verdict::Frame;
    }
    match chains(bytes, total, expect, complete) {
        Some(true) => Verdict::Frame,
        Some(false) => Verdict::Foreign(ForeignKind::Unknown),
        None if !complete && bytes.len() < PEEK => Verdict::NeedMore,
        None => Verdict::Foreign(ForeignKind::Unknown),
    }
}

/// Whether the frame of `total` bytes at the start of `bytes` is followed
/// by a plausible header (or by the end of the stream); `None` when the
/// bytes do not reach far enough to tell.
fn chains(bytes: &[u8], total: u64, expect: Expect, complete: bool) -> Option<bool> {
    let rest = bytes.get(usize::try_from(total).ok()?..)?;
    if rest.is_empty() {
        return complete.then_some(true);
    }
    match candidate(rest, expect) {
        Candidate::Frame(_) => Some(true),
        Candidate::No => Some(false),
        Candidate::NeedMore => complete.then_some(false),
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
    // RFC 6455 5.4 allows an empty, non-final continuation, but it says
    // nothing, and it is what runs of zero bytes look like.
    let empty_fragment = h.opcode == Opcode::CONTINUATION && !h.fin && h.payload_len == 0;
    // RFC 6455 5.5.1: a close body starts with a two-byte status code.
    let close_of_one = h.opcode == Opcode::CLOSE && h.payload_len == 1;
    if Violations::of(&h, expect.broken_rules(&h), expect).none()
        && h.payload_len < MAX_LEN
        && !close_of_one
        && !empty_fragment
    {
        Candidate::Frame(u64::from(h.header_len) + h.payload_len)
    } else {
        Candidate::No
    }
}

/// Frames followed from one position, all of them plausible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    /// Headers in a row, at most [`CHAIN_PROOF`].
    headers: u32,
    /// The last frame ends exactly where the kept bytes end.
    ends_with_bytes: bool,
}

/// Follows frames from `p`, at most [`CHAIN_PROOF`] of them so that a
/// search stays linear. `None` if an implausible header breaks the chain.
fn chain(scan: &[u8], p: usize, expect: Expect) -> Option<Run> {
    let mut q = p as u64;
    let mut headers = 0;
    while q < scan.len() as u64 && headers < CHAIN_PROOF {
        match candidate(&scan[q as usize..], expect) {
            Candidate::No => return None,
            Candidate::NeedMore => {
                return Some(Run {
                    headers,
                    ends_with_bytes: false,
                });
            }
            Candidate::Frame(total) => {
                headers += 1;
                q += total;
            }
        }
    }
    Some(Run {
        headers,
        ends_with_bytes: q == scan.len() as u64,
    })
}

/// What the run of frames from one position makes of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settle {
    /// Frames start here.
    Proven,
    /// More bytes may still prove or refute it.
    Open,
    /// Not proven, and no more bytes will come to this window.
    PassedOver,
}

/// Random data passes one header check about once in 60 positions, so a
/// single header is never enough in the middle of the stream. Three headers
/// are, or two starting at a packet boundary: senders start writes at
/// segment starts, and random positions rarely coincide with them. `full`:
/// the window takes no more bytes.
fn settle(run: Run, at_packet_start: bool, full: bool) -> Settle {
    if run.headers >= CHAIN_PROOF || (run.headers >= 2 && at_packet_start) {
        Settle::Proven
    } else if !full {
        Settle::Open
    } else if run.headers >= 1 && at_packet_start {
        // The chain still runs past a full window: a frame longer than the
        // window, taken where senders start frames (elsewhere it could be
        // payload).
        Settle::Proven
    } else {
        Settle::PassedOver
    }
}

/// Where frames start again in the kept bytes: the first position whose run
/// is proven, unless an earlier one is still open.
fn search(kept: &mut Kept, expect: Expect, full: bool) -> Option<usize> {
    let scan = kept.bytes();
    let end = scan.len();
    // Positions a chain refutes stay refuted as bytes are added: resume
    // after them, so a search over a window grown byte by byte stays linear.
    let mut open = None;
    let mut found = None;
    for p in kept.searched()..end {
        let Some(run) = chain(scan, p, expect) else {
            continue;
        };
        open = open.or(Some(p));
        match settle(run, kept.is_start(p), full) {
            Settle::Proven => {
                found = Some(p);
                break;
            }
            Settle::Open => break,
            Settle::PassedOver => {}
        }
    }
    kept.set_searched(open.unwrap_or(end));
    found
}

/// What [`feed`] did with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fed {
    /// Bytes of the input kept; the rest is for the next call.
    pub taken: usize,
    /// Where frames start again, as a position in the kept bytes.
    pub found: Option<usize>,
}

/// After a loss of sync: keeps as much of `data` as the window takes and
/// searches all kept bytes for where frames start again.
pub(super) fn feed(
    kept: &mut Kept,
    data: &[u8],
    packet: u64,
    ts: Timestamp,
    expect: Expect,
) -> Fed {
    let taken = kept.push(data, packet, ts, WINDOW);
    let full = kept.len() == WINDOW;
    let found = search(kept, expect, full);
    if found.is_none() && full {
        // Nothing in this window: slide on, so memory stays bounded however
        // long the garbage runs.
        kept.drop_front(WINDOW - WINDOW_TAIL);
    }
    Fed { taken, found }
}

/// At the end of the stream a chain that ends exactly with it is accepted
/// with one header fewer: no later bytes can refute it.
pub(super) fn find_at_end(kept: &Kept, expect: Expect) -> Option<usize> {
    let scan = kept.bytes();
    (0..scan.len()).find(|&p| match chain(scan, p, expect) {
        Some(Run {
            headers,
            ends_with_bytes: true,
        }) => headers >= 2 || (headers >= 1 && kept.is_start(p)),
        _ => false,
    })
}

/// Whether the first bytes of a direction (kept with their packets) hold a
/// proven run of frames as a peer in this direction sends them: the test
/// used to recognise WebSocket without a handshake.
pub fn proven_frames(kept: &mut Kept, expect: Expect) -> bool {
    search(kept, expect, false).is_some()
}

#[cfg(test)]
mod tests;
