//! WebSocket over HTTP/2 (RFC 8441) on real captures (`testdata/h2/`:
//! hypercorn and the python h2 library, see testdata/README.md), checked
//! against tshark's HTTP/2 dissection beside each capture.
//!
//! tshark 4.0 does not dissect WebSocket inside HTTP/2 DATA frames, so the
//! cross-check is one layer down: for every stream and direction, the bytes
//! of wscap's frames (headers and payloads) add up to the DATA bytes tshark
//! counts, and each WebSocket stream's `:path` and `:status`, and the
//! server's SETTINGS_ENABLE_CONNECT_PROTOCOL, are what tshark decoded.

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn h2_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/h2")
}

/// The run of wscap on `cap` (with its key log beside it, if any).
fn analyze(cap: &Path) -> Out {
    let keys = cap.with_extension("keys");
    let mut args = vec!["analyze", "--format", "jsonl"];
    let k = keys.to_string_lossy().to_string();
    if keys.exists() {
        args.extend(["--tls-keylog", &k]);
    }
    let p = cap.to_string_lossy().to_string();
    args.push(&p);
    let out = run(&args);
    assert_ne!(out.code, 2, "{}: {}", p, out.stderr);
    out
}

/// What tshark's TSV says: DATA bytes per (stream, "c2s"/"s2c"), each
/// stream's :path and :status, and the server's extended-CONNECT setting.
#[derive(Default, Debug)]
struct Tshark {
    data: BTreeMap<(u64, &'static str), u64>,
    path: BTreeMap<u64, String>,
    status: BTreeMap<u64, u64>,
    extended_connect: Option<bool>,
}

/// Columns as `testdata/make-h2-captures.sh` writes them (H2_FIELDS).
fn tshark(cap: &Path, server_port: &str) -> Tshark {
    let tsv = std::fs::read_to_string(format!("{}.tshark.tsv", cap.display())).unwrap();
    let mut t = Tshark::default();
    for line in tsv.lines() {
        let col: Vec<&str> = line.split('\t').collect();
        let dir = if col[1] == server_port { "s2c" } else { "c2s" };
        let (streams, types, flags, lens): (Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>) = (
            col[2].split('|').collect(),
            col[3].split('|').collect(),
            col[4].split('|').collect(),
            col[5].split('|').collect(),
        );
        for i in 0..types.len() {
            let stream: u64 = streams[i].parse().unwrap();
            if types[i] == "0" {
                let padded = u8::from_str_radix(flags[i].trim_start_matches("0x"), 16).unwrap() & 8;
                assert_eq!(
                    padded,
                    0,
                    "{}: padded DATA, not counted here",
                    cap.display()
                );
                *t.data.entry((stream, dir)).or_default() += lens[i].parse::<u64>().unwrap();
            }
        }
        // Header names and values of the packet's header blocks, in order;
        // a packet with one HEADERS frame has one stream id for them.
        let names: Vec<&str> = col[6].split('|').collect();
        let values: Vec<&str> = col[7].split('|').collect();
        let header_streams: Vec<u64> = streams
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == "1")
            .map(|(s, _)| s.parse().unwrap())
            .collect();
        if let [stream] = header_streams[..] {
            for (n, v) in names.iter().zip(&values) {
                match *n {
                    ":path" => {
                        t.path.insert(stream, v.to_string());
                    }
                    ":status" => {
                        t.status.entry(stream).or_insert(v.parse().unwrap());
                    }
                    _ => {}
                }
            }
        }
        if dir == "s2c" && !col[16].is_empty() {
            t.extended_connect = Some(col[16].split('|').any(|v| v == "1"));
        }
    }
    t
}

/// The HTTP/2 connection of a run (a proxy's capture also holds the
/// HTTP/1.1 leg to its backend).
fn h2_conn(out: &Out) -> Value {
    let mut h2 = out
        .of_type("connection")
        .into_iter()
        .filter(|c| c.get("http2").is_some());
    let c = h2.next().expect("an HTTP/2 connection");
    assert!(h2.next().is_none(), "one HTTP/2 connection");
    c
}

fn server_port(conn: &Value) -> String {
    conn["server"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn every_stream_agrees_with_tshark() {
    let caps = captures_in(&h2_dir());
    assert!(caps.len() >= 7, "testdata/h2");
    for cap in &caps {
        let out = analyze(cap);
        let conn = &h2_conn(&out);
        let t = tshark(cap, &server_port(conn));
        let h2 = &conn["http2"];
        assert!(h2.is_object(), "{}: not read as HTTP/2", cap.display());
        assert_eq!(
            h2["connect_protocol_enabled"].as_bool(),
            Some(t.extended_connect == Some(true)),
            "{}",
            cap.display()
        );
        for ws in h2["websockets"].as_array().unwrap() {
            let stream = ws["stream"].as_u64().unwrap();
            assert_eq!(ws["path"].as_str(), t.path.get(&stream).map(String::as_str));
            assert_eq!(ws["status"].as_u64(), t.status.get(&stream).copied());
        }
        // Frame bytes per stream and direction, against tshark's DATA bytes
        // on the WebSocket streams (refused streams carry no frames).
        let mut got: BTreeMap<(u64, &'static str), u64> = BTreeMap::new();
        let frames = out.of_type("frame");
        for f in frames.iter().filter(|f| f["conn"] == conn["conn"]) {
            let dir = if f["dir"] == "c2s" { "c2s" } else { "s2c" };
            let n = f["header_len"].as_u64().unwrap() + f["payload_len"].as_u64().unwrap();
            *got.entry((f["h2_stream"].as_u64().unwrap(), dir))
                .or_default() += n;
        }
        let open: Vec<u64> = h2["websockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                w["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
            })
            .map(|w| w["stream"].as_u64().unwrap())
            .collect();
        let want: BTreeMap<_, _> = t
            .data
            .iter()
            .filter(|((s, _), _)| open.contains(s))
            .map(|(k, v)| (*k, *v))
            .collect();
        assert_eq!(open.is_empty(), want.is_empty(), "{}", cap.display());
        assert_eq!(got, want, "{}", cap.display());
    }
}

/// A WebSocket stream: its id, the response's status, its frames.
type Stream = (u64, Option<u64>, usize);

/// Each capture's findings and WebSocket streams, exactly.
#[test]
fn each_capture_says_what_happened() {
    let cases: &[(&str, &[&str], &[Stream])] = &[
        ("h2-echo.pcap", &[], &[(1, Some(200), 12)]),
        ("h2-tls-echo.pcap", &[], &[(1, Some(200), 12)]),
        (
            "h2-two-streams.pcap",
            &[],
            &[(1, Some(200), 10), (3, Some(200), 10)],
        ),
        (
            "h2-no-enable-connect.pcap",
            &["h2_connect_not_enabled", "h2_connect_rejected"],
            &[(1, None, 0)],
        ),
        (
            "h2-no-enable-connect-zero.pcap",
            &["h2_connect_not_enabled", "h2_connect_rejected"],
            &[(1, None, 0)],
        ),
        (
            "h2-rejected.pcap",
            &["h2_connect_rejected"],
            &[(1, Some(404), 0)],
        ),
        // Chromium 156 against hypercorn over TLS 1.3 (its key log beside):
        // permessage-deflate, its close with END_STREAM, then RST_STREAM
        // CANCEL after the closing handshake (orderly, no finding).
        ("h2-chromium.pcap", &[], &[(5, Some(200), 10)]),
        // nghttpx 1.52 in front of hypercorn: HTTP/2 to the client, an
        // HTTP/1.1 upgrade to the backend.
        ("h2-nghttpx.pcap", &[], &[(1, Some(200), 12)]),
        // HAProxy 2.6 in front of hypercorn: HTTP/2 to the client, an
        // HTTP/1.1 upgrade to the backend (the other connection).
        ("h2-haproxy.pcap", &[], &[(1, Some(200), 12)]),
        // The same with its RFC 8441 announcement switched off: the client
        // opens the stream anyway, and HAProxy accepts it all the same.
        (
            "h2-haproxy-no-rfc8441.pcap",
            &["h2_connect_not_enabled"],
            &[(1, Some(200), 4)],
        ),
        (
            "h2-unmasked.pcap",
            &["unmasked_client_frame", "unmasked_client_frame"],
            &[(1, Some(200), 2)],
        ),
    ];
    for (name, codes, streams) in cases {
        let out = analyze(&h2_dir().join(name));
        let conn = &h2_conn(&out);
        let frames = out.of_type("frame");
        let mut found: Vec<String> = conn["findings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(
                frames
                    .iter()
                    .flat_map(|f| f["findings"].as_array().unwrap()),
            )
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        found.sort();
        assert_eq!(found, *codes, "{name}");
        let got: Vec<Stream> = conn["http2"]["websockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let s = w["stream"].as_u64().unwrap();
                let n = frames.iter().filter(|f| f["h2_stream"] == s).count();
                (s, w["status"].as_u64(), n)
            })
            .collect();
        assert_eq!(got, *streams, "{name}");
        let established = streams.iter().any(|s| s.1 == Some(200));
        assert_eq!(conn["websocket"], established, "{name}");
    }
}

/// The same conversation in plaintext and inside TLS 1.3 gives the same
/// frames (the TLS capture read with its key log).
#[test]
fn tls_and_plaintext_give_the_same_frames() {
    let shape = |name: &str| -> Vec<(String, u64, String, u64, bool)> {
        analyze(&h2_dir().join(name))
            .of_type("frame")
            .iter()
            .map(|f| {
                (
                    f["dir"].as_str().unwrap().to_string(),
                    f["index"].as_u64().unwrap(),
                    f["opcode"].as_str().unwrap().to_string(),
                    f["payload_len"].as_u64().unwrap(),
                    f["masked"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let plain = shape("h2-echo.pcap");
    assert_eq!(plain.len(), 12);
    assert_eq!(plain, shape("h2-tls-echo.pcap"));
    // The 70,000-byte message crossed five DATA frames each way.
    assert!(plain.iter().any(|f| f.3 == 70_000 && f.0 == "c2s" && f.4));
}

/// `wscap diff` over HTTP/2: a 2xx to the extended CONNECT is a handshake
/// that succeeded, with its latency, as a 101 is over HTTP/1.1.
#[test]
fn diff_counts_http2_handshakes() {
    let (a, b) = (
        h2_dir().join("h2-echo.pcap"),
        h2_dir().join("h2-unmasked.pcap"),
    );
    let out = run(&["diff", &a.to_string_lossy(), &b.to_string_lossy()]);
    let summary = &out.of_type("diff_summary")[0];
    for side in ["before", "after"] {
        assert_eq!(summary[side]["handshakes_ok"], 1, "{side}");
        assert!(
            summary[side]["handshake_latency_us"]["p50"]
                .as_u64()
                .is_some()
        );
    }
    assert_eq!(summary["regressed"], true);
}

/// `--format zeek`: an HTTP/2 connection whose WebSocket stream was
/// answered with a 2xx makes a row (host and uri from :authority and
/// :path); a refused one makes none.
#[test]
fn zeek_rows_for_websockets_over_http2() {
    let rows = |name: &str| -> Vec<String> {
        let p = h2_dir().join(name).to_string_lossy().to_string();
        let out = run(&["analyze", "--format", "zeek", &p]);
        out.stdout
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let echo = rows("h2-echo.pcap");
    assert_eq!(echo.len(), 1);
    let cols: Vec<&str> = echo[0].split('\t').collect();
    assert_eq!(cols[6..9], ["127.0.0.1:18701", "/echo", "wscap-h2peer/1"]);
    assert!(rows("h2-rejected.pcap").is_empty());
    assert!(rows("h2-no-enable-connect.pcap").is_empty());
}

/// A proxy's two legs, HTTP/2 to the client and HTTP/1.1 to the backend:
/// HAProxy passes the backend's Sec-WebSocket-Accept back in its 2xx, and
/// that ties them (`other_leg` both ways).
#[test]
fn proxy_legs_across_http2_and_http1() {
    let out = analyze(&h2_dir().join("h2-haproxy.pcap"));
    let conns = out.of_type("connection");
    assert_eq!(conns.len(), 2);
    let h2 = conns.iter().find(|c| c.get("http2").is_some()).unwrap();
    let h1 = conns.iter().find(|c| c.get("http2").is_none()).unwrap();
    assert_eq!(h2["other_leg"], h1["conn"]);
    assert_eq!(h1["other_leg"], h2["conn"]);
    assert_eq!(h1["request"]["version"], "HTTP/1.1");
    assert_eq!(
        h2["response"]["sec_websocket_accept"],
        h1["response"]["sec_websocket_accept"]
    );
}
