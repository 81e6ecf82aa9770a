//! `wscap diff`: what a change (a proxy version, a configuration) did to the
//! WebSocket traffic, from a capture before and a capture after it.
//!
//! Each side is analysed exactly as `analyze` does, on a thread of its own
//! ([`summary::Collector`] summarises each connection as it ends, never
//! holding frames); connections are paired across the two as they arrive
//! ([`pair::Matcher`]) and compared at once ([`compare`]), so that only
//! connections waiting for a partner and the differences found are held.
//! Pairs go to a [`DiffSink`] (the writers in `report::diff`) as they are
//! settled; the report ([`DiffReport`]) comes at the end.

pub mod compare;
pub mod pair;
pub mod summary;

use crate::finding::Severity;
use crate::pipeline::{self, Options};
use crate::record::SummaryRecord;
use compare::{Difference, Rank};
use pair::{Matcher, Method, Settled, SideName};
use serde::Serialize;
use serde_json::json;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::mpsc;
use summary::{Collector, ConnSummary, Sizes};

/// What the user set.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub analysis: Options,
    /// A finding new in AFTER at or above this is a regression.
    pub fail_on: Severity,
    /// Timing differences up to this many seconds are noise.
    pub time_tolerance: f64,
}

/// One side's totals.
#[derive(Debug, Default)]
pub struct Side {
    pub summary: SummaryRecord,
    pub handshakes_ok: u64,
    pub abrupt_ends: u64,
    /// Over every connection: microseconds from request to 101, and from a
    /// client message to the server's next message.
    pub handshake_latency: Sizes,
    pub reply_latency: Sizes,
}

/// A difference, placed: `pair` is the number of the pair it belongs to,
/// or `None` for the captures' totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placed {
    pub pair: Option<usize>,
    /// On a proxied connection with both legs in the captures, the leg
    /// the pair is: where the difference shows.
    pub hop: Option<crate::record::Hop>,
    #[serde(flatten)]
    pub difference: Difference,
    /// The pair's request target, for people.
    #[serde(skip)]
    pub target: Option<String>,
}

/// The whole comparison, once both captures are read. Pairs and unpaired
/// connections went to the [`DiffSink`] as they were settled.
#[derive(Debug, Default)]
pub struct DiffReport {
    pub before: Side,
    pub after: Side,
    pub pairs: usize,
    pub unpaired_before: usize,
    pub unpaired_after: usize,
    /// The most important differences (at most [`MAX_LISTED`]), most
    /// important first.
    pub differences: Vec<Placed>,
    /// Every difference, listed or not.
    pub differences_total: usize,
    pub regressions: usize,
}

impl DiffReport {
    /// AFTER regressed: a CI gate should stop.
    pub fn regressed(&self) -> bool {
        self.regressions > 0
    }

    /// Some input was damaged or unreadable.
    pub fn damaged(&self) -> bool {
        !self.before.summary.input_errors.is_empty() || !self.after.summary.input_errors.is_empty()
    }

    /// A side could not be read at all: a diff against nothing would list
    /// every connection as gone.
    pub fn unusable(&self) -> bool {
        let unread = |s: &Side| s.summary.packets == 0 && !s.summary.input_errors.is_empty();
        unread(&self.before) || unread(&self.after)
    }
}

/// Where pairs and unpaired connections go as they are settled (the
/// writers in `report::diff`), and the report at the end.
pub trait DiffSink {
    fn pair(&mut self, pair: &PairOut<'_>) -> std::io::Result<()>;
    fn unpaired(&mut self, side: SideName, c: &ConnSummary) -> std::io::Result<()>;
    fn finish(&mut self, report: &DiffReport) -> std::io::Result<()>;
}

/// A pair as it is settled.
pub struct PairOut<'a> {
    pub number: usize,
    pub method: Method,
    pub before: &'a ConnSummary,
    pub after: &'a ConnSummary,
    pub differences: &'a [Difference],
}

/// Connections that wait for a partner, per side, before the oldest is
/// given up: with ~2 KB a summary, at most ~8 MiB a side. Captures of the
/// same clients keep few waiting (partners meet as they end).
pub const WAITING_LIMIT: usize = 4096;

/// Differences kept for the listing; beyond it only the most important are
/// kept (the counts stay exact).
pub const MAX_LISTED: usize = 20_000;

/// The comparison as connections arrive from both captures: pairs each
/// (`pair::Matcher`), compares the pair at once and keeps only its
/// differences, so memory follows the connections waiting for a partner.
pub struct Differ<S> {
    matcher: Matcher,
    sink: S,
    opts: DiffOptions,
    report: DiffReport,
    kept: Kept,
}

impl<S: DiffSink> Differ<S> {
    pub fn new(sink: S, opts: DiffOptions) -> Self {
        Differ {
            matcher: Matcher::new(WAITING_LIMIT),
            sink,
            opts,
            report: DiffReport::default(),
            kept: Kept::new(MAX_LISTED),
        }
    }

    /// A connection of `side` ended.
    pub fn push(&mut self, side: SideName, c: ConnSummary) -> std::io::Result<()> {
        let s = match side {
            SideName::Before => &mut self.report.before,
            SideName::After => &mut self.report.after,
        };
        s.handshakes_ok += u64::from(c.handshake_ok);
        s.abrupt_ends += u64::from(c.abrupt);
        if let Some(secs) = c.handshake_latency {
            s.handshake_latency.add((secs * 1e6).max(0.0) as u64);
        }
        s.reply_latency.merge(&c.reply_latency);
        match self.matcher.push(side, c) {
            Some(Settled::Pair(b, a, m)) => self.pair(&b, &a, m),
            Some(Settled::Unpaired(side, c)) => self.unpaired(side, &c),
            None => Ok(()),
        }
    }

    fn pair(&mut self, b: &ConnSummary, a: &ConnSummary, method: Method) -> std::io::Result<()> {
        let number = self.report.pairs;
        self.report.pairs += 1;
        let o = &self.opts;
        let differences = compare::connections(b, a, o.fail_on, o.time_tolerance);
        self.sink.pair(&PairOut {
            number,
            method,
            before: b,
            after: a,
            differences: &differences,
        })?;
        for d in differences {
            self.place(Placed {
                pair: Some(number),
                hop: b.leg,
                difference: d,
                target: b.target.clone(),
            });
        }
        Ok(())
    }

    fn unpaired(&mut self, side: SideName, c: &ConnSummary) -> std::io::Result<()> {
        match side {
            SideName::Before => self.report.unpaired_before += 1,
            SideName::After => self.report.unpaired_after += 1,
        }
        self.sink.unpaired(side, c)
    }

    fn place(&mut self, p: Placed) {
        self.report.differences_total += 1;
        self.report.regressions += usize::from(p.difference.regression);
        self.kept.push(p);
    }

    /// Both captures are read: pairs what still waits by the less sure
    /// methods, adds the totals' differences and hands the report to the
    /// sink (nothing more is written when a side could not be read).
    pub fn finish(
        mut self,
        before: SummaryRecord,
        after: SummaryRecord,
    ) -> std::io::Result<(DiffReport, S)> {
        self.report.before.summary = before;
        self.report.after.summary = after;
        if !self.report.unusable() {
            let matcher = std::mem::replace(&mut self.matcher, Matcher::new(1));
            let (b, a, pairing) = matcher.finish();
            for p in &pairing.pairs {
                self.pair(&b[p.before], &a[p.after], p.method)?;
            }
            for &i in &pairing.only_before {
                self.unpaired(SideName::Before, &b[i])?;
            }
            for &i in &pairing.only_after {
                self.unpaired(SideName::After, &a[i])?;
            }
            for d in totals(&self.report.before, &self.report.after, &self.opts) {
                self.place(Placed {
                    pair: None,
                    hop: None,
                    difference: d,
                    target: None,
                });
            }
        }
        self.report.differences = self.kept.into_sorted();
        self.sink.finish(&self.report)?;
        Ok((self.report, self.sink))
    }
}

/// The most important differences, at most `limit`: on a tie the earlier
/// one (totals are placed last but listed first within a rank).
struct Kept {
    heap: BinaryHeap<Ranked>,
    limit: usize,
    seq: u64,
}

/// A difference ordered by (rank, totals first, arrival).
struct Ranked(compare::Rank, bool, u64, Placed);

impl PartialEq for Ranked {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ranked {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1, self.2).cmp(&(o.0, o.1, o.2))
    }
}

impl Kept {
    fn new(limit: usize) -> Kept {
        Kept {
            heap: BinaryHeap::new(),
            limit,
            seq: 0,
        }
    }

    fn push(&mut self, p: Placed) {
        self.seq += 1;
        let r = Ranked(p.difference.rank, p.pair.is_some(), self.seq, p);
        if self.heap.len() < self.limit {
            self.heap.push(r);
        } else if self.heap.peek().is_some_and(|worst| r < *worst) {
            self.heap.pop();
            self.heap.push(r);
        }
    }

    fn into_sorted(self) -> Vec<Placed> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.3)
            .collect()
    }
}

/// Connection summaries in flight from an analysis thread to the merge.
const CHANNEL: usize = 256;

/// What an analysis thread sends: a connection, in the order they end.
type Arrival = Box<ConnSummary>;

/// Runs both analyses, each on its own thread, and compares their
/// connections as they end, taking next from the capture that is behind
/// (by time since its first connection), so that partners meet while few
/// connections wait. The order of arrival depends on the captures only,
/// never on thread timing: the output is deterministic.
pub fn run<S: DiffSink>(
    before: &[&Path],
    after: &[&Path],
    opts: &DiffOptions,
    sink: S,
) -> std::io::Result<(DiffReport, S)> {
    let mut differ = Differ::new(sink, opts.clone());
    // A side none of whose inputs opens: nothing is compared, and nothing
    // written (pairs and evicted connections would stream out before the
    // end showed the side empty).
    let (ub, ua) = (unopened(before), unopened(after));
    if ub.is_some() || ua.is_some() {
        let named = |inputs: &[&Path]| SummaryRecord {
            files: inputs.iter().map(|p| p.display().to_string()).collect(),
            ..SummaryRecord::default()
        };
        let b = ub.unwrap_or_else(|| named(before));
        let a = ua.unwrap_or_else(|| named(after));
        return differ.finish(b, a);
    }
    // Each side on a core of its own already: a second thread per side
    // would only compete.
    let analysis = Options {
        threads: 1,
        ..opts.analysis.clone()
    };
    let (b, a, merged) = std::thread::scope(|scope| {
        let (tb, rb) = mpsc::sync_channel(CHANNEL);
        let (ta, ra) = mpsc::sync_channel(CHANNEL);
        let analysis = &analysis;
        let hb = scope.spawn(move || analyse(before, analysis, tb));
        let ha = scope.spawn(move || analyse(after, analysis, ta));
        // A failed write stops the merge and drops the receivers; the
        // analyses then stop at their next connection.
        let merged = merge(&mut differ, rb, ra);
        (join(hb), join(ha), merged)
    });
    merged?;
    differ.finish(b?, a?)
}

/// The summary of a side none of whose inputs opens (each named with why),
/// as its analysis would write it; `None` when one opens (or is standard
/// input, which is not tried: reading it would consume it).
fn unopened(inputs: &[&Path]) -> Option<SummaryRecord> {
    let mut errors = Vec::new();
    for p in inputs {
        if p.as_os_str() == "-" {
            return None;
        }
        match crate::capture::CaptureReader::open(p) {
            Ok(_) => return None,
            Err(e) => errors.push(e.to_string()),
        }
    }
    Some(SummaryRecord {
        files: inputs.iter().map(|p| p.display().to_string()).collect(),
        input_errors: errors,
        ..SummaryRecord::default()
    })
}

/// One side's analysis, sending each connection's summary as it ends.
fn analyse(
    inputs: &[&Path],
    opts: &Options,
    to: mpsc::SyncSender<Arrival>,
) -> std::io::Result<SummaryRecord> {
    let emit = move |c: ConnSummary| {
        to.send(Box::new(c))
            .map_err(|_| std::io::Error::other("the comparison stopped"))
    };
    let (outcome, sink) = pipeline::run(inputs, opts, Collector::new(emit), &mut |_| {})?;
    sink.finish()?;
    Ok(outcome.summary)
}

fn join(
    h: std::thread::ScopedJoinHandle<'_, std::io::Result<SummaryRecord>>,
) -> std::io::Result<SummaryRecord> {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Feeds the differ from both sides, the one behind first.
fn merge<S: DiffSink>(
    differ: &mut Differ<S>,
    before: mpsc::Receiver<Arrival>,
    after: mpsc::Receiver<Arrival>,
) -> std::io::Result<()> {
    let rx = [before, after];
    let mut head: [Option<Arrival>; 2] = [rx[0].recv().ok(), rx[1].recv().ok()];
    // Each side's clock starts at its first connection to arrive.
    let origin = head.each_ref().map(|h| h.as_ref().map(|c| c.first_ts));
    let at = |i: usize, c: &ConnSummary| origin[i].map_or(0, |o| c.last_ts.0.saturating_sub(o.0));
    loop {
        let next = match (&head[0], &head[1]) {
            (Some(b), Some(a)) => usize::from(at(1, a) < at(0, b)),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => return Ok(()),
        };
        let c = head[next].take().expect("chosen side has a head");
        head[next] = rx[next].recv().ok();
        let side = [SideName::Before, SideName::After][next];
        differ.push(side, *c)?;
    }
}

/// Counts over a side that the totals compare.
fn counts(s: &Side) -> (u64, u64, u64) {
    (
        s.summary.websocket_connections,
        s.handshakes_ok,
        s.abrupt_ends,
    )
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
    let tol = opts.time_tolerance;
    let (bh, ah) = (&b.handshake_latency, &a.handshake_latency);
    compare::latency(&mut out, "total.handshake_latency_us", bh, ah, tol);
    let (br, ar) = (&b.reply_latency, &a.reply_latency);
    compare::latency(&mut out, "total.reply_latency_us", br, ar, tol);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Hop;

    fn placed(rank: Rank, pair: Option<usize>) -> Placed {
        Placed {
            pair,
            hop: None,
            difference: Difference {
                rank,
                field: "f".into(),
                before: json!(0),
                after: json!(1),
                regression: false,
            },
            target: None,
        }
    }

    /// A side none of whose inputs opens is known before anything is read
    /// (an evicted connection of the other side would otherwise stream out
    /// before the end showed the side empty); one that opens, or standard
    /// input, is read.
    #[test]
    fn a_side_that_does_not_open_is_known_first() {
        let missing = Path::new("no-such-capture.pcap");
        let s = unopened(&[missing, missing]).expect("none opens");
        assert_eq!(s.input_errors.len(), 2);
        assert_eq!(s.packets, 0);
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures/py-echo.pcap");
        assert!(unopened(&[missing, &here]).is_none());
        assert!(unopened(&[Path::new("-")]).is_none());
    }

    /// Beyond the bound the most important differences are kept, in rank
    /// order with the totals first, then in order found.
    #[test]
    fn the_listing_keeps_the_most_important() {
        let mut k = Kept::new(3);
        k.push(placed(Rank::Timing, Some(0)));
        k.push(placed(Rank::Traffic, Some(1)));
        k.push(placed(Rank::Traffic, Some(2)));
        k.push(placed(Rank::Outcome, Some(3)));
        k.push(placed(Rank::Timing, Some(4)));
        k.push(placed(Rank::Outcome, None));
        let got: Vec<_> = k.into_sorted().iter().map(|p| p.pair).collect();
        assert_eq!(got, [None, Some(3), Some(1)]);
    }

    /// The legs of a proxied connection are named once both have ended,
    /// whichever ends first; connections stream out as they end.
    #[test]
    fn legs_are_named_when_both_have_ended() {
        let mut out = Vec::new();
        let mut c = Collector::new(|s: ConnSummary| {
            out.push((s.conn, s.leg));
            Ok(())
        });
        let leg = |conn, other, packet| {
            let mut s = ConnSummary::for_test(conn, "/", "h", None);
            s.other_leg = other;
            s.request_packet = packet;
            s
        };
        c.legs(leg(5, None, 1)).unwrap();
        c.legs(leg(1, Some(0), 7)).unwrap();
        c.legs(leg(0, Some(1), 3)).unwrap();
        c.finish().unwrap();
        assert_eq!(
            out,
            [
                (5, None),
                (1, Some(Hop::BackendLeg)),
                (0, Some(Hop::ClientLeg))
            ]
        );
    }
}
