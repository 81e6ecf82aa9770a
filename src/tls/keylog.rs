//! TLS session secrets in the NSS key log format (`SSLKEYLOGFILE`), as
//! browsers, curl, OpenSSL (Python), Node and Go write them: one line per
//! secret, `LABEL <client random in hex> <secret in hex>`.
//!
//! Secrets are found by client random (the 32 bytes of the ClientHello,
//! RFC 8446 4.1.2), which is how a connection in the capture finds its own.
//! They are never printed: [`KeyLog`]'s `Debug` shows counts only.
//!
//! # Memory: a key log file is indexed, not held
//!
//! A key log is a program's history: a browser's or a load generator's
//! holds hundreds of thousands of sessions, nearly none of them in the
//! capture being read, while a connection looks its secrets up once, at
//! its ServerHello. Held whole, a log costs about 230 bytes a session and
//! memory grows with the log, not the capture. So a key log given as a
//! regular file is scanned once, streaming, and only an index stays:
//! 8 bytes a secret line (a 24-bit hash of the client random, the label,
//! the line's offset), sorted; 32 bytes for a TLS 1.3 session's four
//! lines. A lookup reads the lines its hash points to back from the file
//! with positioned reads (no cursor, so the log shared by the analysis
//! threads needs no lock; one read of a page usually brings a whole
//! session, as programs write its lines together), parses them again and
//! takes only a line naming the full client random and the label: a hash
//! collision costs a read, never a wrong secret.
//!
//! What cannot be read again is held whole: secrets embedded in the
//! capture (a pcapng Decryption Secrets Block, [`KeyLog::add`]) and key
//! logs that are not regular files (a pipe, `<(...)`, standard input).
//!
//! Several logs may log one client random: for each label, the secret
//! added last wins (a later log's over an earlier one's, a later line's
//! over an earlier one's in the same log), however each log is kept.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufRead, Seek};
use std::sync::Arc;

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

/// The secrets logged for one client random, by [`Label`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSecrets([Option<Secret>; 5]);

impl SessionSecrets {
    pub fn get(&self, label: Label) -> Option<Secret> {
        self.0[label as usize]
    }

    fn any(&self) -> bool {
        self.0.iter().any(Option::is_some)
    }
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

impl Parsed {
    fn count(&mut self, line: &Line) {
        match line {
            Line::Secret(..) => self.secrets += 1,
            Line::Broken => self.malformed += 1,
            Line::Ignored => {}
        }
    }
}

/// Secrets by client random, from key logs held or indexed (see the
/// module doc). Shared by the analysis threads (`Send + Sync`).
#[derive(Clone, Default)]
pub struct KeyLog {
    /// In the order added: a later one's secret wins.
    sources: Vec<Source>,
}

#[derive(Clone)]
enum Source {
    Held(Held),
    Indexed(Arc<Indexed>),
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only, never the secrets themselves.
        let (mut held, mut indexed, mut files) = (0, 0, 0);
        for s in &self.sources {
            match s {
                Source::Held(h) => held += h.by_random.len(),
                Source::Indexed(i) => (indexed, files) = (indexed + i.entries.len(), files + 1),
            }
        }
        write!(
            f,
            "KeyLog({held} client randoms held, {indexed} secret lines indexed in {files} files)"
        )
    }
}

impl KeyLog {
    pub fn is_empty(&self) -> bool {
        self.sources.iter().all(|s| match s {
            Source::Held(h) => h.by_random.is_empty(),
            Source::Indexed(i) => i.entries.is_empty(),
        })
    }

    /// Whether some secret is logged for `client_random`.
    pub fn knows(&self, client_random: &[u8]) -> bool {
        self.session(client_random).is_some()
    }

    /// The secret of `label` logged for `client_random`.
    pub fn secret(&self, client_random: &[u8], label: Label) -> Option<Secret> {
        self.session(client_random)?.get(label)
    }

    /// Every secret logged for `client_random`, `None` when there is none.
    /// From an indexed log this reads the file (usually once): it is for
    /// a connection's handshake, not for each record.
    pub fn session(&self, client_random: &[u8]) -> Option<SessionSecrets> {
        let random: &[u8; 32] = client_random.try_into().ok()?;
        let mut found = SessionSecrets::default();
        // The last added first: its secrets win.
        for s in self.sources.iter().rev() {
            let more = match s {
                Source::Held(h) => h.session(random),
                Source::Indexed(i) => i.session(random),
            };
            for (f, m) in found.0.iter_mut().zip(more.0) {
                *f = f.or(m);
            }
        }
        found.any().then_some(found)
    }

    /// Adds the secrets of key log `text` (lines ending in LF or CRLF),
    /// held; unknown labels (early traffic, exporter secrets) are skipped
    /// without complaint, broken lines are counted.
    pub fn add(&mut self, text: &[u8]) -> Parsed {
        let held = self.last_held();
        let mut parsed = Parsed::default();
        for line in text.split(|&b| b == b'\n') {
            parsed.count(&held.keep(parse(line)));
        }
        parsed
    }

    /// Adds the secrets of a key log read line by line (a log of many
    /// sessions is not held whole as text), held.
    pub fn read(&mut self, mut r: impl BufRead) -> io::Result<Parsed> {
        let held = self.last_held();
        let mut parsed = Parsed::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                return Ok(parsed);
            }
            parsed.count(&held.keep(parse(&line)));
        }
    }

    /// Adds the secrets of key log `file`: indexed and kept open when it is
    /// a regular file (see the module doc), else read and held as by
    /// [`KeyLog::read`].
    pub fn read_file(&mut self, file: File) -> io::Result<Parsed> {
        if !(READ_BACK && file.metadata()?.is_file()) {
            return self.read(io::BufReader::new(file));
        }
        let (index, parsed) = Indexed::scan(file, HASH_MASK)?;
        self.sources.push(Source::Indexed(Arc::new(index)));
        Ok(parsed)
    }

    /// The held secrets added to last, after any indexed log (so that what
    /// is added now wins over it).
    fn last_held(&mut self) -> &mut Held {
        if !matches!(self.sources.last(), Some(Source::Held(_))) {
            self.sources.push(Source::Held(Held::default()));
        }
        let Some(Source::Held(h)) = self.sources.last_mut() else {
            unreachable!("a held source was pushed if the last was not one")
        };
        h
    }
}

/// Where one client random's secrets are in [`Held`]'s bytes, by
/// [`Label`]: offset and length (0: not logged).
#[derive(Clone, Copy, Default)]
struct Slots {
    at: [u32; 5],
    len: [u8; 5],
}

/// Secrets held in memory: those that cannot be read again.
#[derive(Clone, Default)]
struct Held {
    by_random: HashMap<[u8; 32], Slots>,
    /// Every secret's bytes, one after another.
    bytes: Vec<u8>,
}

impl Held {
    /// Keeps `line`'s secret, over an earlier one of its client random and
    /// label; the line, or `Broken` when its secret could not be kept.
    fn keep(&mut self, line: Line) -> Line {
        let Line::Secret(label, random, secret) = line else {
            return line;
        };
        let len = secret.as_bytes().len();
        // Offsets are 32-bit: past 4 GiB of secrets (tens of millions of
        // sessions) a line is not kept.
        let Some(at) = u32::try_from(self.bytes.len() + len).ok() else {
            return Line::Broken;
        };
        self.bytes.extend_from_slice(secret.as_bytes());
        let slots = self.by_random.entry(random).or_default();
        slots.at[label as usize] = at - len as u32;
        slots.len[label as usize] = len as u8;
        line
    }

    fn session(&self, random: &[u8; 32]) -> SessionSecrets {
        let mut found = SessionSecrets::default();
        if let Some(slots) = self.by_random.get(random) {
            for (f, (&at, &len)) in found.0.iter_mut().zip(slots.at.iter().zip(&slots.len)) {
                let at = at as usize;
                *f = (len > 0)
                    .then(|| Secret::new(&self.bytes[at..at + usize::from(len)]))
                    .flatten();
            }
        }
        found
    }
}

/// An index entry's fields, high bits to low: the client random's hash,
/// the label, the line's offset in the file (key logs up to 128 GiB).
const OFFSET_BITS: u32 = 37;
const LABEL_BITS: u32 = 3;
const HASH_BITS: u32 = 64 - LABEL_BITS - OFFSET_BITS;
const HASH_SHIFT: u32 = LABEL_BITS + OFFSET_BITS;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const HASH_MASK: u64 = (1 << HASH_BITS) - 1;

/// Most bytes a lookup reads at once to get all the lines it wants: a
/// session's lines, written together, are usually within a page.
const READ_TOGETHER: usize = 4096;

/// Whether files can be read back by offset here (else they are held).
const READ_BACK: bool = cfg!(unix);

/// A key log file's secret lines by client random, read back on lookup.
///
/// The file is read back while the capture is analysed, so it may change
/// in between. A program still writing the log (a browser left running)
/// only appends, which leaves the indexed lines where they were; the lines
/// it adds are not used, as when logs were read whole at the start. A log
/// truncated or rewritten meanwhile is no longer the one given with the
/// capture, and is not worth a lock or a copy: a line that does not read
/// back whole, or no longer names the indexed client random and label, is
/// taken as absent (an earlier line or log for them may then serve). The
/// worst outcome is a connection reported without its secret
/// (`tls_key_missing`), never a panic nor a secret from a line of another
/// client random.
struct Indexed {
    file: File,
    /// Sorted: by hash, then label, then offset (a later line of a client
    /// random and label comes after an earlier one, and wins).
    entries: Box<[u64]>,
    /// The longest secret line's length with its line end: a read of one
    /// byte more holds any indexed line and shows where it ends.
    longest: usize,
    hasher: foldhash::quality::RandomState,
    /// The hash bits used: all but in tests, which make every line collide.
    hash_mask: u64,
}

impl Indexed {
    /// Indexes `file` from its current position, reading it line by line.
    fn scan(mut file: File, hash_mask: u64) -> io::Result<(Indexed, Parsed)> {
        let mut at = file.stream_position()?;
        let mut index = Indexed {
            file,
            entries: Box::default(),
            longest: 0,
            hasher: Default::default(),
            hash_mask,
        };
        let (mut entries, mut parsed, mut line) = (Vec::new(), Parsed::default(), Vec::new());
        let mut r = io::BufReader::new(&index.file);
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            let mut kept = parse(&line);
            if let Line::Secret(label, random, _) = &kept {
                match index.entry(*label, random, at) {
                    Some(e) => {
                        entries.push(e);
                        index.longest = index.longest.max(n);
                    }
                    // Past the offsets an entry holds: not kept.
                    None => kept = Line::Broken,
                }
            }
            parsed.count(&kept);
            at += n as u64;
        }
        drop(r);
        entries.sort_unstable();
        index.entries = entries.into_boxed_slice();
        Ok((index, parsed))
    }

    fn hash(&self, random: &[u8; 32]) -> u64 {
        (self.hasher.hash_one(random) >> (64 - HASH_BITS)) & self.hash_mask
    }

    fn entry(&self, label: Label, random: &[u8; 32], at: u64) -> Option<u64> {
        (at <= OFFSET_MASK)
            .then(|| (self.hash(random) << HASH_SHIFT) | ((label as u64) << OFFSET_BITS) | at)
    }

    /// The secrets of `random`'s lines, read back and checked.
    fn session(&self, random: &[u8; 32]) -> SessionSecrets {
        let hash = self.hash(random);
        let from = self.entries.partition_point(|&e| e >> HASH_SHIFT < hash);
        let same = self.entries[from..].partition_point(|&e| e >> HASH_SHIFT == hash);
        let lines = &self.entries[from..from + same];
        let mut found = SessionSecrets::default();
        let mut window = Window::new(self);
        let offsets = lines.iter().map(|e| e & OFFSET_MASK);
        if let (Some(first), Some(last)) = (offsets.clone().min(), offsets.max()) {
            // All the lines in one read when they are close together.
            let span = usize::try_from(last - first)
                .map_or(usize::MAX, |d| d.saturating_add(self.longest + 1));
            if span <= READ_TOGETHER {
                // Should it fail, each line is read on its own below.
                let _ = window.fill(first, span);
            }
        }
        for &e in lines {
            let label = (e >> OFFSET_BITS) & ((1 << LABEL_BITS) - 1);
            if let Some(Line::Secret(l, r, secret)) = window.line(e & OFFSET_MASK).map(parse)
                && r == *random
                && l as u64 == label
            {
                found.0[l as usize] = Some(secret);
            }
        }
        found
    }
}

/// The bytes of an indexed key log read back for one lookup.
struct Window<'a> {
    index: &'a Indexed,
    /// Where `bytes` start in the file.
    at: u64,
    bytes: Vec<u8>,
    /// `bytes` reach the end of the file.
    end: bool,
}

impl Window<'_> {
    fn new(index: &Indexed) -> Window<'_> {
        Window {
            index,
            at: 0,
            bytes: Vec::new(),
            end: false,
        }
    }

    /// The line that starts at `at`, its line end taken off; `None` when
    /// it cannot be read or is longer than any line indexed (the file
    /// changed).
    fn line(&mut self, at: u64) -> Option<&[u8]> {
        let need = self.index.longest + 1;
        let rel = at
            .checked_sub(self.at)
            .and_then(|r| usize::try_from(r).ok());
        let held = rel
            .is_some_and(|r| r + need <= self.bytes.len() || (self.end && r <= self.bytes.len()));
        if !held {
            self.fill(at, need)?;
        }
        let rest = &self.bytes[(at - self.at) as usize..];
        let rest = &rest[..rest.len().min(need)];
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => Some(&rest[..end]),
            None if rest.len() == need => None,
            // The file's last line, without a line end.
            None => Some(rest),
        }
    }

    fn fill(&mut self, at: u64, len: usize) -> Option<()> {
        self.bytes.resize(len, 0);
        match read_at(&self.index.file, &mut self.bytes, at) {
            Ok(n) => {
                self.bytes.truncate(n);
                (self.at, self.end) = (at, n < len);
                Some(())
            }
            Err(_) => {
                // Nothing held: the next line is read afresh.
                (self.at, self.end) = (0, false);
                self.bytes.clear();
                None
            }
        }
    }
}

/// Reads `buf.len()` bytes at offset `at` of `file`, fewer only at its
/// end; the count read.
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match positioned_read(file, &mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A read at an offset that leaves the file's cursor alone (`pread`), so
/// threads share the file without a lock.
#[cfg(unix)]
fn positioned_read(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(not(unix))]
fn positioned_read(_: &File, _: &mut [u8], _: u64) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// One key log line, as parsed.
enum Line {
    /// A secret of a label used.
    Secret(Label, [u8; 32], Secret),
    /// Blank, a comment, or well-formed with a label not used (early
    /// traffic, exporter secrets): skipped without complaint.
    Ignored,
    /// Not a key log line.
    Broken,
}

/// Parses one line (its LF or CRLF end, if any, taken off here).
fn parse(line: &[u8]) -> Line {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line).trim_ascii();
    if line.is_empty() || line.starts_with(b"#") {
        return Line::Ignored;
    }
    words(line).unwrap_or(Line::Broken)
}

/// A line's three words: `LABEL <client random> <secret>`, the last two
/// decoded as they are scanned (a key log is mostly hex digits, read once
/// when indexed and again on each lookup).
fn words(line: &[u8]) -> Option<Line> {
    let end = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    let (label, mut rest) = line.split_at(end);
    let mut key = [0; 32];
    if hex_word(&mut rest, &mut key)? != 32 {
        return None;
    }
    let mut buf = [0; MAX_SECRET];
    let len = hex_word(&mut rest, &mut buf).filter(|&n| n > 0)?;
    if !rest.trim_ascii_start().is_empty() {
        return None;
    }
    let label = match label {
        b"CLIENT_RANDOM" if len == 48 => Label::Master,
        b"CLIENT_RANDOM" => return None,
        b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
        b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic,
        b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic,
        _ => return Some(Line::Ignored),
    };
    Some(Line::Secret(label, key, Secret::new(&buf[..len])?))
}

/// Each byte's value as a hex digit (either case), 0xff for the others: a
/// table, as a key log of many sessions is mostly hex digits.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes the word of hex digits (either case) that `rest` starts with,
/// after any whitespace, into `out`, and moves `rest` past it; the count
/// of bytes, or `None` for an odd count of digits, another character, or
/// more than `out` holds.
fn hex_word(rest: &mut &[u8], out: &mut [u8]) -> Option<usize> {
    let mut s = rest.trim_ascii_start();
    let mut n = 0;
    while let [high, low, tail @ ..] = s
        && let Some(byte) = hex_pair(*high, *low)
    {
        *out.get_mut(n)? = byte;
        n += 1;
        s = tail;
    }
    *rest = s;
    s.first().is_none_or(u8::is_ascii_whitespace).then_some(n)
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let (high, low) = (HEX[usize::from(high)], HEX[usize::from(low)]);
    ((high | low) <= 0xf).then_some(high << 4 | low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempFile;

    const R: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

    fn random(s: &str) -> [u8; 32] {
        let mut r = [0; 32];
        assert_eq!(hex_word(&mut s.as_bytes(), &mut r), Some(32));
        r
    }

    fn bytes(s: Option<Secret>) -> Option<Vec<u8>> {
        s.map(|s| s.as_bytes().to_vec())
    }

    /// `text` indexed from a file, its client randoms hashed to
    /// `hash_mask`'s bits (0: every line collides with every other).
    fn indexed(name: &str, text: &[u8], hash_mask: u64) -> (KeyLog, Parsed, TempFile) {
        let log = TempFile::holding(name, text);
        let (index, parsed) = Indexed::scan(log.open(), hash_mask).unwrap();
        let keys = KeyLog {
            sources: vec![Source::Indexed(Arc::new(index))],
        };
        (keys, parsed, log)
    }

    fn held(text: &[u8]) -> (KeyLog, Parsed) {
        let mut k = KeyLog::default();
        let p = k.add(text);
        (k, p)
    }

    /// `text` held, indexed, and indexed with every line colliding.
    fn every_kind(name: &str, text: &[u8]) -> Vec<(KeyLog, Parsed)> {
        let (a, pa, _log) = indexed(name, text, HASH_MASK);
        let (b, pb, _log) = indexed(name, text, 0);
        vec![held(text), (a, pa), (b, pb)]
    }

    /// Every client random `text` names, and one it does not.
    fn randoms_in(text: &str) -> Vec<[u8; 32]> {
        let mut all = vec![[0xee; 32]];
        for line in text.lines() {
            let mut r = [0; 32];
            if let Some(word) = line.split_ascii_whitespace().nth(1)
                && hex_word(&mut word.as_bytes(), &mut r) == Some(32)
            {
                all.push(r);
            }
        }
        all
    }

    /// Lines of every kind: TLS 1.2 and 1.3, CRLF, comments, blank and
    /// malformed lines, a label not used, duplicates, odd spacing, many
    /// sessions interleaved, a last line without its line end.
    fn mixed_log() -> String {
        let mut text = format!(
            "# a comment\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} 0102\r\n\
             SERVER_TRAFFIC_SECRET_0 {R} 0A0b\n\
             EXPORTER_SECRET {R} 0102\n\
             \n\
             CLIENT_RANDOM {bb} {m1}\n\
             \t  SERVER_HANDSHAKE_TRAFFIC_SECRET   {R}\t0303  \r\n\
             CLIENT_TRAFFIC_SECRET_0 {R} 0g\n\
             broken\n\
             CLIENT_RANDOM {cc} 0011\n\
             SERVER_TRAFFIC_SECRET_0 {R} 0c0d\n\
             CLIENT_RANDOM {bb} {m2}\r\n",
            bb = "bb".repeat(32),
            cc = "cc".repeat(32),
            m1 = "11".repeat(48),
            m2 = "22".repeat(48),
        );
        let labels = [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ];
        for (l, label) in labels.iter().enumerate() {
            for i in 0..50 {
                text += &format!("{label} {:064x} {:02x}{}\n", i * 7919, l, "5a".repeat(31));
            }
        }
        text + &format!(
            "CLIENT_TRAFFIC_SECRET_0 {} {}",
            "dd".repeat(32),
            "44".repeat(48)
        )
    }

    #[test]
    fn an_index_reads_back_what_is_held() {
        let text = mixed_log();
        let kinds = every_kind("mixed", text.as_bytes());
        let (want, parsed) = &kinds[0];
        assert_eq!(
            *parsed,
            Parsed {
                secrets: 207,
                malformed: 3
            }
        );
        let r = random(R);
        let s = want.session(&r).unwrap();
        assert_eq!(bytes(s.get(Label::ClientHandshake)), Some(vec![1, 2]));
        assert_eq!(bytes(s.get(Label::ServerHandshake)), Some(vec![3, 3]));
        assert_eq!(bytes(s.get(Label::ServerTraffic)), Some(vec![12, 13]));
        assert_eq!(s.get(Label::ClientTraffic), None);
        assert_eq!(
            bytes(want.secret(&[0xbb; 32], Label::Master)),
            Some(vec![0x22; 48])
        );
        assert_eq!(
            bytes(want.secret(&[0xdd; 32], Label::ClientTraffic)),
            Some(vec![0x44; 48])
        );
        for (k, p) in &kinds[1..] {
            assert_eq!(p, parsed);
            for r in randoms_in(&text) {
                assert_eq!(k.session(&r), want.session(&r), "{k:?}");
                assert_eq!(k.knows(&r), want.knows(&r));
            }
            assert!(!k.knows(&[0xcc; 32]) && !k.knows(&[0xbb; 31]) && !k.is_empty());
        }
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
        for (k, p) in every_kind("tls13", text.as_bytes()) {
            assert_eq!(
                p,
                Parsed {
                    secrets: 3,
                    malformed: 0
                }
            );
            let r = random(R);
            assert_eq!(
                bytes(k.secret(&r, Label::ClientHandshake)),
                Some(vec![1, 2])
            );
            assert_eq!(
                bytes(k.secret(&r, Label::ServerTraffic)),
                Some(vec![10, 11])
            );
            assert_eq!(k.secret(&r, Label::ClientTraffic), None);
            let master = k.secret(&[0xbb; 32], Label::Master);
            assert_eq!(bytes(master), Some(vec![0x11; 48]));
            assert!(k.knows(&[0xbb; 32]) && !k.knows(&[0xcc; 32]) && !k.knows(&[0xbb; 31]));
            assert!(k.secret(&[0xbb; 31], Label::Master).is_none());
        }
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
        for (k, p) in every_kind("malformed", lines.join("\n").as_bytes()) {
            assert_eq!(p.malformed, lines.len());
            assert_eq!(p.secrets, 0);
            assert_eq!(k.secret(&random(R), Label::ClientTraffic), None);
            assert!(k.is_empty());
        }
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
        let secret = k.secret(&random(R), Label::ServerTraffic);
        assert_eq!(bytes(secret), Some(vec![12]));
    }

    #[test]
    fn a_file_is_indexed_from_where_it_is_opened_at() {
        let line = format!("CLIENT_TRAFFIC_SECRET_0 {R} 0a0b\n");
        let log = TempFile::holding("position", format!("broken\n{line}").as_bytes());
        let mut file = log.open();
        file.seek(io::SeekFrom::Start(7)).unwrap();
        let mut k = KeyLog::default();
        let p = k.read_file(file).unwrap();
        assert_eq!(
            p,
            Parsed {
                secrets: 1,
                malformed: 0
            }
        );
        assert!(matches!(k.sources[..], [Source::Indexed(_)]));
        let secret = k.secret(&random(R), Label::ClientTraffic);
        assert_eq!(bytes(secret), Some(vec![10, 11]));
    }

    #[test]
    fn a_pipe_is_held() {
        let (reader, mut writer) = io::pipe().unwrap();
        let text = format!("CLIENT_TRAFFIC_SECRET_0 {R} 0a0b\nbroken\n");
        io::Write::write_all(&mut writer, text.as_bytes()).unwrap();
        drop(writer);
        let mut k = KeyLog::default();
        let p = k
            .read_file(File::from(std::os::fd::OwnedFd::from(reader)))
            .unwrap();
        assert_eq!(
            p,
            Parsed {
                secrets: 1,
                malformed: 1
            }
        );
        assert!(matches!(k.sources[..], [Source::Held(_)]));
        let secret = k.secret(&random(R), Label::ClientTraffic);
        assert_eq!(bytes(secret), Some(vec![10, 11]));
    }

    #[test]
    fn the_secret_added_last_wins_held_or_indexed() {
        let first = format!("SERVER_TRAFFIC_SECRET_0 {R} 01\nCLIENT_TRAFFIC_SECRET_0 {R} 02\n");
        let file = format!(
            "SERVER_TRAFFIC_SECRET_0 {R} 03\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {R} 04\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R} 06\n"
        );
        let last = format!("CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} 05\n");
        let log = TempFile::holding("order", file.as_bytes());
        let mut k = KeyLog::default();
        k.add(first.as_bytes());
        k.read_file(log.open()).unwrap();
        k.add(last.as_bytes());
        assert!(matches!(
            k.sources[..],
            [Source::Held(_), Source::Indexed(_), Source::Held(_)]
        ));
        let (all_held, _) = held(format!("{first}{file}{last}").as_bytes());
        let r = random(R);
        assert_eq!(k.session(&r), all_held.session(&r));
        let s = k.session(&r).unwrap();
        let got = [
            Label::ServerTraffic,
            Label::ClientTraffic,
            Label::ClientHandshake,
            Label::ServerHandshake,
        ]
        .map(|l| bytes(s.get(l)));
        assert_eq!(got, [3, 2, 5, 6].map(|b| Some(vec![b])));
    }

    /// Whatever happened to the file, a secret found is one the file held
    /// for that client random and label when it was indexed.
    fn nothing_but_what_was_logged(k: &KeyLog, want: &KeyLog, text: &str) -> usize {
        let mut found = 0;
        for r in randoms_in(text) {
            let (got, want) = (k.session(&r), want.session(&r).unwrap_or_default());
            for (g, w) in got.unwrap_or_default().0.iter().zip(want.0) {
                if g.is_some() {
                    assert_eq!(*g, w);
                    found += 1;
                }
            }
        }
        found
    }

    #[test]
    fn a_file_changed_after_indexing_gives_no_secret_or_the_right_one() {
        let text = mixed_log();
        let (want, _) = held(text.as_bytes());
        for hash_mask in [HASH_MASK, 0] {
            let (k, _, log) = indexed("changed", text.as_bytes(), hash_mask);
            let all = nothing_but_what_was_logged(&k, &want, &text);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(log.path())
                .unwrap();
            file.set_len(text.len() as u64 / 2).unwrap();
            let half = nothing_but_what_was_logged(&k, &want, &text);
            assert!(0 < half && half < all, "{half} of {all}");
            // Shifted: every offset now falls inside a line.
            std::fs::write(log.path(), format!("# x\n{text}")).unwrap();
            assert_eq!(nothing_but_what_was_logged(&k, &want, &text), 0);
            // Lines longer than any indexed, without a line end; but the
            // last one, still whole where it was, at the end of the file.
            std::fs::write(log.path(), text.replace('\n', " ")).unwrap();
            assert_eq!(nothing_but_what_was_logged(&k, &want, &text), 1);
            file.set_len(0).unwrap();
            assert_eq!(nothing_but_what_was_logged(&k, &want, &text), 0);
        }
    }

    #[test]
    fn a_tls13_session_costs_four_entries() {
        let mut text = String::new();
        for i in 0..1000 {
            for label in ["CLIENT_HANDSHAKE", "SERVER_HANDSHAKE", "CLIENT", "SERVER"] {
                let label = label.replace("_HANDSHAKE", "_HANDSHAKE_TRAFFIC_SECRET");
                let label = if label.contains('_') {
                    label
                } else {
                    format!("{label}_TRAFFIC_SECRET_0")
                };
                text += &format!("{label} {i:064x} {}\n", "ab".repeat(32));
            }
        }
        let (k, p, _log) = indexed("size", text.as_bytes(), HASH_MASK);
        assert_eq!(p.secrets, 4000);
        let Source::Indexed(i) = &k.sources[0] else {
            panic!("indexed")
        };
        assert_eq!(std::mem::size_of_val(&*i.entries), 1000 * 32);
        assert_eq!(
            bytes(k.secret(&random(&format!("{:064x}", 999)), Label::ServerTraffic)),
            Some(vec![0xab; 32])
        );
    }

    #[test]
    fn shared_by_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<KeyLog>();
    }

    #[test]
    fn debug_shows_no_secret() {
        let text = format!("CLIENT_TRAFFIC_SECRET_0 {R} 0123456789abcdef");
        let mut k = KeyLog::default();
        k.add(text.as_bytes());
        let log = TempFile::holding("debug", text.as_bytes());
        k.read_file(log.open()).unwrap();
        let shown = format!("{k:?}");
        assert!(!shown.contains("0123456789"), "{shown}");
        assert!(!shown.contains("aa0000"), "{shown}");
        assert!(
            shown.contains("1 client randoms held, 1 secret lines indexed in 1 files"),
            "{shown}"
        );
    }
}
