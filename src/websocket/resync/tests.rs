use super::*;

const TS: Timestamp = Timestamp(0);

/// A text frame of `n` bytes (`n` < 126) as a server sends it.
fn text(n: u8) -> Vec<u8> {
    let mut v = vec![0x81, n];
    v.resize(2 + usize::from(n), b'a');
    v
}

/// A text frame of `n` bytes (`n` < 126) as a client sends it.
fn masked_text(n: u8) -> Vec<u8> {
    let mut v = vec![0x81, 0x80 | n, 1, 2, 3, 4];
    v.resize(6 + usize::from(n), b'a');
    v
}

fn header(bytes: &[u8]) -> FrameHeader {
    match frame::parse(bytes) {
        Parsed::Complete(h) => h,
        p => panic!("{p:?}"),
    }
}

/// `parts` kept as packets 1, 2, ...
fn kept(parts: &[&[u8]]) -> Kept {
    let mut k = Kept::default();
    for (i, p) in parts.iter().enumerate() {
        k.push(p, i as u64 + 1, TS, WINDOW);
    }
    k
}

#[test]
fn candidates_leave_out_legal_but_unlikely_headers() {
    assert_eq!(
        candidate(&[0x82, 0x7E, 0x01, 0x00], Expect::SERVER),
        Candidate::Frame(260)
    );
    assert_eq!(candidate(&[0x82], Expect::SERVER), Candidate::NeedMore);
    // An empty non-final continuation, a close frame of one byte, 2^32 bytes.
    assert_eq!(candidate(&[0x00, 0x00], Expect::SERVER), Candidate::No);
    assert_eq!(
        candidate(&[0x88, 0x01, 0x03], Expect::SERVER),
        Candidate::No
    );
    let huge = [0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(candidate(&huge, Expect::SERVER), Candidate::No);
    // The wrong MASK bit for the direction.
    assert_eq!(candidate(&text(1), Expect::CLIENT), Candidate::No);
}

#[test]
fn chain_follows_frames_until_one_breaks_it() {
    let mut s = [text(3), text(0), text(5)].concat();
    let full = Run {
        headers: 3,
        ends_with_bytes: true,
    };
    assert_eq!(chain(&s, 0, Expect::SERVER), Some(full));
    // Inside the first payload: byte 0x03 is a reserved opcode.
    assert_eq!(chain(&s, 1, Expect::SERVER), None);
    s.truncate(text(3).len() + text(0).len() + 1);
    let cut = Run {
        headers: 2,
        ends_with_bytes: false,
    };
    assert_eq!(chain(&s, 0, Expect::SERVER), Some(cut));
}

#[test]
fn two_headers_prove_a_packet_start_three_prove_any_position() {
    let garbage: &[u8] = b"\xff\xfe";
    let two = [text(1), text(4)].concat();
    assert_eq!(
        search(&mut kept(&[garbage, &two]), Expect::SERVER, false),
        Some(2)
    );
    // The same bytes in one packet: still open until a third header comes.
    let mut k = kept(&[&[garbage, &two[..]].concat()]);
    assert_eq!(search(&mut k, Expect::SERVER, false), None);
    k.push(&text(2), 2, TS, WINDOW);
    assert_eq!(search(&mut k, Expect::SERVER, false), Some(2));
}

#[test]
fn at_the_end_one_header_at_a_packet_start_is_enough() {
    let garbage: &[u8] = b"\xff\xfe";
    let one = text(2);
    assert_eq!(
        find_at_end(&kept(&[garbage, &one]), Expect::SERVER),
        Some(2)
    );
    assert_eq!(
        find_at_end(&kept(&[&[garbage, &one[..]].concat()]), Expect::SERVER),
        None
    );
}

#[test]
fn a_full_window_slides_on_keeping_its_tail() {
    let mut k = Kept::default();
    let zeros = vec![0u8; WINDOW + 10];
    let fed = feed(&mut k, &zeros, 1, TS, Expect::SERVER);
    assert_eq!(
        fed,
        Fed {
            taken: WINDOW,
            found: None
        }
    );
    assert_eq!(
        (k.offset(), k.len()),
        ((WINDOW - WINDOW_TAIL) as u64, WINDOW_TAIL)
    );
    let frames = [text(1), text(1)].concat();
    let fed = feed(&mut k, &frames, 2, TS, Expect::SERVER);
    assert_eq!(fed.found, Some(WINDOW_TAIL));
}

/// [`judge`] with the rules the header breaks found as the decoder finds them.
fn judged(bytes: &[u8], h: &FrameHeader, expect: Expect, complete: bool) -> Verdict {
    judge(bytes, h, expect.broken_rules(h), expect, complete)
}

#[test]
fn judge_tells_foreign_bytes_from_frames_of_buggy_peers() {
    let http = b"HTTP/1.1 400 Bad Request\r\n";
    let h = header(http);
    assert_eq!(
        judged(&http[..10], &h, Expect::SERVER, false),
        Verdict::NeedMore
    );
    assert_eq!(
        judged(http, &h, Expect::SERVER, false),
        Verdict::Foreign(ForeignKind::Http)
    );
    let tls = [&[0x16, 0x03, 0x01, 0x00, 0x30][..], &[0x01; 0x30]].concat();
    assert_eq!(
        judged(&tls, &header(&tls), Expect::CLIENT, true),
        Verdict::Foreign(ForeignKind::Tls)
    );
    // Reserved opcode 0xB with RSV1+RSV2+RSV3, followed by no header:
    // garbage.
    let junk = b"\x7b\x05hello\xf7\xf7\xf7";
    assert_eq!(
        judged(junk, &header(junk), Expect::SERVER, true),
        Verdict::Foreign(ForeignKind::Unknown)
    );
    // The same frame ending exactly with the stream chains: a frame.
    assert_eq!(
        judged(&junk[..7], &header(junk), Expect::SERVER, true),
        Verdict::Frame
    );
    // Until the next header shows, it cannot be told.
    assert_eq!(
        judged(&junk[..8], &header(junk), Expect::SERVER, false),
        Verdict::NeedMore
    );
    // A ping with RSV1+RSV2+RSV3 followed by a close frame chains.
    let ping = b"\xf9\x02hi\x88\x02\x03\xea";
    assert_eq!(
        judged(ping, &header(ping), Expect::SERVER, false),
        Verdict::Frame
    );
    // An unmasked client frame breaks one rule: a frame.
    let unmasked = text(2);
    let h = header(&unmasked);
    assert!(suspicious(&h, Expect::CLIENT) && !suspicious(&h, Expect::SERVER));
    assert_eq!(judged(&unmasked, &h, Expect::CLIENT, true), Verdict::Frame);
}

#[test]
fn proven_frames_know_the_direction() {
    let client = [masked_text(3), masked_text(0), masked_text(7)].concat();
    assert!(proven_frames(&mut kept(&[&client]), Expect::CLIENT));
    assert!(!proven_frames(&mut kept(&[&client]), Expect::SERVER));
}

#[test]
fn random_bytes_invent_no_frames() {
    // xorshift noise, client direction: a chain of three plausible headers
    // covering noise is improbable; check a few seeds.
    let mut x: u64 = 0x1234_5678_9abc_def0;
    for seed in 0..20 {
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let fed = feed(&mut Kept::default(), &noise, 2, TS, Expect::CLIENT);
        assert_eq!(fed.found, None, "seed {seed}");
    }
}

#[test]
fn search_is_linear_in_tiny_pieces() {
    // 60 KB of zeros arrive a byte at a time: every position is ruled out
    // once, not once per byte (each byte restarting the search made this
    // quadratic: seconds in a release build).
    let mut k = Kept::default();
    for i in 0..60_000u64 {
        assert_eq!(feed(&mut k, &[0], i + 2, TS, Expect::SERVER).found, None);
    }
}
