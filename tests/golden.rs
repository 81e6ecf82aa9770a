//! Every capture's output, kept: each capture in `testdata/captures/`,
//! `testdata/h2/` and `../shared/captures-public/` is run through the binary in four ways and
//! the result compared byte for byte with `tests/golden/`.
//!
//! This is how a change to the analysis shows every difference it makes to
//! the records. A change that is meant to alter them regenerates the files
//! (`WSCAP_BLESS=1 cargo test --test golden`) and the diff is reviewed in
//! the commit. Only what differs between runs is masked: `elapsed_ms` and
//! the `elapsed` line.

mod cli_common;

use cli_common::captures_in;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// (file suffix, arguments) of each way a capture is run.
const VARIANTS: &[(&str, &[&str])] = &[
    ("jsonl", &["--format", "jsonl"]),
    (
        "hex.jsonl",
        &[
            "--format",
            "jsonl",
            "--payload",
            "hex",
            "--max-payload",
            "1000",
        ],
    ),
    ("table", &["--format", "table", "--color", "never"]),
    ("summary", &["--format", "summary", "--color", "never"]),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The run as kept: standard output, then the exit status and standard
/// error, with the run-to-run differences masked. The capture is named
/// from its own folder, so where the checkout lives changes nothing (the
/// table wraps and cuts the file names it shows).
fn run(capture: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .current_dir(capture.parent().unwrap())
        .arg("analyze")
        .args(args)
        .arg(capture.file_name().unwrap())
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .env("COLUMNS", "80")
        .output()
        .expect("run wscap");
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    write!(
        text,
        "--- exit {}\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr)
    )
    .unwrap();
    mask(&text)
}

fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("elapsed ") {
            out.push_str("  elapsed      <masked>\n");
            continue;
        }
        match line.find("\"elapsed_ms\":") {
            Some(at) => {
                let rest = &line[at + 13..];
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                out.push_str(&line[..at + 13]);
                out.push('0');
                out.push_str(&rest[digits..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

fn check_dir(dir: &Path, bless: bool, failures: &mut Vec<String>) -> usize {
    let golden = root().join("tests/golden");
    let mut checked = 0;
    for cap in captures_in(dir) {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        for (suffix, args) in VARIANTS {
            let got = run(&cap, args);
            let path = golden.join(format!("{name}.{suffix}"));
            checked += 1;
            if bless {
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != got {
                let actual = root().join("target/golden-actual");
                std::fs::create_dir_all(&actual).unwrap();
                std::fs::write(actual.join(format!("{name}.{suffix}")), &got).unwrap();
                failures.push(format!("{name}.{suffix}"));
            }
        }
    }
    checked
}

/// Byte-identical output on every capture. On a difference the actual
/// output is written to `target/golden-actual/` to diff against.
#[test]
fn output_is_unchanged_on_every_capture() {
    let bless = std::env::var_os("WSCAP_BLESS").is_some();
    std::fs::create_dir_all(root().join("tests/golden")).unwrap();
    let mut failures = Vec::new();
    let mut checked = check_dir(&root().join("testdata/captures"), bless, &mut failures);
    checked += check_dir(&root().join("testdata/h2"), bless, &mut failures);
    let public = root().join("../shared/captures-public");
    if public.is_dir() {
        checked += check_dir(&public, bless, &mut failures);
    } else {
        eprintln!("../shared/captures-public not found: only testdata checked");
    }
    assert!(checked >= 53 * VARIANTS.len(), "only {checked} runs");
    assert!(
        failures.is_empty(),
        "output changed for {} run(s) (actual output in target/golden-actual/; \
         WSCAP_BLESS=1 regenerates): {failures:?}",
        failures.len()
    );
}
