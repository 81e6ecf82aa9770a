//! websocket.log rows on hand-built records: which connections make one,
//! Zeek's escaping, splitting and time format.

use super::*;
use crate::record::{ConnectionRecord, RequestInfo, ResponseInfo};

fn conn(status: u16, upgrade: Option<&str>) -> ConnectionRecord {
    ConnectionRecord {
        client: ([127, 0, 0, 1], 38776).into(),
        server: ([127, 0, 0, 1], 27599).into(),
        request: Some(RequestInfo {
            packet: 4,
            method: "GET".into(),
            target: "/v1/messages/json".into(),
            version: "HTTP/1.1".into(),
            host: Some("localhost:27599".into()),
            sec_websocket_extensions: Some("permessage-deflate; client_max_window_bits".into()),
            sec_websocket_protocol: Some("v1 ,  chat,(empty)".into()),
            user_agent: Some("Python/3.10 websockets/12.0".into()),
            ..RequestInfo::default()
        }),
        response: Some(ResponseInfo {
            packet: 5,
            ts: Timestamp(1_700_000_000_123_456_789),
            version: "HTTP/1.1".into(),
            status,
            reason: "Switching Protocols".into(),
            upgrade: upgrade.map(Into::into),
            ..ResponseInfo::default()
        }),
        ..ConnectionRecord::example()
    }
}

fn rows(style: ZeekStyle, records: &[ConnectionRecord]) -> String {
    let mut w = ZeekWriter::new(Vec::new(), style);
    for c in records {
        w.record(Record::Connection(c)).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

#[test]
fn a_row_per_switch_to_websocket() {
    let out = rows(
        ZeekStyle::Tsv,
        &[
            conn(101, Some("websocket")),
            conn(101, Some("WebSocket")),
            // Refused, or switched to another protocol: no row.
            conn(403, None),
            conn(101, Some("h2c")),
            conn(101, None),
        ],
    );
    let data: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(data.len(), 2, "{out}");
    let cols: Vec<&str> = data[0].split('\t').collect();
    assert_eq!(cols.len(), FIELDS.len());
    assert_eq!(cols[0], "1700000000.123457");
    assert!(
        cols[1].starts_with('C') && cols[1].len() <= 18,
        "{}",
        cols[1]
    );
    assert_eq!(
        &cols[2..],
        [
            "127.0.0.1",
            "38776",
            "127.0.0.1",
            "27599",
            "localhost:27599",
            "/v1/messages/json",
            "Python/3.10 websockets/12.0",
            "-",
            "v1,chat,\\x28empty)",
            "-",
            "permessage-deflate; client_max_window_bits",
        ]
    );
}

#[test]
fn header_as_zeeks_ascii_writer_writes_it() {
    let out = rows(ZeekStyle::Tsv, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "#separator \\x09");
    assert_eq!(lines[1], "#set_separator\t,");
    assert_eq!(lines[2], "#empty_field\t(empty)");
    assert_eq!(lines[3], "#unset_field\t-");
    assert_eq!(lines[4], "#path\twebsocket");
    assert!(lines[5].starts_with("#open\t") && lines[5].len() == "#open\t".len() + 19);
    assert!(lines[6].starts_with("#fields\tts\tuid\tid.orig_h\t"));
    assert!(lines[7].ends_with("\tvector[string]\tvector[string]\tvector[string]"));
    assert!(lines[8].starts_with("#close\t"));
    assert_eq!(lines.len(), 9);
}

#[test]
fn json_rows_leave_unset_fields_out() {
    let out = rows(ZeekStyle::Json, &[conn(101, Some("websocket"))]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ts"], serde_json::json!(1_700_000_000.123_457));
    assert_eq!(v["id.orig_p"], 38776);
    assert_eq!(
        v["client_protocols"],
        serde_json::json!(["v1", "chat", "(empty)"])
    );
    assert!(v.get("subprotocol").is_none() && v.get("server_extensions").is_none());
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn strings_escaped_as_zeek_does() {
    let esc = |s: &str, in_vector: bool| {
        let mut out = Vec::new();
        push_tsv_string(&mut out, s, in_vector);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(esc("", false), "(empty)");
    assert_eq!(esc("-", false), "\\x2d");
    assert_eq!(esc("(empty)", false), "\\x28empty)");
    assert_eq!(esc("a-b", false), "a-b");
    assert_eq!(esc("a\tb\\c", false), "a\\x09b\\x5cc");
    assert_eq!(esc("a,b", false), "a,b");
    assert_eq!(esc("a,b", true), "a\\x2cb");
    assert_eq!(esc("déjà\u{7f}", false), "déjà\\x7f");
    assert_eq!(esc("\u{85}", false), "\\xc2\\x85");
}

#[test]
fn lists_split_as_zeeks_script_splits_them() {
    assert_eq!(split_list("a, b ,c"), ["a", "b", "c"]);
    assert_eq!(split_list("a,,b"), ["a", "", "b"]);
    assert_eq!(split_list("x; y=1"), ["x; y=1"]);
}

#[test]
fn times_and_ids() {
    assert_eq!(epoch_micros(Timestamp(1_500_000)), "0.001500");
    assert_eq!(epoch_micros(Timestamp(999_999_999)), "1.000000");
    assert_eq!(epoch_micros(Timestamp(-500_000_000)), "-0.500000");
    let (a, b) = (conn(101, None), conn(101, None));
    assert_eq!(uid(&a), uid(&b));
    let mut c = conn(101, None);
    c.client.set_port(38777);
    assert_ne!(uid(&a), uid(&c));
}

/// Whatever a field holds, its escaped form has no separator, line end or
/// bare set separator in a vector, and Zeek's reader (`\xNN` back to the
/// byte) gets the string back.
#[test]
fn any_string_escapes_to_one_field_and_back() {
    let unescape = |s: &str| {
        let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
        while i < b.len() {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    let alphabet = [
        'a', ',', '\t', '\n', '\\', '-', '(', ')', 'é', '\u{85}', '\0', ' ', 'x',
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..5000 {
        let len = (seed % 9) as usize;
        let s: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        for in_vector in [false, true] {
            let mut out = Vec::new();
            push_tsv_string(&mut out, &s, in_vector);
            let field = String::from_utf8(out).unwrap();
            assert!(!field.contains(['\t', '\n']), "{s:?} -> {field:?}");
            assert!(!(in_vector && field.contains(',')), "{s:?} -> {field:?}");
            let back = if field == EMPTY {
                String::new()
            } else {
                unescape(&field)
            };
            assert_eq!(back, s, "{field:?}");
        }
    }
}
