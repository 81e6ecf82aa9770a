//! One direction's reassembly, fed segment by segment: ordering, overlaps,
//! retransmissions, holes and the caps.

use super::*;

const LIMITS: HalfLimits = HalfLimits {
    max_bytes: 1 << 20,
    max_segments: 1024,
};

/// What the layer above would see: the stream with gaps as `?` runs,
/// plus the conflicts.
#[derive(Default, Debug)]
struct Seen {
    bytes: Vec<u8>,
    gaps: Vec<(u64, u64, GapReason)>,
    conflicts: Vec<(u64, u64)>,
    packets: Vec<u64>,
}

/// One direction under test, with what it handed up so far.
struct Feed {
    half: Half,
    seen: Seen,
    isn: u32,
    packet: u64,
    limits: HalfLimits,
}

impl Feed {
    /// Nothing seen yet; `isn` only anchors the offsets of `data`, `cut`
    /// and `fin`.
    fn new(isn: u32) -> Feed {
        Feed {
            half: Half::default(),
            seen: Seen::default(),
            isn,
            packet: 0,
            limits: LIMITS,
        }
    }

    /// A SYN with sequence number `isn` was seen.
    fn syn(isn: u32) -> Feed {
        let mut f = Feed::new(isn);
        f.raw(isn, true, false, b"", 0);
        f
    }

    /// A SYN, then data segments (stream offset, bytes) in capture order.
    fn fed(isn: u32, segments: &[(u32, &str)]) -> Feed {
        let mut f = Feed::syn(isn);
        for &(off, data) in segments {
            f.data(off, data.as_bytes());
        }
        f
    }

    fn raw(&mut self, seq: u32, syn: bool, fin: bool, data: &[u8], wire: u32) {
        self.packet += 1;
        let seg = SegmentIn {
            seq: SeqNumber(seq),
            syn,
            fin,
            payload: data,
            payload_len: wire,
            packet: self.packet,
            ts: Timestamp(0),
        };
        let seen = &mut self.seen;
        self.half
            .segment(&seg, self.limits, &mut |ev| record(seen, ev));
    }

    /// The sequence number of stream offset `off` (relative to ISN + 1).
    fn seq_at(&self, off: u32) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(off)
    }

    /// Data at stream offset `off`, captured whole.
    fn data(&mut self, off: u32, data: &[u8]) {
        self.cut(off, data, data.len() as u32);
    }

    /// Data at stream offset `off`, `wire` bytes long of which the capture
    /// kept `data`.
    fn cut(&mut self, off: u32, data: &[u8], wire: u32) {
        self.raw(self.seq_at(off), false, false, data, wire);
    }

    fn fin(&mut self, off: u32) {
        self.raw(self.seq_at(off), false, true, b"", 0);
    }

    /// The peer acknowledges up to stream offset `off`, at `ts`.
    fn ack(&mut self, off: u32, ts: i64) {
        self.half
            .peer_ack(SeqNumber(self.seq_at(off)), Timestamp(ts));
    }

    fn flush(&mut self) {
        let seen = &mut self.seen;
        self.half
            .flush(99, Timestamp(0), &mut |ev| record(seen, ev));
    }
}

fn record(seen: &mut Seen, ev: StreamEvent<'_>) {
    match ev {
        StreamEvent::Data(c) => {
            assert_eq!(c.offset, seen.bytes.len() as u64, "data must be contiguous");
            seen.bytes.extend_from_slice(c.data);
            seen.packets.push(c.packet);
        }
        StreamEvent::Gap(g) => {
            assert_eq!(g.offset, seen.bytes.len() as u64, "gap must be contiguous");
            seen.bytes.extend(std::iter::repeat_n(b'?', g.len as usize));
            seen.gaps.push((g.offset, g.len, g.reason));
        }
        StreamEvent::Conflict { offset, len, .. } => seen.conflicts.push((offset, len)),
    }
}

#[test]
fn test_hash_sees_any_single_byte_change() {
    let base: Vec<u8> = (0..200u8).collect();
    // Lengths that end in whole blocks, in whole tail words, and in tail
    // bytes after tail words.
    for len in [0, 1, 7, 8, 9, 31, 32, 33, 40, 47, 63, 64, 100, 200] {
        let h = hash(&base[..len]);
        for i in 0..len {
            let mut m = base[..len].to_vec();
            m[i] ^= 0x01;
            assert_ne!(hash(&m), h, "len {len} byte {i}");
        }
    }
}

#[test]
fn test_headers_only_segment_while_holding() {
    // Found by fuzzing: a held segment, then one the snaplen cut to its
    // headers (no payload byte captured) must not panic.
    let mut f = Feed::fed(1000, &[(10, "held")]);
    f.cut(4, b"", 6);
    f.cut(0, b"", 4);
    assert_eq!(f.seen.bytes, b"??????????held");
}

#[test]
fn test_in_order() {
    let f = Feed::fed(1000, &[(0, "hello "), (6, "world")]);
    assert_eq!(f.seen.bytes, b"hello world");
    assert!(f.seen.gaps.is_empty());
    assert_eq!(f.seen.packets, vec![2, 3]);
}

#[test]
fn test_out_of_order_is_reordered() {
    let mut f = Feed::fed(1000, &[(6, "world"), (11, "!")]);
    assert_eq!(f.seen.bytes, b"");
    f.data(0, b"hello ");
    assert_eq!(f.seen.bytes, b"hello world!");
    // Each byte keeps the packet it came from.
    assert_eq!(f.seen.packets, vec![4, 2, 3]);
    assert_eq!(f.half.held_cost(), 0);
}

#[test]
fn test_identical_retransmission_is_quiet() {
    let f = Feed::fed(
        1000,
        &[(0, "hello "), (6, "world"), (0, "hello "), (3, "lo wor")],
    );
    assert_eq!(f.seen.bytes, b"hello world");
    assert!(f.seen.conflicts.is_empty());
    assert_eq!(f.half.stats.duplicate_bytes, 12);
}

#[test]
fn test_conflicting_retransmission_is_reported() {
    let f = Feed::fed(1000, &[(0, "hello "), (0, "HELLO ")]);
    assert_eq!(f.seen.conflicts, vec![(0, 6)]);
    assert_eq!(f.seen.bytes, b"hello ");
}

#[test]
fn test_conflicting_overlap_in_held_data() {
    let mut f = Feed::fed(1000, &[(4, "abcd"), (6, "XYef")]);
    assert_eq!(f.seen.conflicts, vec![(6, 2)]);
    f.data(0, b"0123");
    assert_eq!(f.seen.bytes, b"0123abcdef");
}

#[test]
fn test_overlap_spanning_several_held_pieces() {
    let f = Feed::fed(7, &[(2, "cd"), (6, "gh"), (1, "bcdefghij"), (0, "a")]);
    assert_eq!(f.seen.bytes, b"abcdefghij");
    assert!(f.seen.conflicts.is_empty());
}

#[test]
fn test_wraparound() {
    // The second segment crosses sequence number 0.
    let f = Feed::fed(u32::MAX - 3, &[(0, "abc"), (3, "defgh"), (8, "ij")]);
    assert_eq!(f.seen.bytes, b"abcdefghij");
}

#[test]
fn test_snaplen_cut_becomes_gap_of_known_length() {
    let mut f = Feed::syn(1000);
    f.cut(0, b"head", 10);
    f.data(10, b"next");
    assert_eq!(f.seen.bytes, b"head??????next");
    assert_eq!(f.seen.gaps, vec![(4, 6, GapReason::Snaplen)]);
}

#[test]
fn test_snaplen_cut_out_of_order() {
    let mut f = Feed::syn(1000);
    f.cut(4, b"ab", 5);
    f.data(9, b"Z");
    f.data(0, b"0123");
    assert_eq!(f.seen.bytes, b"0123ab???Z");
}

#[test]
fn test_lost_segment_released_by_ack() {
    let mut f = Feed::fed(1000, &[(0, "aa")]);
    // Peer acknowledges up to offset 10 although only 2 bytes were seen.
    f.ack(10, -1_000_000_000);
    f.data(6, b"gggg");
    assert_eq!(f.seen.bytes, b"aa????gggg");
    assert_eq!(f.seen.gaps, vec![(2, 4, GapReason::Lost)]);
}

#[test]
fn test_ack_just_before_its_data_is_not_a_loss() {
    let mut f = Feed::fed(1000, &[(0, "aa")]);
    // The ACK for the next 4 bytes is captured just before them.
    f.ack(6, 0);
    f.data(6, b"gg");
    f.data(2, b"cdef");
    assert_eq!(f.seen.bytes, b"aacdefgg");
    assert!(f.seen.gaps.is_empty());
}

#[test]
fn test_in_order_segment_overlapping_held_data_keeps_first_bytes() {
    let f = Feed::fed(1000, &[(4, "EFGH"), (0, "abcdefghij")]);
    assert_eq!(f.seen.bytes, b"abcdEFGHij");
    assert_eq!(f.seen.conflicts, vec![(4, 4)]);
    assert_eq!(f.half.held_cost(), 0);
}

#[test]
fn test_lost_segment_released_at_flush() {
    let mut f = Feed::fed(1000, &[(0, "aa"), (5, "ff")]);
    f.fin(7);
    f.flush();
    assert_eq!(f.seen.bytes, b"aa???ff");
}

#[test]
fn test_lost_tail_before_fin() {
    let mut f = Feed::fed(1000, &[(0, "aa")]);
    f.fin(5);
    f.flush();
    assert_eq!(f.seen.bytes, b"aa???");
    assert!(f.half.finished());
}

#[test]
fn test_midstream_pickup() {
    let mut f = Feed::new(0);
    f.raw(5000, false, false, b"abc", 3);
    f.raw(5003, false, false, b"def", 3);
    f.raw(4990, false, false, b"old", 3);
    assert_eq!(f.seen.bytes, b"abcdef");
    assert_eq!(f.half.stats.before_start, 1);
}

#[test]
fn test_memcap_releases_as_gap() {
    let mut f = Feed::syn(0);
    f.limits = HalfLimits {
        max_bytes: 300,
        max_segments: 100,
    };
    for i in 0..4u32 {
        f.data(10 + i * 100, &[b'x'; 100]);
    }
    assert_eq!(f.seen.gaps, vec![(0, 10, GapReason::Memcap)]);
    assert!(f.half.held_cost() <= 300);
    assert_eq!(f.seen.bytes.len(), 10 + 400);
}

#[test]
fn test_segment_cap_bounds_tiny_segments() {
    let mut f = Feed::syn(0);
    f.limits = HalfLimits {
        max_bytes: 1 << 20,
        max_segments: 8,
    };
    for i in 0..100u32 {
        f.data(2 + i * 2, b"x");
        assert!(f.half.held.len() <= 8);
    }
}

#[test]
fn test_syn_with_data() {
    let mut f = Feed::new(77);
    f.raw(77, true, false, b"fast", 4);
    f.data(4, b"open");
    assert_eq!(f.seen.bytes, b"fastopen");
}

#[test]
fn test_random_overlaps_keep_the_first_bytes() {
    // Against a model: every byte of the stream is the one the first
    // segment covering it carried, or a gap; every other byte a duplicate.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = |n: u32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % u64::from(n)) as u32
    };
    for round in 0..300 {
        let mut f = Feed::syn(round * 7919);
        let mut model = [None; 80];
        let mut wire = 0;
        for seg in 0..rand(12) + 1 {
            let (off, len) = (rand(64), rand(16) + 1);
            let data: Vec<u8> = (off..off + len)
                .map(|o| b'a' + ((o + seg * rand(2)) % 26) as u8)
                .collect();
            for (m, &b) in model[off as usize..].iter_mut().zip(&data) {
                m.get_or_insert(b);
            }
            wire += u64::from(len);
            f.data(off, &data);
        }
        let end = model.iter().rposition(Option::is_some).map_or(0, |e| e + 1);
        f.fin(end as u32);
        f.flush();
        let want: Vec<u8> = model[..end].iter().map(|b| b.unwrap_or(b'?')).collect();
        assert_eq!(f.seen.bytes, want, "round {round}");
        let fresh = model.iter().flatten().count() as u64;
        assert_eq!(f.half.stats.duplicate_bytes, wire - fresh, "round {round}");
        assert_eq!(f.half.held_cost(), 0);
    }
}
