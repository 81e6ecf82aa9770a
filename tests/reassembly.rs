//! TCP reassembly end to end: one WebSocket conversation cut, reordered,
//! duplicated, damaged and resumed in the ways real captures are, and the
//! exact frames wscap reports for each, through the built binary.

mod common;

use common::*;
use serde_json::{Value, json};
use wscap::packet::TcpFlags;
use wscap::synth::{Link, Side};
use wscap::time::Timestamp;

use Side::{Client as C, Server as S};

/// Nanosecond pcap, so every timestamp (also of forged packets) survives.
fn run(pkts: &[Pkt], extra: &[&str]) -> Run {
    analyze(&pcap_ns(&Link::Ethernet, pkts), extra)
}

fn only_conn(run: &Run) -> &Value {
    let conns = run.conns();
    assert_eq!(conns.len(), 1, "connections: {conns:#?}");
    conns[0]
}

fn codes(conn: &Value) -> Vec<String> {
    Run::conn_codes(conn)
}

/// Data packets (payload > 0) of `side` that are not the first or last of
/// their frame's write, within the frame sent at `frame_off`.
fn inner_segments(pkts: &[Pkt], sent: &Sent) -> Vec<usize> {
    let hl = sent.frame.header_len() as u64;
    pkts.iter()
        .enumerate()
        .filter(|(_, p)| {
            p.side == sent.side && p.len > 0 && p.off > sent.offset + hl && p.end() < sent.end()
        })
        .map(|(i, _)| i)
        .collect()
}

fn big_server_frame(sent: &[Sent]) -> &Sent {
    sent.iter()
        .find(|s| s.side == S && s.frame.payload.len() == 70000)
        .expect("the 70000-byte frame")
}

// ---------------------------------------------------------------------------
// The clean capture

#[test]
fn clean_conversation_reports_every_frame_exactly() {
    let (pkts, sent) = standard_eth();
    let run = analyze(&pcap_us(&Link::Ethernet, &pkts), &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_eq!(expected.len(), 14);
    assert_frames(&run.frame_keys(), &expected);

    // A few values by hand, so the oracle itself is checked too.
    let req = upgrade_request().len() as u64;
    let resp = upgrade_response().len() as u64;
    let first = &run.frame_keys()[0];
    assert_eq!(
        (
            first.dir.as_str(),
            first.index,
            first.offset,
            first.packet,
            first.last_packet
        ),
        ("c2s", 0, req, 6, 6)
    );
    assert_eq!((first.header_len, first.payload_len), (6, 5));
    assert_eq!(first.ts, "2023-11-14T22:13:20.005000000Z");
    let s2c: Vec<&FrameKey> = expected.iter().filter(|f| f.dir == "s2c").collect();
    assert_eq!(s2c[0].offset, resp);
    // 7-bit, 16-bit and 64-bit lengths, masked and not.
    let lens: Vec<(u64, u64, bool)> = s2c
        .iter()
        .map(|f| (f.payload_len, f.header_len, f.masked))
        .collect();
    assert_eq!(
        lens,
        [
            (8, 2, false),
            (126, 4, false),
            (65535, 4, false),
            (70000, 10, false),
            (13, 2, false),
            (2, 2, false)
        ]
    );
    let big = s2c[3];
    assert!(big.last_packet > big.packet + 40, "{big:?}");
    let keys = run.frame_keys();
    let frag: Vec<(&str, bool)> = keys
        .iter()
        .filter(|f| f.dir == "c2s")
        .map(|f| (f.opcode.as_str(), f.fin))
        .collect();
    assert_eq!(&frag[3..5], &[("text", false), ("continuation", true)]);

    let conn = only_conn(&run);
    assert_eq!(conn["client"], CLIENT4);
    assert_eq!(conn["server"], SERVER4);
    assert_eq!(conn["roles"], "syn");
    assert_eq!(conn["websocket"], true);
    assert_eq!(conn["detected_by"], "handshake");
    assert_eq!(conn["end"], "fin");
    assert_eq!(conn["first_packet"], 1);
    // The connection is over with the second FIN; the last ACK comes after.
    assert_eq!(conn["last_packet"], pkts.len() as u64 - 1);
    assert_eq!(conn["request"]["packet"], 4);
    assert_eq!(conn["request"]["target"], "/chat");
    assert_eq!(conn["request"]["sec_websocket_key"], KEY);
    assert_eq!(conn["response"]["packet"], 5);
    assert_eq!(conn["response"]["status"], 101);
    assert_eq!(conn["response"]["sec_websocket_accept"], ACCEPT);
    assert_eq!(conn["frames"], json!({"c2s": 8, "s2c": 6}));
    assert_eq!(conn["findings"], json!([]));
    for d in ["c2s", "s2c"] {
        let t = &conn["tcp"][d];
        for k in [
            "duplicate_bytes",
            "out_of_order",
            "gaps",
            "gap_bytes",
            "conflicts",
        ] {
            assert_eq!(t[k], 0, "{d}.{k}");
        }
    }

    let sum = run.summary();
    assert_eq!(sum["packets"], pkts.len() as u64);
    assert_eq!(sum["tcp_packets"], pkts.len() as u64);
    assert_eq!(sum["tcp_connections"], 1);
    assert_eq!(sum["websocket_connections"], 1);
    assert_eq!(sum["frames"], 14);
    assert_eq!(sum["skipped"], json!({}));
    assert_eq!(sum["findings_by_code"], json!({}));
    assert_eq!(sum["input_errors"], json!([]));
}

// ---------------------------------------------------------------------------
// Segmentation

#[test]
fn frames_split_across_many_small_segments() {
    // MSS 7: every header longer than 7 bytes spans segments, and the large
    // payloads span thousands.
    let (pkts, sent) = standard(Link::Ethernet, CLIENT4, SERVER4, 7);
    assert!(pkts.len() > 25_000);
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    // The 14-byte masked header of the 65536-byte frame starts in one packet
    // and ends in another.
    let f = expected
        .iter()
        .find(|f| f.payload_len == 65536)
        .expect("64-bit frame");
    assert_eq!(f.header_len, 14);
    let p = &pkts[f.packet as usize - 1];
    assert!(
        p.end() < f.offset + 14,
        "header should not fit in one packet"
    );
    assert_eq!(codes(only_conn(&run)), Vec::<String>::new());
}

#[test]
fn one_byte_segments() {
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade().mss(1);
    ws.send(C, Frame::text("hello").masked([1, 2, 3, 4]))
        .send(S, Frame::binary(126, 9))
        .send(C, Frame::binary(300, 8).masked([9, 8, 7, 6]))
        .send(S, Frame::text(""))
        .send(C, Frame::close(1001).masked([5, 5, 5, 5]));
    ws.mss(1460).send(S, Frame::close(1001)).close(S);
    let (pkts, sent) = ws.take();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    // Header in packet n, last payload byte header_len + payload_len - 1
    // packets later.
    for f in &expected {
        if f.dir == "c2s" || f.opcode != "close" {
            assert_eq!(
                f.last_packet - f.packet,
                f.header_len + f.payload_len - 1,
                "{f:?}"
            );
        }
    }
    // The empty server text frame ends with its header.
    let empty = expected
        .iter()
        .find(|f| f.payload_len == 0)
        .expect("empty frame");
    assert_eq!(empty.last_packet, empty.packet + 1);
    assert_eq!(empty.opcode, "text");
}

#[test]
fn several_frames_in_one_segment() {
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().raw(C, &upgrade_request()).flush(C);
    // The 101 and the first two server frames in one segment.
    ws.raw(S, &upgrade_response())
        .frame(S, Frame::text("welcome"))
        .frame(S, Frame::binary(200, 1))
        .flush(S);
    // Five client frames in one segment, of every header size up to 16 bits.
    ws.frame(C, Frame::text("a").masked([1, 1, 1, 1]))
        .frame(C, Frame::binary(126, 2).masked([2, 2, 2, 2]))
        .frame(C, Frame::ping("").masked([3, 3, 3, 3]))
        .frame(C, Frame::text("part ").not_fin().masked([4, 4, 4, 4]))
        .frame(C, Frame::cont("two").masked([5, 5, 5, 5]))
        .flush(C);
    // A 64-bit frame and the frame sharing its last segment.
    ws.frame(S, Frame::pong(""))
        .frame(S, Frame::binary(65536, 3))
        .frame(S, Frame::text("after"))
        .flush(S);
    ws.send(C, Frame::close(1000).masked([6, 6, 6, 6]))
        .send(S, Frame::close(1000))
        .close(C);
    let (pkts, sent) = ws.take();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);

    let by_packet = |dir: &str, packet: u64| {
        expected
            .iter()
            .filter(|f| f.dir == dir && f.packet == packet)
            .count()
    };
    // Packet 5 carries the 101 and two frames; packet 6 the five client frames.
    assert_eq!(by_packet("s2c", 5), 2);
    assert_eq!(by_packet("c2s", 6), 5);
    let s2c: Vec<&FrameKey> = expected.iter().filter(|f| f.dir == "s2c").collect();
    assert_eq!(s2c[0].offset, upgrade_response().len() as u64);
    let after = s2c
        .iter()
        .find(|f| f.opcode == "text" && f.payload_len == 5);
    let big = s2c.iter().find(|f| f.payload_len == 65536).expect("big");
    assert_eq!(after.expect("after").packet, big.last_packet);
    assert_eq!(only_conn(&run)["response"]["packet"], 5);
}

#[test]
fn request_and_first_client_frames_before_the_101() {
    // A client that pipelines: the request and its first frame in one
    // segment, a second frame before the server has answered.
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake()
        .raw(C, &upgrade_request())
        .frame(C, Frame::text("early").masked([7, 7, 7, 7]))
        .flush(C)
        .send(C, Frame::binary(3000, 4).masked([8, 8, 8, 8]))
        .upgrade_response_only();
    ws.send(S, Frame::text("hello"))
        .send(C, Frame::close(1000).masked([1, 2, 3, 4]))
        .send(S, Frame::close(1000))
        .close(C);
    let (pkts, sent) = ws.take();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    assert_eq!(expected[0].offset, upgrade_request().len() as u64);
    assert_eq!(expected[0].packet, 4);
}

trait ResponseOnly {
    fn upgrade_response_only(&mut self) -> &mut Self;
}

impl ResponseOnly for Ws {
    fn upgrade_response_only(&mut self) -> &mut Self {
        self.raw(S, &upgrade_response()).flush(S)
    }
}

#[test]
fn headers_split_at_every_awkward_place() {
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade();
    // 14-byte header cut after bytes 1, 5 and 13.
    ws.frame(C, Frame::binary(65536, 1).masked([1, 2, 3, 4]))
        .flush_at(C, &[1, 5, 13]);
    // 4-byte header cut after byte 3; a 2-byte header cut after byte 1.
    ws.frame(S, Frame::binary(300, 2))
        .frame(S, Frame::text("xy"))
        .flush_at(S, &[3, 305]);
    // A frame ending and the next header starting in the same segment, that
    // header ending in the next one.
    let k = Frame::text("tail").masked([9, 9, 9, 9]);
    let first_len = k.header_len() + k.payload.len();
    ws.frame(C, k)
        .frame(C, Frame::binary(1000, 3).masked([4, 3, 2, 1]))
        .flush_at(C, &[first_len + 3]);
    ws.send(C, Frame::close(1000).masked([0, 0, 0, 1]))
        .send(S, Frame::close(1000))
        .close(S);
    let (pkts, sent) = ws.take();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    let big = &expected[0];
    assert_eq!((big.dir.as_str(), big.header_len), ("c2s", 14));
    // The header's first byte is alone in its packet.
    assert_eq!(pkts[big.packet as usize - 1].len, 1);
    let s300 = expected.iter().find(|f| f.payload_len == 300).expect("300");
    assert_eq!(pkts[s300.packet as usize - 1].len, 3);
    let xy = expected
        .iter()
        .find(|f| f.payload_len == 2 && f.dir == "s2c");
    let xy = xy.expect("xy");
    assert_eq!(xy.last_packet, xy.packet + 1, "2-byte header split: {xy:?}");
}

// ---------------------------------------------------------------------------
// Out of order, duplicates, conflicts, overlaps

/// Shuffles, within windows of `window` packets, each run of consecutive
/// data segments of one direction (no ACK of the other side overtakes the
/// data it acknowledges).
fn shuffle_runs(pkts: &mut [Pkt], window: usize, rng: &mut Rng) {
    let mut i = 3; // keep the TCP handshake first
    while i < pkts.len() {
        let side = pkts[i].side;
        let mut j = i;
        while j < pkts.len() && pkts[j].side == side && pkts[j].len > 0 {
            j += 1;
        }
        for chunk in pkts[i..j].chunks_mut(window) {
            rng.shuffle(chunk);
        }
        i = j.max(i + 1);
    }
}

#[test]
fn out_of_order_segments_are_reordered() {
    let (mut pkts, sent) = standard_eth();
    let clean = expect_all(&pkts, &sent);
    shuffle_runs(&mut pkts, 6, &mut Rng(0x5eed));
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    // Same frames as the clean capture, but for the packet numbers.
    let strip = |v: &[FrameKey]| -> Vec<(String, u64, u64, u64)> {
        v.iter()
            .map(|f| (f.dir.clone(), f.index, f.offset, f.payload_len))
            .collect()
    };
    assert_eq!(strip(&expected), strip(&clean));
    let conn = only_conn(&run);
    assert!(conn["tcp"]["s2c"]["out_of_order"].as_u64().unwrap() > 10);
    assert_eq!(conn["tcp"]["s2c"]["gaps"], 0);
    assert_eq!(codes(conn), Vec::<String>::new());
}

#[test]
fn a_whole_frame_arriving_backwards() {
    let (mut pkts, sent) = standard_eth();
    let big = big_server_frame(&sent).clone();
    let segs: Vec<usize> = pkts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.side == S && p.len > 0 && p.off >= big.offset && p.end() <= big.end())
        .map(|(i, _)| i)
        .collect();
    assert!(segs.len() > 40);
    pkts[segs[0]..=*segs.last().unwrap()].reverse();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    let f = expected.iter().find(|f| f.payload_len == 70000).unwrap();
    // The header is in the last packet of the run, the last byte in the first.
    assert_eq!(f.packet, *segs.last().unwrap() as u64 + 1);
    assert_eq!(f.last_packet, segs[0] as u64 + 1);
}

#[test]
fn identical_retransmissions_are_quiet() {
    let (pkts, sent) = standard_eth();
    // Every third data segment is sent again two packets later.
    let mut out = Vec::new();
    let mut later: Vec<(usize, Pkt)> = Vec::new();
    let mut dup_bytes = [0u64; 2];
    for (i, p) in pkts.iter().enumerate() {
        out.push(p.clone());
        if p.len > 0 && i % 3 == 0 {
            later.push((i + 2, p.clone()));
            dup_bytes[usize::from(p.side == S)] += p.len as u64;
        }
        while let Some(pos) = later.iter().position(|(at, _)| *at == i) {
            out.push(later.remove(pos).1);
        }
    }
    assert!(later.is_empty());
    let run = run(&out, &[]);
    run.assert_ok();
    let expected = expect_all(&out, &sent);
    assert_frames(&run.frame_keys(), &expected);
    let conn = only_conn(&run);
    assert_eq!(codes(conn), Vec::<String>::new());
    assert_eq!(conn["tcp"]["c2s"]["duplicate_bytes"], dup_bytes[0]);
    assert_eq!(conn["tcp"]["s2c"]["duplicate_bytes"], dup_bytes[1]);
    assert_eq!(conn["tcp"]["s2c"]["conflicts"], 0);
    assert_eq!(run.summary()["findings_by_code"], json!({}));
}

#[test]
fn retransmission_with_different_bytes_is_a_conflict() {
    let ws = standard_ws(Link::Ethernet, CLIENT4, SERVER4, 1460);
    let stream = ws.stream(S).to_vec();
    let mut ws = ws;
    let (mut pkts, sent) = ws.take();
    let clean = expect_all(&pkts, &sent);
    let big = big_server_frame(&sent).clone();
    let i = inner_segments(&pkts, &big)[10];
    let orig = pkts[i].clone();
    let mut changed = stream[orig.off as usize..orig.end() as usize].to_vec();
    changed.make_ascii_uppercase();
    let forged = ws.forge(S, orig.off, &changed, orig.synth.ts);
    pkts.insert(i + 1, forged);
    let run = run(&pkts, &[]);
    // A warning, below the default --fail-on error.
    run.assert_ok();
    // The first bytes are kept: the frames are those of the clean capture,
    // but for the packet numbers after the insertion.
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    assert_eq!(expected.len(), clean.len());
    let conn = only_conn(&run);
    assert_eq!(codes(conn), ["retransmission_conflict"]);
    assert_eq!(conn["findings"][0]["packet"], i as u64 + 2);
    assert_eq!(conn["findings"][0]["severity"], "warning");
    assert_eq!(conn["tcp"]["s2c"]["conflicts"], 1);
    assert_eq!(
        run.summary()["findings_by_code"],
        json!({"retransmission_conflict": 1})
    );
    assert_eq!(run.summary()["findings_by_severity"], json!({"warning": 1}));
}

#[test]
fn conflicting_bytes_in_held_out_of_order_data() {
    let ws = standard_ws(Link::Ethernet, CLIENT4, SERVER4, 1460);
    let stream = ws.stream(S).to_vec();
    let mut ws = ws;
    let (mut pkts, sent) = ws.take();
    let big = big_server_frame(&sent).clone();
    let inner = inner_segments(&pkts, &big);
    // Segment a arrives after segment b, and b is followed by a changed copy
    // of b while b is still held.
    let (a, b) = (inner[5], inner[6]);
    pkts.swap(a, b);
    let held = pkts[a].clone();
    let mut changed = stream[held.off as usize..held.end() as usize].to_vec();
    changed[100] ^= 0x20;
    pkts.insert(a + 1, ws.forge(S, held.off, &changed, held.synth.ts));
    let run = run(&pkts, &[]);
    run.assert_ok();
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
    let conn = only_conn(&run);
    assert_eq!(codes(conn), ["retransmission_conflict"]);
    assert_eq!(conn["tcp"]["s2c"]["conflicts"], 1);
}

#[test]
fn in_order_segment_overlapping_held_data_keeps_the_first_bytes() {
    let ws = standard_ws(Link::Ethernet, CLIENT4, SERVER4, 1460);
    let stream = ws.stream(S).to_vec();
    let mut ws = ws;
    let (mut pkts, sent) = ws.take();
    let big = big_server_frame(&sent).clone();
    let inner = inner_segments(&pkts, &big);
    // Capture order: b (held, out of order), then a retransmission covering
    // a and the first half of b with different bytes where it overlaps b,
    // then a and b as originally sent.
    let (a, b) = (pkts[inner[5]].clone(), pkts[inner[6]].clone());
    let mut cover = stream[a.off as usize..(b.off + 700) as usize].to_vec();
    for x in &mut cover[a.len..] {
        x.make_ascii_uppercase();
    }
    let forged = ws.forge(S, a.off, &cover, a.synth.ts);
    let at = inner[5];
    pkts.remove(inner[6]);
    pkts.insert(at, b.clone());
    pkts.insert(at + 1, forged);
    let run = run(&pkts, &[]);
    // The bytes of b arrived first: they are kept, and the different bytes
    // of the retransmission are a conflict, as for held data.
    let conn = only_conn(&run);
    assert_eq!(codes(conn), ["retransmission_conflict"]);
    assert_eq!(conn["tcp"]["s2c"]["conflicts"], 1);
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
}

#[test]
fn overlapping_segments_with_identical_bytes() {
    let ws = standard_ws(Link::Ethernet, CLIENT4, SERVER4, 1460);
    let stream = ws.stream(S).to_vec();
    let mut ws = ws;
    let (mut pkts, sent) = ws.take();
    let big = big_server_frame(&sent).clone();
    let inner = inner_segments(&pkts, &big);
    // In order: a segment that starts inside the previous one and runs past
    // the next one's start (it brings new bytes, so it owns them).
    let p = pkts[inner[3]].clone();
    let range = (p.off + 700, p.off + 700 + 2000);
    let forged = ws.forge(
        S,
        range.0,
        &stream[range.0 as usize..range.1 as usize],
        p.synth.ts,
    );
    pkts.insert(inner[3] + 1, forged);
    // Out of order: two held pieces that overlap each other and a third
    // that spans both; then what precedes them.
    let inner = inner_segments(&pkts, &big);
    let q = pkts[inner[20]].clone();
    let piece =
        |from: u64, to: u64| ws.forge(S, from, &stream[from as usize..to as usize], q.synth.ts);
    let extra = vec![
        piece(q.off + 3000, q.off + 4000),
        piece(q.off + 3500, q.off + 4500),
        piece(q.off + 2500, q.off + 5000),
    ];
    for (k, x) in extra.into_iter().enumerate() {
        pkts.insert(inner[20] + k, x);
    }
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    let conn = only_conn(&run);
    assert_eq!(codes(conn), Vec::<String>::new());
    assert!(conn["tcp"]["s2c"]["duplicate_bytes"].as_u64().unwrap() > 0);
    assert_eq!(conn["tcp"]["s2c"]["conflicts"], 0);
    assert_eq!(conn["tcp"]["s2c"]["gaps"], 0);
}

#[test]
fn ack_overtaking_the_data_it_acknowledges() {
    // The capture shows the server's ACK for client bytes before the last
    // client segment carrying them (capture-point reordering). Nothing is
    // missing from the capture.
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade();
    ws.send(C, Frame::binary(5000, 1).masked([1, 2, 3, 4]));
    ws.ack(S);
    ws.send(S, Frame::text("ok"))
        .send(C, Frame::close(1000).masked([1, 1, 1, 1]))
        .send(S, Frame::close(1000))
        .close(C);
    let (mut pkts, sent) = ws.take();
    // Client segments of the 5000-byte frame: 6, 7, 8, 9; server ACK: 10.
    assert!(pkts[9].side == S && pkts[9].len == 0);
    // Order: 6, 7, ACK, 9, 8 (the last two swapped too).
    let ack = pkts.remove(9);
    pkts.insert(7, ack);
    pkts.swap(8, 9);
    let run = run(&pkts, &[]);
    run.assert_ok();
    let conn = only_conn(&run);
    assert_eq!(conn["tcp"]["c2s"]["gaps"], 0, "{conn:#}");
    assert_eq!(codes(conn), Vec::<String>::new());
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
}

// ---------------------------------------------------------------------------
// Sequence numbers, pickup, connection life

#[test]
fn sequence_numbers_wrap_on_both_sides() {
    let (clean_pkts, sent) = standard_eth();
    let clean = expect_all(&clean_pkts, &sent);
    for (c, s) in [
        (u32::MAX - 2_000, u32::MAX - 70_000),
        (u32::MAX, u32::MAX - 1),
        (u32::MAX - 100_000, u32::MAX - 3),
    ] {
        let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
        ws.isn(c, s).handshake().upgrade();
        send_frames(&mut ws, standard_frames());
        ws.close(C);
        let (pkts, sent) = ws.take();
        let run = run(&pkts, &[]);
        run.assert_ok();
        assert_frames(&run.frame_keys(), &clean);
        assert_eq!(expect_all(&pkts, &sent), clean);
        let conn = only_conn(&run);
        assert_eq!(conn["end"], "fin", "ISNs {c} {s}");
        assert_eq!(codes(conn), Vec::<String>::new());
    }
}

/// The oracle for a capture that starts mid-stream: offsets count from the
/// first byte captured in each direction; frames before it are gone.
fn expect_midstream(pkts: &[Pkt], sent: &[Sent]) -> Vec<FrameKey> {
    let base = |side: Side| {
        pkts.iter()
            .filter(|p| p.side == side && p.len > 0)
            .map(|p| p.off)
            .next()
            .unwrap_or(0)
    };
    let (bc, bs) = (base(C), base(S));
    let shift = |side: Side| if side == C { bc } else { bs };
    let pk: Vec<Pkt> = pkts
        .iter()
        .map(|p| Pkt {
            off: p.off.saturating_sub(shift(p.side)),
            ..p.clone()
        })
        .collect();
    let st: Vec<Sent> = sent
        .iter()
        .filter(|s| s.offset >= shift(s.side))
        .map(|s| Sent {
            offset: s.offset - shift(s.side),
            ..s.clone()
        })
        .collect();
    expect_all(&pk, &st)
}

#[test]
fn midstream_capture_with_port_finds_the_frames() {
    let (pkts, sent) = standard_eth();
    // The capture starts with the first client frame (packet 6): no SYN, no
    // handshake.
    let tail = pkts[5..].to_vec();
    let run = run(&tail, &["--port", "8080"]);
    run.assert_ok();
    let expected = expect_midstream(&tail, &sent);
    assert_eq!(expected.len(), 14);
    assert_eq!(expected[0].offset, 0);
    assert_frames(&run.frame_keys(), &expected);
    let conn = only_conn(&run);
    assert_eq!(conn["detected_by"], "port");
    assert_eq!(conn["roles"], "port-guess");
    assert_eq!(conn["client"], CLIENT4);
    assert_eq!(conn["server"], SERVER4);
    assert_eq!(conn["websocket"], true);
    assert_eq!(conn["request"], Value::Null);
    // Decoding starts at the first byte: a pickup at a frame boundary
    // skips nothing.
    let f = conn["findings"].as_array().unwrap();
    assert_eq!(f[0]["code"], "handshake_not_captured");
    for x in &f[1..] {
        assert_eq!(x["code"], "resynchronized", "{x}");
        assert!(
            x["detail"].as_str().unwrap().starts_with("skipped 0 bytes"),
            "{x}"
        );
    }
}

#[test]
fn midstream_capture_inside_a_payload_with_port() {
    let (pkts, sent) = standard_eth();
    // Start in the middle of the client's 65536-byte frame: the server's
    // side starts with the pong, at a frame boundary.
    let c65536 = sent
        .iter()
        .find(|s| s.side == C && s.frame.payload.len() == 65536)
        .unwrap();
    let from = inner_segments(&pkts, c65536)[20];
    let tail = pkts[from..].to_vec();
    let run = run(&tail, &["--port", "8080"]);
    run.assert_ok();
    let expected = expect_midstream(&tail, &sent);
    let ops: Vec<(&str, &str)> = expected
        .iter()
        .map(|f| (f.dir.as_str(), f.opcode.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("c2s", "ping"),
            ("c2s", "close"),
            ("s2c", "pong"),
            ("s2c", "close")
        ]
    );
    assert_frames(&run.frame_keys(), &expected);
    let conn = only_conn(&run);
    let resync = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "resynchronized" && f["packet"] != Value::Null)
        .map(|f| f["detail"].as_str().unwrap().to_string());
    let skipped = c65536.end() - tail[0].off;
    assert!(
        resync.is_some_and(|d| d.starts_with(&format!("skipped {skipped} bytes"))),
        "{conn:#}"
    );
}

#[test]
fn midstream_capture_before_a_frame_longer_than_the_resync_window() {
    let (pkts, sent) = standard_eth();
    // Start in the middle of the 65535-byte server frame; the next server
    // frame is 70000 bytes long, more than the resync window.
    let s65535 = sent
        .iter()
        .find(|s| s.side == S && s.frame.payload.len() == 65535)
        .unwrap();
    let from = inner_segments(&pkts, s65535)[20];
    let tail = pkts[from..].to_vec();
    let run = run(&tail, &["--port", "8080"]);
    let expected = expect_midstream(&tail, &sent);
    let ops: Vec<(&str, u64)> = expected
        .iter()
        .map(|f| (f.dir.as_str(), f.payload_len))
        .collect();
    assert!(ops.contains(&("s2c", 70000)), "{ops:?}");
    // At the least, nothing may be invented: every reported frame is one
    // that was sent.
    for k in run.frame_keys() {
        assert!(expected.contains(&k), "invented frame {k:?}");
    }
    assert_frames(&run.frame_keys(), &expected);
    run.assert_ok();
}

#[test]
fn midstream_capture_without_port_invents_nothing() {
    let (pkts, sent) = standard_eth();
    // Without --port, wscap may still recognise the connection from its
    // masked client frames; whatever it reports must be real frames, found
    // exactly.
    for from in [5, 40] {
        let tail = pkts[from..].to_vec();
        let run = run(&tail, &[]);
        run.assert_ok();
        let expected = expect_midstream(&tail, &sent);
        let conn = only_conn(&run);
        if run.frames().is_empty() {
            assert_eq!(conn["websocket"], false);
            assert_eq!(conn["detected_by"], Value::Null);
        } else {
            assert_eq!(conn["detected_by"], "heuristic");
            assert_eq!(codes(conn)[0], "handshake_not_captured");
            assert_frames(&run.frame_keys(), &expected);
        }
        assert_eq!(run.summary()["tcp_connections"], 1);
    }
}

#[test]
fn midstream_capture_of_another_protocol_invents_nothing() {
    // No SYN, no handshake, no --port: text lines one way, pseudo-random
    // bytes the other, then the other way round. Nothing is WebSocket.
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let random: Vec<u8> = (0..40_000).map(|_| rng.next() as u8).collect();
    let text: Vec<u8> = (0..800)
        .flat_map(|i| format!("LINE {i} some text of a line-based protocol\r\n").into_bytes())
        .collect();
    for (a, b) in [(&text, &random), (&random, &text)] {
        let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
        ws.raw(C, a).flush(C).raw(S, b).flush(S).close(C);
        let (pkts, _) = ws.take();
        for extra in [&[][..], &["--port", "9999"][..]] {
            let run = run(&pkts, extra);
            run.assert_ok();
            assert_eq!(run.frames().len(), 0, "{extra:?}");
            let conn = only_conn(&run);
            assert_eq!(conn["websocket"], false);
            assert_eq!(run.summary()["frames"], 0);
        }
    }
}

/// Shifts frame keys of a second capture part: packet numbers and conn.
fn shifted(keys: Vec<FrameKey>, packets: u64, conn: u64) -> Vec<FrameKey> {
    keys.into_iter()
        .map(|mut k| {
            k.packet += packets;
            k.last_packet += packets;
            k.conn = conn;
            k
        })
        .collect()
}

fn short_ws(isn: (u32, u32), start: i64, text: &str) -> Ws {
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.isn(isn.0, isn.1).start_at(start).handshake().upgrade();
    ws.send(C, Frame::text(text).masked([1, 2, 3, 4]))
        .send(S, Frame::binary(3000, 1));
    ws
}

#[test]
fn four_tuple_reused_after_close() {
    let mut a = short_ws((1000, 5000), START_NS, "first");
    a.close(C);
    let (pa, sa) = a.take();
    // The same addresses and ports 1 s later (and at once: a new SYN is a
    // new connection whatever the linger time).
    for gap_ns in [1_000_000_000, 0] {
        let last = pa.last().unwrap().synth.ts.as_nanos();
        let mut b = short_ws((77_000, 99_000), last + gap_ns + 1_000, "second");
        b.close(S);
        let (pb, sb) = b.take();
        let all: Vec<Pkt> = pa.iter().chain(&pb).cloned().collect();
        let run = run(&all, &[]);
        run.assert_ok();
        let mut expected = expect_all(&pa, &sa);
        expected.extend(shifted(
            expected_frames(&pb, &sb, 1, &exact_ts),
            pa.len() as u64,
            1,
        ));
        expected.sort();
        assert_frames(&run.frame_keys(), &expected);
        let conns = run.conns();
        assert_eq!(conns.len(), 2);
        for (i, c) in conns.iter().enumerate() {
            assert_eq!(c["conn"], i as u64);
            assert_eq!(c["end"], "fin");
            assert_eq!(c["websocket"], true);
            assert_eq!(c["frames"], json!({"c2s": 1, "s2c": 1}));
        }
        assert_eq!(conns[1]["first_packet"], pa.len() as u64 + 1);
        assert_eq!(run.summary()["tcp_connections"], 2);
        assert_eq!(run.summary()["websocket_connections"], 2);
    }
}

#[test]
fn new_syn_on_an_open_connection_starts_a_new_one() {
    let (pa, sa) = short_ws((1000, 5000), START_NS, "first").take();
    let last = pa.last().unwrap().synth.ts.as_nanos();
    let mut b = short_ws((500_000, 900_000), last + 1_000_000, "second");
    b.close(C);
    let (pb, sb) = b.take();
    let all: Vec<Pkt> = pa.iter().chain(&pb).cloned().collect();
    let run = run(&all, &[]);
    run.assert_ok();
    let mut expected = expect_all(&pa, &sa);
    expected.extend(shifted(
        expected_frames(&pb, &sb, 1, &exact_ts),
        pa.len() as u64,
        1,
    ));
    expected.sort();
    assert_frames(&run.frame_keys(), &expected);
    let ends: Vec<&Value> = run.conns().iter().map(|c| &c["end"]).collect();
    assert_eq!(ends, [&json!("reused"), &json!("fin")]);
}

#[test]
fn rst_ends_the_connection() {
    let mut ws = short_ws((1000, 5000), START_NS, "bye");
    ws.rst(S);
    let (mut pkts, sent) = ws.take();
    // A late client segment after the RST opens nothing new.
    let late = pkts.iter().rposition(|p| p.side == C && p.len > 0).unwrap();
    let mut late = pkts[late].clone();
    late.synth.ts = Timestamp::from_nanos(pkts.last().unwrap().synth.ts.as_nanos() + 1);
    pkts.push(late);
    let run = run(&pkts, &[]);
    run.assert_ok();
    assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
    let conn = only_conn(&run);
    assert_eq!(conn["end"], "rst");
    assert_eq!(conn["last_packet"], pkts.len() as u64 - 1);
    assert_eq!(run.summary()["tcp_connections"], 1);
    assert_eq!(run.summary()["packets"], pkts.len() as u64);
}

#[test]
fn fin_from_either_side_and_no_close_at_all() {
    for (close, end) in [(Some(C), "fin"), (Some(S), "fin"), (None, "end-of-capture")] {
        let mut ws = short_ws((1000, 5000), START_NS, "hi");
        if let Some(side) = close {
            ws.close(side);
        } else {
            // Only one FIN: the connection is still half open at the end.
            ws.segment(C, TcpFlags::FIN | TcpFlags::ACK, &[]);
        }
        let (pkts, sent) = ws.take();
        let run = run(&pkts, &[]);
        run.assert_ok();
        assert_frames(&run.frame_keys(), &expect_all(&pkts, &sent));
        assert_eq!(only_conn(&run)["end"], end, "{close:?}");
    }
}

// ---------------------------------------------------------------------------
// Holes

#[test]
fn lost_segment_inside_a_payload() {
    let (mut pkts, sent) = standard_eth();
    let big = big_server_frame(&sent).clone();
    let i = inner_segments(&pkts, &big)[10];
    let lost = pkts.remove(i);
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run.frame_keys(), &expected);
    let f = expected.iter().find(|f| f.payload_len == 70000).unwrap();
    assert_eq!(f.payload_missing, lost.len as u64);
    assert_eq!(f.codes, ["capture_gap"]);
    assert!(f.complete);
    // The next server frame is found exactly where it is.
    let next = expected
        .iter()
        .find(|k| k.dir == "s2c" && k.index == f.index + 1)
        .unwrap();
    assert_eq!(next.offset, big.end());
    assert_eq!(next.opcode, "pong");
    let conn = only_conn(&run);
    assert_eq!(codes(conn), ["capture_gap"]);
    assert_eq!(conn["tcp"]["s2c"]["gaps"], 1);
    assert_eq!(conn["tcp"]["s2c"]["gap_bytes"], lost.len as u64);
    assert_eq!(conn["findings"][0]["severity"], "info");
}

/// Small frames from the client, each its own segment and each acknowledged
/// by the server.
fn small_frames_ws(n: usize) -> Ws {
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade();
    for i in 0..n {
        ws.send(
            C,
            Frame::binary(20 + i * 10, i as u8).masked([i as u8, 1, 2, 3]),
        )
        .ack(S);
    }
    ws.send(S, Frame::close(1000))
        .send(C, Frame::close(1000).masked([4, 4, 4, 4]))
        .close(C);
    ws
}

#[test]
fn lost_segment_holding_a_frame_header_resyncs() {
    let (mut pkts, sent) = small_frames_ws(10).take();
    // The segment with frame 3's header and all its payload.
    let f3 = sent.iter().filter(|s| s.side == C).nth(3).unwrap().clone();
    let i = packet_with(&pkts, C, f3.offset);
    pkts.remove(i);
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    // Frame 3 is gone; later frames are found exactly (and numbered as
    // reported), nothing is invented.
    assert_eq!(expected.iter().filter(|f| f.dir == "c2s").count(), 10);
    assert!(
        !expected
            .iter()
            .any(|f| f.offset == f3.offset && f.dir == "c2s")
    );
    assert_frames(&run.frame_keys(), &expected);
    let conn = only_conn(&run);
    let c = codes(conn);
    assert!(c.contains(&"capture_gap".to_string()), "{c:?}");
    assert!(c.contains(&"resynchronized".to_string()), "{c:?}");
    let resync = conn["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "resynchronized")
        .unwrap();
    let detail = resync["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("resume at stream offset {}", f3.end())),
        "{detail}"
    );
}

#[test]
fn lost_segment_with_a_payload_tail_and_the_next_header() {
    // Three frames in one write, cut so that one segment holds the end of
    // frame A's payload and frame B's header.
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade();
    let a = Frame::binary(1000, 1);
    let a_len = a.header_len() + a.payload.len();
    ws.frame(S, a)
        .frame(S, Frame::binary(500, 2))
        .frame(S, Frame::text("c"))
        .frame(S, Frame::text("d"))
        .frame(S, Frame::binary(300, 3))
        .flush_at(S, &[a_len - 100, a_len + 50]);
    ws.send(C, Frame::close(1000).masked([1, 2, 3, 4]))
        .send(S, Frame::close(1000))
        .close(C);
    let (mut pkts, sent) = ws.take();
    let i = packet_with(&pkts, S, sent[0].end() - 1);
    let lost = pkts.remove(i);
    assert_eq!(lost.len, 150);
    let run = run(&pkts, &[]);
    run.assert_ok();
    let mut expected = expect_all(&pkts, &sent);
    // Frame A lost its last 100 bytes: its end was revealed by the packet
    // after the hole (the one now at the removed packet's place).
    let fa = expected
        .iter_mut()
        .find(|f| f.offset == sent[0].offset)
        .unwrap();
    assert_eq!(fa.payload_missing, 100);
    assert_eq!(fa.last_packet, 0);
    fa.last_packet = i as u64 + 1;
    // Frame B (header lost) is not reported; resync finds C and what follows.
    assert!(!expected.iter().any(|f| f.offset == sent[1].offset));
    assert_frames(&run.frame_keys(), &expected);
    let c = codes(only_conn(&run));
    assert!(c.contains(&"resynchronized".to_string()), "{c:?}");
}

#[test]
fn snaplen_cut_payloads() {
    let mut ws = standard_ws(Link::Ethernet, CLIENT4, SERVER4, 1460);
    let (pkts, sent) = ws.take();
    // Snaplen 200 from the first frame on (the handshake fits whole): every
    // full-size segment loses its last 1314 bytes.
    let pkts: Vec<Pkt> = pkts
        .into_iter()
        .enumerate()
        .map(|(i, p)| if i >= 5 { p.snapped(200) } else { p })
        .collect();
    let run = run(&pkts, &[]);
    run.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_eq!(expected.len(), 14);
    assert_frames(&run.frame_keys(), &expected);
    let big = expected.iter().find(|f| f.payload_len == 70000).unwrap();
    assert_eq!(big.codes, ["truncated_payload"]);
    assert!(big.payload_missing > 60_000);
    // The frames after the cut ones are all there, untouched.
    let pong = expected.iter().find(|f| f.opcode == "pong").unwrap();
    assert_eq!(pong.payload_missing, 0);
    assert!(pong.codes.is_empty());
    // One tally per direction on the connection, plus one per cut frame.
    let conn = only_conn(&run);
    assert_eq!(codes(conn), ["truncated_payload", "truncated_payload"]);
    let cut_frames = expected.iter().filter(|f| f.payload_missing > 0).count() as u64;
    assert_eq!(
        run.summary()["findings_by_code"]["truncated_payload"],
        cut_frames + 2
    );
}

#[test]
fn snaplen_from_the_conversation_and_one_cut_packet() {
    // The conversation's own snaplen, set after the upgrade.
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    ws.handshake().upgrade();
    ws.conv.snaplen(Some(96));
    send_frames(&mut ws, standard_frames());
    ws.conv.snaplen(None);
    ws.close(C);
    let (pkts, sent) = ws.take();
    assert!(pkts.iter().any(|p| p.cap < p.len));
    let run1 = run(&pkts, &[]);
    run1.assert_ok();
    assert_frames(&run1.frame_keys(), &expect_all(&pkts, &sent));

    // A single packet cut with SynthPacket::snapped inside the big frame.
    let (mut pkts, sent) = standard_eth();
    let big = big_server_frame(&sent).clone();
    let i = inner_segments(&pkts, &big)[3];
    pkts[i] = pkts[i].clone().snapped(60);
    let run2 = run(&pkts, &[]);
    run2.assert_ok();
    let expected = expect_all(&pkts, &sent);
    assert_frames(&run2.frame_keys(), &expected);
    let f = expected.iter().find(|f| f.payload_len == 70000).unwrap();
    assert_eq!(f.payload_missing, 1460 - 6);
    assert_eq!(codes(only_conn(&run2)), ["truncated_payload"]);
}
