//! `wscap diff`: what a change (a proxy version, a configuration) did to the
//! WebSocket traffic, from a capture before and a capture after it.
//!
//! Each side is analysed exactly as `analyze` does ([`summary::Collector`]
//! keeps a summary per connection, never frames); connections are paired
//! across the two ([`pair`]) and compared ([`compare`]), per pair and in
//! total. The result is plain data ([`DiffReport`]) for the writers in
//! `report::diff`.

pub mod compare;
pub mod pair;
pub mod summary;

use crate::finding::Severity;
use crate::pipeline::{self, Options};
use crate::record::SummaryRecord;
use compare::{Difference, Rank};
use pair::{Method, Pairing};
use serde::Serialize;
use serde_json::json;
use std::path::Path;
use summary::{Collector, ConnSummary};

/// What the user set.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub analysis: Options,
    /// A finding new in AFTER at or above this is a regression.
    pub fail_on: Severity,
    /// Timing differences up to this many seconds are noise.
    pub time_tolerance: f64,
}

/// One side, analysed.
#[derive(Debug)]
pub struct Side {
    pub conns: Vec<ConnSummary>,
    pub summary: SummaryRecord,
}

/// A difference, placed: `pair` is the index of the pair it belongs to, or
/// `None` for the captures' totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placed {
    pub pair: Option<usize>,
    /// On a proxied connection with both legs in the captures, the leg
    /// the pair is: where the difference shows.
    pub hop: Option<crate::record::Hop>,
    #[serde(flatten)]
    pub difference: Difference,
}

/// The whole comparison.
#[derive(Debug)]
pub struct DiffReport {
    pub before: Side,
    pub after: Side,
    pub pairing: Pairing,
    /// Every difference, most important first.
    pub differences: Vec<Placed>,
}

impl DiffReport {
    /// AFTER regressed: a CI gate should stop.
    pub fn regressed(&self) -> bool {
        self.differences.iter().any(|d| d.difference.regression)
    }

    /// Some input was damaged or unreadable.
    pub fn damaged(&self) -> bool {
        !self.before.summary.input_errors.is_empty() || !self.after.summary.input_errors.is_empty()
    }
}

/// Analyses one side.
pub fn analyse(inputs: &[&Path], opts: &Options) -> std::io::Result<Side> {
    let (outcome, sink) = pipeline::run(inputs, opts, Collector::default(), &mut |_| {})?;
    let (conns, _) = sink.finish();
    Ok(Side {
        conns,
        summary: outcome.summary,
    })
}

/// Compares two analysed sides.
pub fn compare(before: Side, after: Side, opts: &DiffOptions) -> DiffReport {
    let pairing = pair::pair(&before.conns, &after.conns);
    let mut differences: Vec<Placed> = totals(&before, &after, opts)
        .into_iter()
        .map(|d| Placed {
            pair: None,
            hop: None,
            difference: d,
        })
        .collect();
    for (i, p) in pairing.pairs.iter().enumerate() {
        let (b, a) = (&before.conns[p.before], &after.conns[p.after]);
        for d in compare::connections(b, a, opts.fail_on, opts.time_tolerance) {
            differences.push(Placed {
                pair: Some(i),
                hop: b.leg,
                difference: d,
            });
        }
    }
    // Stable: within a rank, totals first, then pairs in order.
    differences.sort_by_key(|d| d.difference.rank);
    DiffReport {
        before,
        after,
        pairing,
        differences,
    }
}

/// Runs both analyses and compares them.
pub fn run(before: &[&Path], after: &[&Path], opts: &DiffOptions) -> std::io::Result<DiffReport> {
    let b = analyse(before, &opts.analysis)?;
    let a = analyse(after, &opts.analysis)?;
    Ok(compare(b, a, opts))
}

/// Counts over a side that the totals compare.
fn counts(s: &Side) -> (u64, u64, u64) {
    let ok = s.conns.iter().filter(|c| c.handshake_ok).count() as u64;
    let abrupt = s.conns.iter().filter(|c| c.abrupt).count() as u64;
    (s.summary.websocket_connections, ok, abrupt)
}

/// The captures' totals: connections, handshakes that succeeded, abrupt
/// ends, findings by code, diagnosed causes.
fn totals(b: &Side, a: &Side, opts: &DiffOptions) -> Vec<Difference> {
    let mut out = Vec::new();
    let ((bw, bok, bab), (aw, aok, aab)) = (counts(b), counts(a));
    let mut push = |rank, field: &str, x: u64, y: u64, regression: bool| {
        if x != y {
            out.push(Difference {
                rank,
                field: format!("total.{field}"),
                before: json!(x),
                after: json!(y),
                regression,
            });
        }
    };
    push(Rank::Outcome, "handshakes_ok", bok, aok, aok < bok);
    push(Rank::Outcome, "abrupt_ends", bab, aab, aab > bab);
    push(Rank::Traffic, "websocket_connections", bw, aw, false);
    push(
        Rank::Traffic,
        "frames",
        b.summary.frames,
        a.summary.frames,
        false,
    );
    let mut f = Vec::new();
    compare::findings(
        &mut f,
        &b.summary.findings_by_code,
        &a.summary.findings_by_code,
        opts.fail_on,
    );
    for mut d in f {
        d.field = format!("total.{}", d.field);
        out.push(d);
    }
    let causes = |s: &Side| -> Vec<&'static str> {
        s.summary.diagnoses.iter().map(|(c, _)| c.name()).collect()
    };
    if causes(b) != causes(a) {
        out.push(Difference {
            rank: Rank::Outcome,
            field: "total.diagnoses".into(),
            before: json!(b.summary.diagnoses),
            after: json!(a.summary.diagnoses),
            regression: false,
        });
    }
    out
}

/// How sure a pairing method is, for people.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Request => "request",
        Method::Target => "target",
        Method::Shape => "shape",
    }
}
