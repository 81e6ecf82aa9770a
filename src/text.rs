//! Bytes as text for people: the one hex encoder and the escaping used in
//! finding details and payload previews. Shared by the analysis (details)
//! and the report writers (previews), so each rendering is written once.

use std::fmt::Write as _;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex digits, two per byte, no separator.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// `bytes` as lowercase hex pairs separated by spaces (`48 54 54 50`).
pub fn spaced_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        push_hex(&mut s, &[*b]);
    }
    s
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// The bytes as text when they need no escaping (valid UTF-8 without
/// control characters or backslashes). Checked on bytes first, as nearly
/// all text is ASCII.
pub fn plain_text(bytes: &[u8]) -> Option<&str> {
    let plain = |b: &u8| (b' '..=b'~').contains(b) && *b != b'\\';
    let s = std::str::from_utf8(bytes).ok()?;
    if bytes.iter().all(plain) || !s.chars().any(|c| c.is_control() || c == '\\') {
        Some(s)
    } else {
        None
    }
}

/// Appends `bytes` as text: valid UTF-8 kept, control characters and
/// invalid bytes escaped (`\n`, `\x00`), backslashes doubled.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_escaped_byte(out, b);
        }
    }
}

/// Appends `\xNN` for byte `b`.
pub fn push_escaped_byte(out: &mut String, b: u8) {
    out.push_str("\\x");
    push_hex(out, &[b]);
}

/// Up to 32 bytes as ASCII text with everything else escaped, and as hex:
/// how foreign bytes are quoted in a finding's detail.
pub fn excerpt(data: &[u8]) -> String {
    let b = &data[..data.len().min(32)];
    let mut s = String::with_capacity(b.len() * 5 + 4);
    s.push('"');
    for &c in b {
        match c {
            b' '..=b'~' => s.push(char::from(c)),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            _ => push_escaped_byte(&mut s, c),
        }
    }
    s.push_str("\" (");
    s.push_str(&spaced_hex(b));
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_escapes() {
        assert_eq!(hex(&[0x01, 0xab, 0xff]), "01abff");
        let mut s = String::new();
        push_escaped(&mut s, b"hi\n\x00\xffz\xc3\xa9\\");
        assert_eq!(s, "hi\\n\\x00\\xffzé\\\\");
        assert_eq!(plain_text(b"plain text"), Some("plain text"));
        assert_eq!(plain_text("é ok".as_bytes()), Some("é ok"));
        assert_eq!(plain_text(b"tab\there"), None);
        assert_eq!(plain_text(b"\xff"), None);
    }

    #[test]
    fn excerpts_quote_text_and_hex() {
        assert_eq!(
            excerpt(b"HTTP/1.1\r\n\x00"),
            "\"HTTP/1.1\\r\\n\\x00\" (48 54 54 50 2f 31 2e 31 0d 0a 00)"
        );
        assert_eq!(excerpt(&[b'a'; 40]).matches('a').count(), 32);
    }
}
