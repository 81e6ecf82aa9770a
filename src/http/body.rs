//! Message bodies, skipped: how long the body after a head is (RFC 9112
//! section 6.3) and a push reader that finds where it ends, so the next
//! request or response on a kept-alive connection can be read (a WebSocket
//! upgrade may come after other requests on the same connection, as with
//! proxies that reuse backend connections).
//!
//! Nothing of a body is kept: a chunked body is followed chunk by chunk,
//! with only the current size line (bounded) buffered.

use super::{Field, Request, Response};

/// Longest chunk-size or trailer line accepted: longer, it is not HTTP.
const MAX_LINE: usize = 4096;

/// How the end of a body is found (RFC 9112 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLen {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body runs until the connection closes: nothing follows it.
    UntilClose,
}

/// A request's body: chunked or `Content-Length`, else none (RFC 9112 6.3,
/// rules 4-6). A length that does not parse is no framing at all.
pub fn request_body(req: &Request) -> Option<BodyLen> {
    framing(&req.headers).or(Some(BodyLen::None))
}

/// A response's body. `to_head`: it answers a HEAD request. Responses to
/// HEAD, 1xx, 204 and 304 have none (RFC 9112 6.3, rule 1); otherwise
/// chunked or `Content-Length`; else it runs until the connection closes.
pub fn response_body(resp: &Response, to_head: bool) -> Option<BodyLen> {
    if to_head || resp.status / 100 == 1 || resp.status == 204 || resp.status == 304 {
        return Some(BodyLen::None);
    }
    framing(&resp.headers).or(Some(BodyLen::UntilClose))
}

/// `Transfer-Encoding` ending in chunked wins over `Content-Length` (RFC
/// 9112 6.3, rule 3); `None` when neither is there, `Some(UntilClose)` when
/// the length is unusable.
fn framing(h: &super::Headers) -> Option<BodyLen> {
    if let Some(last) = h.tokens(Field::TransferEncoding).last() {
        return Some(if last.eq_ignore_ascii_case("chunked") {
            BodyLen::Chunked
        } else {
            BodyLen::UntilClose
        });
    }
    let lengths: Vec<&str> = h.tokens(Field::ContentLength).collect();
    let first = lengths.first()?;
    // Repeated values must agree (RFC 9112 6.3, rule 5); a length is
    // 1*DIGIT (RFC 9110 8.6), so no sign.
    let digits = first.bytes().all(|b| b.is_ascii_digit());
    match first.parse::<u64>() {
        Ok(n) if digits && lengths.iter().all(|l| l == first) => Some(BodyLen::Length(n)),
        _ => Some(BodyLen::UntilClose),
    }
}

/// Progress of [`BodyReader::push`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyProgress {
    /// All of the input belonged to the body; it goes on.
    Partial,
    /// The body ended after `used` bytes of this input.
    Complete { used: usize },
    /// Not a chunked body (a bad size line, or one too long).
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line (`len` bytes of it so far).
    Size {
        size: u64,
        digits: u32,
        ext: bool,
        len: usize,
    },
    /// Chunk data left, then its CRLF.
    Data(u64),
    /// The CR LF after a chunk's data (`seen` of it so far).
    DataEnd,
    /// Trailer fields after the last chunk; `len` of the current line.
    Trailer { len: usize },
}

/// Finds the end of one body, pushed in pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyReader {
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Forever,
}

impl BodyReader {
    pub fn new(len: BodyLen) -> BodyReader {
        let state = match len {
            BodyLen::None => State::Length(0),
            BodyLen::Length(n) => State::Length(n),
            BodyLen::Chunked => State::Chunked(Chunk::Size {
                size: 0,
                digits: 0,
                ext: false,
                len: 0,
            }),
            BodyLen::UntilClose => State::Forever,
        };
        BodyReader { state }
    }

    /// Whether the body is over before any byte (no body).
    pub fn is_done(&self) -> bool {
        self.state == State::Length(0)
    }

    /// Takes the next bytes of the stream.
    pub fn push(&mut self, data: &[u8]) -> BodyProgress {
        match &mut self.state {
            State::Forever => BodyProgress::Partial,
            State::Length(left) => {
                let take = (*left).min(data.len() as u64);
                *left -= take;
                if *left == 0 {
                    BodyProgress::Complete {
                        used: take as usize,
                    }
                } else {
                    BodyProgress::Partial
                }
            }
            State::Chunked(c) => chunked(c, data),
        }
    }
}

/// RFC 9112 7.1: chunk-size [ext] CRLF, data CRLF, ..., 0 CRLF, trailer
/// fields, CRLF. Bare LF is accepted where CRLF is due, as servers do.
fn chunked(c: &mut Chunk, data: &[u8]) -> BodyProgress {
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        match c {
            Chunk::Data(left) => {
                let take = (*left).min((data.len() - i) as u64);
                *left -= take;
                i += take as usize;
                if *left == 0 {
                    *c = Chunk::DataEnd;
                }
                continue;
            }
            Chunk::DataEnd => match b {
                b'\r' => {}
                b'\n' => *c = new_size(),
                _ => return BodyProgress::Invalid,
            },
            Chunk::Size { .. } => match size_byte(c, b) {
                SizeStep::More => {}
                SizeStep::Invalid => return BodyProgress::Invalid,
                SizeStep::Done(next) => *c = next,
            },
            Chunk::Trailer { len } => match b {
                b'\n' if *len == 0 => return BodyProgress::Complete { used: i + 1 },
                b'\n' => *len = 0,
                b'\r' => {}
                _ if *len >= MAX_LINE => return BodyProgress::Invalid,
                _ => *len += 1,
            },
        }
        i += 1;
    }
    BodyProgress::Partial
}

fn new_size() -> Chunk {
    Chunk::Size {
        size: 0,
        digits: 0,
        ext: false,
        len: 0,
    }
}

/// What one byte of a chunk-size line did.
enum SizeStep {
    More,
    Invalid,
    /// The line ended: what comes next.
    Done(Chunk),
}

/// One byte of a chunk-size line: hex digits, then an optional extension
/// (ignored), then the line end.
fn size_byte(c: &mut Chunk, b: u8) -> SizeStep {
    let Chunk::Size {
        size,
        digits,
        ext,
        len,
    } = c
    else {
        return SizeStep::Invalid;
    };
    *len += 1;
    if *len > MAX_LINE {
        return SizeStep::Invalid;
    }
    match b {
        b'\n' if *digits == 0 => SizeStep::Invalid,
        b'\n' if *size == 0 => SizeStep::Done(Chunk::Trailer { len: 0 }),
        b'\n' => SizeStep::Done(Chunk::Data(*size)),
        b'\r' => SizeStep::More,
        _ if *ext => SizeStep::More,
        b';' | b' ' | b'\t' if *digits > 0 => {
            *ext = true;
            SizeStep::More
        }
        _ => match char::from(b).to_digit(16) {
            // More than 16 digits overflow a u64: no real chunk is that big.
            Some(v) if *digits < 16 => {
                *size = (*size << 4) | u64::from(v);
                *digits += 1;
                SizeStep::More
            }
            _ => SizeStep::Invalid,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_request, parse_response};

    fn body_of(head: &str) -> Option<BodyLen> {
        response_body(&parse_response(head.as_bytes()).unwrap(), false)
    }

    #[test]
    fn lengths_follow_rfc9112_6_3() {
        let r = |s| body_of(s);
        assert_eq!(
            r("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
            Some(BodyLen::Length(3))
        );
        assert_eq!(
            r("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Some(BodyLen::Chunked)
        );
        assert_eq!(
            r("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"),
            Some(BodyLen::None)
        );
        assert_eq!(r("HTTP/1.1 200 OK\r\n\r\n"), Some(BodyLen::UntilClose));
        assert_eq!(
            r("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n"),
            Some(BodyLen::UntilClose)
        );
        assert_eq!(
            r("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"),
            Some(BodyLen::UntilClose),
            "RFC 9110 8.6: 1*DIGIT"
        );
        let head = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n").unwrap();
        assert_eq!(response_body(&head, true), Some(BodyLen::None));
        let req = parse_request(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(request_body(&req), Some(BodyLen::None));
    }

    /// A chunked body ends where it ends, however it is split.
    #[test]
    fn chunked_split_anywhere() {
        let body =
            b"c\r\nfirst chunk\r\n1B;ext=1\r\nsecond chunk, a bit longer\r\n0\r\nX-T: y\r\n\r\n";
        let mut stream = body.to_vec();
        stream.extend_from_slice(b"GET /ws HTTP/1.1\r\n");
        for cut in 0..stream.len() {
            let mut r = BodyReader::new(BodyLen::Chunked);
            let (a, b) = stream.split_at(cut);
            let end = match r.push(a) {
                BodyProgress::Complete { used } => used,
                BodyProgress::Partial => match r.push(b) {
                    BodyProgress::Complete { used } => a.len() + used,
                    p => panic!("cut {cut}: {p:?}"),
                },
                p => panic!("cut {cut}: {p:?}"),
            };
            assert_eq!(end, body.len(), "cut {cut}");
        }
    }

    #[test]
    fn lengths_and_bad_chunks() {
        let mut r = BodyReader::new(BodyLen::Length(5));
        assert_eq!(r.push(b"ab"), BodyProgress::Partial);
        assert_eq!(r.push(b"cdeGET"), BodyProgress::Complete { used: 3 });
        assert!(BodyReader::new(BodyLen::None).is_done());
        let mut r = BodyReader::new(BodyLen::Chunked);
        assert_eq!(r.push(b"zz\r\n"), BodyProgress::Invalid);
        let mut r = BodyReader::new(BodyLen::Chunked);
        assert_eq!(r.push(b"\r\n"), BodyProgress::Invalid);
        let mut r = BodyReader::new(BodyLen::Chunked);
        assert_eq!(r.push(b"3\r\nabcX"), BodyProgress::Invalid);
        let mut r = BodyReader::new(BodyLen::Chunked);
        assert_eq!(r.push(&[b'1'; 40]), BodyProgress::Invalid);
        let mut r = BodyReader::new(BodyLen::UntilClose);
        assert_eq!(r.push(b"anything"), BodyProgress::Partial);
    }
}
