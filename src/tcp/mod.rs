//! TCP reassembler: finds connections, tells client from server, and turns
//! each direction's segments into ordered bytes and gaps.
//!
//! Read with RFC 9293 (TCP) at hand: section 3.4 for sequence numbers, 3.5
//! for connection establishment (and reuse of a 4-tuple after close), 3.6 for
//! closing. The reassembler is passive: it sees what a capture saw, so it
//! follows the receiver's rules without ever enforcing a window.
//!
//! Sans-IO: [`Reassembler::packet`] takes one decoded segment and calls a
//! [`StreamHandler`] with what it learns; time comes only from packet
//! timestamps. Memory is bounded: out-of-order data is capped per direction
//! and in total, connections are retired on close, reset or idle time, and
//! what they leave behind (tombstones, timer entries) is capped or purged.

pub mod seq;
pub mod stream;
mod table;

use crate::packet::TcpSegment;
use crate::prefetch;
use crate::time::Timestamp;
use seq::SeqNumber;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
pub use stream::{Chunk, Gap, GapReason, HalfLimits, HalfStats, StreamEvent};
use stream::{Half, SegmentIn};
use table::FlowTable;

/// Direction of a segment relative to the connection's client and server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    ClientToServer = 0,
    ServerToClient = 1,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn reverse(self) -> Dir {
        match self {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ClientToServer => "c2s",
            Dir::ServerToClient => "s2c",
        }
    }
}

/// How the client was told from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// The client sent the SYN.
    Syn,
    /// The SYN was not captured; the server sent the SYN-ACK.
    SynAck,
    /// Neither was captured: the lower port is taken to be the server's.
    PortGuess,
}

impl RoleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleSource::Syn => "syn",
            RoleSource::SynAck => "syn-ack",
            RoleSource::PortGuess => "port-guess",
        }
    }
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions sent a FIN and all bytes before it are accounted for.
    Fin,
    Rst,
    /// No packet for longer than the idle timeout.
    Idle,
    /// A new SYN reused the 4-tuple while this connection was still open.
    Reused,
    /// The capture ended with the connection open.
    EndOfCapture,
    /// Too many connections were open at once: the least recently active
    /// was retired to bound memory.
    Evicted,
    /// The run was stopped (Ctrl-C, SIGTERM) with the connection open: like
    /// the end of the capture, says nothing of how the connection fared.
    Interrupted,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Idle => "idle",
            CloseReason::Reused => "reused",
            CloseReason::EndOfCapture => "end-of-capture",
            CloseReason::Evicted => "evicted",
            CloseReason::Interrupted => "interrupted",
        }
    }
}

/// What is known of a connection; passed with every event.
#[derive(Clone, Copy, Debug)]
pub struct ConnMeta {
    /// Small integer in order of the connection's first packet.
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub roles: RoleSource,
    pub first_packet: u64,
    pub first_ts: Timestamp,
    pub last_packet: u64,
    pub last_ts: Timestamp,
    /// Packets per direction.
    pub packets: [u64; 2],
    /// Reassembly counters per direction, filled in when the connection
    /// closes (copying them on every packet would cost the hot path).
    pub stats: [HalfStats; 2],
    /// A SYN (or SYN-ACK) was seen: the stream starts at its beginning.
    pub syn_seen: bool,
    /// The first packet with a FIN or RST: where the connection began to end.
    pub end_packet: Option<u64>,
    /// Per direction, the stream offset up to which the other side had
    /// acknowledged its bytes as of the packet being delivered (its ACK
    /// field applied first): what the other side had received when it sent
    /// that packet. `None` before any acknowledgment was seen.
    pub acked: [Option<u64>; 2],
    /// `id` is the index Wireshark gives this connection (`tcp.stream`):
    /// nothing before its first packet made the two numberings part (see
    /// [`Reassembler::numbering_lost`]).
    pub wireshark_numbered: bool,
    /// The input files that held its packets (several files given).
    pub files: FileSet,
}

#[cfg(test)]
impl ConnMeta {
    /// A connection for the tests of the stages after the reassembler:
    /// number `id`, `client` to `server`, opened by a SYN in packet 1 and
    /// nothing seen since.
    pub(crate) fn for_test(id: u64, client: SocketAddr, server: SocketAddr) -> ConnMeta {
        ConnMeta {
            id,
            client,
            server,
            roles: RoleSource::Syn,
            first_packet: 1,
            first_ts: Timestamp(0),
            last_packet: 1,
            last_ts: Timestamp(0),
            packets: [0, 0],
            stats: Default::default(),
            syn_seen: true,
            end_packet: None,
            acked: [None, None],
            wireshark_numbered: true,
            files: Default::default(),
        }
    }
}

/// Which of the input files a connection's packets came from: a bit per
/// file for the first 32, and the range of any later ones (a ring of more
/// files holds a connection in consecutive files; indices from 65535 on
/// count as 65534). 8 bytes, as every connection carries one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    low: u32,
    /// First and last index from 32 on, plus one (0: none).
    high: (u16, u16),
}

impl FileSet {
    pub fn add(&mut self, index: u32) {
        if index < 32 {
            self.low |= 1 << index;
            return;
        }
        let i = u16::try_from(index + 1).unwrap_or(u16::MAX);
        if self.high.0 == 0 {
            self.high = (i, i);
        } else {
            self.high.0 = self.high.0.min(i);
            self.high.1 = self.high.1.max(i);
        }
    }

    /// The indices, in order.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        let low = (0..32).filter(|i| self.low & (1 << i) != 0);
        let high = if self.high.0 == 0 {
            1..1
        } else {
            u32::from(self.high.0) - 1..u32::from(self.high.1)
        };
        low.chain(high)
    }
}

/// The layer above: receives connections and their streams.
pub trait StreamHandler {
    /// Per-connection state of the layer above, created at open.
    type Conn;
    fn open(&mut self, meta: &ConnMeta) -> Self::Conn;
    fn event(&mut self, conn: &mut Self::Conn, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>);
    fn close(&mut self, conn: Self::Conn, meta: &ConnMeta, reason: CloseReason);
    /// `conn` is about to be handed an event of direction `dir`: the state
    /// that event will touch may be asked for into the cache (see
    /// [`crate::prefetch`]). A hint: doing nothing is always right.
    fn prefetch(&self, _conn: &Self::Conn, _dir: Dir) {}
}

/// Reassembly limits and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub half: HalfLimits,
    /// Out-of-order bytes held across all connections.
    pub max_total_held: usize,
    /// A connection with no packet for this long is retired.
    pub idle_timeout_ns: i64,
    /// How long a closed connection's 4-tuple absorbs late packets
    /// (retransmissions, final ACKs) before a packet opens a new connection.
    pub closed_linger_ns: i64,
    /// Connections open at once; beyond it the least recently active one is
    /// retired (a SYN flood or a million idle connections cannot exhaust
    /// memory).
    pub max_live: u64,
    /// Analyse only this shard's connections (`--shard K/N`).
    pub shard: Option<Shard>,
}

/// One of `count` shards of a capture's connections, by a hash of the flow
/// that both directions share, so that `count` runs over the same capture,
/// one per shard, together see every connection once, with no coordination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 0 (as a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether this shard analyses the flow. The hash is fixed (not the
    /// table's seeded one): every machine must agree on it.
    fn owns(&self, key: &FlowKey) -> bool {
        let fold = |x: u128| (x as u64) ^ ((x >> 64) as u64);
        let mut h = fold(key.lo).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h = (h ^ fold(key.hi)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h = (h ^ u64::from(key.ports)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // splitmix64's finaliser: every input bit reaches the low bits.
        h ^= h >> 31;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 29;
        h % u64::from(self.count.max(1)) == u64::from(self.index)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            half: HalfLimits {
                max_bytes: 4 << 20,
                max_segments: 4096,
            },
            max_total_held: 32 << 20,
            idle_timeout_ns: 600 * 1_000_000_000,
            closed_linger_ns: 10 * 1_000_000_000,
            max_live: 32_768,
            shard: None,
        }
    }
}

/// A forward jump in capture time larger than this needs a second packet to
/// confirm it (see `Reassembler::advance_clock`).
const MAX_CLOCK_JUMP_NS: i64 = 24 * 3600 * 1_000_000_000;

/// Stale timer entries allowed beyond one per live connection before
/// `Reassembler::purge_timers` runs. A purge visits every entry and leaves
/// only the live ones, so at least `live + TIMER_SLACK` connections open
/// between two purges: the cost stays a few lookups per connection, and
/// the slack keeps a table of few live connections from purging constantly.
const TIMER_SLACK: u64 = 1024;

/// The connection a packet went to: its id and, while it is open, its
/// state (see [`Reassembler::last_conn`]).
pub type LastConn<'a, C> = (u64, Option<(&'a ConnMeta, &'a C)>);

/// SOCKS (RFC 1928), where Wireshark's dissector numbers a stream for the
/// proxied connection.
const SOCKS_PORT: u16 = 1080;

/// Reassembler-wide counters, for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpStats {
    pub connections: u64,
    pub peak_live: u64,
    /// Packets for a closed connection that arrived after it closed.
    pub late_packets: u64,
    /// Times the total memory cap forced held data out as gaps.
    pub memcap_releases: u64,
    /// Connections retired because too many were open at once.
    pub evicted: u64,
}

/// Normalised 4-tuple: the smaller endpoint first, so both directions map to
/// the same key. Packed (addresses as u128, IPv4 mapped into IPv6, both
/// ports in one word) because it is built and hashed for every packet:
/// hashing two `SocketAddr`s field by field cost more than the lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    lo: u128,
    hi: u128,
    ports: u32,
}

impl FlowKey {
    fn new(a: SocketAddr, b: SocketAddr) -> FlowKey {
        let pack = |s: SocketAddr| {
            let ip = match s.ip() {
                IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
                IpAddr::V6(v6) => u128::from(v6),
            };
            (ip, s.port())
        };
        let (a, b) = (pack(a), pack(b));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo: lo.0,
            hi: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
        }
    }
}

/// A connection asked for ahead of its packet (see
/// [`Reassembler::prefetch_entry`]): its key, and the key's hash in the
/// table.
#[derive(Clone, Copy, Debug)]
pub struct FlowHint {
    key: FlowKey,
    hash: u64,
}

/// A fixed-size set of forgotten 4-tuples, by one bit per hash: it may
/// answer yes for a 4-tuple never added (a connection is then selected by
/// address in Wireshark, which is still right), never no for one added.
/// 128 KiB, allocated at the first 4-tuple forgotten.
#[derive(Default)]
struct Forgotten(Option<Box<[u64]>>);

impl Forgotten {
    const BITS: u64 = 1 << 20;

    fn bit(key: FlowKey) -> (usize, u64) {
        let h = (key.lo ^ key.hi.rotate_left(64) ^ u128::from(key.ports))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        let b = ((h >> 64) as u64) % Self::BITS;
        ((b / 64) as usize, 1 << (b % 64))
    }

    fn add(&mut self, key: FlowKey) {
        let words = self
            .0
            .get_or_insert_with(|| vec![0; (Self::BITS / 64) as usize].into_boxed_slice());
        let (w, m) = Self::bit(key);
        words[w] |= m;
    }

    fn may_hold(&self, key: FlowKey) -> bool {
        let (w, m) = Self::bit(key);
        self.0.as_ref().is_some_and(|words| words[w] & m != 0)
    }
}

struct Conn<C> {
    meta: ConnMeta,
    halves: [Half; 2],
    /// The handler's state; `None` for another shard's connection, which is
    /// still reassembled (so that connection numbers, 4-tuple reuse and
    /// the live-connection cap are exactly those of a run without shards)
    /// but never analysed.
    socks: Socks,
    user: Option<C>,
}

/// Where a connection on the SOCKS port is. Wireshark's SOCKS dissector
/// counts a TCP stream of its own for the proxied connection when the
/// first bytes after a granted CONNECT go through it, so wscap's numbers
/// and Wireshark's part there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Socks {
    None,
    Handshake,
    Connected,
}

impl Socks {
    /// Takes a segment's payload; true when Wireshark numbers a stream for
    /// the proxied connection with it.
    fn step(&mut self, from_server: bool, payload: &[u8]) -> bool {
        match *self {
            Socks::None => false,
            // A granted CONNECT: SOCKS 5 (RFC 1928 6: VER 5, REP 0, RSV 0,
            // then the bound address) or SOCKS 4 (VN 0, CD 90, 8 bytes).
            Socks::Handshake => {
                let granted = payload.len() >= 10 && payload.starts_with(&[5, 0, 0])
                    || payload.len() == 8 && payload.starts_with(&[0, 90]);
                if from_server && granted {
                    *self = Socks::Connected;
                }
                false
            }
            Socks::Connected => {
                *self = Socks::None;
                true
            }
        }
    }
}

enum Slot<C> {
    Live(Box<Conn<C>>),
    /// Closed recently: absorbs late packets until its linger ends (see
    /// `Reassembler::closed`).
    Closed {
        id: u64,
    },
}

pub struct Reassembler<H: StreamHandler> {
    cfg: Config,
    conns: FlowTable<Slot<H::Conn>>,
    /// Deadlines (ns, conn id, key), earliest first; checked lazily. One entry
    /// per live connection, plus the entries of connections closed since
    /// (skipped when due, dropped by `purge_timers` before they pile up).
    timers: BinaryHeap<Reverse<(i64, u64, FlowKey)>>,
    /// Tombstones in the order they were made (so their linger ends in
    /// order too): (until ns, conn id, key).
    closed: VecDeque<(i64, u64, FlowKey)>,
    /// A packet jumped far ahead in time; the next must confirm the jump.
    jump_pending: bool,
    next_id: u64,
    live: u64,
    held_total: usize,
    now: Timestamp,
    /// Connections from here on may be numbered differently by Wireshark.
    numbering_lost: bool,
    /// 4-tuples forgotten here (idle, evicted, tombstone gone) that
    /// Wireshark still remembers: a later packet on one continues its
    /// stream in Wireshark but opens a connection here.
    forgotten: Forgotten,
    /// The input file of the packets being fed (see [`FileSet`]).
    input: u32,
    /// The connection the last packet went to (live or closed by it, or
    /// the tombstone that absorbed it).
    last_conn: Option<(u64, FlowKey)>,
    pub stats: TcpStats,
}

impl<H: StreamHandler> Reassembler<H> {
    pub fn new(cfg: Config) -> Self {
        Reassembler {
            cfg,
            conns: FlowTable::default(),
            timers: BinaryHeap::new(),
            closed: VecDeque::new(),
            jump_pending: false,
            next_id: 0,
            live: 0,
            held_total: 0,
            now: Timestamp(i64::MIN),
            numbering_lost: false,
            forgotten: Forgotten::default(),
            input: 0,
            last_conn: None,
            stats: TcpStats::default(),
        }
    }

    /// A packet was skipped that Wireshark may still read as TCP (a
    /// tunnel, a fragment, a cut header): connections from here on may be
    /// numbered differently, as it may count a conversation wscap does not.
    pub fn numbering_lost(&mut self) {
        self.numbering_lost = true;
    }

    /// The packets fed from now on come from input file `index`.
    pub fn set_input(&mut self, index: usize) {
        self.input = u32::try_from(index).unwrap_or(u32::MAX - 1);
    }

    /// The id of the connection the last packet went to (it may have closed
    /// with that packet, or have been closed before and absorbed it as a
    /// late packet), with its state while it is still open.
    pub fn last_conn(&self) -> Option<LastConn<'_, H::Conn>> {
        let (id, key) = self.last_conn?;
        let live = match self.conns.get(&key) {
            Some(Slot::Live(c)) if c.meta.id == id => match &c.user {
                Some(u) => Some((&c.meta, u)),
                // Another shard's: none of this run's business.
                None => return None,
            },
            _ => None,
        };
        Some((id, live))
    }

    /// Takes one TCP segment, captured as packet number `packet` at `ts`.
    /// A packet between `src` and `dst` comes in a while: the table entry
    /// of its connection is asked for into the cache (see [`table`]).
    /// Returns what [`Reassembler::prefetch`] needs when the packet is
    /// nearer.
    pub fn prefetch_entry(&self, src: SocketAddr, dst: SocketAddr) -> FlowHint {
        let key = FlowKey::new(src, dst);
        let hash = self.conns.prefetch_entry(&key);
        FlowHint { key, hash }
    }

    /// A packet comes soon whose table entry [`Reassembler::prefetch_entry`]
    /// asked for a while ago: the connection's state is asked for now.
    pub fn prefetch(&self, hint: &FlowHint) {
        if let Some(Slot::Live(c)) = self.conns.get_hashed(hint.hash, &hint.key) {
            prefetch::lines(&**c, size_of::<Conn<H::Conn>>().div_ceil(64));
        }
    }

    pub fn packet(&mut self, seg: &TcpSegment<'_>, packet: u64, ts: Timestamp, h: &mut H) {
        if self.advance_clock(ts) {
            self.expire(h);
        }
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let key = FlowKey::new(src, dst);
        let hash = self.conns.hash(&key);
        let fresh_syn = seg.flags.syn() && !seg.flags.ack();
        self.last_conn = None;

        match self.conns.get_hashed(hash, &key) {
            None => self.open(key, seg, src, dst, packet, ts, h),
            // RFC 9293 3.6.1 (MAY-2): a new SYN may reopen a 4-tuple straight
            // from TIME-WAIT, which the tombstone stands for.
            Some(Slot::Closed { .. }) if fresh_syn => self.open(key, seg, src, dst, packet, ts, h),
            // RFC 9293 3.6.1 (MUST-13): anything else in TIME-WAIT is a late
            // retransmission or the final ACK; it belongs to no stream.
            Some(&Slot::Closed { id }) => {
                self.stats.late_packets += 1;
                self.last_conn = Some((id, key));
                return;
            }
            Some(Slot::Live(c)) => {
                // RFC 9293 3.5: a new SYN on a 4-tuple whose previous
                // connection is closing (or whose ISN differs, i.e. the client
                // started over) starts a new incarnation of the connection.
                let client_half = &c.halves[Dir::ClientToServer.index()];
                let reused = fresh_syn
                    && if src == c.meta.client {
                        match client_half.isn() {
                            Some(isn) => isn != SeqNumber(seg.seq),
                            // The SYN is late (the SYN-ACK came first) unless
                            // the client already sent data without one.
                            None => client_half.started(),
                        }
                    } else {
                        // Wireshark starts a new stream on a SYN whose
                        // sequence number is not its sender's first; with
                        // nothing yet from that side, it does not.
                        if !c.halves[Dir::ServerToClient.index()].started() {
                            self.numbering_lost = true;
                        }
                        true
                    };
                if reused {
                    self.close(key, CloseReason::Reused, packet, ts, h);
                    self.open(key, seg, src, dst, packet, ts, h);
                }
            }
        }
        self.segment(key, hash, seg, src, packet, ts, h);
    }

    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        src: SocketAddr,
        dst: SocketAddr,
        packet: u64,
        ts: Timestamp,
        h: &mut H,
    ) {
        // The SYN's sender is the client; without a SYN, the SYN-ACK's
        // sender is the server; without either, guess that the lower port is
        // the service (ephemeral ports are high on every common OS).
        let (client, server, roles) = match (seg.flags.syn(), seg.flags.ack()) {
            (true, false) => (src, dst, RoleSource::Syn),
            (true, true) => (dst, src, RoleSource::SynAck),
            _ if seg.dst_port <= seg.src_port => (src, dst, RoleSource::PortGuess),
            _ => (dst, src, RoleSource::PortGuess),
        };
        let id = self.next_id;
        self.next_id += 1;
        let (wireshark_numbered, socks) = self.numbering(key, seg, client, server);
        let mut files = FileSet::default();
        files.add(self.input);
        let meta = ConnMeta {
            id,
            client,
            server,
            roles,
            first_packet: packet,
            first_ts: ts,
            last_packet: packet,
            last_ts: ts,
            packets: [0; 2],
            stats: [HalfStats::default(); 2],
            syn_seen: seg.flags.syn(),
            end_packet: None,
            acked: [None, None],
            wireshark_numbered,
            files,
        };
        let mine = self.cfg.shard.is_none_or(|s| s.owns(&key));
        let user = mine.then(|| h.open(&meta));
        self.conns.insert(
            key,
            Slot::Live(Box::new(Conn {
                meta,
                halves: [Half::default(), Half::default()],
                socks,
                user,
            })),
        );
        self.stats.connections += u64::from(mine);
        self.live += 1;
        if self.live > self.cfg.max_live {
            self.evict(h);
        }
        self.stats.peak_live = self.stats.peak_live.max(self.live);
        self.timers.push(Reverse((
            ts.0.saturating_add(self.cfg.idle_timeout_ns),
            id,
            key,
        )));
        if self.timers.len() as u64 > 2 * self.live + TIMER_SLACK {
            self.purge_timers();
        }
    }

    /// Whether a connection opened by `seg` is numbered as Wireshark numbers
    /// it, and whether it is on the SOCKS port.
    fn numbering(
        &mut self,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        client: SocketAddr,
        server: SocketAddr,
    ) -> (bool, Socks) {
        let fresh_syn = seg.flags.syn() && !seg.flags.ack();
        if !fresh_syn && self.forgotten.may_hold(key) {
            // Perhaps a 4-tuple forgotten here: Wireshark would continue
            // its old stream where this opens a connection.
            self.numbering_lost = true;
        }
        let socks = if [client.port(), server.port()].contains(&SOCKS_PORT) {
            Socks::Handshake
        } else {
            Socks::None
        };
        (!self.numbering_lost, socks)
    }

    /// Drops the timer entries of closed connections. A connection closed by
    /// FIN, RST or reuse leaves its entry in the heap until the idle deadline
    /// (600 s by default), so a capture of many short connections would
    /// otherwise hold one entry per connection of the last ten minutes. Entries whose
    /// connection is gone are ignored when popped, so dropping them early
    /// changes no decision; ids are never reused, so a dropped entry cannot
    /// belong to a later connection on the same 4-tuple.
    fn purge_timers(&mut self) {
        let conns = &self.conns;
        self.timers.retain(|Reverse((_, id, key))| {
            matches!(conns.get(key), Some(Slot::Live(c)) if c.meta.id == *id)
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        key: FlowKey,
        hash: u64,
        seg: &TcpSegment<'_>,
        src: SocketAddr,
        packet: u64,
        ts: Timestamp,
        h: &mut H,
    ) {
        let Some(Slot::Live(c)) = self.conns.get_mut_hashed(hash, &key) else {
            return;
        };
        let dir = if src == c.meta.client {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let Conn {
            meta,
            halves,
            socks,
            user,
        } = &mut **c;
        self.last_conn = Some((meta.id, key));
        if !seg.payload.is_empty()
            && socks.step(
                meta.server == src && meta.server.port() == SOCKS_PORT,
                seg.payload,
            )
        {
            self.numbering_lost = true;
        }
        meta.files.add(self.input);
        meta.last_packet = packet;
        meta.last_ts = meta.last_ts.max(ts);
        meta.packets[dir.index()] += 1;
        meta.syn_seen |= seg.flags.syn();
        if (seg.flags.fin() || seg.flags.rst()) && meta.end_packet.is_none() {
            meta.end_packet = Some(packet);
        }
        if seg.flags.ack() {
            let peer = &mut halves[dir.reverse().index()];
            peer.peer_ack(SeqNumber(seg.ack), ts);
            meta.acked[dir.reverse().index()] = peer.acked();
        }
        let before = halves[dir.index()].held_cost();
        let input = SegmentIn {
            seq: SeqNumber(seg.seq),
            syn: seg.flags.syn(),
            fin: seg.flags.fin(),
            payload: seg.payload,
            payload_len: seg.payload_len,
            packet,
            ts,
        };
        halves[dir.index()].segment(&input, self.cfg.half, &mut |ev| {
            if let Some(u) = user {
                h.event(u, meta, dir, ev)
            }
        });
        let after = halves[dir.index()].held_cost();
        self.held_total = self.held_total + after - before;

        // RFC 9293 3.6 / 3.10.7: a RST ends the connection at once; after a
        // FIN each way (and every byte before them) it is over too.
        if seg.flags.rst() {
            self.close(key, CloseReason::Rst, packet, ts, h);
        } else if halves[0].finished() && halves[1].finished() {
            self.close(key, CloseReason::Fin, packet, ts, h);
        } else if self.held_total > self.cfg.max_total_held {
            self.relieve(key, dir, h);
        }
    }

    /// Total held data is over its cap: release this direction's, then the
    /// largest holders', as gaps.
    fn relieve(&mut self, key: FlowKey, dir: Dir, h: &mut H) {
        self.stats.memcap_releases += 1;
        self.release(key, Some(dir), h);
        // Down to three quarters of the cap, so the scan below runs rarely
        // even when traffic keeps the total near the cap.
        while self.held_total > self.cfg.max_total_held / 4 * 3 {
            let victim = self
                .conns
                .iter()
                .filter_map(|(k, s)| match s {
                    Slot::Live(c) => Some((c.halves[0].held_cost() + c.halves[1].held_cost(), *k)),
                    Slot::Closed { .. } => None,
                })
                .max();
            match victim {
                Some((cost, k)) if cost > 0 => self.release(k, None, h),
                _ => break,
            }
        }
    }

    fn release(&mut self, key: FlowKey, only: Option<Dir>, h: &mut H) {
        let Some(Slot::Live(c)) = self.conns.get_mut(&key) else {
            return;
        };
        let Conn {
            meta, halves, user, ..
        } = &mut **c;
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            if only.is_some_and(|d| d != dir) {
                continue;
            }
            let half = &mut halves[dir.index()];
            let before = half.held_cost();
            half.release_all(&mut |ev| {
                if let Some(u) = user {
                    h.event(u, meta, dir, ev)
                }
            });
            meta.stats[dir.index()] = half.stats;
            self.held_total -= before - half.held_cost();
        }
    }

    /// Ends a connection: flush both directions, hand it to the handler and
    /// leave a tombstone for late packets.
    fn close(&mut self, key: FlowKey, reason: CloseReason, packet: u64, ts: Timestamp, h: &mut H) {
        let Some(Slot::Live(c)) = self.conns.remove(&key) else {
            return;
        };
        let Conn {
            mut meta,
            mut halves,
            mut user,
            ..
        } = *c;
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let half = &mut halves[dir.index()];
            self.held_total -= half.held_cost();
            half.flush(packet, ts, &mut |ev| {
                if let Some(u) = &mut user {
                    h.event(u, &meta, dir, ev)
                }
            });
            meta.stats[dir.index()] = half.stats;
        }
        self.live -= 1;
        let id = meta.id;
        if matches!(reason, CloseReason::Idle | CloseReason::Evicted) {
            // Wireshark never ends a stream for silence or memory.
            self.forgotten.add(key);
        }
        if let Some(u) = user {
            h.close(u, &meta, reason);
        }
        if !matches!(reason, CloseReason::EndOfCapture | CloseReason::Interrupted) {
            // RFC 9293 3.6.1: the 4-tuple lingers in TIME-WAIT, so that late
            // retransmissions and the final ACK do not open a new connection.
            // `closed_linger_ns` stands for 2 MSL: a capture's late packets
            // come within round trips, not segment lifetimes.
            let until = Timestamp(ts.0.saturating_add(self.cfg.closed_linger_ns));
            self.conns.insert(key, Slot::Closed { id });
            self.closed.push_back((until.0, id, key));
            // Tombstones are capped like live connections: the oldest goes.
            while self.closed.len() as u64 > self.cfg.max_live {
                if let Some((_, id, key)) = self.closed.pop_front() {
                    self.remove_tombstone(id, key);
                }
            }
        }
    }

    fn remove_tombstone(&mut self, id: u64, key: FlowKey) {
        if matches!(self.conns.get(&key), Some(Slot::Closed { id: cid, .. }) if *cid == id) {
            self.conns.remove(&key);
            self.forgotten.add(key);
        }
    }

    /// Moves capture time forward to `ts`; true when it moved. Captures are
    /// hostile input: a single packet stamped years ahead must not retire
    /// every connection or stop time for the rest of the capture, so a jump
    /// of more than [`MAX_CLOCK_JUMP_NS`] is taken only when the next packet
    /// confirms it.
    fn advance_clock(&mut self, ts: Timestamp) -> bool {
        if ts <= self.now {
            return false;
        }
        let jump =
            self.now != Timestamp(i64::MIN) && ts.0.saturating_sub(self.now.0) > MAX_CLOCK_JUMP_NS;
        if jump && !self.jump_pending {
            self.jump_pending = true;
            return false;
        }
        self.jump_pending = false;
        self.now = ts;
        true
    }

    /// Retires connections idle past the timeout and tombstones past their
    /// linger time. Each timer entry is checked when due and re-armed if the
    /// connection was active since, so the cost is amortised per connection.
    fn expire(&mut self, h: &mut H) {
        while let Some(&(until, id, key)) = self.closed.front() {
            if until > self.now.0 {
                break;
            }
            // TIME-WAIT is over (RFC 9293 3.6.1): the 4-tuple is free.
            self.closed.pop_front();
            self.remove_tombstone(id, key);
        }
        while let Some(&Reverse((due, id, key))) = self.timers.peek() {
            if due > self.now.0 {
                break;
            }
            self.timers.pop();
            match self.conns.get(&key) {
                Some(Slot::Live(c)) if c.meta.id == id => {
                    let idle_until = c.meta.last_ts.0.saturating_add(self.cfg.idle_timeout_ns);
                    // RFC 9293 sets no idle limit (keep-alives are optional,
                    // 3.8.4), but a capture may never show a connection's
                    // end: silence this long closes it.
                    if idle_until <= self.now.0 {
                        let (packet, ts) = (c.meta.last_packet, c.meta.last_ts);
                        self.close(key, CloseReason::Idle, packet, ts, h);
                    } else {
                        self.timers.push(Reverse((idle_until, id, key)));
                    }
                }
                _ => {}
            }
        }
    }

    /// Retires the connection whose timer is due first: the least recently
    /// active one, as timers are re-armed on activity.
    fn evict(&mut self, h: &mut H) {
        while let Some(Reverse((due, id, key))) = self.timers.pop() {
            match self.conns.get(&key) {
                Some(Slot::Live(c)) if c.meta.id == id => {
                    let idle_until = c.meta.last_ts.0.saturating_add(self.cfg.idle_timeout_ns);
                    if idle_until > due {
                        // Active since this timer was armed: re-arm, look on.
                        self.timers.push(Reverse((idle_until, id, key)));
                        continue;
                    }
                    let (packet, ts) = (c.meta.last_packet, c.meta.last_ts);
                    self.stats.evicted += 1;
                    self.close(key, CloseReason::Evicted, packet, ts, h);
                    return;
                }
                _ => {}
            }
        }
    }

    /// The capture is over: flush and close every open connection, in order
    /// of their first packet.
    pub fn finish(&mut self, h: &mut H) {
        self.finish_as(CloseReason::EndOfCapture, h);
    }

    /// [`Self::finish`], ending the open connections with `reason` (e.g.
    /// [`CloseReason::Interrupted`] when the run was stopped).
    pub fn finish_as(&mut self, reason: CloseReason, h: &mut H) {
        let mut open: Vec<(u64, FlowKey)> = self
            .conns
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Live(c) => Some((c.meta.id, *k)),
                Slot::Closed { .. } => None,
            })
            .collect();
        open.sort_unstable();
        for (_, key) in open {
            let (packet, ts) = match self.conns.get(&key) {
                Some(Slot::Live(c)) => (c.meta.last_packet, c.meta.last_ts),
                _ => continue,
            };
            self.close(key, reason, packet, ts, h);
        }
        self.conns.clear();
        self.timers.clear();
        self.closed.clear();
    }

    /// Connections currently open.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Out-of-order bytes held across all connections.
    pub fn held_total(&self) -> usize {
        self.held_total
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod shard_tests {
    use super::*;

    /// Both directions of a flow land in one shard, and every flow in
    /// exactly one of N; the split is even enough to share work.
    #[test]
    fn each_flow_has_one_shard() {
        let server: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let mut per = [0u32; 4];
        for port in 1024..5024u16 {
            let client = SocketAddr::new("10.0.0.2".parse().unwrap(), port);
            let (k1, k2) = (FlowKey::new(client, server), FlowKey::new(server, client));
            let owners: Vec<u32> = (0..4)
                .filter(|&i| Shard { index: i, count: 4 }.owns(&k1))
                .collect();
            assert_eq!(owners.len(), 1);
            assert!(
                Shard {
                    index: owners[0],
                    count: 4
                }
                .owns(&k2)
            );
            per[owners[0] as usize] += 1;
        }
        assert!(per.iter().all(|&n| (900..1100).contains(&n)), "{per:?}");
    }
}
