//! Whole-reader tests over captures built byte by byte here, so each case
//! states exactly the bytes it feeds in.

use super::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{Cursor, Read, Write};

// ---------------------------------------------------------------- writers

fn word32(big: bool, v: u32) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn word16(big: bool, v: u16) -> [u8; 2] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// Classic pcap writer.
struct PcapFile {
    big: bool,
    out: Vec<u8>,
}

impl PcapFile {
    const MICRO: u32 = 0xa1b2_c3d4;
    const NANO: u32 = 0xa1b2_3c4d;

    fn new(big: bool, magic: u32, linktype_field: u32, snaplen: u32) -> Self {
        let mut out = Vec::new();
        out.extend(word32(big, magic));
        out.extend(word16(big, 2));
        out.extend(word16(big, 4));
        out.extend([0; 8]); // thiszone, sigfigs
        out.extend(word32(big, snaplen));
        out.extend(word32(big, linktype_field));
        PcapFile { big, out }
    }

    fn record(mut self, secs: u32, frac: u32, data: &[u8], orig_len: u32) -> Self {
        for v in [secs, frac, data.len() as u32, orig_len] {
            self.out.extend(word32(self.big, v));
        }
        self.out.extend(data);
        self
    }

    fn bytes(self) -> Vec<u8> {
        self.out
    }
}

/// pcapng writer; each section may have its own byte order.
struct NgFile {
    big: bool,
    out: Vec<u8>,
}

const SHB_TYPE: u32 = 0x0A0D_0D0A;

impl NgFile {
    fn new(big: bool) -> Self {
        NgFile {
            big: false,
            out: Vec::new(),
        }
        .section(big)
    }

    fn section(mut self, big: bool) -> Self {
        self.big = big;
        let mut body = Vec::new();
        body.extend(word32(big, 0x1A2B_3C4D));
        body.extend(word16(big, 1));
        body.extend(word16(big, 0));
        body.extend(u64::MAX.to_le_bytes()); // section length unknown
        self.block(SHB_TYPE, &body)
    }

    /// Frames `body` (padded to 4 bytes) as a block of type `kind`.
    fn block(mut self, kind: u32, body: &[u8]) -> Self {
        let padded = body.len().next_multiple_of(4);
        let len = (12 + padded) as u32;
        self.out.extend(word32(self.big, kind));
        self.out.extend(word32(self.big, len));
        self.out.extend(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend(word32(self.big, len));
        self
    }

    fn idb(self, linktype: u16, snaplen: u32, options: &[(u16, &[u8])]) -> Self {
        let mut body = Vec::new();
        body.extend(word16(self.big, linktype));
        body.extend([0, 0]);
        body.extend(word32(self.big, snaplen));
        for (code, value) in options {
            body.extend(word16(self.big, *code));
            body.extend(word16(self.big, value.len() as u16));
            body.extend(*value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        if !options.is_empty() {
            body.extend([0; 4]); // opt_endofopt
        }
        self.block(1, &body)
    }

    fn epb(self, if_id: u32, units: u64, data: &[u8], orig_len: u32) -> Self {
        let mut body = Vec::new();
        for v in [
            if_id,
            (units >> 32) as u32,
            units as u32,
            data.len() as u32,
            orig_len,
        ] {
            body.extend(word32(self.big, v));
        }
        body.extend(data);
        self.block(6, &body)
    }

    fn obsolete_pb(self, if_id: u16, units: u64, data: &[u8]) -> Self {
        let mut body = Vec::new();
        body.extend(word16(self.big, if_id));
        body.extend(word16(self.big, 0)); // drops
        for v in [
            (units >> 32) as u32,
            units as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend(word32(self.big, v));
        }
        body.extend(data);
        self.block(2, &body)
    }

    fn spb(self, orig_len: u32, data: &[u8]) -> Self {
        let mut body = word32(self.big, orig_len).to_vec();
        body.extend(data);
        self.block(3, &body)
    }

    fn bytes(self) -> Vec<u8> {
        self.out
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn tsoffset(big: bool, secs: i64) -> [u8; 8] {
    if big {
        secs.to_be_bytes()
    } else {
        secs.to_le_bytes()
    }
}

// ---------------------------------------------------------------- readers

/// A packet copied out of the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Packet {
    number: u64,
    ts: i64,
    linktype: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

/// Everything one read of the input produced.
struct Outcome {
    packets: Vec<Packet>,
    error: Option<CaptureError>,
    reader: CaptureReader,
}

fn open_bytes(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader("test.cap", Box::new(Cursor::new(bytes)))
}

fn drain(mut reader: CaptureReader) -> Outcome {
    let mut packets = Vec::new();
    let error = loop {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push(Packet {
                number: p.number,
                ts: p.ts.as_nanos(),
                linktype: p.linktype,
                orig_len: p.orig_len,
                data: p.data.to_vec(),
            }),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // Finished, cleanly or not, is final.
    assert!(matches!(reader.next_packet(), Ok(None)));
    Outcome {
        packets,
        error,
        reader,
    }
}

fn read(bytes: Vec<u8>) -> Outcome {
    drain(open_bytes(bytes).expect("opens"))
}

fn read_clean(bytes: Vec<u8>) -> Vec<Packet> {
    let outcome = read(bytes);
    if let Some(e) = outcome.error {
        panic!("unexpected error: {e}");
    }
    outcome.packets
}

/// Hands out at most `size` bytes per `read`, like a slow pipe.
struct Pieces {
    bytes: Cursor<Vec<u8>>,
    size: usize,
}

impl Pieces {
    fn reader(bytes: Vec<u8>, size: usize) -> Box<dyn Read + Send> {
        Box::new(Pieces {
            bytes: Cursor::new(bytes),
            size,
        })
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.size);
        self.bytes.read(&mut buf[..n])
    }
}

const SEC: i64 = 1_000_000_000;

fn sample_pcap(big: bool, magic: u32) -> Vec<u8> {
    PcapFile::new(big, magic, 1, 65535)
        .record(1_700_000_000, 250, b"first", 60)
        .record(1_700_000_001, 999_999, b"second!", 7)
        .bytes()
}

fn sample_pcapng(big: bool) -> Vec<u8> {
    NgFile::new(big)
        .idb(1, 0, &[])
        .epb(0, 1_700_000_000_000_001, b"abc", 3)
        .epb(0, 1_700_000_000_500_000, b"defgh", 64)
        .bytes()
}

// ---------------------------------------------------------------- classic pcap

#[test]
fn pcap_microsecond_twins_read_the_same() {
    let le = read_clean(sample_pcap(false, PcapFile::MICRO));
    let be = read_clean(sample_pcap(true, PcapFile::MICRO));
    assert_eq!(le, be);
    assert_eq!(
        le,
        vec![
            Packet {
                number: 1,
                ts: 1_700_000_000 * SEC + 250_000,
                linktype: LinkType::ETHERNET,
                orig_len: 60,
                data: b"first".to_vec(),
            },
            Packet {
                number: 2,
                ts: 1_700_000_001 * SEC + 999_999_000,
                linktype: LinkType::ETHERNET,
                orig_len: 7,
                data: b"second!".to_vec(),
            },
        ]
    );
}

#[test]
fn pcap_nanosecond_twins_read_the_same() {
    let le = read_clean(sample_pcap(false, PcapFile::NANO));
    assert_eq!(le, read_clean(sample_pcap(true, PcapFile::NANO)));
    assert_eq!(le[0].ts, 1_700_000_000 * SEC + 250);
    assert_eq!(le[1].ts, 1_700_000_001 * SEC + 999_999);
}

#[test]
fn pcap_reader_reports_format_interface_and_position() {
    let bytes = sample_pcap(true, PcapFile::NANO);
    let total = bytes.len() as u64;
    let mut reader = open_bytes(bytes).unwrap();
    assert_eq!(reader.format(), Format::Pcap);
    assert_eq!(reader.name(), "test.cap");
    assert!(!reader.compressed());
    assert_eq!(reader.position(), 24);
    assert_eq!(
        reader.interfaces(),
        &[InterfaceInfo {
            linktype: LinkType::ETHERNET,
            snaplen: 65535,
            ts_resolution: TsResolution::Decimal(9),
            ts_offset_secs: 0,
        }]
    );
    reader.next_packet().unwrap().unwrap();
    assert_eq!(reader.position(), 24 + 16 + 5);
    let outcome = drain(reader);
    assert_eq!(outcome.reader.position(), total);
    assert_eq!(outcome.reader.stats().packets, 2);
}

#[test]
fn pcap_link_type_ignores_fcs_bits() {
    // FCS length 4 (top four bits) flagged present (bit 26), on LINUX_SLL.
    let field = (4 << 28) | (1 << 26) | 113;
    let bytes = PcapFile::new(false, PcapFile::MICRO, field, 0)
        .record(1, 0, b"x", 1)
        .bytes();
    assert_eq!(read_clean(bytes)[0].linktype, LinkType::LINUX_SLL);
}

#[test]
fn pcap_header_only_is_an_empty_capture() {
    let bytes = PcapFile::new(false, PcapFile::MICRO, 1, 65535).bytes();
    assert!(read_clean(bytes).is_empty());
}

// ---------------------------------------------------------------- pcapng

#[test]
fn pcapng_twins_read_the_same() {
    let le = read_clean(sample_pcapng(false));
    assert_eq!(le, read_clean(sample_pcapng(true)));
    assert_eq!(le.len(), 2);
    assert_eq!(le[0].ts, 1_700_000_000 * SEC + 1_000);
    assert_eq!((le[1].number, le[1].orig_len), (2, 64));
    assert_eq!(le[1].data, b"defgh");
}

#[test]
fn pcapng_interfaces_have_their_own_link_type_and_clock() {
    for big in [false, true] {
        let bytes = NgFile::new(big)
            .idb(1, 0, &[(9, &[9])]) // nanoseconds
            .idb(101, 0, &[(9, &[3]), (14, &tsoffset(big, 100))]) // ms, +100 s
            .idb(113, 0, &[(9, &[0x80 | 20])]) // 2^-20 s
            .idb(228, 0, &[]) // default microseconds
            .epb(0, 1_700_000_000_123_456_789, b"ns", 2)
            .epb(1, 1_500, b"ms", 2)
            .epb(2, (3 << 20) | (1 << 19), b"bin", 3)
            .epb(3, 2_000_001, b"us", 2)
            .bytes();
        let outcome = read(bytes);
        assert!(outcome.error.is_none());
        let got: Vec<(LinkType, i64)> =
            outcome.packets.iter().map(|p| (p.linktype, p.ts)).collect();
        assert_eq!(
            got,
            vec![
                (LinkType::ETHERNET, 1_700_000_000_123_456_789),
                (LinkType::RAW, 101 * SEC + 500_000_000),
                (LinkType::LINUX_SLL, 3 * SEC + 500_000_000),
                (LinkType::IPV4, 2 * SEC + 1_000),
            ]
        );
        let interfaces = outcome.reader.interfaces();
        assert_eq!(interfaces.len(), 4);
        assert_eq!(interfaces[1].ts_offset_secs, 100);
        assert_eq!(interfaces[2].ts_resolution, TsResolution::Binary(20));
    }
}

#[test]
fn pcapng_simple_packets_use_interface_zero_and_the_last_timestamp() {
    let bytes = NgFile::new(false)
        .idb(1, 4, &[])
        .idb(101, 0, &[])
        .spb(3, b"abc") // before any timestamp: 0
        .epb(1, 7_000_000, b"epb", 3)
        .spb(100, b"0123456789") // snaplen 4 wins
        .spb(2, b"xyzw") // orig_len 2 wins over padding and snaplen
        .bytes();
    let packets = read_clean(bytes);
    let got: Vec<(u64, i64, LinkType, u32, &[u8])> = packets
        .iter()
        .map(|p| (p.number, p.ts, p.linktype, p.orig_len, &p.data[..]))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 0, LinkType::ETHERNET, 3, &b"abc"[..]),
            (2, 7 * SEC, LinkType::RAW, 3, b"epb"),
            (3, 7 * SEC, LinkType::ETHERNET, 100, b"0123"),
            (4, 7 * SEC, LinkType::ETHERNET, 2, b"xy"),
        ]
    );
}

#[test]
fn pcapng_obsolete_packet_block_is_read() {
    let bytes = NgFile::new(true)
        .idb(1, 0, &[])
        .idb(113, 0, &[])
        .obsolete_pb(1, 5_000_000, b"old")
        .bytes();
    let packets = read_clean(bytes);
    assert_eq!(packets.len(), 1);
    assert_eq!(
        (packets[0].ts, packets[0].linktype),
        (5 * SEC, LinkType::LINUX_SLL)
    );
    assert_eq!(packets[0].data, b"old");
}

#[test]
fn pcapng_other_blocks_are_skipped_and_counted() {
    let bytes = NgFile::new(false)
        .block(4, &[0; 4]) // name resolution, only its end-of-records record
        .idb(1, 0, &[])
        .epb(0, 1, b"one", 3)
        .block(5, &[0; 12]) // interface statistics
        .block(0x0BAD, b"\x00\x00\x7f\x00payload") // custom: enterprise number, data
        .block(10, &[0; 8]) // decryption secrets
        .block(0x4000_0BAD, &[0; 4])
        .block(0x1234_5678, b"who knows") // unknown type
        .block(0x99, &[]) // unknown, empty body
        .epb(0, 2, b"two", 3)
        .bytes();
    let outcome = read(bytes);
    assert!(outcome.error.is_none());
    let numbers: Vec<u64> = outcome.packets.iter().map(|p| p.number).collect();
    assert_eq!(numbers, vec![1, 2]);
    assert_eq!(
        outcome.reader.stats(),
        &ReadStats {
            packets: 2,
            sections: 1,
            interfaces: 1,
            skipped_blocks: 5,
            unknown_blocks: 2,
        }
    );
}

#[test]
fn pcapng_sections_reset_interfaces_and_may_switch_byte_order() {
    let bytes = NgFile::new(false)
        .idb(1, 0, &[])
        .idb(101, 0, &[])
        .epb(1, 1, b"a", 1)
        .section(true)
        .idb(113, 0, &[(9, &[9])])
        .epb(0, 2, b"b", 1)
        .bytes();
    let outcome = read(bytes);
    assert!(outcome.error.is_none());
    let got: Vec<(LinkType, i64)> = outcome.packets.iter().map(|p| (p.linktype, p.ts)).collect();
    assert_eq!(got, vec![(LinkType::RAW, 1_000), (LinkType::LINUX_SLL, 2)]);
    assert_eq!(outcome.reader.interfaces().len(), 1);
    assert_eq!(outcome.reader.stats().sections, 2);
    assert_eq!(outcome.reader.stats().interfaces, 3);
}

#[test]
fn pcapng_interface_from_a_previous_section_is_corrupt() {
    let first = NgFile::new(false).idb(1, 0, &[]).idb(1, 0, &[]).bytes();
    let offset = first.len() as u64;
    let mut bytes = first;
    bytes.extend(NgFile::new(false).idb(1, 0, &[]).epb(1, 1, b"a", 1).bytes());
    let shb_and_idb = NgFile::new(false).idb(1, 0, &[]).bytes().len() as u64;
    let outcome = read(bytes);
    match outcome.error {
        Some(CaptureError::Corrupt {
            offset: at, detail, ..
        }) => {
            assert_eq!(at, offset + shb_and_idb);
            assert!(detail.contains("interface 1"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn pcapng_simple_packet_without_interface_is_corrupt() {
    let outcome = read(NgFile::new(false).spb(1, b"a").bytes());
    assert!(matches!(outcome.error, Some(CaptureError::Corrupt { .. })));
}

#[test]
fn pcapng_malformed_tsresol_option_is_corrupt() {
    let outcome = read(NgFile::new(false).idb(1, 0, &[(9, &[6, 6])]).bytes());
    match outcome.error {
        Some(CaptureError::Corrupt { detail, .. }) => assert!(detail.contains("if_tsresol")),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// ---------------------------------------------------------------- input forms

#[test]
fn gzip_is_recognised_by_magic_for_both_formats() {
    for plain in [sample_pcap(false, PcapFile::MICRO), sample_pcapng(true)] {
        let reader = open_bytes(gzip(&plain)).unwrap();
        assert!(reader.compressed());
        let outcome = drain(reader);
        assert!(outcome.error.is_none());
        assert_eq!(outcome.packets, read_clean(plain.clone()));
        assert_eq!(outcome.reader.position(), plain.len() as u64);
    }
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let plain = sample_pcap(false, PcapFile::MICRO);
    let (head, tail) = plain.split_at(30);
    let mut bytes = gzip(head);
    bytes.extend(gzip(tail));
    assert_eq!(read_clean(bytes), read_clean(plain));
}

#[test]
fn short_reads_like_a_pipe_are_fine() {
    for plain in [sample_pcap(true, PcapFile::NANO), sample_pcapng(false)] {
        for bytes in [plain.clone(), gzip(&plain)] {
            let reader = CaptureReader::from_reader("-", Pieces::reader(bytes, 1)).unwrap();
            assert_eq!(reader.name(), "-");
            let outcome = drain(reader);
            assert!(outcome.error.is_none());
            assert_eq!(outcome.packets, read_clean(plain.clone()));
        }
    }
}

#[test]
fn open_reads_a_file_whatever_its_name() {
    // Named .pcap, holding a gzipped pcapng.
    let file = crate::test_util::TempFile::holding("open.pcap", &gzip(&sample_pcapng(false)));
    let reader = CaptureReader::open(file.path()).unwrap();
    assert_eq!(reader.format(), Format::PcapNg);
    assert_eq!(reader.name(), file.path().to_string_lossy());
    assert_eq!(drain(reader).packets.len(), 2);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = CaptureReader::open(Path::new("no/such/capture.pcap"))
        .err()
        .unwrap();
    assert!(matches!(err, CaptureError::Io { .. }));
    assert!(err.to_string().starts_with("no/such/capture.pcap: "));
}

// ---------------------------------------------------------------- reading as the bytes arrive

/// Captures that take every path of the reader: both formats and byte
/// orders, several sections and interfaces, skipped blocks, a packet that
/// grows the buffer, and damage at the end.
fn varied_captures() -> Vec<Vec<u8>> {
    let big: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let ng = NgFile::new(false)
        .block(4, &[0; 4])
        .idb(1, 0, &[(9, &[9])])
        .idb(101, 0, &[])
        .epb(1, 5, b"one", 3)
        .spb(3, b"two")
        .block(0x1234_5678, b"who knows")
        .section(true)
        .idb(113, 0, &[])
        .obsolete_pb(0, 7, b"three")
        .epb(0, 8, &big, big.len() as u32)
        .epb(0, 9, b"after", 5)
        .bytes();
    let mut cut_pcap = sample_pcap(true, PcapFile::NANO);
    cut_pcap.truncate(cut_pcap.len() - 3);
    let mut bad_trailer = sample_pcapng(true);
    let last = bad_trailer.len() - 1;
    bad_trailer[last] ^= 4;
    vec![
        sample_pcap(false, PcapFile::MICRO),
        PcapFile::new(false, PcapFile::NANO, 1, 1 << 20)
            .record(1, 0, b"small", 5)
            .record(2, 0, &big, big.len() as u32)
            .record(3, 0, b"after", 5)
            .bytes(),
        ng,
        cut_pcap,
        bad_trailer,
    ]
}

/// What a whole read produced, comparable across ways of reading.
fn result_of(outcome: Outcome) -> (Vec<Packet>, Option<String>, ReadStats, u64) {
    (
        outcome.packets,
        outcome.error.map(|e| e.to_string()),
        outcome.reader.stats().clone(),
        outcome.reader.position(),
    )
}

#[test]
fn pieces_of_any_size_give_the_same_packets() {
    for plain in varied_captures() {
        let expected = result_of(read(plain.clone()));
        assert!(!expected.0.is_empty());
        for bytes in [plain.clone(), gzip(&plain)] {
            for size in [1, 2, 3, 7, 16, 1000, 1 << 16] {
                let reader =
                    CaptureReader::from_reader("test.cap", Pieces::reader(bytes.clone(), size))
                        .unwrap();
                assert_eq!(result_of(drain(reader)), expected, "pieces of {size}");
            }
        }
    }
}

/// A live pipe whose writer is the test: reads take the chunks sent so far.
/// Reading when nothing more was sent panics: a real pipe would wait there
/// for the next packet, holding back the one already complete (a reader
/// that remembered a read error for later would otherwise not be caught).
struct LivePipe {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    pending: Cursor<Vec<u8>>,
}

impl LivePipe {
    /// The pipe, and its writing end taking the bytes in chunks of `chunk`.
    fn open(chunk: usize) -> (Box<dyn Read + Send>, impl Fn(&[u8])) {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let pipe = LivePipe {
            chunks: rx,
            pending: Cursor::new(Vec::new()),
        };
        let write = move |bytes: &[u8]| {
            for piece in bytes.chunks(chunk) {
                tx.send(piece.to_vec()).unwrap();
            }
        };
        (Box::new(pipe), write)
    }
}

impl Read for LivePipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.position() == self.pending.get_ref().len() as u64 {
            match self.chunks.try_recv() {
                Ok(chunk) => self.pending = Cursor::new(chunk),
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    panic!("read again before the packet in hand was returned")
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Ok(0),
            }
        }
        self.pending.read(buf)
    }
}

#[test]
fn each_packet_comes_as_soon_as_its_bytes_are_there() {
    let pcap_first = 24 + 16 + 5;
    let ng_first = NgFile::new(true)
        .idb(1, 0, &[])
        .epb(0, 1_700_000_000_000_001, b"abc", 3)
        .bytes()
        .len();
    let cases = [
        (sample_pcap(false, PcapFile::MICRO), pcap_first),
        (sample_pcapng(true), ng_first),
    ];
    for (bytes, first_end) in cases {
        let expected = read_clean(bytes.clone());
        for chunk in [1, 7, first_end] {
            let (pipe, write) = LivePipe::open(chunk);
            write(&bytes[..first_end]);
            let mut reader = CaptureReader::from_reader("-", pipe).unwrap();
            let first = reader.next_packet().unwrap().expect("the first packet");
            assert_eq!(first.data, expected[0].data, "chunks of {chunk}");
            assert_eq!(reader.position(), first_end as u64);
            // The second packet, in pieces if `chunk` says so.
            write(&bytes[first_end..]);
            let second = reader.next_packet().unwrap().expect("the second packet");
            assert_eq!(second.data, expected[1].data, "chunks of {chunk}");
            drop(write);
            assert!(reader.next_packet().unwrap().is_none());
        }
    }
}

/// A live pipe that never blocks: a read takes up to `chunk` of the bytes
/// written so far and says `WouldBlock` when there are none (as the reader
/// sees a pipe through `poll`). The test writes and reads on one thread.
#[derive(Clone)]
struct QuietPipe(std::sync::Arc<std::sync::Mutex<QuietState>>);

#[derive(Default)]
struct QuietState {
    bytes: std::collections::VecDeque<u8>,
    closed: bool,
    chunk: usize,
    /// Reads that returned bytes.
    reads: usize,
}

impl QuietPipe {
    fn new(chunk: usize) -> QuietPipe {
        QuietPipe(std::sync::Arc::new(std::sync::Mutex::new(QuietState {
            chunk,
            ..QuietState::default()
        })))
    }
    fn write(&self, bytes: &[u8]) {
        self.0.lock().unwrap().bytes.extend(bytes);
    }
    fn close(&self) {
        self.0.lock().unwrap().closed = true;
    }
    fn reads(&self) -> usize {
        self.0.lock().unwrap().reads
    }
}

impl Read for QuietPipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut s = self.0.lock().unwrap();
        if s.bytes.is_empty() {
            return match s.closed {
                true => Ok(0),
                false => Err(std::io::ErrorKind::WouldBlock.into()),
            };
        }
        let n = buf.len().min(s.chunk).min(s.bytes.len());
        for (d, b) in buf.iter_mut().zip(s.bytes.drain(..n)) {
            *d = b;
        }
        s.reads += 1;
        Ok(n)
    }
}

/// `plain` cut at `cuts` into pieces, each compressed on its own terms when
/// `gz` (a sync flush after each, as a compressing writer that flushes
/// per packet would send them).
fn pieces(plain: &[u8], cuts: &[usize], gz: bool) -> Vec<Vec<u8>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(plain.len());
    let parts = bounds.windows(2).map(|w| &plain[w[0]..w[1]]);
    if !gz {
        return parts.map(<[u8]>::to_vec).collect();
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    let mut out = Vec::new();
    for part in parts {
        enc.write_all(part).unwrap();
        enc.flush().unwrap();
        out.push(std::mem::take(enc.get_mut()));
    }
    out.last_mut().unwrap().extend(enc.finish().unwrap());
    out
}

#[test]
fn a_live_input_idles_until_a_packet_is_whole() {
    let ng_first = NgFile::new(false)
        .idb(1, 0, &[])
        .epb(0, 1_700_000_000_000_001, b"abc", 3)
        .bytes()
        .len();
    let cases = [
        (sample_pcap(true, PcapFile::NANO), 24 + 16 + 5),
        (sample_pcapng(false), ng_first),
    ];
    for (plain, first_end) in cases {
        let expected = read_clean(plain.clone());
        for gz in [false, true] {
            for chunk in [1, 5, 1 << 16] {
                let what = format!("gzip {gz}, reads of {chunk}");
                let parts = pieces(&plain, &[first_end], gz);
                let pipe = QuietPipe::new(chunk);
                pipe.write(&parts[0]);
                let mut r = CaptureReader::from_reader("-", Box::new(pipe.clone())).unwrap();
                assert_eq!(r.try_advance().unwrap(), Advance::Packet, "{what}");
                assert_eq!(r.current().unwrap().data, expected[0].data, "{what}");
                assert_eq!(r.try_advance().unwrap(), Advance::Idle, "{what}");
                // Half of the next packet: still idle, and kept.
                let (a, b) = parts[1].split_at(parts[1].len() / 2);
                pipe.write(a);
                assert_eq!(r.try_advance().unwrap(), Advance::Idle, "{what}");
                assert_eq!(r.try_advance().unwrap(), Advance::Idle, "{what}");
                pipe.write(b);
                assert_eq!(r.try_advance().unwrap(), Advance::Packet, "{what}");
                let second = r.current().unwrap();
                assert_eq!(second.data, expected[1].data, "{what}");
                assert_eq!(second.number, 2, "{what}");
                assert_eq!(r.try_advance().unwrap(), Advance::Idle, "{what}");
                pipe.close();
                assert_eq!(r.try_advance().unwrap(), Advance::End, "{what}");
                assert_eq!(r.position(), plain.len() as u64, "{what}");
            }
        }
    }
}

#[test]
fn packets_read_together_are_returned_before_reading_again() {
    for plain in [sample_pcap(false, PcapFile::MICRO), sample_pcapng(true)] {
        let pipe = QuietPipe::new(1 << 16);
        pipe.write(&plain);
        let mut r = CaptureReader::from_reader("-", Box::new(pipe.clone())).unwrap();
        let reads = pipe.reads();
        assert_eq!(r.try_advance().unwrap(), Advance::Packet);
        assert_eq!(r.try_advance().unwrap(), Advance::Packet);
        assert_eq!(pipe.reads(), reads, "both packets came from one read");
        assert_eq!(r.try_advance().unwrap(), Advance::Idle);
    }
}

#[test]
fn a_live_input_that_goes_quiet_mid_file_header_still_opens() {
    // The blocking open waits (here: yields) until the header is whole.
    let plain = sample_pcapng(true);
    let pipe = QuietPipe::new(3);
    let writer = pipe.clone();
    let bytes = plain.clone();
    let feeder = std::thread::spawn(move || {
        for piece in bytes.chunks(7) {
            writer.write(piece);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        writer.close();
    });
    let reader = CaptureReader::from_reader("-", Box::new(pipe)).unwrap();
    let outcome = drain(reader);
    feeder.join().unwrap();
    assert!(outcome.error.is_none());
    assert_eq!(outcome.packets, read_clean(plain));
}

/// Gives `bytes`, then fails every read with `error`'s kind and text; an
/// `Interrupted` before each read on the way, which must be retried.
struct FailAfter {
    bytes: Cursor<Vec<u8>>,
    error: (std::io::ErrorKind, &'static str),
    interrupt: bool,
}

impl FailAfter {
    fn reader(bytes: &[u8], kind: std::io::ErrorKind, text: &'static str) -> Box<dyn Read + Send> {
        Box::new(FailAfter {
            bytes: Cursor::new(bytes.to_vec()),
            error: (kind, text),
            interrupt: false,
        })
    }
}

impl Read for FailAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        match self.bytes.read(buf)? {
            0 => Err(std::io::Error::new(self.error.0, self.error.1)),
            n => Ok(n),
        }
    }
}

#[test]
fn read_errors_come_out_typed_and_named_after_earlier_packets() {
    let bytes = sample_pcap(false, PcapFile::MICRO);
    let first_end = 24 + 16 + 5;
    let fails = || {
        FailAfter::reader(
            &bytes[..first_end + 3],
            std::io::ErrorKind::Other,
            "disk on fire",
        )
    };

    let mut reader = CaptureReader::from_reader("test.cap", fails()).unwrap();
    assert_eq!(reader.next_packet().unwrap().unwrap().data, b"first");
    let err = reader.next_packet().expect_err("the read error");
    match &err {
        CaptureError::Io { file, source } => {
            assert_eq!(file, "test.cap");
            assert_eq!(source.to_string(), "disk on fire");
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(err.to_string(), "test.cap: disk on fire");
    // The record that could not be read starts where reading stopped.
    assert_eq!(reader.position(), first_end as u64);
    assert!(reader.next_packet().unwrap().is_none());

    let mut reader = CaptureReader::from_reader("test.cap", fails()).unwrap();
    assert!(reader.advance().unwrap());
    let err = reader.advance().expect_err("the read error");
    assert!(matches!(err, CaptureError::Io { .. }), "{err:?}");
    assert!(!reader.advance().unwrap());

    // Under gzip, a stream cut short is truncation of the record it cut.
    let compressed = gzip(&bytes);
    let cut = FailAfter::reader(&compressed, std::io::ErrorKind::UnexpectedEof, "cut");
    let outcome = drain(CaptureReader::from_reader("test.cap", cut).unwrap());
    assert_eq!(outcome.packets.len(), 2);
    let err = outcome.error.expect("truncation");
    assert_eq!(
        err.to_string(),
        format!(
            "test.cap: truncated at byte {}: the gzip stream ends early (cut)",
            bytes.len()
        )
    );
}

/// Shares the size of every read asked for.
struct Recording {
    bytes: Cursor<Vec<u8>>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.asked.lock().unwrap().push(buf.len());
        self.bytes.read(buf)
    }
}

#[test]
fn files_are_read_in_large_blocks() {
    let mut file = PcapFile::new(false, PcapFile::MICRO, 1, 65535);
    for i in 0..4000u32 {
        file = file.record(i, 0, &[i as u8; 1000], 1000);
    }
    let bytes = file.bytes();
    let asked = std::sync::Arc::default();
    let source = Recording {
        bytes: Cursor::new(bytes.clone()),
        asked: std::sync::Arc::clone(&asked),
    };
    let outcome = drain(CaptureReader::from_reader("test.cap", Box::new(source)).unwrap());
    assert_eq!(outcome.packets.len(), 4000);
    let asked = asked.lock().unwrap();
    // Past the few small reads that sniff the format, each read asks for
    // the whole buffer less the start of the record it completes.
    let large = asked.iter().filter(|&&n| n > 250 * 1024).count();
    assert!(
        large >= bytes.len() / (256 * 1024) && asked.len() - large <= 4,
        "{asked:?}"
    );
}

// ---------------------------------------------------------------- buffer growth

#[test]
fn packets_larger_than_the_initial_buffer_grow_it() {
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let pcap = PcapFile::new(false, PcapFile::MICRO, 1, 2 << 20)
        .record(1, 0, b"small", 5)
        .record(2, 0, &big, big.len() as u32)
        .record(3, 0, b"after", 5)
        .bytes();
    let ng = NgFile::new(true)
        .idb(1, 0, &[])
        .epb(0, 1, b"small", 5)
        .epb(0, 2, &big, big.len() as u32)
        .epb(0, 3, b"after", 5)
        .bytes();
    for bytes in [pcap, ng] {
        let packets = read_clean(bytes);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[1].data, big);
        assert_eq!(packets[2].data, b"after");
    }
}

#[test]
fn pcap_record_above_the_limit_is_corrupt() {
    // snaplen 65535: the limit is 256 KiB; a 300 KiB record is refused.
    let bytes = PcapFile::new(false, PcapFile::MICRO, 1, 65535)
        .record(1, 0, b"ok", 2)
        .record(2, 0, &vec![0; 300 * 1024], 300 * 1024)
        .bytes();
    let outcome = read(bytes);
    assert_eq!(outcome.packets.len(), 1);
    match outcome.error {
        Some(CaptureError::Corrupt { offset, detail, .. }) => {
            assert_eq!(offset, 24 + 16 + 2);
            assert!(detail.contains("307200"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn hostile_lengths_are_corrupt_not_allocations() {
    let mut pcap = sample_pcap(false, PcapFile::MICRO);
    pcap.extend([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let mut ng = sample_pcapng(false);
    ng.extend([6, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let mut above_cap = sample_pcapng(false);
    above_cap.extend([6, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]); // 32 MiB
    for bytes in [pcap, ng, above_cap] {
        let outcome = read(bytes);
        assert_eq!(outcome.packets.len(), 2);
        match outcome.error {
            Some(CaptureError::Corrupt { detail, .. }) => {
                assert!(
                    detail.contains("4294967295")
                        || detail.contains("4294967292")
                        || detail.contains("33554432"),
                    "{detail}"
                )
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn zero_and_misaligned_block_lengths_are_corrupt() {
    for tail in [
        [0x99u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0x99, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0],
    ] {
        let mut bytes = sample_pcapng(false);
        bytes.extend(tail);
        let outcome = read(bytes);
        assert_eq!(outcome.packets.len(), 2);
        assert!(matches!(outcome.error, Some(CaptureError::Corrupt { .. })));
    }
}

// ---------------------------------------------------------------- damage

#[test]
fn truncated_last_pcap_record_is_damage_after_earlier_packets() {
    let full = PcapFile::new(false, PcapFile::MICRO, 1, 65535)
        .record(1, 0, b"whole", 5)
        .record(2, 0, &[7; 1514], 1514)
        .bytes();
    let cut = full.len() - (16 + 1514) + 600;
    let outcome = read(full[..cut].to_vec());
    assert_eq!(outcome.packets.len(), 1);
    assert_eq!(outcome.packets[0].data, b"whole");
    let err = outcome.error.expect("damage");
    match &err {
        CaptureError::Truncated {
            file,
            offset,
            expected,
        } => {
            assert_eq!(file, "test.cap");
            assert_eq!(*offset, 24 + 16 + 5);
            assert!(
                expected.contains("1530-byte packet record")
                    && expected.contains("1514 captured bytes")
                    && expected.contains("only 600 bytes remain"),
                "{expected}"
            );
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert_eq!(err.offset(), Some(45));
    assert!(
        err.to_string()
            .starts_with("test.cap: truncated at byte 45: ")
    );
}

#[test]
fn truncated_pcap_record_header_is_damage() {
    let mut bytes = sample_pcap(false, PcapFile::MICRO);
    let offset = bytes.len() as u64;
    bytes.extend([1, 2, 3, 4, 5]);
    let outcome = read(bytes);
    assert_eq!(outcome.packets.len(), 2);
    match outcome.error {
        Some(CaptureError::Truncated {
            offset: at,
            expected,
            ..
        }) => {
            assert_eq!(at, offset);
            assert!(expected.contains("only 5 bytes remain"), "{expected}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn truncated_pcapng_block_is_damage() {
    let whole = sample_pcapng(true);
    let last_start = NgFile::new(true)
        .idb(1, 0, &[])
        .epb(0, 1_700_000_000_000_001, b"abc", 3)
        .bytes()
        .len();
    for cut in [last_start + 3, whole.len() - 1] {
        let outcome = read(whole[..cut].to_vec());
        assert_eq!(outcome.packets.len(), 1);
        match outcome.error {
            Some(CaptureError::Truncated {
                offset, expected, ..
            }) => {
                assert_eq!(offset, last_start as u64);
                assert!(expected.contains("bytes remain"), "{expected}");
                if cut == whole.len() - 1 {
                    assert!(
                        expected.contains("40-byte enhanced packet block, only 39"),
                        "{expected}"
                    );
                }
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
    }
}

#[test]
fn truncated_section_header_is_damage() {
    let bytes = sample_pcapng(false)[..20].to_vec();
    let err = open_bytes(bytes).err().expect("fails");
    assert!(
        matches!(err, CaptureError::Truncated { offset: 0, .. }),
        "{err}"
    );
    let err = open_bytes(vec![0x0a, 0x0d, 0x0d, 0x0a, 28])
        .err()
        .expect("fails");
    assert!(
        matches!(err, CaptureError::Truncated { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn truncated_pcap_header_is_damage() {
    let err = open_bytes(sample_pcap(true, PcapFile::MICRO)[..10].to_vec())
        .err()
        .expect("fails");
    assert!(
        err.to_string()
            .contains("24-byte pcap file header, only 10"),
        "{err}"
    );
}

#[test]
fn trailing_length_mismatch_is_corrupt() {
    let mut bytes = sample_pcapng(false);
    let len = bytes.len();
    bytes[len - 4] ^= 0x40;
    let outcome = read(bytes);
    assert_eq!(outcome.packets.len(), 1);
    match outcome.error {
        Some(CaptureError::Corrupt { offset, detail, .. }) => {
            assert_eq!(offset, (len - 40) as u64);
            assert!(detail.contains("ends with length 104"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn wrong_magic_is_not_a_capture() {
    let err = open_bytes(b"<!DOCTYPE html><html>".to_vec()).err().unwrap();
    match &err {
        CaptureError::NotACapture { file, found } => {
            assert_eq!(file, "test.cap");
            assert!(found.starts_with("3c 21 44 4f"), "{found}");
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
    let err = open_bytes(gzip(b"just text, compressed")).err().unwrap();
    assert!(
        err.to_string().contains("after gzip decompression"),
        "{err}"
    );
}

#[test]
fn empty_input_says_so() {
    for bytes in [Vec::new(), gzip(b"")] {
        let err = open_bytes(bytes).err().unwrap();
        assert!(matches!(err, CaptureError::NotACapture { .. }));
        assert!(err.to_string().contains("the input is empty"), "{err}");
    }
}

#[test]
fn truncated_gzip_is_damage_after_what_it_held() {
    let plain = PcapFile::new(false, PcapFile::MICRO, 1, 65535)
        .record(1, 0, &[1; 1000], 1000)
        .record(2, 0, &[2; 1000], 1000)
        .bytes();
    let compressed = gzip(&plain);
    // Drop the 8-byte trailer and a little of the deflate data.
    let cut = compressed[..compressed.len() - 12].to_vec();
    let outcome = read(cut);
    match outcome.error {
        Some(CaptureError::Truncated { expected, .. }) => {
            assert!(expected.contains("gzip"), "{expected}")
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let delivered = outcome.packets.len();
    assert!(delivered <= 1, "{delivered}");

    // Cut only inside the trailer: every packet was decoded, the gzip
    // stream is still damaged.
    let cut = compressed[..compressed.len() - 4].to_vec();
    let outcome = read(cut);
    assert_eq!(outcome.packets.len(), 2);
    assert!(matches!(
        outcome.error,
        Some(CaptureError::Truncated { .. })
    ));
}

#[test]
fn corrupt_gzip_is_damage() {
    let mut bytes = gzip(&sample_pcap(false, PcapFile::MICRO));
    let len = bytes.len();
    for b in &mut bytes[12..len - 8] {
        *b ^= 0x5a;
    }
    let err = match open_bytes(bytes) {
        Err(err) => err,
        Ok(reader) => drain(reader).error.expect("damage"),
    };
    assert!(matches!(err, CaptureError::Corrupt { .. }), "{err}");
}

/// Every truncation and every single-byte change of a small capture either
/// reads or fails with an error; none panics or loops.
#[test]
fn damaged_inputs_never_panic() {
    let plain = [
        sample_pcap(false, PcapFile::NANO),
        NgFile::new(true)
            .idb(1, 0, &[(9, &[0xff]), (14, &tsoffset(true, i64::MAX))])
            .epb(0, u64::MAX, b"abc", 3)
            .spb(u32::MAX, b"de")
            .obsolete_pb(0, 0, b"f")
            .block(0x77, b"skip")
            .bytes(),
    ];
    for bytes in plain {
        for cut in 0..bytes.len() {
            let _ = open_bytes(bytes[..cut].to_vec()).map(drain);
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = open_bytes(damaged).map(drain);
            }
        }
    }
}

#[test]
fn limit_text_matches_the_limit() {
    let text = stream::MAX_BLOCK_LEN_TEXT;
    assert!(text.contains(&stream::MAX_BLOCK_LEN.to_string()), "{text}");
}

#[test]
fn reader_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CaptureReader>();
}

// ---------------------------------------------------------------- look ahead

/// Reads `bytes` through `input`, asking at every packet for the one `n`
/// later: whatever the look ahead gives must be that packet (link type
/// and bytes), and it must give it whenever the packet is in the buffer.
fn check_ahead(bytes: &[u8], input: Box<dyn Read + Send>, n: u64) -> usize {
    let all = read_clean(bytes.to_vec());
    let mut r = CaptureReader::from_reader("test.cap", input).expect("opens");
    let mut seen = 0;
    while r.advance().expect("reads") {
        let number = r.current().unwrap().number;
        if let Some((link, data)) = r.ahead(n) {
            let later = &all[(number + n - 1) as usize];
            assert_eq!(
                (link, data),
                (later.linktype, &later.data[..]),
                "packet {number}"
            );
            seen += 1;
        }
    }
    seen
}

#[test]
fn look_ahead_gives_the_packet_n_later_in_pcap() {
    let mut f = PcapFile::new(false, PcapFile::MICRO, 1, 65535);
    for i in 0..40u32 {
        f = f.record(i, 0, &vec![i as u8; (i % 7) as usize], 60);
    }
    let bytes = f.bytes();
    for n in [1, 4, 8] {
        let whole = check_ahead(&bytes, Box::new(Cursor::new(bytes.clone())), n);
        assert_eq!(whole, 40 - n as usize, "n = {n}: everything is buffered");
        // Short reads: only what is in the buffer is looked at.
        check_ahead(&bytes, Pieces::reader(bytes.clone(), 13), n);
    }
}

#[test]
fn look_ahead_in_pcapng_steps_over_other_blocks_and_stops_at_sections() {
    let bytes = NgFile::new(false)
        .idb(1, 0, &[])
        .idb(101, 0, &[])
        .epb(0, 1, b"one", 3)
        .block(5, &[0; 12]) // interface statistics
        .epb(1, 2, b"two", 3)
        .spb(5, b"three")
        .block(10, &[0; 8]) // decryption secrets
        .epb(0, 3, b"four", 4)
        .section(true)
        .idb(1, 0, &[])
        .epb(0, 4, b"five", 4)
        .epb(0, 5, b"six", 3)
        .bytes();
    for n in [1, 2, 3] {
        let seen = check_ahead(&bytes, Box::new(Cursor::new(bytes.clone())), n);
        assert!(seen > 0, "n = {n}");
        check_ahead(&bytes, Pieces::reader(bytes.clone(), 7), n);
    }
}
