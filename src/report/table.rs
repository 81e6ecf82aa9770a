//! `--format table`: one block per connection for a person at a terminal,
//! every line fitted to the terminal's width (80 columns when standard
//! output is not a terminal; `--width`/`COLUMNS` set it).
//!
//! ```text
//! conn 0  127.0.0.1:47624 → 127.0.0.1:18001  tcp.stream eq 0
//!   GET /echo HTTP/1.1 → 101 Switching Protocols
//!   by handshake · ext - · proto - · frames 10→ 7← · close 1000/1000 · end fin
//!        idx    packet since conn FIN RSV opcode MASK    length
//!   →      0         8  +0.001716  1  000 text    1          13
//!   ←      3        42  +0.041269  1  000 close   0           2  1000 done
//!   →      4        44  +0.041300  1  000 text    0           5
//!       ↳ error   unmasked_client_frame  frame.number == 44
//!           what is wrong, wrapped to the width
//!   findings / diagnosis of the connection
//! ```
//!
//! What fits on a line is never cut: lists of facts move whole to the next
//! line, prose wraps, and a row's close reason or payload preview
//! (`--payload`) that does not fit beside it goes on the lines below.
//! Every block gives the Wireshark display filter selecting its
//! connection, every finding its packet as a filter
//! ([`super::wireshark`]). The time column says what it counts from
//! ([`TimeMode`]).
//!
//! Only connections with something to show for WebSocket get a block (a
//! handshake, frames or findings); the other TCP connections are counted
//! on one line at the end (`--all` lists them).
//!
//! A connection's record (with the endpoints and handshake for its header)
//! arrives when the connection ends, after its frames, so rows are held
//! until then. To keep memory bounded on a connection of millions of frames,
//! only the first [`TableOptions::head`] and last [`TableOptions::tail`]
//! rows are kept, plus up to [`TableOptions::findings_kept`] rows with
//! findings from the middle (those are what the reader is looking for);
//! the rest are counted and shown as one "… N frames not shown" line.
//! `--all-frames` keeps every row (documented as unbounded).
//!
//! Blocks come in the order of the connections' first packets, held as
//! rendered text within a cap ([`order`]), or, for live runs, as
//! connections end ([`TableOptions::ordered`]); the summary comes last.

mod clock;
mod order;

pub use clock::TimeMode;

use super::preview::PayloadMode;
use super::summary::{Diagnoses, write_summary};
use super::term::{Line, Paint, Style, WIDTH, chunks, pack, wrap};
use super::wireshark::{conn_filter, frame_filter as packet_filter};
use crate::finding::Finding;
use crate::record::Roles;
use crate::record::{ConnectionRecord, FrameRecord, Record, Sink};
use crate::tcp::Dir;
use crate::text::Text;
use crate::time::Timestamp;
use crate::websocket::Opcode;
use clock::Clock;
use order::{Block, HELD_BYTES, Order};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufWriter, Write};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Show every frame (no eliding).
    pub all_frames: bool,
    /// Rows shown from the start of a long connection.
    pub head: usize,
    /// Rows shown from its end.
    pub tail: usize,
    /// Rows with findings kept from the elided middle.
    pub findings_kept: usize,
    /// Flush after each connection block (output to a terminal, where a
    /// person waits for it), rather than when the buffer fills.
    pub flush_blocks: bool,
    /// Columns every line fits in.
    pub width: usize,
    /// What the time column counts from.
    pub time: TimeMode,
    /// Payload previews in the rows (`None`: no previews).
    pub payload: PayloadMode,
    /// Also list TCP connections that are not WebSocket, one line each
    /// (otherwise they are counted).
    pub all_connections: bool,
    /// Blocks in order of first packet (a capture read whole); `false`
    /// prints each as its connection ends (a live run).
    pub ordered: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            all_frames: false,
            head: 20,
            tail: 5,
            findings_kept: 50,
            flush_blocks: false,
            width: WIDTH,
            time: TimeMode::Relative,
            payload: PayloadMode::None,
            all_connections: false,
            ordered: true,
        }
    }
}

/// What a row needs from a frame record (its strings are `'static`, so a
/// row is small).
struct Row {
    /// Position of the frame among its connection's frames.
    seq: u64,
    c2s: bool,
    index: u64,
    /// The HTTP/2 stream of a WebSocket over HTTP/2 (RFC 8441).
    h2_stream: Option<u32>,
    packet: u64,
    ts: Timestamp,
    fin: bool,
    rsv: [bool; 3],
    opcode: Opcode,
    masked: bool,
    payload_len: u64,
    close_code: Option<u16>,
    close_reason: Option<Text>,
    findings: Vec<Finding>,
    /// The payload's first bytes, kept only when previews are shown.
    preview: Option<Box<[u8]>>,
    /// The preview holds less than the whole payload.
    preview_cut: bool,
}

impl Row {
    /// The index cell: over HTTP/2, `stream:index` (streams interleave).
    fn index_cell(&self) -> String {
        match self.h2_stream {
            Some(s) => format!("{s}:{}", self.index),
            None => self.index.to_string(),
        }
    }

    fn new(seq: u64, f: &FrameRecord, previews: bool) -> Row {
        let whole = f.inflated_len.unwrap_or(f.payload_len);
        Row {
            seq,
            c2s: f.dir == Dir::ClientToServer,
            index: f.index,
            h2_stream: f.h2_stream,
            packet: f.packet,
            ts: f.ts,
            fin: f.fin,
            rsv: [f.rsv1, f.rsv2, f.rsv3],
            opcode: f.opcode,
            masked: f.masked(),
            payload_len: f.payload_len,
            close_code: f.close_code,
            close_reason: f.close_reason.clone(),
            findings: f.findings.clone(),
            preview: (previews && !f.preview.is_empty()).then(|| f.preview.as_slice().into()),
            preview_cut: (f.preview.len() as u64) < whole,
        }
    }
}
/// The rows held for one connection until its record arrives.
#[derive(Default)]
struct ConnRows {
    count: u64,
    head: Vec<Row>,
    middle: Vec<Row>,
    tail: VecDeque<Row>,
    /// Rows with findings that did not fit in `middle`.
    findings_dropped: u64,
}

impl ConnRows {
    fn push(&mut self, row: Row, o: &TableOptions) {
        self.count += 1;
        if o.all_frames || self.head.len() < o.head {
            self.head.push(row);
            return;
        }
        self.tail.push_back(row);
        if self.tail.len() > o.tail
            && let Some(old) = self.tail.pop_front()
            && !old.findings.is_empty()
        {
            if self.middle.len() < o.findings_kept {
                self.middle.push(old);
            } else {
                self.findings_dropped += 1;
            }
        }
    }

    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.head
            .iter()
            .chain(self.middle.iter())
            .chain(self.tail.iter())
    }
}

/// Widths of the numeric columns of one block: as wide as its largest
/// value (or title), so rows stay short and leave room for what follows.
#[derive(Clone, Copy)]
struct Columns {
    index: usize,
    packet: usize,
    length: usize,
}

impl Columns {
    fn of(rows: &ConnRows) -> Columns {
        let digits = |n: u64| n.checked_ilog10().unwrap_or(0) as usize + 1;
        let mut c = Columns {
            index: 3,
            packet: 6,
            length: 6,
        };
        for r in rows.rows() {
            c.index = c.index.max(r.index_cell().len());
            c.packet = c.packet.max(digits(r.packet));
            c.length = c.length.max(digits(r.payload_len));
        }
        c
    }
}

pub struct TableWriter<W: Write> {
    w: BufWriter<W>,
    style: Style,
    opts: TableOptions,
    clock: Clock,
    pending: BTreeMap<u64, ConnRows>,
    diags: Diagnoses,
    order: Order,
    /// The block being rendered.
    buf: Vec<u8>,
    /// Connections not shown (not WebSocket, without --all).
    hidden: u64,
    /// A block has been written (blocks are separated by a blank line).
    wrote_block: bool,
    /// The last block was a one-line "not WebSocket" entry: consecutive
    /// ones are listed without blank lines, so the plain HTTP connections
    /// of a busy port do not push the WebSocket blocks apart.
    last_one_line: bool,
    /// Scratch for rendering previews.
    scratch: String,
    /// A write error met where it could not be returned.
    deferred_error: Option<io::Error>,
}

impl<W: Write> TableWriter<W> {
    pub fn new(w: W, style: Style, opts: TableOptions) -> TableWriter<W> {
        TableWriter {
            w: BufWriter::with_capacity(64 * 1024, w),
            style,
            clock: Clock {
                mode: opts.time,
                capture_start: None,
            },
            order: Order::new(opts.ordered),
            opts,
            pending: BTreeMap::new(),
            diags: Diagnoses::default(),
            buf: Vec::new(),
            hidden: 0,
            wrote_block: false,
            last_one_line: false,
            scratch: String::new(),
            deferred_error: None,
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }

    fn width(&self) -> usize {
        self.opts.width
    }

    /// Adds a line to the block being rendered.
    fn out(&mut self, l: &Line) -> io::Result<()> {
        l.write(&mut self.buf, self.style, self.opts.width)
    }

    fn text(&mut self, s: impl AsRef<str>, paint: Paint) -> io::Result<()> {
        let mut l = Line::new();
        l.push(s, paint);
        self.out(&l)
    }

    /// The block rendered so far, taken.
    fn block(&mut self, one_line: bool) -> Block {
        Block {
            one_line,
            text: std::mem::take(&mut self.buf),
        }
    }

    /// Prints a finished block, separated from the one before.
    fn emit(&mut self, b: Block) -> io::Result<()> {
        if self.wrote_block && !(b.one_line && self.last_one_line) {
            self.w.write_all(b"\n")?;
        }
        self.wrote_block = true;
        self.last_one_line = b.one_line;
        self.w.write_all(&b.text)?;
        if self.opts.flush_blocks {
            self.w.flush()?;
        }
        Ok(())
    }

    /// Connection `conn` is done: prints what its turn allows.
    fn finished(&mut self, conn: u64, block: Option<Block>) -> io::Result<()> {
        for b in self.order.finish(conn, block) {
            self.emit(b)?;
        }
        if !self.order.over_cap() {
            return Ok(());
        }
        let waiting = self.order.waiting_for();
        for b in self.order.release(true) {
            self.emit(b)?;
        }
        let note = format!(
            "(conn {waiting} is still open and more than {} MiB of the blocks after it \
             waited for it: from here on, blocks come in the order connections end)",
            HELD_BYTES >> 20
        );
        self.prose(&note, "", "", Paint::Dim)?;
        let b = self.block(false);
        self.emit(b)
    }

    fn connection(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        let rows = self.pending.remove(&c.conn).unwrap_or_default();
        self.diags.observe(c);
        let other = !c.websocket
            && c.request.is_none()
            && c.response.is_none()
            && rows.count == 0
            && c.findings.is_empty();
        // A TLS connection keeps its line: it may be the WebSocket the user
        // came for, encrypted (and says so).
        if other && c.tls.is_none() && !self.opts.all_connections {
            self.hidden += 1;
            return self.finished(c.conn, None);
        }
        self.header(c, other)?;
        if !other {
            self.handshake(c)?;
            self.facts(c)?;
            self.rows(&rows, c.first_ts)?;
            self.connection_findings(c)?;
            self.diagnoses(c)?;
        }
        let b = self.block(other);
        self.finished(c.conn, Some(b))
    }

    /// `conn N`, the endpoints and the Wireshark filter, kept whole.
    fn header(&mut self, c: &ConnectionRecord, one_line: bool) -> io::Result<()> {
        let mut pieces = vec![
            (format!("conn {}", c.conn), Paint::Bold),
            (format!("{} → {}", c.client, c.server), Paint::Plain),
        ];
        if c.roles == Roles::PortGuess {
            pieces.push(("(roles guessed from ports)".to_owned(), Paint::Dim));
        }
        if one_line {
            pieces.push((not_websocket(c).trim_start().to_owned(), Paint::Dim));
        }
        // The record's own filter: the address form where the stream
        // number may not be Wireshark's.
        pieces.push((c.wireshark_filter.to_string(), Paint::Plain));
        self.packed(&pieces, "  ", "", "  ")
    }

    fn packed(
        &mut self,
        pieces: &[(String, Paint)],
        sep: &str,
        first: &str,
        rest: &str,
    ) -> io::Result<()> {
        for l in pack(pieces, sep, first, rest, self.width()) {
            self.out(&l)?;
        }
        Ok(())
    }

    /// The handshake, as a person would summarise it.
    fn handshake(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        let mut pieces = Vec::new();
        match (&c.request, &c.response) {
            (Some(q), _) => pieces.push((
                format!("{} {} {}", q.method, q.target, q.version),
                Paint::Plain,
            )),
            (None, Some(_)) => pieces.push(("(request not captured)".to_owned(), Paint::Plain)),
            (None, None) => pieces.push(("no handshake captured".to_owned(), Paint::Dim)),
        }
        // Over HTTP/2 (RFC 8441), a 2xx opens the WebSocket, and a
        // refusal may be a stream reset rather than a status.
        let h2 = c.http2.as_ref();
        let reset = h2
            .and_then(|h| h.websockets.first())
            .and_then(|w| w.reset_code.filter(|_| w.status.is_none()));
        match (&c.request, &c.response) {
            (_, Some(r)) => {
                let opened = r.status == 101 || (h2.is_some() && (200..300).contains(&r.status));
                let paint = if opened { Paint::Plain } else { Paint::Error };
                let text = format!("→ {} {}", r.status, r.reason);
                pieces.push((text.trim_end().to_owned(), paint));
            }
            (Some(_), None) if reset.is_some() => {
                let code = reset.unwrap_or_default();
                pieces.push((format!("→ stream reset ({code})"), Paint::Error));
            }
            (Some(_), None) => pieces.push(("→ no response captured".to_owned(), Paint::Dim)),
            (None, None) => {}
        }
        self.packed(&pieces, " ", "  ", "    ")?;
        match h2 {
            Some(h) if h.websockets.len() > 1 => self.h2_streams(h),
            _ => Ok(()),
        }
    }

    /// The WebSocket streams of an HTTP/2 connection, when it has several
    /// (the handshake above is its first one's).
    fn h2_streams(&mut self, h: &crate::record::Http2Info) -> io::Result<()> {
        let mut pieces = vec![(
            format!("{} WebSocket streams over HTTP/2:", h.websockets.len()),
            Paint::Dim,
        )];
        for w in &h.websockets {
            let status = w.status.map_or("-".to_owned(), |s| s.to_string());
            let path = w.path.as_deref().unwrap_or("-");
            let text = format!("stream {} {path} → {status},", w.stream);
            pieces.push((text, Paint::Dim));
        }
        if let Some(last) = pieces.last_mut() {
            last.0.pop();
        }
        self.packed(&pieces, " ", "  ", "    ")
    }

    /// How it was recognised, what was negotiated, frames, close codes and
    /// the end, packed whole into as many lines as they need: cutting
    /// "frames 4→ 4←" in two would misread.
    fn facts(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        let mut facts = Vec::new();
        facts.push(match c.detected_by {
            Some(d) => format!("by {}", d.as_str()),
            None => "not WebSocket".to_owned(),
        });
        if let Some(n) = &c.negotiated {
            facts.push(if n.extensions.is_empty() {
                "ext -".to_owned()
            } else {
                format!("ext {}", n.extensions.join(","))
            });
            facts.push(format!("proto {}", n.subprotocol.as_deref().unwrap_or("-")));
        }
        if let Some(o) = c.other_leg {
            facts.push(format!("other leg conn {o}"));
        }
        if let Some(t) = c.tls.as_ref().filter(|t| t.decrypted.is_some()) {
            let v = t.version.as_deref().unwrap_or("TLS");
            let how = if t.decrypted == Some(true) {
                "decrypted"
            } else {
                "not decrypted"
            };
            facts.push(format!("{v} {how}"));
        }
        facts.push(format!("frames {}→ {}←", c.frames.c2s, c.frames.s2c));
        let codes = |v: &[u16]| -> String {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
            }
        };
        if !c.close_codes.c2s.is_empty() || !c.close_codes.s2c.is_empty() {
            facts.push(format!(
                "close {}/{}",
                codes(&c.close_codes.c2s),
                codes(&c.close_codes.s2c)
            ));
        }
        facts.push(format!("end {}", c.end.as_str()));
        facts.extend(self.clock.start(c.first_ts));
        let pieces: Vec<(String, Paint)> = facts.into_iter().map(|f| (f, Paint::Dim)).collect();
        self.packed(&pieces, " · ", "  ", "  ")
    }

    fn connection_findings(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        if c.findings.is_empty() {
            return Ok(());
        }
        self.text("  connection findings:", Paint::Plain)?;
        for f in &c.findings {
            self.finding(f, f.packet, "    ")?;
            self.prose(&f.detail, "      ", "      ", Paint::Plain)?;
        }
        Ok(())
    }

    /// `error   code  frame.number == N`, after `indent`.
    fn finding(&mut self, f: &Finding, packet: Option<u64>, indent: &str) -> io::Result<()> {
        let paint = Paint::severity(f.severity);
        let mut l = Line::new();
        l.plain(indent)
            .push(format!("{:<8}", f.severity.as_str()), paint)
            .push(f.code.name(), paint);
        if let Some(p) = packet {
            l.plain(format!("  {}", packet_filter(p)));
        }
        self.out(&l)
    }

    fn diagnoses(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        for d in &c.diagnosis {
            let mut l = Line::new();
            l.plain("  diagnosis: ").push(d.cause.name(), Paint::Bold);
            if let Some(h) = d.hop {
                l.plain(format!(" ({})", h.as_str()));
            }
            if let Some(p) = d.packet {
                l.plain(format!("  {}", packet_filter(p)));
            }
            self.out(&l)?;
            self.prose(&d.summary, "    ", "    ", Paint::Plain)?;
            if !d.codes.is_empty() {
                let codes: Vec<&str> = d.codes.iter().map(|c| c.name()).collect();
                self.prose(
                    &codes.join(", "),
                    "    codes: ",
                    "           ",
                    Paint::Plain,
                )?;
            }
            for e in &d.evidence {
                self.prose(e, "    evidence: ", "              ", Paint::Plain)?;
            }
            for f in &d.fix {
                self.prose(f, "    fix: ", "         ", Paint::Plain)?;
            }
        }
        Ok(())
    }

    fn prose(&mut self, text: &str, first: &str, rest: &str, paint: Paint) -> io::Result<()> {
        for t in wrap(text, first, rest, self.width()) {
            self.text(t, paint)?;
        }
        Ok(())
    }

    fn rows(&mut self, rows: &ConnRows, start: Timestamp) -> io::Result<()> {
        if rows.count == 0 {
            return Ok(());
        }
        let time = self.opts.time;
        let cols = Columns::of(rows);
        let mut header = format!(
            "  {:1} {:>iw$} {:>pw$} {:>tw$} {:^3} {:^3} {:<6} {:^4} {:>lw$}",
            "",
            "idx",
            "packet",
            time.title(),
            "FIN",
            "RSV",
            "opcode",
            "MASK",
            "length",
            iw = cols.index,
            pw = cols.packet,
            tw = time.width(),
            lw = cols.length,
        );
        if self.opts.payload != PayloadMode::None {
            header.push_str("  payload");
        }
        self.text(header, Paint::Dim)?;
        let mut next = 0u64;
        // The facts give the day the connection started; a row on another
        // day says so above it.
        let mut date = self.clock.cell(start, start).date;
        for r in rows.rows() {
            if r.seq > next {
                self.elided(r.seq - next)?;
            }
            next = r.seq + 1;
            let cell = self.clock.cell(r.ts, start);
            if cell.date.is_some() && cell.date != date {
                date = cell.date;
                self.text(format!("  {}", date.as_deref().unwrap_or("")), Paint::Dim)?;
            }
            self.row(r, &cell.time, cols)?;
        }
        if rows.count > next {
            self.elided(rows.count - next)?;
        }
        if rows.findings_dropped > 0 {
            self.text(
                format!(
                    "  ({} more frames with findings not shown; --only-findings lists them)",
                    rows.findings_dropped
                ),
                Paint::Dim,
            )?;
        }
        Ok(())
    }

    fn elided(&mut self, n: u64) -> io::Result<()> {
        let noun = if n == 1 { "frame" } else { "frames" };
        self.text(
            format!("  … {n} {noun} not shown (--all-frames shows them) …"),
            Paint::Dim,
        )
    }

    /// A frame's row, its close code or preview (beside it when it fits,
    /// else below), then each finding with its packet and what is wrong.
    fn row(&mut self, r: &Row, time: &str, cols: Columns) -> io::Result<()> {
        let bit = |b: bool| if b { '1' } else { '0' };
        let rsv: String = r.rsv.iter().map(|&b| bit(b)).collect();
        let op = match r.opcode {
            Opcode::CONTINUATION => "cont".to_owned(),
            o if o.is_reserved() => format!("op {:#x}", o.0),
            o => o.name().to_owned(),
        };
        let cells = format!(
            "  {} {:>iw$} {:>pw$} {:>tw$} {:^3} {:^3} {:<6} {:^4} {:>lw$}",
            if r.c2s { '→' } else { '←' },
            r.index_cell(),
            r.packet,
            time,
            bit(r.fin),
            rsv,
            op,
            bit(r.masked),
            r.payload_len,
            iw = cols.index,
            pw = cols.packet,
            tw = self.opts.time.width(),
            lw = cols.length,
        );
        let note = self.note(r);
        let mut l = Line::new();
        l.plain(&cells);
        match note {
            Some((text, paint))
                if cells.chars().count() + 2 + text.chars().count() <= self.width() =>
            {
                l.plain("  ").push(text, paint);
                self.out(&l)?;
            }
            Some((text, paint)) => {
                self.out(&l)?;
                for t in chunks(&text, "        ", self.width()) {
                    self.text(t, paint)?;
                }
            }
            None => self.out(&l)?,
        }
        for f in &r.findings {
            self.finding(f, Some(f.packet.unwrap_or(r.packet)), "      ↳ ")?;
            self.prose(&f.detail, "          ", "          ", Paint::Plain)?;
        }
        Ok(())
    }

    /// What follows a row's cells: a close frame's code and reason, else
    /// the payload preview when asked for (`…` when the payload goes on).
    fn note(&mut self, r: &Row) -> Option<(String, Paint)> {
        if let Some(code) = r.close_code {
            let reason = r.close_reason.as_deref().unwrap_or("");
            let text = format!("{code} {reason}").trim_end().to_owned();
            return Some((text, Paint::Dim));
        }
        let bytes = r.preview.as_deref()?;
        let mut text = self
            .opts
            .payload
            .render(bytes, &mut self.scratch)?
            .to_owned();
        if r.preview_cut {
            text.push('…');
        }
        Some((super::term::printable(&text), Paint::Plain))
    }
}

impl<W: Write> TableWriter<W> {
    /// Frames whose connection record never came (should not happen;
    /// shown rather than lost), then the count of connections not shown,
    /// then the summary.
    fn end(&mut self, s: &crate::record::SummaryRecord) -> io::Result<()> {
        for (conn, rows) in std::mem::take(&mut self.pending) {
            self.packed(
                &[
                    (format!("conn {conn}"), Paint::Bold),
                    ("(no connection record)".to_owned(), Paint::Plain),
                    (conn_filter(conn).into(), Paint::Plain),
                ],
                "  ",
                "",
                "  ",
            )?;
            let start = rows.rows().next().map_or(Timestamp(0), |r| r.ts);
            self.rows(&rows, start)?;
            let b = self.block(false);
            self.finished(conn, Some(b))?;
        }
        for b in self.order.release(false) {
            self.emit(b)?;
        }
        if self.hidden > 0 {
            let n = self.hidden;
            let text = if n == 1 {
                "1 other TCP connection (not WebSocket) not shown; --all shows it".to_owned()
            } else {
                format!("{n} other TCP connections (not WebSocket) not shown; --all shows them")
            };
            self.prose(&text, "", "", Paint::Dim)?;
            let b = self.block(false);
            self.emit(b)?;
        }
        if self.wrote_block {
            self.w.write_all(b"\n")?;
        }
        let sw = (self.style, self.width());
        write_summary(&mut self.w, sw, s, &self.diags, false)?;
        self.w.flush()
    }
}

impl<W: Write> Sink for TableWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        if let Some(e) = self.deferred_error.take() {
            return Err(e);
        }
        match r {
            Record::Frame(f) => {
                let previews = self.opts.payload != PayloadMode::None;
                let rows = self.pending.entry(f.conn).or_default();
                let row = Row::new(rows.count, f, previews);
                rows.push(row, &self.opts);
                Ok(())
            }
            Record::Connection(c) => self.connection(c),
            Record::Summary(s) => self.end(s),
        }
    }

    fn capture_start(&mut self, ts: Timestamp) {
        self.clock.capture_start = Some(ts);
    }

    fn connection_filtered(&mut self, conn: u64) {
        // This cannot return an error: a failed write is reported by the
        // next record.
        self.pending.remove(&conn);
        if let Err(e) = self.finished(conn, None) {
            self.deferred_error = Some(e);
        }
    }

    /// The input went idle (a live capture): the blocks of the connections
    /// that ended so far go out now; rows of open ones stay held until
    /// their connection ends.
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// What a connection that is not WebSocket was, in its one line: TLS (with
/// what its hellos show), or nothing wscap reads.
fn not_websocket(c: &ConnectionRecord) -> String {
    let Some(t) = &c.tls else {
        return "  not WebSocket".to_owned();
    };
    // Decrypted with the key log, it showed no WebSocket; otherwise its
    // contents could not be read.
    let decrypted = t.decrypted == Some(true);
    let how = if decrypted { "decrypted" } else { "encrypted" };
    let v = t.version.as_ref().or(t.client_version.as_ref());
    let mut s = format!("  {how} {}", v.map_or("TLS", |v| v.as_str()));
    if let Some(sni) = &t.sni {
        s.push_str(&format!(" to {sni}"));
    }
    if decrypted {
        s.push_str(", no WebSocket in it");
    }
    s
}

#[cfg(test)]
mod tests;
