//! Opening the input and recognising what it is: gzip or not, then pcap or
//! pcapng, all from magic bytes (a `.pcap` name on a pcapng file, or a gzip
//! file without `.gz`, is common).

use super::{CaptureError, Fault, Format};
use flate2::read::MultiGzDecoder;
use std::io::{self, Cursor, Read};
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Enough bytes for every decision made here and for the classic pcap file
/// header (the longest fixed header we need before reading blocks).
pub(crate) const SNIFF_LEN: usize = 24;

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
    /// The first (up to) [`SNIFF_LEN`] bytes of the decompressed capture.
    pub header: Vec<u8>,
    /// The decompressed capture after `header`.
    pub rest: Box<dyn Read + Send>,
}

/// Opens `path`, `-` being standard input. Returns the name for messages.
pub(crate) fn open(path: &Path) -> Result<(String, Box<dyn Read + Send>), CaptureError> {
    if path.as_os_str() == "-" {
        return Ok(("-".to_owned(), Box::new(io::stdin())));
    }
    let name = path.to_string_lossy().into_owned();
    match std::fs::File::open(path) {
        Ok(file) => Ok((name, Box::new(file))),
        Err(source) => Err(CaptureError::Io { file: name, source }),
    }
}

/// Undoes gzip if present and decides the container format.
pub(crate) fn sniff(raw: Box<dyn Read + Send>) -> Result<Sniffed, Fault> {
    let (magic, raw) = peek(raw, GZIP_MAGIC.len()).map_err(Fault::Io)?;
    let compressed = magic == GZIP_MAGIC;
    let mut stream: Box<dyn Read + Send> = if compressed {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        raw
    };
    let header = read_up_to(&mut stream, SNIFF_LEN).map_err(|e| io_fault(e, 0, compressed))?;
    let format = detect(&header, compressed)?;
    Ok(Sniffed {
        format,
        compressed,
        header,
        rest: stream,
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

/// Reads the first `n` bytes and puts them back in front of the stream.
fn peek(mut source: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let head = read_up_to(&mut source, n)?;
    let rejoined = Cursor::new(head.clone()).chain(source);
    Ok((head, Box::new(rejoined)))
}

/// Up to `n` bytes, fewer only at the end of input (a single `read` may
/// return less than asked, e.g. from a pipe).
fn read_up_to(source: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(n);
    source.take(n as u64).read_to_end(&mut bytes)?;
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
