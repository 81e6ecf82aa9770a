//! `--threads 2` (reading and reassembly on one thread, the analysis and
//! output on another) writes byte for byte what `--threads 1` writes, on
//! every capture in testdata and in the public set, in every format; and
//! so does reading the files by copying them (`--no-mmap`) rather than
//! mapping them.

mod cli_common;

use cli_common::{all_captures, captures_in, public_captures, run};
use std::path::PathBuf;

/// The output with the run time (which differs run to run) masked.
fn masked(s: &str) -> String {
    s.lines()
        .map(|l| match l.find("\"elapsed_ms\":") {
            Some(i) => l[..i].to_owned(),
            None if l.trim_start().starts_with("elapsed") => String::new(),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn two_threads_write_what_one_writes() {
    let mut captures = all_captures();
    captures.extend(public_captures());
    let h2 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/h2");
    captures.extend(captures_in(&h2));
    assert!(captures.len() > 80);
    let formats: [&[&str]; 4] = [
        &["--format", "jsonl"],
        &[
            "--format",
            "jsonl",
            "--payload",
            "hex",
            "--max-payload",
            "1000",
        ],
        &["--format", "table", "--color", "never", "--payload", "text"],
        &["--format", "summary", "--color", "never"],
    ];
    for c in &captures {
        let path = c.to_str().unwrap();
        for f in formats {
            // A TLS capture's key log beside it (testdata/h2): decrypted.
            let keys = c.with_extension("keys");
            let keys = keys.to_str().unwrap();
            let has_keys = std::path::Path::new(keys).exists();
            let args = |threads: &'static str| {
                let mut a = f.to_vec();
                if has_keys {
                    a.extend(["--tls-keylog", keys]);
                }
                a.extend(["--threads", threads, path]);
                a
            };
            let (one, two) = (run(&args("1")), run(&args("2")));
            assert_eq!(one.code, two.code, "{path} {f:?}");
            assert_eq!(one.stderr, two.stderr, "{path} {f:?}");
            assert!(
                masked(&one.stdout) == masked(&two.stdout),
                "{path} {f:?}: the outputs differ"
            );
        }
    }
}

/// A file mapped or copied: the same output, whether the reading side
/// names the bytes in the file's pages or copies them (both threads).
#[test]
fn copied_files_read_as_mapped_ones() {
    let mut captures = all_captures();
    captures.extend(public_captures());
    for c in &captures {
        let path = c.to_str().unwrap();
        for threads in ["1", "2"] {
            let base = ["--format", "jsonl", "--threads", threads, path];
            let mapped = run(&base);
            let mut args = base.to_vec();
            args.push("--no-mmap");
            let copied = run(&args);
            assert_eq!(mapped.code, copied.code, "{path}");
            assert_eq!(mapped.stderr, copied.stderr, "{path}");
            assert!(
                masked(&mapped.stdout) == masked(&copied.stdout),
                "{path} --threads {threads}: the outputs differ"
            );
        }
    }
}

/// Several files merged, read on two threads: the same records.
#[test]
fn merged_files_on_two_threads() {
    let parts: Vec<PathBuf> = all_captures()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("diff-rotated-part"))
        .collect();
    assert_eq!(parts.len(), 3);
    let mut args: Vec<&str> = vec!["--format", "jsonl"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    let with = |n: &'static str| {
        let mut a = args.clone();
        a.extend(["--threads", n]);
        masked(&run(&a).stdout)
    };
    assert_eq!(with("1"), with("2"));
}
