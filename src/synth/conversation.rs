//! A scripted TCP connection between two endpoints.

use super::{Link, SynthPacket, TcpPacket};
use crate::packet::TcpFlags;
use crate::time::Timestamp;
use std::net::SocketAddr;

/// Which endpoint sends a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sends the first SYN.
    Client,
    Server,
}

impl Side {
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Endpoint {
    addr: SocketAddr,
    /// Sequence number of the next byte (or SYN/FIN) this side sends.
    next_seq: u32,
}

/// Emits the packets of one TCP connection, keeping both sides' sequence
/// numbers. Every segment after the first SYN acknowledges everything the
/// peer has sent so far. Packets are `step` apart in time.
///
/// The packets collect in a `Vec` ([`Self::into_packets`]) so that a test
/// can reorder, duplicate, drop or alter them before writing a capture.
pub struct TcpConversation {
    link: Link,
    client: Endpoint,
    server: Endpoint,
    now: Timestamp,
    step_ns: i64,
    mss: usize,
    window: u16,
    snaplen: Option<u32>,
    adjust: Option<Adjust>,
    packets: Vec<SynthPacket>,
}

/// A test's change to every segment before it is built.
type Adjust = Box<dyn Fn(&mut TcpPacket)>;

/// 2023-11-14T22:13:20Z: a plausible capture time.
const DEFAULT_START_NS: i64 = 1_700_000_000_000_000_000;

impl TcpConversation {
    /// A conversation with ISNs 1000 (client) and 5000 (server), starting at
    /// 2023-11-14T22:13:20Z, packets 1 ms apart, MSS 1460, window 65535.
    pub fn new(link: Link, client: SocketAddr, server: SocketAddr) -> TcpConversation {
        TcpConversation {
            link,
            client: Endpoint {
                addr: client,
                next_seq: 1000,
            },
            server: Endpoint {
                addr: server,
                next_seq: 5000,
            },
            now: Timestamp::from_nanos(DEFAULT_START_NS),
            step_ns: 1_000_000,
            mss: 1460,
            window: 65_535,
            snaplen: None,
            adjust: None,
            packets: Vec::new(),
        }
    }

    /// Sets the initial sequence numbers; call before the handshake. ISNs
    /// near 2^32 exercise sequence number wraparound.
    pub fn isn(&mut self, client: u32, server: u32) -> &mut Self {
        self.client.next_seq = client;
        self.server.next_seq = server;
        self
    }

    /// Time of the next packet.
    pub fn start_at(&mut self, ts: Timestamp) -> &mut Self {
        self.now = ts;
        self
    }

    /// Time between consecutive packets.
    pub fn step(&mut self, ns: i64) -> &mut Self {
        self.step_ns = ns;
        self
    }

    /// Moves the clock forward (an idle period).
    pub fn wait(&mut self, ns: i64) -> &mut Self {
        self.now = Timestamp::from_nanos(self.now.as_nanos() + ns);
        self
    }

    /// Largest payload per segment for [`Self::send`].
    pub fn mss(&mut self, mss: usize) -> &mut Self {
        assert!(mss > 0, "MSS must be positive");
        self.mss = mss;
        self
    }

    pub fn window(&mut self, window: u16) -> &mut Self {
        self.window = window;
        self
    }

    /// Captures later packets with this snaplen (`orig_len` keeps the wire
    /// length).
    pub fn snaplen(&mut self, snaplen: Option<u32>) -> &mut Self {
        self.snaplen = snaplen;
        self
    }

    /// Runs `f` on every later segment before it is built, e.g. to pad
    /// frames, add IPv6 extension headers or TCP options.
    pub fn adjust(&mut self, f: impl Fn(&mut TcpPacket) + 'static) -> &mut Self {
        self.adjust = Some(Box::new(f));
        self
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> &mut Self {
        self.segment(Side::Client, TcpFlags::SYN, &[])
            .segment(Side::Server, TcpFlags::SYN | TcpFlags::ACK, &[])
            .segment(Side::Client, TcpFlags::ACK, &[])
    }

    /// `data` from `from`, in segments of at most MSS bytes, PSH on the last.
    /// Sending nothing emits nothing.
    pub fn send(&mut self, from: Side, data: &[u8]) -> &mut Self {
        let count = data.chunks(self.mss).count();
        for (i, chunk) in data.chunks(self.mss).enumerate() {
            let push = if i + 1 == count { TcpFlags::PSH } else { 0 };
            self.segment(from, TcpFlags::ACK | push, chunk);
        }
        self
    }

    /// A pure ACK from `from`.
    pub fn ack(&mut self, from: Side) -> &mut Self {
        self.segment(from, TcpFlags::ACK, &[])
    }

    /// FIN (with ACK) from `from`.
    pub fn fin(&mut self, from: Side) -> &mut Self {
        self.segment(from, TcpFlags::FIN | TcpFlags::ACK, &[])
    }

    /// RST (with ACK) from `from`.
    pub fn rst(&mut self, from: Side) -> &mut Self {
        self.segment(from, TcpFlags::RST | TcpFlags::ACK, &[])
    }

    /// The usual orderly close started by `from`: FIN, FIN, ACK.
    pub fn close(&mut self, from: Side) -> &mut Self {
        self.fin(from).fin(from.peer()).ack(from)
    }

    /// One segment with exactly these flags. It carries `from`'s next
    /// sequence number and, when ACK is set, acknowledges all the peer has
    /// sent; the sequence number then advances by the payload plus one for
    /// SYN and one for FIN, wrapping at 2^32.
    pub fn segment(&mut self, from: Side, flags: u8, payload: &[u8]) -> &mut Self {
        let (me, peer) = match from {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let ack = if flags & TcpFlags::ACK != 0 {
            peer.next_seq
        } else {
            0
        };
        let mut packet = TcpPacket::new(self.link.clone(), me.addr, peer.addr)
            .seq(me.next_seq)
            .ack(ack)
            .flags(flags)
            .window(self.window)
            .payload(payload);
        if let Some(adjust) = &self.adjust {
            adjust(&mut packet);
        }
        let mut synth = SynthPacket::new(self.now, packet.build());
        if let Some(snaplen) = self.snaplen {
            synth = synth.snapped(snaplen);
        }
        self.packets.push(synth);
        self.now = Timestamp::from_nanos(self.now.as_nanos() + self.step_ns);

        let consumed = payload.len() as u32
            + u32::from(flags & TcpFlags::SYN != 0)
            + u32::from(flags & TcpFlags::FIN != 0);
        let me = match from {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        me.next_seq = me.next_seq.wrapping_add(consumed);
        self
    }

    /// Sequence number of the next byte `side` would send.
    pub fn next_seq(&self, side: Side) -> u32 {
        match side {
            Side::Client => self.client.next_seq,
            Side::Server => self.server.next_seq,
        }
    }

    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::Client => self.client.addr,
            Side::Server => self.server.addr,
        }
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    pub fn packets(&self) -> &[SynthPacket] {
        &self.packets
    }

    /// Hands over the packets so far; later segments start a new list.
    pub fn take_packets(&mut self) -> Vec<SynthPacket> {
        std::mem::take(&mut self.packets)
    }

    pub fn into_packets(self) -> Vec<SynthPacket> {
        self.packets
    }
}
