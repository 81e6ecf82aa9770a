//! The cross-check with tshark's WebSocket dissector, shared by the tests
//! on testdata/captures (`tests/captures.rs`) and testdata/wss
//! (`tests/tls.rs`): frames keyed as tshark shows them, from its TSV beside
//! each capture and from wscap's frame records.
//!
//! A directory module, so cargo does not build it as a test crate.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A frame as tshark keys it: the packet that completes it, FIN, RSV bits,
/// opcode, MASK and the 7-bit length field.
pub type Key = (u64, bool, u8, u8, bool, u64);

/// The frames of a capture's `.tshark.tsv`.
pub fn tshark_frames(tsv: &Path) -> BTreeMap<Key, u32> {
    let text = std::fs::read_to_string(tsv).unwrap_or_else(|e| panic!("{}: {e}", tsv.display()));
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 7 || cols[0].is_empty() {
            continue;
        }
        let packet: u64 = cols[0].parse().unwrap();
        let split = |i: usize| cols[i].split(',').collect::<Vec<_>>();
        let (fins, rsvs, ops, masks, lens) = (split(2), split(3), split(4), split(5), split(6));
        let int = |s: &str| {
            let (digits, radix) = match s.strip_prefix("0x") {
                Some(h) => (h, 16),
                None => (s, 10),
            };
            u64::from_str_radix(digits, radix).unwrap()
        };
        for i in 0..fins.len() {
            let key = (
                packet,
                matches!(fins[i], "1" | "True"),
                int(rsvs[i]) as u8,
                int(ops[i]) as u8,
                matches!(masks[i], "1" | "True"),
                int(lens[i]),
            );
            *out.entry(key).or_insert(0) += 1;
        }
    }
    out
}

/// wscap's frame records, keyed as tshark keys frames.
pub fn wscap_frames(records: &[Value]) -> BTreeMap<Key, u32> {
    let mut out = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "frame") {
        let rsv = (u8::from(r["rsv1"] == true) << 2)
            | (u8::from(r["rsv2"] == true) << 1)
            | u8::from(r["rsv3"] == true);
        let masked = r["masked"] == true;
        let ext = r["header_len"].as_u64().unwrap() - if masked { 4 } else { 0 };
        let len7 = match ext {
            2 => r["payload_len"].as_u64().unwrap(),
            4 => 126,
            _ => 127,
        };
        let key = (
            r["last_packet"].as_u64().unwrap(),
            r["fin"] == true,
            rsv,
            r["opcode_value"].as_u64().unwrap() as u8,
            masked,
            len7,
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// Frames only in `a`, counted.
pub fn minus(a: &BTreeMap<Key, u32>, b: &BTreeMap<Key, u32>) -> u32 {
    a.iter()
        .map(|(k, n)| n.saturating_sub(*b.get(k).unwrap_or(&0)))
        .sum()
}
