//! `wscap diff` end to end on real captures: a capture against itself and
//! against its own packets split into rotated files shows nothing; a proxy
//! that stopped passing the upgrade is a regression (exit 1), the fix is
//! not; the documented jq recipe runs.

mod cli_common;

use cli_common::{Pcap, TempDir, capture, run};
use serde_json::Value;

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn a_capture_against_itself_and_its_rotated_parts() {
    let c = capture("py-two-conns.pcap");
    let c = c.to_str().unwrap();
    let out = run(&["diff", "--format", "jsonl", c, c]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let recs = records(&out.stdout);
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "diff_summary");
    assert_eq!(summary["differences"], 0, "{}", out.stdout);
    assert_eq!(summary["pairs"], 3);

    // The same packets as a ring of three files.
    let dir = TempDir::new("diff-rotated");
    let pcap = Pcap::parse(&std::fs::read(c).unwrap());
    let n = pcap.records.len();
    let parts: Vec<String> = (0..3)
        .map(|k| {
            let p = dir.path(&format!("part{k}.pcap"));
            pcap.write(&p, |i| i * 3 / n == k);
            p.to_str().unwrap().to_owned()
        })
        .collect();
    let mut args = vec!["diff", "--format", "jsonl", "--before", c, "--after"];
    args.extend(parts.iter().map(String::as_str));
    let out = run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary = records(&out.stdout).pop().unwrap();
    assert_eq!(summary["differences"], 0, "{}", out.stdout);
}

#[test]
fn a_proxy_that_stopped_passing_the_upgrade_regresses() {
    let ok = capture("nginx-ok.pcap");
    let broken = capture("nginx-http10.pcap");
    let (ok, broken) = (ok.to_str().unwrap(), broken.to_str().unwrap());
    let out = run(&["diff", "--format", "jsonl", ok, broken]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let recs = records(&out.stdout);
    let first = recs.iter().find(|r| r["type"] == "difference").unwrap();
    assert_eq!(first["field"], "total.handshakes_ok");
    assert_eq!(first["regression"], true);
    assert_eq!(first["rank"], "outcome");
    // The fix, the other way round, is no regression.
    let out = run(&["diff", "--format", "jsonl", broken, ok]);
    assert_eq!(out.code, 0);
    // The table says so for people; json is one document.
    let out = run(&["diff", "--format", "table", "--color", "never", ok, broken]);
    assert!(
        out.stdout.contains("REGRESSION total.handshakes_ok: 2 → 0"),
        "{}",
        out.stdout
    );
    let out = run(&["diff", "--format", "json", ok, broken]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["regressed"], true);
}

#[test]
fn unusable_input_is_status_2_and_named() {
    let ok = capture("nginx-ok.pcap");
    let out = run(&["diff", ok.to_str().unwrap(), "no-such-file.pcap"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no-such-file.pcap"), "{}", out.stderr);
    let out = run(&["diff", ok.to_str().unwrap()]);
    assert_eq!(out.code, 2, "one side only");
}

/// The recipe of docs/diff.md: the regressions, one line each.
#[test]
fn documented_recipe_runs() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diff.md")).unwrap();
    assert!(doc.contains("select(.type == \"difference\" and .regression)"));
    if std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("jq not installed: recipe checked by reading only");
        return;
    }
    let ok = capture("nginx-ok.pcap");
    let broken = capture("nginx-http10.pcap");
    let out = run(&[
        "diff",
        "--format",
        "jsonl",
        ok.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    let mut jq = std::process::Command::new("jq")
        .args(["-r", r#"select(.type == "difference" and .regression) | "\(.field): \(.before) -> \(.after)""#])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    jq.stdin
        .take()
        .unwrap()
        .write_all(out.stdout.as_bytes())
        .unwrap();
    let got = jq.wait_with_output().unwrap();
    let text = String::from_utf8(got.stdout).unwrap();
    assert!(text.starts_with("total.handshakes_ok: 2 -> 0"), "{text}");
}
