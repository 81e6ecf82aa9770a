//! TLS session secrets in the NSS key log format (`SSLKEYLOGFILE`), as
//! browsers, curl, OpenSSL (Python), Node and Go write them: one line per
//! secret, `LABEL <client random in hex> <secret in hex>`.
//!
//! Secrets are kept by client random (the 32 bytes of the ClientHello,
//! RFC 8446 4.1.2), which is how a connection in the capture finds its own.
//! They are never printed: [`KeyLog`]'s `Debug` shows counts only.

use std::collections::HashMap;

/// Longest secret kept (a TLS 1.2 master secret is 48 bytes, a TLS 1.3
/// traffic secret the hash's length, at most 48 for SHA-384).
const MAX_SECRET: usize = 64;

/// The secrets a key log line may hold, by its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// TLS 1.2 and earlier: `CLIENT_RANDOM` (the 48-byte master secret).
    Master,
    /// TLS 1.3: `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    ClientHandshake,
    /// TLS 1.3: `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    ServerHandshake,
    /// TLS 1.3: `CLIENT_TRAFFIC_SECRET_0`.
    ClientTraffic,
    /// TLS 1.3: `SERVER_TRAFFIC_SECRET_0`.
    ServerTraffic,
}

/// A secret held inline (a connection keeps its current traffic secrets).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; MAX_SECRET],
}

impl Secret {
    /// `None` when longer than any secret kept.
    pub fn new(b: &[u8]) -> Option<Secret> {
        let mut bytes = [0; MAX_SECRET];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Secret {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// Where one client random's secrets are in [`KeyLog`]'s bytes, by
/// [`Label`]: offset and length (0: not logged). Kept this small because
/// a key log may hold millions of sessions, nearly all of them not in the
/// capture read.
#[derive(Clone, Copy, Default)]
struct Slots {
    at: [u32; 5],
    len: [u8; 5],
}

/// What reading key log text found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Secrets taken.
    pub secrets: usize,
    /// Lines that are not a secret in the format (comments and blank lines
    /// are not counted).
    pub malformed: usize,
}

/// Secrets by client random.
#[derive(Clone, Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], Slots>,
    /// Every secret's bytes, one after another.
    bytes: Vec<u8>,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        write!(f, "KeyLog({} client randoms)", self.by_random.len())
    }
}

impl KeyLog {
    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }

    /// Client randoms with at least one secret.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    /// Whether some secret is logged for `client_random`.
    pub fn knows(&self, client_random: &[u8]) -> bool {
        let Ok(key) = <[u8; 32]>::try_from(client_random) else {
            return false;
        };
        self.by_random.contains_key(&key)
    }

    /// The secret of `label` logged for `client_random`.
    pub fn secret(&self, client_random: &[u8], label: Label) -> Option<&[u8]> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        let slots = self.by_random.get(&key)?;
        let (at, len) = (slots.at[label as usize], slots.len[label as usize]);
        let at = at as usize;
        (len > 0).then(|| &self.bytes[at..at + usize::from(len)])
    }

    /// Adds the secrets of key log `text` (lines ending in LF or CRLF);
    /// unknown labels (early traffic, exporter secrets) are skipped
    /// without complaint, broken lines are counted.
    pub fn add(&mut self, text: &[u8]) -> Parsed {
        let mut parsed = Parsed::default();
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = line.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            match self.add_line(line) {
                Some(true) => parsed.secrets += 1,
                Some(false) => {}
                None => parsed.malformed += 1,
            }
        }
        parsed
    }

    /// Adds the secrets of a key log read line by line (a log of many
    /// sessions is not held whole).
    pub fn read(&mut self, mut r: impl std::io::BufRead) -> std::io::Result<Parsed> {
        let mut total = Parsed::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                return Ok(total);
            }
            let p = self.add(&line);
            total.secrets += p.secrets;
            total.malformed += p.malformed;
        }
    }

    /// One line: `Some(true)` for a secret kept, `Some(false)` for a
    /// well-formed line of a label not used, `None` for a broken line.
    fn add_line(&mut self, line: &[u8]) -> Option<bool> {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let (label, random, secret) = (words.next()?, words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        let mut key = [0; 32];
        if hex(random, &mut key)? != 32 {
            return None;
        }
        let mut buf = [0; MAX_SECRET];
        let len = hex(secret, &mut buf).filter(|&n| n > 0)?;
        let label = match label {
            b"CLIENT_RANDOM" if len == 48 => Label::Master,
            b"CLIENT_RANDOM" => return None,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic,
            b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic,
            _ => return Some(false),
        };
        // Offsets are 32-bit: past 4 GiB of secrets (tens of millions of
        // sessions) a line is not kept.
        let at = u32::try_from(self.bytes.len() + len).ok()? - len as u32;
        self.bytes.extend_from_slice(&buf[..len]);
        let slots = self.by_random.entry(key).or_default();
        slots.at[label as usize] = at;
        slots.len[label as usize] = len as u8;
        Some(true)
    }
}

/// Hex digits (either case) to bytes in `out`; their count, or `None` for
/// an odd count, another character, or more than `out` holds.
fn hex(s: &[u8], out: &mut [u8]) -> Option<usize> {
    if !s.len().is_multiple_of(2) || s.len() / 2 > out.len() {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (o, p) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = digit(p[0])? << 4 | digit(p[1])?;
    }
    Some(s.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

    fn random(s: &str) -> [u8; 32] {
        let mut r = [0; 32];
        assert_eq!(hex(s.as_bytes(), &mut r), Some(32));
        r
    }

    #[test]
    fn tls13_and_tls12_lines_by_client_random() {
        let text = format!(
            "# a comment\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} 0102\r\n\
             SERVER_TRAFFIC_SECRET_0 {R} 0A0b\n\
             EXPORTER_SECRET {R} 0102\n\
             \n\
             CLIENT_RANDOM {} {}\n",
            "bb".repeat(32),
            "11".repeat(48)
        );
        let mut k = KeyLog::default();
        let p = k.add(text.as_bytes());
        assert_eq!(
            p,
            Parsed {
                secrets: 3,
                malformed: 0
            }
        );
        assert_eq!(k.len(), 2);
        let r = random(R);
        assert_eq!(k.secret(&r, Label::ClientHandshake), Some(&[1u8, 2][..]));
        assert_eq!(k.secret(&r, Label::ServerTraffic), Some(&[10u8, 11][..]));
        assert_eq!(k.secret(&r, Label::ClientTraffic), None);
        assert_eq!(k.secret(&[0xbb; 32], Label::Master), Some(&[0x11; 48][..]));
        assert!(k.knows(&[0xbb; 32]) && !k.knows(&[0xcc; 32]) && !k.knows(&[0xbb; 31]));
        assert!(k.secret(&[0xbb; 31], Label::Master).is_none());
    }

    #[test]
    fn malformed_lines_are_counted_not_kept() {
        let lines = [
            "CLIENT_RANDOM".to_string(),
            format!("CLIENT_RANDOM {R}"),
            format!("CLIENT_RANDOM {R} 0011"), // not 48 bytes
            format!("CLIENT_TRAFFIC_SECRET_0 {R} 0g"), // not hex
            format!("CLIENT_TRAFFIC_SECRET_0 {R} 001"), // odd
            format!("CLIENT_TRAFFIC_SECRET_0 {R} 00 extra"),
            format!("CLIENT_TRAFFIC_SECRET_0 {} 00", &R[2..]), // short random
            format!("CLIENT_TRAFFIC_SECRET_0 {R} {}", "00".repeat(65)),
            "\u{ff}\u{fe} binary".to_string(),
        ];
        let mut k = KeyLog::default();
        let p = k.add(lines.join("\n").as_bytes());
        assert_eq!(p.malformed, lines.len());
        assert_eq!(p.secrets, 0);
        assert_eq!(k.secret(&random(R), Label::ClientTraffic), None);
    }

    #[test]
    fn read_line_by_line_as_add_does() {
        let text = format!(
            "# log\r\nCLIENT_TRAFFIC_SECRET_0 {R} 0a0b\r\nbroken\nSERVER_TRAFFIC_SECRET_0 {R} 0c"
        );
        let mut k = KeyLog::default();
        let p = k.read(std::io::Cursor::new(text.as_bytes())).unwrap();
        assert_eq!(
            p,
            Parsed {
                secrets: 2,
                malformed: 1
            }
        );
        assert_eq!(
            k.secret(&random(R), Label::ServerTraffic),
            Some(&[12u8][..])
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut k = KeyLog::default();
        k.add(format!("CLIENT_TRAFFIC_SECRET_0 {R} 0123456789abcdef").as_bytes());
        let shown = format!("{k:?}");
        assert!(!shown.contains("0123456789"), "{shown}");
        assert!(shown.contains('1'));
    }
}
