//! HTTP/1.x message heads, as far as a WebSocket opening handshake needs them
//! (RFC 9112 sections 2-5; RFC 6455 section 4).
//!
//! [`HeadReader`] collects one head from a stream pushed in pieces and says
//! where it ended, so the bytes after the blank line (the first frames, when
//! a server writes them in the same segment as its 101) go to the next stage.
//! It keeps at most [`MAX_HEAD`] bytes: a head longer than that is not one a
//! WebSocket peer sends, and the stream is then not treated as HTTP.
//! [`parse_request`] and [`parse_response`] then read the head leniently:
//! LF line ends, obsolete line folding and repeated headers are accepted (as
//! servers in the field accept them) and kept for the validator to judge.
//!
//! Before any of that, `sniff` tells from a few bytes whether a stream or a
//! message is HTTP (or TLS) at all: [`looks_like_request`],
//! [`looks_like_response`], [`looks_like_http`], [`looks_like_tls`]. After a
//! head that is not the upgrade, `body` finds where its body ends
//! ([`BodyReader`]), so the requests of a kept-alive connection can be
//! followed to the one that upgrades. A connection that is TLS from its
//! first byte is read only as far as `tls` needs to say what it is.

mod body;
mod sniff;
pub mod tls;

pub use body::{BodyLen, BodyProgress, BodyReader, request_body, response_body};
pub use sniff::{looks_like_http, looks_like_request, looks_like_response, looks_like_tls};

use std::fmt;

/// Longest head kept, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;

/// Progress of [`HeadReader::push`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// All of the input was taken; the head is not complete yet.
    Partial,
    /// The head is complete; `used` bytes of this input belonged to it.
    Complete { used: usize },
    /// More than [`MAX_HEAD`] bytes without a blank line.
    TooLong,
}

/// Accumulates one message head.
#[derive(Debug, Default)]
pub struct HeadReader {
    buf: Vec<u8>,
}

impl HeadReader {
    pub fn new() -> HeadReader {
        HeadReader::default()
    }

    /// Bytes collected so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Takes the next bytes of the stream.
    pub fn push(&mut self, data: &[u8]) -> Progress {
        let old = self.buf.len();
        let room = MAX_HEAD.saturating_sub(old);
        let take = data.len().min(room);
        self.buf.extend_from_slice(&data[..take]);
        // The terminator may straddle the previous push.
        let from = old.saturating_sub(3);
        match find_head_end(&self.buf[from..]) {
            Some(end) => {
                let end = from + end;
                self.buf.truncate(end);
                Progress::Complete { used: end - old }
            }
            None if take < data.len() || self.buf.len() >= MAX_HEAD => Progress::TooLong,
            None => Progress::Partial,
        }
    }
}

/// End of the head (just past the blank line), accepting CRLF or bare LF.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let rest = &buf[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        if rest.starts_with(b"\n") {
            return Some(nl + 2);
        }
        i = nl + 1;
    }
    None
}

/// An HTTP version as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// Header fields in order, names as sent (compared case-insensitively).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// All values of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of `name` joined as one comma-separated list (RFC 9110
    /// 5.3: repeated fields are equivalent to one with the values joined).
    pub fn get(&self, name: &str) -> Option<String> {
        let mut it = self.all(name).peekable();
        it.peek()?;
        Some(it.collect::<Vec<_>>().join(", "))
    }

    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// Elements of the comma-separated list(s) in `name`, trimmed.
    pub fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.all(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Whether the list in `name` holds `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

/// Why a head could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("malformed request line {0:?}")]
    RequestLine(String),
    #[error("malformed status line {0:?}")]
    StatusLine(String),
    #[error("malformed header line {0:?}")]
    HeaderLine(String),
}

fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_version(v: &[u8]) -> Option<Version> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', maj, b'.', min]
            if maj.is_ascii_digit() && min.is_ascii_digit() =>
        {
            Some(Version {
                major: maj - b'0',
                minor: min - b'0',
            })
        }
        _ => None,
    }
}

/// Header lines until the blank line; obsolete folding (a line starting
/// with SP or HTAB, RFC 9112 5.2) continues the previous value.
fn parse_headers<'a>(mut it: impl Iterator<Item = &'a [u8]>) -> Result<Headers, HeadError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in it.by_ref() {
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            let Some(last) = headers.last_mut() else {
                return Err(HeadError::HeaderLine(text(line)));
            };
            let cont = text(line.trim_ascii());
            if !cont.is_empty() {
                last.1.push(' ');
                last.1.push_str(&cont);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(HeadError::HeaderLine(text(line)));
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(HeadError::HeaderLine(text(line)));
        }
        headers.push((text(name), text(line[colon + 1..].trim_ascii())));
    }
    Ok(Headers(headers))
}

/// Reads a request head (as collected by [`HeadReader`]).
pub fn parse_request(head: &[u8]) -> Result<Request, HeadError> {
    let mut it = lines(head);
    let line = it.next().unwrap_or_default();
    let bad = || HeadError::RequestLine(text(line));
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let version = parse_version(version).ok_or_else(bad)?;
    Ok(Request {
        method: text(method),
        target: text(target),
        version,
        headers: parse_headers(it)?,
    })
}

/// Reads a response head.
pub fn parse_response(head: &[u8]) -> Result<Response, HeadError> {
    let mut it = lines(head);
    let line = it.next().unwrap_or_default();
    let bad = || HeadError::StatusLine(text(line));
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().and_then(parse_version).ok_or_else(bad)?;
    let status = parts
        .next()
        .filter(|s| s.len() == 3 && s.iter().all(u8::is_ascii_digit))
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .ok_or_else(bad)?;
    Ok(Response {
        version,
        status,
        reason: text(parts.next().unwrap_or_default()),
        headers: parse_headers(it)?,
    })
}

/// What a head cut short by the capture's snaplen still shows (the rest
/// of its packet was not captured): the first line as far as it goes, and
/// the header lines that are whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutHead {
    /// The request or status line's words as far as they go.
    pub words: Vec<String>,
    pub headers: Headers,
}

/// Reads the visible part of a cut head; `None` when not even the first
/// word is whole.
pub fn parse_cut_head(bytes: &[u8]) -> Option<CutHead> {
    let line_end = bytes.iter().position(|&b| b == b'\n');
    let first = &bytes[..line_end.unwrap_or(bytes.len())];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let words: Vec<String> = first
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(text)
        .collect();
    if words.len() < 2 {
        return None;
    }
    // Only whole header lines: the last one may be cut mid-value.
    let rest = line_end.map_or(&[][..], |e| &bytes[e + 1..]);
    let whole = rest
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&[][..], |e| &rest[..=e]);
    let headers = parse_headers(lines(whole)).unwrap_or_default();
    Some(CutHead { words, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc6455_opening_request() {
        let mut r = HeadReader::new();
        assert_eq!(r.push(REQ), Progress::Complete { used: REQ.len() });
        let req = parse_request(r.bytes()).unwrap();
        assert_eq!((req.method.as_str(), req.target.as_str()), ("GET", "/chat"));
        assert_eq!(req.version, Version { major: 1, minor: 1 });
        assert!(req.headers.has_token("connection", "upgrade"));
        assert_eq!(
            req.headers.get("SEC-WEBSOCKET-KEY").as_deref(),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        assert_eq!(
            req.headers
                .tokens("Sec-WebSocket-Protocol")
                .collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
    }

    #[test]
    fn head_split_at_every_byte_then_frames() {
        let mut stream = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        let head_len = stream.len();
        stream.extend_from_slice(&[0x89, 0x00]);
        for cut in 0..stream.len() {
            let mut r = HeadReader::new();
            let (a, b) = stream.split_at(cut);
            let total = match r.push(a) {
                Progress::Complete { used } => used,
                Progress::Partial => match r.push(b) {
                    Progress::Complete { used } => a.len() + used,
                    p => panic!("cut {cut}: {p:?}"),
                },
                p => panic!("cut {cut}: {p:?}"),
            };
            assert_eq!(total, head_len, "cut {cut}");
            assert_eq!(parse_response(r.bytes()).unwrap().status, 101);
        }
    }

    #[test]
    fn lf_only_folding_and_repeats() {
        let h = b"HTTP/1.1 101 OK\nConnection: keep-alive\nConnection: Upgrade\nX-Long: a\n  b\n\n";
        let mut r = HeadReader::new();
        assert!(matches!(r.push(h), Progress::Complete { .. }));
        let resp = parse_response(r.bytes()).unwrap();
        assert!(resp.headers.has_token("Connection", "upgrade"));
        assert_eq!(resp.headers.count("connection"), 2);
        assert_eq!(resp.headers.get("x-long").as_deref(), Some("a b"));
    }

    #[test]
    fn too_long_head() {
        let mut r = HeadReader::new();
        let junk = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(r.push(&junk), Progress::TooLong);
    }

    #[test]
    fn malformed_lines() {
        assert!(parse_request(b"GET /\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 1O1 x\r\n\r\n").is_err());
        assert!(parse_request(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").is_err());
        assert_eq!(
            parse_response(b"HTTP/1.0 403 Forbidden\r\n\r\n")
                .unwrap()
                .reason,
            "Forbidden"
        );
    }
}
