//! `--conn`, `--only-findings` and `--severity`, as a [`Sink`] in front of
//! any writer, so every format filters the same way.
//!
//! The summary record always passes unchanged: it describes the whole
//! capture (it is also what the exit status is computed from), and a
//! filtered view must not make a broken capture look clean.

use crate::analyze::Sink;
use crate::finding::{Code, Finding, Severity};
use crate::record::Record;
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

/// The severity of a finding code given by name (`findings_by_code` keys).
fn code_severity(name: &str) -> Option<Severity> {
    Code::ALL
        .iter()
        .find(|c| c.name() == name)
        .map(|c| c.severity())
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
                    return Ok(());
                }
                if self.opts.min_severity == Severity::Info {
                    return self.inner.record(r);
                }
                let min = self.opts.min_severity;
                let mut c = c.clone();
                c.findings.retain(|x| x.severity >= min);
                // An unknown name (a code newer than this filter) is kept:
                // hiding what we cannot judge would be the worse mistake.
                c.findings_by_code
                    .retain(|name, _| code_severity(name).is_none_or(|s| s >= min));
                c.findings_by_severity
                    .retain(|name, _| Severity::parse(name).is_none_or(|s| s >= min));
                self.inner.record(Record::Connection(&c))
            }
            Record::Summary(_) => self.inner.record(r),
        }
    }

    fn wants_frames(&self) -> bool {
        self.inner.wants_frames()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FrameRecord, SummaryRecord};
    use crate::time::Timestamp;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Sink for Collect {
        fn record(&mut self, r: Record<'_>) -> io::Result<()> {
            self.0.push(serde_json::to_string(&r).unwrap());
            Ok(())
        }
    }

    fn frame(conn: u64, codes: &[Code]) -> FrameRecord {
        FrameRecord {
            kind: "frame",
            conn,
            dir: "c2s",
            index: 0,
            packet: 1,
            last_packet: 1,
            ts: Timestamp(0),
            offset: 0,
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: "text",
            opcode_value: 1,
            masked: true,
            mask_key: None,
            payload_len: 1,
            header_len: 6,
            compressed: false,
            close_code: None,
            close_reason: None,
            preview: None,
            payload_missing: 0,
            complete: true,
            findings: codes.iter().map(|&c| Finding::new(c, "x")).collect(),
        }
    }

    fn run(opts: FilterOptions, frames: &[FrameRecord]) -> Vec<String> {
        let mut f = Filter::new(Collect::default(), opts);
        for fr in frames {
            f.record(Record::Frame(fr)).unwrap();
        }
        let s = SummaryRecord {
            kind: "summary",
            ..Default::default()
        };
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
