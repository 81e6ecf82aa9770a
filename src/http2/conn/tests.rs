use super::*;

const C: Dir = Dir::ClientToServer;
const S: Dir = Dir::ServerToClient;

use crate::synth::h2::{block, frame};

/// Events as text, to compare. The pieces of one DATA frame are joined:
/// how many there are depends on the input's cuts.
fn run(input: &[(Dir, Vec<u8>)], piece: usize) -> Vec<String> {
    let mut c = H2Conn::default();
    let mut out: Vec<String> = Vec::new();
    let mut open_data = false;
    for (dir, bytes) in input {
        for p in bytes.chunks(piece) {
            c.push(*dir, p, &mut |e| {
                if let Event::Data {
                    data, end_stream, ..
                } = &e
                    && open_data
                {
                    let last = out.last_mut().expect("an open piece");
                    let text = String::from_utf8_lossy(data);
                    *last = last.replacen("] …", &format!("{text}] …"), 1);
                    if *end_stream {
                        *last = last.replace("end=false", "end=true").replace("] …", "]");
                    }
                    open_data = !*end_stream;
                    return;
                }
                open_data = matches!(
                    e,
                    Event::Data {
                        end_stream: false,
                        ..
                    }
                );
                out.push(show(*dir, &e));
            });
        }
    }
    out
}

fn show(dir: Dir, e: &Event<'_>) -> String {
    let d = if dir == C { "c" } else { "s" };
    match e {
        Event::Frame(h) => format!("{d} frame {} {} {}", h.kind.name(), h.stream, h.len),
        Event::Settings { ack, settings } => format!("{d} settings ack={ack} {settings:?}"),
        Event::Headers {
            stream,
            fields,
            end_stream,
            promised,
        } => {
            let f: Vec<String> = fields
                .iter()
                .map(|f| {
                    let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    format!("{}={}", t(&f.name), t(&f.value))
                })
                .collect();
            format!(
                "{d} headers {stream} {} end={end_stream} {promised:?}",
                f.join(",")
            )
        }
        Event::Data {
            stream,
            data,
            end_stream,
        } => {
            let text = String::from_utf8_lossy(data);
            let more = if *end_stream { "" } else { " …" };
            format!("data {d} {stream} end={end_stream} [{text}]{more}")
        }
        Event::RstStream { stream, code } => {
            format!("{d} rst {stream} {}", frame::error_name(*code))
        }
        Event::GoAway { last_stream, code } => {
            format!("{d} goaway {last_stream} {}", frame::error_name(*code))
        }
        Event::Error(e) => format!("{d} error {e}"),
    }
}

use crate::synth::h2::client_preface as preface;

fn connect_block() -> Vec<u8> {
    block(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "server.example.com"),
    ])
}

#[test]
fn an_extended_connect_and_its_data() {
    let input = vec![
        (S, frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])),
        (C, preface()),
        (C, frame(1, flags::END_HEADERS, 1, &connect_block())),
        (
            S,
            frame(1, flags::END_HEADERS, 1, &block(&[(":status", "200")])),
        ),
        (C, frame(0, 0, 1, b"hello")),
        (S, frame(0, flags::END_STREAM, 1, b"bye")),
        (C, frame(3, 0, 1, &[0, 0, 0, 8])),
        (C, frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0])),
    ];
    let whole = run(&input, usize::MAX);
    assert_eq!(
        whole,
        [
            "s frame SETTINGS 0 6",
            "s settings ack=false [EnableConnectProtocol(1)]",
            "c frame SETTINGS 0 0",
            "c settings ack=false []",
            "c frame HEADERS 1 97",
            "c headers 1 :method=CONNECT,:protocol=websocket,:scheme=https,:path=/chat,\
             :authority=server.example.com end=false None",
            "s frame HEADERS 1 13",
            "s headers 1 :status=200 end=false None",
            "c frame DATA 1 5",
            "data c 1 end=false [hello] …",
            "s frame DATA 1 3",
            "data s 1 end=true [bye]",
            "c frame RST_STREAM 1 4",
            "c rst 1 CANCEL",
            "c frame GOAWAY 0 8",
            "c goaway 1 NO_ERROR",
        ]
    );
    // Byte by byte, and in odd pieces, the same.
    assert_eq!(run(&input, 1), whole);
    assert_eq!(run(&input, 7), whole);
}

#[test]
fn padding_priority_and_continuation() {
    let b = connect_block();
    let (first, second) = b.split_at(20);
    // HEADERS with PADDED and PRIORITY, then a CONTINUATION.
    let mut headers = vec![2u8, 0, 0, 0, 0, 16];
    headers.extend_from_slice(first);
    headers.extend_from_slice(&[0, 0]);
    let mut data = vec![3u8];
    data.extend_from_slice(b"abc");
    data.extend_from_slice(&[0, 0, 0]);
    let input = vec![
        (C, preface()),
        (C, frame(1, flags::PADDED | flags::PRIORITY, 1, &headers)),
        (C, frame(9, flags::END_HEADERS, 1, second)),
        (C, frame(0, flags::PADDED | flags::END_STREAM, 1, &data)),
        // Nothing but padding, and an empty END_STREAM.
        (C, frame(0, flags::PADDED, 3, &[2, 0, 0])),
        (C, frame(0, flags::END_STREAM, 5, &[])),
    ];
    let got = run(&input, usize::MAX);
    assert_eq!(
        &got[2..],
        [
            "c frame HEADERS 1 28",
            "c frame CONTINUATION 1 77",
            "c headers 1 :method=CONNECT,:protocol=websocket,:scheme=https,:path=/chat,\
         :authority=server.example.com end=false None",
            "c frame DATA 1 7",
            "data c 1 end=true [abc]",
            "c frame DATA 3 3",
            "c frame DATA 5 0",
            "data c 5 end=true []",
        ]
    );
    assert_eq!(run(&input, 1), got);
}

#[test]
fn broken_rules_are_reported_and_reading_goes_on() {
    let input = vec![
        // The server's first frame is not SETTINGS.
        (S, frame(6, 0, 0, &[0; 8])),
        (C, preface()),
        // HEADERS without END_HEADERS, then DATA instead of CONTINUATION.
        (C, frame(1, 0, 1, &connect_block())),
        (C, frame(0, 0, 1, b"x")),
        // A CONTINUATION with nothing open.
        (C, frame(9, flags::END_HEADERS, 1, &[])),
        // DATA over 16,384 bytes: reported, delivered all the same.
        (C, frame(0, 0, 3, &[b'y'; 16_385])),
        // Padding longer than the payload.
        (C, frame(0, flags::PADDED, 3, &[5, 0, 0])),
        // SETTINGS on a stream, of a bad length.
        (C, frame(4, 0, 1, &[0; 5])),
    ];
    let got = run(&input, usize::MAX);
    let errors: Vec<&String> = got.iter().filter(|e| e.contains(" error ")).collect();
    assert_eq!(
        errors,
        [
            "s error the server's first frame is not SETTINGS (RFC 9113 3.4)",
            "c error a DATA frame where a CONTINUATION of stream 1 was due (RFC 9113 6.10)",
            "c error a CONTINUATION frame with no header block open (RFC 9113 6.10)",
            "c error DATA frame of 16385 bytes, over SETTINGS_MAX_FRAME_SIZE 16384 (RFC 9113 4.2)",
            "c error the padding is as long as the payload or longer (RFC 9113 6.1)",
            "c error SETTINGS frame on stream 1: not allowed there (RFC 9113 6)",
        ]
    );
    assert!(got.contains(&format!("data c 3 end=false [{}] …", "y".repeat(16_385))));
    assert_eq!(run(&input, 3), got);
}

#[test]
fn settings_change_how_the_other_side_is_read() {
    // The server allows 32 KiB frames and a 8 KiB table.
    let settings = [0, 5, 0, 0, 0x80, 0, 0, 1, 0, 0, 0x20, 0];
    let mut update = vec![0x3f, 0xe1, 0x3f]; // size update to 8192
    update.extend(block(&[("a", "b")]));
    let input = vec![
        (S, frame(4, 0, 0, &settings)),
        (C, preface()),
        (C, frame(0, 0, 1, &[b'z'; 20_000])),
        (C, frame(1, flags::END_HEADERS, 3, &update)),
    ];
    let got = run(&input, usize::MAX);
    assert!(!got.iter().any(|e| e.contains("error")), "{got:?}");
    assert!(got.contains(&"c headers 3 a=b end=false None".to_string()));
}

#[test]
fn hpack_errors_lose_the_direction_s_headers() {
    let input = vec![
        (C, preface()),
        (C, frame(1, flags::END_HEADERS, 1, &[0xbe])),
        (C, frame(1, flags::END_HEADERS, 3, &block(&[("a", "b")]))),
        (S, frame(4, 0, 0, &[])),
        (
            S,
            frame(1, flags::END_HEADERS, 1, &block(&[(":status", "200")])),
        ),
    ];
    let got = run(&input, usize::MAX);
    let errors: Vec<&String> = got.iter().filter(|e| e.contains(" error ")).collect();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("index 62 is past"));
    assert!(errors[1].contains("an earlier header block could not be decoded"));
    // The other direction has its own table.
    assert!(got.contains(&"s headers 1 :status=200 end=false None".to_string()));
}

#[test]
fn not_http2_is_dead_at_once() {
    let input = vec![(C, b"GET / HTTP/1.1\r\n\r\n".to_vec()), (C, preface())];
    let got = run(&input, usize::MAX);
    assert_eq!(
        got,
        ["c error the client's first bytes are not the HTTP/2 connection preface (RFC 9113 3.4)"]
    );
    assert_eq!(run(&input, 1), got);
}

#[test]
fn large_payloads_are_not_held() {
    let mut c = H2Conn::default();
    let mut errors = 0;
    let mut count = |e: Event<'_>| errors += usize::from(matches!(e, Event::Error(_)));
    c.push(C, &preface(), &mut count);
    // A 1 MiB unknown frame and a 1 MiB header block fragment (after the
    // server allowed frames that large).
    c.push(S, &frame(4, 0, 0, &[0, 5, 0, 0xff, 0xff, 0xff]), &mut count);
    c.push(C, &frame(0xfa, 0, 0, &vec![0; 1 << 20]), &mut count);
    assert!(c.sides[0].held.capacity() < 1024);
    c.push(
        C,
        &frame(1, flags::END_HEADERS, 1, &vec![0; 1 << 20]),
        &mut count,
    );
    assert!(c.sides[0].held.capacity() < 1024);
    assert_eq!(errors, 1);
    assert!(c.sides[0].hpack.is_broken());
}
