//! The TLS stage: a connection's two streams of TLS records, in pieces,
//! with gaps, through `TlsSession` with a key log that holds secrets for
//! the client random the input's ClientHello may carry.
//!
//! Input: a run of segments, each a control byte (bit 0: direction, bit
//! 1: a gap before it, bits 2-7: the gap's length in bytes / 16), a length
//! byte and that many bytes (fewer at the end of the input).
//!
//! Checked beyond "no panic": each direction's plaintext comes in order
//! (every piece and every reported gap starts where the last ended), a
//! piece's record ends no earlier than it starts, and what the stage holds
//! for records not yet whole stays bounded whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wscap::tcp::Dir;
use wscap::time::Timestamp;
use wscap::tls::record::{MAX_FRAGMENT, MAX_RUNS, MAX_SEARCH};
use wscap::tls::{Event, KeyLog, TlsSession};

/// A record, the search after a gap with its packet runs, and a handshake
/// message (128 KiB) per direction, at most (twice each, for a vector's
/// spare capacity).
const MAX_HELD: usize = 2 * 2 * (MAX_FRAGMENT + 5 + MAX_SEARCH + 24 * MAX_RUNS + 128 * 1024);

fuzz_target!(|data: &[u8]| {
    let mut keys = KeyLog::default();
    let random = "11".repeat(32);
    let secret = "22".repeat(32);
    let mut log = String::new();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        log.push_str(&format!("{label} {random} {secret}\n"));
    }
    log.push_str(&format!("CLIENT_RANDOM {random} {}\n", "33".repeat(48)));
    keys.add(log.as_bytes());

    let mut t = TlsSession::new();
    let mut next = [0u64; 2];
    let mut rest = data;
    let mut packet = 0;
    while rest.len() >= 2 {
        let (ctl, len) = (rest[0], usize::from(rest[1]));
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        packet += 1;
        let dir = if ctl & 1 == 0 {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        if ctl & 2 != 0 {
            t.gap(dir, u64::from(ctl >> 2) * 16 + 1);
        }
        t.push(
            dir,
            body,
            (packet, Timestamp(0)),
            &keys,
            &mut |ev| match ev {
                Event::Data {
                    dir,
                    chunk,
                    end_packet,
                } => {
                    assert_eq!(chunk.offset, next[dir.index()], "plaintext out of order");
                    assert!(chunk.packet <= end_packet);
                    next[dir.index()] += chunk.data.len() as u64;
                }
                Event::Gap { dir, gap } => {
                    assert_eq!(gap.offset, next[dir.index()], "gap out of order");
                    next[dir.index()] += gap.len;
                }
                Event::Finding(_) => {}
            },
        );
        assert!(t.held() <= MAX_HELD, "held {}", t.held());
    }
});
