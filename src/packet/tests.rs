//! Decoder tests. The basic layouts are checked against hand-written bytes;
//! variations (options, extension headers, wrong fields) use the synth
//! builder, which is itself checked against etherparse in its own tests.

use super::*;
use crate::synth::{Ipv6Ext, Link, TcpPacket, VlanTag};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// IPv4 192.168.0.1:1234 -> 192.168.0.2:80, seq 1, ack 2, PSH|ACK, window
/// 8192, payload "abcd". Checksums zero: the decoder must not care.
const V4_TCP: &[u8] = &[
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // DF
    0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0x02, // addresses
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // ports, seq, ack
    0x50, 0x18, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // offset 5, flags, window, csum, urg
    b'a', b'b', b'c', b'd',
];

/// IPv6 2001:db8::1:40000 -> 2001:db8::2:443, seq 0xfffffff0, ack 7,
/// SYN|ACK, window 1024, one TCP option word (MSS), payload "xyz".
const V6_TCP: &[u8] = &[
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x06, 0x40, // payload length 27
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
    0x9c, 0x40, 0x01, 0xbb, 0xff, 0xff, 0xff, 0xf0, 0x00, 0x00, 0x00, 0x07, //
    0x60, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, // offset 6, SYN|ACK
    0x02, 0x04, 0x05, 0xb4, // MSS 1460
    b'x', b'y', b'z',
];

const MACS: [u8; 12] = [
    0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn check_v4(seg: &TcpSegment<'_>) {
    assert_eq!(seg.src, IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)));
    assert_eq!(seg.dst, IpAddr::V4(Ipv4Addr::new(192, 168, 0, 2)));
    assert_eq!((seg.src_port, seg.dst_port), (1234, 80));
    assert_eq!((seg.seq, seg.ack), (1, 2));
    assert_eq!(seg.flags, TcpFlags(TcpFlags::PSH | TcpFlags::ACK));
    assert_eq!(seg.window, 8192);
    assert_eq!(seg.payload, b"abcd");
    assert_eq!(seg.payload_len, 4);
}

fn check_v6(seg: &TcpSegment<'_>) {
    assert_eq!(seg.src, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(seg.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
    assert_eq!((seg.src_port, seg.dst_port), (40000, 443));
    assert_eq!((seg.seq, seg.ack), (0xffff_fff0, 7));
    assert!(seg.flags.syn() && seg.flags.ack() && !seg.flags.fin() && !seg.flags.rst());
    assert_eq!(seg.window, 1024);
    assert_eq!(seg.payload, b"xyz");
    assert_eq!(seg.payload_len, 3);
}

/// (link type, header before an IPv4 packet, header before an IPv6 packet)
/// for every supported link layer, written out byte by byte.
fn link_headers() -> Vec<(LinkType, Vec<u8>, Vec<u8>)> {
    let eth = |tags: &[u8], et: [u8; 2]| cat(&[&MACS, tags, &et]);
    let sll = |et: [u8; 2]| cat(&[&[0, 0, 0, 1, 0, 6], &MACS[..8], &et]);
    let sll2 = |et: [u8; 2]| cat(&[&et, &[0, 0, 0, 0, 0, 2, 0, 1, 0, 6], &MACS[..8]]);
    let (v4, v6) = ([0x08, 0x00], [0x86, 0xdd]);
    let vlan: &[u8] = &[0x81, 0x00, 0x00, 0x64];
    let qinq: &[u8] = &[0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x64];
    let old_qinq: &[u8] = &[0x91, 0x00, 0x00, 0x07, 0x81, 0x00, 0x00, 0x64];
    let triple: &[u8] = &[0x88, 0xa8, 0, 1, 0x91, 0x00, 0, 2, 0x81, 0x00, 0, 3];
    let mut all = vec![
        (LinkType::ETHERNET, eth(&[], v4), eth(&[], v6)),
        (LinkType::ETHERNET, eth(vlan, v4), eth(vlan, v6)),
        (LinkType::ETHERNET, eth(qinq, v4), eth(qinq, v6)),
        (LinkType::ETHERNET, eth(old_qinq, v4), eth(old_qinq, v6)),
        (LinkType::ETHERNET, eth(triple, v4), eth(triple, v6)),
        (LinkType::LINUX_SLL, sll(v4), sll(v6)),
        // libpcap re-inserts an offloaded VLAN tag after the SLL protocol.
        (
            LinkType::LINUX_SLL,
            cat(&[&sll([0x81, 0x00]), &[0, 0x64], &v4]),
            cat(&[&sll([0x81, 0x00]), &[0, 0x64], &v6]),
        ),
        (LinkType::LINUX_SLL2, sll2(v4), sll2(v6)),
        (LinkType::IPV4, vec![], vec![]),
        (LinkType::IPV6, vec![], vec![]),
        // BSD null in both byte orders, every AF_INET6 in use.
        (LinkType::NULL, vec![2, 0, 0, 0], vec![10, 0, 0, 0]),
        (LinkType::NULL, vec![0, 0, 0, 2], vec![0, 0, 0, 24]),
        (LinkType::NULL, vec![2, 0, 0, 0], vec![28, 0, 0, 0]),
        (LinkType::NULL, vec![0, 0, 0, 2], vec![0, 0, 0, 30]),
        (LinkType::LOOP, vec![0, 0, 0, 2], vec![0, 0, 0, 24]),
        (LinkType::LOOP, vec![0, 0, 0, 2], vec![0, 0, 0, 30]),
    ];
    for raw in [LinkType::RAW, LinkType(12), LinkType(14)] {
        all.push((raw, vec![], vec![]));
    }
    all
}

#[test]
fn every_link_type_both_ip_versions() {
    for (lt, h4, h6) in link_headers() {
        if lt != LinkType::IPV6 {
            let p = cat(&[&h4, V4_TCP]);
            check_v4(&decode(lt, &p).unwrap_or_else(|e| panic!("{lt:?} {h4:?}: {e:?}")));
        }
        if lt != LinkType::IPV4 {
            let p = cat(&[&h6, V6_TCP]);
            check_v6(&decode(lt, &p).unwrap_or_else(|e| panic!("{lt:?} {h6:?}: {e:?}")));
        }
    }
}

#[test]
fn link_version_contradicting_ip_version_is_malformed() {
    assert_eq!(decode(LinkType::IPV4, V6_TCP).unwrap_err(), Skip::Malformed);
    assert_eq!(decode(LinkType::IPV6, V4_TCP).unwrap_err(), Skip::Malformed);
    let p = cat(&[&MACS, &[0x86, 0xdd], V4_TCP]);
    assert_eq!(decode(LinkType::ETHERNET, &p).unwrap_err(), Skip::Malformed);
}

#[test]
fn non_ip_link_payloads() {
    let arp = cat(&[&MACS, &[0x08, 0x06], &[0; 28]]);
    assert_eq!(decode(LinkType::ETHERNET, &arp).unwrap_err(), Skip::NotIp);
    // 802.3 length field with LLC, inside a VLAN tag.
    let llc = cat(&[&MACS, &[0x81, 0x00, 0, 1, 0x00, 0x26], &[0x42; 38]]);
    assert_eq!(decode(LinkType::ETHERNET, &llc).unwrap_err(), Skip::NotIp);
    let sll_arp = cat(&[&[0, 0, 0, 1, 0, 6], &MACS[..8], &[0x08, 0x06], &[0; 28]]);
    assert_eq!(
        decode(LinkType::LINUX_SLL, &sll_arp).unwrap_err(),
        Skip::NotIp
    );
    let null_other = cat(&[&[7, 0, 0, 0], V4_TCP]);
    assert_eq!(
        decode(LinkType::NULL, &null_other).unwrap_err(),
        Skip::NotIp
    );
    // Loop is network order only: a little-endian AF_INET is not one.
    let loop_le = cat(&[&[2, 0, 0, 0], V4_TCP]);
    assert_eq!(decode(LinkType::LOOP, &loop_le).unwrap_err(), Skip::NotIp);
    let mut v5 = V4_TCP.to_vec();
    v5[0] = 0x55;
    assert_eq!(decode(LinkType::RAW, &v5).unwrap_err(), Skip::NotIp);
}

#[test]
fn unsupported_link_types() {
    for lt in [
        LinkType(105),
        LinkType(127),
        LinkType(147),
        LinkType(u16::MAX),
    ] {
        assert_eq!(
            decode(lt, V4_TCP).unwrap_err(),
            Skip::UnsupportedLinkType(lt)
        );
        assert_eq!(decode(lt, &[]).unwrap_err(), Skip::UnsupportedLinkType(lt));
    }
}

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(a), port))
}

fn v6(last: u16, port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last), port))
}

fn builder(link: Link, ipv6: bool) -> TcpPacket {
    let (src, dst) = if ipv6 {
        (v6(1, 1111), v6(2, 2222))
    } else {
        (v4([10, 0, 0, 1], 1111), v4([10, 0, 0, 2], 2222))
    };
    TcpPacket::new(link, src, dst)
        .seq(100)
        .ack(200)
        .flags(TcpFlags::ACK)
        .payload(b"hello, world")
}

fn decode_ok(p: &TcpPacket) -> (Vec<u8>, u32) {
    let bytes = p.build();
    let seg = decode(p.link.linktype(), &bytes).unwrap_or_else(|e| panic!("{p:?}: {e:?}"));
    (seg.payload.to_vec(), seg.payload_len)
}

#[test]
fn ipv4_options_are_skipped() {
    for options in [&[1u8, 1, 1, 0][..], &[0x94, 4, 0, 0], &[1; 40]] {
        let p = builder(Link::Ethernet, false).ipv4_options(options);
        assert_eq!(decode_ok(&p), (b"hello, world".to_vec(), 12));
    }
}

#[test]
fn tcp_options_are_skipped() {
    let mut p = builder(Link::Raw, true);
    p.tcp_options = vec![1; 40];
    assert_eq!(decode_ok(&p), (b"hello, world".to_vec(), 12));
}

fn every_extension() -> Vec<Ipv6Ext> {
    vec![
        Ipv6Ext::HopByHop(vec![1, 4, 0, 0, 0, 0]),
        Ipv6Ext::DestOpts(vec![]),
        Ipv6Ext::Routing(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Ipv6Ext::Fragment {
            offset: 0,
            more: false,
            id: 9,
        },
        Ipv6Ext::Ah {
            spi: 1,
            seq: 2,
            icv: vec![0xaa; 12],
        },
        Ipv6Ext::DestOpts(vec![1; 30]),
    ]
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let mut p = builder(Link::Sll2, true);
    p.ipv6_ext = every_extension();
    assert_eq!(decode_ok(&p), (b"hello, world".to_vec(), 12));
    // AH counts 4-byte words, minus 2: an odd word count must work too.
    let bytes = builder(Link::Raw, true).build();
    let mut ah = bytes[..40].to_vec();
    ah[6] = 51;
    ah.extend([6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]); // 12 bytes: (1 + 2) * 4
    ah.extend(&bytes[40..]);
    ah[5] += 12;
    let seg = decode(LinkType::RAW, &ah).unwrap();
    assert_eq!((seg.payload, seg.payload_len), (&b"hello, world"[..], 12));
}

#[test]
fn ipv4_fragments_are_skipped() {
    for (offset, more) in [(0, true), (185, true), (185, false)] {
        let mut p = builder(Link::Ethernet, false);
        p.ipv4_fragment = (offset, more);
        let bytes = p.build();
        assert_eq!(
            decode(LinkType::ETHERNET, &bytes).unwrap_err(),
            Skip::IpFragment
        );
        // A fragment of another protocol counts as that protocol.
        let mut udp = bytes.clone();
        udp[14 + 9] = 17;
        assert_eq!(
            decode(LinkType::ETHERNET, &udp).unwrap_err(),
            Skip::NotTcp(17)
        );
    }
}

#[test]
fn ipv6_fragments_are_skipped_unless_atomic() {
    for (offset, more) in [(0, true), (100, true), (100, false)] {
        let p = builder(Link::Ethernet, true).ipv6_ext(Ipv6Ext::Fragment {
            offset,
            more,
            id: 1,
        });
        let bytes = p.build();
        assert_eq!(
            decode(LinkType::ETHERNET, &bytes).unwrap_err(),
            Skip::IpFragment
        );
        let mut udp = bytes.clone();
        udp[14 + 40] = 17; // the fragment header's next header
        assert_eq!(
            decode(LinkType::ETHERNET, &udp).unwrap_err(),
            Skip::NotTcp(17)
        );
    }
}

#[test]
fn other_protocols_are_not_tcp() {
    let mut udp = V4_TCP.to_vec();
    udp[9] = 17;
    assert_eq!(decode(LinkType::RAW, &udp).unwrap_err(), Skip::NotTcp(17));
    let mut icmp6 = V6_TCP.to_vec();
    icmp6[6] = 58;
    assert_eq!(decode(LinkType::RAW, &icmp6).unwrap_err(), Skip::NotTcp(58));
    // Behind extension headers: ESP and no-next-header end the walk.
    for last in [50, 59, 17] {
        let mut p = builder(Link::Raw, true).ipv6_ext(Ipv6Ext::HopByHop(vec![]));
        p.ipv6_ext.push(Ipv6Ext::DestOpts(vec![]));
        let mut bytes = p.build();
        bytes[40 + 8] = last; // the destination options' next header
        assert_eq!(
            decode(LinkType::RAW, &bytes).unwrap_err(),
            Skip::NotTcp(last)
        );
    }
}

#[test]
fn ethernet_padding_is_not_payload() {
    for ipv6 in [false, true] {
        for payload in [&b""[..], b"x", b"hi"] {
            let p = builder(Link::Ethernet, ipv6).payload(payload).pad_to_60();
            let bytes = p.build();
            assert!(bytes.len() >= 60);
            assert_eq!(decode_ok(&p), (payload.to_vec(), payload.len() as u32));
            let vlan = builder(Link::EthernetVlan(vec![VlanTag::dot1q(5)]), ipv6)
                .payload(payload)
                .pad_to_60();
            assert_eq!(decode_ok(&vlan), (payload.to_vec(), payload.len() as u32));
        }
    }
}

#[test]
fn snaplen_cuts_payload_but_not_payload_len() {
    for ipv6 in [false, true] {
        let bytes = builder(Link::Sll, ipv6).build();
        let header = bytes.len() - 12;
        for cut in 0..=12 {
            let seg = decode(LinkType::LINUX_SLL, &bytes[..header + cut]).unwrap();
            assert_eq!(seg.payload, &b"hello, world"[..cut]);
            assert_eq!(seg.payload_len, 12);
        }
    }
}

/// Every prefix of a valid packet is either a header truncation or the same
/// segment with a shorter payload.
fn check_every_prefix(linktype: LinkType, bytes: &[u8]) {
    let whole = decode(linktype, bytes).unwrap();
    for end in 0..bytes.len() {
        match decode(linktype, &bytes[..end]) {
            Err(Skip::TruncatedHeader) => {}
            Ok(seg) => {
                assert!(whole.payload.starts_with(seg.payload), "cut at {end}");
                assert!(seg.payload.len() < whole.payload.len().max(1));
                assert_eq!(seg.payload_len, whole.payload_len);
                assert_eq!(
                    (seg.seq, seg.src, seg.dst),
                    (whole.seq, whole.src, whole.dst)
                );
            }
            Err(other) => panic!("{linktype:?} cut at {end} of {}: {other:?}", bytes.len()),
        }
    }
}

#[test]
fn truncated_at_every_length() {
    for (lt, h4, h6) in link_headers() {
        if lt != LinkType::IPV6 {
            check_every_prefix(lt, &cat(&[&h4, V4_TCP]));
        }
        if lt != LinkType::IPV4 {
            check_every_prefix(lt, &cat(&[&h6, V6_TCP]));
        }
    }
    let mut v6 = builder(Link::Ethernet, true);
    v6.ipv6_ext = every_extension();
    check_every_prefix(LinkType::ETHERNET, &v6.build());
    let v4 = builder(Link::Ethernet, false).ipv4_options(&[1; 12]);
    check_every_prefix(LinkType::ETHERNET, &v4.build());
    let mut opts = builder(Link::Raw, false);
    opts.tcp_options = vec![1; 20];
    check_every_prefix(LinkType::RAW, &opts.build());
    // Header-only segment: every cut is inside a header.
    let bare = builder(Link::Ethernet, false).payload(b"").build();
    for end in 0..bare.len() {
        assert_eq!(
            decode(LinkType::ETHERNET, &bare[..end]).unwrap_err(),
            Skip::TruncatedHeader
        );
    }
}

#[test]
fn contradictory_fields_are_malformed() {
    let raw = |p: TcpPacket| decode(LinkType::RAW, &p.build()).map(|s| s.payload_len);
    let v4 = || builder(Link::Raw, false);
    let v6 = || builder(Link::Raw, true);
    for ihl in 0..5 {
        let mut p = v4();
        p.ipv4_ihl = Some(ihl);
        assert_eq!(raw(p), Err(Skip::Malformed), "ihl {ihl}");
    }
    for offset in 0..5 {
        let mut p = v4();
        p.tcp_data_offset = Some(offset);
        assert_eq!(raw(p), Err(Skip::Malformed), "offset {offset}");
        let mut p = v6();
        p.tcp_data_offset = Some(offset);
        assert_eq!(raw(p), Err(Skip::Malformed), "offset {offset}");
    }
    // Total length inside the IP header, inside the TCP header, and short
    // of TCP options.
    for total in [1, 19, 20, 39] {
        let mut p = v4();
        p.ip_len = Some(total);
        assert_eq!(raw(p), Err(Skip::Malformed), "total {total}");
    }
    let mut p = v4();
    p.tcp_options = vec![1; 8];
    p.ip_len = Some(44);
    assert_eq!(raw(p), Err(Skip::Malformed));
    // IPv6 payload length that ends inside the TCP header or an extension.
    let mut p = v6();
    p.ip_len = Some(19);
    assert_eq!(raw(p), Err(Skip::Malformed));
    let mut p = v6().ipv6_ext(Ipv6Ext::DestOpts(vec![1; 20]));
    p.ip_len = Some(16);
    assert_eq!(raw(p), Err(Skip::Malformed));
    // A TCP header longer than the IP length leaves room for is malformed;
    // with the length field agreeing, the capture was cut instead.
    let mut p = v4();
    p.tcp_data_offset = Some(15);
    assert_eq!(raw(p.clone()), Err(Skip::Malformed));
    p.ip_len = Some(20 + 60 + 12);
    assert_eq!(raw(p), Err(Skip::TruncatedHeader));
}

#[test]
fn shorter_ip_length_trims_captured_bytes() {
    // The IP length is believed over trailing bytes (padding, trailers).
    let mut p = builder(Link::Raw, false);
    p.ip_len = Some(20 + 20 + 5);
    assert_eq!(decode_ok(&p), (b"hello".to_vec(), 5));
    let mut p = builder(Link::Raw, true);
    p.ip_len = Some(20 + 5);
    assert_eq!(decode_ok(&p), (b"hello".to_vec(), 5));
}

#[test]
fn zero_ip_length_means_captured_length() {
    for ipv6 in [false, true] {
        // TSO (IPv4 total length 0) and jumbograms (IPv6 payload length 0).
        let mut p = builder(Link::Ethernet, ipv6).payload(&[7; 3000]);
        if ipv6 {
            p.ipv6_ext
                .push(Ipv6Ext::HopByHop(vec![0xc2, 4, 0, 0, 0x0b, 0xe0]));
        }
        p.ip_len = Some(0);
        let bytes = p.build();
        let seg = decode(LinkType::ETHERNET, &bytes).unwrap();
        assert_eq!((seg.payload.len(), seg.payload_len), (3000, 3000));
        // Cut by a snaplen: only the record's orig_len knows the size.
        let cut = &bytes[..bytes.len() - 1000];
        let seg = decode(LinkType::ETHERNET, cut).unwrap();
        assert_eq!((seg.payload.len(), seg.payload_len), (2000, 2000));
        let orig = bytes.len() as u32;
        let seg = decode_with_orig_len(LinkType::ETHERNET, cut, orig).unwrap();
        assert_eq!((seg.payload.len(), seg.payload_len), (2000, 3000));
        // An orig_len below the captured length is ignored.
        let seg = decode_with_orig_len(LinkType::ETHERNET, cut, 10).unwrap();
        assert_eq!((seg.payload.len(), seg.payload_len), (2000, 2000));
    }
}

#[test]
fn orig_len_does_not_override_ip_length() {
    let bytes = cat(&[&MACS, &[0x08, 0x00], V4_TCP]);
    for orig in [0, 10, 100, u32::MAX] {
        check_v4(&decode_with_orig_len(LinkType::ETHERNET, &bytes, orig).unwrap());
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check_invariants(lt: LinkType, data: &[u8]) {
    let plain = decode(lt, data);
    let with_len = decode_with_orig_len(lt, data, data.len() as u32 + 7);
    // orig_len may only change payload_len, never the verdict.
    assert_eq!(plain.err(), with_len.err());
    for seg in [plain, with_len].into_iter().flatten() {
        assert!(seg.payload.len() as u64 <= u64::from(seg.payload_len));
        let start = seg.payload.as_ptr() as usize - data.as_ptr() as usize;
        assert!(start + seg.payload.len() <= data.len());
    }
}

fn fuzz_link_types() -> Vec<LinkType> {
    let mut lts: Vec<LinkType> = link_headers().into_iter().map(|l| l.0).collect();
    lts.extend([LinkType(2), LinkType(u16::MAX)]);
    lts
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut buf = [0u8; 128];
    for lt in fuzz_link_types() {
        for _ in 0..20_000 {
            let len = (rng.next() % 129) as usize;
            for b in &mut buf[..len] {
                *b = rng.next() as u8;
            }
            check_invariants(lt, &buf[..len]);
        }
    }
}

/// Random bytes rarely get past the first header check, so also corrupt
/// valid packets a few bytes at a time.
#[test]
fn mutated_packets_never_panic() {
    let mut rng = XorShift(12345);
    for (lt, h4, h6) in link_headers() {
        let mut ext = builder(Link::Raw, true);
        ext.ipv6_ext = every_extension();
        for base in [
            cat(&[&h4, V4_TCP]),
            cat(&[&h6, V6_TCP]),
            cat(&[&h6, &ext.build()]),
        ] {
            for _ in 0..3_000 {
                let mut p = base.clone();
                for _ in 0..1 + rng.next() % 4 {
                    let i = (rng.next() as usize) % p.len();
                    p[i] = rng.next() as u8;
                }
                let len = (rng.next() as usize) % (p.len() + 1);
                check_invariants(lt, &p[..len]);
                check_invariants(lt, &p);
            }
        }
    }
}

/// Decode speed: `cargo test --release --lib packet::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn speed() {
    use std::hint::black_box;
    use std::time::Instant;
    let cases = [
        (
            "ethernet ipv4",
            LinkType::ETHERNET,
            cat(&[&MACS, &[8, 0], V4_TCP, &[0; 1400]]),
        ),
        (
            "ethernet vlan ipv6",
            LinkType::ETHERNET,
            cat(&[&MACS, &[0x81, 0, 0, 1, 0x86, 0xdd], V6_TCP, &[0; 1400]]),
        ),
        ("sll2 ipv4", LinkType::LINUX_SLL2, {
            let mut p = builder(Link::Sll2, false).build();
            p.extend([0; 1400]);
            p
        }),
    ];
    for (name, lt, bytes) in cases {
        let n = 20_000_000u32;
        let start = Instant::now();
        let mut sum = 0u64;
        for _ in 0..n {
            let seg = decode(black_box(lt), black_box(&bytes)).unwrap();
            sum += u64::from(seg.payload_len) + u64::from(seg.seq);
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
        println!("{name}: {ns:.2} ns/packet ({sum})");
    }
}

/// An outer IPv4 header (20 bytes, protocol `proto`) in front of `inner`.
fn outer_v4(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut h = V4_TCP[..20].to_vec();
    h[9] = proto;
    let total = (20 + inner.len()) as u16;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    cat(&[&h, inner])
}

/// A UDP header from port 5555 to `port` in front of `inner`.
fn udp_to(port: u16, inner: &[u8]) -> Vec<u8> {
    let len = (8 + inner.len()) as u16;
    let mut h = vec![0x15, 0xb3];
    h.extend_from_slice(&port.to_be_bytes());
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    cat(&[&h, inner])
}

#[test]
fn tunnels_carrying_tcp_may_hide_a_conversation() {
    let hides = |bytes: &[u8]| {
        let skip = decode(LinkType::RAW, bytes).unwrap_err();
        may_hide_tcp(skip, LinkType::RAW, bytes)
    };
    let mut icmp = V4_TCP.to_vec();
    icmp[9] = 1;
    // IP in IP.
    assert!(hides(&outer_v4(4, V4_TCP)));
    assert!(hides(&outer_v4(41, V6_TCP)));
    assert!(!hides(&outer_v4(4, &icmp)));
    // GRE, plain and with a key; ERSPAN II carrying Ethernet.
    assert!(hides(&outer_v4(47, &cat(&[&[0, 0, 0x08, 0], V4_TCP]))));
    assert!(hides(&outer_v4(
        47,
        &cat(&[&[0x20, 0, 0x08, 0, 1, 2, 3, 4], V4_TCP])
    )));
    assert!(!hides(&outer_v4(47, &cat(&[&[0, 0, 0x08, 0], &icmp]))));
    let eth = cat(&[&MACS, &[0x08, 0], V4_TCP]);
    assert!(hides(&outer_v4(
        47,
        &cat(&[&[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1], &[0; 8], &eth])
    )));
    // In UDP: VXLAN, Geneve, GTP-U, Teredo; other UDP is not a tunnel.
    let vxlan = cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth]);
    assert!(hides(&outer_v4(17, &udp_to(4789, &vxlan))));
    assert!(!hides(&outer_v4(17, &udp_to(53, &vxlan))));
    let geneve = cat(&[&[0, 0, 0x65, 0x58, 0, 0, 1, 0], &eth]);
    assert!(hides(&outer_v4(17, &udp_to(6081, &geneve))));
    let gtp = cat(&[&[0x30, 0xff, 0, 44, 0, 0, 0, 1], V4_TCP]);
    assert!(hides(&outer_v4(17, &udp_to(2152, &gtp))));
    // GTP-U with a sequence number and one extension header.
    let gtp_ext = cat(&[
        &[0x34, 0xff, 0, 52, 0, 0, 0, 1, 0, 1, 0, 0x85, 1, 0, 0, 0],
        V4_TCP,
    ]);
    assert!(hides(&outer_v4(17, &udp_to(2152, &gtp_ext))));
    assert!(hides(&outer_v4(17, &udp_to(3544, V6_TCP))));
    // Cut inside the tunnel's own header: nothing to see.
    assert!(!hides(&outer_v4(17, &udp_to(2152, &[0x30, 0xff]))));
    // What other skips mean.
    assert!(may_hide_tcp(Skip::IpFragment, LinkType::RAW, &[]));
    assert!(may_hide_tcp(Skip::TruncatedHeader, LinkType::RAW, &[]));
    assert!(!may_hide_tcp(Skip::NotIp, LinkType::RAW, &[]));
    assert!(!hides(&icmp));
}

/// The look-ahead hint names the endpoints decoding finds, on every link
/// type and both IP versions, and never more than the packet holds.
#[test]
fn endpoints_agree_with_decoding() {
    let endpoints_of = |seg: &TcpSegment<'_>| {
        Some((
            SocketAddr::new(seg.src, seg.src_port),
            SocketAddr::new(seg.dst, seg.dst_port),
        ))
    };
    for (lt, h4, h6) in link_headers() {
        for (skip, header, ip) in [(LinkType::IPV6, h4, V4_TCP), (LinkType::IPV4, h6, V6_TCP)] {
            if lt == skip {
                continue;
            }
            let p = cat(&[&header, ip]);
            let seg = decode(lt, &p).unwrap();
            assert_eq!(endpoints(lt, &p), endpoints_of(&seg), "{lt:?}");
            for end in 0..p.len() {
                // Cut anywhere: an answer, if any, is still the right one.
                let hint = endpoints(lt, &p[..end]);
                assert!(
                    hint.is_none() || hint == endpoints_of(&seg),
                    "{lt:?} at {end}"
                );
            }
        }
    }
    let mut udp = V4_TCP.to_vec();
    udp[9] = 17;
    assert_eq!(endpoints(LinkType::RAW, &udp), None);
}
