//! Diagnosis: from a connection's findings to the likely cause, the
//! evidence and the fix.
//!
//! Each rule names a cause users meet behind "Invalid frame header",
//! "MASK must be set", "Max payload size exceeded" or a failed handshake.
//! A rule looks only at plain data (the connection record, and the
//! evidence the analysis kept: the first frame showing each code, and
//! whether the server answered with TLS), and decides on finding codes and
//! typed fields, never on the wording of a detail; so it can be tested alone
//! and the same diagnosis comes out of any capture showing the same thing.
//! Cause identifiers are stable like finding codes.

pub mod explain;

use crate::finding::{Code, Severity};
use crate::record::{Cause, ConnectionRecord, Diagnosis, PerDir};
use crate::tcp::{CloseReason, Dir};

/// The first frame that showed a finding code on a connection: frame
/// findings are in frame records, so the analysis keeps one example per code
/// for the diagnosis to cite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameEvidence {
    pub code: Code,
    pub packet: u64,
    pub dir: Dir,
    pub detail: String,
}

/// The first close frame one side sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseEvidence {
    /// Its status code, if the body had one (RFC 6455 5.5.1).
    pub code: Option<u16>,
    pub packet: u64,
}

/// What the analysis knows beyond the connection record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The first frame showing each frame-level finding code.
    pub frames: Vec<FrameEvidence>,
    /// The first close frame of each side.
    pub closes: PerDir<Option<CloseEvidence>>,
    /// The server answered the upgrade request with TLS (its
    /// `handshake_rejected` is a TLS placement problem).
    pub server_answered_tls: bool,
}

/// What a rule looks at: the connection record and the evidence.
struct Conn<'a> {
    rec: &'a ConnectionRecord,
    frames: &'a [FrameEvidence],
    evidence: &'a Evidence,
}

/// nginx in front of a WebSocket backend, done right.
const NGINX_FIX: &str = "nginx: in the location that proxies WebSocket set `proxy_http_version 1.1;`, \
`proxy_set_header Upgrade $http_upgrade;` and `proxy_set_header Connection \"upgrade\";` \
(or a `map $http_upgrade $connection_upgrade` for mixed traffic)";
const APACHE_FIX: &str = "Apache httpd: load mod_proxy_wstunnel and proxy the path with `ProxyPass /ws/ ws://backend/ws/` \
(or `RewriteCond %{HTTP:Upgrade} websocket [NC]` + `RewriteRule ... ws://backend/$1 [P]`)";
const HAPROXY_FIX: &str = "HAProxy: WebSocket works in HTTP mode without extra rules; make sure no \
`http-request del-header Connection/Upgrade` or `option httpclose` touches the upgrade, and set `timeout tunnel` \
(e.g. 1h) for long-lived connections";

fn has(rec: &ConnectionRecord, code: Code) -> bool {
    rec.findings_by_code.contains(code)
}

impl Conn<'_> {
    fn has(&self, code: Code) -> bool {
        has(self.rec, code)
    }

    /// The first packet where any of `codes` shows, on the connection or a frame.
    fn first_packet(&self, codes: &[Code]) -> Option<u64> {
        let conn = self
            .rec
            .findings
            .iter()
            .filter(|f| codes.contains(&f.code))
            .filter_map(|f| f.packet);
        let frames = self
            .frames
            .iter()
            .filter(|e| codes.contains(&e.code))
            .map(|e| e.packet);
        conn.chain(frames).min()
    }

    /// One line per finding of `codes`: the connection's, then the first
    /// frame showing each code.
    fn details(&self, codes: &[Code]) -> Vec<String> {
        let conn = self
            .rec
            .findings
            .iter()
            .filter(|f| codes.contains(&f.code))
            .map(|f| match f.packet {
                Some(p) => format!("{} (packet {p}): {}", f.code, f.detail),
                None => format!("{}: {}", f.code, f.detail),
            });
        let frames = self
            .frames
            .iter()
            .filter(|e| codes.contains(&e.code))
            .map(|e| {
                let n = self.rec.findings_by_code.get(e.code).max(1);
                let more = if n > 1 {
                    format!(" ({n} in all)")
                } else {
                    String::new()
                };
                format!(
                    "{} (first in {} frame at packet {}){more}: {}",
                    e.code,
                    e.dir.as_str(),
                    e.packet,
                    e.detail
                )
            });
        conn.chain(frames).collect()
    }

    fn present(&self, codes: &[Code]) -> Vec<Code> {
        codes.iter().copied().filter(|&c| self.has(c)).collect()
    }

    /// The first frame with an error finding.
    fn first_bad_frame(&self) -> Option<u64> {
        self.frames
            .iter()
            .filter(|e| e.code.severity() == Severity::Error)
            .map(|e| e.packet)
            .min()
    }
}

/// Diagnoses one connection from its record and the evidence.
pub fn diagnose(rec: &ConnectionRecord, evidence: &Evidence) -> Vec<Diagnosis> {
    let c = Conn {
        rec,
        frames: &evidence.frames,
        evidence,
    };
    let mut out = Vec::new();
    for rule in [
        proxy_not_websocket_aware,
        handshake_refused,
        handshake_answer_broken,
        tls_misplaced,
        http_in_socket,
        masking,
        compression,
        too_big,
        utf8,
        framing_bug,
        invalid_client_handshake,
        http2_websocket_not_enabled,
        http2_violation,
        closed_with_error_code,
        unclean_close,
        conflicting_retransmission,
        capture_limits,
    ] {
        rule(&c, &mut out);
    }
    out
}

fn proxy_not_websocket_aware(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let rec = c.rec;
    const CODES: &[Code] = &[
        Code::Http10Upgrade,
        Code::UpgradeHeaderMissing,
        Code::ConnectionHeaderMissing,
    ];
    let codes = c.present(CODES);
    if codes.is_empty() {
        return;
    }
    let mut evidence = c.details(CODES);
    if let Some(r) = &rec.response {
        evidence.push(format!(
            "the server answered {} {} (packet {})",
            r.status, r.reason, r.packet
        ));
    }
    let request_side = rec
        .request
        .as_ref()
        .is_some_and(|r| r.version == "HTTP/1.0" || r.upgrade.is_none() || r.connection.is_none());
    let summary = if request_side {
        "the upgrade request reached the server without what makes it an upgrade (HTTP/1.0, or Upgrade/Connection \
         stripped): a proxy or load balancer on the way is not configured for WebSocket"
    } else {
        "the 101 response lacks Upgrade/Connection: a proxy rewrote the server's answer, or the server is broken"
    };
    out.push(Diagnosis {
        cause: Cause::ProxyNotWebsocketAware,
        summary: summary.to_string(),
        codes,
        packet: c.first_packet(CODES),
        evidence,
        fix: vec![
            NGINX_FIX.to_string(),
            APACHE_FIX.to_string(),
            HAPROXY_FIX.to_string(),
        ],
        hop: None,
    });
}

fn handshake_refused(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let rec = c.rec;
    if has(rec, Code::H2ConnectRejected) && !has(rec, Code::H2ConnectNotEnabled) {
        return h2_connect_refused(c, out);
    }
    if !has(rec, Code::HandshakeRejected)
        || has(rec, Code::Http10Upgrade)
        || has(rec, Code::UpgradeHeaderMissing)
    {
        return;
    }
    let Some(resp) = &rec.response else {
        // Answered with something that is not HTTP (TLS: see tls_misplaced).
        if !c.evidence.server_answered_tls {
            not_http_answer(c, out);
        }
        return;
    };
    let why = match resp.status {
        400 if has(rec, Code::BadWebsocketKey) || has(rec, Code::BadWebsocketVersion) => {
            "the server refused a malformed handshake (see the key/version findings)"
        }
        400 => "the server found the upgrade request malformed",
        401 | 407 => "the server (or a proxy) wants authentication before upgrading",
        403 => "the server refused the upgrade: typically an Origin check or an access rule",
        404 => "no WebSocket endpoint at this path",
        426 => "the server wants an upgrade it did not get: Upgrade/Connection lost on the way",
        500..=599 => "the server or a proxy failed while handling the upgrade",
        _ => "the server did not switch protocols",
    };
    let mut fix = vec![match resp.status {
        401 | 407 => "send the credentials the endpoint expects (cookie, token in the query, Authorization)".to_string(),
        403 => "allow the page's Origin on the server, or check the access rules for this path".to_string(),
        404 => "check the WebSocket URL path against the server's routes (and the proxy's location rules)".to_string(),
        426 => NGINX_FIX.to_string(),
        _ => "read the response body in the capture for the server's reason".to_string(),
    }];
    if resp.status == 502 || resp.status == 504 {
        fix.push(
            "a gateway error: check the proxy can reach the backend and its timeouts".to_string(),
        );
    }
    out.push(Diagnosis {
        cause: Cause::HandshakeRefused,
        summary: format!("{why} ({} {})", resp.status, resp.reason),
        codes: c.present(&[
            Code::HandshakeRejected,
            Code::BadWebsocketKey,
            Code::BadWebsocketVersion,
        ]),
        packet: Some(resp.packet),
        evidence: c.details(&[
            Code::HandshakeRejected,
            Code::BadWebsocketKey,
            Code::BadWebsocketVersion,
        ]),
        fix,
        hop: None,
    });
}

/// An extended CONNECT (RFC 8441) refused by a server that had enabled
/// it: with a status, as an HTTP/1.1 upgrade is refused, or a reset.
fn h2_connect_refused(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::H2ConnectRejected, Code::BadWebsocketVersion];
    let (summary, fix) = match c.rec.response.as_ref().map(|r| r.status) {
        Some(404) => (
            "no WebSocket endpoint at this path (404 to the extended CONNECT over HTTP/2)".to_string(),
            "check the WebSocket URL path against the server's routes (and the proxy's)",
        ),
        Some(401 | 403 | 407) => (
            "the server refused the WebSocket over HTTP/2 for access reasons (authentication or Origin)"
                .to_string(),
            "send the credentials the endpoint expects and allow the page's Origin on the server",
        ),
        Some(status) => (
            format!("the server refused the WebSocket over HTTP/2 with {status}"),
            "read the response in the capture for the server's reason",
        ),
        None => (
            "the server reset the stream of the WebSocket over HTTP/2 instead of answering it".to_string(),
            "look at the server's logs for why it found the extended CONNECT malformed or refused it",
        ),
    };
    out.push(Diagnosis {
        cause: Cause::HandshakeRefused,
        summary,
        codes: c.present(CODES),
        packet: c.first_packet(CODES),
        evidence: c.details(CODES),
        fix: vec![fix.to_string()],
        hop: None,
    });
}

/// RFC 8441 3: the client opened a WebSocket over HTTP/2 that the server
/// had not enabled. Who is at fault follows what the server did: refused
/// it (it does not support it here), or accepted it all the same (the
/// client breaks the rule, and fails behind a stricter server).
fn http2_websocket_not_enabled(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::H2ConnectNotEnabled, Code::H2ConnectRejected];
    if !c.has(Code::H2ConnectNotEnabled) {
        return;
    }
    let mut evidence = c.details(CODES);
    let (summary, fix): (&str, &[&str]) = if c.has(Code::H2ConnectRejected) {
        (
            "the client opened a WebSocket over HTTP/2 and the server, which never enabled WebSocket over \
             HTTP/2 (SETTINGS_ENABLE_CONNECT_PROTOCOL), refused it: browsers then fail the connection or fall \
             back",
            &[
                "enable WebSocket over HTTP/2 (RFC 8441) on the server or proxy that terminates HTTP/2, so that \
                 it sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1",
                "or keep WebSocket on HTTP/1.1 there: serve only http/1.1 in ALPN on the WebSocket host, or \
                 route the upgrade to an HTTP/1.1 listener",
                "and make the client honour the setting: no extended CONNECT unless the server's SETTINGS \
                 enabled it (fall back to HTTP/1.1)",
            ],
        )
    } else if c.rec.websocket {
        if let Some(r) = &c.rec.response {
            evidence.push(format!(
                "the server answered {} (packet {}) and the WebSocket ran: this server tolerates it",
                r.status, r.packet
            ));
        }
        (
            "the client opened a WebSocket over HTTP/2 the server had not enabled \
             (SETTINGS_ENABLE_CONNECT_PROTOCOL): this server accepted it anyway, but the client breaks RFC \
             8441 and fails behind a server or proxy that enforces it",
            &[
                "make the client honour the setting: no extended CONNECT unless the server's SETTINGS enabled \
                 it, else WebSocket over HTTP/1.1",
                "if the server or proxy should offer WebSocket over HTTP/2, have it announce it (a proxy may \
                 have the announcement switched off, as HAProxy's h2-workaround-bogus-websocket-clients does)",
            ],
        )
    } else {
        (
            "the client opened a WebSocket over HTTP/2 that the server never enabled \
             (SETTINGS_ENABLE_CONNECT_PROTOCOL): a server following RFC 8441 refuses it",
            &[
                "enable WebSocket over HTTP/2 (RFC 8441) on the server or proxy that terminates HTTP/2, or keep \
                 WebSocket on HTTP/1.1 there",
                "and make the client honour the setting: no extended CONNECT unless the server's SETTINGS \
                 enabled it",
            ],
        )
    };
    out.push(Diagnosis {
        cause: Cause::Http2WebsocketNotEnabled,
        summary: summary.to_string(),
        codes: c.present(CODES),
        packet: c.first_packet(CODES),
        evidence,
        fix: fix.iter().map(|f| f.to_string()).collect(),
        hop: None,
    });
}

/// The HTTP/2 layer under the WebSockets breaks its own rules.
fn http2_violation(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[
        Code::H2ConnectionHeader,
        Code::H2BadConnect,
        Code::H2ProtocolError,
    ];
    let codes = c.present(CODES);
    let Some(&first) = codes.first() else { return };
    let summary = match first {
        Code::H2ConnectionHeader => {
            "HTTP/1.1 connection headers (Connection, Upgrade, ...) travel in HTTP/2 header blocks: a proxy \
             or client copies the HTTP/1.1 upgrade into HTTP/2, and a strict peer rejects the request as \
             malformed"
        }
        Code::H2BadConnect => {
            "a malformed extended CONNECT: the WebSocket over HTTP/2 cannot open (RFC 8441 4)"
        }
        _ => {
            "the HTTP/2 connection breaks framing or header compression rules: the peer ends it with GOAWAY"
        }
    };
    out.push(Diagnosis {
        cause: Cause::Http2Violation,
        summary: summary.to_string(),
        packet: c.first_packet(&codes),
        codes,
        evidence: c.details(CODES),
        fix: vec![
            "drop hop-by-hop headers (Connection, Upgrade, Keep-Alive, Proxy-Connection, Transfer-Encoding) \
             when speaking HTTP/2, and open WebSockets with an extended CONNECT carrying :protocol, :scheme, \
             :path and :authority"
                .to_string(),
            "for framing or HPACK errors, the packet names the side: update its HTTP/2 library or the proxy \
             in between"
                .to_string(),
        ],
        hop: None,
    });
}

fn handshake_answer_broken(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[
        Code::BadAcceptKey,
        Code::ExtensionNotOffered,
        Code::SubprotocolNotOffered,
    ];
    let codes = c.present(CODES);
    if codes.is_empty() {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::HandshakeAnswerBroken,
        summary: "the 101 response does not match the request: clients reject it (\"Invalid Sec-WebSocket-Accept \
                  header\", \"Server sent a subprotocol but none was requested\")"
            .to_string(),
        codes,
        packet: c.first_packet(CODES),
        evidence: c.details(CODES),
        fix: vec![
            "if a proxy answers or rewrites the handshake, let it pass Sec-WebSocket-* through untouched".to_string(),
            "otherwise fix the server: Accept = base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)); choose \
             only extensions and subprotocols the client offered"
                .to_string(),
        ],
        hop: None,
    });
}

fn tls_misplaced(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::TlsOnPlaintextPort, Code::TlsInWebsocketStream];
    let mut codes = c.present(CODES);
    // A server answering a plaintext upgrade with TLS rejected it for the
    // same reason: TLS where plaintext was expected.
    let tls_answer = c.evidence.server_answered_tls && c.has(Code::HandshakeRejected);
    if tls_answer {
        codes.push(Code::HandshakeRejected);
    }
    if codes.is_empty() {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::TlsMisplaced,
        summary: "TLS and plaintext meet on one connection: TLS is terminated in the wrong place, or a ws:// / \
                  wss:// URL does not match the port"
            .to_string(),
        codes,
        packet: c.first_packet(&[Code::TlsOnPlaintextPort, Code::TlsInWebsocketStream, Code::HandshakeRejected]),
        evidence: c.details(&[Code::TlsOnPlaintextPort, Code::TlsInWebsocketStream, Code::HandshakeRejected]),
        fix: vec![
            "use wss:// only where TLS is served; when a load balancer terminates TLS, proxy to the backend \
             with ws:// (nginx: `proxy_pass http://backend`), not https"
                .to_string(),
            "if the backend expects TLS, proxy with `proxy_pass https://backend` (and `proxy_ssl_server_name on`)"
                .to_string(),
        ],
        hop: None,
    });
}

fn http_in_socket(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let (rec, first) = (c.rec, c.first_bad_frame());
    const CODES: &[Code] = &[Code::HttpInWebsocketStream];
    if !has(rec, CODES[0]) {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::HttpInUpgradedSocket,
        summary: "HTTP was written into the connection after the 101: the peer reading frames fails with \
                  \"Invalid frame header\""
            .to_string(),
        codes: CODES.to_vec(),
        packet: c.first_packet(CODES).or(first),
        evidence: c.details(CODES),
        fix: vec![
            "find who wrote it (the excerpt shows the status line): an application error handler or middleware \
             writing a response on an upgraded socket, or a proxy sending an error page (timeout, 502) into a \
             tunnel it already switched"
                .to_string(),
            "after a 101 only frames may be written; close the WebSocket with a close code instead".to_string(),
        ],
        hop: None,
    });
}

fn masking(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let rec = c.rec;
    let client = has(rec, Code::UnmaskedClientFrame);
    let server = has(rec, Code::MaskedServerFrame);
    if !client && !server {
        return;
    }
    let (summary, fix) = if client {
        (
            "the client sends unmasked frames: servers following RFC 6455 fail it (ws: \"MASK must be set\", \
             close 1002)",
            "fix or configure the client library to mask every frame (some tunnelling tools disable masking; \
             browsers always mask)",
        )
    } else {
        (
            "the server sends masked frames: clients following RFC 6455 fail it (\"A server must not mask any \
             frames\", close 1002)",
            "fix or configure the server library (or a proxy re-framing the stream) so server frames are not masked",
        )
    };
    let codes = c.present(&[Code::UnmaskedClientFrame, Code::MaskedServerFrame]);
    out.push(Diagnosis {
        cause: Cause::WrongMasking,
        summary: summary.to_string(),
        codes,
        packet: c.first_packet(&[Code::UnmaskedClientFrame, Code::MaskedServerFrame]),
        evidence: c.details(&[Code::UnmaskedClientFrame, Code::MaskedServerFrame]),
        fix: vec![fix.to_string()],
        hop: None,
    });
}

fn compression(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let rec = c.rec;
    const CODES: &[Code] = &[
        Code::DeflateError,
        Code::Rsv1OnContinuation,
        Code::Rsv1OnControlFrame,
    ];
    let mut codes = c.present(CODES);
    let offered = rec
        .request
        .as_ref()
        .and_then(|r| r.sec_websocket_extensions.as_deref())
        .is_some_and(|e| e.contains("permessage-deflate"));
    let accepted = rec.negotiated.as_ref().is_some_and(|n| n.deflate.is_some());
    // RSV1 on frames while permessage-deflate was offered but not in the 101:
    // the classic case of a proxy dropping Sec-WebSocket-Extensions.
    let stripped = has(rec, Code::RsvBitsWithoutExtension) && offered && !accepted;
    if stripped {
        codes.push(Code::RsvBitsWithoutExtension);
    }
    if codes.is_empty() {
        return;
    }
    let summary = if stripped {
        "frames carry RSV1 (compressed) but permessage-deflate is not in the 101: a proxy removed \
         Sec-WebSocket-Extensions from the answer while the peers compress"
    } else {
        "permessage-deflate (RFC 7692) is broken between the peers: compressed data does not inflate or \
         RSV1 is misused"
    };
    out.push(Diagnosis {
        cause: Cause::CompressionMismatch,
        summary: summary.to_string(),
        packet: c.first_packet(&codes),
        codes,
        evidence: c.details(CODES),
        fix: vec![
            "let proxies pass Sec-WebSocket-Extensions untouched in both directions, or disable \
             permessage-deflate on both ends"
                .to_string(),
            "check both libraries agree on context takeover and window bits".to_string(),
        ],
        hop: None,
    });
}

fn too_big(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let (rec, first) = (c.rec, c.first_bad_frame());
    const CODES: &[Code] = &[Code::FrameExceedsLimit, Code::DecompressionLimitExceeded];
    let closed_1009 = rec.close_codes.c2s.contains(&1009) || rec.close_codes.s2c.contains(&1009);
    let codes = c.present(CODES);
    if codes.is_empty() && !closed_1009 {
        return;
    }
    let mut evidence = c.details(CODES);
    if closed_1009 {
        let who = if rec.close_codes.s2c.contains(&1009) {
            "server"
        } else {
            "client"
        };
        evidence.push(format!("the {who} closed with 1009 (message too big)"));
    }
    out.push(Diagnosis {
        cause: Cause::MessageTooBig,
        summary: "a message exceeded the receiver's size limit (\"Max payload size exceeded\", close 1009)".to_string(),
        codes,
        packet: c.first_packet(CODES).or(first),
        evidence,
        fix: vec![
            "raise the receiver's limit (ws: maxPayload; Python websockets: max_size; Spring: \
             setMaxTextMessageBufferSize/setMaxBinaryMessageBufferSize; Jetty: maxTextMessageSize)"
                .to_string(),
            "or send smaller messages (split, or stream the data)".to_string(),
        ],
        hop: None,
    });
}

fn utf8(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let (rec, first) = (c.rec, c.first_bad_frame());
    let closed_1007 = rec.close_codes.c2s.contains(&1007) || rec.close_codes.s2c.contains(&1007);
    if !has(rec, Code::InvalidUtf8) && !closed_1007 {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::BinaryInTextFrame,
        summary:
            "a text message is not valid UTF-8 (close 1007): binary data sent as text, or a string \
                  encoded with another charset"
                .to_string(),
        codes: c.present(&[Code::InvalidUtf8]),
        packet: c.first_packet(&[Code::InvalidUtf8]).or(first),
        evidence: c.details(&[Code::InvalidUtf8]),
        fix: vec![
            "send binary data in binary frames (or base64 it); encode text as UTF-8".to_string(),
        ],
        hop: None,
    });
}

fn framing_bug(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[
        Code::ReservedOpcode,
        Code::RsvBitsWithoutExtension,
        Code::ControlFrameTooLong,
        Code::FragmentedControlFrame,
        Code::NonMinimalLength,
        Code::LengthMsbSet,
        Code::ContinuationWithoutStart,
        Code::DataFrameDuringFragmentation,
        Code::InvalidCloseCode,
        Code::ClosePayloadLengthOne,
        Code::DataAfterClose,
        Code::UnparseableFrameData,
    ];
    let codes = c.present(CODES);
    if codes.is_empty()
        || out.iter().any(|d| {
            d.cause == Cause::CompressionMismatch && codes == [Code::RsvBitsWithoutExtension]
        })
    {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::FramingViolation,
        summary: "a peer sends frames that break RFC 6455 framing rules: receivers fail it (\"Invalid frame \
                  header\", close 1002)"
            .to_string(),
        packet: c.first_packet(&codes),
        codes,
        evidence: c.details(CODES),
        fix: vec![
            "the frame's direction names the faulty side: upgrade or fix that WebSocket library, or the proxy \
             that re-frames the stream"
                .to_string(),
        ],
        hop: None,
    });
}

/// Causes about the opening handshake: a connection whose handshake failed
/// is explained by them alone, however it was then closed.
const HANDSHAKE_CAUSES: &[Cause] = &[
    Cause::ProxyNotWebsocketAware,
    Cause::HandshakeRefused,
    Cause::HandshakeAnswerBroken,
    Cause::TlsMisplaced,
    Cause::InvalidClientHandshake,
];

fn unclean_close(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let rec = c.rec;
    // RFC 6455 5.5.1: a close frame may have no body; it still closes.
    let closed = c.evidence.closes.c2s.is_some() || c.evidence.closes.s2c.is_some();
    if !rec.websocket || closed || !matches!(rec.end, CloseReason::Rst | CloseReason::Fin) {
        return;
    }
    if out.iter().any(|d| HANDSHAKE_CAUSES.contains(&d.cause)) {
        return;
    }
    let mut evidence = vec![format!(
        "the TCP connection ended by {} without a close frame either way",
        rec.end.as_str().to_uppercase()
    )];
    let idle = rec.last_frame_ts.map(|last| rec.last_ts.secs_since(last));
    if let Some(idle) = idle {
        evidence.push(format!(
            "{idle:.1} s passed between the last frame and the end of the connection"
        ));
    }
    let (summary, fix) = match idle {
        // Cut right away: nothing waited for a timeout.
        Some(idle) if idle < 1.0 => cut_at_once(),
        Some(idle) => cut_after_silence(idle),
        None => (
            "the connection was cut without a WebSocket close (clients see 1006): a proxy or load balancer \
             timeout, a crash, or a network device"
                .to_string(),
            timeout_fix(),
        ),
    };
    out.push(Diagnosis {
        cause: Cause::ClosedWithoutCloseFrame,
        summary,
        codes: Vec::new(),
        packet: rec.end_packet.or(Some(rec.last_packet)),
        evidence,
        fix,
        hop: None,
    });
}

/// The advice for a cut after silence: the idle timeouts on the path.
fn timeout_fix() -> Vec<String> {
    vec![
        "send pings more often than the shortest idle timeout on the path".to_string(),
        "or raise it: nginx `proxy_read_timeout`/`proxy_send_timeout`, HAProxy `timeout tunnel`, Apache \
         `ProxyWebsocketIdleTimeout`/`ProxyTimeout`, the load balancer's idle timeout"
            .to_string(),
    ]
}

fn cut_at_once() -> (String, Vec<String>) {
    (
        "the connection was cut right after its last frame, without a WebSocket close (clients see 1006): a \
         peer or proxy closed TCP instead of sending a close frame (a crash, an error path, an abort)"
            .to_string(),
        vec![
            "look at the side that sent the first FIN or RST (the packet named) at that time: its logs, a \
             crash, an error handler that closes the socket; a clean shutdown sends a close frame first"
                .to_string(),
        ],
    )
}

fn cut_after_silence(idle: f64) -> (String, Vec<String>) {
    let mut summary = format!(
        "the connection was cut after {idle:.0} s of silence, without a WebSocket close (clients see 1006): an \
         idle timeout of about {idle:.0} s on a proxy or load balancer"
    );
    // Common idle timeouts: nginx proxy_read_timeout 60 s, AWS ALB 60 s,
    // Cloudflare 100 s, AWS NLB 350 s, HAProxy as configured.
    for (t, who) in [
        (
            60.0,
            "nginx proxy_read_timeout / AWS ALB idle timeout (60 s)",
        ),
        (100.0, "Cloudflare (100 s)"),
        (350.0, "AWS NLB (350 s)"),
    ] {
        if (idle - t).abs() < 2.0 {
            summary = format!(
                "the connection was cut after {idle:.0} s of silence: the default idle timeout of {who}"
            );
        }
    }
    (summary, timeout_fix())
}

fn not_http_answer(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::HandshakeRejected];
    out.push(Diagnosis {
        cause: Cause::HandshakeRefused,
        summary: "the server answered the upgrade request with bytes that are not HTTP: something other than an \
                  HTTP server listens on this port"
            .to_string(),
        codes: CODES.to_vec(),
        packet: c.first_packet(CODES),
        evidence: c.details(CODES),
        fix: vec![
            "check the URL's host and port against what listens there (and what a proxy forwards to)".to_string(),
        ],
        hop: None,
    });
}

/// RFC 6455 4.1: the client's key and version are checked by the server,
/// which answers 400 when they are wrong; this one let them through (or the
/// refusal is diagnosed by `handshake_refused`).
fn invalid_client_handshake(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::BadWebsocketKey, Code::BadWebsocketVersion];
    let codes = c.present(CODES);
    if codes.is_empty() || out.iter().any(|d| d.cause == Cause::HandshakeRefused) {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::InvalidClientHandshake,
        summary:
            "the upgrade request is malformed (Sec-WebSocket-Key not the base64 of 16 bytes, or \
                  Sec-WebSocket-Version not 13): servers following RFC 6455 refuse it with 400"
                .to_string(),
        packet: c.first_packet(&codes),
        codes,
        evidence: c.details(CODES),
        fix: vec![
            "fix the client (a hand-made handshake, an old library) or the proxy that rewrites \
             Sec-WebSocket-* headers: the key is 16 random bytes in base64, the version 13"
                .to_string(),
        ],
        hop: None,
    });
}

/// RFC 6455 7.4.1 close codes that say the closing side met a failure, with
/// what they mean and what usually causes them.
fn close_code_meaning(code: u16) -> Option<(&'static str, &'static str)> {
    Some(match code {
        1002 => (
            "protocol error",
            "it received a frame that breaks RFC 6455 (the frames before the close show which, when the capture has them)",
        ),
        1003 => (
            "unsupported data",
            "it received a kind of message it does not accept (binary where it takes text only, or the reverse)",
        ),
        1007 => (
            "invalid payload data",
            "a message's data did not match its type (text that is not UTF-8)",
        ),
        1008 => (
            "policy violation",
            "a policy of the application: authentication, an Origin check, a rate limit",
        ),
        1009 => ("message too big", "a message over its size limit"),
        1010 => (
            "mandatory extension",
            "the client expected an extension the server did not negotiate",
        ),
        1011 => (
            "internal error",
            "an exception in the application while handling a message: see its log at that time",
        ),
        1012 => (
            "service restart",
            "the server is restarting: clients should reconnect",
        ),
        1013 => (
            "try again later",
            "the server is overloaded or rate limiting: clients should back off and reconnect",
        ),
        1014 => ("bad gateway", "a proxy or gateway whose upstream failed"),
        _ => return None,
    })
}

/// A side closed with a code saying it met a failure (RFC 6455 7.4.1).
/// 1007 and 1009 have causes of their own; a 1002 answering an error the
/// capture shows is explained by that error's cause.
fn closed_with_error_code(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    let closes = &c.evidence.closes;
    let first = [
        (Dir::ClientToServer, closes.c2s),
        (Dir::ServerToClient, closes.s2c),
    ]
    .into_iter()
    .filter_map(|(d, close)| Some((d, close?, close?.code?)))
    .filter(|&(_, _, code)| close_code_meaning(code).is_some())
    .min_by_key(|&(_, close, _)| close.packet);
    let Some((d, close, code)) = first else {
        return;
    };
    let explained = match code {
        1007 | 1009 => true,
        1002 => c.rec.findings_by_severity.contains(Severity::Error),
        _ => false,
    };
    if explained {
        return;
    }
    let (meaning, usually) = close_code_meaning(code).expect("filtered");
    let who = if d == Dir::ServerToClient {
        "server"
    } else {
        "client"
    };
    out.push(Diagnosis {
        cause: Cause::ClosedWithErrorCode,
        summary: format!("the {who} closed the connection with {code} ({meaning}): {usually}"),
        codes: Vec::new(),
        packet: Some(close.packet),
        evidence: vec![format!(
            "the {who}'s close frame (packet {}) carries {code} ({meaning})",
            close.packet
        )],
        fix: vec![close_code_fix(code).to_string()],
        hop: None,
    });
}

fn close_code_fix(code: u16) -> &'static str {
    match code {
        1011 => {
            "read the closing side's application log at the time of the close frame: the handler failed there"
        }
        1008 => "check the credentials, Origin and policies the closing side enforces",
        1012 | 1013 => {
            "reconnect with backoff; if it persists, look at the server's deployments and load"
        }
        1014 => "look at the proxy's upstream (the backend it could not reach or that failed)",
        1003 => "send the message type the peer accepts",
        1010 => "let the server negotiate the extension the client requires, or stop requiring it",
        _ => {
            "look at what the closing side received just before: its log names the rule it applied"
        }
    }
}

fn conflicting_retransmission(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[Code::RetransmissionConflict];
    if !c.has(CODES[0]) {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::ConflictingRetransmission,
        summary: "a retransmission carried different bytes for the same sequence numbers: the two ends may \
                  have received different streams (an inline device rewriting payloads, injected packets, or \
                  a broken sender)"
            .to_string(),
        codes: CODES.to_vec(),
        packet: c.first_packet(CODES),
        evidence: c.details(CODES),
        fix: vec![
            "capture on both sides of inline devices (IPS, WAN optimiser, proxy) and compare".to_string(),
            "wscap keeps the first bytes seen; the other copy is in the packet named".to_string(),
        ],
        hop: None,
    });
}

fn capture_limits(c: &Conn<'_>, out: &mut Vec<Diagnosis>) {
    const CODES: &[Code] = &[
        Code::CaptureGap,
        Code::TruncatedPayload,
        Code::HandshakeNotCaptured,
    ];
    let codes = c.present(CODES);
    if codes.is_empty() {
        return;
    }
    out.push(Diagnosis {
        cause: Cause::IncompleteCapture,
        summary: "the capture misses part of this connection; findings that depend on the missing bytes cannot be made"
            .to_string(),
        codes,
        packet: c.first_packet(CODES),
        evidence: c.details(CODES),
        fix: vec![
            "capture with a full snaplen (`tcpdump -s 0`), a larger buffer (`-B 16384`) and from before the \
             connection opens"
                .to_string(),
        ],
        hop: None,
    });
}

#[cfg(test)]
mod tests;
