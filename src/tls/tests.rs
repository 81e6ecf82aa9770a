//! The stage as a whole: synthetic TLS 1.3 and TLS 1.2 connections whose
//! records are encrypted here with the same ciphers, pushed in pieces.

use super::cipher::{Bulk, RecordCipher};
use super::keys::{self, Hash};
use super::*;

const RANDOM: [u8; 32] = [0x42; 32];
const C: Dir = Dir::ClientToServer;
const S: Dir = Dir::ServerToClient;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut m = vec![kind, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

fn client_hello() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&RANDOM);
    b.extend_from_slice(&[0, 0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0, 0, 0]);
    record(22, &message(1, &b))
}

fn server_hello(suite: u16, tls13: bool) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[0x24; 32]);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    if tls13 {
        b.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
    } else {
        b.extend_from_slice(&[0, 0]);
    }
    record(22, &message(2, &b))
}

/// TLS 1.3 secrets: handshake and application, per direction.
struct Secrets13 {
    c_hs: Vec<u8>,
    s_hs: Vec<u8>,
    c_app: Vec<u8>,
    s_app: Vec<u8>,
}

fn secrets13() -> Secrets13 {
    Secrets13 {
        c_hs: vec![1; 32],
        s_hs: vec![2; 32],
        c_app: vec![3; 32],
        s_app: vec![4; 32],
    }
}

fn keylog13(s: &Secrets13) -> KeyLog {
    let r = hex(&RANDOM);
    let text = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
         CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n",
        hex(&s.c_hs),
        hex(&s.s_hs),
        hex(&s.c_app),
        hex(&s.s_app)
    );
    let mut k = KeyLog::default();
    k.add(text.as_bytes());
    k
}

fn cipher13(secret: &[u8]) -> RecordCipher {
    let (key, iv) = keys::traffic_keys(Hash::Sha256, secret, 16).unwrap();
    RecordCipher::new(Bulk::Aes128Gcm, &key, &iv, true).unwrap()
}

/// A TLS 1.3 record: `text` with its inner content type.
fn sealed13(c: &RecordCipher, seq: u64, kind: u8, text: &[u8]) -> Vec<u8> {
    let mut inner = text.to_vec();
    inner.push(kind);
    c.seal(seq, 23, &inner)
}

/// What came out of the stage, per direction.
#[derive(Default, Debug)]
struct Seen {
    data: [Vec<u8>; 2],
    /// (dir, packet, end_packet) of each piece of data.
    packets: Vec<(Dir, u64, u64)>,
    gaps: Vec<(Dir, u64, u64)>,
    findings: Vec<(Code, Option<u64>)>,
}

/// Pushes each (dir, bytes, packet) in pieces of `piece` bytes.
fn run(keys: &KeyLog, parts: &[(Dir, Vec<u8>, u64)], piece: usize) -> (TlsSession, Seen) {
    let mut t = TlsSession::new();
    let mut seen = Seen::default();
    for (dir, bytes, packet) in parts {
        for chunk in bytes.chunks(piece) {
            t.push(*dir, chunk, (*packet, Timestamp(0)), keys, &mut |ev| {
                collect(&mut seen, ev)
            });
        }
    }
    (t, seen)
}

fn collect(seen: &mut Seen, ev: Event<'_>) {
    match ev {
        Event::Data {
            dir,
            chunk,
            end_packet,
        } => {
            assert_eq!(chunk.offset, seen.data[dir.index()].len() as u64);
            seen.data[dir.index()].extend_from_slice(chunk.data);
            seen.packets.push((dir, chunk.packet, end_packet));
        }
        Event::Gap { dir, gap } => {
            seen.data[dir.index()].extend(std::iter::repeat_n(b'?', gap.len as usize));
            seen.gaps.push((dir, gap.offset, gap.len));
        }
        Event::Finding(f) => seen.findings.push((f.code, f.packet)),
    }
}

/// A TLS 1.3 connection: hellos, the server's encrypted handshake (ALPN),
/// the client's Finished, data both ways, a KeyUpdate from the server.
fn tls13_connection(s: &Secrets13) -> Vec<(Dir, Vec<u8>, u64)> {
    let (shs, chs) = (cipher13(&s.s_hs), cipher13(&s.c_hs));
    let (sapp, capp) = (cipher13(&s.s_app), cipher13(&s.c_app));
    let ee = message(8, &[0, 11, 0, 16, 0, 7, 0, 5, 4, b'w', b's', b'/', b'1']);
    let mut flight = server_hello(0x1301, true);
    flight.extend(record(20, &[1]));
    flight.extend(sealed13(&shs, 0, 22, &ee));
    flight.extend(sealed13(&shs, 1, 22, &message(20, &[0; 32])));
    let mut client = record(20, &[1]);
    client.extend(sealed13(&chs, 0, 22, &message(20, &[0; 32])));
    client.extend(sealed13(&capp, 0, 23, b"GET / HTTP/1.1\r\n"));
    let next = keys::next_secret(Hash::Sha256, &s.s_app).unwrap();
    let mut after = sealed13(&sapp, 1, 22, &message(24, &[0]));
    after.extend(sealed13(&cipher13(&next), 0, 23, b"after update"));
    vec![
        (C, client_hello(), 1),
        (S, flight, 2),
        (C, client, 3),
        (S, sealed13(&sapp, 0, 23, b"HTTP/1.1 101\r\n"), 4),
        (S, after, 5),
    ]
}

#[test]
fn tls13_decrypts_both_ways_through_key_update_in_any_pieces() {
    let s = secrets13();
    let keys = keylog13(&s);
    for piece in [1, 3, 7, 100, 100_000] {
        let (t, seen) = run(&keys, &tls13_connection(&s), piece);
        assert_eq!(seen.findings, vec![], "piece {piece}");
        assert_eq!(seen.data[0], b"GET / HTTP/1.1\r\n");
        assert_eq!(seen.data[1], b"HTTP/1.1 101\r\nafter update");
        assert_eq!(t.status(), Status::Decrypting);
        let h = t.hello();
        assert_eq!(h.suite_name().as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(h.alpn.as_deref(), Some("ws/1"));
        assert!(t.decrypted());
    }
}

#[test]
fn data_keeps_the_packets_of_its_record() {
    let s = secrets13();
    let keys = keylog13(&s);
    let mut parts = tls13_connection(&s);
    // The server's first data record split over packets 4 and 6.
    let (dir, rec, _) = parts.remove(3);
    parts.insert(3, (dir, rec[..10].to_vec(), 4));
    parts.insert(4, (dir, rec[10..].to_vec(), 6));
    let (_, seen) = run(&keys, &parts, 1000);
    assert!(seen.packets.contains(&(S, 4, 6)), "{:?}", seen.packets);
    assert!(seen.packets.contains(&(C, 3, 3)));
}

#[test]
fn no_secret_for_the_client_random_is_said_once() {
    let s = secrets13();
    let mut keys = KeyLog::default();
    keys.add(format!("CLIENT_RANDOM {} {}", "77".repeat(32), "11".repeat(48)).as_bytes());
    let (t, seen) = run(&keys, &tls13_connection(&s), 50);
    assert_eq!(seen.findings, vec![(Code::TlsKeyMissing, Some(2))]);
    assert_eq!(t.status(), Status::NoKey);
    assert!(seen.data.iter().all(|d| d.is_empty()));
}

#[test]
fn a_wrong_secret_fails_at_the_first_record_it_protects() {
    let s = secrets13();
    let mut wrong = secrets13();
    wrong.s_app = vec![9; 32];
    let (_, seen) = run(&keylog13(&wrong), &tls13_connection(&s), 1000);
    assert_eq!(seen.findings, vec![(Code::TlsDecryptFailed, Some(4))]);
    // The client's direction is unaffected.
    assert_eq!(seen.data[0], b"GET / HTTP/1.1\r\n");
    assert!(seen.data[1].is_empty());
}

#[test]
fn after_a_lost_record_the_next_is_found_and_the_gap_said() {
    let s = secrets13();
    let keys = keylog13(&s);
    let sapp = cipher13(&s.s_app);
    let mut parts = tls13_connection(&s);
    parts.truncate(3);
    let recs: Vec<Vec<u8>> = [&b"one"[..], b"two-lost", b"three"]
        .iter()
        .enumerate()
        .map(|(i, t)| sealed13(&sapp, i as u64, 23, t))
        .collect();
    let mut t = TlsSession::new();
    let mut seen = Seen::default();
    let mut push = |t: &mut TlsSession, d: Dir, b: &[u8], p: u64| {
        t.push(d, b, (p, Timestamp(0)), &keys, &mut |ev| {
            collect(&mut seen, ev)
        })
    };
    for (d, b, p) in &parts {
        push(&mut t, *d, b, *p);
    }
    push(&mut t, S, &recs[0], 10);
    // Half of the second record in a packet, the rest lost with the start
    // of the third.
    push(&mut t, S, &recs[1][..7], 11);
    t.gap(S, (recs[1].len() - 7 + 4) as u64);
    push(&mut t, S, &recs[2][4..], 13);
    let more = sealed13(&sapp, 3, 23, b"four");
    push(&mut t, S, &more, 14);
    // "three" went with its record's start; the gap covers "two-lost" and
    // "three", its length exact (no padding): the bytes lost less two
    // records' overhead.
    assert_eq!(seen.data[1], b"one?????????????four");
    assert_eq!(seen.gaps, vec![(S, 3, 13)]);
    assert_eq!(seen.findings, vec![]);
}

/// More records lost than the search tries (a long loss on a busy
/// connection): the direction is given up after a few records, instead of
/// every later record costing hundreds of decryptions to the end.
#[test]
fn a_loss_beyond_the_search_gives_the_direction_up() {
    let s = secrets13();
    let keys = keylog13(&s);
    let sapp = cipher13(&s.s_app);
    let mut parts = tls13_connection(&s);
    parts.truncate(3);
    let mut t = TlsSession::new();
    let mut seen = Seen::default();
    let mut push = |t: &mut TlsSession, d: Dir, b: &[u8], p: u64| {
        t.push(d, b, (p, Timestamp(0)), &keys, &mut |ev| {
            collect(&mut seen, ev)
        })
    };
    for (d, b, p) in &parts {
        push(&mut t, *d, b, *p);
    }
    push(&mut t, S, &sealed13(&sapp, 0, 23, b"one"), 10);
    // 600 records lost (each 1 byte of text: 23 bytes on the wire).
    t.gap(S, 600 * 23);
    let after = 1 + 600;
    for i in 0..100u64 {
        push(&mut t, S, &sealed13(&sapp, after + i, 23, b"x"), 20 + i);
    }
    assert_eq!(seen.data[1], b"one");
    let failed: Vec<_> = seen
        .findings
        .iter()
        .filter(|(c, _)| *c == Code::TlsDecryptFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", seen.findings);
    // Given up at the 16th record after the gap.
    assert_eq!(failed[0].1, Some(20 + 15));
}

#[test]
fn bytes_that_are_not_records_stop_the_direction() {
    let s = secrets13();
    let keys = keylog13(&s);
    let mut parts = tls13_connection(&s);
    parts.push((S, b"HTTP/1.1 400 Bad\r\n\r\n".to_vec(), 9));
    let (_, seen) = run(&keys, &parts, 1000);
    assert_eq!(seen.findings, vec![(Code::TlsDecryptFailed, Some(9))]);
}

/// TLS 1.2 with ECDHE-RSA AES-128-GCM: keys from the master secret, each
/// direction's from its ChangeCipherSpec.
#[test]
fn tls12_gcm_from_the_master_secret() {
    let master = [0x5a; 48];
    let [ck, sk] = keys::key_block12(Hash::Sha256, &master, &RANDOM, &[0x24; 32], (16, 4));
    let cc = RecordCipher::new(Bulk::Aes128Gcm, &ck.key, &ck.iv, false).unwrap();
    let sc = RecordCipher::new(Bulk::Aes128Gcm, &sk.key, &sk.iv, false).unwrap();
    let mut client = record(22, &message(16, &[0; 33]));
    client.extend(record(20, &[1]));
    client.extend(cc.seal(0, 22, &message(20, &[0; 12])));
    client.extend(cc.seal(1, 23, b"GET /"));
    let mut server = record(20, &[1]);
    server.extend(sc.seal(0, 22, &message(20, &[0; 12])));
    server.extend(sc.seal(1, 23, b"HTTP/1.1 101"));
    let parts = vec![
        (C, client_hello(), 1),
        (S, server_hello(0xc02f, false), 2),
        (C, client, 3),
        (S, server, 4),
    ];
    let mut keys = KeyLog::default();
    keys.add(format!("CLIENT_RANDOM {} {}", hex(&RANDOM), hex(&master)).as_bytes());
    for piece in [1, 5, 1000] {
        let (t, seen) = run(&keys, &parts, piece);
        assert_eq!(seen.findings, vec![]);
        assert_eq!(seen.data[0], b"GET /");
        assert_eq!(seen.data[1], b"HTTP/1.1 101");
        assert_eq!(t.hello().version, Some(0x0303));
    }
}

#[test]
fn an_unsupported_suite_is_said() {
    // TLS_RSA_WITH_3DES_EDE_CBC_SHA.
    let parts = vec![(C, client_hello(), 1), (S, server_hello(0x000a, false), 2)];
    let mut keys = KeyLog::default();
    keys.add(format!("CLIENT_RANDOM {} {}", hex(&RANDOM), "11".repeat(48)).as_bytes());
    let (t, seen) = run(&keys, &parts, 1000);
    assert_eq!(seen.findings, vec![(Code::TlsDecryptFailed, Some(2))]);
    assert_eq!(t.status(), Status::Unsupported);
}

#[test]
fn hostile_bytes_never_panic() {
    let s = secrets13();
    let keys = keylog13(&s);
    let mut state = 0x1234_5678_u32;
    for _ in 0..200 {
        let mut t = TlsSession::new();
        let mut stream = client_hello();
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            stream.push(state as u8);
        }
        // Records with plausible headers, too.
        stream.extend(record(22, &[2, 0, 0, 1, 3]));
        stream.extend(record(23, &[0; 40]));
        for d in [C, S] {
            t.push(d, &stream, (1, Timestamp(0)), &keys, &mut |_| {});
            t.gap(d, 17);
            t.push(d, &stream, (2, Timestamp(0)), &keys, &mut |_| {});
        }
    }
}
