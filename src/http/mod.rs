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

use crate::text::Text;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

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

    /// The bytes collected, the reader left empty: a complete head's, to
    /// be parsed without a copy.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
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
    while let Some(p) = find_byte(&buf[i..], b'\n') {
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

/// Index of the first `needle` in `hay`, looked for eight bytes at a time:
/// a head is scanned for its line ends twice (for where it ends, and for
/// its lines), which byte by byte was the larger part of reading it.
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let (words, tail) = hay.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        // The bytes equal to the needle are those that XOR to zero. A zero
        // byte borrows in `x - ONES`, setting its high bit where `x` had
        // none; borrows carry only upwards, so the lowest flagged byte (the
        // first in memory, little-endian) is a real match.
        let x = u64::from_le_bytes(*word) ^ (ONES * u64::from(needle));
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(i * 8 + (zero.trailing_zeros() / 8) as usize);
        }
    }
    let at = hay.len() - tail.len();
    tail.iter().position(|&b| b == needle).map(|i| at + i)
}

/// An HTTP version as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    /// As sent ("HTTP/1.1"), as Display writes it but without the
    /// formatting machinery: every handshake records two.
    pub fn text(self) -> Text {
        if self.major > 9 || self.minor > 9 {
            return self.to_string().into();
        }
        let mut text = *b"HTTP/0.0";
        text[5] += self.major;
        text[7] += self.minor;
        // ASCII digits: always UTF-8.
        Text::from_utf8(text).unwrap_or_default()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// A header field the analysis reads. Each field line's name is matched
/// against these once, when the head is parsed, so that a lookup (a
/// handshake is looked up some twenty times) compares a tag, not a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Host,
    Origin,
    Upgrade,
    Connection,
    SecWebSocketKey,
    SecWebSocketVersion,
    SecWebSocketProtocol,
    SecWebSocketExtensions,
    SecWebSocketAccept,
    TransferEncoding,
    ContentLength,
    UserAgent,
}

impl Field {
    /// Each field and its name as the RFCs spell it, in declaration order
    /// (so that `NAMES[f as usize]` is `f`'s).
    const COUNT: usize = 12;

    const NAMES: [(Field, &'static str); Field::COUNT] = [
        (Field::Host, "Host"),
        (Field::Origin, "Origin"),
        (Field::Upgrade, "Upgrade"),
        (Field::Connection, "Connection"),
        (Field::SecWebSocketKey, "Sec-WebSocket-Key"),
        (Field::SecWebSocketVersion, "Sec-WebSocket-Version"),
        (Field::SecWebSocketProtocol, "Sec-WebSocket-Protocol"),
        (Field::SecWebSocketExtensions, "Sec-WebSocket-Extensions"),
        (Field::SecWebSocketAccept, "Sec-WebSocket-Accept"),
        (Field::TransferEncoding, "Transfer-Encoding"),
        (Field::ContentLength, "Content-Length"),
        (Field::UserAgent, "User-Agent"),
    ];

    pub fn name(self) -> &'static str {
        Field::NAMES[self as usize].1
    }

    /// The field called `name` (compared case-insensitively), if it is one
    /// of these.
    pub fn of(name: &str) -> Option<Field> {
        let (field, _) = Field::NAMES.iter().find(|(_, known)| {
            // Most senders spell names as the RFCs do: an exact comparison
            // settles those for less than a case-insensitive one.
            known.len() == name.len() && (*known == name || known.eq_ignore_ascii_case(name))
        })?;
        Some(*field)
    }
}

/// A header name to look up: one of the [`Field`]s, or any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name<'a> {
    Known(Field),
    Other(&'a str),
}

impl From<Field> for Name<'_> {
    fn from(f: Field) -> Self {
        Name::Known(f)
    }
}

impl<'a> From<&'a str> for Name<'a> {
    fn from(name: &'a str) -> Self {
        Field::of(name).map_or(Name::Other(name), Name::Known)
    }
}

/// One field line: where its name and value are in the head's text, and
/// which [`Field`] it is. Offsets as `u32`: a head is at most
/// [`MAX_HEAD`] bytes, and a line is looked at for every lookup.
#[derive(Clone, Copy, Debug)]
struct Line {
    name: Span,
    value: Span,
    field: Option<Field>,
}

/// Where some text is in a head's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(r: Range<usize>) -> Span {
        let at = |i: usize| u32::try_from(i).expect("a head shorter than 4 GiB");
        Span {
            start: at(r.start),
            end: at(r.end),
        }
    }

    fn of(self, text: &str) -> &str {
        &text[self.start as usize..self.end as usize]
    }
}

/// Header fields in order, names as sent (compared case-insensitively).
/// The head's text is kept once, as read; each field points into it. A
/// value continued on obsolete folded lines is joined at the end of the
/// text, past the head.
///
/// Each [`Field`] is indexed as the head is read: a handshake is looked up
/// some thirty times, each a step to one line instead of a walk past all.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    text: String,
    lines: Vec<Line>,
    /// For each [`Field`], 1 + the index of its first line; 0 when absent.
    first: [u16; Field::COUNT],
    /// The [`Field`]s sent on more than one line (a bit each).
    repeated: u16,
}

/// Equal when the same fields are there in the same order, however the
/// lines were spaced.
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl Headers {
    /// Reads the header lines of `text` from offset `from` until the blank
    /// line; obsolete folding (a line starting with SP or HTAB, RFC 9112
    /// 5.2) continues the previous value.
    fn parse(mut text: String, from: usize) -> Result<Headers, HeadError> {
        let head_end = text.len();
        let mut h = Headers {
            // A handshake has about ten fields: room for them from the start.
            lines: Vec::with_capacity(16),
            ..Headers::default()
        };
        let mut at = from;
        while at <= head_end {
            let span = line_at(text.as_bytes(), at, head_end);
            at = span.next;
            let line = &text[span.line.clone()];
            let bad = || HeadError::HeaderLine(line.to_string());
            match line.as_bytes() {
                [] => break,
                [b' ' | b'\t', ..] => {
                    let last = h.lines.last_mut().ok_or_else(bad)?;
                    let cont = trim_span(&text, span.line);
                    if !cont.is_empty() {
                        last.value = fold(&mut text, head_end, last.value, cont);
                    }
                }
                bytes => {
                    // The name ends at the colon and holds no whitespace.
                    let end = bytes
                        .iter()
                        .position(|&b| b == b':' || b.is_ascii_whitespace());
                    let colon = end.filter(|&i| i > 0 && bytes[i] == b':').ok_or_else(bad)?;
                    let name = span.line.start..span.line.start + colon;
                    let field = Field::of(&text[name.clone()]);
                    let value = trim_span(&text, name.end + 1..span.line.end);
                    h.push(Line {
                        name: Span::new(name),
                        value: Span::new(value),
                        field,
                    });
                }
            }
        }
        h.text = text;
        Ok(h)
    }

    fn push(&mut self, line: Line) {
        if let Some(f) = line.field {
            let first = &mut self.first[f as usize];
            if *first == 0 {
                // At most MAX_HEAD / 3 lines: their number fits.
                *first = u16::try_from(self.lines.len() + 1).unwrap_or(u16::MAX);
            } else {
                self.repeated |= 1 << f as u16;
            }
        }
        self.lines.push(line);
    }

    /// The one line of `f` when it was sent once; `Err` when it was sent
    /// on several lines (the lookup then walks them all).
    fn single(&self, f: Field) -> Result<Option<&Line>, ()> {
        if self.repeated & (1 << f as u16) != 0 {
            return Err(());
        }
        Ok(match self.first[f as usize] {
            0 => None,
            i => self.lines.get(usize::from(i) - 1),
        })
    }

    fn value(&self, line: &Line) -> &str {
        line.value.of(&self.text)
    }

    /// The fields as (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.lines
            .iter()
            .map(|l| (l.name.of(&self.text), self.value(l)))
    }

    /// All values of `name`, in order.
    pub fn all<'a>(&'a self, name: impl Into<Name<'a>>) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.into();
        self.lines
            .iter()
            .filter(move |l| match name {
                Name::Known(f) => l.field == Some(f),
                Name::Other(n) => l.name.of(&self.text).eq_ignore_ascii_case(n),
            })
            .map(|l| self.value(l))
    }

    /// The values of `name` joined as one comma-separated list (RFC 9110
    /// 5.3: repeated fields are equivalent to one with the values joined);
    /// borrowed when the field is there once, as it nearly always is.
    pub fn get<'a>(&'a self, name: impl Into<Name<'a>>) -> Option<Cow<'a, str>> {
        let name = name.into();
        if let Name::Known(f) = name
            && let Ok(line) = self.single(f)
        {
            return line.map(|l| Cow::Borrowed(self.value(l)));
        }
        let mut it = self.all(name);
        let first = it.next()?;
        let Some(second) = it.next() else {
            return Some(Cow::Borrowed(first));
        };
        let mut joined = format!("{first}, {second}");
        for v in it {
            joined.push_str(", ");
            joined.push_str(v);
        }
        Some(Cow::Owned(joined))
    }

    pub fn count<'a>(&'a self, name: impl Into<Name<'a>>) -> usize {
        let name = name.into();
        if let Name::Known(f) = name
            && let Ok(line) = self.single(f)
        {
            return usize::from(line.is_some());
        }
        self.all(name).count()
    }

    /// Elements of the comma-separated list(s) in `name`, trimmed.
    pub fn tokens<'a>(&'a self, name: impl Into<Name<'a>>) -> impl Iterator<Item = &'a str> + 'a {
        self.all(name).flat_map(list_elements)
    }

    /// Whether the list in `name` holds `token` (case-insensitive).
    pub fn has_token<'a>(&'a self, name: impl Into<Name<'a>>, token: &str) -> bool {
        let name = name.into();
        let holds = |v: &str| list_elements(v).any(|t| t.eq_ignore_ascii_case(token));
        if let Name::Known(f) = name
            && let Ok(line) = self.single(f)
        {
            return line.is_some_and(|l| holds(self.value(l)));
        }
        self.all(name).any(holds)
    }
}

/// A line of a head: where it is (its CR, if any, left out), and where the
/// next one starts.
struct LineAt {
    line: Range<usize>,
    next: usize,
}

/// The line of `text[..end]` starting at `at`.
fn line_at(text: &[u8], at: usize, end: usize) -> LineAt {
    let lf = find_byte(&text[at..end], b'\n');
    let stop = lf.map_or(end, |i| at + i);
    let line = match text[at..stop] {
        [.., b'\r'] => at..stop - 1,
        _ => at..stop,
    };
    LineAt {
        line,
        next: stop + 1,
    }
}

/// `value` continued by `cont` (both in `text`, whose head ends at
/// `head_end`): the two joined by a space past the head. A value continued
/// before is already the last thing there (only the last line can be
/// continued) and grows in place, so a head of many folded lines costs its
/// length once more, not its square.
fn fold(text: &mut String, head_end: usize, value: Span, cont: Range<usize>) -> Span {
    let value = value.start as usize..value.end as usize;
    let start = if value.start >= head_end {
        value.start
    } else {
        let start = text.len();
        text.extend_from_within(value);
        start
    };
    text.push(' ');
    text.extend_from_within(cont);
    Span::new(start..text.len())
}

/// The elements of a comma-separated list (RFC 9110 5.6.1), trimmed, the
/// empty ones left out.
fn list_elements(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(list);
    std::iter::from_fn(move || {
        loop {
            let s = rest?;
            // Split at the byte: a char pattern's search costs more than a
            // short value.
            let (item, more) = match s.bytes().position(|b| b == b',') {
                Some(comma) => (&s[..comma], Some(&s[comma + 1..])),
                None => (s, None),
            };
            rest = more;
            let item = item.trim();
            if !item.is_empty() {
                return Some(item);
            }
        }
    })
}

/// `span` of `text` without the ASCII whitespace at either end.
fn trim_span(text: &str, span: Range<usize>) -> Range<usize> {
    let s = &text[span.clone()];
    let start = span.start + (s.len() - s.trim_ascii_start().len());
    let end = span.end - (s.len() - s.trim_ascii_end().len());
    start..end.max(start)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Text,
    pub target: Text,
    pub version: Version,
    pub headers: Headers,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub version: Version,
    pub status: u16,
    pub reason: Text,
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_version(v: &str) -> Option<Version> {
    match v.as_bytes() {
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

/// The words of a line between spaces, runs of spaces counting as one.
fn words(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        let start = rest.bytes().position(|b| b != b' ')?;
        let word = &rest[start..];
        let end = word.bytes().position(|b| b == b' ').unwrap_or(word.len());
        rest = &word[end..];
        Some(&word[..end])
    })
}

/// `s` up to its first space, and what follows that space if there is one.
fn split_at_space(s: &str) -> (&str, Option<&str>) {
    match s.bytes().position(|b| b == b' ') {
        Some(sp) => (&s[..sp], Some(&s[sp + 1..])),
        None => (s, None),
    }
}

/// A head as text: the checks are all on ASCII bytes, which a lossy
/// conversion (of bytes that are not UTF-8) leaves where they were. The
/// bytes become the text as they are when they are UTF-8.
fn head_text(head: Vec<u8>) -> String {
    String::from_utf8(head).unwrap_or_else(|e| text(e.as_bytes()))
}

/// Where a head's first line is (its CR left out), and where its header
/// lines start.
fn first_line(text: &str) -> (Range<usize>, usize) {
    let at = line_at(text.as_bytes(), 0, text.len());
    (at.line, at.next.min(text.len()))
}

/// Reads a request head (as collected by [`HeadReader`]); the head's
/// bytes, when given as a `Vec`, become the headers' text.
pub fn parse_request(head: impl Into<Vec<u8>>) -> Result<Request, HeadError> {
    let text = head_text(head.into());
    let (line, from) = first_line(&text);
    let (method, target, version) = {
        let line = &text[line];
        let bad = || HeadError::RequestLine(line.to_string());
        let mut parts = words(line);
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let version = parse_version(version).ok_or_else(bad)?;
        (method.into(), target.into(), version)
    };
    Ok(Request {
        method,
        target,
        version,
        headers: Headers::parse(text, from)?,
    })
}

/// Reads a response head, as [`parse_request`] a request's.
pub fn parse_response(head: impl Into<Vec<u8>>) -> Result<Response, HeadError> {
    let text = head_text(head.into());
    let (line, from) = first_line(&text);
    let line = &text[line];
    let bad = || HeadError::StatusLine(line.to_string());
    // HTTP-version SP status-code SP reason-phrase (RFC 9112 4).
    let (version, rest) = split_at_space(line);
    let (status, reason) = split_at_space(rest.ok_or_else(bad)?);
    let version = parse_version(version).ok_or_else(bad)?;
    let status = Some(status)
        .filter(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let reason = reason.unwrap_or_default().into();
    Ok(Response {
        version,
        status,
        reason,
        headers: Headers::parse(text, from)?,
    })
}

/// What a head cut short by the capture's snaplen still shows (the rest
/// of its packet was not captured): the first line as far as it goes, and
/// the header lines that are whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutHead {
    /// The request or status line's words as far as they go.
    pub words: Vec<Text>,
    pub headers: Headers,
}

/// Reads the visible part of a cut head; `None` when not even the first
/// word is whole.
pub fn parse_cut_head(bytes: &[u8]) -> Option<CutHead> {
    let line_end = bytes.iter().position(|&b| b == b'\n');
    let first = &bytes[..line_end.unwrap_or(bytes.len())];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let words: Vec<Text> = first
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| Text::from(text(w)))
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
    let headers = Headers::parse(text(whole), 0).unwrap_or_default();
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
    fn folded_values_joined_past_the_head() {
        let head = b"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\tc\r\nX-B:\r\n d\r\nHost: h\r\n\r\n";
        let req = parse_request(&head[..]).unwrap();
        let h = &req.headers;
        assert_eq!(h.get("x-a").as_deref(), Some("a b c"));
        assert_eq!(h.get("X-B").as_deref(), Some(" d"));
        assert_eq!(h.get(Field::Host).as_deref(), Some("h"));
        // Many folded lines: the joined value is made once, in place.
        let mut long = b"GET / HTTP/1.1\r\nX-Long: v\r\n".to_vec();
        for _ in 0..2000 {
            long.extend_from_slice(b" w\r\n");
        }
        long.extend_from_slice(b"\r\n");
        let req = parse_request(long.clone()).unwrap();
        let value = req.headers.get("x-long").unwrap();
        assert_eq!(value.len(), 1 + 2 * 2000);
        assert!(req.headers.text.len() < 2 * long.len());
    }

    #[test]
    fn known_fields_indexed_once_or_repeated() {
        let req = parse_request(
            &b"GET / HTTP/1.1\r\nConnection: a\r\nUpgrade: websocket\r\nconnection: b, Upgrade\r\n\r\n"[..],
        )
        .unwrap();
        let h = &req.headers;
        assert_eq!(h.get(Field::Connection).as_deref(), Some("a, b, Upgrade"));
        assert_eq!(h.count(Field::Connection), 2);
        assert!(h.has_token(Field::Connection, "upgrade"));
        assert_eq!(h.count(Field::Upgrade), 1);
        assert!(h.has_token(Field::Upgrade, "WebSocket"));
        assert_eq!(h.count(Field::Origin), 0);
        assert_eq!(h.get(Field::Origin), None);
        assert!(!h.has_token(Field::Origin, "x"));
    }

    #[test]
    fn fields_known_in_any_case() {
        for (i, (f, name)) in Field::NAMES.into_iter().enumerate() {
            assert_eq!(f as usize, i);
            assert_eq!(f.name(), name);
            assert_eq!(Field::of(f.name()), Some(f));
            assert_eq!(Field::of(&f.name().to_ascii_lowercase()), Some(f));
            assert_eq!(Field::of(&f.name().to_ascii_uppercase()), Some(f));
            assert_eq!(Field::of(&f.name()[1..]), None);
        }
        assert_eq!(Field::of("Referer"), None);
        assert_eq!(Field::of(""), None);
    }

    #[test]
    fn lookups_borrow_unless_repeated() {
        let resp = parse_response(
            b"HTTP/1.1 101 OK\r\nUpgrade:websocket \r\nX-A: 1\r\nx-a:  2\r\nConnection: a, ,b\r\n\r\n",
        )
        .unwrap();
        let h = &resp.headers;
        assert!(matches!(
            h.get(Field::Upgrade),
            Some(Cow::Borrowed("websocket"))
        ));
        assert!(matches!(h.get("X-A"), Some(Cow::Owned(v)) if v == "1, 2"));
        assert_eq!(h.get(Field::Origin), None);
        assert_eq!(h.count("x-A"), 2);
        assert_eq!(h.tokens(Field::Connection).collect::<Vec<_>>(), ["a", "b"]);
        assert!(h.has_token("connection", "B"));
        assert!(!h.has_token(Field::Connection, ""));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [
                ("Upgrade", "websocket"),
                ("X-A", "1"),
                ("x-a", "2"),
                ("Connection", "a, ,b")
            ]
        );
    }

    #[test]
    fn headers_equal_however_spaced() {
        let a = parse_request(b"GET / HTTP/1.1\r\nHost:x\r\n\r\n").unwrap();
        let b = parse_request(b"GET /other HTTP/1.0\nHost:   x\n\n").unwrap();
        assert_eq!(a.headers, b.headers);
        let c = parse_request(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        assert_ne!(a.headers, c.headers);
    }

    #[test]
    fn list_elements_trimmed_and_non_empty() {
        let items = |s| list_elements(s).collect::<Vec<_>>();
        assert_eq!(items(" a ,b,, \u{a0}c\u{3000} ,"), ["a", "b", "c"]);
        assert_eq!(items(""), [] as [&str; 0]);
        assert_eq!(items(" , "), [] as [&str; 0]);
        assert_eq!(items("é,ü"), ["é", "ü"]);
    }

    #[test]
    fn lines_drop_one_cr() {
        let text = b"a\r\nb\n\r\r\nc";
        let mut lines: Vec<&[u8]> = Vec::new();
        let mut at = 0;
        while at <= text.len() {
            let l = line_at(text, at, text.len());
            lines.push(&text[l.line]);
            at = l.next;
        }
        assert_eq!(lines, [&b"a"[..], b"b", b"\r", b"c"]);
        assert_eq!(line_at(b"", 0, 0).line, 0..0);
        let x = line_at(b"x\n", 0, 2);
        assert_eq!((x.line, x.next), (0..1, 2));
        assert_eq!(line_at(b"x\n", 2, 2).line, 2..2);
    }

    #[test]
    fn not_utf8_read_lossily() {
        let req = parse_request(b"GET /\xff HTTP/1.1\r\nX-\xe2\x82: \xe2\x82 v\r\n\r\n").unwrap();
        assert_eq!(req.target, "/\u{fffd}");
        assert_eq!(req.headers.get("X-\u{fffd}").as_deref(), Some("\u{fffd} v"));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nbad\xff line\r\n\r\n"),
            Err(HeadError::HeaderLine("bad\u{fffd} line".into()))
        );
    }

    #[test]
    fn find_byte_as_position() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut hay = Vec::new();
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct bytes, so that matches and near-misses (bytes
            // one off the needle, which borrow) come often.
            hay.push(b'\n' - 1 + (x % 4) as u8);
            let from = (x >> 32) as usize % hay.len();
            for needle in [b'\n' - 1, b'\n', b'\n' + 1, 0, 0xff] {
                let want = hay[from..].iter().position(|&b| b == needle);
                assert_eq!(find_byte(&hay[from..], needle), want, "{:?}", &hay[from..]);
            }
        }
        assert_eq!(find_byte(b"", b'\n'), None);
        assert_eq!(find_byte(&[0x80; 17], 0), None);
        assert_eq!(find_byte(&[0; 17], 0), Some(0));
    }

    #[test]
    fn line_words_and_status_parts() {
        let w = |s| words(s).collect::<Vec<_>>();
        assert_eq!(w("  GET   /a  HTTP/1.1 "), ["GET", "/a", "HTTP/1.1"]);
        assert_eq!(w("   "), [] as [&str; 0]);
        assert_eq!(w("a\tb"), ["a\tb"]);
        assert_eq!(
            split_at_space("HTTP/1.1 101 OK x"),
            ("HTTP/1.1", Some("101 OK x"))
        );
        assert_eq!(split_at_space("101"), ("101", None));
        assert_eq!(split_at_space(" "), ("", Some("")));
        let resp = parse_response(b"HTTP/1.1 101\r\n\r\n").unwrap();
        assert_eq!((resp.status, resp.reason.as_str()), (101, ""));
        assert_eq!(parse_response(b"HTTP/1.1 101 \r\n\r\n").unwrap().reason, "");
        assert_eq!(parse_response(b"HTTP/1.1  101 x\r\n\r\n").ok(), None);
    }

    #[test]
    fn version_text_as_displayed() {
        for (major, minor) in [(1, 1), (1, 0), (0, 9), (12, 3), (2, 200)] {
            let v = Version { major, minor };
            assert_eq!(v.text(), v.to_string());
        }
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
