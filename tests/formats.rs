//! Capture formats and link layers end to end: the same WebSocket
//! conversation over every link type wscap reads, IPv4 and IPv6, classic
//! pcap and pcapng in both byte orders and every timestamp precision,
//! gzip-compressed or not, from a file or standard input, must give the same
//! frames as the plain Ethernet pcap. Packets that carry no TCP are counted,
//! never fatal.

mod common;

use common::*;
use serde_json::{Value, json};
use std::cell::Cell;
use std::rc::Rc;
use wscap::synth::{ByteOrder, Link, PcapNgWriter, PcapOptions, Side, TsPrecision, VlanTag};
use wscap::time::Timestamp;

/// The plain Ethernet/IPv4 pcap run everything is compared with.
fn baseline() -> Run {
    let (pkts, _) = standard_eth();
    let run = analyze(&pcap_us(&Link::Ethernet, &pkts), &[]);
    run.assert_ok();
    assert_eq!(run.frames().len(), 14);
    run
}

/// The connection record without its addresses (they differ with the
/// family) — everything else must not.
fn conn_without_addrs(run: &Run) -> Value {
    let conns = run.conns();
    assert_eq!(conns.len(), 1);
    let mut c = conns[0].clone();
    let o = c.as_object_mut().unwrap();
    o.remove("client");
    o.remove("server");
    c
}

/// The summary without what differs between runs of the same packets.
fn summary_core(run: &Run) -> Value {
    let mut s = run.summary().clone();
    let o = s.as_object_mut().unwrap();
    o.remove("elapsed_ms");
    o.remove("files");
    s
}

#[track_caller]
fn assert_same_as_baseline(run: &Run, base: &Run, what: &str) {
    run.assert_ok();
    let (a, b) = (run.frame_values(), base.frame_values());
    assert_eq!(a.len(), b.len(), "{what}: frame count");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{what}");
    }
    assert_eq!(conn_without_addrs(run), conn_without_addrs(base), "{what}");
    assert_eq!(summary_core(run), summary_core(base), "{what}");
}

fn family(ipv6: bool) -> (&'static str, &'static str) {
    if ipv6 {
        (CLIENT6, SERVER6)
    } else {
        (CLIENT4, SERVER4)
    }
}

#[test]
fn every_link_type_and_address_family_gives_the_same_frames() {
    let base = baseline();
    let mut links = Link::all();
    links.push(Link::Null {
        order: ByteOrder::Big,
        af_inet6: 24,
    });
    links.push(Link::EthernetVlan(vec![
        VlanTag::qinq(100),
        VlanTag::dot1q(200),
        VlanTag::dot1q(300),
    ]));
    let mut runs = 0;
    for link in links {
        for ipv6 in [false, true] {
            let (c, s) = family(ipv6);
            if !link.carries(&addr(c).ip()) {
                continue;
            }
            let (pkts, _) = standard(link.clone(), c, s, 1460);
            let run = analyze(&pcap_us(&link, &pkts), &[]);
            let what = format!("{link:?} ipv6={ipv6}");
            assert_same_as_baseline(&run, &base, &what);
            let conn = run.conns()[0];
            assert_eq!(conn["client"], c, "{what}");
            assert_eq!(conn["server"], s, "{what}");
            runs += 1;
        }
    }
    assert_eq!(runs, 24);
}

#[test]
fn ipv6_addresses_are_bracketed() {
    let (pkts, _) = standard(Link::Ethernet, CLIENT6, SERVER6, 1460);
    let run = analyze(&pcap_us(&Link::Ethernet, &pkts), &[]);
    run.assert_ok();
    let conn = run.conns()[0];
    assert_eq!(conn["client"], "[2001:db8::1]:50000");
    assert_eq!(conn["server"], "[2001:db8::2]:8080");
}

/// The standard conversation starting at a time with nanoseconds that a
/// microsecond format cannot hold.
const ODD_START: i64 = START_NS + 123_456_789;

fn odd_conversation(link: Link) -> (Vec<Pkt>, Vec<Sent>) {
    let mut ws = Ws::new(link, CLIENT4, SERVER4);
    ws.start_at(ODD_START).handshake().upgrade();
    send_frames(&mut ws, standard_frames());
    ws.close(Side::Client);
    ws.take()
}

#[test]
fn classic_pcap_in_both_byte_orders_and_precisions() {
    let (pkts, sent) = odd_conversation(Link::Ethernet);
    let mut seen = Vec::new();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        for precision in [TsPrecision::Micro, TsPrecision::Nano] {
            let options = PcapOptions {
                order,
                precision,
                ..PcapOptions::new(1)
            };
            let bytes = pcap_with(options, &synth(&pkts));
            let run = analyze(&bytes, &[]);
            run.assert_ok();
            let ts_of: &dyn Fn(usize, Timestamp) -> Timestamp = match precision {
                TsPrecision::Micro => &micro_ts,
                TsPrecision::Nano => &exact_ts,
            };
            let expected = expected_frames(&pkts, &sent, 0, ts_of);
            assert_frames(&run.frame_keys(), &expected);
            let first = &run.frame_keys()[0];
            let want = match precision {
                TsPrecision::Micro => "2023-11-14T22:13:20.128456000Z",
                TsPrecision::Nano => "2023-11-14T22:13:20.128456789Z",
            };
            assert_eq!(first.ts, want, "{order:?} {precision:?}");
            let conn = run.conns()[0];
            let first_ts = match precision {
                TsPrecision::Micro => "2023-11-14T22:13:20.123456000Z",
                TsPrecision::Nano => "2023-11-14T22:13:20.123456789Z",
            };
            assert_eq!(conn["first_ts"], first_ts);
            seen.push(run.frame_keys());
        }
    }
    // Byte order changes nothing.
    assert_eq!(seen[0], seen[2]);
    assert_eq!(seen[1], seen[3]);
}

/// Interfaces of the multi-interface pcapng test: link layer, `if_tsresol`
/// byte and `if_tsoffset` seconds.
fn interfaces() -> Vec<(Link, Option<u8>, Option<i64>)> {
    vec![
        (Link::Ethernet, None, None),               // microseconds
        (Link::Sll, Some(9), None),                 // nanoseconds
        (Link::Raw, Some(0x80 | 20), None),         // 2^-20 s
        (Link::Ipv4, Some(3), Some(1_600_000_000)), // ms after an offset
        (Link::EthernetVlan(vec![VlanTag::dot1q(5)]), Some(8), None), // 10 ns
    ]
}

/// What interface `(resol, offset)` makes of `ts`: cut to its units on
/// writing, then read back to nanoseconds (rounding down).
fn through_interface(ts: Timestamp, resol: Option<u8>, offset: Option<i64>) -> Timestamp {
    let off = i128::from(offset.unwrap_or(0)) * 1_000_000_000;
    let since = i128::from(ts.as_nanos()) - off;
    let r = resol.unwrap_or(6);
    let per_sec: i128 = if r & 0x80 == 0 {
        10i128.pow(u32::from(r))
    } else {
        1i128 << (r & 0x7f)
    };
    let units = since * per_sec / 1_000_000_000;
    let back = units * 1_000_000_000 / per_sec;
    Timestamp::from_nanos(i64::try_from(back + off).unwrap())
}

/// The conversation with packet `i` built for, and written on, interface
/// `i % n`.
fn multi_interface_capture(order: ByteOrder) -> (Vec<u8>, Vec<Pkt>, Vec<Sent>) {
    let ifs = interfaces();
    let links: Vec<Link> = ifs.iter().map(|i| i.0.clone()).collect();
    let mut ws = Ws::new(Link::Ethernet, CLIENT4, SERVER4);
    let counter = Rc::new(Cell::new(0usize));
    let c = counter.clone();
    ws.conv.adjust(move |p| {
        p.link = links[c.get() % links.len()].clone();
        c.set(c.get() + 1);
    });
    ws.start_at(ODD_START).handshake().upgrade();
    send_frames(&mut ws, standard_frames());
    ws.close(Side::Client);
    let (pkts, sent) = ws.take();
    assert_eq!(counter.get(), pkts.len());

    let mut w = PcapNgWriter::new(Vec::new(), order);
    w.section().unwrap();
    // A block to skip before the interfaces.
    w.custom_block(0x0000_0BAD, &[1, 2, 3, 4, 5]).unwrap();
    for (link, resol, offset) in &ifs {
        w.interface(link.linktype().0, 0, *resol, *offset).unwrap();
    }
    for (i, p) in pkts.iter().enumerate() {
        w.write_synth((i % ifs.len()) as u32, &p.synth).unwrap();
    }
    (w.into_inner(), pkts, sent)
}

#[test]
fn pcapng_with_several_interfaces_and_resolutions_in_both_byte_orders() {
    let ifs = interfaces();
    let ts_of = |i: usize, ts: Timestamp| {
        let (_, r, o) = &ifs[i % ifs.len()];
        through_interface(ts, *r, *o)
    };
    let mut keys = Vec::new();
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let (bytes, pkts, sent) = multi_interface_capture(order);
        let run = analyze(&bytes, &[]);
        run.assert_ok();
        let expected = expected_frames(&pkts, &sent, 0, &ts_of);
        assert_frames(&run.frame_keys(), &expected);
        // Packet n is on interface (n - 1) % 5: packet 6 on the microsecond
        // Ethernet one, 7 on the nanosecond SLL one, 8 on the 2^-20 s raw
        // one, 9 on the millisecond one with an offset.
        let by_packet = |n: u64| {
            run.frame_keys()
                .into_iter()
                .find(|f| f.packet == n)
                .unwrap_or_else(|| panic!("no frame at packet {n}"))
                .ts
        };
        assert_eq!(by_packet(6), "2023-11-14T22:13:20.128456000Z");
        assert_eq!(by_packet(7), "2023-11-14T22:13:20.129456789Z");
        // 1700000000.130456789 s in 2^-20 s units, rounded down both ways.
        assert_eq!(by_packet(8), "2023-11-14T22:13:20.130455970Z");
        assert_eq!(by_packet(9), "2023-11-14T22:13:20.131000000Z");
        let conn = run.conns()[0];
        // Packet 1 is on the microsecond interface.
        assert_eq!(conn["first_ts"], "2023-11-14T22:13:20.123456000Z");
        assert_eq!(run.summary()["skipped"], json!({}));
        keys.push(run.frame_keys());
    }
    assert_eq!(keys[0], keys[1]);
}

#[test]
fn pcapng_sections_of_both_byte_orders_in_one_file() {
    let (pkts, sent) = standard_eth();
    let half = pkts.len() / 2;
    let mut le = PcapNgWriter::new(Vec::new(), ByteOrder::Little);
    le.section().unwrap();
    let id = le.interface(1, 0, Some(9), None).unwrap();
    le.write_all(id, &synth(&pkts[..half])).unwrap();
    let mut be = PcapNgWriter::new(Vec::new(), ByteOrder::Big);
    be.section().unwrap();
    // Interface ids start again in the new section.
    be.interface(101, 0, None, None).unwrap();
    let id = be.interface(1, 65535, Some(6), None).unwrap();
    assert_eq!(id, 1);
    be.write_all(id, &synth(&pkts[half..])).unwrap();
    let mut bytes = le.into_inner();
    bytes.extend(be.into_inner());
    let run = analyze(&bytes, &[]);
    run.assert_ok();
    assert_frames(
        &run.frame_keys(),
        &expected_frames(&pkts, &sent, 0, &micro_ts),
    );
}

#[test]
fn gzip_compressed_pcap_and_pcapng() {
    let base = baseline();
    let (pkts, _) = standard_eth();
    let pcap = pcap_us(&Link::Ethernet, &pkts);
    let run = analyze(&gzip(&pcap), &[]);
    assert_same_as_baseline(&run, &base, "gzip pcap");
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let ng = pcapng_ns(&Link::Ethernet, &pkts, order);
        let plain = analyze(&ng, &[]);
        assert_same_as_baseline(&plain, &base, "pcapng");
        let run = analyze(&gzip(&ng), &[]);
        assert_same_as_baseline(&run, &base, "gzip pcapng");
    }
    // Two gzip members back to back are one stream (as `cat a.gz b.gz`).
    let mut two = gzip(&pcap[..1000]);
    two.extend(gzip(&pcap[1000..]));
    let run = analyze(&two, &[]);
    assert_same_as_baseline(&run, &base, "two gzip members");
}

#[test]
fn standard_input() {
    let base = baseline();
    let (pkts, _) = standard_eth();
    let pcap = pcap_us(&Link::Ethernet, &pkts);
    let ng = gzip(&pcapng_ns(&Link::Ethernet, &pkts, ByteOrder::Big));
    for (what, bytes) in [("pcap", &pcap), ("gzip pcapng", &ng)] {
        let run = wscap(&["analyze", "--format", "jsonl", "-"], Some(bytes));
        assert_same_as_baseline(&run, &base, what);
        assert_eq!(run.summary()["files"], json!(["-"]));
    }
    // The short form without the subcommand.
    let run = wscap(&["-"], Some(&pcap));
    assert_same_as_baseline(&run, &base, "wscap -");
}

#[test]
fn several_files_are_read_as_one_capture() {
    let (pkts, sent) = standard_eth();
    let split = 60;
    let a = TempFile::new("part1.pcap", &pcap_us(&Link::Ethernet, &pkts[..split]));
    let b = TempFile::new(
        "part2.pcapng",
        &gzip(&pcapng_ns(
            &Link::Ethernet,
            &pkts[split..],
            ByteOrder::Little,
        )),
    );
    let run = analyze_paths(&[&a.path, &b.path], &[]);
    run.assert_ok();
    assert_eq!(run.summary()["files"], json!([a.path_str(), b.path_str()]));
    assert_eq!(run.summary()["packets"], pkts.len() as u64);
    assert_eq!(run.summary()["tcp_connections"], 1);
    let conns = run.conns();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["end"], "fin");
    // The same frames; only where packet numbers are counted from is open
    // (per file, as Wireshark shows each file, or across the files).
    let strip = |v: Vec<FrameKey>| -> Vec<(String, u64, u64, u64, String)> {
        v.into_iter()
            .map(|f| (f.dir, f.index, f.offset, f.payload_len, f.ts))
            .collect()
    };
    assert_eq!(strip(run.frame_keys()), strip(expect_all(&pkts, &sent)));
}

// ---------------------------------------------------------------------------
// Packets that are not TCP

/// An ARP request over Ethernet.
fn arp() -> Vec<u8> {
    let mut p = vec![0xff; 6];
    p.extend([0x02, 0, 0, 0, 0, 0x01]);
    p.extend([0x08, 0x06]);
    p.extend([0, 1, 0x08, 0, 6, 4, 0, 1]);
    p.extend([0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1]);
    p.extend([0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    p
}

/// A UDP datagram (DNS-looking) over Ethernet/IPv4.
fn udp() -> Vec<u8> {
    let payload = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00];
    p.extend([
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    p.extend([10, 0, 0, 1, 10, 0, 0, 53]);
    p.extend(40000u16.to_be_bytes());
    p.extend(53u16.to_be_bytes());
    p.extend((udp_len as u16).to_be_bytes());
    p.extend([0, 0]);
    p.extend(payload);
    p
}

fn other(data: Vec<u8>, ts: Timestamp) -> Pkt {
    Pkt {
        synth: wscap::synth::SynthPacket::new(ts, data),
        side: Side::Client,
        off: 0,
        len: 0,
        cap: 0,
        flags: 0,
    }
}

#[test]
fn udp_and_arp_are_counted_not_fatal() {
    let (pkts, sent) = standard_eth();
    let mut mixed = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        if i % 10 == 3 {
            mixed.push(other(udp(), p.synth.ts));
        }
        if i % 25 == 7 {
            mixed.push(other(arp(), p.synth.ts));
        }
        mixed.push(p.clone());
    }
    let n_udp = (0..pkts.len()).filter(|i| i % 10 == 3).count() as u64;
    let n_arp = (0..pkts.len()).filter(|i| i % 25 == 7).count() as u64;
    assert!(n_udp > 0 && n_arp > 0);
    let run = analyze(&pcap_us(&Link::Ethernet, &mixed), &[]);
    run.assert_ok();
    assert_frames(
        &run.frame_keys(),
        &expected_frames(&mixed, &sent, 0, &exact_ts),
    );
    let sum = run.summary();
    assert_eq!(sum["skipped"], json!({"not_ip": n_arp, "not_tcp": n_udp}));
    assert_eq!(sum["packets"], mixed.len() as u64);
    assert_eq!(sum["tcp_packets"], pkts.len() as u64);
    assert_eq!(sum["tcp_connections"], 1);
}

#[test]
fn unsupported_link_types_are_counted_not_fatal() {
    let (pkts, sent) = standard_eth();
    // pcapng: the conversation on interface 0, and three packets on an
    // interface of link type 147 (USER0).
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little);
    w.section().unwrap();
    let eth = w.interface(1, 0, Some(9), None).unwrap();
    let user = w.interface(147, 0, Some(9), None).unwrap();
    let mut all = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        if i % 50 == 10 {
            w.write_synth(user, &p.synth).unwrap();
            all.push(other(p.synth.data.clone(), p.synth.ts));
        }
        w.write_synth(eth, &p.synth).unwrap();
        all.push(p.clone());
    }
    let n_user = (0..pkts.len()).filter(|i| i % 50 == 10).count() as u64;
    let run = analyze(&w.into_inner(), &[]);
    run.assert_ok();
    assert_frames(
        &run.frame_keys(),
        &expected_frames(&all, &sent, 0, &exact_ts),
    );
    assert_eq!(
        run.summary()["skipped"],
        json!({"unsupported_link_type_147": n_user})
    );

    // A whole classic pcap of an unknown link type, read before a good one.
    let odd = pcap_with(PcapOptions::new(147), &synth(&pkts[..5]));
    let good = pcap_us(&Link::Ethernet, &pkts);
    let (a, b) = (
        TempFile::new("odd.pcap", &odd),
        TempFile::new("good.pcap", &good),
    );
    let run = analyze_paths(&[&a.path, &b.path], &[]);
    run.assert_ok();
    assert_eq!(run.frames().len(), 14);
    assert_eq!(
        run.summary()["skipped"],
        json!({"unsupported_link_type_147": 5})
    );
    assert_eq!(run.summary()["packets"], pkts.len() as u64 + 5);
}

#[test]
fn packet_numbers_continue_across_files() {
    // Several files are read as one capture: packets are numbered across
    // them, so a frame that starts in one file and ends in the next names
    // the right packets.
    let (pkts, sent) = standard_eth();
    let split = 60;
    let a = TempFile::new("part1.pcap", &pcap_us(&Link::Ethernet, &pkts[..split]));
    let b = TempFile::new("part2.pcap", &pcap_us(&Link::Ethernet, &pkts[split..]));
    let run = analyze_paths(&[&a.path, &b.path], &[]);
    run.assert_ok();
    for f in run.frame_keys() {
        assert!(f.last_packet >= f.packet, "{f:?}");
    }
    assert_eq!(run.conns()[0]["last_packet"], pkts.len() as u64 - 1);
    assert_frames(
        &run.frame_keys(),
        &expected_frames(&pkts, &sent, 0, &micro_ts),
    );
}
