//! `--shard K/N`: N runs over one capture, K = 0..N-1, report together
//! exactly the frame and connection records of one run (same connection
//! and packet numbers), on every capture in testdata and the public set.
//! The one documented exception: the two legs of a proxied connection are
//! linked (`other_leg`, the hop of each cause) only when they fall in the
//! same shard.

mod cli_common;

use cli_common::{all_captures, captures_in, public_captures, run};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Frame and connection records of a run, by (type, conn, packet).
fn records(capture: &Path, shard: Option<(u32, u32)>) -> Vec<Value> {
    let path = capture.to_str().unwrap();
    let spec = shard.map(|(k, n)| format!("{k}/{n}"));
    let mut args = vec!["--format", "jsonl", path];
    if let Some(s) = &spec {
        args.extend(["--shard", s.as_str()]);
    }
    // A TLS capture's key log beside it (testdata/h2): decrypted, its
    // HTTP/2 is sharded as any connection.
    let keys = capture.with_extension("keys");
    let keys = keys.to_str().unwrap();
    if std::path::Path::new(keys).exists() {
        args.extend(["--tls-keylog", keys]);
    }
    let out = run(&args);
    assert!(
        out.code != 2 || !out.stderr.is_empty(),
        "{path}: {}",
        out.stderr
    );
    out.records()
        .into_iter()
        .filter(|r| r["type"] != "summary")
        .collect()
}

/// A record as compared: a linked leg's record without its link, when the
/// legs fell in different shards.
fn key(r: &Value, unlinked: bool) -> String {
    let mut r = r.clone();
    if unlinked && r["type"] == "connection" {
        let m = r.as_object_mut().unwrap();
        m.remove("other_leg");
        m.remove("diagnosis");
    }
    r.to_string()
}

/// Checks one capture for one N; returns whether some legs were split.
fn check(capture: &Path, whole: &[Value], n: u32) -> bool {
    let mut shard_of: BTreeMap<u64, u32> = BTreeMap::new();
    let mut parts = Vec::new();
    for k in 0..n {
        for r in records(capture, Some((k, n))) {
            if r["type"] == "connection" {
                shard_of.insert(r["conn"].as_u64().unwrap(), k);
            }
            parts.push(r);
        }
    }
    // Legs of one proxied connection that fell in different shards.
    let split: BTreeSet<u64> = whole
        .iter()
        .filter(|r| r["type"] == "connection" && !r["other_leg"].is_null())
        .map(|r| {
            (
                r["conn"].as_u64().unwrap(),
                r["other_leg"].as_u64().unwrap(),
            )
        })
        .filter(|(a, b)| shard_of.get(a) != shard_of.get(b))
        .map(|(a, _)| a)
        .collect();
    let set = |v: &[Value]| -> Vec<String> {
        let mut s: Vec<String> = v
            .iter()
            .map(|r| key(r, r["conn"].as_u64().is_some_and(|c| split.contains(&c))))
            .collect();
        s.sort();
        s
    };
    let (a, b) = (set(whole), set(&parts));
    assert!(
        a == b,
        "{} with {n} shards: {} records in one run, {} in the shards; first difference: {:?}",
        capture.display(),
        a.len(),
        b.len(),
        a.iter().zip(&b).find(|(x, y)| x != y)
    );
    !split.is_empty()
}

#[test]
fn shards_together_report_what_one_run_reports() {
    let mut captures = all_captures();
    captures.extend(public_captures());
    captures.extend(captures_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/h2"),
    ));
    assert!(captures.len() > 80, "only {} captures", captures.len());
    let mut split_legs = 0;
    for c in &captures {
        let whole = records(c, None);
        for n in 1..=4 {
            split_legs += usize::from(check(c, &whole, n));
        }
    }
    // The proxy captures do split their legs at some N: the exception is
    // exercised, not assumed.
    assert!(split_legs > 0);
}

#[test]
fn a_shard_out_of_range_is_refused() {
    let c = all_captures()[0].to_str().unwrap().to_owned();
    for bad in ["4/4", "1/0", "x/2", "2"] {
        let out = run(&["--shard", bad, &c]);
        assert_eq!(out.code, 2, "{bad}");
        assert!(out.stderr.contains("--shard"), "{bad}: {}", out.stderr);
    }
}

/// The first ```sql block of docs/scale.md.
fn documented_query() -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scale.md"))
        .expect("docs/scale.md");
    let start = doc.find("```sql\n").expect("a sql block") + 7;
    let len = doc[start..].find("```").expect("closed");
    doc[start..start + len].to_owned()
}

/// docs/scale.md's DuckDB query over the shards' JSON Lines gives one
/// run's findings by code. Run with DuckDB's Python package when it is
/// installed (`.ci/run` installs it); the same sum is checked in Rust
/// either way.
#[test]
fn the_documented_query_over_shards_gives_the_whole_capture() {
    let dir = cli_common::TempDir::new("shards");
    let captures: Vec<PathBuf> = all_captures()
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("bad-"))
        .collect();
    let mut args: Vec<&str> = vec!["--format", "jsonl"];
    args.extend(captures.iter().map(|p| p.to_str().unwrap()));
    let whole = run(&args);
    let summary = whole.of_type("summary").pop().unwrap();
    let expected: BTreeMap<String, u64> =
        serde_json::from_value(summary["findings_by_code"].clone()).unwrap();
    assert!(expected.len() > 10);
    let mut summed: BTreeMap<String, u64> = BTreeMap::new();
    for k in 0..4 {
        let spec = format!("{k}/4");
        let mut a = vec!["--shard", spec.as_str()];
        a.extend(&args);
        let out = run(&a);
        std::fs::write(dir.0.join(format!("shard-{k}.jsonl")), &out.stdout).unwrap();
        for r in out.records() {
            if r["type"] == "frame" || r["type"] == "connection" {
                for f in r["findings"].as_array().unwrap() {
                    *summed
                        .entry(f["code"].as_str().unwrap().into())
                        .or_default() += 1;
                }
            }
        }
    }
    assert_eq!(summed, expected, "findings summed over the shards");
    let script = "import duckdb, json, sys\n\
        print(json.dumps(dict(duckdb.sql(sys.stdin.read()).fetchall())))";
    let duck = std::process::Command::new("python3")
        .args(["-c", script])
        .current_dir(&dir.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = duck else {
        eprintln!("python3 not found: the DuckDB query was not run");
        return;
    };
    use std::io::Write;
    let query = documented_query();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(query.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'duckdb'") {
        eprintln!("DuckDB's Python package is not installed: the query was not run");
        return;
    }
    assert!(out.status.success(), "the documented query failed: {err}");
    let got: BTreeMap<String, u64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, expected, "DuckDB over the shards");
}
