//! docs/records.md stays true: its jq recipes run on real output, it lists
//! every finding code with its severity and RFC, and it documents every
//! field wscap writes.
//!
//! A recipe is a ```sh block right after a marker comment
//! `<!-- recipe capture=FILE expect="TEXT" -->`, holding
//! `wscap ARGS capture.pcap | jq FLAGS 'FILTER'`. The test runs the built
//! wscap on testdata/captures/FILE and pipes it to jq when jq is installed,
//! checking the output holds TEXT; without jq it checks that what jq would
//! read parses as JSON.

mod cli_common;

use cli_common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use wscap::finding::Code;

fn doc() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/records.md");
    std::fs::read_to_string(p).expect("docs/records.md")
}

#[derive(Debug)]
struct Recipe {
    capture: String,
    expect: String,
    /// wscap's arguments, `capture.pcap` standing for the capture.
    wscap_args: Vec<String>,
    jq_flags: Vec<String>,
    filter: String,
}

fn recipes(doc: &str) -> Vec<Recipe> {
    const MARK: &str = "<!-- recipe ";
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find(MARK) {
        rest = &rest[i + MARK.len()..];
        let end = rest.find("-->").expect("unterminated recipe marker");
        let marker = &rest[..end];
        let capture = marker
            .split_whitespace()
            .find_map(|t| t.strip_prefix("capture="))
            .expect("recipe marker without capture=")
            .to_owned();
        let e = marker
            .find("expect=\"")
            .expect("recipe marker without expect=");
        let ev = &marker[e + 8..];
        let ev = &ev[..ev.rfind('"').expect("unterminated expect")];
        let expect = ev.replace("\\\"", "\"");

        let after = &rest[end + 3..];
        let block = after
            .trim_start()
            .strip_prefix("```sh\n")
            .expect("a ```sh block must follow the recipe marker");
        let block = &block[..block.find("```").expect("unterminated block")];
        let (left, right) = block.split_once('|').expect("wscap ... | jq ...");
        let wscap_args: Vec<String> = left.split_whitespace().map(str::to_owned).collect();
        assert_eq!(wscap_args[0], "wscap", "{block}");
        assert!(
            wscap_args.iter().any(|a| a == "capture.pcap"),
            "recipe must read capture.pcap: {block}"
        );
        let right = right.trim_start();
        let right = right.strip_prefix("jq ").expect("piped into jq");
        let q1 = right.find('\'').expect("a single-quoted filter");
        let q2 = right.rfind('\'').unwrap();
        assert!(q2 > q1, "{block}");
        assert!(
            right[q2 + 1..].trim().is_empty(),
            "nothing after the filter"
        );
        let jq_flags = right[..q1].split_whitespace().map(str::to_owned).collect();
        out.push(Recipe {
            capture,
            expect,
            wscap_args: wscap_args[1..].to_vec(),
            jq_flags,
            filter: right[q1 + 1..q2].to_owned(),
        });
        rest = after;
    }
    out
}

fn jq_installed() -> bool {
    Command::new("jq")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_jq(flags: &[String], filter: &str, input: &str) -> (bool, String, String) {
    let mut child = Command::new("jq")
        .args(flags)
        .arg(filter)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jq");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.as_bytes().to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().expect("jq");
    feeder.join().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn recipes_run_on_real_output() {
    let doc = doc();
    let recipes = recipes(&doc);
    assert!(recipes.len() >= 6, "{recipes:#?}");
    // The questions the docs promise an answer to.
    for heading in [
        "### Which connections broke",
        "### First bad frame per connection",
        "### Findings per code",
        "### Frames of one connection, in order",
        "### Handshake details of failed upgrades",
    ] {
        assert!(doc.contains(heading), "{heading}");
    }
    let jq = jq_installed();
    if !jq {
        eprintln!("jq not installed: checking only that wscap's output parses");
    }
    for r in &recipes {
        let path = capture(&r.capture);
        assert!(path.exists(), "recipe capture {} missing", r.capture);
        let p = path.to_string_lossy().into_owned();
        let args: Vec<&str> = r
            .wscap_args
            .iter()
            .map(|a| if a == "capture.pcap" { p.as_str() } else { a })
            .collect();
        let out = run(&args);
        assert!(out.code == 0 || out.code == 1, "{r:?}: {}", out.stderr);
        // What jq reads must be JSON Lines, summary last.
        let records = out.records();
        assert_eq!(records.last().unwrap()["type"], "summary");
        if !jq {
            continue;
        }
        let (ok, stdout, stderr) = run_jq(&r.jq_flags, &r.filter, &out.stdout);
        assert!(ok, "jq failed on {r:?}: {stderr}");
        assert!(!stdout.trim().is_empty(), "no output from {r:?}");
        assert!(
            stdout.contains(&r.expect),
            "{r:?}: output lacks {:?}:\n{stdout}",
            r.expect
        );
        if !r.jq_flags.iter().any(|f| f == "-r") {
            for line in stdout.lines() {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("{r:?}: jq output {line:?} is not JSON: {e}"));
            }
        }
    }
}

#[test]
fn every_finding_code_is_documented() {
    let doc = doc();
    for c in Code::ALL {
        let row = format!(
            "| `{}` | {} | {} |",
            c.name(),
            c.severity().as_str(),
            c.rfc()
        );
        assert!(doc.contains(&row), "docs/records.md lacks the row {row}");
    }
    // And nothing documented as a code that is not one.
    let known: BTreeSet<&str> = Code::ALL.iter().map(|c| c.name()).collect();
    let section = &doc[doc.find("## Finding codes").unwrap()..doc.find("## Exit status").unwrap()];
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let name = line[3..].split('`').next().unwrap();
        assert!(
            known.contains(name),
            "documented code {name} does not exist"
        );
    }
}

/// Object keys in `v`, except below maps keyed by data (codes, causes,
/// skip reasons), whose keys are values, not fields.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    const MAPS: [&str; 4] = [
        "findings_by_code",
        "findings_by_severity",
        "skipped",
        "diagnoses",
    ];
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if !MAPS.contains(&k.as_str()) {
                    keys(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn every_field_written_is_documented() {
    let doc = doc();
    let mut seen = BTreeSet::new();
    let mut causes = BTreeSet::new();
    // With WebSocket over HTTP/2 (testdata/h2), whose records add fields.
    let h2 = captures_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/h2"));
    assert!(!h2.is_empty(), "testdata/h2");
    for c in all_captures().into_iter().chain(h2) {
        let p = c.to_string_lossy();
        for args in [vec![p.as_ref()], vec!["--max-payload", "1KiB", p.as_ref()]] {
            let o = run(&args);
            for r in o.records() {
                keys(&r, &mut seen);
                if let Some(d) = r["diagnoses"].as_object() {
                    causes.extend(d.keys().cloned());
                }
            }
        }
    }
    // Fields that only appear with flags or in rare captures are still
    // expected in the docs by name.
    for k in [
        "preview",
        "payload_missing",
        "close_code",
        "close_reason",
        "hop",
    ] {
        seen.insert(k.to_owned());
    }
    let missing: Vec<&String> = seen
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "fields written but not in docs/records.md: {missing:?}"
    );
    for c in &causes {
        assert!(doc.contains(&format!("`{c}`")), "cause {c} not documented");
    }
}
