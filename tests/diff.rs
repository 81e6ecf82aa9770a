//! `wscap diff` end to end on real captures: a capture against itself and
//! against its own packets split into rotated files shows nothing; a proxy
//! that stopped passing the upgrade is a regression (exit 1), the fix is
//! not; real pairs show what their change did; the documented jq recipes
//! run.

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
    assert!(
        out.stdout.is_empty(),
        "no diff against a side not read: {}",
        out.stdout
    );
    let out = run(&["diff", ok.to_str().unwrap()]);
    assert_eq!(out.code, 2, "one side only");
    let out = run(&["diff", "-", "-"]);
    assert_eq!(out.code, 2, "standard input twice");
    assert!(out.stderr.contains("not both"), "{}", out.stderr);
    let out = run(&[
        "diff",
        "--time-tolerance",
        "nan",
        ok.to_str().unwrap(),
        ok.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
}

/// A `wscap diff --format jsonl` run over testdata's `diff-<topic>` pair.
fn diff_pair(topic: &str, reverse: bool) -> (i32, Vec<Value>) {
    let b = capture(&format!("diff-{topic}-before.pcap"));
    let a = capture(&format!("diff-{topic}-after.pcap"));
    let (mut b, mut a) = (
        b.to_str().unwrap().to_owned(),
        a.to_str().unwrap().to_owned(),
    );
    if reverse {
        std::mem::swap(&mut b, &mut a);
    }
    let out = run(&["diff", "--format", "jsonl", &b, &a]);
    (out.code, records(&out.stdout))
}

fn fields(recs: &[Value]) -> Vec<String> {
    recs.iter()
        .filter(|r| r["type"] == "difference")
        .map(|r| format!("{}:{}", r["pair"], r["field"].as_str().unwrap()))
        .collect()
}

/// Pairs of real captures, the same clients before and after a change.
#[test]
fn real_pairs_show_what_the_change_did() {
    // nginx configured right: every handshake now succeeds.
    let (code, recs) = diff_pair("nginx-fix", false);
    assert_eq!(code, 0);
    let first = recs.iter().find(|r| r["type"] == "difference").unwrap();
    assert_eq!(
        (first["field"].as_str(), &first["after"]),
        (Some("total.handshakes_ok"), &Value::from(4))
    );
    assert_eq!(recs.iter().filter(|r| r["type"] == "pair").count(), 4);
    // ... and the other way round it is a regression.
    assert_eq!(diff_pair("nginx-fix", true).0, 1);
    // nginx and HAProxy both configured right: nothing that matters.
    let (code, recs) = diff_pair("proxy-switch", false);
    assert_eq!(code, 0);
    assert!(fields(&recs).is_empty(), "{:?}", fields(&recs));
    // permessage-deflate turned off: the negotiation and the sizes.
    let (code, recs) = diff_pair("deflate", false);
    assert_eq!(code, 0);
    let f = fields(&recs);
    assert!(
        f.contains(&"0:extensions".to_owned()) && f.contains(&"0:permessage_deflate".to_owned()),
        "{f:?}"
    );
    let ext = recs.iter().find(|r| r["field"] == "extensions").unwrap();
    assert_eq!(ext["rank"], "negotiated");
    let ratio = recs
        .iter()
        .find(|r| r["field"] == "c2s.compression_ratio")
        .unwrap();
    assert!(ratio["before"].as_f64().unwrap() > 5.0, "{ratio}");
    assert!(ratio["after"].is_null());
    // A lower message-size limit: 1009 closes and message_too_big appear.
    let (_, recs) = diff_pair("size-limit", false);
    let close = recs
        .iter()
        .find(|r| r["field"] == "close_codes.s2c")
        .unwrap();
    assert_eq!(close["after"], serde_json::json!([1009]));
    let causes = recs
        .iter()
        .find(|r| r["field"] == "total.diagnoses")
        .unwrap();
    assert_eq!(causes["after"]["message_too_big"], 2);
    // A shorter proxy idle timeout: connections now cut, a regression.
    let (code, recs) = diff_pair("idle-timeout", false);
    assert_eq!(code, 1);
    let first = recs.iter().find(|r| r["type"] == "difference").unwrap();
    assert_eq!(first["field"], "total.abrupt_ends");
    assert_eq!(first["regression"], true);
}

/// A capture against the files of its own ring (split inside connections).
#[test]
fn a_capture_against_its_ring() {
    let whole = capture("diff-rotated.pcap");
    let parts: Vec<String> = (0..3)
        .map(|k| {
            capture(&format!("diff-rotated-part{k}.pcap"))
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut args = vec![
        "diff",
        "--format",
        "jsonl",
        "--before",
        whole.to_str().unwrap(),
        "--after",
    ];
    args.extend(parts.iter().map(String::as_str));
    let out = run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary = records(&out.stdout).pop().unwrap();
    assert_eq!(summary["differences"], 0, "{}", out.stdout);
    assert_eq!(summary["pairs"], 2);
}

/// Runs `jq ARGS` over `input`; `None` when jq is not installed.
fn jq(args: &[&str], input: &str) -> Option<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("jq")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "jq {args:?} failed");
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The recipes of docs/diff.md, as written there, on a real pair.
#[test]
fn every_documented_recipe_runs() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diff.md")).unwrap();
    // Each ```sh block: the jq program between the first pair of quotes
    // after `jq` and its flags.
    let mut programs = Vec::new();
    for block in doc.split("```sh").skip(1) {
        let block = block.split("```").next().unwrap().replace("\\\n", " ");
        let Some(at) = block.find(" jq ") else {
            continue;
        };
        let cmd = &block[at + 1..];
        let open = cmd.find('\'').unwrap();
        let close = cmd.rfind('\'').unwrap();
        let flags: Vec<String> = cmd[..open]
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect();
        programs.push((flags, cmd[open + 1..close].to_owned()));
    }
    assert_eq!(programs.len(), 3, "{programs:?}");
    let b = capture("diff-nginx-fix-after.pcap");
    let a = capture("diff-nginx-fix-before.pcap");
    let out = run(&[
        "diff",
        "--format",
        "jsonl",
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    let mut results = Vec::new();
    for (flags, program) in &programs {
        let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
        args.push(program);
        match jq(&args, &out.stdout) {
            Some(r) => results.push(r),
            None => return eprintln!("jq not installed: recipes not run"),
        }
    }
    assert!(
        results[0].starts_with("total.handshakes_ok: 4 -> 0"),
        "{}",
        results[0]
    );
    assert!(results[1].contains("\"outcome\":"), "{}", results[1]);
    assert_eq!(results[2].lines().count(), 4, "{}", results[2]);
}
