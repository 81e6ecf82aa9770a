//! Handshake messages: reassembled across records (RFC 8446 5.1: a message
//! may span records, and a record hold several) and read for what
//! decryption needs. ClientHello and ServerHello are parsed with
//! rusticata's `tls-parser`; extension lists are walked here, as its
//! extension parser stops at the first extension it does not know.

use tls_parser::{TlsMessage, TlsMessageHandshake, parse_tls_message_handshake};

/// Longest handshake message kept whole (certificate chains are the
/// largest; RFC 8446 allows 2^24 - 1, no real chain comes near this).
const MAX_MESSAGE: usize = 128 * 1024;

/// SHA-256 of "HelloRetryRequest": the random of a ServerHello that is a
/// HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Handshake bytes of one direction until they make whole messages.
#[derive(Default)]
pub struct HsBuf {
    buf: Vec<u8>,
}

impl HsBuf {
    /// Adds bytes; `message` gets each whole message (type, body).
    pub fn push(&mut self, bytes: &[u8], message: &mut impl FnMut(u8, &[u8])) {
        let mut rest = bytes;
        if self.buf.is_empty() {
            // Most records hold whole messages: no copy.
            rest = whole_messages(rest, message);
            if rest.is_empty() {
                return;
            }
            self.buf.extend_from_slice(rest);
            self.check_len();
            return;
        }
        // In place: a message arriving in many small records is not copied
        // again with each (that was quadratic in the message).
        self.buf.extend_from_slice(rest);
        let left = whole_messages(&self.buf, message).len();
        let used = self.buf.len() - left;
        self.buf.drain(..used);
        if self.buf.is_empty() {
            // A certificate chain's few KiB are not kept for the rest of
            // the connection (thousands may be open).
            self.buf = Vec::new();
        }
        self.check_len();
    }

    /// Heap bytes held.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// A message longer than kept cannot be read: dropped.
    fn check_len(&mut self) {
        if self.buf.len() >= 4 && message_len(&self.buf) > MAX_MESSAGE {
            self.buf = Vec::new();
        }
    }
}

fn message_len(b: &[u8]) -> usize {
    4 + (usize::from(b[1]) << 16 | usize::from(b[2]) << 8 | usize::from(b[3]))
}

/// Hands on the whole messages at the start of `b`; returns the rest.
fn whole_messages<'a>(mut b: &'a [u8], message: &mut impl FnMut(u8, &[u8])) -> &'a [u8] {
    while b.len() >= 4 && b.len() >= message_len(b) {
        let len = message_len(b);
        message(b[0], &b[4..len]);
        b = &b[len..];
    }
    b
}

/// The message with its 4-byte header back, for `tls-parser`.
fn with_header(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut m = vec![kind, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

/// A ClientHello body's random.
pub fn client_random(body: &[u8]) -> Option<[u8; 32]> {
    let msg = with_header(1, body);
    match parse_tls_message_handshake(&msg).ok()?.1 {
        TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => ch.random.try_into().ok(),
        _ => None,
    }
}

/// What a ServerHello says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    /// The version chosen: supported_versions (TLS 1.3), else the legacy
    /// field.
    pub version: u16,
    pub suite: u16,
    /// ALPN (TLS 1.2 says it here; TLS 1.3 in EncryptedExtensions).
    pub alpn: Option<String>,
    /// A HelloRetryRequest.
    pub retry: bool,
    /// Encrypt-then-MAC was accepted (RFC 7366: CBC suites only).
    pub etm: bool,
}

pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let msg = with_header(2, body);
    let TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)) =
        parse_tls_message_handshake(&msg).ok()?.1
    else {
        return None;
    };
    let random: [u8; 32] = sh.random.try_into().ok()?;
    let mut hello = ServerHello {
        random,
        version: sh.version.0,
        suite: sh.cipher.0,
        alpn: None,
        retry: random == HRR_RANDOM,
        etm: false,
    };
    for (kind, data) in extensions(sh.ext.unwrap_or_default()) {
        match kind {
            43 if data.len() == 2 => hello.version = u16::from_be_bytes([data[0], data[1]]),
            16 => hello.alpn = alpn(data),
            22 => hello.etm = true,
            _ => {}
        }
    }
    Some(hello)
}

/// The protocol an EncryptedExtensions body (its extension list) chose.
pub fn alpn_of_extensions(body: &[u8]) -> Option<String> {
    let list = body.get(2..)?;
    extensions(list)
        .find(|(kind, _)| *kind == 16)
        .and_then(|(_, data)| alpn(data))
}

/// (type, data) of each extension in a list, stopping at a broken one.
fn extensions(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let kind = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
        let data = b.get(4..4 + len)?;
        b = &b[4 + len..];
        Some((kind, data))
    })
}

/// The (first) protocol of an ALPN extension's data (RFC 7301 3.1), kept
/// printable.
fn alpn(data: &[u8]) -> Option<String> {
    let (_, ext) = tls_parser::parse_tls_extension_alpn_content(data).ok()?;
    let tls_parser::TlsExtension::ALPN(names) = ext else {
        return None;
    };
    let name = names.first()?;
    let mut s = String::new();
    crate::text::push_escaped(&mut s, &name[..name.len().min(64)]);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_across_records_and_several_in_one() {
        let mut hs = HsBuf::default();
        let mut seen = Vec::new();
        let mut take = |k: u8, b: &[u8]| seen.push((k, b.to_vec()));
        // One message over two records, then two in one.
        hs.push(&[8, 0, 0, 3, 1], &mut take);
        hs.push(&[2, 3, 20, 0, 0, 1, 9, 24, 0, 0, 1, 0], &mut take);
        assert_eq!(seen, vec![(8, vec![1, 2, 3]), (20, vec![9]), (24, vec![0])]);
        assert_eq!(hs.held(), 0);
    }

    #[test]
    fn an_oversized_message_is_dropped_not_kept() {
        let mut hs = HsBuf::default();
        hs.push(&[11, 0x7f, 0xff, 0xff, 1, 2], &mut |_, _| {
            panic!("not whole")
        });
        assert!(hs.buf.is_empty());
    }

    fn server_hello_body(random: [u8; 32], exts: &[u8]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&random);
        b.push(0); // session id
        b.extend_from_slice(&[0x13, 0x02, 0]); // suite, compression
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(exts);
        b
    }

    #[test]
    fn server_hello_version_suite_alpn_and_retry() {
        // supported_versions TLS 1.3, then an unknown extension, then ALPN.
        let exts = [
            0, 43, 0, 2, 3, 4, 0xfe, 0xfe, 0, 1, 7, 0, 16, 0, 5, 0, 3, 2, b'h', b'2',
        ];
        let sh = server_hello(&server_hello_body([1; 32], &exts)).unwrap();
        assert_eq!(
            sh,
            ServerHello {
                random: [1; 32],
                version: 0x0304,
                suite: 0x1302,
                alpn: Some("h2".into()),
                retry: false,
                etm: false
            }
        );
        assert!(
            server_hello(&server_hello_body(HRR_RANDOM, &[]))
                .unwrap()
                .retry
        );
        assert_eq!(server_hello(&[3, 3, 1]), None);
    }

    #[test]
    fn encrypted_extensions_alpn() {
        let body = [
            0, 13, 0, 16, 0, 11, 0, 9, 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ];
        assert_eq!(alpn_of_extensions(&body).as_deref(), Some("http/1.1"));
        assert_eq!(alpn_of_extensions(&[0, 0]), None);
    }
}
