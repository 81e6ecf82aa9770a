//! Per-connection summaries: what `wscap diff` compares. Built from the
//! records one analysis writes ([`Collector`] is a [`Sink`]), so a diff
//! costs one analysis per side and holds a summary per connection, never
//! frames.

use crate::finding::{Code, Severity};
use crate::record::{
    Cause, CloseCodes, ConnectionRecord, Counts, DeflateInfo, FrameRecord, Hop, PerDir, Record,
    Sink, SummaryRecord,
};
use crate::tcp::{CloseReason, Dir};
use crate::websocket::Opcode;
use std::collections::BTreeMap;

/// Message sizes as a log2 histogram: bucket `i` holds sizes below `2^i`
/// (bucket 0: empty messages), so percentiles are powers of two and the
/// memory is fixed however many messages a connection carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    buckets: Vec<u64>,
    pub count: u64,
    pub max: u64,
}

impl Sizes {
    pub fn add(&mut self, size: u64) {
        let b = (u64::BITS - size.leading_zeros()) as usize;
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, 0);
        }
        self.buckets[b] += 1;
        self.count += 1;
        self.max = self.max.max(size);
    }

    /// Adds every size `other` holds.
    pub fn merge(&mut self, other: &Sizes) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// The upper bound of the bucket holding the `p`-th percentile (never
    /// above the largest size seen).
    pub fn percentile(&self, p: u64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = (u128::from(self.count) * u128::from(p))
            .div_ceil(100)
            .max(1);
        let mut seen = 0u128;
        for (b, n) in self.buckets.iter().enumerate() {
            seen += u128::from(*n);
            if seen >= rank {
                // Bucket 64 holds sizes of 2^63 and more (hostile lengths).
                let bound = 1u64.checked_shl(b as u32).map_or(u64::MAX, |v| v - 1);
                return bound.min(self.max);
            }
        }
        self.max
    }
}

/// One direction of a connection, as the diff sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirSummary {
    pub frames: u64,
    pub payload_bytes: u64,
    /// Frames by opcode value (RFC 6455 5.2: four bits), a fixed array: it
    /// is counted for every frame.
    pub opcodes: [u32; 16],
    pub messages: Sizes,
    /// Most frames one message took.
    pub max_frames_per_message: u64,
    /// The current message's size and frames, until its last frame.
    open: Option<(u64, u64)>,
    /// Findings on this direction's frames, by code.
    pub findings: Counts<Code>,
    /// Payload bytes of compressed frames that inflated whole, and what
    /// they inflated to: the compression ratio.
    pub compressed: (u64, u64),
}

impl DirSummary {
    /// Inflated bytes per compressed byte, to two decimals (`None` when
    /// nothing was compressed).
    pub fn compression_ratio(&self) -> Option<f64> {
        let (c, i) = self.compressed;
        (c > 0).then(|| (i as f64 / c as f64 * 100.0).round() / 100.0)
    }

    /// Frames by opcode name (the two reserved ranges summed by name).
    pub fn opcode_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for (v, &n) in self.opcodes.iter().enumerate() {
            if n > 0 {
                *m.entry(Opcode(v as u8).name()).or_default() += u64::from(n);
            }
        }
        m
    }

    fn frame(&mut self, f: &FrameRecord) {
        self.frames += 1;
        self.payload_bytes = self.payload_bytes.saturating_add(f.payload_len);
        let n = &mut self.opcodes[usize::from(f.opcode.0 & 15)];
        *n = n.saturating_add(1);
        for x in &f.findings {
            self.findings.add(x.code, 1);
        }
        if let Some(n) = f.inflated_len {
            self.compressed.0 = self.compressed.0.saturating_add(f.payload_len);
            self.compressed.1 = self.compressed.1.saturating_add(n);
        }
        // RFC 6455 5.4: a message is a data frame and its continuations up
        // to the one with FIN.
        let data = matches!(
            f.opcode,
            Opcode::TEXT | Opcode::BINARY | Opcode::CONTINUATION
        );
        if !data {
            return;
        }
        let (size, n) = self.open.take().unwrap_or((0, 0));
        let (size, n) = (size.saturating_add(f.payload_len), n + 1);
        if f.fin {
            self.messages.add(size);
            self.max_frames_per_message = self.max_frames_per_message.max(n);
        } else {
            self.open = Some((size, n));
        }
    }
}

/// One connection, as the diff compares it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnSummary {
    pub conn: u64,
    pub client: String,
    pub server: String,
    pub first_ts: crate::time::Timestamp,
    /// The connection's last packet: where it stands in its capture.
    pub last_ts: crate::time::Timestamp,
    /// Request target, Host and subprotocol: what pairs connections across
    /// captures.
    pub target: Option<String>,
    pub host: Option<String>,
    pub subprotocol: Option<String>,
    pub status: Option<u16>,
    pub http_version: Option<String>,
    pub upgrade: (bool, bool),
    pub connection: (bool, bool),
    pub accept_ok: Option<bool>,
    pub extensions: Vec<String>,
    pub deflate: Option<DeflateInfo>,
    pub websocket: bool,
    /// The opening handshake succeeded (101, or 2xx to an extended CONNECT
    /// over HTTP/2, with WebSocket recognised).
    pub handshake_ok: bool,
    pub dirs: PerDir<DirSummary>,
    pub close_codes: PerDir<CloseCodes>,
    /// Who sent the first close frame.
    pub closed_first: Option<Dir>,
    pub end: CloseReason,
    /// Cut without a close frame either way (clients see 1006).
    pub abrupt: bool,
    /// Seconds from the last frame to the end of the connection.
    pub idle_before_end: Option<f64>,
    /// Seconds from the upgrade request to the 101 (or the 2xx over HTTP/2).
    pub handshake_latency: Option<f64>,
    /// Microseconds from a client message to the server's next message
    /// (the reply, for request/response traffic).
    pub reply_latency: Sizes,
    pub findings: Counts<Code>,
    pub findings_by_severity: Counts<Severity>,
    pub causes: Vec<Cause>,
    /// Which leg of a proxied connection, when both are in the capture.
    pub leg: Option<Hop>,
    pub other_leg: Option<u64>,
    pub request_packet: u64,
}

#[cfg(test)]
impl ConnSummary {
    /// A WebSocket connection to `target` on `host`, for tests.
    pub fn for_test(conn: u64, target: &str, host: &str, leg: Option<Hop>) -> ConnSummary {
        ConnSummary {
            conn,
            client: String::new(),
            server: String::new(),
            first_ts: crate::time::Timestamp(conn as i64),
            last_ts: crate::time::Timestamp(conn as i64),
            target: Some(target.to_owned()),
            host: Some(host.to_owned()),
            subprotocol: None,
            status: Some(101),
            http_version: None,
            upgrade: (true, true),
            connection: (true, true),
            accept_ok: Some(true),
            extensions: Vec::new(),
            deflate: None,
            websocket: true,
            handshake_ok: true,
            dirs: PerDir::default(),
            close_codes: PerDir::default(),
            closed_first: None,
            end: CloseReason::Fin,
            abrupt: false,
            idle_before_end: None,
            handshake_latency: None,
            reply_latency: Sizes::default(),
            findings: Counts::default(),
            findings_by_severity: Counts::default(),
            causes: Vec::new(),
            leg,
            other_leg: None,
            request_packet: 0,
        }
    }
}

/// What the frames of a connection not closed yet have shown.
#[derive(Default)]
struct OpenConn {
    dirs: PerDir<DirSummary>,
    /// The first close frame: (packet, sender).
    first_close: Option<(u64, Dir)>,
    /// When the last client message ended, until the server's next one.
    asked: Option<crate::time::Timestamp>,
    /// Microseconds from a client message to the server's next message.
    replies: Sizes,
}

/// Builds the summaries from the records of one analysis and hands each
/// to `emit` as its connection ends, so a diff holds no summary it has
/// compared: memory follows the connections in flight, not the capture.
pub struct Collector<F> {
    /// Frame-level state of connections not closed yet (looked up for every
    /// frame: hashed).
    open: std::collections::HashMap<u64, OpenConn, foldhash::fast::RandomState>,
    /// Ended legs of proxied connections waiting for their other leg, by
    /// the other leg's number: which leg is which needs both requests.
    waiting: std::collections::HashMap<u64, ConnSummary, foldhash::fast::RandomState>,
    emit: F,
    pub summary: Option<SummaryRecord>,
}

impl<F: FnMut(ConnSummary) -> std::io::Result<()>> Collector<F> {
    pub fn new(emit: F) -> Self {
        Collector {
            open: Default::default(),
            waiting: Default::default(),
            emit,
            summary: None,
        }
    }

    fn connection(&mut self, c: &ConnectionRecord) -> std::io::Result<()> {
        let open = self.open.remove(&c.conn).unwrap_or_default();
        self.legs(summarise(c, open))
    }

    /// Names the legs of a proxied connection once both have ended (the
    /// earlier request is the client's leg: the proxy forwards it), then
    /// emits them.
    pub(super) fn legs(&mut self, mut s: ConnSummary) -> std::io::Result<()> {
        if let Some(mut w) = self.waiting.remove(&s.conn) {
            let client_first = w.request_packet <= s.request_packet;
            w.leg = Some(hop(client_first));
            if s.other_leg == Some(w.conn) {
                s.leg = Some(hop(!client_first));
            }
            (self.emit)(w)?;
        }
        match s.other_leg {
            Some(o) if s.leg.is_none() => {
                self.waiting.insert(o, s);
                Ok(())
            }
            _ => (self.emit)(s),
        }
    }

    /// Emits the legs whose other leg never ended (none, in a whole run).
    pub fn finish(mut self) -> std::io::Result<Option<SummaryRecord>> {
        let mut left: Vec<ConnSummary> = self.waiting.drain().map(|(_, s)| s).collect();
        left.sort_by_key(|s| s.conn);
        for s in left {
            (self.emit)(s)?;
        }
        Ok(self.summary)
    }
}

fn hop(client: bool) -> Hop {
    if client {
        Hop::ClientLeg
    } else {
        Hop::BackendLeg
    }
}

/// One connection's record and the frames it carried, as the diff
/// compares them.
fn summarise(c: &ConnectionRecord, open: OpenConn) -> ConnSummary {
    let (dirs, first_close) = (open.dirs, open.first_close);
    let closes = !c.close_codes.c2s.is_empty() || !c.close_codes.s2c.is_empty();
    let abrupt = c.websocket
        && first_close.is_none()
        && !closes
        && matches!(c.end, CloseReason::Fin | CloseReason::Rst);
    let req = c.request.as_ref();
    let resp = c.response.as_ref();
    let neg = c.negotiated.as_ref();
    ConnSummary {
        conn: c.conn,
        client: c.client.to_string(),
        server: c.server.to_string(),
        first_ts: c.first_ts,
        last_ts: c.last_ts,
        target: req.map(|r| r.target.to_string()),
        host: req.and_then(|r| r.host.as_ref().map(ToString::to_string)),
        subprotocol: neg.and_then(|n| n.subprotocol.clone()),
        status: resp.map(|r| r.status),
        http_version: req.map(|r| r.version.to_string()),
        upgrade: (
            req.is_some_and(|r| r.upgrade.is_some()),
            resp.is_some_and(|r| r.upgrade.is_some()),
        ),
        connection: (
            req.is_some_and(|r| r.connection.is_some()),
            resp.is_some_and(|r| r.connection.is_some()),
        ),
        accept_ok: neg.and_then(|n| n.accept_ok),
        extensions: neg.map(|n| n.extensions.clone()).unwrap_or_default(),
        deflate: neg.and_then(|n| n.deflate),
        websocket: c.websocket,
        handshake_ok: c.websocket && resp.is_some_and(opened),
        dirs,
        close_codes: c.close_codes,
        closed_first: first_close.map(|(_, d)| d),
        end: c.end,
        abrupt,
        idle_before_end: c.last_frame_ts.map(|t| c.last_ts.secs_since(t)),
        handshake_latency: match (req, resp) {
            (Some(q), Some(r)) if opened(r) => Some(r.ts.secs_since(q.ts)),
            _ => None,
        },
        reply_latency: open.replies,
        findings: c.findings_by_code.clone(),
        findings_by_severity: c.findings_by_severity.clone(),
        causes: c.diagnosis.iter().map(|d| d.cause).collect(),
        leg: None,
        other_leg: c.other_leg,
        request_packet: req.map_or(u64::MAX, |r| r.packet),
    }
}

impl<F: FnMut(ConnSummary) -> std::io::Result<()>> Sink for Collector<F> {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        match r {
            Record::Frame(f) => {
                let open = self.open.entry(f.conn).or_default();
                open.dirs.get_mut(f.dir).frame(f);
                if f.opcode == Opcode::CLOSE && open.first_close.is_none_or(|(p, _)| f.packet < p) {
                    open.first_close = Some((f.packet, f.dir));
                }
                let starts = matches!(f.opcode, Opcode::TEXT | Opcode::BINARY);
                match f.dir {
                    Dir::ClientToServer
                        if f.fin && (starts || f.opcode == Opcode::CONTINUATION) =>
                    {
                        open.asked = Some(f.ts);
                    }
                    Dir::ServerToClient if starts => {
                        if let Some(t) = open.asked.take() {
                            let us = f.ts.0.saturating_sub(t.0).max(0) / 1000;
                            open.replies.add(us as u64);
                        }
                    }
                    _ => {}
                }
            }
            Record::Connection(c) => self.connection(c)?,
            Record::Summary(s) => self.summary = Some(s.clone()),
        }
        Ok(())
    }

    fn wants_frames(&self) -> bool {
        // Frame records are needed, their previews are not.
        false
    }
}

/// The response opened a WebSocket: a 101 (RFC 6455 4.1), or a 2xx to an
/// extended CONNECT over HTTP/2 (RFC 8441 5).
fn opened(r: &crate::record::ResponseInfo) -> bool {
    r.status == 101 || (r.version == "HTTP/2" && (200..300).contains(&r.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_bounds() {
        let mut s = Sizes::default();
        for n in [0, 10, 10, 10, 100, 1000, 70000] {
            s.add(n);
        }
        assert_eq!(s.percentile(50), 15);
        assert_eq!(s.percentile(90), 70000, "never above the max");
        assert_eq!(s.max, 70000);
        assert_eq!(Sizes::default().percentile(50), 0);
    }

    /// Lengths of 2^63 and more (RFC 6455 5.2 forbids them; captures
    /// show them) stay in range.
    #[test]
    fn huge_sizes_do_not_overflow() {
        let mut s = Sizes::default();
        s.add(10);
        s.add(1 << 63);
        assert_eq!(s.percentile(50), 15);
        assert_eq!(s.percentile(99), 1 << 63);
        s.add(u64::MAX);
        assert_eq!(s.percentile(99), u64::MAX);
    }

    #[test]
    fn messages_span_fragments() {
        let mut d = DirSummary::default();
        let mut f = FrameRecord::empty(0, Dir::ClientToServer);
        f.opcode = Opcode::TEXT;
        f.payload_len = 10;
        d.frame(&f);
        f.opcode = Opcode::CONTINUATION;
        f.fin = true;
        d.frame(&f);
        f.opcode = Opcode::PING;
        d.frame(&f);
        assert_eq!((d.messages.count, d.messages.max), (1, 20));
        assert_eq!(d.max_frames_per_message, 2);
        assert_eq!(d.frames, 3);
    }
}
