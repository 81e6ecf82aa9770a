//! The command line end to end: the built binary on the captures in
//! testdata/captures (and a few built here), checking each output format,
//! the filters, the exit statuses, merging several files, standard input
//! and the completions.

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use wscap::synth::{Link, Side, TcpConversation, pcap_bytes};

fn cap(name: &str) -> String {
    capture(name).to_string_lossy().into_owned()
}

/// Lines wider than 80 columns, or holding an escape sequence.
fn check_terminal_text(text: &str, what: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{what}: line over 80 columns ({}): {line:?}",
            line.chars().count()
        );
    }
    assert!(!text.contains('\x1b'), "{what}: escape sequence in {text}");
}

// ---------------------------------------------------------------------------
// Synthetic captures

const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A server text frame carrying `msg`, masked (a violation) if asked.
fn server_frame(msg: &[u8], masked: bool) -> Vec<u8> {
    assert!(msg.len() < 126);
    let mut f = vec![0x81, msg.len() as u8];
    if masked {
        let key = [1u8, 2, 3, 4];
        f[1] |= 0x80;
        f.extend_from_slice(&key);
        f.extend(msg.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(msg);
    }
    f
}

/// One WebSocket connection whose server sends `frames` text frames, one a
/// packet; the frame at `bad` (if any) is masked.
fn long_connection(frames: usize, bad: Option<usize>) -> Vec<u8> {
    let mut c = TcpConversation::new(
        Link::Ethernet,
        "10.0.0.1:50000".parse().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
    );
    c.handshake()
        .send(Side::Client, REQUEST.as_bytes())
        .send(Side::Server, RESPONSE.as_bytes());
    for i in 0..frames {
        let msg = format!("message {i}");
        c.send(Side::Server, &server_frame(msg.as_bytes(), Some(i) == bad));
    }
    c.close(Side::Client);
    pcap_bytes(u32::from(Link::Ethernet.linktype().0), c.packets())
}

// ---------------------------------------------------------------------------
// Table

#[test]
fn table_shows_header_rows_and_summary() {
    let o = run(&["--format", "table", &cap("py-echo.pcap")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t = &o.stdout;
    check_terminal_text(t, "py-echo table");
    let first = t.lines().next().unwrap();
    assert!(first.starts_with("conn 0  127.0.0.1:"), "{first}");
    assert!(first.contains(" → 127.0.0.1:18001"), "{first}");
    assert!(
        t.contains("  GET /echo HTTP/1.1 → 101 Switching Protocols"),
        "{t}"
    );
    assert!(t.contains("by handshake"), "{t}");
    assert!(t.contains("frames 10→ 7←"), "{t}");
    let header = t
        .lines()
        .find(|l| l.contains("idx"))
        .expect("column header");
    for col in [
        "idx",
        "packet",
        "since conn",
        "FIN",
        "RSV",
        "opcode",
        "MASK",
        "length",
    ] {
        assert!(header.contains(col), "{col} missing from {header}");
    }
    // 17 frames, each a row with its arrow; first client row: index 0,
    // packet 8, masked 13-byte text.
    let rows: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("  → ") || l.starts_with("  ← "))
        .collect();
    assert_eq!(rows.len(), 17, "{t}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        cols[..9],
        ["→", "0", "8", cols[3], "1", "000", "text", "1", "13"]
    );
    assert!(cols[3].starts_with("+0.00"), "relative time {}", cols[3]);
    assert!(rows.iter().any(|r| r.contains("cont")), "continuation rows");
    assert!(rows.last().unwrap().contains("close") && rows.last().unwrap().contains("1000 done"));
    assert!(t.contains("\nsummary\n"), "{t}");
    assert!(t.contains("frames       17"), "{t}");
    assert!(t.contains("findings     none"), "{t}");
}

#[test]
fn table_of_every_capture_fits_80_columns_without_escapes() {
    for c in all_captures() {
        let p = c.to_string_lossy();
        let o = run(&["--format", "table", &p]);
        assert!(o.code == 0 || o.code == 1, "{p}: {}", o.stderr);
        assert!(o.stdout.contains("\nsummary\n") || o.stdout.starts_with("summary\n"));
        check_terminal_text(&o.stdout, &p);
        // Also with every frame shown.
        let o = run(&["--format", "table", "-a", &p]);
        check_terminal_text(&o.stdout, &p);
    }
}

#[test]
fn table_shows_findings_and_diagnosis() {
    let o = run(&["--format", "table", &cap("bad-unmasked_client_frame.pcap")]);
    assert_eq!(o.code, 1);
    let t = &o.stdout;
    // The finding under its row, with the packet as a Wireshark filter.
    let lines: Vec<&str> = t.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("↳ error   unmasked_client_frame  frame.number == 8"))
        .expect("finding line");
    assert!(lines[at - 1].starts_with("  →   0      8 "), "{t}");
    assert!(lines[at + 1].contains("without MASK"), "{t}");
    assert!(t.contains("diagnosis: wrong_masking"), "{t}");
    assert!(t.contains("    fix: "), "{t}");

    let o = run(&["--format", "table", &cap("nginx-http10.pcap")]);
    let t = &o.stdout;
    assert!(
        t.contains("HTTP/1.0 → 505 HTTP Version Not Supported"),
        "{t}"
    );
    assert!(t.contains("connection findings:"), "{t}");
    assert!(t.contains("http_1_0_upgrade  frame.number == 9"), "{t}");
    assert!(t.contains("proxy_http_version"), "{t}");
    check_terminal_text(t, "nginx-http10");
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let c = cap("bad-unmasked_client_frame.pcap");
    let always = run(&["--format", "table", "--color", "always", &c]);
    assert!(
        always.stdout.contains("\x1b[31munmasked_client_fr"),
        "{}",
        always.stdout
    );
    // Colour codes do not count as columns.
    let visible = always.stdout.replace("\x1b[0m", "");
    for l in visible.lines() {
        let plain: String = l
            .split('\x1b')
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    s
                } else {
                    s.split_once('m').map_or("", |x| x.1)
                }
            })
            .collect();
        assert!(plain.chars().count() <= 80, "{plain}");
    }
    // `always` wins over NO_COLOR (no-color.org: user flags override it).
    let o = run_env(
        &["--format", "table", "--color", "always", &c],
        None,
        &[("NO_COLOR", "1")],
    );
    assert!(o.stdout.contains('\x1b'));
    for args in [vec!["--color", "never"], vec!["--color", "auto"], vec![]] {
        let mut a = vec!["--format", "table"];
        a.extend(args);
        a.push(&c);
        let o = run(&a);
        assert!(!o.stdout.contains('\x1b'), "{a:?}");
    }
    // The summary format is coloured the same way.
    let o = run(&["--format", "summary", "--color", "always", &c]);
    assert!(o.stdout.contains("\x1b[31m"), "{}", o.stdout);
}

#[test]
fn table_elides_long_connections_and_keeps_bad_frames() {
    let dir = TempDir::new("elide");
    let path = dir.path("long.pcap");
    std::fs::write(&path, long_connection(200, Some(100))).unwrap();
    let p = path.to_string_lossy();

    let o = run(&["--format", "table", &p]);
    let t = &o.stdout;
    check_terminal_text(t, "long");
    let rows = t.lines().filter(|l| l.starts_with("  ← ")).count();
    // 20 first + the bad one + 5 last.
    assert_eq!(rows, 26, "{t}");
    assert!(
        t.contains("… 80 frames not shown (--all-frames shows them) …"),
        "{t}"
    );
    assert!(t.contains("… 94 frames not shown"), "{t}");
    assert!(t.contains("masked_server_frame"), "{t}");
    let lines: Vec<&str> = t.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("↳ error   masked_server_frame"))
        .expect("finding of the bad frame");
    let bad = lines[at - 1];
    assert_eq!(bad.split_whitespace().nth(1), Some("100"), "{bad}");

    for flag in ["-a", "--all-frames"] {
        let o = run(&["--format", "table", flag, &p]);
        let rows = o.stdout.lines().filter(|l| l.starts_with("  ← ")).count();
        assert_eq!(rows, 200);
        assert!(!o.stdout.contains("not shown"));
    }
}

// ---------------------------------------------------------------------------
// JSON Lines, JSON, summary

#[test]
fn jsonl_has_every_record_type() {
    let o = run(&["--format", "jsonl", &cap("py-echo.pcap")]);
    assert_eq!(o.code, 0);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let frames = o.of_type("frame");
    assert_eq!(frames.len(), 17);
    for f in &frames {
        for k in [
            "conn",
            "dir",
            "index",
            "packet",
            "ts",
            "opcode",
            "payload_len",
            "findings",
        ] {
            assert!(f.get(k).is_some(), "frame without {k}: {f}");
        }
    }
    let conns = o.of_type("connection");
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["request"]["target"], "/echo");
    assert_eq!(conns[0]["frames"]["c2s"], 10);
    let s = o.summary();
    assert_eq!(s["frames"], 17);
    assert_eq!(s["websocket_connections"], 1);
    // Not a terminal: jsonl is the default.
    let d = run(&[&cap("py-echo.pcap")]);
    assert_eq!(d.of_type("frame"), frames);
    // `analyze` and the shorthand are the same command.
    let a = run(&["analyze", &cap("py-echo.pcap")]);
    assert_eq!(a.of_type("frame"), frames);
}

/// A summary without what changes between two runs.
fn stable_summary(mut s: Value) -> Value {
    let o = s.as_object_mut().unwrap();
    o.remove("elapsed_ms");
    o.remove("files");
    s
}

#[test]
fn json_is_one_document_with_the_same_records() {
    for name in [
        "py-echo.pcap",
        "nginx-http10.pcap",
        "bad-unmasked_client_frame.pcap",
    ] {
        let jl = run(&["--format", "jsonl", &cap(name)]);
        let j = run(&["--format", "json", &cap(name)]);
        assert_eq!(jl.code, j.code);
        let doc: Value = serde_json::from_str(&j.stdout).expect("one JSON document");
        let recs = doc["records"].as_array().expect("records array");
        let expect: Vec<Value> = jl
            .records()
            .into_iter()
            .filter(|r| r["type"] != "summary")
            .collect();
        assert_eq!(recs, &expect, "{name}");
        assert!(recs.iter().any(|r| r["type"] == "frame") || name.starts_with("nginx"));
        assert!(recs.iter().any(|r| r["type"] == "connection"));
        assert_eq!(doc["summary"]["type"], "summary");
        assert_eq!(
            stable_summary(doc["summary"].clone()),
            stable_summary(jl.summary())
        );
    }
}

#[test]
fn summary_format_is_text() {
    let o = run(&["--format", "summary", &cap("nginx-no-upgrade-headers.pcap")]);
    assert_eq!(o.code, 1);
    let t = &o.stdout;
    check_terminal_text(t, "summary");
    assert!(t.starts_with("summary\n"), "{t}");
    assert!(t.contains("packets      20 read, 20 TCP"), "{t}");
    assert!(t.contains("connections  2 TCP, 0 WebSocket"), "{t}");
    assert!(t.contains("findings     4 errors"), "{t}");
    assert!(t.contains("handshake_rejected"), "{t}");
    assert!(t.contains("diagnoses"), "{t}");
    assert!(t.contains("    proxy_not_websocket_aware ("), "{t}");
    assert!(!t.lines().any(|l| l.starts_with('{')), "no JSON: {t}");
    assert!(!t.contains("idx"), "no frame rows: {t}");
}

// ---------------------------------------------------------------------------
// Filters

#[test]
fn conn_filter() {
    let all = run(&[&cap("py-two-conns.pcap")]);
    let one = run(&["--conn", "1", &cap("py-two-conns.pcap")]);
    let recs = one.records();
    assert!(recs.len() > 2);
    for r in &recs[..recs.len() - 1] {
        assert_eq!(r["conn"], 1, "{r}");
    }
    let expect: Vec<Value> = all
        .records()
        .into_iter()
        .filter(|r| r["conn"] == 1)
        .collect();
    assert_eq!(recs[..recs.len() - 1], expect[..]);
    // The summary covers the whole capture, and names the filter.
    let mut summary = one.summary();
    assert_eq!(summary["filter"]["flags"], "--conn 1");
    assert_eq!(summary["filter"]["connections_shown"], 1);
    summary.as_object_mut().unwrap().remove("filter");
    assert_eq!(stable_summary(summary), stable_summary(all.summary()));
    // Repeated and comma-separated.
    let two = run(&["--conn", "0", "--conn", "2", &cap("py-two-conns.pcap")]);
    let list = run(&["--conn", "0,2", &cap("py-two-conns.pcap")]);
    assert_eq!(two.of_type("connection").len(), 2);
    assert_eq!(two.of_type("frame"), list.of_type("frame"));
    assert!(two.of_type("frame").iter().all(|f| f["conn"] == 0));
    // An unknown connection gives only the summary.
    let none = run(&["--conn", "99", &cap("py-two-conns.pcap")]);
    assert_eq!(none.records().len(), 1);
}

#[test]
fn only_findings_and_severity_filters() {
    let c = cap("py-snaplen.pcap");
    let all = run(&[&c]);
    let with = all
        .of_type("frame")
        .into_iter()
        .filter(|f| !f["findings"].as_array().unwrap().is_empty())
        .count();
    assert!(with > 0 && with < all.of_type("frame").len());

    let only = run(&["--only-findings", &c]);
    let frames = only.of_type("frame");
    assert_eq!(frames.len(), with);
    assert!(
        frames
            .iter()
            .all(|f| !f["findings"].as_array().unwrap().is_empty())
    );
    assert_eq!(
        only.of_type("connection").len(),
        1,
        "connection records are kept"
    );
    assert_eq!(
        stable_summary(only.summary()),
        stable_summary(all.summary())
    );

    // py-snaplen has only info findings: at warning they are hidden ...
    let warn = run(&["--severity", "warning", &c]);
    assert_eq!(warn.of_type("frame").len(), all.of_type("frame").len());
    for r in warn.records() {
        if r["type"] != "summary" {
            assert_eq!(r["findings"], serde_json::json!([]), "{r}");
        }
    }
    let conn = &warn.of_type("connection")[0];
    assert_eq!(conn["findings_by_code"], serde_json::json!({}));
    // ... so with --only-findings no frame is left.
    let none = run(&["--only-findings", "--severity", "warning", &c]);
    assert!(none.of_type("frame").is_empty());
    assert_eq!(none.of_type("connection").len(), 1);
    assert_eq!(none.summary()["findings_by_severity"]["info"], 8);

    // Errors pass --severity error.
    let bad = run(&[
        "--only-findings",
        "--severity",
        "error",
        &cap("bad-invalid_utf8.pcap"),
    ]);
    let frames = bad.of_type("frame");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["findings"][0]["code"], "invalid_utf8");

    // Filters apply to the table too.
    let t = run(&[
        "--format",
        "table",
        "--only-findings",
        &cap("bad-invalid_utf8.pcap"),
    ]);
    let rows = t
        .stdout
        .lines()
        .filter(|l| l.starts_with("  → ") || l.starts_with("  ← "));
    assert_eq!(rows.count(), 1, "{}", t.stdout);
}

// ---------------------------------------------------------------------------
// Options passed to the analysis

#[test]
fn max_payload_sets_the_frame_limit() {
    let c = cap("bad-frame_exceeds_limit.pcap");
    let codes = |o: &Out| -> Vec<String> {
        o.of_type("frame")
            .iter()
            .flat_map(|f| f["findings"].as_array().unwrap().clone())
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let without = run(&[&c]);
    assert!(!codes(&without).contains(&"frame_exceeds_limit".to_owned()));
    for size in ["1MiB", "1048576", "1m", "1MB", "64KiB"] {
        let o = run(&["--max-payload", size, &c]);
        assert!(
            codes(&o).contains(&"frame_exceeds_limit".to_owned()),
            "--max-payload {size}: {:?}",
            codes(&o)
        );
    }
    let big = run(&["--max-payload", "16MiB", &c]);
    assert!(!codes(&big).contains(&"frame_exceeds_limit".to_owned()));
}

#[test]
fn payload_preview_flags() {
    let c = cap("py-echo.pcap");
    // The first frame is the client's text "Hello, wscap!".
    let first = |args: &[&str]| -> Value {
        let mut a = args.to_vec();
        a.push(&c);
        let o = run(&a);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert_eq!(o.of_type("frame").len(), 17);
        o.of_type("frame")[0]["preview"].clone()
    };
    assert_eq!(
        first(&[]),
        "Hello, wscap!",
        "a short text preview by default"
    );
    assert_eq!(first(&["--payload", "text"]), "Hello, wscap!");
    assert_eq!(first(&["--payload-bytes", "5"]), "Hello");
    assert_eq!(
        first(&["--payload", "hex", "--payload-bytes", "4"]),
        "48656c6c"
    );
    assert_eq!(
        first(&["--payload", "base64", "--payload-bytes", "1KiB"]),
        "SGVsbG8sIHdzY2FwIQ=="
    );
    assert_eq!(first(&["--payload", "none"]), Value::Null);
    assert_eq!(run(&["--payload", "binary", &c]).code, 2);
    assert_eq!(run(&["--payload-bytes", "lots", &c]).code, 2);
}

// ---------------------------------------------------------------------------
// Exit statuses and errors

#[test]
fn exit_statuses() {
    assert_eq!(run(&[&cap("py-echo.pcap")]).code, 0);
    assert_eq!(run(&[&cap("bad-unmasked_client_frame.pcap")]).code, 1);
    // Only info findings: 0 by default, 1 with --fail-on info.
    assert_eq!(run(&[&cap("py-snaplen.pcap")]).code, 0);
    assert_eq!(run(&["--fail-on", "info", &cap("py-snaplen.pcap")]).code, 1);
    assert_eq!(
        run(&["--fail-on", "warning", &cap("py-snaplen.pcap")]).code,
        0
    );
    // --fail-on judges the whole capture, whatever the filters show.
    let o = run(&["--conn", "99", &cap("bad-unmasked_client_frame.pcap")]);
    assert_eq!(o.code, 1);
    let o = run(&[
        "--severity",
        "error",
        "--fail-on",
        "info",
        &cap("py-snaplen.pcap"),
    ]);
    assert_eq!(o.code, 1);
}

#[test]
fn damaged_input_exits_2_and_reports_what_was_read() {
    let dir = TempDir::new("damaged");
    let whole = std::fs::read(capture("py-echo.pcap")).unwrap();
    let cut = dir.path("cut.pcap");
    // Inside the 70000-byte frame's second segment: a record cut short.
    std::fs::write(&cut, &whole[..100_000]).unwrap();
    for format in ["jsonl", "json", "table", "summary"] {
        let o = run(&["--format", format, &cut.to_string_lossy()]);
        assert_eq!(o.code, 2, "{format}: {}", o.stderr);
        assert!(o.stderr.starts_with("wscap: "), "{}", o.stderr);
        assert!(o.stderr.contains("cut.pcap"), "{}", o.stderr);
        assert!(!o.stdout.is_empty(), "{format}: what was read is reported");
        if format == "jsonl" {
            let s = o.summary();
            assert!(!s["input_errors"].as_array().unwrap().is_empty());
            assert!(!o.of_type("frame").is_empty());
        }
        if format == "table" || format == "summary" {
            assert!(o.stdout.contains("damaged input"), "{}", o.stdout);
        }
    }
    // Not a capture at all.
    let junk = dir.path("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file\n").unwrap();
    let o = run(&[&junk.to_string_lossy()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.starts_with("wscap: "), "{}", o.stderr);
    // Missing.
    let o = run(&[&dir.path("missing.pcap").to_string_lossy()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.starts_with("wscap: "), "{}", o.stderr);
    assert_eq!(o.summary()["packets"], 0);
}

#[test]
fn bad_arguments_exit_2() {
    let c = cap("py-echo.pcap");
    for args in [
        vec!["--format", "xml", &c],
        vec!["--severity", "fatal", &c],
        vec!["--max-payload", "12XB", &c],
        vec!["--max-payload", "1.5MiB", &c],
        vec!["--conn", "first", &c],
        vec!["--port", "99999", &c],
        vec!["--color", "sometimes", &c],
        vec!["--no-such-flag", &c],
        vec![],
        vec!["analyze"],
        vec!["completions"],
        vec!["completions", "powershell"],
    ] {
        let o = run(&args);
        assert_eq!(o.code, 2, "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        assert!(!o.stderr.is_empty(), "{args:?}");
    }
    let o = run(&["--max-payload", "12XB", &c]);
    assert!(o.stderr.contains("unknown size unit"), "{}", o.stderr);
}

#[test]
fn help_has_a_short_and_a_long_form() {
    let short = run(&["analyze", "-h"]);
    let long = run(&["analyze", "--help"]);
    assert_eq!(short.code, 0);
    assert_eq!(long.code, 0);
    assert!(short.stdout.len() < long.stdout.len());
    for flag in [
        "--format",
        "--conn",
        "--only-findings",
        "--severity",
        "--port",
        "--max-payload",
        "--payload",
        "--payload-bytes",
        "--fail-on",
        "--all-frames",
        "--color",
    ] {
        assert!(short.stdout.contains(flag), "{flag} not in -h");
    }
    assert!(long.stdout.contains("64KiB"));
    assert!(!short.stdout.contains("nginx reads them"));
    let top = run(&["--help"]);
    assert!(top.stdout.contains("Exit status"), "{}", top.stdout);
    assert!(top.stdout.contains("completions"));
}

#[test]
fn broken_pipe_exits_quietly() {
    let dir = TempDir::new("pipe");
    let path = dir.path("many.pcap");
    // Several MB of JSON Lines: far more than a pipe buffer.
    std::fs::write(&path, long_connection(20_000, None)).unwrap();
    let mut child = Command::new(bin())
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 1024];
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

// ---------------------------------------------------------------------------
// Several files, standard input

/// Frame and connection records, and the summary without run details;
/// connection records without what says which files held them (`files`,
/// and the Wireshark filter, by address for merged files).
fn comparable(o: &Out) -> (Vec<Value>, Vec<Value>, Value) {
    let conns = o.of_type("connection").into_iter().map(|mut c| {
        let m = c.as_object_mut().unwrap();
        m.remove("files");
        m.remove("wireshark_filter");
        c
    });
    (
        o.of_type("frame"),
        conns.collect(),
        stable_summary(o.summary()),
    )
}

#[test]
fn several_files_merge_into_the_whole() {
    let whole_path = capture("py-two-conns.pcap");
    let whole = run(&[&whole_path.to_string_lossy()]);
    let pcap = Pcap::parse(&std::fs::read(&whole_path).unwrap());
    assert_eq!(pcap.records.len(), 54);
    let dir = TempDir::new("merge");

    // A rotated ring buffer: the first packets in one file, the rest in the
    // next; and interleaved files (every other packet), which only the
    // timestamp merge puts back in order.
    fn halves(i: usize) -> bool {
        i < 27
    }
    fn interleaved(i: usize) -> bool {
        i.is_multiple_of(2)
    }
    type Split = fn(usize) -> bool;
    let splits: [(&str, Split); 2] = [("halves", halves), ("interleaved", interleaved)];
    for (name, first) in splits {
        let a = dir.path(&format!("{name}-a.pcap"));
        let b = dir.path(&format!("{name}-b.pcap"));
        pcap.write(&a, first);
        pcap.write(&b, |i| !first(i));
        for order in [[&a, &b], [&b, &a]] {
            let o = run(&[&order[0].to_string_lossy(), &order[1].to_string_lossy()]);
            assert_eq!(o.code, 0, "{name}: {}", o.stderr);
            assert_eq!(comparable(&o), comparable(&whole), "{name} {order:?}");
            assert_eq!(o.summary()["files"].as_array().unwrap().len(), 2);
        }
    }
}

#[test]
fn standard_input() {
    for name in ["py-echo.pcap", "py-echo.pcap.gz", "node-deflate.pcapng"] {
        let bytes = std::fs::read(capture(name)).unwrap();
        let by_file = run(&[&cap(name)]);
        let by_stdin = run_env(&["-"], Some(&bytes), &[]);
        assert_eq!(by_stdin.code, 0, "{name}: {}", by_stdin.stderr);
        assert_eq!(comparable(&by_stdin), comparable(&by_file), "{name}");
        assert_eq!(by_stdin.summary()["files"], serde_json::json!(["-"]));
    }
    // Standard input with a file.
    let bytes = std::fs::read(capture("py-echo.pcap")).unwrap();
    let o = run_env(
        &["-", &cap("bad-unmasked_client_frame.pcap")],
        Some(&bytes),
        &[],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.summary()["tcp_connections"], 2);
    // Empty standard input is damaged input.
    let o = run_env(&["-"], Some(b""), &[]);
    assert_eq!(o.code, 2);
}

// ---------------------------------------------------------------------------
// Completions, progress

#[test]
fn completions() {
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_wscap"), "{}", bash.stdout);
    assert!(bash.stdout.contains("--only-findings"));
    assert!(bash.stdout.contains("complete -F"));
    // Value completions come from the same definitions as the flags.
    assert!(bash.stdout.contains("table jsonl json summary"));
    for shell in ["zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("max-payload"), "{shell}");
    }
}

#[test]
fn no_progress_or_noise_in_pipes() {
    let o = run(&["--format", "table", &cap("py-small-mss.pcap")]);
    assert_eq!(o.code, 0);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
}
