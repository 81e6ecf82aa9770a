//! `--format zeek` and `zeek-json` against Zeek's own websocket.log for the
//! captures of Zeek's test suite (in `../shared/captures-public`, with
//! Zeek's baselines beside them), and on every capture in testdata.

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::path::Path;

/// The data rows of a websocket.log as written by Zeek or by wscap: the
/// header lines (`#...`) and a `zeek-cut -m` column line left out.
fn data_rows(log: &str) -> Vec<Vec<String>> {
    log.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("ts\tuid\t") && !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Every column but `ts` and `uid`, which Zeek's baselines blank out (and
/// Zeek's uids are random), rows sorted.
fn comparable(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = rows.into_iter().map(|r| r[2..].to_vec()).collect();
    v.sort();
    v
}

fn zeek_log(capture: &Path) -> String {
    let out = run(&["analyze", "--format", "zeek", capture.to_str().unwrap()]);
    assert!(out.code < 2, "{}: {}", capture.display(), out.stderr);
    out.stdout
}

#[test]
fn rows_are_zeeks_on_zeeks_captures() {
    let mut compared = 0;
    for cap in public_captures() {
        let baseline = cap.with_file_name(format!(
            "{}.websocket.log.txt",
            cap.file_name().unwrap().to_string_lossy()
        ));
        let Ok(expected) = std::fs::read_to_string(&baseline) else {
            continue;
        };
        let expected = comparable(data_rows(&expected));
        let got = comparable(data_rows(&zeek_log(&cap)));
        assert_eq!(got, expected, "{}", cap.display());
        compared += 1;
    }
    if public_captures().is_empty() {
        eprintln!("../shared/captures-public is not there: nothing compared");
    } else {
        // Zeek's suite has seven websocket.log baselines.
        assert!(compared >= 7, "only {compared} baselines found");
    }
}

/// A row for each connection whose server switched to WebSocket, the
/// TSV and JSON rows alike, Zeek's columns and types in the header.
#[test]
fn a_row_per_upgrade_on_every_capture() {
    for cap in all_captures() {
        let path = cap.to_str().unwrap();
        let upgraded = run(&["analyze", "--format", "jsonl", path])
            .of_type("connection")
            .into_iter()
            .filter(|c| {
                c["response"]["status"] == 101
                    && c["response"]["upgrade"]
                        .as_str()
                        .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"))
            })
            .count();
        let tsv = zeek_log(&cap);
        let header: Vec<&str> = tsv.lines().take_while(|l| l.starts_with('#')).collect();
        assert_eq!(header[4], "#path\twebsocket", "{path}");
        assert!(
            tsv.lines().last().unwrap().starts_with("#close\t"),
            "{path}"
        );
        let rows = data_rows(&tsv);
        assert_eq!(rows.len(), upgraded, "{path}");
        assert!(rows.iter().all(|r| r.len() == 13), "{path}");

        let json = run(&["analyze", "--format", "zeek-json", path]).stdout;
        let objects: Vec<Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objects.len(), rows.len(), "{path}");
        for (row, o) in rows.iter().zip(&objects) {
            assert_eq!(o["uid"], row[1].as_str(), "{path}");
            assert_eq!(o["id.orig_h"], row[2].as_str(), "{path}");
            assert_eq!(o["id.resp_p"].to_string(), row[5], "{path}");
            let ts: f64 = row[0].parse().unwrap();
            assert!((o["ts"].as_f64().unwrap() - ts).abs() < 1e-6, "{path}");
        }
        let mut uids: Vec<&String> = rows.iter().map(|r| &r[1]).collect();
        uids.sort();
        uids.dedup();
        assert_eq!(uids.len(), rows.len(), "uids repeat in {path}");
    }
}

/// Rows come only from connection records: the zeek format asks for no
/// frame records (as fast as the summary), and the same capture gives the
/// same rows with one thread or two.
#[test]
fn rows_are_the_same_with_any_threads() {
    let cap = capture("apache-ok.pcap");
    let path = cap.to_str().unwrap();
    let one = run(&["analyze", "--format", "zeek", "--threads", "1", path]).stdout;
    let two = run(&["analyze", "--format", "zeek", "--threads", "2", path]).stdout;
    assert_eq!(data_rows(&one), data_rows(&two));
    assert!(!data_rows(&one).is_empty());
}

/// Inside TLS read with its key log, the upgrade makes a row (Zeek, which
/// cannot read into TLS, has none); without the key log, no row.
#[test]
fn rows_from_inside_tls_with_a_key_log() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/wss");
    let (cap, keys) = (
        dir.join("wss-node-tls13.pcap"),
        dir.join("wss-node-tls13.keys"),
    );
    let (cap, keys) = (cap.to_str().unwrap(), keys.to_str().unwrap());
    let with = run(&["analyze", "--format", "zeek", "--tls-keylog", keys, cap]).stdout;
    let without = run(&["analyze", "--format", "zeek", cap]).stdout;
    assert!(!data_rows(&with).is_empty());
    assert!(data_rows(&without).is_empty());
}

/// The rows of `--shard K/N` for every K are the unsharded run's rows,
/// uids included: one capture's log can be made on N machines.
#[test]
fn shards_together_give_the_same_rows() {
    let cap = capture("apache-ok.pcap");
    let path = cap.to_str().unwrap();
    let mut whole = data_rows(&zeek_log(&cap));
    whole.sort();
    for n in 2..=3 {
        let mut union = Vec::new();
        for k in 0..n {
            let shard = format!("{k}/{n}");
            let out = run(&["analyze", "--format", "zeek", "--shard", &shard, path]);
            union.extend(data_rows(&out.stdout));
        }
        union.sort();
        assert_eq!(union, whole, "--shard K/{n}");
    }
}
