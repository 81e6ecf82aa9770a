//! Arbitrary bytes as one captured packet, decoded with every link type
//! wscap knows (and one the fuzzer picks), with and without an original
//! length.
//!
//! Input: 4 bytes of original length (little-endian), 2 bytes of an extra
//! link type, then the packet.
//!
//! Checked beyond "no panic": the payload lies inside the packet; the wire
//! length is never below the captured payload; `decode` and
//! `decode_with_orig_len(len)` agree when orig_len is the captured length;
//! and for Ethernet, a TCP segment wscap finds is the segment etherparse
//! finds (same addresses, ports, sequence numbers, flags).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wscap::capture::LinkType;
use wscap::packet::{self, Skip, TcpSegment};

const KNOWN: [LinkType; 8] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
];

fn check(data: &[u8], r: &Result<TcpSegment<'_>, Skip>) {
    if let Ok(s) = r {
        let base = data.as_ptr() as usize;
        let p = s.payload.as_ptr() as usize;
        assert!(
            p >= base && p + s.payload.len() <= base + data.len(),
            "payload outside the packet"
        );
        assert!(
            s.payload.len() as u64 <= u64::from(s.payload_len),
            "captured payload {} > wire length {}",
            s.payload.len(),
            s.payload_len
        );
    }
}

fn same(a: &Result<TcpSegment<'_>, Skip>, b: &Result<TcpSegment<'_>, Skip>) -> bool {
    match (a, b) {
        (Err(x), Err(y)) => x == y,
        (Ok(x), Ok(y)) => {
            (x.src, x.dst, x.src_port, x.dst_port, x.seq, x.ack, x.flags, x.window)
                == (y.src, y.dst, y.src_port, y.dst_port, y.seq, y.ack, y.flags, y.window)
                && x.payload == y.payload
                && x.payload_len == y.payload_len
        }
        _ => false,
    }
}

fn etherparse_agrees(data: &[u8], s: &TcpSegment<'_>) {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let Ok(p) = SlicedPacket::from_ethernet(data) else {
        return;
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        return;
    };
    let (src, dst): (std::net::IpAddr, std::net::IpAddr) = match &p.net {
        Some(NetSlice::Ipv4(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return,
    };
    assert_eq!(
        (src, dst, t.source_port(), t.destination_port(), t.sequence_number(), t.acknowledgment_number()),
        (s.src, s.dst, s.src_port, s.dst_port, s.seq, s.ack),
        "wscap and etherparse disagree on the TCP segment"
    );
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 6 {
        return;
    }
    let orig_len = u32::from_le_bytes(input[..4].try_into().unwrap());
    let extra = LinkType(u16::from_le_bytes(input[4..6].try_into().unwrap()));
    let data = &input[6..];
    for lt in KNOWN.into_iter().chain([extra]) {
        let plain = packet::decode(lt, data);
        check(data, &plain);
        let with_len = packet::decode_with_orig_len(lt, data, orig_len);
        check(data, &with_len);
        let with_cap = packet::decode_with_orig_len(lt, data, data.len() as u32);
        check(data, &with_cap);
        assert!(
            same(&plain, &with_cap),
            "decode and decode_with_orig_len(captured length) differ for {lt:?}: {plain:?} vs {with_cap:?}"
        );
        // The original length only matters for the payload length.
        match (&plain, &with_len) {
            (Ok(a), Ok(b)) => {
                assert_eq!((a.src, a.dst, a.src_port, a.dst_port, a.seq), (b.src, b.dst, b.src_port, b.dst_port, b.seq));
                assert_eq!(a.payload, b.payload);
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("orig_len changed whether {lt:?} decodes: {plain:?} vs {with_len:?}"),
        }
        if lt == LinkType::ETHERNET
            && let Ok(s) = &plain
        {
            etherparse_agrees(data, s);
        }
    }
});
