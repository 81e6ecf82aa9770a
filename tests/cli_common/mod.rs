//! Helpers for the command-line tests (`tests/cli.rs`,
//! `tests/docs_recipes.rs`): run the built binary, find the test captures,
//! temporary directories, and pcap surgery (splitting a capture into files).
//!
//! A directory module (`mod cli_common;`), so cargo does not build it as a
//! test crate of its own. Separate from `tests/common`, which belongs to
//! the analysis tests.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wscap")
}

pub fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/captures")
        .join(name)
}

/// The captures in `dir` (pcap, pcapng, gzipped pcap; not the tshark
/// dissections beside them), sorted; none when `dir` is missing.
pub fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".pcap.gz")
        })
        .collect();
    v.sort();
    v
}

/// Every capture in testdata/captures.
pub fn all_captures() -> Vec<PathBuf> {
    let v = captures_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures"));
    assert!(!v.is_empty(), "testdata/captures");
    v
}

/// Every capture of the public set (`../shared/captures-public`), when it
/// is there.
pub fn public_captures() -> Vec<PathBuf> {
    captures_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public"))
}

/// What a run of wscap produced.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The JSON Lines records.
    pub fn records(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    pub fn of_type(&self, t: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["type"] == t)
            .collect()
    }

    pub fn summary(&self) -> Value {
        let r = self.records();
        let last = r.last().expect("no records").clone();
        assert_eq!(last["type"], "summary", "summary must be last");
        last
    }
}

/// Runs wscap with `args`, standard input from `stdin` (or empty), and the
/// environment cleaned of what changes its output (NO_COLOR, TERM,
/// COLUMNS).
pub fn run_env(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .env_remove("COLUMNS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn wscap");
    let input = stdin.map(|s| s.to_vec());
    let mut pipe = child.stdin.take().expect("stdin");
    // Feed standard input from a thread: wscap writes while it reads, and
    // a full stdout pipe must not deadlock against a full stdin pipe.
    let feeder = std::thread::spawn(move || {
        if let Some(data) = input {
            let _ = pipe.write_all(&data);
        }
    });
    let o = child.wait_with_output().expect("wait wscap");
    feeder.join().expect("stdin feeder");
    Out {
        code: o.status.code().expect("exited by signal"),
        stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
    }
}

pub fn run(args: &[&str]) -> Out {
    run_env(args, None, &[])
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "wscap-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A classic pcap split into its global header and records (header +
/// data, as bytes), by plain byte copying.
pub struct Pcap {
    pub header: Vec<u8>,
    pub records: Vec<Vec<u8>>,
}

impl Pcap {
    pub fn parse(bytes: &[u8]) -> Pcap {
        assert!(bytes.len() >= 24, "pcap too short");
        let little = match &bytes[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            m => panic!("not a classic pcap: {m:02x?}"),
        };
        let mut records = Vec::new();
        let mut o = 24;
        while o + 16 <= bytes.len() {
            let f: [u8; 4] = bytes[o + 8..o + 12].try_into().unwrap();
            let incl = if little {
                u32::from_le_bytes(f)
            } else {
                u32::from_be_bytes(f)
            } as usize;
            let end = o + 16 + incl;
            assert!(end <= bytes.len(), "truncated record at {o}");
            records.push(bytes[o..end].to_vec());
            o = end;
        }
        Pcap {
            header: bytes[..24].to_vec(),
            records,
        }
    }

    /// A pcap file of the records `pick` selects.
    pub fn write(&self, path: &Path, pick: impl Fn(usize) -> bool) {
        let mut out = self.header.clone();
        for (i, r) in self.records.iter().enumerate() {
            if pick(i) {
                out.extend_from_slice(r);
            }
        }
        std::fs::write(path, out).expect("write pcap");
    }
}
