//! Several captures, each named: merged (the files of a rotated ring), a
//! connection record lists the files that held its packets, as given on
//! the command line, and selects itself in Wireshark by addresses (the
//! merged numbering is no one file's); `--no-merge` analyses each file on
//! its own, one summary per file, its records naming it.
//!
//! `diff-rotated-part0..2.pcap` are `editcap -c` parts of
//! `diff-rotated.pcap`: connection 0 spans parts 0 and 1, connection 1
//! parts 1 and 2.

mod cli_common;

use cli_common::run_env;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const PARTS: [&str; 3] = [
    "diff-rotated-part0.pcap",
    "diff-rotated-part1.pcap",
    "diff-rotated-part2.pcap",
];

/// Runs wscap in testdata/captures, so the files are named as given.
fn in_captures(args: &[&str]) -> cli_common::Out {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let o = Command::new(cli_common::bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    cli_common::Out {
        code: o.status.code().unwrap(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn files(rec: &Value) -> Vec<&str> {
    rec["files"]
        .as_array()
        .map(|a| a.iter().map(|f| f.as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn merged_records_name_their_files() {
    let out = in_captures(&[&["--format", "jsonl"][..], &PARTS].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let conns = out.of_type("connection");
    assert_eq!(conns.len(), 2);
    for c in &conns {
        let want: &[&str] = match c["conn"].as_u64().unwrap() {
            0 => &PARTS[..2],
            _ => &PARTS[1..],
        };
        assert_eq!(files(c), want, "{c}");
        let filter = c["wireshark_filter"].as_str().unwrap();
        let port = c["client"].as_str().unwrap().rsplit(':').next().unwrap();
        assert!(
            filter.starts_with("ip.addr==127.0.0.1 && tcp.port==") && filter.contains(port),
            "{filter}"
        );
    }
    // Frame records and the summary are as before.
    assert!(
        out.of_type("frame")
            .iter()
            .all(|f| f.get("files").is_none())
    );
    assert_eq!(out.summary()["files"].as_array().unwrap().len(), 3);
}

/// A file that does not open, or holds no packet, takes no other file's
/// name: each record names the file its packets came from.
#[test]
fn files_that_do_not_open_or_are_empty_shift_no_names() {
    let dir = cli_common::TempDir::new("files");
    let empty = dir.0.join("empty.pcap");
    // A pcap header and no packet.
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend([0; 8]);
    header.extend([0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    std::fs::write(&empty, header).unwrap();
    let empty = empty.to_str().unwrap();
    let out = in_captures(&[
        "--format",
        "jsonl",
        "missing.pcap",
        empty,
        "py-echo.pcap",
        "node-echo.pcap",
    ]);
    assert_eq!(out.code, 2, "the missing file is damage: {}", out.stderr);
    let conns = out.of_type("connection");
    let got: Vec<Vec<&str>> = conns.iter().map(files).collect();
    assert_eq!(got, [vec!["py-echo.pcap"], vec!["node-echo.pcap"]]);
}

#[test]
fn one_file_writes_no_files_field() {
    let out = in_captures(&["--format", "jsonl", "diff-rotated.pcap"]);
    for c in out.of_type("connection") {
        assert!(c.get("files").is_none(), "{c}");
        let n = c["conn"].as_u64().unwrap();
        assert_eq!(c["wireshark_filter"], format!("tcp.stream eq {n}"));
    }
}

#[test]
fn no_merge_analyses_each_file_alone() {
    let out = in_captures(&[&["--format", "jsonl", "--no-merge"][..], &PARTS].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summaries = out.of_type("summary");
    assert_eq!(summaries.len(), 3);
    for (s, part) in summaries.iter().zip(PARTS) {
        assert_eq!(s["files"], serde_json::json!([part]));
    }
    // Each file's connections, numbered as Wireshark numbers that file,
    // each record naming its file; records come before their file's
    // summary.
    let mut file = 0;
    let mut seen = Vec::new();
    for r in out.records() {
        match r["type"].as_str().unwrap() {
            "summary" => file += 1,
            "connection" => {
                assert_eq!(files(&r), [PARTS[file]]);
                let n = r["conn"].as_u64().unwrap();
                assert_eq!(r["wireshark_filter"], format!("tcp.stream eq {n}"));
                seen.push((file, n));
            }
            _ => {}
        }
    }
    seen.sort();
    assert_eq!(seen, [(0, 0), (1, 0), (1, 1), (2, 0)]);
    // The same as analysing each file alone, but for `files`.
    for (i, part) in PARTS.iter().enumerate() {
        let alone = in_captures(&["--format", "jsonl", part]);
        let strip = |mut v: Value| {
            v.as_object_mut().unwrap().remove("files");
            v.as_object_mut().unwrap().remove("elapsed_ms");
            v
        };
        let mine: Vec<Value> = out
            .of_type("connection")
            .into_iter()
            .filter(|c| files(c) == [PARTS[i]])
            .map(strip)
            .collect();
        let theirs: Vec<Value> = alone.of_type("connection").into_iter().map(strip).collect();
        assert_eq!(mine, theirs, "{part}");
    }
}

#[test]
fn no_merge_json_is_one_document_per_file() {
    let out = in_captures(&[&["--format", "json", "--no-merge"][..], &PARTS].concat());
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(docs.len(), 3);
    assert!(docs.iter().all(|d| d["summary"]["type"] == "summary"));
}

#[test]
fn no_merge_summary_text_has_one_summary_per_file() {
    let out = in_captures(
        &[
            &["--format", "summary", "--color", "never", "--no-merge"][..],
            &PARTS,
        ]
        .concat(),
    );
    assert_eq!(
        out.stdout.matches("\nsummary\n").count()
            + usize::from(out.stdout.starts_with("summary\n")),
        3
    );
    for p in PARTS {
        assert!(out.stdout.contains(p), "{}", out.stdout);
    }
}

#[test]
fn no_merge_exit_status_covers_every_file() {
    // A clean file and one with errors: status 1 whichever comes first.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let clean = dir.join("py-echo.pcap");
    let bad = dir.join("bad-unmasked_client_frame.pcap");
    for pair in [[&bad, &clean], [&clean, &bad]] {
        let o = run_env(
            &[
                "--format",
                "summary",
                "--no-merge",
                pair[0].to_str().unwrap(),
                pair[1].to_str().unwrap(),
            ],
            None,
            &[],
        );
        assert_eq!(o.code, 1, "{}", o.stderr);
    }
}
