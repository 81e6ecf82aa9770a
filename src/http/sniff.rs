//! Telling a protocol from its first bytes, before (or instead of) parsing
//! anything: is a new connection opened with an HTTP request, does the
//! server answer with a response, and are bytes found where a WebSocket
//! frame should start an HTTP message or a TLS record instead?
//!
//! These are apart from the head reader and parsers because they answer on
//! a few bytes, often on streams that are not HTTP at all, and are shared
//! by the connection analysis and the frame decoder.
//!
//! [`looks_like_request`] and [`looks_like_response`] take any prefix and say
//! `None` until it is long enough, so a stream can be classified as its
//! first bytes arrive. [`looks_like_http`] is stricter (a known method or an
//! HTTP version): it decides whether a header that breaks framing rules in
//! the middle of a WebSocket stream is HTTP text, where accepting any token
//! would take random bytes for a request.

/// Whether `prefix` (the first bytes of a stream) can start a request:
/// a method token then a space. `None` when too short to say.
pub fn looks_like_request(prefix: &[u8]) -> Option<bool> {
    for (i, &b) in prefix.iter().enumerate().take(24) {
        match b {
            b' ' => return Some(i > 0),
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'-'
            | b'_'
            | b'!'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'.'
            | b'^'
            | b'`'
            | b'|'
            | b'~'
            | b'0'..=b'9' => {}
            _ => return Some(false),
        }
    }
    if prefix.len() >= 24 {
        Some(false)
    } else {
        None
    }
}

/// Whether `prefix` can start a response (`HTTP/`). `None` when too short.
pub fn looks_like_response(prefix: &[u8]) -> Option<bool> {
    const P: &[u8] = b"HTTP/";
    let n = prefix.len().min(P.len());
    if prefix[..n] != P[..n] {
        Some(false)
    } else if n < P.len() {
        None
    } else {
        Some(true)
    }
}

/// An HTTP status line or request line.
pub fn looks_like_http(b: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    b.starts_with(b"HTTP/1.")
        || b.starts_with(b"HTTP/2")
        || METHODS.iter().any(|m| b.starts_with(m))
}

/// A TLS record header: content type 20-24, version 3.x, a record length
/// within the limit (RFC 8446 5.1: 2^14 + 256 for ciphertext).
pub fn looks_like_tls(b: &[u8]) -> bool {
    match b {
        [t, 3, minor, hi, lo, ..] => {
            (20..=24).contains(t)
                && *minor <= 4
                && (1..=16640).contains(&u16::from_be_bytes([*hi, *lo]))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(looks_like_request(b"GET / HTTP/1.1"), Some(true));
        assert_eq!(looks_like_request(b"GE"), None);
        assert_eq!(looks_like_request(b"\x16\x03\x01"), Some(false));
        assert_eq!(looks_like_response(b"HTTP/1.1 101"), Some(true));
        assert_eq!(looks_like_response(b"HTT"), None);
        assert_eq!(looks_like_response(b"\x81\x05"), Some(false));
    }

    #[test]
    fn http_text_in_a_frame_stream() {
        assert!(looks_like_http(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(looks_like_http(b"POST /x HTTP/1.1"));
        // Any token passes looks_like_request; here only known methods do.
        assert!(!looks_like_http(b"FOO / HTTP/1.1"));
        assert!(!looks_like_http(b"GET"));
    }

    #[test]
    fn tls_record_headers() {
        // A ClientHello record, and application data at the length limit.
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x30]));
        assert!(looks_like_tls(&[0x17, 0x03, 0x03, 0x41, 0x00]));
        // Too long a record, an unknown content type, too few bytes.
        assert!(!looks_like_tls(&[0x17, 0x03, 0x03, 0x41, 0x01]));
        assert!(!looks_like_tls(&[0x19, 0x03, 0x03, 0x00, 0x10]));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0x00]));
    }
}
