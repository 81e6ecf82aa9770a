//! `--format table`: one block per connection for a person at a terminal,
//! every line at most 80 columns.
//!
//! ```text
//! conn 0  127.0.0.1:47624 → 127.0.0.1:18001
//!   GET /echo HTTP/1.1 → 101 Switching Protocols
//!   by handshake · ext none · proto none · frames 10→ 7← · close 1000/1000
//!        idx    packet       time FIN RSV opcode MASK    length findings
//!   →      0         8  +0.001716  1  000 text    1         13
//!   ←      0         9  +0.001913  1  000 text    0         13
//!   ...
//!   findings / diagnosis of the connection
//! ```
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
//! Blocks appear in the order connections end; the summary comes last.

use super::summary::{Diagnoses, write_summary};
use super::term::{Line, Paint, Style, WIDTH, wrap};
use crate::finding::Finding;
use crate::record::Roles;
use crate::record::{ConnectionRecord, FrameRecord, Record, Sink};
use crate::tcp::Dir;
use crate::time::Timestamp;
use crate::websocket::Opcode;
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
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            all_frames: false,
            head: 20,
            tail: 5,
            findings_kept: 50,
            flush_blocks: false,
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
    packet: u64,
    ts: Timestamp,
    fin: bool,
    rsv: [bool; 3],
    opcode: Opcode,
    masked: bool,
    payload_len: u64,
    close_code: Option<u16>,
    close_reason: Option<String>,
    findings: Vec<Finding>,
}

impl Row {
    fn new(seq: u64, f: &FrameRecord) -> Row {
        Row {
            seq,
            c2s: f.dir == Dir::ClientToServer,
            index: f.index,
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

pub struct TableWriter<W: Write> {
    w: BufWriter<W>,
    style: Style,
    opts: TableOptions,
    pending: BTreeMap<u64, ConnRows>,
    diags: Diagnoses,
    /// A block has been written (blocks are separated by a blank line).
    wrote_block: bool,
    /// The last block was a one-line "not WebSocket" entry: consecutive
    /// ones are listed without blank lines, so the plain HTTP connections
    /// of a busy port do not push the WebSocket blocks apart.
    last_one_line: bool,
}

impl<W: Write> TableWriter<W> {
    pub fn new(w: W, style: Style, opts: TableOptions) -> TableWriter<W> {
        TableWriter {
            w: BufWriter::with_capacity(64 * 1024, w),
            style,
            opts,
            pending: BTreeMap::new(),
            diags: Diagnoses::default(),
            wrote_block: false,
            last_one_line: false,
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }

    fn out(&mut self, l: &Line) -> io::Result<()> {
        l.write(&mut self.w, self.style, WIDTH)
    }

    fn text(&mut self, s: impl AsRef<str>, paint: Paint) -> io::Result<()> {
        let mut l = Line::new();
        l.push(s, paint);
        self.out(&l)
    }

    fn separate(&mut self, one_line: bool) -> io::Result<()> {
        if self.wrote_block && !(one_line && self.last_one_line) {
            self.w.write_all(b"\n")?;
        }
        self.wrote_block = true;
        self.last_one_line = one_line;
        Ok(())
    }

    fn connection(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        let rows = self.pending.remove(&c.conn).unwrap_or_default();
        self.diags.observe(c);
        let one_line =
            !c.websocket && c.request.is_none() && rows.count == 0 && c.findings.is_empty();
        self.separate(one_line)?;

        let mut l = Line::new();
        l.push(format!("conn {}", c.conn), Paint::Bold)
            .plain(format!("  {} → {}", c.client, c.server));
        if c.roles == Roles::PortGuess {
            l.push("  (roles guessed from ports)", Paint::Dim);
        }
        if one_line {
            l.push("  not WebSocket", Paint::Dim);
            self.out(&l)?;
            return self.flush_block();
        }
        self.out(&l)?;
        self.handshake(c)?;
        self.facts(c)?;
        self.rows(&rows, c.first_ts)?;
        self.connection_findings(c)?;
        self.diagnoses(c)?;
        self.flush_block()
    }

    /// The handshake, as a person would summarise it.
    fn handshake(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        let mut l = Line::new();
        l.plain("  ");
        match (&c.request, &c.response) {
            (Some(q), resp) => {
                l.plain(format!("{} {} {}", q.method, q.target, q.version));
                match resp {
                    Some(r) => {
                        let paint = if r.status == 101 {
                            Paint::Plain
                        } else {
                            Paint::Error
                        };
                        l.plain(" → ")
                            .push(format!("{} {}", r.status, r.reason), paint);
                    }
                    None => {
                        l.push(" → no response captured", Paint::Dim);
                    }
                }
            }
            (None, Some(r)) => {
                l.plain(format!(
                    "(request not captured) → {} {}",
                    r.status, r.reason
                ));
            }
            (None, None) => {
                l.push("no handshake captured", Paint::Dim);
            }
        }
        self.out(&l)
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
        let mut cur = String::new();
        for f in facts {
            if !cur.is_empty() && 2 + cur.chars().count() + 3 + f.chars().count() > WIDTH {
                self.dim_facts(&std::mem::take(&mut cur))?;
            }
            if !cur.is_empty() {
                cur.push_str(" · ");
            }
            cur.push_str(&f);
        }
        self.dim_facts(&cur)
    }

    fn connection_findings(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        if c.findings.is_empty() {
            return Ok(());
        }
        self.text("  connection findings:", Paint::Plain)?;
        for f in &c.findings {
            let paint = Paint::severity(f.severity);
            let mut l = Line::new();
            l.plain("    ")
                .push(format!("{:<8}", f.severity.as_str()), paint)
                .push(f.code.name(), paint);
            if let Some(p) = f.packet {
                l.plain(format!("  packet {p}"));
            }
            self.out(&l)?;
            self.prose(&f.detail, "      ", "      ")?;
        }
        Ok(())
    }

    fn diagnoses(&mut self, c: &ConnectionRecord) -> io::Result<()> {
        for d in &c.diagnosis {
            let mut l = Line::new();
            l.plain("  diagnosis: ").push(d.cause.name(), Paint::Bold);
            let mut at = Vec::new();
            if let Some(p) = d.packet {
                at.push(format!("packet {p}"));
            }
            if let Some(h) = d.hop {
                at.push(h.as_str().to_owned());
            }
            if !at.is_empty() {
                l.plain(format!(" ({})", at.join(", ")));
            }
            self.out(&l)?;
            self.prose(&d.summary, "    ", "    ")?;
            if !d.codes.is_empty() {
                let codes: Vec<&str> = d.codes.iter().map(|c| c.name()).collect();
                self.prose(&codes.join(", "), "    codes: ", "           ")?;
            }
            for e in &d.evidence {
                self.prose(e, "    evidence: ", "              ")?;
            }
            for f in &d.fix {
                self.prose(f, "    fix: ", "         ")?;
            }
        }
        Ok(())
    }

    fn dim_facts(&mut self, facts: &str) -> io::Result<()> {
        let mut l = Line::new();
        l.plain("  ").push(facts, Paint::Dim);
        self.out(&l)
    }

    fn prose(&mut self, text: &str, first: &str, rest: &str) -> io::Result<()> {
        for t in wrap(text, first, rest, WIDTH) {
            self.text(t, Paint::Plain)?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.opts.flush_blocks {
            self.w.flush()?;
        }
        Ok(())
    }

    fn rows(&mut self, rows: &ConnRows, start: Timestamp) -> io::Result<()> {
        if rows.count == 0 {
            return Ok(());
        }
        let header = format!(
            "  {:1} {:>5} {:>9} {:>10} {:^3} {:^3} {:<6} {:^4} {:>9} {}",
            "", "idx", "packet", "time", "FIN", "RSV", "opcode", "MASK", "length", "findings"
        );
        self.text(header, Paint::Dim)?;
        let mut next = 0u64;
        for r in rows.rows() {
            if r.seq > next {
                self.elided(r.seq - next)?;
            }
            next = r.seq + 1;
            self.row(r, start)?;
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

    fn row(&mut self, r: &Row, start: Timestamp) -> io::Result<()> {
        let bit = |b: bool| if b { '1' } else { '0' };
        let rsv: String = r.rsv.iter().map(|&b| bit(b)).collect();
        let op = match r.opcode {
            Opcode::CONTINUATION => "cont".to_owned(),
            o if o.is_reserved() => format!("op {:#x}", o.0),
            o => o.name().to_owned(),
        };
        let mut l = Line::new();
        l.plain(format!(
            "  {} {:>5} {:>9} {:>10} {:^3} {:^3} {:<6} {:^4} {:>9} ",
            if r.c2s { '→' } else { '←' },
            r.index,
            r.packet,
            relative(r.ts, start),
            bit(r.fin),
            rsv,
            op,
            bit(r.masked),
            r.payload_len,
        ));
        for (i, f) in r.findings.iter().enumerate() {
            if i > 0 {
                l.plain(" ");
            }
            l.push(f.code.name(), Paint::severity(f.severity));
        }
        if let Some(code) = r.close_code {
            if !r.findings.is_empty() {
                l.plain(" ");
            }
            let reason = r.close_reason.as_deref().unwrap_or("");
            l.push(format!("{code} {reason}"), Paint::Dim);
        }
        self.out(&l)?;
        for f in &r.findings {
            let mut l = Line::new();
            l.plain("      ↳ ")
                .push(f.code.name(), Paint::severity(f.severity))
                .plain(format!(": {}", f.detail));
            self.out(&l)?;
        }
        Ok(())
    }
}

/// Seconds since the connection's first packet, in 10 columns: microseconds
/// for the first 100 s, then coarser so long connections still fit.
fn relative(ts: Timestamp, start: Timestamp) -> String {
    let s = ts.secs_since(start);
    if s.abs() < 99.999_999 {
        format!("{s:+.6}")
    } else if s.abs() < 99_999.999 {
        format!("{s:+.3}")
    } else {
        format!("{s:+.0}")
    }
}

impl<W: Write> Sink for TableWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match r {
            Record::Frame(f) => {
                let rows = self.pending.entry(f.conn).or_default();
                let row = Row::new(rows.count, f);
                rows.push(row, &self.opts);
                Ok(())
            }
            Record::Connection(c) => self.connection(c),
            Record::Summary(s) => {
                // Frames whose connection record never came (should not
                // happen; shown rather than lost).
                let left = std::mem::take(&mut self.pending);
                for (conn, rows) in left {
                    self.separate(false)?;
                    self.text(format!("conn {conn}  (no connection record)"), Paint::Bold)?;
                    let start = rows.rows().next().map_or(Timestamp(0), |r| r.ts);
                    self.rows(&rows, start)?;
                }
                self.separate(false)?;
                write_summary(&mut self.w, self.style, s, &self.diags, false)?;
                self.w.flush()
            }
        }
    }

    /// The input went idle (a live capture): the blocks of the connections
    /// that ended so far go out now; rows of open ones stay held until
    /// their connection ends.
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_fit() {
        let t0 = Timestamp(0);
        assert_eq!(relative(Timestamp(1_715_000), t0), "+0.001715");
        for ns in [
            99_999_999_000,
            999_000_000_000,
            99_998_000_000_000,
            9_000_000_000_000_000,
        ] {
            assert!(relative(Timestamp(ns), t0).len() <= 10, "{ns}");
            assert!(relative(Timestamp(-ns), t0).len() <= 10, "-{ns}");
        }
    }
}
