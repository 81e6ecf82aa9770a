//! `--write-pcap OUT`: the packets of the connections that pass the
//! filters, re-read by wscap's own reader and analysis. (tshark, when
//! installed, can check the same: `tests/write_pcap_tshark.sh`.)

mod cli_common;

use cli_common::{TempDir, capture, run};
use serde_json::Value;
use std::path::Path;
use wscap::capture::CaptureReader;

/// (ts, orig_len, link type, bytes) of every packet of a capture, with the
/// TCP ports when it is TCP.
type Packet = (i64, u32, u16, Vec<u8>, Option<(u16, u16)>);

fn packets(path: &Path) -> Vec<Packet> {
    let mut r = CaptureReader::open(path).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        let ports = wscap::packet::decode(p.linktype, p.data)
            .ok()
            .map(|s| (s.src_port, s.dst_port));
        v.push((p.ts.0, p.orig_len, p.linktype.0, p.data.to_vec(), ports));
    }
    v
}

fn on_port(p: &Packet, port: u16) -> bool {
    p.4.is_some_and(|(a, b)| a == port || b == port)
}

/// A record without what renumbering changes.
fn renumbered(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in [
        "conn",
        "packet",
        "last_packet",
        "first_packet",
        "end_packet",
        "wireshark_filter",
    ] {
        o.remove(k);
    }
    for k in ["request", "response"] {
        if let Some(r) = o.get_mut(k).and_then(Value::as_object_mut) {
            r.remove("packet");
        }
    }
    for d in o
        .get_mut("diagnosis")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        d.as_object_mut().unwrap().remove("packet");
        d.as_object_mut().unwrap().remove("evidence");
    }
    for f in o
        .get_mut("findings")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        f.as_object_mut().unwrap().remove("packet");
    }
    v
}

#[test]
fn one_connection_written_and_read_back() {
    let dir = TempDir::new("write-pcap");
    let out = dir.path("conn1.pcap");
    let cap = capture("py-two-conns.pcap");
    let args = ["--format", "jsonl", "--conn", "1", "--write-pcap"];
    let run1 = run(&[&args[..], &[out.to_str().unwrap(), cap.to_str().unwrap()]].concat());
    assert_eq!(run1.code, 0, "{}", run1.stderr);

    // The file: nanosecond pcap, the input's link type.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_3c4du32.to_le_bytes());
    let original = packets(&cap);
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        u32::from(original[0].2)
    );

    // Exactly connection 1's packets (client port 49700), bytes,
    // timestamps and lengths unchanged, in capture order.
    let want: Vec<Packet> = original.into_iter().filter(|p| on_port(p, 49700)).collect();
    let got = packets(&out);
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // Analysed again, the same connection and frames (numbered anew).
    let again = run(&["--format", "jsonl", out.to_str().unwrap()]);
    let conn = |o: &cli_common::Out| renumbered(o.of_type("connection")[0].clone());
    assert_eq!(again.of_type("connection").len(), 1);
    assert_eq!(conn(&again), conn(&run1));
    let frames = |o: &cli_common::Out| -> Vec<Value> {
        o.of_type("frame").into_iter().map(renumbered).collect()
    };
    assert_eq!(frames(&again), frames(&run1));
    assert_eq!(frames(&again).len(), 8);
}

#[test]
fn websocket_only_writes_the_websocket_connections_whole() {
    let dir = TempDir::new("write-pcap-ws");
    let out = dir.path("ws.pcap");
    let cap = capture("py-two-conns.pcap");
    let o = run(&[
        "--format",
        "summary",
        "--websocket-only",
        "--write-pcap",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    // The two WebSocket connections' packets, handshakes included (held
    // until the 101 decided them); none of the plain HTTP one (49702).
    let mut want: Vec<Packet> = packets(&cap)
        .into_iter()
        .filter(|p| on_port(p, 56138) || on_port(p, 49700))
        .collect();
    let mut got = packets(&out);
    assert_eq!(got.len(), want.len());
    // Held packets are written when their connection is decided: compare
    // as sets, in time order.
    want.sort_by_key(|p| p.0);
    got.sort_by_key(|p| p.0);
    assert_eq!(got, want);
    let again = run(&["--format", "jsonl", out.to_str().unwrap()]);
    let s = again.summary();
    assert_eq!(s["tcp_connections"], 2);
    assert_eq!(s["websocket_connections"], 2);
    assert_eq!(s["frames"], 16);
}

#[test]
fn nothing_to_write_still_makes_a_valid_capture() {
    let dir = TempDir::new("write-pcap-none");
    let out = dir.path("none.pcap");
    let cap = capture("py-two-conns.pcap");
    let o = run(&[
        "--format",
        "jsonl",
        "--conn",
        "7",
        "--write-pcap",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0);
    assert!(
        o.stderr.contains("no connection matched --conn 7"),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read(&out).unwrap().len(), 24);
    assert!(packets(&out).is_empty());
}

#[test]
fn several_link_types_are_an_error_naming_them() {
    let dir = TempDir::new("write-pcap-links");
    let out = dir.path("mixed.pcap");
    let (sll, eth) = (capture("py-any-sll.pcap"), capture("py-echo.pcap"));
    let o = run(&[
        "--format",
        "summary",
        "--write-pcap",
        out.to_str().unwrap(),
        sll.to_str().unwrap(),
        eth.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("a pcap file holds one link type"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("link type 113") || o.stderr.contains("of 113"));
    // One link type alone is fine, filtered to it.
    let o = run(&[
        "--format",
        "summary",
        "--write-pcap",
        out.to_str().unwrap(),
        sll.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(packets(&out).len(), packets(&sll).len());
}

#[test]
fn an_unwritable_output_is_an_error_before_reading() {
    let cap = capture("py-two-conns.pcap");
    let o = run(&[
        "--write-pcap",
        "/nonexistent-dir/x.pcap",
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("--write-pcap /nonexistent-dir/x.pcap"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
}
