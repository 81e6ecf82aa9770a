//! What the first TLS records of a connection say, read by hand and only as
//! far as telling people what they are looking at: the version, the server
//! name (SNI) and the application protocols (ALPN) a client asks for, and
//! the version a server chose (RFC 8446 sections 4.1.2, 4.1.3, 4.2.1; RFC
//! 6066 section 3; RFC 7301 section 3.1).
//!
//! Only the bytes given are read (the first segment of each direction: a
//! ClientHello longer than a segment yields what its first part holds);
//! every length is checked against them, so a cut or hostile record gives
//! fewer facts, never a panic. Names are kept printable and short.

use crate::text::push_escaped;

/// Longest server name or protocol name kept, in bytes (a DNS name is at
/// most 253).
const MAX_NAME: usize = 255;

/// Protocol names kept from an ALPN list.
const MAX_ALPN: usize = 8;

/// What a ClientHello asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The highest version offered: from supported_versions when present
    /// (TLS 1.3 clients), else the legacy version field.
    pub version: Option<u16>,
    /// The host_name of the server_name extension.
    pub sni: Option<String>,
    /// The application protocols offered, in order.
    pub alpn: Vec<String>,
}

/// Reads bytes from a slice, every read checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a 1-byte length.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a 2-byte length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// Up to `n` bytes: what is there of a vector cut by the segment's end.
    fn take_up_to(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// The body of the handshake message of type `msg` at the start of `b`, a
/// TLS handshake record (as much of it as `b` holds).
fn handshake_body(b: &[u8], msg: u8) -> Option<&[u8]> {
    let mut c = Cursor(b);
    let (kind, major) = (c.u8()?, c.u8()?);
    let _minor = c.u8()?;
    let len = c.u16()?;
    if kind != 22 || major != 3 {
        return None;
    }
    let mut rec = Cursor(c.take_up_to(usize::from(len)));
    if rec.u8()? != msg {
        return None;
    }
    let len = rec.take(3)?;
    let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
    Some(rec.take_up_to(len))
}

/// The facts of a ClientHello at the start of `b`, or `None` when `b` does
/// not start with one.
pub fn client_hello(b: &[u8]) -> Option<ClientHello> {
    let mut c = Cursor(handshake_body(b, 1)?);
    let mut hello = ClientHello {
        version: Some(c.u16()?),
        ..ClientHello::default()
    };
    // random, session id, cipher suites, compression methods, extensions
    let exts = c
        .take(32)
        .and_then(|_| c.vec8())
        .and_then(|_| c.vec16())
        .and_then(|_| c.vec8())
        .and_then(|_| c.u16());
    let Some(len) = exts else {
        return Some(hello);
    };
    let mut exts = Cursor(c.take_up_to(usize::from(len)));
    while let (Some(kind), Some(data)) = (exts.u16(), exts.vec16()) {
        let mut d = Cursor(data);
        match kind {
            0 => hello.sni = server_name(&mut d),
            16 => hello.alpn = alpn(&mut d),
            43 => hello.version = max_version(&mut d).or(hello.version),
            _ => {}
        }
    }
    Some(hello)
}

/// The version a ServerHello at the start of `b` chose: its
/// supported_versions extension (TLS 1.3), else its legacy version.
pub fn server_hello_version(b: &[u8]) -> Option<u16> {
    let mut c = Cursor(handshake_body(b, 2)?);
    let legacy = c.u16()?;
    // random, session id, cipher suite, compression method, extensions
    let exts = c
        .take(32)
        .and_then(|_| c.vec8())
        .and_then(|_| c.u16())
        .and_then(|_| c.u8())
        .and_then(|_| c.vec16());
    let mut exts = Cursor(exts.unwrap_or_default());
    while let (Some(kind), Some(data)) = (exts.u16(), exts.vec16()) {
        if kind == 43 && data.len() == 2 {
            return Some(u16::from_be_bytes([data[0], data[1]]));
        }
    }
    Some(legacy)
}

/// The first host_name of a server_name extension (RFC 6066 section 3).
fn server_name(d: &mut Cursor<'_>) -> Option<String> {
    let mut list = Cursor(d.vec16()?);
    while let Some(kind) = list.u8() {
        let name = list.vec16()?;
        if kind == 0 {
            return Some(printable(name));
        }
    }
    None
}

/// The protocol names of an ALPN extension (RFC 7301 section 3.1).
fn alpn(d: &mut Cursor<'_>) -> Vec<String> {
    let mut list = Cursor(d.vec16().unwrap_or_default());
    let mut names = Vec::new();
    while let Some(name) = list.vec8() {
        if names.len() == MAX_ALPN {
            break;
        }
        names.push(printable(name));
    }
    names
}

/// The highest TLS version in a ClientHello's supported_versions (RFC 8446
/// section 4.2.1), GREASE values (RFC 8701) left out.
fn max_version(d: &mut Cursor<'_>) -> Option<u16> {
    let mut list = Cursor(d.vec8()?);
    std::iter::from_fn(|| list.u16())
        .filter(|v| v >> 8 == 3)
        .max()
}

/// A name as text, escaped where not printable, at most [`MAX_NAME`] bytes.
fn printable(b: &[u8]) -> String {
    let mut s = String::new();
    push_escaped(&mut s, &b[..b.len().min(MAX_NAME)]);
    s
}

/// A protocol version as people name it (`TLS 1.3`), or in hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".to_owned(),
        0x0301 => "TLS 1.0".to_owned(),
        0x0302 => "TLS 1.1".to_owned(),
        0x0303 => "TLS 1.2".to_owned(),
        0x0304 => "TLS 1.3".to_owned(),
        v => format!("{v:#06x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3 ClientHello: legacy version 1.2, supported_versions with a
    /// GREASE value, SNI, ALPN.
    fn hello() -> Vec<u8> {
        let mut exts = Vec::new();
        let sni = b"example.com";
        let mut e = vec![0, 0];
        let list_len = 3 + sni.len() as u16;
        e.extend((list_len + 2).to_be_bytes());
        e.extend(list_len.to_be_bytes());
        e.push(0);
        e.extend((sni.len() as u16).to_be_bytes());
        e.extend(sni);
        exts.extend(e);
        exts.extend([0, 16, 0, 14, 0, 12, 2, b'h', b'2', 8]);
        exts.extend(b"http/1.1");
        exts.extend([0, 43, 0, 7, 6, 0x0a, 0x0a, 3, 4, 3, 3]);
        let mut body = vec![3, 3];
        body.extend([7; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut msg = vec![1, 0];
        msg.extend((body.len() as u16).to_be_bytes());
        msg.extend(body);
        let mut rec = vec![22, 3, 1];
        rec.extend((msg.len() as u16).to_be_bytes());
        rec.extend(msg);
        rec
    }

    #[test]
    fn reads_a_client_hello() {
        let h = client_hello(&hello()).unwrap();
        assert_eq!(h.version, Some(0x0304));
        assert_eq!(h.sni.as_deref(), Some("example.com"));
        assert_eq!(h.alpn, ["h2", "http/1.1"]);
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x7f17), "0x7f17");
    }

    #[test]
    fn a_cut_hello_gives_what_it_holds() {
        let full = hello();
        // Every prefix parses without panicking; the longer ones keep the SNI.
        for n in 0..full.len() {
            let h = client_hello(&full[..n]);
            if n < 11 {
                assert_eq!(h, None, "{n}");
            }
        }
        let sni_end = full.len() - 28;
        assert!(client_hello(&full[..sni_end]).unwrap().sni.is_some());
        // Not a ClientHello: application data, a ServerHello, HTTP.
        assert_eq!(client_hello(&[23, 3, 3, 0, 5, 1, 2, 3, 4, 5]), None);
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn hostile_lengths_do_not_panic() {
        let mut h = hello();
        // Lengths that overrun the record, at every byte.
        for i in 5..h.len() {
            let keep = h[i];
            h[i] = 0xff;
            let _ = client_hello(&h);
            let _ = server_hello_version(&h);
            h[i] = keep;
        }
    }

    #[test]
    fn reads_the_version_a_server_chose() {
        let mut body = vec![3, 3];
        body.extend([9; 32]);
        body.extend([0, 0x13, 0x01, 0]);
        body.extend([0, 6, 0, 43, 0, 2, 3, 4]);
        let mut rec = vec![22, 3, 3, 0, body.len() as u8 + 4, 2, 0, 0, body.len() as u8];
        rec.extend(&body);
        assert_eq!(server_hello_version(&rec), Some(0x0304));
        // Without supported_versions: the legacy field.
        let cut = rec.len() - 8;
        assert_eq!(server_hello_version(&rec[..cut]), Some(0x0303));
        assert_eq!(server_hello_version(&hello()), None);
    }
}
