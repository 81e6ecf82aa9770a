use super::*;

/// A frame as bytes: opcode byte, payload, optional mask key.
fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut v = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => v.push(m | n as u8),
        n if n <= 0xFFFF => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if let Some(k) = mask {
        v.extend_from_slice(&k);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

/// Compact trace of events: frames as (index, offset, packet, opcode, len),
/// ends as (last_packet, missing, complete), and sync events.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Ev {
    F(u64, u64, u64, u8, u64),
    E(u64, u64, bool),
    Lost(u64),
    Resync(u64, u64),
    Partial(u64, u8),
    Foreign(u64, ForeignKind),
}

fn run(expect: Expect, parts: &[(&[u8], u64)], gaps_after: &[(usize, u64)]) -> (Vec<Ev>, Vec<u8>) {
    let mut d = FrameDecoder::new(0, expect);
    let mut evs = Vec::new();
    let mut payload = Vec::new();
    for (i, (data, pkt)) in parts.iter().enumerate() {
        d.push(data, *pkt, Timestamp(0), &mut |e| {
            record(&mut evs, &mut payload, e)
        });
        for &(after, len) in gaps_after {
            if after == i {
                d.gap(len, *pkt, Timestamp(0), &mut |e| {
                    record(&mut evs, &mut payload, e)
                });
            }
        }
    }
    d.finish(&mut |e| record(&mut evs, &mut payload, e));
    (evs, payload)
}

fn record(evs: &mut Vec<Ev>, payload: &mut Vec<u8>, e: DecodeEvent<'_>) {
    match e {
        DecodeEvent::Frame(s) => evs.push(Ev::F(
            s.index,
            s.offset,
            s.packet,
            s.header.opcode.0,
            s.header.payload_len,
        )),
        DecodeEvent::Payload { data, .. } => payload.extend_from_slice(data),
        DecodeEvent::PayloadGap { len, .. } => {
            payload.extend(std::iter::repeat_n(b'?', len as usize))
        }
        DecodeEvent::End(e) => evs.push(Ev::E(e.last_packet, e.missing, e.complete)),
        DecodeEvent::SyncLost { offset, .. } => evs.push(Ev::Lost(offset)),
        DecodeEvent::Resync {
            offset, skipped, ..
        } => evs.push(Ev::Resync(offset, skipped)),
        DecodeEvent::PartialHeader { offset, have, .. } => evs.push(Ev::Partial(offset, have)),
        DecodeEvent::Foreign { offset, kind, .. } => evs.push(Ev::Foreign(offset, kind)),
    }
}

fn stream() -> Vec<u8> {
    let mut s = frame(0x81, b"Hello", None);
    s.extend(frame(0x01, b"frag", None));
    s.extend(frame(0x89, b"", None));
    s.extend(frame(0x80, &[7u8; 300], None));
    s.extend(frame(0x82, &[1u8; 70_000], None));
    s.extend(frame(0x88, &[0x03, 0xE8], None));
    s
}

#[test]
fn decodes_whole_stream() {
    let s = stream();
    let (evs, payload) = run(Expect::SERVER, &[(&s, 1)], &[]);
    let frames: Vec<_> = evs.iter().filter(|e| matches!(e, Ev::F(..))).collect();
    assert_eq!(frames.len(), 6);
    assert_eq!(evs[0], Ev::F(0, 0, 1, 1, 5));
    assert_eq!(payload.len(), 5 + 4 + 300 + 70_000 + 2);
    assert!(evs.iter().all(|e| !matches!(e, Ev::E(_, _, false))));
}

#[test]
fn any_split_decodes_identically() {
    let s = stream();
    let (whole, whole_payload) = run(Expect::SERVER, &[(&s, 1)], &[]);
    // Two-way splits at every header-adjacent position, and three-way
    // splits at a stride; packet numbers are normalised away.
    let norm = |evs: &[Ev]| -> Vec<Ev> {
        evs.iter()
            .map(|e| match *e {
                Ev::F(i, o, _, op, l) => Ev::F(i, o, 0, op, l),
                Ev::E(_, m, c) => Ev::E(0, m, c),
                ref x => x.clone(),
            })
            .collect()
    };
    for cut in (0..400).chain((s.len() - 300)..s.len()) {
        let (evs, payload) = run(Expect::SERVER, &[(&s[..cut], 1), (&s[cut..], 2)], &[]);
        assert_eq!(norm(&evs), norm(&whole), "cut at {cut}");
        assert_eq!(payload, whole_payload);
    }
    for a in (0..s.len()).step_by(97) {
        for b in (a..s.len()).step_by(1031) {
            let (evs, _) = run(
                Expect::SERVER,
                &[(&s[..a], 1), (&s[a..b], 2), (&s[b..], 3)],
                &[],
            );
            assert_eq!(norm(&evs), norm(&whole), "cuts at {a},{b}");
        }
    }
}

#[test]
fn byte_at_a_time() {
    let s = frame(0x82, &[9u8; 200], Some([1, 2, 3, 4]));
    let parts: Vec<(&[u8], u64)> = s
        .chunks(1)
        .enumerate()
        .map(|(i, c)| (c, i as u64 + 1))
        .collect();
    let (evs, payload) = run(Expect::CLIENT, &parts, &[]);
    // The header's first byte is in packet 1, the payload's last in the last.
    assert_eq!(
        evs,
        vec![Ev::F(0, 0, 1, 2, 200), Ev::E(s.len() as u64, 0, true)]
    );
    assert_eq!(payload.len(), 200);
}

#[test]
fn gap_inside_payload_keeps_sync() {
    let a = frame(0x82, &[1u8; 1000], None);
    let b = frame(0x81, b"next", None);
    // Packet 1: header + 100 bytes; 500 bytes lost; packet 3: the rest + next frame.
    let mut p3 = a[2 + 600..].to_vec();
    p3.extend_from_slice(&b);
    let (evs, _) = run(Expect::SERVER, &[(&a[..102], 1), (&p3, 3)], &[(0, 500)]);
    assert_eq!(
        evs,
        vec![
            Ev::F(0, 0, 1, 2, 1000),
            Ev::E(3, 500, true),
            Ev::F(1, 1004, 3, 1, 4),
            Ev::E(3, 0, true)
        ]
    );
}

#[test]
fn gap_ending_a_payload_exactly() {
    let a = frame(0x82, &[1u8; 100], None);
    let b = frame(0x81, b"x", None);
    let (evs, _) = run(Expect::SERVER, &[(&a[..52], 1), (&b, 3)], &[(0, 50)]);
    assert_eq!(
        evs,
        vec![
            Ev::F(0, 0, 1, 2, 100),
            Ev::E(1, 50, true),
            Ev::F(1, 102, 3, 1, 1),
            Ev::E(3, 0, true)
        ]
    );
}

#[test]
fn gap_over_header_resyncs_on_chain() {
    let mut s = Vec::new();
    for i in 0..6u8 {
        s.extend(frame(0x82, &[i; 40], Some([i, 1, 2, 3])));
    }
    // Frame 0 complete, frame 1 lost entirely (46 bytes), frames 2.. present.
    let (evs, _) = run(Expect::CLIENT, &[(&s[..46], 1), (&s[92..], 3)], &[(0, 46)]);
    assert_eq!(evs[0..2], [Ev::F(0, 0, 1, 2, 40), Ev::E(1, 0, true)]);
    assert_eq!(evs[2], Ev::Lost(46));
    assert_eq!(evs[3], Ev::Resync(92, 46));
    let frames = evs.iter().filter(|e| matches!(e, Ev::F(..))).count();
    assert_eq!(frames, 5);
}

#[test]
fn resync_skips_garbage_before_frames() {
    let mut s = frame(0x81, b"a", None);
    let lost = s.len() as u64;
    // Gap, then the tail of some payload (garbage), then real frames from a
    // new packet.
    let garbage = b"\xff\xfe\x13\x37 not a frame \x00";
    let mut next = Vec::new();
    for _ in 0..3 {
        next.extend(frame(0x81, b"hello", None));
    }
    s.extend_from_slice(garbage);
    let parts: [(&[u8], u64); 3] = [
        (&s[..lost as usize], 1),
        (&s[lost as usize..], 3),
        (&next, 4),
    ];
    let (evs, _) = run(Expect::SERVER, &parts, &[(0, 10)]);
    assert_eq!(evs[2], Ev::Lost(lost));
    let resync_at = lost + 10 + garbage.len() as u64;
    assert_eq!(evs[3], Ev::Resync(resync_at, 10 + garbage.len() as u64));
    assert_eq!(evs.iter().filter(|e| matches!(e, Ev::F(..))).count(), 4);
}

#[test]
fn impossible_length_loses_sync_then_finds_next_frames() {
    let mut s = vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
    for _ in 0..3 {
        s.extend(frame(0x81, b"ok", None));
    }
    let (evs, _) = run(Expect::SERVER, &[(&s, 1)], &[]);
    assert_eq!(evs[0], Ev::F(0, 0, 1, 2, 1 << 63));
    assert_eq!(evs[1], Ev::E(1, 0, false));
    assert_eq!(evs[2], Ev::Lost(10));
    assert_eq!(evs[3], Ev::Resync(10, 0));
    assert_eq!(evs.iter().filter(|e| matches!(e, Ev::F(..))).count(), 4);
}

#[test]
fn stream_ending_mid_frame() {
    let s = frame(0x82, &[0u8; 50], None);
    let (evs, _) = run(Expect::SERVER, &[(&s[..20], 1)], &[]);
    assert_eq!(evs, vec![Ev::F(0, 0, 1, 2, 50), Ev::E(1, 0, false)]);
    let (evs, _) = run(Expect::SERVER, &[(&[0x82, 0x7E, 0x01], 1)], &[]);
    assert_eq!(evs, vec![Ev::Partial(0, 3)]);
}

#[test]
fn lost_sync_at_end_with_single_frame_ending_stream() {
    let mut s = frame(0x81, b"a", None);
    let first = s.len();
    s.extend(frame(0x88, &[0x03, 0xE8], None));
    let (evs, _) = run(
        Expect::SERVER,
        &[(&s[..first], 1), (&s[first..], 3)],
        &[(0, 7)],
    );
    assert_eq!(
        evs[2..4],
        [Ev::Lost(first as u64), Ev::Resync(first as u64 + 7, 7)]
    );
    assert_eq!(evs[4], Ev::F(1, first as u64 + 7, 3, 8, 2));
}

#[test]
fn http_written_into_the_socket_is_foreign() {
    let mut s = frame(0x81, b"hi", None);
    let at = s.len() as u64;
    s.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    for cut in [at as usize + 1, at as usize + 3, at as usize + 10, s.len()] {
        let (evs, _) = run(Expect::SERVER, &[(&s[..cut], 1), (&s[cut..], 2)], &[]);
        assert_eq!(
            evs[2],
            Ev::Foreign(at, ForeignKind::Http),
            "cut {cut}: {evs:?}"
        );
        assert_eq!(
            evs.iter().filter(|e| matches!(e, Ev::F(..))).count(),
            1,
            "cut {cut}"
        );
    }
}

#[test]
fn tls_record_after_upgrade_is_foreign() {
    let mut s = vec![0x16, 0x03, 0x01, 0x00, 0x30];
    s.extend_from_slice(&[0x01; 0x30]);
    let (evs, _) = run(Expect::CLIENT, &[(&s, 1)], &[]);
    assert_eq!(evs[0], Ev::Foreign(0, ForeignKind::Tls));
}

#[test]
fn garbage_is_foreign_but_a_single_violation_is_a_frame() {
    // 0x7B: reserved opcode 0xB with RSV1+RSV2+RSV3, and what follows the
    // frame it implies is no header: garbage.
    let (evs, _) = run(Expect::SERVER, &[(b"\x7b\x05hello\xf7\xf7\xf7", 1)], &[]);
    assert_eq!(evs[0], Ev::Foreign(0, ForeignKind::Unknown));
    // A ping with all three RSV bits set (two strong violations) followed
    // by a close frame: the frames chain, so it is a frame the receiver
    // fails, not foreign bytes.
    let (evs, _) = run(Expect::SERVER, &[(b"\xf9\x02hi\x88\x02\x03\xea", 1)], &[]);
    assert!(matches!(evs[0], Ev::F(..)), "{evs:?}");
    assert!(!evs.iter().any(|e| matches!(e, Ev::Foreign(..))), "{evs:?}");
    // A frame of exactly the bytes judged (24), then a close: however
    // split, the same verdict.
    let mut exact = vec![0xf9, 0x16];
    exact.extend_from_slice(&[b'a'; 22]);
    exact.extend_from_slice(b"\x88\x02\x03\xe8");
    // (What is found after foreign bytes may depend on where packets
    // start, which is evidence; the verdict at the boundary may not.)
    let (whole, _) = run(Expect::SERVER, &[(&exact, 1)], &[]);
    assert_eq!(
        whole[0],
        Ev::Foreign(0, ForeignKind::Unknown),
        "no chain within what is judged"
    );
    for cut in 1..exact.len() {
        let (split, _) = run(
            Expect::SERVER,
            &[(&exact[..cut], 1), (&exact[cut..], 2)],
            &[],
        );
        assert_eq!(split[0], whole[0], "cut {cut}");
    }
    // However the bytes are split.
    let both: &[u8] = b"\xf9\x02hi\x88\x02\x03\xea";
    for cut in 1..both.len() {
        let (split, _) = run(Expect::SERVER, &[(&both[..cut], 1), (&both[cut..], 2)], &[]);
        let kinds = |e: &[Ev]| e.iter().map(|e| matches!(e, Ev::F(..))).collect::<Vec<_>>();
        assert_eq!(kinds(&split), kinds(&evs), "cut {cut}");
    }
    // A close frame of 258 bytes in the 64-bit form (two weak violations):
    // still a frame.
    let mut s = vec![0x88, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x02];
    s.extend_from_slice(&[0x41; 258]);
    let (evs, _) = run(Expect::SERVER, &[(&s, 1)], &[]);
    assert_eq!(evs, vec![Ev::F(0, 0, 1, 8, 258), Ev::E(1, 0, true)]);
    // An unmasked client text frame: one violation, a frame.
    let s = frame(0x81, b"hi", None);
    let (evs, _) = run(Expect::CLIENT, &[(&s[..1], 1), (&s[1..], 2)], &[]);
    assert_eq!(evs, vec![Ev::F(0, 0, 1, 1, 2), Ev::E(2, 0, true)]);
}

#[test]
fn length_near_two_to_the_64_in_two_pieces() {
    // Found by fuzzing: header length + payload length wrapped and the
    // peek buffer overflowed.
    let mut tail = vec![0x7f];
    tail.extend_from_slice(&[0xff; 8]);
    tail.extend_from_slice(&[0; 16]);
    let (evs, _) = run(Expect::SERVER, &[(&[0x82], 1), (&tail, 2)], &[]);
    assert!(matches!(evs[0], Ev::F(0, 0, 1, 2, u64::MAX)), "{evs:?}");
}
