//! One HTTP/2 connection read from both directions' byte streams (sans-IO):
//! bytes in, [`Event`]s out. It checks the client's preface, cuts each
//! direction into frames (RFC 9113 4.1), puts header blocks together from
//! HEADERS or PUSH_PROMISE and their CONTINUATIONs (6.10) and decodes them
//! with that direction's HPACK mirror, applies SETTINGS that change how
//! the other direction is read (frame size, header table size), and hands
//! DATA payloads on as they arrive, padding removed, without holding them.
//!
//! What it holds is bounded: nine header bytes, one frame payload of a
//! non-DATA type up to [`MAX_HELD`] (a longer one is skipped, an error
//! reported), one header block up to [`MAX_BLOCK`], and the HPACK tables.

use super::frame::{self, FrameError, FrameHeader, Kind, Setting, flags};
use super::hpack::{self, Field, HpackError};
use crate::tcp::Dir;

/// The largest non-DATA frame payload held to be parsed. SETTINGS, PING,
/// RST_STREAM, WINDOW_UPDATE, PRIORITY and GOAWAY's first 8 bytes are
/// small; HEADERS fragments go to the block, up to [`MAX_BLOCK`].
pub const MAX_HELD: usize = 64 << 10;

/// The largest header block (HEADERS + CONTINUATIONs) put together.
pub const MAX_BLOCK: usize = 256 << 10;

/// What the connection's bytes said.
#[derive(Debug)]
pub enum Event<'a> {
    /// A frame's header was read (every frame, before what it carries).
    Frame(FrameHeader),
    /// SETTINGS (RFC 9113 6.5), its entries in order.
    Settings {
        ack: bool,
        settings: &'a [Setting],
    },
    /// A complete header block: HEADERS (`promised` None) or PUSH_PROMISE.
    Headers {
        stream: u32,
        fields: &'a [Field],
        end_stream: bool,
        promised: Option<u32>,
    },
    /// Bytes of a DATA frame's payload, padding removed; `end_stream` on
    /// the frame's last piece when it has END_STREAM (then possibly empty).
    Data {
        stream: u32,
        data: &'a [u8],
        end_stream: bool,
    },
    RstStream {
        stream: u32,
        code: u32,
    },
    GoAway {
        last_stream: u32,
        code: u32,
    },
    /// A rule broken (RFC 9113 or RFC 7541); reading goes on as well as it
    /// can: frame lengths stay readable whatever else is wrong.
    Error(H2Error),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum H2Error {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stream {stream}'s header block: {error} (RFC 9113 4.3: a COMPRESSION_ERROR)")]
    Hpack { stream: u32, error: HpackError },
    #[error("stream {stream}'s header block is over {MAX_BLOCK} bytes; not decoded")]
    BlockTooLarge { stream: u32 },
}

/// Where a direction's reading is.
#[derive(Debug)]
enum State {
    /// The client's first bytes: `n` of the preface matched so far.
    Preface(usize),
    /// `n` bytes of a frame header in `head`.
    Head(usize),
    /// A DATA frame's payload: the pad length byte still to come (if
    /// PADDED), then `body` bytes handed on, then `pad` bytes dropped.
    Data {
        h: FrameHeader,
        pad_byte: bool,
        body: usize,
        pad: usize,
    },
    /// Another frame's payload, `left` bytes still to come into `held`
    /// (or skipped, when `skip`).
    Held {
        h: FrameHeader,
        left: usize,
        skip: bool,
    },
    /// Not HTTP/2 (a bad preface): nothing more is read.
    Dead,
}

/// A header block being put together.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    promised: Option<u32>,
    bytes: Vec<u8>,
    /// Over [`MAX_BLOCK`]: collected no further, reported at its end.
    overflow: bool,
}

#[derive(Debug)]
struct Side {
    state: State,
    head: [u8; frame::HEADER_LEN],
    held: Vec<u8>,
    block: Option<Block>,
    /// Mirrors this direction's HPACK encoder.
    hpack: hpack::Decoder,
    /// The largest frame this side may send: the other side's
    /// SETTINGS_MAX_FRAME_SIZE (the largest announced, as with the table
    /// size: when the sender saw it cannot be told from here).
    max_frame: u32,
    /// The first frame was read (the server's must be SETTINGS).
    started: bool,
}

impl Side {
    /// RFC 9113 6.10: nothing but CONTINUATIONs of the same stream may
    /// come between HEADERS without END_HEADERS and the block's end.
    fn check_block_order(&mut self, h: &FrameHeader, emit: &mut impl FnMut(Event<'_>)) {
        match &self.block {
            Some(b) if h.kind != Kind::Continuation || h.stream != b.stream => {
                let stream = b.stream;
                self.block = None;
                let kind = h.kind.name();
                emit(Event::Error(
                    FrameError::ContinuationExpected { kind, stream }.into(),
                ));
            }
            None if h.kind == Kind::Continuation => {
                emit(Event::Error(FrameError::ContinuationUnexpected.into()));
            }
            _ => {}
        }
    }

    fn new(client: bool) -> Side {
        Side {
            state: if client {
                State::Preface(0)
            } else {
                State::Head(0)
            },
            head: [0; frame::HEADER_LEN],
            held: Vec::new(),
            block: None,
            hpack: hpack::Decoder::default(),
            max_frame: frame::DEFAULT_MAX_FRAME,
            started: false,
        }
    }
}

/// Both directions of one HTTP/2 connection.
#[derive(Debug)]
pub struct H2Conn {
    sides: [Side; 2],
    /// Scratch for the events that borrow decoded data.
    fields: Vec<Field>,
    settings: Vec<Setting>,
}

impl Default for H2Conn {
    fn default() -> Self {
        H2Conn {
            sides: [Side::new(true), Side::new(false)],
            fields: Vec::new(),
            settings: Vec::new(),
        }
    }
}

impl H2Conn {
    /// A connection whose client preface was already read elsewhere (an
    /// HTTP/1.1 Upgrade to h2c, RFC 7540 3.2, obsoleted but still sent).
    pub fn after_preface() -> H2Conn {
        let mut c = H2Conn::default();
        c.sides[0].state = State::Head(0);
        c
    }

    /// Bytes of direction `dir` are missing (a capture gap): where the
    /// next frame starts cannot be known, so that direction is read no
    /// further, and its header compression state is lost with it.
    pub fn lose(&mut self, dir: Dir) {
        let side = &mut self.sides[dir.index()];
        side.state = State::Dead;
        side.block = None;
        side.hpack.lose();
    }

    /// Reads `data`, the next bytes of direction `dir`, calling `emit` with
    /// each event in order.
    pub fn push(&mut self, dir: Dir, mut data: &[u8], emit: &mut impl FnMut(Event<'_>)) {
        while !data.is_empty() {
            let n = self.step(dir, data, emit);
            data = &data[n..];
        }
    }

    /// Reads from the start of `data`; how many bytes it took (at least
    /// one, unless the direction is dead, when it takes them all).
    fn step(&mut self, dir: Dir, data: &[u8], emit: &mut impl FnMut(Event<'_>)) -> usize {
        let side = &mut self.sides[dir.index()];
        match &mut side.state {
            State::Dead => data.len(),
            State::Preface(got) => {
                let want = &frame::PREFACE[*got..];
                let n = want.len().min(data.len());
                if data[..n] != want[..n] {
                    side.state = State::Dead;
                    emit(Event::Error(FrameError::BadPreface.into()));
                    return data.len();
                }
                *got += n;
                if *got == frame::PREFACE.len() {
                    side.state = State::Head(0);
                }
                n
            }
            State::Head(got) => {
                let n = (frame::HEADER_LEN - *got).min(data.len());
                side.head[*got..*got + n].copy_from_slice(&data[..n]);
                *got += n;
                if *got == frame::HEADER_LEN {
                    let h = FrameHeader::parse(&side.head);
                    self.start_frame(dir, h, emit);
                }
                n
            }
            State::Data { .. } => self.data_bytes(dir, data, emit),
            State::Held { .. } => self.held_bytes(dir, data, emit),
        }
    }

    /// Bytes of a DATA frame's payload: its pad length, the data handed
    /// on, its padding dropped.
    fn data_bytes(&mut self, dir: Dir, data: &[u8], emit: &mut impl FnMut(Event<'_>)) -> usize {
        let side = &mut self.sides[dir.index()];
        let State::Data {
            h,
            pad_byte,
            body,
            pad,
        } = &mut side.state
        else {
            return 0;
        };
        let h = *h;
        if *pad_byte {
            // RFC 9113 6.1: padding as long as the payload (the pad length
            // byte and the `body` after it) or longer.
            *pad_byte = false;
            let p = usize::from(data[0]);
            if p > *body {
                emit(Event::Error(FrameError::Padding.into()));
                (*pad, *body) = (*body, 0);
            } else {
                (*pad, *body) = (p, *body - p);
            }
            self.data_frame_progress(dir, h, emit);
            return 1;
        }
        if *body > 0 {
            let n = (*body).min(data.len());
            *body -= n;
            let last = *body == 0 && *pad == 0;
            emit(Event::Data {
                stream: h.stream,
                data: &data[..n],
                end_stream: last && h.has(flags::END_STREAM),
            });
            if last {
                side.state = State::Head(0);
            }
            return n;
        }
        let n = (*pad).min(data.len());
        *pad -= n;
        if *pad == 0 {
            side.state = State::Head(0);
            if h.has(flags::END_STREAM) {
                emit(end_of_stream(&h));
            }
        }
        n
    }

    /// Bytes of another frame's payload, held (or skipped) to its end.
    fn held_bytes(&mut self, dir: Dir, data: &[u8], emit: &mut impl FnMut(Event<'_>)) -> usize {
        let side = &mut self.sides[dir.index()];
        let State::Held { h, left, skip } = &mut side.state else {
            return 0;
        };
        let (h, skipped) = (*h, *skip);
        let n = (*left).min(data.len());
        if !skipped {
            side.held.extend_from_slice(&data[..n]);
        }
        *left -= n;
        if *left == 0 {
            self.payload_done(dir, h, !skipped, emit);
        }
        n
    }

    /// A non-DATA frame's payload is all read (held when `parsed`): the
    /// next frame's header comes.
    fn payload_done(
        &mut self,
        dir: Dir,
        h: FrameHeader,
        parsed: bool,
        emit: &mut impl FnMut(Event<'_>),
    ) {
        self.sides[dir.index()].state = State::Head(0);
        if parsed {
            self.end_frame(dir, h, emit);
        } else {
            self.skipped_frame(dir, h, emit);
        }
    }

    /// A frame header was read: checks it and sets up reading its payload.
    fn start_frame(&mut self, dir: Dir, h: FrameHeader, emit: &mut impl FnMut(Event<'_>)) {
        let side = &mut self.sides[dir.index()];
        let first = !side.started;
        side.started = true;
        emit(Event::Frame(h));
        if first && dir == Dir::ServerToClient && h.kind != Kind::Settings {
            emit(Event::Error(FrameError::NoServerSettings.into()));
        }
        if let Err(e) = h.check(side.max_frame) {
            emit(Event::Error(e.into()));
        }
        side.check_block_order(&h, emit);
        let len = h.len as usize;
        side.held.clear();
        if h.kind == Kind::Data {
            // The pad length byte itself is part of the payload.
            let pad_byte = h.has(flags::PADDED) && len > 0;
            side.state = State::Data {
                h,
                pad_byte,
                body: len - usize::from(pad_byte),
                pad: 0,
            };
            if len == 0 {
                if h.has(flags::PADDED) {
                    emit(Event::Error(FrameError::Padding.into()));
                }
                side.state = State::Head(0);
                if h.has(flags::END_STREAM) {
                    emit(end_of_stream(&h));
                }
            }
            return;
        }
        // Only what is parsed is held: a header block fragment up to the
        // block's bound, other payloads up to MAX_HELD.
        let parsed = match h.kind {
            Kind::Headers | Kind::PushPromise | Kind::Continuation => len <= MAX_BLOCK,
            Kind::Settings | Kind::RstStream | Kind::GoAway => len <= MAX_HELD,
            _ => false,
        };
        side.state = State::Held {
            h,
            left: len,
            skip: !parsed,
        };
        if len == 0 {
            self.payload_done(dir, h, parsed, emit);
        }
    }

    /// A frame whose payload was not held. A header block fragment too
    /// large to hold still opens or ends its block, which is then lost.
    fn skipped_frame(&mut self, dir: Dir, h: FrameHeader, emit: &mut impl FnMut(Event<'_>)) {
        if !matches!(
            h.kind,
            Kind::Headers | Kind::PushPromise | Kind::Continuation
        ) {
            return;
        }
        let side = &mut self.sides[dir.index()];
        match &mut side.block {
            Some(b) => b.overflow = true,
            None if h.kind != Kind::Continuation => {
                side.block = Some(Block {
                    stream: h.stream,
                    end_stream: h.kind == Kind::Headers && h.has(flags::END_STREAM),
                    promised: None,
                    bytes: Vec::new(),
                    overflow: true,
                });
            }
            None => {}
        }
        if h.has(flags::END_HEADERS) {
            self.close_block(dir, emit);
        }
    }

    /// After a DATA frame's pad length byte: a frame with nothing but
    /// padding left ends here when the padding is empty too.
    fn data_frame_progress(&mut self, dir: Dir, h: FrameHeader, emit: &mut impl FnMut(Event<'_>)) {
        let side = &mut self.sides[dir.index()];
        if let State::Data {
            body: 0, pad: 0, ..
        } = side.state
        {
            side.state = State::Head(0);
            if h.has(flags::END_STREAM) {
                emit(end_of_stream(&h));
            }
        }
    }

    /// A non-DATA frame's payload is complete in `held`.
    fn end_frame(&mut self, dir: Dir, h: FrameHeader, emit: &mut impl FnMut(Event<'_>)) {
        let payload = std::mem::take(&mut self.sides[dir.index()].held);
        match h.kind {
            Kind::Settings => self.settings(dir, &h, &payload, emit),
            Kind::Headers | Kind::PushPromise | Kind::Continuation => {
                self.fragment(dir, &h, &payload, emit)
            }
            Kind::RstStream if payload.len() == 4 => emit(Event::RstStream {
                stream: h.stream,
                code: be32(&payload),
            }),
            Kind::GoAway if payload.len() >= 8 => emit(Event::GoAway {
                last_stream: be32(&payload) & 0x7fff_ffff,
                code: be32(&payload[4..]),
            }),
            _ => {}
        }
        // Keep the allocation for the next frame.
        let side = &mut self.sides[dir.index()];
        side.held = payload;
        side.held.clear();
    }

    fn settings(&mut self, dir: Dir, h: &FrameHeader, p: &[u8], emit: &mut impl FnMut(Event<'_>)) {
        self.settings.clear();
        if h.len.is_multiple_of(6) && !h.has(flags::ACK) {
            for entry in p.chunks_exact(6) {
                match Setting::parse(entry.try_into().expect("six bytes")) {
                    Ok(s) => self.settings.push(s),
                    Err(e) => emit(Event::Error(e.into())),
                }
            }
        }
        // What this side announces bounds what the other side sends.
        let other = &mut self.sides[dir.reverse().index()];
        for s in &self.settings {
            match *s {
                Setting::HeaderTableSize(n) => other.hpack.allow_table_size(n),
                Setting::MaxFrameSize(n) => other.max_frame = other.max_frame.max(n),
                _ => {}
            }
        }
        emit(Event::Settings {
            ack: h.has(flags::ACK),
            settings: &self.settings,
        });
    }

    /// A HEADERS, PUSH_PROMISE or CONTINUATION payload: its block fragment
    /// joins the block, decoded once END_HEADERS ends it.
    fn fragment(&mut self, dir: Dir, h: &FrameHeader, p: &[u8], emit: &mut impl FnMut(Event<'_>)) {
        let side = &mut self.sides[dir.index()];
        let mut frag = p;
        if h.kind != Kind::Continuation {
            let (start, end) = match frame::unpad(h, p) {
                Ok(r) => r,
                Err(e) => return emit(Event::Error(e.into())),
            };
            frag = &p[start..end];
            let mut promised = None;
            if h.kind == Kind::PushPromise {
                let Some(id) = frag.get(..4) else {
                    return emit(Event::Error(
                        FrameError::BadLength {
                            kind: "PUSH_PROMISE",
                            len: h.len,
                        }
                        .into(),
                    ));
                };
                promised = Some(be32(id) & 0x7fff_ffff);
                frag = &frag[4..];
            }
            side.block = Some(Block {
                stream: h.stream,
                end_stream: h.kind == Kind::Headers && h.has(flags::END_STREAM),
                promised,
                bytes: Vec::new(),
                overflow: false,
            });
        }
        let Some(block) = &mut side.block else {
            // A CONTINUATION with no block: reported at its header.
            return;
        };
        if block.bytes.len() + frag.len() > MAX_BLOCK {
            block.overflow = true;
        }
        if !block.overflow {
            block.bytes.extend_from_slice(frag);
        }
        if h.has(flags::END_HEADERS) {
            self.close_block(dir, emit);
        }
    }

    /// END_HEADERS: the open block of direction `dir` is decoded.
    fn close_block(&mut self, dir: Dir, emit: &mut impl FnMut(Event<'_>)) {
        let side = &mut self.sides[dir.index()];
        let Some(block) = side.block.take() else {
            return;
        };
        if block.overflow {
            // Its fields would have changed the HPACK table: the mirror is
            // lost as surely as after a decoding error.
            side.hpack.lose();
            return emit(Event::Error(H2Error::BlockTooLarge {
                stream: block.stream,
            }));
        }
        self.fields.clear();
        match side.hpack.decode(&block.bytes, &mut self.fields) {
            Ok(()) => emit(Event::Headers {
                stream: block.stream,
                fields: &self.fields,
                end_stream: block.end_stream,
                promised: block.promised,
            }),
            Err(error) => emit(Event::Error(H2Error::Hpack {
                stream: block.stream,
                error,
            })),
        }
    }
}

/// The end of a DATA frame with END_STREAM whose bytes were all handed
/// on already (or that had none).
fn end_of_stream(h: &FrameHeader) -> Event<'static> {
    Event::Data {
        stream: h.stream,
        data: &[],
        end_stream: true,
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests;
