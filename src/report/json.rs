//! One JSON document for the whole run:
//!
//! ```text
//! {"records":[
//! {"type":"frame",...},
//! {"type":"connection",...},
//! ...
//! ],
//! "summary":{"type":"summary",...}}
//! ```
//!
//! `records` holds the frame and connection records in the order the
//! JSON Lines output has them (a connection's record follows its frames);
//! `summary` is the summary record. The records are the same objects as in
//! JSON Lines (docs/records.md).
//!
//! One array in stream order rather than separate `frames` and
//! `connections` arrays: that way each record is written as soon as it
//! arrives and memory stays flat however large the capture; two arrays
//! would need one of them held back until the end.

use super::conn_json::write_connection;
use super::frame_json::write_frame;
use super::preview::PayloadMode;
use crate::record::{Record, Sink};
use std::io::{self, BufWriter, Write};

pub struct JsonWriter<W: Write> {
    w: BufWriter<W>,
    /// Records written so far (for the commas).
    records: u64,
    /// The summary has been written and the document closed.
    closed: bool,
    started: bool,
    preview: PayloadMode,
    /// Reused for each record and frames' previews.
    frame: Vec<u8>,
    scratch: String,
}

impl<W: Write> JsonWriter<W> {
    /// Frame previews are rendered in `preview`.
    pub fn new(w: W, preview: PayloadMode) -> JsonWriter<W> {
        JsonWriter {
            w: BufWriter::with_capacity(64 * 1024, w),
            records: 0,
            closed: false,
            started: false,
            preview,
            frame: Vec::new(),
            scratch: String::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.w.write_all(b"{\"records\":[\n")?;
        }
        Ok(())
    }

    /// Closes the document (with `"summary":null` if no summary came, so
    /// the output still parses) and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.closed {
            self.start()?;
            self.w.write_all(b"\n],\n\"summary\":null}\n")?;
            self.closed = true;
        }
        self.w.flush()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

impl<W: Write> Sink for JsonWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        if self.closed {
            // Nothing follows the summary in a run; ignore rather than
            // write an invalid document.
            return Ok(());
        }
        self.start()?;
        self.frame.clear();
        match r {
            Record::Summary(_) => {
                self.w.write_all(b"\n],\n\"summary\":")?;
                serde_json::to_writer(&mut self.w, &r).map_err(io::Error::from)?;
                self.w.write_all(b"}\n")?;
                self.closed = true;
                return Ok(());
            }
            Record::Frame(f) => write_frame(f, self.preview, &mut self.scratch, &mut self.frame),
            Record::Connection(c) => write_connection(c, &mut self.frame),
        }
        if self.records > 0 {
            self.w.write_all(b",\n")?;
        }
        self.records += 1;
        self.w.write_all(&self.frame)?;
        Ok(())
    }

    /// The document so far (it is completed at the end).
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SummaryRecord;

    #[test]
    fn empty_and_summary_only_documents_parse() {
        let w = JsonWriter::new(Vec::new(), PayloadMode::Text);
        let out = w.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 0);
        assert!(v["summary"].is_null());

        let mut w = JsonWriter::new(Vec::new(), PayloadMode::Text);
        let s = SummaryRecord::default();
        w.record(Record::Summary(&s)).unwrap();
        let out = w.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["summary"]["type"], "summary");
    }
}
