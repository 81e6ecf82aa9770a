//! Reassembler tests: whole connections through the table, named
//! `test_<state>_<event>` after the transition they check.

use super::*;
use crate::packet::{TcpFlags, TcpSegment};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Default)]
struct Log {
    opened: Vec<(u64, SocketAddr, SocketAddr, RoleSource)>,
    closed: Vec<(u64, CloseReason)>,
    /// Per connection opened: numbered as Wireshark numbers it.
    numbered: Vec<bool>,
}

#[derive(Default)]
struct Streams {
    data: [Vec<u8>; 2],
    gaps: Vec<(Dir, u64, u64, GapReason)>,
    conflicts: u64,
}

impl StreamHandler for Log {
    type Conn = Streams;
    fn open(&mut self, m: &ConnMeta) -> Streams {
        self.opened.push((m.id, m.client, m.server, m.roles));
        self.numbered.push(m.wireshark_numbered);
        Streams::default()
    }
    fn event(&mut self, c: &mut Streams, _: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data(ch) => c.data[dir.index()].extend_from_slice(ch.data),
            StreamEvent::Gap(g) => {
                c.data[dir.index()].extend(std::iter::repeat_n(b'?', g.len as usize));
                c.gaps.push((dir, g.offset, g.len, g.reason));
            }
            StreamEvent::Conflict { .. } => c.conflicts += 1,
        }
    }
    fn close(&mut self, c: Streams, m: &ConnMeta, r: CloseReason) {
        self.closed.push((m.id, r));
        CLOSED.with(|v| {
            v.borrow_mut()
                .push((m.id, c.data.clone(), c.gaps.clone(), c.conflicts))
        });
    }
}

type ClosedConn = (u64, [Vec<u8>; 2], Vec<(Dir, u64, u64, GapReason)>, u64);
thread_local! {
    static CLOSED: std::cell::RefCell<Vec<ClosedConn>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_closed() -> Vec<ClosedConn> {
    CLOSED.with(|v| std::mem::take(&mut *v.borrow_mut()))
}

const C: u16 = 40000;
const S: u16 = 80;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

struct T {
    r: Reassembler<Log>,
    log: Log,
    n: u64,
    ts: i64,
}

impl T {
    fn new() -> T {
        take_closed();
        T {
            r: Reassembler::new(Config::default()),
            log: Log::default(),
            n: 0,
            ts: 1_000_000_000,
        }
    }

    fn send(&mut self, from_client: bool, seq: u32, ack: u32, flags: u8, data: &[u8]) {
        self.n += 1;
        self.ts += 1000;
        let (src, dst, sp, dp) = if from_client {
            (ip(1), ip(2), C, S)
        } else {
            (ip(2), ip(1), S, C)
        };
        let seg = TcpSegment {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 1000,
            payload: data,
            payload_len: data.len() as u32,
        };
        self.r
            .packet(&seg, self.n, Timestamp(self.ts), &mut self.log);
    }

    fn handshake(&mut self, cisn: u32, sisn: u32) {
        self.send(true, cisn, 0, TcpFlags::SYN, b"");
        self.send(
            false,
            sisn,
            cisn.wrapping_add(1),
            TcpFlags::SYN | TcpFlags::ACK,
            b"",
        );
        self.send(
            true,
            cisn.wrapping_add(1),
            sisn.wrapping_add(1),
            TcpFlags::ACK,
            b"",
        );
    }

    /// A payload-less segment of another connection (from `(ip, port)` to
    /// `(ip, port)`) at time `ts`: moves the clock or opens connections.
    fn other(
        &mut self,
        (src, sport): (u8, u16),
        (dst, dport): (u8, u16),
        seq: u32,
        flags: u8,
        ts: i64,
    ) {
        self.n += 1;
        let seg = TcpSegment {
            src: ip(src),
            dst: ip(dst),
            src_port: sport,
            dst_port: dport,
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 0,
            payload: b"",
            payload_len: 0,
        };
        self.r.packet(&seg, self.n, Timestamp(ts), &mut self.log);
    }

    fn finish(&mut self) {
        self.r.finish(&mut self.log);
    }
}

const A: u8 = TcpFlags::ACK;
const PA: u8 = TcpFlags::ACK | TcpFlags::PSH;
const FA: u8 = TcpFlags::ACK | TcpFlags::FIN;

#[test]
fn test_listen_syn_sets_roles() {
    let mut t = T::new();
    t.handshake(100, 5000);
    let (_, client, server, roles) = t.log.opened[0];
    assert_eq!(client.port(), C);
    assert_eq!(server.port(), S);
    assert_eq!(roles, RoleSource::Syn);
}

#[test]
fn test_established_fin_both_ways_closes() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"GET / HTTP/1.1\r\n\r\n");
    t.send(false, 5001, 119, PA, b"HTTP/1.1 200 OK\r\n\r\n");
    t.send(true, 119, 5020, FA, b"");
    assert!(t.log.closed.is_empty());
    t.send(false, 5020, 120, FA, b"");
    assert_eq!(t.log.closed, vec![(0, CloseReason::Fin)]);
    let closed = take_closed();
    assert_eq!(closed[0].1[0], b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(closed[0].1[1], b"HTTP/1.1 200 OK\r\n\r\n");
}

#[test]
fn test_established_rst_closes_and_flushes_held_data() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"abc");
    t.send(true, 107, 5001, PA, b"ghi"); // 104..107 lost
    t.send(false, 5001, 104, TcpFlags::RST | A, b"");
    assert_eq!(t.log.closed, vec![(0, CloseReason::Rst)]);
    let closed = take_closed();
    assert_eq!(closed[0].1[0], b"abc???ghi");
    assert_eq!(
        closed[0].2,
        vec![(Dir::ClientToServer, 3, 3, GapReason::Lost)]
    );
}

#[test]
fn test_closed_late_packets_are_absorbed() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, TcpFlags::RST, b"");
    t.send(false, 5001, 101, PA, b"late");
    assert_eq!(t.log.opened.len(), 1);
    assert_eq!(t.r.stats.late_packets, 1);
}

#[test]
fn test_closed_new_syn_reuses_tuple() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"one");
    t.send(true, 104, 5001, FA, b"");
    t.send(false, 5001, 105, FA, b"");
    t.handshake(900_000, 7000);
    t.send(true, 900_001, 7001, PA, b"two");
    t.finish();
    assert_eq!(t.log.opened.len(), 2);
    assert_eq!(
        t.log.closed,
        vec![(0, CloseReason::Fin), (1, CloseReason::EndOfCapture)]
    );
    let closed = take_closed();
    assert_eq!(closed[1].1[0], b"two");
}

#[test]
fn test_established_new_isn_syn_reuses_tuple() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"one");
    t.handshake(555, 9000);
    t.finish();
    assert_eq!(
        t.log.closed,
        vec![(0, CloseReason::Reused), (1, CloseReason::EndOfCapture)]
    );
}

#[test]
fn test_syn_sent_retransmitted_syn_is_not_a_new_connection() {
    let mut t = T::new();
    t.send(true, 100, 0, TcpFlags::SYN, b"");
    t.send(true, 100, 0, TcpFlags::SYN, b"");
    t.send(false, 5000, 101, TcpFlags::SYN | A, b"");
    t.finish();
    assert_eq!(t.log.opened.len(), 1);
}

#[test]
fn test_midstream_roles_guessed_by_port() {
    let mut t = T::new();
    // First packet seen goes server -> client.
    t.send(false, 7777, 3333, PA, b"hello");
    t.send(true, 3333, 7782, PA, b"hi");
    t.finish();
    let (_, client, server, roles) = t.log.opened[0];
    assert_eq!(
        (client.port(), server.port(), roles),
        (C, S, RoleSource::PortGuess)
    );
    let closed = take_closed();
    assert_eq!(closed[0].1, [b"hi".to_vec(), b"hello".to_vec()]);
}

#[test]
fn test_synack_first_sets_roles() {
    let mut t = T::new();
    t.send(false, 5000, 101, TcpFlags::SYN | A, b"");
    t.send(true, 101, 5001, PA, b"x");
    t.finish();
    assert_eq!(t.log.opened[0].3, RoleSource::SynAck);
    assert_eq!(take_closed()[0].1[0], b"x");
}

#[test]
fn test_established_wraparound_both_directions() {
    let mut t = T::new();
    t.handshake(u32::MAX - 2, u32::MAX);
    t.send(true, u32::MAX - 1, 0, PA, b"abcd");
    t.send(true, 2, 0, PA, b"efgh");
    t.send(false, 0, 6, PA, b"wxyz");
    t.finish();
    let c = take_closed();
    assert_eq!(c[0].1, [b"abcdefgh".to_vec(), b"wxyz".to_vec()]);
}

#[test]
fn test_idle_connection_is_retired() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        idle_timeout_ns: 10_000,
        ..Config::default()
    });
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"a");
    t.ts += 1_000_000; // long silence
    // A packet of another connection moves the clock on.
    t.other((3, 1), (4, 2), 0, TcpFlags::SYN, t.ts);
    assert_eq!(t.log.closed, vec![(0, CloseReason::Idle)]);
    assert_eq!(t.r.live(), 1);
}

#[test]
fn test_numbering_holds_until_a_forgotten_tuple_reopens_mid_stream() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        idle_timeout_ns: 10_000,
        closed_linger_ns: 10_000,
        ..Config::default()
    });
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"a");
    t.ts += 1_000_000;
    // Connection 0 is retired for silence (Wireshark keeps its stream);
    // a new connection with a SYN is numbered alike.
    t.other((3, 1), (4, 2), 0, TcpFlags::SYN, t.ts);
    t.ts += 1_000_000;
    t.other((3, 1), (4, 2), 1, TcpFlags::ACK, t.ts);
    assert_eq!(t.log.numbered, [true, true]);
    assert_eq!(t.r.last_conn().map(|c| c.0), Some(1));
    // Connection 0's 4-tuple again, without a SYN: Wireshark continues
    // stream 0, wscap opens connection 2; from here numbers part.
    t.send(true, 102, 5001, PA, b"b");
    t.other((5, 1), (6, 2), 0, TcpFlags::SYN, t.ts + 2000);
    assert_eq!(t.log.numbered, [true, true, false, false]);
}

#[test]
fn test_numbering_parts_after_a_socks_connect_carries_data() {
    let mut t = T::new();
    let seg = |t: &mut T, from_client: bool, seq: u32, flags: u8, data: &[u8]| {
        t.n += 1;
        t.ts += 1000;
        let (c, s) = ((ip(1), 40001), (ip(2), 1080));
        let ((src, sp), (dst, dp)) = if from_client { (c, s) } else { (s, c) };
        let seg = TcpSegment {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            seq,
            ack: 1,
            flags: TcpFlags(flags),
            window: 1000,
            payload: data,
            payload_len: data.len() as u32,
        };
        t.r.packet(&seg, t.n, Timestamp(t.ts), &mut t.log);
    };
    seg(&mut t, true, 0, TcpFlags::SYN, b"");
    seg(&mut t, true, 1, PA, &[5, 1, 0]);
    seg(&mut t, false, 1, PA, &[5, 0]);
    seg(&mut t, true, 4, PA, &[5, 1, 0, 1, 10, 0, 0, 9, 0, 80]);
    t.other((3, 1), (4, 2), 0, TcpFlags::SYN, t.ts + 1);
    seg(&mut t, false, 3, PA, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    t.other((5, 1), (6, 2), 0, TcpFlags::SYN, t.ts + 1);
    // The first bytes through the granted CONNECT: Wireshark counts a
    // stream for the proxied connection.
    seg(&mut t, true, 14, PA, b"GET / HTTP/1.1\r\n\r\n");
    t.other((7, 1), (8, 2), 0, TcpFlags::SYN, t.ts + 1);
    assert_eq!(t.log.numbered, [true, true, true, false]);
}

#[test]
fn test_files_of_a_connection() {
    let mut t = T::new();
    t.r.set_input(0);
    t.handshake(100, 5000);
    t.r.set_input(2);
    t.send(true, 101, 5001, PA, b"a");
    t.r.set_input(31);
    t.send(true, 102, 5001, PA, b"b");
    t.r.set_input(70);
    t.send(true, 103, 5001, PA, b"c");
    t.r.set_input(65);
    t.send(true, 104, 5001, PA, b"d");
    let (_, live) = t.r.last_conn().unwrap();
    let files: Vec<u32> = live.unwrap().0.files.indices().collect();
    assert_eq!(files, [0, 2, 31, 65, 66, 67, 68, 69, 70]);
}

#[test]
fn test_total_cap_releases_held_data() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        max_total_held: 1000,
        ..Config::default()
    });
    t.handshake(100, 5000);
    for i in 0..20u32 {
        t.send(true, 201 + i * 100, 5001, PA, &[b'x'; 100]);
        assert!(t.r.held_total() <= 1000 + 164);
    }
    t.finish();
    let c = take_closed();
    assert_eq!(c[0].1[0].len(), 100 + 2000);
    assert!(t.r.stats.memcap_releases > 0);
}

#[test]
fn test_conflicting_retransmission_counted() {
    let mut t = T::new();
    t.handshake(100, 5000);
    t.send(true, 101, 5001, PA, b"data");
    t.send(true, 101, 5001, PA, b"DATA");
    t.finish();
    assert_eq!(take_closed()[0].3, 1);
}

#[test]
fn test_too_many_connections_evicts_least_recently_active() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        max_live: 3,
        ..Config::default()
    });
    for i in 0..3u8 {
        t.ts += 1000;
        t.other((10 + i, 1000), (2, 80), 0, TcpFlags::SYN, t.ts);
    }
    // Connection 0 is active again; 1 is now the least recently active.
    t.ts += 1000;
    t.other((10, 1000), (2, 80), 1, TcpFlags::ACK, t.ts);
    t.handshake(100, 5000);
    assert_eq!(t.log.closed, vec![(1, CloseReason::Evicted)]);
    assert_eq!(t.r.live(), 3);
    assert_eq!(t.r.stats.evicted, 1);
}

#[test]
fn test_one_packet_far_in_the_future_does_not_move_the_clock() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        idle_timeout_ns: 1_000_000_000,
        ..Config::default()
    });
    t.handshake(100, 5000);
    // One stray packet of another connection, stamped a year ahead.
    t.other(
        (9, 1),
        (8, 2),
        0,
        TcpFlags::SYN,
        t.ts + 365 * 86_400 * 1_000_000_000,
    );
    // Time goes on normally: the first connection is not idle.
    t.send(true, 101, 5001, PA, b"still here");
    assert!(t.log.closed.is_empty());
    assert_eq!(t.r.live(), 2);
}

#[test]
fn test_tombstones_are_capped() {
    let mut t = T::new();
    t.r = Reassembler::new(Config {
        max_live: 4,
        ..Config::default()
    });
    for i in 0..20u32 {
        let cisn = 1000 * i;
        t.handshake(cisn, 7);
        t.send(true, cisn + 1, 8, TcpFlags::RST, b"");
    }
    assert_eq!(t.log.closed.len(), 20);
    assert!(t.r.conns.len() <= 4, "{} slots", t.r.conns.len());
    assert!(t.r.closed.len() <= 4, "{} tombstones", t.r.closed.len());
}
