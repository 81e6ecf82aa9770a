//! HTTP/2 pieces for tests (RFC 9113, RFC 7541): frames and header blocks
//! as a peer would write them, for WebSocket over HTTP/2 (RFC 8441).

/// A frame: the 9-byte header (RFC 9113 4.1) and `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a frame's payload fits 24 bits");
    assert!(len < 1 << 24, "a frame's payload fits 24 bits");
    let len = len.to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A header block of literal fields without indexing, new names, no
/// Huffman coding (RFC 7541 6.2.2): what any HPACK decoder reads without
/// a table. Names and values up to 126 bytes.
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        assert!(n.len() < 127 && v.len() < 127, "one-byte lengths");
        b.extend([0, n.len() as u8]);
        b.extend_from_slice(n.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// The client's connection preface (RFC 9113 3.4) and an empty SETTINGS.
pub fn client_preface() -> Vec<u8> {
    let mut p = crate::http2::frame::PREFACE.to_vec();
    p.extend(frame(4, 0, 0, &[]));
    p
}

/// A server's SETTINGS enabling extended CONNECT (RFC 8441 3).
pub fn enable_connect() -> Vec<u8> {
    frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])
}

/// An extended CONNECT for a WebSocket at `path` (RFC 8441 5), with any
/// further fields.
pub fn connect(path: &str, more: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "x"),
        ("sec-websocket-version", "13"),
    ];
    fields.extend_from_slice(more);
    block(&fields)
}
