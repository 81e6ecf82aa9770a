//! Payload previews: how the first bytes of a frame's payload are shown
//! (`--payload text|hex|base64|none`). The analysis keeps the bytes; the
//! writers render them here, so the choice of rendering is the output's.

use crate::text;

/// How a payload preview is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadMode {
    None,
    /// Text with non-printable characters escaped (`\n`, `\x00`).
    Text,
    Hex,
    Base64,
}

impl PayloadMode {
    /// Renders `bytes` into `out` (cleared first); `None` when previews are
    /// off. Printable text, the common case, is returned borrowed.
    pub fn render<'a>(self, bytes: &'a [u8], out: &'a mut String) -> Option<&'a str> {
        use base64::Engine;
        out.clear();
        match self {
            PayloadMode::None => return None,
            PayloadMode::Text => match text::plain_text(bytes) {
                Some(plain) => return Some(plain),
                None => text::push_escaped(out, bytes),
            },
            PayloadMode::Hex => text::push_hex(out, bytes),
            PayloadMode::Base64 => {
                base64::engine::general_purpose::STANDARD.encode_string(bytes, out)
            }
        }
        Some(out)
    }

    /// Appends the inside of the JSON string [`PayloadMode::render`] makes
    /// (the bytes serde_json would write between the quotes); nothing when
    /// previews are off. `scratch` is reused for base64. Inlined into the
    /// frame record's writer, its one caller on the way of every frame.
    #[inline]
    pub fn push_json(self, bytes: &[u8], scratch: &mut String, out: &mut Vec<u8>) {
        use base64::Engine;
        match self {
            PayloadMode::None => {}
            PayloadMode::Text => text::push_escaped_json(out, bytes),
            // Hex digits and the base64 alphabet need no escaping in JSON.
            PayloadMode::Hex => text::push_hex_bytes(out, bytes),
            PayloadMode::Base64 => {
                scratch.clear();
                base64::engine::general_purpose::STANDARD.encode_string(bytes, scratch);
                out.extend_from_slice(scratch.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PayloadMode;

    fn render(mode: PayloadMode, b: &[u8]) -> Option<String> {
        let mut buf = String::new();
        mode.render(b, &mut buf).map(str::to_owned)
    }

    #[test]
    fn previews() {
        let b = b"hi\n\x00\xffz\xc3\xa9";
        assert_eq!(render(PayloadMode::Text, b).unwrap(), "hi\\n\\x00\\xffzé");
        assert_eq!(render(PayloadMode::Text, b"plain").unwrap(), "plain");
        assert_eq!(render(PayloadMode::Hex, b"\x01\xab").unwrap(), "01ab");
        assert_eq!(render(PayloadMode::Base64, b"hello").unwrap(), "aGVsbG8=");
        assert_eq!(render(PayloadMode::None, b"x"), None);
    }

    /// What [`PayloadMode::push_json`] writes is serde_json's string of
    /// the rendering, on bytes that need every kind of escape.
    #[test]
    fn json_is_serde_json_of_the_rendering() {
        let samples: [&[u8]; 6] = [
            b"plain",
            b"q\"uo\"te\\ and \\\"",
            b"hi\n\x00\xffz\xc3\xa9\t\r\x7f",
            "\u{85}é\u{9f}\u{a0}日本語 \u{1F600}".as_bytes(),
            b"\xe2\x82a\xed\xa0\x80\xf4\x90\x80\x80\xc2",
            b"",
        ];
        for mode in [PayloadMode::Text, PayloadMode::Hex, PayloadMode::Base64] {
            for b in samples {
                let want = serde_json::to_string(&render(mode, b).unwrap()).unwrap();
                let mut out = b"\"".to_vec();
                mode.push_json(b, &mut String::new(), &mut out);
                out.push(b'"');
                assert_eq!(String::from_utf8(out).unwrap(), want, "{mode:?} {b:?}");
            }
        }
    }
}
