//! `wscap diff` output: JSON Lines (`pair`, `unpaired`, `difference`
//! records, then `diff_summary`), one JSON document, or a table for people.
//! The schema is in docs/diff.md.

use super::term::{Line, Paint, Style, wrap};
use crate::diff::summary::ConnSummary;
use crate::diff::{DiffReport, Placed, Side, method_name};
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
    handshakes_ok: usize,
    abrupt_ends: usize,
    frames: u64,
    findings_by_code: &'a Counts<Code>,
    diagnoses: &'a Counts<Cause>,
    input_errors: &'a [String],
}

fn side(s: &Side) -> SideRef<'_> {
    SideRef {
        files: &s.summary.files,
        tcp_connections: s.summary.tcp_connections,
        websocket_connections: s.summary.websocket_connections,
        handshakes_ok: s.conns.iter().filter(|c| c.handshake_ok).count(),
        abrupt_ends: s.conns.iter().filter(|c| c.abrupt).count(),
        frames: s.summary.frames,
        findings_by_code: &s.summary.findings_by_code,
        diagnoses: &s.summary.diagnoses,
        input_errors: &s.summary.input_errors,
    }
}

/// Every record but the summary, in output order: pairs, unpaired
/// connections, then the differences, most important first.
pub fn records(r: &DiffReport) -> Vec<DiffRecord<'_>> {
    let mut out = Vec::new();
    for (i, p) in r.pairing.pairs.iter().enumerate() {
        out.push(DiffRecord::Pair {
            pair: i,
            method: method_name(p.method),
            before: conn(&r.before.conns[p.before]),
            after: conn(&r.after.conns[p.after]),
            differences: r.differences.iter().filter(|d| d.pair == Some(i)).count(),
        });
    }
    for (name, s, idx) in [
        ("before", &r.before, &r.pairing.only_before),
        ("after", &r.after, &r.pairing.only_after),
    ] {
        for &i in idx {
            out.push(DiffRecord::Unpaired {
                side: name,
                connection: conn(&s.conns[i]),
            });
        }
    }
    out.extend(r.differences.iter().map(DiffRecord::Difference));
    out
}

/// The last record.
pub fn summary(r: &DiffReport) -> DiffRecord<'_> {
    DiffRecord::DiffSummary {
        before: side(&r.before),
        after: side(&r.after),
        pairs: r.pairing.pairs.len(),
        unpaired_before: r.pairing.only_before.len(),
        unpaired_after: r.pairing.only_after.len(),
        differences: r.differences.len(),
        regressions: r
            .differences
            .iter()
            .filter(|d| d.difference.regression)
            .count(),
        regressed: r.regressed(),
    }
}

pub fn write_jsonl(w: &mut dyn Write, r: &DiffReport) -> io::Result<()> {
    for v in records(r).iter().chain([summary(r)].iter()) {
        serde_json::to_writer(&mut *w, v)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

pub fn write_json(w: &mut dyn Write, r: &DiffReport) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        records: Vec<DiffRecord<'a>>,
        summary: DiffRecord<'a>,
    }
    let doc = Doc {
        records: records(r),
        summary: summary(r),
    };
    serde_json::to_writer(&mut *w, &doc)?;
    w.write_all(b"\n")
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

/// Differences the table shows: the most important; the rest are counted.
const TABLE_DIFFERENCES: usize = 40;

/// For people: the differences, most important first, then the pairs.
pub fn write_table(
    w: &mut dyn Write,
    r: &DiffReport,
    style: Style,
    width: usize,
) -> io::Result<()> {
    let line =
        |w: &mut dyn Write, text: String, paint: Paint| one_line(w, style, width, text, paint);
    let files = |s: &Side| s.summary.files.join(", ");
    line(w, format!("before  {}", files(&r.before)), Paint::Bold)?;
    line(w, format!("after   {}", files(&r.after)), Paint::Bold)?;
    let regressions = r
        .differences
        .iter()
        .filter(|d| d.difference.regression)
        .count();
    let verdict = match (r.differences.is_empty(), regressions) {
        (true, _) => "no difference".to_owned(),
        (false, 0) => format!("{} differences, no regression", r.differences.len()),
        (false, n) => format!("{} differences, {n} regressions", r.differences.len()),
    };
    let paint = if regressions > 0 {
        Paint::Error
    } else {
        Paint::Plain
    };
    line(w, verdict, paint)?;
    for d in r.differences.iter().take(TABLE_DIFFERENCES) {
        let x = &d.difference;
        let at = match d.pair {
            Some(i) => format!("{} ", pair_label(r, i)),
            None => String::new(),
        };
        let mark = if x.regression { "REGRESSION " } else { "" };
        let text = format!("{mark}{at}{}: {} → {}", x.field, x.before, x.after);
        let paint = if x.regression {
            Paint::Error
        } else {
            Paint::Plain
        };
        for t in wrap(&text, "  ", "      ", width) {
            line(w, t, paint)?;
        }
    }
    if r.differences.len() > TABLE_DIFFERENCES {
        let more = r.differences.len() - TABLE_DIFFERENCES;
        line(
            w,
            format!("  … {more} more (--format jsonl lists every one)"),
            Paint::Dim,
        )?;
    }
    write_pairs(w, r, style, width)
}

/// The pairs and the connections without a partner.
fn write_pairs(w: &mut dyn Write, r: &DiffReport, style: Style, width: usize) -> io::Result<()> {
    let line =
        |w: &mut dyn Write, text: String, paint: Paint| one_line(w, style, width, text, paint);
    if !r.pairing.pairs.is_empty() {
        line(w, "pairs".to_owned(), Paint::Bold)?;
    }
    for (i, p) in r.pairing.pairs.iter().enumerate() {
        let (b, a) = (&r.before.conns[p.before], &r.after.conns[p.after]);
        let text = format!(
            "  #{i} conn {} ↔ conn {} {} (by {})",
            b.conn,
            a.conn,
            b.target.as_deref().unwrap_or("-"),
            method_name(p.method)
        );
        line(w, text, Paint::Dim)?;
    }
    for (name, s, idx) in [
        ("only before", &r.before, &r.pairing.only_before),
        ("only after", &r.after, &r.pairing.only_after),
    ] {
        for &i in idx {
            let c = &s.conns[i];
            let text = format!("  {name}: conn {} {} → {}", c.conn, c.client, c.server);
            line(w, text, Paint::Warning)?;
        }
    }
    Ok(())
}

fn pair_label(r: &DiffReport, i: usize) -> String {
    let p = r.pairing.pairs[i];
    let b = &r.before.conns[p.before];
    format!("#{i} {}", b.target.as_deref().unwrap_or("-"))
}
