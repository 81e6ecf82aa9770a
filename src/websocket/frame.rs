//! The WebSocket frame header (RFC 6455 section 5.2) as a type, and its parser.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! The parser accepts every bit pattern: deciding what is a violation is the
//! validator's job, so the header keeps what was on the wire (reserved
//! opcodes, the length encoding used).

use crate::finding::Code;
use std::fmt;

/// A frame opcode (RFC 6455 section 5.2, 11.8). A newtype so that reserved
/// values survive to be reported.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const CONTINUATION: Opcode = Opcode(0x0);
    pub const TEXT: Opcode = Opcode(0x1);
    pub const BINARY: Opcode = Opcode(0x2);
    pub const CLOSE: Opcode = Opcode(0x8);
    pub const PING: Opcode = Opcode(0x9);
    pub const PONG: Opcode = Opcode(0xA);

    /// Control frames have the high bit of the opcode set (section 5.5).
    pub fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// 0x3-0x7 and 0xB-0xF are reserved for further frames (section 5.2).
    pub fn is_reserved(self) -> bool {
        matches!(self.0, 0x3..=0x7 | 0xB..=0xF)
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0x0 => "continuation",
            0x1 => "text",
            0x2 => "binary",
            0x8 => "close",
            0x9 => "ping",
            0xA => "pong",
            0x3..=0x7 => "reserved-data",
            _ => "reserved-control",
        }
    }
}

impl fmt::Debug for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:#x})", self.name(), self.0)
    }
}

/// How the payload length was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    /// In the 7-bit field (0-125).
    Short,
    /// 126 then a 16-bit length.
    Extended16,
    /// 127 then a 64-bit length.
    Extended64,
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    /// Payload length as encoded (for a 64-bit length with its most
    /// significant bit set, the value as sent: more than 2^63).
    pub payload_len: u64,
    pub length_form: LengthForm,
    /// Bytes of header: 2 to 14.
    pub header_len: u8,
}

impl FrameHeader {
    /// The 7-bit length field as sent (the value tshark shows as
    /// `websocket.payload_length`).
    pub fn len7(&self) -> u8 {
        match self.length_form {
            LengthForm::Short => self.payload_len as u8,
            LengthForm::Extended16 => 126,
            LengthForm::Extended64 => 127,
        }
    }

    /// The length was not sent in the shortest form (section 5.2: "the
    /// minimal number of bytes MUST be used to encode the length").
    pub fn non_minimal_length(&self) -> bool {
        match self.length_form {
            LengthForm::Short => false,
            LengthForm::Extended16 => self.payload_len <= 125,
            LengthForm::Extended64 => self.payload_len <= 0xFFFF,
        }
    }

    /// Section 5.2: "the most significant bit MUST be 0" in a 64-bit length.
    pub fn length_msb_set(&self) -> bool {
        self.length_form == LengthForm::Extended64 && self.payload_len >> 63 != 0
    }
}

/// The stateless rules (RFC 6455 5.1, 5.2, 5.5, 5.5.1; RFC 7692 6.1) a
/// header breaks, given its direction (`from_client`: frames must be masked)
/// and whether permessage-deflate gives RSV1 a meaning. One place for the
/// validator, which reports each, and the decoder, which judges from them
/// whether bytes are a frame at all. No allocation: a set of bits.
pub fn broken_rules(h: &FrameHeader, from_client: bool, deflate: bool) -> BrokenRules {
    let op = h.opcode;
    let mut b = BrokenRules::default();
    match (from_client, h.mask.is_some()) {
        (true, false) => b.push(Code::UnmaskedClientFrame),
        (false, true) => b.push(Code::MaskedServerFrame),
        _ => {}
    }
    if h.rsv2 || h.rsv3 || (h.rsv1 && !deflate) {
        b.push(Code::RsvBitsWithoutExtension);
    } else if h.rsv1 && op.is_control() {
        b.push(Code::Rsv1OnControlFrame);
    } else if h.rsv1 && op == Opcode::CONTINUATION {
        b.push(Code::Rsv1OnContinuation);
    }
    if op.is_reserved() {
        b.push(Code::ReservedOpcode);
    }
    if op.is_control() && h.payload_len > 125 {
        b.push(Code::ControlFrameTooLong);
    }
    if op.is_control() && !h.fin {
        b.push(Code::FragmentedControlFrame);
    }
    if op == Opcode::CLOSE && h.payload_len == 1 {
        b.push(Code::ClosePayloadLengthOne);
    }
    if h.length_msb_set() {
        b.push(Code::LengthMsbSet);
    } else if h.non_minimal_length() {
        b.push(Code::NonMinimalLength);
    }
    b
}

/// The codes [`broken_rules`] reports, in the order it reports them: bit
/// `i` of a [`BrokenRules`] stands for `RULES[i]`.
const RULES: [Code; 11] = [
    Code::UnmaskedClientFrame,
    Code::MaskedServerFrame,
    Code::RsvBitsWithoutExtension,
    Code::Rsv1OnControlFrame,
    Code::Rsv1OnContinuation,
    Code::ReservedOpcode,
    Code::ControlFrameTooLong,
    Code::FragmentedControlFrame,
    Code::ClosePayloadLengthOne,
    Code::LengthMsbSet,
    Code::NonMinimalLength,
];

/// Codes of the rules a header breaks, as bits (see [`RULES`]): empty, as
/// for most headers, it costs nothing to make or to go through, and every
/// frame's header is checked (by the decoder, which hands the set on to the
/// validator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokenRules {
    bits: u16,
}

impl BrokenRules {
    fn push(&mut self, c: Code) {
        let i = RULES.iter().position(|&r| r == c).expect("a header rule");
        self.bits |= 1 << i;
    }

    /// The codes in [`RULES`] order, set bit by set bit.
    pub fn iter(&self) -> impl Iterator<Item = Code> + use<> {
        let mut bits = self.bits;
        std::iter::from_fn(move || {
            let i = bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
            RULES.get(i as usize).copied()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    pub fn contains(&self, c: Code) -> bool {
        self.iter().any(|x| x == c)
    }
}

/// Outcome of parsing a header from the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    Complete(FrameHeader),
    /// The buffer holds only part of the header; this many bytes in total
    /// are needed (known after the first two bytes; 2 before).
    Incomplete(usize),
}

/// Header length implied by the first two bytes.
pub fn header_len(b0_b1: [u8; 2]) -> usize {
    let masked = b0_b1[1] & 0x80 != 0;
    let ext = match b0_b1[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + if masked { 4 } else { 0 }
}

/// Parses a frame header from the start of `buf`; never consumes and never
/// fails: any 2-14 bytes are some header.
pub fn parse(buf: &[u8]) -> Parsed {
    if buf.len() < 2 {
        return Parsed::Incomplete(2);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let need = header_len([b0, b1]);
    if buf.len() < need {
        return Parsed::Incomplete(need);
    }
    let (payload_len, length_form, mut pos) = match b1 & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            LengthForm::Extended16,
            4,
        ),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), LengthForm::Extended64, 10)
        }
        n => (u64::from(n), LengthForm::Short, 2),
    };
    let mask = (b1 & 0x80 != 0).then(|| {
        // One slice: one bounds check and one load, where four indices
        // were four of each.
        let k: [u8; 4] = buf[pos..pos + 4].try_into().expect("4 bytes");
        pos += 4;
        k
    });
    Parsed::Complete(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode: Opcode(b0 & 0x0F),
        mask,
        payload_len,
        length_form,
        header_len: pos as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(b: &[u8]) -> FrameHeader {
        match parse(b) {
            Parsed::Complete(h) => h,
            p => panic!("incomplete: {p:?}"),
        }
    }

    #[test]
    fn rfc6455_examples() {
        // Section 5.7: a single-frame unmasked text message "Hello".
        let h = complete(&[0x81, 0x05, 0x48, 0x65]);
        assert!(h.fin && !h.rsv1 && h.mask.is_none());
        assert_eq!(
            (h.opcode, h.payload_len, h.header_len),
            (Opcode::TEXT, 5, 2)
        );
        // A single-frame masked text message "Hello".
        let h = complete(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        // A fragmented unmasked text message: "Hel" then "lo".
        let h = complete(&[0x01, 0x03]);
        assert!(!h.fin);
        let h = complete(&[0x80, 0x02]);
        assert_eq!(h.opcode, Opcode::CONTINUATION);
        // 256 bytes binary message in a single unmasked frame.
        let h = complete(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(
            (h.payload_len, h.length_form, h.header_len),
            (256, LengthForm::Extended16, 4)
        );
        // 64KiB binary message in a single unmasked frame.
        let h = complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, h.header_len, h.len7()), (65536, 10, 127));
    }

    #[test]
    fn incomplete_says_how_much() {
        assert_eq!(parse(&[]), Parsed::Incomplete(2));
        assert_eq!(parse(&[0x82]), Parsed::Incomplete(2));
        assert_eq!(parse(&[0x82, 0xFF]), Parsed::Incomplete(14));
        assert_eq!(parse(&[0x82, 0xFE, 0]), Parsed::Incomplete(8));
    }

    #[test]
    fn length_encoding_checks() {
        assert!(complete(&[0x82, 0x7E, 0x00, 0x0A]).non_minimal_length());
        assert!(complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]).non_minimal_length());
        assert!(!complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]).non_minimal_length());
        assert!(complete(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]).length_msb_set());
    }

    #[test]
    fn broken_rules_in_order() {
        // A close frame from the server: masked, RSV2, not final, a 1-byte
        // payload sent in the 16-bit form.
        let h = complete(&[0x28, 0xFE, 0x00, 0x01, 1, 2, 3, 4]);
        let codes: Vec<Code> = broken_rules(&h, false, false).iter().collect();
        assert_eq!(
            codes,
            [
                Code::MaskedServerFrame,
                Code::RsvBitsWithoutExtension,
                Code::FragmentedControlFrame,
                Code::ClosePayloadLengthOne,
                Code::NonMinimalLength
            ]
        );
        let clean = complete(&[0x81, 0x85, 1, 2, 3, 4]);
        assert!(broken_rules(&clean, true, false).is_empty());
        assert_eq!(broken_rules(&clean, true, false).iter().count(), 0);
        assert!(broken_rules(&clean, false, false).contains(Code::MaskedServerFrame));
    }

    #[test]
    fn every_two_byte_prefix_parses() {
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                let mut buf = [0u8; 14];
                buf[0] = b0;
                buf[1] = b1;
                let h = complete(&buf);
                assert_eq!(h.header_len as usize, header_len([b0, b1]));
            }
        }
    }
}
