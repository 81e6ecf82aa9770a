//! Per-connection analysis: the [`StreamHandler`] the TCP reassembler
//! drives. Each connection's reassembled bytes go through its parts, each a
//! type of its own, tested alone:
//!
//! * [`upgrade`]: the HTTP/upgrade state, from the first bytes to where each
//!   direction carries frames (the state diagram is there);
//! * [`frames`]: per direction, the frame decoder and validator, giving one
//!   frame record per frame;
//! * [`masking`]: the masking verdict, holding frames with a masking
//!   violation until the receiver reacts;
//! * [`connection`]: the connection's totals and its record, diagnosed;
//! * [`legs`]: the two legs of a proxied connection, tied by key.
//!
//! Frame records go to the [`Sink`] as each frame ends (or its verdict is
//! known), a connection record when the connection ends; the summary's
//! counters are kept in [`Totals`].

mod connection;
mod frames;
mod h2;
mod legs;
mod masking;
mod upgrade;

#[cfg(test)]
mod tests;

use crate::finding::{Code, Finding, Severity};
use crate::prefetch;
use crate::record::{
    Cause, CodesBySeverity, ConnFacts, ConnectionRecord, Counts, FrameRecord, Http2Info, Record,
    Sink, TlsInfo,
};
use crate::tcp::{Chunk, CloseReason, ConnMeta, Dir, Gap, StreamEvent, StreamHandler};
use crate::text::Text;
use crate::tls;
use crate::websocket::validate::Scratch;
use connection::ConnAcc;
use frames::{DirFrames, FrameConfig, FrameOut};
use legs::Legs;
use masking::{HeldBudget, Masking};
use upgrade::{Ctx, GapStep, Pushed, Upgrade};

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
    /// Payload bytes kept in each frame record for a preview (0: none).
    pub preview_bytes: usize,
    /// The input files as given, when several were merged: connection
    /// records name theirs and select themselves in Wireshark by address
    /// (the merged numbering is no one file's). Empty for one input.
    pub files: Vec<String>,
    /// TLS secrets (`--tls-keylog`, `SSLKEYLOGFILE`; those the capture
    /// embeds are added as they come): with any, TLS connections are
    /// decrypted, by the TLS stage before this one ([`tls::stage`]).
    /// Shared, not copied, by every run that clones these options.
    pub tls_keys: std::sync::Arc<tls::KeyLog>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ports: Vec::new(),
            max_payload: None,
            max_inflated: 64 << 20,
            preview_bytes: 32,
            files: Vec::new(),
            tls_keys: std::sync::Arc::default(),
        }
    }
}

/// Counters across connections, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub websocket_connections: u64,
    pub tls_connections: u64,
    /// TLS connections of which some record was decrypted.
    pub tls_decrypted: u64,
    /// HTTP/2 connections, and the WebSocket streams opened in them.
    pub http2_connections: u64,
    pub http2_websockets: u64,
    pub frames: u64,
    pub findings_by_code: Counts<Code>,
    pub findings_by_severity: Counts<Severity>,
    pub diagnoses: Counts<Cause>,
    pub findings_by_severity_and_code: CodesBySeverity,
}

impl Totals {
    fn count(&mut self, code: Code, severity: Severity, n: u64) {
        self.findings_by_code.add(code, n);
        self.findings_by_severity.add(severity, n);
        self.findings_by_severity_and_code.add(severity, code, n);
    }
}

/// The output side: the sink, the totals and the first write error.
struct Output<S> {
    sink: S,
    totals: Totals,
    error: Option<std::io::Error>,
    scratch: Scratch,
    /// Frame records held back for capture order, across connections.
    deferred_total: usize,
    /// While decrypted bytes are handed on: the packets where their TLS
    /// record starts and ends; a frame whose last byte is there ends at
    /// the record's end.
    tls_end: Option<(u64, u64)>,
}

impl<S: Sink> Output<S> {
    fn emit(&mut self, r: Record<'_>) {
        if self.error.is_none()
            && let Err(e) = self.sink.record(r)
        {
            self.error = Some(e);
        }
    }

    /// A frame record goes out: counted here and on its connection, and
    /// written now unless the connection holds its records back.
    fn frame(&mut self, acc: &mut ConnAcc, deferred: &mut Deferred, rec: &FrameRecord) {
        self.totals.frames += 1;
        acc.frame_written(rec);
        for f in &rec.findings {
            self.totals.count(f.code, f.severity, 1);
        }
        match deferred {
            Some(held) => {
                held.push(rec.clone());
                self.deferred_total += 1;
                if self.deferred_total > MAX_DEFERRED_TOTAL {
                    // Over the cap: this connection's go out as they are.
                    self.write_deferred(deferred);
                }
            }
            None => self.emit(Record::Frame(rec)),
        }
    }

    /// Writes the held frame records in the order of their packets (those
    /// of one packet in the order they were found).
    fn write_deferred(&mut self, deferred: &mut Deferred) {
        let Some(mut held) = deferred.take() else {
            return;
        };
        self.deferred_total -= held.len();
        held.sort_by_key(|f| f.packet);
        for f in held.iter() {
            self.emit(Record::Frame(f));
        }
    }
}

pub struct Analyzer<S: Sink> {
    opts: Options,
    out: Output<S>,
    legs: Legs,
    held: HeldBudget,
}

/// Frame records a connection holds back to write in capture order.
type Deferred = Option<Box<Vec<FrameRecord>>>;

/// Frame records held back for capture order, at most: beyond, they are
/// written as they are.
const MAX_DEFERRED: usize = 256;

/// Frame records held back across all connections, at most: tens of
/// thousands of connections recognised without a handshake must not each
/// hold their own.
const MAX_DEFERRED_TOTAL: usize = 8192;

/// One connection's state.
pub struct ConnState {
    upgrade: Upgrade,
    frames: [Option<Box<DirFrames>>; 2],
    /// While a connection recognised without a handshake still searches for
    /// frames in a direction, its records are held back: frames found later
    /// there may begin before ones already found in the other direction.
    deferred: Deferred,
    /// Created when a frame is first held: most connections never do.
    masking: Masking,
    acc: Box<ConnAcc>,
    /// A TLS connection being decrypted (boxed: only those pay for it).
    tls: Option<Box<TlsConn>>,
    /// An HTTP/2 connection (RFC 9113), its WebSocket streams (RFC 8441).
    h2: Option<Box<h2::H2Part>>,
}

/// A TLS connection being decrypted (by the TLS stage, before this one):
/// what its ClientHello showed and what decryption learnt.
struct TlsConn {
    info: TlsInfo,
    /// The packets where the last record handed on started and ended.
    last_end: (u64, u64),
    /// Told just before the close.
    learnt: tls::stage::Learnt,
}

impl ConnState {
    /// What is known of the connection so far, as its record will say it.
    pub fn facts(&self, meta: &ConnMeta) -> ConnFacts {
        let (client, server) = if self.upgrade.swapped {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        ConnFacts {
            conn: meta.id,
            client,
            server,
            first_ts: meta.first_ts,
            last_ts: meta.last_ts,
            websocket: self.upgrade.detected_by.is_some(),
            ended: false,
            roles_open: self.upgrade.roles_open(meta),
        }
    }
}

impl<S: Sink> Analyzer<S> {
    pub fn new(mut opts: Options, sink: S) -> Analyzer<S> {
        if !sink.wants_frames() {
            // No frame is written: previews would be work for nothing.
            opts.preview_bytes = 0;
        }
        Analyzer {
            opts,
            out: Output {
                sink,
                totals: Totals::default(),
                error: None,
                scratch: Scratch::default(),
                deferred_total: 0,
                tls_end: None,
            },
            legs: Legs::default(),
            held: HeldBudget::default(),
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

    /// Writes out what the sink buffers (see [`Sink::flush`]); a write
    /// error is kept as the first error, like any other.
    pub fn flush(&mut self) {
        if self.out.error.is_none()
            && let Err(e) = self.out.sink.flush()
        {
            self.out.error = Some(e);
        }
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.out.sink
    }

    pub fn into_sink(self) -> S {
        self.out.sink
    }
}

impl<S: Sink> StreamHandler for Analyzer<S> {
    type Conn = ConnState;

    fn open(&mut self, meta: &ConnMeta) -> ConnState {
        ConnState {
            upgrade: Upgrade::new(meta, &self.opts.ports),
            frames: [None, None],
            deferred: None,
            masking: Masking::default(),
            acc: Box::default(),
            tls: None,
            h2: None,
        }
    }

    fn prefetch(&self, st: &ConnState, dir: Dir) {
        let d = if st.upgrade.swapped {
            dir.reverse()
        } else {
            dir
        };
        // A frame touches its direction's decoder, validator and record
        // throughout, and the connection's totals at its start.
        if let Some(f) = &st.frames[d.index()] {
            prefetch::lines(&**f, size_of::<DirFrames>().div_ceil(64));
        }
        prefetch::lines(&*st.acc, 1);
    }

    fn event(&mut self, st: &mut ConnState, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        let d = if st.upgrade.swapped {
            dir.reverse()
        } else {
            dir
        };
        if st.tls.is_some() {
            // By the TCP layer's directions: the ClientHello fixed them.
            return self.tls_tcp_event(st, dir, ev);
        }
        match ev {
            StreamEvent::Data(chunk) => self.data(st, meta, d, chunk),
            StreamEvent::Gap(gap) => self.gap(st, meta, d, gap),
            StreamEvent::Conflict {
                offset,
                len,
                packet,
                ..
            } => st.acc.conflict(d, len, packet, offset),
        }
    }

    fn close(&mut self, mut st: ConnState, meta: &ConnMeta, reason: CloseReason) {
        st.acc.ending = Some(reason);
        // A frame cut short ends in the last record handed on.
        self.out.tls_end = st.tls.as_ref().map(|t| t.last_end);
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            self.drive(&mut st, meta, d, |f, out| f.finish(out));
        }
        let (http2, h2_leg) = self.finish_h2(&mut st, meta).unzip();
        // The id it was registered under as a proxy leg: its upgrade
        // request's, or over HTTP/2 the accept a 2xx passed back.
        let leg = h2_leg.flatten().or_else(|| st.upgrade.leg().cloned());
        self.out.tls_end = None;
        if let Some(t) = st.tls.take() {
            if t.learnt.hello.client_random.is_none() {
                st.acc.add(tls::stage::no_client_hello(t.info.packet));
            }
            self.out.totals.tls_decrypted += u64::from(t.learnt.decrypted);
            st.upgrade.tls = Some(Box::new(tls_record_info(*t)));
        }
        let (out, held) = (&mut self.out, &mut self.held);
        let (acc, deferred) = (&mut st.acc, &mut st.deferred);
        st.masking
            .finish(held, &mut |r| out.frame(acc, deferred, r));
        self.out.write_deferred(&mut st.deferred);
        st.upgrade.tls_unanswered(meta, reason, &mut st.acc);
        let mut rec = st.acc.into_record(
            st.upgrade,
            meta,
            reason,
            &mut self.out.totals,
            &self.opts.files,
            http2,
        );
        self.legs.closed(leg.as_ref(), &mut rec);
        self.record(&rec);
    }
}

impl<S: Sink> Analyzer<S> {
    /// Runs `act` on direction `d`'s frame part, if it has one, with the
    /// connection's parts as where its frames go.
    fn drive(
        &mut self,
        st: &mut ConnState,
        meta: &ConnMeta,
        d: Dir,
        act: impl FnOnce(&mut DirFrames, &mut ConnOut<'_, S>),
    ) {
        let (parts, mut out) = split(st, meta, &mut self.out, &mut self.held, false);
        let Some(f) = parts.frames[d.index()].as_mut() else {
            return;
        };
        act(f, &mut out);
    }

    fn frame_config(&self, st: &ConnState) -> FrameConfig {
        FrameConfig {
            deflate: st.upgrade.deflate(),
            max_payload: self.opts.max_payload,
            max_inflated: self.opts.max_inflated,
            preview: self.opts.preview_bytes,
            extensions_unknown: st.upgrade.extensions_unknown,
        }
    }

    /// Starts frame handling in direction `d` from stream `offset`.
    fn start_frames(
        &mut self,
        st: &mut ConnState,
        meta: &ConnMeta,
        d: Dir,
        offset: u64,
        aligned: bool,
    ) {
        // Roles are settled before any frame: the sink learns the
        // endpoints its frame records will be of.
        let f = st.facts(meta);
        self.out.sink.endpoints(meta.id, f.client, f.server);
        let cfg = self.frame_config(st);
        st.frames[d.index()] = Some(Box::new(DirFrames::new(meta.id, d, offset, aligned, cfg)));
    }

    fn data(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: Chunk<'_>) {
        // Only a connection's first bytes can start HTTP/2.
        if (st.h2.is_some() || chunk.offset == 0) && self.is_h2(st, meta, d, &chunk) {
            return self.h2_data(st, meta, d, chunk);
        }
        let mut cx = Ctx {
            meta,
            acc: &mut st.acc,
            legs: &mut self.legs,
        };
        let d = st.upgrade.first_bytes(&mut cx, d, &chunk);
        if st.upgrade.in_frames(d) {
            return self.frames(st, meta, d, chunk);
        }
        match st.upgrade.push(&mut cx, d, chunk) {
            Pushed::Taken => {}
            Pushed::Frames { at, aligned } => {
                self.start_frames(st, meta, d, chunk.offset + at as u64, aligned);
                self.frames(st, meta, d, rest(chunk, at));
            }
            Pushed::Switched { at, client } => {
                self.switched(st, meta, chunk.offset + at as u64, client);
                self.frames(st, meta, Dir::ServerToClient, rest(chunk, at));
            }
            Pushed::Recognised => self.replay_kept(st, meta),
        }
    }

    /// The server switched protocols: its frames start at stream offset
    /// `server`, the client's at `client`, where the client bytes held
    /// until the answer are decoded first.
    fn switched(&mut self, st: &mut ConnState, meta: &ConnMeta, server: u64, client: Option<u64>) {
        self.start_frames(st, meta, Dir::ServerToClient, server, true);
        let Some(offset) = client else { return };
        self.start_frames(st, meta, Dir::ClientToServer, offset, true);
        for (packet, ts, bytes) in st.upgrade.take_pending() {
            let held = Chunk {
                offset: 0,
                data: &bytes,
                packet,
                ts,
            };
            self.frames(st, meta, Dir::ClientToServer, held);
        }
    }

    /// A connection recognised without a handshake: its kept bytes are its
    /// first frames, replayed in capture order across both directions (so
    /// the frame records come out as the packets did).
    fn replay_kept(&mut self, st: &mut ConnState, meta: &ConnMeta) {
        let [c2s, s2c] = st.upgrade.take_kept();
        let mut all: Vec<(Dir, Chunk<'_>)> = Vec::new();
        for (d, kept) in [(Dir::ClientToServer, &c2s), (Dir::ServerToClient, &s2c)] {
            let runs = kept.iter().flat_map(|k| k.runs_from(0));
            all.extend(runs.map(|(offset, data, packet, ts)| {
                let chunk = Chunk {
                    offset,
                    data,
                    packet,
                    ts,
                };
                (d, chunk)
            }));
        }
        // Each packet is one direction's: the order is total. Frames found
        // in one direction can still complete before earlier ones of the
        // other (a lost decoder confirms a frame by the next header), so
        // their records are written sorted.
        all.sort_by_key(|(_, chunk)| chunk.packet);
        st.deferred = Some(Box::default());
        for (d, chunk) in all {
            self.data(st, meta, d, chunk);
        }
        self.settle_deferred(st);
    }

    /// Writes a connection's held-back frame records once no direction is
    /// searching for frames any more (or too many are held).
    fn settle_deferred(&mut self, st: &mut ConnState) {
        let Some(held) = &st.deferred else { return };
        let searching = st.frames.iter().flatten().any(|f| f.searching());
        if !searching || held.len() > MAX_DEFERRED {
            self.out.write_deferred(&mut st.deferred);
        }
    }

    /// Bytes of direction `d` that are frames.
    fn frames(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: Chunk<'_>) {
        if chunk.data.is_empty() {
            return;
        }
        self.drive(st, meta, d, |f, out| {
            f.push(chunk.data, chunk.packet, chunk.ts, out)
        });
        self.settle_deferred(st);
    }

    fn gap(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, gap: Gap) {
        st.acc.gap(gap.reason, d, gap.len, gap.packet, gap.offset);
        self.plain_gap(st, meta, d, gap);
    }

    /// A gap in direction `d`'s bytes for the HTTP and WebSocket parts
    /// (already counted on the connection).
    fn plain_gap(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, gap: Gap) {
        if let Some(h2) = st.h2.as_mut() {
            return h2.gap(d);
        }
        if st.upgrade.in_frames(d) {
            self.drive(st, meta, d, |f, out| f.gap(gap, out));
            return self.settle_deferred(st);
        }
        let mut cx = Ctx {
            meta,
            acc: &mut st.acc,
            legs: &mut self.legs,
        };
        match st.upgrade.gap(&mut cx, d, &gap) {
            GapStep::Ignore => {}
            GapStep::FramesLost { offset } => self.start_frames(st, meta, d, offset, false),
            GapStep::Switched { server, client } => self.switched(st, meta, server, client),
        }
    }

    /// A connection record goes out, its diagnoses counted.
    fn record(&mut self, rec: &ConnectionRecord) {
        if rec.websocket {
            self.out.totals.websocket_connections += 1;
        }
        if let Some(h2) = &rec.http2 {
            let t = &mut self.out.totals;
            t.http2_connections += 1;
            t.http2_websockets +=
                h2.websockets.len() as u64 + h2.websockets_not_listed + h2.websockets_not_followed;
        }
        if rec.tls.is_some() {
            self.out.totals.tls_connections += 1;
        }
        for d in &rec.diagnosis {
            self.out.totals.diagnoses.add(d.cause, 1);
        }
        self.out.emit(Record::Connection(rec));
    }
}

/// HTTP/2 connections (RFC 9113) and the WebSockets in their streams (RFC
/// 8441).
impl<S: Sink> Analyzer<S> {
    /// Whether direction `d`'s `chunk` goes to the HTTP/2 part: it exists,
    /// or these first bytes of the connection start one (the client's
    /// preface, or the SETTINGS a server may send first).
    fn is_h2(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: &Chunk<'_>) -> bool {
        let first = chunk.offset == 0;
        if let Some(part) = &st.h2 {
            // Taken for HTTP/2 from the server's bytes, and the client's
            // first ones are not a preface: not HTTP/2 after all.
            let refuted = d == Dir::ClientToServer
                && first
                && !part.confirmed()
                && !h2::starts_preface(chunk.data);
            if refuted {
                st.h2 = None;
            }
            return !refuted;
        }
        if !first || !st.upgrade.undecided() {
            return false;
        }
        let starts = match d {
            Dir::ClientToServer => h2::starts_preface(chunk.data),
            Dir::ServerToClient => h2::starts_server_preface(chunk.data),
        };
        if starts {
            let f = st.facts(meta);
            self.out.sink.endpoints(meta.id, f.client, f.server);
            let part = h2::H2Part::new(meta.id, self.frame_config(st));
            st.h2 = Some(Box::new(part));
        }
        starts
    }

    fn h2_data(&mut self, st: &mut ConnState, meta: &ConnMeta, d: Dir, chunk: Chunk<'_>) {
        let (parts, mut out) = split(st, meta, &mut self.out, &mut self.held, true);
        let Some(part) = parts.h2.as_mut() else {
            return;
        };
        part.push(d, chunk.data, (chunk.packet, chunk.ts), &mut out);
        if let Some((id, ts)) = part.new_leg() {
            self.legs.requested(id, meta.id, ts);
        }
    }

    /// The connection ends: its WebSocket streams' frames in progress are
    /// cut short, and its first WebSocket's handshake becomes the record's.
    fn finish_h2(
        &mut self,
        st: &mut ConnState,
        meta: &ConnMeta,
    ) -> Option<(Http2Info, Option<Text>)> {
        let part = st.h2.take()?;
        let leg = part.leg().cloned();
        let (_, mut out) = split(st, meta, &mut self.out, &mut self.held, true);
        let (info, handshake) = part.finish(&mut out);
        if let Some(hs) = handshake {
            st.upgrade.http2(hs);
        }
        Some((info, leg))
    }
}

/// What the TLS stage before the analysis hands on for the connections it
/// decrypts.
impl<S: Sink> tls::stage::TlsHandler for Analyzer<S> {
    fn tls_start(&mut self, st: &mut ConnState, _: &ConnMeta, hello: Chunk<'_>) {
        st.tls = Some(Box::new(TlsConn {
            info: upgrade::tls_info(hello.data, hello.packet),
            last_end: (0, 0),
            learnt: Default::default(),
        }));
    }

    /// Plaintext goes to the HTTP and WebSocket parts (in their
    /// directions) as a plaintext connection's bytes would; findings to
    /// the connection.
    fn tls(&mut self, st: &mut ConnState, meta: &ConnMeta, ev: tls::Event<'_>) {
        let d = |dir: Dir| {
            if st.upgrade.swapped {
                dir.reverse()
            } else {
                dir
            }
        };
        match ev {
            tls::Event::Data {
                dir,
                chunk,
                end_packet,
            } => {
                let ends = (chunk.packet, end_packet);
                if let Some(t) = st.tls.as_mut() {
                    t.last_end = ends;
                }
                self.out.tls_end = Some(ends);
                self.data(st, meta, d(dir), chunk);
                self.out.tls_end = None;
            }
            tls::Event::Gap { dir, gap } => self.plain_gap(st, meta, d(dir), gap),
            tls::Event::Finding(f) => st.acc.add(f),
        }
    }

    fn tls_end(&mut self, st: &mut ConnState, _: &ConnMeta, learnt: tls::stage::Learnt) {
        if let Some(t) = st.tls.as_mut() {
            t.learnt = learnt;
        }
    }
}

impl<S: Sink> Analyzer<S> {
    /// A TCP gap or conflict of a connection being decrypted, counted on
    /// the connection (the TLS stage has taken the gap's effect on the
    /// decrypted stream into account).
    fn tls_tcp_event(&mut self, st: &mut ConnState, dir: Dir, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Gap(gap) => st.acc.gap(gap.reason, dir, gap.len, gap.packet, gap.offset),
            StreamEvent::Conflict {
                offset,
                len,
                packet,
                ..
            } => st.acc.conflict(dir, len, packet, offset),
            // The TLS stage hands decrypted bytes on as `tls` calls.
            StreamEvent::Data(_) => {}
        }
    }
}

/// The connection record's `tls`: what the ClientHello showed and what
/// decryption learnt.
fn tls_record_info(t: TlsConn) -> TlsInfo {
    let hello = &t.learnt.hello;
    let mut info = t.info;
    if let Some(v) = hello.version {
        info.version = Some(crate::http::tls::version_name(v));
    }
    info.cipher_suite = hello.suite_name();
    info.alpn_selected = hello.alpn.clone();
    info.decrypted = Some(t.learnt.decrypted);
    info
}

/// The rest of a chunk from byte `at`.
fn rest(chunk: Chunk<'_>, at: usize) -> Chunk<'_> {
    Chunk {
        offset: chunk.offset + at as u64,
        data: &chunk.data[at..],
        ..chunk
    }
}

/// The frame parts of a connection, and where its frames go (a
/// [`ConnOut`] over the rest of its state and the analysis's output);
/// `h2` for the frames of its HTTP/2 streams.
fn split<'a, S: Sink>(
    st: &'a mut ConnState,
    meta: &'a ConnMeta,
    out: &'a mut Output<S>,
    held: &'a mut HeldBudget,
    h2: bool,
) -> (FrameParts<'a>, ConnOut<'a, S>) {
    let ConnState {
        upgrade,
        frames,
        deferred,
        masking,
        acc,
        h2: h2_part,
        ..
    } = st;
    let out = ConnOut {
        meta,
        swapped: upgrade.swapped,
        acc,
        masking,
        deferred,
        out,
        held,
        h2,
    };
    (
        FrameParts {
            frames,
            h2: h2_part,
        },
        out,
    )
}

/// What decodes a connection's frames: each direction's frame part over
/// HTTP/1.1, the HTTP/2 part with its streams'.
struct FrameParts<'a> {
    frames: &'a mut [Option<Box<DirFrames>>; 2],
    h2: &'a mut Option<Box<h2::H2Part>>,
}

/// Where one connection's frames go: the masking verdict, then the
/// connection's totals and the sink.
struct ConnOut<'a, S> {
    /// The TCP layer's view, for acknowledgments (by its directions).
    meta: &'a ConnMeta,
    /// Roles turned out the other way round from the TCP layer's guess.
    swapped: bool,
    acc: &'a mut ConnAcc,
    masking: &'a mut Masking,
    deferred: &'a mut Deferred,
    out: &'a mut Output<S>,
    held: &'a mut HeldBudget,
    /// Frames of WebSockets over HTTP/2: their offsets are in their
    /// streams, not the TCP stream's, so acknowledgments say nothing.
    h2: bool,
}

impl<S: Sink> FrameOut for ConnOut<'_, S> {
    fn scratch(&mut self) -> &mut Scratch {
        &mut self.out.scratch
    }

    fn frame_started(&mut self, d: Dir, payload_len: u64) {
        self.acc.frame_started(d, payload_len);
    }

    fn finding(&mut self, f: Finding) {
        self.acc.add(f);
    }

    fn close_frame(&mut self, d: Dir, code: Option<u16>, packet: u64) {
        self.acc.close_frame(d, code, packet);
    }

    fn ending(&self) -> Option<CloseReason> {
        self.acc.ending
    }

    fn acked(&self, d: Dir) -> Option<u64> {
        if self.h2 {
            return None;
        }
        if self.out.tls_end.is_some() {
            // Decrypted: TCP acknowledges encrypted bytes, which do not map
            // onto the decrypted stream's offsets. Not known.
            return None;
        }
        let tcp = if self.swapped { d.reverse() } else { d };
        self.meta.acked[tcp.index()]
    }

    fn frame_done(&mut self, rec: &mut FrameRecord, acked: Option<u64>) {
        match self.out.tls_end {
            // Decrypted: the frame shows where its last TLS record ends.
            Some((start, end)) if rec.last_packet == start => rec.last_packet = end,
            // A frame confirmed only by a later record (while frame sync
            // was being searched for) keeps its record's start.
            _ => {}
        }
        let (out, acc, deferred) = (&mut *self.out, &mut *self.acc, &mut *self.deferred);
        self.masking
            .frame(rec, acked, self.held, &mut |r| out.frame(acc, deferred, r));
    }
}
