//! wss:// read through TLS: the captures in `testdata/wss/` (real clients
//! and servers over TLS 1.3 and TLS 1.2, each with the key log its client
//! wrote, made by the captures script) are decrypted with `--tls-keylog`,
//! and every frame agrees with tshark's dissector run with the same key
//! log (the `.tshark.tsv` beside each capture). The ways decryption can
//! be impossible are each shown: no key, a wrong key, HTTP/2, a cipher
//! suite not decrypted, lost segments.

mod tshark_common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tshark_common::{minus, tshark_frames, wscap_frames};

fn wss(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/wss")
        .join(name)
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
    records: Vec<Value>,
}

fn wscap_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wscap"));
    cmd.arg("analyze").env_remove("SSLKEYLOGFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run wscap");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records = if args.windows(2).any(|w| w == ["--format", "jsonl"]) {
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
            .collect()
    } else {
        Vec::new()
    };
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
        records,
    }
}

/// jsonl of `capture` with its own key log (when it has one) and `extra`.
fn jsonl(capture: &Path, extra: &[&str]) -> Run {
    let keys = keys_of(capture);
    let mut args = vec!["--format", "jsonl"];
    if let Some(k) = keys.as_deref() {
        args.extend(["--tls-keylog", k]);
    }
    args.extend(extra);
    args.push(capture.to_str().unwrap());
    wscap_env(&args, &[])
}

fn keys_of(capture: &Path) -> Option<String> {
    let s = capture.to_str().unwrap();
    let keys = PathBuf::from(format!("{}.keys", s.trim_end_matches(".pcap")));
    keys.exists().then(|| keys.to_str().unwrap().to_owned())
}

fn summary(run: &Run) -> &Value {
    let s = run.records.last().expect("a summary record");
    assert_eq!(s["type"], "summary");
    s
}

fn findings_by_code(run: &Run) -> BTreeMap<String, u64> {
    summary(run)["findings_by_code"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn connections(run: &Run) -> Vec<&Value> {
    run.records
        .iter()
        .filter(|r| r["type"] == "connection")
        .collect()
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(wss(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    v
}

/// Where wscap and tshark differ, and why: (capture, frames only tshark
/// shows, frames only wscap shows).
const DIFFERENT: &[(&str, u32, u32, &str)] = &[
    // A lost TLS record: tshark decrypts nothing more in that direction;
    // wscap finds the next record by its sequence number and goes on.
    (
        "wss-py-tls13-aes128-lost.pcap",
        0,
        7,
        "records after a lost one",
    ),
    (
        "wss-py-tls13-mtu1500-lost-header.pcap",
        0,
        2,
        "records after a lost one",
    ),
    (
        "wss-py-tls13-mtu1500-lost-midrecord.pcap",
        0,
        2,
        "records after a lost one",
    ),
    // WebSocket over HTTP/2 (RFC 8441): tshark 4.0 does not dissect the
    // frames inside DATA frames.
    ("wss-py-tls13-alpn-h2.pcap", 0, 2, "WebSocket over HTTP/2"),
];

/// Each capture's findings, exactly.
const EXPECTED: &[(&str, &[(&str, u64)])] = &[
    // The lost record held a frame header: sync lost, the gap reported on
    // the frame and on the connection, frames again at the next record.
    (
        "wss-py-tls13-aes128-lost.pcap",
        &[("capture_gap", 2), ("resynchronized", 1)],
    ),
    (
        "wss-py-tls13-mtu1500-lost-header.pcap",
        &[("capture_gap", 2), ("resynchronized", 1)],
    ),
    (
        "wss-py-tls13-mtu1500-lost-midrecord.pcap",
        &[("capture_gap", 2), ("resynchronized", 1)],
    ),
    // Two connections, the key log holding the secrets of one.
    ("wss-py-tls13-missing-key.pcap", &[("tls_key_missing", 1)]),
];

#[test]
fn every_decrypted_frame_agrees_with_tshark() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for cap in captures() {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        let want = tshark_frames(&wss(&format!("{name}.tshark.tsv")));
        let run = jsonl(&cap, &[]);
        assert_ne!(run.status, 2, "{name}: {}", run.stderr);
        let got = wscap_frames(&run.records);
        let diff = (minus(&want, &got), minus(&got, &want));
        let expected = DIFFERENT
            .iter()
            .find(|d| d.0 == name)
            .map_or((0, 0), |d| (d.1, d.2));
        if diff != expected {
            wrong.push(format!(
                "{name}: only tshark / only wscap {diff:?}, expected {expected:?}"
            ));
        }
        let codes = findings_by_code(&run);
        let want_codes: BTreeMap<String, u64> = EXPECTED
            .iter()
            .find(|e| e.0 == name)
            .map(|e| e.1.iter().map(|(c, n)| (c.to_string(), *n)).collect())
            .unwrap_or_default();
        if codes != want_codes {
            wrong.push(format!(
                "{name}: findings {codes:?}, expected {want_codes:?}"
            ));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 20, "only {checked} captures found");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_connection_record_says_version_suite_sni_and_alpn() {
    let run = jsonl(&wss("wss-py-tls13-aes256.pcap"), &[]);
    let c = connections(&run)[0];
    assert_eq!(c["websocket"], true);
    let tls = &c["tls"];
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["cipher_suite"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(tls["sni"], "wscap.test");
    assert_eq!(tls["alpn_selected"], "http/1.1");
    assert_eq!(tls["decrypted"], true);
    assert_eq!(summary(&run)["tls_decrypted"], 1);
    let run = jsonl(&wss("wss-py-tls12-rsa-chacha20.pcap"), &[]);
    let tls = &connections(&run)[0]["tls"];
    assert_eq!(tls["version"], "TLS 1.2");
    assert_eq!(
        tls["cipher_suite"],
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    );
    // AES-CBC with HMAC-SHA256, encrypt-then-MAC (RFC 7366).
    let run = jsonl(&wss("wss-py-tls12-ecdsa-aes128cbc.pcap"), &[]);
    let tls = &connections(&run)[0]["tls"];
    assert_eq!(
        tls["cipher_suite"],
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
    );
    assert_eq!(tls["decrypted"], true);
}

/// A frame's `packet` is where the TLS record holding its first byte
/// starts, `last_packet` where the record holding its last byte ends
/// (where Wireshark shows it): a 17000-byte frame over two records and
/// many 1500-byte packets.
#[test]
fn a_frame_points_at_the_packets_of_its_records() {
    let run = jsonl(&wss("wss-py-tls13-mtu1500.pcap"), &[]);
    let big: Vec<&Value> = run
        .records
        .iter()
        .filter(|r| r["type"] == "frame" && r["payload_len"] == 17000)
        .collect();
    assert_eq!(big.len(), 2);
    for f in big {
        let (first, last) = (
            f["packet"].as_u64().unwrap(),
            f["last_packet"].as_u64().unwrap(),
        );
        assert!(last > first + 10, "{first}..{last}");
    }
}

#[test]
fn without_a_key_log_a_tls_connection_is_only_marked() {
    let cap = wss("wss-py-tls13-aes128.pcap");
    let run = wscap_env(&["--format", "jsonl", path(&cap)], &[]);
    assert_eq!(wscap_frames(&run.records).len(), 0);
    let tls = &connections(&run)[0]["tls"];
    assert_eq!(tls["version"], "TLS 1.3");
    assert!(tls.get("cipher_suite").is_none() && tls.get("decrypted").is_none());
    assert!(findings_by_code(&run).is_empty());
}

#[test]
fn the_key_missing_is_said_once_for_its_connection() {
    let run = jsonl(&wss("wss-py-tls13-missing-key.pcap"), &[]);
    let conns = connections(&run);
    assert_eq!(conns.len(), 2);
    let missing: Vec<&&Value> = conns
        .iter()
        .filter(|c| c["tls"]["decrypted"] == false)
        .collect();
    assert_eq!(missing.len(), 1);
    let f = &missing[0]["findings"][0];
    assert_eq!(f["code"], "tls_key_missing");
    assert!(f["detail"].as_str().unwrap().contains("SSLKEYLOGFILE"));
    assert!(
        conns
            .iter()
            .any(|c| c["tls"]["decrypted"] == true && c["websocket"] == true)
    );
    // The summary says so too.
    let text = wscap_env(
        &[
            "--format",
            "summary",
            "--tls-keylog",
            &keys_of(&wss("wss-py-tls13-missing-key.pcap")).unwrap(),
            path(&wss("wss-py-tls13-missing-key.pcap")),
        ],
        &[],
    );
    assert!(text.stdout.contains("SSLKEYLOGFILE"), "{}", text.stdout);
}

/// A key log whose secrets were altered: the first record protected by
/// them fails, and the finding names its packet.
#[test]
fn a_wrong_key_is_tls_decrypt_failed_at_the_first_record() {
    let cap = wss("wss-py-tls13-aes128.pcap");
    let keys = std::fs::read_to_string(keys_of(&cap).unwrap()).unwrap();
    let altered: String = keys
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, secret)) if !l.starts_with('#') => {
                let flipped = if secret.starts_with('0') { "1" } else { "0" };
                format!("{head} {flipped}{}\n", &secret[1..])
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let dir = tempdir("wrong-key");
    let file = dir.join("altered.keys");
    std::fs::write(&file, altered).unwrap();
    let run = wscap_env(
        &["--format", "jsonl", "--tls-keylog", path(&file), path(&cap)],
        &[],
    );
    let c = connections(&run)[0];
    let failed: Vec<&Value> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "tls_decrypt_failed")
        .collect();
    // One per direction; the server's first protected record is packet 6.
    assert_eq!(failed.len(), 2, "{c}");
    assert!(failed.iter().any(|f| f["packet"] == 6));
    assert_eq!(c["tls"]["decrypted"], false);
    assert_eq!(wscap_frames(&run.records).len(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wscap-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn secrets_embedded_in_a_pcapng_are_used_without_a_key_log() {
    let cap = wss("wss-py-tls13-aes128-dsb.pcapng");
    let run = wscap_env(&["--format", "jsonl", path(&cap)], &[]);
    assert_eq!(wscap_frames(&run.records).len(), 20);
    assert_eq!(connections(&run)[0]["tls"]["decrypted"], true);
}

#[test]
fn sslkeylogfile_is_read_from_the_environment() {
    let cap = wss("wss-py-tls13-chacha20.pcap");
    let keys = keys_of(&cap).unwrap();
    let run = wscap_env(
        &["--format", "jsonl", path(&cap)],
        &[("SSLKEYLOGFILE", &keys)],
    );
    assert_eq!(wscap_frames(&run.records).len(), 18);
    // Set but naming no file: a warning, and the run goes on.
    let run = wscap_env(
        &["--format", "jsonl", path(&cap)],
        &[("SSLKEYLOGFILE", "/nonexistent/wscap-keys.log")],
    );
    assert_eq!(run.status, 0);
    assert!(run.stderr.contains("SSLKEYLOGFILE"), "{}", run.stderr);
}

#[test]
fn an_unreadable_key_log_is_an_error_naming_it() {
    let cap = wss("wss-py-tls13-aes128.pcap");
    let run = wscap_env(
        &[
            "--format",
            "jsonl",
            "--tls-keylog",
            "no-such.keys",
            path(&cap),
        ],
        &[],
    );
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("no-such.keys"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn a_file_without_secrets_is_warned_of() {
    let dir = tempdir("no-secrets");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "hello\nworld\n").unwrap();
    let cap = wss("wss-py-tls13-aes128.pcap");
    let run = wscap_env(
        &["--format", "jsonl", "--tls-keylog", path(&file), path(&cap)],
        &[],
    );
    assert_eq!(run.status, 0);
    assert!(run.stderr.contains("no TLS secret"), "{}", run.stderr);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_key_log_is_never_in_the_output() {
    let cap = wss("wss-py-tls13-aes128.pcap");
    let keys_file = keys_of(&cap).unwrap();
    let keys = std::fs::read_to_string(&keys_file).unwrap();
    let secrets: Vec<&str> = keys
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(secrets.len() >= 4);
    for format in ["jsonl", "json", "table", "summary"] {
        let run = wscap_env(
            &[
                "--format",
                format,
                "--all",
                "--payload",
                "hex",
                "--tls-keylog",
                &keys_file,
                path(&cap),
            ],
            &[],
        );
        for s in &secrets {
            let half = &s[..s.len() / 2];
            assert!(
                !run.stdout.contains(half) && !run.stderr.contains(half),
                "{format}"
            );
        }
    }
}

#[test]
fn both_legs_of_a_tls_terminating_proxy_are_linked() {
    let run = jsonl(&wss("wss-nginx-terminate.pcap"), &[]);
    let conns = connections(&run);
    assert_eq!(conns.len(), 2);
    let tls = conns
        .iter()
        .find(|c| c.get("tls").is_some())
        .expect("the client leg");
    let plain = conns
        .iter()
        .find(|c| c.get("tls").is_none())
        .expect("the backend leg");
    assert_eq!(tls["other_leg"], plain["conn"]);
    assert_eq!(plain["other_leg"], tls["conn"]);
    assert_eq!(tls["websocket"], true);
}

/// ALPN h2 (RFC 7301) and an extended CONNECT (RFC 8441): the decrypted
/// HTTP/2 is read, the WebSocket in its stream 1 decoded.
#[test]
fn http2_inside_tls_is_decoded() {
    let run = jsonl(&wss("wss-py-tls13-alpn-h2.pcap"), &[]);
    let c = connections(&run)[0];
    assert_eq!(c["tls"]["alpn_selected"], "h2");
    assert_eq!(c["websocket"], true);
    assert_eq!(c["detected_by"], "http2");
    assert_eq!(c["request"]["method"], "CONNECT");
    assert_eq!(c["http2"]["websockets"][0]["stream"], 1);
    assert_eq!(c["findings"], serde_json::json!([]));
    let frames: Vec<_> = run
        .records
        .iter()
        .filter(|r| r["type"] == "frame")
        .collect();
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| f["h2_stream"] == 1));
    assert_eq!(frames[0]["preview"], "hello over h2");
    assert_eq!(frames[1]["preview"], "echo over h2");
}

/// A capture that begins after the handshake: no client random, so no
/// key can be matched, and the connection says so.
#[test]
fn joined_after_the_handshake_says_the_key_cannot_be_matched() {
    let cap = wss("wss-py-tls13-aes128.pcap");
    let bytes = std::fs::read(&cap).unwrap();
    // Classic pcap: drop the first 7 packets (up to the server's flight).
    let mut cut = bytes[..24].to_vec();
    let (mut at, mut n) = (24, 0);
    while at + 16 <= bytes.len() {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        n += 1;
        if n > 7 {
            cut.extend_from_slice(&bytes[at..at + 16 + incl]);
        }
        at += 16 + incl;
    }
    let dir = tempdir("joined");
    let file = dir.join("joined.pcap");
    std::fs::write(&file, cut).unwrap();
    let keys = keys_of(&cap).unwrap();
    let run = wscap_env(
        &["--format", "jsonl", "--tls-keylog", &keys, path(&file)],
        &[],
    );
    let c = connections(&run)[0];
    assert_eq!(c["tls"]["decrypted"], false);
    assert_eq!(c["findings"][0]["code"], "tls_key_missing");
    assert!(
        c["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("ClientHello")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `wscap diff` reads both sides through TLS with the key logs given: the
/// two connections pair by their decrypted upgrade requests.
#[test]
fn diff_decrypts_both_sides() {
    let (a, b) = (
        wss("wss-py-tls13-aes128.pcap"),
        wss("wss-py-tls13-aes256.pcap"),
    );
    let (ka, kb) = (keys_of(&a).unwrap(), keys_of(&b).unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .env_remove("SSLKEYLOGFILE")
        .args([
            "diff",
            "--format",
            "jsonl",
            "--tls-keylog",
            &ka,
            "--tls-keylog",
            &kb,
        ])
        .args([path(&a), path(&b)])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pair = records
        .iter()
        .find(|r| r["type"] == "pair")
        .expect("a pair");
    assert_eq!(pair["before"]["websocket"], true);
    assert_eq!(pair["after"]["target"], "/wss/0");
    let summary = records.last().unwrap();
    assert_eq!(summary["before"]["frames"], 20);
    assert_eq!(summary["after"]["frames"], 18);
}
