//! TCP segments of a few connections, in a fuzzer-chosen order, through the
//! reassembler.
//!
//! Input: a settings byte, 8 bytes of initial sequence numbers, then one
//! operation per 4 bytes (SYN, data at a chosen place, FIN, RST, ACK, a
//! clock jump). Every copy of a byte carries the same value, a function of
//! the connection, the direction and its sequence number, unless settings
//! bit 1 allows corrupted retransmissions. Settings: bit 0 tiny memory
//! limits and timeouts, bit 1 corruption, bit 2 IPv6, bit 3 snaplen cuts.
//!
//! Checked beyond "no panic": per connection and direction, data and gaps
//! come exactly once, in order, from offset 0, never empty; every delivered
//! byte is the byte sent at its sequence number (for one origin per
//! direction); with no corruption there is no conflict; every connection
//! opened is closed once, after its events.
#![no_main]

#[path = "../common/known_bugs.rs"]
mod known_bugs;

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wscap::packet::{TcpFlags, TcpSegment};
use wscap::tcp::{self, CloseReason, ConnMeta, Dir, HalfLimits, Reassembler, StreamEvent, StreamHandler};
use wscap::time::Timestamp;

/// The byte every copy carries at `seq`.
fn truth(conn: u16, from_client: bool, seq: u32) -> u8 {
    let mut x = u64::from(seq) ^ (u64::from(conn) << 40) ^ (u64::from(from_client) << 56);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as u8
}

struct Half {
    next: Option<u64>,
    /// Delivered bytes by offset (for the content check).
    bytes: Vec<(u64, Vec<u8>)>,
}

struct Conn {
    id: u64,
    halves: [Half; 2],
}

#[derive(Default)]
struct Handler {
    corrupt: bool,
    opened: u64,
    closed: BTreeMap<u64, CloseReason>,
    /// Finished halves: (sender port, receiver port, delivered bytes).
    done: Vec<(u16, u16, Vec<(u64, Vec<u8>)>)>,
}

impl StreamHandler for Handler {
    type Conn = Conn;
    fn open(&mut self, meta: &ConnMeta) -> Conn {
        assert_eq!(meta.id, self.opened, "connection ids count from 0");
        self.opened += 1;
        assert!(meta.client != meta.server);
        Conn {
            id: meta.id,
            halves: [
                Half { next: None, bytes: Vec::new() },
                Half { next: None, bytes: Vec::new() },
            ],
        }
    }

    fn event(&mut self, c: &mut Conn, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        assert_eq!(c.id, meta.id);
        assert!(!self.closed.contains_key(&meta.id), "event after close");
        let h = &mut c.halves[dir.index()];
        let mut step = |offset: u64, len: u64, what: &str| {
            assert!(len > 0, "empty {what} at {offset}");
            let want = h.next.unwrap_or(0);
            assert_eq!(offset, want, "{what} at {offset}, expected {want} ({dir:?} of conn {})", meta.id);
            h.next = Some(offset + len);
        };
        match ev {
            StreamEvent::Data(ch) => {
                step(ch.offset, ch.data.len() as u64, "data");
                h.bytes.push((ch.offset, ch.data.to_vec()));
            }
            StreamEvent::Gap(g) => step(g.offset, g.len, "gap"),
            StreamEvent::Conflict { len, .. } => {
                assert!(len > 0, "empty conflict");
                assert!(self.corrupt, "a conflict although every copy carried the same bytes");
            }
        }
    }

    fn close(&mut self, c: Conn, meta: &ConnMeta, reason: CloseReason) {
        assert_eq!(c.id, meta.id);
        assert!(self.closed.insert(meta.id, reason).is_none(), "closed twice");
        let [a, b] = c.halves;
        // Roles are the reassembler's guess (a SYN may come from port 80).
        self.done.push((meta.client.port(), meta.server.port(), a.bytes));
        self.done.push((meta.server.port(), meta.client.port(), b.bytes));
    }
}

const SERVER_PORT: u16 = 80;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let set = data[0];
    let isn_c = u32::from_le_bytes(data[1..5].try_into().unwrap());
    let isn_s = u32::from_le_bytes(data[5..9].try_into().unwrap());
    let tiny = set & 1 != 0;
    let corrupt = set & 2 != 0;
    let v6 = set & 4 != 0;
    let snaps = set & 8 != 0;
    let mut cfg = tcp::Config::default();
    if tiny {
        cfg.half = HalfLimits {
            max_bytes: 600,
            max_segments: 3,
        };
        cfg.max_total_held = 1000;
        cfg.idle_timeout_ns = 2_000_000_000;
        cfg.closed_linger_ns = 500_000_000;
        cfg.max_live = 2;
    }
    let (client_ip, server_ip): (IpAddr, IpAddr) = if v6 {
        (Ipv6Addr::LOCALHOST.into(), "2001:db8::1".parse::<Ipv6Addr>().unwrap().into())
    } else {
        (Ipv4Addr::new(10, 0, 0, 1).into(), Ipv4Addr::new(10, 0, 0, 2).into())
    };
    let mut r: Reassembler<Handler> = Reassembler::new(cfg);
    let mut h = Handler {
        corrupt,
        ..Handler::default()
    };
    // Per connection (3 client ports) and direction: next byte index.
    let mut next = [[0u32; 2]; 3];
    // Sequence numbers each direction's segments started at, per port.
    let mut origins: BTreeMap<(u16, bool), Vec<u32>> = BTreeMap::new();
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut payload = Vec::new();
    for (n, op) in data[9..].chunks_exact(4).enumerate() {
        let packet = n as u64 + 1;
        let conn = usize::from(op[0] & 3) % 3;
        let from_client = op[0] & 4 != 0;
        let kind = op[0] >> 3;
        let d = usize::from(!from_client);
        let cport = 40000 + conn as u16;
        let isn = if from_client { isn_c } else { isn_s }.wrapping_add(conn as u32 * 0x1000_0000);
        let peer_isn = if from_client { isn_s } else { isn_c }.wrapping_add(conn as u32 * 0x1000_0000);
        ts += i64::from(op[3] & 0x0F) * 1_000_000;
        let mut flags = TcpFlags::ACK;
        let mut seq = isn.wrapping_add(1).wrapping_add(next[conn][d]);
        let mut len = 0u32;
        let mut cap = 0u32;
        let ack = peer_isn.wrapping_add(1).wrapping_add(next[conn][1 - d]);
        match kind {
            0 => {
                seq = isn;
                flags = if from_client { TcpFlags::SYN } else { TcpFlags::SYN | TcpFlags::ACK };
            }
            1..=19 => {
                // Data near the send point: a little back (retransmission),
                // at it, or ahead (a hole).
                let delta = i32::from(op[1] as i8) * 4;
                let start = (next[conn][d] as i64 + i64::from(delta)).max(0) as u32;
                seq = isn.wrapping_add(1).wrapping_add(start);
                len = u32::from(op[2]) + 1;
                cap = if snaps && op[3] & 0x30 == 0x30 { len / 2 } else { len };
                next[conn][d] = next[conn][d].max(start + len);
                flags = TcpFlags::ACK | TcpFlags::PSH;
            }
            20..=22 => flags = TcpFlags::ACK | TcpFlags::FIN,
            23 => flags = TcpFlags::RST,
            24..=27 => {
                // An ACK, possibly of bytes not captured.
                seq = isn.wrapping_add(1).wrapping_add(next[conn][d]);
            }
            28 => ts += i64::from(op[1]) * 1_000_000_000,
            29 => ts -= i64::from(op[1]) * 10_000_000,
            30 => ts += 25 * 3600 * 1_000_000_000,
            _ => {
                // Data with SYN (TCP Fast Open).
                seq = isn;
                flags = TcpFlags::SYN;
                len = u32::from(op[2] % 32) + 1;
                cap = len;
                next[conn][d] = next[conn][d].max(len);
            }
        }
        let syn = flags & TcpFlags::SYN != 0;
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        payload.clear();
        for i in 0..cap {
            payload.push(truth(conn as u16, from_client, data_seq.wrapping_add(i)));
        }
        if corrupt && op[3] & 0xC0 == 0xC0 && !payload.is_empty() {
            let i = usize::from(op[1]) % payload.len();
            payload[i] ^= 0x5A;
        }
        if len > 0 || flags & TcpFlags::FIN != 0 || syn {
            let key = (cport, from_client);
            origins.entry(key).or_default().push(data_seq);
        }
        let (src, dst, sp, dp) = if from_client {
            (client_ip, server_ip, cport, SERVER_PORT)
        } else {
            (server_ip, client_ip, SERVER_PORT, cport)
        };
        let seg = TcpSegment {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 65535,
            payload: &payload,
            payload_len: len,
        };
        if known_bugs::guard(|| r.packet(&seg, packet, Timestamp(ts), &mut h)).is_none() {
            return;
        }
    }
    if known_bugs::guard(|| r.finish(&mut h)).is_none() {
        return;
    }
    assert_eq!(h.closed.len() as u64, h.opened, "connections left open after finish");
    assert_eq!(r.stats.connections, h.opened);
    if corrupt {
        return;
    }
    // Every delivered byte is the one sent at its sequence number, for one
    // origin (sequence number of offset 0) per direction.
    for (src_port, dst_port, bytes) in &h.done {
        if bytes.is_empty() {
            continue;
        }
        let from_client = &(*src_port != SERVER_PORT);
        let cport = if *from_client { *src_port } else { *dst_port };
        let conn = cport - 40000;
        let Some(cands) = origins.get(&(cport, *from_client)) else {
            panic!("bytes delivered for a direction that sent none");
        };
        let ok = cands.iter().any(|&base| {
            bytes.iter().all(|(off, b)| {
                b.iter().enumerate().all(|(i, &x)| {
                    x == truth(conn, *from_client, base.wrapping_add((*off + i as u64) as u32))
                })
            })
        });
        assert!(ok, "delivered bytes match no origin (port {cport}, client {from_client})");
    }
});
