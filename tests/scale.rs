//! Bounded memory, as behaviour: captures with many connections or with
//! more out-of-order data than wscap will hold must be read to the end, with
//! every connection and frame accounted for. (Not timed; the sizes are
//! chosen so that holding everything would cross the documented caps.)

mod common;

use common::*;
use serde_json::Value;
use wscap::synth::{Link, Side};
use wscap::time::Timestamp;

use Side::{Client as C, Server as S};

/// A short WebSocket connection from client number `i`.
fn short_conn(i: u32, start: i64) -> Vec<Pkt> {
    let client = format!(
        "10.{}.{}.{}:{}",
        1 + i / 65536,
        (i / 256) % 256,
        i % 256,
        1024 + i % 60000
    );
    let mut ws = Ws::new(Link::Ethernet, &client, SERVER4);
    ws.start_at(start).handshake().upgrade();
    ws.send(C, Frame::text("hi").masked(i.to_be_bytes()))
        .send(S, Frame::text("ho"))
        .close(if i.is_multiple_of(2) { C } else { S });
    ws.take().0
}

#[test]
fn twenty_thousand_short_connections() {
    const N: u32 = 20_000;
    const GROUP: u32 = 1_000;
    // Groups of 1000 connections run at the same time, interleaved packet
    // by packet; the groups follow each other.
    let mut all: Vec<Pkt> = Vec::new();
    for i in 0..N {
        let start = START_NS + i64::from(i / GROUP) * 1_000_000_000 + i64::from(i % GROUP) * 1_000;
        all.extend(short_conn(i, start));
    }
    all.sort_by_key(|p| p.synth.ts);
    let f = TempFile::new("many.pcap", &pcap_ns(&Link::Ethernet, &all));
    let raw = wscap_raw(&["analyze", "--format", "jsonl", f.path_str()], None);
    assert_eq!(raw.status, 0, "{}", raw.stderr);
    assert!(raw.stderr.is_empty(), "{}", raw.stderr);
    // 60001 records: only the summary is parsed (parsing everything would
    // dominate the test's time in a debug build); the rest is checked by
    // its text, which serde_json writes in field order without spaces.
    let lines: Vec<&str> = raw.stdout.lines().collect();
    let sum: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(sum["type"], "summary");
    assert_eq!(sum["packets"], all.len() as u64);
    assert_eq!(sum["tcp_connections"], u64::from(N));
    assert_eq!(sum["websocket_connections"], u64::from(N));
    assert_eq!(sum["frames"], 2 * u64::from(N));
    assert_eq!(sum["findings_by_code"], serde_json::json!({}));
    let frames = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"frame","#))
        .count();
    assert_eq!(frames, 2 * N as usize);
    let mut ids = Vec::new();
    for l in lines
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"connection","#))
    {
        assert!(l.contains(r#""end":"fin""#), "{l}");
        assert!(l.contains(r#""frames":{"c2s":1,"s2c":1}"#), "{l}");
        let id = l[r#"{"type":"connection","conn":"#.len()..]
            .split(',')
            .next()
            .unwrap();
        ids.push(id.parse::<u64>().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..u64::from(N)).collect::<Vec<_>>());
    assert_eq!(lines.len(), 3 * N as usize + 1);
}

/// One connection whose server sends a `len`-byte frame and then a small
/// one, with segment `delay` of the big frame's payload held back to the
/// end of the capture.
fn backlog_conn(client: &str, len: usize, delay: usize, start: i64) -> (Vec<Pkt>, Vec<Sent>) {
    let mut ws = Ws::new(Link::Ethernet, client, SERVER4);
    ws.start_at(start).step(10_000).handshake().upgrade();
    ws.send(S, Frame::binary(len, 1))
        .send(S, Frame::text("after"))
        .send(C, Frame::close(1000).masked([1, 2, 3, 4]))
        .send(S, Frame::close(1000))
        .close(C);
    let (mut pkts, sent) = ws.take();
    let big = &sent[0];
    let i = pkts
        .iter()
        .position(|p| p.side == S && p.off > big.offset + 1460 * delay as u64)
        .unwrap();
    let late = pkts.remove(i);
    pkts.push(late);
    (pkts, sent)
}

trait Step {
    fn step(&mut self, ns: i64) -> &mut Self;
}

impl Step for Ws {
    fn step(&mut self, ns: i64) -> &mut Self {
        self.conv.step(ns);
        self
    }
}

fn frame_by(run: &Run, conn: u64, payload_len: u64) -> &Value {
    run.frames()
        .into_iter()
        .find(|f| f["conn"] == conn && f["payload_len"] == payload_len)
        .unwrap_or_else(|| panic!("no {payload_len}-byte frame in connection {conn}"))
}

#[test]
fn huge_out_of_order_backlog_in_one_connection() {
    // 12 MB after a missing segment: far more than one direction may hold
    // (4 MiB), so held data is released over the hole as a gap.
    let (pkts, sent) = backlog_conn(CLIENT4, 12_000_000, 2, START_NS);
    let run = analyze(&pcap_ns(&Link::Ethernet, &pkts), &[]);
    run.assert_ok();
    let sum = run.summary();
    assert_eq!(sum["packets"], pkts.len() as u64);
    assert_eq!(sum["tcp_connections"], 1);
    assert_eq!(sum["frames"], 4);
    let conn = run.conns()[0];
    assert_eq!(conn["end"], "fin");
    assert_eq!(Run::conn_codes(conn), ["capture_gap"]);
    assert_eq!(conn["tcp"]["s2c"]["gaps"], 1);
    assert_eq!(conn["tcp"]["s2c"]["gap_bytes"], 1460);
    let detail = conn["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("memory cap"), "{detail}");
    // The big frame lost the held-back segment's bytes; the frame after it
    // is found exactly.
    let big = frame_by(&run, 0, 12_000_000);
    assert_eq!(big["payload_missing"], 1460);
    assert_eq!(big["complete"], true);
    let after = frame_by(&run, 0, 5);
    assert_eq!(after["offset"], sent[1].offset);
    assert_eq!(after["index"], 1);
}

#[test]
fn out_of_order_backlog_across_connections_hits_the_total_cap() {
    // Ten connections each holding 3.5 MB (under the per-direction cap) at
    // the same time: 35 MB, over the 32 MiB total.
    let mut all = Vec::new();
    for i in 0..10u32 {
        let client = format!("10.0.1.{}:{}", i + 1, 40000 + i);
        let (pkts, _) = backlog_conn(&client, 3_500_000, 1, START_NS + i64::from(i) * 1_000);
        all.extend(pkts);
    }
    // Interleave the connections by time, but keep every held-back segment
    // at the very end.
    let (mut body, tail): (Vec<Pkt>, Vec<Pkt>) = {
        let n = all.len() / 10;
        let mut body = Vec::new();
        let mut tail = Vec::new();
        for (i, p) in all.into_iter().enumerate() {
            if i % n == n - 1 {
                tail.push(p);
            } else {
                body.push(p);
            }
        }
        (body, tail)
    };
    body.sort_by_key(|p| p.synth.ts);
    let last = body.last().unwrap().synth.ts.as_nanos();
    for (k, mut p) in tail.into_iter().enumerate() {
        p.synth.ts = Timestamp::from_nanos(last + 1 + k as i64);
        body.push(p);
    }
    let run = analyze(&pcap_ns(&Link::Ethernet, &body), &[]);
    run.assert_ok();
    let sum = run.summary();
    assert_eq!(sum["packets"], body.len() as u64);
    assert_eq!(sum["tcp_connections"], 10);
    assert_eq!(sum["websocket_connections"], 10);
    assert_eq!(sum["frames"], 40);
    let conns = run.conns();
    assert_eq!(conns.len(), 10);
    let mut released = 0;
    for c in &conns {
        let id = c["conn"].as_u64().unwrap();
        assert_eq!(c["frames"], serde_json::json!({"c2s": 1, "s2c": 3}));
        // Every connection's big frame and the frame after it are there;
        // those whose backlog was released have a gap in the big one.
        let big = frame_by(&run, id, 3_500_000);
        let after = frame_by(&run, id, 5);
        assert_eq!(after["index"], 1);
        if c["tcp"]["s2c"]["gaps"] == 1 {
            released += 1;
            assert_eq!(big["payload_missing"], 1460);
            assert_eq!(Run::conn_codes(c), ["capture_gap"]);
        } else {
            assert_eq!(c["tcp"]["s2c"]["gaps"], 0);
            assert!(big.get("payload_missing").is_none());
        }
    }
    assert!(released >= 1, "the total cap never released anything");
}

#[test]
fn idle_connection_is_retired() {
    // A connection left open, then 11 minutes of silence before another:
    // the first ends as idle (the default idle timeout is 10 minutes).
    let mut a = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    a.handshake()
        .upgrade()
        .send(C, Frame::text("x").masked([1, 1, 1, 1]));
    let (pa, _) = a.take();
    let later = pa.last().unwrap().synth.ts.as_nanos() + 660 * 1_000_000_000;
    let mut b = Ws::new(Link::Ethernet, "10.0.0.9:40000", SERVER4);
    b.start_at(later).handshake().upgrade().close(C);
    let (pb, _) = b.take();
    let all: Vec<Pkt> = pa.into_iter().chain(pb).collect();
    let run = analyze(&pcap_ns(&Link::Ethernet, &all), &[]);
    run.assert_ok();
    let ends: Vec<(&Value, &Value)> = run
        .conns()
        .iter()
        .map(|c| (&c["conn"], &c["end"]))
        .collect();
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0], (&serde_json::json!(0), &serde_json::json!("idle")));
    assert_eq!(ends[1], (&serde_json::json!(1), &serde_json::json!("fin")));
    // The idle connection's record comes before anything of the next one.
    let first_b = run.records.iter().position(|r| r["conn"] == 1).unwrap();
    let rec_a = run
        .records
        .iter()
        .position(|r| r["type"] == "connection" && r["conn"] == 0)
        .unwrap();
    assert!(rec_a < first_b);
}
