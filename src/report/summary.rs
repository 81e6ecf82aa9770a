//! `--format summary`: the totals of a run as text for people: what was
//! read, findings by severity and code, the diagnoses, input damage. The
//! table ends with the same text.
//!
//! The summary record has no diagnoses (they belong to connections), so the
//! writer gathers them from the connection records as they pass, one entry
//! per cause: memory is bounded by the number of causes, not connections.

use super::term::{Line, Paint, Style, WIDTH, wrap};

use crate::finding::{Code, Severity};
use crate::record::{ConnectionRecord, Record, Sink, SummaryRecord};
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
            if let Some(a) = self.causes.get_mut(d.cause.name()) {
                a.connections += 1;
            } else if self.causes.len() < MAX_CAUSES {
                // Beyond the guard a cause is still counted, by the
                // summary record's `diagnoses`; only its text is not kept.
                self.causes.insert(
                    d.cause.name(),
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

/// The colours and the width lines fit in.
type Sw = (Style, usize);

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One `  label        value` line.
fn line(w: &mut dyn Write, (style, width): Sw, label: &str, value: String) -> io::Result<()> {
    let mut l = Line::new();
    l.plain(format!("  {label:<13}")).plain(value);
    l.write(w, style, width)
}

/// Lines of `text` wrapped after `first` (then `rest`) as indentation.
fn wrapped(
    w: &mut dyn Write,
    (style, width): Sw,
    text: &str,
    first: &str,
    rest: &str,
) -> io::Result<()> {
    for t in wrap(text, first, rest, width) {
        Line::new().plain(t).write(w, style, width)?;
    }
    Ok(())
}

/// Writes the summary text. `with_fixes`: print each cause's fix (the
/// table has already shown them under each connection).
pub fn write_summary(
    w: &mut dyn Write,
    (style, width): Sw,
    s: &SummaryRecord,
    diags: &Diagnoses,
    with_fixes: bool,
) -> io::Result<()> {
    Line::new()
        .push("summary", Paint::Bold)
        .write(w, style, width)?;
    if !s.files.is_empty() {
        wrapped(
            w,
            (style, width),
            &s.files.join(", "),
            "  files        ",
            "               ",
        )?;
    }
    let mut packets = format!("{} read, {} TCP", s.packets, s.tcp_packets);
    if !s.skipped.is_empty() {
        let skipped: Vec<String> = s.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        packets.push_str(&format!("; skipped: {}", skipped.join(", ")));
    }
    line(w, (style, width), "packets", packets)?;
    let conns = format!(
        "{} TCP, {} WebSocket",
        s.tcp_connections, s.websocket_connections
    );
    line(w, (style, width), "connections", conns)?;
    if s.http2_connections > 0 {
        line(w, (style, width), "http2", http2_line(s))?;
    }
    if let Some(f) = &s.filter {
        let shown = format!(
            "{}: {} of {} connections shown (the counts here are of the whole capture)",
            f.flags, f.connections_shown, s.tcp_connections
        );
        wrapped(
            w,
            (style, width),
            &shown,
            "  filtered     ",
            "               ",
        )?;
    }
    if s.tls_connections > 0 {
        let tls = tls_line(s);
        wrapped(
            w,
            (style, width),
            &tls,
            "  tls          ",
            "               ",
        )?;
    }
    line(w, (style, width), "frames", s.frames.to_string())?;
    write_findings(w, (style, width), s)?;
    write_diagnoses(w, (style, width), s, diags, with_fixes)?;
    write_input_errors(w, (style, width), s)?;
    if s.interrupted {
        let what = "stopped before the input ended; connections still open end as interrupted";
        wrapped(
            w,
            (style, width),
            what,
            "  interrupted  ",
            "               ",
        )?;
    }
    line(w, (style, width), "elapsed", format!("{} ms", s.elapsed_ms))
}

/// What the summary says of HTTP/2 connections and the WebSockets over
/// them (RFC 8441).
fn http2_line(s: &SummaryRecord) -> String {
    let conns = plural(
        s.http2_connections,
        "HTTP/2 connection",
        "HTTP/2 connections",
    );
    let streams = plural(s.http2_websockets, "WebSocket stream", "WebSocket streams");
    format!("{conns}, {streams} over them (RFC 8441)")
}

/// What the summary says of TLS connections: how many were decrypted, and
/// how to read the others.
fn tls_line(s: &SummaryRecord) -> String {
    let n = plural(s.tls_connections, "TLS connection", "TLS connections");
    let missing = s.findings_by_code.get(Code::TlsKeyMissing);
    match (s.tls_decrypted, missing) {
        (0, 0) => format!(
            "{n}: WebSocket inside TLS cannot be read from the capture (decrypting it needs a key log: \
             --tls-keylog FILE, or SSLKEYLOGFILE); capture behind the TLS terminator instead"
        ),
        (d, 0) if d == s.tls_connections => format!("{n}, all decrypted with the key log"),
        (d, m) => format!(
            "{n}, {d} decrypted with the key log; {m} without its secrets in the key logs given \
             (start the program that made them with SSLKEYLOGFILE set)"
        ),
    }
}

/// Findings by severity on one line, then one line per code.
fn write_findings(w: &mut dyn Write, (style, width): Sw, s: &SummaryRecord) -> io::Result<()> {
    let sev = |x: Severity| s.findings_by_severity.get(x);
    if s.findings_by_severity.total() == 0 {
        return line(w, (style, width), "findings", "none".to_owned());
    }
    let mut l = Line::new();
    l.plain(format!("  {:<13}", "findings"));
    let parts = [
        (sev(Severity::Error), "error", "errors", Paint::Error),
        (
            sev(Severity::Warning),
            "warning",
            "warnings",
            Paint::Warning,
        ),
        (sev(Severity::Info), "info", "info", Paint::Info),
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
    l.write(w, style, width)?;
    // Most severe first, then by name, so the line to act on is on top;
    // each code under the severity it was reported with.
    let by = &s.findings_by_severity_and_code;
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        for (code, n) in by.codes(severity).iter() {
            let paint = Paint::severity(severity);
            let mut l = Line::new();
            l.plain("    ")
                .push(format!("{:<8}", severity.as_str()), paint)
                .push(format!("{:<32}", code.name()), paint)
                .plain(format!("{n:>6}  {}", code.rfc()));
            l.write(w, style, width)?;
        }
    }
    Ok(())
}

/// Diagnosed causes: counts from the summary record (the whole capture,
/// whatever the filters let through); the text and fixes from the
/// connection records seen, when one was.
fn write_diagnoses(
    w: &mut dyn Write,
    (style, width): Sw,
    s: &SummaryRecord,
    diags: &Diagnoses,
    with_fixes: bool,
) -> io::Result<()> {
    let mut causes: BTreeMap<&str, u64> = s.diagnoses.iter().map(|(k, n)| (k.name(), n)).collect();
    for (cause, a) in &diags.causes {
        causes.entry(cause).or_insert(a.connections);
    }
    if causes.is_empty() {
        return Ok(());
    }
    Line::new().plain("  diagnoses").write(w, style, width)?;
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
        l.write(w, style, width)?;
        let Some(a) = seen else { continue };
        wrapped(w, (style, width), &a.summary, "      ", "      ")?;
        if with_fixes {
            for f in &a.fix {
                wrapped(w, (style, width), f, "      fix: ", "           ")?;
            }
        }
    }
    Ok(())
}

fn write_input_errors(w: &mut dyn Write, (style, width): Sw, s: &SummaryRecord) -> io::Result<()> {
    if s.input_errors.is_empty() {
        return Ok(());
    }
    Line::new()
        .push("  input errors", Paint::Error)
        .write(w, style, width)?;
    for e in &s.input_errors {
        wrapped(w, (style, width), e, "    ", "      ")?;
    }
    Line::new()
        .push(
            "  damaged input: the readable part was analysed (exit status 2)",
            Paint::Error,
        )
        .write(w, style, width)
}

/// Writes only the summary (and the diagnoses gathered on the way).
pub struct SummaryWriter<W: Write> {
    w: BufWriter<W>,
    style: Style,
    width: usize,
    diags: Diagnoses,
}

impl<W: Write> SummaryWriter<W> {
    pub fn new(w: W, style: Style) -> SummaryWriter<W> {
        SummaryWriter {
            w: BufWriter::new(w),
            style,
            width: WIDTH,
            diags: Diagnoses::default(),
        }
    }

    /// Lines fit in `width` columns (80 by default).
    pub fn with_width(mut self, width: usize) -> SummaryWriter<W> {
        self.width = width;
        self
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
            Record::Summary(s) => {
                write_summary(&mut self.w, (self.style, self.width), s, &self.diags, true)
            }
        }
    }

    /// Frames are dropped here, so the analysis can skip their previews.
    fn wants_frames(&self) -> bool {
        false
    }
}
