//! Classic pcap: a 24-byte file header, then 16-byte-headed records.

use super::endian::Endian;
use super::pcapng::TsResolution;
use super::stream::{BlockBuffer, MAX_BLOCK_LEN, nom_complaint};
use super::{Fault, InterfaceInfo, LinkType, PacketMeta, Peeked};
use crate::time::Timestamp;
use pcap_parser::parse_pcap_header;

pub(crate) const HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// A record may always capture this much, whatever the header's snaplen
/// says: libpcap's own ceiling for ordinary link types, and writers often
/// put 0 or a small value in snaplen. A larger snaplen raises the limit, up
/// to what the buffer may hold. Anything above is taken as a corrupt length
/// (a shifted or garbage record header) rather than a packet.
const MIN_MAX_CAPLEN: u32 = 256 * 1024;

/// The link type is the low 16 bits of the header field; the bits above
/// carry the FCS length and reserved flags.
const LINKTYPE_MASK: u32 = 0xffff;

pub(crate) struct PcapDecoder {
    endian: Endian,
    /// Nanoseconds per unit of the record's fractional-seconds field.
    nanos_per_frac: i64,
    max_caplen: u32,
    interface: InterfaceInfo,
}

impl PcapDecoder {
    /// From the first bytes of the file (at most [`HEADER_LEN`] are used).
    pub fn from_header(header: &[u8]) -> Result<Self, Fault> {
        if header.len() < HEADER_LEN {
            return Err(Fault::Truncated {
                offset: 0,
                expected: format!(
                    "a {HEADER_LEN}-byte pcap file header, only {} bytes remain",
                    header.len()
                ),
            });
        }
        let (_, parsed) = parse_pcap_header(header).map_err(|e| Fault::Corrupt {
            offset: 0,
            detail: format!("pcap file header cannot be parsed ({})", nom_complaint(&e)),
        })?;
        let nanosecond = parsed.is_nanosecond_precision();
        // The field is read as i32; the cast keeps its bits.
        let linktype = LinkType((parsed.network.0 as u32 & LINKTYPE_MASK) as u16);
        Ok(PcapDecoder {
            endian: if parsed.is_bigendian() {
                Endian::Big
            } else {
                Endian::Little
            },
            nanos_per_frac: if nanosecond { 1 } else { 1_000 },
            max_caplen: parsed
                .snaplen
                .clamp(MIN_MAX_CAPLEN, (MAX_BLOCK_LEN - RECORD_HEADER_LEN) as u32),
            interface: InterfaceInfo {
                linktype,
                snaplen: parsed.snaplen,
                ts_resolution: TsResolution::Decimal(if nanosecond { 9 } else { 6 }),
                ts_offset_secs: 0,
            },
        })
    }

    pub fn interface(&self) -> &InterfaceInfo {
        &self.interface
    }

    /// The next record into `out`, `None` at a clean end (the input ends
    /// between records); `out` is left as it was on an error.
    #[inline]
    pub fn next_into(
        &mut self,
        buf: &mut BlockBuffer,
        out: &mut Option<PacketMeta>,
    ) -> Result<(), Fault> {
        let offset = buf.offset();
        let available = buf.fill(RECORD_HEADER_LEN)?;
        if available == 0 {
            *out = None;
            return Ok(());
        }
        let truncated = |expected: String| Fault::Truncated { offset, expected };
        if available < RECORD_HEADER_LEN {
            return Err(truncated(format!(
                "a {RECORD_HEADER_LEN}-byte packet record header, only {available} bytes remain"
            )));
        }
        let corrupt = |detail: String| Fault::Corrupt { offset, detail };
        let [secs, frac, caplen, orig_len] = self.words(buf.data());
        self.check_caplen(caplen).map_err(corrupt)?;
        let record_len = RECORD_HEADER_LEN + caplen as usize;
        let available = buf.fill(record_len)?;
        if available < record_len {
            return Err(truncated(format!(
                "a {record_len}-byte packet record ({RECORD_HEADER_LEN}-byte header and \
                 {caplen} captured bytes), only {available} bytes remain"
            )));
        }
        *out = Some(PacketMeta {
            ts: self.timestamp(secs, frac),
            linktype: self.interface.linktype,
            orig_len,
            data: RECORD_HEADER_LEN..record_len,
            block_len: record_len,
        });
        Ok(())
    }

    /// The length of the record at the start of `data` and its link type
    /// and packet bytes, if it is all there and its header is sane: for
    /// looking ahead, which judges nothing ([`PcapDecoder::next_into`] does).
    #[inline]
    pub fn ahead<'a>(&self, data: &'a [u8]) -> Option<Peeked<'a>> {
        let header: &[u8; RECORD_HEADER_LEN] = data.get(..RECORD_HEADER_LEN)?.try_into().ok()?;
        let caplen = self.endian.u32(header, 8);
        if caplen > self.max_caplen {
            return None;
        }
        let len = RECORD_HEADER_LEN + caplen as usize;
        let packet = data.get(RECORD_HEADER_LEN..len)?;
        Some((len, Some((self.interface.linktype, packet))))
    }

    /// The record header's four words (seconds, fraction of a second,
    /// captured and original length) from its first bytes, cut once to the
    /// header's fixed size (so no field needs a bounds check of its own).
    fn words(&self, data: &[u8]) -> [u32; 4] {
        let h: &[u8; RECORD_HEADER_LEN] = data[..RECORD_HEADER_LEN]
            .try_into()
            .expect("a whole record header is there");
        std::array::from_fn(|i| self.endian.u32(h, 4 * i))
    }

    fn check_caplen(&self, caplen: u32) -> Result<(), String> {
        if caplen <= self.max_caplen {
            return Ok(());
        }
        Err(format!(
            "packet record claims {caplen} captured bytes, more than the {} this reader \
             accepts (the larger of 256 KiB and the file's snaplen {}, at most 16 MiB)",
            self.max_caplen, self.interface.snaplen
        ))
    }

    /// A fraction of a second or more (broken writers) just adds on; the
    /// largest possible sum is far inside i64 nanoseconds.
    fn timestamp(&self, secs: u32, frac: u32) -> Timestamp {
        Timestamp(i64::from(secs) * 1_000_000_000 + i64::from(frac) * self.nanos_per_frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, big: bool, snaplen: u32, network: u32) -> Vec<u8> {
        let u32_bytes = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16_bytes = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = u32_bytes(magic).to_vec();
        out.extend(u16_bytes(2)); // version 2.4
        out.extend(u16_bytes(4));
        out.extend([0; 8]); // thiszone, sigfigs
        out.extend(u32_bytes(snaplen));
        out.extend(u32_bytes(network));
        out
    }

    #[test]
    fn header_fields_both_byte_orders_and_resolutions() {
        for big in [false, true] {
            let micro = PcapDecoder::from_header(&header(0xa1b2c3d4, big, 65535, 1)).unwrap();
            assert_eq!(micro.endian == Endian::Big, big);
            assert_eq!(micro.nanos_per_frac, 1000);
            assert_eq!(micro.interface.snaplen, 65535);
            assert_eq!(micro.max_caplen, MIN_MAX_CAPLEN);
            let nano = PcapDecoder::from_header(&header(0xa1b23c4d, big, 0, 113)).unwrap();
            assert_eq!(nano.nanos_per_frac, 1);
            assert_eq!(nano.interface.linktype, LinkType::LINUX_SLL);
            assert_eq!(nano.interface.ts_resolution, TsResolution::Decimal(9));
        }
    }

    #[test]
    fn fcs_bits_are_masked_off_the_link_type() {
        // FCS length 4 in the top four bits, the flag saying it is present
        // (bit 26), and Ethernet in the low 16 bits.
        let field = (4 << 28) | (1 << 26) | 1;
        let d = PcapDecoder::from_header(&header(0xa1b2c3d4, false, 65535, field)).unwrap();
        assert_eq!(d.interface.linktype, LinkType::ETHERNET);
    }

    #[test]
    fn caplen_limit_follows_snaplen_within_the_cap() {
        let big = PcapDecoder::from_header(&header(0xa1b2c3d4, false, 1 << 21, 1)).unwrap();
        assert_eq!(big.max_caplen, 1 << 21);
        assert!(big.check_caplen(1 << 21).is_ok());
        assert!(big.check_caplen((1 << 21) + 1).is_err());
        let hostile = PcapDecoder::from_header(&header(0xa1b2c3d4, false, u32::MAX, 1)).unwrap();
        assert_eq!(
            hostile.max_caplen as usize,
            MAX_BLOCK_LEN - RECORD_HEADER_LEN
        );
    }

    #[test]
    fn timestamps_do_not_overflow() {
        let d = PcapDecoder::from_header(&header(0xa1b2c3d4, false, 0, 1)).unwrap();
        assert_eq!(d.timestamp(1, 500_000), Timestamp(1_500_000_000));
        let max = d.timestamp(u32::MAX, u32::MAX).as_nanos();
        assert_eq!(max, 4_294_967_295_000_000_000 + 4_294_967_295_000);
    }

    #[test]
    fn short_header_is_truncation() {
        let h = header(0xa1b2c3d4, false, 0, 1);
        assert!(matches!(
            PcapDecoder::from_header(&h[..10]),
            Err(Fault::Truncated { offset: 0, .. })
        ));
    }
}
