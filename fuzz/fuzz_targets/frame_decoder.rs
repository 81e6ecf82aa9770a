//! One direction of a WebSocket stream as chunks and gaps, fed to
//! `FrameDecoder` and `Validator` as the analysis does.
//!
//! Input: a settings byte, then operations until the input runs out:
//! `op < 0xE0`: a chunk (one packet) of `op % 64` bytes, or with the
//! high bit pattern `0x40..=0x7F`/`0xC0..` a length from the next two bytes;
//! `op >= 0xE0`: a gap whose length comes from the next bytes.
//!
//! Settings byte: bit 0 client (masked) or server direction, bit 1
//! permessage-deflate, bits 2-3 no-context-takeover for client/server,
//! bit 4 decoder starts lost (capture began mid-stream), bit 5 a payload
//! preview, bit 6 a max-payload limit, bit 7 a small inflate limit.
//!
//! Checked beyond "no panic":
//! * frame indices count 0, 1, 2 ...; frame offsets only go forward and a
//!   frame never starts inside the previous one;
//! * payload and payload gaps are contiguous from 0 and never pass the
//!   announced length; `End` comes once per frame, `missing` is the sum of
//!   the gaps and `complete` means the whole payload was accounted for;
//! * the decoder's offset is always the start offset plus every byte and
//!   gap fed; loss and resync offsets never go back, a resync is followed
//!   by a frame at its offset and `skipped` is the distance from the loss;
//! * a frame names the packet that holds its first header byte (checked
//!   until the first foreign bytes or impossible length: see the note at
//!   `Foreign`);
//! * the same stream with the chunks between gaps merged gives the same
//!   frames, payload, findings and first loss of sync (packet boundaries
//!   guide the resync search, so after a loss the two may differ).
#![no_main]

#[path = "../common/known_bugs.rs"]
mod known_bugs;

use libfuzzer_sys::fuzz_target;
use wscap::finding::Code;
use wscap::time::Timestamp;
use wscap::websocket::handshake::Deflate;
use wscap::websocket::validate::{self, Scratch, Validator};
use wscap::websocket::{DecodeEvent, Expect, FrameDecoder, SyncLoss};

#[derive(Clone, Debug)]
enum Op {
    Data(Vec<u8>),
    Gap(u64),
}

/// An event with packet numbers and times left out (they follow the
/// chunking), payload pieces merged.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Frame {
        index: u64,
        offset: u64,
        header: wscap::websocket::FrameHeader,
    },
    Payload {
        pos: u64,
        data: Vec<u8>,
    },
    PayloadGap {
        pos: u64,
        len: u64,
    },
    End {
        missing: u64,
        complete: bool,
        findings: Vec<(Code, String)>,
    },
    SyncLost {
        offset: u64,
        reason: SyncLoss,
    },
    Resync {
        offset: u64,
        skipped: u64,
    },
    Foreign {
        offset: u64,
        kind: wscap::websocket::ForeignKind,
        excerpt: Vec<u8>,
    },
    PartialHeader {
        offset: u64,
        have: u8,
    },
}

impl Ev {
    fn is_loss(&self) -> bool {
        matches!(self, Ev::SyncLost { .. } | Ev::Resync { .. } | Ev::Foreign { .. })
    }
}

struct Settings {
    from_client: bool,
    deflate: Option<Deflate>,
    lost: bool,
    cfg: validate::Config,
}

fn settings(b: u8) -> Settings {
    let from_client = b & 1 != 0;
    let deflate = (b & 2 != 0).then_some(Deflate {
        client_no_context_takeover: b & 4 != 0,
        server_no_context_takeover: b & 8 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    });
    Settings {
        from_client,
        deflate,
        lost: b & 0x10 != 0,
        cfg: validate::Config {
            from_client,
            deflate,
            max_payload: (b & 0x40 != 0).then_some(100),
            max_inflated: if b & 0x80 != 0 { 1000 } else { 1 << 20 },
            preview: if b & 0x20 != 0 { 32 } else { 0 },
            extensions_unknown: false,
        },
    }
}

fn parse_ops(mut data: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let take = |n: usize, data: &mut &[u8]| {
        let n = n.min(data.len());
        let (a, b) = data.split_at(n);
        *data = b;
        a.to_vec()
    };
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        if op >= 0xE0 {
            let b = take(4, &mut data);
            let mut len = 0u64;
            for x in b {
                len = len << 8 | u64::from(x);
            }
            // Mostly small gaps; op bits pick a scale (up to 2^36).
            let len = match op & 0x1F {
                0..=23 => len % 64 + 1,
                24..=29 => len % 70_000 + 1,
                _ => (len << 4) + 1,
            };
            ops.push(Op::Gap(len));
        } else {
            let n = if op & 0x40 != 0 {
                let b = take(2, &mut data);
                b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x))
            } else {
                usize::from(op % 64)
            };
            ops.push(Op::Data(take(n, &mut data)));
        }
    }
    ops
}

/// Chunks between gaps merged into one.
fn merged(ops: &[Op]) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::new();
    for op in ops {
        match (op, out.last_mut()) {
            (Op::Data(d), Some(Op::Data(prev))) => prev.extend_from_slice(d),
            _ => out.push(op.clone()),
        }
    }
    out
}

struct Run {
    events: Vec<Ev>,
    /// An inflate limit was hit: where inflation stopped follows the
    /// chunking, so findings after it may differ.
    limit_inflated: bool,
}

/// Validation state as the analysis keeps it.
struct Sinkish {
    val: Validator,
    scratch: Scratch,
    cur: Option<Vec<wscap::finding::Finding>>,
    events: Vec<Ev>,
    limit_inflated: bool,
    // Invariant state.
    next_index: u64,
    in_frame: Option<(u64, u64, u64, u64)>, // (offset, header_len, payload_len, accounted)
    gaps: u64,
    frame_end_floor: u64,
    last_loss: Option<u64>,
    loss_floor: u64,
    expect_frame_at: Option<u64>,
    /// (offset range start, end, packet) of every chunk fed.
    chunks: Vec<(u64, u64, u64)>,
    check_packets: bool,
}

impl Sinkish {
    fn packet_at(&self, off: u64) -> Option<u64> {
        self.chunks
            .iter()
            .find(|&&(s, e, _)| s <= off && off < e)
            .map(|c| c.2)
    }

    fn on(&mut self, ev: DecodeEvent<'_>) {
        if let Some(at) = self.expect_frame_at.take() {
            match ev {
                DecodeEvent::Frame(s) => assert_eq!(s.offset, at, "resync at {at} but frame at {}", s.offset),
                _ => panic!("resync at {at} not followed by its frame: {ev:?}"),
            }
        }
        match ev {
            DecodeEvent::Frame(s) => {
                assert!(self.in_frame.is_none(), "frame {} starts before the previous ended", s.index);
                assert_eq!(s.index, self.next_index, "frame index skipped");
                self.next_index += 1;
                assert!(
                    s.offset >= self.frame_end_floor,
                    "frame {} at {} starts inside the previous frame (ends {})",
                    s.index,
                    s.offset,
                    self.frame_end_floor
                );
                if self.check_packets && let Some(p) = self.packet_at(s.offset) {
                    assert_eq!(s.packet, p, "frame {} at {} names the wrong packet", s.index, s.offset);
                }
                let h = s.header;
                assert!((2..=14).contains(&h.header_len));
                self.in_frame = Some((s.offset, u64::from(h.header_len), h.payload_len, 0));
                self.gaps = 0;
                self.frame_end_floor = s.offset + u64::from(h.header_len);
                let mut f = Vec::new();
                self.val.header(&h, &mut f);
                self.cur = Some(f);
                self.events.push(Ev::Frame {
                    index: s.index,
                    offset: s.offset,
                    header: h,
                });
            }
            DecodeEvent::Payload { data, pos, .. } => {
                let (_, _, plen, acc) = self.in_frame.as_mut().expect("payload outside a frame");
                assert_eq!(pos, *acc, "payload not contiguous");
                *acc += data.len() as u64;
                assert!(*acc <= *plen, "payload past the announced length");
                if let Some(f) = self.cur.as_mut() {
                    self.val.payload(data, pos, &mut self.scratch, f);
                }
                match self.events.last_mut() {
                    Some(Ev::Payload { pos: p, data: d }) if *p + d.len() as u64 == pos => {
                        d.extend_from_slice(data)
                    }
                    _ => {
                        if !data.is_empty() {
                            self.events.push(Ev::Payload {
                                pos,
                                data: data.to_vec(),
                            })
                        }
                    }
                }
            }
            DecodeEvent::PayloadGap { pos, len } => {
                let (_, _, plen, acc) = self.in_frame.as_mut().expect("payload gap outside a frame");
                assert_eq!(pos, *acc, "payload gap not contiguous");
                *acc += len;
                self.gaps += len;
                assert!(*acc <= *plen, "payload gap past the announced length");
                self.val.gap();
                match self.events.last_mut() {
                    Some(Ev::PayloadGap { pos: p, len: l }) if *p + *l == pos => *l += len,
                    _ => self.events.push(Ev::PayloadGap { pos, len }),
                }
            }
            DecodeEvent::End(e) => {
                let (off, hl, plen, acc) = self.in_frame.take().expect("end outside a frame");
                assert_eq!(e.missing, self.gaps, "missing != sum of payload gaps");
                if plen >> 63 == 0 {
                    assert_eq!(e.complete, acc == plen, "complete={} with {acc} of {plen} bytes", e.complete);
                } else {
                    assert!(!e.complete, "a 2^63-byte frame complete");
                }
                self.frame_end_floor = off + hl + acc;
                let mut f = self.cur.take().unwrap_or_default();
                self.val.end(e.complete, &mut self.scratch, &mut f);
                assert!(self.val.preview().len() <= 32);
                if f.iter().any(|x| x.code == Code::DecompressionLimitExceeded) {
                    self.limit_inflated = true;
                }
                // Known: when inflating fails (reported, or quietly after a
                // final deflate block), the bytes inflated by the same call
                // before the error are not UTF-8 checked, so a compressed
                // text message's invalid UTF-8 is reported or not depending
                // on where the segments were cut; so is the cut character
                // the message then "ends inside". Not compared.
                let inflate_failed = f.iter().any(|x| x.code == Code::DeflateError);
                self.events.push(Ev::End {
                    missing: e.missing,
                    complete: e.complete,
                    findings: f
                        .into_iter()
                        .filter(|x| {
                            !(x.code == Code::InvalidUtf8
                                && (inflate_failed || x.detail.contains("inflated")))
                        })
                        .map(|x| (x.code, x.detail))
                        .collect(),
                });
            }
            DecodeEvent::SyncLost { offset, reason, .. } => {
                assert!(offset >= self.loss_floor, "sync lost at {offset} before {}", self.loss_floor);
                self.loss_floor = offset;
                self.last_loss = Some(offset);
                self.val.lost_sync();
                if reason == SyncLoss::ImpossibleLength {
                    // Same as for foreign bytes below: buffered bytes after
                    // the header are replayed under one packet number.
                    self.check_packets = false;
                }
                self.events.push(Ev::SyncLost { offset, reason });
            }
            DecodeEvent::Foreign {
                offset,
                kind,
                excerpt,
                ..
            } => {
                assert!(self.in_frame.is_none(), "foreign bytes inside a frame");
                assert!(offset >= self.loss_floor);
                assert!(offset >= self.frame_end_floor, "foreign bytes at {offset} inside a frame ending {}", self.frame_end_floor);
                assert!(!excerpt.is_empty() && excerpt.len() <= 24);
                // Known: bytes buffered to judge a header are replayed into
                // the resync search as if they all came from the packet
                // that completed them, so packet numbers after this may
                // name a later packet. Only checked up to here.
                self.check_packets = false;
                self.loss_floor = offset;
                self.last_loss = Some(offset);
                self.val.lost_sync();
                self.events.push(Ev::Foreign {
                    offset,
                    kind,
                    excerpt: excerpt.to_vec(),
                });
            }
            DecodeEvent::Resync {
                offset, skipped, packet, ..
            } => {
                let lost = self.last_loss.take().expect("resync without a loss");
                assert!(offset >= lost, "resync at {offset} before the loss at {lost}");
                assert_eq!(skipped, offset - lost, "skipped is not the distance from the loss");
                if self.check_packets && let Some(p) = self.packet_at(offset) {
                    assert_eq!(packet, p, "resync at {offset} names the wrong packet");
                }
                self.loss_floor = offset;
                self.expect_frame_at = Some(offset);
                self.val.lost_sync();
                self.events.push(Ev::Resync { offset, skipped });
            }
            DecodeEvent::PartialHeader { offset, have, .. } => {
                assert!(self.in_frame.is_none());
                assert!((1..=14).contains(&have), "partial header of {have} bytes");
                self.events.push(Ev::PartialHeader { offset, have });
            }
        }
    }
}

const START: u64 = 1000;

fn run(s: &Settings, ops: &[Op], check_packets: bool) -> Run {
    let expect = Expect {
        masked: s.from_client,
        rsv1: s.deflate.is_some(),
    };
    let mut dec = if s.lost {
        FrameDecoder::new_lost(START, expect)
    } else {
        FrameDecoder::new(START, expect)
    };
    let mut sink = Sinkish {
        val: Validator::new(s.cfg),
        scratch: Scratch::default(),
        cur: None,
        events: Vec::new(),
        limit_inflated: false,
        next_index: 0,
        in_frame: None,
        gaps: 0,
        frame_end_floor: 0,
        last_loss: s.lost.then_some(START),
        loss_floor: START,
        expect_frame_at: None,
        chunks: Vec::new(),
        check_packets,
    };
    if s.lost {
        sink.val.lost_sync();
    }
    let mut offset = START;
    for (i, op) in ops.iter().enumerate() {
        let packet = i as u64 + 1;
        let ts = Timestamp(packet as i64);
        match op {
            Op::Data(d) => {
                sink.chunks.push((offset, offset + d.len() as u64, packet));
                dec.push(d, packet, ts, &mut |ev| sink.on(ev));
                offset += d.len() as u64;
            }
            Op::Gap(n) => {
                dec.gap(*n, packet, ts, &mut |ev| sink.on(ev));
                offset += n;
            }
        }
        assert_eq!(dec.offset(), offset, "decoder offset != bytes and gaps fed");
        assert_eq!(dec.frames(), sink.next_index);
    }
    dec.finish(&mut |ev| sink.on(ev));
    assert!(sink.in_frame.is_none(), "a frame without an end after finish");
    assert!(sink.expect_frame_at.is_none(), "resync without its frame after finish");
    Run {
        events: sink.events,
        limit_inflated: sink.limit_inflated,
    }
}

/// Events up to the first loss of sync must not depend on the chunking; the
/// loss itself neither, unless it is a resync (whose search is guided by
/// packet boundaries). Foreign excerpts may hold more or fewer bytes after
/// the header depending on how many had arrived: only their common prefix
/// is compared.
fn same_upto_loss(a: &[Ev], b: &[Ev]) {
    let cut = |v: &[Ev]| v.iter().position(Ev::is_loss).unwrap_or(v.len());
    let (na, nb) = (cut(a), cut(b));
    let same = |i: usize, x: &Ev, y: &Ev| match (x, y) {
        (
            Ev::Foreign { offset: o1, kind: k1, excerpt: e1 },
            Ev::Foreign { offset: o2, kind: k2, excerpt: e2 },
        ) => {
            let n = e1.len().min(e2.len());
            assert!(
                o1 == o2 && k1 == k2 && e1[..n] == e2[..n],
                "event {i} differs with the chunks merged:\n{x:?}\n{y:?}"
            );
        }
        _ => assert_eq!(x, y, "event {i} differs with the chunks merged"),
    };
    assert_eq!(
        na, nb,
        "event counts up to the first loss differ:\n{:?}\n{:?}",
        &a[..na], &b[..nb]
    );
    for (i, (x, y)) in a[..na].iter().zip(&b[..nb]).enumerate() {
        same(i, x, y);
    }
    match (a.get(na), b.get(nb)) {
        (Some(Ev::Resync { .. }), _) | (_, Some(Ev::Resync { .. })) => {}
        (Some(x), Some(y)) => same(na, x, y),
        (None, None) => {}
        (x, y) => panic!("only one run lost sync after {na} events: {x:?} vs {y:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&set, rest)) = data.split_first() else {
        return;
    };
    let s = settings(set);
    let ops = parse_ops(rest);
    let Some(a) = known_bugs::guard(|| run(&s, &ops, true)) else {
        return;
    };
    let Some(b) = known_bugs::guard(|| run(&s, &merged(&ops), true)) else {
        return;
    };
    // Known (see common/known_bugs.rs): header length + a payload length
    // within 14 of 2^64 wraps in the decoder; when it does not panic, the
    // chunked and merged runs still judge such a header differently.
    // Any 64-bit length field of 0xffff_ffff_ffff_fff2 or more in the
    // stream, wherever a header may start.
    let wraps = merged(&ops).iter().any(|op| match op {
        Op::Data(d) => d.windows(10).any(|w| {
            w[1] & 0x7F == 127 && w[2..9].iter().all(|&x| x == 0xFF) && w[9] >= 0xF2
        }),
        Op::Gap(_) => false,
    });
    if wraps {
        return;
    }
    if !(a.limit_inflated || b.limit_inflated) {
        same_upto_loss(&a.events, &b.events);
    }
});
