//! The input buffer: a refill buffer of our own over the decompressed
//! capture (a `Vec<u8>` with a window of unread bytes), and the byte offset
//! of everything consumed from it.
//!
//! An uncompressed regular file is not read but mapped, a few MiB at a
//! time ([`MAP_WINDOW`]), each window starting at the first unread byte:
//! the kernel's copy into our buffers was 40% of the reading thread on
//! mixed traffic. Its pages come from memory rather than from a copy that
//! just went through the cache, so the reader asks for them a little ahead
//! ([`BlockBuffer::warm`]). A window is shared like a buffer and unmapped
//! when its last user lets go. `--no-mmap` reads such files like the rest.
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
use super::input::{Mappable, Sniffed, io_fault};
use super::live::Waiter;
use pcap_parser::PcapError;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

/// Big enough for any ordinary packet (and a jumbo frame) many times over,
/// and the most a single read asks for until a longer block grows it.
const INITIAL_CAPACITY: usize = 256 * 1024;

/// The buffer never grows beyond this, so neither may a record or block: a
/// hostile length becomes a `Corrupt` error instead of an allocation.
pub(crate) const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
pub(crate) const MAX_BLOCK_LEN_TEXT: &str = "16 MiB (16777216 bytes)";

pub(crate) struct BlockBuffer {
    source: Source,
    /// Shared: a packet handed to another thread names its bytes here
    /// instead of copying them, so the buffer is written into only while
    /// nobody else holds it; otherwise reading goes on in another.
    buf: Arc<Window>,
    /// Buffers handed over earlier, reused once their last user lets go.
    spare: Vec<Arc<Window>>,
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

/// Where the bytes come from.
enum Source {
    /// Read (copied) into buffers of our own: a pipe, a gzip stream.
    Stream(Box<dyn Read + Send>),
    /// A regular file, uncompressed: its page cache mapped window by window.
    Mapped(MappedFile),
}

struct MappedFile {
    file: File,
    /// How much to map at once ([`map_window`]).
    window: usize,
    /// The file's length when last looked at: one still being written is
    /// looked at again on reaching it.
    len: u64,
    /// The current window is asked for (`prefetch`) up to here: its bytes
    /// come from memory, not from a copy that just went through the cache.
    warm: usize,
}

/// How much of a mapped file is mapped at once (more for a longer block).
/// Each window mapped and unmapped costs page tables and, with two
/// threads, a TLB flush on the other core: 2 MiB windows made mixed
/// traffic 10% slower than 4 MiB; 8 MiB gained 3% more for 10 MiB more
/// resident (a window counts while a batch in flight names it).
const MAP_WINDOW: usize = 4 << 20;

/// What the files read at once may hold mapped together: merged files are
/// all open, and when their packets interleave (interfaces captured side
/// by side) each holds its window. Forty of them at 4 MiB each held 180
/// MiB where read buffers had held 30.
const MAPPED_TOGETHER: usize = 16 << 20;

/// Smaller windows than this cost more than copying does (256 KiB and
/// 512 KiB windows were slower than copying on small messages).
const MIN_MAP_WINDOW: usize = 2 << 20;

/// The window to map each of `files` files read together by, or `None`
/// when so many are read together that copying them is cheaper.
pub fn map_window(files: usize) -> Option<usize> {
    let share = MAPPED_TOGETHER / files.max(1);
    (share >= MIN_MAP_WINDOW).then(|| share.min(MAP_WINDOW))
}

/// A buffer of the capture's bytes, shared with what still points into it.
pub struct Window {
    bytes: Storage,
}

enum Storage {
    /// Always fully initialised (zeroed when allocated), so reads can go
    /// straight into its free tail.
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Window {
    fn zeroed(len: usize) -> Arc<Window> {
        Arc::new(Window {
            bytes: Storage::Owned(vec![0; len]),
        })
    }

    /// `len` bytes of `file` from `at`, mapped with their pages in place.
    fn map(file: &File, at: u64, len: usize) -> io::Result<Arc<Window>> {
        guard_truncation();
        // SAFETY: the mapping is read-only and private; it aliases the page
        // cache, so a file changed under us shows changed bytes (which the
        // analysis copes with as with any damaged capture) and one
        // truncated under us faults (see `guard_truncation`).
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(len)
                .populate()
                .map(file)?
        };
        Ok(Arc::new(Window {
            bytes: Storage::Mapped(map),
        }))
    }

    /// A window holding `bytes`, for tests of what names bytes in one.
    #[cfg(test)]
    pub(crate) fn for_test(bytes: Vec<u8>) -> Arc<Window> {
        Arc::new(Window {
            bytes: Storage::Owned(bytes),
        })
    }

    /// `bytes` as the mapped pages of a file (written to the temporary
    /// directory and removed: the mapping outlives its name).
    #[cfg(test)]
    pub(crate) fn mapped_for_test(name: &str, bytes: &[u8]) -> Arc<Window> {
        let file = crate::test_util::TempFile::holding(name, bytes);
        Window::map(&file.open(), 0, bytes.len()).unwrap()
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m,
        }
    }

    /// Whether the bytes are the file's pages mapped (not a copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, Storage::Mapped(_))
    }

    fn owned_mut(&mut self) -> &mut Vec<u8> {
        match &mut self.bytes {
            Storage::Owned(v) => v,
            Storage::Mapped(_) => unreachable!("a mapped window is never written"),
        }
    }

    /// Whether what lies in this buffer may be named rather than copied: a
    /// buffer of the usual size. One grown for a block longer than that (up
    /// to 16 MiB) is never shared, so it is reused in place and a few of
    /// them held at once cannot add up.
    pub fn shareable(&self) -> bool {
        match &self.bytes {
            Storage::Owned(v) => v.len() <= INITIAL_CAPACITY,
            Storage::Mapped(m) => m.len() <= MAP_WINDOW,
        }
    }

    /// Where `part` starts in this buffer, if it lies inside it: a packet
    /// slice taken from the buffer can be named by position instead of
    /// copied.
    pub fn position_of(&self, part: &[u8]) -> Option<usize> {
        let bytes = self.bytes();
        let base = bytes.as_ptr() as usize;
        let at = (part.as_ptr() as usize).checked_sub(base)?;
        (at + part.len() <= bytes.len()).then_some(at)
    }
}

/// Buffers kept for reuse at most: more than are ever in flight (a few
/// batches of the handoff), so that reading allocates nothing once started.
const MAX_SPARE: usize = 16;

impl BlockBuffer {
    /// Reads `input` from its start: the sniffed first bytes are the
    /// first data.
    pub fn new(input: Sniffed) -> Self {
        if let Some(Mappable { file, window }) = input.mappable
            && let Ok(len) = file.metadata().map(|m| m.len())
            && len >= input.header.len() as u64
            // The first window small: several files merged are all open at
            // once, and most wait for their turn.
            && let Ok(buf) = Window::map(
                &file,
                0,
                usize::try_from(len).map_or(INITIAL_CAPACITY, |n| n.min(INITIAL_CAPACITY)),
            )
        {
            return BlockBuffer {
                source: Source::Mapped(MappedFile {
                    file,
                    window,
                    len,
                    warm: 0,
                }),
                end: buf.bytes().len(),
                buf,
                spare: Vec::new(),
                start: 0,
                offset: 0,
                compressed: false,
                waiter: None,
            };
        }
        let mut buf = Window::zeroed(INITIAL_CAPACITY.max(input.header.len()));
        Arc::get_mut(&mut buf).expect("new").owned_mut()[..input.header.len()]
            .copy_from_slice(&input.header);
        BlockBuffer {
            source: Source::Stream(input.rest),
            end: input.header.len(),
            buf,
            spare: Vec::new(),
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
        &self.buf.bytes()[self.start..self.end]
    }

    /// The buffer `data()` lies in.
    pub fn window(&self) -> &Arc<Window> {
        &self.buf
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Asks for the mapped bytes up to `distance` past the first unread
    /// one, a little more each packet, so the memory answers before the
    /// reading gets there (the hardware's own prefetching stops at every
    /// page).
    #[inline]
    pub fn warm(&mut self, distance: usize) {
        let Source::Mapped(file) = &mut self.source else {
            return;
        };
        let to = (self.start + distance).min(self.end);
        let from = file.warm.max(self.start);
        if from < to {
            let bytes = &self.buf.bytes()[from..to];
            crate::prefetch::lines(bytes, bytes.len().div_ceil(64));
            file.warm = to;
        }
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
        if let Source::Mapped(_) = self.source {
            return self.map_on(len);
        }
        while self.end - self.start < len {
            self.grow(len)?;
            if self.refill()? == 0 {
                break;
            }
        }
        Ok(self.end - self.start)
    }

    /// Maps the file on from the first unread byte, for at least `len`
    /// bytes when the file has them.
    fn map_on(&mut self, len: usize) -> Result<usize, Fault> {
        check_block_len(len, self.offset)?;
        let Source::Mapped(file) = &mut self.source else {
            unreachable!("only called for a mapped file")
        };
        let at = self.offset;
        let have = self.end - self.start;
        if at + len as u64 > file.len {
            // Still being written, perhaps.
            file.len = file.file.metadata().map_or(file.len, |m| m.len());
        }
        let left = file.len.saturating_sub(at);
        if left <= have as u64 {
            return Ok(have);
        }
        let map_len = len
            .max(file.window)
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        self.buf = Window::map(&file.file, at, map_len).map_err(|e| io_fault(e, at, false))?;
        file.warm = 0;
        self.start = 0;
        self.end = map_len;
        Ok(map_len)
    }

    /// One `read` into all the free space, returning what it gave; 0 is the
    /// end of input (there is always room: only called for an incomplete
    /// block that fits). A read gives what the input has, often less than
    /// asked (a pipe); only a file at full speed fills the buffer.
    fn refill(&mut self) -> Result<usize, Fault> {
        self.make_writable(self.buf.bytes().len());
        let buf = Arc::get_mut(&mut self.buf)
            .expect("made writable")
            .owned_mut();
        let Source::Stream(source) = &mut self.source else {
            unreachable!("a mapped file is not read")
        };
        loop {
            match source.read(&mut buf[self.end..]) {
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

    /// The buffer, of at least `len` bytes, for writing, with the unread
    /// bytes moved to its front (everything unread is the start of the one
    /// incomplete block, so moving it is cheap, and it lets the read use
    /// the whole tail). While another thread still points into the current
    /// buffer it is left alone and the unread bytes move to another.
    fn make_writable(&mut self, len: usize) {
        let unread = self.end - self.start;
        if len <= self.buf.bytes().len()
            && let Some(buf) = Arc::get_mut(&mut self.buf)
        {
            buf.owned_mut().copy_within(self.start..self.end, 0);
        } else {
            let mut next = self.take_spare(len);
            let fresh = Arc::get_mut(&mut next).expect("a spare is unshared");
            fresh.owned_mut()[..unread].copy_from_slice(&self.buf.bytes()[self.start..self.end]);
            let old = std::mem::replace(&mut self.buf, next);
            if self.spare.len() < MAX_SPARE && old.shareable() {
                self.spare.push(old);
            }
        }
        self.start = 0;
        self.end = unread;
    }

    /// A buffer of at least `len` bytes nobody else holds: a spare whose
    /// users let go, or a new one.
    fn take_spare(&mut self, len: usize) -> Arc<Window> {
        let free = self
            .spare
            .iter_mut()
            .position(|w| w.bytes().len() >= len && Arc::get_mut(w).is_some());
        match free {
            Some(i) => self.spare.swap_remove(i),
            None => Window::zeroed(len),
        }
    }

    /// Room for a `len`-byte block: doubles the buffer until it fits, never
    /// beyond [`MAX_BLOCK_LEN`], and never shrinks it.
    fn grow(&mut self, len: usize) -> Result<(), Fault> {
        if len <= self.buf.bytes().len() {
            return Ok(());
        }
        check_block_len(len, self.offset)?;
        let capacity = len.next_power_of_two().min(MAX_BLOCK_LEN);
        self.make_writable(capacity);
        // The smaller buffers are not wanted again.
        self.spare.clear();
        Ok(())
    }
}

/// A mapped file truncated by another program while it is read loses the
/// pages past its new end, and touching one raises SIGBUS, which would
/// kill the process without a word. Such a run cannot go on (the bytes are
/// gone), so the handler says what happened and how to avoid it, and exits
/// as for an input error. Windows are mapped only up to the file's length
/// when mapped, so it takes a truncation during the few MiB in flight.
fn guard_truncation() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: a zeroed sigaction with a handler that only calls
            // async-signal-safe functions (write, _exit).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            }
        });
    }
}

#[cfg(unix)]
extern "C" fn on_sigbus(_: libc::c_int) {
    const MESSAGE: &[u8] = b"wscap: error: a capture file was truncated while it was read \
(another program rewrote it?): the rest of it is gone. Read it again once it is \
no longer written, or with --no-mmap to read it by copying.\n";
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(2);
    }
}

/// Framing rejects longer blocks first; this keeps the cap here too.
fn check_block_len(len: usize, offset: u64) -> Result<(), Fault> {
    if len > MAX_BLOCK_LEN {
        return Err(Fault::Corrupt {
            offset,
            detail: format!("a {len}-byte block exceeds the {MAX_BLOCK_LEN_TEXT} limit"),
        });
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Format;
    use crate::test_util::TempFile;
    use std::io::Write;

    fn buffer(bytes: Vec<u8>) -> BlockBuffer {
        BlockBuffer::new(Sniffed {
            format: Format::Pcap,
            compressed: false,
            header: Vec::new(),
            rest: Box::new(io::Cursor::new(bytes)),
            waiter: None,
            mappable: None,
        })
    }

    /// What another thread still points into is never written over: the
    /// reading goes on in another buffer, and comes back to the first once
    /// it is let go.
    #[test]
    fn a_held_buffer_is_left_alone() {
        let bytes: Vec<u8> = (0..3 * INITIAL_CAPACITY).map(|i| (i % 251) as u8).collect();
        let mut b = buffer(bytes.clone());
        assert_eq!(b.fill(100).unwrap(), INITIAL_CAPACITY);
        let first = Arc::clone(b.window());
        let at = first.position_of(&b.data()[10..20]).unwrap();
        b.consume(INITIAL_CAPACITY - 5);
        // A block across the end: the 5 unread bytes move to a new buffer.
        assert!(b.fill(10).unwrap() >= 10);
        assert!(!Arc::ptr_eq(&first, b.window()));
        assert_eq!(&first.bytes()[at..at + 10], &bytes[10..20]);
        assert_eq!(
            &b.data()[..10],
            &bytes[INITIAL_CAPACITY - 5..INITIAL_CAPACITY + 5]
        );
        assert_eq!(first.position_of(b.data()), None);
        // Let go, the first buffer is taken again when the second is held.
        let first_ptr = Arc::as_ptr(&first);
        drop(first);
        let _second = Arc::clone(b.window());
        let n = b.data().len();
        b.consume(n - 3);
        b.fill(10).unwrap();
        assert_eq!(Arc::as_ptr(b.window()), first_ptr);
        let offset = b.offset() as usize;
        assert_eq!(&b.data()[..10], &bytes[offset..offset + 10]);
    }

    /// A buffer grown for a long block is not shareable: a holder lets go
    /// of it (as the handoff does), and it is reused in place.
    #[test]
    fn a_grown_buffer_is_not_shared() {
        let bytes: Vec<u8> = (0..4 * INITIAL_CAPACITY).map(|i| (i % 13) as u8).collect();
        let mut b = buffer(bytes.clone());
        assert!(b.window().shareable());
        b.fill(2 * INITIAL_CAPACITY).unwrap();
        assert!(!b.window().shareable());
        let ptr = Arc::as_ptr(b.window());
        b.consume(2 * INITIAL_CAPACITY - 1);
        b.fill(10).unwrap();
        assert_eq!(Arc::as_ptr(b.window()), ptr);
        assert_eq!(
            &b.data()[..10],
            &bytes[2 * INITIAL_CAPACITY - 1..2 * INITIAL_CAPACITY + 9]
        );
    }

    fn mapped(path: &std::path::Path) -> BlockBuffer {
        let file = File::open(path).unwrap();
        let b = BlockBuffer::new(Sniffed {
            format: Format::Pcap,
            compressed: false,
            header: Vec::new(),
            rest: Box::new(io::empty()),
            waiter: None,
            mappable: Some(Mappable {
                file,
                window: MAP_WINDOW,
            }),
        });
        assert!(matches!(b.source, Source::Mapped(_)));
        b
    }

    /// A mapped file gives the bytes a read would: blocks across the end
    /// of a window, one longer than a window, and bytes appended after it
    /// was opened (a capture still being written).
    #[test]
    fn a_mapped_file_reads_as_a_read_one() {
        let mut bytes: Vec<u8> = (0..3 * MAP_WINDOW + 100).map(|i| (i % 251) as u8).collect();
        let tmp = TempFile::holding("mapped", &bytes);
        let mut b = mapped(tmp.path());
        // Opened, a file holds no more than a read buffer would.
        assert_eq!(b.fill(10).unwrap(), INITIAL_CAPACITY);
        b.consume(INITIAL_CAPACITY - 3);
        assert_eq!(b.fill(10).unwrap(), MAP_WINDOW);
        assert_eq!(
            &b.data()[..10],
            &bytes[INITIAL_CAPACITY - 3..INITIAL_CAPACITY + 7]
        );
        let n = MAP_WINDOW - INITIAL_CAPACITY;
        b.consume(n);
        assert_eq!(b.offset(), (MAP_WINDOW - 3) as u64);
        let held = Arc::clone(b.window());
        // Across the window's end, and longer than a window.
        assert!(b.fill(MAP_WINDOW + 10).unwrap() >= MAP_WINDOW + 10);
        assert_eq!(
            &b.data()[..MAP_WINDOW + 10],
            &bytes[MAP_WINDOW - 3..2 * MAP_WINDOW + 7]
        );
        assert!(!b.window().shareable());
        // The window left behind still holds its bytes.
        assert_eq!(held.bytes()[0], bytes[INITIAL_CAPACITY - 3]);
        let drain = |b: &mut BlockBuffer, bytes: &[u8]| {
            while b.fill(1).unwrap() > 0 {
                let at = b.offset() as usize;
                assert_eq!(b.data(), &bytes[at..at + b.data().len()]);
                let n = b.data().len();
                b.consume(n);
            }
            assert_eq!(b.offset(), bytes.len() as u64);
        };
        drain(&mut b, &bytes);
        // The file grows: the next fill sees the new bytes.
        let more: Vec<u8> = (0..5000).map(|i| (i % 7) as u8).collect();
        std::fs::OpenOptions::new()
            .append(true)
            .open(tmp.path())
            .unwrap()
            .write_all(&more)
            .unwrap();
        bytes.extend_from_slice(&more);
        assert_eq!(b.fill(more.len()).unwrap(), more.len());
        drain(&mut b, &bytes);
    }

    /// Files read together share what may be mapped at once; beyond a
    /// few, they are copied.
    #[test]
    fn files_read_together_map_smaller_windows() {
        assert_eq!(map_window(0), Some(MAP_WINDOW));
        assert_eq!(map_window(1), Some(MAP_WINDOW));
        assert_eq!(map_window(4), Some(MAP_WINDOW));
        assert_eq!(map_window(6), Some(MAPPED_TOGETHER / 6));
        assert_eq!(map_window(8), Some(MIN_MAP_WINDOW));
        assert_eq!(map_window(9), None);
        assert_eq!(map_window(1000), None);
    }

    /// A mapped file truncated under the reader ends the process with a
    /// message, not a silent crash. Run in a child process, which is what
    /// exits.
    #[test]
    #[cfg(unix)]
    fn a_mapped_file_truncated_under_the_reader_is_reported() {
        const CHILD: &str = "WSCAP_TEST_TRUNCATE_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let bytes = vec![7u8; 2 * MAP_WINDOW];
            let tmp = TempFile::holding("truncated", &bytes);
            let mut b = mapped(tmp.path());
            b.fill(10).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(tmp.path())
                .unwrap()
                .set_len(0)
                .unwrap();
            let last = b.data()[INITIAL_CAPACITY - 1];
            // Not reached: the read above faults.
            std::process::exit(i32::from(last));
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "capture::stream::tests::a_mapped_file_truncated_under_the_reader_is_reported",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("truncated while it was read"), "{stderr}");
        assert!(stderr.contains("--no-mmap"), "{stderr}");
    }

    /// Unshared, the one buffer is reused in place.
    #[test]
    fn an_unshared_buffer_is_reused() {
        let bytes: Vec<u8> = (0..3 * INITIAL_CAPACITY).map(|i| (i % 7) as u8).collect();
        let mut b = buffer(bytes.clone());
        b.fill(1).unwrap();
        let ptr = Arc::as_ptr(b.window());
        b.consume(INITIAL_CAPACITY - 1);
        b.fill(2).unwrap();
        assert_eq!(Arc::as_ptr(b.window()), ptr);
        let offset = b.offset() as usize;
        assert_eq!(&b.data()[..2], &bytes[offset..offset + 2]);
    }
}
