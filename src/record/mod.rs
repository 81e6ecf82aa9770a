//! The records wscap reports: plain data with a stable, documented schema
//! (docs/records.md), the same for every output format and comparable
//! across captures. Every record is written with a `type` field.
//!
//! Values with a fixed set of meanings (direction, opcode, how roles were
//! found, how WebSocket was recognised, how a connection ended, diagnosis
//! causes and hops) are enums written under their stable names; tallies are
//! [`Counts`] keyed by typed values. Fields are added, never renamed.
//!
//! [`Sink`] is where records go: the report writers implement it.

mod counts;
pub mod wireshark;

pub use counts::{CodesBySeverity, Counts, Named};

use crate::capture::PacketRef;
use crate::finding::{Code, Finding, Severity};
use crate::tcp::{CloseReason, Dir};
use crate::time::Timestamp;
use crate::websocket::Opcode;
use serde::{Serialize, Serializer};
use std::net::SocketAddr;

/// The records' short strings (see [`crate::text::Text`]).
pub use crate::text::Text;

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

    /// The time of the capture's first packet (of any kind), told before
    /// any record: times relative to the capture (Wireshark's
    /// `frame.time_relative`) count from it.
    fn capture_start(&mut self, _ts: Timestamp) {}

    /// Connection `conn` ended but a filter kept its record out: a writer
    /// printing connections in order need not wait for it.
    fn connection_filtered(&mut self, _conn: u64) {}

    /// The input went idle (a live capture waits for its next packet):
    /// write out whatever is buffered, so that a person or a consumer
    /// watching the output sees every record the packets so far completed.
    /// Records held for their connection's end (the table's rows) stay held.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    /// A connection's endpoints as reported (roles settled), told before
    /// its first frame record, for filters that select frames by them.
    fn endpoints(&mut self, _conn: u64, _client: SocketAddr, _server: SocketAddr) {}

    /// Whether [`Sink::packet`] should be called (`--write-pcap`).
    fn wants_packets(&self) -> bool {
        false
    }

    /// Every captured packet in capture order, after the analysis took it,
    /// with the connection it belongs to: its `conn` and, while it is
    /// open, what is known of it (`None` once its record was written).
    fn packet(&mut self, _p: &PacketRef<'_>, _conn: Option<(u64, Option<ConnFacts>)>) {}
}

/// What is known of a connection while it is open, for filters that must
/// decide before its record is written (`--write-pcap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnFacts {
    pub conn: u64,
    /// As reported (the roles settled by the analysis so far).
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Recognised as WebSocket (so far, while it is open).
    pub websocket: bool,
    /// It ended: nothing about it changes any more.
    pub ended: bool,
    /// Client and server may still swap (guessed by port, no bytes yet).
    pub roles_open: bool,
}

impl ConnFacts {
    /// The facts of a connection whose record is written.
    pub fn of(c: &ConnectionRecord) -> ConnFacts {
        ConnFacts {
            conn: c.conn,
            client: c.client,
            server: c.server,
            first_ts: c.first_ts,
            last_ts: c.last_ts,
            websocket: c.websocket,
            ended: true,
            roles_open: false,
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Directions are written `c2s` and `s2c`.
impl Serialize for Dir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Opcodes are written by name (`text`, `reserved-data`...); the number is
/// in `opcode_value`.
impl Serialize for Opcode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How a connection ended: `fin`, `rst`, `idle`, `reused`, `evicted`,
/// `end-of-capture`, `interrupted`.
impl Serialize for CloseReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A masking key, written as 8 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey(pub [u8; 4]);

impl Serialize for MaskKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::text::hex(&self.0))
    }
}

/// One WebSocket frame. Written by hand by the JSON writers
/// (`report::frame_json`), as most of the output on a busy capture is
/// frames; the preview is rendered there, in the mode the user chose.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameRecord {
    pub conn: u64,
    /// The HTTP/2 stream carrying the WebSocket (RFC 8441), for frames
    /// over HTTP/2; written only then, after `conn`.
    pub h2_stream: Option<u32>,
    pub dir: Dir,
    /// Index of the frame in its direction, from 0.
    pub index: u64,
    /// Capture packet number (1-based, as Wireshark numbers them) holding the
    /// header's first byte.
    pub packet: u64,
    /// Packet holding the payload's last byte.
    pub last_packet: u64,
    /// Time of `packet`, RFC 3339 with nanoseconds.
    pub ts: Timestamp,
    /// Stream offset of the header's first byte (0 = first byte after the
    /// SYN, or the first byte captured).
    pub offset: u64,
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    /// Written as `opcode` (its name) and `opcode_value`.
    pub opcode: Opcode,
    /// Written as `mask_key` and `masked`.
    pub mask_key: Option<MaskKey>,
    pub payload_len: u64,
    pub header_len: u8,
    /// Part of a permessage-deflate compressed message (RSV1 on its first
    /// frame, with the extension negotiated).
    pub compressed: bool,
    /// Close frames: the status code and reason, when present.
    pub close_code: Option<u16>,
    pub close_reason: Option<Text>,
    /// The first bytes of the unmasked (and inflated) payload, when previews
    /// were asked for (`--payload`); the writer renders them.
    pub preview: Vec<u8>,
    /// Payload bytes missing from the capture (lost or cut by the snaplen).
    pub payload_missing: u64,
    /// A compressed frame's payload inflated (written for compressed frames
    /// that inflated whole): with `payload_len`, the compression ratio.
    pub inflated_len: Option<u64>,
    /// Payload bytes the capture holds (written when not the whole payload:
    /// cut by the snaplen, lost, or the capture ended inside the frame).
    pub payload_captured: u64,
    /// False when the capture ended inside this frame.
    pub complete: bool,
    pub findings: Vec<Finding>,
}

impl FrameRecord {
    /// An empty record, to be filled as a frame is decoded (and reused for
    /// the next frame, keeping its buffers).
    pub fn empty(conn: u64, dir: Dir) -> FrameRecord {
        FrameRecord {
            conn,
            h2_stream: None,
            dir,
            index: 0,
            packet: 0,
            last_packet: 0,
            ts: Timestamp(0),
            offset: 0,
            fin: false,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: Opcode(0),
            mask_key: None,
            payload_len: 0,
            header_len: 0,
            compressed: false,
            close_code: None,
            close_reason: None,
            preview: Vec::new(),
            payload_missing: 0,
            payload_captured: 0,
            inflated_len: None,
            complete: true,
            findings: Vec::new(),
        }
    }

    pub fn masked(&self) -> bool {
        self.mask_key.is_some()
    }
}

/// The opening handshake's request, as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestInfo {
    pub packet: u64,
    /// Time of `packet`.
    pub ts: Timestamp,
    pub method: Text,
    pub target: Text,
    pub version: Text,
    pub host: Option<Text>,
    pub origin: Option<Text>,
    pub upgrade: Option<Text>,
    pub connection: Option<Text>,
    pub sec_websocket_key: Option<Text>,
    pub sec_websocket_version: Option<Text>,
    pub sec_websocket_protocol: Option<Text>,
    pub sec_websocket_extensions: Option<Text>,
    /// Last: added after the others (Zeek's websocket.log reports it).
    pub user_agent: Option<Text>,
}

/// The response to the upgrade request.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResponseInfo {
    pub packet: u64,
    /// Time of `packet`: with the request's, the handshake's latency.
    pub ts: Timestamp,
    pub version: Text,
    pub status: u16,
    pub reason: Text,
    pub upgrade: Option<Text>,
    pub connection: Option<Text>,
    pub sec_websocket_accept: Option<Text>,
    pub sec_websocket_protocol: Option<Text>,
    pub sec_websocket_extensions: Option<Text>,
}

/// What the handshake settled, and whether the accept key checked out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NegotiatedInfo {
    /// Extension names the server accepted.
    pub extensions: Vec<String>,
    pub subprotocol: Option<String>,
    /// permessage-deflate parameters, when negotiated.
    pub deflate: Option<DeflateInfo>,
    /// Sec-WebSocket-Accept matched the key (null when there was no key).
    pub accept_ok: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeflateInfo {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

/// Stable identifiers of diagnosed causes (docs/records.md lists them).
macro_rules! causes {
    ($( $variant:ident = $name:literal, )*) => {
        /// A diagnosed cause.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Cause { $( $variant, )* }

        impl Cause {
            pub const ALL: &'static [Cause] = &[ $( Cause::$variant, )* ];

            /// The stable snake_case name.
            pub fn name(self) -> &'static str {
                match self { $( Cause::$variant => $name, )* }
            }
        }
    };
}

causes! {
    ProxyNotWebsocketAware = "proxy_not_websocket_aware",
    HandshakeRefused = "handshake_refused",
    HandshakeAnswerBroken = "handshake_answer_broken",
    TlsMisplaced = "tls_misplaced",
    HttpInUpgradedSocket = "http_in_upgraded_socket",
    WrongMasking = "wrong_masking",
    CompressionMismatch = "compression_mismatch",
    MessageTooBig = "message_too_big",
    BinaryInTextFrame = "binary_in_text_frame",
    FramingViolation = "framing_violation",
    ClosedWithoutCloseFrame = "closed_without_close_frame",
    InvalidClientHandshake = "invalid_client_handshake",
    ClosedWithErrorCode = "closed_with_error_code",
    ConflictingRetransmission = "conflicting_retransmission",
    IncompleteCapture = "incomplete_capture",
    Http2WebsocketNotEnabled = "http2_websocket_not_enabled",
    Http2Violation = "http2_violation",
}

impl Named for Cause {
    fn name(self) -> &'static str {
        Cause::name(self)
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// On a proxied connection with both legs captured, where a cause shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Hop {
    /// The leg from the client to the proxy (the earlier request).
    #[serde(rename = "client-leg")]
    ClientLeg,
    /// The leg from the proxy to the backend.
    #[serde(rename = "backend-leg")]
    BackendLeg,
    #[serde(rename = "both")]
    Both,
}

impl Hop {
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::ClientLeg => "client-leg",
            Hop::BackendLeg => "backend-leg",
            Hop::Both => "both",
        }
    }
}

/// The likely cause of what went wrong on a connection, with evidence and
/// a fix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    pub cause: Cause,
    /// One-line statement of the cause.
    pub summary: String,
    /// The finding codes that point to it.
    pub codes: Vec<Code>,
    /// Packet to open first.
    pub packet: Option<u64>,
    pub evidence: Vec<String>,
    pub fix: Vec<String>,
    /// Where the problem first appears, on a proxied connection with both
    /// legs captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<Hop>,
}

/// The close codes one side sent, in order, the first
/// [`CloseCodes::MAX`] of them (a peer sending thousands of close frames
/// must not grow memory). Held inline, as every closed connection has
/// them; written as a JSON array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseCodes {
    codes: [u16; CloseCodes::MAX],
    len: u8,
}

impl CloseCodes {
    pub const MAX: usize = 8;

    /// Keeps `code` if fewer than [`CloseCodes::MAX`] are kept.
    pub fn push(&mut self, code: u16) {
        if let Some(slot) = self.codes.get_mut(usize::from(self.len)) {
            *slot = code;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for CloseCodes {
    type Target = [u16];

    fn deref(&self) -> &[u16] {
        &self.codes[..usize::from(self.len)]
    }
}

impl<const N: usize> From<[u16; N]> for CloseCodes {
    fn from(codes: [u16; N]) -> CloseCodes {
        let mut c = CloseCodes::default();
        codes.into_iter().for_each(|code| c.push(code));
        c
    }
}

impl Serialize for CloseCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Per-direction counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerDir<T> {
    pub c2s: T,
    pub s2c: T,
}

impl<T> PerDir<T> {
    pub fn get(&self, dir: Dir) -> &T {
        match dir {
            Dir::ClientToServer => &self.c2s,
            Dir::ServerToClient => &self.s2c,
        }
    }

    pub fn get_mut(&mut self, dir: Dir) -> &mut T {
        match dir {
            Dir::ClientToServer => &mut self.c2s,
            Dir::ServerToClient => &mut self.s2c,
        }
    }
}

/// TCP reassembly counters for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpDirInfo {
    pub packets: u64,
    /// Payload bytes on the wire, retransmissions included.
    pub wire_bytes: u64,
    pub duplicate_bytes: u64,
    pub out_of_order: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub conflicts: u64,
}

/// How client and server were told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Roles {
    /// The client sent the SYN.
    #[serde(rename = "syn")]
    Syn,
    /// The server sent the SYN-ACK (the SYN was not captured).
    #[serde(rename = "syn-ack")]
    SynAck,
    /// The direction of the upgrade request.
    #[serde(rename = "http")]
    Http,
    /// The lower port was taken to be the server's.
    #[serde(rename = "port-guess")]
    PortGuess,
}

/// How WebSocket was recognised on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Detection {
    /// From the HTTP Upgrade and its 101.
    #[serde(rename = "handshake")]
    Handshake,
    /// Because of `--port`.
    #[serde(rename = "port")]
    Port,
    /// From a run of masked client frames, without a handshake.
    #[serde(rename = "heuristic")]
    Heuristic,
    /// From an extended CONNECT over HTTP/2 (RFC 8441) and its 2xx.
    #[serde(rename = "http2")]
    Http2,
}

impl Detection {
    pub fn as_str(self) -> &'static str {
        match self {
            Detection::Handshake => "handshake",
            Detection::Port => "port",
            Detection::Heuristic => "heuristic",
            Detection::Http2 => "http2",
        }
    }
}

/// An HTTP/2 connection (RFC 9113), as far as WebSocket is concerned: its
/// WebSocket streams (RFC 8441) and whether the server allowed them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Http2Info {
    /// Requests the client sent (header blocks opening a stream).
    pub requests: u64,
    /// The server's SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 3): null
    /// before its first SETTINGS, then whether it was 1.
    pub connect_protocol_enabled: Option<bool>,
    /// The streams opened by an extended CONNECT with `:protocol:
    /// websocket`, in the order they were opened.
    pub websockets: Vec<H2WebSocket>,
    /// WebSocket streams opened while 64 others were open: counted, not
    /// decoded.
    #[serde(skip_serializing_if = "is_zero")]
    pub websockets_not_followed: u64,
    /// WebSocket streams decoded but not in `websockets`, which lists at
    /// most 1,024.
    #[serde(skip_serializing_if = "is_zero")]
    pub websockets_not_listed: u64,
    /// A GOAWAY: who sent it, its error code and packet.
    pub goaway: Option<H2GoAway>,
}

/// One WebSocket over an HTTP/2 stream. Its frames are the frame records
/// with this `h2_stream`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct H2WebSocket {
    pub stream: u32,
    /// The extended CONNECT's packet, and what it asked for.
    pub request_packet: u64,
    pub path: Option<Text>,
    pub authority: Option<Text>,
    /// The response's status and packet, once answered.
    pub status: Option<u16>,
    pub response_packet: Option<u64>,
    pub frames: PerDir<u64>,
    /// How the stream ended: `end_stream` (both sides ended it),
    /// `rst_stream` (reset, with `reset_code`), or null while still open.
    pub end: Option<&'static str>,
    pub end_packet: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_code: Option<&'static str>,
}

/// An HTTP/2 GOAWAY (RFC 9113 6.8).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H2GoAway {
    pub packet: u64,
    pub dir: Dir,
    pub code: &'static str,
    pub last_stream: u32,
}

/// What a connection that is TLS from its first byte shows of itself. Its
/// contents are encrypted: WebSocket inside it cannot be read from the
/// capture.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TlsInfo {
    /// Packet of the client's first TLS record.
    pub packet: u64,
    /// The version the server chose in its ServerHello (`TLS 1.3`), when
    /// captured.
    pub version: Option<String>,
    /// The highest version the client offered in its ClientHello, when
    /// captured.
    pub client_version: Option<String>,
    /// The server name the client asked for (SNI), when sent and captured.
    pub sni: Option<String>,
    /// The application protocols the client offered (ALPN: `http/1.1`,
    /// `h2`), in its order.
    pub alpn: Vec<String>,
    /// With a key log: the cipher suite the server chose (its IANA name,
    /// `TLS_AES_128_GCM_SHA256`). Written only when TLS secrets were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// With a key log: the application protocol the server chose (ALPN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    /// With a key log: whether any record was decrypted (the WebSocket
    /// inside was read as plaintext). Written only when TLS secrets were
    /// given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted: Option<bool>,
}

/// One TCP connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionRecord {
    pub conn: u64,
    /// `ip:port`, IPv6 as `[addr]:port`.
    #[serde(serialize_with = "display")]
    pub client: SocketAddr,
    #[serde(serialize_with = "display")]
    pub server: SocketAddr,
    /// A Wireshark display filter that selects this connection
    /// (`tcp.stream eq N`, or by addresses and ports; see
    /// [`wireshark`]).
    pub wireshark_filter: Text,
    /// The input files that held its packets, as given, when several were
    /// given (empty, and not written, for one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    pub roles: Roles,
    /// Whether the connection carried WebSocket frames.
    pub websocket: bool,
    pub detected_by: Option<Detection>,
    /// The connection is TLS from its client's first byte (and the server
    /// did not answer it in plaintext): written only then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    pub first_packet: u64,
    pub last_packet: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Time of the last WebSocket frame, if any.
    pub last_frame_ts: Option<Timestamp>,
    /// The first FIN or RST packet: where the connection began to end.
    pub end_packet: Option<u64>,
    pub end: CloseReason,
    pub request: Option<RequestInfo>,
    pub response: Option<ResponseInfo>,
    pub negotiated: Option<NegotiatedInfo>,
    /// The `conn` of the other leg of a proxied connection, when both legs
    /// are in the capture (same Sec-WebSocket-Key).
    pub other_leg: Option<u64>,
    pub frames: PerDir<u64>,
    /// Frame payload bytes (as announced in the headers).
    pub payload_bytes: PerDir<u64>,
    pub tcp: PerDir<TcpDirInfo>,
    /// Close codes sent by each side (in order).
    pub close_codes: PerDir<CloseCodes>,
    pub findings: Vec<Finding>,
    /// Findings of this connection and its frames, counted by code.
    pub findings_by_code: Counts<Code>,
    /// The same, counted by severity (as reported: a tolerated masking
    /// violation counts as a warning).
    pub findings_by_severity: Counts<Severity>,
    pub diagnosis: Vec<Diagnosis>,
    /// The connection is HTTP/2: written only then, last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<Http2Info>,
}

#[cfg(test)]
impl ConnectionRecord {
    /// A WebSocket connection from 127.0.0.1:40000 to 127.0.0.1:8080,
    /// upgraded (request at packet 4, 101 at packet 5) and ended with FIN
    /// at packet 19, nothing found: what the writers' and the diagnosis's
    /// tests start from, changing the fields they look at.
    pub(crate) fn example() -> ConnectionRecord {
        ConnectionRecord {
            conn: 0,
            client: ([127, 0, 0, 1], 40000).into(),
            server: ([127, 0, 0, 1], 8080).into(),
            wireshark_filter: "tcp.stream eq 0".into(),
            files: Vec::new(),
            roles: Roles::Syn,
            websocket: true,
            detected_by: Some(Detection::Handshake),
            tls: None,
            first_packet: 1,
            last_packet: 20,
            first_ts: Timestamp(1_700_000_000_000_000_000),
            last_ts: Timestamp(1_700_000_010_000_000_000),
            last_frame_ts: None,
            end_packet: Some(19),
            end: CloseReason::Fin,
            request: Some(RequestInfo {
                packet: 4,
                method: "GET".into(),
                target: "/chat".into(),
                version: "HTTP/1.1".into(),
                ..RequestInfo::default()
            }),
            response: Some(ResponseInfo {
                packet: 5,
                version: "HTTP/1.1".into(),
                status: 101,
                reason: "Switching Protocols".into(),
                ..ResponseInfo::default()
            }),
            negotiated: None,
            other_leg: None,
            frames: PerDir::default(),
            payload_bytes: PerDir::default(),
            tcp: PerDir::default(),
            close_codes: PerDir::default(),
            findings: Vec::new(),
            findings_by_code: Counts::default(),
            findings_by_severity: Counts::default(),
            diagnosis: Vec::new(),
            http2: None,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The last record: what was read and found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SummaryRecord {
    pub files: Vec<String>,
    pub packets: u64,
    pub tcp_packets: u64,
    /// Packets that carried no TCP segment, by reason.
    pub skipped: std::collections::BTreeMap<String, u64>,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    /// Connections marked `tls`: their WebSocket, if any, cannot be read
    /// unless decrypted.
    pub tls_connections: u64,
    /// Of those, the connections decrypted with the TLS secrets given (a
    /// key log): written only when some were.
    #[serde(skip_serializing_if = "is_zero")]
    pub tls_decrypted: u64,
    /// HTTP/2 connections (RFC 9113): written only when some were.
    #[serde(skip_serializing_if = "is_zero")]
    pub http2_connections: u64,
    /// Extended CONNECTs for a WebSocket over HTTP/2 (RFC 8441), answered
    /// or not: written only when some were.
    #[serde(skip_serializing_if = "is_zero")]
    pub http2_websockets: u64,
    pub frames: u64,
    pub findings_by_code: Counts<Code>,
    pub findings_by_severity: Counts<Severity>,
    /// Connections per diagnosed cause.
    pub diagnoses: Counts<Cause>,
    /// Findings by the severity they were reported with, then by code.
    pub findings_by_severity_and_code: CodesBySeverity,
    /// Damage in the input files (what could be read was analysed).
    pub input_errors: Vec<String>,
    pub elapsed_ms: u64,
    /// The run was stopped (Ctrl-C, SIGTERM) before its input ended; the
    /// connections still open then end `interrupted`. Written only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The connection filters applied to the records (written only when
    /// some were given); the counts above are of the whole capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterSummary>,
}

/// What the connection filters let through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FilterSummary {
    /// The filter flags as given, e.g. `--host 10.0.0.1 --websocket-only`.
    pub flags: String,
    /// Connection records written.
    pub connections_shown: u64,
}

/// Any record, for writers that take them one at a time. Serialized with
/// its `type` first; frames through [`crate::report::frame_json`] instead.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record<'a> {
    #[serde(skip)]
    Frame(&'a FrameRecord),
    Connection(&'a ConnectionRecord),
    Summary(&'a SummaryRecord),
}
