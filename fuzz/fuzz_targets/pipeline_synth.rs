//! The whole pipeline over WebSocket conversations built from the input
//! with `wscap::synth`: real TCP handshakes and sequence numbers, so the
//! fuzzer spends its time on frames, handshakes, loss and reordering
//! instead of on checksums-free but strict packet headers.
//!
//! Input: a settings byte, then operations (see `Op` in the code): frames
//! with fuzzer-chosen header bits, lengths and payload (compressed when
//! deflate was negotiated), raw bytes, packet loss, reordering,
//! retransmission with changed bytes, waits, FIN/RST, a smaller MSS, a
//! snaplen, and a second connection. Settings: bits 0-3 the link layer (`Link::all()`),
//! bits 4-5 the handshake (deflate, plain, a request line/headers from the
//! input, none), bit 6 header-only snaplen on some packets, bit 7 the
//! pipeline options of the `pipeline` target's settings 0x58.
#![no_main]

#[path = "../common/known_bugs.rs"]
mod known_bugs;

#[path = "../common/check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use wscap::synth::{Link, Side, SynthPacket, TcpConversation, pcap_bytes};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
const RESPONSE_DEFLATE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
const RESPONSE_PLAIN: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
}

/// Deflates `data` as a permessage-deflate sender does (sync flush, the
/// trailing 00 00 ff ff removed), with context takeover in `z`.
fn deflate(z: &mut flate2::write::DeflateEncoder<Vec<u8>>, data: &[u8]) -> Vec<u8> {
    z.write_all(data).unwrap();
    z.flush().unwrap();
    let mut out = std::mem::take(z.get_mut());
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

fn frame(b: &mut Bytes<'_>, client: bool, z: &mut flate2::write::DeflateEncoder<Vec<u8>>) -> Vec<u8> {
    let h = b.byte(); // FIN RSV1-3 opcode, as sent
    let l = b.byte();
    let n = usize::from(b.byte());
    let mut payload = b.take(n);
    let compress = l & 0x40 != 0;
    if compress {
        payload = deflate(z, &payload);
    }
    let mut f = vec![h | if compress { 0x40 } else { 0 }];
    let masked = client != (l & 0x20 != 0); // bit 5 flips the rule
    let m = if masked { 0x80 } else { 0 };
    let len = payload.len() as u64;
    match l & 0x1F {
        // The length as sent: honest in the shortest form, in a longer
        // form, or a lie (short, long, or 2^63 and up).
        0..=23 if len <= 125 => f.push(m | len as u8),
        0..=23 if len <= 0xFFFF => {
            f.push(m | 126);
            f.extend((len as u16).to_be_bytes());
        }
        0..=23 | 24..=25 => {
            f.push(m | 127);
            f.extend(len.to_be_bytes());
        }
        26..=27 => {
            f.push(m | 126);
            f.extend((len as u16).wrapping_add(u16::from(b.byte())).to_be_bytes());
        }
        28..=29 => {
            f.push(m | 127);
            f.extend((len | 1 << 63).to_be_bytes());
        }
        _ => f.push(m | (len as u8 & 0x7F).saturating_sub(b.byte() % 4)),
    }
    if masked {
        let key = [b.byte(), b.byte(), 0x5A, 0xA5];
        f.extend(key);
        f.extend(payload.iter().enumerate().map(|(i, x)| x ^ key[i % 4]));
    } else {
        f.extend(payload);
    }
    f
}

fn conversation(set: u8, link: &Link, b: &mut Bytes<'_>, n: u16, start: i64) -> Vec<SynthPacket> {
    let v6 = !link.carries(&"10.0.0.1".parse().unwrap());
    let (client, server) = if v6 {
        (format!("[2001:db8::{}]:{}", n + 1, 40000 + n), "[2001:db8::ff]:80".to_string())
    } else {
        (format!("10.0.0.{}:{}", n + 1, 40000 + n), "10.0.0.254:80".to_string())
    };
    let mut c = TcpConversation::new(link.clone(), client.parse().unwrap(), server.parse().unwrap());
    c.start_at(wscap::time::Timestamp::from_nanos(start));
    c.handshake();
    match (set >> 4) & 3 {
        0 => {
            c.send(Side::Client, REQUEST).send(Side::Server, RESPONSE_DEFLATE);
        }
        1 => {
            c.send(Side::Client, REQUEST).send(Side::Server, RESPONSE_PLAIN);
        }
        2 => {
            // Request and response heads from the input, up to a 0 byte.
            let head = |b: &mut Bytes<'_>| {
                let n = b.0.iter().position(|&x| x == 0).unwrap_or(b.0.len());
                let h = b.take(n);
                b.byte();
                h
            };
            let req = head(b);
            let resp = head(b);
            c.send(Side::Client, &[REQUEST, &req[..]].concat());
            c.send(Side::Server, &[RESPONSE_DEFLATE, &resp[..]].concat());
        }
        _ => {}
    }
    let mut zs = [
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast()),
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast()),
    ];
    // Packets taken out of the conversation to be dropped, reordered or
    // repeated; all are sorted by time at the end.
    let mut out = Vec::new();
    let snap_every = if set & 0x40 != 0 { 3 } else { 0 };
    let mut ops = 0;
    while !b.0.is_empty() && ops < 64 {
        ops += 1;
        let op = b.byte();
        let side = if op & 0x80 != 0 { Side::Client } else { Side::Server };
        match op & 0x0F {
            0..=5 => {
                let z = &mut zs[usize::from(side == Side::Client)];
                let f = frame(b, side == Side::Client, z);
                c.send(side, &f);
            }
            6 => {
                let n = usize::from(b.byte());
                let raw = b.take(n);
                c.send(side, &raw);
            }
            7 => {
                // Lose one of the last packets.
                let k = usize::from(b.byte() % 4);
                let mut p = c.take_packets();
                if p.len() > k + 4 {
                    p.remove(p.len() - 1 - k);
                }
                out.extend(p);
            }
            8 => {
                // Swap two of the last packets' times (reordering).
                let mut p = c.take_packets();
                let k = usize::from(b.byte() % 4) + 1;
                if p.len() > k + 4 {
                    let (i, j) = (p.len() - 1, p.len() - 1 - k);
                    let t = p[i].ts;
                    p[i].ts = p[j].ts;
                    p[j].ts = t;
                    p.swap(i, j);
                }
                out.extend(p);
            }
            9 => {
                // Retransmit one of the last packets, maybe with a byte changed.
                let mut p = c.take_packets();
                let k = usize::from(b.byte() % 4);
                let x = b.byte();
                if p.len() > k + 4 {
                    let mut q = p[p.len() - 1 - k].clone();
                    q.ts = wscap::time::Timestamp::from_nanos(p.last().unwrap().ts.as_nanos() + 1000);
                    // One of the last 4 captured bytes (past any headers).
                    if let Some(at) = q.data.len().checked_sub(1 + usize::from(x) % 4)
                        && x & 0x80 != 0
                        && at > 60
                    {
                        q.data[at] ^= 0xFF;
                    }
                    p.push(q);
                }
                out.extend(p);
            }
            10 => {
                let ms = i64::from(b.byte());
                c.wait(ms * ms * 1_000_000);
            }
            11 => {
                c.fin(side);
            }
            12 => {
                c.rst(side);
            }
            13 => {
                c.mss(usize::from(b.byte() % 64) + 1);
            }
            14 => {
                c.close(side);
            }
            _ => {
                // A snaplen for the packets that follow (0: none); 54 keeps
                // only the headers of an Ethernet/IPv4/TCP packet.
                let s = b.byte();
                c.snaplen((s != 0).then_some(u32::from(s)));
            }
        }
    }
    out.extend(c.into_packets());
    let mut p = out;
    if snap_every > 0 {
        // Header-only captures of some packets (snaplen at the TCP header).
        for (i, q) in p.iter_mut().enumerate() {
            if i % snap_every == 2 && q.data.len() > 80 {
                *q = q.clone().snapped(80);
            }
        }
    }
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&set, rest)) = data.split_first() else {
        return;
    };
    let links = Link::all();
    let link = links[usize::from(set & 0x0F) % links.len()].clone();
    let mut b = Bytes(rest);
    let mut packets = Vec::new();
    for n in 0..2u16 {
        if b.0.is_empty() {
            break;
        }
        let start = 1_700_000_000_000_000_000 + i64::from(n) * 3_000_000;
        packets.extend(conversation(set, &link, &mut b, n, start));
    }
    packets.sort_by_key(|p| p.ts);
    let cap = pcap_bytes(u32::from(link.linktype().0), &packets);
    let settings = if set & 0x80 != 0 { 0x58 } else { 0x40 };
    check::run(cap, &check::options(settings), check::preview(settings));
});
