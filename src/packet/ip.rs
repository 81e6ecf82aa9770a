//! IPv4, IPv6 and TCP headers.
//!
//! Checks run in the same order for both IP versions: a field that
//! contradicts another is `Malformed`; a header that the capture cuts short is
//! `TruncatedHeader`. A contradiction is judged against the IP length field
//! only, never against the captured length, so cutting a valid packet at any
//! point can only ever give `TruncatedHeader` or a segment with a short
//! payload.

use super::link::{Net, be16, chunk};
use super::{Skip, TcpFlags, TcpSegment};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const PROTO_TCP: u8 = 6;
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
const IPV6_DEST_OPTS: u8 = 60;

const IPV4_MIN_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_MIN_HEADER: usize = 20;

/// The IP packet's extent, as far as it is known.
#[derive(Clone, Copy)]
struct Extent {
    /// End of the IP packet from its own length field; `None` when the field
    /// is 0 (TSO on the capturing host, IPv6 jumbogram).
    declared: Option<usize>,
    /// End of the IP packet from the frame's length on the wire, when the
    /// caller knows it. Only consulted when `declared` is `None`.
    frame: Option<usize>,
}

impl Extent {
    /// `Malformed` if the IP length field says the packet ends before `end`.
    #[inline(always)]
    fn must_hold(self, end: usize) -> Result<(), Skip> {
        match self.declared {
            Some(declared) if declared < end => Err(Skip::Malformed),
            _ => Ok(()),
        }
    }
}

/// The endpoints of a plain TCP packet (see [`super::endpoints`]).
pub(super) fn endpoints(net: Net, ip: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let version = ip.first()? >> 4;
    let (src, dst, ports) = match (net, version) {
        (Net::V4 | Net::Either, 4) => {
            let h = chunk::<IPV4_MIN_HEADER>(ip, 0)?;
            if h[9] != PROTO_TCP {
                return None;
            }
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
            let ihl = usize::from(h[0] & 0x0f) * 4;
            (IpAddr::V4(src), IpAddr::V4(dst), chunk::<4>(ip, ihl)?)
        }
        (Net::V6 | Net::Either, 6) => {
            let h = chunk::<IPV6_HEADER>(ip, 0)?;
            if h[6] != PROTO_TCP {
                return None;
            }
            let addr = |at: usize| -> Option<IpAddr> {
                let a: [u8; 16] = h[at..at + 16].try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(a)))
            };
            (addr(8)?, addr(24)?, chunk::<4>(ip, IPV6_HEADER)?)
        }
        _ => return None,
    };
    let src_port = be16([ports[0], ports[1]]);
    let dst_port = be16([ports[2], ports[3]]);
    Some((
        SocketAddr::new(src, src_port),
        SocketAddr::new(dst, dst_port),
    ))
}

/// `ip` starts at the IP header and runs to the end of the capture.
#[inline]
pub(super) fn decode(net: Net, ip: &[u8], frame: Option<usize>) -> Result<TcpSegment<'_>, Skip> {
    let version = ip.first().ok_or(Skip::TruncatedHeader)? >> 4;
    match (net, version) {
        (Net::V4 | Net::Either, 4) => ipv4(ip, frame),
        (Net::V6 | Net::Either, 6) => ipv6(ip, frame),
        // A raw-IP link with another version carries something else.
        (Net::Either, _) => Err(Skip::NotIp),
        // The link layer announced one version and the header says another.
        _ => Err(Skip::Malformed),
    }
}

fn ipv4(ip: &[u8], frame: Option<usize>) -> Result<TcpSegment<'_>, Skip> {
    let h: &[u8; IPV4_MIN_HEADER] = chunk(ip, 0).ok_or(Skip::TruncatedHeader)?;
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < IPV4_MIN_HEADER {
        return Err(Skip::Malformed);
    }
    let total_len = usize::from(be16([h[2], h[3]]));
    let extent = Extent {
        declared: (total_len != 0).then_some(total_len),
        frame,
    };
    extent.must_hold(header_len)?;
    // Other protocols are not our business, fragmented or not; so the
    // fragment count only ever stands for TCP data we could not see.
    if h[9] != PROTO_TCP {
        return Err(Skip::NotTcp(h[9]));
    }
    let more_fragments = h[6] & 0x20 != 0;
    let fragment_offset = be16([h[6] & 0x1f, h[7]]);
    if more_fragments || fragment_offset != 0 {
        return Err(Skip::IpFragment);
    }
    if ip.len() < header_len {
        return Err(Skip::TruncatedHeader);
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    tcp(ip, header_len, extent, src, dst)
}

fn ipv6(ip: &[u8], frame: Option<usize>) -> Result<TcpSegment<'_>, Skip> {
    let h: &[u8; IPV6_HEADER] = chunk(ip, 0).ok_or(Skip::TruncatedHeader)?;
    let payload_len = usize::from(be16([h[4], h[5]]));
    let extent = Extent {
        declared: (payload_len != 0).then_some(IPV6_HEADER + payload_len),
        frame,
    };
    let tcp_at = ipv6_extensions(ip, h[6], extent)?;
    let src = IpAddr::V6(Ipv6Addr::from(address16(h, 8)));
    let dst = IpAddr::V6(Ipv6Addr::from(address16(h, 24)));
    tcp(ip, tcp_at, extent, src, dst)
}

#[inline(always)]
fn address16(h: &[u8; IPV6_HEADER], at: usize) -> [u8; 16] {
    let mut a = [0; 16];
    if let Some(src) = chunk::<16>(h, at) {
        a = *src;
    }
    a
}

/// Walks the extension headers from `next` and returns the offset of the
/// TCP header. Terminates because every header is at least 8 bytes long and
/// must be captured before the walk goes on.
fn ipv6_extensions(ip: &[u8], mut next: u8, extent: Extent) -> Result<usize, Skip> {
    let mut at = IPV6_HEADER;
    loop {
        match next {
            PROTO_TCP => return Ok(at),
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_AH | IPV6_FRAGMENT => {
                extent.must_hold(at + 8)?;
                let e: &[u8; 8] = chunk(ip, at).ok_or(Skip::TruncatedHeader)?;
                let len = match next {
                    IPV6_AH => (usize::from(e[1]) + 2) * 4,
                    IPV6_FRAGMENT => {
                        fragment_is_whole(e)?;
                        8
                    }
                    _ => (usize::from(e[1]) + 1) * 8,
                };
                extent.must_hold(at + len)?;
                if ip.len() < at + len {
                    return Err(Skip::TruncatedHeader);
                }
                next = e[0];
                at += len;
            }
            // ESP, no-next-header, UDP, ICMPv6, ...: nothing we can read.
            other => return Err(Skip::NotTcp(other)),
        }
    }
}

/// An atomic fragment (offset 0, no more fragments; RFC 6946) is a whole
/// packet and decodes normally; any other fragment is skipped, unless the
/// header it announces is known not to be TCP.
fn fragment_is_whole(e: &[u8; 8]) -> Result<(), Skip> {
    // Offset in the top 13 bits, M flag in bit 0; bits 1-2 are reserved.
    if be16([e[2], e[3]]) & 0xfff9 == 0 {
        return Ok(());
    }
    match e[0] {
        PROTO_TCP | IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_AH | IPV6_FRAGMENT => {
            Err(Skip::IpFragment)
        }
        other => Err(Skip::NotTcp(other)),
    }
}

fn tcp(
    ip: &[u8],
    at: usize,
    extent: Extent,
    src: IpAddr,
    dst: IpAddr,
) -> Result<TcpSegment<'_>, Skip> {
    extent.must_hold(at + TCP_MIN_HEADER)?;
    let t: &[u8; TCP_MIN_HEADER] = chunk(ip, at).ok_or(Skip::TruncatedHeader)?;
    let header_len = usize::from(t[12] >> 4) * 4;
    if header_len < TCP_MIN_HEADER {
        return Err(Skip::Malformed);
    }
    let start = at + header_len;
    extent.must_hold(start)?;
    if ip.len() < start {
        return Err(Skip::TruncatedHeader);
    }
    // Bytes past the IP length are link padding (Ethernet's 60-byte minimum),
    // not stream data.
    let captured_end = extent.declared.map_or(ip.len(), |end| end.min(ip.len()));
    let payload = ip.get(start..captured_end).unwrap_or_default();
    let wire_end = extent
        .declared
        .or(extent.frame)
        .unwrap_or(ip.len())
        .max(captured_end);
    let payload_len = u32::try_from(wire_end - start).unwrap_or(u32::MAX);
    Ok(TcpSegment {
        src,
        dst,
        src_port: be16([t[0], t[1]]),
        dst_port: be16([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: TcpFlags(t[13]),
        window: be16([t[14], t[15]]),
        payload,
        payload_len,
    })
}
