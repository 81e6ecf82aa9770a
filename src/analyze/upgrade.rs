//! The HTTP/upgrade state of one connection: from its first bytes to the
//! point where each direction carries WebSocket frames (or is given up).
//!
//! ```text
//! Undecided --request head with Upgrade/Sec-WebSocket-*--> Handshake
//! Undecided --other request--> Handshake, its body and its response (and
//!                              theirs) skipped until an upgrade request
//!                              (keep-alive, RFC 9112 9.3)
//! Handshake --101--> WebSocket          (frames start right after the blank line)
//! Handshake --1xx--> Handshake          (RFC 9110 15.2: the real answer follows)
//! Handshake --other status--> Done      (handshake_rejected)
//! Undecided --TLS ClientHello--> Handshake, waiting for the server's answer
//!                                       (plaintext HTTP or silence: tls_on_plaintext_port)
//! Handshake --a head cut by the snaplen--> what it still shows decides:
//!                              a request line is taken as the upgrade, a
//!                              101 status line switches (frames from the
//!                              next captured byte; extensions unknown)
//! Undecided --no HTTP, --port given--> WebSocket (handshake_not_captured)
//! Undecided --no HTTP--> Sniff          (bytes kept, up to 16 KiB a direction)
//! Sniff --a proven run of masked client frames--> WebSocket (handshake_not_captured)
//! Sniff --client bytes overflow--> Done (not WebSocket; only counted)
//! Undecided --request without WebSocket headers--> Done
//! ```
//!
//! [`Upgrade::push`] takes one direction's bytes and says where frames
//! begin ([`Pushed`]); the connection then hands those bytes, and the client
//! bytes held while the server had not answered, to the frame part. The
//! upgrade part knows nothing of frames beyond that boundary.

use super::connection::ConnAcc;
use super::legs::Legs;
use crate::finding::{Code, Finding};
use crate::http::{self, BodyProgress, BodyReader, Field, HeadReader, Progress, looks_like_tls};
use crate::record::{Detection, RequestInfo, ResponseInfo, Text, TlsInfo};
use crate::tcp::{Chunk, CloseReason, ConnMeta, Dir, Gap, RoleSource};
use crate::time::Timestamp;
use crate::websocket::Expect;

use crate::websocket::handshake::{self, Negotiated};
use crate::websocket::kept::Kept;
use crate::websocket::resync::proven_frames;

/// Client bytes after the request head, held until the response decides
/// what they are; more than this and the connection is given up.
const MAX_PENDING: usize = 256 * 1024;

/// Bytes per direction examined for frames when no handshake was seen.
const MAX_SNIFF: usize = 16 * 1024;

/// Requests before the upgrade still waiting for their responses (HTTP
/// pipelining); more, and the connection is not followed further.
const MAX_PLAIN_PENDING: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Undecided,
    /// No handshake: looking for a run of client frames.
    Sniff,
    Handshake,
    WebSocket,
    Done,
}

/// What one direction is doing.
enum Side {
    /// The body of a request or response before the upgrade, skipped.
    Body(BodyReader),
    /// Waiting for (or reading) an HTTP head; `first` = its first packet
    /// and that packet's time.
    Head {
        reader: HeadReader,
        first: (u64, Timestamp),
    },
    /// Client bytes after the request head, until the response decides.
    Pending {
        offset: u64,
        chunks: Vec<(u64, Timestamp, Vec<u8>)>,
        bytes: usize,
    },
    /// Frames from the first byte that arrives (no handshake seen);
    /// `aligned` when that byte is known to start a frame (the stream's
    /// start after a SYN).
    AwaitFrames {
        aligned: bool,
    },
    /// Bytes belong to the frame part.
    Frames,
    /// No handshake: bytes kept (with the packet each run came from) until
    /// they prove to be WebSocket frames or exceed [`MAX_SNIFF`].
    Sniff(Box<Kept>),
    /// Sniffed bytes proven to be frames, until replayed as such.
    Recognised(Box<Kept>),
    Idle,
}

/// Requests before the upgrade awaiting their responses, in order: for each,
/// whether it was HEAD. A bit each, as every connection carries one.
#[derive(Clone, Copy, Debug, Default)]
struct PlainRequests {
    heads: u64,
    len: u8,
}

impl PlainRequests {
    fn len(&self) -> usize {
        usize::from(self.len)
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// At most [`MAX_PLAIN_PENDING`] (64, the bits of `heads`).
    fn push(&mut self, head: bool) {
        debug_assert!(self.len() < MAX_PLAIN_PENDING);
        self.heads |= u64::from(head) << self.len;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<bool> {
        if self.len == 0 {
            return None;
        }
        let head = self.heads & 1 == 1;
        self.heads >>= 1;
        self.len -= 1;
        Some(head)
    }
}

/// After a head: its body if it has one, else the next head.
fn body_or_head(body: Option<http::BodyLen>) -> Side {
    let reader = BodyReader::new(body.unwrap_or(http::BodyLen::None));
    if reader.is_done() {
        new_head()
    } else {
        Side::Body(reader)
    }
}

fn new_head() -> Side {
    Side::Head {
        reader: HeadReader::new(),
        first: (0, Timestamp(0)),
    }
}

/// What the bytes given to [`Upgrade::push`] turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Taken (a head, held client bytes, sniffed bytes) or dropped.
    Taken,
    /// Frames begin at byte `at` of the chunk; `aligned` when a frame is
    /// known to start there.
    Frames { at: usize, aligned: bool },
    /// The server switched protocols: its frames begin at byte `at` of the
    /// chunk, the client's at stream offset `client` (the held client bytes,
    /// from [`Upgrade::take_pending`], come first).
    Switched { at: usize, client: Option<u64> },
    /// A run of masked client frames proved the connection WebSocket:
    /// the kept bytes of both directions ([`Upgrade::take_kept`]) are frames.
    Recognised,
}

/// What a gap in a direction means for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GapStep {
    /// Nothing to do here (the frame part handles gaps in frames).
    Ignore,
    /// Frames after the gap, with sync to be found from stream `offset`.
    FramesLost { offset: u64 },
    /// A 101 cut by the snaplen: the server's frames start at `server`,
    /// the client's at `client` (held client bytes first).
    Switched { server: u64, client: Option<u64> },
}

/// What the connection passes along with the bytes.
pub(super) struct Ctx<'a> {
    pub meta: &'a ConnMeta,
    pub acc: &'a mut ConnAcc,
    pub legs: &'a mut Legs,
}

/// The HTTP/upgrade state of a connection.
pub(super) struct Upgrade {
    mode: Mode,
    /// The guessed roles were wrong: the "server" sent the request.
    pub swapped: bool,
    port_mode: bool,
    pub detected_by: Option<Detection>,
    sides: [Side; 2],
    /// The opening handshake, once its request is read.
    hs: Option<Box<Handshake>>,
    /// The client's first bytes were a TLS record (where the upgrade
    /// request was expected): its packet and what its hello says. Boxed:
    /// most connections have none.
    pub tls: Option<Box<TlsInfo>>,
    /// The server answered the upgrade request with TLS.
    pub server_answered_tls: bool,
    /// A head was cut by the snaplen: which extensions were negotiated is
    /// not known, so RSV1 is not judged.
    pub extensions_unknown: bool,
    /// Requests before the upgrade request (keep-alive) whose responses
    /// have not been read, each `true` when it was a HEAD request (whose
    /// response has no body, RFC 9112 6.3).
    plain: PlainRequests,
}

/// What the opening handshake showed, in one allocation: a connection
/// carries all of it or none (most of those that carry none are not HTTP).
#[derive(Debug, Default)]
pub(super) struct Handshake {
    pub request: Option<RequestInfo>,
    pub response: Option<ResponseInfo>,
    /// The parsed upgrade request, until the response is checked against it.
    req: Option<http::Request>,
    pub negotiated: Option<Negotiated>,
    /// The id its upgrade request was registered under as a leg.
    leg: Option<Text>,
}

impl Upgrade {
    /// A new connection; `ports` are the `--port` values.
    pub fn new(meta: &ConnMeta, ports: &[u16]) -> Upgrade {
        let on_port = |p: u16| ports.contains(&p);
        let port_mode = on_port(meta.server.port()) || on_port(meta.client.port());
        // With --port P, the endpoint on P is the server, whatever the guess.
        let swapped = meta.roles == RoleSource::PortGuess
            && on_port(meta.client.port())
            && !on_port(meta.server.port());
        Upgrade {
            mode: Mode::Undecided,
            swapped,
            port_mode,
            detected_by: None,
            sides: [new_head(), new_head()],
            hs: None,
            tls: None,
            server_answered_tls: false,
            extensions_unknown: false,
            plain: PlainRequests::default(),
        }
    }

    pub fn request(&self) -> Option<&RequestInfo> {
        self.hs.as_ref()?.request.as_ref()
    }

    pub fn response(&self) -> Option<&ResponseInfo> {
        self.hs.as_ref()?.response.as_ref()
    }

    fn parsed_request(&self) -> Option<&http::Request> {
        self.hs.as_ref()?.req.as_ref()
    }

    /// The handshake, to be recorded.
    pub fn take_handshake(&mut self) -> Handshake {
        self.hs.take().map(|h| *h).unwrap_or_default()
    }

    /// An upgrade request with a key is a leg of a possibly proxied
    /// connection (legs.rs): registered under the id its key implies,
    /// which the connection keeps for its close.
    fn register_leg(&mut self, cx: &mut Ctx<'_>, info: &RequestInfo) {
        if let Some(key) = &info.sec_websocket_key {
            let id = super::legs::leg_id(key);
            cx.legs.requested(id.clone(), cx.meta.id, cx.meta.last_ts);
            self.hs().leg = Some(id);
        }
    }

    /// The leg id this connection was registered under, if any.
    pub fn leg(&self) -> Option<&Text> {
        self.hs.as_ref()?.leg.as_ref()
    }

    /// The handshake, made when its request is read.
    fn hs(&mut self) -> &mut Handshake {
        self.hs.get_or_insert_with(Box::default)
    }

    /// Whether client and server may still turn out the other way round
    /// (guessed by port, and no bytes read yet to tell).
    pub fn roles_open(&self, meta: &ConnMeta) -> bool {
        meta.roles == RoleSource::PortGuess && self.mode == Mode::Undecided
    }

    /// The negotiated permessage-deflate parameters, if any.
    pub fn deflate(&self) -> Option<handshake::Deflate> {
        self.hs.as_ref()?.negotiated.as_ref()?.deflate
    }

    /// Whether nothing has been read yet to decide what the connection is.
    pub fn undecided(&self) -> bool {
        self.mode == Mode::Undecided
    }

    /// The connection was HTTP/2: the record shows the handshake of its
    /// (first) WebSocket stream, an extended CONNECT and its answer.
    pub fn http2(&mut self, h: super::h2::Handshake) {
        if h.established {
            self.mode = Mode::WebSocket;
            self.detected_by = Some(Detection::Http2);
        }
        let hs = self.hs();
        hs.request = Some(h.request);
        hs.response = h.response;
        hs.negotiated = h.negotiated;
    }

    /// Whether direction `d`'s bytes go to the frame part.
    pub fn in_frames(&self, d: Dir) -> bool {
        matches!(self.sides[d.index()], Side::Frames)
    }

    /// Decides what a connection is from its first bytes, in direction `d`
    /// (as guessed); returns the direction as it turned out to be.
    /// Inline: every chunk of every connection asks, and all but the first
    /// are answered by the mode alone.
    #[inline]
    pub fn first_bytes(&mut self, cx: &mut Ctx<'_>, d: Dir, chunk: &Chunk<'_>) -> Dir {
        if self.mode != Mode::Undecided {
            return d;
        }
        self.first_bytes_undecided(cx, d, chunk)
    }

    fn first_bytes_undecided(&mut self, cx: &mut Ctx<'_>, d: Dir, chunk: &Chunk<'_>) -> Dir {
        let swapped = self.swapped;
        self.decide(cx, d, chunk.data, chunk.packet);
        if self.swapped != swapped {
            d.reverse()
        } else {
            d
        }
    }

    /// Takes direction `d`'s bytes (not yet in frames).
    pub fn push(&mut self, cx: &mut Ctx<'_>, d: Dir, chunk: Chunk<'_>) -> Pushed {
        let mut at = 0;
        while at < chunk.data.len() {
            let data = &chunk.data[at..];
            let offset = chunk.offset + at as u64;
            let used = match &mut self.sides[d.index()] {
                Side::Idle => return Pushed::Taken,
                // The connection hands these to the frame part itself.
                Side::Frames => {
                    debug_assert!(false, "bytes in frames reached the upgrade part");
                    return Pushed::Frames { at, aligned: true };
                }
                // Replayed (take_kept) before any new bytes come.
                Side::Recognised(_) => {
                    debug_assert!(false, "bytes arrived before the kept ones were replayed");
                    return Pushed::Taken;
                }
                Side::AwaitFrames { aligned } => {
                    let aligned = *aligned;
                    self.sides[d.index()] = Side::Frames;
                    return Pushed::Frames { at, aligned };
                }
                Side::Sniff(_) => {
                    let rest = Chunk {
                        offset,
                        data,
                        ..chunk
                    };
                    return self.sniff(cx, d, rest);
                }
                Side::Body(reader) => match reader.push(data) {
                    BodyProgress::Partial => return Pushed::Taken,
                    BodyProgress::Invalid => {
                        self.give_up();
                        return Pushed::Taken;
                    }
                    BodyProgress::Complete { used } => {
                        self.sides[d.index()] = new_head();
                        used
                    }
                },
                Side::Pending { chunks, bytes, .. } => {
                    *bytes += data.len();
                    if *bytes > MAX_PENDING {
                        self.give_up();
                    } else {
                        chunks.push((chunk.packet, chunk.ts, data.to_vec()));
                    }
                    return Pushed::Taken;
                }
                Side::Head { .. } => match self.head(cx, d, data, (chunk.packet, chunk.ts), offset)
                {
                    HeadStep::More(used) => used,
                    HeadStep::Stop => return Pushed::Taken,
                    HeadStep::Switched(used, client) => {
                        return Pushed::Switched {
                            at: at + used,
                            client,
                        };
                    }
                },
            };
            at += used;
        }
        Pushed::Taken
    }

    /// A gap in direction `d`.
    pub fn gap(&mut self, cx: &mut Ctx<'_>, d: Dir, gap: &Gap) -> GapStep {
        match &mut self.sides[d.index()] {
            // A head whose packet the snaplen cut: what is left decides.
            Side::Head { reader, .. }
                if gap.reason == crate::tcp::GapReason::Snaplen && !reader.is_empty() =>
            {
                self.cut_head(cx, d, gap)
            }
            Side::Sniff(sn) => {
                // Kept bytes must be contiguous: start again after the hole.
                sn.reset(gap.offset + gap.len);
                GapStep::Ignore
            }
            Side::AwaitFrames { .. } => {
                // Nothing decoded yet: start lost after the gap.
                self.sides[d.index()] = Side::Frames;
                GapStep::FramesLost {
                    offset: gap.offset + gap.len,
                }
            }
            // A hole in a head, a body or held client bytes: the handshake
            // cannot be read, so nothing after it can be placed.
            Side::Head { .. } | Side::Body(_) | Side::Pending { .. } => {
                self.give_up();
                GapStep::Ignore
            }
            Side::Frames | Side::Idle | Side::Recognised(_) => GapStep::Ignore,
        }
    }

    /// The client bytes held while the server had not answered, in order.
    pub fn take_pending(&mut self) -> Vec<(u64, Timestamp, Vec<u8>)> {
        match std::mem::replace(&mut self.sides[0], Side::Frames) {
            Side::Pending { chunks, .. } => chunks,
            other => {
                self.sides[0] = other;
                Vec::new()
            }
        }
    }

    /// The bytes kept while sniffing, per direction, once recognised.
    pub fn take_kept(&mut self) -> [Option<Box<Kept>>; 2] {
        self.sides.each_mut().map(|side| {
            match std::mem::replace(side, Side::AwaitFrames { aligned: false }) {
                Side::Recognised(kept) => Some(kept),
                other => {
                    *side = other;
                    None
                }
            }
        })
    }

    /// At the end of the connection: a TLS ClientHello that the server
    /// closed the connection on without a single byte in reply. A TLS
    /// server answers (at least with an alert); a plaintext HTTP/WebSocket
    /// server reading garbage often just closes.
    pub fn tls_unanswered(&self, meta: &ConnMeta, reason: CloseReason, acc: &mut ConnAcc) {
        let Some(packet) = self.tls.as_ref().map(|t| t.packet) else {
            return;
        };
        let s = if self.swapped { 0 } else { 1 };
        let server_closed = matches!(reason, CloseReason::Fin | CloseReason::Rst);
        if self.response().is_none() && server_closed && meta.stats[s].wire_bytes == 0 {
            let detail = "the client opened with a TLS ClientHello and the server closed the connection \
                          without any TLS reply: the server likely speaks plaintext (ws://) while the client \
                          uses TLS (wss://), or TLS is terminated in the wrong place";
            acc.add(Finding::new(Code::TlsOnPlaintextPort, detail).at(packet));
        }
    }
}

/// What reading a head did.
enum HeadStep {
    /// `used` bytes were taken; go on with the rest.
    More(usize),
    /// Nothing more to do with these bytes.
    Stop,
    /// A 101 after `used` bytes; the client's frames start at this offset.
    Switched(usize, Option<u64>),
}

impl Upgrade {
    /// First bytes of a connection: is it an HTTP upgrade, WebSocket without
    /// a handshake, or something else?
    fn decide(&mut self, cx: &mut Ctx<'_>, d: Dir, data: &[u8], packet: u64) {
        let is_request = http::looks_like_request(data);
        if d == Dir::ServerToClient
            && cx.meta.roles == RoleSource::PortGuess
            && is_request == Some(true)
        {
            // The side guessed to be the server sent a request: roles were
            // the wrong way round.
            self.swapped = !self.swapped;
            self.mode = Mode::Handshake;
            return;
        }
        match (d, is_request) {
            (Dir::ClientToServer, Some(true) | None) => self.mode = Mode::Handshake,
            (Dir::ClientToServer, Some(false)) if looks_like_tls(data) && !self.port_mode => {
                // Ordinary TLS, unless the server answers in plaintext HTTP
                // (then TLS reached a plaintext port): wait for its answer.
                self.tls = Some(Box::new(tls_info(data, packet)));
                self.mode = Mode::Handshake;
                self.sides[0] = Side::Idle;
            }
            (Dir::ClientToServer, Some(false)) if looks_like_tls(data) => {
                let f = Finding::new(
                    Code::TlsOnPlaintextPort,
                    "the client opened with a TLS record on a port given as plaintext WebSocket (--port)",
                )
                .at(packet);
                cx.acc.add(f);
                self.give_up();
            }
            _ if self.port_mode => self.port_frames(cx, d),
            _ => {
                self.mode = Mode::Sniff;
                self.sides = [Side::Sniff(Box::default()), Side::Sniff(Box::default())];
            }
        }
    }

    /// `--port` names this connection's port: frames from the first byte.
    fn port_frames(&mut self, cx: &mut Ctx<'_>, d: Dir) {
        self.mode = Mode::WebSocket;
        self.detected_by = Some(Detection::Port);
        let aligned = cx.meta.syn_seen;
        self.sides = [Side::AwaitFrames { aligned }, Side::AwaitFrames { aligned }];
        let f = Finding::new(
            Code::HandshakeNotCaptured,
            format!(
                "no HTTP upgrade before the first {} bytes; decoding as WebSocket because of --port",
                d.as_str()
            ),
        );
        cx.acc.add(f);
    }

    /// Keeps the first bytes of a connection without a handshake; once the
    /// client's bytes hold a proven run of masked frames (RFC 6455 5.1: a
    /// client masks every frame, which few other protocols' bytes mimic),
    /// the connection is WebSocket and the kept bytes are decoded.
    fn sniff(&mut self, cx: &mut Ctx<'_>, d: Dir, chunk: Chunk<'_>) -> Pushed {
        let Side::Sniff(sn) = &mut self.sides[d.index()] else {
            return Pushed::Taken;
        };
        if sn.is_empty() {
            sn.reset(chunk.offset);
        }
        let kept = sn.push(chunk.data, chunk.packet, chunk.ts, MAX_SNIFF);
        let expect = Expect {
            masked: true,
            rsv1: false,
        };
        if d == Dir::ClientToServer && proven_frames(sn, expect) {
            self.recognised(cx);
            return Pushed::Recognised;
        }
        if kept < chunk.data.len() {
            if d == Dir::ClientToServer {
                self.give_up();
            } else {
                // A server pushing before the client speaks: keep only its
                // newest bytes; its decoder resyncs from there.
                sn.reset(chunk.offset);
                sn.push(chunk.data, chunk.packet, chunk.ts, MAX_SNIFF);
            }
        }
        Pushed::Taken
    }

    fn recognised(&mut self, cx: &mut Ctx<'_>) {
        self.mode = Mode::WebSocket;
        self.detected_by = Some(Detection::Heuristic);
        let detail = "no HTTP upgrade in the capture (it began after the connection was set up?); \
                      recognised as WebSocket from a run of masked client frames";
        cx.acc
            .add(Finding::new(Code::HandshakeNotCaptured, detail).at(cx.meta.first_packet));
        for side in &mut self.sides {
            *side = match std::mem::replace(side, Side::Idle) {
                Side::Sniff(sn) => Side::Recognised(sn),
                _ => Side::AwaitFrames { aligned: false },
            };
        }
    }

    fn give_up(&mut self) {
        self.mode = Mode::Done;
        self.sides = [Side::Idle, Side::Idle];
        if let Some(hs) = &mut self.hs {
            hs.req = None;
        }
    }

    /// Reads a head in direction `d` from `data` (at stream `offset`).
    fn head(
        &mut self,
        cx: &mut Ctx<'_>,
        d: Dir,
        data: &[u8],
        (packet, ts): (u64, Timestamp),
        offset: u64,
    ) -> HeadStep {
        let Side::Head { reader, first } = &mut self.sides[d.index()] else {
            return HeadStep::Stop;
        };
        if reader.is_empty() {
            *first = (packet, ts);
            if d == Dir::ServerToClient && http::looks_like_response(data) == Some(false) {
                self.not_http_answer(cx, data, packet);
                return HeadStep::Stop;
            }
        }
        match reader.push(data) {
            Progress::Partial => HeadStep::Stop,
            Progress::TooLong => {
                self.give_up();
                HeadStep::Stop
            }
            Progress::Complete { used } => {
                let end = offset + used as u64;
                match d {
                    Dir::ClientToServer => {
                        self.request_done(cx, packet, end);
                        HeadStep::More(used)
                    }
                    Dir::ServerToClient => match self.response_done(cx, packet) {
                        Some(client) => HeadStep::Switched(used, client),
                        None => HeadStep::More(used),
                    },
                }
            }
        }
    }

    /// The server's first bytes are not an HTTP response.
    fn not_http_answer(&mut self, cx: &mut Ctx<'_>, data: &[u8], packet: u64) {
        if let Some(tls) = &mut self.tls {
            tls.version = http::tls::server_hello_version(data).map(http::tls::version_name);
        }
        if self.request().is_some() {
            self.server_answered_tls = looks_like_tls(data);
            let detail = if self.server_answered_tls {
                "the server answered the plaintext upgrade request with TLS: it expects TLS on this port"
                    .to_string()
            } else {
                format!(
                    "the server answered the upgrade request with non-HTTP bytes: {}",
                    crate::text::excerpt(data)
                )
            };
            cx.acc
                .add(Finding::new(Code::HandshakeRejected, detail).at(packet));
        }
        self.give_up();
    }

    /// The head's first packet (`packet` if it fitted in one).
    fn head_first(&self, d: Dir, packet: u64) -> u64 {
        match &self.sides[d.index()] {
            Side::Head { first, .. } if first.0 != 0 => first.0,
            _ => packet,
        }
    }

    /// The time of the head's first packet.
    fn head_first_ts(&self, d: Dir) -> Timestamp {
        match &self.sides[d.index()] {
            Side::Head { first, .. } => first.1,
            _ => Timestamp(0),
        }
    }

    /// The complete head read in direction `d`, taken from its reader.
    fn take_head(&mut self, d: Dir) -> Vec<u8> {
        match &mut self.sides[d.index()] {
            Side::Head { reader, .. } => reader.take(),
            _ => Vec::new(),
        }
    }

    fn head_bytes(&self, d: Dir) -> &[u8] {
        match &self.sides[d.index()] {
            Side::Head { reader, .. } => reader.bytes(),
            _ => &[],
        }
    }

    /// A complete request head, ending at stream offset `end`.
    fn request_done(&mut self, cx: &mut Ctx<'_>, packet: u64, end: u64) {
        let first = self.head_first(Dir::ClientToServer, packet);
        let mut req = match http::parse_request(self.take_head(Dir::ClientToServer)) {
            Ok(req) if wants_websocket(&req) => req,
            Ok(req) => return self.plain_request(&req),
            Err(_) => return self.give_up(),
        };
        cx.acc
            .extend_unbounded(handshake::check_request(&req, first));
        // The record takes the request line's words; the response is
        // checked against the headers only.
        let words = [
            std::mem::take(&mut req.method),
            std::mem::take(&mut req.target),
            req.version.text(),
        ];
        let at = (first, self.head_first_ts(Dir::ClientToServer));
        let info = request_info(words, &req.headers, at);
        self.register_leg(cx, &info);
        let hs = self.hs();
        hs.request = Some(info);
        hs.req = Some(req);
        self.sides[0] = Side::Pending {
            offset: end,
            chunks: Vec::new(),
            bytes: 0,
        };
    }

    /// A complete response head. `Some` when
    /// it switched protocols, with where the client's frames start.
    fn response_done(&mut self, cx: &mut Ctx<'_>, packet: u64) -> Option<Option<u64>> {
        let first = self.head_first(Dir::ServerToClient, packet);
        let mut resp = match http::parse_response(self.take_head(Dir::ServerToClient)) {
            Ok(r) if !self.plain.is_empty() => {
                self.plain_response(&r);
                return None;
            }
            Ok(r) if self.request().is_some() => r,
            Ok(r) if self.tls.is_some() => {
                let detail = format!(
                    "the client sent a TLS record and the server answered in plaintext HTTP ({} {}): \
                     TLS is terminated in the wrong place, or the client uses wss:// against a ws:// endpoint",
                    r.status, r.reason
                );
                let packet = self.tls.as_ref().map_or(first, |t| t.packet);
                cx.acc
                    .add(Finding::new(Code::TlsOnPlaintextPort, detail).at(packet));
                self.give_up();
                return None;
            }
            _ => {
                self.give_up();
                return None;
            }
        };
        let at = (first, self.head_first_ts(Dir::ServerToClient));
        let reason = std::mem::take(&mut resp.reason);
        let info = response_info(resp.version.text(), resp.status, reason, &resp.headers, at);
        self.hs().response = Some(info);
        if resp.status == 101 {
            return Some(self.upgraded(cx, &resp, first));
        }
        if resp.status / 100 == 1 {
            // An interim response (RFC 9110 15.2): the real answer follows.
            self.sides[1] = new_head();
        } else if self.parsed_request().is_none() {
            // The request was cut by the snaplen: whether it asked for an
            // upgrade is not known, so a refusal cannot be told.
            self.give_up();
        } else {
            let reason = self.response().map_or("", |r| r.reason.as_str());
            let detail = format!("server answered the upgrade with {} {reason}", resp.status);
            cx.acc
                .add(Finding::new(Code::HandshakeRejected, detail).at(first));
            self.give_up();
        }
        None
    }

    /// A request that is not an upgrade (keep-alive before the upgrade, RFC
    /// 9112 9.3): its body is skipped and the next request read; its
    /// response is skipped when it comes.
    fn plain_request(&mut self, req: &http::Request) {
        let body = http::request_body(req);
        if self.plain.len() >= MAX_PLAIN_PENDING || body == Some(http::BodyLen::UntilClose) {
            return self.give_up();
        }
        self.plain.push(req.method.eq_ignore_ascii_case("HEAD"));
        self.sides[0] = body_or_head(body);
    }

    /// The response to a request before the upgrade: skipped with its body.
    fn plain_response(&mut self, resp: &http::Response) {
        match resp.status {
            // Another protocol than WebSocket took the connection over.
            101 => return self.give_up(),
            // Interim (RFC 9110 15.2): the final answer follows.
            100..=199 => return self.sides[1] = new_head(),
            _ => {}
        }
        let to_head = self.plain.pop().unwrap_or(false);
        let body = http::response_body(resp, to_head);
        if body == Some(http::BodyLen::UntilClose) {
            // Nothing can follow a body that ends with the connection.
            return self.give_up();
        }
        self.sides[1] = body_or_head(body);
    }

    /// The server switched protocols (RFC 6455 4.1: frames follow the 101's
    /// blank line): returns where the client's frames start, right after its
    /// request head, if its bytes were being held.
    fn upgraded(&mut self, cx: &mut Ctx<'_>, resp: &http::Response, packet: u64) -> Option<u64> {
        self.mode = Mode::WebSocket;
        self.detected_by = Some(Detection::Handshake);
        let hs = self.hs();
        if let Some(req) = hs.req.take() {
            let (findings, negotiated) = handshake::check_response(&req, resp, packet);
            findings.into_iter().for_each(|f| cx.acc.add(f));
            hs.negotiated = Some(negotiated);
        }
        self.sides[1] = Side::Frames;
        match &self.sides[0] {
            Side::Pending { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

impl Upgrade {
    /// A head cut by the snaplen (headers-only captures, `tcpdump -s 96`):
    /// the request line is taken as the upgrade, and a 101 status line as
    /// the switch (RFC 6455 4.1: frames follow the 101's head, here from the
    /// next captured byte). The header checks need the whole head: skipped.
    fn cut_head(&mut self, cx: &mut Ctx<'_>, d: Dir, gap: &Gap) -> GapStep {
        let first = self.head_first(d, gap.packet);
        let visible = http::parse_cut_head(self.head_bytes(d));
        let after = gap.offset + gap.len;
        self.extensions_unknown = true;
        match (d, visible) {
            (Dir::ClientToServer, Some(head)) if self.plain.is_empty() => {
                self.cut_request(cx, head, first, after);
                GapStep::Ignore
            }
            (Dir::ServerToClient, Some(head))
                if self.request().is_some() && self.plain.is_empty() =>
            {
                self.cut_response(cx, head, first, after)
            }
            _ => {
                self.give_up();
                GapStep::Ignore
            }
        }
    }

    fn cut_request(&mut self, cx: &mut Ctx<'_>, head: http::CutHead, packet: u64, after: u64) {
        let word = |i: usize| head.words.get(i).cloned().unwrap_or_default();
        let info = request_info(
            [word(0), word(1), word(2)],
            &head.headers,
            (packet, self.head_first_ts(Dir::ClientToServer)),
        );
        self.register_leg(cx, &info);
        let hs = self.hs();
        hs.request = Some(info);
        hs.req = None;
        self.sides[0] = Side::Pending {
            offset: after,
            chunks: Vec::new(),
            bytes: 0,
        };
    }

    fn cut_response(
        &mut self,
        cx: &mut Ctx<'_>,
        head: http::CutHead,
        packet: u64,
        after: u64,
    ) -> GapStep {
        let status: u16 = head.words[1].parse().unwrap_or(0);
        let reason = head.words[2..].join(" ");
        let at = (packet, self.head_first_ts(Dir::ServerToClient));
        let info = response_info(
            head.words[0].clone(),
            status,
            Text::from(reason.as_str()),
            &head.headers,
            at,
        );
        self.hs().response = Some(info);
        if status != 101 {
            if self.parsed_request().is_some() && status / 100 != 1 {
                let detail = format!(
                    "server answered the upgrade with {status} {reason} (head cut by the snaplen)"
                );
                cx.acc
                    .add(Finding::new(Code::HandshakeRejected, detail).at(packet));
            }
            self.give_up();
            return GapStep::Ignore;
        }
        self.mode = Mode::WebSocket;
        self.detected_by = Some(Detection::Handshake);
        self.hs().req = None;
        self.sides[1] = Side::Frames;
        let client = match &self.sides[0] {
            Side::Pending { offset, .. } => Some(*offset),
            _ => None,
        };
        GapStep::Switched {
            server: after,
            client,
        }
    }
}

/// A request that tries to open a WebSocket: it says so in Upgrade, or
/// carries the WebSocket headers that a proxy may have left after stripping
/// Upgrade.
fn wants_websocket(req: &http::Request) -> bool {
    let h = &req.headers;
    h.has_token(Field::Upgrade, "websocket")
        || h.count(Field::SecWebSocketKey) > 0
        || h.count(Field::SecWebSocketVersion) > 0
}

/// What a TLS connection's first client bytes say of it.
/// What the client's first TLS record (at `packet`) says of the connection.
pub(super) fn tls_info(data: &[u8], packet: u64) -> TlsInfo {
    let hello = http::tls::client_hello(data).unwrap_or_default();
    TlsInfo {
        packet,
        version: None,
        client_version: hello.version.map(http::tls::version_name),
        sni: hello.sni,
        alpn: hello.alpn,
        ..TlsInfo::default()
    }
}

/// Where a head was seen: its first packet and that packet's time.
type At = (u64, Timestamp);

/// A request as recorded: its line's words and the headers it shows.
fn request_info(words: [Text; 3], h: &http::Headers, (packet, ts): At) -> RequestInfo {
    let [method, target, version] = words;
    let get = |f| h.get(f).map(|v| Text::from(v.as_ref()));
    RequestInfo {
        packet,
        ts,
        method,
        target,
        version,
        host: get(Field::Host),
        origin: get(Field::Origin),
        upgrade: get(Field::Upgrade),
        connection: get(Field::Connection),
        sec_websocket_key: get(Field::SecWebSocketKey),
        sec_websocket_version: get(Field::SecWebSocketVersion),
        sec_websocket_protocol: get(Field::SecWebSocketProtocol),
        sec_websocket_extensions: get(Field::SecWebSocketExtensions),
        user_agent: get(Field::UserAgent),
    }
}

/// A response as recorded: its status line and the headers it shows.
fn response_info(
    version: Text,
    status: u16,
    reason: Text,
    h: &http::Headers,
    (packet, ts): At,
) -> ResponseInfo {
    let get = |f| h.get(f).map(|v| Text::from(v.as_ref()));
    ResponseInfo {
        packet,
        ts,
        version,
        status,
        reason,
        upgrade: get(Field::Upgrade),
        connection: get(Field::Connection),
        sec_websocket_accept: get(Field::SecWebSocketAccept),
        sec_websocket_protocol: get(Field::SecWebSocketProtocol),
        sec_websocket_extensions: get(Field::SecWebSocketExtensions),
    }
}
