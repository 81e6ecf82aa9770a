//! Arbitrary bytes as a capture file (pcap, pcapng or gzip of either, told
//! by magic), read to the end.
//!
//! The first input byte picks how the bytes reach the reader:
//! * bit 0: gzip-compress the rest first (the fuzzer cannot make valid
//!   gzip itself, and the decompressing path has its own buffer handling);
//! * bits 1-7: a seed for a reader that hands out the bytes a few at a time
//!   (0 = all at once), to exercise the refills of the streaming buffer.
//!
//! Checked beyond "no panic": the chunked read yields exactly the packets
//! and the outcome of a one-piece read; packet numbers count up from 1;
//! an uncompressed read never claims more packets than 16-byte records fit
//! and never reports a position past the end; after an error the reader
//! stays finished.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::{self, Cursor, Read, Write};
use wscap::capture::CaptureReader;

/// Hands out at most a pseudo-random 1..=17 bytes per read.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    rng: u32,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rng = self.rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((self.rng >> 16) % 17 + 1) as usize;
        let n = n.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[derive(Debug, PartialEq)]
struct Pkt {
    number: u64,
    ts: i64,
    linktype: u16,
    orig_len: u32,
    data: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    OpenError(String),
    Read { packets: Vec<Pkt>, error: Option<String> },
}

fn read_all(src: Box<dyn Read + Send>, len: Option<usize>) -> Outcome {
    let mut r = match CaptureReader::from_reader("fuzz", src) {
        Ok(r) => r,
        Err(e) => return Outcome::OpenError(e.to_string()),
    };
    let _ = r.format();
    let mut packets = Vec::new();
    let mut last_pos = r.position();
    let error = loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.number, packets.len() as u64 + 1, "packet numbers count from 1");
                assert!(p.data.len() <= 16 << 20, "a packet over 16 MiB");
                packets.push(Pkt {
                    number: p.number,
                    ts: p.ts.0,
                    linktype: p.linktype.0,
                    orig_len: p.orig_len,
                    data: p.data.to_vec(),
                });
                let cur = r.current().expect("current after next_packet");
                assert_eq!(cur.data, &packets.last().unwrap().data[..]);
            }
            Ok(None) => break None,
            Err(e) => {
                let _ = e.offset();
                break Some(e.to_string());
            }
        }
        let pos = r.position();
        assert!(pos >= last_pos, "position went back: {last_pos} -> {pos}");
        last_pos = pos;
        if let Some(len) = len {
            assert!(pos <= len as u64, "position {pos} past the end {len}");
        }
        let _ = r.interfaces();
    };
    // Finished stays finished.
    assert!(matches!(r.next_packet(), Ok(None)));
    assert!(r.current().is_none());
    assert_eq!(r.stats().packets, packets.len() as u64);
    if let Some(len) = len {
        assert!(packets.len() <= len / 16, "{} packets from {len} bytes", packets.len());
    }
    Outcome::Read { packets, error }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (bytes, plain_len) = if mode & 1 == 1 {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(rest).unwrap();
        (z.finish().unwrap(), None)
    } else {
        (rest.to_vec(), Some(rest.len()))
    };
    let whole = read_all(Box::new(Cursor::new(bytes.clone())), plain_len);
    let seed = u32::from(mode >> 1);
    if seed != 0 {
        let trickled = read_all(
            Box::new(Trickle {
                data: bytes,
                at: 0,
                rng: seed,
            }),
            plain_len,
        );
        assert_eq!(whole, trickled, "result depends on how the input was read");
    }
});
