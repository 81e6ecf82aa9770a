//! JSON Lines: one record per line, written as the capture is read, so a
//! consumer (jq, a log shipper) sees the first frames before the capture is
//! finished. The schema is in docs/records.md.

use crate::analyze::Sink;
use crate::record::Record;
use std::io::{self, BufWriter, Write};

pub struct JsonlWriter<W: Write> {
    w: BufWriter<W>,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(w: W) -> JsonlWriter<W> {
        JsonlWriter {
            w: BufWriter::with_capacity(64 * 1024, w),
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

impl<W: Write> Sink for JsonlWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, &r).map_err(io::Error::from)?;
        self.w.write_all(b"\n")
    }
}
