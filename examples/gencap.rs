//! Benchmark capture generator: writes a large classic pcap (Ethernet, IPv4)
//! of many interleaved WebSocket connections, streaming to disk in constant
//! memory.
//!
//! ```text
//! cargo run --release --example gencap -- --profile mixed --size 2GiB --out mixed.pcap
//!     [--conns 1000] [--seed 1] [--pps 500000] [--verify]
//! ```
//!
//! Every WebSocket connection is a TCP handshake, an HTTP Upgrade request
//! (`Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==`) and its 101 response
//! (`Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`), WebSocket frames
//! both ways (client frames masked with a fresh key per frame, server frames
//! unmasked, delayed ACKs every second segment), then a close frame each way
//! and an orderly FIN/FIN/ACK. `--conns` connections are live at once and
//! take turns (round robin), one TCP segment per turn, so the reassembler's
//! table and every direction's reassembly state stay busy; a connection that
//! closes is replaced by a new one (a new, never reused 4-tuple).
//!
//! Profiles:
//!
//! * `small`: text messages of 16-128 bytes (valid UTF-8, some multi-byte
//!   characters), both directions, one message per segment.
//! * `large`: binary messages of 16 KiB - 1 MiB, mostly server to client,
//!   cut at MSS 1460.
//! * `mixed`: mostly small text, some medium text and binary, a few large
//!   binary messages, fragmented messages, ping/pong, several small frames
//!   coalesced in one segment, plus non-WebSocket traffic: plain HTTP/1.1
//!   keep-alive connections and UDP datagrams.
//!
//! Output is deterministic for a given profile, size, conns and seed.
//!
//! `--repeat N` writes that traffic N times in a row, each time from the
//! same seed (the same messages, segments and sizes) but with fresh client
//! addresses and later timestamps: every connection of one repetition has
//! closed before the next one's open. The capture then holds exactly N
//! times the work of one `--size` capture, which is what a time-against-
//! size measurement needs: one run of the generator at N times the size
//! is not that, since its `--conns` connections open together at the
//! start and close together at the end whatever the size, and a
//! connection of the mixed profile carries about a megabyte, so a larger
//! capture holds proportionally fewer of them.
//!
//! `--tls-keylog FILE` puts every WebSocket connection inside TLS 1.3
//! (TLS_AES_128_GCM_SHA256): a ClientHello and ServerHello in plaintext,
//! both Finished messages under the handshake keys, then the upgrade and
//! every segment's bytes in one application data record each (so a
//! segment carries at most MSS - 22 bytes of WebSocket). The secrets are
//! the same for every connection, logged under each connection's client
//! random in FILE (NSS key log format) for `wscap --tls-keylog FILE`.
//!
//! Speed: the handshake and the close of each connection are built with
//! [`TcpConversation`]; the data segments (the bulk of the file) reuse one
//! buffer per packet, starting from a per-direction header template built
//! once with [`TcpPacket`] and patching sequence numbers, lengths and
//! checksums. The first packets of every run (all of them with `--verify`)
//! are checked byte for byte against [`TcpPacket::build`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wscap::packet::TcpFlags;
use wscap::synth::{Link, PcapWriter, Side, TcpConversation, TcpPacket};
use wscap::time::Timestamp;
use wscap::tls::keys::{self, Hash};

const MSS: usize = 1460;
/// Ethernet (14) + IPv4 (20) + TCP (20).
const HDR: usize = 54;
/// pcap record header.
const REC: u64 = 16;
const START_NS: i64 = 1_700_000_000_000_000_000;
/// Default capture-time packet rate (one packet every 2 us).
const DEFAULT_PPS: u64 = 500_000;
/// Packets checked against `TcpPacket::build` without `--verify`.
const VERIFY_FIRST: u64 = 5_000;

const UPGRADE_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
User-Agent: gencap/1\r\n\r\n";

const UPGRADE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

// ---------------------------------------------------------------- options

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Profile {
    Small,
    Large,
    Mixed,
}

struct Args {
    profile: Profile,
    size: u64,
    out: PathBuf,
    conns: usize,
    seed: u64,
    /// Capture-time packet rate: sets how long the capture spans, so how many
    /// closed connections fall inside a reassembler's linger or idle window.
    pps: u64,
    verify: bool,
    /// `--tls-keylog`: WebSocket inside TLS 1.3, secrets logged here.
    tls_keylog: Option<PathBuf>,
    /// `--repeat`: the traffic of one `--size` capture this many times.
    repeat: u64,
}

const USAGE: &str = "usage: gencap --profile mixed|small|large --size SIZE --out FILE \
[--conns N (1000)] [--seed S (1)] [--pps N (500000)] [--repeat N (1)] [--verify]\n\
[--tls-keylog FILE]\n\
SIZE: bytes, or with a suffix K/M/G (10^3..) or KiB/MiB/GiB (2^10..)";

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((num * mult as f64) as u64)
}

fn parse_args() -> Result<Args, String> {
    let mut profile = None;
    let mut size = None;
    let mut out = None;
    let mut conns = 1000;
    let mut seed = 1;
    let mut pps = DEFAULT_PPS;
    let mut verify = false;
    let mut tls_keylog = None;
    let mut repeat = 1;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--profile" => {
                profile = Some(match value()?.as_str() {
                    "small" => Profile::Small,
                    "large" => Profile::Large,
                    "mixed" => Profile::Mixed,
                    p => return Err(format!("unknown profile {p}")),
                })
            }
            "--size" => {
                let v = value()?;
                size = Some(parse_size(&v).ok_or(format!("bad size {v}"))?);
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "--conns" => {
                conns = value()?.parse().map_err(|e| format!("--conns: {e}"))?;
                if conns == 0 {
                    return Err("--conns must be positive".into());
                }
            }
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--pps" => {
                pps = value()?.parse().map_err(|e| format!("--pps: {e}"))?;
                if pps == 0 || pps > 1_000_000_000 {
                    return Err("--pps must be in 1..=1000000000".into());
                }
            }
            "--repeat" => {
                repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?;
                if repeat == 0 {
                    return Err("--repeat must be positive".into());
                }
            }
            "--verify" => verify = true,
            "--tls-keylog" => tls_keylog = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    Ok(Args {
        profile: profile.ok_or("--profile is required")?,
        size: size.ok_or("--size is required")?,
        out: out.ok_or("--out is required")?,
        conns,
        seed,
        pps,
        verify,
        tls_keylog,
        repeat,
    })
}

// ---------------------------------------------------------------- randomness

/// xorshift64*: tiny, fast, deterministic.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so small seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (((self.next() >> 32) * (hi - lo + 1)) >> 32)
    }

    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.range(0, 99) < pct
    }

    /// Log-uniform in `lo..=hi`: as many messages near 16 KiB as near 1 MiB
    /// per factor of two.
    fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((l + u * (h - l)).exp() as u64).clamp(lo, hi)
    }

    fn mask_key(&mut self) -> [u8; 4] {
        (self.next() as u32 | 1).to_be_bytes()
    }
}

// ---------------------------------------------------------------- payloads

/// Read-only payload sources, generated once: messages are slices of them,
/// so no message is ever held in memory of its own.
struct Corpus {
    /// JSON-like lines, valid UTF-8 with 2-, 3- and 4-byte characters.
    text: String,
    /// Random bytes.
    bin: Vec<u8>,
}

const TEXT_LEN: usize = 1 << 20;
const BIN_LEN: usize = 2 << 20;

impl Corpus {
    fn new(rng: &mut Rng) -> Corpus {
        const WORDS: &[&str] = &[
            "hello",
            "world",
            "price",
            "bid",
            "ask",
            "tick",
            "order",
            "user",
            "ok",
            "true",
            "false",
            "null",
            "déjà",
            "vu",
            "naïve",
            "Straße",
            "€",
            "日本語",
            "テスト",
            "😀",
            "ünïcödé",
            "ping",
            "update",
            "symbol",
            "BTC-USD",
            "qty",
            "status",
            "filled",
        ];
        let mut text = String::with_capacity(TEXT_LEN + 256);
        while text.len() < TEXT_LEN {
            let id = rng.range(1, 999_999);
            let w1 = WORDS[rng.range(0, WORDS.len() as u64 - 1) as usize];
            let w2 = WORDS[rng.range(0, WORDS.len() as u64 - 1) as usize];
            let w3 = WORDS[rng.range(0, WORDS.len() as u64 - 1) as usize];
            let px = rng.range(1, 9_999_999);
            use std::fmt::Write as _;
            let _ = writeln!(
                text,
                "{{\"id\":{id},\"type\":\"{w1}\",\"msg\":\"{w2} {w3}\",\"px\":{}.{:02},\"ok\":{}}}",
                px / 100,
                px % 100,
                id.is_multiple_of(2)
            );
        }
        let mut bin = vec![0u8; BIN_LEN];
        for c in bin.chunks_exact_mut(8) {
            c.copy_from_slice(&rng.next().to_le_bytes());
        }
        Corpus { text, bin }
    }

    /// A valid UTF-8 slice of the text of about `len` bytes (at least `len`,
    /// at most 3 more): (start, len).
    fn text_slice(&self, rng: &mut Rng, len: usize) -> (u32, u32) {
        let t = &self.text;
        let mut start = rng.range(0, (t.len() - len - 8) as u64) as usize;
        while !t.is_char_boundary(start) {
            start += 1;
        }
        let mut end = start + len;
        while !t.is_char_boundary(end) {
            end += 1;
        }
        (start as u32, (end - start) as u32)
    }

    fn bin_slice(&self, rng: &mut Rng, len: usize) -> (u32, u32) {
        let start = rng.range(0, (self.bin.len() - len) as u64) as usize;
        (start as u32, len as u32)
    }

    fn bytes(&self, src: Src) -> &[u8] {
        match src {
            Src::Text => self.text.as_bytes(),
            Src::Bin => &self.bin,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Src {
    Text,
    Bin,
}

// ---------------------------------------------------------------- units

/// One thing a side sends: a WebSocket frame (header, then payload taken
/// from the corpus, masked on the fly) or an HTTP head with a body. It is
/// cut into segments as the connection's turns come.
struct Unit {
    from: Side,
    head: [u8; 128],
    head_len: u8,
    head_off: u8,
    src: Src,
    start: u32,
    len: u32,
    off: u32,
    mask: Option<[u8; 4]>,
    /// Counted as a WebSocket frame.
    frame: bool,
    /// Bytes reserved against the size budget.
    est: u64,
}

impl Unit {
    fn remaining(&self) -> usize {
        (self.head_len - self.head_off) as usize + (self.len - self.off) as usize
    }

    /// A continuation or a pong: owed by the protocol, sent even over the
    /// size budget.
    fn mandatory(&self) -> bool {
        self.frame && matches!(self.head[0] & 0x0f, 0x0 | 0xA)
    }

    fn done(&self) -> bool {
        self.remaining() == 0
    }

    fn raw(from: Side, head: &[u8], src: Src, start: u32, len: u32) -> Unit {
        let mut h = [0u8; 128];
        h[..head.len()].copy_from_slice(head);
        Unit {
            from,
            head: h,
            head_len: head.len() as u8,
            head_off: 0,
            src,
            start,
            len,
            off: 0,
            mask: None,
            frame: false,
            est: estimate(head.len() + len as usize),
        }
    }

    /// A WebSocket frame; masked (with a fresh key) when the client sends.
    fn frame(
        rng: &mut Rng,
        from: Side,
        fin: bool,
        opcode: u8,
        src: Src,
        start: u32,
        len: u32,
    ) -> Unit {
        let mut h = [0u8; 128];
        h[0] = (u8::from(fin) << 7) | opcode;
        let mask_bit = if from == Side::Client { 0x80 } else { 0 };
        let mut n = 2;
        if len < 126 {
            h[1] = mask_bit | len as u8;
        } else if len < 65536 {
            h[1] = mask_bit | 126;
            h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            n = 4;
        } else {
            h[1] = mask_bit | 127;
            h[2..10].copy_from_slice(&u64::from(len).to_be_bytes());
            n = 10;
        }
        let mask = (from == Side::Client).then(|| rng.mask_key());
        if let Some(k) = mask {
            h[n..n + 4].copy_from_slice(&k);
            n += 4;
        }
        Unit {
            from,
            head: h,
            head_len: n as u8,
            head_off: 0,
            src,
            start,
            len,
            off: 0,
            mask,
            frame: true,
            est: estimate(n + len as usize),
        }
    }

    /// Appends up to `room` bytes of the unit to `buf`.
    fn fill(&mut self, corpus: &Corpus, buf: &mut Vec<u8>, room: usize) -> usize {
        let mut taken = 0;
        let h = ((self.head_len - self.head_off) as usize).min(room);
        if h > 0 {
            let o = self.head_off as usize;
            buf.extend_from_slice(&self.head[o..o + h]);
            self.head_off += h as u8;
            taken += h;
        }
        let p = ((self.len - self.off) as usize).min(room - taken);
        if p > 0 {
            let from = (self.start + self.off) as usize;
            let at = buf.len();
            buf.extend_from_slice(&corpus.bytes(self.src)[from..from + p]);
            if let Some(k) = self.mask {
                let r = (self.off & 3) as usize;
                let k = [k[r], k[(r + 1) & 3], k[(r + 2) & 3], k[(r + 3) & 3]];
                let k32 = u32::from_ne_bytes(k);
                let dst = &mut buf[at..];
                let mut words = dst.chunks_exact_mut(4);
                for w in &mut words {
                    let v = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) ^ k32;
                    w.copy_from_slice(&v.to_ne_bytes());
                }
                for (i, b) in words.into_remainder().iter_mut().enumerate() {
                    *b ^= k[i];
                }
            }
            self.off += p as u32;
            taken += p;
        }
        taken
    }
}

/// Bytes a unit of `n` stream bytes adds to the file: payload, one packet
/// per MSS and a delayed ACK per two segments.
fn estimate(n: usize) -> u64 {
    let segs = n.div_ceil(MSS).max(1) as u64;
    n as u64 + segs * (HDR as u64 + REC) + segs.div_ceil(2) * (HDR as u64 + REC)
}

// ---------------------------------------------------------------- packets

/// Internet checksum pieces: 32-bit big-endian words summed in a u64 and
/// folded (the same one's-complement sum as 16-bit words).
fn sum_words(data: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        s += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rem = words.remainder();
    let mut i = 0;
    if rem.len() >= 2 {
        s += u64::from(u16::from_be_bytes([rem[0], rem[1]]));
        i = 2;
    }
    if rem.len() > i {
        s += u64::from(rem[i]) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Header of one direction of a connection, built by the library once.
#[derive(Clone, Copy)]
struct Template {
    bytes: [u8; HDR],
    src: SocketAddr,
    dst: SocketAddr,
}

impl Template {
    fn new(src: SocketAddr, dst: SocketAddr) -> Template {
        let built = TcpPacket::new(Link::Ethernet, src, dst)
            .flags(TcpFlags::ACK)
            .build();
        Template {
            bytes: built
                .as_slice()
                .try_into()
                .expect("Ethernet/IPv4/TCP header is 54 bytes"),
            src,
            dst,
        }
    }

    /// Starts a packet in `buf`: the header, to be finished by [`Self::finish`]
    /// after the payload has been appended.
    fn begin(&self, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&self.bytes);
    }

    fn finish(buf: &mut [u8], seq: u32, ack: u32, flags: u8) {
        let ip_total = (buf.len() - 14) as u16;
        let tcp_len = (buf.len() - 34) as u16;
        buf[16..18].copy_from_slice(&ip_total.to_be_bytes());
        buf[24..26].copy_from_slice(&[0, 0]);
        let c = fold(sum_words(&buf[14..34]));
        buf[24..26].copy_from_slice(&c.to_be_bytes());
        buf[38..42].copy_from_slice(&seq.to_be_bytes());
        buf[42..46].copy_from_slice(&ack.to_be_bytes());
        buf[47] = flags;
        buf[50..52].copy_from_slice(&[0, 0]);
        // Pseudo header: addresses (already in the IP header), protocol, length.
        let pseudo = sum_words(&buf[26..34]) + 6 + u64::from(tcp_len);
        let c = fold(pseudo + sum_words(&buf[34..]));
        buf[50..52].copy_from_slice(&c.to_be_bytes());
    }
}

// ---------------------------------------------------------------- tls

/// Bytes a TLS 1.3 record adds to its content: header, content type, tag.
const TLS_OVERHEAD: usize = 5 + 1 + 16;

/// One direction's record protection (RFC 8446 5.2, 5.3).
struct Sealer {
    aead: aes_gcm::Aes128Gcm,
    iv: [u8; 12],
}

impl Sealer {
    fn new(secret: &[u8]) -> Sealer {
        use aes_gcm::KeyInit;
        let (key, iv) = keys::traffic_keys(Hash::Sha256, secret, 16).expect("32-byte secret");
        Sealer {
            aead: aes_gcm::Aes128Gcm::new_from_slice(&key).expect("16-byte key"),
            iv,
        }
    }

    /// Encrypts `buf[at..]` (the content) in place as one record of inner
    /// type `kind` with sequence number `seq`, its header inserted at `at`.
    fn seal(&self, buf: &mut Vec<u8>, at: usize, kind: u8, seq: u64) {
        use aes_gcm::aead::AeadInOut;
        buf.push(kind);
        let len = (buf.len() - at + 16) as u16;
        let mut head = [23, 3, 3, 0, 0];
        head[3..].copy_from_slice(&len.to_be_bytes());
        buf.splice(at..at, head);
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce.into(), &head, buf[at + 5..].as_mut().into())
            .expect("a record is far below the AEAD limit");
        buf.extend_from_slice(&tag);
    }

    /// `text` as one record of inner type `kind`.
    fn record(&self, kind: u8, seq: u64, text: &[u8]) -> Vec<u8> {
        let mut buf = text.to_vec();
        self.seal(&mut buf, 0, kind, seq);
        buf
    }
}

/// `--tls-keylog`: the shared secrets, their ciphers and the key log.
struct TlsGen {
    keylog: BufWriter<File>,
    /// Client handshake, server handshake, client and server traffic
    /// secrets.
    secrets: [[u8; 32]; 4],
    /// Handshake then application ciphers, client and server each.
    hs: [Sealer; 2],
    app: [Sealer; 2],
}

impl TlsGen {
    fn new(path: &PathBuf) -> io::Result<TlsGen> {
        let secrets: [[u8; 32]; 4] = std::array::from_fn(|i| [0x51 + i as u8; 32]);
        Ok(TlsGen {
            keylog: BufWriter::new(File::create(path)?),
            hs: [Sealer::new(&secrets[0]), Sealer::new(&secrets[1])],
            app: [Sealer::new(&secrets[2]), Sealer::new(&secrets[3])],
            secrets,
        })
    }

    /// Connection `n`'s handshake, as (client flight, server flight, client
    /// Finished), its secrets logged under its client random.
    fn handshake(&mut self, n: u64) -> io::Result<[Vec<u8>; 3]> {
        let mut random = [0u8; 32];
        random[..6].copy_from_slice(b"gencap");
        random[24..].copy_from_slice(&n.to_be_bytes());
        let labels = [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ];
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for (label, secret) in labels.iter().zip(&self.secrets) {
            writeln!(self.keylog, "{label} {} {}", hex(&random), hex(secret))?;
        }
        let finished = tls_message(20, &[0; 32]);
        let mut server = tls_record(22, &tls_message(2, &server_hello_body()));
        server.extend(tls_record(20, &[1]));
        server.extend(self.hs[1].record(22, 0, &finished));
        let mut client_done = tls_record(20, &[1]);
        client_done.extend(self.hs[0].record(22, 0, &finished));
        Ok([
            tls_record(22, &tls_message(1, &client_hello_body(&random))),
            server,
            client_done,
        ])
    }
}

fn tls_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn tls_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut m = vec![kind, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

/// A ClientHello offering TLS 1.3 with TLS_AES_128_GCM_SHA256.
fn client_hello_body(random: &[u8; 32]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    // supported_versions: TLS 1.3.
    b.extend_from_slice(&[0, 7, 0, 43, 0, 3, 2, 3, 4]);
    b
}

/// A ServerHello choosing TLS 1.3 with TLS_AES_128_GCM_SHA256.
fn server_hello_body() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[0x5e; 32]);
    b.extend_from_slice(&[0, 0x13, 0x01, 0]);
    b.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
    b
}

// ---------------------------------------------------------------- connections

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    WebSocket,
    /// Plain HTTP/1.1 keep-alive, never upgraded.
    Http,
}

struct Conn {
    kind: Kind,
    c2s: Template,
    s2c: Template,
    /// Next sequence number of client and server.
    seq: [u32; 2],
    /// Data segments received by each side and not yet acknowledged.
    unacked: [u8; 2],
    opened: bool,
    cur: Option<Unit>,
    units_left: u32,
    /// Server ping payload the client must still answer.
    pong: Option<(u32, u32)>,
    /// Frames left of a fragmented message (continuations).
    frags_left: u8,
    frag_from: Side,
    /// Inside TLS: each side's next record sequence number.
    tls: Option<[u64; 2]>,
    /// The connection's number (its TLS client random).
    id: u64,
}

/// Estimated bytes of a connection's opening and closing.
const OPEN_COST: u64 = 700;
const CLOSE_COST: u64 = 600;

struct Gen {
    profile: Profile,
    rng: Rng,
    corpus: Corpus,
    out: PcapWriter<BufWriter<File>>,
    buf: Vec<u8>,
    now: i64,
    step_ns: i64,
    target: u64,
    written: u64,
    reserved: u64,
    conn_seq: u64,
    verify_left: u64,
    // counters
    packets: u64,
    frames: u64,
    messages: u64,
    ws_conns: u64,
    http_conns: u64,
    udp: u64,
    payload_bytes: u64,
    tls: Option<TlsGen>,
}

impl Gen {
    fn tick(&mut self) -> Timestamp {
        let t = Timestamp::from_nanos(self.now);
        self.now += self.step_ns;
        t
    }

    fn write_buf(&mut self) -> io::Result<()> {
        let ts = self.tick();
        let len = self.buf.len() as u32;
        self.out.write_packet(ts, len, &self.buf)?;
        self.packets += 1;
        self.written += REC + self.buf.len() as u64;
        Ok(())
    }

    fn new_conn(&mut self) -> Conn {
        let n = self.conn_seq;
        self.conn_seq += 1;
        let kind = if self.profile == Profile::Mixed && self.rng.pct(5) {
            Kind::Http
        } else {
            Kind::WebSocket
        };
        // A fresh client address per connection: 10.64.0.0/10, never reused.
        let host = 0x0a40_0000u32 + (n / 50_000) as u32;
        let port = 10_000 + (n % 50_000) as u16;
        let client = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(host), port));
        let server_port = if kind == Kind::Http { 8080 } else { 80 };
        let server = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 0, 0, 1 + (n % 4) as u8),
            server_port,
        ));
        let units_left = match (self.profile, kind) {
            (Profile::Small, _) => self.rng.range(50, 500),
            (Profile::Large, _) => self.rng.range(2, 20),
            (Profile::Mixed, Kind::WebSocket) => self.rng.range(20, 300),
            (Profile::Mixed, Kind::Http) => 2 * self.rng.range(1, 10),
        } as u32;
        let isn_c = self.rng.next() as u32;
        let isn_s = self.rng.next() as u32;
        Conn {
            kind,
            c2s: Template::new(client, server),
            s2c: Template::new(server, client),
            seq: [isn_c, isn_s],
            unacked: [0, 0],
            opened: false,
            cur: None,
            units_left,
            pong: None,
            frags_left: 0,
            frag_from: Side::Client,
            tls: (kind == Kind::WebSocket && self.tls.is_some()).then_some([0, 0]),
            id: n,
        }
    }

    /// A conversation continuing `conn` from its current sequence numbers
    /// and the current time.
    fn conversation(&self, conn: &Conn) -> TcpConversation {
        let mut conv = TcpConversation::new(Link::Ethernet, conn.c2s.src, conn.c2s.dst);
        conv.isn(conn.seq[0], conn.seq[1])
            .start_at(Timestamp::from_nanos(self.now))
            .step(self.step_ns);
        conv
    }

    fn flush_conversation(&mut self, conn: &mut Conn, mut conv: TcpConversation) -> io::Result<()> {
        for p in conv.take_packets() {
            self.out.write_synth(&p)?;
            self.packets += 1;
            self.written += REC + p.data.len() as u64;
            self.now = p.ts.as_nanos() + self.step_ns;
        }
        conn.seq = [conv.next_seq(Side::Client), conv.next_seq(Side::Server)];
        conn.unacked = [0, 0];
        Ok(())
    }

    fn open(&mut self, conn: &mut Conn) -> io::Result<()> {
        let mut conv = self.conversation(conn);
        conv.handshake();
        if let (Some(tls), Some(seq)) = (&mut self.tls, &mut conn.tls) {
            let [client, server, client_done] = tls.handshake(conn.id)?;
            let mut request = client_done;
            request.extend(tls.app[0].record(23, 0, UPGRADE_REQUEST));
            conv.send(Side::Client, &client)
                .send(Side::Server, &server)
                .send(Side::Client, &request)
                .send(Side::Server, &tls.app[1].record(23, 0, UPGRADE_RESPONSE));
            *seq = [1, 1];
            self.ws_conns += 1;
        } else if conn.kind == Kind::WebSocket {
            conv.send(Side::Client, UPGRADE_REQUEST)
                .send(Side::Server, UPGRADE_RESPONSE);
            self.ws_conns += 1;
        } else {
            self.http_conns += 1;
        }
        self.flush_conversation(conn, conv)?;
        conn.opened = true;
        Ok(())
    }

    fn close(&mut self, conn: &mut Conn) -> io::Result<()> {
        let mut conv = self.conversation(conn);
        if conn.kind == Kind::WebSocket {
            // Close 1000 "bye", client first (masked), server echoes 1000.
            let body = [0x03, 0xe8, b'b', b'y', b'e'];
            let key = self.rng.mask_key();
            let mut client = vec![0x88, 0x80 | body.len() as u8];
            client.extend_from_slice(&key);
            client.extend(body.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
            let mut server = vec![0x88, 2, 0x03, 0xe8];
            if let (Some(tls), Some(seq)) = (&self.tls, conn.tls) {
                client = tls.app[0].record(23, seq[0], &client);
                server = tls.app[1].record(23, seq[1], &server);
            }
            conv.send(Side::Client, &client)
                .send(Side::Server, &server)
                .close(Side::Server);
            self.frames += 2;
        } else {
            conv.close(Side::Client);
        }
        self.flush_conversation(conn, conv)
    }

    /// The next unit of a connection, or None when it should close.
    fn next_unit(&mut self, conn: &mut Conn) -> Option<Unit> {
        let rng = &mut self.rng;
        let corpus = &self.corpus;
        let unit = if conn.kind == Kind::Http {
            if conn.units_left == 0 {
                return None;
            }
            if conn.units_left.is_multiple_of(2) {
                let id = rng.range(1, 99_999);
                let head = format!(
                    "GET /api/items/{id} HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n\r\n"
                );
                Unit::raw(Side::Client, head.as_bytes(), Src::Bin, 0, 0)
            } else {
                let len = rng.log_range(200, 64 << 10) as usize;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
                );
                let (start, len) = corpus.bin_slice(rng, len);
                Unit::raw(Side::Server, head.as_bytes(), Src::Bin, start, len)
            }
        } else if let Some((start, len)) = conn.pong.take() {
            Unit::frame(rng, Side::Client, true, 0xA, Src::Bin, start, len)
        } else if conn.frags_left > 0 {
            conn.frags_left -= 1;
            let fin = conn.frags_left == 0;
            let (start, len) = {
                let n = rng.range(16, 2000) as usize;
                corpus.text_slice(rng, n)
            };
            Unit::frame(rng, conn.frag_from, fin, 0x0, Src::Text, start, len)
        } else {
            if conn.units_left == 0 {
                return None;
            }
            let side = |rng: &mut Rng, server_pct| {
                if rng.pct(server_pct) {
                    Side::Server
                } else {
                    Side::Client
                }
            };
            match self.profile {
                Profile::Small => {
                    let from = side(rng, 50);
                    let (start, len) = {
                        let n = rng.range(16, 125) as usize;
                        corpus.text_slice(rng, n)
                    };
                    Unit::frame(rng, from, true, 0x1, Src::Text, start, len)
                }
                Profile::Large => {
                    let from = side(rng, 80);
                    let len = rng.log_range(16 << 10, 1 << 20) as usize;
                    let (start, len) = corpus.bin_slice(rng, len);
                    Unit::frame(rng, from, true, 0x2, Src::Bin, start, len)
                }
                Profile::Mixed => {
                    let r = rng.range(0, 999);
                    if r < 700 {
                        let from = side(rng, 60);
                        let (start, len) = {
                            let n = rng.range(16, 128) as usize;
                            corpus.text_slice(rng, n)
                        };
                        Unit::frame(rng, from, true, 0x1, Src::Text, start, len)
                    } else if r < 850 {
                        let from = side(rng, 70);
                        let (start, len) = {
                            let n = rng.range(129, 8192) as usize;
                            corpus.text_slice(rng, n)
                        };
                        Unit::frame(rng, from, true, 0x1, Src::Text, start, len)
                    } else if r < 940 {
                        let from = side(rng, 70);
                        let len = rng.log_range(64, 64 << 10) as usize;
                        let (start, len) = corpus.bin_slice(rng, len);
                        Unit::frame(rng, from, true, 0x2, Src::Bin, start, len)
                    } else if r < 955 {
                        let from = side(rng, 90);
                        let len = rng.log_range(64 << 10, 1 << 20) as usize;
                        let (start, len) = corpus.bin_slice(rng, len);
                        Unit::frame(rng, from, true, 0x2, Src::Bin, start, len)
                    } else if r < 985 {
                        // A fragmented text message: first frame, then 1-3
                        // continuations.
                        let from = side(rng, 50);
                        conn.frags_left = rng.range(1, 3) as u8;
                        conn.frag_from = from;
                        let (start, len) = {
                            let n = rng.range(16, 2000) as usize;
                            corpus.text_slice(rng, n)
                        };
                        Unit::frame(rng, from, false, 0x1, Src::Text, start, len)
                    } else {
                        // Server ping, answered by the client's pong next.
                        let (start, len) = {
                            let n = rng.range(0, 16) as usize;
                            corpus.bin_slice(rng, n)
                        };
                        conn.pong = Some((start, len));
                        Unit::frame(rng, Side::Server, true, 0x9, Src::Bin, start, len)
                    }
                }
            }
        };
        // A message (not its continuations or the pong) counts against the
        // connection's allowance.
        if !unit.mandatory() {
            conn.units_left -= 1;
        }
        Some(unit)
    }

    /// Whether a new unit of `est` bytes (and the closes of `live`
    /// connections) still fits the size budget.
    fn fits(&self, est: u64, live: u64) -> bool {
        self.written + self.reserved + est + live * CLOSE_COST <= self.target
    }

    /// Emits one data segment of `conn` (plus a delayed ACK), coalescing
    /// small frames of the same side into it. Returns false when the
    /// connection has nothing left to send and must close.
    fn segment(&mut self, conn: &mut Conn, live: u64) -> io::Result<bool> {
        if conn.cur.is_none() {
            match self.next_unit(conn) {
                Some(u) if u.mandatory() || self.fits(u.est, live) => {
                    self.reserved += u.est;
                    conn.cur = Some(u);
                }
                _ => return Ok(false),
            }
        }
        let from = conn.cur.as_ref().unwrap().from;
        let (tmpl, me, peer) = match from {
            Side::Client => (conn.c2s, 0, 1),
            Side::Server => (conn.s2c, 1, 0),
        };
        tmpl.begin(&mut self.buf);
        let mut room = if conn.tls.is_some() {
            MSS - TLS_OVERHEAD
        } else {
            MSS
        };
        loop {
            let unit = conn.cur.as_mut().unwrap();
            let n = unit.fill(&self.corpus, &mut self.buf, room);
            room -= n;
            if !unit.done() {
                break;
            }
            let unit = conn.cur.take().unwrap();
            self.reserved -= unit.est;
            if unit.frame {
                self.frames += 1;
                if unit.head[0] & 0x80 != 0 && unit.head[0] & 0x0f < 0x8 {
                    self.messages += 1;
                }
            }
            // Coalesce: in the mixed profile a quarter of the segments with
            // room carry the next frame(s) of the same side too.
            if self.profile != Profile::Mixed || room < 64 || !self.rng.pct(25) {
                break;
            }
            match self.next_unit(conn) {
                Some(u) if u.mandatory() || self.fits(u.est, live) => {
                    let same = u.from == from;
                    self.reserved += u.est;
                    conn.cur = Some(u);
                    if !same {
                        break;
                    }
                }
                // Over budget: drop the unit (and the pong or continuations
                // it would have owed); the connection closes next turn.
                _ => {
                    conn.units_left = 0;
                    conn.pong = None;
                    conn.frags_left = 0;
                    break;
                }
            }
        }
        if let (Some(tls), Some(seq)) = (&self.tls, &mut conn.tls) {
            tls.app[me].seal(&mut self.buf, HDR, 23, seq[me]);
            seq[me] += 1;
        }
        let payload = (self.buf.len() - HDR) as u32;
        self.payload_bytes += u64::from(payload);
        let push = if conn.cur.as_ref().is_none_or(|u| u.from != from) {
            TcpFlags::PSH
        } else {
            0
        };
        let (seq, ack) = (conn.seq[me], conn.seq[peer]);
        Template::finish(&mut self.buf, seq, ack, TcpFlags::ACK | push);
        self.check(&tmpl, seq, ack, TcpFlags::ACK | push);
        self.write_buf()?;
        conn.seq[me] = seq.wrapping_add(payload);
        conn.unacked[me] = 0;
        conn.unacked[peer] += 1;
        if conn.unacked[peer] >= 2 {
            // The receiver's delayed ACK.
            let t = if peer == 0 { conn.c2s } else { conn.s2c };
            t.begin(&mut self.buf);
            let (seq, ack) = (conn.seq[peer], conn.seq[me]);
            Template::finish(&mut self.buf, seq, ack, TcpFlags::ACK);
            self.check(&t, seq, ack, TcpFlags::ACK);
            self.write_buf()?;
            conn.unacked[peer] = 0;
        }
        Ok(true)
    }

    /// Runs `conns` connection slots in turns until the size budget is
    /// spent and every connection has closed.
    fn generate(&mut self, conns: usize) -> io::Result<()> {
        let mut slots: Vec<Option<Conn>> = (0..conns).map(|_| None).collect();
        let mut live = 0u64;
        let mut accepting = true;
        let mut turn = 0u64;
        loop {
            let mut progressed = false;
            for slot in slots.iter_mut() {
                turn += 1;
                if self.profile == Profile::Mixed && turn.is_multiple_of(40) && self.fits(500, live)
                {
                    self.udp()?;
                }
                if slot.is_none() {
                    if !accepting || !self.fits(OPEN_COST + CLOSE_COST + 2_000, live) {
                        accepting = false;
                        continue;
                    }
                    *slot = Some(self.new_conn());
                    live += 1;
                }
                let conn = slot.as_mut().unwrap();
                progressed = true;
                if !conn.opened {
                    self.open(conn)?;
                    continue;
                }
                if !self.segment(conn, live)? {
                    self.close(conn)?;
                    *slot = None;
                    live -= 1;
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(())
    }

    /// Compares the packet in `buf` with what the library builds.
    fn check(&mut self, t: &Template, seq: u32, ack: u32, flags: u8) {
        if self.verify_left == 0 {
            return;
        }
        self.verify_left -= 1;
        let expected = TcpPacket::new(Link::Ethernet, t.src, t.dst)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .payload(&self.buf[HDR..])
            .build();
        assert!(
            expected == self.buf,
            "fast path differs from TcpPacket::build"
        );
    }

    /// A UDP datagram between random hosts (40-400 bytes of random payload), built by hand:
    /// the library's builder is TCP only.
    fn udp(&mut self) -> io::Result<()> {
        let len = self.rng.range(40, 400) as usize;
        let (start, _) = self.corpus.bin_slice(&mut self.rng, len);
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
        let total = (20 + 8 + len) as u16;
        let src = [192, 168, 1, self.rng.range(2, 254) as u8];
        let dst = [192, 168, 1, 1];
        b.extend_from_slice(&[0x45, 0]);
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
        b.extend_from_slice(&src);
        b.extend_from_slice(&dst);
        let c = fold(sum_words(&b[14..34]));
        b[24..26].copy_from_slice(&c.to_be_bytes());
        // Dynamic ports on both ends, so that dissectors leave the random
        // payload alone.
        let sport = self.rng.range(49_152, 65_535) as u16;
        let dport = self.rng.range(49_152, 65_535) as u16;
        b.extend_from_slice(&sport.to_be_bytes());
        b.extend_from_slice(&dport.to_be_bytes());
        b.extend_from_slice(&((8 + len) as u16).to_be_bytes());
        b.extend_from_slice(&[0, 0]); // no checksum (allowed over IPv4)
        let start = start as usize;
        b.extend_from_slice(&self.corpus.bin[start..start + len]);
        self.payload_bytes += len as u64;
        self.udp += 1;
        self.write_buf()
    }
}

fn run(args: &Args) -> io::Result<()> {
    let started = Instant::now();
    let file = File::create(&args.out)?;
    let out = PcapWriter::new(
        BufWriter::with_capacity(4 << 20, file),
        Link::Ethernet.linktype().0.into(),
    )?;
    let mut rng = Rng::new(args.seed);
    let corpus = Corpus::new(&mut rng);
    let mut g = Gen {
        profile: args.profile,
        rng,
        corpus,
        out,
        buf: Vec::with_capacity(HDR + MSS + 64),
        now: START_NS,
        step_ns: (1_000_000_000 / args.pps) as i64,
        target: args.size,
        written: 24,
        reserved: 0,
        conn_seq: 0,
        verify_left: if args.verify { u64::MAX } else { VERIFY_FIRST },
        packets: 0,
        frames: 0,
        messages: 0,
        ws_conns: 0,
        http_conns: 0,
        udp: 0,
        payload_bytes: 0,
        tls: args.tls_keylog.as_ref().map(TlsGen::new).transpose()?,
    };

    // Each repetition starts from the generator's state after the corpus,
    // with the first one's budget (not what the last left unspent), so it
    // draws the same traffic; addresses (conn_seq) and time go on.
    let start = g.rng.clone();
    for rep in 0..args.repeat {
        if rep > 0 {
            g.rng = start.clone();
            g.target = g.written + args.size.saturating_sub(24);
        }
        g.generate(args.conns)?;
    }
    g.out.get_mut().flush()?;
    if let Some(tls) = &mut g.tls {
        tls.keylog.flush()?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let bytes = g.written;
    println!(
        "gencap: profile {:?} seed {}: {} packets, {} frames ({} messages), {} bytes ({:.1} MiB, payload {:.1} MiB) in {:.2}s ({:.0} MB/s); {} WebSocket + {} HTTP connections, {} UDP datagrams -> {}",
        args.profile,
        args.seed,
        g.packets,
        g.frames,
        g.messages,
        bytes,
        bytes as f64 / (1 << 20) as f64,
        g.payload_bytes as f64 / (1 << 20) as f64,
        elapsed,
        bytes as f64 / 1e6 / elapsed,
        g.ws_conns,
        g.http_conns,
        g.udp,
        args.out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gencap: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gencap: {e}");
            ExitCode::FAILURE
        }
    }
}
