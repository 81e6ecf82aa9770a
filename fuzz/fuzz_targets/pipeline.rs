//! The whole pipeline (reader, decoder, reassembler, analysis, JSON
//! records) over arbitrary bytes placed after a valid pcap file header.
//!
//! Input: a settings byte, then pcap records (16-byte little-endian record
//! headers and packet bytes). Settings: bits 0-2 the link type (Ethernet,
//! SLL, SLL2, RAW, IPv4, IPv6, NULL, LOOP), bit 3 tiny reassembly limits,
//! bit 4 `--port 80` (WebSocket without a handshake), bit 5
//! `--max-payload 64`, bits 6-7 the payload preview mode.
//!
//! Checked beyond "no panic": every record is valid JSON (frames as the
//! hand-written writer makes them, with the fields the record holds), the
//! summary counts the frames written.
#![no_main]

#[path = "../common/known_bugs.rs"]
mod known_bugs;

#[path = "../common/check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 8] = [1, 113, 276, 101, 228, 229, 0, 108];

fuzz_target!(|data: &[u8]| {
    let Some((&set, rest)) = data.split_first() else {
        return;
    };
    let mut cap = Vec::with_capacity(24 + rest.len());
    cap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    cap.extend_from_slice(&2u16.to_le_bytes());
    cap.extend_from_slice(&4u16.to_le_bytes());
    cap.extend_from_slice(&[0; 8]);
    cap.extend_from_slice(&65535u32.to_le_bytes());
    cap.extend_from_slice(&LINKTYPES[usize::from(set & 7)].to_le_bytes());
    cap.extend_from_slice(rest);
    check::run(cap, &check::options(set), check::preview(set));
});
