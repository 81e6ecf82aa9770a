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

/// The secrets logged for one client random.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and earlier: `CLIENT_RANDOM` (the 48-byte master secret).
    pub master: Option<Vec<u8>>,
    /// TLS 1.3: `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// TLS 1.3: `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// TLS 1.3: `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic: Option<Vec<u8>>,
    /// TLS 1.3: `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic: Option<Vec<u8>>,
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
    by_random: HashMap<[u8; 32], Secrets>,
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

    /// The secrets logged for `client_random`.
    pub fn get(&self, client_random: &[u8]) -> Option<&Secrets> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.by_random.get(&key)
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
        let random: [u8; 32] = hex(random)?.try_into().ok()?;
        let secret = hex(secret).filter(|s| !s.is_empty() && s.len() <= MAX_SECRET)?;
        let pick: fn(&mut Secrets) -> &mut Option<Vec<u8>> = match label {
            b"CLIENT_RANDOM" if secret.len() == 48 => |s| &mut s.master,
            b"CLIENT_RANDOM" => return None,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_handshake,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_handshake,
            b"CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_traffic,
            b"SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_traffic,
            _ => return Some(false),
        };
        let slot = pick(self.by_random.entry(random).or_default());
        *slot = Some(secret);
        Some(true)
    }
}

/// Hex digits to bytes (either case); `None` for an odd count or another
/// character.
fn hex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

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
        let s = k.get(&hex(R.as_bytes()).unwrap()).unwrap();
        assert_eq!(s.client_handshake.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(s.server_traffic.as_deref(), Some(&[10u8, 11][..]));
        assert_eq!(s.client_traffic, None);
        assert_eq!(k.get(&[0xbb; 32]).unwrap().master, Some(vec![0x11; 48]));
        assert!(k.get(&[0xcc; 32]).is_none());
        assert!(k.get(&[0xbb; 31]).is_none());
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
        assert!(
            k.get(&hex(R.as_bytes()).unwrap())
                .is_none_or(|s| s.client_traffic.is_none())
        );
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
        let s = k.get(&hex(R.as_bytes()).unwrap()).unwrap();
        assert_eq!(s.server_traffic.as_deref(), Some(&[12u8][..]));
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
