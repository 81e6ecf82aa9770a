//! The input buffer: a refill buffer of our own over the decompressed
//! capture (a `Vec<u8>` with a window of unread bytes), and the byte offset
//! of everything consumed from it.
//!
//! The format modules frame each block themselves: they read its declared
//! length, check it, then [`BlockBuffer::fill`] exactly that many bytes.
//! Filling reads only while the block is incomplete, one `read` at a time,
//! so a packet arriving through a pipe is returned as soon as its last byte
//! is there; each read still asks for all the free space, so a file is read
//! in large blocks. A read error is returned from the read that failed,
//! mapped to a fault at the block being read.
//!
//! A live input (see `live`) has nothing to give at times: its read says
//! `WouldBlock`, and filling stops with [`Fault::Pending`], keeping what was
//! read. Nothing is consumed before a whole block is there, so the format
//! modules simply frame the same block again on the next call.
//!
//! Compressed live input has one blind spot: the gzip decoder reads its
//! input before handing over what it already inflated beyond the room of
//! the last read, so bytes it holds back wait for the next input. Reads
//! offer all the free space (most of 256 KiB), far more than a live input
//! gives at once, so it holds bytes back only when the input outruns us,
//! and then more input comes soon.

use super::Fault;
use super::input::{Sniffed, io_fault};
use super::live::Waiter;
use pcap_parser::PcapError;
use std::io::{self, Read};
use std::time::Duration;

/// Big enough for any ordinary packet (and a jumbo frame) many times over,
/// and the most a single read asks for until a longer block grows it.
const INITIAL_CAPACITY: usize = 256 * 1024;

/// The buffer never grows beyond this, so neither may a record or block: a
/// hostile length becomes a `Corrupt` error instead of an allocation.
pub(crate) const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
pub(crate) const MAX_BLOCK_LEN_TEXT: &str = "16 MiB (16777216 bytes)";

pub(crate) struct BlockBuffer {
    source: Box<dyn Read + Send>,
    /// Always fully initialised (zeroed when allocated or grown), so reads
    /// can go straight into its free tail.
    buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes of the decompressed capture consumed so far; the offset of the
    /// first byte of `data()`.
    offset: u64,
    compressed: bool,
    /// Set for a live input: what to wait on when it has nothing.
    waiter: Option<Waiter>,
}

impl BlockBuffer {
    /// Reads `input` from its start: the sniffed first bytes are the
    /// first data.
    pub fn new(input: Sniffed) -> Self {
        let mut buf = vec![0; INITIAL_CAPACITY];
        buf[..input.header.len()].copy_from_slice(&input.header);
        BlockBuffer {
            source: input.rest,
            end: input.header.len(),
            buf,
            start: 0,
            offset: 0,
            compressed: input.compressed,
            waiter: input.waiter,
        }
    }

    /// Waits at most `timeout` (`None`: no limit) for a live input that
    /// had nothing to have bytes; returns early on a signal.
    pub fn wait(&self, timeout: Option<Duration>) {
        match &self.waiter {
            Some(w) => w.wait(timeout),
            // A source of another kind that said `WouldBlock` (tests): let
            // its writer run.
            None => std::thread::yield_now(),
        }
    }

    pub fn is_live(&self) -> bool {
        self.waiter.is_some()
    }

    /// The bytes available from the current offset on.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops `len` bytes (at most `data().len()`) from the front.
    pub fn consume(&mut self, len: usize) {
        debug_assert!(len <= self.end - self.start);
        self.start += len;
        self.offset += len as u64;
        if self.start == self.end {
            // Empty: the next read may use the whole buffer, with no copy.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes `len` bytes available at the front of `data()`, unless the input
    /// ends first. Returns how many are available: at least `len`, or fewer
    /// only when that is all the input has left. [`Fault::Pending`] when a
    /// live input has nothing more for now (what it gave stays buffered).
    #[inline]
    pub fn fill(&mut self, len: usize) -> Result<usize, Fault> {
        // Nearly always there already: only the rare read is a call.
        if self.end - self.start >= len {
            return Ok(self.end - self.start);
        }
        self.fill_slow(len)
    }

    #[cold]
    fn fill_slow(&mut self, len: usize) -> Result<usize, Fault> {
        while self.end - self.start < len {
            self.grow(len)?;
            if self.refill()? == 0 {
                break;
            }
        }
        Ok(self.end - self.start)
    }

    /// One `read` into all the free space, returning what it gave; 0 is the
    /// end of input (there is always room: only called for an incomplete
    /// block that fits). A read gives what the input has, often less than
    /// asked (a pipe); only a file at full speed fills the buffer.
    fn refill(&mut self) -> Result<usize, Fault> {
        if self.start > 0 {
            // Everything unread is the start of the one incomplete block, so
            // moving it is cheap, and it lets the read use the whole tail.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Err(Fault::Pending),
                Err(err) => return Err(io_fault(err, self.offset, self.compressed)),
            }
        }
    }

    /// Room for a `len`-byte block: doubles the buffer until it fits, never
    /// beyond [`MAX_BLOCK_LEN`], and never shrinks it.
    fn grow(&mut self, len: usize) -> Result<(), Fault> {
        if len <= self.buf.len() {
            return Ok(());
        }
        if len > MAX_BLOCK_LEN {
            // Framing rejects such lengths first; this keeps the cap here too.
            return Err(Fault::Corrupt {
                offset: self.offset,
                detail: format!("a {len}-byte block exceeds the {MAX_BLOCK_LEN_TEXT} limit"),
            });
        }
        let capacity = len.next_power_of_two().min(MAX_BLOCK_LEN);
        self.buf.resize(capacity, 0);
        Ok(())
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
