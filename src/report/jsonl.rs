//! JSON Lines: one record per line, written as the capture is read, so a
//! consumer (jq, a log shipper) sees the first frames before the capture is
//! finished. The schema is in docs/records.md.

use super::conn_json::write_connection;
use super::frame_json::write_frame;
use super::preview::PayloadMode;
use crate::record::{Record, Sink};
use std::io::{self, Write};

/// Bytes gathered before a write to the output (or until the input goes
/// idle, see [`Sink::flush`]).
const CHUNK: usize = 64 * 1024;

pub struct JsonlWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    preview: PayloadMode,
    /// Reused for rendering previews.
    scratch: String,
}

impl<W: Write> JsonlWriter<W> {
    /// Frame previews are rendered in `preview`.
    pub fn new(w: W, preview: PayloadMode) -> JsonlWriter<W> {
        JsonlWriter {
            w,
            buf: Vec::with_capacity(CHUNK + 4096),
            preview,
            scratch: String::new(),
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()?;
        Ok(self.w)
    }
}

impl<W: Write> Sink for JsonlWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match r {
            // Frames are most of the output, and connections end in bursts:
            // both written by hand (same bytes).
            Record::Frame(f) => write_frame(f, self.preview, &mut self.scratch, &mut self.buf),
            Record::Connection(c) => write_connection(c, &mut self.buf),
            other => serde_json::to_writer(&mut self.buf, &other).map_err(io::Error::from)?,
        }
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }
}
