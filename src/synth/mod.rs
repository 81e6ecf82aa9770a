//! Synthetic captures for tests, fuzzing and benchmarks: writers for pcap and
//! pcapng and builders for the link/IP/TCP headers wscap decodes.
//!
//! The pieces compose bottom-up:
//!
//! * [`TcpPacket`] builds the link-layer bytes of one TCP segment for any
//!   [`Link`] wscap reads, with IPv4 options, IPv6 extension headers,
//!   Ethernet padding and deliberately wrong length fields when a test needs
//!   them.
//! * [`TcpConversation`] keeps the sequence numbers of both endpoints and
//!   emits handshakes, data, ACKs, FIN and RST as [`SynthPacket`]s, in a
//!   `Vec` the test may reorder, duplicate, drop or alter before writing.
//! * [`PcapWriter`] and [`PcapNgWriter`] write those packets (or any bytes)
//!   as classic pcap or pcapng, in either byte order, and let tests emit the
//!   odd blocks a reader has to cope with.
//!
//! ```
//! use wscap::synth::{Link, PcapWriter, TcpConversation, Side};
//! use wscap::time::Timestamp;
//!
//! let mut conv = TcpConversation::new(
//!     Link::Ethernet,
//!     "10.0.0.1:50000".parse().unwrap(),
//!     "10.0.0.2:80".parse().unwrap(),
//! );
//! conv.start_at(Timestamp::from_nanos(1_700_000_000_000_000_000))
//!     .handshake()
//!     .send(Side::Client, b"GET / HTTP/1.1\r\n\r\n")
//!     .ack(Side::Server);
//! let mut packets = conv.into_packets();
//! packets.swap(3, 4); // a test might reorder
//! let mut pcap = PcapWriter::new(Vec::new(), Link::Ethernet.linktype().0.into()).unwrap();
//! pcap.write_all(&packets).unwrap();
//! let bytes = pcap.into_inner();
//! assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
//! ```
//!
//! Everything here panics on misuse (it is test tooling) but never on any
//! packet content a test may ask for.
//!
//! It is compiled only with the `synth` feature (or for the library's own
//! unit tests), so the default API does not offer it. Tests, examples and
//! benches get the feature without flags: the package dev-depends on itself
//! with it.

mod conversation;
pub mod h2;
mod pcap;
mod tcp;

#[cfg(test)]
mod tests;

pub use conversation::{Side, TcpConversation};
pub use pcap::{PcapNgWriter, PcapOptions, PcapWriter, TsPrecision, pcap_bytes};
pub use tcp::{Ipv6Ext, Link, TcpPacket, VlanTag, snap};

use crate::time::Timestamp;

/// Byte order of a capture file's headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ByteOrder {
    #[default]
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
    fn u64(self, v: u64) -> [u8; 8] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

/// One packet ready to be written: capture time, captured bytes, and the
/// length it had on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthPacket {
    pub ts: Timestamp,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl SynthPacket {
    /// A packet captured whole.
    pub fn new(ts: Timestamp, data: Vec<u8>) -> SynthPacket {
        let orig_len = u32::try_from(data.len()).expect("packet longer than 4 GiB");
        SynthPacket { ts, data, orig_len }
    }

    /// The same packet as a capture with `snaplen` would hold it.
    pub fn snapped(mut self, snaplen: u32) -> SynthPacket {
        self.data.truncate(snaplen as usize);
        self
    }
}
