//! Opening the input and recognising what it is: gzip or not, then pcap or
//! pcapng, all from magic bytes (a `.pcap` name on a pcapng file, or a gzip
//! file without `.gz`, is common).

use super::live::{self, Waiter};
use super::{CaptureError, Fault, Format};
use flate2::read::MultiGzDecoder;
use std::io::{self, Cursor, Read};
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Enough bytes for every decision made here and for the classic pcap file
/// header (the longest fixed header we need before reading blocks).
pub(crate) const SNIFF_LEN: usize = 24;

/// The most read while sniffing. A read offers all of it: a gzip decoder
/// asked for only [`SNIFF_LEN`] bytes would keep the rest of what it
/// inflated, and hand it over only after its next read of the input, which
/// on a live input waits for the next packet.
const HEADER_MAX: usize = 64 * 1024;

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1], // microseconds, little-endian
    [0xa1, 0xb2, 0xc3, 0xd4], // microseconds, big-endian
    [0x4d, 0x3c, 0xb2, 0xa1], // nanoseconds, little-endian
    [0xa1, 0xb2, 0x3c, 0x4d], // nanoseconds, big-endian
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The input with its first bytes already looked at.
pub(crate) struct Sniffed {
    pub format: Format,
    pub compressed: bool,
    /// The first bytes of the decompressed capture: at least [`SNIFF_LEN`]
    /// (fewer only when that is all there is), at most [`HEADER_MAX`].
    pub header: Vec<u8>,
    /// The decompressed capture after `header`.
    pub rest: Box<dyn Read + Send>,
    /// Set when the input is live (a pipe, not a regular file).
    pub waiter: Option<Waiter>,
    /// The capture as a regular file that may be mapped instead of read:
    /// uncompressed and named (not standard input).
    pub mappable: Option<Mappable>,
}

/// A file to map rather than read, and how much of it at once.
pub(crate) struct Mappable {
    pub file: std::fs::File,
    pub window: usize,
}

/// An input opened: its name for messages, its bytes, and what to wait on
/// when it is live.
pub(crate) struct Opened {
    pub name: String,
    pub source: Box<dyn Read + Send>,
    pub waiter: Option<Waiter>,
    /// The same file again, when it is a regular file and mapping was
    /// asked for.
    pub mappable: Option<std::fs::File>,
}

/// Opens `path`, `-` being standard input; with `map`, a regular file's
/// descriptor is also kept for mapping it.
pub(crate) fn open(path: &Path, map: bool) -> Result<Opened, CaptureError> {
    let (name, file) = if path.as_os_str() == "-" {
        let name = "-".to_owned();
        match live::stdin() {
            Ok(file) => (name, file),
            // Not a descriptor of its own (not on Unix): read as it is.
            Err(_) => {
                return Ok(Opened {
                    name,
                    source: Box::new(io::stdin()),
                    waiter: None,
                    mappable: None,
                });
            }
        }
    } else {
        let name = path.to_string_lossy().into_owned();
        match std::fs::File::open(path) {
            Ok(file) => (name, file),
            Err(source) => return Err(CaptureError::Io { file: name, source }),
        }
    };
    // Standard input may be a file too, but not from its start.
    let mappable = (map && path.as_os_str() != "-" && file.metadata().is_ok_and(|m| m.is_file()))
        .then(|| file.try_clone().ok())
        .flatten();
    let (source, waiter) = live::classify(file);
    Ok(Opened {
        name,
        source,
        waiter,
        mappable,
    })
}

/// Undoes gzip if present and decides the container format. `wait` is
/// called whenever a live input has nothing yet; its error ends the wait.
pub(crate) fn sniff(
    raw: Box<dyn Read + Send>,
    waiter: Option<Waiter>,
    mappable: Option<Mappable>,
    wait: &mut dyn FnMut() -> Result<(), Fault>,
) -> Result<Sniffed, Fault> {
    let (magic, raw) = peek(raw, GZIP_MAGIC.len(), wait)?;
    let compressed = magic == GZIP_MAGIC;
    let mut stream: Box<dyn Read + Send> = if compressed {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        raw
    };
    let header = read_up_to(&mut stream, SNIFF_LEN, HEADER_MAX, wait, compressed)?;
    let format = detect(&header, compressed)?;
    Ok(Sniffed {
        format,
        compressed,
        header,
        rest: stream,
        waiter,
        mappable: mappable.filter(|_| !compressed),
    })
}

fn detect(header: &[u8], compressed: bool) -> Result<Format, Fault> {
    let magic = header.get(..4);
    if magic.is_some_and(|m| PCAP_MAGICS.iter().any(|p| p == m)) {
        Ok(Format::Pcap)
    } else if magic == Some(&PCAPNG_MAGIC[..]) {
        Ok(Format::PcapNg)
    } else {
        Err(Fault::NotACapture(describe_start(header, compressed)))
    }
}

/// The raw input with its first bytes read.
type Peeked = (Vec<u8>, Box<dyn Read + Send>);

/// Reads the first `n` bytes and puts them back in front of the stream.
fn peek(
    mut source: Box<dyn Read + Send>,
    n: usize,
    wait: &mut dyn FnMut() -> Result<(), Fault>,
) -> Result<Peeked, Fault> {
    let head = read_up_to(&mut source, n, n, wait, false)?;
    let rejoined = Cursor::new(head.clone()).chain(source);
    Ok((head, Box::new(rejoined)))
}

/// At least `min` bytes and at most `max`, fewer than `min` only at the end
/// of input (a single `read` may return less than asked, e.g. from a pipe;
/// a live input may have nothing yet, and then `wait` is called).
fn read_up_to(
    source: &mut dyn Read,
    min: usize,
    max: usize,
    wait: &mut dyn FnMut() -> Result<(), Fault>,
    compressed: bool,
) -> Result<Vec<u8>, Fault> {
    let mut bytes = vec![0; max];
    let mut have = 0;
    while have < min {
        match source.read(&mut bytes[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait()?,
            Err(e) => return Err(io_fault(e, 0, compressed)),
        }
    }
    bytes.truncate(have);
    Ok(bytes)
}

/// What the input starts with, for a "not a capture" message: hex, and the
/// same bytes as text since a mistaken input is often HTML, JSON or a log.
fn describe_start(header: &[u8], compressed: bool) -> String {
    let after = if compressed {
        " after gzip decompression"
    } else {
        ""
    };
    if header.is_empty() {
        return format!("nothing: the input is empty{after}");
    }
    let shown = &header[..header.len().min(8)];
    let text: String = shown
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} {text:?}{after}", crate::text::spaced_hex(shown))
}

/// Maps a read error at `offset` (the block being read) to a fault. A gzip
/// stream that stops mid-member is damage of the same kind as a cut file.
pub(crate) fn io_fault(err: io::Error, offset: u64, compressed: bool) -> Fault {
    match err.kind() {
        io::ErrorKind::UnexpectedEof if compressed => Fault::Truncated {
            offset,
            expected: format!("the gzip stream ends early ({err})"),
        },
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if compressed => Fault::Corrupt {
            offset,
            detail: format!("gzip data cannot be decompressed ({err})"),
        },
        _ => Fault::Io(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_text_and_binary_starts() {
        assert_eq!(
            describe_start(b"<!DOCTYPE html>", false),
            r#"3c 21 44 4f 43 54 59 50 "<!DOCTYP""#
        );
        assert_eq!(
            describe_start(&[0, 1, 0x41], true),
            r#"00 01 41 "..A" after gzip decompression"#
        );
        assert_eq!(describe_start(b"", false), "nothing: the input is empty");
    }

    #[test]
    fn detects_every_magic() {
        for magic in PCAP_MAGICS {
            assert_eq!(detect(&magic, false).unwrap(), Format::Pcap);
        }
        assert_eq!(detect(&PCAPNG_MAGIC, false).unwrap(), Format::PcapNg);
        assert!(matches!(
            detect(b"\x0a\x0d", false),
            Err(Fault::NotACapture(_))
        ));
    }
}
