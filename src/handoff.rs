//! The stream handler on a thread of its own: the TCP reassembler's calls
//! (open, event, close) are recorded into batches on the reading thread
//! ([`Recorder`]) and replayed, in the same order and with the same
//! connection metadata, to the real handler on another ([`Replayer`]). The
//! handler cannot tell the difference, so the output is byte for byte that
//! of one thread; the two cores share the work at the one boundary where
//! the data is already in order and nothing flows back.
//!
//! A connection's metadata crosses once whole, at its open and at its
//! close; each call in between carries only what changes while it is open
//! ([`Moving`]), applied to the replaying side's copy. The reassembly
//! counters (`stats`) are the exception: they are filled in for the close
//! (and read by the handler only then), so calls in between carry the
//! ones of the open.
//!
//! Stream bytes are not copied where they can be named: a data call points
//! into the capture reader's buffer the packet lies in, which the batch
//! holds until it is replayed (the reader reads on into another buffer
//! meanwhile); only bytes the reassembler put together are copied. Each
//! open connection has a slot, reused after its close, by which the
//! replaying side finds it without hashing.
//!
//! Batches are recycled (the replayer sends them back emptied), so after
//! the first few nothing is allocated, and at most [`IN_FLIGHT`] batches of
//! about [`BATCH_BYTES`] exist, each holding the few reader buffers its
//! bytes lie in: memory is bounded however fast the reader.

use crate::capture::Window;
use crate::finding::Finding;
use crate::prefetch;
use crate::tcp::{Chunk, FileSet, Gap};
use crate::tcp::{CloseReason, ConnMeta, Dir, StreamEvent, StreamHandler};
use crate::time::Timestamp;
use crate::tls::{self, stage::Learnt, stage::TlsHandler};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Stream bytes per batch before it is sent.
pub const BATCH_BYTES: usize = 256 << 10;

/// Calls per batch before it is sent (many calls carry no bytes). Few
/// enough that the batches in circulation stay in the cores' caches: at
/// 4,096 (640 KiB of calls a batch) writing a call missed the cache on
/// small messages, and `jsonl` ran 2-6% slower with 5 MiB more memory.
const BATCH_CALLS: usize = 1024;

/// Batches sent and not yet replayed.
pub const IN_FLIGHT: usize = 4;

/// What changes in a connection's metadata while it is open.
#[derive(Clone, Copy, Debug)]
struct Moving {
    slot: u32,
    last_packet: u64,
    last_ts: Timestamp,
    packets: [u64; 2],
    syn_seen: bool,
    end_packet: Option<u64>,
    acked: [Option<u64>; 2],
    files: FileSet,
}

impl Moving {
    fn of(slot: u32, m: &ConnMeta) -> Moving {
        Moving {
            slot,
            last_packet: m.last_packet,
            last_ts: m.last_ts,
            packets: m.packets,
            syn_seen: m.syn_seen,
            end_packet: m.end_packet,
            acked: m.acked,
            files: m.files,
        }
    }

    fn apply(&self, m: &mut ConnMeta) {
        m.last_packet = self.last_packet;
        m.last_ts = self.last_ts;
        m.packets = self.packets;
        m.syn_seen = self.syn_seen;
        m.end_packet = self.end_packet;
        m.acked = self.acked;
        m.files = self.files;
    }
}

/// A recorded chunk. Its bytes are named where they are (`at`, `len`): in
/// one of the reader's buffers the batch holds (`window`), or, when the
/// reassembler had to put them together (or the TLS stage decrypted
/// them), in the batch's own bytes.
#[derive(Clone, Copy, Debug)]
struct ChunkAt {
    offset: u64,
    /// Index into the batch's windows; `None`: in its own bytes.
    window: Option<u32>,
    at: usize,
    len: usize,
    packet: u64,
    ts: Timestamp,
}

impl Call {
    /// The slot and direction of a call on a connection's stream.
    fn stream(&self) -> Option<(u32, Dir)> {
        match *self {
            Call::Data(ref m, dir, _) | Call::Gap(ref m, dir, _) => Some((m.slot, dir)),
            _ => None,
        }
    }
}

/// One recorded call.
#[derive(Debug)]
enum Call {
    /// A connection opens in a slot (see [`Recorder`]).
    Open(Box<ConnMeta>, u32),
    Data(Moving, Dir, ChunkAt),
    Gap(Moving, Dir, Gap),
    Conflict {
        meta: Moving,
        dir: Dir,
        offset: u64,
        len: u64,
        packet: u64,
        ts: Timestamp,
    },
    Close(Box<ConnMeta>, u32, CloseReason),
    /// One of the TLS stage's calls ([`TlsHandler`]).
    Tls(Moving, TlsCall),
    /// Something for the replaying side that is not a stream call, in its
    /// place among the calls.
    Note(Note),
}

/// A call of the TLS stage's, by the [`TlsHandler`] method.
#[derive(Debug)]
enum TlsCall {
    Start(ChunkAt),
    Data {
        dir: Dir,
        chunk: ChunkAt,
        end_packet: u64,
    },
    /// Plaintext lost (see [`tls::Event::Gap`]).
    Gap(Dir, Gap),
    Finding(Box<Finding>),
    End(Box<Learnt>),
}

/// What the reading side tells the replaying side besides stream calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The input went idle (a live capture): write out what is buffered.
    Idle,
    /// The capture's first packet, before any record.
    CaptureStart(Timestamp),
    /// How far the reading is, for a progress display.
    Progress { bytes: u64, packets: u64 },
    /// TLS secrets the capture embeds (a pcapng Decryption Secrets Block),
    /// in their place: they apply to the connections after them.
    TlsSecrets(Vec<u8>),
}

/// Calls and the stream bytes they carry: most named in the capture
/// reader's buffers, which the batch holds (the reader writes into another
/// meanwhile) until it has been replayed; those the reassembler put
/// together out of order, copied.
#[derive(Default)]
pub struct Batch {
    calls: Vec<Call>,
    bytes: Vec<u8>,
    windows: Vec<Arc<Window>>,
    /// Stream bytes named in `windows`.
    named: usize,
}

impl Batch {
    /// A batch with room for what it holds when full, taken at once: grown
    /// by doubling, each of the few batches in circulation was reallocated
    /// and copied about 25 times over its first fills (callgrind, the
    /// mixed capture's first 10 MB: the reading side 38.8 M -> 37.4 M
    /// instructions). Room not written to costs no memory.
    fn with_room() -> Batch {
        Batch {
            calls: Vec::with_capacity(BATCH_CALLS),
            bytes: Vec::with_capacity(BATCH_BYTES + COPY_UP_TO),
            windows: Vec::new(),
            named: 0,
        }
    }

    fn clear(&mut self) {
        self.calls.clear();
        self.bytes.clear();
        self.windows.clear();
        self.named = 0;
    }

    fn full(&self, calls: usize) -> bool {
        self.bytes.len() + self.named >= BATCH_BYTES || self.calls.len() >= calls
    }

    /// Names `data` by its place in `window` if it lies there.
    fn name_in(&mut self, window: &Arc<Window>, data: &[u8]) -> Option<(u32, usize)> {
        let at = window.position_of(data)?;
        if !self.windows.last().is_some_and(|w| Arc::ptr_eq(w, window)) {
            self.windows.push(Arc::clone(window));
        }
        self.named += data.len();
        Some((self.windows.len() as u32 - 1, at))
    }

    /// A chunk to record: its bytes named in `window` if they lie there,
    /// else copied.
    fn chunk_at(&mut self, window: Option<&Arc<Window>>, c: Chunk<'_>) -> ChunkAt {
        let named = window.and_then(|w| self.name_in(w, c.data));
        let (window, at) = named.unzip();
        let at = at.unwrap_or_else(|| {
            self.bytes.extend_from_slice(c.data);
            self.bytes.len() - c.data.len()
        });
        ChunkAt {
            offset: c.offset,
            window,
            at,
            len: c.data.len(),
            packet: c.packet,
            ts: c.ts,
        }
    }

    /// A recorded chunk as the handler takes it.
    fn chunk(&self, c: &ChunkAt) -> Chunk<'_> {
        let bytes = match c.window {
            Some(i) => self.windows[i as usize].bytes(),
            None => &self.bytes,
        };
        Chunk {
            offset: c.offset,
            data: &bytes[c.at..c.at + c.len],
            packet: c.packet,
            ts: c.ts,
        }
    }
}

/// The recording side: a [`StreamHandler`] for the reassembler.
pub struct Recorder {
    batch: Batch,
    to: SyncSender<Batch>,
    spare: Receiver<Batch>,
    /// The replaying side has gone (it stopped on an error): reading on is
    /// pointless.
    gone: bool,
    /// The capture reader's buffer the packet being reassembled lies in:
    /// its bytes are named there, not copied.
    window: Option<Arc<Window>>,
    /// Each open connection has a slot, its index on the replaying side
    /// (reused once it closes), so that replaying a call finds its
    /// connection by index rather than by hashing its id.
    slots: u32,
    free: Vec<u32>,
    /// The last send had to wait for the replaying side: this side has
    /// time to spare, so it copies small chunks into the batch rather than
    /// naming them in the capture's buffer. The replaying side then reads
    /// them from a few recycled buffers instead of from all over the
    /// capture's pages (one address translation missed for every page of a
    /// mapped capture, which costs it 8% on small messages); when it is
    /// this side that keeps the other waiting, naming saves it the copy.
    ahead: bool,
    /// Calls in the batch being recorded before it is sent: the first
    /// batches are small, so that the replaying side, idle until the first
    /// one comes, starts early; each is twice the last, up to
    /// [`BATCH_CALLS`].
    calls_limit: usize,
}

/// Calls in the first batch.
const FIRST_BATCH_CALLS: usize = 64;

/// The longest chunk copied while this side is ahead: any segment of a
/// 1,500-byte MTU (256 bytes, small messages only, measured the same);
/// longer chunks (coalesced segments in captures taken with offloads) are
/// named.
const COPY_UP_TO: usize = 2048;

/// The replaying side: hands every call to `handler`.
pub struct Replayer<H: TlsHandler> {
    pub handler: H,
    /// The open connections by slot: the metadata as last told, and the
    /// handler's state.
    conns: Vec<Option<(ConnMeta, H::Conn)>>,
    /// Dropped when the replaying stops early, so that the recorder's next
    /// send fails instead of waiting for room forever.
    from: Option<Receiver<Batch>>,
    back: SyncSender<Batch>,
}

/// A recorder and the replayer of what it records into `handler`.
pub fn channel<H: TlsHandler>(handler: H) -> (Recorder, Replayer<H>) {
    let (to, from) = sync_channel(IN_FLIGHT);
    // Room for every batch in existence: returning one never blocks.
    let (back, spare) = sync_channel(IN_FLIGHT + 2);
    let recorder = Recorder {
        batch: Batch::with_room(),
        to,
        spare,
        gone: false,
        window: None,
        slots: 0,
        free: Vec::new(),
        ahead: false,
        calls_limit: FIRST_BATCH_CALLS,
    };
    let replayer = Replayer {
        handler,
        // Room for the connections open at once in most captures: each
        // doubling copies every slot into memory touched for the first time.
        conns: Vec::with_capacity(1024),
        from: Some(from),
        back,
    };
    (recorder, replayer)
}

impl Recorder {
    fn push(&mut self, call: Call) {
        self.batch.calls.push(call);
        if self.batch.full(self.calls_limit) {
            self.calls_limit = (self.calls_limit * 2).min(BATCH_CALLS);
            self.send();
        }
    }

    /// Sends what is recorded (at once: e.g. before the reader waits for
    /// more input, so that the other side is not left waiting too).
    pub fn send(&mut self) {
        if self.batch.calls.is_empty() || self.gone {
            return;
        }
        let next = match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Batch::with_room(),
        };
        let full = std::mem::replace(&mut self.batch, next);
        match send_spinning(&self.to, full) {
            Ok(waited) => self.ahead = waited,
            Err(()) => self.gone = true,
        }
    }

    /// The capture reader's buffer the next packet's bytes lie in. One
    /// that is not shareable (grown for a long block) is not held, and its
    /// bytes are copied.
    pub fn set_window(&mut self, window: &Arc<Window>) {
        if !window.shareable() {
            self.window = None;
        } else if !self.window.as_ref().is_some_and(|w| Arc::ptr_eq(w, window)) {
            self.window = Some(Arc::clone(window));
        }
    }

    /// Records a note for the replaying side.
    pub fn note(&mut self, n: Note) {
        self.push(Call::Note(n));
    }

    /// The replaying side stopped.
    pub fn gone(&self) -> bool {
        self.gone
    }
}

impl StreamHandler for Recorder {
    /// The connection's slot.
    type Conn = u32;

    fn open(&mut self, meta: &ConnMeta) -> u32 {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots += 1;
            self.slots - 1
        });
        self.push(Call::Open(Box::new(*meta), slot));
        slot
    }

    fn event(&mut self, &mut slot: &mut u32, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
        let call = match ev {
            StreamEvent::Data(c) => {
                // Copied when put together by the reassembler, or when
                // small while this side has time to spare (see `ahead`).
                let copy = self.ahead && c.data.len() <= COPY_UP_TO;
                let window = self.window.as_ref().filter(|_| !copy);
                let chunk = self.batch.chunk_at(window, c);
                Call::Data(Moving::of(slot, meta), dir, chunk)
            }
            StreamEvent::Gap(g) => Call::Gap(Moving::of(slot, meta), dir, g),
            StreamEvent::Conflict {
                offset,
                len,
                packet,
                ts,
            } => Call::Conflict {
                meta: Moving::of(slot, meta),
                dir,
                offset,
                len,
                packet,
                ts,
            },
        };
        self.push(call);
    }

    fn close(&mut self, slot: u32, meta: &ConnMeta, reason: CloseReason) {
        self.push(Call::Close(Box::new(*meta), slot, reason));
        // Replayed in order, the close empties the slot before a later open
        // fills it again.
        self.free.push(slot);
    }
}

/// The TLS stage runs on the reading side: what it hands on crosses as
/// calls too, decrypted bytes copied (they lie in no reader buffer).
impl TlsHandler for Recorder {
    fn tls_start(&mut self, &mut slot: &mut u32, meta: &ConnMeta, hello: Chunk<'_>) {
        let chunk = self.batch.chunk_at(self.window.as_ref(), hello);
        self.push(Call::Tls(Moving::of(slot, meta), TlsCall::Start(chunk)));
    }

    fn tls(&mut self, &mut slot: &mut u32, meta: &ConnMeta, ev: tls::Event<'_>) {
        let call = match ev {
            tls::Event::Data {
                dir,
                chunk,
                end_packet,
            } => TlsCall::Data {
                dir,
                chunk: self.batch.chunk_at(None, chunk),
                end_packet,
            },
            tls::Event::Gap { dir, gap } => TlsCall::Gap(dir, gap),
            tls::Event::Finding(f) => TlsCall::Finding(Box::new(f)),
        };
        self.push(Call::Tls(Moving::of(slot, meta), call));
    }

    fn tls_end(&mut self, &mut slot: &mut u32, meta: &ConnMeta, learnt: Learnt) {
        let call = TlsCall::End(Box::new(learnt));
        self.push(Call::Tls(Moving::of(slot, meta), call));
    }

    fn tls_secrets(&mut self, text: &[u8]) {
        self.note(Note::TlsSecrets(text.to_vec()));
    }
}

impl Drop for Recorder {
    /// What is left goes over: the end of the input.
    fn drop(&mut self) {
        self.send();
    }
}

/// How long either side keeps asking before it sleeps when the other is
/// not ready: a little longer than a batch takes to fill or to replay.
/// Going to sleep and being woken are system calls, and on a virtual
/// machine the wake-up interrupts the other processor through the
/// hypervisor: on 2 GiB of large messages, where the analysis waits on
/// the reading for most batches, 7,400 sleeps cost a sixth of the run
/// (docs/performance.md).
const SPIN: Duration = Duration::from_micros(200);

/// Spins checked against the clock once every so many.
const SPINS_A_LOOK: u32 = 64;

/// Waits for the next batch, reading ahead in the capture while `ahead`
/// has some of it to read, then spinning for up to [`SPIN`]; `None` once
/// the recorder is gone.
fn recv_spinning(from: &Receiver<Batch>, ahead: &mut Option<ReadAhead>) -> Option<Batch> {
    let mut since: Option<Instant> = None;
    let mut spins = 0u32;
    loop {
        match from.try_recv() {
            Ok(b) => return Some(b),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if ahead.as_mut().is_some_and(ReadAhead::step) {
            continue;
        }
        if spun_enough(&mut since, &mut spins) {
            return from.recv().ok();
        }
    }
}

/// The capture's mapped bytes just past where the reading side is, read by
/// the replaying side while it waits for the next batch. On large payloads
/// the reading side is the busier (it hashes every delivered byte for the
/// retransmission check, and looks ahead in the capture), and waits on
/// memory for them; bytes the replaying side has read are in the caches
/// when it gets there. Measured, alternated runs, mixed traffic:
/// `summary` 200 MiB 51.4 -> 47.1 ms, 2 GiB 411.7 -> 378.2 ms; `jsonl`
/// 2 GiB 416.7 -> 394.7 ms.
///
/// Only after a batch the bytes filled (large payloads): after batches of
/// many small chunks the replaying side is the busier or even, and bytes
/// read ahead push its own state out of its caches (`jsonl` on small
/// messages lost 3% when it read ahead after every batch).
struct ReadAhead {
    window: Arc<Window>,
    next: usize,
    stop: usize,
}

/// Where reading ahead starts and stops, past the end of the last batch's
/// bytes: the reading side is at most a batch (256 KiB of bytes) further,
/// and 2 MiB is what the cores' second-level caches hold. 64 KiB-1 MiB and
/// 256 KiB-4 MiB measured the same, 1-4 MiB slower.
const READ_AHEAD_FROM: usize = 256 << 10;
const READ_AHEAD_TO: usize = 2 << 20;

/// Read between two looks for the next batch.
const READ_AHEAD_STEP: usize = 2 << 10;

impl ReadAhead {
    /// After `batch` (replayed, not yet cleared): the window its last
    /// named chunk lies in, from past that chunk, if the batch was closed
    /// by its bytes and they are the file's mapped pages (read ahead in a
    /// copy, the lines would be the ones the reading side writes next).
    fn after(batch: &Batch) -> Option<ReadAhead> {
        if batch.named + batch.bytes.len() < BATCH_BYTES {
            return None;
        }
        batch.calls.iter().rev().find_map(|c| match *c {
            Call::Data(
                _,
                _,
                ChunkAt {
                    window: Some(i),
                    at,
                    len,
                    ..
                },
            ) => {
                let window = Arc::clone(&batch.windows[i as usize]);
                let end = at + len;
                let stop = (end + READ_AHEAD_TO).min(window.bytes().len());
                window.is_mapped().then_some(ReadAhead {
                    window,
                    next: end + READ_AHEAD_FROM,
                    stop,
                })
            }
            _ => None,
        })
    }

    /// Reads one more step, a byte from each cache line; whether there was
    /// any left to read.
    fn step(&mut self) -> bool {
        if self.next >= self.stop {
            return false;
        }
        let end = (self.next + READ_AHEAD_STEP).min(self.stop);
        let bytes = &self.window.bytes()[self.next..end];
        let folded = bytes.iter().step_by(64).fold(0u8, |x, &b| x ^ b);
        // The loads are the point: kept though their value is not.
        std::hint::black_box(folded);
        self.next = end;
        true
    }
}

/// Sends `batch`, spinning for up to [`SPIN`] while every batch is in
/// flight before waiting; whether it had to wait, or an error once the
/// replayer is gone.
fn send_spinning(to: &SyncSender<Batch>, mut batch: Batch) -> Result<bool, ()> {
    let mut since: Option<Instant> = None;
    let mut spins = 0u32;
    loop {
        match to.try_send(batch) {
            Ok(()) => return Ok(since.is_some()),
            Err(TrySendError::Disconnected(_)) => return Err(()),
            Err(TrySendError::Full(b)) => batch = b,
        }
        if spun_enough(&mut since, &mut spins) {
            return to.send(batch).map(|()| true).map_err(|_| ());
        }
    }
}

/// One more spin; whether [`SPIN`] has passed since the first.
fn spun_enough(since: &mut Option<Instant>, spins: &mut u32) -> bool {
    std::hint::spin_loop();
    *spins += 1;
    if *spins % SPINS_A_LOOK != 1 {
        return false;
    }
    let start = *since.get_or_insert_with(Instant::now);
    start.elapsed() >= SPIN
}

impl<H: TlsHandler> Replayer<H> {
    /// Replays batches until the recorder is dropped, or until `note`
    /// returns `false` or `failed` holds after a batch (an error: the
    /// recorder then finds itself alone and stops). `note` gets the notes,
    /// in their place among the calls.
    pub fn run(&mut self, note: &mut dyn FnMut(&mut H, Note) -> bool, failed: &dyn Fn(&H) -> bool) {
        // Held in a local: if the handler panics, unwinding drops it, and
        // the recorder's next send fails instead of waiting forever.
        let Some(from) = self.from.take() else {
            return;
        };
        let mut ahead = None;
        while let Some(mut batch) = recv_spinning(&from, &mut ahead) {
            let go_on = self.replay(&batch, note) && !failed(&self.handler);
            ahead = ReadAhead::after(&batch);
            batch.clear();
            // The recorder may have finished: then nobody takes it back.
            let _ = self.back.try_send(batch);
            if !go_on {
                return;
            }
        }
    }

    fn replay(&mut self, b: &Batch, note: &mut dyn FnMut(&mut H, Note) -> bool) -> bool {
        for (i, call) in b.calls.iter().enumerate() {
            self.prefetch(b, i);
            match *call {
                Call::Open(ref meta, slot) => {
                    let c = self.handler.open(meta);
                    let slot = slot as usize;
                    if self.conns.len() <= slot {
                        self.conns.resize_with(slot + 1, || None);
                    }
                    self.conns[slot] = Some((**meta, c));
                }
                Call::Data(ref meta, dir, ref c) => {
                    self.event(meta, dir, StreamEvent::Data(b.chunk(c)));
                }
                Call::Gap(ref meta, dir, g) => self.event(meta, dir, StreamEvent::Gap(g)),
                Call::Conflict {
                    ref meta,
                    dir,
                    offset,
                    len,
                    packet,
                    ts,
                } => {
                    let ev = StreamEvent::Conflict {
                        offset,
                        len,
                        packet,
                        ts,
                    };
                    self.event(meta, dir, ev);
                }
                Call::Close(ref meta, slot, reason) => {
                    if let Some((_, c)) = self.conns[slot as usize].take() {
                        self.handler.close(c, meta, reason);
                    }
                }
                // Cloned: only the rare secrets block owns anything.
                Call::Note(ref n) => {
                    if !note(&mut self.handler, n.clone()) {
                        return false;
                    }
                }
                Call::Tls(ref meta, ref call) => self.tls(b, meta, call),
            }
        }
        true
    }

    /// Asks for the state of the connections of the calls a little ahead
    /// of call `i` (see [`crate::prefetch`]): first where their slots lie,
    /// then, once those are at hand, what the slots point to.
    fn prefetch(&self, b: &Batch, i: usize) {
        const AHEAD: usize = 4;
        let stream = |at: usize| b.calls.get(at).and_then(Call::stream);
        if let Some((slot, _)) = stream(i + 2 * AHEAD)
            && let Some(s) = self.conns.get(slot as usize)
        {
            prefetch::lines(s, size_of_val(s).div_ceil(64));
        }
        if let Some((slot, dir)) = stream(i + AHEAD)
            && let Some(Some((_, c))) = self.conns.get(slot as usize)
        {
            self.handler.prefetch(c, dir);
        }
    }

    fn event(&mut self, moving: &Moving, dir: Dir, ev: StreamEvent<'_>) {
        self.with(moving, |h, c, meta| h.event(c, meta, dir, ev));
    }

    /// Runs `act` on the connection of `moving`'s slot, its metadata
    /// brought up to date.
    fn with(&mut self, moving: &Moving, act: impl FnOnce(&mut H, &mut H::Conn, &ConnMeta)) {
        if let Some((meta, c)) = self.conns[moving.slot as usize].as_mut() {
            moving.apply(meta);
            act(&mut self.handler, c, meta);
        }
    }

    /// A call of the TLS stage's.
    fn tls(&mut self, b: &Batch, moving: &Moving, call: &TlsCall) {
        let ev = match *call {
            TlsCall::Start(ref c) => {
                return self.with(moving, |h, conn, meta| {
                    h.tls_start(conn, meta, b.chunk(c));
                });
            }
            TlsCall::End(ref learnt) => {
                let learnt = (**learnt).clone();
                return self.with(moving, |h, conn, meta| h.tls_end(conn, meta, learnt));
            }
            TlsCall::Data {
                dir,
                ref chunk,
                end_packet,
            } => tls::Event::Data {
                dir,
                chunk: b.chunk(chunk),
                end_packet,
            },
            TlsCall::Gap(dir, gap) => tls::Event::Gap { dir, gap },
            TlsCall::Finding(ref f) => tls::Event::Finding((**f).clone()),
        };
        self.with(moving, |h, conn, meta| h.tls(conn, meta, ev));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::GapReason;
    use std::collections::HashMap;

    /// Writes down every call, with the bytes.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl StreamHandler for Log {
        type Conn = u64;
        fn open(&mut self, meta: &ConnMeta) -> u64 {
            self.0.push(format!("open {}", meta.id));
            meta.id
        }
        fn event(&mut self, c: &mut u64, meta: &ConnMeta, dir: Dir, ev: StreamEvent<'_>) {
            let what = match ev {
                StreamEvent::Data(d) => format!("data {} {:?} {}", d.offset, d.data, d.packet),
                StreamEvent::Gap(g) => format!("gap {} {}", g.offset, g.len),
                StreamEvent::Conflict { offset, .. } => format!("conflict {offset}"),
            };
            self.0
                .push(format!("{c} {dir:?} {what} last {}", meta.last_packet));
        }
        fn close(&mut self, c: u64, _: &ConnMeta, reason: CloseReason) {
            self.0.push(format!("close {c} {reason:?}"));
        }
    }

    impl TlsHandler for Log {
        fn tls_start(&mut self, c: &mut u64, meta: &ConnMeta, hello: Chunk<'_>) {
            let last = meta.last_packet;
            let what = format!("{} {:?} {}", hello.offset, hello.data, hello.packet);
            self.0.push(format!("{c} tls start {what} last {last}"));
        }
        fn tls(&mut self, c: &mut u64, meta: &ConnMeta, ev: tls::Event<'_>) {
            let last = meta.last_packet;
            self.0.push(format!("{c} tls {ev:?} last {last}"));
        }
        fn tls_end(&mut self, c: &mut u64, meta: &ConnMeta, learnt: Learnt) {
            let last = meta.last_packet;
            self.0.push(format!("{c} tls end {learnt:?} last {last}"));
        }
    }

    fn meta(id: u64, last_packet: u64) -> ConnMeta {
        let client = "10.0.0.1:1000".parse().unwrap();
        let server = "10.0.0.2:80".parse().unwrap();
        ConnMeta {
            last_packet,
            ..ConnMeta::for_test(id, client, server)
        }
    }

    /// Stream bytes are named in the reader's window, except small ones
    /// while the recorder is the side that waits: those are copied, so
    /// that the busy side reads them from the batch.
    #[test]
    fn small_chunks_are_copied_only_while_the_recorder_waits() {
        let (mut rec, _replayer) = channel(Log::default());
        let window = Window::for_test((0..=255).cycle().take(4096).collect());
        rec.set_window(&window);
        let m = meta(1, 1);
        let mut slot = rec.open(&m);
        let chunk = |at: usize, len: usize| Chunk {
            offset: at as u64,
            data: &window.bytes()[at..at + len],
            packet: 1,
            ts: Timestamp::default(),
        };
        let mut last = |rec: &mut Recorder, at: usize, len: usize| {
            rec.event(
                &mut slot,
                &m,
                Dir::ClientToServer,
                StreamEvent::Data(chunk(at, len)),
            );
            match rec.batch.calls.last() {
                Some(Call::Data(_, _, c)) => {
                    assert_eq!(rec.batch.chunk(c).data, &window.bytes()[at..at + len]);
                    c.window.is_some()
                }
                _ => panic!("not a data call"),
            }
        };
        assert!(last(&mut rec, 0, 100), "named while the other side waits");
        rec.ahead = true;
        assert!(
            !last(&mut rec, 100, COPY_UP_TO),
            "copied while this side waits"
        );
        assert!(
            last(&mut rec, 1000, COPY_UP_TO + 1),
            "a long chunk is named"
        );
        assert_eq!(rec.batch.bytes.len(), COPY_UP_TO);
    }

    /// The same calls, in the same order, with the same bytes and
    /// metadata, whether direct or through the handoff (the TLS stage's
    /// too); across many batches and with marks in place.
    #[test]
    fn replays_every_call_in_order() {
        let script = |h: &mut dyn FnMut(u8, u64)| {
            for i in 0..40_000u64 {
                h((i % 10) as u8, i);
            }
        };
        let apply = |h: &mut dyn StreamHandlerDyn, kind: u8, i: u64| {
            let id = i / 10;
            let m = meta(id, i);
            let data = [i as u8; 100];
            match kind {
                0 => h.open_(&m),
                1 => h.event_(
                    id,
                    &m,
                    Dir::ClientToServer,
                    StreamEvent::Data(Chunk {
                        offset: i,
                        data: &data[..(i % 100) as usize],
                        packet: i,
                        ts: Timestamp(0),
                    }),
                ),
                2 => h.event_(
                    id,
                    &m,
                    Dir::ServerToClient,
                    StreamEvent::Gap(Gap {
                        offset: i,
                        len: 3,
                        reason: GapReason::Lost,
                        packet: i,
                        ts: Timestamp(0),
                    }),
                ),
                3 => h.event_(
                    id,
                    &m,
                    Dir::ClientToServer,
                    StreamEvent::Conflict {
                        offset: i,
                        len: 1,
                        packet: i,
                        ts: Timestamp(0),
                    },
                ),
                4..9 => h.tls_(id, &m, kind, &data[..(i % 100) as usize]),
                _ => h.close_(id, &m, CloseReason::Fin),
            }
        };
        let mut direct = Direct(Log::default(), HashMap::default());
        script(&mut |k, i| apply(&mut direct, k, i));

        let (mut rec, mut rep) = channel(Log::default());
        let t = std::thread::spawn(move || {
            let mut marks = Vec::new();
            rep.run(
                &mut |_, n| {
                    if let Note::Progress { packets, .. } = n {
                        marks.push(packets);
                    }
                    true
                },
                &|_| false,
            );
            (rep.handler, marks)
        });
        let mut r = Rec(&mut rec, HashMap::new());
        script(&mut |k, i| {
            apply(&mut r, k, i);
            if i % 7000 == 0 {
                r.0.note(Note::Progress {
                    bytes: 0,
                    packets: i,
                });
            }
        });
        drop(rec);
        let (through, marks) = t.join().unwrap();
        assert_eq!(marks, [0, 7000, 14000, 21000, 28000, 35000]);
        assert_eq!(direct.0.0.len(), through.0.len());
        assert!(direct.0.0 == through.0, "the replay differs");
    }

    /// Object-safe calls for the test script.
    trait StreamHandlerDyn {
        fn open_(&mut self, m: &ConnMeta);
        fn event_(&mut self, id: u64, m: &ConnMeta, d: Dir, ev: StreamEvent<'_>);
        fn close_(&mut self, id: u64, m: &ConnMeta, r: CloseReason);
        /// A TLS stage call of `kind` (4 to 8: start, data, gap, finding,
        /// end) with `data`.
        fn tls_(&mut self, id: u64, m: &ConnMeta, kind: u8, data: &[u8]);
    }

    /// The TLS stage's call of `kind` (see [`StreamHandlerDyn::tls_`]).
    fn tls_call<H: TlsHandler>(h: &mut H, c: &mut H::Conn, m: &ConnMeta, kind: u8, data: &[u8]) {
        let (packet, ts) = (m.last_packet, Timestamp(7));
        let dir = Dir::ServerToClient;
        match kind {
            4 => h.tls_start(
                c,
                m,
                Chunk {
                    offset: 0,
                    data,
                    packet,
                    ts,
                },
            ),
            5 => {
                let end_packet = packet + 1;
                let chunk = Chunk {
                    offset: 9,
                    data,
                    packet,
                    ts,
                };
                let ev = tls::Event::Data {
                    dir,
                    chunk,
                    end_packet,
                };
                h.tls(c, m, ev);
            }
            6 => h.tls(
                c,
                m,
                tls::Event::Gap {
                    dir,
                    gap: Gap {
                        offset: 9,
                        len: 5,
                        reason: GapReason::Lost,
                        packet,
                        ts,
                    },
                },
            ),
            7 => {
                let f = Finding::new(crate::finding::Code::TlsDecryptFailed, "no").at(packet);
                h.tls(c, m, tls::Event::Finding(f));
            }
            _ => {
                let mut learnt = Learnt {
                    decrypted: true,
                    ..Learnt::default()
                };
                learnt.hello.suite = Some(0x1301);
                h.tls_end(c, m, learnt);
            }
        }
    }

    struct Direct(Log, HashMap<u64, u64>);
    impl StreamHandlerDyn for Direct {
        fn open_(&mut self, m: &ConnMeta) {
            let c = self.0.open(m);
            self.1.insert(m.id, c);
        }
        fn event_(&mut self, id: u64, m: &ConnMeta, d: Dir, ev: StreamEvent<'_>) {
            let c = self.1.get_mut(&id).unwrap();
            self.0.event(c, m, d, ev);
        }
        fn close_(&mut self, id: u64, m: &ConnMeta, r: CloseReason) {
            let c = self.1.remove(&id).unwrap();
            self.0.close(c, m, r);
        }
        fn tls_(&mut self, id: u64, m: &ConnMeta, kind: u8, data: &[u8]) {
            let c = self.1.get_mut(&id).unwrap();
            tls_call(&mut self.0, c, m, kind, data);
        }
    }

    struct Rec<'a>(&'a mut Recorder, HashMap<u64, u32>);
    impl StreamHandlerDyn for Rec<'_> {
        fn open_(&mut self, m: &ConnMeta) {
            let slot = self.0.open(m);
            self.1.insert(m.id, slot);
        }
        fn event_(&mut self, id: u64, m: &ConnMeta, d: Dir, ev: StreamEvent<'_>) {
            let slot = self.1.get_mut(&id).unwrap();
            self.0.event(slot, m, d, ev);
        }
        fn close_(&mut self, id: u64, m: &ConnMeta, r: CloseReason) {
            let slot = self.1.remove(&id).unwrap();
            self.0.close(slot, m, r);
        }
        fn tls_(&mut self, id: u64, m: &ConnMeta, kind: u8, data: &[u8]) {
            let slot = self.1.get_mut(&id).unwrap();
            tls_call(self.0, slot, m, kind, data);
        }
    }

    /// The handler panics mid-replay: the recorder's sends fail instead of
    /// waiting for room forever (the reading thread would never end).
    #[test]
    fn a_panicking_handler_does_not_block_the_recorder() {
        let (mut rec, mut rep) = channel(Log::default());
        let sender = std::thread::spawn(move || {
            for _ in 0..1_000_000u64 {
                rec.note(Note::Idle);
                rec.send();
                if rec.gone() {
                    return true;
                }
            }
            false
        });
        // The replayer outlives its panic here, as it does in the pipeline
        // (it lives outside the threads' scope).
        let replay = std::panic::AssertUnwindSafe(|| {
            rep.run(&mut |_, _| panic!("the handler failed"), &|_| false)
        });
        assert!(std::panic::catch_unwind(replay).is_err());
        assert!(sender.join().unwrap(), "the recorder never noticed");
        drop(rep);
    }

    /// The replaying side stops on an error: the recorder notices and
    /// nothing blocks.
    #[test]
    fn a_stopped_replayer_stops_the_recorder() {
        let (mut rec, mut rep) = channel(Log::default());
        let t = std::thread::spawn(move || rep.run(&mut |_, _| false, &|_| false));
        rec.note(Note::Idle);
        rec.send();
        t.join().unwrap();
        for i in 0..100_000u64 {
            rec.open(&meta(i, i));
            if rec.gone() {
                return;
            }
        }
        panic!("the recorder never noticed");
    }

    /// Spinning first changes nothing of what a plain send or receive
    /// gives: a batch waits for room, arrives whole, and the end of
    /// either side is seen by the other.
    #[test]
    fn spinning_sends_and_receives_as_blocking_ones_do() {
        let (to, from) = sync_channel::<Batch>(1);
        let mut b = Batch::default();
        b.calls.push(Call::Note(Note::Idle));
        send_spinning(&to, b).unwrap();
        let later = std::thread::spawn(move || {
            // The channel is full: this waits (past the spin) for room.
            send_spinning(&to, Batch::default()).unwrap();
        });
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(recv_spinning(&from, &mut None).unwrap().calls.len(), 1);
        later.join().unwrap();
        assert!(recv_spinning(&from, &mut None).unwrap().calls.is_empty());
        // The sender is gone (dropped with its thread).
        assert!(recv_spinning(&from, &mut None).is_none());
        let (to, from) = sync_channel::<Batch>(1);
        drop(from);
        assert!(send_spinning(&to, Batch::default()).is_err());
    }

    /// A batch its bytes closed, named in a mapped window, is read ahead of
    /// from past its last chunk to the window's end (here nearer than
    /// [`READ_AHEAD_TO`]); a batch its calls closed, or one whose bytes are
    /// a copy, is not.
    #[test]
    fn read_ahead_only_past_a_batch_of_mapped_bytes() {
        let len = 4 * READ_AHEAD_FROM;
        let batch_of = |window: &Arc<Window>, chunk: usize| {
            let mut b = Batch::with_room();
            for i in 0..BATCH_BYTES / chunk {
                let c = Chunk {
                    offset: (i * chunk) as u64,
                    data: &window.bytes()[i * chunk..(i + 1) * chunk],
                    packet: 1,
                    ts: Timestamp(0),
                };
                let at = b.chunk_at(Some(window), c);
                let meta = Moving::of(0, &meta(1, 1));
                b.calls.push(Call::Data(meta, Dir::ClientToServer, at));
            }
            b
        };
        let mapped = Window::mapped_for_test("read-ahead", &vec![7u8; len]);
        let mut ahead = ReadAhead::after(&batch_of(&mapped, 1024)).expect("reads ahead");
        assert_eq!(
            (ahead.next, ahead.stop),
            (BATCH_BYTES + READ_AHEAD_FROM, len)
        );
        let steps = std::iter::from_fn(|| ahead.step().then_some(())).count();
        assert_eq!(
            steps,
            (len - BATCH_BYTES - READ_AHEAD_FROM).div_ceil(READ_AHEAD_STEP)
        );
        assert!(!ahead.step());

        let mut few = batch_of(&mapped, 1024);
        few.calls.truncate(1);
        few.named = 1024;
        assert!(ReadAhead::after(&few).is_none());
        let copied = Window::for_test(vec![7u8; len]);
        assert!(ReadAhead::after(&batch_of(&copied, 1024)).is_none());
    }
}
