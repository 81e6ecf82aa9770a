//! The promise of `wireshark_filter`: the filter a connection record
//! carries selects that connection in Wireshark. `tcp.stream eq N` is
//! checked against tshark's own numbering, kept in
//! `tests/tshark_streams.tsv` (made by `tests/tshark_streams.sh`), for every
//! capture in `testdata/captures` and `../shared/captures-public`; the
//! address form is checked to name a conversation tshark saw begin at the
//! record's first packet. tshark is not needed to run this test.

mod cli_common;

use cli_common::captures_in;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use wscap::report::wireshark::{conn_filter, endpoints_filter};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One tshark stream: (stream index, first frame, source, destination).
type Stream = (u64, u64, String, String);

/// The table, by capture (`captures/NAME` or `captures-public/NAME`).
fn table() -> BTreeMap<String, Vec<Stream>> {
    let text = std::fs::read_to_string(root().join("tests/tshark_streams.tsv")).unwrap();
    let mut t: BTreeMap<String, Vec<Stream>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let streams = t.entry(f[0].to_string()).or_default();
        if f[1] != "-" {
            let n = |s: &str| s.parse::<u64>().unwrap();
            streams.push((n(f[1]), n(f[2]), f[3].to_string(), f[4].to_string()));
        }
    }
    t
}

fn connections(capture: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .args(["analyze", "--format", "jsonl"])
        .arg(capture)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "connection")
        .collect()
}

/// Checks one capture's records against tshark's streams; returns how many
/// records used `tcp.stream` and how many the address form.
fn check(name: &str, capture: &Path, streams: &[Stream], errors: &mut Vec<String>) -> (u32, u32) {
    let (mut by_stream, mut by_address) = (0, 0);
    for rec in connections(capture) {
        let conn = rec["conn"].as_u64().unwrap();
        let first = rec["first_packet"].as_u64().unwrap();
        let client = rec["client"].as_str().unwrap().to_string();
        let server = rec["server"].as_str().unwrap().to_string();
        let ends: BTreeSet<&str> = [client.as_str(), server.as_str()].into();
        let same = |s: &&Stream| ends == [s.2.as_str(), s.3.as_str()].into();
        let filter = rec["wireshark_filter"].as_str().unwrap();
        if filter == conn_filter(conn) {
            by_stream += 1;
            match streams.iter().find(|s| s.0 == conn) {
                Some(s) if same(&s) && s.1 == first => {}
                s => errors.push(format!(
                    "{name}: conn {conn} ({client} - {server}, first packet {first}) says \
                     {filter:?} but tshark's stream {conn} is {s:?}"
                )),
            }
        } else {
            by_address += 1;
            let (c, s) = (client.parse().unwrap(), server.parse().unwrap());
            if filter != endpoints_filter(c, s) {
                errors.push(format!("{name}: conn {conn}: unexpected filter {filter:?}"));
            }
            if !streams.iter().any(|s| same(&s) && s.1 == first) {
                errors.push(format!(
                    "{name}: conn {conn}: tshark has no stream {client} - {server} from frame {first}"
                ));
            }
        }
    }
    (by_stream, by_address)
}

#[test]
fn wireshark_filters_select_their_connection() {
    let table = table();
    let mut errors = Vec::new();
    let mut address_form = Vec::new();
    let mut total = (0, 0);
    let dirs = [
        ("captures", root().join("testdata/captures")),
        ("captures-public", root().join("../shared/captures-public")),
    ];
    for (label, dir) in dirs.iter().filter(|(_, d)| d.is_dir()) {
        for cap in captures_in(dir) {
            let name = format!("{label}/{}", cap.file_name().unwrap().to_string_lossy());
            let Some(streams) = table.get(&name) else {
                errors.push(format!(
                    "{name} is not in tests/tshark_streams.tsv: run tests/tshark_streams.sh"
                ));
                continue;
            };
            let (s, a) = check(&name, &cap, streams, &mut errors);
            total = (total.0 + s, total.1 + a);
            if a > 0 {
                address_form.push(name);
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(total.0 >= 100, "only {} records by tcp.stream", total.0);
    // Only the capture where Wireshark's SOCKS dissector counts a stream of
    // its own needs the address form; every other is numbered as Wireshark.
    let expected: Vec<String> = if dirs[1].1.is_dir() {
        vec!["captures-public/ndpi__tls_heur__vmess-websocket.pcapng".into()]
    } else {
        vec![]
    };
    assert_eq!(address_form, expected);
}
