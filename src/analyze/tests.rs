//! The analysis parts driven as the TCP reassembler drives them: hand-built
//! chunks through `StreamHandler::event`, records collected from the sink.
//! Each test names the part it exercises.

use super::*;
use crate::record::{Detection, Hop};
use crate::tcp::GapReason;
use crate::time::Timestamp;

const C: Dir = Dir::ClientToServer;
const S: Dir = Dir::ServerToClient;
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Records as they came out.
#[derive(Default)]
struct Collect {
    frames: Vec<FrameRecord>,
    conns: Vec<ConnectionRecord>,
}

impl Sink for Collect {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        match r {
            Record::Frame(f) => self.frames.push(f.clone()),
            Record::Connection(c) => self.conns.push(c.clone()),
            Record::Summary(_) => {}
        }
        Ok(())
    }
}

fn meta(id: u64, client_port: u16) -> ConnMeta {
    let (client, server) = (([127, 0, 0, 1], client_port), ([127, 0, 0, 1], 8080));
    ConnMeta::for_test(id, client.into(), server.into())
}

/// One connection being fed chunks, each its own packet.
struct Conn<'a> {
    a: &'a mut Analyzer<Collect>,
    st: ConnState,
    meta: ConnMeta,
    offsets: [u64; 2],
    packet: u64,
}

impl<'a> Conn<'a> {
    fn open(a: &'a mut Analyzer<Collect>, id: u64) -> Conn<'a> {
        let mut meta = meta(id, 40000 + id as u16);
        // Legs are ordered by when their requests were seen.
        meta.last_ts = Timestamp(id as i64 * 1_000_000);
        let st = a.open(&meta);
        Conn {
            a,
            st,
            meta,
            offsets: [0, 0],
            packet: 1,
        }
    }

    fn send(&mut self, d: Dir, data: &[u8]) -> &mut Self {
        self.packet += 1;
        let chunk = Chunk {
            offset: self.offsets[d.index()],
            data,
            packet: self.packet,
            ts: Timestamp(self.packet as i64 * 1000),
        };
        self.offsets[d.index()] += data.len() as u64;
        self.a
            .event(&mut self.st, &self.meta, d, StreamEvent::Data(chunk));
        self
    }

    /// Bytes lost by the capture, found at a packet of their own.
    fn gap(&mut self, d: Dir, len: u64) -> &mut Self {
        self.packet += 1;
        self.hole(d, len, GapReason::Lost)
    }

    /// The rest of the last packet, cut by the snaplen.
    fn cut(&mut self, d: Dir, len: u64) -> &mut Self {
        self.hole(d, len, GapReason::Snaplen)
    }

    /// `len` bytes of direction `d` the capture does not hold.
    fn hole(&mut self, d: Dir, len: u64, reason: GapReason) -> &mut Self {
        let gap = Gap {
            offset: self.offsets[d.index()],
            len,
            reason,
            packet: self.packet,
            ts: Timestamp(0),
        };
        self.offsets[d.index()] += len;
        self.a
            .event(&mut self.st, &self.meta, d, StreamEvent::Gap(gap));
        self
    }

    fn close(self, reason: CloseReason) {
        self.a.close(self.st, &self.meta, reason);
    }
}

fn analyzer() -> Analyzer<Collect> {
    Analyzer::new(Options::default(), Collect::default())
}

fn request(key: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

fn response(key: &str) -> Vec<u8> {
    let accept = crate::websocket::handshake::accept_for(key);
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// A frame with FIN set: masked with `mask` when given.
fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    match mask {
        Some(k) => {
            f[1] |= 0x80;
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

const M: Option<[u8; 4]> = Some([1, 2, 3, 4]);

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code.name()).collect()
}

/// Upgrade: request, 101 and the server's first frame in one chunk; the
/// frame right after the blank line is found.
#[test]
fn upgrade_frames_start_after_the_101_blank_line() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    let mut answer = response(KEY);
    answer.extend(frame(1, b"hello", None));
    c.send(S, &answer);
    c.send(C, &frame(1, b"hi", M));
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert_eq!(out.frames.len(), 2);
    assert_eq!((out.frames[0].dir, out.frames[0].packet), (S, 3));
    assert_eq!(out.frames[0].preview, b"hello");
    assert_eq!(out.frames[1].preview, b"hi");
    let conn = &out.conns[0];
    assert_eq!(conn.detected_by, Some(Detection::Handshake));
    assert_eq!((conn.frames.c2s, conn.frames.s2c), (1, 1));
    assert_eq!(conn.negotiated.as_ref().unwrap().accept_ok, Some(true));
    assert!(conn.findings.is_empty(), "{:?}", conn.findings);
}

/// Upgrade: client frames sent before the 101 arrived are held and
/// decoded once it does, before the server's frames.
#[test]
fn upgrade_client_bytes_before_the_101_are_replayed_first() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    let mut early = request(KEY);
    early.extend(frame(2, b"early", M));
    c.send(C, &early);
    c.send(C, &frame(1, b"second", M));
    let mut answer = response(KEY);
    answer.extend(frame(1, b"reply", None));
    c.send(S, &answer);
    c.close(CloseReason::EndOfCapture);
    let out = a.into_sink();
    let order: Vec<(Dir, u64)> = out.frames.iter().map(|f| (f.dir, f.packet)).collect();
    assert_eq!(order, [(C, 2), (C, 3), (S, 4)]);
}

/// Upgrade: an interim 1xx is skipped (RFC 9110 15.2); a refusal is
/// `handshake_rejected` and nothing after it is decoded.
#[test]
fn upgrade_interim_answer_then_refusal() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    c.send(
        S,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\n\r\n",
    );
    c.send(S, &frame(1, b"not a frame", None));
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert!(out.frames.is_empty());
    let conn = &out.conns[0];
    assert_eq!(conn.response.as_ref().unwrap().status, 403);
    assert_eq!(codes(&conn.findings), ["handshake_rejected"]);
    assert_eq!(conn.diagnosis[0].cause, Cause::HandshakeRefused);
    assert!(!conn.websocket);
}

/// Upgrade: a TLS answer to a plaintext upgrade is a TLS placement problem
/// (decided from what the upgrade saw, not from finding text).
#[test]
fn upgrade_tls_answer_is_diagnosed_as_tls_misplaced() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    c.send(
        S,
        &[
            0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x03,
        ],
    );
    c.close(CloseReason::Fin);
    let conn = &a.into_sink().conns[0];
    assert_eq!(codes(&conn.findings), ["handshake_rejected"]);
    let causes: Vec<Cause> = conn.diagnosis.iter().map(|d| d.cause).collect();
    assert!(causes.contains(&Cause::TlsMisplaced), "{causes:?}");
}

/// Upgrade: a hole in a head leaves nothing to place the rest by.
#[test]
fn upgrade_gap_in_a_head_gives_up() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, b"GET /chat HTTP/1.1\r\nUpg");
    c.gap(C, 100);
    c.send(C, &frame(1, b"x", M));
    c.close(CloseReason::EndOfCapture);
    let out = a.into_sink();
    assert!(out.frames.is_empty());
    assert_eq!(out.conns[0].request, None);
    assert_eq!(codes(&out.conns[0].findings), ["capture_gap"]);
}

/// Frames: a gap inside a payload keeps sync and is said on that frame;
/// the connection tallies it once.
#[test]
fn frames_gap_in_payload_keeps_sync() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    c.send(S, &response(KEY));
    let f = frame(2, &[7; 100], None);
    c.send(S, &f[..30]);
    c.gap(S, 50);
    c.send(S, &f[80..]);
    c.send(S, &frame(1, b"after", None));
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.frames[0].payload_missing, 50);
    assert_eq!(codes(&out.frames[0].findings), ["capture_gap"]);
    assert!(out.frames[1].findings.is_empty());
    assert_eq!(out.frames[1].preview, b"after");
    assert_eq!(out.conns[0].findings_by_code.get(Code::CaptureGap), 2);
}

/// Frames: a frame cut by the end of the stream says what ended it.
#[test]
fn frames_cut_by_fin_are_incomplete() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    c.send(S, &response(KEY));
    c.send(S, &frame(2, &[0; 100], None)[..20]);
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert!(!out.frames[0].complete);
    assert!(
        out.frames[0].findings[0]
            .detail
            .starts_with("the connection was closed (FIN)")
    );
}

/// Masking: an unmasked client frame the server answers is a warning
/// (RFC 6455 5.1: the server carried on, and the connection ended without
/// a close saying otherwise); a close 1002 keeps the error.
#[test]
fn masking_verdict_follows_the_receiver() {
    for (answer, severity) in [
        (frame(1, b"ok", None), Severity::Warning),
        (frame(8, &[0x03, 0xea], None), Severity::Error),
    ] {
        let mut a = analyzer();
        let mut c = Conn::open(&mut a, 0);
        c.send(C, &request(KEY));
        c.send(S, &response(KEY));
        c.send(C, &frame(1, b"unmasked", None));
        c.send(C, &frame(1, b"masked", M));
        c.send(S, &answer);
        c.close(CloseReason::Fin);
        let out = a.into_sink();
        let client: Vec<&FrameRecord> = out.frames.iter().filter(|f| f.dir == C).collect();
        let first = client[0];
        assert_eq!(
            (first.index, client[1].index),
            (0, 1),
            "held frames keep their order"
        );
        assert_eq!(first.findings[0].code, Code::UnmaskedClientFrame);
        assert_eq!(first.findings[0].severity, severity);
        assert_eq!(out.conns[0].findings_by_severity.get(severity), 1);
        assert_eq!(out.conns[0].diagnosis[0].cause, Cause::WrongMasking);
    }
}

/// Legs: two connections with one key are the two legs of a proxied
/// connection; the one that closes second carries the other's causes.
#[test]
fn legs_are_tied_by_key() {
    let mut a = analyzer();
    let mut front = Conn::open(&mut a, 0);
    front.send(C, &request(KEY));
    let front = (front.st, front.meta);
    let mut back = Conn::open(&mut a, 1);
    back.send(C, &request(KEY));
    back.send(S, b"HTTP/1.1 404 Not Found\r\n\r\n");
    back.close(CloseReason::Fin);
    a.close(front.0, &front.1, CloseReason::Fin);
    assert_eq!(a.legs.len(), 0, "forgotten once both closed");
    let out = a.into_sink();
    let (back, front) = (&out.conns[0], &out.conns[1]);
    assert_eq!((back.other_leg, front.other_leg), (Some(0), Some(1)));
    assert_eq!(back.diagnosis[0].hop, Some(Hop::BackendLeg));
    assert_eq!(front.diagnosis[0].cause, Cause::HandshakeRefused);
    assert_eq!(front.diagnosis[0].hop, Some(Hop::BackendLeg));
    assert!(front.diagnosis[0].evidence[0].contains("other leg"));
}

/// Connection: totals per direction, close codes, and findings counted in
/// the run's totals by code and severity.
#[test]
fn connection_record_totals() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, &request(KEY));
    c.send(S, &response(KEY));
    c.send(C, &frame(1, b"abc", M));
    c.send(S, &frame(8, &[0x03, 0xe8], None));
    c.send(C, &frame(8, &[0x03, 0xe8, b'x'], M));
    c.close(CloseReason::Fin);
    let totals = a.totals().clone();
    let conn = &a.into_sink().conns[0];
    assert_eq!((conn.frames.c2s, conn.frames.s2c), (2, 1));
    assert_eq!((conn.payload_bytes.c2s, conn.payload_bytes.s2c), (6, 2));
    assert_eq!(
        (&conn.close_codes.c2s[..], &conn.close_codes.s2c[..]),
        (&[1000][..], &[1000][..])
    );
    assert_eq!(conn.end, CloseReason::Fin);
    assert!(conn.diagnosis.is_empty());
    assert_eq!((totals.frames, totals.websocket_connections), (3, 1));
    assert!(totals.findings_by_code.is_empty());
}

/// Connection: repeated connection-level findings are capped per code and
/// the rest counted (and said on the last one kept).
#[test]
fn connection_findings_are_capped_per_code() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    for i in 0..20 {
        c.st.acc
            .add(Finding::new(Code::Resynchronized, "again").at(i + 2));
    }
    c.close(CloseReason::Fin);
    let totals = a.totals().clone();
    let conn = &a.into_sink().conns[0];
    assert_eq!(conn.findings.len(), 8);
    assert!(
        conn.findings[7]
            .detail
            .ends_with("(and 12 more like this on this connection)")
    );
    assert_eq!(conn.findings_by_code.get(Code::Resynchronized), 20);
    assert_eq!(totals.findings_by_severity.get(Severity::Info), 20);
}

/// Upgrade: a connection recognised without a handshake (from a run of
/// masked client frames) writes its frames in capture order, though the
/// server's decoder only confirms a frame at the next header.
#[test]
fn recognised_frames_come_out_in_capture_order() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.meta.syn_seen = false;
    c.send(S, &frame(1, b"server first", None));
    let run = [
        frame(1, b"one", M),
        frame(1, b"two", M),
        frame(1, b"three", M),
    ]
    .concat();
    c.send(C, &run);
    c.send(S, &frame(1, b"server second", None));
    c.send(C, &frame(1, b"four", M));
    c.send(S, &frame(1, b"server third", None));
    c.close(CloseReason::EndOfCapture);
    let out = a.into_sink();
    let packets: Vec<u64> = out.frames.iter().map(|f| f.packet).collect();
    assert_eq!(out.conns[0].detected_by, Some(Detection::Heuristic));
    assert!(packets.len() >= 6, "{packets:?}");
    assert!(packets.is_sorted(), "{packets:?}");
}

/// Upgrade: requests before the upgrade on the same connection (keep-alive,
/// RFC 9112 9.3) are followed with their bodies (a length, a chunked body
/// cut across packets, a HEAD answer without one), pipelined or not.
#[test]
fn upgrade_after_other_requests_on_the_connection() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, b"POST /form HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
    c.send(C, b"HEAD /health HTTP/1.1\r\n\r\n");
    c.send(S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c.send(S, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    c.send(C, b"GET /other HTTP/1.1\r\n\r\n");
    c.send(
        S,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    );
    c.send(S, b"lo\r\n0\r\n\r\n");
    c.send(C, &request(KEY));
    let mut answer = response(KEY);
    answer.extend(frame(1, b"hello", None));
    c.send(S, &answer);
    c.send(C, &frame(1, b"hi", M));
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert_eq!(out.frames.len(), 2);
    let conn = &out.conns[0];
    assert_eq!(conn.detected_by, Some(Detection::Handshake));
    assert_eq!(conn.request.as_ref().unwrap().target, "/chat");
    assert!(conn.findings.is_empty(), "{:?}", conn.findings);
}

/// Upgrade: a response whose body runs until the connection closes ends
/// what can be followed.
#[test]
fn upgrade_not_followed_past_a_body_until_close() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(C, b"GET /old HTTP/1.1\r\n\r\n");
    c.send(S, b"HTTP/1.1 200 OK\r\n\r\nstreamed");
    c.send(C, &request(KEY));
    c.send(S, &response(KEY));
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    assert!(!out.conns[0].websocket);
}

/// Upgrade: a headers-only capture (`tcpdump -s 96`) cuts both heads; the
/// request line and the 101 status line still show, and every frame whose
/// header starts a packet is decoded, its cut payload a gap.
#[test]
fn upgrade_seen_through_heads_cut_by_the_snaplen() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    let req = request(KEY);
    c.send(C, &req[..30]).cut(C, (req.len() - 30) as u64);
    let resp = response(KEY);
    c.send(S, &resp[..30]).cut(S, (resp.len() - 30) as u64);
    let big = frame(2, &[7; 100], M);
    c.send(C, &big[..30]).cut(C, 76);
    // RSV1: compressed, for all the capture can tell.
    let mut compressed = frame(1, b"zz", None);
    compressed[0] |= 0x40;
    c.send(S, &compressed);
    c.close(CloseReason::Fin);
    let out = a.into_sink();
    let conn = &out.conns[0];
    assert_eq!(conn.detected_by, Some(Detection::Handshake));
    assert_eq!(conn.request.as_ref().unwrap().target, "/chat");
    assert_eq!(conn.response.as_ref().unwrap().status, 101);
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.frames[0].payload_missing, 76);
    assert_eq!(codes(&out.frames[0].findings), ["truncated_payload"]);
    assert!(
        out.frames[1].findings.is_empty(),
        "{:?}",
        out.frames[1].findings
    );
    let conn_codes = codes(&conn.findings);
    assert!(
        conn_codes.iter().all(|c| *c == "truncated_payload"),
        "{conn_codes:?}"
    );
}

// ---- WebSocket over HTTP/2 (RFC 8441)

use crate::synth::h2::{
    block as h2_block, client_preface as h2_preface, enable_connect as h2_enable, frame as h2,
};

fn h2_connect(path: &str) -> Vec<u8> {
    crate::synth::h2::connect(path, &[])
}

const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

#[test]
fn h2_two_websockets_on_one_connection() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    let ok = h2_block(&[(":status", "200")]);
    let hello = frame(0x1, b"hello", Some([1, 2, 3, 4]));
    c.send(C, &h2_preface())
        .send(S, &h2_enable())
        .send(C, &h2(1, END_HEADERS, 1, &h2_connect("/a")))
        .send(C, &h2(1, END_HEADERS, 3, &h2_connect("/b")))
        .send(S, &h2(1, END_HEADERS, 1, &ok))
        .send(S, &h2(1, END_HEADERS, 3, &ok));
    // One WebSocket frame cut across two DATA frames, the second DATA
    // frame's header cut across two packets.
    let (first, second) = hello.split_at(4);
    let mut data = h2(0, 0, 3, first);
    data.extend(h2(0, 0, 3, second));
    let (p1, p2) = data.split_at(15);
    c.send(C, p1)
        .send(C, p2)
        .send(S, &h2(0, 0, 3, &frame(0x1, b"hi b", None)))
        .send(
            C,
            &h2(0, END_STREAM, 1, &frame(0x8, &[3, 232], Some([9, 9, 9, 9]))),
        )
        .send(S, &h2(0, END_STREAM, 1, &frame(0x8, &[3, 232], None)))
        .send(C, &h2(3, 0, 3, &[0, 0, 0, 8]));
    c.close(CloseReason::Fin);
    let out = &a.out.sink;
    let shown: Vec<(Option<u32>, Dir, u64, &[u8])> = out
        .frames
        .iter()
        .map(|f| (f.h2_stream, f.dir, f.index, &f.preview[..]))
        .collect();
    assert_eq!(
        shown,
        [
            (Some(3), C, 0, &b"hello"[..]),
            (Some(3), S, 0, &b"hi b"[..]),
            (Some(1), C, 0, &[3, 232][..]),
            (Some(1), S, 0, &[3, 232][..]),
        ]
    );
    let rec = &out.conns[0];
    assert_eq!(rec.detected_by, Some(Detection::Http2));
    assert_eq!(rec.request.as_ref().unwrap().target, "/a");
    let h2 = rec.http2.as_ref().unwrap();
    assert_eq!(h2.connect_protocol_enabled, Some(true));
    assert_eq!(h2.requests, 2);
    let ends: Vec<_> = h2
        .websockets
        .iter()
        .map(|w| (w.stream, w.end, w.reset_code))
        .collect();
    assert_eq!(
        ends,
        [
            (1, Some("end_stream"), None),
            (3, Some("rst_stream"), Some("CANCEL"))
        ]
    );
    assert_eq!(codes(&rec.findings), ["h2_stream_reset"]);
    assert_eq!(rec.frames.c2s, 2);
}

/// RFC 9113 3.4: a server may send its SETTINGS before the client's
/// preface arrives; the connection is HTTP/2 all the same.
#[test]
fn h2_server_settings_first() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(S, &h2_enable())
        .send(C, &h2_preface())
        .send(C, &h2(1, END_HEADERS, 1, &h2_connect("/a")))
        .send(S, &h2(1, END_HEADERS, 1, &h2_block(&[(":status", "404")])));
    c.close(CloseReason::Fin);
    let rec = &a.out.sink.conns[0];
    assert!(!rec.websocket);
    assert_eq!(codes(&rec.findings), ["h2_connect_rejected"]);
    assert_eq!(rec.response.as_ref().unwrap().status, 404);
    assert_eq!(rec.diagnosis[0].cause, Cause::HandshakeRefused);
}

/// Bytes that only looked like a server's SETTINGS: the client's are an
/// HTTP/1.1 upgrade, read as one.
#[test]
fn h2_refuted_by_the_client() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    c.send(S, &h2(4, 0, 0, &[]))
        .send(C, &request(KEY))
        .send(S, &response(KEY));
    c.close(CloseReason::Fin);
    let rec = &a.out.sink.conns[0];
    assert!(rec.http2.is_none());
    assert!(rec.request.is_some());
}

/// A hole in the client's bytes: HTTP/2 frames cannot be found again, so
/// that direction is read no further; the other goes on.
#[test]
fn h2_gap_ends_a_direction() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    let ok = h2_block(&[(":status", "200"), ("upgrade", "websocket")]);
    c.send(C, &h2_preface())
        .send(S, &h2_enable())
        .send(C, &h2(1, END_HEADERS, 1, &h2_connect("/a")))
        .send(S, &h2(1, END_HEADERS, 1, &ok))
        .gap(C, 100)
        .send(C, &h2(0, 0, 1, &frame(0x1, b"lost", Some([1, 1, 1, 1]))))
        .send(S, &h2(0, 0, 1, &frame(0x1, b"kept", None)));
    c.close(CloseReason::Fin);
    let out = &a.out.sink;
    assert_eq!(out.frames.len(), 1);
    assert_eq!(out.frames[0].dir, S);
    let rec = &out.conns[0];
    assert_eq!(
        codes(&rec.findings),
        ["h2_connection_header", "capture_gap"]
    );
    assert!(
        rec.diagnosis
            .iter()
            .any(|d| d.cause == Cause::Http2Violation)
    );
}

/// RFC 6455 7.1.1: once both close frames went, the transport may go; a
/// stream reset then (Chromium sends RST_STREAM CANCEL) is no finding,
/// where one before the closing handshake is.
#[test]
fn h2_reset_after_the_closing_handshake_is_orderly() {
    let mut a = analyzer();
    let mut c = Conn::open(&mut a, 0);
    let ok = h2_block(&[(":status", "200")]);
    c.send(C, &h2_preface())
        .send(S, &h2_enable())
        .send(C, &h2(1, END_HEADERS, 1, &h2_connect("/a")))
        .send(S, &h2(1, END_HEADERS, 1, &ok))
        .send(C, &h2(0, 0, 1, &frame(0x8, &[3, 232], Some([9, 9, 9, 9]))))
        .send(S, &h2(0, 0, 1, &frame(0x8, &[3, 232], None)))
        .send(C, &h2(3, 0, 1, &[0, 0, 0, 8]));
    c.close(CloseReason::Fin);
    let rec = &a.out.sink.conns[0];
    assert!(rec.findings.is_empty(), "{:?}", rec.findings);
    let w = &rec.http2.as_ref().unwrap().websockets[0];
    assert_eq!((w.end, w.reset_code), (Some("rst_stream"), Some("CANCEL")));
}
