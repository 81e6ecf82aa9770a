//! What differs between two paired connections, and between the two
//! captures in total, ordered by what matters: a handshake that stopped
//! succeeding, new error findings or causes and connections now cut come
//! first; then negotiated parameters; then sizes and counts; then timing.

use super::summary::{ConnSummary, DirSummary, Sizes};
use crate::finding::{Code, Severity};
use crate::record::{Cause, Counts};
use serde::Serialize;
use serde_json::{Value, json};

/// How much a difference matters (the output's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// The handshake, findings, causes, abrupt ends.
    Outcome,
    /// Negotiated parameters and the HTTP exchange.
    Negotiated,
    /// Frames, bytes, message sizes, closes.
    Traffic,
    /// Timing beyond the tolerance.
    Timing,
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub rank: Rank,
    /// What differs, e.g. `handshake`, `finding.unmasked_client_frame`,
    /// `c2s.frames`.
    pub field: String,
    pub before: Value,
    pub after: Value,
    /// AFTER is worse in a way a CI gate should stop on.
    pub regression: bool,
}

fn diff(
    out: &mut Vec<Difference>,
    rank: Rank,
    field: &str,
    before: Value,
    after: Value,
    regression: bool,
) {
    if before != after {
        out.push(Difference {
            rank,
            field: field.to_owned(),
            before,
            after,
            regression,
        });
    }
}

/// The differences between two paired connections. `fail_on`: the lowest
/// severity of a new finding that is a regression; `tolerance`: seconds of
/// timing noise.
pub fn connections(
    b: &ConnSummary,
    a: &ConnSummary,
    fail_on: Severity,
    tolerance: f64,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let o = &mut out;
    diff(
        o,
        Rank::Outcome,
        "handshake_ok",
        json!(b.handshake_ok),
        json!(a.handshake_ok),
        b.handshake_ok && !a.handshake_ok,
    );
    diff(
        o,
        Rank::Outcome,
        "abrupt_end",
        json!(b.abrupt),
        json!(a.abrupt),
        a.abrupt && !b.abrupt,
    );
    findings(o, &b.findings, &a.findings, fail_on);
    causes(o, &b.causes, &a.causes);
    negotiated(o, b, a);
    traffic(o, b, a);
    timing(o, b, a, tolerance);
    out.sort_by_key(|d| d.rank);
    out
}

/// Seconds that differ by more than the tolerance.
fn timing(o: &mut Vec<Difference>, b: &ConnSummary, a: &ConnSummary, tolerance: f64) {
    let mut secs = |field: &str, x: Option<f64>, y: Option<f64>| {
        if let (Some(x), Some(y)) = (x, y)
            && (x - y).abs() > tolerance
        {
            diff(
                o,
                Rank::Timing,
                field,
                json!(round(x)),
                json!(round(y)),
                false,
            );
        }
    };
    secs("idle_before_end_s", b.idle_before_end, a.idle_before_end);
    secs(
        "handshake_latency_s",
        b.handshake_latency,
        a.handshake_latency,
    );
    latency(
        o,
        "reply_latency_us",
        &b.reply_latency,
        &a.reply_latency,
        tolerance,
    );
}

/// Latency percentiles (bucket bounds, in microseconds) that differ by more
/// than the tolerance at p50, p90 or p99.
pub fn latency(o: &mut Vec<Difference>, field: &str, x: &Sizes, y: &Sizes, tolerance: f64) {
    if x.count == 0 || y.count == 0 {
        return;
    }
    let tol_us = (tolerance * 1e6) as u64;
    let p = |s: &Sizes| [s.percentile(50), s.percentile(90), s.percentile(99)];
    if p(x).iter().zip(p(y)).any(|(u, v)| u.abs_diff(v) > tol_us) {
        let show = |s: &Sizes| {
            let [p50, p90, p99] = p(s);
            json!({"p50": p50, "p90": p90, "p99": p99})
        };
        diff(o, Rank::Timing, field, show(x), show(y), false);
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Findings by code: a code new in AFTER at or above `fail_on` regresses.
pub fn findings(out: &mut Vec<Difference>, b: &Counts<Code>, a: &Counts<Code>, fail_on: Severity) {
    let mut codes: Vec<Code> = b.iter().chain(a.iter()).map(|(c, _)| c).collect();
    codes.sort_by_key(|c| c.name());
    codes.dedup();
    for code in codes {
        let (x, y) = (b.get(code), a.get(code));
        let regression = x == 0 && y > 0 && code.severity() >= fail_on;
        let rank = if code.severity() == Severity::Error {
            Rank::Outcome
        } else {
            Rank::Traffic
        };
        diff(
            out,
            rank,
            &format!("findings.{}", code.name()),
            json!(x),
            json!(y),
            regression,
        );
    }
}

/// Diagnosed causes: one new in AFTER is an outcome (not itself a
/// regression: the findings behind it say how bad it is).
pub fn causes(out: &mut Vec<Difference>, b: &[Cause], a: &[Cause]) {
    let names = |v: &[Cause]| {
        let mut n: Vec<&str> = v.iter().map(|c| c.name()).collect();
        n.sort();
        n.dedup();
        n
    };
    diff(
        out,
        Rank::Outcome,
        "diagnosis",
        json!(names(b)),
        json!(names(a)),
        false,
    );
}

fn negotiated(o: &mut Vec<Difference>, b: &ConnSummary, a: &ConnSummary) {
    let n = Rank::Negotiated;
    diff(o, n, "status", json!(b.status), json!(a.status), false);
    diff(
        o,
        n,
        "http_version",
        json!(b.http_version),
        json!(a.http_version),
        false,
    );
    diff(
        o,
        n,
        "upgrade_header",
        json!(b.upgrade),
        json!(a.upgrade),
        false,
    );
    diff(
        o,
        n,
        "connection_header",
        json!(b.connection),
        json!(a.connection),
        false,
    );
    diff(
        o,
        n,
        "accept_ok",
        json!(b.accept_ok),
        json!(a.accept_ok),
        false,
    );
    diff(
        o,
        n,
        "extensions",
        json!(b.extensions),
        json!(a.extensions),
        false,
    );
    diff(
        o,
        n,
        "permessage_deflate",
        json!(b.deflate),
        json!(a.deflate),
        false,
    );
    diff(
        o,
        n,
        "subprotocol",
        json!(b.subprotocol),
        json!(a.subprotocol),
        false,
    );
}

fn traffic(o: &mut Vec<Difference>, b: &ConnSummary, a: &ConnSummary) {
    let t = Rank::Traffic;
    for (name, x, y) in [
        ("c2s", &b.dirs.c2s, &a.dirs.c2s),
        ("s2c", &b.dirs.s2c, &a.dirs.s2c),
    ] {
        direction(o, name, x, y);
    }
    diff(
        o,
        t,
        "close_codes.c2s",
        json!(b.close_codes.c2s),
        json!(a.close_codes.c2s),
        false,
    );
    diff(
        o,
        t,
        "close_codes.s2c",
        json!(b.close_codes.s2c),
        json!(a.close_codes.s2c),
        false,
    );
    let first = |c: &ConnSummary| c.closed_first.map(|d| d.as_str());
    diff(
        o,
        t,
        "closed_first",
        json!(first(b)),
        json!(first(a)),
        false,
    );
    diff(
        o,
        t,
        "end",
        json!(b.end.as_str()),
        json!(a.end.as_str()),
        false,
    );
}

fn direction(o: &mut Vec<Difference>, name: &str, x: &DirSummary, y: &DirSummary) {
    let t = Rank::Traffic;
    diff(
        o,
        t,
        &format!("{name}.frames"),
        json!(x.frames),
        json!(y.frames),
        false,
    );
    diff(
        o,
        t,
        &format!("{name}.payload_bytes"),
        json!(x.payload_bytes),
        json!(y.payload_bytes),
        false,
    );
    diff(
        o,
        t,
        &format!("{name}.opcodes"),
        json!(x.opcode_counts()),
        json!(y.opcode_counts()),
        false,
    );
    diff(
        o,
        t,
        &format!("{name}.messages"),
        json!(x.messages.count),
        json!(y.messages.count),
        false,
    );
    let sizes = |d: &DirSummary| {
        json!({"p50": d.messages.percentile(50), "p90": d.messages.percentile(90),
               "p99": d.messages.percentile(99), "max": d.messages.max})
    };
    diff(
        o,
        t,
        &format!("{name}.message_size"),
        sizes(x),
        sizes(y),
        false,
    );
    diff(
        o,
        t,
        &format!("{name}.compression_ratio"),
        json!(x.compression_ratio()),
        json!(y.compression_ratio()),
        false,
    );
    let codes = |d: &DirSummary| json!(d.findings);
    diff(
        o,
        Rank::Outcome,
        &format!("{name}.findings"),
        codes(x),
        codes(y),
        false,
    );
    diff(
        o,
        t,
        &format!("{name}.max_frames_per_message"),
        json!(x.max_frames_per_message),
        json!(y.max_frames_per_message),
        false,
    );
}
