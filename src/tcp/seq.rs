//! TCP sequence-number arithmetic (RFC 9293 section 3.4: "all arithmetic
//! dealing with sequence numbers must be performed modulo 2**32").
//!
//! Comparisons use the signed 32-bit distance, so they stay right across a
//! wraparound as long as the two numbers are less than 2^31 apart, which TCP's
//! window rules guarantee for live data. Captures are hostile input, so the
//! distance is returned as a value for the caller to judge, never a panic.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// `self - other` as a signed distance in (-2^31, 2^31].
    pub fn distance(self, other: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }

    /// The sequence number of stream offset `offset` when offset 0 is `base`.
    pub fn at_offset(base: SeqNumber, offset: u64) -> SeqNumber {
        base.plus(offset as u32)
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Maps 32-bit sequence numbers of one direction onto 64-bit stream offsets.
///
/// Offset 0 is the first byte after the SYN (ISN + 1), or the first byte seen
/// when the connection was picked up mid-stream. A sequence number is
/// resolved relative to a known offset nearby (the reassembly point), so a
/// stream may run past 4 GiB and wrap any number of times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetMap {
    base: SeqNumber,
}

impl OffsetMap {
    pub fn new(base: SeqNumber) -> OffsetMap {
        OffsetMap { base }
    }

    pub fn base(&self) -> SeqNumber {
        self.base
    }

    /// The stream offset of `seq`, resolved near `anchor` (an offset already
    /// known). `None` when it would fall before the start of the stream.
    pub fn offset_of(&self, seq: SeqNumber, anchor: u64) -> Option<u64> {
        let anchor_seq = SeqNumber::at_offset(self.base, anchor);
        let d = seq.distance(anchor_seq);
        if d >= 0 {
            Some(anchor + d as u64)
        } else {
            anchor.checked_sub(d.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_across_wrap() {
        let a = SeqNumber(u32::MAX - 1);
        let b = a.plus(10);
        assert_eq!(b.0, 8);
        assert_eq!(b.distance(a), 10);
        assert_eq!(a.distance(b), -10);
    }

    #[test]
    fn offsets_past_four_gib() {
        let m = OffsetMap::new(SeqNumber(u32::MAX - 100));
        assert_eq!(m.offset_of(SeqNumber(u32::MAX - 100), 0), Some(0));
        // 101 bytes later the sequence number has wrapped to 0.
        assert_eq!(m.offset_of(SeqNumber(0), 50), Some(101));
        // Near offset 5 GiB the same arithmetic holds.
        let far = 5u64 << 30;
        let seq = SeqNumber::at_offset(m.base(), far + 7);
        assert_eq!(m.offset_of(seq, far), Some(far + 7));
        assert_eq!(
            m.offset_of(SeqNumber::at_offset(m.base(), far - 3), far),
            Some(far - 3)
        );
    }

    #[test]
    fn before_start_is_none() {
        let m = OffsetMap::new(SeqNumber(1000));
        assert_eq!(m.offset_of(SeqNumber(990), 0), None);
        assert_eq!(m.offset_of(SeqNumber(990), 5), None);
        assert_eq!(m.offset_of(SeqNumber(998), 5), None);
        assert_eq!(m.offset_of(SeqNumber(1003), 5), Some(3));
    }
}
