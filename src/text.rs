//! Bytes as text for people: the one hex encoder and the escaping used in
//! finding details and payload previews. Shared by the analysis (details)
//! and the report writers (previews), so each rendering is written once.
//! And [`Text`], the string type of what is usually short.

/// A string that is usually short (an HTTP head's method, version and most
/// header values, as parsed and as recorded): up to 24 bytes are held
/// inline, not allocated, so a connection's handshake costs a few
/// allocations instead of a score of them (the thousand handshakes at the
/// start of the mixed benchmark capture: about a fifth of the analysis
/// thread's allocations). Serialised as a string, like `String`.
pub type Text = compact_str::CompactString;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Byte `b` as two lowercase hex digits.
fn hex_pair(b: u8) -> [u8; 2] {
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]
}

/// Appends `bytes` as lowercase hex digits, two per byte, no separator.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        let [hi, lo] = hex_pair(b);
        out.push(char::from(hi));
        out.push(char::from(lo));
    }
}

/// [`push_hex`] into bytes (the JSON writers' buffers).
pub fn push_hex_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.extend_from_slice(&hex_pair(b));
    }
}

/// Four bytes (a masking key) as eight lowercase hex digits.
pub fn hex4(bytes: [u8; 4]) -> [u8; 8] {
    let mut out = [0; 8];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&hex_pair(b));
    }
    out
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

/// How many bytes the UTF-8 character led by `lead` has; 1 for ASCII and
/// for bytes that lead no character.
pub fn utf8_width(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

/// Whether `c`, a lead byte of a character of two to four bytes and what
/// follows of it (not more than the character), starts a valid character:
/// the range of the second byte depends on the lead (no overlong forms, no
/// surrogates, nothing past U+10FFFF: Unicode table 3-7), the others
/// continue it.
pub fn valid_char_start(c: &[u8]) -> bool {
    let second = match c[0] {
        0xe0 => 0xa0..=0xbf,
        0xed => 0x80..=0x9f,
        0xf0 => 0x90..=0xbf,
        0xf4 => 0x80..=0x8f,
        _ => 0x80..=0xbf,
    };
    c.get(1).is_none_or(|b| second.contains(b))
        && c.iter().skip(2).all(|&b| (0x80..=0xbf).contains(&b))
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

/// How an escaped character shows (`\n`, `\\`, `\x85`): at most four
/// bytes of ASCII.
struct Escape {
    text: [u8; 4],
    len: usize,
}

impl Escape {
    /// The escape of the character at `s[i]` of valid UTF-8, where
    /// [`escaped_at`] holds, and how many bytes that character has.
    fn at(s: &[u8], i: usize) -> (Escape, usize) {
        let short = |c| Escape {
            text: [b'\\', c, 0, 0],
            len: 2,
        };
        match s[i] {
            b'\n' => (short(b'n'), 1),
            b'\r' => (short(b'r'), 1),
            b'\t' => (short(b't'), 1),
            b'\\' => (short(b'\\'), 1),
            // A C1 control: its code point is the second byte.
            0xc2 => (Escape::byte(s[i + 1]), 2),
            b => (Escape::byte(b), 1),
        }
    }

    /// `\xNN`.
    fn byte(b: u8) -> Escape {
        let [hi, lo] = hex_pair(b);
        Escape {
            text: [b'\\', b'x', hi, lo],
            len: 4,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("ASCII")
    }
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
            let (e, n) = Escape::at(b, i);
            out.push_str(e.as_str());
            i += n;
            run = i;
        }
        out.push_str(&s[run..]);
        for &b in chunk.invalid() {
            push_escaped_byte(out, b);
        }
    }
}

/// Appends what [`push_escaped`] makes of `bytes` as the inside of a JSON
/// string, the bytes serde_json would write for it: its backslashes
/// doubled and double quotes escaped (it holds no control characters).
/// One pass, UTF-8 checked on the way, through a buffer on the stack: a
/// preview is written with every frame record, and a byte pushed onto the
/// Vec costs a capacity check and the Vec's length loaded and stored again.
pub fn push_escaped_json(out: &mut Vec<u8>, bytes: &[u8]) {
    // Up to 48 bytes at a time, and the rest of a character begun at the
    // last: at most 51, each making at most five (`\\xNN`).
    const STEP: usize = 48;
    let mut buf = [0u8; 256];
    let mut i = 0;
    while i < bytes.len() {
        let end = bytes.len().min(i + STEP);
        let mut n = 0;
        while i < end {
            let c = bytes[i];
            if PLAIN_ASCII[usize::from(c)] {
                buf[n] = c;
                n += 1;
                i += 1;
            } else if c == b'"' {
                buf[n..n + 2].copy_from_slice(b"\\\"");
                n += 2;
                i += 1;
            } else {
                let (text, len, used) = json_char(bytes, i);
                buf[n..n + 5].copy_from_slice(&text);
                n += len;
                i += used;
            }
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// `s` as a JSON string (quotes included), escaped exactly as serde_json
/// escapes: `"`, `\\` and the control characters below U+0020 (as `\n`,
/// `\t`... or `\u00XX`), everything else (DEL and all of non-ASCII) as it
/// is. The stretches between escapes are found eight bytes at a time and
/// copied whole: the strings of a record are mostly short and clean.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(at) = first_json_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        push_json_escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// serde_json's escape of one byte that needs one.
fn push_json_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            let (hi, lo) = (HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]);
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Index of the first byte JSON escapes: below 0x20, `"` or `\\`.
fn first_json_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    // A byte is flagged where `x - ONES * n` borrows into a high bit `x`
    // did not have: it is below n (n up to 128), or zero after an XOR with
    // a needle. Borrows carry only upwards, so the lowest flag of each test
    // is a real match, and so the lowest of all three.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word);
        let flags = below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1);
        if flags != 0 {
            return Some(i * 8 + (flags.trailing_zeros() / 8) as usize);
        }
    }
    let at = bytes.len() - tail.len();
    tail.iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| at + i)
}

/// ASCII that a JSON preview copies as it is: the printable characters but
/// `"` and `\\`.
const PLAIN_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = matches!(c, b' '..=b'~') && c != b'"' && c != b'\\';
        b += 1;
    }
    t
};

/// What the character at `bytes[i]` (or the byte, where no valid character
/// starts) becomes in a JSON preview, when it is neither plain ASCII nor a
/// double quote: up to five bytes, how many, and how many of `bytes` it
/// takes. Bytes that are not UTF-8 go one at a time, each escaped: what
/// [`push_escaped`] makes of them too.
fn json_char(bytes: &[u8], i: usize) -> ([u8; 5], usize, usize) {
    let c = bytes[i];
    let width = utf8_width(c);
    let have = &bytes[i..bytes.len().min(i + width)];
    let valid = c.is_ascii() || (width > 1 && have.len() == width && valid_char_start(have));
    if !valid {
        let (text, len) = json_escape(&Escape::byte(c));
        return (text, len, 1);
    }
    if escaped_at(bytes, i) {
        let (e, used) = Escape::at(bytes, i);
        let (text, len) = json_escape(&e);
        return (text, len, used);
    }
    // Four bytes whatever the width (those past it are not used): a copy
    // of a length not known when compiling is a call to memcpy.
    let at = |k| bytes.get(i + k).copied().unwrap_or(0);
    ([c, at(1), at(2), at(3), 0], width, width)
}

/// Escape `e` as it shows inside a JSON string, its backslashes doubled:
/// up to five bytes, and how many.
fn json_escape(e: &Escape) -> ([u8; 5], usize) {
    let mut text = [0; 5];
    let mut n = 0;
    for &b in &e.text[..e.len] {
        if b == b'\\' {
            text[n] = b;
            n += 1;
        }
        text[n] = b;
        n += 1;
    }
    (text, n)
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

    #[test]
    fn json_strings_as_serde_json_writes_them() {
        let check = |s: &str| {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        };
        for c in (0..0x800).filter_map(char::from_u32) {
            check(&c.to_string());
            // Around and across the eight-byte steps.
            for n in [3, 7, 8, 9, 15, 16, 17] {
                let mut s = "a".repeat(n);
                s.push(c);
                s.push_str(&"b".repeat(n));
                check(&s);
            }
        }
        check("");
        check("tcp.stream eq 12\u{7f}\u{1f}\"\\é\r\n\t\u{8}\u{c}😀");
    }
    use super::*;

    #[test]
    fn hex_and_escapes() {
        assert_eq!(hex(&[0x01, 0xab, 0xff]), "01abff");
        assert_eq!(&hex4([0x0a, 0xff, 0x00, 0x37]), b"0aff0037");
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

    /// The records' schema does not change with the type: a `Text`, held
    /// inline or not, is written as the same JSON string as a `String`.
    #[test]
    fn text_serialises_as_a_string() {
        for s in [
            "",
            "GET",
            "dGhlIHNhbXBsZSBub25jZQ==",
            "a \"quoted\"\n\u{1} é value of more than twenty-four bytes",
        ] {
            let text = Text::from(s);
            assert_eq!(text.is_heap_allocated(), s.len() > 24, "{s:?}");
            assert_eq!(
                serde_json::to_string(&text).unwrap(),
                serde_json::to_string(&s.to_string()).unwrap()
            );
        }
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

    /// The JSON escaping is serde_json's string of the plain one: on every
    /// sequence of up to two bytes, and on longer ones drawn from bytes
    /// that start, continue or break characters.
    #[test]
    fn json_escaping_is_serde_json_of_the_text() {
        let check = |b: &[u8]| {
            let mut text = String::new();
            push_escaped(&mut text, b);
            let mut json = b"\"".to_vec();
            push_escaped_json(&mut json, b);
            json.push(b'"');
            assert_eq!(json, serde_json::to_vec(&text).unwrap(), "{b:?}");
        };
        for x in 0..=0xffff_u32 {
            let [_, _, hi, lo] = x.to_be_bytes();
            check(&[hi]);
            check(&[hi, lo]);
        }
        let pool = [
            0x00, 0x0a, 0x1f, b'"', b'\\', b'a', 0x7f, 0x80, 0x85, 0x9f, 0xa0, 0xbf, 0xc2, 0xc3,
            0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
        ];
        let mut seed = 1_u64;
        for _ in 0..50_000 {
            let mut b = [0u8; 6];
            for v in &mut b {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                *v = pool[(seed >> 33) as usize % pool.len()];
            }
            check(&b);
        }
        // Longer than the stack buffer holds, however it expands.
        check(&b"\x01\"x".repeat(300));
        check("é\u{85}".repeat(300).as_bytes());
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
