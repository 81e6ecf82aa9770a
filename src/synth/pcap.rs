//! Capture file writers: classic pcap and pcapng.
//!
//! Both write exactly what they are told: lengths and link types are not
//! checked against each other, so tests can build damaged or unusual files
//! on purpose (an `orig_len` below the captured length, FCS bits in the
//! link type, packets on undeclared interfaces, ...).

use super::{ByteOrder, SynthPacket};
use crate::time::Timestamp;
use std::io::{self, Write};

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Fractional-second unit of a classic pcap file (chosen by its magic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsPrecision {
    #[default]
    Micro,
    Nano,
}

/// Global header fields of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOptions {
    pub order: ByteOrder,
    pub precision: TsPrecision,
    /// The whole 32-bit field: the low 16 bits are the link type, the upper
    /// bits may carry the FCS length flags.
    pub linktype: u32,
    pub snaplen: u32,
}

impl PcapOptions {
    /// Little-endian, microseconds, snaplen 262144 (tcpdump's defaults).
    pub fn new(linktype: u32) -> PcapOptions {
        PcapOptions {
            order: ByteOrder::Little,
            precision: TsPrecision::Micro,
            linktype,
            snaplen: 262_144,
        }
    }
}

/// Classic pcap writer. The global header is written on creation.
pub struct PcapWriter<W: Write> {
    out: W,
    options: PcapOptions,
}

impl<W: Write> PcapWriter<W> {
    /// A writer with [`PcapOptions::new`] defaults.
    pub fn new(out: W, linktype: u32) -> io::Result<PcapWriter<W>> {
        PcapWriter::with_options(out, PcapOptions::new(linktype))
    }

    pub fn with_options(mut out: W, options: PcapOptions) -> io::Result<PcapWriter<W>> {
        let o = options.order;
        let magic = match options.precision {
            TsPrecision::Micro => PCAP_MAGIC_MICROS,
            TsPrecision::Nano => PCAP_MAGIC_NANOS,
        };
        let mut header = Vec::with_capacity(24);
        header.extend(o.u32(magic));
        header.extend(o.u16(2)); // version 2.4
        header.extend(o.u16(4));
        header.extend(o.u32(0)); // thiszone
        header.extend(o.u32(0)); // sigfigs
        header.extend(o.u32(options.snaplen));
        header.extend(o.u32(options.linktype));
        out.write_all(&header)?;
        Ok(PcapWriter { out, options })
    }

    /// Writes one record. The timestamp is cut (not rounded) to the file's
    /// precision; seconds are written as u32, so times before 1970 wrap as
    /// they do in real files written by a broken clock.
    pub fn write_packet(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = ts.as_nanos().div_euclid(NANOS_PER_SEC);
        let nanos = ts.as_nanos().rem_euclid(NANOS_PER_SEC);
        let frac = match self.options.precision {
            TsPrecision::Micro => nanos / 1_000,
            TsPrecision::Nano => nanos,
        };
        let incl_len = u32::try_from(data.len()).expect("packet longer than 4 GiB");
        self.write_record(secs as u32, frac as u32, incl_len, orig_len, data)
    }

    /// Writes one record with every header field as given; `incl_len` need
    /// not match `data.len()`, so tests can build damaged records.
    pub fn write_record(
        &mut self,
        ts_sec: u32,
        ts_frac: u32,
        incl_len: u32,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let o = self.options.order;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&o.u32(ts_sec));
        header[4..8].copy_from_slice(&o.u32(ts_frac));
        header[8..12].copy_from_slice(&o.u32(incl_len));
        header[12..16].copy_from_slice(&o.u32(orig_len));
        self.out.write_all(&header)?;
        self.out.write_all(data)
    }

    pub fn write_synth(&mut self, packet: &SynthPacket) -> io::Result<()> {
        self.write_packet(packet.ts, packet.orig_len, &packet.data)
    }

    pub fn write_all(&mut self, packets: &[SynthPacket]) -> io::Result<()> {
        packets.iter().try_for_each(|p| self.write_synth(p))
    }

    pub fn options(&self) -> PcapOptions {
        self.options
    }

    /// The underlying writer, e.g. to append garbage after the last record.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A whole classic pcap file in memory: little-endian, nanosecond precision
/// (so timestamps survive exactly), default snaplen.
pub fn pcap_bytes(linktype: u32, packets: &[SynthPacket]) -> Vec<u8> {
    let options = PcapOptions {
        precision: TsPrecision::Nano,
        ..PcapOptions::new(linktype)
    };
    let mut w = PcapWriter::with_options(Vec::new(), options).expect("writing to a Vec");
    w.write_all(packets).expect("writing to a Vec");
    w.into_inner()
}

const BLOCK_SHB: u32 = 0x0a0d_0d0a;
const BLOCK_IDB: u32 = 1;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
/// pcapng's default resolution: microseconds.
const DEFAULT_TSRESOL: u8 = 6;

#[derive(Clone, Copy, Debug)]
struct Interface {
    tsresol: u8,
    tsoffset: i64,
}

/// pcapng writer. Nothing is written until [`section`](Self::section) (or
/// another block) is called, so tests can also build files that do not start
/// with a section header.
pub struct PcapNgWriter<W: Write> {
    out: W,
    order: ByteOrder,
    /// Interfaces of the current section, by id.
    interfaces: Vec<Interface>,
}

impl<W: Write> PcapNgWriter<W> {
    pub fn new(out: W, order: ByteOrder) -> PcapNgWriter<W> {
        PcapNgWriter {
            out,
            order,
            interfaces: Vec::new(),
        }
    }

    /// Writes a Section Header Block (version 1.0, unknown section length)
    /// and forgets the previous section's interfaces, as readers must.
    pub fn section(&mut self) -> io::Result<()> {
        let o = self.order;
        let mut body = Vec::with_capacity(16);
        body.extend(o.u32(BYTE_ORDER_MAGIC));
        body.extend(o.u16(1));
        body.extend(o.u16(0));
        body.extend(o.u64(u64::MAX)); // section length: not given
        self.interfaces.clear();
        self.custom_block(BLOCK_SHB, &body)
    }

    /// Writes an Interface Description Block and returns its id within the
    /// section. `tsresol` is the raw `if_tsresol` option byte (high bit set:
    /// power of two), `tsoffset` the `if_tsoffset` seconds; `None` leaves the
    /// option out.
    pub fn interface(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> io::Result<u32> {
        let o = self.order;
        let mut body = Vec::with_capacity(32);
        body.extend(o.u16(linktype));
        body.extend(o.u16(0));
        body.extend(o.u32(snaplen));
        if let Some(r) = tsresol {
            self.option(&mut body, OPT_IF_TSRESOL, &[r]);
        }
        if let Some(off) = tsoffset {
            self.option(&mut body, OPT_IF_TSOFFSET, &o.u64(off as u64));
        }
        if tsresol.is_some() || tsoffset.is_some() {
            self.option(&mut body, OPT_END, &[]);
        }
        self.custom_block(BLOCK_IDB, &body)?;
        self.interfaces.push(Interface {
            tsresol: tsresol.unwrap_or(DEFAULT_TSRESOL),
            tsoffset: tsoffset.unwrap_or(0),
        });
        Ok(u32::try_from(self.interfaces.len() - 1).expect("too many interfaces"))
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        body.extend(self.order.u16(code));
        body.extend(self.order.u16(value.len() as u16));
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }

    /// Writes an Enhanced Packet Block with a raw timestamp in the
    /// interface's units; `if_id` is not checked.
    pub fn enhanced_packet(
        &mut self,
        if_id: u32,
        ts_units: u64,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let o = self.order;
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend(o.u32(if_id));
        body.extend(o.u32((ts_units >> 32) as u32));
        body.extend(o.u32(ts_units as u32));
        body.extend(o.u32(u32::try_from(data.len()).expect("packet longer than 4 GiB")));
        body.extend(o.u32(orig_len));
        body.extend_from_slice(data);
        self.custom_block(BLOCK_EPB, &body)
    }

    /// Writes an Enhanced Packet Block, converting `ts` to the units of the
    /// (declared) interface `if_id`; the time is cut, not rounded, to them.
    pub fn enhanced_packet_at(
        &mut self,
        if_id: u32,
        ts: Timestamp,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let units = self.units_for(if_id, ts).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "undeclared interface, or time not representable in its units",
            )
        })?;
        self.enhanced_packet(if_id, units, orig_len, data)
    }

    /// `ts` in the raw timestamp units of interface `if_id`, or `None` if the
    /// interface is not declared or the time does not fit (before the
    /// interface's offset, or beyond 64 bits).
    pub fn units_for(&self, if_id: u32, ts: Timestamp) -> Option<u64> {
        let iface = self.interfaces.get(usize::try_from(if_id).ok()?)?;
        let since_offset =
            i128::from(ts.as_nanos()) - i128::from(iface.tsoffset) * i128::from(NANOS_PER_SEC);
        let exp = u32::from(iface.tsresol & 0x7f);
        let per_sec: i128 = if iface.tsresol & 0x80 == 0 {
            10i128.checked_pow(exp)?
        } else {
            2i128.checked_pow(exp)?
        };
        let units = since_offset
            .checked_mul(per_sec)?
            .div_euclid(i128::from(NANOS_PER_SEC));
        u64::try_from(units).ok()
    }

    /// Writes `packet` on interface `if_id` (see [`Self::enhanced_packet_at`]).
    pub fn write_synth(&mut self, if_id: u32, packet: &SynthPacket) -> io::Result<()> {
        self.enhanced_packet_at(if_id, packet.ts, packet.orig_len, &packet.data)
    }

    pub fn write_all(&mut self, if_id: u32, packets: &[SynthPacket]) -> io::Result<()> {
        packets.iter().try_for_each(|p| self.write_synth(if_id, p))
    }

    /// Writes a Simple Packet Block (no timestamp, interface 0). The block
    /// holds all of `data`; a reader is to cut it to the interface snaplen.
    pub fn simple_packet(&mut self, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(4 + data.len() + 3);
        body.extend(self.order.u32(orig_len));
        body.extend_from_slice(data);
        self.custom_block(BLOCK_SPB, &body)
    }

    /// Writes any block: type, total length, `body` padded to 32 bits, total
    /// length again. For Name Resolution and Interface Statistics blocks,
    /// unknown or custom types: whatever a reader must skip.
    pub fn custom_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let padded = body.len().next_multiple_of(4);
        let total = u32::try_from(12 + padded).expect("block longer than 4 GiB");
        let o = self.order;
        let mut block = Vec::with_capacity(12 + padded);
        block.extend(o.u32(block_type));
        block.extend(o.u32(total));
        block.extend_from_slice(body);
        block.resize(8 + padded, 0);
        block.extend(o.u32(total));
        self.out.write_all(&block)
    }

    pub fn order(&self) -> ByteOrder {
        self.order
    }

    /// The underlying writer, e.g. to write a truncated block by hand.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
