//! The input buffer: a pcap-parser streaming reader used as a growable
//! circular buffer, and the byte offset of everything consumed from it.
//!
//! The format modules frame each block themselves (they read its declared
//! length, check it, then ask for exactly that many bytes) rather than rely on
//! `PcapReaderIterator::next`: its `Incomplete`/`BufferTooSmall` do not say
//! how long the block claims to be, which we need both to grow the buffer
//! sensibly and to say precisely what a truncated file is missing.

use super::input::{Sniffed, io_fault};
use super::{Fault, pcapng};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapError, PcapNGReader};
use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

/// Big enough for any ordinary packet (and a jumbo frame) many times over.
pub(crate) const INITIAL_CAPACITY: usize = 256 * 1024;

/// The buffer never grows beyond this, so neither may a record or block: a
/// hostile length becomes a `Corrupt` error instead of an allocation.
pub(crate) const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
pub(crate) const MAX_BLOCK_LEN_TEXT: &str = "16 MiB (16777216 bytes)";

pub(crate) struct BlockBuffer {
    inner: Box<dyn PcapReaderIterator + Send>,
    capacity: usize,
    /// Bytes of the decompressed capture consumed so far; the offset of the
    /// first byte of `data()`.
    offset: u64,
    compressed: bool,
    read_error: ErrorSlot,
}

impl BlockBuffer {
    /// For a classic pcap file; the 24-byte file header is the first data.
    pub fn pcap(input: Sniffed) -> Result<Self, Fault> {
        let compressed = input.compressed;
        let (feed, read_error) = Feed::new(input);
        let inner = LegacyPcapReader::new(INITIAL_CAPACITY, feed)
            .map_err(|e| open_fault(e, &read_error, compressed, "the pcap file header"))?;
        Ok(Self::with(
            Box::new(inner),
            INITIAL_CAPACITY,
            compressed,
            read_error,
        ))
    }

    /// For a pcapng file whose first block (an SHB) is `shb_len` bytes long:
    /// pcap-parser insists on finding it whole in its first read.
    pub fn pcapng(input: Sniffed, shb_len: usize) -> Result<Self, Fault> {
        let compressed = input.compressed;
        let capacity = shb_len
            .next_power_of_two()
            .clamp(INITIAL_CAPACITY, MAX_BLOCK_LEN);
        let (feed, read_error) = Feed::new(input);
        let what = format!("a {shb_len}-byte {}", pcapng::block_name(pcapng::SHB));
        let inner = PcapNGReader::new(capacity, feed)
            .map_err(|e| open_fault(e, &read_error, compressed, &what))?;
        Ok(Self::with(
            Box::new(inner),
            capacity,
            compressed,
            read_error,
        ))
    }

    fn with(
        inner: Box<dyn PcapReaderIterator + Send>,
        capacity: usize,
        compressed: bool,
        read_error: ErrorSlot,
    ) -> Self {
        BlockBuffer {
            inner,
            capacity,
            offset: 0,
            compressed,
            read_error,
        }
    }

    /// The bytes available from the current offset on.
    pub fn data(&self) -> &[u8] {
        self.inner.data()
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn consume(&mut self, len: usize) {
        self.inner.consume(len);
        self.offset += len as u64;
    }

    /// Makes `len` bytes available at the front of `data()`, unless the input
    /// ends first. Returns how many are available: at least `len`, or fewer
    /// only when that is all the input has left.
    pub fn fill(&mut self, len: usize) -> Result<usize, Fault> {
        loop {
            let available = self.inner.data().len();
            if available >= len || self.inner.reader_exhausted() {
                return Ok(available);
            }
            self.make_room(len)?;
            // Each refill either adds bytes, marks the reader exhausted, or
            // fails: the loop always ends.
            if self.inner.refill().is_err() {
                return Err(self.read_fault());
            }
        }
    }

    fn make_room(&mut self, len: usize) -> Result<(), Fault> {
        if len <= self.capacity {
            return Ok(());
        }
        if len > MAX_BLOCK_LEN {
            // Framing rejects such lengths first; this keeps the cap here too.
            return Err(Fault::Corrupt {
                offset: self.offset,
                detail: format!("a {len}-byte block exceeds the {MAX_BLOCK_LEN_TEXT} limit"),
            });
        }
        let mut capacity = self.capacity;
        while capacity < len {
            capacity *= 2;
        }
        self.capacity = capacity.min(MAX_BLOCK_LEN);
        self.inner.grow(self.capacity);
        Ok(())
    }

    fn read_fault(&self) -> Fault {
        match self.read_error.take() {
            Some(err) => io_fault(err, self.offset, self.compressed),
            None => Fault::Io(io::Error::other("reading the capture failed")),
        }
    }
}

/// Errors of pcap-parser's reader constructors, which read and check the
/// file header (`what`) before we see any of it.
fn open_fault(
    err: PcapError<&[u8]>,
    read_error: &ErrorSlot,
    compressed: bool,
    what: &str,
) -> Fault {
    match err {
        PcapError::ReadError => match read_error.take() {
            Some(err) => io_fault(err, 0, compressed),
            None => Fault::Io(io::Error::other("reading the capture failed")),
        },
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => Fault::Truncated {
            offset: 0,
            expected: format!("{what}, but the input ends inside it"),
        },
        other => Fault::Corrupt {
            offset: 0,
            detail: format!("{what} cannot be parsed ({})", parser_complaint(&other)),
        },
    }
}

/// Where [`Feed`] leaves the `io::Error` that pcap-parser's `refill` would
/// otherwise flatten into `PcapError::ReadError` (we need its kind: a cut
/// gzip stream is truncation, not an I/O failure). Shared because the reader
/// owns the `Feed`.
#[derive(Clone, Default)]
struct ErrorSlot(Arc<Mutex<Option<io::Error>>>);

impl ErrorSlot {
    fn put(&self, err: io::Error) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(err);
    }

    fn take(&self) -> Option<io::Error> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// The byte source handed to pcap-parser. Each `read` fills the whole buffer
/// unless the input ends, because the reader constructors read only once and
/// need the entire file header from that read (stdin and gzip return short
/// reads). An error is kept in the slot; bytes read before it are returned
/// first so that every packet before the damage is still delivered.
struct Feed {
    source: Box<dyn Read + Send>,
    read_error: ErrorSlot,
    failed: bool,
}

impl Feed {
    fn new(input: Sniffed) -> (Feed, ErrorSlot) {
        let read_error = ErrorSlot::default();
        let feed = Feed {
            source: Box::new(Cursor::new(input.header).chain(input.rest)),
            read_error: read_error.clone(),
            failed: false,
        };
        (feed, read_error)
    }
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !self.failed {
            match self.source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    self.failed = true;
                    self.read_error.put(err);
                }
            }
        }
        if filled == 0 && self.failed {
            return Err(io::Error::other("the input failed earlier"));
        }
        Ok(filled)
    }
}

/// A pcap-parser error in words, without the input bytes its `Display`
/// would dump (a whole block, for a parse failure).
pub(crate) fn parser_complaint<I>(err: &PcapError<I>) -> String {
    match err {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("{} check failed", kind.description())
        }
        PcapError::HeaderNotRecognized => "header not recognised".to_owned(),
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            "data ends early".to_owned()
        }
        PcapError::BufferTooSmall => "buffer too small".to_owned(),
        PcapError::ReadError => "read error".to_owned(),
    }
}

/// Same, for the `nom::Err` wrapper returned by pcap-parser's block parsers.
pub(crate) fn nom_complaint<I>(err: &pcap_parser::nom::Err<PcapError<I>>) -> String {
    match err {
        pcap_parser::nom::Err::Incomplete(_) => "data ends early".to_owned(),
        pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e) => parser_complaint(e),
    }
}
