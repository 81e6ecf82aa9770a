//! wscap on real captures: every frame agrees with tshark's WebSocket
//! dissector (the `.tshark.tsv` committed beside each capture), and each
//! capture raises exactly the findings it was made to show.
//!
//! Covers `testdata/captures/` (made by `testdata/make-*.sh` from real
//! peers) and the third-party captures in `../shared/captures-public/`
//! (Zeek, Suricata, nDPI and Arkime test suites), when that folder exists.

mod cli_common;

mod tshark_common;

use cli_common::captures_in;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tshark_common::{minus, tshark_frames, wscap_frames};

struct Run {
    status: i32,
    records: Vec<Value>,
}

fn wscap(args: &[&str], capture: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .arg("analyze")
        .args(["--format", "jsonl"])
        .args(args)
        .arg(capture)
        .output()
        .expect("run wscap");
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    Run {
        status: out.status.code().unwrap_or(-1),
        records,
    }
}

fn findings_by_code(run: &Run) -> BTreeMap<String, u64> {
    let summary = run.records.last().expect("a summary record");
    assert_eq!(summary["type"], "summary");
    summary["findings_by_code"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/captures")
        .join(name)
}

/// Where tshark's dissector is wrong, the difference we expect:
/// (capture, frames only tshark shows, frames only wscap shows, why).
const TSHARK_WRONG: &[(&str, u32, u32, &str)] = &[
    // tshark cannot see bytes cut by the snaplen: it "completes" the 70000-byte
    // frames with the next packet's bytes and dissects the rest as 9 bogus
    // frames; wscap skips the known-length holes and finds the 5 + 5 real ones.
    ("py-snaplen.pcap", 11, 2, "snaplen holes"),
    // The TLS record written after the 101 is 134 bogus frames for tshark;
    // wscap reports tls_in_websocket_stream instead.
    (
        "bad-tls_in_websocket_stream.pcap",
        134,
        0,
        "TLS bytes as frames",
    ),
    // The random bytes after the 101 are 3 frames for tshark; wscap reports
    // unparseable_frame_data instead.
    ("bad-unparseable_frame_data.pcap", 3, 0, "garbage as frames"),
    // "HTTP/1.1 400 ..." written into the socket is a close frame with RSV1
    // for tshark; wscap reports http_in_websocket_stream instead.
    (
        "bad-http_in_websocket_stream.pcap",
        1,
        0,
        "HTTP text as a frame",
    ),
    // tshark lists no frame whose payload the capture does not finish.
    (
        "bad-frame_exceeds_limit.pcap",
        0,
        1,
        "incomplete 2 MiB frame",
    ),
    (
        "bad-incomplete_frame_at_end.pcap",
        0,
        1,
        "frame cut by the end of the capture",
    ),
    // Two packets deleted with editcap. tshark does not show the client's
    // binary 4000 frame whose middle segment is missing (wscap: complete
    // header and end, payload hole); after the missing server segment that
    // held the header of the binary 4500 echo, tshark reads that frame's
    // payload and then the next two echoes (text 2500, binary 3500) as 94
    // bogus frames and misses the server's close; wscap skips the lost
    // frame and finds the echoes and the close (3 frames) at their
    // real places.
    ("bad-capture_gap.pcap", 94, 4, "frames after a capture gap"),
    // Headers-only captures: tshark cannot read the cut upgrade and shows
    // nothing; wscap reads the request and 101 lines and finds the 5 + 5
    // frames, each header starting a packet.
    ("snap96-echo.pcap", 0, 10, "heads cut by the snaplen"),
    // Through nginx at snaplen 200: tshark reads the heads, then takes the
    // cut payloads of nginx's 4096-byte chunks for new frames (and misses
    // the server's close on the client leg); wscap finds the 10 + 10 sent.
    ("snap200-nginx.pcap", 96, 7, "snaplen holes read as frames"),
    // The last file of a ring starts inside a connection: tshark needs the
    // handshake; wscap recognises the masked client frames.
    ("diff-rotated-part2.pcap", 0, 8, "a ring's later file"),
];

#[test]
fn testdata_frames_agree_with_tshark() {
    let mut checked = 0;
    for cap in captures_in(&testdata("")) {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        let tsv_name = format!("{}.tshark.tsv", name.trim_end_matches(".gz"));
        let want = tshark_frames(&testdata(&tsv_name));
        let run = wscap(&[], &cap);
        assert_ne!(run.status, 2, "{name}: damaged input?");
        let got = wscap_frames(&run.records);
        let (missing, extra) = (minus(&want, &got), minus(&got, &want));
        let (m, e) = TSHARK_WRONG
            .iter()
            .find(|w| w.0 == name)
            .map_or((0, 0), |w| (w.1, w.2));
        assert_eq!(
            (missing, extra),
            (m, e),
            "{name}: frames only tshark / only wscap shows"
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} captures found");
}

/// Exactly the findings (code: count, over frames and connections) each
/// capture shows. A `bad-<code>.pcap` was made to break exactly that rule;
/// other codes listed are consequences a real peer caused (noted).
const EXPECTED: &[(&str, &[(&str, u64)])] = &[
    ("bad-bad_accept_key.pcap", &[("bad_accept_key", 1)]),
    // The server refused the bad key and the bad version with a 400.
    (
        "bad-bad_websocket_key.pcap",
        &[("bad_websocket_key", 1), ("handshake_rejected", 1)],
    ),
    (
        "bad-bad_websocket_version.pcap",
        &[("bad_websocket_version", 1), ("handshake_rejected", 1)],
    ),
    // One capture_gap per hole in the frames they hit (the client frame with
    // a payload hole; the server frame header lost: "frame sync lost"), one
    // per connection summing the holes, and the resync at the next echo.
    (
        "bad-capture_gap.pcap",
        // One per frame the holes hit, one where frame sync was lost, and
        // the per-direction tallies (a hole in each direction).
        &[("capture_gap", 4), ("resynchronized", 1)],
    ),
    (
        "bad-close_payload_length_one.pcap",
        &[("close_payload_length_one", 1)],
    ),
    (
        "bad-connection_header_missing.pcap",
        &[("connection_header_missing", 1)],
    ),
    (
        "bad-continuation_without_start.pcap",
        &[("continuation_without_start", 1)],
    ),
    (
        "bad-control_frame_too_long.pcap",
        &[("control_frame_too_long", 1)],
    ),
    ("bad-data_after_close.pcap", &[("data_after_close", 1)]),
    (
        "bad-data_frame_during_fragmentation.pcap",
        &[("data_frame_during_fragmentation", 1)],
    ),
    ("bad-deflate_error.pcap", &[("deflate_error", 1)]),
    // 80 MiB of "A" deflated to 81540 bytes: over the 64 MiB inflate cap.
    (
        "bad-decompression_limit_exceeded.pcap",
        &[("decompression_limit_exceeded", 1)],
    ),
    (
        "bad-extension_not_offered.pcap",
        &[("extension_not_offered", 1)],
    ),
    // The raw peer finished its fragmented ping with a continuation frame,
    // which then continues nothing.
    (
        "bad-fragmented_control_frame.pcap",
        &[
            ("fragmented_control_frame", 1),
            ("continuation_without_start", 1),
        ],
    ),
    // Without --max-payload only the cut-off frame is worth saying.
    (
        "bad-frame_exceeds_limit.pcap",
        &[("incomplete_frame_at_end", 1)],
    ),
    (
        "bad-handshake_not_captured.pcap",
        &[("handshake_not_captured", 1)],
    ),
    ("bad-handshake_rejected.pcap", &[("handshake_rejected", 1)]),
    (
        "bad-http_in_websocket_stream.pcap",
        &[("http_in_websocket_stream", 1), ("resynchronized", 1)],
    ),
    (
        "bad-incomplete_frame_at_end.pcap",
        &[("incomplete_frame_at_end", 1)],
    ),
    ("bad-invalid_close_code.pcap", &[("invalid_close_code", 1)]),
    ("bad-invalid_utf8.pcap", &[("invalid_utf8", 1)]),
    ("bad-length_msb_set.pcap", &[("length_msb_set", 1)]),
    (
        "bad-masked_server_frame.pcap",
        &[("masked_server_frame", 1)],
    ),
    ("bad-non_minimal_length.pcap", &[("non_minimal_length", 1)]),
    ("bad-reserved_opcode.pcap", &[("reserved_opcode", 1)]),
    // The continuation's payload with RSV1 does not inflate either.
    (
        "bad-rsv1_on_continuation.pcap",
        &[("rsv1_on_continuation", 1), ("deflate_error", 1)],
    ),
    (
        "bad-rsv1_on_control_frame.pcap",
        &[("rsv1_on_control_frame", 1)],
    ),
    (
        "bad-retransmission_conflict.pcap",
        &[("retransmission_conflict", 1)],
    ),
    (
        "bad-rsv_bits_without_extension.pcap",
        &[("rsv_bits_without_extension", 1)],
    ),
    (
        "bad-subprotocol_not_offered.pcap",
        &[("subprotocol_not_offered", 1)],
    ),
    (
        "bad-tls_in_websocket_stream.pcap",
        &[("tls_in_websocket_stream", 1)],
    ),
    (
        "bad-tls_on_plaintext_port.pcap",
        &[("tls_on_plaintext_port", 1)],
    ),
    (
        "bad-unmasked_client_frame.pcap",
        &[("unmasked_client_frame", 1)],
    ),
    (
        "bad-unparseable_frame_data.pcap",
        &[("unparseable_frame_data", 1)],
    ),
    (
        "bad-upgrade_header_missing.pcap",
        &[("upgrade_header_missing", 1)],
    ),
    // Both legs: nginx's HTTP/1.0 request to the backend, the backend's 505
    // and the 505 relayed to the client.
    (
        "nginx-http10.pcap",
        &[("http_1_0_upgrade", 1), ("handshake_rejected", 2)],
    ),
    (
        "nginx-no-upgrade-headers.pcap",
        &[
            ("upgrade_header_missing", 1),
            ("connection_header_missing", 1),
            ("handshake_rejected", 2),
        ],
    ),
    // HAProxy lowercases the header names it forwards (both legs); the
    // timeout closes both legs without a WebSocket close, which is a
    // diagnosis (closed_without_close_frame), not a finding.
    ("haproxy-ok.pcap", &[]),
    ("haproxy-timeout.pcap", &[]),
    ("nginx-ok.pcap", &[]),
    ("node-deflate.pcapng", &[]),
    ("node-echo.pcap", &[]),
    // An identical retransmission is not worth a finding.
    ("ok-retransmission.pcap", &[]),
    ("ok-utf8-split.pcap", &[]),
    ("py-any-sll.pcap", &[]),
    ("py-any-sll2.pcap", &[]),
    ("py-echo.pcap", &[]),
    ("py-echo.pcap.gz", &[]),
    ("py-ipv6.pcap", &[]),
    ("py-nano.pcap", &[]),
    ("py-small-mss.pcap", &[]),
    // One finding per frame whose payload the 300-byte snaplen cut (6) and
    // a tally per direction (2).
    ("py-snaplen.pcap", &[("truncated_payload", 8)]),
    ("py-two-conns.pcap", &[]),
    // Issue 9 captures: more implementations and a third proxy, clean.
    ("aiohttp-echo.pcap", &[]),
    ("aiohttp-node.pcap", &[]),
    ("aiohttp-tungstenite.pcap", &[]),
    ("tungstenite-echo.pcap", &[]),
    ("tungstenite-py.pcap", &[]),
    ("apache-ok.pcap", &[]),
    // Apache without the upgrade: the backend leg's request lost Upgrade
    // and Connection, the backend answered 426 and Apache passed it on.
    (
        "apache-no-wstunnel.pcap",
        &[
            ("connection_header_missing", 1),
            ("handshake_rejected", 2),
            ("upgrade_header_missing", 1),
        ],
    ),
    ("apache-timeout.pcap", &[]),
    // Headers-only: every cut payload is said once on its frame; the
    // connection's tally per direction too.
    ("snap96-echo.pcap", &[("truncated_payload", 8)]),
    ("snap200-nginx.pcap", &[("truncated_payload", 16)]),
    // Not even the TCP header survives -s 64 here: nothing to read.
    ("snap64-echo.pcap", &[]),
    ("keepalive-upgrade.pcap", &[]),
    ("keepalive-proxy.pcap", &[]),
    (
        "bad-rsv_all_on_ping.pcap",
        &[("rsv_bits_without_extension", 1)],
    ),
    (
        "bad-unmasked_in_flight.pcap",
        &[("unmasked_client_frame", 1)],
    ),
    ("ok-empty-close.pcap", &[]),
    ("server-1011.pcap", &[]),
    ("server-1008.pcap", &[]),
    ("server-aiohttp-fail.pcap", &[]),
    ("cut-after-frame.pcap", &[]),
    // Pairs for `wscap diff` (tests/diff.rs compares them).
    ("diff-deflate-before.pcap", &[]),
    ("diff-deflate-after.pcap", &[]),
    ("diff-idle-timeout-before.pcap", &[]),
    ("diff-idle-timeout-after.pcap", &[]),
    (
        "diff-nginx-fix-before.pcap",
        &[("handshake_rejected", 4), ("http_1_0_upgrade", 2)],
    ),
    ("diff-nginx-fix-after.pcap", &[]),
    ("diff-proxy-switch-before.pcap", &[]),
    ("diff-proxy-switch-after.pcap", &[]),
    ("diff-size-limit-before.pcap", &[]),
    ("diff-size-limit-after.pcap", &[]),
    ("diff-rotated.pcap", &[]),
    ("diff-rotated-part0.pcap", &[]),
    ("diff-rotated-part1.pcap", &[]),
    ("diff-rotated-part2.pcap", &[("handshake_not_captured", 1)]),
    // WebSocket inside TLS: nothing can be read, so nothing is found (the
    // connection is marked `tls` instead).
    ("tls-wss.pcap", &[]),
];

#[test]
fn testdata_findings_are_exact() {
    for (name, want) in EXPECTED {
        let run = wscap(&[], &testdata(name));
        let want: BTreeMap<String, u64> = want.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        assert_eq!(findings_by_code(&run), want, "{name}");
        let errors = want.keys().any(|c| {
            !matches!(
                c.as_str(),
                // info and warning codes (the default --fail-on is error)
                "incomplete_frame_at_end"
                    | "truncated_payload"
                    | "resynchronized"
                    | "handshake_not_captured"
                    | "capture_gap"
                    | "retransmission_conflict"
                    | "decompression_limit_exceeded"
            )
        });
        assert_eq!(run.status, i32::from(errors), "{name}: exit status");
    }
    // Every capture in the folder is listed.
    let listed = EXPECTED.len();
    assert_eq!(captures_in(&testdata("")).len(), listed);
}

#[test]
fn findings_name_their_frame_and_rule() {
    let run = wscap(&[], &testdata("bad-unmasked_client_frame.pcap"));
    let frame = run
        .records
        .iter()
        .find(|r| r["type"] == "frame" && r["findings"].as_array().is_some_and(|f| !f.is_empty()))
        .expect("a frame with a finding");
    assert_eq!(frame["dir"], "c2s");
    assert_eq!(frame["masked"], false);
    let f = &frame["findings"][0];
    assert_eq!(f["code"], "unmasked_client_frame");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["rfc"], "RFC 6455 5.1");

    let run = wscap(&[], &testdata("bad-bad_accept_key.pcap"));
    let conn = run
        .records
        .iter()
        .find(|r| r["type"] == "connection")
        .unwrap();
    let f = &conn["findings"][0];
    assert_eq!(f["code"], "bad_accept_key");
    assert!(
        f["detail"].as_str().unwrap().starts_with("expected="),
        "{f}"
    );
    assert!(f["packet"].as_u64().is_some());
    assert_eq!(conn["negotiated"]["accept_ok"], false);
}

fn public_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    d.is_dir().then_some(d)
}

/// The third-party captures: every frame tshark shows, none it does not,
/// the violations their own projects' baselines name, and no error on the
/// captures whose baselines show clean traffic.
#[test]
fn public_captures_agree_with_tshark_and_baselines() {
    let Some(dir) = public_dir() else {
        eprintln!("../shared/captures-public not found: skipped");
        return;
    };
    let expected: BTreeMap<&str, &str> = [
        (
            "zeek__oversized-close-frame.pcapng",
            "control_frame_too_long",
        ),
        ("zeek__wrong-accept-header.pcap", "bad_accept_key"),
        (
            "suricata-verify__websocket-ping__input.pcap",
            "unmasked_client_frame",
        ),
        (
            "suricata-verify__websocket-control-frag__input.pcap",
            "bad_websocket_key",
        ),
    ]
    .into();
    let clean = [
        "zeek__broker-websocket.pcap",
        "zeek__jupyter-websocket.pcap",
        "zeek__message-too-big-status.pcap",
        "zeek__reply-ping-separate.pcap",
        "zeek__reply-ping-coalesced.pcap",
        "zeek__two-binary-fragments.pcap",
        "zeek__wstunnel-http.pcap",
        "zeek__wstunnel-https.pcap",
        "suricata-verify__websocket__basic_websockets.pcap",
        "suricata-verify__websocket-compressed__example_websocket.pcap",
        "zeek__fragmented-http-reply.pcap",
    ];
    let mut total = 0;
    for cap in captures_in(&dir) {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        let tsv = dir.join(format!("{name}.tshark.tsv"));
        if !tsv.exists() {
            continue;
        }
        // tshark itself needed a decode-as for the capture that starts mid-stream.
        let args: &[&str] = if name == "ndpi__websocket.pcap" {
            &["--port", "12345"]
        } else {
            &[]
        };
        let run = wscap(args, &cap);
        let (want, got) = (tshark_frames(&tsv), wscap_frames(&run.records));
        assert_eq!(
            (minus(&want, &got), minus(&got, &want)),
            (0, 0),
            "{name}: frames only tshark / only wscap"
        );
        total += want.values().sum::<u32>();
        let codes = findings_by_code(&run);
        if let Some(code) = expected.get(name.as_str()) {
            assert!(
                codes.contains_key(*code),
                "{name}: {code} missing from {codes:?}"
            );
        }
        if clean.contains(&name.as_str()) {
            let errors: Vec<_> = run
                .records
                .iter()
                .flat_map(|r| r["findings"].as_array().cloned().unwrap_or_default())
                .filter(|f| f["severity"] == "error")
                .collect();
            assert!(
                errors.is_empty(),
                "{name}: errors on clean traffic: {errors:?}"
            );
        }
    }
    assert_eq!(total, 328);
}

/// The mid-stream nDPI capture is recognised without --port too.
#[test]
fn midstream_capture_recognised_without_port() {
    let Some(dir) = public_dir() else { return };
    let run = wscap(&[], &dir.join("ndpi__websocket.pcap"));
    let conn = run
        .records
        .iter()
        .find(|r| r["type"] == "connection")
        .unwrap();
    assert_eq!(conn["detected_by"], "heuristic");
    assert_eq!(
        conn["frames"]["c2s"].as_u64().unwrap() + conn["frames"]["s2c"].as_u64().unwrap(),
        5
    );
}

/// The diagnosis names the cause each capture was made to show.
#[test]
fn diagnoses_name_the_cause() {
    let cases: &[(&str, &[&str])] = &[
        ("nginx-http10.pcap", &["proxy_not_websocket_aware"]),
        (
            "nginx-no-upgrade-headers.pcap",
            &["proxy_not_websocket_aware"],
        ),
        ("haproxy-timeout.pcap", &["closed_without_close_frame"]),
        (
            "bad-http_in_websocket_stream.pcap",
            &["http_in_upgraded_socket"],
        ),
        ("bad-unmasked_client_frame.pcap", &["wrong_masking"]),
        ("bad-masked_server_frame.pcap", &["wrong_masking"]),
        ("bad-tls_on_plaintext_port.pcap", &["tls_misplaced"]),
        ("bad-tls_in_websocket_stream.pcap", &["tls_misplaced"]),
        ("bad-invalid_utf8.pcap", &["binary_in_text_frame"]),
        (
            "bad-decompression_limit_exceeded.pcap",
            &["message_too_big"],
        ),
        ("bad-bad_accept_key.pcap", &["handshake_answer_broken"]),
        ("bad-handshake_rejected.pcap", &["handshake_refused"]),
        ("bad-reserved_opcode.pcap", &["framing_violation"]),
        ("bad-deflate_error.pcap", &["compression_mismatch"]),
        (
            "bad-retransmission_conflict.pcap",
            &["conflicting_retransmission"],
        ),
        ("bad-capture_gap.pcap", &["incomplete_capture"]),
        ("py-echo.pcap", &[]),
        ("nginx-ok.pcap", &[]),
        ("apache-ok.pcap", &[]),
        (
            "apache-no-wstunnel.pcap",
            &["proxy_not_websocket_aware", "handshake_refused"],
        ),
        ("apache-timeout.pcap", &["closed_without_close_frame"]),
        ("ok-empty-close.pcap", &[]),
        ("server-1011.pcap", &["closed_with_error_code"]),
        ("server-1008.pcap", &["closed_with_error_code"]),
        ("cut-after-frame.pcap", &["closed_without_close_frame"]),
        ("bad-rsv_all_on_ping.pcap", &["framing_violation"]),
        ("bad-unmasked_in_flight.pcap", &["wrong_masking"]),
        ("keepalive-upgrade.pcap", &[]),
        ("snap96-echo.pcap", &["incomplete_capture"]),
    ];
    for (name, want) in cases {
        let run = wscap(&[], &testdata(name));
        let mut causes: Vec<String> = run
            .records
            .iter()
            .filter(|r| r["type"] == "connection")
            .flat_map(|r| r["diagnosis"].as_array().cloned().unwrap_or_default())
            .map(|d| d["cause"].as_str().unwrap().to_string())
            .collect();
        causes.sort();
        causes.dedup();
        for w in *want {
            assert!(
                causes.iter().any(|c| c == w),
                "{name}: {w} not in {causes:?}"
            );
        }
        if want.is_empty() {
            assert!(causes.is_empty(), "{name}: unexpected {causes:?}");
        }
    }
    // Both legs of the nginx HTTP/1.0 capture are tied, and the client's
    // leg names the backend leg as where the cause shows.
    let run = wscap(&[], &testdata("nginx-http10.pcap"));
    let conns: Vec<&Value> = run
        .records
        .iter()
        .filter(|r| r["type"] == "connection")
        .collect();
    assert!(conns.iter().all(|c| c["other_leg"].is_u64()));
    let client_leg = conns.iter().find(|c| c["conn"] == 0).unwrap();
    let proxy = client_leg["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cause"] == "proxy_not_websocket_aware")
        .expect("carried over from the backend leg");
    assert_eq!(proxy["hop"], "backend-leg");
}

/// The summary says each code with the severity it was reported with: the
/// unmasked client frames wstunnel's server tolerates are warnings there too.
#[test]
fn summary_rows_show_the_reported_severity() {
    let Some(dir) = public_dir() else { return };
    let cap = dir.join("zeek__wstunnel-http.pcap");
    let run = wscap(&[], &cap);
    let summary = run.records.last().unwrap();
    assert_eq!(
        summary["findings_by_severity_and_code"],
        serde_json::json!({"warning": {"unmasked_client_frame": 2}})
    );
    let text = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .args(["analyze", "--format", "summary", "--color", "never"])
        .arg(&cap)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("warning unmasked_client_frame"), "{text}");
}

/// The connection record of a capture with one connection (or the first).
fn first_conn(run: &Run) -> &Value {
    run.records
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("a connection record")
}

fn frames_of(run: &Run) -> Vec<&Value> {
    run.records
        .iter()
        .filter(|r| r["type"] == "frame")
        .collect()
}

/// Issue 9 on real captures: what each was made to show.
#[test]
fn captures_people_take() {
    // tcpdump -s 96: both heads cut, every frame header found.
    let run = wscap(&[], &testdata("snap96-echo.pcap"));
    let conn = first_conn(&run);
    assert_eq!(conn["detected_by"], "handshake");
    assert_eq!(conn["response"]["status"], 101);
    assert_eq!(
        (
            conn["frames"]["c2s"].as_u64(),
            conn["frames"]["s2c"].as_u64()
        ),
        (Some(5), Some(5))
    );
    let cut: Vec<u64> = frames_of(&run)
        .iter()
        .filter_map(|f| f["payload_missing"].as_u64())
        .collect();
    assert_eq!(cut.len(), 6, "the 200, 5000 and 70000-byte frames each way");
    // Keep-alive requests before the upgrade on the same connection.
    let run = wscap(&[], &testdata("keepalive-upgrade.pcap"));
    let conn = first_conn(&run);
    assert_eq!(conn["request"]["target"], "/ws");
    assert_eq!(frames_of(&run).len(), 8);
    // A ping breaking three rules at once is a frame with its violation.
    let run = wscap(&[], &testdata("bad-rsv_all_on_ping.pcap"));
    let ping = frames_of(&run)
        .into_iter()
        .find(|f| f["opcode"] == "ping")
        .expect("the ping is a frame");
    assert_eq!(ping["findings"][0]["code"], "rsv_bits_without_extension");
    // Server frames in flight are no reaction; its 1002 is: an error.
    let run = wscap(&[], &testdata("bad-unmasked_in_flight.pcap"));
    assert_eq!(run.status, 1);
    let bad = frames_of(&run)
        .into_iter()
        .find(|f| f["findings"].as_array().is_some_and(|a| !a.is_empty()))
        .unwrap();
    assert_eq!(bad["findings"][0]["severity"], "error");
    // Closes that say a failure, and cuts, diagnosed as what they are.
    let run = wscap(&[], &testdata("server-1011.pcap"));
    let summary = first_conn(&run)["diagnosis"][0]["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        summary.starts_with("the server closed the connection with 1011"),
        "{summary}"
    );
    let run = wscap(&[], &testdata("cut-after-frame.pcap"));
    let d = &first_conn(&run)["diagnosis"][0];
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .contains("right after its last frame"),
        "{d}"
    );
    assert!(!d["fix"][0].as_str().unwrap().contains("ping"), "{d}");
    let run = wscap(&[], &testdata("apache-timeout.pcap"));
    let d = &first_conn(&run)["diagnosis"][0];
    assert!(
        d["summary"].as_str().unwrap().contains("2 s of silence"),
        "{d}"
    );
}

/// A wss:// capture: the connection is marked TLS with what its hellos
/// show, counted in the summary, and the summary text says why nothing
/// was read. A TLS client answered in plaintext is not marked.
#[test]
fn tls_connections_are_marked_and_counted() {
    let run = wscap(&[], &testdata("tls-wss.pcap"));
    let conn = first_conn(&run);
    assert_eq!(conn["websocket"], false);
    let tls = &conn["tls"];
    assert_eq!(tls["packet"], 4, "{tls}");
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["client_version"], "TLS 1.3");
    assert_eq!(tls["sni"], "wscap.test");
    assert_eq!(tls["alpn"], serde_json::json!(["http/1.1"]));
    let summary = run.records.last().unwrap();
    assert_eq!(summary["tls_connections"], 1);
    assert_eq!(run.status, 0);

    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .args(["--format", "summary"])
        .arg(testdata("tls-wss.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1 TLS connection: WebSocket inside TLS cannot be read"),
        "{text}"
    );
    assert!(text.contains("key log"), "{text}");

    let misplaced = wscap(&[], &testdata("bad-tls_on_plaintext_port.pcap"));
    assert!(first_conn(&misplaced).get("tls").is_none());
    assert_eq!(misplaced.records.last().unwrap()["tls_connections"], 0);
    // Connections that are not TLS do not carry the field at all.
    let plain = wscap(&[], &testdata("py-echo.pcap"));
    assert!(first_conn(&plain).get("tls").is_none());
}
