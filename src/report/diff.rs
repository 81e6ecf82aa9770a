//! `wscap diff` output: JSON Lines (`pair`, `unpaired`, `difference`
//! records, then `diff_summary`), one JSON document, or a table for people.
//! The schema is in docs/diff.md.

use super::term::{Line, Paint, Style, wrap};
use crate::diff::pair::SideName;
use crate::diff::summary::{ConnSummary, Sizes};
use crate::diff::{DiffReport, DiffSink, PairOut, Placed, Side, method_name};
use crate::finding::Code;
use crate::record::{Cause, Counts, Hop};
use serde::Serialize;
use std::io::{self, Write};

/// The connection a pair or an unpaired record names.
#[derive(Serialize)]
pub struct ConnRef<'a> {
    conn: u64,
    client: &'a str,
    server: &'a str,
    target: Option<&'a str>,
    host: Option<&'a str>,
    status: Option<u16>,
    websocket: bool,
    leg: Option<Hop>,
}

fn conn(c: &ConnSummary) -> ConnRef<'_> {
    ConnRef {
        conn: c.conn,
        client: &c.client,
        server: &c.server,
        target: c.target.as_deref(),
        host: c.host.as_deref(),
        status: c.status,
        websocket: c.websocket,
        leg: c.leg,
    }
}

/// One record of the output, written with its `type` first.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DiffRecord<'a> {
    Pair {
        pair: usize,
        method: &'static str,
        before: ConnRef<'a>,
        after: ConnRef<'a>,
        differences: usize,
    },
    Unpaired {
        side: &'static str,
        connection: ConnRef<'a>,
    },
    Difference(&'a Placed),
    DiffSummary {
        before: SideRef<'a>,
        after: SideRef<'a>,
        pairs: usize,
        unpaired_before: usize,
        unpaired_after: usize,
        differences: usize,
        /// Differences beyond the listing's bound (counted, not listed).
        differences_not_listed: usize,
        regressions: usize,
        regressed: bool,
    },
}

/// One side's totals.
#[derive(Serialize)]
pub struct SideRef<'a> {
    files: &'a [String],
    tcp_connections: u64,
    websocket_connections: u64,
    handshakes_ok: u64,
    abrupt_ends: u64,
    frames: u64,
    findings_by_code: &'a Counts<Code>,
    diagnoses: &'a Counts<Cause>,
    input_errors: &'a [String],
    /// p50/p90/p99 in microseconds over every connection (null without any).
    handshake_latency_us: Option<Percentiles>,
    reply_latency_us: Option<Percentiles>,
}

/// Percentiles of a latency histogram (bucket bounds).
#[derive(Serialize)]
pub struct Percentiles {
    p50: u64,
    p90: u64,
    p99: u64,
}

fn percentiles(s: &Sizes) -> Option<Percentiles> {
    (s.count > 0).then(|| Percentiles {
        p50: s.percentile(50),
        p90: s.percentile(90),
        p99: s.percentile(99),
    })
}

fn side(s: &Side) -> SideRef<'_> {
    SideRef {
        files: &s.summary.files,
        tcp_connections: s.summary.tcp_connections,
        websocket_connections: s.summary.websocket_connections,
        handshakes_ok: s.handshakes_ok,
        abrupt_ends: s.abrupt_ends,
        frames: s.summary.frames,
        findings_by_code: &s.summary.findings_by_code,
        diagnoses: &s.summary.diagnoses,
        input_errors: &s.summary.input_errors,
        handshake_latency_us: percentiles(&s.handshake_latency),
        reply_latency_us: percentiles(&s.reply_latency),
    }
}

fn pair_record<'a>(p: &PairOut<'a>) -> DiffRecord<'a> {
    DiffRecord::Pair {
        pair: p.number,
        method: method_name(p.method),
        before: conn(p.before),
        after: conn(p.after),
        differences: p.differences.len(),
    }
}

/// The last record.
pub fn summary(r: &DiffReport) -> DiffRecord<'_> {
    DiffRecord::DiffSummary {
        before: side(&r.before),
        after: side(&r.after),
        pairs: r.pairs,
        unpaired_before: r.unpaired_before,
        unpaired_after: r.unpaired_after,
        differences: r.differences_total,
        differences_not_listed: r.differences_total - r.differences.len(),
        regressions: r.regressions,
        regressed: r.regressed(),
    }
}

/// JSON Lines: `pair` and `unpaired` records as they are settled, then the
/// differences, most important first, then `diff_summary`.
pub struct JsonlDiff<W> {
    out: W,
}

impl<W: Write> JsonlDiff<W> {
    pub fn new(out: W) -> Self {
        JsonlDiff { out }
    }

    fn line(&mut self, r: &DiffRecord<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write> DiffSink for JsonlDiff<W> {
    fn pair(&mut self, p: &PairOut<'_>) -> io::Result<()> {
        self.line(&pair_record(p))
    }

    fn unpaired(&mut self, side: SideName, c: &ConnSummary) -> io::Result<()> {
        self.line(&DiffRecord::Unpaired {
            side: side.name(),
            connection: conn(c),
        })
    }

    fn finish(&mut self, r: &DiffReport) -> io::Result<()> {
        if r.unusable() {
            return Ok(());
        }
        for d in &r.differences {
            self.line(&DiffRecord::Difference(d))?;
        }
        self.line(&summary(r))?;
        self.out.flush()
    }
}

/// One JSON document, `{"records": [...], "summary": {...}}`, written as
/// the records come.
pub struct JsonDiff<W> {
    out: W,
    started: bool,
}

impl<W: Write> JsonDiff<W> {
    pub fn new(out: W) -> Self {
        JsonDiff {
            out,
            started: false,
        }
    }

    fn record(&mut self, r: &DiffRecord<'_>) -> io::Result<()> {
        let sep: &[u8] = if self.started {
            b","
        } else {
            b"{\"records\":["
        };
        self.started = true;
        self.out.write_all(sep)?;
        serde_json::to_writer(&mut self.out, r)?;
        Ok(())
    }
}

impl<W: Write> DiffSink for JsonDiff<W> {
    fn pair(&mut self, p: &PairOut<'_>) -> io::Result<()> {
        self.record(&pair_record(p))
    }

    fn unpaired(&mut self, side: SideName, c: &ConnSummary) -> io::Result<()> {
        self.record(&DiffRecord::Unpaired {
            side: side.name(),
            connection: conn(c),
        })
    }

    fn finish(&mut self, r: &DiffReport) -> io::Result<()> {
        if r.unusable() && !self.started {
            return Ok(());
        }
        for d in &r.differences {
            self.record(&DiffRecord::Difference(d))?;
        }
        if !self.started {
            self.out.write_all(b"{\"records\":[")?;
        }
        self.out.write_all(b"],\"summary\":")?;
        serde_json::to_writer(&mut self.out, &summary(r))?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// One painted line of the table.
fn one_line(
    w: &mut dyn Write,
    style: Style,
    width: usize,
    text: String,
    paint: Paint,
) -> io::Result<()> {
    let mut l = Line::new();
    l.push(text, paint);
    l.write(w, style, width)
}

/// Differences, pairs and unpaired connections the table shows: the first
/// (the most important, for differences); the rest are counted.
const TABLE_LINES: usize = 40;

/// For people: the verdict, the differences, most important first, then
/// the pairs and the connections without a partner.
pub struct TableDiff<W> {
    out: W,
    style: Style,
    width: usize,
    /// The first pairs (as text) and how many there were.
    pairs: (Vec<String>, usize),
    unpaired: (Vec<String>, usize),
}

impl<W: Write> TableDiff<W> {
    pub fn new(out: W, style: Style, width: usize) -> Self {
        TableDiff {
            out,
            style,
            width,
            pairs: (Vec::new(), 0),
            unpaired: (Vec::new(), 0),
        }
    }

    fn line(&mut self, text: String, paint: Paint) -> io::Result<()> {
        one_line(&mut self.out, self.style, self.width, text, paint)
    }
}

/// Keeps the first lines, counts them all.
fn keep(lines: &mut (Vec<String>, usize), text: impl FnOnce() -> String) {
    if lines.0.len() < TABLE_LINES {
        lines.0.push(text());
    }
    lines.1 += 1;
}

impl<W: Write> DiffSink for TableDiff<W> {
    fn pair(&mut self, p: &PairOut<'_>) -> io::Result<()> {
        keep(&mut self.pairs, || {
            format!(
                "  #{} conn {} ↔ conn {} {} (by {})",
                p.number,
                p.before.conn,
                p.after.conn,
                p.before.target.as_deref().unwrap_or("-"),
                method_name(p.method)
            )
        });
        Ok(())
    }

    fn unpaired(&mut self, side: SideName, c: &ConnSummary) -> io::Result<()> {
        keep(&mut self.unpaired, || {
            format!(
                "  only {}: conn {} {} → {}",
                side.name(),
                c.conn,
                c.client,
                c.server
            )
        });
        Ok(())
    }

    fn finish(&mut self, r: &DiffReport) -> io::Result<()> {
        if r.unusable() {
            return Ok(());
        }
        self.head(r)?;
        self.differences(r)?;
        self.settled()?;
        self.out.flush()
    }
}

impl<W: Write> TableDiff<W> {
    fn head(&mut self, r: &DiffReport) -> io::Result<()> {
        let files = |s: &Side| s.summary.files.join(", ");
        self.line(format!("before  {}", files(&r.before)), Paint::Bold)?;
        self.line(format!("after   {}", files(&r.after)), Paint::Bold)?;
        let (n, regressions) = (r.differences_total, r.regressions);
        let verdict = match (n, regressions) {
            (0, _) => "no difference".to_owned(),
            (_, 0) => format!("{n} differences, no regression"),
            (_, k) => format!("{n} differences, {k} regressions"),
        };
        let paint = if regressions > 0 {
            Paint::Error
        } else {
            Paint::Plain
        };
        self.line(verdict, paint)
    }

    fn differences(&mut self, r: &DiffReport) -> io::Result<()> {
        for d in r.differences.iter().take(TABLE_LINES) {
            let x = &d.difference;
            let at = match d.pair {
                Some(i) => format!("#{i} {} ", d.target.as_deref().unwrap_or("-")),
                None => String::new(),
            };
            let mark = if x.regression { "REGRESSION " } else { "" };
            let text = format!("{mark}{at}{}: {} → {}", x.field, x.before, x.after);
            let paint = if x.regression {
                Paint::Error
            } else {
                Paint::Plain
            };
            for t in wrap(&text, "  ", "      ", self.width) {
                self.line(t, paint)?;
            }
        }
        let shown = r.differences.len().min(TABLE_LINES);
        self.more(r.differences_total - shown)
    }

    fn more(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let text = format!("  … {n} more (--format jsonl lists them)");
        self.line(text, Paint::Dim)
    }

    fn settled(&mut self) -> io::Result<()> {
        let (pairs, n) = std::mem::take(&mut self.pairs);
        if n > 0 {
            self.line("pairs".to_owned(), Paint::Bold)?;
        }
        let shown = pairs.len();
        for t in pairs {
            self.line(t, Paint::Dim)?;
        }
        self.more(n - shown)?;
        let (unpaired, n) = std::mem::take(&mut self.unpaired);
        let shown = unpaired.len();
        for t in unpaired {
            self.line(t, Paint::Warning)?;
        }
        self.more(n - shown)
    }
}
