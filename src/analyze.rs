//! Per-connection analysis: finds the HTTP Upgrade in a reassembled TCP
//! connection, then runs a frame decoder over each direction and turns what
//! it reports into records.
//!
//! This is the [`StreamHandler`] the TCP reassembler drives. Each connection
//! moves through:
//!
//! ```text
//! Undecided --request head with Upgrade/Sec-WebSocket-*--> Handshake
//! Handshake --101--> WebSocket          (frames start right after the blank line)
//! Handshake --other status--> Done      (handshake_rejected)
//! Undecided --TLS ClientHello--> Handshake, waiting for the server's answer
//!                                       (plaintext HTTP or silence: tls_on_plaintext_port)
//! Undecided --no HTTP, --port given--> WebSocket (handshake_not_captured)
//! Undecided --no HTTP--> Sniff          (bytes kept, up to 16 KiB a direction)
//! Sniff --a proven run of masked client frames--> WebSocket (handshake_not_captured)
//! Sniff --client bytes overflow--> Done (not WebSocket; only counted)
//! Undecided --request without WebSocket headers--> Done
//! ```

use crate::diagnosis::{self, FrameEvidence};
use crate::finding::{Code, Finding, Severity};
use crate::http::{self, HeadReader, Progress, looks_like_tls};
use crate::record::{
    ConnectionRecord, DeflateInfo, Diagnosis, FrameRecord, MaskKey, NegotiatedInfo, PerDir, Record,
    RequestInfo, ResponseInfo, TcpDirInfo,
};
use crate::tcp::{
    Chunk, CloseReason, ConnMeta, Dir, Gap, GapReason, RoleSource, StreamEvent, StreamHandler,
};
use crate::time::Timestamp;
use crate::websocket::handshake::{self, Negotiated};
use crate::websocket::kept::Kept;
use crate::websocket::resync::proven_frames;
use crate::websocket::validate::{self, Scratch, Validator};
use crate::websocket::{DecodeEvent, Expect, ForeignKind, FrameDecoder, SyncLoss};
use std::collections::{BTreeMap, HashMap};

/// Where records go. Writers implement it; an error (e.g. a closed pipe)
/// stops the analysis.
pub trait Sink {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()>;

    /// Whether frame records are written at all (a summary writer drops
    /// them): when not, per-frame work done only for the output, such as
    /// payload previews, is skipped.
    fn wants_frames(&self) -> bool {
        true
    }
}

/// What the analysis is told by the user.
#[derive(Clone, Debug)]
pub struct Options {
    /// Ports on which a stream is WebSocket even without a captured handshake.
    pub ports: Vec<u16>,
    /// A server's configured frame size limit (`--max-payload`).
    pub max_payload: Option<u64>,
    /// Inflated bytes allowed per compressed message before
    /// `decompression_limit_exceeded`.
    pub max_inflated: u64,
    /// How each frame's payload preview is written (`--payload`).
    pub payload: PayloadMode,
    /// Bytes of payload in a preview (`--payload-bytes`).
    pub payload_bytes: usize,
}

/// The bytes as text when they need no escaping (valid UTF-8 without
/// control characters or backslashes). Checked on bytes first, as nearly
/// all text is ASCII.
fn plain_text(bytes: &[u8]) -> Option<&str> {
    let plain = |b: &u8| (b' '..=b'~').contains(b) && *b != b'\\';
    let s = std::str::from_utf8(bytes).ok()?;
    if bytes.iter().all(plain) || !s.chars().any(|c| c.is_control() || c == '\\') {
        Some(s)
    } else {
        None
    }
}

/// How a payload preview is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadMode {
    None,
    /// Text with non-printable characters escaped (`\n`, `\x00`).
    Text,
    Hex,
    Base64,
}

impl PayloadMode {
    /// The preview string for `bytes`, or `None` when previews are off.
    pub fn render(self, bytes: &[u8]) -> Option<String> {
        use base64::Engine;
        match self {
            PayloadMode::None => None,
            PayloadMode::Hex => Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
            PayloadMode::Base64 => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            PayloadMode::Text if let Some(text) = plain_text(bytes) => {
                // The common case, printable text, is copied as it is.
                Some(text.to_owned())
            }
            PayloadMode::Text => {
                let mut s = String::with_capacity(bytes.len());
                for chunk in bytes.utf8_chunks() {
                    for c in chunk.valid().chars() {
                        match c {
                            '\n' => s.push_str("\\n"),
                            '\r' => s.push_str("\\r"),
                            '\t' => s.push_str("\\t"),
                            '\\' => s.push_str("\\\\"),
                            c if c.is_control() => s.push_str(&format!("\\x{:02x}", c as u32)),
                            c => s.push(c),
                        }
                    }
                    for b in chunk.invalid() {
                        s.push_str(&format!("\\x{b:02x}"));
                    }
                }
                Some(s)
            }
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ports: Vec::new(),
            max_payload: None,
            max_inflated: 64 << 20,
            payload: PayloadMode::Text,
            payload_bytes: 32,
        }
    }
}

/// Client bytes after the request head, held until the response decides
/// what they are; more than this and the connection is given up.
const MAX_PENDING: usize = 256 * 1024;

/// Counters across connections, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub websocket_connections: u64,
    pub frames: u64,
    pub findings_by_code: BTreeMap<&'static str, u64>,
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    pub diagnoses: BTreeMap<&'static str, u64>,
}

pub struct Analyzer<S: Sink> {
    opts: Options,
    out: Out<S>,
    /// Upgrade requests by Sec-WebSocket-Key, to tie together the two legs
    /// of a proxied connection (a proxy forwards the client's key).
    legs: HashMap<String, KeyLegs>,
}

/// The connections that sent one Sec-WebSocket-Key.
#[derive(Default)]
struct KeyLegs {
    /// Connections with this key not closed yet; the entry goes at 0.
    open: u32,
    /// At most two: a proxied connection's legs.
    legs: Vec<Leg>,
    /// More than two connections, or two far apart in time, used the key
    /// (test tools reuse the RFC's sample key): nothing is linked.
    ambiguous: bool,
}

/// Requests of two legs of one proxied connection are this close in time.
const LEG_WINDOW_NS: u64 = 10_000_000_000;

/// One connection that sent a given key.
struct Leg {
    conn: u64,
    request_ts: Timestamp,
    /// Once closed: the causes found on it (and where they first showed).
    closed: Option<Vec<Diagnosis>>,
}

/// The output side, kept apart from connection state so both can be
/// borrowed at once.
struct Out<S> {
    sink: S,
    totals: Totals,
    error: Option<std::io::Error>,
    scratch: Scratch,
    preview: PayloadMode,
}

impl<S: Sink> Out<S> {
    fn emit(&mut self, r: Record<'_>) {
        if self.error.is_none()
            && let Err(e) = self.sink.record(r)
        {
            self.error = Some(e);
        }
    }

    fn count(&mut self, f: &Finding) {
        *self
            .totals
            .findings_by_code
            .entry(f.code.name())
            .or_default() += 1;
        *self
            .totals
            .findings_by_severity
            .entry(f.severity.as_str())
            .or_default() += 1;
    }
}

impl<S: Sink> Analyzer<S> {
    pub fn new(opts: Options, sink: S) -> Analyzer<S> {
        let preview = if sink.wants_frames() {
            opts.payload
        } else {
            PayloadMode::None
        };
        Analyzer {
            opts,
            out: Out {
                sink,
                totals: Totals::default(),
                error: None,
                scratch: Scratch::default(),
                preview,
            },
            legs: HashMap::new(),
        }
    }

    pub fn totals(&self) -> &Totals {
        &self.out.totals
    }

    /// The first write error, if any: the caller should stop feeding.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.out.error.take()
    }

    pub fn has_error(&self) -> bool {
        self.out.error.is_some()
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.out.sink
    }

    pub fn into_sink(self) -> S {
        self.out.sink
    }
}

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
enum DirState {
    /// Waiting for (or reading) an HTTP head; `first` = its first packet.
    Head {
        reader: HeadReader,
        first: u64,
    },
    /// Client bytes after the request head, until the response decides.
    Pending {
        offset: u64,
        chunks: Vec<(u64, Timestamp, Vec<u8>)>,
        bytes: usize,
    },
    /// Decode frames from the first byte that arrives (no handshake seen);
    /// `aligned` when that byte is known to start a frame (the stream's
    /// start after a SYN).
    AwaitFrames {
        aligned: bool,
    },
    Frames(Box<FrameCtx>),
    /// No handshake: bytes kept (with the packet each run came from) until
    /// they prove to be WebSocket frames or exceed [`MAX_SNIFF`].
    Sniff(Box<Kept>),
    Idle,
}

/// Bytes per direction examined for frames when no handshake was seen.
const MAX_SNIFF: usize = 16 * 1024;

struct FrameCtx {
    dec: FrameDecoder,
    val: Validator,
    cur: Option<FrameRecord>,
}

/// Gap and conflict tallies, reported once per connection rather than once
/// per packet (a small snaplen cuts every packet).
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    count: u64,
    bytes: u64,
    first_packet: u64,
    first_offset: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64, packet: u64, offset: u64) {
        if self.count == 0 {
            self.first_packet = packet;
            self.first_offset = offset;
        }
        self.count += 1;
        self.bytes += bytes;
    }
}

/// Counts and findings of one connection, apart from the per-direction
/// decoders so both can be borrowed at once.
#[derive(Default)]
struct Acc {
    frames: PerDir<u64>,
    payload_bytes: PerDir<u64>,
    findings: Vec<Finding>,
    /// Findings beyond the per-code cap: (code, severity, how many).
    dropped: Vec<(Code, Severity, u64)>,
    by_code: BTreeMap<&'static str, u64>,
    by_severity: BTreeMap<&'static str, u64>,
    lost: PerDir<Tally>,
    snaplen: PerDir<Tally>,
    memcap: PerDir<Tally>,
    conflicts: PerDir<Tally>,
    close_codes: PerDir<Vec<u16>>,
    /// Frames with a masking violation (and the frames after them in the
    /// same direction), held until the receiver shows whether it tolerates
    /// the violation; indexed by sender.
    held: PerDir<Vec<FrameRecord>>,
    /// Whether each sender's receiver tolerated its masking violations.
    tolerated: PerDir<Option<bool>>,
    last_frame_ts: Option<Timestamp>,
    /// The first frame showing each finding code, for the diagnosis.
    frame_evidence: Vec<FrameEvidence>,
    /// Set while the connection is being closed: what ends frames cut short.
    ending: Option<CloseReason>,
}

/// Connection-level findings kept per code; beyond it they are only counted
/// (hostile streams can repeat foreign bytes or resyncs without end).
const MAX_FINDINGS_PER_CODE: usize = 8;

impl Acc {
    /// Adds a connection-level finding, keeping at most
    /// [`MAX_FINDINGS_PER_CODE`] of a code and counting the rest.
    fn add(&mut self, f: Finding) {
        if self.findings.iter().filter(|k| k.code == f.code).count() < MAX_FINDINGS_PER_CODE {
            self.findings.push(f);
        } else if let Some(d) = self
            .dropped
            .iter_mut()
            .find(|d| d.0 == f.code && d.1 == f.severity)
        {
            d.2 += 1;
        } else {
            self.dropped.push((f.code, f.severity, 1));
        }
    }

    /// The tally of bytes missing for `reason` in direction `d`.
    fn gaps(&mut self, reason: GapReason, d: Dir) -> &mut Tally {
        match reason {
            GapReason::Lost => self.lost.get_mut(d),
            GapReason::Memcap => self.memcap.get_mut(d),
            GapReason::Snaplen => self.snaplen.get_mut(d),
        }
    }

    fn note(&mut self, f: &Finding) {
        *self.by_code.entry(f.code.name()).or_default() += 1;
        *self.by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
}

/// Most frames held while waiting for the receiver's reaction.
const MAX_HELD: usize = 64;

fn is_masking(code: Code) -> bool {
    matches!(code, Code::UnmaskedClientFrame | Code::MaskedServerFrame)
}

/// Emits a finished frame. Masking violations (RFC 6455 5.1) oblige the
/// receiver to fail the connection; many servers tolerate them instead
/// (wstunnel, for one, never masks). Which it was decides the severity:
/// the frame is held until the receiver reacts: a later frame other than a
/// 1002/1007 close means it carried on (warning, the deployment works but
/// would break with a conforming peer); a protocol-error close, a bare
/// TCP close or the end of the capture keep the error.
fn finish_frame<S: Sink>(rec: FrameRecord, d: Dir, acc: &mut Acc, out: &mut Out<S>) {
    let peer = d.reverse();
    if !acc.held.get_mut(peer).is_empty() {
        let rejected = rec.close_code.is_some_and(|c| c == 1002 || c == 1007);
        release_held(peer, Some(!rejected), acc, out);
    }
    let masking = rec.findings.iter().any(|f| is_masking(f.code));
    let holding = !acc.held.get_mut(d).is_empty();
    if (masking && acc.tolerated.get_mut(d).is_none()) || holding {
        acc.held.get_mut(d).push(rec);
        if acc.held.get_mut(d).len() > MAX_HELD {
            release_held(d, None, acc, out);
        }
        return;
    }
    let verdict = *acc.tolerated.get_mut(d);
    emit_frame(rec, verdict, acc, out);
}

/// Emits the frames held for sender `d`, with the receiver's verdict (None:
/// no reaction seen).
fn release_held<S: Sink>(d: Dir, tolerated: Option<bool>, acc: &mut Acc, out: &mut Out<S>) {
    if tolerated.is_some() {
        *acc.tolerated.get_mut(d) = tolerated;
    }
    for rec in std::mem::take(acc.held.get_mut(d)) {
        emit_frame(rec, tolerated, acc, out);
    }
}

fn emit_frame<S: Sink>(
    mut rec: FrameRecord,
    tolerated: Option<bool>,
    acc: &mut Acc,
    out: &mut Out<S>,
) {
    if tolerated == Some(true) {
        for f in rec.findings.iter_mut().filter(|f| is_masking(f.code)) {
            f.severity = Severity::Warning;
            f.detail.push_str(
                "; the receiver carried on, so it tolerates this, but a peer following RFC 6455 fails the connection (close 1002)",
            );
        }
    }
    out.totals.frames += 1;
    acc.last_frame_ts = acc.last_frame_ts.max(Some(rec.ts));
    for f in &rec.findings {
        acc.note(f);
        out.count(f);
        if !acc.frame_evidence.iter().any(|e| e.code == f.code) {
            acc.frame_evidence.push(FrameEvidence {
                code: f.code,
                packet: rec.packet,
                dir: rec.dir,
                detail: f.detail.clone(),
            });
        }
    }
    out.emit(Record::Frame(&rec));
}

pub struct ConnState {
    mode: Mode,
    /// The guessed roles were wrong: the "server" sent the request.
    swapped: bool,
    port_mode: bool,
    detected_by: Option<&'static str>,
    dirs: [DirState; 2],
    request: Option<Box<RequestInfo>>,
    response: Option<Box<ResponseInfo>>,
    /// The parsed upgrade request, until the response is checked against it.
    req: Option<Box<http::Request>>,
    negotiated: Option<Box<Negotiated>>,
    /// Packet of a TLS record sent where the upgrade request was expected.
    tls_hello: Option<u64>,
    acc: Box<Acc>,
}

impl ConnState {
    fn deflate(&self) -> Option<handshake::Deflate> {
        self.negotiated.as_ref().and_then(|n| n.deflate)
    }
}

fn new_head() -> DirState {
    DirState::Head {
        reader: HeadReader::new(),
        first: 0,
    }
}

impl<S: Sink> StreamHandler for Analyzer<S> {
    type Conn = ConnState;

    fn open(&mut self, meta: &ConnMeta) -> ConnState {
        let on_port = |p: u16| self.opts.ports.contains(&p);
        let port_mode = on_port(meta.server.port()) || on_port(meta.client.port());
        // With --port P, the endpoint on P is the server, whatever the guess.
        let swapped = meta.roles == RoleSource::PortGuess
            && on_port(meta.client.port())
            && !on_port(meta.server.port());
        ConnState {
            mode: Mode::Undecided,
            swapped,
            port_mode,
            detected_by: None,
            dirs: [new_head(), new_head()],
            request: None,
            response: None,
            req: None,
            negotiated: None,
            tls_hello: None,
            acc: Box::default(),
        }
    }

    fn event(&mut self, st: &mut ConnState, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        let d = if st.swapped { dir.reverse() } else { dir };
        match ev {
            StreamEvent::Data(chunk) => self.data(st, meta, d, chunk),
            StreamEvent::Gap(gap) => self.gap(st, meta, d, gap),
            StreamEvent::Conflict {
                offset,
                len,
                packet,
                ..
            } => st.acc.conflicts.get_mut(d).add(len, packet, offset),
        }
    }

    fn close(&mut self, mut st: ConnState, meta: &ConnMeta, reason: CloseReason) {
        st.acc.ending = Some(reason);
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            if let DirState::Frames(ctx) = &mut st.dirs[d.index()] {
                let FrameCtx { dec, val, cur } = &mut **ctx;
                let acc = &mut st.acc;
                let out = &mut self.out;
                dec.finish(&mut |ev| on_decode(ev, d, meta, cur, val, acc, out, None));
            }
        }
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            release_held(d, None, &mut st.acc, &mut self.out);
        }
        self.tls_unanswered(&mut st, meta, reason);
        self.connection_record(st, meta, reason);
    }
}

impl<S: Sink> Analyzer<S> {
    fn data(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: Chunk<'_>) {
        let mut d = d;
        if st.mode == Mode::Undecided {
            let swapped = st.swapped;
            self.decide(st, meta, d, chunk.data, chunk.packet);
            if st.swapped != swapped {
                d = d.reverse();
            }
        }
        let mut data = chunk.data;
        let mut offset = chunk.offset;
        while !data.is_empty() {
            let used = match &mut st.dirs[d.index()] {
                DirState::Idle => return,
                DirState::Head { reader, first } => {
                    if reader.is_empty() {
                        *first = chunk.packet;
                        if d == Dir::ServerToClient
                            && http::looks_like_response(data) == Some(false)
                        {
                            self.not_http_answer(st, data, chunk.packet);
                            return;
                        }
                    }
                    match reader.push(data) {
                        Progress::Partial => return,
                        Progress::TooLong => {
                            self.give_up(st);
                            return;
                        }
                        Progress::Complete { used } => {
                            self.head_done(st, meta, d, chunk.packet, offset + used as u64);
                            used
                        }
                    }
                }
                DirState::Pending { chunks, bytes, .. } => {
                    *bytes += data.len();
                    if *bytes > MAX_PENDING {
                        self.give_up(st);
                        return;
                    }
                    chunks.push((chunk.packet, chunk.ts, data.to_vec()));
                    return;
                }
                DirState::AwaitFrames { aligned } => {
                    let aligned = *aligned;
                    st.dirs[d.index()] = self.frames(st, d, offset, aligned);
                    0
                }
                DirState::Frames(ctx) => {
                    let FrameCtx { dec, val, cur } = &mut **ctx;
                    let acc = &mut st.acc;
                    let out = &mut self.out;
                    dec.push(data, chunk.packet, chunk.ts, &mut |ev| {
                        on_decode(ev, d, meta, cur, val, acc, out, None)
                    });
                    return;
                }
                DirState::Sniff(_) => {
                    let rest = Chunk {
                        offset,
                        data,
                        ..chunk
                    };
                    return self.sniff(st, meta, d, rest);
                }
            };
            data = &data[used..];
            offset += used as u64;
        }
    }

    /// First bytes of a connection: is it an HTTP upgrade, WebSocket without
    /// a handshake, or something else?
    fn decide(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, data: &[u8], packet: u64) {
        let is_request = http::looks_like_request(data);
        if d == Dir::ServerToClient
            && meta.roles == RoleSource::PortGuess
            && is_request == Some(true)
        {
            // The side guessed to be the server sent a request: roles were
            // the wrong way round.
            st.swapped = !st.swapped;
            st.mode = Mode::Handshake;
            return;
        }
        match (d, is_request) {
            (Dir::ClientToServer, Some(true) | None) => st.mode = Mode::Handshake,
            (Dir::ClientToServer, Some(false)) if looks_like_tls(data) && !st.port_mode => {
                // Ordinary TLS, unless the server answers in plaintext HTTP
                // (then TLS reached a plaintext port): wait for its answer.
                st.tls_hello = Some(packet);
                st.mode = Mode::Handshake;
                st.dirs[0] = DirState::Idle;
            }
            (Dir::ClientToServer, Some(false)) if looks_like_tls(data) => {
                let f = Finding::new(
                    Code::TlsOnPlaintextPort,
                    "the client opened with a TLS record on a port given as plaintext WebSocket (--port)",
                )
                .at(packet);
                st.acc.add(f);
                self.give_up(st);
            }
            _ if st.port_mode => {
                st.mode = Mode::WebSocket;
                st.detected_by = Some("port");
                let aligned = meta.syn_seen;
                st.dirs = [
                    DirState::AwaitFrames { aligned },
                    DirState::AwaitFrames { aligned },
                ];
                let f = Finding::new(
                    Code::HandshakeNotCaptured,
                    format!(
                        "no HTTP upgrade before the first {} bytes; decoding as WebSocket because of --port",
                        d.as_str()
                    ),
                );
                st.acc.add(f);
            }
            _ => {
                st.mode = Mode::Sniff;
                st.dirs = [
                    DirState::Sniff(Box::default()),
                    DirState::Sniff(Box::default()),
                ];
            }
        }
    }

    /// Keeps the first bytes of a connection without a handshake; once the
    /// client's bytes hold a proven run of masked frames (RFC 6455 5.1: a
    /// client masks every frame, which few other protocols' bytes mimic),
    /// the connection is WebSocket and the kept bytes are decoded.
    fn sniff(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: Chunk<'_>) {
        let DirState::Sniff(sn) = &mut st.dirs[d.index()] else {
            return;
        };
        if sn.is_empty() {
            sn.reset(chunk.offset);
        }
        let kept = sn.push(chunk.data, chunk.packet, chunk.ts, MAX_SNIFF);
        if d == Dir::ClientToServer && proven_frames(sn, expect_for(d, false)) {
            return self.recognised(st, meta);
        }
        if kept < chunk.data.len() {
            if d == Dir::ClientToServer {
                self.give_up(st);
            } else if let DirState::Sniff(sn) = &mut st.dirs[d.index()] {
                // A server pushing before the client speaks: keep only its
                // newest bytes; its decoder resyncs from there.
                sn.reset(chunk.offset);
                sn.push(chunk.data, chunk.packet, chunk.ts, MAX_SNIFF);
            }
        }
    }

    fn recognised(&mut self, st: &mut ConnState, meta: &ConnMeta) {
        st.mode = Mode::WebSocket;
        st.detected_by = Some("heuristic");
        let detail = "no HTTP upgrade in the capture (it began after the connection was set up?); \
                      recognised as WebSocket from a run of masked client frames";
        st.acc
            .add(Finding::new(Code::HandshakeNotCaptured, detail).at(meta.first_packet));
        let kept = std::mem::replace(
            &mut st.dirs,
            [
                DirState::AwaitFrames { aligned: false },
                DirState::AwaitFrames { aligned: false },
            ],
        );
        for (d, state) in [Dir::ClientToServer, Dir::ServerToClient]
            .into_iter()
            .zip(kept)
        {
            let DirState::Sniff(sn) = state else { continue };
            for (offset, data, packet, ts) in sn.runs_from(0) {
                let chunk = Chunk {
                    offset,
                    data,
                    packet,
                    ts,
                };
                self.data(st, meta, d, chunk);
            }
        }
    }

    /// A TLS ClientHello that the server closed the connection on without a
    /// single byte in reply: a TLS server answers (at least with an alert),
    /// a plaintext HTTP/WebSocket server reading garbage often just closes.
    fn tls_unanswered(&mut self, st: &mut ConnState, meta: &ConnMeta, reason: CloseReason) {
        let Some(packet) = st.tls_hello else { return };
        let s = if st.swapped { 0 } else { 1 };
        let server_closed = matches!(reason, CloseReason::Fin | CloseReason::Rst);
        if st.response.is_none() && server_closed && meta.stats[s].wire_bytes == 0 {
            let detail = "the client opened with a TLS ClientHello and the server closed the connection \
                          without any TLS reply: the server likely speaks plaintext (ws://) while the client \
                          uses TLS (wss://), or TLS is terminated in the wrong place";
            st.acc
                .add(Finding::new(Code::TlsOnPlaintextPort, detail).at(packet));
        }
    }

    fn give_up(&mut self, st: &mut ConnState) {
        st.mode = Mode::Done;
        st.dirs = [DirState::Idle, DirState::Idle];
        st.req = None;
    }

    /// The server's first bytes are not an HTTP response.
    fn not_http_answer(&mut self, st: &mut ConnState, data: &[u8], packet: u64) {
        if st.request.is_some() {
            let detail = if looks_like_tls(data) {
                "the server answered the plaintext upgrade request with TLS: it expects TLS on this port".to_string()
            } else {
                format!(
                    "the server answered the upgrade request with non-HTTP bytes: {}",
                    excerpt(data)
                )
            };
            st.acc
                .add(Finding::new(Code::HandshakeRejected, detail).at(packet));
        }
        self.give_up(st);
    }

    /// Frame decoding and validation for direction `d` from stream `offset`.
    fn frames(&self, st: &ConnState, d: Dir, offset: u64, aligned: bool) -> DirState {
        let deflate = st.deflate();
        let expect = expect_for(d, deflate.is_some());
        let dec = if aligned {
            FrameDecoder::new(offset, expect)
        } else {
            FrameDecoder::new_lost(offset, expect)
        };
        let mut val = Validator::new(validate::Config {
            from_client: d == Dir::ClientToServer,
            deflate,
            max_payload: self.opts.max_payload,
            max_inflated: self.opts.max_inflated,
            preview: match self.out.preview {
                PayloadMode::None => 0,
                _ => self.opts.payload_bytes,
            },
        });
        if !aligned {
            val.lost_sync();
        }
        DirState::Frames(Box::new(FrameCtx {
            dec,
            val,
            cur: None,
        }))
    }

    /// A complete head in direction `d`, ending at stream offset `end`.
    fn head_done(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, packet: u64, end: u64) {
        let DirState::Head { reader, first } = &st.dirs[d.index()] else {
            return;
        };
        let first = if *first == 0 { packet } else { *first };
        match d {
            Dir::ClientToServer => match http::parse_request(reader.bytes()) {
                Ok(req) if wants_websocket(&req) => {
                    st.request = Some(Box::new(request_info(&req, first)));
                    st.acc
                        .findings
                        .extend(handshake::check_request(&req, first));
                    if let Some(key) = req.headers.get("Sec-WebSocket-Key") {
                        let e = self.legs.entry(key).or_default();
                        e.open += 1;
                        let far = e.legs.first().is_some_and(|l| {
                            l.request_ts.0.abs_diff(meta.last_ts.0) > LEG_WINDOW_NS
                        });
                        if e.legs.len() == 2 || far {
                            e.ambiguous = true;
                            e.legs.clear();
                        } else if !e.ambiguous {
                            e.legs.push(Leg {
                                conn: meta.id,
                                request_ts: meta.last_ts,
                                closed: None,
                            });
                        }
                    }
                    st.req = Some(Box::new(req));
                    st.dirs[d.index()] = DirState::Pending {
                        offset: end,
                        chunks: Vec::new(),
                        bytes: 0,
                    };
                }
                _ => self.give_up(st),
            },
            Dir::ServerToClient => {
                let resp = match http::parse_response(reader.bytes()) {
                    Ok(r) if st.request.is_some() => r,
                    Ok(r) if st.tls_hello.is_some() => {
                        let detail = format!(
                            "the client sent a TLS record and the server answered in plaintext HTTP ({} {}): \
                             TLS is terminated in the wrong place, or the client uses wss:// against a ws:// endpoint",
                            r.status, r.reason
                        );
                        let packet = st.tls_hello.unwrap_or(first);
                        st.acc
                            .add(Finding::new(Code::TlsOnPlaintextPort, detail).at(packet));
                        return self.give_up(st);
                    }
                    _ => return self.give_up(st),
                };
                st.response = Some(Box::new(response_info(&resp, first)));
                if resp.status == 101 {
                    self.upgraded(st, meta, &resp, end);
                } else if resp.status / 100 == 1 {
                    // An interim response (RFC 9110 15.2): the real answer follows.
                    st.dirs[d.index()] = new_head();
                } else {
                    let f = Finding::new(
                        Code::HandshakeRejected,
                        format!(
                            "server answered the upgrade with {} {}",
                            resp.status, resp.reason
                        ),
                    )
                    .at(first);
                    st.acc.add(f);
                    self.give_up(st);
                }
            }
        }
    }

    /// The server switched protocols: frames start at `end` in the server's
    /// direction and right after the request head in the client's.
    fn upgraded(&mut self, st: &mut ConnState, meta: &ConnMeta, resp: &http::Response, end: u64) {
        st.mode = Mode::WebSocket;
        st.detected_by = Some("handshake");
        if let Some(req) = st.req.take() {
            let packet = st.response.as_ref().map_or(0, |r| r.packet);
            let (findings, negotiated) = handshake::check_response(&req, resp, packet);
            findings.into_iter().for_each(|f| st.acc.add(f));
            st.negotiated = Some(Box::new(negotiated));
        }
        st.dirs[1] = self.frames(st, Dir::ServerToClient, end, true);
        let pending = std::mem::replace(&mut st.dirs[0], DirState::Idle);
        let DirState::Pending { offset, chunks, .. } = pending else {
            return;
        };
        st.dirs[0] = self.frames(st, Dir::ClientToServer, offset, true);
        for (packet, ts, bytes) in chunks {
            let chunk = Chunk {
                offset: 0,
                data: &bytes,
                packet,
                ts,
            };
            self.data(st, meta, Dir::ClientToServer, chunk);
        }
    }

    fn gap(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, gap: Gap) {
        st.acc
            .gaps(gap.reason, d)
            .add(gap.len, gap.packet, gap.offset);
        match &mut st.dirs[d.index()] {
            DirState::Frames(ctx) => {
                let FrameCtx { dec, val, cur } = &mut **ctx;
                let acc = &mut st.acc;
                let out = &mut self.out;
                dec.gap(gap.len, gap.packet, gap.ts, &mut |ev| {
                    on_decode(ev, d, meta, cur, val, acc, out, Some(gap))
                });
            }
            DirState::Sniff(sn) => {
                // Kept bytes must be contiguous: start again after the hole.
                sn.reset(gap.offset + gap.len);
            }
            DirState::AwaitFrames { .. } => {
                // Nothing decoded yet: start lost after the gap.
                st.dirs[d.index()] = self.frames(st, d, gap.offset + gap.len, false);
            }
            // A hole in a head or in held client bytes: the handshake cannot
            // be read, so nothing after it can be placed.
            DirState::Head { .. } | DirState::Pending { .. } => self.give_up(st),
            DirState::Idle => {}
        }
    }

    fn connection_record(&mut self, st: ConnState, meta: &ConnMeta, reason: CloseReason) {
        let ConnState {
            swapped,
            detected_by,
            request,
            response,
            negotiated,
            mut acc,
            ..
        } = st;
        let (client, server) = if swapped {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        let roles = match (swapped, meta.roles) {
            (true, _) => "http",
            (false, RoleSource::PortGuess) if request.is_some() => "http",
            (false, r) => r.as_str(),
        };
        tally_findings(&mut acc);
        let mut findings = std::mem::take(&mut acc.findings);
        for f in &findings {
            acc.note(f);
            self.out.count(f);
        }
        for &(code, severity, n) in &acc.dropped {
            *acc.by_code.entry(code.name()).or_default() += n;
            *acc.by_severity.entry(severity.as_str()).or_default() += n;
            *self
                .out
                .totals
                .findings_by_code
                .entry(code.name())
                .or_default() += n;
            *self
                .out
                .totals
                .findings_by_severity
                .entry(severity.as_str())
                .or_default() += n;
            if let Some(last) = findings.iter_mut().rev().find(|f| f.code == code) {
                last.detail
                    .push_str(&format!(" (and {n} more like this on this connection)"));
            }
        }
        findings.sort_by_key(|f| f.packet.unwrap_or(0));
        let (c, s) = if swapped { (1, 0) } else { (0, 1) };
        let websocket = detected_by.is_some();
        if websocket {
            self.out.totals.websocket_connections += 1;
        }
        let rec = ConnectionRecord {
            kind: "connection",
            conn: meta.id,
            client: client.to_string(),
            server: server.to_string(),
            roles,
            websocket,
            detected_by,
            first_packet: meta.first_packet,
            last_packet: meta.last_packet,
            first_ts: meta.first_ts,
            last_ts: meta.last_ts,
            last_frame_ts: acc.last_frame_ts,
            end_packet: meta.end_packet,
            end: reason.as_str(),
            negotiated: negotiated.map(|n| negotiated_info(*n)),
            request: request.map(|r| *r),
            response: response.map(|r| *r),
            other_leg: None,
            frames: acc.frames,
            payload_bytes: acc.payload_bytes,
            tcp: PerDir {
                c2s: tcp_info(meta, c),
                s2c: tcp_info(meta, s),
            },
            close_codes: acc.close_codes,
            findings,
            findings_by_code: acc.by_code,
            findings_by_severity: acc.by_severity,
            diagnosis: Vec::new(),
        };
        let mut rec = rec;
        rec.diagnosis = diagnosis::diagnose(&rec, &acc.frame_evidence);
        self.link_legs(&mut rec);
        for d in &rec.diagnosis {
            *self.out.totals.diagnoses.entry(d.cause).or_default() += 1;
        }
        self.out.emit(Record::Connection(&rec));
    }
}

impl<S: Sink> Analyzer<S> {
    /// Ties this connection to the other leg of a proxied connection (same
    /// Sec-WebSocket-Key, requests in order: the earlier one is the client's
    /// leg to the proxy, the later the proxy's leg to the backend) and says
    /// on which hop each cause shows. When the other leg closed first, its
    /// causes are carried over here, so the leg a user looks at explains
    /// the failure even when it only relays the symptom.
    fn link_legs(&mut self, rec: &mut ConnectionRecord) {
        let Some(key) = rec
            .request
            .as_ref()
            .and_then(|r| r.sec_websocket_key.clone())
        else {
            return;
        };
        let Some(entry) = self.legs.get_mut(&key) else {
            return;
        };
        entry.open = entry.open.saturating_sub(1);
        if entry.open == 0 {
            let entry = self.legs.remove(&key).expect("present");
            Self::link(rec, &entry.legs);
        } else {
            Self::link(rec, &entry.legs);
            if let Some(me) = entry.legs.iter_mut().find(|l| l.conn == rec.conn) {
                me.closed = Some(rec.diagnosis.clone());
            }
        }
    }

    fn link(rec: &mut ConnectionRecord, legs: &[Leg]) {
        let [a, b] = legs else { return };
        let (me, other) = match (a.conn == rec.conn, b.conn == rec.conn) {
            (true, _) => (a, b),
            (_, true) => (b, a),
            _ => return,
        };
        rec.other_leg = Some(other.conn);
        let (mine, theirs) = if me.request_ts <= other.request_ts {
            ("client-leg", "backend-leg")
        } else {
            ("backend-leg", "client-leg")
        };
        let Some(their_causes) = &other.closed else {
            for d in &mut rec.diagnosis {
                d.hop = Some(mine);
            }
            return;
        };
        for d in &mut rec.diagnosis {
            let shared = their_causes.iter().any(|t| t.cause == d.cause);
            d.hop = Some(if shared { "both" } else { mine });
        }
        let carried: Vec<Diagnosis> = their_causes
            .iter()
            .filter(|t| !rec.diagnosis.iter().any(|d| d.cause == t.cause))
            .map(|t| {
                let mut d = t.clone();
                d.hop = Some(theirs);
                let note = format!(
                    "seen on the other leg of this proxied connection (conn {})",
                    other.conn
                );
                d.evidence.insert(0, note);
                d
            })
            .collect();
        rec.diagnosis.extend(carried);
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
        Some(CloseReason::EndOfCapture) | None => "the capture ends",
    }
}

/// Connection-level findings for the gap and conflict tallies.
/// The finding code for bytes missing for `reason`, and why they are.
fn gap_finding(reason: GapReason) -> (Code, &'static str) {
    match reason {
        GapReason::Snaplen => (Code::TruncatedPayload, "cut by the snaplen"),
        GapReason::Lost => (Code::CaptureGap, "lost by the capture"),
        GapReason::Memcap => (
            Code::CaptureGap,
            "released over a hole by the reassembly memory cap",
        ),
    }
}

fn tally_findings(acc: &mut Acc) {
    for d in [Dir::ClientToServer, Dir::ServerToClient] {
        let dir = d.as_str();
        for reason in [GapReason::Lost, GapReason::Memcap, GapReason::Snaplen] {
            let t = *acc.gaps(reason, d);
            if t.count > 0 {
                let (code, why) = gap_finding(reason);
                let detail = format!(
                    "{dir}: {} bytes {why} in {} place(s), first at stream offset {}",
                    t.bytes, t.count, t.first_offset
                );
                acc.add(Finding::new(code, detail).at(t.first_packet));
            }
        }
        let t = *acc.conflicts.get_mut(d);
        if t.count > 0 {
            let detail = format!(
                "{dir}: {} retransmission(s) carried bytes that differ from the first copy (within {} bytes \
                 compared), first at stream offset {}; the first bytes seen were kept",
                t.count, t.bytes, t.first_offset
            );
            acc.add(Finding::new(Code::RetransmissionConflict, detail).at(t.first_packet));
        }
    }
}

fn negotiated_info(n: Negotiated) -> NegotiatedInfo {
    NegotiatedInfo {
        extensions: n.extensions,
        subprotocol: n.subprotocol,
        deflate: n.deflate.map(|d| DeflateInfo {
            server_no_context_takeover: d.server_no_context_takeover,
            client_no_context_takeover: d.client_no_context_takeover,
            server_max_window_bits: d.server_max_window_bits,
            client_max_window_bits: d.client_max_window_bits,
        }),
        accept_ok: n.accept_ok,
    }
}

/// Up to 32 bytes as text with non-printables escaped, and as hex.
fn excerpt(data: &[u8]) -> String {
    let b = &data[..data.len().min(32)];
    let text: String = b
        .iter()
        .map(|&c| match c {
            b' '..=b'~' => (c as char).to_string(),
            b'\r' => "\\r".into(),
            b'\n' => "\\n".into(),
            _ => format!("\\x{c:02x}"),
        })
        .collect();
    let hex: Vec<String> = b.iter().map(|c| format!("{c:02x}")).collect();
    format!("\"{text}\" ({})", hex.join(" "))
}

fn tcp_info(meta: &ConnMeta, i: usize) -> TcpDirInfo {
    let s = meta.stats[i];
    TcpDirInfo {
        packets: meta.packets[i],
        wire_bytes: s.wire_bytes,
        duplicate_bytes: s.duplicate_bytes,
        out_of_order: s.out_of_order,
        gaps: s.gaps,
        gap_bytes: s.gap_bytes,
        conflicts: s.conflicts,
    }
}

fn expect_for(d: Dir, deflate: bool) -> Expect {
    // Resync and foreign-byte detection accept RSV1 only where it can mean
    // "compressed".
    Expect {
        masked: d == Dir::ClientToServer,
        rsv1: deflate,
    }
}

/// A request that tries to open a WebSocket: it says so in Upgrade, or
/// carries the WebSocket headers that a proxy may have left after stripping
/// Upgrade.
fn wants_websocket(req: &http::Request) -> bool {
    let h = &req.headers;
    h.has_token("Upgrade", "websocket")
        || h.count("Sec-WebSocket-Key") > 0
        || h.count("Sec-WebSocket-Version") > 0
}

fn request_info(req: &http::Request, packet: u64) -> RequestInfo {
    let h = &req.headers;
    RequestInfo {
        packet,
        method: req.method.clone(),
        target: req.target.clone(),
        version: req.version.to_string(),
        host: h.get("Host"),
        origin: h.get("Origin"),
        upgrade: h.get("Upgrade"),
        connection: h.get("Connection"),
        sec_websocket_key: h.get("Sec-WebSocket-Key"),
        sec_websocket_version: h.get("Sec-WebSocket-Version"),
        sec_websocket_protocol: h.get("Sec-WebSocket-Protocol"),
        sec_websocket_extensions: h.get("Sec-WebSocket-Extensions"),
    }
}

fn response_info(resp: &http::Response, packet: u64) -> ResponseInfo {
    let h = &resp.headers;
    ResponseInfo {
        packet,
        version: resp.version.to_string(),
        status: resp.status,
        reason: resp.reason.clone(),
        upgrade: h.get("Upgrade"),
        connection: h.get("Connection"),
        sec_websocket_accept: h.get("Sec-WebSocket-Accept"),
        sec_websocket_protocol: h.get("Sec-WebSocket-Protocol"),
        sec_websocket_extensions: h.get("Sec-WebSocket-Extensions"),
    }
}

/// Turns one decoder event into record updates. `gap` is set when the event
/// comes from a stream gap (its reason names the finding).
#[allow(clippy::too_many_arguments)]
fn on_decode<S: Sink>(
    ev: DecodeEvent<'_>,
    d: Dir,
    meta: &ConnMeta,
    cur: &mut Option<FrameRecord>,
    val: &mut Validator,
    acc: &mut Acc,
    out: &mut Out<S>,
    gap: Option<Gap>,
) {
    match ev {
        DecodeEvent::Frame(start) => {
            let h = start.header;
            *acc.frames.get_mut(d) += 1;
            // Saturating: hostile headers announce lengths near 2^64.
            let total = acc.payload_bytes.get_mut(d);
            *total = total.saturating_add(h.payload_len);
            let mut findings = Vec::new();
            val.header(&h, &mut findings);
            *cur = Some(FrameRecord {
                kind: "frame",
                conn: meta.id,
                dir: d.as_str(),
                index: start.index,
                packet: start.packet,
                last_packet: start.packet,
                ts: start.ts,
                offset: start.offset,
                fin: h.fin,
                rsv1: h.rsv1,
                rsv2: h.rsv2,
                rsv3: h.rsv3,
                opcode: h.opcode.name(),
                opcode_value: h.opcode.0,
                masked: h.mask.is_some(),
                mask_key: h.mask.map(MaskKey),
                payload_len: h.payload_len,
                header_len: h.header_len,
                compressed: false,
                close_code: None,
                close_reason: None,
                preview: None,
                payload_missing: 0,
                complete: true,
                findings,
            });
        }
        DecodeEvent::Payload { data, pos, .. } => {
            if let Some(rec) = cur.as_mut() {
                val.payload(data, pos, &mut out.scratch, &mut rec.findings);
            }
        }
        DecodeEvent::PayloadGap { pos, len } => {
            val.gap();
            if let (Some(rec), Some(g)) = (cur.as_mut(), gap) {
                let (code, why) = gap_finding(g.reason);
                // One finding per frame and code, however many packets.
                if !rec.findings.iter().any(|f| f.code == code) {
                    let detail = format!("payload bytes from {pos} ({len} bytes) {why}");
                    rec.findings.push(Finding::new(code, detail).at(g.packet));
                }
            }
        }
        DecodeEvent::End(end) => {
            let Some(mut rec) = cur.take() else { return };
            let facts = val.end(end.complete, &mut out.scratch, &mut rec.findings);
            rec.compressed = facts.compressed;
            rec.close_code = facts.close_code;
            rec.close_reason = facts.close_reason;
            rec.preview = facts.preview.and_then(|p| out.preview.render(&p));
            // A few close codes tell the story; a peer sending thousands
            // of close frames must not grow memory.
            if let Some(code) = facts.close_code
                && acc.close_codes.get_mut(d).len() < MAX_FINDINGS_PER_CODE
            {
                acc.close_codes.get_mut(d).push(code);
            }
            rec.last_packet = end.last_packet;
            rec.payload_missing = end.missing;
            rec.complete = end.complete;
            if !end.complete && rec.payload_len >> 63 == 0 {
                let detail = format!(
                    "{} inside this frame ({} payload bytes announced)",
                    ending_text(acc.ending),
                    rec.payload_len
                );
                rec.findings
                    .push(Finding::new(Code::IncompleteFrameAtEnd, detail));
            }
            finish_frame(rec, d, acc, out);
        }
        DecodeEvent::SyncLost {
            offset,
            packet,
            reason,
            ..
        } => {
            val.lost_sync();
            // A header length of 2^63 is reported on its frame; a gap over a
            // header is worth saying where sync went.
            if reason == SyncLoss::GapInHeader {
                let detail = format!(
                    "bytes missing where a frame header should be (stream offset {offset}); frame sync lost"
                );
                acc.add(Finding::new(Code::CaptureGap, detail).at(packet));
            }
        }
        DecodeEvent::Foreign {
            offset,
            packet,
            kind,
            excerpt: bytes,
            ..
        } => {
            val.lost_sync();
            let (code, what) = match kind {
                ForeignKind::Http => (Code::HttpInWebsocketStream, "HTTP"),
                ForeignKind::Tls => (Code::TlsInWebsocketStream, "a TLS record"),
                ForeignKind::Unknown => (Code::UnparseableFrameData, "bytes that are not a frame"),
            };
            let detail = format!(
                "{what} where a {} frame should start (stream offset {offset}): {}",
                d.as_str(),
                excerpt(bytes)
            );
            acc.add(Finding::new(code, detail).at(packet));
        }
        DecodeEvent::Resync {
            offset,
            skipped,
            packet,
            ..
        } => {
            val.lost_sync();
            if skipped > 0 {
                let detail =
                    format!("skipped {skipped} bytes; frames resume at stream offset {offset}");
                acc.add(Finding::new(Code::Resynchronized, detail).at(packet));
            }
        }
        DecodeEvent::PartialHeader {
            offset,
            have,
            packet,
        } => {
            let detail = format!(
                "{} after {have} bytes of a frame header at stream offset {offset}",
                ending_text(acc.ending)
            );
            acc.add(Finding::new(Code::IncompleteFrameAtEnd, detail).at(packet));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PayloadMode;

    #[test]
    fn previews() {
        let b = b"hi\n\x00\xffz\xc3\xa9";
        assert_eq!(PayloadMode::Text.render(b).unwrap(), "hi\\n\\x00\\xffzé");
        assert_eq!(PayloadMode::Hex.render(b"\x01\xab").unwrap(), "01ab");
        assert_eq!(PayloadMode::Base64.render(b"hello").unwrap(), "aGVsbG8=");
        assert_eq!(PayloadMode::None.render(b"x"), None);
    }
}
