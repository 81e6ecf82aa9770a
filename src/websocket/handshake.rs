//! The opening handshake (RFC 6455 section 4): checks on the upgrade request
//! and its response, and what they negotiated (RFC 7692 for
//! permessage-deflate).

use crate::finding::{Code, Finding};
use crate::http::{Field, Headers, Request, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::{DecodeSliceError, Engine};
use sha1::Digest;

/// RFC 6455 section 1.3: the GUID appended to the key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Length of a `Sec-WebSocket-Accept`: a SHA-1 digest (20 bytes) in base64.
const ACCEPT_LEN: usize = 28;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (section 4.2.2 step 5.4).
pub fn accept_for(key: &str) -> String {
    accept_b64(key).iter().copied().map(char::from).collect()
}

/// [`accept_for`] as its base64 characters, without allocating: every
/// handshake computes one.
fn accept_b64(key: &str) -> [u8; ACCEPT_LEN] {
    let mut sha = sha1::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    let mut out = [0; ACCEPT_LEN];
    let written = B64.encode_slice(sha.finalize(), &mut out);
    debug_assert_eq!(written, Ok(ACCEPT_LEN));
    out
}

/// How many bytes a `Sec-WebSocket-Key` decodes to, if it is base64.
fn key_len(key: &str) -> Option<usize> {
    // A key of the right length (24 characters) decodes on the stack; a
    // longer one, a mistake anyway, on the heap.
    let mut buf = [0; 18];
    match B64.decode_slice(key, &mut buf) {
        Ok(n) => Some(n),
        Err(DecodeSliceError::OutputSliceTooSmall) => B64.decode(key).ok().map(|b| b.len()),
        Err(DecodeSliceError::DecodeError(_)) => None,
    }
}

/// permessage-deflate parameters (RFC 7692 section 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deflate {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// LZ77 window bits (8-15) each side compresses with.
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

/// What the handshake settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    pub deflate: Option<Deflate>,
    pub subprotocol: Option<String>,
    /// Extension names the server accepted, in order.
    pub extensions: Vec<String>,
    /// Sec-WebSocket-Accept matched the key; `None` without a key.
    pub accept_ok: Option<bool>,
}

/// An extension's parameters: `name` or `name=value`, names lowercased.
type Params = Vec<(String, Option<String>)>;

/// Extension offers or choices: `name; param=value; flag, name2`.
fn extensions(value: Option<&str>) -> Vec<(String, Params)> {
    let Some(v) = value else { return Vec::new() };
    v.split(',')
        .filter_map(|ext| {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?.to_ascii_lowercase();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        Some(v.trim().trim_matches('"').to_string()),
                    ),
                    None => (p.to_ascii_lowercase(), None),
                })
                .collect();
            Some((name, params))
        })
        .collect()
}

fn deflate_params(params: &[(String, Option<String>)]) -> Deflate {
    let bits = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref()?.parse::<u8>().ok())
            .filter(|b| (8..=15).contains(b))
            .unwrap_or(15)
    };
    let flag = |name: &str| params.iter().any(|(k, _)| k == name);
    Deflate {
        server_no_context_takeover: flag("server_no_context_takeover"),
        client_no_context_takeover: flag("client_no_context_takeover"),
        server_max_window_bits: bits("server_max_window_bits"),
        client_max_window_bits: bits("client_max_window_bits"),
    }
}

/// Checks the client's upgrade request (section 4.1, client requirements 2-9).
pub fn check_request(req: &Request, packet: u64) -> Vec<Finding> {
    let h = &req.headers;
    let mut out = Vec::new();
    let mut add = |code, detail: String| out.push(Finding::new(code, detail).at(packet));
    if (req.version.major, req.version.minor) < (1, 1) {
        add(
            Code::Http10Upgrade,
            format!(
                "the upgrade request is {} (\"{} {}\"): the hop before the server does not speak HTTP/1.1 upgrades",
                req.version, req.method, req.target
            ),
        );
    }
    if !h.has_token(Field::Upgrade, "websocket") {
        add(
            Code::UpgradeHeaderMissing,
            match h.get(Field::Upgrade) {
                Some(v) => format!("request Upgrade is {v:?}, expected \"websocket\""),
                None => "the request has no Upgrade header (stripped by a proxy?)".to_string(),
            },
        );
    }
    if !h.has_token(Field::Connection, "upgrade") {
        add(
            Code::ConnectionHeaderMissing,
            match h.get(Field::Connection) {
                Some(v) => {
                    format!("request Connection is {v:?}, expected a list holding \"Upgrade\"")
                }
                None => "the request has no Connection header (stripped by a proxy?)".to_string(),
            },
        );
    }
    match h.get(Field::SecWebSocketVersion) {
        Some(v) if v.trim() == "13" => {}
        Some(v) => add(
            Code::BadWebsocketVersion,
            format!("Sec-WebSocket-Version is {v:?}, expected \"13\""),
        ),
        None => add(
            Code::BadWebsocketVersion,
            "the request has no Sec-WebSocket-Version".to_string(),
        ),
    }
    match h.get(Field::SecWebSocketKey) {
        Some(k) => match key_len(k.trim()) {
            Some(16) => {}
            Some(n) => add(
                Code::BadWebsocketKey,
                format!("Sec-WebSocket-Key {k:?} decodes to {n} bytes, expected 16"),
            ),
            None => add(
                Code::BadWebsocketKey,
                format!("Sec-WebSocket-Key {k:?} is not base64"),
            ),
        },
        None => add(
            Code::BadWebsocketKey,
            "the request has no Sec-WebSocket-Key".to_string(),
        ),
    }
    out
}

/// Whether the response's `Sec-WebSocket-Accept` is the one for `key`
/// (section 4.1, client requirement 4 for the server's handshake); a
/// finding naming both when not.
fn check_accept(key: &str, h: &Headers, add: &mut impl FnMut(Code, String)) -> bool {
    let expected = accept_b64(key.trim());
    let found = h.get(Field::SecWebSocketAccept);
    let ok = found
        .as_deref()
        .is_some_and(|f| f.trim().as_bytes() == expected);
    if !ok {
        let expected = String::from_utf8_lossy(&expected);
        add(
            Code::BadAcceptKey,
            match found {
                Some(found) => format!("expected={expected}, found={}", found.trim()),
                None => format!("expected={expected}, found no Sec-WebSocket-Accept"),
            },
        );
    }
    ok
}

/// What a server's answer chose, checked against what the client offered
/// (RFC 6455 4.1, the client's checks 5 and 6; RFC 7692 5): its
/// extensions (`chosen_ext`, against `offered_ext`) and subprotocol (one
/// the client offered, `offers` tells). Also for WebSocket over HTTP/2
/// (RFC 8441 5), whose handshake has the same two headers.
pub fn negotiate(
    offered_ext: Option<&str>,
    offers: impl Fn(&str) -> bool,
    chosen_ext: Option<&str>,
    chosen_protocol: Option<&str>,
    add: &mut impl FnMut(Code, String),
) -> Negotiated {
    let mut neg = Negotiated::default();
    let offered = extensions(offered_ext);
    for (name, params) in extensions(chosen_ext) {
        if !offered.iter().any(|(n, _)| *n == name) {
            add(
                Code::ExtensionNotOffered,
                format!("the server chose extension {name:?}, which the client did not offer"),
            );
        }
        if name == "permessage-deflate" {
            neg.deflate = Some(deflate_params(&params));
        }
        neg.extensions.push(name);
    }
    if let Some(proto) = chosen_protocol {
        let proto = proto.trim().to_string();
        if !offers(&proto) {
            add(
                Code::SubprotocolNotOffered,
                format!("the server chose subprotocol {proto:?}, which the client did not offer"),
            );
        }
        neg.subprotocol = Some(proto);
    }
    neg
}

/// Checks a 101 response against its request (section 4.1, client
/// requirements for the server's handshake, 1-6) and returns what it
/// negotiated.
pub fn check_response(req: &Request, resp: &Response, packet: u64) -> (Vec<Finding>, Negotiated) {
    let h = &resp.headers;
    let mut out = Vec::new();
    let mut add = |code, detail: String| out.push(Finding::new(code, detail).at(packet));
    if !h.has_token(Field::Upgrade, "websocket") {
        add(
            Code::UpgradeHeaderMissing,
            match h.get(Field::Upgrade) {
                Some(v) => format!("101 response Upgrade is {v:?}, expected \"websocket\""),
                None => "the 101 response has no Upgrade header".to_string(),
            },
        );
    }
    if !h.has_token(Field::Connection, "upgrade") {
        add(
            Code::ConnectionHeaderMissing,
            match h.get(Field::Connection) {
                Some(v) => format!("101 response Connection is {v:?}, expected \"Upgrade\""),
                None => "the 101 response has no Connection header".to_string(),
            },
        );
    }
    let accept_ok = req
        .headers
        .get(Field::SecWebSocketKey)
        .map(|key| check_accept(&key, h, &mut add));
    let offers = |p: &str| {
        req.headers
            .tokens(Field::SecWebSocketProtocol)
            .any(|o| o == p)
    };
    let mut neg = negotiate(
        req.headers.get(Field::SecWebSocketExtensions).as_deref(),
        offers,
        h.get(Field::SecWebSocketExtensions).as_deref(),
        h.get(Field::SecWebSocketProtocol).as_deref(),
        &mut add,
    );
    neg.accept_ok = accept_ok;
    (out, neg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_request, parse_response};

    fn req(extra: &str) -> Request {
        let text = format!(
            "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        parse_request(text.as_bytes()).unwrap()
    }

    fn resp(extra: &str) -> Response {
        let text = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        );
        parse_response(text.as_bytes()).unwrap()
    }

    fn codes(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.code.name()).collect()
    }

    #[test]
    fn rfc_sample_key() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn key_lengths() {
        assert_eq!(key_len("dGhlIHNhbXBsZSBub25jZQ=="), Some(16));
        assert_eq!(key_len("AAAA"), Some(3));
        assert_eq!(key_len(""), Some(0));
        // Longer than the stack buffer: decoded all the same.
        assert_eq!(key_len(&"QUFB".repeat(40)), Some(120));
        assert_eq!(key_len("not base64!"), None);
        assert_eq!(key_len(&format!("{}!", "QUFB".repeat(40))), None);
    }

    #[test]
    fn clean_handshake() {
        assert!(check_request(&req(""), 1).is_empty());
        let (f, n) = check_response(&req(""), &resp(""), 2);
        assert!(f.is_empty());
        assert_eq!(
            n,
            Negotiated {
                accept_ok: Some(true),
                ..Negotiated::default()
            }
        );
    }

    #[test]
    fn request_problems() {
        let r = parse_request(
            b"GET / HTTP/1.0\r\nHost: x\r\nSec-WebSocket-Key: AAAA\r\nSec-WebSocket-Version: 8\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            codes(&check_request(&r, 1)),
            [
                "http_1_0_upgrade",
                "upgrade_header_missing",
                "connection_header_missing",
                "bad_websocket_version",
                "bad_websocket_key"
            ]
        );
    }

    #[test]
    fn accept_mismatch_names_both() {
        let resp2 = parse_response(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: wrong=\r\n\r\n",
        )
        .unwrap();
        let (f, _) = check_response(&req(""), &resp2, 3);
        assert_eq!(codes(&f), ["bad_accept_key"]);
        assert_eq!(
            f[0].detail,
            "expected=s3pPLMBiTxaQ9kYGzzhZRbK+xOo=, found=wrong="
        );
        assert_eq!(f[0].packet, Some(3));
    }

    #[test]
    fn negotiation() {
        let (f, n) = check_response(
            &req(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: chat, v2\r\n",
            ),
            &resp(
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\nSec-WebSocket-Protocol: v2\r\n",
            ),
            2,
        );
        assert!(f.is_empty());
        assert_eq!(
            n.deflate,
            Some(Deflate {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 10
            })
        );
        assert_eq!(n.subprotocol.as_deref(), Some("v2"));
    }

    #[test]
    fn choices_not_offered() {
        let (f, _) = check_response(
            &req(""),
            &resp(
                "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Protocol: chat\r\n",
            ),
            2,
        );
        assert_eq!(
            codes(&f),
            ["extension_not_offered", "subprotocol_not_offered"]
        );
    }
}
