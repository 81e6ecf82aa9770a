//! `--format summary`: the totals of a run as text for people: what was
//! read, findings by severity and code, the diagnoses, input damage. The
//! table ends with the same text.
//!
//! The summary record has no diagnoses (they belong to connections), so the
//! writer gathers them from the connection records as they pass, one entry
//! per cause: memory is bounded by the number of causes, not connections.

use super::term::{Line, Paint, Style, WIDTH, wrap};
use crate::analyze::Sink;
use crate::finding::{Code, Severity};
use crate::record::{ConnectionRecord, Record, SummaryRecord};
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

/// Causes kept; more distinct causes than this are counted only. The
/// diagnosis knows a few dozen causes, so this is a guard, not a limit.
const MAX_CAUSES: usize = 64;

/// One diagnosed cause across the connections.
#[derive(Clone, Debug)]
struct CauseAgg {
    summary: String,
    connections: u64,
    first_conn: u64,
    packet: Option<u64>,
    fix: Vec<String>,
}

/// Diagnoses gathered across connection records.
#[derive(Clone, Debug, Default)]
pub struct Diagnoses {
    causes: BTreeMap<&'static str, CauseAgg>,
}

impl Diagnoses {
    pub fn observe(&mut self, c: &ConnectionRecord) {
        for d in &c.diagnosis {
            if let Some(a) = self.causes.get_mut(d.cause) {
                a.connections += 1;
            } else if self.causes.len() < MAX_CAUSES {
                // Beyond the guard a cause is still counted, by the
                // summary record's `diagnoses`; only its text is not kept.
                self.causes.insert(
                    d.cause,
                    CauseAgg {
                        summary: d.summary.clone(),
                        connections: 1,
                        first_conn: c.conn,
                        packet: d.packet,
                        fix: d.fix.clone(),
                    },
                );
            }
        }
    }
}

/// A code, its count, and its severity and RFC when the code is known.
type CodeCount<'a> = (&'a str, u64, Option<(Severity, &'static str)>);

fn severity_of(name: &str) -> Option<(Severity, &'static str)> {
    Code::ALL
        .iter()
        .find(|c| c.name() == name)
        .map(|c| (c.severity(), c.rfc()))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Writes the summary text. `with_fixes`: print each cause's fix (the
/// table has already shown them under each connection).
pub fn write_summary(
    w: &mut dyn Write,
    style: Style,
    s: &SummaryRecord,
    diags: &Diagnoses,
    with_fixes: bool,
) -> io::Result<()> {
    let line = |w: &mut dyn Write, label: &str, value: String| -> io::Result<()> {
        let mut l = Line::new();
        l.plain(format!("  {label:<13}")).plain(value);
        l.write(w, style, WIDTH)
    };
    Line::new()
        .push("summary", Paint::Bold)
        .write(w, style, WIDTH)?;
    if !s.files.is_empty() {
        for t in wrap(
            &s.files.join(", "),
            "  files        ",
            "               ",
            WIDTH,
        ) {
            Line::new().plain(t).write(w, style, WIDTH)?;
        }
    }
    let mut packets = format!("{} read, {} TCP", s.packets, s.tcp_packets);
    if !s.skipped.is_empty() {
        let skipped: Vec<String> = s.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        packets.push_str(&format!("; skipped: {}", skipped.join(", ")));
    }
    line(w, "packets", packets)?;
    line(
        w,
        "connections",
        format!(
            "{} TCP, {} WebSocket",
            s.tcp_connections, s.websocket_connections
        ),
    )?;
    line(w, "frames", s.frames.to_string())?;

    let sev = |name: &str| s.findings_by_severity.get(name).copied().unwrap_or(0);
    let total: u64 = s.findings_by_severity.values().sum();
    if total == 0 {
        line(w, "findings", "none".to_owned())?;
    } else {
        let mut l = Line::new();
        l.plain(format!("  {:<13}", "findings"));
        let parts = [
            (sev("error"), "error", "errors", Paint::Error),
            (sev("warning"), "warning", "warnings", Paint::Warning),
            (sev("info"), "info", "info", Paint::Info),
        ];
        let mut first = true;
        for (n, one, many, paint) in parts {
            if n == 0 {
                continue;
            }
            if !first {
                l.plain(", ");
            }
            first = false;
            l.push(plural(n, one, many), paint);
        }
        l.write(w, style, WIDTH)?;
        // Most severe first, then by name, so the line to act on is on top.
        let mut codes: Vec<CodeCount> = s
            .findings_by_code
            .iter()
            .map(|(k, n)| (*k, *n, severity_of(k)))
            .collect();
        codes.sort_by(|a, b| {
            let sa = a.2.map(|x| x.0);
            let sb = b.2.map(|x| x.0);
            sb.cmp(&sa).then(a.0.cmp(b.0))
        });
        for (name, n, info) in codes {
            let (sev, rfc) = info.map_or(("?", ""), |(s, r)| (s.as_str(), r));
            let paint = info.map_or(Paint::Plain, |(s, _)| Paint::severity(s));
            let mut l = Line::new();
            l.plain("    ")
                .push(format!("{sev:<8}"), paint)
                .push(format!("{name:<32}"), paint)
                .plain(format!("{n:>6}  {rfc}"));
            l.write(w, style, WIDTH)?;
        }
    }

    // Counts come from the summary record (the whole capture, whatever
    // the filters let through); the text and fixes from the connection
    // records seen, when one was.
    let mut causes: BTreeMap<&str, u64> = s.diagnoses.iter().map(|(k, n)| (*k, *n)).collect();
    for (cause, a) in &diags.causes {
        causes.entry(cause).or_insert(a.connections);
    }
    if !causes.is_empty() {
        Line::new().plain("  diagnoses").write(w, style, WIDTH)?;
        for (cause, n) in causes {
            let seen = diags.causes.get(cause);
            let mut where_ = plural(n, "connection", "connections");
            if let Some(a) = seen {
                where_.push_str(&format!(", first conn {}", a.first_conn));
                if let Some(p) = a.packet {
                    where_.push_str(&format!(" packet {p}"));
                }
            }
            let mut l = Line::new();
            l.plain("    ")
                .push(cause, Paint::Bold)
                .plain(format!(" ({where_})"));
            l.write(w, style, WIDTH)?;
            let Some(a) = seen else { continue };
            for t in wrap(&a.summary, "      ", "      ", WIDTH) {
                Line::new().plain(t).write(w, style, WIDTH)?;
            }
            if with_fixes {
                for f in &a.fix {
                    for t in wrap(f, "      fix: ", "           ", WIDTH) {
                        Line::new().plain(t).write(w, style, WIDTH)?;
                    }
                }
            }
        }
    }

    if !s.input_errors.is_empty() {
        Line::new()
            .push("  input errors", Paint::Error)
            .write(w, style, WIDTH)?;
        for e in &s.input_errors {
            for t in wrap(e, "    ", "      ", WIDTH) {
                Line::new().plain(t).write(w, style, WIDTH)?;
            }
        }
        Line::new()
            .push(
                "  damaged input: the readable part was analysed (exit status 2)",
                Paint::Error,
            )
            .write(w, style, WIDTH)?;
    }
    line(w, "elapsed", format!("{} ms", s.elapsed_ms))
}

/// Writes only the summary (and the diagnoses gathered on the way).
pub struct SummaryWriter<W: Write> {
    w: BufWriter<W>,
    style: Style,
    diags: Diagnoses,
}

impl<W: Write> SummaryWriter<W> {
    pub fn new(w: W, style: Style) -> SummaryWriter<W> {
        SummaryWriter {
            w: BufWriter::new(w),
            style,
            diags: Diagnoses::default(),
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

impl<W: Write> Sink for SummaryWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match r {
            Record::Frame(_) => Ok(()),
            Record::Connection(c) => {
                self.diags.observe(c);
                Ok(())
            }
            Record::Summary(s) => write_summary(&mut self.w, self.style, s, &self.diags, true),
        }
    }

    /// Frames are dropped here, so the analysis can skip their previews.
    fn wants_frames(&self) -> bool {
        false
    }
}
