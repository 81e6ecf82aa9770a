//! Hostile input never panics and never makes wscap allocate beyond a bound.
//!
//! A counting global allocator records the peak of live heap bytes while
//! the whole pipeline (reader, decoder, reassembler, analysis) runs over
//! generated captures built to hurt: random bytes, 2^63-byte frame lengths,
//! a deflate bomb, thousands of connections holding out-of-order data.
//! This measures bytes, not time, so it is stable on any machine.

use std::io::{Cursor, Read};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use wscap::capture::CaptureReader;
use wscap::packet::TcpFlags;
use wscap::pipeline::{self, Options, Sources};
use wscap::record::Record;
use wscap::record::Sink;
use wscap::synth::{
    Link, PcapWriter, Side, SynthPacket, TcpConversation, TcpPacket, h2, pcap_bytes,
};
use wscap::tcp::CloseReason;
use wscap::time::Timestamp;

mod counting;
use counting::{ALLOCS, Counting, LIVE, PEAK};

#[global_allocator]
static A: Counting = Counting;

/// Tests share the counters: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Counts records, keeps nothing.
#[derive(Default)]
struct Count {
    frames: u64,
    connections: u64,
    /// Connections that ended with a FIN each way.
    fin_closed: u64,
}

impl Sink for Count {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        match r {
            Record::Frame(_) => self.frames += 1,
            Record::Connection(c) => {
                self.connections += 1;
                self.fin_closed += u64::from(c.end == CloseReason::Fin);
            }
            Record::Summary(_) => {}
        }
        Ok(())
    }
}

/// Runs the pipeline over a capture held in memory; returns the peak heap
/// bytes above what was live before (the capture bytes themselves excluded).
fn peak_during(capture: Vec<u8>) -> (usize, Count) {
    peak_reading(Box::new(Cursor::new(capture)))
}

/// Runs the pipeline over a capture read from `input`; returns the peak heap
/// bytes above what was live before.
fn peak_reading(input: Box<dyn Read + Send>) -> (usize, Count) {
    peak_reading_with(input, &one_thread())
}

/// One thread. The bounds tested here are the analysis's, the same on one
/// thread or two; on two, the batches in flight between the threads and a
/// copy of each open connection's metadata come on top (tested once,
/// below).
fn one_thread() -> Options {
    Options {
        threads: 1,
        ..Options::default()
    }
}

/// [`peak_during`] with options.
fn peak_with(capture: Vec<u8>, opts: &Options) -> (usize, Count) {
    peak_reading_with(Box::new(Cursor::new(capture)), opts)
}

fn peak_reading_with(input: Box<dyn Read + Send>, opts: &Options) -> (usize, Count) {
    let reader = CaptureReader::from_reader("mem", input);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let sources = Sources {
        files: vec!["mem".into()],
        readers: reader.into_iter().collect(),
        ..Sources::default()
    };
    let (_, sink) = pipeline::run_sources(sources, opts, Count::default(), &mut |_| {}).unwrap();
    (PEAK.load(Ordering::Relaxed) - base, sink)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const REQUEST: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

fn upgraded(client: &str, server: &str) -> TcpConversation {
    let mut c = TcpConversation::new(Link::Ethernet, addr(client), addr(server));
    c.handshake();
    c.send(Side::Client, REQUEST);
    c.send(Side::Server, RESPONSE);
    c
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_streams_after_the_upgrade() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut packets: Vec<SynthPacket> = Vec::new();
    for i in 0..200 {
        let mut c = upgraded(
            &format!("10.0.{}.{}:4{:04}", i / 200, i % 200, i),
            "10.9.9.9:80",
        );
        for _ in 0..10 {
            let n = (rng.next() % 3000) as usize;
            let side = if rng.next().is_multiple_of(2) {
                Side::Client
            } else {
                Side::Server
            };
            c.send(side, &rng.bytes(n));
        }
        let mut p = c.into_packets();
        // Lose one packet in ten and cut some with a snaplen.
        p.retain(|_| !rng.next().is_multiple_of(10));
        for (j, pkt) in p.iter_mut().enumerate() {
            if j % 7 == 3 {
                *pkt = pkt.clone().snapped(90);
            }
        }
        packets.extend(p);
    }
    packets.sort_by_key(|p| p.ts);
    let (peak, seen) = peak_during(pcap_bytes(1, &packets));
    assert_eq!(seen.connections, 200);
    assert!(peak < 16 << 20, "peak {peak} bytes");
}

#[test]
fn impossible_lengths_and_a_deflate_bomb() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut c = upgraded("10.0.0.1:40000", "10.0.0.2:80");
    // A server frame announcing 2^63 - 1 bytes, then a few real bytes.
    let mut f = vec![0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    f.extend_from_slice(&[0u8; 1000]);
    c.send(Side::Server, &f);
    let mut c2 = upgraded("10.0.0.3:40001", "10.0.0.2:80");
    // A compressed server message inflating to ~1 GB of zeros: 1 MB of
    // deflate stored as repeated "no compression" is not a bomb, so build
    // the real thing with flate2's compressor.
    let mut z = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    for _ in 0..256 {
        z.compress_vec(&zeros, &mut out, flate2::FlushCompress::None)
            .unwrap();
        out.reserve(1 << 16);
    }
    z.compress_vec(&[], &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4);
    let mut frame = vec![0xC2, 0x7F];
    frame.extend_from_slice(&(out.len() as u64).to_be_bytes());
    frame.extend_from_slice(&out);
    c2.send(Side::Server, &frame);
    let mut all = c.into_packets();
    all.extend(c2.into_packets());
    all.sort_by_key(|p| p.ts);
    let (peak, seen) = peak_during(pcap_bytes(1, &all));
    assert_eq!(seen.connections, 2);
    assert!(peak < 8 << 20, "peak {peak} bytes");
}

#[test]
fn many_connections_holding_out_of_order_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 5000 connections, each with a lost segment so later data is held.
    let mut packets = Vec::new();
    for i in 0..5000u32 {
        let mut c = upgraded(
            &format!("10.{}.{}.1:{}", i / 250, i % 250, 10000 + i),
            "10.200.0.1:80",
        );
        c.send(Side::Client, &[0x82, 0x7E, 0x10, 0x00, 1, 2, 3, 4]);
        let start = c.packets().len();
        c.send(Side::Client, &vec![7u8; 4096]);
        let mut p = c.into_packets();
        p.remove(start);
        for pkt in &mut p {
            pkt.ts = Timestamp(pkt.ts.0 + i64::from(i) * 1000);
        }
        packets.extend(p);
    }
    packets.sort_by_key(|p| p.ts);
    let (peak, seen) = peak_during(pcap_bytes(1, &packets));
    assert_eq!(seen.connections, 5000);
    // Per connection: its state plus held data; all open at once here.
    assert!(
        peak < 48 << 20,
        "peak {peak} bytes for 5000 open connections"
    );
    eprintln!("peak {} bytes, {} per connection", peak, peak / 5000);
}

/// TLS connections to decrypt (a key log is given), thousands open at once,
/// each with a 16 KiB record begun in each direction and never finished:
/// a record must be whole to be decrypted, so it is held, but only up to a
/// bound across connections.
#[test]
fn tls_connections_holding_records_are_bounded() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut hello = vec![22, 3, 1, 0, 45, 1, 0, 0, 41, 3, 3];
    hello.extend_from_slice(&[0x11; 32]);
    hello.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut begun = vec![23, 3, 3, 0x40, 0x00];
    begun.extend(vec![0x5a; 16_000]);
    let mut packets = Vec::new();
    let n = 4000u32;
    for i in 0..n {
        let mut c = TcpConversation::new(
            Link::Ethernet,
            addr(&format!("10.{}.{}.1:{}", i / 250, i % 250, 10000 + i)),
            addr("10.200.0.1:443"),
        );
        c.handshake();
        c.send(Side::Client, &hello);
        c.send(Side::Client, &begun);
        c.send(Side::Server, &begun);
        let mut p = c.into_packets();
        for pkt in &mut p {
            pkt.ts = Timestamp(pkt.ts.0 + i64::from(i) * 1000);
        }
        packets.extend(p);
    }
    packets.sort_by_key(|p| p.ts);
    let mut opts = one_thread();
    let line = format!("CLIENT_RANDOM {} {}", "11".repeat(32), "22".repeat(48));
    std::sync::Arc::make_mut(&mut opts.analysis.tls_keys).add(line.as_bytes());
    let (peak, seen) = peak_with(pcap_bytes(1, &packets), &opts);
    assert_eq!(seen.connections, u64::from(n));
    // Unbounded, 4000 connections would hold 128 MB of records.
    assert!(peak < 64 << 20, "peak {peak} bytes for {n} TLS connections");
    eprintln!("peak {} bytes, {} per connection", peak, peak / n as usize);
}

#[test]
fn random_capture_files() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng(42);
    for i in 0..300 {
        let mut bytes = match i % 3 {
            0 => vec![
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0,
            ],
            1 => vec![0x0a, 0x0d, 0x0d, 0x0a],
            _ => vec![0x1f, 0x8b],
        };
        let n = (rng.next() % 4096) as usize;
        bytes.extend(rng.bytes(n));
        let (peak, _) = peak_during(bytes);
        assert!(peak < 40 << 20, "peak {peak}");
    }
}

#[test]
fn syn_flood_is_bounded_by_the_connection_cap() {
    use wscap::synth::TcpPacket;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 250_000u32;
    let mut w = wscap::synth::PcapWriter::new(Vec::new(), 1).unwrap();
    for i in 0..n {
        let src = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40000));
        let p = TcpPacket::new(Link::Ethernet, src, addr("10.255.0.1:80"))
            .seq(i)
            .flags(0x02)
            .build();
        w.write_packet(Timestamp(i64::from(i) * 1000), p.len() as u32, &p)
            .unwrap();
    }
    let (peak, seen) = peak_during(w.into_inner());
    assert_eq!(seen.connections, u64::from(n));
    eprintln!("SYN flood of {n}: peak {peak} bytes");
    // At most 32768 live connections (the default cap) plus tombstones.
    assert!(peak < 64 << 20, "peak {peak} bytes");
}

/// A classic pcap written as it is read: `more` appends the next packets to
/// the writer's buffer and returns false once it has none left, so a
/// capture of millions of packets never sits in memory whole.
struct Streamed<F> {
    w: PcapWriter<Vec<u8>>,
    pos: usize,
    more: F,
}

impl<F: FnMut(&mut PcapWriter<Vec<u8>>) -> bool> Read for Streamed<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.w.get_mut().len() {
            self.w.get_mut().clear();
            self.pos = 0;
            if !(self.more)(&mut self.w) {
                return Ok(0);
            }
        }
        let pending = &self.w.get_mut()[self.pos..];
        let n = pending.len().min(out.len());
        out[..n].copy_from_slice(&pending[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// `template`, a packet `TcpPacket` built for one client, readdressed to
/// `client`: building each of millions of packets from scratch would take
/// most of the test's time in a debug build. Ethernet, IPv4 and TCP headers
/// without options; `client_at` is where the client address sits (26 as
/// source, 30 as destination). The address is in the IPv4 header checksum
/// and, through the pseudo-header, in the TCP checksum: both are updated
/// for the changed words as RFC 1624 does it (HC' = ~(~HC + ~m + m')).
fn with_client(template: &[u8], client_at: usize, client: [u8; 4], out: &mut Vec<u8>) {
    let word = |b: &[u8], at: usize| u32::from(u16::from_be_bytes([b[at], b[at + 1]]));
    out.clear();
    out.extend_from_slice(template);
    let mut delta = 0u32;
    for at in [0, 2] {
        delta += (!word(template, client_at + at) & 0xffff) + word(&client, at);
    }
    out[client_at..client_at + 4].copy_from_slice(&client);
    for sum_at in [14 + 10, 34 + 16] {
        let mut sum = (!word(out, sum_at) & 0xffff) + delta;
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        out[sum_at..sum_at + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    }
}

#[test]
fn short_connections_leave_no_state_behind() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 1.6 million connections over 160 s of capture time, one opening every
    // 100 us: SYN, SYN-ACK, then a FIN each way 1 ms apart, so about 30 are
    // open at once. Each closes within 3 ms, long before the idle timeout
    // (600 s) its expiry timer was armed for.
    const N: u32 = 1_600_000;
    const TICK_NS: i64 = 100_000;
    /// Ticks between one packet of a connection and the next.
    const STEP: u32 = 10;
    let server = addr("10.255.0.1:80");
    let client = |i: u32| [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    // SYN, SYN-ACK, FIN from the client, FIN from the server; the same
    // sequence numbers on every connection, whose 4-tuples all differ.
    let build = |i: u32, phase: u32| {
        let c = SocketAddr::from((client(i), 40000));
        let (cisn, sisn) = (1000, 5000);
        let p = match phase {
            0 => TcpPacket::new(Link::Ethernet, c, server)
                .seq(cisn)
                .flags(TcpFlags::SYN),
            1 => TcpPacket::new(Link::Ethernet, server, c)
                .seq(sisn)
                .ack(cisn + 1)
                .flags(TcpFlags::SYN | TcpFlags::ACK),
            2 => TcpPacket::new(Link::Ethernet, c, server)
                .seq(cisn + 1)
                .ack(sisn + 1)
                .flags(TcpFlags::FIN | TcpFlags::ACK),
            _ => TcpPacket::new(Link::Ethernet, server, c)
                .seq(sisn + 1)
                .ack(cisn + 2)
                .flags(TcpFlags::FIN | TcpFlags::ACK),
        };
        p.build()
    };
    let templates: Vec<Vec<u8>> = (0..4).map(|phase| build(0, phase)).collect();
    let client_at = |phase: u32| if phase.is_multiple_of(2) { 26 } else { 30 };
    let mut buf = Vec::new();
    for i in [1, 255, 256, 65_537, N - 1] {
        for phase in 0..4 {
            with_client(
                &templates[phase as usize],
                client_at(phase),
                client(i),
                &mut buf,
            );
            assert_eq!(buf, build(i, phase), "connection {i} packet {phase}");
        }
    }
    const END: u32 = N + 3 * STEP;
    let mut tick = 0u32;
    let more = move |w: &mut PcapWriter<Vec<u8>>| {
        if tick >= END {
            return false;
        }
        let next = (tick + 64).min(END);
        // A tick has the SYN of connection `tick`, the SYN-ACK of the one
        // opened STEP ticks before, and so on.
        for t in tick..next {
            for phase in 0..4 {
                let Some(i) = t.checked_sub(phase * STEP).filter(|&i| i < N) else {
                    continue;
                };
                let ts =
                    1_700_000_000_000_000_000 + i64::from(t) * TICK_NS + i64::from(phase) * 1000;
                let template = &templates[phase as usize];
                with_client(template, client_at(phase), client(i), &mut buf);
                w.write_packet(Timestamp(ts), buf.len() as u32, &buf)
                    .unwrap();
            }
        }
        tick = next;
        true
    };
    let input = Streamed {
        w: PcapWriter::new(Vec::new(), 1).unwrap(),
        pos: 0,
        more,
    };
    let started = std::time::Instant::now();
    // On two threads: the analysis's bound, plus the batches in flight and
    // the copies of the open connections' metadata, stay under the same cap.
    let two = Options {
        threads: 2,
        ..Options::default()
    };
    let (peak, seen) = peak_reading_with(Box::new(input), &two);
    eprintln!(
        "{N} short connections: peak {peak} bytes, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(seen.connections, u64::from(N));
    assert_eq!(seen.fin_closed, u64::from(N));
    assert!(peak < 32 << 20, "peak {peak} bytes");
}

/// Frames held for the masking verdict (RFC 6455 5.1: the receiver's
/// reaction decides the severity) are bounded across connections: 32,768
/// open connections, each with 64 unmasked client frames the server never
/// answers, would hold two million frames.
#[test]
fn frames_held_for_the_masking_verdict_are_bounded() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 32_768u32;
    let frames: Vec<u8> = (0..64).flat_map(|_| *b"\x81\x05hello").collect();
    let mut packets = Vec::new();
    for i in 0..n {
        let client = SocketAddr::from(([10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 40000));
        let mut c = TcpConversation::new(Link::Ethernet, client, addr("10.200.0.1:80"));
        c.start_at(Timestamp(i64::from(i) * 1000));
        c.handshake();
        c.send(Side::Client, REQUEST);
        c.send(Side::Server, RESPONSE);
        c.send(Side::Client, &frames);
        packets.extend(c.into_packets());
    }
    packets.sort_by_key(|p| p.ts);
    let (peak, seen) = peak_during(pcap_bytes(1, &packets));
    assert_eq!(seen.connections, u64::from(n));
    assert_eq!(seen.frames, u64::from(n) * 64);
    eprintln!("{n} connections holding frames: peak {peak} bytes");
    assert!(peak < 128 << 20, "peak {peak} bytes");
}

/// Allocations made while the whole pipeline, JSON Lines writer included,
/// reads one connection of `frames` client frames and as many echoes.
fn allocations_for(frames: usize) -> usize {
    use wscap::report::{JsonlWriter, PayloadMode};
    let mut c = upgraded("10.0.0.1:40000", "10.0.0.2:80");
    for i in 0..frames {
        let text = format!("message number {i}");
        let mut f = vec![0x81, 0x80 | text.len() as u8, 1, 2, 3, 4];
        f.extend(
            text.bytes()
                .enumerate()
                .map(|(j, b)| b ^ [1, 2, 3, 4][j % 4]),
        );
        c.send(Side::Client, &f);
        let mut echo = vec![0x81, text.len() as u8];
        echo.extend_from_slice(text.as_bytes());
        c.send(Side::Server, &echo);
    }
    let capture = pcap_bytes(1, &c.into_packets());
    let reader = CaptureReader::from_reader("mem", Box::new(Cursor::new(capture)));
    let sources = Sources {
        files: vec!["mem".into()],
        readers: reader.into_iter().collect(),
        ..Sources::default()
    };
    let sink = JsonlWriter::new(std::io::sink(), PayloadMode::Text);
    let before = ALLOCS.load(Ordering::Relaxed);
    let (outcome, _) =
        pipeline::run_sources(sources, &Options::default(), sink, &mut |_| {}).unwrap();
    assert_eq!(outcome.summary.frames, 2 * frames as u64);
    ALLOCS.load(Ordering::Relaxed) - before
}

/// The default path allocates nothing per frame: reading, reassembly,
/// decoding, validation, the preview and the JSON Lines record reuse their
/// buffers, so five times the frames cost no more allocations.
#[test]
fn no_allocation_per_frame() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let few = allocations_for(400);
    let many = allocations_for(2000);
    eprintln!("allocations: {few} for 800 frames, {many} for 4000");
    // One allocation per frame would add 3,200; what grows with the input
    // at all (buffers doubling) adds a few.
    assert!(
        many <= few + 64,
        "{few} allocations for 800 frames, {many} for 4000"
    );
}

/// A diff sink that keeps nothing.
struct NoDiff;

impl wscap::diff::DiffSink for NoDiff {
    fn pair(&mut self, _: &wscap::diff::PairOut<'_>) -> std::io::Result<()> {
        Ok(())
    }
    fn unpaired(
        &mut self,
        _: wscap::diff::pair::SideName,
        _: &wscap::diff::summary::ConnSummary,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: &wscap::diff::DiffReport) -> std::io::Result<()> {
        Ok(())
    }
}

/// `n` WebSocket connections to `target`, one after the other, each with a
/// message each way and a closing handshake, written to a file.
fn sequential_websockets(n: u32, target: &str, name: &str) -> std::path::PathBuf {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut packets = Vec::new();
    for i in 0..n {
        let client = format!("10.{}.{}.{}:40000", i >> 16, (i >> 8) & 255, i & 255);
        let mut c = TcpConversation::new(Link::Ethernet, addr(&client), addr("10.255.0.1:80"));
        c.start_at(Timestamp(
            1_700_000_000_000_000_000 + i64::from(i) * 10_000_000,
        ));
        c.handshake();
        c.send(Side::Client, request.as_bytes());
        c.send(Side::Server, response);
        c.send(Side::Client, &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        c.send(Side::Server, &[0x81, 0x02, b'h', b'o']);
        c.send(Side::Client, &[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
        c.send(Side::Server, &[0x88, 0x02, 0x03, 0xe8]);
        c.fin(Side::Server);
        c.fin(Side::Client);
        packets.extend(c.into_packets());
    }
    let path =
        std::env::temp_dir().join(format!("wscap-memory-{}-{name}.pcap", std::process::id()));
    std::fs::write(&path, pcap_bytes(1, &packets)).unwrap();
    path
}

/// `wscap diff` holds the connections waiting for a partner, not every
/// connection of both captures: 20,000 connections a side, at ~2 KB a
/// summary, would be 80 MB held to the end.
#[test]
fn diff_holds_only_connections_waiting_for_a_partner() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: u32 = 20_000;
    let a = sequential_websockets(N, "/a", "a");
    let b = sequential_websockets(N, "/b", "b");
    let opts = wscap::diff::DiffOptions {
        analysis: Options::default(),
        fail_on: wscap::finding::Severity::Error,
        time_tolerance: 0.1,
    };
    let peak_of = |before: &std::path::Path, after: &std::path::Path| {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let (r, _) = wscap::diff::run(&[before], &[after], &opts, NoDiff).unwrap();
        (PEAK.load(Ordering::Relaxed) - base, r)
    };
    // The same traffic: each connection meets its partner at once.
    let (same, r) = peak_of(&a, &a);
    assert_eq!((r.pairs, r.differences_total), (N as usize, 0));
    // Different targets: nothing pairs, and the waiting bound gives the
    // oldest up as unpaired, so memory stays bounded.
    let (different, r) = peak_of(&a, &b);
    assert_eq!(r.pairs, 0);
    assert_eq!(
        (r.unpaired_before, r.unpaired_after),
        (N as usize, N as usize)
    );
    eprintln!("diff peaks: same traffic {same} bytes, different traffic {different} bytes");
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    assert!(same < 8 << 20, "same traffic: peak {same} bytes");
    assert!(
        different < 24 << 20,
        "different traffic: peak {different} bytes"
    );
}

/// One HTTP/2 connection of WebSockets (RFC 8441) opened ten at a time,
/// each with permessage-deflate and a compressed message each way: the
/// first `closed` batches end with END_STREAM, the next `open` do not.
fn h2_websockets(closed: u32, open: u32) -> Vec<u8> {
    let mut c = TcpConversation::new(Link::Ethernet, addr("10.0.0.1:40000"), addr("10.0.0.2:80"));
    c.handshake();
    c.send(Side::Client, &h2::client_preface());
    c.send(Side::Server, &h2::enable_connect());
    let connect = h2::connect(
        "/chat",
        &[("sec-websocket-extensions", "permessage-deflate")],
    );
    let ok = h2::block(&[
        (":status", "200"),
        ("sec-websocket-extensions", "permessage-deflate"),
    ]);
    // "Hello" compressed (RFC 7692 7.2.3.1), masked by the client.
    let deflated = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut masked = vec![0xc1, 0x80 | deflated.len() as u8, 1, 2, 3, 4];
    masked.extend(
        deflated
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
    );
    let mut plain = vec![0xc1, deflated.len() as u8];
    plain.extend_from_slice(&deflated);
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for batch in 0..closed + open {
        let streams: Vec<u32> = (0..10).map(|k| 2 * (batch * 10 + k) + 1).collect();
        let end = u8::from(batch < closed);
        for s in &streams {
            client.extend(h2::frame(1, 4, *s, &connect));
            server.extend(h2::frame(1, 4, *s, &ok));
        }
        c.send(Side::Client, &std::mem::take(&mut client));
        c.send(Side::Server, &std::mem::take(&mut server));
        for s in &streams {
            client.extend(h2::frame(0, end, *s, &masked));
            server.extend(h2::frame(0, end, *s, &plain));
        }
        c.send(Side::Client, &std::mem::take(&mut client));
        c.send(Side::Server, &std::mem::take(&mut server));
    }
    c.close(Side::Client);
    pcap_bytes(1, &c.into_packets())
}

/// WebSocket over HTTP/2 (RFC 8441): 30,000 WebSocket streams on one
/// connection, ten open at a time, leave nothing behind (the record lists
/// 1,024 and counts the rest); 5,000 more left open hold the state of the
/// 256 followed at once, each with two inflaters (about 90 KiB a stream),
/// not of every stream.
#[test]
fn http2_streams_leave_no_state_behind() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (peak, seen) = peak_during(h2_websockets(3_000, 0));
    assert_eq!(seen.frames, 2 * 30_000);
    assert!(peak < 4 << 20, "peak {peak} bytes");
    let (peak, seen) = peak_during(h2_websockets(3_000, 500));
    assert_eq!(seen.connections, 1);
    // Every stream of the 30,000 and the first 256 left open.
    assert_eq!(seen.frames, 2 * (30_000 + 256));
    assert!(peak < 32 << 20, "peak {peak} bytes");
}
