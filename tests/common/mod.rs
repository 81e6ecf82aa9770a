//! Shared helpers for the end-to-end tests: a WebSocket frame encoder, a
//! conversation builder that remembers which stream bytes every packet
//! carries, an oracle that says which frames wscap must report for a given
//! list of packets, capture writers and a runner for the built binary.
//!
//! The oracle is independent of wscap's code: it models the receiver rules
//! wscap documents (a byte belongs to the first packet in capture order that
//! carried it; bytes no packet captured are missing) and derives each
//! frame's `packet`, `last_packet`, `payload_missing` and `ts` from that.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use wscap::packet::TcpFlags;
use wscap::synth::{
    ByteOrder, Link, PcapNgWriter, PcapOptions, PcapWriter, Side, SynthPacket, TcpConversation,
    TcpPacket, TsPrecision,
};
use wscap::time::Timestamp;

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// 2023-11-14T22:13:20Z, the synth default start.
pub const START_NS: i64 = 1_700_000_000_000_000_000;

pub const CLIENT4: &str = "10.0.0.1:50000";
pub const SERVER4: &str = "10.0.0.2:8080";
pub const CLIENT6: &str = "[2001:db8::1]:50000";
pub const SERVER6: &str = "[2001:db8::2]:8080";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

pub fn upgrade_request() -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

pub fn upgrade_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------
// Frames

/// One WebSocket frame to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
    pub mask: Option<[u8; 4]>,
}

impl Frame {
    pub fn new(opcode: u8, payload: Vec<u8>) -> Frame {
        Frame {
            fin: true,
            opcode,
            payload,
            mask: None,
        }
    }
    pub fn text(s: &str) -> Frame {
        Frame::new(1, s.as_bytes().to_vec())
    }
    /// A binary frame of `len` pattern bytes (printable ASCII, so random
    /// positions in it rarely look like frame headers).
    pub fn binary(len: usize, seed: u8) -> Frame {
        Frame::new(2, pattern(len, seed))
    }
    pub fn cont(s: &str) -> Frame {
        Frame::new(0, s.as_bytes().to_vec())
    }
    pub fn close(code: u16) -> Frame {
        Frame::new(8, code.to_be_bytes().to_vec())
    }
    pub fn ping(s: &str) -> Frame {
        Frame::new(9, s.as_bytes().to_vec())
    }
    pub fn pong(s: &str) -> Frame {
        Frame::new(10, s.as_bytes().to_vec())
    }
    pub fn not_fin(mut self) -> Frame {
        self.fin = false;
        self
    }
    pub fn masked(mut self, key: [u8; 4]) -> Frame {
        self.mask = Some(key);
        self
    }

    /// Header bytes: 2, plus 2 or 8 for the extended length, plus 4 for a mask.
    pub fn header_len(&self) -> usize {
        let ext = match self.payload.len() {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// RFC 6455 5.2, with the minimal length encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header_len() + self.payload.len());
        out.push(u8::from(self.fin) << 7 | (self.opcode & 0x0f));
        let mbit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload.len();
        match len {
            0..=125 => out.push(mbit | len as u8),
            126..=65535 => {
                out.push(mbit | 126);
                out.extend((len as u16).to_be_bytes());
            }
            _ => {
                out.push(mbit | 127);
                out.extend((len as u64).to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend(key);
                out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend(&self.payload),
        }
        out
    }

    pub fn opcode_name(&self) -> &'static str {
        match self.opcode {
            0 => "continuation",
            1 => "text",
            2 => "binary",
            8 => "close",
            9 => "ping",
            10 => "pong",
            3..=7 => "reserved-data",
            _ => "reserved-control",
        }
    }
}

/// Printable lowercase letters, varied by `seed`.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + usize::from(seed)) % 26) as u8)
        .collect()
}

// ---------------------------------------------------------------------------
// Conversation builder

/// One captured packet with what it carries of its direction's stream.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub synth: SynthPacket,
    pub side: Side,
    /// Stream offset of the first payload byte (0 = first byte after the SYN).
    pub off: u64,
    /// Payload length on the wire.
    pub len: usize,
    /// Payload bytes captured (< `len` when the snaplen cut it).
    pub cap: usize,
    pub flags: u8,
}

impl Pkt {
    /// The same packet as a capture with `snaplen` would hold it.
    pub fn snapped(mut self, snaplen: u32) -> Pkt {
        self.synth = self.synth.snapped(snaplen);
        self.cap = captured_payload(&self.synth, self.len);
        self
    }

    /// Bytes of link, IP and TCP headers in front of the payload.
    pub fn header_bytes(&self) -> usize {
        self.synth.orig_len as usize - self.len
    }

    pub fn end(&self) -> u64 {
        self.off + self.len as u64
    }
}

/// Payload bytes captured of a packet whose wire payload is `len` bytes.
fn captured_payload(p: &SynthPacket, len: usize) -> usize {
    let headers = p.orig_len as usize - len;
    p.data.len().saturating_sub(headers).min(len)
}

/// A frame as sent: who sent it and where it starts in its stream.
#[derive(Clone, Debug)]
pub struct Sent {
    pub side: Side,
    pub frame: Frame,
    pub offset: u64,
}

impl Sent {
    pub fn end(&self) -> u64 {
        self.offset + (self.frame.header_len() + self.frame.payload.len()) as u64
    }
}

/// A WebSocket conversation over one TCP connection.
pub struct Ws {
    pub conv: TcpConversation,
    meta: Vec<(Side, u64, usize, u8)>,
    pub sent: Vec<Sent>,
    off: [u64; 2],
    pending: [Vec<u8>; 2],
    mss: usize,
    isn: [u32; 2],
    stream: [Vec<u8>; 2],
}

fn si(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Ws {
    pub fn new(link: Link, client: &str, server: &str) -> Ws {
        Ws {
            conv: TcpConversation::new(link, addr(client), addr(server)),
            meta: Vec::new(),
            sent: Vec::new(),
            off: [0, 0],
            pending: [Vec::new(), Vec::new()],
            mss: 1460,
            isn: [1000, 5000],
            stream: [Vec::new(), Vec::new()],
        }
    }

    pub fn mss(&mut self, mss: usize) -> &mut Self {
        self.mss = mss;
        self
    }

    /// Initial sequence numbers (before the handshake).
    pub fn isn(&mut self, client: u32, server: u32) -> &mut Self {
        self.conv.isn(client, server);
        self.isn = [client, server];
        self
    }

    /// Sequence number of stream offset `off` in `side`'s direction.
    pub fn seq_of(&self, side: Side, off: u64) -> u32 {
        self.isn[si(side)].wrapping_add(1).wrapping_add(off as u32)
    }

    /// A segment outside the script (a retransmission, an overlap): `payload`
    /// at stream offset `off` from `side`, acknowledging nothing new, at
    /// time `ts`. The conversation's sequence numbers do not move.
    pub fn forge(&self, side: Side, off: u64, payload: &[u8], ts: Timestamp) -> Pkt {
        let p = TcpPacket::new(
            self.conv.link().clone(),
            self.conv.addr(side),
            self.conv.addr(side.peer()),
        )
        .seq(self.seq_of(side, off))
        .ack(self.isn[si(side.peer())].wrapping_add(1))
        .flags(TcpFlags::ACK)
        .payload(payload);
        Pkt {
            synth: SynthPacket::new(ts, p.build()),
            side,
            off,
            len: payload.len(),
            cap: payload.len(),
            flags: TcpFlags::ACK,
        }
    }

    /// Sends what was queued for `side`, cut into segments at the given
    /// positions of the queued bytes (then at most MSS each).
    pub fn flush_at(&mut self, side: Side, cuts: &[usize]) -> &mut Self {
        let data = std::mem::take(&mut self.pending[si(side)]);
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
            for chunk in data[start..cut].chunks(self.mss) {
                self.segment(side, TcpFlags::ACK, chunk);
            }
            start = cut;
        }
        self
    }

    /// The stream offset `side` will write next (queued bytes included).
    pub fn offset(&self, side: Side) -> u64 {
        self.off[si(side)] + self.pending[si(side)].len() as u64
    }

    pub fn start_at(&mut self, ns: i64) -> &mut Self {
        self.conv.start_at(Timestamp::from_nanos(ns));
        self
    }

    /// One segment with exactly these flags and this payload.
    pub fn segment(&mut self, side: Side, flags: u8, payload: &[u8]) -> &mut Self {
        self.meta
            .push((side, self.off[si(side)], payload.len(), flags));
        self.conv.segment(side, flags, payload);
        self.off[si(side)] += payload.len() as u64;
        self.stream[si(side)].extend_from_slice(payload);
        self
    }

    /// Every byte `side` has sent so far (stream offset 0 first).
    pub fn stream(&self, side: Side) -> &[u8] {
        &self.stream[si(side)]
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> &mut Self {
        self.segment(Side::Client, TcpFlags::SYN, &[])
            .segment(Side::Server, TcpFlags::SYN | TcpFlags::ACK, &[])
            .segment(Side::Client, TcpFlags::ACK, &[])
    }

    /// Queues raw bytes for `side` (sent by [`Self::flush`]).
    pub fn raw(&mut self, side: Side, bytes: &[u8]) -> &mut Self {
        self.pending[si(side)].extend_from_slice(bytes);
        self
    }

    /// Queues a frame for `side` (sent by [`Self::flush`]).
    pub fn frame(&mut self, side: Side, frame: Frame) -> &mut Self {
        let offset = self.off[si(side)] + self.pending[si(side)].len() as u64;
        self.pending[si(side)].extend(frame.encode());
        self.sent.push(Sent {
            side,
            frame,
            offset,
        });
        self
    }

    /// Sends what was queued for `side` as one write: segments of at most
    /// MSS bytes, PSH on the last.
    pub fn flush(&mut self, side: Side) -> &mut Self {
        let data = std::mem::take(&mut self.pending[si(side)]);
        let count = data.chunks(self.mss).count();
        for (i, chunk) in data.chunks(self.mss).enumerate() {
            let push = if i + 1 == count { TcpFlags::PSH } else { 0 };
            self.segment(side, TcpFlags::ACK | push, chunk);
        }
        self
    }

    /// One frame as its own write.
    pub fn send(&mut self, side: Side, frame: Frame) -> &mut Self {
        self.frame(side, frame).flush(side)
    }

    /// The upgrade request and the 101 response, each its own write.
    pub fn upgrade(&mut self) -> &mut Self {
        self.raw(Side::Client, &upgrade_request())
            .flush(Side::Client)
            .raw(Side::Server, &upgrade_response())
            .flush(Side::Server)
    }

    pub fn ack(&mut self, side: Side) -> &mut Self {
        self.segment(side, TcpFlags::ACK, &[])
    }

    /// FIN, FIN, ACK started by `from`.
    pub fn close(&mut self, from: Side) -> &mut Self {
        self.segment(from, TcpFlags::FIN | TcpFlags::ACK, &[])
            .segment(from.peer(), TcpFlags::FIN | TcpFlags::ACK, &[])
            .segment(from, TcpFlags::ACK, &[])
    }

    pub fn rst(&mut self, from: Side) -> &mut Self {
        self.segment(from, TcpFlags::RST | TcpFlags::ACK, &[])
    }

    /// Hands over the packets and frames so far; later ones start afresh
    /// (stream offsets continue).
    pub fn take(&mut self) -> (Vec<Pkt>, Vec<Sent>) {
        let synth = self.conv.take_packets();
        assert_eq!(synth.len(), self.meta.len());
        let pkts = synth
            .into_iter()
            .zip(self.meta.drain(..))
            .map(|(synth, (side, off, len, flags))| Pkt {
                side,
                off,
                len,
                cap: captured_payload(&synth, len),
                synth,
                flags,
            })
            .collect();
        (pkts, std::mem::take(&mut self.sent))
    }
}

/// The frames of the standard conversation, in sending order. Each entry is
/// one write; `true` marks frames that share a write with the next entry.
pub fn standard_frames() -> Vec<(Side, Frame, bool)> {
    use Side::{Client as C, Server as S};
    let k1 = [0x11, 0x22, 0x33, 0x44];
    let k2 = [0xa5, 0x5a, 0x0f, 0xf0];
    vec![
        (C, Frame::text("hello").masked(k1), false),
        (S, Frame::text("hi there"), false),
        (C, Frame::binary(125, 1).masked(k2), false),
        (S, Frame::binary(126, 2), false),
        (C, Frame::binary(300, 3).masked(k1), false),
        (S, Frame::binary(65535, 4), false),
        (C, Frame::text("frag-").not_fin().masked(k2), true),
        (C, Frame::cont("ment").masked(k1), false),
        (S, Frame::binary(70000, 5), false),
        (C, Frame::binary(65536, 6).masked(k2), false),
        (C, Frame::ping("are you there").masked(k1), false),
        (S, Frame::pong("are you there"), false),
        (C, Frame::close(1000).masked(k2), false),
        (S, Frame::close(1000), false),
    ]
}

/// Sends `frames` (as from [`standard_frames`]).
pub fn send_frames(ws: &mut Ws, frames: Vec<(Side, Frame, bool)>) {
    for (side, frame, joined) in frames {
        ws.frame(side, frame);
        if !joined {
            ws.flush(side);
        }
    }
}

/// The standard WebSocket conversation: TCP handshake, upgrade, the
/// standard frames, orderly close. MSS 1460 unless changed.
pub fn standard(link: Link, client: &str, server: &str, mss: usize) -> (Vec<Pkt>, Vec<Sent>) {
    standard_ws(link, client, server, mss).take()
}

/// [`standard`], with the builder kept (to forge more segments).
pub fn standard_ws(link: Link, client: &str, server: &str, mss: usize) -> Ws {
    let mut ws = Ws::new(link, client, server);
    ws.mss(mss).handshake().upgrade();
    send_frames(&mut ws, standard_frames());
    ws.close(Side::Client);
    ws
}

/// The standard conversation over Ethernet/IPv4.
pub fn standard_eth() -> (Vec<Pkt>, Vec<Sent>) {
    standard(Link::Ethernet, CLIENT4, SERVER4, 1460)
}

pub fn synth(pkts: &[Pkt]) -> Vec<SynthPacket> {
    pkts.iter().map(|p| p.synth.clone()).collect()
}

// ---------------------------------------------------------------------------
// The oracle

/// The fields of a frame record the tests compare.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FrameKey {
    pub conn: u64,
    pub dir: String,
    pub offset: u64,
    pub index: u64,
    pub opcode: String,
    pub fin: bool,
    pub masked: bool,
    pub payload_len: u64,
    pub header_len: u64,
    pub packet: u64,
    pub last_packet: u64,
    pub payload_missing: u64,
    pub complete: bool,
    pub ts: String,
    /// Codes of the frame's findings, sorted.
    pub codes: Vec<String>,
}

impl FrameKey {
    pub fn from_record(r: &Value) -> FrameKey {
        let u = |k: &str| {
            r[k].as_u64()
                .unwrap_or_else(|| panic!("{k} missing in {r}"))
        };
        let b = |k: &str| {
            r[k].as_bool()
                .unwrap_or_else(|| panic!("{k} missing in {r}"))
        };
        let s = |k: &str| {
            r[k].as_str()
                .unwrap_or_else(|| panic!("{k} missing in {r}"))
                .to_string()
        };
        let mut codes: Vec<String> = r["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["code"].as_str().expect("code").to_string())
            .collect();
        codes.sort();
        FrameKey {
            conn: u("conn"),
            dir: s("dir"),
            offset: u("offset"),
            index: u("index"),
            opcode: s("opcode"),
            fin: b("fin"),
            masked: b("masked"),
            payload_len: u("payload_len"),
            header_len: u("header_len"),
            packet: u("packet"),
            last_packet: u("last_packet"),
            payload_missing: r["payload_missing"].as_u64().unwrap_or(0),
            complete: b("complete"),
            ts: s("ts"),
            codes,
        }
    }
}

/// What the capture holds of one stream byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteState {
    /// Captured first by this packet (1-based number).
    Held(u64),
    /// First carried by this packet, but cut by the snaplen.
    Cut(u64),
    /// In no packet.
    Lost,
}

/// Per direction (0 = c2s), the state of every stream byte up to `len`.
pub fn byte_states(pkts: &[Pkt], side: Side, len: u64) -> Vec<ByteState> {
    let mut st = vec![ByteState::Lost; len as usize];
    for (i, p) in pkts.iter().enumerate() {
        if p.side != side {
            continue;
        }
        let n = i as u64 + 1;
        for o in p.off..p.end().min(len) {
            let s = &mut st[o as usize];
            if *s == ByteState::Lost {
                *s = if o < p.off + p.cap as u64 {
                    ByteState::Held(n)
                } else {
                    ByteState::Cut(n)
                };
            }
        }
    }
    st
}

/// The frames wscap must report for `pkts` (in file order), under the rule
/// that a byte belongs to the first packet that carried it. Frames with a
/// header byte missing are left out (wscap cannot see them); `index` counts
/// the frames reported per direction. `ts` is the time of `packet` passed
/// through `ts_of` (the capture format's precision). When the last payload
/// byte is missing, `last_packet` is the packet that cut it (snaplen) or 0
/// (lost: the test must say which packet revealed the gap).
pub fn expected_frames(
    pkts: &[Pkt],
    sent: &[Sent],
    conn: u64,
    ts_of: &dyn Fn(usize, Timestamp) -> Timestamp,
) -> Vec<FrameKey> {
    let mut out = Vec::new();
    for side in [Side::Client, Side::Server] {
        let frames: Vec<&Sent> = sent.iter().filter(|s| s.side == side).collect();
        let Some(end) = frames.iter().map(|s| s.end()).max() else {
            continue;
        };
        let st = byte_states(pkts, side, end);
        let mut index = 0;
        for s in frames {
            let hl = s.frame.header_len() as u64;
            let hdr = &st[s.offset as usize..(s.offset + hl) as usize];
            let packet = match hdr.iter().try_fold(0u64, |first, b| match b {
                ByteState::Held(n) if first == 0 => Some(*n),
                ByteState::Held(_) => Some(first),
                _ => None,
            }) {
                Some(p) => p,
                None => continue,
            };
            let payload = &st[(s.offset + hl) as usize..s.end() as usize];
            let missing = payload
                .iter()
                .filter(|b| !matches!(b, ByteState::Held(_)))
                .count() as u64;
            let last_packet = match st[s.end() as usize - 1] {
                ByteState::Held(n) | ByteState::Cut(n) => n,
                ByteState::Lost => 0,
            };
            let mut codes = Vec::new();
            if payload.contains(&ByteState::Lost) {
                codes.push("capture_gap".to_string());
            }
            if payload.iter().any(|b| matches!(b, ByteState::Cut(_))) {
                codes.push("truncated_payload".to_string());
            }
            codes.sort();
            let i = packet as usize - 1;
            out.push(FrameKey {
                conn,
                dir: if side == Side::Client { "c2s" } else { "s2c" }.to_string(),
                offset: s.offset,
                index,
                opcode: s.frame.opcode_name().to_string(),
                fin: s.frame.fin,
                masked: s.frame.mask.is_some(),
                payload_len: s.frame.payload.len() as u64,
                header_len: hl,
                packet,
                last_packet,
                payload_missing: missing,
                complete: true,
                ts: ts_of(i, pkts[i].synth.ts).to_string(),
                codes,
            });
            index += 1;
        }
    }
    out.sort();
    out
}

/// Timestamps as written (nanosecond formats).
pub fn exact_ts(_: usize, ts: Timestamp) -> Timestamp {
    ts
}

/// Timestamps cut to microseconds.
pub fn micro_ts(_: usize, ts: Timestamp) -> Timestamp {
    Timestamp::from_nanos(ts.as_nanos() - ts.as_nanos().rem_euclid(1_000))
}

/// The oracle for the clean case with exact timestamps, connection 0.
pub fn expect_all(pkts: &[Pkt], sent: &[Sent]) -> Vec<FrameKey> {
    expected_frames(pkts, sent, 0, &exact_ts)
}

// ---------------------------------------------------------------------------
// Capture files

/// Classic pcap, little-endian, microseconds (tcpdump's default).
pub fn pcap_us(link: &Link, pkts: &[Pkt]) -> Vec<u8> {
    pcap_with(PcapOptions::new(link.linktype().0.into()), &synth(pkts))
}

/// Classic pcap, little-endian, nanoseconds.
pub fn pcap_ns(link: &Link, pkts: &[Pkt]) -> Vec<u8> {
    let o = PcapOptions {
        precision: TsPrecision::Nano,
        ..PcapOptions::new(link.linktype().0.into())
    };
    pcap_with(o, &synth(pkts))
}

pub fn pcap_with(options: PcapOptions, packets: &[SynthPacket]) -> Vec<u8> {
    let mut w = PcapWriter::with_options(Vec::new(), options).expect("pcap header");
    w.write_all(packets).expect("pcap records");
    w.into_inner()
}

/// pcapng, one section, one interface of `link` with `if_tsresol` = 9.
pub fn pcapng_ns(link: &Link, pkts: &[Pkt], order: ByteOrder) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new(), order);
    w.section().expect("shb");
    let id = w
        .interface(link.linktype().0, 0, Some(9), None)
        .expect("idb");
    w.write_all(id, &synth(pkts)).expect("epb");
    w.into_inner()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// A file in the temp directory, removed on drop.
pub struct TempFile {
    pub path: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    pub fn new(name: &str, bytes: &[u8]) -> TempFile {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("wscap-it-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("writing a temp capture");
        TempFile { path }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------
// Running wscap

/// What one run of wscap produced.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub records: Vec<Value>,
    pub stderr: String,
}

impl Run {
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.records.iter().filter(|r| r["type"] == t).collect()
    }

    pub fn frames(&self) -> Vec<&Value> {
        self.of_type("frame")
    }

    pub fn conns(&self) -> Vec<&Value> {
        self.of_type("connection")
    }

    pub fn summary(&self) -> &Value {
        let last = self.records.last().expect("no records at all");
        assert_eq!(last["type"], "summary", "the last record is the summary");
        last
    }

    /// The frames as [`FrameKey`]s, sorted.
    pub fn frame_keys(&self) -> Vec<FrameKey> {
        let mut keys: Vec<FrameKey> = self
            .frames()
            .into_iter()
            .map(FrameKey::from_record)
            .collect();
        keys.sort();
        keys
    }

    /// The frame records with `conn` removed, in (dir, index) order: for
    /// comparing whole records across captures.
    pub fn frame_values(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self.frames().into_iter().cloned().collect();
        v.sort_by_key(|r| {
            (
                r["conn"].as_u64(),
                r["dir"].as_str().map(str::to_string),
                r["index"].as_u64(),
            )
        });
        v
    }

    /// Codes of a connection record's findings, in order.
    pub fn conn_codes(conn: &Value) -> Vec<String> {
        conn["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["code"].as_str().expect("code").to_string())
            .collect()
    }

    pub fn assert_ok(&self) {
        assert_eq!(self.status, 0, "wscap failed: {}", self.stderr);
        assert!(self.stderr.is_empty(), "unexpected stderr: {}", self.stderr);
    }
}

/// What one run of wscap wrote, unparsed.
pub struct RawRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built binary with `args`, feeding `stdin` if given.
pub fn wscap_raw(args: &[&str], stdin: Option<&[u8]>) -> RawRun {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wscap"));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("starting wscap");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            // wscap may stop reading early (damaged input): ignore EPIPE.
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().expect("waiting for wscap");
    if let Some(w) = writer {
        w.join().expect("stdin writer");
    }
    RawRun {
        status: out.status.code().expect("exit status"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the built binary and parses every line of its output.
pub fn wscap(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let raw = wscap_raw(args, stdin);
    let records = raw
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Run {
        status: raw.status,
        records,
        stderr: raw.stderr,
    }
}

/// `wscap analyze --format jsonl [extra...] FILE` over `capture` written to
/// a temp file.
pub fn analyze(capture: &[u8], extra: &[&str]) -> Run {
    let f = TempFile::new("capture", capture);
    analyze_paths(&[f.path.as_path()], extra)
}

pub fn analyze_paths(paths: &[&Path], extra: &[&str]) -> Run {
    let mut args = vec!["analyze", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let strs: Vec<&str> = paths
        .iter()
        .map(|p| p.to_str().expect("utf-8 path"))
        .collect();
    args.extend(strs);
    wscap(&args, None)
}

/// Asserts two lists of frame keys are equal, showing the first difference.
#[track_caller]
pub fn assert_frames(actual: &[FrameKey], expected: &[FrameKey]) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "frame {i} differs");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "frame count differs; actual: {actual:#?}\nexpected: {expected:#?}"
    );
}

// ---------------------------------------------------------------------------
// Small utilities

/// A deterministic xorshift generator, so shuffles are reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Index of the first packet of `side` carrying stream byte `off`.
pub fn packet_with(pkts: &[Pkt], side: Side, off: u64) -> usize {
    pkts.iter()
        .position(|p| p.side == side && p.off <= off && off < p.end())
        .unwrap_or_else(|| panic!("no packet carries {side:?} byte {off}"))
}

/// The frame sent by `side` whose header starts at or covers `off`.
pub fn sent_at(sent: &[Sent], side: Side, off: u64) -> &Sent {
    sent.iter()
        .find(|s| s.side == side && s.offset <= off && off < s.end())
        .unwrap_or_else(|| panic!("no {side:?} frame at {off}"))
}
