//! The opening handshake (RFC 6455 section 4): checks on the upgrade request
//! and its response, and what they negotiated (RFC 7692 for
//! permessage-deflate).

use crate::finding::{Code, Finding};
use crate::http::{Request, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// RFC 6455 section 1.3: the GUID appended to the key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (section 4.2.2 step 5.4).
pub fn accept_for(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    B64.encode(sha.digest().bytes())
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
fn extensions(value: Option<String>) -> Vec<(String, Params)> {
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
    if !h.has_token("Upgrade", "websocket") {
        add(
            Code::UpgradeHeaderMissing,
            match h.get("Upgrade") {
                Some(v) => format!("request Upgrade is {v:?}, expected \"websocket\""),
                None => "the request has no Upgrade header (stripped by a proxy?)".to_string(),
            },
        );
    }
    if !h.has_token("Connection", "upgrade") {
        add(
            Code::ConnectionHeaderMissing,
            match h.get("Connection") {
                Some(v) => {
                    format!("request Connection is {v:?}, expected a list holding \"Upgrade\"")
                }
                None => "the request has no Connection header (stripped by a proxy?)".to_string(),
            },
        );
    }
    match h.get("Sec-WebSocket-Version") {
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
    match h.get("Sec-WebSocket-Key") {
        Some(k) => match B64.decode(k.trim()) {
            Ok(b) if b.len() == 16 => {}
            Ok(b) => add(
                Code::BadWebsocketKey,
                format!(
                    "Sec-WebSocket-Key {k:?} decodes to {} bytes, expected 16",
                    b.len()
                ),
            ),
            Err(_) => add(
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

/// Checks a 101 response against its request (section 4.1, client
/// requirements for the server's handshake, 1-6) and returns what it
/// negotiated.
pub fn check_response(req: &Request, resp: &Response, packet: u64) -> (Vec<Finding>, Negotiated) {
    let h = &resp.headers;
    let mut out = Vec::new();
    let mut add = |code, detail: String| out.push(Finding::new(code, detail).at(packet));
    if !h.has_token("Upgrade", "websocket") {
        add(
            Code::UpgradeHeaderMissing,
            match h.get("Upgrade") {
                Some(v) => format!("101 response Upgrade is {v:?}, expected \"websocket\""),
                None => "the 101 response has no Upgrade header".to_string(),
            },
        );
    }
    if !h.has_token("Connection", "upgrade") {
        add(
            Code::ConnectionHeaderMissing,
            match h.get("Connection") {
                Some(v) => format!("101 response Connection is {v:?}, expected \"Upgrade\""),
                None => "the 101 response has no Connection header".to_string(),
            },
        );
    }
    let mut accept_ok = None;
    if let Some(key) = req.headers.get("Sec-WebSocket-Key") {
        let expected = accept_for(key.trim());
        let found = h.get("Sec-WebSocket-Accept");
        accept_ok = Some(found.as_deref().is_some_and(|f| f.trim() == expected));
        match found {
            Some(found) if found.trim() == expected => {}
            Some(found) => add(
                Code::BadAcceptKey,
                format!("expected={expected}, found={}", found.trim()),
            ),
            None => add(
                Code::BadAcceptKey,
                format!("expected={expected}, found no Sec-WebSocket-Accept"),
            ),
        }
    }

    let mut neg = Negotiated {
        accept_ok,
        ..Negotiated::default()
    };
    let offered = extensions(req.headers.get("Sec-WebSocket-Extensions"));
    for (name, params) in extensions(h.get("Sec-WebSocket-Extensions")) {
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
    if let Some(proto) = h.get("Sec-WebSocket-Protocol") {
        let proto = proto.trim().to_string();
        if !req
            .headers
            .tokens("Sec-WebSocket-Protocol")
            .any(|p| p == proto)
        {
            add(
                Code::SubprotocolNotOffered,
                format!("the server chose subprotocol {proto:?}, which the client did not offer"),
            );
        }
        neg.subprotocol = Some(proto);
    }
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
        let r = resp("")
            .headers
            .0
            .into_iter()
            .filter(|(n, _)| n != "Sec-WebSocket-Accept");
        let mut resp2 = resp("");
        resp2.headers.0 = r.collect();
        resp2
            .headers
            .0
            .push(("Sec-WebSocket-Accept".into(), "wrong=".into()));
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
