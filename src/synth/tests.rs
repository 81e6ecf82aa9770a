//! Synth tests: what the builders write must decode with `packet::decode`,
//! and agree with independent parsers (etherparse for headers and checksums,
//! pcap-parser for the capture formats).

use super::*;
use crate::capture::LinkType;
use crate::packet::{Skip, TcpFlags, decode};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

fn addrs(ipv6: bool) -> (SocketAddr, SocketAddr) {
    if ipv6 {
        (
            "[2001:db8::a]:51000".parse().unwrap(),
            "[2001:db8::b]:8080".parse().unwrap(),
        )
    } else {
        (
            "172.16.1.1:51000".parse().unwrap(),
            "172.16.1.2:8080".parse().unwrap(),
        )
    }
}

/// Offset of the IP header behind each link layer, by its documented size.
fn link_len(link: &Link) -> usize {
    match link {
        Link::Ethernet => 14,
        Link::EthernetVlan(tags) => 14 + 4 * tags.len(),
        Link::Sll => 16,
        Link::Sll2 => 20,
        Link::Raw | Link::Ipv4 | Link::Ipv6 => 0,
        Link::Null { .. } | Link::Loop { .. } => 4,
    }
}

fn every_link_and_family() -> Vec<(Link, bool)> {
    let mut all = Vec::new();
    for link in Link::all() {
        for ipv6 in [false, true] {
            let (src, _) = addrs(ipv6);
            if link.carries(&src.ip()) {
                all.push((link.clone(), ipv6));
            }
        }
    }
    all
}

#[test]
fn tcp_packet_round_trips_through_decode() {
    for (link, ipv6) in every_link_and_family() {
        let (src, dst) = addrs(ipv6);
        let p = TcpPacket::new(link.clone(), src, dst)
            .seq(0xdead_beef)
            .ack(0x0102_0304)
            .flags(TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN)
            .window(4321)
            .payload(b"round trip");
        let bytes = p.build();
        let seg = decode(link.linktype(), &bytes).unwrap_or_else(|e| panic!("{link:?}: {e:?}"));
        assert_eq!((seg.src, seg.src_port), (src.ip(), src.port()));
        assert_eq!((seg.dst, seg.dst_port), (dst.ip(), dst.port()));
        assert_eq!((seg.seq, seg.ack), (0xdead_beef, 0x0102_0304));
        assert_eq!(
            seg.flags,
            TcpFlags(TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN)
        );
        assert_eq!(seg.window, 4321);
        assert_eq!((seg.payload, seg.payload_len), (&b"round trip"[..], 10));
    }
}

/// Checks headers and checksums with etherparse, which knows nothing of our
/// builder.
fn etherparse_check(link: &Link, bytes: &[u8], payload: &[u8]) {
    let sliced = match link {
        Link::Ethernet | Link::EthernetVlan(_) => SlicedPacket::from_ethernet(bytes),
        Link::Sll => SlicedPacket::from_linux_sll(bytes),
        _ => SlicedPacket::from_ip(&bytes[link_len(link)..]),
    }
    .unwrap_or_else(|e| panic!("{link:?}: {e:?}"));
    if let Link::EthernetVlan(tags) = link {
        let ids: Vec<u16> = sliced.vlan_ids().iter().map(|v| v.value()).collect();
        let want: Vec<u16> = tags.iter().map(|t| t.tci & 0x0fff).collect();
        assert_eq!(ids, want);
    }
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("{link:?}: no TCP in {sliced:?}");
    };
    assert_eq!(tcp.payload(), payload);
    let expected = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
            tcp.calc_checksum_ipv4(h.source(), h.destination())
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            tcp.calc_checksum_ipv6(h.source(), h.destination())
        }
        other => panic!("{link:?}: {other:?}"),
    };
    assert_eq!(expected.unwrap(), tcp.checksum(), "{link:?}");
}

#[test]
fn etherparse_agrees_on_headers_and_checksums() {
    for (link, ipv6) in every_link_and_family() {
        let (src, dst) = addrs(ipv6);
        for payload in [&b""[..], b"odd", b"even", &[0xff; 999]] {
            let mut p = TcpPacket::new(link.clone(), src, dst)
                .seq(7)
                .flags(TcpFlags::SYN)
                .payload(payload);
            p.tcp_options = vec![2, 4, 5, 0xb4, 1, 3, 3, 7];
            if ipv6 {
                p = p
                    .ipv6_ext(Ipv6Ext::HopByHop(vec![1, 0]))
                    .ipv6_ext(Ipv6Ext::Routing(vec![0, 0]))
                    .ipv6_ext(Ipv6Ext::Fragment {
                        offset: 0,
                        more: false,
                        id: 3,
                    })
                    .ipv6_ext(Ipv6Ext::Ah {
                        spi: 9,
                        seq: 1,
                        icv: vec![1; 12],
                    })
                    .ipv6_ext(Ipv6Ext::DestOpts(vec![1, 1]));
            } else {
                p = p.ipv4_options(&[0x94, 4, 0, 0, 1]);
            }
            let bytes = p.build();
            etherparse_check(&link, &bytes, payload);
            let seg = decode(link.linktype(), &bytes).unwrap();
            assert_eq!(seg.payload, payload);
        }
    }
}

#[test]
fn link_headers_have_their_documented_sizes() {
    for (link, ipv6) in every_link_and_family() {
        let (src, dst) = addrs(ipv6);
        let bytes = TcpPacket::new(link.clone(), src, dst).build();
        let ip_len = if ipv6 { 60 } else { 40 };
        assert_eq!(bytes.len(), link_len(&link) + ip_len, "{link:?}");
        assert_eq!(bytes[link_len(&link)] >> 4, if ipv6 { 6 } else { 4 });
    }
    // BSD null follows the given byte order; loop is network order.
    let (src, dst) = addrs(true);
    let null_be = Link::Null {
        order: ByteOrder::Big,
        af_inet6: 28,
    };
    assert_eq!(
        TcpPacket::new(null_be, src, dst).build()[..4],
        [0, 0, 0, 28]
    );
    assert_eq!(
        TcpPacket::new(Link::null(), src, dst).build()[..4],
        [30, 0, 0, 0]
    );
    assert_eq!(
        TcpPacket::new(Link::loopback(), src, dst).build()[..4],
        [0, 0, 0, 24]
    );
}

#[test]
fn padding_and_snaplen() {
    let (src, dst) = addrs(false);
    let p = TcpPacket::new(Link::Ethernet, src, dst)
        .payload(b"ab")
        .pad_to_60();
    let bytes = p.build();
    assert_eq!(bytes.len(), 60);
    assert_eq!(bytes[56..], [0; 4]);
    let seg = decode(LinkType::ETHERNET, &bytes).unwrap();
    assert_eq!(seg.payload, b"ab");

    let (cut, orig) = snap(bytes.clone(), 55);
    assert_eq!((cut.len(), orig), (55, 60));
    let (whole, orig) = snap(bytes.clone(), 65_535);
    assert_eq!((whole, orig), (bytes.clone(), 60));
    let sp = SynthPacket::new(Timestamp::from_nanos(5), bytes).snapped(20);
    assert_eq!((sp.data.len(), sp.orig_len), (20, 60));
    assert_eq!(
        decode(LinkType::ETHERNET, &sp.data).unwrap_err(),
        Skip::TruncatedHeader
    );
}

#[test]
fn wrong_fields_on_request() {
    let (src, dst) = addrs(false);
    let mut p = TcpPacket::new(Link::Raw, src, dst).payload(&[1; 10]);
    p.ip_len = Some(0);
    let bytes = p.build();
    assert_eq!(bytes[2..4], [0, 0]);
    assert_eq!(decode(LinkType::RAW, &bytes).unwrap().payload_len, 10);
    p.ip_len = None;
    p.ipv4_fragment = (3, true);
    assert_eq!(p.build()[6..8], [0x20, 3]);
    // A v6 packet on an IPv4-only link is a contradiction decode must see.
    let (src6, dst6) = addrs(true);
    let v6_on_v4 = TcpPacket::new(Link::Ipv4, src6, dst6).build();
    assert_eq!(
        decode(LinkType::IPV4, &v6_on_v4).unwrap_err(),
        Skip::Malformed
    );
}

fn decoded(link: &Link, packets: &[SynthPacket]) -> Vec<(IpAddr, u32, u32, u8, Vec<u8>)> {
    packets
        .iter()
        .map(|p| {
            let s = decode(link.linktype(), &p.data).unwrap();
            (s.src, s.seq, s.ack, s.flags.0, s.payload.to_vec())
        })
        .collect()
}

#[test]
fn conversation_tracks_sequence_numbers() {
    const A: u8 = TcpFlags::ACK;
    const P: u8 = TcpFlags::PSH;
    for (link, ipv6) in every_link_and_family() {
        let (client, server) = addrs(ipv6);
        let mut conv = TcpConversation::new(link.clone(), client, server);
        conv.isn(100, 900)
            .mss(4)
            .handshake()
            .send(Side::Client, b"0123456789")
            .ack(Side::Server)
            .send(Side::Server, b"ok")
            .close(Side::Client);
        assert_eq!(conv.next_seq(Side::Client), 100 + 1 + 10 + 1);
        assert_eq!(conv.next_seq(Side::Server), 900 + 1 + 2 + 1);
        let (c, s) = (client.ip(), server.ip());
        let want = vec![
            (c, 100, 0, TcpFlags::SYN, vec![]),
            (s, 900, 101, TcpFlags::SYN | A, vec![]),
            (c, 101, 901, A, vec![]),
            (c, 101, 901, A, b"0123".to_vec()),
            (c, 105, 901, A, b"4567".to_vec()),
            (c, 109, 901, A | P, b"89".to_vec()),
            (s, 901, 111, A, vec![]),
            (s, 901, 111, A | P, b"ok".to_vec()),
            (c, 111, 903, TcpFlags::FIN | A, vec![]),
            (s, 903, 112, TcpFlags::FIN | A, vec![]),
            (c, 112, 904, A, vec![]),
        ];
        assert_eq!(decoded(&link, conv.packets()), want, "{link:?}");
    }
}

#[test]
fn conversation_wraps_sequence_numbers() {
    let (client, server) = addrs(false);
    let mut conv = TcpConversation::new(Link::Sll, client, server);
    conv.isn(u32::MAX - 2, u32::MAX)
        .mss(3)
        .handshake()
        .send(Side::Client, b"abcdef")
        .rst(Side::Server);
    let seqs: Vec<(u32, u32)> = decoded(&Link::Sll, conv.packets())
        .into_iter()
        .map(|d| (d.1, d.2))
        .collect();
    let m = u32::MAX;
    assert_eq!(
        seqs,
        [
            (m - 2, 0),
            (m, m - 1),
            (m - 1, 0),
            (m - 1, 0),
            (1, 0),
            (0, 4)
        ]
    );
    assert_eq!(conv.next_seq(Side::Client), 4);
}

#[test]
fn conversation_times_snaplen_and_adjust() {
    let (client, server) = addrs(true);
    let mut conv = TcpConversation::new(Link::Ethernet, client, server);
    conv.start_at(Timestamp::from_nanos(1_000))
        .step(10)
        .snaplen(Some(14 + 60 + 8 + 5))
        .adjust(|p| {
            p.ipv6_ext.push(Ipv6Ext::DestOpts(vec![]));
            p.pad_to = 60;
        })
        .handshake()
        .wait(1_000)
        .send(Side::Server, &[9; 100]);
    let packets = conv.take_packets();
    let times: Vec<i64> = packets.iter().map(|p| p.ts.as_nanos()).collect();
    assert_eq!(times, [1_000, 1_010, 1_020, 2_030]);
    let data = &packets[3];
    assert_eq!((data.data.len(), data.orig_len), (87, 14 + 60 + 8 + 100));
    let seg = decode(LinkType::ETHERNET, &data.data).unwrap();
    assert_eq!((seg.payload, seg.payload_len), (&[9u8; 5][..], 100));
    assert!(conv.packets().is_empty());
    conv.ack(Side::Client);
    assert_eq!(conv.into_packets().len(), 1);
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn pcap_little_endian_matches_pcap_parser() {
    let (client, server) = addrs(false);
    let mut conv = TcpConversation::new(Link::Ethernet, client, server);
    conv.start_at(Timestamp::from_nanos(1_700_000_000_123_456_789))
        .handshake()
        .send(Side::Client, b"hi");
    let packets = conv.into_packets();
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    w.write_all(&packets).unwrap();
    let bytes = w.into_inner();
    let (rest, cap) = pcap_parser::parse_pcap(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(cap.header.magic_number, 0xa1b2_c3d4);
    assert_eq!(cap.header.network.0, 1);
    assert_eq!(cap.header.snaplen, 262_144);
    assert_eq!(cap.blocks.len(), packets.len());
    for (b, p) in cap.blocks.iter().zip(&packets) {
        assert_eq!(b.data, &p.data[..]);
        assert_eq!(b.origlen, p.orig_len);
        let ns = p.ts.as_nanos();
        assert_eq!(i64::from(b.ts_sec), ns / 1_000_000_000);
        // Microseconds, cut rather than rounded.
        assert_eq!(i64::from(b.ts_usec), ns % 1_000_000_000 / 1_000);
    }
}

#[test]
fn pcap_big_endian_nanos_and_raw_records() {
    let options = PcapOptions {
        order: ByteOrder::Big,
        precision: TsPrecision::Nano,
        linktype: 0x1000_0001, // Ethernet with FCS-length bits
        snaplen: 96,
    };
    let mut w = PcapWriter::with_options(Vec::new(), options).unwrap();
    w.write_packet(Timestamp::from_nanos(3_000_000_007), 100, &[1, 2, 3])
        .unwrap();
    w.write_packet(Timestamp::from_nanos(-1), 1, &[4]).unwrap();
    w.write_record(1, 2, 99, 4, &[5]).unwrap();
    let b = w.into_inner();
    assert_eq!(b[..4], [0xa1, 0xb2, 0x3c, 0x4d]);
    assert_eq!(b[4..8], [0, 2, 0, 4]);
    assert_eq!((be32(&b, 16), be32(&b, 20)), (96, 0x1000_0001));
    let rec = |at| {
        (
            be32(&b, at),
            be32(&b, at + 4),
            be32(&b, at + 8),
            be32(&b, at + 12),
        )
    };
    assert_eq!(rec(24), (3, 7, 3, 100));
    assert_eq!(b[40..43], [1, 2, 3]);
    assert_eq!(rec(43), (u32::MAX, 999_999_999, 1, 1));
    assert_eq!(rec(60), (1, 2, 99, 4));
    assert_eq!(b.len(), 77);
    assert_eq!(pcap_bytes(101, &[])[..4], [0x4d, 0x3c, 0xb2, 0xa1]);
}

#[test]
fn pcapng_matches_pcap_parser() {
    let ts = Timestamp::from_nanos(1_700_000_000_987_654_321);
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little);
    w.section().unwrap();
    let us = w.interface(1, 65_535, None, None).unwrap();
    let ns = w.interface(113, 128, Some(9), None).unwrap();
    let bin = w
        .interface(276, 0, Some(0x80 | 20), Some(1_600_000_000))
        .unwrap();
    assert_eq!((us, ns, bin), (0, 1, 2));
    w.enhanced_packet_at(us, ts, 10, &[1, 2, 3, 4, 5]).unwrap();
    w.enhanced_packet_at(ns, ts, 3, &[6, 7, 8]).unwrap();
    w.enhanced_packet_at(bin, ts, 1, &[9]).unwrap();
    w.enhanced_packet(us, 0x1_0000_0002, 0, &[]).unwrap();
    w.simple_packet(70, &[0xaa; 6]).unwrap();
    w.custom_block(4, &[0, 0, 0, 0]).unwrap(); // an empty name resolution block
    w.custom_block(0x0000_0777, &[1, 2, 3, 4, 5]).unwrap(); // unknown type
    assert_eq!(w.units_for(us, ts), Some(1_700_000_000_987_654));
    assert_eq!(w.units_for(ns, ts), Some(1_700_000_000_987_654_321));
    // 2^20 units per second since the offset, cut.
    let since = 100_000_000_987_654_321i128;
    assert_eq!(
        w.units_for(bin, ts),
        Some((since * (1 << 20) / 1_000_000_000) as u64)
    );
    assert_eq!(w.units_for(bin, Timestamp::from_nanos(0)), None);
    assert_eq!(w.units_for(7, ts), None);
    let bytes = w.into_inner();

    let (rest, sections) = pcap_parser::pcapng::parse_sections(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(sections.len(), 1);
    assert!(!sections[0].big_endian);
    use pcap_parser::pcapng::Block;
    let blocks = &sections[0].blocks;
    assert_eq!(blocks.len(), 11);
    let Block::InterfaceDescription(idb) = &blocks[3] else {
        panic!("{:?}", blocks[3]);
    };
    assert_eq!((idb.linktype.0, idb.snaplen), (276, 0));
    assert_eq!(
        (idb.if_tsresol, idb.if_tsoffset),
        (0x80 | 20, 1_600_000_000)
    );
    let epb = |i: usize| match &blocks[i] {
        Block::EnhancedPacket(e) => e,
        other => panic!("{other:?}"),
    };
    let e = epb(4);
    assert_eq!((e.if_id, e.caplen, e.origlen), (0, 5, 10));
    assert_eq!(e.data[..5], [1, 2, 3, 4, 5]);
    assert_eq!(e.data.len(), 8, "padded to 32 bits");
    let units = |e: &pcap_parser::pcapng::EnhancedPacketBlock| {
        (u64::from(e.ts_high) << 32) | u64::from(e.ts_low)
    };
    assert_eq!(units(e), 1_700_000_000_987_654);
    assert_eq!(units(epb(5)), 1_700_000_000_987_654_321);
    assert_eq!(units(epb(7)), 0x1_0000_0002);
    let Block::SimplePacket(spb) = &blocks[8] else {
        panic!("{:?}", blocks[8]);
    };
    assert_eq!((spb.origlen, &spb.data[..6]), (70, &[0xaa; 6][..]));
    assert_eq!(blocks[9].magic(), 4);
    assert_eq!(blocks[10].magic(), 0x777);
}

#[test]
fn pcapng_big_endian_and_sections() {
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Big);
    assert!(w.get_mut().is_empty(), "nothing before the first section");
    w.section().unwrap();
    w.interface(1, 1500, None, Some(-5)).unwrap();
    w.section().unwrap();
    // Interface ids restart with each section.
    assert_eq!(w.interface(101, 1500, None, None).unwrap(), 0);
    w.write_synth(
        0,
        &SynthPacket::new(Timestamp::from_nanos(2_000_001_000), vec![0x45]),
    )
    .unwrap();
    assert!(
        w.write_synth(1, &SynthPacket::new(Timestamp(0), vec![]))
            .is_err()
    );
    let b = w.into_inner();
    assert_eq!(be32(&b, 0), 0x0a0d_0d0a);
    assert_eq!(be32(&b, 4), 28);
    assert_eq!(be32(&b, 8), 0x1a2b_3c4d);
    assert_eq!(b[8..12], [0x1a, 0x2b, 0x3c, 0x4d]);
    assert_eq!(le32(&b, 24), 28u32.swap_bytes());
    let (rest, sections) = pcap_parser::pcapng::parse_sections(&b).unwrap();
    assert!(rest.is_empty());
    assert_eq!(sections.len(), 2);
    assert!(sections.iter().all(|s| s.big_endian));
    use pcap_parser::pcapng::Block;
    let Block::InterfaceDescription(idb) = &sections[0].blocks[1] else {
        panic!();
    };
    assert_eq!(idb.if_tsresol, 6);
    // pcap-parser 0.17 reads if_tsoffset little-endian whatever the section
    // says, so check the option bytes here.
    assert_eq!(b[44..48], [0, 14, 0, 8]);
    assert_eq!(b[48..56], (-5i64).to_be_bytes());
    let Block::EnhancedPacket(e) = &sections[1].blocks[2] else {
        panic!();
    };
    assert_eq!(
        (e.ts_high, e.ts_low, e.caplen, e.data[0]),
        (0, 2_000_001, 1, 0x45)
    );
}
