//! Findings: every rule a capture shows broken, with a stable code.
//!
//! Codes are part of the public interface (users grep and jq for them), so
//! they are defined once, in [`codes!`], with their severity, the RFC section
//! they enforce and a one-line description; names never change.
//! Severity: `error` = a peer following the RFC must fail the connection;
//! `warning` = suspicious or a policy breach; `info` = about the capture, not
//! the traffic.

pub mod explain;

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! codes {
    ($( $variant:ident = $name:literal, $sev:ident, $rfc:literal, $desc:literal; )*) => {
        /// A finding code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable snake_case name.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// The RFC section the finding enforces.
            pub fn rfc(self) -> &'static str {
                match self { $( Code::$variant => $rfc, )* }
            }

            pub fn description(self) -> &'static str {
                match self { $( Code::$variant => $desc, )* }
            }
        }
    };
}

codes! {
    // Opening handshake (RFC 6455 section 4).
    HandshakeRejected = "handshake_rejected", Error, "RFC 6455 4.1",
        "the server answered the upgrade request with a status other than 101";
    UpgradeHeaderMissing = "upgrade_header_missing", Error, "RFC 6455 4.1",
        "Upgrade: websocket missing from the request or the 101 response";
    ConnectionHeaderMissing = "connection_header_missing", Error, "RFC 6455 4.1",
        "Connection: Upgrade missing from the request or the 101 response";
    Http10Upgrade = "http_1_0_upgrade", Error, "RFC 6455 4.1",
        "upgrade request sent as HTTP/1.0 (a proxy without HTTP/1.1 to the backend)";
    BadWebsocketVersion = "bad_websocket_version", Error, "RFC 6455 4.1",
        "Sec-WebSocket-Version is not 13";
    BadWebsocketKey = "bad_websocket_key", Error, "RFC 6455 4.1",
        "Sec-WebSocket-Key is not the base64 encoding of 16 bytes";
    BadAcceptKey = "bad_accept_key", Error, "RFC 6455 4.2.2",
        "Sec-WebSocket-Accept does not match the key";
    ExtensionNotOffered = "extension_not_offered", Error, "RFC 6455 9.1",
        "the server chose an extension the client did not offer";
    SubprotocolNotOffered = "subprotocol_not_offered", Error, "RFC 6455 4.1",
        "the server chose a subprotocol the client did not offer";
    // WebSocket over HTTP/2 (RFC 8441, RFC 9113).
    H2ConnectNotEnabled = "h2_connect_not_enabled", Error, "RFC 8441 3",
        "an extended CONNECT sent before the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1";
    H2ConnectRejected = "h2_connect_rejected", Error, "RFC 8441 5",
        "the server answered the extended CONNECT with a status other than 2xx";
    H2BadConnect = "h2_bad_connect", Error, "RFC 8441 4",
        "an extended CONNECT without :scheme or :path, or :protocol on another method";
    H2ConnectionHeader = "h2_connection_header", Error, "RFC 9113 8.2.2",
        "a connection-specific header field (Connection, Upgrade, ...) in an HTTP/2 header block";
    H2ProtocolError = "h2_protocol_error", Error, "RFC 9113 5.4.1",
        "the HTTP/2 framing or header compression breaks a rule (the detail says which)";
    H2StreamReset = "h2_stream_reset", Warning, "RFC 8441 5",
        "a WebSocket's HTTP/2 stream was reset (RST_STREAM), the equivalent of a TCP reset";
    // Framing (RFC 6455 section 5, RFC 7692).
    UnmaskedClientFrame = "unmasked_client_frame", Error, "RFC 6455 5.1",
        "a client frame is not masked";
    MaskedServerFrame = "masked_server_frame", Error, "RFC 6455 5.1",
        "a server frame is masked";
    ReservedOpcode = "reserved_opcode", Error, "RFC 6455 5.2",
        "a frame uses a reserved opcode";
    RsvBitsWithoutExtension = "rsv_bits_without_extension", Error, "RFC 6455 5.2",
        "RSV bits set without a negotiated extension defining them";
    Rsv1OnContinuation = "rsv1_on_continuation", Error, "RFC 7692 6.1",
        "RSV1 set on a continuation frame";
    Rsv1OnControlFrame = "rsv1_on_control_frame", Error, "RFC 7692 6.1",
        "RSV1 set on a control frame";
    ControlFrameTooLong = "control_frame_too_long", Error, "RFC 6455 5.5",
        "a control frame payload is longer than 125 bytes";
    FragmentedControlFrame = "fragmented_control_frame", Error, "RFC 6455 5.5",
        "a control frame has FIN clear";
    NonMinimalLength = "non_minimal_length", Error, "RFC 6455 5.2",
        "the payload length is not encoded in the minimal number of bytes";
    LengthMsbSet = "length_msb_set", Error, "RFC 6455 5.2",
        "the most significant bit of a 64-bit payload length is set";
    ContinuationWithoutStart = "continuation_without_start", Error, "RFC 6455 5.4",
        "a continuation frame with no fragmented message in progress";
    DataFrameDuringFragmentation = "data_frame_during_fragmentation", Error, "RFC 6455 5.4",
        "a new text or binary frame while a fragmented message is in progress";
    InvalidUtf8 = "invalid_utf8", Error, "RFC 6455 8.1",
        "a text message or close reason is not valid UTF-8";
    InvalidCloseCode = "invalid_close_code", Error, "RFC 6455 7.4",
        "a close frame carries a status code that must not be sent";
    ClosePayloadLengthOne = "close_payload_length_one", Error, "RFC 6455 5.5.1",
        "a close frame payload of exactly one byte";
    DataAfterClose = "data_after_close", Error, "RFC 6455 5.5.1",
        "a frame sent after this endpoint's close frame";
    DeflateError = "deflate_error", Error, "RFC 7692 7.2.2",
        "a compressed message does not inflate";
    DecompressionLimitExceeded = "decompression_limit_exceeded", Warning, "RFC 7692 8",
        "a compressed message inflates beyond the decompression limit";
    FrameExceedsLimit = "frame_exceeds_limit", Warning, "RFC 6455 10.4",
        "a frame payload exceeds the configured --max-payload";
    // Foreign bytes where a frame should start.
    HttpInWebsocketStream = "http_in_websocket_stream", Error, "RFC 6455 5.2",
        "HTTP written into the upgraded connection where a frame should start";
    TlsInWebsocketStream = "tls_in_websocket_stream", Error, "RFC 6455 5.2",
        "TLS records where a frame should start";
    TlsOnPlaintextPort = "tls_on_plaintext_port", Error, "RFC 6455 4.1",
        "TLS where a plaintext HTTP upgrade was expected";
    UnparseableFrameData = "unparseable_frame_data", Error, "RFC 6455 5.2",
        "bytes that are not a valid frame where a frame should start";
    // About the capture.
    TlsKeyMissing = "tls_key_missing", Info, "RFC 8446 7.3",
        "no logged TLS secret for this connection: its WebSocket cannot be read";
    TlsDecryptFailed = "tls_decrypt_failed", Warning, "RFC 8446 5.2",
        "a TLS record did not decrypt with the logged secrets (or cannot be decrypted)";
    Http2NotDecoded = "http2_not_decoded", Info, "RFC 8441 4",
        "no longer reported (HTTP/2 is decoded): what older versions said of an HTTP/2 connection they did not read";
    HandshakeNotCaptured = "handshake_not_captured", Info, "RFC 6455 4",
        "the opening handshake is not in the capture";
    CaptureGap = "capture_gap", Info, "RFC 9293 3.10.7.4",
        "bytes of the stream are missing from the capture";
    TruncatedPayload = "truncated_payload", Info, "RFC 9293 3.10.7.4",
        "payload bytes cut by the capture's snaplen";
    RetransmissionConflict = "retransmission_conflict", Warning, "RFC 9293 3.10.7.4",
        "a retransmission carried different bytes for the same sequence range";
    IncompleteFrameAtEnd = "incomplete_frame_at_end", Info, "RFC 6455 5.2",
        "the capture (or the connection: the detail says which) ends inside a frame";
    Resynchronized = "resynchronized", Info, "RFC 6455 5.2",
        "bytes skipped to regain frame sync";
}

impl crate::record::Named for Code {
    fn name(self) -> &'static str {
        Code::name(self)
    }
}

impl crate::record::Named for Severity {
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One finding: plain data, comparable across captures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub rfc: &'static str,
    pub detail: String,
    /// Packet where it was seen (for findings that belong to no single frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<u64>,
}

impl Finding {
    pub fn new(code: Code, detail: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            rfc: code.rfc(),
            detail: detail.into(),
            packet: None,
        }
    }

    pub fn at(mut self, packet: u64) -> Finding {
        self.packet = Some(packet);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.name()), "duplicate {}", c.name());
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert!(c.rfc().starts_with("RFC "));
        }
        assert_eq!(Code::ALL.len(), 47);
    }
}
