//! The connection filters end to end (`--host`, `--tcp-port`,
//! `--server-port`, `--since`/`--until`, `--websocket-only`, `--conn`):
//! which connections and frames they choose, that the records they let
//! through are the unfiltered run's, byte for byte, that the summary names
//! them and a filter matching nothing says so.
//!
//! `py-two-conns.pcap`: connections 0 and 1 are WebSocket (client ports
//! 56138 and 49700, 8 frames each), 2 is a plain HTTP request (client port
//! 49702); all to 127.0.0.1:18010.

mod cli_common;

use cli_common::{capture, run};
use serde_json::Value;

fn two_conns(extra: &[&str]) -> cli_common::Out {
    let cap = capture("py-two-conns.pcap");
    let mut args = vec!["--format", "jsonl"];
    args.extend_from_slice(extra);
    args.push(cap.to_str().unwrap());
    run(&args)
}

/// The record lines (not the summary) of a run, as written.
fn lines(out: &cli_common::Out) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| !l.contains("\"type\":\"summary\""))
        .map(str::to_string)
        .collect()
}

fn conns(out: &cli_common::Out) -> Vec<u64> {
    let mut v: Vec<u64> = out
        .of_type("connection")
        .iter()
        .map(|c| c["conn"].as_u64().unwrap())
        .collect();
    v.sort();
    v
}

fn frames_of(out: &cli_common::Out) -> Vec<(u64, u64)> {
    out.of_type("frame")
        .iter()
        .map(|f| (f["conn"].as_u64().unwrap(), f["packet"].as_u64().unwrap()))
        .collect()
}

/// Every record a filtered run writes is one the unfiltered run wrote.
fn assert_subset(filtered: &cli_common::Out) {
    let all = lines(&two_conns(&[]));
    for l in lines(filtered) {
        assert!(all.contains(&l), "a filtered record differs:\n{l}");
    }
}

#[test]
fn websocket_only_keeps_websocket_connections_unchanged() {
    let out = two_conns(&["--websocket-only"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(conns(&out), [0, 1]);
    assert_eq!(frames_of(&out).len(), 16);
    assert_subset(&out);
    let s = out.summary();
    assert_eq!(s["filter"]["flags"], "--websocket-only");
    assert_eq!(s["filter"]["connections_shown"], 2);
    // The summary still counts the whole capture.
    assert_eq!(s["tcp_connections"], 3);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn unfiltered_summary_has_no_filter_field() {
    let out = two_conns(&[]);
    assert!(out.summary().get("filter").is_none());
    assert_eq!(conns(&out), [0, 1, 2]);
}

#[test]
fn host_and_ports_match_either_end() {
    let out = two_conns(&["--host", "127.0.0.1"]);
    assert_eq!(conns(&out), [0, 1, 2]);
    let out = two_conns(&["--host", "127.0.0.0/8,10.0.0.1"]);
    assert_eq!(conns(&out), [0, 1, 2]);
    let out = two_conns(&["--tcp-port", "49700"]);
    assert_eq!(conns(&out), [1]);
    assert!(frames_of(&out).iter().all(|f| f.0 == 1));
    assert_eq!(frames_of(&out).len(), 8);
    assert_subset(&out);
    let out = two_conns(&["--tcp-port", "18010"]);
    assert_eq!(conns(&out), [0, 1, 2]);
    let out = two_conns(&["--server-port", "18010"]);
    assert_eq!(conns(&out), [0, 1, 2]);
    // A client's port is not a server port.
    let out = two_conns(&["--server-port", "49700"]);
    assert_eq!(conns(&out), Vec::<u64>::new());
    assert!(frames_of(&out).is_empty());
    // Filters combine: all must match.
    let out = two_conns(&["--tcp-port", "49702", "--websocket-only"]);
    assert_eq!(conns(&out), Vec::<u64>::new());
}

#[test]
fn time_window_chooses_connections_active_in_it_and_frames_within() {
    // Connection 2 ended at 11:47:57.564; 0 and 1 go on to 11:47:58.3.
    let out = two_conns(&["--since", "2026-11-25T11:47:57.6Z"]);
    assert_eq!(conns(&out), [0, 1]);
    let frames = frames_of(&out);
    assert_eq!(frames.len(), 10, "{frames:?}");
    assert!(frames.iter().all(|f| f.1 >= 34));
    assert_subset(&out);
    // Seconds since the epoch and an offset name the same instant.
    let epoch = two_conns(&["--since", "1795607277.6"]);
    assert_eq!(lines(&epoch), lines(&out));
    let offset = two_conns(&["--since", "2026-11-25T12:47:57.6+01:00"]);
    assert_eq!(lines(&offset), lines(&out));
    // Only connection 0 had begun by 11:47:57.3, with two frames.
    let out = two_conns(&["--until", "2026-11-25T11:47:57.3Z"]);
    assert_eq!(conns(&out), [0]);
    assert_eq!(frames_of(&out), [(0, 8), (0, 9)]);
    let both = two_conns(&[
        "--since",
        "2026-11-25T11:47:57.5Z",
        "--until",
        "2026-11-25T11:47:57.7Z",
    ]);
    assert_eq!(conns(&both), [0, 1, 2]);
    assert_eq!(frames_of(&both), [(0, 21), (0, 22)]);
}

#[test]
fn a_filter_that_matches_nothing_says_so() {
    let out = two_conns(&["--conn", "999"]);
    assert_eq!(out.code, 0);
    assert!(out.of_type("connection").is_empty());
    assert_eq!(
        out.stderr.trim(),
        "wscap: no connection matched --conn 999 (the capture has 3 connections, numbered 0\u{2013}2)"
    );
    let out = two_conns(&["--host", "10.0.0.0/8", "--since", "2026-11-25T11:00:00Z"]);
    assert!(
        out.stderr.contains(
            "no connection matched --host 10.0.0.0/8 --since 2026-11-25T11:00:00.000000000Z"
        ),
        "{}",
        out.stderr
    );
    // A filter that matches says nothing.
    let out = two_conns(&["--conn", "1"]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn filters_do_not_change_the_exit_status_or_the_summary_counts() {
    let cap = capture("bad-unmasked_client_frame.pcap");
    let cap = cap.to_str().unwrap();
    let all = run(&["--format", "jsonl", cap]);
    let none = run(&["--format", "jsonl", "--host", "192.0.2.1", cap]);
    assert_eq!(all.code, 1);
    assert_eq!(none.code, 1, "{}", none.stderr);
    let (mut a, mut b): (Value, Value) = (all.summary(), none.summary());
    b.as_object_mut().unwrap().remove("filter");
    a["elapsed_ms"] = 0.into();
    b["elapsed_ms"] = 0.into();
    assert_eq!(a, b);
}

#[test]
fn summary_text_names_the_filters() {
    let cap = capture("py-two-conns.pcap");
    let out = run(&[
        "--format",
        "summary",
        "--color",
        "never",
        "--websocket-only",
        cap.to_str().unwrap(),
    ]);
    assert!(
        out.stdout
            .contains("filtered     --websocket-only: 2 of 3 connections shown"),
        "{}",
        out.stdout
    );
}

#[test]
fn bad_filter_values_are_refused_with_the_reason() {
    let cap = capture("py-two-conns.pcap");
    let cap = cap.to_str().unwrap();
    for (flag, value, says) in [
        ("--since", "yesterday", "is not a time"),
        ("--host", "10.0.0.300", "is not an address or network"),
        ("--host", "10.0.0.0/33", "is not an address or network"),
        ("--server-port", "70000", "70000"),
    ] {
        let out = run(&[flag, value, cap]);
        assert_eq!(out.code, 2, "{flag} {value}");
        assert!(out.stderr.contains(says), "{flag} {value}: {}", out.stderr);
    }
    let out = run(&["--since", "2026-01-02", "--until", "2026-01-01", cap]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is after --until"), "{}", out.stderr);
}
