use super::*;
use crate::websocket::frame::{self, Parsed};
use flate2::{Compress, Compression, FlushCompress};

fn header(bytes: &[u8]) -> FrameHeader {
    match frame::parse(bytes) {
        Parsed::Complete(h) => h,
        p => panic!("{p:?}"),
    }
}

fn cfg(from_client: bool, deflate: bool) -> Config {
    Config {
        from_client,
        deflate: deflate.then_some(Deflate {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }),
        max_payload: None,
        max_inflated: 1 << 20,
        preview: 0,
        extensions_unknown: false,
    }
}

/// Runs frames (header bytes, unmasked payload) through a validator; returns
/// the codes per frame.
fn run(v: &mut Validator, frames: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<&'static str>> {
    let mut scratch = Scratch::default();
    frames
        .iter()
        .map(|(hb, payload)| {
            let h = header(hb);
            let mut out = Vec::new();
            v.header(&h, &mut out);
            let mut sent = payload.clone();
            if let Some(k) = h.mask {
                for (i, b) in sent.iter_mut().enumerate() {
                    *b ^= k[i % 4];
                }
            }
            // Feed in two pieces to exercise carry-over.
            let cut = sent.len() / 2;
            v.payload(&sent[..cut], 0, &mut scratch, &mut out);
            v.payload(&sent[cut..], cut as u64, &mut scratch, &mut out);
            v.end(true, &mut scratch, &mut out);
            out.iter().map(|f| f.code.name()).collect()
        })
        .collect()
}

fn hdr(b0: u8, len: usize, mask: bool) -> Vec<u8> {
    let m = if mask { 0x80 } else { 0 };
    let mut v = vec![b0];
    if len < 126 {
        v.push(m | len as u8);
    } else {
        v.push(m | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    }
    if mask {
        v.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]);
    }
    v
}

#[test]
fn unmask_matches_plain_loop_at_every_length_and_alignment() {
    let key = [0xde, 0xad, 0xbe, 0xef];
    let src: Vec<u8> = (0..100u8).collect();
    let mut dst = Vec::new();
    for len in 0..40 {
        for pos in 0..8u64 {
            let got = unmask_into(&src[..len], key, pos, &mut dst).to_vec();
            let plain: Vec<u8> = src[..len]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[(i + pos as usize) % 4])
                .collect();
            assert_eq!(got, plain, "len {len} pos {pos}");
        }
    }
}

#[test]
fn utf8_split_anywhere() {
    let text = "héllo wörld €𝄞 ok".as_bytes();
    for cut in 0..text.len() {
        for cut2 in cut..text.len() {
            let mut u = Utf8::default();
            assert_eq!(u.feed(&text[..cut]), None);
            assert_eq!(u.feed(&text[cut..cut2]), None);
            assert_eq!(u.feed(&text[cut2..]), None);
            assert_eq!(u.finish(), None, "cuts {cut} {cut2}");
        }
    }
    let mut u = Utf8::default();
    assert_eq!(u.feed(b"ab\xffcd"), Some(2));
    let mut u = Utf8::default();
    assert_eq!(u.feed(b"ab\xe2\x82"), None);
    assert_eq!(u.finish(), Some(2));
    let mut u = Utf8::default();
    assert_eq!(u.feed(b"\xe2"), None);
    assert_eq!(u.feed(b"\x28\xa1"), Some(0));
}

/// The check agrees with `std::str::from_utf8` on where the bytes stop
/// being UTF-8 and why: on every sequence of one or two bytes, every lead
/// and second byte followed by bytes that continue or break a character,
/// and longer mixes.
#[test]
fn utf8_check_is_std_s() {
    let std_says = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() => Err(Utf8Error::Cut(e.valid_up_to())),
        Err(e) => Err(Utf8Error::Invalid(e.valid_up_to())),
    };
    let check = |b: &[u8]| assert_eq!(check_utf8(b), std_says(b), "{b:x?}");
    let tails: [&[u8]; 6] = [b"", b"\x80", b"\xbf\xbf", b"a", b"\x80a", b"\x90\x80\x80"];
    for lead in 0..=255u8 {
        check(&[lead]);
        for second in 0..=255u8 {
            for tail in tails {
                check(&[&[lead, second], tail].concat());
                // After a stretch of ASCII, as in a payload.
                check(&[b"0123456789abc", &[lead, second][..], tail].concat());
            }
        }
    }
    // Other bytes after ASCII of every length up to 40 and around the
    // 64-byte blocks the SIMD check takes at a time.
    for ascii in (0..40).chain([62, 63, 64, 65, 127, 128, 129, 200]) {
        for other in [&b""[..], b"\xc3\xa9", b"\xe2\x82", b"\xff", b"\x80z"] {
            for after in [&b""[..], b"xyz", b"0123456789abcdefghij"] {
                check(&[&b"a".repeat(ascii)[..], other, after].concat());
            }
        }
    }
    let pool = [
        b'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
        0xf4, 0xf5, 0xff,
    ];
    let mut seed = 7_u64;
    for _ in 0..100_000 {
        let mut b = [b'x'; 12];
        for v in &mut b[4..] {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            *v = pool[(seed >> 33) as usize % pool.len()];
        }
        check(&b);
    }
}

#[test]
fn clean_exchange_has_no_findings() {
    let mut v = Validator::new(cfg(true, false));
    let r = run(
        &mut v,
        &[
            (hdr(0x81, 5, true), b"hello".to_vec()),
            (hdr(0x01, 3, true), "hé".as_bytes().to_vec()),
            (hdr(0x89, 0, true), vec![]),
            (hdr(0x80, 2, true), b"lo".to_vec()),
            (hdr(0x82, 300, true), vec![0xff; 300]),
            (hdr(0x88, 2, true), vec![0x03, 0xe8]),
        ],
    );
    assert!(r.iter().all(|f| f.is_empty()), "{r:?}");
}

#[test]
fn each_frame_rule() {
    let mut v = Validator::new(cfg(true, false));
    let r = run(
        &mut v,
        &[
            (hdr(0x81, 1, false), b"a".to_vec()),
            (hdr(0x83, 0, true), vec![]),
            (hdr(0xA1, 0, true), vec![]),
            (hdr(0xC1, 0, true), vec![]),
            (hdr(0x89, 126, true), vec![0; 126]),
            (hdr(0x09, 0, true), vec![]),
            (vec![0x82, 0xFE, 0x00, 0x0A, 1, 2, 3, 4], vec![0; 10]),
            (hdr(0x80, 1, true), b"x".to_vec()),
            (hdr(0x01, 1, true), b"x".to_vec()),
            (hdr(0x81, 1, true), b"y".to_vec()),
            (hdr(0x81, 3, true), vec![b'a', 0xff, b'b']),
            (hdr(0x88, 2, true), 1005u16.to_be_bytes().to_vec()),
        ],
    );
    assert_eq!(r[0], ["unmasked_client_frame"]);
    assert_eq!(r[1], ["reserved_opcode"]);
    assert_eq!(r[2], ["rsv_bits_without_extension"]);
    assert_eq!(r[3], ["rsv_bits_without_extension"]);
    assert_eq!(r[4], ["control_frame_too_long"]);
    assert_eq!(r[5], ["fragmented_control_frame"]);
    assert_eq!(r[6], ["non_minimal_length"]);
    assert_eq!(r[7], ["continuation_without_start"]);
    assert!(r[8].is_empty());
    assert_eq!(r[9], ["data_frame_during_fragmentation"]);
    assert_eq!(r[10], ["invalid_utf8"]);
    assert_eq!(r[11], ["invalid_close_code"]);
    let after = run(&mut v, &[(hdr(0x81, 1, true), b"z".to_vec())]);
    assert_eq!(after[0], ["data_after_close"]);
}

#[test]
fn server_side_rules() {
    let mut v = Validator::new(cfg(false, false));
    let r = run(
        &mut v,
        &[
            (hdr(0x81, 1, true), b"a".to_vec()),
            (hdr(0x88, 1, false), vec![3]),
            (vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], vec![]),
        ],
    );
    assert_eq!(r[0], ["masked_server_frame"]);
    assert_eq!(r[1], ["close_payload_length_one"]);
    assert_eq!(r[2], ["length_msb_set", "data_after_close"]);
}

#[test]
fn close_codes() {
    for (code, ok) in [
        (1000, true),
        (1001, true),
        (1004, false),
        (1005, false),
        (1006, false),
        (1011, true),
        (1015, false),
        (999, false),
        (2999, false),
        (3000, true),
        (4999, true),
        (5000, false),
    ] {
        assert_eq!(close_code_allowed(code), ok, "{code}");
    }
    let mut v = Validator::new(cfg(false, false));
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let body = [&1009u16.to_be_bytes()[..], b"too big"].concat();
    v.header(&header(&hdr(0x88, body.len(), false)), &mut out);
    v.payload(&body, 0, &mut scratch, &mut out);
    let facts = v.end(true, &mut scratch, &mut out);
    assert_eq!(facts.close_code, Some(1009));
    assert_eq!(facts.close_reason.as_deref(), Some("too big"));
    assert!(out.is_empty());
}

/// Compresses `msgs` as permessage-deflate with context takeover: each
/// message sync-flushed and the trailing 00 00 ff ff removed.
fn deflate_messages(msgs: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut c = Compress::new(Compression::default(), false);
    msgs.iter()
        .map(|m| {
            let mut out = Vec::with_capacity(m.len() + 64);
            c.compress_vec(m, &mut out, FlushCompress::Sync).unwrap();
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            out.truncate(out.len() - 4);
            out
        })
        .collect()
}

#[test]
fn deflate_text_messages_with_context_takeover() {
    let msgs: [&[u8]; 3] = [
        b"hello hello hello",
        "wörld wörld".as_bytes(),
        b"hello hello hello again",
    ];
    let z = deflate_messages(&msgs);
    let mut v = Validator::new(cfg(false, true));
    let frames: Vec<_> = z
        .iter()
        .map(|p| (hdr(0xC1, p.len(), false), p.clone()))
        .collect();
    let r = run(&mut v, &frames);
    assert!(r.iter().all(|f| f.is_empty()), "{r:?}");
}

#[test]
fn deflate_invalid_utf8_found_after_inflating() {
    let z = deflate_messages(&[b"ok \xff\xfe bad"]);
    let mut v = Validator::new(cfg(false, true));
    let r = run(&mut v, &[(hdr(0xC1, z[0].len(), false), z[0].clone())]);
    assert_eq!(r[0], ["invalid_utf8"]);
}

#[test]
fn deflate_fragmented_and_rsv1_rules() {
    let z = deflate_messages(&[b"fragmented compressed text message"]);
    let (a, b) = z[0].split_at(z[0].len() / 2);
    let mut v = Validator::new(cfg(false, true));
    let r = run(
        &mut v,
        &[
            (hdr(0x41, a.len(), false), a.to_vec()),
            (hdr(0x80, b.len(), false), b.to_vec()),
            (hdr(0xC9, 0, false), vec![]),
            (hdr(0x41, 1, false), b"x".to_vec()),
            (hdr(0xC0, 0, false), vec![]),
        ],
    );
    assert!(r[0].is_empty() && r[1].is_empty(), "{r:?}");
    assert_eq!(r[2], ["rsv1_on_control_frame"]);
    assert_eq!(r[4], ["rsv1_on_continuation"]);
}

#[test]
fn deflate_garbage_is_an_error() {
    let mut v = Validator::new(cfg(false, true));
    let r = run(
        &mut v,
        &[(
            hdr(0xC2, 6, false),
            vec![0xff, 0xff, 0xff, 0x00, 0x13, 0x37],
        )],
    );
    assert_eq!(r[0], ["deflate_error"]);
}

#[test]
fn deflate_bomb_is_capped() {
    let big = vec![b'a'; 4 << 20];
    let z = deflate_messages(&[&big]);
    assert!(z[0].len() < 10_000);
    let mut v = Validator::new(cfg(false, true));
    let r = run(&mut v, &[(hdr(0xC1, z[0].len(), false), z[0].clone())]);
    assert_eq!(r[0], ["decompression_limit_exceeded"]);
}

#[test]
fn max_payload_limit() {
    let mut c = cfg(true, false);
    c.max_payload = Some(100);
    let mut v = Validator::new(c);
    let r = run(
        &mut v,
        &[
            (hdr(0x82, 101, true), vec![0; 101]),
            (hdr(0x82, 100, true), vec![0; 100]),
        ],
    );
    assert_eq!(r[0], ["frame_exceeds_limit"]);
    assert!(r[1].is_empty());
}

#[test]
fn preview_is_unmasked_and_inflated() {
    let mut c = cfg(true, false);
    c.preview = 4;
    let mut v = Validator::new(c);
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let h = header(&hdr(0x82, 6, true));
    v.header(&h, &mut out);
    let sent: Vec<u8> = b"binary"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ [0x11, 0x22, 0x33, 0x44][i % 4])
        .collect();
    v.payload(&sent, 0, &mut scratch, &mut out);
    v.end(true, &mut scratch, &mut out);
    assert_eq!(v.preview(), b"bina");

    let mut c = cfg(false, true);
    c.preview = 100;
    let mut v = Validator::new(c);
    let z = deflate_messages(&[b"inflated text"]);
    v.header(&header(&hdr(0xC1, z[0].len(), false)), &mut out);
    v.payload(&z[0], 0, &mut scratch, &mut out);
    let facts = v.end(true, &mut scratch, &mut out);
    assert_eq!(v.preview(), b"inflated text");
    assert_eq!(facts.inflated, Some(13), "what the frame inflated to");
    assert!(out.is_empty());
}

#[test]
fn deflate_with_final_blocks_keeps_checking_later_messages() {
    // Each message compressed as its own complete deflate stream (BFINAL
    // set), as RFC 7692 7.2.3.4 allows: the second holds invalid UTF-8.
    let whole = |m: &[u8]| {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(m.len() + 64);
        c.compress_vec(m, &mut out, FlushCompress::Finish).unwrap();
        out
    };
    let a = whole(b"Hello");
    let b = whole(b"bad \xff utf8");
    let mut c = cfg(false, true);
    c.deflate = c.deflate.map(|mut d| {
        d.server_no_context_takeover = true;
        d
    });
    let mut v = Validator::new(c);
    let r = run(
        &mut v,
        &[
            (hdr(0xC1, a.len(), false), a),
            (hdr(0xC1, b.len(), false), b),
        ],
    );
    assert!(r[0].is_empty(), "{r:?}");
    assert_eq!(r[1], ["invalid_utf8"]);
}

/// A handshake cut by the snaplen: whether permessage-deflate was
/// negotiated is unknown, so RSV1 on a data frame is not a violation.
#[test]
fn rsv1_not_judged_when_extensions_are_unknown() {
    let mut c = cfg(true, false);
    c.extensions_unknown = true;
    let mut v = Validator::new(c);
    let mut out = Vec::new();
    v.header(&header(&hdr(0xC1, 5, true)), &mut out);
    assert!(out.is_empty(), "{out:?}");
    let mut v = Validator::new(cfg(true, false));
    v.header(&header(&hdr(0xC1, 5, true)), &mut out);
    assert_eq!(out[0].code, Code::RsvBitsWithoutExtension);
}
