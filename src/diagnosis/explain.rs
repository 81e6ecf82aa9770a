//! What each diagnosis cause means, for `wscap explain CAUSE`: the cause in
//! general, as the finding codes are explained in `finding::explain`. The
//! diagnosis of a connection says the same for that connection, with its
//! evidence; these texts say what the cause is and where to look.

use crate::finding::explain::{Explanation, ex};
use crate::record::Cause;

/// One line on cause `c`, for `wscap codes`.
pub fn description(c: Cause) -> &'static str {
    match c {
        Cause::ProxyNotWebsocketAware => "a proxy on the way is not configured for WebSocket",
        Cause::HandshakeRefused => "the server refused the upgrade with an HTTP error",
        Cause::HandshakeAnswerBroken => "the 101 response does not match the request",
        Cause::TlsMisplaced => "TLS and plaintext meet on one connection",
        Cause::InvalidClientHandshake => "the client's upgrade request is malformed",
        Cause::HttpInUpgradedSocket => "HTTP written into the connection after the 101",
        Cause::WrongMasking => "a side masks its frames the wrong way",
        Cause::CompressionMismatch => "permessage-deflate is broken between the peers",
        Cause::MessageTooBig => "a message exceeded the receiver's size limit",
        Cause::BinaryInTextFrame => "a text message or close reason is not UTF-8",
        Cause::FramingViolation => "a peer sends frames that break the framing rules",
        Cause::ClosedWithoutCloseFrame => "TCP ended without a close frame (clients see 1006)",
        Cause::ClosedWithErrorCode => "a side closed with a close code that reports a failure",
        Cause::ConflictingRetransmission => "a retransmission carried different bytes",
        Cause::IncompleteCapture => "the capture misses part of the connection",
        Cause::Http2WebsocketNotEnabled => {
            "a WebSocket over HTTP/2 met a server that did not enable it"
        }
        Cause::Http2Violation => "the HTTP/2 layer under a WebSocket breaks a rule",
    }
}

/// What cause `c` means, the rule behind it (or why none), what brings it
/// about and what fixes it.
pub fn explanation(c: Cause) -> Explanation {
    match c {
        Cause::ProxyNotWebsocketAware => PROXY_NOT_WEBSOCKET_AWARE,
        Cause::HandshakeRefused => HANDSHAKE_REFUSED,
        Cause::HandshakeAnswerBroken => HANDSHAKE_ANSWER_BROKEN,
        Cause::TlsMisplaced => TLS_MISPLACED,
        Cause::InvalidClientHandshake => INVALID_CLIENT_HANDSHAKE,
        Cause::HttpInUpgradedSocket => HTTP_IN_UPGRADED_SOCKET,
        Cause::WrongMasking => WRONG_MASKING,
        Cause::CompressionMismatch => COMPRESSION_MISMATCH,
        Cause::MessageTooBig => MESSAGE_TOO_BIG,
        Cause::BinaryInTextFrame => BINARY_IN_TEXT_FRAME,
        Cause::FramingViolation => FRAMING_VIOLATION,
        Cause::ClosedWithoutCloseFrame => CLOSED_WITHOUT_CLOSE_FRAME,
        Cause::ClosedWithErrorCode => CLOSED_WITH_ERROR_CODE,
        Cause::ConflictingRetransmission => CONFLICTING_RETRANSMISSION,
        Cause::IncompleteCapture => INCOMPLETE_CAPTURE,
        Cause::Http2WebsocketNotEnabled => HTTP2_WEBSOCKET_NOT_ENABLED,
        Cause::Http2Violation => HTTP2_VIOLATION,
    }
}

const PROXY_NOT_WEBSOCKET_AWARE: Explanation = ex(
    "A proxy or load balancer between client and server is not configured for WebSocket: the upgrade \
     request reached the server as HTTP/1.0 or without Upgrade/Connection, or the 101 came back without \
     them. Findings: http_1_0_upgrade, upgrade_header_missing, connection_header_missing.",
    "RFC 9110 section 7.6.1: Connection and the headers it lists are hop-by-hop, removed by every proxy \
     that does not implement them; RFC 9110 section 7.8: a server ignores Upgrade in HTTP/1.0. RFC 6455 \
     section 4.1 requires HTTP/1.1, Upgrade: websocket and Connection: Upgrade.",
    "nginx without `proxy_http_version 1.1` and the Upgrade/Connection headers (its defaults), Apache \
     without mod_proxy_wstunnel, a load balancer or CDN with WebSocket disabled, a corporate proxy.",
    "nginx: `proxy_http_version 1.1;`, `proxy_set_header Upgrade $http_upgrade;`, `proxy_set_header \
     Connection \"upgrade\";`. Apache: mod_proxy_wstunnel (`ProxyPass /ws/ ws://backend/ws/`). HAProxy: \
     HTTP mode with no rule deleting Connection/Upgrade, and `timeout tunnel`. Load balancers: enable \
     WebSocket for the route.",
);

const HANDSHAKE_REFUSED: Explanation = ex(
    "The server answered the upgrade request with an HTTP error (or with bytes that are not HTTP): it \
     refused to open the WebSocket. The status says why. Finding: handshake_rejected.",
    "RFC 6455 section 4.1: anything but 101 leaves the connection an HTTP one; section 4.2.2 lets the \
     server refuse with an HTTP status (RFC 9110 section 15).",
    "404: no WebSocket endpoint at the path; 401/403: authentication or an Origin check; 400: a \
     malformed request; 426: the upgrade was lost on the way; 5xx: the server or a gateway failed; not \
     HTTP at all: another protocol listens on that port.",
    "Read the response in the capture (status, body) and fix the URL, credentials, allowed Origins or \
     the proxy; `wscap explain handshake_rejected` lists the statuses.",
);

const HANDSHAKE_ANSWER_BROKEN: Explanation = ex(
    "The server switched protocols with a 101 that does not match the request: a wrong \
     Sec-WebSocket-Accept, or an extension or subprotocol the client did not offer. Clients fail such a \
     handshake. Findings: bad_accept_key, extension_not_offered, subprotocol_not_offered.",
    "RFC 6455 section 4.1: the client MUST fail the connection when the accept value is wrong or the \
     response names an extension or subprotocol it did not ask for; section 4.2.2 says how the server \
     builds its answer.",
    "A server library bug, a hand-written handshake, or a proxy that answers or rewrites the handshake \
     (changing Sec-WebSocket-Key, dropping Sec-WebSocket-Extensions or Sec-WebSocket-Protocol from the \
     request).",
    "Let proxies pass Sec-WebSocket-* headers through untouched; fix the server's handshake to follow \
     section 4.2.2.",
);

const TLS_MISPLACED: Explanation = ex(
    "TLS and plaintext meet on one connection: a TLS client reached a plaintext endpoint, a plaintext \
     client reached a TLS endpoint, or TLS records appeared inside an upgraded stream. Findings: \
     tls_on_plaintext_port, tls_in_websocket_stream, handshake_rejected (a TLS answer).",
    "RFC 6455 section 4.1: wss:// runs the TLS handshake before the upgrade request, ws:// sends the \
     request in plaintext; both ends must agree on which.",
    "wss:// used against a ws:// server or port (or the reverse), a proxy forwarding TLS to a plaintext \
     backend (or plaintext to a TLS one), TLS terminated twice or not at all.",
    "Use the scheme the port serves; terminate TLS in one place and make the proxy speak what the \
     backend expects (nginx `proxy_pass https://...` with `proxy_ssl_server_name on` for a TLS backend).",
);

const INVALID_CLIENT_HANDSHAKE: Explanation = ex(
    "The client's upgrade request is malformed (Sec-WebSocket-Key not the base64 of 16 bytes, or \
     Sec-WebSocket-Version not 13) and the server let it through. Findings: bad_websocket_key, \
     bad_websocket_version.",
    "RFC 6455 section 4.1 defines the key and the version; section 4.2.1 has servers refuse requests \
     that break them (400, or 426 with the supported versions, section 4.4).",
    "A hand-made handshake in a script or test tool, a very old client, or a proxy that rewrites \
     Sec-WebSocket-* headers.",
    "Fix the client or the proxy: a fresh 16-byte random key in base64 per connection, version 13.",
);

const HTTP_IN_UPGRADED_SOCKET: Explanation = ex(
    "After the 101, HTTP text was written into the connection where frames belong; the peer reading \
     frames fails (\"Invalid frame header\"). Finding: http_in_websocket_stream.",
    "RFC 6455 section 4.1: after the 101 the connection carries WebSocket frames (section 5.2) only.",
    "A proxy or server writing an HTTP error or timeout page into the upgraded socket, a client reusing \
     the socket for another request, or two connections mixed up by a load balancer.",
    "Close a WebSocket with a close frame and a code, never with an HTTP response; find the hop that \
     writes HTTP from the direction and packet in the evidence.",
);

const WRONG_MASKING: Explanation = ex(
    "A side masks the wrong way: the client sends unmasked frames, or the server masked ones. \
     Conforming peers fail the connection (ws: \"MASK must be set\"; browsers: \"A server must not mask \
     any frames\"). Findings: unmasked_client_frame, masked_server_frame.",
    "RFC 6455 section 5.1: a client MUST mask every frame, a server MUST NOT mask any, and the receiver \
     of a wrongly masked frame closes the connection.",
    "A library used in the wrong role (client code on a server, a server library as a client), a custom \
     or embedded implementation, or a proxy that re-frames the stream.",
    "Fix or configure the side named in the evidence (or the proxy that re-frames); a peer that \
     tolerates the violation hides it until a conforming peer meets it.",
);

const COMPRESSION_MISMATCH: Explanation = ex(
    "permessage-deflate is broken between the peers: compressed messages do not inflate, RSV1 is set \
     where RFC 7692 forbids it, or frames are compressed although the 101 did not accept the extension \
     (a proxy removed Sec-WebSocket-Extensions). Findings: deflate_error, rsv1_on_continuation, \
     rsv1_on_control_frame, rsv_bits_without_extension.",
    "RFC 7692 section 7.2.2 (decompression with the negotiated context), RFC 7692 section 6 (RSV1 only \
     on the first frame of a data message) and RFC 6455 section 5.2 (no RSV bit without a negotiated \
     extension).",
    "Peers disagreeing on context takeover or window bits, a proxy that strips the extension from the \
     handshake while both peers compress anyway, a proxy that re-frames compressed messages, or a \
     buggy compression implementation.",
    "Let proxies pass Sec-WebSocket-Extensions through; make both ends honour the negotiated \
     parameters, or turn compression off on both.",
);

const MESSAGE_TOO_BIG: Explanation = ex(
    "A message exceeded the receiver's size limit: the receiver closed with 1009, or a frame exceeded \
     the --max-payload you gave (\"Max payload size exceeded\"). Findings: frame_exceeds_limit, \
     decompression_limit_exceeded, close code 1009.",
    "RFC 6455 section 10.4: endpoints protect themselves against messages beyond their limits; RFC 6455 \
     section 7.4.1: close code 1009 says a message was too big to process.",
    "Data grew past a library default (ws `maxPayload` 100 MiB, websockets `max_size` 1 MiB, many \
     gateways 1 MiB or less), or a limit configured low on a proxy.",
    "Raise the limit on the receiver or proxy, or send smaller messages (split, paginate, stream).",
);

const BINARY_IN_TEXT_FRAME: Explanation = ex(
    "A text message or close reason is not valid UTF-8: binary data sent as text, or text in another \
     encoding. Receivers close with 1007. Finding: invalid_utf8.",
    "RFC 6455 section 8.1: invalid UTF-8 in a text message fails the connection; section 5.6: text \
     frames carry UTF-8.",
    "Sending bytes through the text API (a protobuf, a compressed blob, an image), Latin-1 text, or \
     strings cut mid-character.",
    "Send binary data in binary frames (or base64 it); encode text as UTF-8.",
);

const FRAMING_VIOLATION: Explanation = ex(
    "A peer sends frames that break the framing rules (reserved opcodes or RSV bits, bad lengths, \
     control frame rules, fragmentation order, close rules, bytes that are not frames); receivers fail \
     the connection (\"Invalid frame header\", close 1002). The findings name each rule.",
    "RFC 6455 section 5 (5.2 to 5.5) defines the frame format, fragmentation and control frames, and \
     section 7.4 the close codes; a receiver MUST fail the connection on a violation.",
    "A buggy or hand-written WebSocket implementation, concurrent writers on one connection, or a proxy \
     that re-frames, injects or drops bytes.",
    "The frame's direction names the faulty side: upgrade or fix that library, serialise writes, or fix \
     the proxy. `wscap explain CODE` explains each finding code.",
);

const CLOSED_WITHOUT_CLOSE_FRAME: Explanation = ex(
    "The TCP connection ended (FIN or RST) without a close frame either way: clients report 1006 \
     (abnormal closure). The diagnosis says whether it was cut at once or after a silence (an idle \
     timeout).",
    "RFC 6455 section 7.1.2: an endpoint closes with the closing handshake (a close frame each way, \
     section 5.5.1) before closing TCP; section 7.1.5: without a close frame the status is 1006.",
    "An idle timeout on a proxy or load balancer (nginx `proxy_read_timeout` 60 s, AWS ALB 60 s, \
     Cloudflare 100 s), a crash or an error path that closes the socket, a network device resetting \
     the connection.",
    "Send pings more often than the shortest idle timeout on the path, or raise those timeouts; look at \
     the side that sent the first FIN or RST when the cut was immediate.",
);

const CLOSED_WITH_ERROR_CODE: Explanation = ex(
    "A side closed with a close code that reports a failure (1002 protocol error, 1003, 1007, 1008, \
     1009, 1010, 1011, 1012, 1013, 1014): the diagnosis names the code, its meaning and the side.",
    "RFC 6455 section 7.4.1 defines the status codes and what each says about why the endpoint closed.",
    "Whatever the code says: a protocol violation the closing side saw (1002), a policy such as \
     authentication (1008), a message too big (1009), an exception in the application (1011), a \
     restart or overload (1012, 1013), a failed upstream (1014).",
    "Read the closing side's log at the time of the close frame; the code says which part of it to look \
     at.",
);

const CONFLICTING_RETRANSMISSION: Explanation = ex(
    "A TCP retransmission carried different bytes for the same sequence numbers: the two ends may have \
     seen different data. Finding: retransmission_conflict.",
    "RFC 9293 section 3.10.7.4: each sequence number carries one byte, so a retransmission must repeat \
     the same data; which copy a receiver keeps is up to it.",
    "An inline device (IPS, WAN optimiser, transparent proxy) rewriting segments, a NIC or driver bug, \
     or deliberate evasion.",
    "Capture on both sides of inline devices and compare; wscap keeps the first copy, the other one is \
     in the packet named.",
);

const INCOMPLETE_CAPTURE: Explanation = ex(
    "The capture misses part of the connection (lost packets, a snaplen cut, or the handshake before \
     the capture started): findings that depend on the missing bytes cannot be made. Findings: \
     capture_gap, truncated_payload, handshake_not_captured.",
    "No RFC rule is broken: this is about the capture, not the traffic (TCP, RFC 9293 section \
     3.10.7.4, delivered the bytes the capture lacks).",
    "Capturing after the connection opened, a small snaplen, kernel drops on a busy capture, or a \
     mirror port losing packets.",
    "Capture with `tcpdump -s 0 -B 16384`, from before the connection opens, filtered to the port of \
     interest.",
);

const HTTP2_WEBSOCKET_NOT_ENABLED: Explanation = ex(
    "A client opened a WebSocket over HTTP/2 (an extended CONNECT) on a connection whose server never \
     enabled it, and the server refused the stream or would have. Findings: h2_connect_not_enabled, \
     often with h2_connect_rejected.",
    "RFC 8441 section 3: extended CONNECT is allowed only after the server's SETTINGS carry \
     SETTINGS_ENABLE_CONNECT_PROTOCOL = 1; without it the request is malformed (RFC 9113 section 8.1.1).",
    "An HTTP/2 server or proxy without RFC 8441 support (or with it switched off) in front of the \
     WebSocket endpoint, reached by a client that assumes it, or does not wait for the server's SETTINGS.",
    "Enable WebSocket over HTTP/2 on the server or proxy, or keep WebSocket on HTTP/1.1 there (serve \
     ALPN http/1.1 on the WebSocket host, or route the upgrade to an HTTP/1.1 listener); fix a client \
     that sends an extended CONNECT before the server's SETTINGS arrive.",
);

const HTTP2_VIOLATION: Explanation = ex(
    "The HTTP/2 connection that carries WebSockets breaks a rule of its own layer: a malformed extended \
     CONNECT, connection-specific headers such as Upgrade or Connection in HTTP/2, or a framing or \
     header compression error. Findings: h2_bad_connect, h2_connection_header, h2_protocol_error.",
    "RFC 8441 sections 4 and 5 (the extended CONNECT), RFC 9113 section 8.2.2 (no connection-specific \
     fields) and sections 4 to 6 (frames), RFC 7541 (HPACK). Receivers answer with a stream or \
     connection error, and the WebSocket fails before or while it runs.",
    "A proxy that translates HTTP/1.1 upgrades into HTTP/2 and copies the hop-by-hop headers, a \
     hand-built extended CONNECT, or an HTTP/2 implementation bug.",
    "Fix the side the finding names (its packet number is given): drop Connection, Upgrade and the \
     other hop-by-hop fields when speaking HTTP/2, send :scheme and :path with the extended CONNECT, \
     and update the HTTP/2 library or proxy that breaks the framing.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_explained() {
        for &c in Cause::ALL {
            let e = explanation(c);
            for (part, text) in [
                ("meaning", e.meaning),
                ("rule", e.rule),
                ("causes", e.causes),
                ("fix", e.fix),
            ] {
                assert!(text.len() > 40, "{c}: {part} missing or too short");
                assert!(!text.contains("  "), "{c}: {part} has a double space");
            }
            assert!(
                crate::finding::explain::cites_a_section(e.rule)
                    || e.rule.starts_with("No RFC rule"),
                "{c}: the rule cites no section and does not say why"
            );
        }
    }
}
