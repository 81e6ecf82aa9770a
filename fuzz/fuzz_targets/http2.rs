//! The HTTP/2 reader (`wscap::http2::H2Conn`): frames, header blocks
//! through HPACK, DATA handed on, over two byte streams pushed in pieces.
//!
//! Input: a settings byte, two bytes placing the cut between the client's
//! stream and the server's, then the bytes. Settings: bits 0-5 seed the
//! piece sizes (0 = one push), bit 6 puts the real connection preface
//! before the client's bytes (so that the fuzzer reaches the frames), bit
//! 7 sends the server's bytes first.
//!
//! Checked beyond "no panic": the events do not depend on how the bytes
//! were cut (the pieces of a DATA frame joined), the DATA handed on is
//! never more than was pushed, and a header block never decodes to more
//! than `hpack::MAX_LIST_SIZE`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wscap::http2::frame::PREFACE;
use wscap::http2::hpack::MAX_LIST_SIZE;
use wscap::http2::{Event, H2Conn};
use wscap::tcp::Dir;

/// Events as owned values; consecutive DATA pieces of one stream joined.
fn run(streams: &[(Dir, &[u8])], seed: u32) -> (Vec<String>, usize) {
    let mut c = H2Conn::default();
    let mut out: Vec<String> = Vec::new();
    let mut data_bytes = 0usize;
    let mut state = seed;
    for (dir, bytes) in streams {
        let mut rest: &[u8] = bytes;
        while !rest.is_empty() {
            let n = if seed == 0 {
                rest.len()
            } else {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                1 + (state >> 16) as usize % 17
            };
            let (piece, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            c.push(*dir, piece, &mut |e| {
                let text = match e {
                    Event::Data {
                        stream,
                        data,
                        end_stream,
                    } => {
                        data_bytes += data.len();
                        let key = format!("data {dir:?} {stream}");
                        if let Some(last) = out.last_mut()
                            && last.starts_with(&key)
                            && !last.ends_with("end")
                        {
                            last.push_str(&format!(" +{}", data.len()));
                            if end_stream {
                                last.push_str(" end");
                            }
                            return;
                        }
                        let end = if end_stream { " end" } else { "" };
                        format!("{key} +{}{end}", data.len())
                    }
                    Event::Headers { fields, .. } => {
                        let size: usize = fields
                            .iter()
                            .map(|f| f.name.len() + f.value.len() + 32)
                            .sum();
                        assert!(size <= MAX_LIST_SIZE);
                        format!("{dir:?} {e:?}")
                    }
                    e => format!("{dir:?} {e:?}"),
                };
                out.push(text);
            });
        }
    }
    // Pieces of one DATA frame are joined above only when nothing came
    // between; normalise the piece sizes away.
    let out = out
        .into_iter()
        .map(|s| match s.split_once(" +") {
            Some((head, rest)) if s.starts_with("data ") => {
                let total: usize = rest
                    .split(" +")
                    .map(|p| p.trim_end_matches(" end").parse::<usize>().unwrap())
                    .sum();
                let end = if s.ends_with(" end") { " end" } else { "" };
                format!("{head} {total}{end}")
            }
            _ => s,
        })
        .collect();
    (out, data_bytes)
}

fuzz_target!(|data: &[u8]| {
    let [settings, a, b, rest @ ..] = data else {
        return;
    };
    let cut = (usize::from(*a) << 8 | usize::from(*b)).min(rest.len());
    let (client, server) = rest.split_at(cut);
    let mut c = Vec::new();
    if settings & 0x40 != 0 {
        c.extend_from_slice(PREFACE);
    }
    c.extend_from_slice(client);
    let mut streams = vec![(Dir::ClientToServer, &c[..]), (Dir::ServerToClient, server)];
    if settings & 0x80 != 0 {
        streams.reverse();
    }
    let seed = u32::from(settings & 0x3f);
    let (whole, bytes) = run(&streams, 0);
    assert!(bytes <= c.len() + server.len());
    if seed != 0 {
        let (pieces, _) = run(&streams, seed);
        assert_eq!(whole, pieces);
    }
});
