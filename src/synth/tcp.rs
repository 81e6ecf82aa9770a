//! Link, IP and TCP header builder.
//!
//! Headers are written by hand rather than with a packet library so that
//! tests can get every field wrong on purpose (lengths, header lengths,
//! fragment bits, mismatched link and IP versions).

use super::ByteOrder;
use crate::capture::LinkType;
use std::net::{IpAddr, SocketAddr};

/// A VLAN tag: tag protocol identifier and tag control information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanTag {
    pub tpid: u16,
    pub tci: u16,
}

impl VlanTag {
    /// An 802.1Q customer tag (TPID 0x8100).
    pub fn dot1q(vid: u16) -> VlanTag {
        VlanTag {
            tpid: 0x8100,
            tci: vid & 0x0fff,
        }
    }

    /// An 802.1ad service tag (TPID 0x88a8), the outer tag of QinQ.
    pub fn qinq(vid: u16) -> VlanTag {
        VlanTag {
            tpid: 0x88a8,
            tci: vid & 0x0fff,
        }
    }
}

/// The link layer to put around the IP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    /// Ethernet with VLAN tags, outermost first.
    EthernetVlan(Vec<VlanTag>),
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// LINKTYPE_RAW: the IP header first, version from its first nibble.
    Raw,
    /// LINKTYPE_IPV4 / LINKTYPE_IPV6: bare IP of a fixed version. The header
    /// written follows the addresses, so a mismatch can be built on purpose.
    Ipv4,
    Ipv6,
    /// BSD null: a 4-byte address family in the capturing host's byte order.
    /// `af_inet6` is the host's AF_INET6 (10 Linux, 24 NetBSD/OpenBSD,
    /// 28 FreeBSD, 30 macOS).
    Null {
        order: ByteOrder,
        af_inet6: u32,
    },
    /// OpenBSD loopback: like null, in network byte order.
    Loop {
        af_inet6: u32,
    },
}

const AF_INET: u32 = 2;

impl Link {
    /// Null as macOS writes it for `lo0`: little-endian, AF_INET6 = 30.
    pub fn null() -> Link {
        Link::Null {
            order: ByteOrder::Little,
            af_inet6: 30,
        }
    }

    /// Loop as OpenBSD writes it: AF_INET6 = 24.
    pub fn loopback() -> Link {
        Link::Loop { af_inet6: 24 }
    }

    /// The pcap link type of captures carrying this link layer.
    pub fn linktype(&self) -> LinkType {
        match self {
            Link::Ethernet | Link::EthernetVlan(_) => LinkType::ETHERNET,
            Link::Sll => LinkType::LINUX_SLL,
            Link::Sll2 => LinkType::LINUX_SLL2,
            Link::Raw => LinkType::RAW,
            Link::Ipv4 => LinkType::IPV4,
            Link::Ipv6 => LinkType::IPV6,
            Link::Null { .. } => LinkType::NULL,
            Link::Loop { .. } => LinkType::LOOP,
        }
    }

    /// Every link layer wscap decodes, with a representative setting each.
    pub fn all() -> Vec<Link> {
        vec![
            Link::Ethernet,
            Link::EthernetVlan(vec![VlanTag::dot1q(42)]),
            Link::EthernetVlan(vec![VlanTag::qinq(7), VlanTag::dot1q(42)]),
            Link::Sll,
            Link::Sll2,
            Link::Raw,
            Link::Ipv4,
            Link::Ipv6,
            Link::null(),
            Link::Null {
                order: ByteOrder::Big,
                af_inet6: 28,
            },
            Link::loopback(),
        ]
    }

    /// Whether this link layer can carry an IP packet of that version.
    pub fn carries(&self, ip: &IpAddr) -> bool {
        !matches!(
            (self, ip),
            (Link::Ipv4, IpAddr::V6(_)) | (Link::Ipv6, IpAddr::V4(_))
        )
    }

    fn header(&self, packet: &TcpPacket, ipv6: bool) -> Vec<u8> {
        let ethertype: u16 = if ipv6 { 0x86dd } else { 0x0800 };
        let af = |af_inet6: u32| if ipv6 { af_inet6 } else { AF_INET };
        let mut h = Vec::with_capacity(24);
        match self {
            Link::Ethernet => ethernet(&mut h, packet, &[], ethertype),
            Link::EthernetVlan(tags) => ethernet(&mut h, packet, tags, ethertype),
            Link::Sll => {
                h.extend(packet.sll_packet_type.to_be_bytes());
                h.extend(1u16.to_be_bytes()); // ARPHRD_ETHER
                h.extend(6u16.to_be_bytes()); // address length
                h.extend(packet.src_mac);
                h.extend([0, 0]); // address field is 8 bytes
                h.extend(ethertype.to_be_bytes());
            }
            Link::Sll2 => {
                h.extend(ethertype.to_be_bytes());
                h.extend([0, 0]); // reserved
                h.extend(2u32.to_be_bytes()); // interface index
                h.extend(1u16.to_be_bytes()); // ARPHRD_ETHER
                h.push(packet.sll_packet_type as u8);
                h.push(6); // address length
                h.extend(packet.src_mac);
                h.extend([0, 0]);
            }
            Link::Raw | Link::Ipv4 | Link::Ipv6 => {}
            Link::Null { order, af_inet6 } => h.extend(order.u32(af(*af_inet6))),
            Link::Loop { af_inet6 } => h.extend(af(*af_inet6).to_be_bytes()),
        }
        h
    }
}

fn ethernet(h: &mut Vec<u8>, packet: &TcpPacket, tags: &[VlanTag], ethertype: u16) {
    h.extend(packet.dst_mac);
    h.extend(packet.src_mac);
    for tag in tags {
        h.extend(tag.tpid.to_be_bytes());
        h.extend(tag.tci.to_be_bytes());
    }
    h.extend(ethertype.to_be_bytes());
}

/// An IPv6 extension header, written in the order given after the fixed
/// header. Next-header and length fields are filled in by the builder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ipv6Ext {
    /// Hop-by-hop options (0): option bytes, padded with Pad1 to 8n bytes.
    HopByHop(Vec<u8>),
    /// Routing header (43): the bytes after the length field, zero-padded.
    Routing(Vec<u8>),
    /// Destination options (60): option bytes, padded with Pad1.
    DestOpts(Vec<u8>),
    /// Authentication header (51): SPI, sequence number and integrity check
    /// value, zero-padded to 8n bytes (its length field counts 4-byte words).
    Ah { spi: u32, seq: u32, icv: Vec<u8> },
    /// Fragment header (44): `offset` in 8-byte units, `more` = M flag.
    /// Offset 0 without M is an atomic fragment (RFC 6946).
    Fragment { offset: u16, more: bool, id: u32 },
}

impl Ipv6Ext {
    fn kind(&self) -> u8 {
        match self {
            Ipv6Ext::HopByHop(_) => 0,
            Ipv6Ext::Routing(_) => 43,
            Ipv6Ext::DestOpts(_) => 60,
            Ipv6Ext::Ah { .. } => 51,
            Ipv6Ext::Fragment { .. } => 44,
        }
    }

    fn encode(&self, next: u8) -> Vec<u8> {
        let mut e = vec![next, 0];
        match self {
            Ipv6Ext::HopByHop(body) | Ipv6Ext::Routing(body) | Ipv6Ext::DestOpts(body) => {
                e.extend(body);
                e.resize(e.len().next_multiple_of(8), 0);
                e[1] = u8::try_from(e.len() / 8 - 1).expect("extension header too long");
            }
            Ipv6Ext::Ah { spi, seq, icv } => {
                e.extend([0, 0]);
                e.extend(spi.to_be_bytes());
                e.extend(seq.to_be_bytes());
                e.extend(icv);
                e.resize(e.len().next_multiple_of(8), 0);
                e[1] = u8::try_from(e.len() / 4 - 2).expect("AH too long");
            }
            Ipv6Ext::Fragment { offset, more, id } => {
                e.extend(((offset << 3) | u16::from(*more)).to_be_bytes());
                e.extend(id.to_be_bytes());
            }
        }
        e
    }
}

/// One TCP segment to build. Fields are public so a test can set anything;
/// the methods are shorthands for the common ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpPacket {
    pub link: Link,
    /// Both addresses must be of the same family.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    /// The TCP flags byte ([`crate::packet::TcpFlags`] constants).
    pub flags: u8,
    pub window: u16,
    pub payload: Vec<u8>,
    /// TCP options, zero-padded (end-of-options) to 4n bytes.
    pub tcp_options: Vec<u8>,
    /// IPv4 options, zero-padded (end-of-options) to 4n bytes.
    pub ipv4_options: Vec<u8>,
    /// IPv4 fragment offset (8-byte units) and more-fragments flag.
    pub ipv4_fragment: (u16, bool),
    pub ipv6_ext: Vec<Ipv6Ext>,
    /// Overrides the IPv4 total length / IPv6 payload length field (0 for
    /// TSO-style "length 0", or a lie).
    pub ip_len: Option<u16>,
    /// Overrides the IPv4 IHL nibble.
    pub ipv4_ihl: Option<u8>,
    /// Overrides the TCP data offset nibble.
    pub tcp_data_offset: Option<u8>,
    /// Zero-pads the link bytes to at least this length (60 = the Ethernet
    /// minimum frame without FCS).
    pub pad_to: usize,
    pub ttl: u8,
    pub ip_id: u16,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// SLL packet type: 0 = to us, 4 = outgoing.
    pub sll_packet_type: u16,
}

impl TcpPacket {
    /// An empty segment with no flags, window 65535, and all other fields
    /// plain.
    pub fn new(link: Link, src: SocketAddr, dst: SocketAddr) -> TcpPacket {
        TcpPacket {
            link,
            src,
            dst,
            seq: 0,
            ack: 0,
            flags: 0,
            window: 65_535,
            payload: Vec::new(),
            tcp_options: Vec::new(),
            ipv4_options: Vec::new(),
            ipv4_fragment: (0, false),
            ipv6_ext: Vec::new(),
            ip_len: None,
            ipv4_ihl: None,
            tcp_data_offset: None,
            pad_to: 0,
            ttl: 64,
            ip_id: 1,
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            sll_packet_type: 0,
        }
    }

    pub fn seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }

    pub fn ack(mut self, ack: u32) -> Self {
        self.ack = ack;
        self
    }

    pub fn flags(mut self, flags: u8) -> Self {
        self.flags = flags;
        self
    }

    pub fn window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }

    pub fn payload(mut self, payload: &[u8]) -> Self {
        self.payload = payload.to_vec();
        self
    }

    pub fn ipv4_options(mut self, options: &[u8]) -> Self {
        self.ipv4_options = options.to_vec();
        self
    }

    pub fn ipv6_ext(mut self, ext: Ipv6Ext) -> Self {
        self.ipv6_ext.push(ext);
        self
    }

    /// Pads to the 60-byte Ethernet minimum, as NICs do for short frames.
    pub fn pad_to_60(mut self) -> Self {
        self.pad_to = 60;
        self
    }

    /// The link-layer bytes of the packet.
    pub fn build(&self) -> Vec<u8> {
        let tcp = self.tcp_header();
        let ip = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => self.ipv4_packet(s.octets(), d.octets(), tcp),
            (IpAddr::V6(s), IpAddr::V6(d)) => self.ipv6_packet(s.octets(), d.octets(), tcp),
            _ => panic!("TcpPacket: source and destination of different IP versions"),
        };
        let mut out = self.link.header(self, self.src.is_ipv6());
        out.extend(ip);
        if out.len() < self.pad_to {
            out.resize(self.pad_to, 0);
        }
        out
    }

    /// TCP header with a zero checksum, then the payload.
    fn tcp_header(&self) -> Vec<u8> {
        let mut options = self.tcp_options.clone();
        options.resize(options.len().next_multiple_of(4), 0);
        let header_len = 20 + options.len();
        assert!(header_len <= 60, "TCP options longer than 40 bytes");
        let offset = self.tcp_data_offset.unwrap_or((header_len / 4) as u8);
        let mut t = Vec::with_capacity(header_len + self.payload.len());
        t.extend(self.src.port().to_be_bytes());
        t.extend(self.dst.port().to_be_bytes());
        t.extend(self.seq.to_be_bytes());
        t.extend(self.ack.to_be_bytes());
        t.push(offset << 4);
        t.push(self.flags);
        t.extend(self.window.to_be_bytes());
        t.extend([0, 0, 0, 0]); // checksum, urgent pointer
        t.extend(options);
        t.extend(&self.payload);
        t
    }

    fn ipv4_packet(&self, src: [u8; 4], dst: [u8; 4], mut tcp: Vec<u8>) -> Vec<u8> {
        let mut options = self.ipv4_options.clone();
        options.resize(options.len().next_multiple_of(4), 0);
        let header_len = 20 + options.len();
        assert!(header_len <= 60, "IPv4 options longer than 40 bytes");
        let ihl = self.ipv4_ihl.unwrap_or((header_len / 4) as u8);
        let total = self.ip_len.unwrap_or(wire_u16(header_len + tcp.len()));
        let (frag_offset, more) = self.ipv4_fragment;
        let frag = (frag_offset & 0x1fff) | if more { 0x2000 } else { 0 };

        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend(src);
        pseudo.extend(dst);
        pseudo.extend([0, 6]);
        pseudo.extend(wire_u16(tcp.len()).to_be_bytes());
        set_checksum(&mut tcp, 16, &pseudo);

        let mut ip = Vec::with_capacity(header_len + tcp.len());
        ip.push(0x40 | (ihl & 0x0f));
        ip.push(0); // DSCP/ECN
        ip.extend(total.to_be_bytes());
        ip.extend(self.ip_id.to_be_bytes());
        ip.extend(frag.to_be_bytes());
        ip.push(self.ttl);
        ip.push(6);
        ip.extend([0, 0]); // checksum
        ip.extend(src);
        ip.extend(dst);
        ip.extend(options);
        set_checksum(&mut ip, 10, &[]);
        ip.extend(tcp);
        ip
    }

    fn ipv6_packet(&self, src: [u8; 16], dst: [u8; 16], mut tcp: Vec<u8>) -> Vec<u8> {
        let mut pseudo = Vec::with_capacity(40);
        pseudo.extend(src);
        pseudo.extend(dst);
        pseudo.extend((tcp.len() as u32).to_be_bytes());
        pseudo.extend([0, 0, 0, 6]);
        set_checksum(&mut tcp, 16, &pseudo);

        let mut ext = Vec::new();
        for (i, e) in self.ipv6_ext.iter().enumerate() {
            let next = self.ipv6_ext.get(i + 1).map_or(6, Ipv6Ext::kind);
            ext.extend(e.encode(next));
        }
        let first = self.ipv6_ext.first().map_or(6, Ipv6Ext::kind);
        let payload_len = self.ip_len.unwrap_or(wire_u16(ext.len() + tcp.len()));

        let mut ip = Vec::with_capacity(40 + ext.len() + tcp.len());
        ip.extend(0x6000_0000u32.to_be_bytes()); // version, class, flow label
        ip.extend(payload_len.to_be_bytes());
        ip.push(first);
        ip.push(self.ttl);
        ip.extend(src);
        ip.extend(dst);
        ip.extend(ext);
        ip.extend(tcp);
        ip
    }
}

/// A length for a 16-bit IP field; longer packets are the TSO case, which
/// the field expresses as 0.
fn wire_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(0)
}

/// Writes the Internet checksum of `pseudo` followed by `data` at `at`
/// (where `data` holds zeros).
fn set_checksum(data: &mut [u8], at: usize, pseudo: &[u8]) {
    let mut sum: u64 = 0;
    for part in [pseudo, &*data] {
        let mut words = part.chunks_exact(2);
        for w in &mut words {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            sum += u64::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    data[at..at + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Cuts `data` as a capture with `snaplen` would: the captured bytes and the
/// length on the wire.
pub fn snap(mut data: Vec<u8>, snaplen: u32) -> (Vec<u8>, u32) {
    let orig_len = u32::try_from(data.len()).expect("packet longer than 4 GiB");
    data.truncate(snaplen as usize);
    (data, orig_len)
}
