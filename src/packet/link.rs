//! Link layers: find where the IP header starts and which version to expect.
//!
//! Every reader here takes fixed-size chunks (`first_chunk`) so that field
//! accesses are on arrays with constant indices: no index can be out of range,
//! and a short capture becomes `Skip::TruncatedHeader` at the one length check.

use super::Skip;
use crate::capture::LinkType;

/// The network layer a link header announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Net {
    V4,
    V6,
    /// Raw IP link types: the version nibble decides.
    Either,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still emitted by some switches.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const AF_INET: u32 = 2;
const AF_INET6_LINUX: u32 = 10;
const AF_INET6_NET_OPEN_BSD: u32 = 24;
const AF_INET6_FREEBSD: u32 = 28;
const AF_INET6_DARWIN: u32 = 30;

/// DLT_RAW as some BSDs numbered it before LINKTYPE_RAW (101) existed; files
/// written there may carry the DLT value.
const DLT_RAW_12: LinkType = LinkType(12);
const DLT_RAW_14: LinkType = LinkType(14);

/// The fixed-size piece of `data` at `at`, or `None` if the capture is
/// shorter.
#[inline(always)]
pub(super) fn chunk<const N: usize>(data: &[u8], at: usize) -> Option<&[u8; N]> {
    data.get(at..)?.first_chunk::<N>()
}

#[inline(always)]
pub(super) fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// Returns the network layer and the offset of its header in `data`.
#[inline]
pub(super) fn strip(linktype: LinkType, data: &[u8]) -> Result<(Net, usize), Skip> {
    match linktype {
        LinkType::ETHERNET => ethernet(data),
        LinkType::LINUX_SLL => sll(data),
        LinkType::LINUX_SLL2 => sll2(data),
        LinkType::RAW | DLT_RAW_12 | DLT_RAW_14 => Ok((Net::Either, 0)),
        LinkType::IPV4 => Ok((Net::V4, 0)),
        LinkType::IPV6 => Ok((Net::V6, 0)),
        LinkType::NULL => null(data),
        LinkType::LOOP => loopback(data),
        other => Err(Skip::UnsupportedLinkType(other)),
    }
}

fn ethernet(data: &[u8]) -> Result<(Net, usize), Skip> {
    let h: &[u8; 14] = chunk(data, 0).ok_or(Skip::TruncatedHeader)?;
    ethertype(data, be16([h[12], h[13]]), 14)
}

/// Linux cooked v1: 16 bytes, protocol (an ethertype for IP) last.
fn sll(data: &[u8]) -> Result<(Net, usize), Skip> {
    let h: &[u8; 16] = chunk(data, 0).ok_or(Skip::TruncatedHeader)?;
    ethertype(data, be16([h[14], h[15]]), 16)
}

/// Linux cooked v2: 20 bytes, protocol first.
fn sll2(data: &[u8]) -> Result<(Net, usize), Skip> {
    let h: &[u8; 20] = chunk(data, 0).ok_or(Skip::TruncatedHeader)?;
    ethertype(data, be16([h[0], h[1]]), 20)
}

/// Follows `ethertype` (whose payload starts at `at`) through any number of
/// VLAN tags. libpcap also re-inserts offloaded VLAN tags after the SLL
/// protocol field, so the cooked headers come through here too. The loop
/// ends because every tag consumes four captured bytes.
#[inline]
fn ethertype(data: &[u8], mut ethertype: u16, mut at: usize) -> Result<(Net, usize), Skip> {
    loop {
        match ethertype {
            ETHERTYPE_IPV4 => return Ok((Net::V4, at)),
            ETHERTYPE_IPV6 => return Ok((Net::V6, at)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                // Tag control information, then the inner ethertype.
                let tag: &[u8; 4] = chunk(data, at).ok_or(Skip::TruncatedHeader)?;
                ethertype = be16([tag[2], tag[3]]);
                at += 4;
            }
            _ => return Err(Skip::NotIp),
        }
    }
}

/// BSD null: the address family in the capturing host's byte order, which
/// the file does not record. Families are small numbers, so whichever
/// reading gives the smaller value is the right one.
fn null(data: &[u8]) -> Result<(Net, usize), Skip> {
    let h: &[u8; 4] = chunk(data, 0).ok_or(Skip::TruncatedHeader)?;
    let af = u32::from_le_bytes(*h).min(u32::from_be_bytes(*h));
    address_family(af)
}

/// OpenBSD loopback: like null, but always network byte order.
fn loopback(data: &[u8]) -> Result<(Net, usize), Skip> {
    let h: &[u8; 4] = chunk(data, 0).ok_or(Skip::TruncatedHeader)?;
    address_family(u32::from_be_bytes(*h))
}

fn address_family(af: u32) -> Result<(Net, usize), Skip> {
    match af {
        AF_INET => Ok((Net::V4, 4)),
        AF_INET6_LINUX | AF_INET6_NET_OPEN_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => {
            Ok((Net::V6, 4))
        }
        _ => Err(Skip::NotIp),
    }
}
