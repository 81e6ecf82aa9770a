//! HPACK's Huffman code (RFC 7541 section 5.2 and Appendix B), decoding
//! only: wscap reads header blocks, it never writes one.
//!
//! The code of Appendix B is canonical: its codes, taken in order of length
//! and, within a length, of symbol, are consecutive binary numbers. So the
//! 257 code lengths are all the table needs; the codes follow from them
//! (the tests check a few against the RFC's examples), and decoding is a
//! comparison per bit against the first code of the length read so far.

/// Bits in the code of each symbol, 0-255 and EOS (256): Appendix B's
/// "len in bits" column.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

const MAX_LEN: usize = 30;
const EOS: u16 = 256;

/// The canonical code, by length: how many codes have it, the first of
/// them, and where their symbols start in `symbols` (sorted by length,
/// then symbol).
struct Canonical {
    count: [u32; MAX_LEN + 1],
    first: [u32; MAX_LEN + 1],
    start: [u16; MAX_LEN + 1],
    symbols: [u16; 257],
}

const CODE: Canonical = canonical();

const fn canonical() -> Canonical {
    let mut count = [0u32; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut start = [0u16; MAX_LEN + 1];
    let (mut code, mut at) = (0u32, 0u16);
    let mut len = 1;
    while len <= MAX_LEN {
        first[len] = code;
        start[len] = at;
        at += count[len] as u16;
        code = (code + count[len]) << 1;
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut next = start;
    let mut s = 0;
    while s < 257 {
        let len = LENGTHS[s] as usize;
        symbols[next[len] as usize] = s as u16;
        next[len] += 1;
        s += 1;
    }
    Canonical {
        count,
        first,
        start,
        symbols,
    }
}

/// Why a Huffman-coded string could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HuffmanError {
    #[error("the string holds the EOS symbol (RFC 7541 5.2: a decoding error)")]
    Eos,
    #[error("the string ends in {0} bits of padding, more than 7 (RFC 7541 5.2)")]
    PaddingTooLong(usize),
    #[error("the string's padding is not the EOS code's leading ones (RFC 7541 5.2)")]
    PaddingNotOnes,
}

/// Appends the decoding of `src` to `out`.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // Each symbol is at least five bits.
    out.reserve(src.len() * 8 / 5);
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in src {
        for bit in (0..8).rev() {
            code = code << 1 | u32::from(byte >> bit & 1);
            len += 1;
            // Below `first`, the bits would extend a shorter code, which
            // matched already; at `first + count` or above, a longer one.
            let rank = code.wrapping_sub(CODE.first[len]);
            if rank < CODE.count[len] {
                match CODE.symbols[usize::from(CODE.start[len]) + rank as usize] {
                    EOS => return Err(HuffmanError::Eos),
                    sym => out.push(sym as u8),
                }
                (code, len) = (0, 0);
            }
        }
    }
    // Every 30-bit string starts with a code, so `len` stays below 30 and
    // what is left is padding.
    if len > 7 {
        return Err(HuffmanError::PaddingTooLong(len));
    }
    if code != (1 << len) - 1 {
        return Err(HuffmanError::PaddingNotOnes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::unhex as hex;

    fn dec(s: &str) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(&hex(s), &mut out).map(|_| out)
    }

    /// The code of `sym` as the canonical construction gives it.
    fn code_of(sym: u16) -> (u32, u8) {
        let len = LENGTHS[usize::from(sym)];
        let at = CODE.symbols.iter().position(|&s| s == sym).unwrap() as u16;
        let rank = at - CODE.start[usize::from(len)];
        (CODE.first[usize::from(len)] + u32::from(rank), len)
    }

    #[test]
    fn codes_are_appendix_b() {
        // A few rows of Appendix B.
        assert_eq!(code_of(b'0'.into()), (0x0, 5));
        assert_eq!(code_of(b'a'.into()), (0x3, 5));
        assert_eq!(code_of(b' '.into()), (0x14, 6));
        assert_eq!(code_of(b'%'.into()), (0x15, 6));
        assert_eq!(code_of(b':'.into()), (0x5c, 7));
        assert_eq!(code_of(0), (0x1ff8, 13));
        assert_eq!(code_of(255), (0x3ffffee, 26));
        assert_eq!(code_of(EOS), (0x3fff_ffff, 30));
        // The code is complete: no bit string is left without a symbol.
        let kraft: f64 = LENGTHS.iter().map(|&l| 0.5f64.powi(l.into())).sum();
        assert_eq!(kraft, 1.0);
    }

    #[test]
    fn rfc_7541_appendix_c_strings() {
        // C.4.1-C.4.3 and C.6.1.
        assert_eq!(
            dec("f1e3 c2e5 f23a 6ba0 ab90 f4ff").unwrap(),
            b"www.example.com"
        );
        assert_eq!(dec("a8eb 1064 9cbf").unwrap(), b"no-cache");
        assert_eq!(dec("25a8 49e9 5ba9 7d7f").unwrap(), b"custom-key");
        assert_eq!(dec("25a8 49e9 5bb8 e8b4 bf").unwrap(), b"custom-value");
        assert_eq!(dec("6402").unwrap(), b"302");
        assert_eq!(dec("aec3 771a 4b").unwrap(), b"private");
        assert_eq!(
            dec("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff").unwrap(),
            b"Mon, 21 Oct 2013 20:13:21 GMT"
        );
        assert_eq!(dec("").unwrap(), b"");
    }

    #[test]
    fn every_byte_round_trips() {
        // Encode each byte with the canonical codes, pad with ones, decode.
        let mut bits: Vec<bool> = Vec::new();
        for b in 0..=255u16 {
            let (code, len) = code_of(b);
            bits.extend((0..len).rev().map(|i| code >> i & 1 == 1));
        }
        while !bits.len().is_multiple_of(8) {
            bits.push(true);
        }
        let bytes: Vec<u8> = bits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |a, &b| a << 1 | u8::from(b)))
            .collect();
        let mut out = Vec::new();
        decode(&bytes, &mut out).unwrap();
        assert_eq!(out, (0..=255u8).collect::<Vec<_>>());
    }

    #[test]
    fn bad_strings_are_errors() {
        // EOS itself (30 ones), then padded.
        assert_eq!(dec("ffff fffc"), Err(HuffmanError::Eos));
        // '0' (00000) then padding of 0s.
        assert_eq!(dec("00"), Err(HuffmanError::PaddingNotOnes));
        // A whole byte of ones is more than 7 bits of padding.
        assert_eq!(dec("ff"), Err(HuffmanError::PaddingTooLong(8)));
        // 'a' (00011) + 111 padding is fine; 'a' + 110 is not.
        assert_eq!(dec("1f").unwrap(), b"a");
        assert_eq!(dec("1e"), Err(HuffmanError::PaddingNotOnes));
    }
}
