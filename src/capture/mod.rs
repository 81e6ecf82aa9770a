//! Capture reader: classic pcap, pcapng and their gzip-compressed forms, read
//! as a stream (never the whole file), one packet at a time, each returned
//! as soon as its bytes have arrived (live capture through a pipe works).
//!
//! INTERFACE CONTRACT (the rest of the pipeline codes against exactly this):
//! * [`CaptureReader::open`] takes a path, `-` meaning standard input; the
//!   format is detected from magic bytes (gzip first, then pcap / pcapng),
//!   never from the file name.
//! * [`CaptureReader::next_packet`] lends the next packet; its data borrows the
//!   reader's buffer and is valid until the next call (no per-packet copy).
//!   `Ok(None)` is a clean end of input; `Err` is damage, after which the
//!   reader returns `Ok(None)` forever (everything before it was delivered).
//! * [`CaptureReader::try_advance`] never waits: on a live input (a pipe,
//!   FIFO, terminal or socket, told from a regular file at open) it returns
//!   [`Advance::Idle`] while the next packet's bytes have not all arrived,
//!   keeping those that have; [`CaptureReader::wait`] then waits for more
//!   (a signal ends the wait). `next_packet` and `advance` wait themselves.
//! * Packet numbers are 1-based in file order, counting every packet block
//!   (EPB, SPB, obsolete PB, pcap record), exactly as Wireshark numbers frames.
//!
//! DAMAGE RULES (what is `Truncated`, what is `Corrupt`):
//! * Input that ends inside a file header, record or block is `Truncated`,
//!   with the offset where that record/block starts and what it needed; so
//!   is a gzip stream that stops early. Input ending between records is a
//!   clean end.
//! * A length that cannot be right is `Corrupt`, found before it is used: a
//!   pcapng block shorter than its fixed fields, not a multiple of 4, over
//!   16 MiB, or whose trailing length differs; a pcap record capturing more
//!   than the larger of 256 KiB and the file's snaplen (never over 16 MiB);
//!   a packet block whose captured length overflows it or that names an
//!   interface the section has not described. A pcapng major version
//!   other than 1, or an `if_tsresol`/`if_tsoffset` option of the wrong
//!   size, is `Corrupt` too: guessing would give wrong timestamps.
//! * Timestamps beyond the i64 nanosecond range saturate; pcapng
//!   resolutions finer than a nanosecond round down.
//!
//! HOW IT IS BUILT:
//! * `input` opens the source, undoes gzip (recognised by its magic) and
//!   sniffs the container format from the first bytes.
//! * `live` tells a live input from a regular file and reads it only when
//!   `poll` says it has bytes.
//! * `stream` is the only place that touches the input and its buffer: a
//!   refill buffer that reads only while the block asked for is incomplete,
//!   grows for long blocks up to the 16 MiB cap, and keeps the byte offset
//!   of everything consumed. Read errors come back from the read that failed.
//! * `pcap` and `pcapng` frame one record/block at a time, validate its
//!   lengths before trusting them, and decode it into an owned
//!   `PacketMeta` (timestamp, link type, where the data lies in the buffer).
//!   pcap-parser decodes the file header, SHBs and IDBs; packet blocks are
//!   decoded here because its EPB parser collects options into a `Vec` per
//!   packet, and the hot path must not allocate.
//! * [`CaptureReader`] ties them together and lends each packet from the
//!   buffer, consuming it at the start of the next call.

mod endian;
mod input;
mod live;
mod pcap;
mod pcapng;
mod stream;
pub use stream::{Window, map_window};
#[cfg(test)]
mod tests;

use crate::time::Timestamp;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use pcapng::TsResolution;

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
    /// Asked to stop (see [`CaptureReader::open_until`]) before a live input
    /// gave its file header.
    #[error("{file}: stopped before the capture's file header arrived")]
    Stopped { file: String },
}

impl CaptureError {
    /// The byte offset of the damage, when the error is about one block.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Truncated { offset, .. } | CaptureError::Corrupt { offset, .. } => {
                Some(*offset)
            }
            CaptureError::Io { .. }
            | CaptureError::NotACapture { .. }
            | CaptureError::Stopped { .. } => None,
        }
    }
}

/// What went wrong, before the file name is attached: the format modules do
/// not know (or care) which file they read.
#[derive(Debug)]
pub(crate) enum Fault {
    NotACapture(String),
    Truncated {
        offset: u64,
        expected: String,
    },
    Corrupt {
        offset: u64,
        detail: String,
    },
    Io(io::Error),
    /// A live input has nothing more for now: not damage, try again later.
    Pending,
    /// Asked to stop while waiting for a live input.
    Stopped,
}

impl Fault {
    fn named(self, file: &str) -> CaptureError {
        let file = file.to_owned();
        match self {
            Fault::NotACapture(found) => CaptureError::NotACapture { file, found },
            Fault::Truncated { offset, expected } => CaptureError::Truncated {
                file,
                offset,
                expected,
            },
            Fault::Corrupt { offset, detail } => CaptureError::Corrupt {
                file,
                offset,
                detail,
            },
            Fault::Io(source) => CaptureError::Io { file, source },
            Fault::Stopped => CaptureError::Stopped { file },
            // Never reaches a caller (the reader retries or reports
            // `Advance::Idle`); named as what it is, should it ever.
            Fault::Pending => CaptureError::Io {
                file,
                source: io::ErrorKind::WouldBlock.into(),
            },
        }
    }
}

/// One decoded packet record/block, owned so that deciding what a block is
/// never holds a borrow of the buffer across the read loop.
#[derive(Clone, Debug)]
pub(crate) struct PacketMeta {
    pub ts: Timestamp,
    pub linktype: LinkType,
    pub orig_len: u32,
    /// Where the captured bytes lie, relative to the start of the block.
    pub data: Range<usize>,
    /// Length of the whole record/block, consumed once the packet is done.
    pub block_len: usize,
}

/// Counts for the capture read so far; useful to report what was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packet records/blocks delivered (the last packet number).
    pub packets: u64,
    /// pcapng section header blocks (a classic pcap file counts as one).
    pub sections: u64,
    /// Interface description blocks over all sections (1 for classic pcap).
    pub interfaces: u64,
    /// Known pcapng blocks that carry no packet and were skipped (name
    /// resolution, interface statistics, decryption secrets, custom, ...).
    pub skipped_blocks: u64,
    /// pcapng blocks of a type this reader does not know, skipped.
    pub unknown_blocks: u64,
}

/// How one capture interface records packets (a classic pcap file has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub linktype: LinkType,
    /// Maximum captured length per packet; 0 means "no limit" (pcapng).
    pub snaplen: u32,
    pub ts_resolution: TsResolution,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`).
    pub ts_offset_secs: i64,
}

/// The container-specific half of the reader.
enum Decoder {
    Pcap(pcap::PcapDecoder),
    PcapNg(pcapng::NgDecoder),
}

/// A block looked at ahead of the reading: its length and, for a packet,
/// its link type and bytes.
type Peeked<'a> = (usize, Option<(LinkType, &'a [u8])>);

/// Streaming capture reader.
pub struct CaptureReader {
    name: String,
    compressed: bool,
    buf: stream::BlockBuffer,
    decoder: Decoder,
    /// Length of the packet lent by the last `next_packet`, consumed at the
    /// start of the next call (the lent data lives in the buffer until then).
    lent: usize,
    /// Set once the end or damage was reached: the reader stays finished.
    done: bool,
    /// The packet lent last, for [`CaptureReader::current`].
    current: Option<PacketMeta>,
    /// How far [`CaptureReader::ahead`] has looked: the stream offset of a
    /// block past the current packet's, and the number of the first packet
    /// from there on.
    ahead: (u64, u64),
    stats: ReadStats,
}

/// What [`CaptureReader::try_advance`] moved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// The next packet, lent through [`CaptureReader::current`].
    Packet,
    /// A live input has not given the next packet's bytes yet (its bytes so
    /// far are kept): flush what waits for it, then
    /// [`CaptureReader::wait`] and try again.
    Idle,
    /// The clean end of the input.
    End,
}

/// How far past the current packet a mapped capture is asked for.
const WARM_AHEAD: usize = 16 << 10;

/// An input before its first bytes are looked at.
struct Input {
    source: Box<dyn io::Read + Send>,
    waiter: Option<live::Waiter>,
    mappable: Option<input::Mappable>,
}

/// How long [`CaptureReader::open_until`] waits between two looks at its
/// stop flag (a signal ends the wait sooner).
const STOP_POLL: Duration = Duration::from_millis(100);

impl CaptureReader {
    /// Opens `path` (`-` = standard input), waiting for as long as a live
    /// input takes to give the capture's file header.
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        Self::open_until(path, &AtomicBool::new(false), map_window(1))
    }

    /// Opens `path` like [`Self::open`], giving up with
    /// [`CaptureError::Stopped`] once `stop` is set while a live input has
    /// not yet given the file header (a pipe whose writer is still quiet).
    ///
    /// With `map_window`, an uncompressed regular file is mapped that many
    /// bytes at a time (see [`map_window`]) instead of copied into buffers
    /// of our own; `None` copies.
    pub fn open_until(
        path: &Path,
        stop: &AtomicBool,
        map_window: Option<usize>,
    ) -> Result<CaptureReader, CaptureError> {
        let opened = input::open(path, map_window.is_some())?;
        let waiter = opened.waiter;
        let mut wait = || {
            if let Some(w) = &waiter {
                w.wait(Some(STOP_POLL));
            }
            if stop.load(Ordering::Relaxed) {
                return Err(Fault::Stopped);
            }
            Ok(())
        };
        let input = Input {
            source: opened.source,
            waiter,
            mappable: opened
                .mappable
                .zip(map_window)
                .map(|(file, window)| input::Mappable { file, window }),
        };
        Self::start(&opened.name, input, &mut wait).map_err(|fault| fault.named(&opened.name))
    }

    /// Reads from any byte source; `name` is used in messages. A source
    /// that says `WouldBlock` is read again after a `yield` (it has no
    /// descriptor to wait on).
    pub fn from_reader(
        name: &str,
        input: Box<dyn std::io::Read + Send>,
    ) -> Result<CaptureReader, CaptureError> {
        let mut wait = || {
            std::thread::yield_now();
            Ok(())
        };
        let input = Input {
            source: input,
            waiter: None,
            mappable: None,
        };
        Self::start(name, input, &mut wait).map_err(|fault| fault.named(name))
    }

    fn start(
        name: &str,
        input: Input,
        wait: &mut dyn FnMut() -> Result<(), Fault>,
    ) -> Result<CaptureReader, Fault> {
        let sniffed = input::sniff(input.source, input.waiter, input.mappable, wait)?;
        let compressed = sniffed.compressed;
        let format = sniffed.format;
        let mut buf = stream::BlockBuffer::new(sniffed);
        let (decoder, stats) = match format {
            Format::Pcap => {
                let decoder = pcap::PcapDecoder::from_header(buf.data())?;
                buf.consume(pcap::HEADER_LEN);
                let stats = ReadStats {
                    sections: 1,
                    interfaces: 1,
                    ..ReadStats::default()
                };
                (Decoder::Pcap(decoder), stats)
            }
            Format::PcapNg => {
                // The section header may be longer than the sniffed bytes.
                while let Err(fault) = pcapng::check_first_section(&mut buf) {
                    match fault {
                        Fault::Pending => wait()?,
                        fault => return Err(fault),
                    }
                }
                (
                    Decoder::PcapNg(pcapng::NgDecoder::new()),
                    ReadStats::default(),
                )
            }
        };
        Ok(CaptureReader {
            name: name.to_owned(),
            compressed,
            buf,
            decoder,
            lent: 0,
            done: false,
            current: None,
            ahead: (0, 0),
            stats,
        })
    }

    /// The next packet, `Ok(None)` at the clean end of the input. Waits for
    /// as long as a live input takes to give it.
    pub fn next_packet(&mut self) -> Result<Option<PacketRef<'_>>, CaptureError> {
        loop {
            match self.try_advance()? {
                Advance::Packet => return Ok(self.current()),
                Advance::End => return Ok(None),
                Advance::Idle => self.buf.wait(None),
            }
        }
    }

    /// Moves to the next packet without lending it (see [`Self::current`]);
    /// `Ok(false)` at the clean end. For merging several captures, which
    /// must compare their next packets before taking one.
    pub fn advance(&mut self) -> Result<bool, CaptureError> {
        self.next_packet().map(|p| p.is_some())
    }

    /// Moves to the next packet if its bytes are there, without waiting:
    /// [`Advance::Idle`] when a live input has not given them yet. Every
    /// complete packet already read is returned before the input is read
    /// again. A file never idles.
    #[inline]
    pub fn try_advance(&mut self) -> Result<Advance, CaptureError> {
        self.current = None;
        if self.done {
            return Ok(Advance::End);
        }
        self.buf.consume(std::mem::take(&mut self.lent));
        let step = match &mut self.decoder {
            // Written in place: built apart and then moved here whole, the
            // record's fields were read back as wide words before their
            // narrow stores had landed, a stall on every packet.
            Decoder::Pcap(d) => d.next_into(&mut self.buf, &mut self.current),
            Decoder::PcapNg(d) => d
                .next(&mut self.buf, &mut self.stats)
                .map(|meta| self.current = meta),
        };
        if let Err(fault) = step {
            return self.fault(fault);
        }
        match &self.current {
            Some(meta) => {
                self.lent = meta.block_len;
                self.stats.packets += 1;
                Ok(Advance::Packet)
            }
            None => {
                self.done = true;
                Ok(Advance::End)
            }
        }
    }

    /// Out of the per-packet path: a live input's pause, or damage.
    #[cold]
    fn fault(&mut self, fault: Fault) -> Result<Advance, CaptureError> {
        match fault {
            // Nothing was consumed: the block is framed again next time.
            Fault::Pending => Ok(Advance::Idle),
            fault => {
                self.done = true;
                Err(fault.named(&self.name))
            }
        }
    }

    /// After [`Advance::Idle`]: waits at most `timeout` for the live input
    /// to have bytes (or end); a signal ends the wait early.
    pub fn wait(&self, timeout: Duration) {
        self.buf.wait(Some(timeout));
    }

    /// Whether the input is live (a pipe, FIFO, terminal or socket rather
    /// than a regular file).
    pub fn is_live(&self) -> bool {
        self.buf.is_live()
    }

    /// The packet the last `next_packet`/`advance` moved to, if any.
    pub fn current(&self) -> Option<PacketRef<'_>> {
        let meta = self.current.as_ref()?;
        Some(PacketRef {
            number: self.stats.packets,
            ts: meta.ts,
            linktype: meta.linktype,
            orig_len: meta.orig_len,
            data: &self.buf.data()[meta.data.clone()],
        })
    }

    /// The packet `n` (at least 1) after the current one, its link type and
    /// bytes, if it is already in the buffer: a look ahead (see
    /// [`crate::prefetch`]) that moves nothing and judges nothing. Each
    /// block is stepped over once however often this is asked, as long
    /// as `n` stays the same.
    #[inline]
    pub fn ahead(&mut self, n: u64) -> Option<(LinkType, &[u8])> {
        self.buf.warm(WARM_AHEAD);
        let current = self.current.as_ref()?;
        let here = self.buf.offset();
        let number = self.stats.packets;
        if self.ahead.1 <= number {
            self.ahead = (here + current.block_len as u64, number + 1);
        }
        let data = self.buf.data();
        loop {
            let (at, k) = self.ahead;
            if k > number + n {
                return None;
            }
            let rest = data.get(usize::try_from(at - here).ok()?..)?;
            let (len, packet) = match &self.decoder {
                Decoder::Pcap(d) => d.ahead(rest)?,
                Decoder::PcapNg(d) => d.ahead(rest)?,
            };
            // Past what is handed out: the next call, one packet on, finds
            // its packet at once.
            self.ahead = (at + len as u64, k + u64::from(packet.is_some()));
            if let Some(p) = packet
                && k == number + n
            {
                return Some(p);
            }
        }
    }

    /// The buffer the current packet lies in: held, it keeps the packet's
    /// bytes valid after the reader moves on.
    pub fn window(&self) -> &std::sync::Arc<Window> {
        self.buf.window()
    }

    /// TLS secrets the capture embeds (pcapng Decryption Secrets Blocks)
    /// read since the last call: NSS key log text.
    pub fn take_tls_secrets(&mut self) -> Option<Vec<u8>> {
        match &mut self.decoder {
            Decoder::PcapNg(d) => d.take_secrets(),
            Decoder::Pcap(_) => None,
        }
    }

    pub fn format(&self) -> Format {
        match self.decoder {
            Decoder::Pcap(_) => Format::Pcap,
            Decoder::PcapNg(_) => Format::PcapNg,
        }
    }

    /// The name given at open (the path, or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes of the (decompressed) capture consumed so far; for progress.
    /// The packet last lent counts as consumed.
    pub fn position(&self) -> u64 {
        self.buf.offset() + self.lent as u64
    }

    /// Whether the input was gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Counts of packets, sections, interfaces and skipped blocks so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The interfaces of the current section (for classic pcap, the one
    /// described by the file header), indexed by pcapng interface id.
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        match &self.decoder {
            Decoder::Pcap(d) => std::slice::from_ref(d.interface()),
            Decoder::PcapNg(d) => d.interfaces(),
        }
    }
}
