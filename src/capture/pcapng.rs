//! pcapng: a sequence of sections, each a section header block (SHB, which
//! fixes the byte order) followed by interface descriptions (IDB) and
//! packet, statistics, name-resolution... blocks.
//!
//! Every block is framed the same way (type, length, body, length again), so
//! the length is checked before the buffer is asked for the block, and
//! unknown blocks can be skipped without understanding them.

use super::endian::Endian;
use super::stream::{
    BlockBuffer, MAX_BLOCK_LEN, MAX_BLOCK_LEN_TEXT, nom_complaint, parser_complaint,
};
use super::{Fault, InterfaceInfo, LinkType, PacketMeta, Peeked, ReadStats};
use crate::time::Timestamp;
use pcap_parser::{
    PcapError, parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock,
};
use std::ops::Range;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
/// The obsolete packet block, superseded by the EPB but still readable.
const PB: u32 = 2;
const SPB: u32 = 3;
const NRB: u32 = 4;
const ISB: u32 = 5;
const EPB: u32 = 6;
const IRIG: u32 = 7;
const AFDX: u32 = 8;
const SYSTEMD_JOURNAL: u32 = 9;
const DECRYPTION_SECRETS: u32 = 10;
const CUSTOM: u32 = 0x0000_0BAD;
const CUSTOM_NO_COPY: u32 = 0x4000_0BAD;
const DARWIN_PROCESS: u32 = 0x8000_0001;

const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// What is read of a block before its length is trusted: type, length and,
/// for an SHB, the byte-order magic that says how to read the length. It is
/// also the size of the smallest possible block.
const HEAD_LEN: usize = 12;

const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// The major version this reader understands; the spec asks readers to
/// refuse others, whose block layout may differ.
const SUPPORTED_MAJOR_VERSION: u16 = 1;

fn block_name(kind: u32) -> &'static str {
    match kind {
        SHB => "section header block",
        IDB => "interface description block",
        PB => "packet block",
        SPB => "simple packet block",
        NRB => "name resolution block",
        ISB => "interface statistics block",
        EPB => "enhanced packet block",
        IRIG => "IRIG timestamp block",
        AFDX => "AFDX information block",
        SYSTEMD_JOURNAL => "systemd journal export block",
        DECRYPTION_SECRETS => "decryption secrets block",
        CUSTOM | CUSTOM_NO_COPY => "custom block",
        DARWIN_PROCESS => "process information block",
        _ => "block of unknown type",
    }
}

/// Blocks we know but have no use for; the rest are unknown, skipped alike
/// but counted apart.
fn is_known_skippable(kind: u32) -> bool {
    matches!(
        kind,
        NRB | ISB
            | IRIG
            | AFDX
            | SYSTEMD_JOURNAL
            | DECRYPTION_SECRETS
            | CUSTOM
            | CUSTOM_NO_COPY
            | DARWIN_PROCESS
    )
}

/// Length of the fixed fields (with the 12 bytes of framing) that a block
/// type must have for its decoder to read them safely.
fn min_len(kind: u32) -> u32 {
    match kind {
        SHB => 28,
        IDB => 20,
        EPB | PB => 32,
        SPB => 16,
        _ => HEAD_LEN as u32,
    }
}

/// Units of a pcapng timestamp (`if_tsresol`): 10^-n or 2^-n seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    Decimal(u8),
    Binary(u8),
}

impl Default for TsResolution {
    /// Microseconds, the pcapng default when `if_tsresol` is absent.
    fn default() -> Self {
        TsResolution::Decimal(6)
    }
}

impl TsResolution {
    /// From the option byte: the high bit selects base 2, the rest is n.
    pub fn from_option(byte: u8) -> Self {
        if byte & 0x80 == 0 {
            TsResolution::Decimal(byte)
        } else {
            TsResolution::Binary(byte & 0x7f)
        }
    }

    /// `units` timestamp units in nanoseconds, rounded down. Exact for every
    /// n (no float); units of less than a nanosecond just give fewer
    /// nanoseconds, down to 0 for absurd exponents such as 10^-127.
    pub fn to_nanos(self, units: u64) -> i128 {
        const NANOS_PER_SEC: u128 = 1_000_000_000;
        let units = u128::from(units);
        // u64::MAX * 10^9 < 2^94, so neither product overflows u128; the
        // quotient and the shifted value both fit i128.
        let nanos = match self {
            TsResolution::Decimal(n) if n <= 9 => units * 10u128.pow(u32::from(9 - n)),
            TsResolution::Decimal(n) => 10u128
                .checked_pow(u32::from(n - 9))
                .map_or(0, |divisor| units / divisor),
            TsResolution::Binary(n) => (units * NANOS_PER_SEC)
                .checked_shr(u32::from(n))
                .unwrap_or(0),
        };
        nanos as i128
    }
}

/// A timestamp on `interface` from its raw 64-bit unit count. Beyond the
/// i64 range (year 2262, or a wild `if_tsoffset`) it saturates rather than
/// wraps, which keeps order.
fn interface_timestamp(interface: &InterfaceInfo, units: u64) -> Timestamp {
    let nanos = interface.ts_resolution.to_nanos(units)
        + i128::from(interface.ts_offset_secs) * 1_000_000_000;
    Timestamp(i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }))
}

/// Type, length and byte order of a block, from its first [`HEAD_LEN`]
/// bytes; lengths are checked here so nothing later trusts a bad one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BlockHead {
    kind: u32,
    len: u32,
    endian: Endian,
}

impl BlockHead {
    fn read(first: &[u8], section: Endian) -> Result<BlockHead, String> {
        // The SHB type reads the same in both byte orders; its byte-order
        // magic, not the current section, says how to read its length.
        let endian = if Endian::Little.u32(first, 0) == SHB {
            shb_endian(first)?
        } else {
            section
        };
        let head = BlockHead {
            kind: endian.u32(first, 0),
            len: endian.u32(first, 4),
            endian,
        };
        head.check_len()?;
        Ok(head)
    }

    fn name(&self) -> &'static str {
        block_name(self.kind)
    }

    fn check_len(&self) -> Result<(), String> {
        let (name, len, min) = (self.name(), self.len, min_len(self.kind));
        if len < min {
            return Err(format!(
                "{name} claims {len} bytes, fewer than the {min} its fixed fields take"
            ));
        }
        if len % 4 != 0 {
            return Err(format!("{name} length {len} is not a multiple of 4"));
        }
        if len as usize > MAX_BLOCK_LEN {
            return Err(format!(
                "{name} claims {len} bytes, more than the {} this reader accepts",
                MAX_BLOCK_LEN_TEXT
            ));
        }
        Ok(())
    }

    /// The length is repeated at the end of the block; a mismatch means the
    /// framing (and everything after) cannot be trusted.
    fn check_trailer(&self, block: &[u8]) -> Result<(), String> {
        let trailer = self.endian.u32(block, block.len() - 4);
        if trailer != self.len {
            return Err(format!(
                "{} begins with length {} but ends with length {trailer}",
                self.name(),
                self.len
            ));
        }
        Ok(())
    }
}

fn shb_endian(first: &[u8]) -> Result<Endian, String> {
    match Endian::Little.u32(first, 8) {
        BYTE_ORDER_MAGIC => Ok(Endian::Little),
        magic if magic == BYTE_ORDER_MAGIC.swap_bytes() => Ok(Endian::Big),
        magic => Err(format!(
            "section header byte-order magic is {:08x}, expected 1a2b3c4d in either byte order",
            magic.swap_bytes()
        )),
    }
}

/// Reads the section header block that starts the file and checks that it
/// parses, so that a file starting with a broken one fails to open rather
/// than at its first packet. Nothing is consumed: the decoder reads the
/// block again as the first of the section.
pub(crate) fn check_first_section(buf: &mut BlockBuffer) -> Result<(), Fault> {
    let available = buf.fill(HEAD_LEN)?;
    if available < HEAD_LEN {
        return Err(Fault::Truncated {
            offset: 0,
            expected: format!("a section header block, only {available} bytes remain"),
        });
    }
    let head = BlockHead::read(&buf.data()[..HEAD_LEN], Endian::Little)
        .map_err(|detail| Fault::Corrupt { offset: 0, detail })?;
    let len = head.len as usize;
    let what = format!("a {len}-byte {}", head.name());
    let truncated = || Fault::Truncated {
        offset: 0,
        expected: format!("{what}, but the input ends inside it"),
    };
    if buf.fill(len)? < len {
        return Err(truncated());
    }
    let err = match parse_sectionheaderblock(&buf.data()[..len]) {
        Ok(_) => return Ok(()),
        Err(pcap_parser::nom::Err::Incomplete(_)) => return Err(truncated()),
        Err(pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e)) => e,
    };
    match err {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => Err(truncated()),
        other => Err(Fault::Corrupt {
            offset: 0,
            detail: format!("{what} cannot be parsed ({})", parser_complaint(&other)),
        }),
    }
}

/// A packet block's fields, before its interface is looked up.
struct RawPacket {
    interface: u32,
    /// Timestamp units; `None` for an SPB, which has no timestamp.
    ts_units: Option<u64>,
    orig_len: u32,
    /// The captured bytes, relative to the block start.
    data: Range<usize>,
}

/// EPB and obsolete PB share a layout: after the framing, interface id,
/// timestamp high/low, captured and original length, then the data; the
/// PB's interface id is 16 bits followed by a drop count.
fn decode_timestamped(head: BlockHead, block: &[u8]) -> Result<RawPacket, String> {
    const DATA_START: usize = 28;
    let e = head.endian;
    let interface = match head.kind {
        PB => u32::from(e.u16(block, 8)),
        _ => e.u32(block, 8),
    };
    let ts_units = (u64::from(e.u32(block, 12)) << 32) | u64::from(e.u32(block, 16));
    let caplen = e.u32(block, 20);
    // Room between the fixed fields and the trailing length.
    let room = block.len() - DATA_START - 4;
    if caplen as usize > room {
        return Err(format!(
            "{} claims {caplen} captured bytes, but only {room} fit in the block",
            head.name()
        ));
    }
    Ok(RawPacket {
        interface,
        ts_units: Some(ts_units),
        orig_len: e.u32(block, 24),
        data: DATA_START..DATA_START + caplen as usize,
    })
}

/// An SPB holds only the original length; what was captured is the
/// smallest of that, the interface snaplen (if set) and the room in the
/// block (which includes padding, hence the need for the other two).
fn decode_simple(head: BlockHead, block: &[u8], snaplen: u32) -> RawPacket {
    const DATA_START: usize = 12;
    let orig_len = head.endian.u32(block, 8);
    let room = block.len() - DATA_START - 4;
    let mut caplen = (orig_len as usize).min(room);
    if snaplen != 0 {
        caplen = caplen.min(snaplen as usize);
    }
    RawPacket {
        interface: 0,
        ts_units: None,
        orig_len,
        data: DATA_START..DATA_START + caplen,
    }
}

/// The link type, snaplen and clock of an interface description block.
fn decode_interface(block: &[u8], endian: Endian) -> Result<InterfaceInfo, String> {
    let parsed = match endian {
        Endian::Little => parse_interfacedescriptionblock_le(block),
        Endian::Big => parse_interfacedescriptionblock_be(block),
    };
    let (_, idb) = parsed.map_err(|e| {
        format!(
            "interface description block cannot be parsed ({})",
            nom_complaint(&e)
        )
    })?;
    let mut ts_resolution = None;
    let mut ts_offset_secs = None;
    // Each option may appear once; should one repeat, the first wins.
    for option in &idb.options {
        let value = option.value.get(..usize::from(option.len)).unwrap_or(&[]);
        match option.code.0 {
            OPT_IF_TSRESOL if ts_resolution.is_none() => {
                let [byte] = value else {
                    return Err(bad_option_len("if_tsresol", value.len(), 1));
                };
                ts_resolution = Some(TsResolution::from_option(*byte));
            }
            // pcap-parser reads this option little-endian only, so decode
            // it here in the section's byte order.
            OPT_IF_TSOFFSET if ts_offset_secs.is_none() => {
                let offset = endian
                    .i64(value)
                    .ok_or_else(|| bad_option_len("if_tsoffset", value.len(), 8))?;
                ts_offset_secs = Some(offset);
            }
            _ => {}
        }
    }
    Ok(InterfaceInfo {
        // Read from a u16 field, so the cast keeps the value.
        linktype: LinkType(idb.linktype.0 as u16),
        snaplen: idb.snaplen,
        ts_resolution: ts_resolution.unwrap_or_default(),
        ts_offset_secs: ts_offset_secs.unwrap_or(0),
    })
}

fn bad_option_len(name: &str, len: usize, expected: usize) -> String {
    format!("interface description option {name} is {len} bytes long, expected {expected}")
}

/// Reading state across blocks: the current section's byte order and
/// interfaces, and the last timestamp (for SPBs, which carry none).
pub(crate) struct NgDecoder {
    endian: Endian,
    interfaces: Vec<InterfaceInfo>,
    last_ts: Timestamp,
    /// TLS key log text from Decryption Secrets Blocks not yet taken.
    secrets: Vec<u8>,
    /// Secret bytes read so far (bounded: [`MAX_SECRETS`]).
    secrets_total: usize,
}

/// Decryption secrets type of a TLS key log (`TLSK`, pcapng 4.7).
const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Key log bytes taken from one capture, at most.
const MAX_SECRETS: usize = 16 << 20;

impl NgDecoder {
    pub fn new() -> Self {
        NgDecoder {
            endian: Endian::Little,
            interfaces: Vec::new(),
            last_ts: Timestamp::default(),
            secrets: Vec::new(),
            secrets_total: 0,
        }
    }

    /// TLS key log text of the Decryption Secrets Blocks read since the
    /// last call (before the packet now lent).
    pub fn take_secrets(&mut self) -> Option<Vec<u8>> {
        (!self.secrets.is_empty()).then(|| std::mem::take(&mut self.secrets))
    }

    /// A Decryption Secrets Block (pcapng 4.7): type, length, the secrets.
    /// TLS key logs are kept; other types and bad lengths are skipped.
    fn secrets_block(&mut self, head: BlockHead, block: &[u8]) {
        let e = head.endian;
        if block.len() < 20 || e.u32(block, 8) != SECRETS_TLS_KEY_LOG {
            return;
        }
        let len = e.u32(block, 12) as usize;
        let Some(data) = block.get(16..16usize.saturating_add(len)) else {
            return;
        };
        if len > block.len() - 20 || self.secrets_total + len > MAX_SECRETS {
            return;
        }
        self.secrets_total += len;
        self.secrets.extend_from_slice(data);
        // Lines of two blocks must not run together.
        self.secrets.push(b'\n');
    }

    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// The next packet, reading and consuming the blocks before it; `None`
    /// at a clean end (the input ends between blocks).
    pub fn next(
        &mut self,
        buf: &mut BlockBuffer,
        stats: &mut ReadStats,
    ) -> Result<Option<PacketMeta>, Fault> {
        loop {
            let offset = buf.offset();
            let available = buf.fill(HEAD_LEN)?;
            if available == 0 {
                return Ok(None);
            }
            let truncated = |expected: String| Fault::Truncated { offset, expected };
            let corrupt = |detail: String| Fault::Corrupt { offset, detail };
            if available < HEAD_LEN {
                return Err(truncated(format!(
                    "a block of at least {HEAD_LEN} bytes, only {available} bytes remain"
                )));
            }
            let head = BlockHead::read(&buf.data()[..HEAD_LEN], self.endian).map_err(corrupt)?;
            let len = head.len as usize;
            let available = buf.fill(len)?;
            if available < len {
                return Err(truncated(format!(
                    "a {len}-byte {}, only {available} bytes remain",
                    head.name()
                )));
            }
            let block = &buf.data()[..len];
            match self.decode(head, block, stats).map_err(corrupt)? {
                Some(packet) => return Ok(Some(packet)),
                None => buf.consume(len),
            }
        }
    }

    /// One complete block: a packet, or `None` for a block that only
    /// updates state or is skipped.
    fn decode(
        &mut self,
        head: BlockHead,
        block: &[u8],
        stats: &mut ReadStats,
    ) -> Result<Option<PacketMeta>, String> {
        head.check_trailer(block)?;
        let raw = match head.kind {
            SHB => {
                self.start_section(head, block)?;
                stats.sections += 1;
                return Ok(None);
            }
            IDB => {
                self.interfaces.push(decode_interface(block, head.endian)?);
                stats.interfaces += 1;
                return Ok(None);
            }
            EPB | PB => decode_timestamped(head, block)?,
            SPB => decode_simple(head, block, self.interface(head, 0)?.snaplen),
            kind => {
                if kind == DECRYPTION_SECRETS {
                    self.secrets_block(head, block);
                }
                if is_known_skippable(kind) {
                    stats.skipped_blocks += 1;
                } else {
                    stats.unknown_blocks += 1;
                }
                return Ok(None);
            }
        };
        self.packet(head, raw, block.len()).map(Some)
    }

    /// The length of the block at the start of `data` and, for a packet
    /// block, its link type and bytes, if the block is all there and its
    /// framing sane: for looking ahead, which judges nothing
    /// ([`NgDecoder::next`] does). A new section or interface stops the
    /// look ahead until the reading gets there.
    pub fn ahead<'a>(&self, data: &'a [u8]) -> Option<Peeked<'a>> {
        let head = BlockHead::read(data.get(..HEAD_LEN)?, self.endian).ok()?;
        let block = data.get(..head.len as usize)?;
        let raw = match head.kind {
            EPB | PB => decode_timestamped(head, block).ok()?,
            SPB => decode_simple(head, block, self.interfaces.first()?.snaplen),
            SHB | IDB => return None,
            _ => return Some((block.len(), None)),
        };
        let linktype = self.interfaces.get(raw.interface as usize)?.linktype;
        Some((block.len(), Some((linktype, &block[raw.data]))))
    }

    fn start_section(&mut self, head: BlockHead, block: &[u8]) -> Result<(), String> {
        let (_, shb) = parse_sectionheaderblock(block).map_err(|e| {
            format!(
                "section header block cannot be parsed ({})",
                nom_complaint(&e)
            )
        })?;
        if shb.major_version != SUPPORTED_MAJOR_VERSION {
            return Err(format!(
                "section header block declares pcapng version {}.{}; only 1.x is understood",
                shb.major_version, shb.minor_version
            ));
        }
        self.endian = head.endian;
        self.interfaces.clear();
        Ok(())
    }

    fn interface(&self, head: BlockHead, id: u32) -> Result<&InterfaceInfo, String> {
        self.interfaces.get(id as usize).ok_or_else(|| {
            let described = match self.interfaces.len() {
                0 => "no interface".to_owned(),
                1 => "only interface 0".to_owned(),
                n => format!("only interfaces 0 to {}", n - 1),
            };
            format!(
                "{} refers to interface {id}, but the section describes {described}",
                head.name()
            )
        })
    }

    fn packet(
        &mut self,
        head: BlockHead,
        raw: RawPacket,
        block_len: usize,
    ) -> Result<PacketMeta, String> {
        let interface = *self.interface(head, raw.interface)?;
        let ts = match raw.ts_units {
            Some(units) => interface_timestamp(&interface, units),
            None => self.last_ts,
        };
        self.last_ts = ts;
        Ok(PacketMeta {
            ts,
            linktype: interface.linktype,
            orig_len: raw.orig_len,
            data: raw.data,
            block_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i128 = 1_000_000_000;

    #[test]
    fn decimal_resolutions() {
        assert_eq!(TsResolution::Decimal(6).to_nanos(1_500_000), 3 * NS / 2);
        assert_eq!(TsResolution::Decimal(9).to_nanos(7), 7);
        assert_eq!(TsResolution::Decimal(3).to_nanos(2), 2_000_000);
        assert_eq!(TsResolution::Decimal(0).to_nanos(2), 2 * NS);
        assert_eq!(TsResolution::Decimal(12).to_nanos(5_999), 5);
        assert_eq!(TsResolution::Decimal(127).to_nanos(u64::MAX), 0);
        assert_eq!(
            TsResolution::Decimal(0).to_nanos(u64::MAX),
            i128::from(u64::MAX) * NS
        );
    }

    #[test]
    fn binary_resolutions() {
        assert_eq!(TsResolution::Binary(0).to_nanos(3), 3 * NS);
        // 2^-20 s: 2^20 units are one second, one unit is 953.67... ns.
        assert_eq!(TsResolution::Binary(20).to_nanos(1 << 20), NS);
        assert_eq!(TsResolution::Binary(20).to_nanos(1), 953);
        assert_eq!(TsResolution::Binary(127).to_nanos(u64::MAX), 0);
        assert_eq!(TsResolution::Binary(64).to_nanos(u64::MAX), NS - 1);
    }

    #[test]
    fn option_byte_selects_base() {
        assert_eq!(TsResolution::from_option(9), TsResolution::Decimal(9));
        assert_eq!(TsResolution::from_option(0x94), TsResolution::Binary(20));
        assert_eq!(TsResolution::from_option(0xff), TsResolution::Binary(127));
    }

    #[test]
    fn timestamps_saturate_and_apply_offset() {
        let mut iface = InterfaceInfo {
            linktype: LinkType::ETHERNET,
            snaplen: 0,
            ts_resolution: TsResolution::Decimal(0),
            ts_offset_secs: 10,
        };
        assert_eq!(
            interface_timestamp(&iface, 5),
            Timestamp(15 * 1_000_000_000)
        );
        assert_eq!(interface_timestamp(&iface, u64::MAX), Timestamp(i64::MAX));
        iface.ts_offset_secs = i64::MIN;
        assert_eq!(interface_timestamp(&iface, 0), Timestamp(i64::MIN));
        iface.ts_offset_secs = -1;
        iface.ts_resolution = TsResolution::Decimal(9);
        assert_eq!(interface_timestamp(&iface, 1), Timestamp(1 - 1_000_000_000));
    }

    fn head_bytes(kind: u32, len: u32, big: bool) -> Vec<u8> {
        let word = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        [word(kind), word(len), word(BYTE_ORDER_MAGIC)].concat()
    }

    #[test]
    fn shb_brings_its_own_byte_order() {
        for (big, endian) in [(false, Endian::Little), (true, Endian::Big)] {
            let head = BlockHead::read(&head_bytes(SHB, 28, big), Endian::Little).unwrap();
            assert_eq!((head.kind, head.len, head.endian), (SHB, 28, endian));
        }
        let mut bad = head_bytes(SHB, 28, false);
        bad[8] = 0;
        assert!(
            BlockHead::read(&bad, Endian::Little)
                .unwrap_err()
                .contains("byte-order")
        );
    }

    #[test]
    fn hostile_lengths_are_rejected_before_use() {
        let err = |kind, len| BlockHead::read(&head_bytes(kind, len, false), Endian::Little);
        assert!(err(EPB, 0).unwrap_err().contains("fewer than the 32"));
        assert!(err(SPB, 12).is_err());
        assert!(err(NRB, 14).unwrap_err().contains("multiple of 4"));
        assert!(err(EPB, u32::MAX - 3).unwrap_err().contains("more than"));
        assert!(err(0x1234, 12).is_ok());
    }

    #[test]
    fn spb_capture_length_is_the_smallest_bound() {
        let head = BlockHead {
            kind: SPB,
            len: 32,
            endian: Endian::Little,
        };
        let mut block = head_bytes(SPB, 32, false);
        block.truncate(8);
        block.extend(100u32.to_le_bytes());
        block.extend([0u8; 16]);
        block.extend(32u32.to_le_bytes());
        assert_eq!(decode_simple(head, &block, 0).data, 12..28);
        assert_eq!(decode_simple(head, &block, 10).data, 12..22);
        block[8] = 3;
        assert_eq!(decode_simple(head, &block, 0).data, 12..15);
    }
}
