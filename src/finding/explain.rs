//! What each finding code means, for people: the text `wscap explain CODE`
//! prints (as `rustc --explain` does), kept beside the codes so that it
//! travels with the binary and a new code cannot ship without one (the
//! `match` below is exhaustive and the tests check every text).
//!
//! Each explanation says what the finding means, the rule it enforces with
//! its RFC section (or why no protocol rule applies), what usually causes it
//! in practice, and what fixes it. Plain prose, one paragraph each; the
//! writer wraps it to the terminal.

use super::Code;

/// The explanation of a finding code or a diagnosis cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// What the finding (or cause) says happened.
    pub meaning: &'static str,
    /// The rule, with its RFC and section, or why none applies.
    pub rule: &'static str,
    /// What usually brings it about.
    pub causes: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

/// An explanation from its four parts (short, as the tables below are long).
pub(crate) const fn ex(
    meaning: &'static str,
    rule: &'static str,
    causes: &'static str,
    fix: &'static str,
) -> Explanation {
    Explanation {
        meaning,
        rule,
        causes,
        fix,
    }
}

impl Code {
    /// What this code means, the rule, its usual causes and fixes.
    pub fn explanation(self) -> Explanation {
        match self {
            Code::HandshakeRejected => HANDSHAKE_REJECTED,
            Code::UpgradeHeaderMissing => UPGRADE_HEADER_MISSING,
            Code::ConnectionHeaderMissing => CONNECTION_HEADER_MISSING,
            Code::Http10Upgrade => HTTP10_UPGRADE,
            Code::BadWebsocketVersion => BAD_WEBSOCKET_VERSION,
            Code::BadWebsocketKey => BAD_WEBSOCKET_KEY,
            Code::BadAcceptKey => BAD_ACCEPT_KEY,
            Code::ExtensionNotOffered => EXTENSION_NOT_OFFERED,
            Code::SubprotocolNotOffered => SUBPROTOCOL_NOT_OFFERED,
            Code::H2ConnectNotEnabled => H2_CONNECT_NOT_ENABLED,
            Code::H2ConnectRejected => H2_CONNECT_REJECTED,
            Code::H2BadConnect => H2_BAD_CONNECT,
            Code::H2ConnectionHeader => H2_CONNECTION_HEADER,
            Code::H2ProtocolError => H2_PROTOCOL_ERROR,
            Code::H2StreamReset => H2_STREAM_RESET,
            Code::UnmaskedClientFrame => UNMASKED_CLIENT_FRAME,
            Code::MaskedServerFrame => MASKED_SERVER_FRAME,
            Code::ReservedOpcode => RESERVED_OPCODE,
            Code::RsvBitsWithoutExtension => RSV_BITS_WITHOUT_EXTENSION,
            Code::Rsv1OnContinuation => RSV1_ON_CONTINUATION,
            Code::Rsv1OnControlFrame => RSV1_ON_CONTROL_FRAME,
            Code::ControlFrameTooLong => CONTROL_FRAME_TOO_LONG,
            Code::FragmentedControlFrame => FRAGMENTED_CONTROL_FRAME,
            Code::NonMinimalLength => NON_MINIMAL_LENGTH,
            Code::LengthMsbSet => LENGTH_MSB_SET,
            Code::ContinuationWithoutStart => CONTINUATION_WITHOUT_START,
            Code::DataFrameDuringFragmentation => DATA_FRAME_DURING_FRAGMENTATION,
            Code::InvalidUtf8 => INVALID_UTF8,
            Code::InvalidCloseCode => INVALID_CLOSE_CODE,
            Code::ClosePayloadLengthOne => CLOSE_PAYLOAD_LENGTH_ONE,
            Code::DataAfterClose => DATA_AFTER_CLOSE,
            Code::DeflateError => DEFLATE_ERROR,
            Code::DecompressionLimitExceeded => DECOMPRESSION_LIMIT_EXCEEDED,
            Code::FrameExceedsLimit => FRAME_EXCEEDS_LIMIT,
            Code::HttpInWebsocketStream => HTTP_IN_WEBSOCKET_STREAM,
            Code::TlsInWebsocketStream => TLS_IN_WEBSOCKET_STREAM,
            Code::TlsOnPlaintextPort => TLS_ON_PLAINTEXT_PORT,
            Code::UnparseableFrameData => UNPARSEABLE_FRAME_DATA,
            Code::TlsKeyMissing => TLS_KEY_MISSING,
            Code::TlsDecryptFailed => TLS_DECRYPT_FAILED,
            Code::Http2NotDecoded => HTTP2_NOT_DECODED,
            Code::HandshakeNotCaptured => HANDSHAKE_NOT_CAPTURED,
            Code::CaptureGap => CAPTURE_GAP,
            Code::TruncatedPayload => TRUNCATED_PAYLOAD,
            Code::RetransmissionConflict => RETRANSMISSION_CONFLICT,
            Code::IncompleteFrameAtEnd => INCOMPLETE_FRAME_AT_END,
            Code::Resynchronized => RESYNCHRONIZED,
        }
    }
}

// The opening handshake (RFC 6455 section 4).

const HANDSHAKE_REJECTED: Explanation = ex(
    "The client asked to upgrade the connection to WebSocket and the server (or a proxy in front of it) \
     answered with a status other than 101 Switching Protocols, or with bytes that are not HTTP at all. \
     No WebSocket connection was opened.",
    "RFC 6455 section 4.1: only a 101 response completes the opening handshake; \"if the status code \
     received from the server is not 101, the client handles the response per HTTP procedures\" and no \
     WebSocket connection exists. A server refuses an upgrade it cannot or will not accept with an HTTP \
     error (RFC 6455 section 4.2.2; RFC 9110 section 15: 400 for a malformed request, 403 for an Origin or \
     access rule, 404 for no endpoint at the path, 426 Upgrade Required when the upgrade did not arrive, \
     502/503/504 from a gateway).",
    "A wrong URL path (404); an Origin check or authentication (401, 403); a proxy that lost the Upgrade \
     and Connection headers so the server saw a plain GET (200, 400 or 426); a proxy that could not reach \
     its backend (502, 504); a server that speaks TLS on this port answering a plaintext request.",
    "Read the status line and the response body in the capture (the packet named) for the server's \
     reason. Then: fix the path, allow the page's Origin, send the expected credentials, or configure the \
     proxy for WebSocket (see `wscap explain proxy_not_websocket_aware`).",
);

const UPGRADE_HEADER_MISSING: Explanation = ex(
    "The upgrade request or the 101 response lacks `Upgrade: websocket` (the header is absent or names \
     another protocol). The finding's detail says which message.",
    "RFC 6455 section 4.1: the client's request MUST contain an Upgrade header field whose value includes \
     \"websocket\", and a client MUST fail the connection if the response lacks `Upgrade: websocket` \
     (section 4.2.2 requires it of the server). RFC 9110 section 7.8: Upgrade applies only to the \
     immediate connection, so every proxy must regenerate it.",
    "A reverse proxy or load balancer not configured for WebSocket: Upgrade is hop-by-hop (listed in \
     Connection), and a proxy that does not implement the upgrade removes it before forwarding (RFC 9110 \
     section 7.6.1). nginx does this unless told to pass `Upgrade $http_upgrade`.",
    "Configure the proxy to forward the upgrade: nginx `proxy_http_version 1.1;` plus `proxy_set_header \
     Upgrade $http_upgrade;` and `proxy_set_header Connection \"upgrade\";`; Apache mod_proxy_wstunnel (or \
     `upgrade=websocket` on ProxyPass); HAProxy in HTTP mode passes it unless a rule deletes the header.",
);

const CONNECTION_HEADER_MISSING: Explanation = ex(
    "The upgrade request or the 101 response lacks `Connection: Upgrade` (no Connection header, or one \
     without the Upgrade token). The finding's detail says which message.",
    "RFC 6455 section 4.1: the request MUST contain a Connection header field that includes the token \
     \"Upgrade\", and a client MUST fail the connection if the response lacks it. RFC 9110 section 7.8: a \
     sender of Upgrade MUST also send the \"upgrade\" connection option in Connection.",
    "A proxy that replaces Connection with `close` or `keep-alive` on its way to the backend (nginx's \
     default is `Connection: close` towards the upstream), or one that strips hop-by-hop headers from the \
     101 on its way back.",
    "Make the proxy send `Connection: upgrade` to the backend (nginx `proxy_set_header Connection \
     \"upgrade\";`, or a `map $http_upgrade $connection_upgrade` for mixed traffic) and pass the 101's \
     headers back unchanged.",
);

const HTTP10_UPGRADE: Explanation = ex(
    "The upgrade request was sent as HTTP/1.0. Servers ignore Upgrade on HTTP/1.0, so the connection \
     cannot become WebSocket.",
    "RFC 6455 section 4.1: the request method MUST be GET and the HTTP version MUST be at least 1.1. RFC \
     9110 section 7.8: a server MUST ignore an Upgrade header field received in an HTTP/1.0 request.",
    "Almost always nginx as a reverse proxy without `proxy_http_version 1.1;`: nginx speaks HTTP/1.0 to \
     its upstreams by default, so the browser's HTTP/1.1 upgrade arrives at the backend as HTTP/1.0.",
    "In the nginx location that proxies WebSocket set `proxy_http_version 1.1;` together with the Upgrade \
     and Connection headers (see `wscap explain upgrade_header_missing`). Other proxies: make sure they \
     talk HTTP/1.1 to the backend.",
);

const BAD_WEBSOCKET_VERSION: Explanation = ex(
    "The request's Sec-WebSocket-Version is missing, repeated or not 13, the only version RFC 6455 \
     defines.",
    "RFC 6455 section 4.1: the request MUST include Sec-WebSocket-Version and its value MUST be 13. A \
     server that does not support the requested version answers 426 Upgrade Required with the versions \
     it supports in Sec-WebSocket-Version (section 4.4).",
    "A client written for a draft of the protocol (versions 8 and below were drafts), a hand-made \
     handshake in a test tool or script, or a proxy that rewrites Sec-WebSocket-* headers.",
    "Send `Sec-WebSocket-Version: 13`: upgrade the client library, or fix the hand-made handshake or the \
     proxy rule that changes the header.",
);

const BAD_WEBSOCKET_KEY: Explanation = ex(
    "The request's Sec-WebSocket-Key is missing, repeated, or not the base64 encoding of exactly 16 \
     bytes (24 characters ending in `==`).",
    "RFC 6455 section 4.1: the request MUST include Sec-WebSocket-Key, a nonce of 16 randomly selected \
     bytes encoded in base64; a server refuses a request without a valid key (section 4.2.1) with 400 Bad \
     Request.",
    "A hand-made handshake (a fixed or empty key, a UUID, a key of the wrong length), a test tool, or a \
     proxy that rewrites or duplicates the header.",
    "Generate 16 random bytes per connection and send their base64 (any WebSocket library does); fix the \
     tool or proxy that alters the header.",
);

const BAD_ACCEPT_KEY: Explanation = ex(
    "The 101 response's Sec-WebSocket-Accept is missing or does not match the request's key. Clients \
     reject such a handshake (browsers: \"Incorrect 'Sec-WebSocket-Accept' header value\").",
    "RFC 6455 section 4.2.2: the server's Sec-WebSocket-Accept is the base64 of the SHA-1 of the \
     client's key (as sent, not decoded) concatenated with 258EAFA5-E914-47DA-95CA-C5AB0DC85B11; \
     section 4.1: a client MUST fail the connection if it is absent or different.",
    "A server that computes it wrongly (decoding the key first, a wrong GUID, hex instead of base64, a \
     trailing newline), a proxy or cache that answers the handshake itself or replays an old 101, or a \
     proxy that rewrote the request's key and not the answer.",
    "Compute the accept value as the RFC says (any maintained WebSocket library does); let proxies pass \
     Sec-WebSocket-Key and Sec-WebSocket-Accept through untouched, and never cache a 101.",
);

const EXTENSION_NOT_OFFERED: Explanation = ex(
    "The 101 response accepts an extension (in Sec-WebSocket-Extensions) that the client did not offer \
     in its request.",
    "RFC 6455 section 9.1: the server may only accept extensions the client listed in its \
     Sec-WebSocket-Extensions; section 4.1: if the response indicates an extension not present in the \
     client's handshake, the client MUST fail the connection.",
    "A proxy that removed Sec-WebSocket-Extensions from the request while the backend answers as if \
     compression were always on, a server configured to force permessage-deflate, or a misbehaving \
     server library.",
    "Let the server answer only with extensions from the client's offer; if a proxy edits the request's \
     headers, make it pass Sec-WebSocket-Extensions through (or strip it from both directions).",
);

const SUBPROTOCOL_NOT_OFFERED: Explanation = ex(
    "The 101 response selects a subprotocol (in Sec-WebSocket-Protocol) that the client did not offer.",
    "RFC 6455 section 4.1: if the response's Sec-WebSocket-Protocol names a subprotocol that was not in \
     the client's handshake, the client MUST fail the connection; section 4.2.2: the server selects one \
     of the client's values or none.",
    "A server that always answers with its own subprotocol name, or echoes the header even when the \
     client sent none; a proxy that dropped the request's Sec-WebSocket-Protocol.",
    "Answer with one of the client's offered values, or omit Sec-WebSocket-Protocol when the client \
     offered none or none is acceptable.",
);

// Frame headers (RFC 6455 section 5, RFC 7692 section 6).

const UNMASKED_CLIENT_FRAME: Explanation = ex(
    "A frame sent by the client has the MASK bit clear. Servers fail the connection (ws: \"MASK must be \
     set\", close 1002). wscap reports it as a warning when the server carried on regardless.",
    "RFC 6455 section 5.1: a client MUST mask all frames it sends to the server, and a server MUST close \
     the connection on an unmasked frame (it may first send close code 1002); section 5.3 defines the \
     masking.",
    "A client library that does not mask (a server library used as a client, some embedded or test \
     clients), a proxy or tunnel that re-frames the stream and drops the mask, or roles the wrong way \
     round (a capture where wscap guessed client and server from ports).",
    "Mask every client frame with a fresh random 32-bit key (any conforming client library does); fix or \
     configure the proxy that re-frames. If the roles are guessed (`roles: port-guess`), capture the \
     connection from its start.",
);

const MASKED_SERVER_FRAME: Explanation = ex(
    "A frame sent by the server has the MASK bit set. Clients fail the connection (\"A server must not \
     mask any frames that it sends to the client\", close 1002). Reported as a warning when the client \
     carried on regardless.",
    "RFC 6455 section 5.1: a server MUST NOT mask any frames it sends to the client, and a client MUST \
     close the connection if it detects a masked frame.",
    "A server written with client code (masking on), a peer-to-peer library used on the server side, or \
     a proxy that re-frames the stream and masks in the wrong direction.",
    "Send server frames unmasked: fix or configure the server library, or the proxy that re-frames the \
     stream.",
);

const RESERVED_OPCODE: Explanation = ex(
    "A frame uses one of the reserved opcodes (0x3 to 0x7 for data, 0xB to 0xF for control) that no \
     negotiated extension defines.",
    "RFC 6455 section 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; \"if an unknown opcode is received, \
     the receiving endpoint MUST Fail the WebSocket Connection\".",
    "Usually the frame decoder is out of step: bytes that are not a frame header (payload after a \
     miscounted length, data injected by a proxy) read as one. Rarely a peer using a private extension \
     it did not negotiate.",
    "Look at the frames just before it: a wrong payload length or foreign bytes there explain it. Fix the \
     sender (or the proxy) that writes the stream.",
);

const RSV_BITS_WITHOUT_EXTENSION: Explanation = ex(
    "A frame has RSV1, RSV2 or RSV3 set although no negotiated extension gives that bit a meaning (RSV1 \
     without permessage-deflate, RSV2 or RSV3 at all).",
    "RFC 6455 section 5.2: RSV1, RSV2 and RSV3 MUST be 0 unless an extension is negotiated that defines \
     meanings for non-zero values; otherwise the receiving endpoint MUST fail the connection.",
    "The classic case: the client offered permessage-deflate, a proxy removed Sec-WebSocket-Extensions \
     from the 101 (or from the request), and one peer compresses anyway (RSV1 set). Otherwise a peer \
     that compresses without negotiating, or a decoder out of step reading payload as a header.",
    "Let the proxy pass Sec-WebSocket-Extensions through in both directions, or turn compression off in \
     both peers; a peer must only compress when the 101 accepted permessage-deflate.",
);

const RSV1_ON_CONTINUATION: Explanation = ex(
    "A continuation frame (opcode 0) has RSV1 set. With permessage-deflate, RSV1 marks a compressed \
     message and belongs on its first frame only.",
    "RFC 7692 section 6 (and 6.1, on compressing): an endpoint MUST NOT set the \
     \"Per-Message Compressed\" bit (RSV1) of control frames and non-first fragments of a data message, \
     and an endpoint receiving such a frame MUST fail the connection.",
    "A compression implementation that sets RSV1 on every frame of a fragmented message (per-frame \
     rather than per-message compression, as in early drafts), or a proxy that re-fragments compressed \
     messages and copies the first frame's bits.",
    "Set RSV1 only on the first frame of a compressed message: upgrade or fix the sending library or the \
     re-fragmenting proxy.",
);

const RSV1_ON_CONTROL_FRAME: Explanation = ex(
    "A control frame (close, ping or pong) has RSV1 set. Control frames are never compressed.",
    "RFC 7692 section 6 (and 6.1, on compressing): PMCEs operate only on data \
     messages; an endpoint MUST NOT set the \"Per-Message Compressed\" bit (RSV1) of control frames, and \
     an endpoint receiving such a frame MUST fail the connection.",
    "A compression implementation that compresses pings or close frames too, or a decoder out of step.",
    "Send control frames uncompressed with RSV1 clear: fix the sending library.",
);

const CONTROL_FRAME_TOO_LONG: Explanation = ex(
    "A control frame (close, ping or pong) announces a payload of more than 125 bytes.",
    "RFC 6455 section 5.5: all control frames MUST have a payload length of 125 bytes or less (so their \
     length always fits the 7-bit form).",
    "An application sending large pings (using ping as a data channel), a close reason longer than 123 \
     bytes, or a decoder out of step reading payload as a header.",
    "Keep ping and pong payloads to at most 125 bytes and close reasons to at most 123 bytes of UTF-8; \
     send data in data frames.",
);

const FRAGMENTED_CONTROL_FRAME: Explanation = ex(
    "A control frame (close, ping or pong) has FIN clear, as if it were the first of several fragments.",
    "RFC 6455 section 5.5: control frames MUST NOT be fragmented (section 5.4 repeats it: they may be \
     injected between the fragments of a message, but are never fragmented themselves).",
    "A sender that fragments every frame by size, including control frames, or one that forgets to set \
     FIN on pings; a decoder out of step.",
    "Send every control frame with FIN set, in one frame: fix the sending library.",
);

const NON_MINIMAL_LENGTH: Explanation = ex(
    "A frame's payload length is written in a longer form than needed: the 16-bit form (126) for a \
     length of 125 or less, or the 64-bit form (127) for a length below 65536.",
    "RFC 6455 section 5.2: \"in all cases, the minimal number of bytes MUST be used to encode the \
     length\"; strict receivers fail the connection on any other encoding.",
    "A hand-written encoder that always uses the 16-bit or 64-bit form, or that picks the form from a \
     buffer size rather than the payload length.",
    "Encode lengths 0-125 in the 7-bit field, 126-65535 in the 16-bit form and larger ones in the 64-bit \
     form.",
);

const LENGTH_MSB_SET: Explanation = ex(
    "A frame's 64-bit payload length has its most significant bit set: a length of 2^63 bytes or more, \
     which no real frame has.",
    "RFC 6455 section 5.2: in the 64-bit length form, the most significant bit MUST be 0.",
    "Almost always bytes that are not a frame header (the decoder is out of step after foreign bytes or \
     a miscounted length), or a sender writing a negative length as unsigned.",
    "Look at what precedes the frame for the real fault; fix the encoder if it writes lengths as signed \
     integers.",
);

// Messages: fragmentation, UTF-8, closing, compression, size limits.

const CONTINUATION_WITHOUT_START: Explanation = ex(
    "A continuation frame (opcode 0) arrived while no fragmented message was in progress: there is no \
     first fragment for it to continue.",
    "RFC 6455 section 5.4: a fragmented message is one frame with FIN clear and a non-zero opcode, then \
     zero or more continuation frames with FIN clear, then a continuation frame with FIN set; a \
     continuation frame outside such a message breaks the rule and the receiver fails the connection.",
    "A sender whose fragmentation state is wrong (it sent a final frame and then more continuations, or \
     sends the continuations of a message whose first frame it dropped), two writers on one connection \
     interleaving their frames, or a capture that began in the middle of a message.",
    "Send a message from one writer at a time (serialise writes per connection) and begin every \
     fragmented message with a text or binary frame. If the capture began mid-message, ignore the first \
     one.",
);

const DATA_FRAME_DURING_FRAGMENTATION: Explanation = ex(
    "A new text or binary frame started while a fragmented message was still in progress (its final \
     fragment had not been sent).",
    "RFC 6455 section 5.4: the fragments of one message are sent in order and may only be interleaved \
     with control frames, not with the frames of another message (unless a negotiated extension \
     defines interleaving, which no standard extension does); the receiver fails the connection.",
    "Two threads or tasks writing to the same connection without a lock (one message's fragments \
     interleave with another message), or a sender that abandoned a fragmented message without \
     finishing it.",
    "Serialise writes per connection (one message completely, then the next); finish every fragmented \
     message with a FIN continuation frame.",
);

const INVALID_UTF8: Explanation = ex(
    "A text message (after reassembly and, with permessage-deflate, inflation) or a close frame's reason \
     is not valid UTF-8. Receivers fail the connection with close code 1007.",
    "RFC 6455 section 8.1: when an endpoint is to interpret a byte stream as UTF-8 and finds it is not \
     valid, it MUST fail the connection; section 5.6: text frames carry UTF-8; section 5.5.1: a close \
     reason is UTF-8.",
    "Binary data sent in a text frame (a protobuf or an image sent with the text API), text in another \
     encoding (Latin-1, Windows-1252), a string cut in the middle of a multi-byte character, or a \
     compressed message inflated with the wrong context.",
    "Send binary data in binary frames (or base64-encode it); encode text as UTF-8; cut text only at \
     character boundaries.",
);

const INVALID_CLOSE_CODE: Explanation = ex(
    "A close frame carries a status code that must not appear in a close frame: below 1000, one of \
     1004, 1005, 1006 or 1015, or in the unassigned ranges 1016-2999 and 5000 and above.",
    "RFC 6455 section 7.4: 1005 (no status), 1006 (abnormal closure) and 1015 (TLS failure) MUST NOT be \
     set as a status code in a close frame, they are for reports inside an endpoint; 1004 is reserved; \
     0-999 are not used; 1000-2999 are reserved for the protocol (section 7.4.2) and only the codes \
     registered with IANA may be sent; 3000-3999 are for libraries and frameworks (registered) and \
     4000-4999 for private use.",
    "An application that forwards the code its library reported locally (1006 after a dropped \
     connection, 1005 after a close without code) into its own close frame, or that picks an arbitrary \
     number for an application error instead of one in 4000-4999.",
    "Send 1000 for a normal close, 1001 going away, 1008 policy, 1011 internal error, or an application \
     code in 4000-4999; never echo 1005, 1006 or 1015.",
);

const CLOSE_PAYLOAD_LENGTH_ONE: Explanation = ex(
    "A close frame has a payload of exactly one byte: too short for a status code, so it is neither an \
     empty close nor a close with a code.",
    "RFC 6455 section 5.5.1: a close frame may have no body; if it has one, its first two bytes MUST be \
     a 2-byte unsigned status code, so a 1-byte body is malformed and receivers fail the connection \
     (close 1002).",
    "A sender that writes the status code as one byte, or that truncates the payload by one.",
    "Send an empty close frame, or a 2-byte big-endian status code followed by an optional UTF-8 \
     reason.",
);

const DATA_AFTER_CLOSE: Explanation = ex(
    "An endpoint sent another frame after its own close frame.",
    "RFC 6455 section 5.5.1: after sending a close frame, the endpoint MUST NOT send any more data \
     frames. wscap reports control frames after the close too: the peer is closing and may discard \
     them.",
    "An application that keeps writing after calling close (a send loop or timer not stopped), two \
     writers on one connection, or a library that queues frames behind the close.",
    "Stop all writers before closing (cancel send loops and timers) and treat the connection as closed \
     for writing as soon as close is called.",
);

const DEFLATE_ERROR: Explanation = ex(
    "A message marked compressed (RSV1 on its first frame, permessage-deflate negotiated) does not \
     inflate: the DEFLATE data is invalid for the receiver's decompression context.",
    "RFC 7692 section 7.2.2: the receiver appends 0x00 0x00 0xff 0xff to the payload and inflates it \
     with the context the negotiated parameters define (section 7.1.1: kept across messages unless \
     `*_no_context_takeover` was negotiated). Data that does not inflate cannot be read, and receivers \
     fail the connection.",
    "The peers disagree on context takeover (one resets its compressor per message, as \
     `*_no_context_takeover` asks, and the other does not, or the reverse) or on the window size \
     (`*_max_window_bits`); a proxy that re-frames or re-orders compressed messages; a frame dropped \
     from the capture (then wscap reports a capture gap too).",
    "Make both ends honour the parameters in the 101's Sec-WebSocket-Extensions (upgrade the library \
     that ignores them), or turn permessage-deflate off; check for proxies that rewrite the stream.",
);

const DECOMPRESSION_LIMIT_EXCEEDED: Explanation = ex(
    "A compressed message inflates to more than wscap's decompression limit (64 MiB by default). wscap \
     stops inflating it; the rest of the message is not checked.",
    "No rule of the wire is broken. RFC 7692 section 8 discusses the risks compression brings, and a \
     small compressed message can inflate enormously (a decompression bomb); RFC 6455 section 10.4: \
     implementations MUST protect themselves against messages beyond their limits, which includes what \
     a message inflates to.",
    "Very large messages that compress well (big JSON documents, repeated data), or a deliberate \
     decompression bomb.",
    "If the messages are legitimate, expect receivers with size limits (commonly 1 MiB to 16 MiB) to \
     close with 1009: send smaller messages or raise the receivers' limits. If not, treat the sender as \
     hostile.",
);

const FRAME_EXCEEDS_LIMIT: Explanation = ex(
    "A frame's payload is larger than the limit given with `--max-payload` (the limit of the server or \
     proxy you named). The receiver would refuse it.",
    "RFC 6455 section 10.4: endpoints with limits on frame or message size MUST protect themselves \
     against exceeding them; such a receiver closes with 1009 (message too big, section 7.4.1). The \
     limit is a policy, not a rule of the protocol: this finding is a warning.",
    "An application sending bigger messages than its server or proxy accepts (ws \"Max payload size \
     exceeded\", nginx or a gateway with a frame limit), often after a data set grew.",
    "Raise the receiver's limit (e.g. ws `maxPayload`, websockets `max_size`) or send smaller messages \
     (split them, or stream large data another way).",
);

// Foreign bytes where a frame should start.

const HTTP_IN_WEBSOCKET_STREAM: Explanation = ex(
    "After the 101, where a frame header should start, the stream holds HTTP text (a request line or a \
     status line such as `HTTP/1.1 400 Bad Request`).",
    "RFC 6455 section 4.1: once the server has sent its 101, both ends speak the WebSocket framing of \
     section 5.2 and nothing else; HTTP text does not parse as a frame (its first byte decodes as a \
     reserved opcode or bad RSV bits) and the receiver fails the connection (\"Invalid frame header\").",
    "A proxy or server that writes an HTTP error into the upgraded socket (a timeout page, a 400 from a \
     proxy that lost track of the upgrade), a client that reuses the socket for another HTTP request \
     after the upgrade, or a load balancer that mixed two connections.",
    "After a 101 only frames may be written: end the WebSocket with a close frame and a code instead of \
     an HTTP response, and find which hop writes HTTP (the direction and packet tell where it came \
     from).",
);

const TLS_IN_WEBSOCKET_STREAM: Explanation = ex(
    "After the 101, where a frame header should start, the stream holds TLS records (content type \
     20-24, version 3.x).",
    "RFC 6455 section 5.2: after the handshake the stream carries only WebSocket frames; TLS, when used \
     (wss://), wraps the whole connection from its first byte (section 4.1), it never starts inside it, \
     so these bytes break the framing and the receiver fails the connection.",
    "TLS terminated in the wrong place: a proxy that starts TLS towards a backend on a connection that \
     was already upgraded in plaintext, or a tunnel carrying TLS that is not WebSocket-aware; or an \
     application that starts TLS on the upgraded socket.",
    "Decide where TLS ends and make every hop agree: wss:// to the TLS terminator, ws:// (or https \
     upstream with the proxy's TLS settings) behind it.",
);

const TLS_ON_PLAINTEXT_PORT: Explanation = ex(
    "The client opened the connection with a TLS handshake, but the server answered in plaintext HTTP or \
     closed without any TLS reply: TLS was spoken to a plaintext (ws://) endpoint.",
    "RFC 6455 section 4.1: for a wss:// URI the client performs a TLS handshake first and sends the \
     upgrade request inside TLS; for ws:// it sends the request in plaintext. Both ends must agree, and \
     here they do not.",
    "A client using wss:// against a server or port that serves ws:// (port 80 or an application port \
     without TLS), a proxy forwarding TLS unchanged to a plaintext backend, or TLS terminated twice.",
    "Use ws:// for a plaintext endpoint or put TLS in front of the server (a TLS-terminating proxy, or \
     the server's TLS settings); check which port expects what.",
);

const UNPARSEABLE_FRAME_DATA: Explanation = ex(
    "Where a frame header should start, the bytes are neither a valid frame nor recognisable HTTP or \
     TLS. wscap then searches for the next run of valid frames and reports how much it skipped.",
    "RFC 6455 section 5.2 defines the frame format; bytes that do not follow it (reserved opcodes, bad \
     RSV bits, impossible lengths) make the receiver fail the connection.",
    "A payload length that did not match the bytes sent (an encoder bug), a proxy that injected or \
     dropped bytes, two writers interleaving bytes on one socket, another protocol on the connection, \
     or a capture gap wscap could not see (packets lost before the capture point).",
    "Look at the frame before the first skipped byte: its length is the usual culprit. Serialise writes \
     per connection; capture on both sides of a proxy to see which hop changes the stream.",
);

// About the capture rather than the traffic.

const HANDSHAKE_NOT_CAPTURED: Explanation = ex(
    "The connection carried WebSocket frames but its opening handshake is not in the capture; wscap \
     recognised it from a run of masked client frames, or because of `--port`.",
    "No rule is broken: RFC 6455 section 4 defines the opening handshake, which negotiates the \
     extensions (such as permessage-deflate, RFC 7692) and subprotocol. Without it wscap cannot check \
     the handshake, cannot know whether RSV1 means compression, and cannot tell client from server for \
     certain.",
    "The capture started after the connection was opened (long-lived WebSocket connections), or a \
     capture filter or ring buffer dropped the first packets.",
    "Start capturing before the client connects (or reconnect the client while capturing); keep the \
     files of a ring buffer together and give wscap all of them.",
);

const CAPTURE_GAP: Explanation = ex(
    "Bytes of this TCP stream are missing from the capture: segments the capture point did not see, or \
     out-of-order data wscap released at its memory cap. wscap knows where and how many, and decodes the \
     frames after the gap.",
    "No rule of the traffic is broken: TCP delivers every byte in sequence (RFC 9293 section 3.10.7.4 \
     processes segments in sequence-number order and retransmits what is lost), so a hole means the \
     capture missed bytes the peers exchanged. Frames and findings inside the gap cannot be judged.",
    "A capture that could not keep up (kernel drops: `tcpdump` reports \"packets dropped by kernel\"), \
     capturing on a host that sees only one path of asymmetric routing, offloads or a mirror port losing \
     packets, or files of a ring buffer missing.",
    "Capture with a larger buffer (`tcpdump -B 16384`), write to a fast disk, filter to the port of \
     interest, and capture on the endpoint itself when possible.",
);

const TRUNCATED_PAYLOAD: Explanation = ex(
    "The capture's snaplen cut packets: their payload bytes beyond it are missing (the connection says \
     how many once). Frames whose headers survive are still decoded; checks that need the payload bytes \
     are skipped.",
    "No rule of the traffic is broken: the capture kept only the first bytes of each packet, so the \
     stream has holes of known length (TCP, RFC 9293 section 3.10.7.4, delivered those bytes; the \
     capture did not keep them).",
    "Captures taken with a small snaplen on purpose (`tcpdump -s 96` ... `-s 256`, to keep payloads \
     out), or tools whose default snaplen is small.",
    "Use `tcpdump -s 0` (the whole packet) when the payload matters; with a headers-only capture expect \
     UTF-8, inflation and close-code checks to be skipped.",
);

const RETRANSMISSION_CONFLICT: Explanation = ex(
    "A retransmitted TCP segment carried different bytes than the first copy of the same sequence range. \
     wscap keeps the first bytes seen; the two ends may have received different data.",
    "RFC 9293 section 3.10.7.4: a receiver accepts each sequence number once, so a retransmission must \
     repeat the same bytes; which copy a receiver keeps is up to its implementation, so the two ends of \
     a path may disagree.",
    "An inline device (IPS, WAN optimiser, transparent proxy) rewriting segments, a NIC or driver bug, \
     corruption the checksums did not catch, a capture point that merges two different flows, or \
     deliberate evasion (overlapping segments).",
    "Capture on both sides of inline devices and compare; check NIC offload settings; the other copy is \
     in the packet named.",
);

const INCOMPLETE_FRAME_AT_END: Explanation = ex(
    "The capture, or the connection (the detail says which), ends inside a frame: its header or part of \
     its payload never arrived.",
    "RFC 6455 section 5.2: a frame is complete when all its announced payload bytes have arrived. No \
     rule is broken when the capture simply stopped; when the connection ended inside a frame, a peer \
     closed TCP mid-message, without the closing handshake of section 7 (a close frame each way).",
    "The capture was stopped while a frame was in flight, or a peer or proxy cut the connection while \
     sending (a crash, an abort, an idle timeout that fired during a slow transfer).",
    "If the capture ended: capture longer. If the connection ended: look at the side that sent the FIN \
     or RST, and at timeouts on the path.",
);

const RESYNCHRONIZED: Explanation = ex(
    "After bytes that could not be frames (foreign bytes, a gap), wscap skipped ahead to the next run of \
     valid frames; the detail says how many bytes it skipped. Findings in the skipped bytes are not \
     reported.",
    "RFC 6455 section 5.2: frames follow one another with no gaps; a receiver cannot resynchronise and \
     fails the connection at the first bad header. wscap does so only to report what follows.",
    "The finding before it (unparseable_frame_data, http_in_websocket_stream, tls_in_websocket_stream, \
     capture_gap) is the cause.",
    "Fix what the preceding finding names; this one only says where decoding resumed.",
);

/// "RFC NNNN section S" somewhere in `text`: how every rule cites.
#[cfg(test)]
pub(crate) fn cites_a_section(text: &str) -> bool {
    text.match_indices("RFC ").any(|(i, _)| {
        let rest = &text[i + 4..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0
            && rest[digits..].starts_with(" section ")
            && rest[digits + 9..].starts_with(|c: char| c.is_ascii_digit())
    })
}

// Decrypting TLS (wss://) with a key log.

const TLS_KEY_MISSING: Explanation = ex(
    "Key logs were given, but none holds a secret for this TLS connection's client random, so the \
     WebSocket inside it (if any) cannot be read. Other connections of the capture may be decrypted.",
    "RFC 8446 section 7.3: a record's keys come from traffic secrets only the two peers know (RFC 5246 \
     section 6.3 for TLS 1.2's master secret); a capture holds none of them. The NSS key log format \
     (SSLKEYLOGFILE) names each connection's secrets by the 32-byte random of its ClientHello (RFC 8446 \
     section 4.1.2), which is how wscap matches them.",
    "The key log was written by another program or run than the one in the capture; the program was not \
     told to log (SSLKEYLOGFILE unset, or a client that ignores it); the capture began before the log was \
     enabled; the log was cut before this connection's lines.",
    "Start the program that makes the connection with SSLKEYLOGFILE=/path/keys.log (browsers, curl, \
     Python, Node with --tls-keylog, Go with tls.Config.KeyLogWriter), capture again, and pass the file \
     with --tls-keylog, or embed it in the capture with `editcap --inject-secrets tls,keys.log`.",
);

const TLS_DECRYPT_FAILED: Explanation = ex(
    "A TLS record of this connection did not authenticate with the keys derived from the logged secrets \
     (or the connection uses a version or cipher suite wscap does not decrypt, or its stream stopped \
     being TLS records). Nothing after it in that direction is decrypted.",
    "RFC 8446 section 5.2 (and RFC 5246 section 6.2.3.3 for TLS 1.2): each record is protected by an \
     AEAD whose tag fails unless key, nonce (from the record sequence number) and bytes are all right; a \
     receiver that sees a bad tag must end the connection with a bad_record_mac alert.",
    "A key log line that belongs to another connection with the same client random (a replayed or \
     altered log); secrets edited or cut; bytes altered after capture; a record sequence that wscap \
     could not follow (early data, or a renegotiation); a cipher suite other than AES-GCM, \
     ChaCha20-Poly1305 or AES-CBC with HMAC (3DES, RC4, CCM, SSL 3.0 to TLS 1.1).",
    "Take the key log written by the same run of the same program that the capture shows, unedited. The \
     finding's packet is the first record that failed: open it in Wireshark with the same key log \
     (Preferences, Protocols, TLS, (Pre)-Master-Secret log filename) to compare.",
);

const HTTP2_NOT_DECODED: Explanation = ex(
    "The TLS connection negotiated HTTP/2 (ALPN h2) and wscap did not read it. Versions of wscap before \
     it decoded HTTP/2 reported this; it reads WebSocket over HTTP/2 now and no longer does.",
    "RFC 8441 section 4: a WebSocket over HTTP/2 opens with an extended CONNECT request carrying \
     :protocol = websocket on one HTTP/2 stream, and its frames travel in that stream's DATA frames.",
    "A record written by an older wscap, which stopped at the HTTP/2 connection and left its streams \
     unread.",
    "Run this version of wscap on the capture: the HTTP/2 streams and the WebSocket frames in them are \
     decoded.",
);

// WebSocket over HTTP/2 (RFC 8441).

const H2_CONNECT_NOT_ENABLED: Explanation = ex(
    "The client opened a WebSocket with an extended CONNECT (a CONNECT request with :protocol) on an \
     HTTP/2 connection whose server had not sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, or had not sent \
     its SETTINGS at all yet.",
    "RFC 8441 section 3: a client MUST NOT send a CONNECT request with the :protocol pseudo-header field \
     unless it has received this setting with a value of 1; a server that did not enable it treats the \
     request as malformed.",
    "A server or proxy that speaks HTTP/2 but does not support WebSocket over HTTP/2 (several leave RFC \
     8441 off unless configured), or a client that does not wait for the server's SETTINGS before \
     opening the WebSocket.",
    "Enable RFC 8441 on the server or proxy (it then sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1), or \
     make the client fall back to HTTP/1.1 for WebSocket (offer only http/1.1 in ALPN on that host); a \
     client must wait for the server's first SETTINGS before an extended CONNECT.",
);

const H2_CONNECT_REJECTED: Explanation = ex(
    "The server answered the extended CONNECT that opens a WebSocket over HTTP/2 with a status other \
     than 2xx, so no WebSocket was opened on that stream.",
    "RFC 8441 section 5: a 2xx response (200) to the extended CONNECT establishes the WebSocket; any \
     other status refuses it, as a status other than 101 does for the HTTP/1.1 upgrade (RFC 6455 section \
     4.1).",
    "No WebSocket handler at that path (404), authentication or origin checks (401, 403), a proxy that \
     takes the extended CONNECT for a plain CONNECT it refuses (405, 400), or a backend that is down \
     (502, 503).",
    "Look at the status and the response headers in the capture; make the path, credentials and Origin \
     match what the server expects, or route the path to the WebSocket backend.",
);

const H2_BAD_CONNECT: Explanation = ex(
    "A request that should open a WebSocket over HTTP/2 is malformed: an extended CONNECT without \
     :scheme or :path, or a :protocol pseudo-header on a method other than CONNECT.",
    "RFC 8441 section 4: requests with the :protocol pseudo-header field MUST include :scheme and :path, \
     and :protocol belongs only to CONNECT; RFC 9113 section 8.1.1 makes a malformed request a stream \
     error.",
    "A client or proxy that builds the request by hand, or a translation from an HTTP/1.1 upgrade that \
     dropped the target.",
    "Send CONNECT with :protocol websocket, :scheme, :path and :authority (the target of the ws:// or \
     wss:// URI), as RFC 8441 section 5 shows.",
);

const H2_CONNECTION_HEADER: Explanation = ex(
    "An HTTP/2 header block carries a connection-specific header field: Connection, Upgrade, \
     Keep-Alive, Proxy-Connection or Transfer-Encoding (or TE other than trailers).",
    "RFC 9113 section 8.2.2: HTTP/2 does not use these fields; an endpoint MUST NOT generate them and \
     MUST treat a message that has them as malformed. A WebSocket over HTTP/2 opens with an extended \
     CONNECT, not with Upgrade: websocket (RFC 8441 section 5).",
    "A proxy or client that copies the HTTP/1.1 upgrade headers into an HTTP/2 request or response, \
     typically while translating between HTTP/1.1 and HTTP/2.",
    "Drop hop-by-hop headers when translating to HTTP/2 (most proxies have an option; custom code must \
     remove them), and open WebSockets over HTTP/2 with an extended CONNECT.",
);

const H2_PROTOCOL_ERROR: Explanation = ex(
    "The HTTP/2 connection breaks a framing rule (a frame too large, on the wrong stream, of the wrong \
     length, badly padded, a header block interrupted, a bad setting, a bad connection preface) or a \
     header block does not decode with HPACK; the detail names the rule.",
    "RFC 9113 section 5.4.1: such errors are connection errors, and the receiver closes the connection \
     with GOAWAY (PROTOCOL_ERROR, FRAME_SIZE_ERROR or COMPRESSION_ERROR). After a header block that does \
     not decode, the header compression state is lost (RFC 9113 section 4.3) and wscap does not decode \
     that direction's later header blocks.",
    "An HTTP/2 implementation bug, a proxy that rewrites frames, or bytes lost from the capture that \
     wscap could not tell from the traffic (a capture gap finding then comes with it).",
    "Find the side whose frame breaks the rule (the packet number is given) and check its HTTP/2 stack \
     and any proxy in between; if the capture lost packets, capture again.",
);

const H2_STREAM_RESET: Explanation = ex(
    "The HTTP/2 stream carrying a WebSocket was reset with RST_STREAM before both sides had ended it \
     (the detail gives the error code and who reset it).",
    "RFC 8441 section 5: the orderly end of a WebSocket over HTTP/2 is END_STREAM from each side after \
     the close frames; RST_STREAM (with CANCEL or another code) is the equivalent of a TCP reset.",
    "A client or server tearing the WebSocket down without the closing handshake (a page closed, a \
     timeout, a crash), a proxy cancelling the stream, or flow-control and protocol errors on the stream.",
    "Check whether close frames were exchanged before the reset, and what the error code says: CANCEL is \
     an application's choice, PROTOCOL_ERROR or FLOW_CONTROL_ERROR point at an implementation bug.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_explained_and_cites_its_section() {
        for &code in Code::ALL {
            let e = code.explanation();
            for (part, text) in [
                ("meaning", e.meaning),
                ("rule", e.rule),
                ("causes", e.causes),
                ("fix", e.fix),
            ] {
                assert!(text.len() > 40, "{code}: {part} missing or too short");
                assert!(!text.contains("  "), "{code}: {part} has a double space");
            }
            assert!(cites_a_section(e.rule), "{code}: rule cites no section");
            // The rule cites the section the finding records carry.
            let (rfc, section) = code.rfc()["RFC ".len()..].split_once(' ').expect("RFC N S");
            let cited = format!("RFC {rfc} section {section}");
            assert!(
                e.rule.contains(&cited)
                    || (e.rule.contains(&format!("RFC {rfc} section")) && e.rule.contains(section)),
                "{code}: rule does not cite {}",
                code.rfc()
            );
        }
    }

    #[test]
    fn citations_are_recognised() {
        assert!(cites_a_section("see RFC 6455 section 5.1: x"));
        assert!(!cites_a_section("RFC 6455 5.1"));
        assert!(!cites_a_section("RFC section 5"));
    }
}
