//! The floor under wscap's speed: how fast this machine can merely walk a
//! classic pcap, record by record, slicing each packet's headers down to
//! TCP, with nothing else done (no reassembly, no WebSocket, no output).
//! Other libraries than wscap's own reader do it (pcap-parser's streaming
//! reader, etherparse), so the figure does not depend on wscap's code.
//!
//! ```text
//! cargo run --release --example walk -- CAPTURE.pcap
//! ```
//!
//! Prints the packets, the TCP packets and their payload bytes.
//! `benches/run.sh` times it beside wscap on every capture it measures.

use etherparse::{SlicedPacket, TransportSlice};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, Linktype, PcapBlockOwned, PcapError};
use std::fs::File;
use std::process::ExitCode;

/// As wscap's reader: refilled in reads of about this size.
const BUFFER: usize = 256 << 10;

#[derive(Default)]
struct Counts {
    packets: u64,
    tcp: u64,
    payload: u64,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: walk CAPTURE.pcap");
        return ExitCode::from(2);
    };
    match walk(&path) {
        Ok(c) => {
            println!(
                "{} packets, {} TCP, {} payload bytes",
                c.packets, c.tcp, c.payload
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("walk: {path}: {e}");
            ExitCode::from(2)
        }
    }
}

fn walk(path: &str) -> Result<Counts, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = LegacyPcapReader::new(BUFFER, file).map_err(|e| format!("{e:?}"))?;
    let mut counts = Counts::default();
    let mut linktype = Linktype::ETHERNET;
    loop {
        match reader.next() {
            Ok((used, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => linktype = h.network,
                    PcapBlockOwned::Legacy(b) => count(&mut counts, linktype, b.data),
                    PcapBlockOwned::NG(_) => return Err("not a classic pcap".into()),
                }
                reader.consume(used);
            }
            Err(PcapError::Eof) => return Ok(counts),
            Err(PcapError::Incomplete(_)) => reader.refill().map_err(|e| format!("{e:?}"))?,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
}

fn count(counts: &mut Counts, linktype: Linktype, data: &[u8]) {
    counts.packets += 1;
    let sliced = match linktype {
        Linktype::ETHERNET => SlicedPacket::from_ethernet(data),
        Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(data),
        _ => SlicedPacket::from_ip(data),
    };
    if let Ok(SlicedPacket {
        transport: Some(TransportSlice::Tcp(tcp)),
        ..
    }) = sliced
    {
        counts.tcp += 1;
        counts.payload += tcp.payload().len() as u64;
    }
}
