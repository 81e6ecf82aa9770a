//! The upgrade heads: `HeadReader` over a stream pushed in pieces, the
//! request and response parsers, and the handshake checks.
//!
//! Input: a settings byte, two bytes placing the cut between the request
//! stream and the response stream, then the bytes. Settings: bits 0-5 seed
//! the chunk sizes (0 = one push), bit 6 pads the request stream to just
//! under `MAX_HEAD` so the size limit is reached, bit 7 feeds the
//! response stream through a fresh reader after a `clear()` of the request
//! reader (reuse, as the analysis does on a 100 Continue).
//!
//! Checked beyond "no panic": `HeadReader` finds the first blank line, at
//! most `MAX_HEAD` bytes in, whatever the chunking (compared with a plain
//! search over the whole stream); `used` never exceeds the pushed bytes;
//! `looks_like_request/response` never change their mind as the prefix
//! grows; a negotiated window size is 8-15; a Sec-WebSocket-Accept verdict
//! is given iff the request had a key, and the RFC's sample key checks out.
//! The same bytes go to the TLS hello readers: a hello is only read from a
//! TLS handshake record, and what it yields stays within its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wscap::http::{self, HeadReader, MAX_HEAD, Progress};
use wscap::websocket::handshake;

/// Where the first head ends in `s` (just past the blank line), as the
/// documentation puts it: the first LF followed by CRLF or by LF.
fn reference_end(s: &[u8]) -> Option<usize> {
    (0..s.len()).find_map(|i| {
        if s[i] != b'\n' {
            return None;
        }
        let rest = &s[i + 1..];
        if rest.starts_with(b"\r\n") {
            Some(i + 3)
        } else if rest.starts_with(b"\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

#[derive(Debug, PartialEq)]
enum Got {
    Head(Vec<u8>),
    TooLong,
    Partial,
}

fn read(r: &mut HeadReader, s: &[u8], seed: u32) -> Got {
    let mut rng = seed;
    let mut at = 0;
    loop {
        let n = if seed == 0 {
            s.len() - at
        } else {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Mostly short pieces, now and then a long one.
            let r = (rng >> 16) as usize;
            (if r % 8 == 0 { r % 5000 } else { r % 9 }).min(s.len() - at)
        };
        let piece = &s[at..at + n];
        let before = r.bytes().len();
        match r.push(piece) {
            Progress::Complete { used } => {
                assert!(used <= piece.len(), "used {used} of a {}-byte push", piece.len());
                assert_eq!(r.bytes().len(), before + used, "head length != bytes before + used");
                assert!(r.bytes().len() <= MAX_HEAD);
                return Got::Head(r.bytes().to_vec());
            }
            Progress::TooLong => {
                assert!(r.bytes().len() <= MAX_HEAD);
                return Got::TooLong;
            }
            Progress::Partial => {
                assert!(r.bytes().len() < MAX_HEAD);
                at += n;
                if at == s.len() {
                    return Got::Partial;
                }
            }
        }
    }
}

fn expected(s: &[u8]) -> Got {
    match reference_end(&s[..s.len().min(MAX_HEAD)]) {
        Some(end) => Got::Head(s[..end].to_vec()),
        None if s.len() >= MAX_HEAD => Got::TooLong,
        None => Got::Partial,
    }
}

fn monotonic(s: &[u8]) {
    let mut req = None;
    let mut resp = None;
    for n in 0..=s.len().min(30) {
        let p = &s[..n];
        if let Some(v) = req {
            assert_eq!(http::looks_like_request(p), Some(v), "looks_like_request changed at {n}");
        } else {
            req = http::looks_like_request(p);
        }
        if let Some(v) = resp {
            assert_eq!(http::looks_like_response(p), Some(v), "looks_like_response changed at {n}");
        } else {
            resp = http::looks_like_response(p);
        }
    }
}

/// The TLS hello readers on arbitrary bytes (here, not only a stream's
/// first ones: they must hold for any input).
fn tls_hellos(b: &[u8]) {
    use wscap::http::tls;
    if let Some(h) = tls::client_hello(b) {
        assert!(b.starts_with(&[22, 3]), "a ClientHello outside a handshake record");
        assert!(h.alpn.len() <= 8);
        // At most 255 bytes, each escaped to at most 4 characters.
        let short = |s: &String| s.len() <= 4 * 255;
        assert!(h.sni.iter().chain(&h.alpn).all(short));
    }
    if tls::server_hello_version(b).is_some() {
        assert!(b.starts_with(&[22, 3]), "a ServerHello outside a handshake record");
    }
}

fuzz_target!(|data: &[u8]| {
    tls_hellos(data);
    if data.len() < 3 {
        return;
    }
    let set = data[0];
    let cut = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let bytes = &data[3..];
    let cut = if bytes.is_empty() { 0 } else { cut % (bytes.len() + 1) };
    let (req_s, resp_s) = bytes.split_at(cut);
    let mut req_stream = Vec::new();
    if set & 0x40 != 0 {
        req_stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        while req_stream.len() + 8 < MAX_HEAD - 8 {
            req_stream.extend_from_slice(b"a: b\r\n");
        }
    }
    req_stream.extend_from_slice(req_s);
    let seed = u32::from(set & 0x3F);

    monotonic(&req_stream);
    monotonic(resp_s);

    let mut r = HeadReader::new();
    let got_req = read(&mut r, &req_stream, seed);
    assert_eq!(got_req, expected(&req_stream), "request head depends on the chunking");
    let mut r2 = HeadReader::new();
    if set & 0x80 != 0 {
        r.clear();
        assert!(r.is_empty());
    }
    let rr = if set & 0x80 != 0 { &mut r } else { &mut r2 };
    let got_resp = read(rr, resp_s, seed.rotate_left(3) | 1);
    assert_eq!(got_resp, expected(resp_s), "response head depends on the chunking");

    // The parsers take anything: the head found, or the raw bytes.
    let req_head = match &got_req {
        Got::Head(h) => h.as_slice(),
        _ => &req_stream[..],
    };
    let resp_head = match &got_resp {
        Got::Head(h) => h.as_slice(),
        _ => resp_s,
    };
    let req = http::parse_request(req_head);
    let resp = http::parse_response(resp_head);
    if let Err(e) = &req {
        let _ = e.to_string();
    }
    if let Err(e) = &resp {
        let _ = e.to_string();
    }
    if let Ok(req) = &req {
        assert!(req.version.major <= 9 && req.version.minor <= 9);
        let _ = req.version.to_string();
        for name in ["Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Extensions"] {
            let n = req.headers.count(name);
            assert_eq!(req.headers.get(name).is_some(), n > 0);
            let _ = req.headers.has_token(name, "websocket");
        }
        let f = handshake::check_request(req, 1);
        for x in &f {
            assert_eq!(x.packet, Some(1));
        }
        if let Ok(resp) = &resp {
            let (f, neg) = handshake::check_response(req, resp, 2);
            for x in &f {
                assert_eq!(x.packet, Some(2));
            }
            if let Some(d) = neg.deflate {
                assert!((8..=15).contains(&d.server_max_window_bits));
                assert!((8..=15).contains(&d.client_max_window_bits));
            }
            assert_eq!(neg.accept_ok.is_some(), req.headers.get("Sec-WebSocket-Key").is_some());
        }
    }
    // The accept computation takes any key.
    let key = String::from_utf8_lossy(&req_stream[..req_stream.len().min(64)]);
    assert_eq!(handshake::accept_for(&key).len(), 28);
});
