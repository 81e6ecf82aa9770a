//! Hostile input never panics and never makes wscap allocate beyond a bound.
//!
//! A counting global allocator records the peak of live heap bytes while
//! the whole pipeline (reader, decoder, reassembler, analysis) runs over
//! generated captures built to hurt: random bytes, 2^63-byte frame lengths,
//! a deflate bomb, thousands of connections holding out-of-order data.
//! This measures bytes, not time, so it is stable on any machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use wscap::capture::CaptureReader;
use wscap::pipeline::{self, Options, Sources};
use wscap::record::Record;
use wscap::record::Sink;
use wscap::synth::{Link, Side, SynthPacket, TcpConversation, pcap_bytes};
use wscap::time::Timestamp;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Tests share the counters: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Counts records, keeps nothing.
#[derive(Default)]
struct Count {
    frames: u64,
    connections: u64,
}

impl Sink for Count {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        match r {
            Record::Frame(_) => self.frames += 1,
            Record::Connection(_) => self.connections += 1,
            Record::Summary(_) => {}
        }
        Ok(())
    }
}

/// Runs the pipeline over a capture held in memory; returns the peak heap
/// bytes above what was live before (the capture bytes themselves excluded).
fn peak_during(capture: Vec<u8>) -> (usize, Count) {
    let reader = CaptureReader::from_reader("mem", Box::new(Cursor::new(capture)));
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let sources = Sources {
        files: vec!["mem".into()],
        readers: reader.into_iter().collect(),
        ..Sources::default()
    };
    let (_, sink) =
        pipeline::run_sources(sources, &Options::default(), Count::default(), &mut |_| {}).unwrap();
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
