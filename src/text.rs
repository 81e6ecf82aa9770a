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

/// Whether the character starting at `s[i]` of valid UTF-8 is escaped:
/// the control characters (Unicode category Cc: U+0000-U+001F, U+007F and
/// the C1 controls U+0080-U+009F, which UTF-8 writes C2 80-C2 9F) and the
/// backslash. Decided on bytes: no other character is a control.
fn escaped_at(s: &[u8], i: usize) -> bool {
    match s[i] {
        b if b < 0x20 || b == 0x7f || b == b'\\' => true,
        0xc2 => s.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)),
        _ => false,
    }
}

/// The bytes as text when they need no escaping (valid UTF-8 without
/// control characters or backslashes).
pub fn plain_text(bytes: &[u8]) -> Option<&str> {
    if (0..bytes.len()).any(|i| escaped_at(bytes, i)) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// Appends `bytes` as text: valid UTF-8 kept, control characters and
/// invalid bytes escaped (`\n`, `\x00`), backslashes doubled. Runs of
/// characters that need nothing are copied whole (a preview is made for
/// every frame).
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        let s = chunk.valid();
        let b = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < b.len() {
            if !escaped_at(b, i) {
                i += 1;
                continue;
            }
            out.push_str(&s[run..i]);
            let c = s[i..].chars().next().expect("a character starts here");
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
            }
            i += c.len_utf8();
            run = i;
        }
        out.push_str(&s[run..]);
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

#[cfg(test)]
mod escape_tests {
    use super::*;

    /// The byte rule agrees with `char::is_control` on every character of
    /// the first planes and a sample beyond.
    #[test]
    fn escaped_on_bytes_is_escaped_by_character() {
        for cp in (0u32..0x3_0000).chain([0x10_fffd, 0xe_0001]) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let mut buf = [0; 4];
            let s = c.encode_utf8(&mut buf).as_bytes();
            let want = c.is_control() || c == '\\';
            assert_eq!(escaped_at(s, 0), want, "U+{cp:04X}");
            for i in 1..s.len() {
                assert!(!escaped_at(s, i), "U+{cp:04X} byte {i}");
            }
        }
    }

    #[test]
    fn escapes() {
        let mut out = String::new();
        push_escaped(&mut out, "a\\b\n\u{85}é\u{7f}\t".as_bytes());
        push_escaped(&mut out, b"\xff\x00z");
        assert_eq!(out, "a\\\\b\\n\\x85é\\x7f\\t\\xff\\x00z");
        assert_eq!(plain_text("héllo".as_bytes()), Some("héllo"));
        assert_eq!(plain_text(b"a\\b"), None);
        assert_eq!(plain_text(b"\xc3"), None);
        assert_eq!(plain_text("\u{85}".as_bytes()), None);
    }
}
