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
}
