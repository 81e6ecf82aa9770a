//! The reading loop: the inputs merged in timestamp order, each packet
//! decoded and handed to the TCP reassembler, whose calls go through the
//! TLS stage to the stage after it ([`Downstream`]): the analysis itself,
//! or the recorder that hands them to the analysis on another thread
//! (`super::threaded`).

use super::{IDLE_WAIT, Options, PROGRESS_EVERY, Skips};
use crate::analyze::Analyzer;
use crate::capture::{Advance, CaptureError, CaptureReader, PacketRef, Window};
use crate::handoff::{Note, Recorder};
use crate::packet;
use crate::record::{Sink, SummaryRecord};
use crate::tcp::{FlowHint, LastConn, Reassembler, StreamHandler};
use crate::time::Timestamp;
use crate::tls::stage::{Decrypting, Share, TlsHandler};
use std::sync::Arc;

/// What the reading loop needs of the stage after the TLS stage besides
/// their calls.
pub(super) trait Downstream: TlsHandler + Sized {
    /// The input went idle (a live capture): what is buffered goes out.
    fn idle(&mut self);
    /// The output failed: reading on is pointless.
    fn failed(&self) -> bool;
    /// The capture's first packet, before any record.
    fn capture_start(&mut self, ts: Timestamp);
    /// The reader's buffer the next packet lies in.
    fn window(&mut self, _w: &Arc<Window>) {}
    /// Whether [`Downstream::tap`] is wanted (`--write-pcap`).
    fn wants_packets(&mut self) -> bool {
        false
    }
    /// Every packet, with the connection the reassembler gave it to.
    fn tap(&mut self, _p: &PacketRef<'_>, _last: Option<LastConn<'_, Self::Conn>>) {}
}

impl<S: Sink> Downstream for Analyzer<S> {
    fn idle(&mut self) {
        self.flush();
    }

    fn failed(&self) -> bool {
        self.has_error()
    }

    fn capture_start(&mut self, ts: Timestamp) {
        self.sink_mut().capture_start(ts);
    }

    fn wants_packets(&mut self) -> bool {
        self.sink_mut().wants_packets()
    }

    fn tap(&mut self, p: &PacketRef<'_>, last: Option<LastConn<'_, Self::Conn>>) {
        let conn = last.map(|(id, live)| (id, live.map(|(meta, st)| st.facts(meta))));
        self.sink_mut().packet(p, conn);
    }
}

/// A TLS stage: what the reading loop asks is the stage's after it.
impl<H: Downstream> Downstream for Decrypting<H> {
    fn idle(&mut self) {
        self.inner.idle();
    }

    fn failed(&self) -> bool {
        self.inner.failed()
    }

    fn capture_start(&mut self, ts: Timestamp) {
        self.inner.capture_start(ts);
    }

    fn window(&mut self, w: &Arc<Window>) {
        self.inner.window(w);
    }

    fn wants_packets(&mut self) -> bool {
        self.inner.wants_packets()
    }

    fn tap(&mut self, p: &PacketRef<'_>, last: Option<LastConn<'_, Self::Conn>>) {
        let last = last.map(|(id, live)| (id, live.map(|(meta, c)| (meta, &c.inner))));
        self.inner.tap(p, last);
    }
}

/// Two threads: what the reading loop asks goes to the analysis thread as
/// notes, in their place among the stream calls.
impl Downstream for Recorder {
    fn idle(&mut self) {
        self.note(Note::Idle);
        // At once: the other side must not wait for a batch to fill.
        self.send();
    }

    fn failed(&self) -> bool {
        self.gone()
    }

    fn capture_start(&mut self, ts: Timestamp) {
        self.note(Note::CaptureStart(ts));
    }

    /// The packet's bytes cross by their place in the reader's buffer,
    /// not copied.
    fn window(&mut self, w: &Arc<Window>) {
        self.set_window(w);
    }
}

/// The counters the reading loop keeps.
pub(super) struct Counts<'a> {
    pub summary: &'a mut SummaryRecord,
    pub skips: &'a mut Skips,
}

/// The inputs being read, merged in timestamp order: the readers that
/// still have packets, which input (index into the files as given, some of
/// which may not have opened) each is, and the bytes of those done.
pub(super) struct Merged {
    pub readers: Vec<CaptureReader>,
    pub inputs: Vec<usize>,
    pub done_bytes: u64,
}

impl Merged {
    /// Moves every reader to its first packet; those without any leave.
    /// Returns whether a stop came meanwhile.
    fn start<H: Downstream>(
        &mut self,
        analyzer: &mut H,
        opts: &Options,
        summary: &mut SummaryRecord,
    ) -> bool {
        let mut stopped = false;
        let mut keep = Vec::with_capacity(self.readers.len());
        for r in &mut self.readers {
            keep.push(match next(r, analyzer, opts) {
                Ok(Next::Packet) => true,
                Ok(Next::End) => false,
                Ok(Next::Stopped) => {
                    stopped = true;
                    false
                }
                Err(e) => {
                    summary.input_errors.push(e.to_string());
                    false
                }
            });
        }
        let mut k = keep.iter();
        self.inputs.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        self.readers.retain(|_| *k.next().unwrap_or(&false));
        stopped
    }

    /// Moves reader `i` past the packet just taken. Returns whether a stop
    /// came while it waited.
    fn advance<H: Downstream>(
        &mut self,
        i: usize,
        analyzer: &mut H,
        opts: &Options,
        summary: &mut SummaryRecord,
    ) -> bool {
        let ended = match next(&mut self.readers[i], analyzer, opts) {
            Ok(Next::Packet) => false,
            Ok(Next::End) => true,
            Ok(Next::Stopped) => return true,
            Err(e) => {
                summary.input_errors.push(e.to_string());
                true
            }
        };
        if ended {
            self.inputs.remove(i);
            self.done_bytes += self.readers.remove(i).position();
        }
        false
    }

    fn position(&self) -> u64 {
        self.done_bytes + self.readers.iter().map(|r| r.position()).sum::<u64>()
    }
}

/// A TLS stage before `inner`, taking `share` of the TLS connections.
pub(super) fn tls_stage<H>(inner: H, opts: &Options, share: Share) -> Decrypting<H> {
    let a = &opts.analysis;
    Decrypting::new(inner, a.tls_keys.clone(), a.ports.clone(), share)
}

/// Reads the inputs merged in timestamp order into the reassembler, whose
/// calls go to `down`. Returns whether the run was stopped before the
/// inputs ended. `progress` is told how far the reading is.
pub(super) fn feed<H: Downstream>(
    mut m: Merged,
    opts: &Options,
    counts: &mut Counts<'_>,
    tcp: &mut Reassembler<H>,
    down: &mut H,
    progress: &mut dyn FnMut(&mut H, u64, u64),
) -> bool {
    let stopped = m.start(down, opts, counts.summary);
    if let Some(p) = m
        .readers
        .get(earliest(&m.readers))
        .and_then(|r| r.current())
    {
        down.capture_start(p.ts);
    }
    let wants_packets = down.wants_packets();
    let mut lookahead = Lookahead::default();
    let mut number = 0u64;
    while !m.readers.is_empty() && !down.failed() {
        if stopped || opts.stopped() {
            return true;
        }
        let i = earliest(&m.readers);
        if let Some(secrets) = m.readers[i].take_tls_secrets() {
            // For the connections that begin after them.
            down.tls_secrets(&secrets);
        }
        number += 1;
        counts.summary.packets += 1;
        tcp.set_input(m.inputs[i]);
        down.window(m.readers[i].window());
        lookahead.step(&mut m.readers[i], tcp);
        let p = m.readers[i].current().expect("live readers hold a packet");
        let tcp_packet = deliver(&p, number, counts, tcp, down);
        if wants_packets {
            let last = tcp_packet.then(|| tcp.last_conn()).flatten();
            down.tap(&p, last);
        }
        if m.advance(i, down, opts, counts.summary) {
            return true;
        }
        if number.is_multiple_of(PROGRESS_EVERY) {
            progress(down, m.position(), number);
        }
    }
    stopped
}

/// How many packets ahead the reading loop asks for a connection's state
/// (see [`crate::prefetch`]): its table entry [`AHEAD`] packets before the
/// state it points to, the state [`AHEAD`] packets before the packet. Far
/// enough for the memory to answer meanwhile, near enough for what it
/// brought to still be in the cache when it is used.
const AHEAD: usize = 4;

/// The 4-tuples of the packets whose table entries were asked for, for
/// asking for their state [`AHEAD`] packets later.
#[derive(Default)]
struct Lookahead {
    asked: [Option<FlowHint>; AHEAD],
    at: usize,
}

impl Lookahead {
    fn step<H: StreamHandler>(&mut self, r: &mut CaptureReader, tcp: &Reassembler<H>) {
        let far = r
            .ahead(2 * AHEAD as u64)
            .and_then(|(link, data)| packet::endpoints(link, data))
            .map(|(src, dst)| tcp.prefetch_entry(src, dst));
        if let Some(near) = std::mem::replace(&mut self.asked[self.at], far) {
            tcp.prefetch(&near);
        }
        self.at = (self.at + 1) % AHEAD;
    }
}

/// Decodes packet `number` and hands its TCP segment to the reassembler;
/// whether it was one.
fn deliver<H: Downstream>(
    p: &PacketRef<'_>,
    number: u64,
    counts: &mut Counts<'_>,
    tcp: &mut Reassembler<H>,
    down: &mut H,
) -> bool {
    match packet::decode_with_orig_len(p.linktype, p.data, p.orig_len) {
        Ok(seg) => {
            counts.summary.tcp_packets += 1;
            tcp.packet(&seg, number, p.ts, down);
            true
        }
        Err(skip) => {
            if packet::may_hide_tcp(skip, p.linktype, p.data) {
                tcp.numbering_lost();
            }
            counts.skips.add(skip);
            false
        }
    }
}

/// Where [`next`] left a reader.
enum Next {
    Packet,
    End,
    /// Asked to stop (or the output failed) while the input was idle.
    Stopped,
}

/// Moves `r` to its next packet. While a live input has nothing yet, the
/// output is flushed (once per idle spell: records completed so far go out
/// now, not when a buffer fills) and the input waited on, looking at the
/// stop flag between waits.
fn next<H: Downstream>(
    r: &mut CaptureReader,
    analyzer: &mut H,
    opts: &Options,
) -> Result<Next, CaptureError> {
    let mut flushed = false;
    loop {
        match r.try_advance()? {
            Advance::Packet => return Ok(Next::Packet),
            Advance::End => return Ok(Next::End),
            Advance::Idle => {
                if !flushed {
                    analyzer.idle();
                    flushed = true;
                }
                if opts.stopped() || analyzer.failed() {
                    return Ok(Next::Stopped);
                }
                r.wait(IDLE_WAIT);
            }
        }
    }
}

/// The reader whose current packet is earliest (the first on ties, so one
/// file keeps its own order).
fn earliest(readers: &[CaptureReader]) -> usize {
    if readers.len() == 1 {
        return 0;
    }
    let ts = |r: &CaptureReader| r.current().map(|p| p.ts);
    (0..readers.len())
        .min_by_key(|&i| (ts(&readers[i]), i))
        .unwrap_or(0)
}
