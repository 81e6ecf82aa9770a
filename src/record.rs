//! The records wscap reports: plain data with a stable, documented schema
//! (docs/records.md), the same for every output format and comparable
//! across captures. Every record carries `type`.

use crate::finding::Finding;
use crate::time::Timestamp;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A masking key, written as 8 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey(pub [u8; 4]);

impl Serialize for MaskKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let k = self.0;
        s.collect_str(&format_args!(
            "{:02x}{:02x}{:02x}{:02x}",
            k[0], k[1], k[2], k[3]
        ))
    }
}

/// One WebSocket frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub conn: u64,
    /// `c2s` or `s2c`.
    pub dir: &'static str,
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
    pub opcode: &'static str,
    pub opcode_value: u8,
    pub masked: bool,
    pub mask_key: Option<MaskKey>,
    pub payload_len: u64,
    pub header_len: u8,
    /// Part of a permessage-deflate compressed message (RSV1 on its first
    /// frame, with the extension negotiated).
    pub compressed: bool,
    /// Close frames: the status code and reason, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// A bounded preview of the unmasked (and inflated) payload, when asked
    /// for with --payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Payload bytes missing from the capture (lost or cut by the snaplen).
    #[serde(skip_serializing_if = "is_zero")]
    pub payload_missing: u64,
    /// False when the capture ended inside this frame.
    pub complete: bool,
    pub findings: Vec<Finding>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The opening handshake's request, as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestInfo {
    pub packet: u64,
    pub method: String,
    pub target: String,
    pub version: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub sec_websocket_key: Option<String>,
    pub sec_websocket_version: Option<String>,
    pub sec_websocket_protocol: Option<String>,
    pub sec_websocket_extensions: Option<String>,
}

/// The response to the upgrade request.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResponseInfo {
    pub packet: u64,
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub sec_websocket_accept: Option<String>,
    pub sec_websocket_protocol: Option<String>,
    pub sec_websocket_extensions: Option<String>,
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

/// The likely cause of what went wrong on a connection, with evidence and
/// a fix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Stable identifier of the cause, e.g. `proxy_not_websocket_aware`.
    pub cause: &'static str,
    /// One-line statement of the cause.
    pub summary: String,
    /// The finding codes that point to it.
    pub codes: Vec<&'static str>,
    /// Packet to open first.
    pub packet: Option<u64>,
    pub evidence: Vec<String>,
    pub fix: Vec<String>,
    /// On a proxied connection with both legs captured: `client-leg`,
    /// `backend-leg` or `both`, where the problem first appears.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<&'static str>,
}

/// Per-direction counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerDir<T> {
    pub c2s: T,
    pub s2c: T,
}

impl<T> PerDir<T> {
    pub fn get_mut(&mut self, dir: crate::tcp::Dir) -> &mut T {
        match dir {
            crate::tcp::Dir::ClientToServer => &mut self.c2s,
            crate::tcp::Dir::ServerToClient => &mut self.s2c,
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

/// One TCP connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub conn: u64,
    /// `ip:port`, IPv6 as `[addr]:port`.
    pub client: String,
    pub server: String,
    /// How client and server were told apart: `syn`, `syn-ack`,
    /// `http` (the direction of the upgrade request) or `port-guess`.
    pub roles: &'static str,
    /// Whether the connection carried WebSocket frames.
    pub websocket: bool,
    /// How WebSocket was recognised: `handshake`, `port` (--port), or null.
    pub detected_by: Option<&'static str>,
    pub first_packet: u64,
    pub last_packet: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Time of the last WebSocket frame, if any.
    pub last_frame_ts: Option<Timestamp>,
    /// The first FIN or RST packet: where the connection began to end.
    pub end_packet: Option<u64>,
    /// How the TCP connection ended: `fin`, `rst`, `idle`, `reused`,
    /// `evicted` (too many open at once), `end-of-capture`.
    pub end: &'static str,
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
    pub close_codes: PerDir<Vec<u16>>,
    pub findings: Vec<Finding>,
    /// Findings of this connection and its frames, counted by code.
    pub findings_by_code: BTreeMap<&'static str, u64>,
    /// The same, counted by severity (as reported: a tolerated masking
    /// violation counts as a warning).
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    pub diagnosis: Vec<Diagnosis>,
}

/// The last record: what was read and found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SummaryRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub files: Vec<String>,
    pub packets: u64,
    pub tcp_packets: u64,
    /// Packets that carried no TCP segment, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    pub frames: u64,
    pub findings_by_code: BTreeMap<&'static str, u64>,
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    /// Connections per diagnosed cause.
    pub diagnoses: BTreeMap<&'static str, u64>,
    /// Damage in the input files (what could be read was analysed).
    pub input_errors: Vec<String>,
    pub elapsed_ms: u64,
}

/// Any record, for writers that take them one at a time.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    Frame(&'a FrameRecord),
    Connection(&'a ConnectionRecord),
    Summary(&'a SummaryRecord),
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::Frame(r) => r.serialize(s),
            Record::Connection(r) => r.serialize(s),
            Record::Summary(r) => r.serialize(s),
        }
    }
}

impl FrameRecord {
    /// Writes the record as one JSON object, exactly as its `Serialize`
    /// implementation does (a test holds the two together), without going
    /// through serde: frame records are most of the output on busy
    /// captures, and fixed keys, integers and the timestamp are written
    /// straight into the buffer.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut n = itoa::Buffer::new();
        let mut int = |out: &mut Vec<u8>, key: &[u8], v: u64| {
            out.extend_from_slice(key);
            out.extend_from_slice(n.format(v).as_bytes());
        };
        let flag = |out: &mut Vec<u8>, key: &[u8], v: bool| {
            out.extend_from_slice(key);
            out.extend_from_slice(if v { b"true" } else { b"false" });
        };
        out.extend_from_slice(b"{\"type\":\"frame\"");
        int(out, b",\"conn\":", self.conn);
        out.extend_from_slice(b",\"dir\":\"");
        out.extend_from_slice(self.dir.as_bytes());
        int(out, b"\",\"index\":", self.index);
        int(out, b",\"packet\":", self.packet);
        int(out, b",\"last_packet\":", self.last_packet);
        out.extend_from_slice(b",\"ts\":\"");
        use std::io::Write;
        let _ = write!(out, "{}", self.ts);
        int(out, b"\",\"offset\":", self.offset);
        flag(out, b",\"fin\":", self.fin);
        flag(out, b",\"rsv1\":", self.rsv1);
        flag(out, b",\"rsv2\":", self.rsv2);
        flag(out, b",\"rsv3\":", self.rsv3);
        out.extend_from_slice(b",\"opcode\":\"");
        out.extend_from_slice(self.opcode.as_bytes());
        int(out, b"\",\"opcode_value\":", u64::from(self.opcode_value));
        flag(out, b",\"masked\":", self.masked);
        match self.mask_key {
            Some(MaskKey(k)) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b",\"mask_key\":\"");
                for b in k {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
                out.push(b'"');
            }
            None => out.extend_from_slice(b",\"mask_key\":null"),
        }
        int(out, b",\"payload_len\":", self.payload_len);
        int(out, b",\"header_len\":", u64::from(self.header_len));
        flag(out, b",\"compressed\":", self.compressed);
        if let Some(c) = self.close_code {
            int(out, b",\"close_code\":", u64::from(c));
        }
        let string = |out: &mut Vec<u8>, key: &[u8], v: &str| {
            out.extend_from_slice(key);
            // serde_json's escaping, on a string that cannot fail.
            let _ = serde_json::to_writer(&mut *out, v);
        };
        if let Some(r) = &self.close_reason {
            string(out, b",\"close_reason\":", r);
        }
        if let Some(p) = &self.preview {
            string(out, b",\"preview\":", p);
        }
        if self.payload_missing != 0 {
            int(out, b",\"payload_missing\":", self.payload_missing);
        }
        flag(out, b",\"complete\":", self.complete);
        out.extend_from_slice(b",\"findings\":");
        if self.findings.is_empty() {
            out.extend_from_slice(b"[]");
        } else {
            let _ = serde_json::to_writer(&mut *out, &self.findings);
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Code;

    fn frame() -> FrameRecord {
        FrameRecord {
            kind: "frame",
            conn: 7,
            dir: "c2s",
            index: 3,
            packet: 12,
            last_packet: 14,
            ts: Timestamp(1_700_000_000_123_456_789),
            offset: 4096,
            fin: true,
            rsv1: false,
            rsv2: true,
            rsv3: false,
            opcode: "text",
            opcode_value: 1,
            masked: true,
            mask_key: Some(MaskKey([0x0a, 0xff, 0x00, 0x37])),
            payload_len: u64::MAX,
            header_len: 14,
            compressed: false,
            close_code: None,
            close_reason: None,
            preview: None,
            payload_missing: 0,
            complete: true,
            findings: Vec::new(),
        }
    }

    #[test]
    fn fast_frame_json_equals_serde() {
        let mut variants = vec![frame()];
        let mut f = frame();
        f.mask_key = None;
        f.masked = false;
        f.close_code = Some(1009);
        f.close_reason = Some("too \"big\" \u{1} é".into());
        f.preview = Some("a\\nb\u{7f}".into());
        f.payload_missing = 5;
        f.complete = false;
        f.findings = vec![
            Finding::new(Code::InvalidUtf8, "bad \"byte\"").at(3),
            Finding::new(Code::CaptureGap, "gap"),
        ];
        variants.push(f);
        for f in variants {
            let mut fast = Vec::new();
            f.write_json(&mut fast);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }
    }
}
