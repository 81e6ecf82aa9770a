//! Capture reader: classic pcap, pcapng and their gzip-compressed forms, read
//! as a stream (never the whole file), one packet at a time.
//!
//! INTERFACE CONTRACT (the rest of the pipeline codes against exactly this):
//! * [`CaptureReader::open`] takes a path, `-` meaning standard input; the
//!   format is detected from magic bytes (gzip first, then pcap / pcapng),
//!   never from the file name.
//! * [`CaptureReader::next_packet`] lends the next packet; its data borrows the
//!   reader's buffer and is valid until the next call (no per-packet copy).
//!   `Ok(None)` is a clean end of input; `Err` is damage, after which the
//!   reader returns `Ok(None)` forever (everything before it was delivered).
//! * Packet numbers are 1-based in file order, counting every packet block
//!   (EPB, SPB, obsolete PB, pcap record), exactly as Wireshark numbers frames.

use crate::time::Timestamp;
use std::path::Path;

/// A link-layer header type (pcap `LINKTYPE_*` value). A newtype so that
/// values we do not know survive to be counted and reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// Which container the input turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct PacketRef<'a> {
    /// 1-based packet number, as Wireshark shows it.
    pub number: u64,
    pub ts: Timestamp,
    pub linktype: LinkType,
    /// Length of the packet on the wire (may exceed `data.len()` when the
    /// snaplen cut it).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Damage or failure while reading a capture. Every variant names the file
/// and, where there is one, the byte offset (in the decompressed stream) of
/// the block that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: not a pcap or pcapng capture (starts with {found}; expected pcap magic a1b2c3d4/a1b23c4d in either byte order, pcapng 0a0d0d0a, or gzip 1f8b)"
    )]
    NotACapture { file: String, found: String },
    #[error("{file}: truncated at byte {offset}: {expected}")]
    Truncated {
        file: String,
        offset: u64,
        expected: String,
    },
    #[error("{file}: corrupt data at byte {offset}: {detail}")]
    Corrupt {
        file: String,
        offset: u64,
        detail: String,
    },
}

/// Streaming capture reader.
pub struct CaptureReader {
    _private: (),
}

impl CaptureReader {
    /// Opens `path` (`-` = standard input).
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        let _ = path;
        unimplemented!("capture reader")
    }

    /// Reads from any byte source; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        input: Box<dyn std::io::Read + Send>,
    ) -> Result<CaptureReader, CaptureError> {
        let _ = (name, input);
        unimplemented!("capture reader")
    }

    /// The next packet, `Ok(None)` at the clean end of the input.
    pub fn next_packet(&mut self) -> Result<Option<PacketRef<'_>>, CaptureError> {
        unimplemented!("capture reader")
    }

    pub fn format(&self) -> Format {
        unimplemented!("capture reader")
    }

    /// The name given at open (the path, or `-`).
    pub fn name(&self) -> &str {
        unimplemented!("capture reader")
    }

    /// Bytes of the (decompressed) capture consumed so far; for progress.
    pub fn position(&self) -> u64 {
        unimplemented!("capture reader")
    }
}
