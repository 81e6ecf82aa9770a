//! TLS decryption with logged secrets: a connection's two reassembled
//! streams of TLS records in, each direction's decrypted application data
//! out, as if the connection had been plaintext.
//!
//! ```text
//! ClientHello ----------------> client random (the key log's key), SNI, ALPN
//! ServerHello ----------------> suite, version, server random; keys looked up:
//!     TLS 1.3: handshake traffic secrets -> both directions' handshake keys
//!     TLS 1.2: master secret -> key block, each direction's keys from its
//!              ChangeCipherSpec on
//! TLS 1.3 Finished (each way) -> that direction's application traffic keys
//! TLS 1.3 KeyUpdate ----------> that direction's next traffic keys
//! application_data -----------> Event::Data (the record's packets attached)
//! a gap ----------------------> records searched for, the first one that
//!                               authenticates (trying the sequence numbers
//!                               the lost bytes may have held) resumes; the
//!                               plaintext lost is reported as Event::Gap
//! ```
//!
//! Push-based and sans-IO like the other stages: [`TlsSession::push`] takes
//! one direction's stream bytes with their packet, [`TlsSession::gap`] a
//! hole, and events go to a callback. It knows nothing of files or output;
//! the secrets come from a [`KeyLog`] the caller fills.

pub mod cipher;
mod handshake;
pub mod keylog;
pub mod keys;
pub mod record;
pub mod stage;

#[cfg(test)]
mod tests;

pub use keylog::KeyLog;

use crate::finding::{Code, Finding};
use crate::tcp::{Chunk, Dir, Gap, GapReason};
use crate::time::Timestamp;
use cipher::{RecordCipher, Suite};
use handshake::HsBuf;
use keylog::{Label, Secret, SessionSecrets};
use record::{Framer, Record};

/// Sequence numbers tried after a gap for the first record found: records
/// lost in it, at most.
const MAX_LOST_RECORDS: u64 = 512;

/// Records after a gap that open with none of the sequence numbers tried
/// before the search gives up: each costs up to [`MAX_LOST_RECORDS`]
/// decryptions, and a gap of more records than that (or lost new keys)
/// would otherwise cost them for every record to the connection's end.
const MAX_SEARCH_MISSES: u32 = 16;

/// What the stage hands on.
#[derive(Debug)]
pub enum Event<'a> {
    /// Decrypted application data of direction `dir` (by the connection's
    /// roles), as a chunk of the plaintext stream: its `packet` carries the
    /// start of the record holding it, `end_packet` the record's end.
    Data {
        dir: Dir,
        chunk: Chunk<'a>,
        end_packet: u64,
    },
    /// Plaintext lost in a gap of the TLS stream (its length estimated
    /// from the records lost, its reason `Lost`), found at the gap's
    /// `packet`: a gap of the plaintext stream as the TCP layer gives one.
    Gap { dir: Dir, gap: Gap },
    /// Why something cannot be decrypted.
    Finding(Finding),
}

/// How far decryption got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// The hellos have not been seen yet.
    #[default]
    Hello,
    /// Keys found: records are decrypted.
    Decrypting,
    /// The key log has no secret for this client random.
    NoKey,
    /// A cipher suite (or version) this stage does not decrypt.
    Unsupported,
}

/// What the hellos said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    pub client_random: Option<[u8; 32]>,
    pub server_random: Option<[u8; 32]>,
    /// The version the server chose (0x0304 for TLS 1.3).
    pub version: Option<u16>,
    pub suite: Option<u16>,
    /// The protocol the server chose (ALPN).
    pub alpn: Option<String>,
    /// Encrypt-then-MAC (RFC 7366), for CBC suites.
    pub etm: bool,
}

impl Hello {
    pub fn tls13(&self) -> bool {
        self.version == Some(0x0304)
    }

    /// The chosen suite's IANA name, or its number.
    pub fn suite_name(&self) -> Option<String> {
        let id = self.suite?;
        Some(Suite::by_id(id).map_or_else(|| format!("0x{id:04x}"), |s| s.name.to_owned()))
    }
}

/// One direction's decryption state.
#[derive(Default)]
struct DirState {
    cipher: Option<RecordCipher>,
    /// TLS 1.2: the keys that take effect at this direction's
    /// ChangeCipherSpec.
    pending: Option<RecordCipher>,
    /// TLS 1.3: the current traffic secret (for KeyUpdate) and whether it
    /// is the application one yet.
    secret: Option<Secret>,
    app: bool,
    hs: HsBuf,
    /// Plaintext stream offset of the next application byte.
    plain: u64,
    /// Stream offset just after the last record handled.
    next_record: u64,
    /// A gap: where the lost bytes began.
    lost_from: Option<u64>,
    /// Whole records seen since the gap that opened with no sequence number
    /// the lost bytes allow.
    search_misses: u32,
    /// A record failed to authenticate: nothing more is decrypted here.
    failed: bool,
    /// Records decrypted.
    records: u64,
}

/// Both directions of one TLS connection.
#[derive(Default)]
pub struct TlsSession {
    framers: [Framer; 2],
    core: Core,
}

#[derive(Default)]
struct Core {
    dirs: [DirState; 2],
    pub hello: Hello,
    status: Status,
    suite: Option<Suite>,
    /// TLS 1.3: each direction's logged application traffic secret, kept
    /// from the ServerHello until its Finished.
    app_secrets: [Option<Secret>; 2],
}

impl TlsSession {
    pub fn new() -> TlsSession {
        TlsSession::default()
    }

    pub fn hello(&self) -> &Hello {
        &self.core.hello
    }

    pub fn into_hello(self) -> Hello {
        self.core.hello
    }

    pub fn status(&self) -> Status {
        self.core.status
    }

    /// Whether some record of the connection was decrypted.
    pub fn decrypted(&self) -> bool {
        self.core.dirs.iter().any(|d| d.records > 0)
    }

    /// Stream bytes of direction `dir` (by the connection's roles).
    pub fn push(
        &mut self,
        dir: Dir,
        data: &[u8],
        (packet, ts): (u64, Timestamp),
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let core = &mut self.core;
        let framer = &mut self.framers[dir.index()];
        if core.dirs[dir.index()].failed {
            return;
        }
        let res = framer.push(data, packet, ts, &mut |rec| {
            core.record(dir, rec, keys, out)
        });
        if let Err(e) = res {
            let detail = format!(
                "bytes that are not a TLS record where one must start (stream offset {}): \
                 the rest of the {} stream is not decrypted",
                e.offset,
                dir.as_str()
            );
            core.fail(
                dir,
                Finding::new(Code::TlsDecryptFailed, detail).at(e.packet),
                out,
            );
        }
    }

    /// Heap bytes held for records and handshake messages not yet whole.
    pub fn held(&self) -> usize {
        let dirs = self.core.dirs.iter().map(|d| d.hs.held());
        self.framers.iter().map(Framer::held).chain(dirs).sum()
    }

    /// Stops decrypting the connection, freeing what it holds: too much is
    /// held across connections (`detail` says so).
    pub fn abandon(&mut self, detail: &str, packet: u64, out: &mut impl FnMut(Event<'_>)) {
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            self.framers[dir.index()].abandon();
            self.core.dirs[dir.index()].hs = HsBuf::default();
            let f = Finding::new(Code::TlsDecryptFailed, detail).at(packet);
            self.core.fail(dir, f, out);
        }
    }

    /// `len` bytes of direction `dir` missing from the capture.
    pub fn gap(&mut self, dir: Dir, len: u64) {
        let d = &mut self.core.dirs[dir.index()];
        let framer = &mut self.framers[dir.index()];
        if d.lost_from.is_none() {
            d.lost_from = Some(d.next_record);
        }
        // A handshake message begun before the gap cannot be completed.
        d.hs = HsBuf::default();
        framer.gap(len);
    }
}

impl Core {
    /// Stops decrypting direction `dir`, saying why.
    fn fail(&mut self, dir: Dir, f: Finding, out: &mut impl FnMut(Event<'_>)) {
        let d = &mut self.dirs[dir.index()];
        if !d.failed {
            d.failed = true;
            out(Event::Finding(f));
        }
    }

    /// One whole record; returns whether it is real (authenticated, or a
    /// plaintext record where one may be).
    fn record(
        &mut self,
        dir: Dir,
        rec: Record<'_>,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) -> bool {
        let i = dir.index();
        if self.dirs[i].failed {
            return false;
        }
        let end = rec.offset + 5 + rec.fragment.len() as u64;
        let ok = match &self.dirs[i].cipher {
            None => self.plain_record(dir, rec, keys, out),
            Some(_) if self.dirs[i].lost_from.is_some() => {
                self.found_after_gap(dir, rec, keys, out)
            }
            Some(_) => self.protected(dir, rec, keys, out),
        };
        if ok {
            self.dirs[i].next_record = end;
        }
        ok
    }

    /// A record before this direction's keys: handshake messages,
    /// ChangeCipherSpec, alerts.
    fn plain_record(
        &mut self,
        dir: Dir,
        rec: Record<'_>,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) -> bool {
        let i = dir.index();
        match rec.content_type() {
            20 => {
                // TLS 1.2: this direction's keys start with its next record
                // (RFC 5246 7.1). In TLS 1.3 it is only for middleboxes.
                if let Some(c) = self.dirs[i].pending.take() {
                    self.dirs[i].cipher = Some(c);
                }
                true
            }
            22 => {
                self.dirs[i].lost_from = None;
                self.handshake_bytes(dir, rec.fragment, rec.packet, keys, out);
                true
            }
            21 => true,
            // Application data before keys: only a search after a gap
            // could take a record it cannot read.
            _ => self.dirs[i].lost_from.is_none(),
        }
    }

    /// A protected record in order.
    fn protected(
        &mut self,
        dir: Dir,
        mut rec: Record<'_>,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) -> bool {
        let i = dir.index();
        let seq = self.dirs[i].cipher.as_ref().map_or(0, |c| c.seq);
        if rec.content_type() == 20 {
            // TLS 1.3 compatibility ChangeCipherSpec (RFC 8446 D.4).
            return true;
        }
        match self.open(dir, seq, &mut rec, false) {
            Some(range) => {
                self.opened(dir, rec, range, keys, out);
                true
            }
            None => {
                let detail = format!(
                    "a {} TLS record (sequence number {seq}) did not authenticate with the logged \
                     secrets: the key log does not belong to this capture, or the bytes were altered \
                     (RFC 8446 5.2: a receiver would fail with bad_record_mac); the rest of the {} \
                     stream is not decrypted",
                    dir.as_str(),
                    dir.as_str()
                );
                self.fail(
                    dir,
                    Finding::new(Code::TlsDecryptFailed, detail).at(rec.packet),
                    out,
                );
                false
            }
        }
    }

    /// Decrypts `rec` with sequence number `seq`, trying the application
    /// keys when a TLS 1.3 direction still has its handshake keys (its
    /// Finished may have been lost). Returns the plaintext range. With
    /// `keep`, a record that fails is left as it was (the search after a
    /// gap offers bytes that may hold the real record).
    fn open(
        &mut self,
        dir: Dir,
        seq: u64,
        rec: &mut Record<'_>,
        keep: bool,
    ) -> Option<std::ops::Range<usize>> {
        let i = dir.index();
        let header = rec.header;
        let frag = &mut *rec.fragment;
        // The application keys may be tried on the same bytes next.
        let fallback = self.hello.tls13() && !self.dirs[i].app;
        let c = self.dirs[i].cipher.as_mut()?;
        let first = if keep || fallback {
            c.try_open(seq, header, frag)
        } else {
            c.open(seq, header, frag)
        };
        if let Ok(r) = first {
            c.seq = seq + 1;
            return Some(r);
        }
        if fallback && self.app_keys(dir) {
            let c = self.dirs[i].cipher.as_mut()?;
            let second = if keep {
                c.try_open(0, header, frag)
            } else {
                c.open(0, header, frag)
            };
            if let Ok(r) = second {
                c.seq = 1;
                return Some(r);
            }
        }
        None
    }
}

impl Core {
    /// A record that authenticated, its plaintext at `range` of its
    /// fragment: TLS 1.3 unwraps the inner content type (RFC 8446 5.2).
    fn opened(
        &mut self,
        dir: Dir,
        rec: Record<'_>,
        range: std::ops::Range<usize>,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let i = dir.index();
        self.dirs[i].records += 1;
        let mut text = &rec.fragment[range];
        let mut kind = rec.content_type();
        if self.hello.tls13() {
            // Zero padding, then the real content type.
            let Some(last) = text.iter().rposition(|&b| b != 0) else {
                return;
            };
            kind = text[last];
            text = &text[..last];
        }
        match kind {
            22 => self.handshake_bytes(dir, text, rec.packet, keys, out),
            23 if !text.is_empty() => {
                let d = &mut self.dirs[i];
                let chunk = Chunk {
                    offset: d.plain,
                    data: text,
                    packet: rec.packet,
                    ts: rec.ts,
                };
                out(Event::Data {
                    dir,
                    chunk,
                    end_packet: rec.end_packet,
                });
                d.plain += text.len() as u64;
            }
            _ => {}
        }
    }

    /// The first record found after a gap: real if it authenticates with
    /// one of the sequence numbers the lost bytes may have used. The
    /// plaintext lost is estimated from the bytes and records lost.
    fn found_after_gap(
        &mut self,
        dir: Dir,
        mut rec: Record<'_>,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) -> bool {
        let i = dir.index();
        let Some(c) = &self.dirs[i].cipher else {
            return false;
        };
        if rec.content_type() == 20 {
            return false;
        }
        let (first, overhead) = (c.seq, 5 + c.overhead() as u64);
        let from = self.dirs[i].lost_from.unwrap_or(rec.offset);
        let lost_bytes = rec.offset.saturating_sub(from);
        let most = (lost_bytes / overhead + 1).min(MAX_LOST_RECORDS);
        let found = (first..=first + most)
            .find_map(|seq| self.open(dir, seq, &mut rec, true).map(|r| (seq, r)));
        if let Some(c) = &mut self.dirs[i].cipher {
            c.release();
        }
        let Some((seq, range)) = found else {
            self.missed_after_gap(dir, rec.packet, out);
            return false;
        };
        let d = &mut self.dirs[i];
        d.search_misses = 0;
        // The record opened may be the first of new keys (seq restarts).
        let lost_records = if d.cipher.as_ref().is_some_and(|c| c.seq == seq + 1) {
            seq - first
        } else {
            0
        };
        let len = lost_bytes.saturating_sub(lost_records * overhead);
        d.lost_from = None;
        if len > 0 {
            let gap = Gap {
                offset: d.plain,
                len,
                reason: GapReason::Lost,
                packet: rec.packet,
                ts: rec.ts,
            };
            out(Event::Gap { dir, gap });
            d.plain += len;
        }
        self.opened(dir, rec, range, keys, out);
        true
    }

    /// A record after a gap opened with no sequence number tried: after
    /// [`MAX_SEARCH_MISSES`] of them the direction is given up.
    fn missed_after_gap(&mut self, dir: Dir, packet: u64, out: &mut impl FnMut(Event<'_>)) {
        let d = &mut self.dirs[dir.index()];
        d.search_misses += 1;
        if d.search_misses >= MAX_SEARCH_MISSES {
            let detail = format!(
                "{MAX_SEARCH_MISSES} records after a gap in the capture opened with none of the \
                 {MAX_LOST_RECORDS} sequence numbers the lost bytes allow: more records were lost \
                 than can be searched (or new keys with them); nothing more is decrypted in this \
                 direction"
            );
            self.fail(
                dir,
                Finding::new(Code::TlsDecryptFailed, detail).at(packet),
                out,
            );
        }
    }

    /// Handshake bytes of direction `dir` (in `packet`), plaintext or
    /// decrypted: whole messages are acted on.
    fn handshake_bytes(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        packet: u64,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let mut hs = std::mem::take(&mut self.dirs[dir.index()].hs);
        hs.push(bytes, &mut |kind, body| {
            self.message(dir, kind, body, packet, keys, out)
        });
        self.dirs[dir.index()].hs = hs;
    }

    /// One handshake message (RFC 8446 4, RFC 5246 7.4).
    fn message(
        &mut self,
        dir: Dir,
        kind: u8,
        body: &[u8],
        packet: u64,
        keys: &KeyLog,
        out: &mut impl FnMut(Event<'_>),
    ) {
        match (dir, kind) {
            (Dir::ClientToServer, 1) => {
                if let Some(random) = handshake::client_random(body) {
                    self.hello.client_random = Some(random);
                }
            }
            (Dir::ServerToClient, 2) => {
                let Some(sh) = handshake::server_hello(body) else {
                    return;
                };
                if sh.retry {
                    // HelloRetryRequest (RFC 8446 4.1.4): a second
                    // ClientHello and the real ServerHello follow.
                    return;
                }
                self.hello.server_random = Some(sh.random);
                self.hello.version = Some(sh.version);
                self.hello.suite = Some(sh.suite);
                self.hello.etm = sh.etm;
                if sh.alpn.is_some() {
                    self.hello.alpn = sh.alpn;
                }
                self.keys_for(packet, keys, out);
            }
            // EncryptedExtensions (TLS 1.3) carry the chosen ALPN.
            (Dir::ServerToClient, 8) => self.hello.alpn = handshake::alpn_of_extensions(body),
            (_, 20) if self.hello.tls13() => {
                self.app_keys(dir);
            }
            (_, 24) if self.hello.tls13() => self.key_update(dir),
            _ => {}
        }
    }

    /// The ServerHello fixed the suite: find this connection's secrets
    /// and set up the keys (RFC 8446 7.3, RFC 5246 6.3).
    fn keys_for(&mut self, packet: u64, keys: &KeyLog, out: &mut impl FnMut(Event<'_>)) {
        let Some(random) = self.hello.client_random else {
            return;
        };
        let suite = self.hello.suite.and_then(Suite::by_id);
        let version_ok = matches!(self.hello.version, Some(0x0303 | 0x0304));
        let Some(suite) = suite.filter(|s| version_ok && s.tls13 == self.hello.tls13()) else {
            self.status = Status::Unsupported;
            let detail = format!(
                "{} with {} is not decrypted (TLS 1.3, and TLS 1.2 with AES-GCM, ChaCha20-Poly1305 or AES-CBC, are)",
                self.hello
                    .version
                    .map_or_else(|| "this version".to_owned(), crate::http::tls::version_name),
                self.hello.suite_name().unwrap_or_default()
            );
            out(Event::Finding(
                Finding::new(Code::TlsDecryptFailed, detail).at(packet),
            ));
            return;
        };
        self.suite = Some(suite);
        // One lookup for all of them: an indexed key log is read back.
        let Some(secrets) = keys.session(&random) else {
            self.status = Status::NoKey;
            out(Event::Finding(no_key_finding(packet)));
            return;
        };
        let ok = if suite.tls13 {
            self.tls13_handshake_keys(suite, &secrets)
        } else {
            secrets
                .get(Label::Master)
                .is_some_and(|master| self.tls12_keys(suite, master.as_bytes()))
        };
        self.status = if ok {
            Status::Decrypting
        } else {
            Status::NoKey
        };
        if !ok {
            out(Event::Finding(no_key_finding(packet)));
        }
    }

    fn tls13_handshake_keys(&mut self, suite: Suite, secrets: &SessionSecrets) -> bool {
        let secret = |label| secrets.get(label);
        self.app_secrets = [secret(Label::ClientTraffic), secret(Label::ServerTraffic)];
        let handshake = [
            secret(Label::ClientHandshake),
            secret(Label::ServerHandshake),
        ];
        let mut any = false;
        for ((d, hs), app) in self.dirs.iter_mut().zip(handshake).zip(self.app_secrets) {
            // Without the handshake secret, the application one from the
            // start (its first records then fail and are skipped over).
            let (secret, is_app) = match (hs, app) {
                (Some(h), _) => (h, false),
                (None, Some(a)) => (a, true),
                (None, None) => continue,
            };
            if let Some(c) = tls13_cipher(suite, secret.as_bytes()) {
                d.cipher = Some(c);
                d.secret = Some(secret);
                d.app = is_app;
                any = true;
            }
        }
        any
    }

    fn tls12_keys(&mut self, suite: Suite, master: &[u8]) -> bool {
        let (Some(cr), Some(sr)) = (self.hello.client_random, self.hello.server_random) else {
            return false;
        };
        let lens = (
            suite.mac.key_len(),
            suite.bulk.key_len(),
            suite.bulk.iv_len12(),
        );
        let sides = keys::key_block12_mac(suite.hash, master, [&cr, &sr], lens);
        let etm = self.hello.etm;
        for (d, k) in self.dirs.iter_mut().zip(sides) {
            d.pending = if suite.bulk.is_cbc() {
                RecordCipher::new_cbc(suite.bulk, &k.key, (suite.mac, &k.mac), etm)
            } else {
                RecordCipher::new(suite.bulk, &k.key, &k.iv, false)
            };
        }
        true
    }

    /// TLS 1.3: direction `dir` finished its handshake; its records use
    /// the application traffic secret from now on. False when it has none.
    fn app_keys(&mut self, dir: Dir) -> bool {
        let (Some(suite), Some(secret)) = (self.suite, self.app_secrets[dir.index()]) else {
            return false;
        };
        let d = &mut self.dirs[dir.index()];
        if d.app {
            return false;
        }
        let Some(c) = tls13_cipher(suite, secret.as_bytes()) else {
            return false;
        };
        d.cipher = Some(c);
        d.secret = Some(secret);
        d.app = true;
        true
    }

    /// TLS 1.3 KeyUpdate from `dir`: its next records use the next secret.
    fn key_update(&mut self, dir: Dir) {
        let Some(suite) = self.suite else { return };
        let d = &mut self.dirs[dir.index()];
        let Some(secret) = d.secret else { return };
        let Ok(next) = keys::next_secret(suite.hash, secret.as_bytes()) else {
            return;
        };
        if let Some(c) = tls13_cipher(suite, &next) {
            d.cipher = Some(c);
            d.secret = Secret::new(&next);
        }
    }
}

/// A TLS 1.3 record cipher from a traffic secret.
fn tls13_cipher(suite: Suite, secret: &[u8]) -> Option<RecordCipher> {
    let (key, iv) = keys::traffic_keys(suite.hash, secret, suite.bulk.key_len()).ok()?;
    RecordCipher::new(suite.bulk, &key, &iv, true)
}

fn no_key_finding(packet: u64) -> Finding {
    let detail = "no secret for this connection's client random in the key logs given: its WebSocket \
                  cannot be read (log the secrets of the program that made it with SSLKEYLOGFILE, \
                  and pass the file with --tls-keylog)";
    Finding::new(Code::TlsKeyMissing, detail).at(packet)
}
