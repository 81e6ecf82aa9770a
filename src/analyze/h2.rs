//! WebSocket over HTTP/2 (RFC 8441) on one connection: the HTTP/2 reader's
//! events ([`crate::http2`]) turned into WebSocket streams, each with the
//! frame part of each direction ([`DirFrames`], as on an upgraded HTTP/1.1
//! connection), and the findings of RFC 8441 and RFC 9113.
//!
//! A WebSocket stream opens with an extended CONNECT (`:method CONNECT`,
//! `:protocol websocket`, RFC 8441 4) and is established by a 2xx (RFC 8441
//! 5); its frames are the DATA payloads of that stream, each direction a
//! byte stream of RFC 6455 frames with the usual masking rules. It ends
//! with END_STREAM from both sides, or a RST_STREAM.
//!
//! Frames go to the connection's [`FrameOut`] as an HTTP/1.1 connection's
//! do, which must not consult TCP acknowledgments for them (stream offsets
//! are not TCP offsets): one frame path for both, compiled once.

use super::frames::{DirFrames, FrameConfig, FrameOut};
use crate::finding::{Code, Finding};
use crate::http2::frame::{self, Setting};
use crate::http2::hpack::Field;
use crate::http2::{Event, H2Conn};
use crate::record::{H2GoAway, H2WebSocket, Http2Info};
use crate::record::{RequestInfo, ResponseInfo};
use crate::tcp::Dir;
use crate::text::Text;
use crate::time::Timestamp;
use crate::websocket::handshake::{self, Negotiated};

/// WebSocket streams open and followed at once on one connection; further
/// ones are counted (`websockets_not_followed`). Each holds two
/// directions' frame state until it ends (END_STREAM both ways, or a
/// reset) or the connection does.
pub(super) const MAX_FOLLOWED: usize = 256;

/// Client DATA held before the answers of a connection's streams, at most
/// (as an HTTP/1.1 connection holds its client's bytes before the 101).
const MAX_PENDING: usize = 256 << 10;

/// WebSocket streams listed in one connection's record; further ones are
/// followed (their frames decoded) and counted (`websockets_not_listed`):
/// the record stays bounded on a connection that lives for days.
pub(super) const MAX_LISTED: usize = 1024;

/// Whether `data`, a client's first bytes, begin the HTTP/2 connection
/// preface (RFC 9113 3.4); at least its first four bytes are needed.
pub(super) fn starts_preface(data: &[u8]) -> bool {
    let n = data.len().min(frame::PREFACE.len());
    n >= 4 && data[..n] == frame::PREFACE[..n]
}

/// Whether `data`, a server's first bytes, begin an HTTP/2 server preface:
/// a SETTINGS frame on stream 0 without ACK (RFC 9113 3.4, 6.5), which a
/// server may send before the client's preface arrives.
pub(super) fn starts_server_preface(data: &[u8]) -> bool {
    let Some(h) = data.first_chunk::<{ frame::HEADER_LEN }>() else {
        return false;
    };
    let h = frame::FrameHeader::parse(h);
    h.kind == frame::Kind::Settings
        && h.flags == 0
        && h.stream == 0
        && h.len.is_multiple_of(6)
        && h.len <= 600
}

/// One WebSocket stream, while it is open.
struct WsStream {
    id: u32,
    /// Its entry in the record's `http2.websockets`, kept here while it
    /// is open.
    rec: H2WebSocket,
    /// It has a place in that list (there were fewer than MAX_LISTED).
    listed: bool,
    request: RequestInfo,
    response: Option<ResponseInfo>,
    negotiated: Option<Negotiated>,
    /// Answered with a status other than 2xx: no WebSocket.
    refused: bool,
    /// Client DATA that came before the answer, held.
    pending: Vec<((u64, Timestamp), Vec<u8>)>,
    frames: [Option<Box<DirFrames>>; 2],
    ended: [bool; 2],
}

impl WsStream {
    /// Both sides sent their close frame: the WebSocket closing handshake
    /// is done, whatever happens to the stream next.
    fn closed_both_ways(&self) -> bool {
        self.frames
            .iter()
            .all(|f| f.as_ref().is_some_and(|f| f.close_sent()))
    }
}

/// The HTTP/2 part of a connection.
pub(super) struct H2Part {
    conn: H2Conn,
    streams: Streams,
}

/// What the reader's events build (apart from the reader, so that both can
/// be borrowed at once).
struct Streams {
    conn_id: u64,
    cfg: FrameConfig,
    info: Http2Info,
    /// The open WebSocket streams.
    ws: Vec<WsStream>,
    /// Bytes of their `pending` DATA.
    pending: usize,
    /// The first Sec-WebSocket-Accept a 2xx carried, with its request's
    /// time: the connection's leg id; and whether it was handed on.
    leg: Option<(Text, Timestamp)>,
    leg_told: bool,
    /// The handshake the record shows: the first stream established, else
    /// the first one asked for.
    chosen: Option<Handshake>,
    /// The highest stream a request opened: a header block on a lower one
    /// is trailers, not a request.
    last_request: u32,
    /// The client's preface was read (before it, the connection is only
    /// taken for HTTP/2 because of the server's first bytes).
    confirmed: bool,
}

impl H2Part {
    /// The HTTP/2 part of connection `conn_id`; `cfg` is how frames are
    /// checked (each stream adds what its handshake negotiated).
    pub fn new(conn_id: u64, cfg: FrameConfig) -> H2Part {
        H2Part {
            conn: H2Conn::default(),
            streams: Streams {
                conn_id,
                cfg,
                info: Http2Info::default(),
                ws: Vec::new(),
                pending: 0,
                leg: None,
                leg_told: false,
                chosen: None,
                last_request: 0,
                confirmed: false,
            },
        }
    }

    /// Whether the client's bytes confirmed HTTP/2: before, only the
    /// server's first bytes suggested it.
    pub fn confirmed(&self) -> bool {
        self.streams.confirmed
    }

    /// The next bytes of direction `d`, from `packet` at `ts`.
    pub fn push(
        &mut self,
        d: Dir,
        data: &[u8],
        (packet, ts): (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        if d == Dir::ClientToServer {
            self.streams.confirmed = true;
        }
        let s = &mut self.streams;
        self.conn
            .push(d, data, &mut |ev| s.event(d, ev, packet, ts, out));
    }

    /// The leg id (legs.rs) of this connection, once a WebSocket stream's
    /// 2xx carried a Sec-WebSocket-Accept (a proxy passing its backend's
    /// back): returned once, to be registered.
    pub fn new_leg(&mut self) -> Option<(Text, Timestamp)> {
        let s = &mut self.streams;
        match (&s.leg, s.leg_told) {
            (Some((id, ts)), false) => {
                s.leg_told = true;
                Some((id.clone(), *ts))
            }
            _ => None,
        }
    }

    /// The leg id registered for this connection, if any.
    pub fn leg(&self) -> Option<&Text> {
        self.streams.leg.as_ref().map(|(id, _)| id)
    }

    /// Bytes of direction `d` are missing: HTTP/2 frames cannot be found
    /// again after a hole, so that direction is read no further.
    pub fn gap(&mut self, d: Dir) {
        self.conn.lose(d);
    }

    /// The connection ended: frames in progress are cut short. Returns
    /// what the record says of HTTP/2, and the first WebSocket stream's
    /// handshake (the connection record's request and response).
    pub fn finish(mut self, out: &mut impl FrameOut) -> (Http2Info, Option<Handshake>) {
        while !self.streams.ws.is_empty() {
            self.streams.retire(0, out);
        }
        // Listed as they closed; shown in the order they were opened.
        let mut info = self.streams.info;
        info.websockets.sort_by_key(|w| w.stream);
        (info, self.streams.chosen)
    }
}

/// The opening handshake of a WebSocket stream, as the connection record
/// shows an HTTP/1.1 one.
pub(super) struct Handshake {
    pub request: RequestInfo,
    pub response: Option<ResponseInfo>,
    pub negotiated: Option<Negotiated>,
    /// Answered with a 2xx: the connection carried a WebSocket.
    pub established: bool,
    /// Its stream: the first opened comes first.
    stream: u32,
}

/// Who sent direction `d`'s bytes.
fn who(d: Dir) -> &'static str {
    match d {
        Dir::ClientToServer => "client",
        Dir::ServerToClient => "server",
    }
}

/// A header field's value (several fields of the name joined by ", ",
/// RFC 9110 5.3), as text.
fn header(fields: &[Field], name: &str) -> Option<Text> {
    let mut values = fields.iter().filter(|f| f.name == name.as_bytes());
    let first = values.next()?;
    let mut v = String::from_utf8_lossy(&first.value).into_owned();
    for more in values {
        v.push_str(", ");
        v.push_str(&String::from_utf8_lossy(&more.value));
    }
    Some(Text::from(v.as_str()))
}

/// An extended CONNECT as the record shows a request (RFC 8441 5 maps
/// the HTTP/1.1 upgrade's headers onto it).
fn request_info(fields: &[Field], (packet, ts): (u64, Timestamp)) -> RequestInfo {
    let get = |name| header(fields, name);
    RequestInfo {
        packet,
        ts,
        method: "CONNECT".into(),
        target: get(":path").unwrap_or_default(),
        version: "HTTP/2".into(),
        host: get(":authority"),
        origin: get("origin"),
        upgrade: get("upgrade"),
        connection: get("connection"),
        sec_websocket_key: get("sec-websocket-key"),
        sec_websocket_version: get("sec-websocket-version"),
        sec_websocket_protocol: get("sec-websocket-protocol"),
        sec_websocket_extensions: get("sec-websocket-extensions"),
        user_agent: get("user-agent"),
    }
}

/// RFC 9113 8.2.2: the fields HTTP/2 does not carry (hop-by-hop in
/// HTTP/1.1), which a block that has them is malformed for.
fn connection_specific(fields: &[Field]) -> Vec<String> {
    const NAMES: [&str; 5] = [
        "connection",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
    ];
    let mut found: Vec<String> = Vec::new();
    for f in fields {
        let name = String::from_utf8_lossy(&f.name);
        let bad = NAMES.contains(&name.as_ref()) || (name == "te" && f.value != b"trailers");
        if bad && !found.iter().any(|n| *n == name) {
            found.push(name.into_owned());
        }
    }
    found
}

impl Streams {
    fn event(
        &mut self,
        d: Dir,
        ev: Event<'_>,
        packet: u64,
        ts: Timestamp,
        out: &mut impl FrameOut,
    ) {
        match ev {
            Event::Settings {
                ack: false,
                settings,
            } if d == Dir::ServerToClient => self.server_settings(settings),
            Event::Headers {
                stream,
                fields,
                end_stream,
                promised: None,
            } => {
                let at = (packet, ts);
                if d == Dir::ClientToServer {
                    self.request(stream, fields, end_stream, at, out);
                } else {
                    self.response(stream, fields, end_stream, at, out);
                }
            }
            Event::Data {
                stream,
                data,
                end_stream,
            } => self.data(d, stream, data, end_stream, (packet, ts), out),
            Event::RstStream { stream, code } => self.reset(d, stream, code, packet, out),
            Event::GoAway { last_stream, code } => {
                self.info.goaway.get_or_insert(H2GoAway {
                    packet,
                    dir: d,
                    code: frame::error_name(code),
                    last_stream,
                });
            }
            Event::Error(e) => {
                let detail = format!("{}: {e}", who(d));
                out.finding(Finding::new(Code::H2ProtocolError, detail).at(packet));
            }
            // Frame headers, SETTINGS acknowledgments, the client's
            // SETTINGS and pushed requests say nothing of WebSocket.
            _ => {}
        }
    }

    /// RFC 8441 3: the server allows extended CONNECT with
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. Its initial value is 0, and a
    /// server may not take back a 1.
    fn server_settings(&mut self, settings: &[Setting]) {
        let said = settings.iter().rev().find_map(|s| match s {
            Setting::EnableConnectProtocol(v) => Some(*v == 1),
            _ => None,
        });
        let now = &mut self.info.connect_protocol_enabled;
        *now = match (*now, said) {
            (Some(true), _) => Some(true),
            (_, Some(v)) => Some(v),
            (before, None) => Some(before.unwrap_or(false)),
        };
    }

    fn index(&self, stream: u32) -> Option<usize> {
        self.ws.iter().position(|s| s.id == stream)
    }

    /// A client header block: a new request, perhaps an extended CONNECT.
    fn request(
        &mut self,
        stream: u32,
        fields: &[Field],
        end_stream: bool,
        (packet, ts): (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        if stream <= self.last_request {
            // Trailers of an earlier request (or a repeated stream id).
            if let Some(i) = self.index(stream).filter(|_| end_stream) {
                self.end_side(i, Dir::ClientToServer, packet, out);
            }
            return;
        }
        self.last_request = stream;
        self.info.requests += 1;
        let bad = connection_specific(fields);
        if !bad.is_empty() {
            let detail = format!("the request on stream {stream} has {}", bad.join(", "));
            out.finding(Finding::new(Code::H2ConnectionHeader, detail).at(packet));
        }
        let Some(protocol) = header(fields, ":protocol") else {
            // An ordinary request.
            return;
        };
        let method = header(fields, ":method").unwrap_or_default();
        let add = &mut |code, detail: String| out.finding(Finding::new(code, detail).at(packet));
        if method != "CONNECT" {
            add(
                Code::H2BadConnect,
                format!(
                    "stream {stream}: :protocol {protocol:?} on a {method:?} request (RFC 8441 4: CONNECT only)"
                ),
            );
            return;
        }
        if !protocol.eq_ignore_ascii_case("websocket") {
            // Another protocol bootstrapped the same way.
            return;
        }
        self.check_connect(stream, fields, add);
        if self.ws.len() >= MAX_FOLLOWED {
            self.info.websockets_not_followed += 1;
            return;
        }
        let listed_open = self.ws.iter().filter(|s| s.listed).count();
        let listed = self.info.websockets.len() + listed_open < MAX_LISTED;
        let request = request_info(fields, (packet, ts));
        let rec = H2WebSocket {
            stream,
            request_packet: packet,
            path: header(fields, ":path"),
            authority: header(fields, ":authority"),
            ..H2WebSocket::default()
        };
        self.ws.push(WsStream {
            id: stream,
            rec,
            listed,
            request,
            response: None,
            negotiated: None,
            refused: false,
            pending: Vec::new(),
            frames: [None, None],
            ended: [false; 2],
        });
        if end_stream {
            self.end_side(self.ws.len() - 1, Dir::ClientToServer, packet, out);
        }
    }

    /// The rules of an extended CONNECT for a WebSocket (RFC 8441 3-5).
    fn check_connect(&self, stream: u32, fields: &[Field], add: &mut impl FnMut(Code, String)) {
        let missing: Vec<&str> = [":scheme", ":path"]
            .into_iter()
            .filter(|p| header(fields, p).is_none())
            .collect();
        if !missing.is_empty() {
            add(
                Code::H2BadConnect,
                format!(
                    "the extended CONNECT on stream {stream} has no {}",
                    missing.join(" or ")
                ),
            );
        }
        match self.info.connect_protocol_enabled {
            Some(true) => {}
            Some(false) => add(
                Code::H2ConnectNotEnabled,
                format!(
                    "the client opened stream {stream} with an extended CONNECT, but the server's SETTINGS \
                     did not enable it (SETTINGS_ENABLE_CONNECT_PROTOCOL is not 1)"
                ),
            ),
            None => add(
                Code::H2ConnectNotEnabled,
                format!(
                    "the client opened stream {stream} with an extended CONNECT before the server's SETTINGS \
                     arrived (none enabled SETTINGS_ENABLE_CONNECT_PROTOCOL yet)"
                ),
            ),
        }
        // RFC 8441 5: Sec-WebSocket-Version is used as in RFC 6455 4.1.
        let version = header(fields, "sec-websocket-version");
        if version.as_deref() != Some("13") {
            let detail = match version {
                Some(v) => {
                    format!("stream {stream}: sec-websocket-version is {v:?}, expected \"13\"")
                }
                None => {
                    format!("the extended CONNECT on stream {stream} has no sec-websocket-version")
                }
            };
            add(Code::BadWebsocketVersion, detail);
        }
    }

    /// A server header block on a WebSocket stream: its response (or,
    /// after it, trailers).
    fn response(
        &mut self,
        stream: u32,
        fields: &[Field],
        end_stream: bool,
        (packet, ts): (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        let Some(i) = self.index(stream) else { return };
        let status = header(fields, ":status").and_then(|s| s.parse::<u16>().ok());
        if self.ws[i].response.is_none() && !matches!(status, Some(100..=199)) {
            self.answer(i, fields, status, (packet, ts), out);
        }
        if end_stream {
            self.end_side(i, Dir::ServerToClient, packet, out);
        }
    }

    /// The final response to stream `i`'s extended CONNECT.
    fn answer(
        &mut self,
        i: usize,
        fields: &[Field],
        status: Option<u16>,
        (packet, ts): (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        let s = &mut self.ws[i];
        let bad = connection_specific(fields);
        if !bad.is_empty() {
            let detail = format!("the response on stream {} has {}", s.id, bad.join(", "));
            out.finding(Finding::new(Code::H2ConnectionHeader, detail).at(packet));
        }
        let get = |name| header(fields, name);
        let response = ResponseInfo {
            packet,
            ts,
            version: "HTTP/2".into(),
            status: status.unwrap_or(0),
            reason: Text::default(),
            upgrade: get("upgrade"),
            connection: get("connection"),
            sec_websocket_accept: get("sec-websocket-accept"),
            sec_websocket_protocol: get("sec-websocket-protocol"),
            sec_websocket_extensions: get("sec-websocket-extensions"),
        };
        let rec = &mut s.rec;
        rec.status = status;
        rec.response_packet = Some(packet);
        let add = &mut |code, detail: String| out.finding(Finding::new(code, detail).at(packet));
        if matches!(status, Some(200..=299)) {
            if let (None, Some(accept)) = (&self.leg, &response.sec_websocket_accept) {
                self.leg = Some((accept.clone(), s.request.ts));
            }
            let offered = s.request.sec_websocket_protocol.as_deref();
            let offers = |p: &str| offered.is_some_and(|o| o.split(',').any(|x| x.trim() == p));
            s.negotiated = Some(handshake::negotiate(
                s.request.sec_websocket_extensions.as_deref(),
                offers,
                response.sec_websocket_extensions.as_deref(),
                response.sec_websocket_protocol.as_deref(),
                add,
            ));
        } else {
            s.refused = true;
            let shown = status.map_or("no :status".to_string(), |c| c.to_string());
            add(
                Code::H2ConnectRejected,
                format!(
                    "the server answered the extended CONNECT on stream {} with {shown}",
                    s.id
                ),
            );
        }
        s.response = Some(response);
        if s.refused {
            // Not WebSocket: what the client sent early is not frames.
            let dropped: usize = s.pending.drain(..).map(|(_, b)| b.len()).sum();
            self.pending -= dropped;
        } else {
            self.replay(i, out);
        }
    }

    /// DATA on a stream: a WebSocket stream's frame bytes. The client's
    /// before the answer are held (as on HTTP/1.1) until it says which
    /// extensions apply, within MAX_PENDING for the connection.
    fn data(
        &mut self,
        d: Dir,
        stream: u32,
        data: &[u8],
        end_stream: bool,
        at: (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        let Some(i) = self.index(stream) else { return };
        let s = &mut self.ws[i];
        let early = d == Dir::ClientToServer && s.response.is_none();
        if !s.refused && !data.is_empty() {
            if early && self.pending + data.len() <= MAX_PENDING {
                self.pending += data.len();
                s.pending.push((at, data.to_vec()));
            } else {
                self.replay(i, out);
                self.frames(i, d, data, at, out);
            }
        }
        if end_stream {
            self.end_side(i, d, at.0, out);
        }
    }

    /// Bytes of direction `d` of stream `i` to its frame part (made with
    /// what the handshake negotiated, or, before the answer, with the
    /// extensions unknown: RSV1 is then not judged).
    fn frames(
        &mut self,
        i: usize,
        d: Dir,
        data: &[u8],
        (packet, ts): (u64, Timestamp),
        out: &mut impl FrameOut,
    ) {
        let s = &mut self.ws[i];
        let negotiated = s.negotiated.as_ref();
        let cfg = FrameConfig {
            deflate: negotiated.and_then(|n| n.deflate),
            extensions_unknown: s.response.is_none()
                && s.request.sec_websocket_extensions.is_some(),
            ..self.cfg
        };
        let (conn, stream) = (self.conn_id, s.id);
        let f = s.frames[d.index()].get_or_insert_with(|| {
            Box::new(DirFrames::new(conn, d, 0, true, cfg).on_h2_stream(stream))
        });
        f.push(data, packet, ts, out);
        *s.rec.frames.get_mut(d) = f.frames();
    }

    /// The client bytes held for stream `i`, to its frame part.
    fn replay(&mut self, i: usize, out: &mut impl FrameOut) {
        let held = std::mem::take(&mut self.ws[i].pending);
        for (at, bytes) in held {
            self.pending -= bytes.len();
            self.frames(i, Dir::ClientToServer, &bytes, at, out);
        }
    }

    /// Direction `d` of stream `i` ended (END_STREAM); both have, the
    /// stream has (RFC 9113 5.1: closed).
    fn end_side(&mut self, i: usize, d: Dir, packet: u64, out: &mut impl FrameOut) {
        let s = &mut self.ws[i];
        s.ended[d.index()] = true;
        if s.ended == [true; 2] {
            let rec = &mut s.rec;
            rec.end = Some("end_stream");
            rec.end_packet = Some(packet);
            self.retire(i, out);
        }
    }

    /// RST_STREAM on a stream (RFC 9113 6.4): it is closed.
    fn reset(&mut self, d: Dir, stream: u32, code: u32, packet: u64, out: &mut impl FrameOut) {
        let Some(i) = self.index(stream) else { return };
        let s = &mut self.ws[i];
        let name = frame::error_name(code);
        let rec = &mut s.rec;
        rec.end = Some("rst_stream");
        rec.reset_code = Some(name);
        rec.end_packet = Some(packet);
        let finding = if d == Dir::ServerToClient && s.response.is_none() {
            // RFC 9113 8.1.1: a server refuses a malformed request (as an
            // extended CONNECT it does not support is) with a stream error.
            s.refused = true;
            let detail = format!(
                "the server reset stream {stream} ({name}) instead of answering its extended CONNECT"
            );
            Some(Finding::new(Code::H2ConnectRejected, detail))
        } else if s.refused || (code == 0 && s.ended[d.index()]) || s.closed_both_ways() {
            // A refused stream, one its resetter had ended with NO_ERROR
            // (RFC 9113 8.1: a server done with a stream may stop the
            // upload so), or one whose WebSocket closing handshake was
            // done (RFC 6455 7.1.1: then the transport may go; Chromium
            // resets with CANCEL there): ended as it should.
            None
        } else {
            let detail = format!(
                "the {} reset stream {stream} ({name}) before both sides ended it",
                who(d)
            );
            Some(Finding::new(Code::H2StreamReset, detail))
        };
        if let Some(f) = finding {
            out.finding(f.at(packet));
        }
        self.retire(i, out);
    }

    /// Open stream `i` is closed: its frames in progress are cut short,
    /// its state dropped; its handshake may be the record's.
    fn retire(&mut self, i: usize, out: &mut impl FrameOut) {
        // Never answered: what the client sent is not known to be frames,
        // as on an HTTP/1.1 upgrade without its answer.
        let mut s = self.ws.swap_remove(i);
        self.pending -= s.pending.iter().map(|(_, b)| b.len()).sum::<usize>();
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            if let Some(f) = s.frames[d.index()].as_mut() {
                f.finish(out);
                *s.rec.frames.get_mut(d) = f.frames();
            }
        }
        // Streams close in any order: the earliest opened wins among the
        // established, or among all when none is.
        let established = matches!(s.rec.status, Some(200..=299));
        let rank = |established, stream| (established, std::cmp::Reverse(stream));
        let better = self
            .chosen
            .as_ref()
            .is_none_or(|c| rank(established, s.id) > rank(c.established, c.stream));
        if better {
            self.chosen = Some(Handshake {
                request: s.request,
                response: s.response,
                negotiated: s.negotiated,
                established,
                stream: s.id,
            });
        }
        if s.listed {
            self.info.websockets.push(s.rec);
        } else {
            self.info.websockets_not_listed += 1;
        }
    }
}

#[cfg(test)]
mod tests;
