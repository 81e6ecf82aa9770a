//! The packet inside a tunnel, found only for packets the decoder skipped:
//! Wireshark opens these tunnels and numbers the TCP conversations inside
//! them, wscap does not, so a TCP packet inside one means wscap's
//! connection numbers may no longer be Wireshark's (see
//! [`super::may_hide_tcp`]).

use super::link::{Net, be16, chunk, strip};
use crate::capture::LinkType;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Transparent Ethernet bridging (RFC 1701 registry).
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN2: u16 = 0x88be;

/// The packet a tunnel carries, with the link type to read it as: IP in IP
/// (RFC 2003, 2473), GRE (RFC 2784, 2890; ERSPAN II), and in UDP VXLAN
/// (RFC 7348), Geneve (RFC 8926), GTP-U (3GPP TS 29.281) and Teredo
/// (RFC 4380). `None` for anything else or a header the capture cuts.
pub(super) fn inner(linktype: LinkType, data: &[u8]) -> Option<(LinkType, &[u8])> {
    let (net, at) = strip(linktype, data).ok()?;
    let (proto, payload) = ip_payload(net, data.get(at..)?)?;
    match proto {
        4 | 41 => Some((LinkType::RAW, payload)),
        47 => gre(payload),
        17 => udp(payload),
        _ => None,
    }
}

/// The IP protocol and the bytes after the header (IPv6: without walking
/// extension headers).
fn ip_payload(net: Net, ip: &[u8]) -> Option<(u8, &[u8])> {
    match (net, ip.first()? >> 4) {
        (Net::V4 | Net::Either, 4) => {
            let h: &[u8; 20] = chunk(ip, 0)?;
            Some((h[9], ip.get(usize::from(h[0] & 0x0f) * 4..)?))
        }
        (Net::V6 | Net::Either, 6) => Some((*ip.get(6)?, ip.get(40..)?)),
        _ => None,
    }
}

/// By the protocol type of a GRE or Geneve header, from `at`.
fn by_ethertype(ethertype: u16, data: &[u8], at: usize) -> Option<(LinkType, &[u8])> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some((LinkType::RAW, data.get(at..)?)),
        ETHERTYPE_TEB => Some((LinkType::ETHERNET, data.get(at..)?)),
        _ => None,
    }
}

fn gre(g: &[u8]) -> Option<(LinkType, &[u8])> {
    let h: &[u8; 4] = chunk(g, 0)?;
    // Checksum, key and sequence number present: 4 bytes each.
    let len = 4 + 4 * (h[0] & 0xb0).count_ones() as usize;
    match be16([h[2], h[3]]) {
        ETHERTYPE_ERSPAN2 => Some((LinkType::ETHERNET, g.get(len + 8..)?)),
        t => by_ethertype(t, g, len),
    }
}

fn udp(u: &[u8]) -> Option<(LinkType, &[u8])> {
    let h: &[u8; 8] = chunk(u, 0)?;
    let (src, dst) = (be16([h[0], h[1]]), be16([h[2], h[3]]));
    let p = u.get(8..)?;
    let port = |n: u16| src == n || dst == n;
    if port(4789) {
        Some((LinkType::ETHERNET, p.get(8..)?))
    } else if port(6081) {
        let g: &[u8; 8] = chunk(p, 0)?;
        by_ethertype(be16([g[2], g[3]]), p, 8 + usize::from(g[0] & 0x3f) * 4)
    } else if port(2152) {
        gtp_u(p)
    } else if port(3544) {
        // An origin indication (8 bytes, starting 0x0000) may come first;
        // an authentication indication (0x0001) is not read.
        let at = if p.first_chunk::<2>()? == &[0, 0] {
            8
        } else {
            0
        };
        let ip = p.get(at..)?;
        (ip.first()? >> 4 == 6).then_some((LinkType::RAW, ip))
    } else {
        None
    }
}

/// A GTP-U G-PDU: the 8-byte header, the optional 4 bytes, and the chain
/// of extension headers (each its length in 4-byte units, the next type in
/// its last byte).
fn gtp_u(p: &[u8]) -> Option<(LinkType, &[u8])> {
    let h: &[u8; 8] = chunk(p, 0)?;
    if h[1] != 0xff {
        return None;
    }
    let mut at = 8;
    if h[0] & 0x07 != 0 {
        let mut next = *p.get(11)?;
        at = 12;
        while h[0] & 0x04 != 0 && next != 0 {
            let len = usize::from(*p.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next = *p.get(at + len - 1)?;
            at += len;
        }
    }
    Some((LinkType::RAW, p.get(at..)?))
}
