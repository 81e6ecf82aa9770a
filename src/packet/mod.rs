//! Packet decoder: from one captured packet's link-layer bytes to the TCP
//! segment it carries.
//!
//! INTERFACE CONTRACT: [`decode`] is a pure function; it never panics and
//! never allocates. Anything that is not a TCP segment comes back as a
//! [`Skip`] reason, which the caller counts for the summary.
//!
//! Headers are read through fixed-size array views taken after one length
//! check each (the smoltcp approach), so no field access can be out of
//! bounds. Checksums are not verified: loopback and offloaded captures carry
//! wrong ones. Lengths come from the IP header, not from the capture, so
//! Ethernet padding is never taken as payload and a snaplen cut shows as
//! `payload.len() < payload_len`.

use crate::capture::LinkType;
use std::net::{IpAddr, SocketAddr};

/// TCP header flags (the low 8 bits of the flags field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A TCP segment as captured.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The payload bytes present in the capture.
    pub payload: &'a [u8],
    /// The payload length on the wire, from the IP length fields. Larger than
    /// `payload.len()` when the snaplen cut the packet: the difference is a
    /// hole of known size at the end of this segment.
    pub payload_len: u32,
}

/// Why a packet yielded no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    UnsupportedLinkType(LinkType),
    /// Link layer carried something other than IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP carried another protocol (UDP, ICMP, ...); the IP protocol number.
    NotTcp(u8),
    /// A fragment of a TCP packet (first or not): not reassembled. IPv6
    /// atomic fragments (offset 0, no more fragments) decode normally, and a
    /// fragment of another protocol is `NotTcp`.
    IpFragment,
    /// The capture ends inside the link, IP or TCP header.
    TruncatedHeader,
    /// Header fields that contradict each other (IHL < 5, data offset < 5, ...).
    Malformed,
}

/// Decodes one captured packet of link type `linktype` down to its TCP
/// segment.
///
/// When an IP length field is 0 (IPv4 total length written as 0 by TSO on
/// the capturing host, IPv6 jumbogram) the captured length stands in for the
/// wire length; [`decode_with_orig_len`] uses the record's original length
/// instead, which keeps the size of a snaplen hole known.
#[inline]
pub fn decode(linktype: LinkType, data: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    decode_frame(linktype, data, None)
}

/// Like [`decode`], with the packet's length on the wire (`orig_len` of the
/// capture record). It only matters when the IP header carries no length
/// (field 0): `payload_len` is then taken from `orig_len`. A non-zero IP
/// length field is always believed over `orig_len`, since slicing tools often
/// rewrite `orig_len` to the cut length.
#[inline]
pub fn decode_with_orig_len(
    linktype: LinkType,
    data: &[u8],
    orig_len: u32,
) -> Result<TcpSegment<'_>, Skip> {
    decode_frame(linktype, data, Some(orig_len as usize))
}

#[inline]
fn decode_frame(
    linktype: LinkType,
    data: &[u8],
    orig_len: Option<usize>,
) -> Result<TcpSegment<'_>, Skip> {
    let (net, at) = link::strip(linktype, data)?;
    let ip = data.get(at..).ok_or(Skip::TruncatedHeader)?;
    // An orig_len smaller than what was captured is a broken record; the
    // captured bytes are the better witness then.
    let frame_end = orig_len.map(|n| n.saturating_sub(at).max(ip.len()));
    ip::decode(net, ip, frame_end)
}

/// The TCP endpoints (source, destination) of a packet, read as cheaply
/// as can be: a hint to look its connection up ahead of time (see
/// [`crate::prefetch`]), never a judgement of the packet, which
/// [`decode`] alone makes. Anything out of the common (IPv6 extension
/// headers, fragments, tunnels) gives `None`.
pub fn endpoints(linktype: LinkType, data: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let (net, at) = link::strip(linktype, data).ok()?;
    ip::endpoints(net, data.get(at..)?)
}

/// Whether a packet skipped for `skip` may still hold a TCP segment that
/// Wireshark reads (and numbers a stream for): a cut or contradictory
/// header, a fragment, an unknown link type, or a tunnel carrying TCP (IP
/// in IP, GRE, VXLAN, Geneve, GTP-U, Teredo; see [`tunnel`]).
pub fn may_hide_tcp(skip: Skip, linktype: LinkType, data: &[u8]) -> bool {
    hides_tcp(skip, linktype, data, 4)
}

fn hides_tcp(skip: Skip, linktype: LinkType, data: &[u8], depth: u8) -> bool {
    match skip {
        Skip::NotIp => false,
        Skip::NotTcp(_) => {
            let Some((inner_link, inner)) = tunnel::inner(linktype, data) else {
                return false;
            };
            match decode(inner_link, inner) {
                Ok(_) => true,
                Err(s) => depth > 0 && hides_tcp(s, inner_link, inner, depth - 1),
            }
        }
        Skip::UnsupportedLinkType(_)
        | Skip::IpFragment
        | Skip::TruncatedHeader
        | Skip::Malformed => true,
    }
}

mod ip;
mod link;
mod tunnel;

#[cfg(test)]
mod tests;
