//! A key log file costs an index, not its secrets: the heap bytes a key
//! log of many TLS 1.3 sessions keeps, counted by a global allocator, when
//! read from a regular file (indexed, read back on lookup) and from a
//! stream (held whole, as a pipe is). A browser's or a load generator's log
//! holds hundreds of thousands of sessions, nearly none of them in the
//! capture read, so this is what memory grows with.

use std::io::Write;
use std::sync::atomic::Ordering;
use wscap::tls::KeyLog;
use wscap::tls::keylog::Label;

mod counting;
use counting::{Counting, LIVE, PEAK};

#[global_allocator]
static A: Counting = Counting;

const SESSIONS: usize = 20_000;

/// A TLS 1.3 session's four lines for each of `SESSIONS` client randoms,
/// secrets of 32 bytes (SHA-256 suites), as browsers write them.
fn key_log() -> Vec<u8> {
    let mut text = Vec::new();
    for i in 0..SESSIONS {
        for (label, fill) in [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 'a'),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 'b'),
            ("CLIENT_TRAFFIC_SECRET_0", 'c'),
            ("SERVER_TRAFFIC_SECRET_0", 'd'),
        ] {
            let secret: String = std::iter::repeat_n(fill, 64).collect();
            writeln!(text, "{label} {:064x} {secret}", i * 2_654_435_761).unwrap();
        }
    }
    text
}

/// Heap bytes `read` leaves allocated, and the most it had at once, per
/// session.
fn per_session(read: impl FnOnce() -> KeyLog) -> (KeyLog, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let keys = read();
    let kept = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (keys, kept / SESSIONS, peak / SESSIONS)
}

fn check(keys: &KeyLog) {
    let random = |i: usize| {
        let hex = format!("{:064x}", i * 2_654_435_761);
        let mut r = [0; 32];
        for (b, pair) in r.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *b = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
        }
        r
    };
    for i in [0, 1, SESSIONS / 2, SESSIONS - 1] {
        let s = keys.session(&random(i)).unwrap();
        let secret = s.get(Label::ServerTraffic).unwrap();
        assert_eq!(secret.as_bytes(), [0xdd; 32]);
    }
    assert!(!keys.knows(&[0xee; 32]));
}

#[test]
fn a_key_log_file_costs_an_index_not_its_secrets() {
    let text = key_log();
    let path = std::env::temp_dir().join(format!("wscap-keylog-memory-{}", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let (held, held_kept, held_peak) = per_session(|| {
        let mut k = KeyLog::default();
        k.read(std::io::Cursor::new(&text)).unwrap();
        k
    });
    check(&held);
    drop(held);
    let (indexed, kept, peak) = per_session(|| {
        let mut k = KeyLog::default();
        k.read_file(std::fs::File::open(&path).unwrap()).unwrap();
        k
    });
    check(&indexed);
    drop(indexed);
    let _ = std::fs::remove_file(&path);
    eprintln!(
        "bytes a TLS 1.3 session: held {held_kept} (peak {held_peak}), indexed {kept} (peak {peak})"
    );
    // Four 8-byte entries; while the index grows, its old and new buffers
    // (up to twice the entries) are live at once.
    assert!(kept <= 33, "{kept} bytes a session kept");
    assert!(peak <= 100, "{peak} bytes a session at the peak");
    assert!(held_kept > 4 * kept);
}
