//! `--conn`, `--only-findings` and `--severity`, as a [`Sink`] in front of
//! any writer, so every format filters the same way.
//!
//! The summary record always passes unchanged: it describes the whole
//! capture (it is also what the exit status is computed from), and a
//! filtered view must not make a broken capture look clean.

use crate::finding::{Finding, Severity};
use crate::record::{Record, Sink};
use std::collections::BTreeSet;
use std::io;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterOptions {
    /// Only these connections (`None` = all).
    pub conns: Option<BTreeSet<u64>>,
    /// Only frames with (shown) findings; connection records are kept.
    pub only_findings: bool,
    /// Findings below this severity are removed from frame and connection
    /// records.
    pub min_severity: Severity,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            conns: None,
            only_findings: false,
            min_severity: Severity::Info,
        }
    }
}

impl FilterOptions {
    /// Whether the filter lets every record through untouched.
    pub fn is_noop(&self) -> bool {
        self.conns.is_none() && !self.only_findings && self.min_severity == Severity::Info
    }
}

pub struct Filter<S> {
    inner: S,
    opts: FilterOptions,
}

impl<S: Sink> Filter<S> {
    pub fn new(inner: S, opts: FilterOptions) -> Filter<S> {
        Filter { inner, opts }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    fn conn_shown(&self, conn: u64) -> bool {
        self.opts.conns.as_ref().is_none_or(|c| c.contains(&conn))
    }

    fn shown(&self, f: &Finding) -> bool {
        f.severity >= self.opts.min_severity
    }
}

impl<S: Sink> Sink for Filter<S> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match r {
            Record::Frame(f) => {
                if !self.conn_shown(f.conn) {
                    return Ok(());
                }
                // Most frames have no finding to remove: pass them by
                // reference, and copy only the rare frame that changes.
                if f.findings.iter().all(|x| self.shown(x)) {
                    if self.opts.only_findings && f.findings.is_empty() {
                        return Ok(());
                    }
                    return self.inner.record(r);
                }
                let mut f = f.clone();
                let min = self.opts.min_severity;
                f.findings.retain(|x| x.severity >= min);
                if self.opts.only_findings && f.findings.is_empty() {
                    return Ok(());
                }
                self.inner.record(Record::Frame(&f))
            }
            Record::Connection(c) => {
                if !self.conn_shown(c.conn) {
                    self.inner.connection_filtered(c.conn);
                    return Ok(());
                }
                if self.opts.min_severity == Severity::Info {
                    return self.inner.record(r);
                }
                let min = self.opts.min_severity;
                let mut c = c.clone();
                c.findings.retain(|x| x.severity >= min);
                c.findings_by_code.retain(|code| code.severity() >= min);
                c.findings_by_severity.retain(|s| s >= min);
                self.inner.record(Record::Connection(&c))
            }
            Record::Summary(_) => self.inner.record(r),
        }
    }

    fn wants_frames(&self) -> bool {
        self.inner.wants_frames()
    }

    fn capture_start(&mut self, ts: crate::time::Timestamp) {
        self.inner.capture_start(ts);
    }

    fn connection_filtered(&mut self, conn: u64) {
        self.inner.connection_filtered(conn);
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Code;
    use crate::record::{FrameRecord, SummaryRecord};
    use crate::report::frame_json::write_frame;
    use crate::report::preview::PayloadMode;
    use crate::tcp::Dir;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Sink for Collect {
        fn record(&mut self, r: Record<'_>) -> io::Result<()> {
            let text = match r {
                Record::Frame(f) => {
                    let mut out = Vec::new();
                    write_frame(f, PayloadMode::None, &mut String::new(), &mut out);
                    String::from_utf8(out).unwrap()
                }
                r => serde_json::to_string(&r).unwrap(),
            };
            self.0.push(text);
            Ok(())
        }
    }

    fn frame(conn: u64, codes: &[Code]) -> FrameRecord {
        let mut f = FrameRecord::empty(conn, Dir::ClientToServer);
        f.findings = codes.iter().map(|&c| Finding::new(c, "x")).collect();
        f
    }

    fn run(opts: FilterOptions, frames: &[FrameRecord]) -> Vec<String> {
        let mut f = Filter::new(Collect::default(), opts);
        for fr in frames {
            f.record(Record::Frame(fr)).unwrap();
        }
        let s = SummaryRecord::default();
        f.record(Record::Summary(&s)).unwrap();
        f.into_inner().0
    }

    #[test]
    fn filters() {
        let frames = [
            frame(0, &[]),
            frame(1, &[Code::UnmaskedClientFrame]),
            frame(2, &[Code::CaptureGap]),
        ];
        assert_eq!(run(FilterOptions::default(), &frames).len(), 4);
        let only = FilterOptions {
            only_findings: true,
            ..Default::default()
        };
        assert_eq!(run(only.clone(), &frames).len(), 3);
        let err = FilterOptions {
            min_severity: Severity::Error,
            ..only
        };
        let out = run(err, &frames);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("unmasked_client_frame"));
        assert!(out[1].contains("\"summary\""));
        let conn = FilterOptions {
            conns: Some([2].into_iter().collect()),
            ..Default::default()
        };
        let out = run(conn, &frames);
        assert_eq!(out.len(), 2);
        assert!(out[0].contains("\"conn\":2"));
        // Severity alone hides findings but keeps the frame.
        let warn = FilterOptions {
            min_severity: Severity::Warning,
            ..Default::default()
        };
        let out = run(warn, &frames);
        assert_eq!(out.len(), 4);
        assert!(out[2].contains("\"findings\":[]"));
    }
}
