//! Report writers: each turns the stream of [`Record`](crate::record::Record)s
//! into one output format. They know nothing of captures or protocols.
//!
//! * [`jsonl`]: one record a line, streamed (the machine format).
//! * [`json`]: one document, also streamed.
//! * [`frame_json`]: a frame record as JSON, written by hand for both.
//! * [`preview`]: payload previews rendered as text, hex or base64.
//! * [`table`]: a block per connection for a terminal.
//! * [`summary`]: the totals only, as text.
//! * [`zeek`]: Zeek's websocket.log, as text or JSON lines.
//! * [`diff`]: `wscap diff`'s records and table.
//! * [`explain`]: `wscap explain` and `wscap codes`.
//! * [`filter`]: the connection filters, `--only-findings` and
//!   `--severity`, in front of any of them.
//! * [`pcap_out`]: `--write-pcap`, the packets of the connections that
//!   pass the filters.
//! * [`wireshark`]: display filters for a connection and a packet.
//!
//! The schema of the records is in docs/records.md.

pub mod conn_json;
pub mod diff;
pub mod explain;
pub mod filter;
pub mod frame_json;
pub mod json;
pub mod jsonl;
pub mod pcap_out;
pub mod preview;
pub mod summary;
pub mod table;
pub mod term;
pub mod zeek;

/// Wireshark display filters (`tcp.stream eq N`, `frame.number == N`).
pub use crate::record::wireshark;

pub use filter::{Filter, FilterOptions, IpNet, Verdict};
pub use json::JsonWriter;
pub use jsonl::JsonlWriter;
pub use pcap_out::PacketTap;
pub use preview::PayloadMode;
pub use summary::SummaryWriter;
pub use table::{TableOptions, TableWriter, TimeMode};
pub use term::{ProgressDisplay, Style, Suspend};
pub use zeek::{ZeekStyle, ZeekWriter};

use crate::record::{Record, Sink};
use std::io::{self, Write};

/// Any of the writers, chosen at run time (an enum rather than a trait
/// object: `pipeline::run` is generic over its sink, and each writer has
/// its own `finish`).
pub enum Writer<W: Write> {
    Jsonl(JsonlWriter<W>),
    Json(JsonWriter<W>),
    Table(TableWriter<W>),
    Summary(SummaryWriter<W>),
    Zeek(ZeekWriter<W>),
}

impl<W: Write> Writer<W> {
    /// Flushes (and for JSON closes the document), returning the output.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Writer::Jsonl(w) => w.finish(),
            Writer::Json(w) => w.finish(),
            Writer::Table(w) => w.finish(),
            Writer::Summary(w) => w.finish(),
            Writer::Zeek(w) => w.finish(),
        }
    }
}

impl<W: Write> Sink for Writer<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        match self {
            Writer::Jsonl(w) => w.record(r),
            Writer::Json(w) => w.record(r),
            Writer::Table(w) => w.record(r),
            Writer::Summary(w) => w.record(r),
            Writer::Zeek(w) => w.record(r),
        }
    }

    fn wants_frames(&self) -> bool {
        match self {
            Writer::Jsonl(w) => w.wants_frames(),
            Writer::Json(w) => w.wants_frames(),
            Writer::Table(w) => w.wants_frames(),
            Writer::Summary(w) => w.wants_frames(),
            Writer::Zeek(w) => w.wants_frames(),
        }
    }

    fn capture_start(&mut self, ts: crate::time::Timestamp) {
        if let Writer::Table(w) = self {
            w.capture_start(ts);
        }
    }

    fn connection_filtered(&mut self, conn: u64) {
        if let Writer::Table(w) = self {
            w.connection_filtered(conn);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Jsonl(w) => w.flush(),
            Writer::Json(w) => w.flush(),
            Writer::Table(w) => w.flush(),
            Writer::Summary(w) => w.flush(),
            Writer::Zeek(w) => w.flush(),
        }
    }
}
