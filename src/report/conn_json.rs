//! A connection record as one JSON object, written by hand, as
//! [`super::frame_json`] writes frames: the same bytes as serde_json's
//! (`tests/golden` holds them for every capture, and a test here compares
//! the two on records with every field set).
//!
//! Through serde a connection record cost about 27,000 instructions, most
//! of them serde_json looking at each byte of its seventy keys on its own
//! and handing each piece to the writer: more than the whole handshake it
//! records. A capture's connections often end together (a server restart,
//! the end of a capture taken after a load test), and the thread writing
//! them is then the one every other waits for. Here the keys are constants
//! copied with the value after them, the strings are escaped a word at a
//! time, and only what is rare and nested (findings, diagnoses, TLS, the
//! file list) goes through serde.
//!
//! A field added to [`ConnectionRecord`] is written here too: until it is,
//! the test below, which sets every field, finds serde's text and this one
//! apart.

use super::frame_json::{int, key_ts};
use crate::record::{
    CloseCodes, ConnectionRecord, NegotiatedInfo, PerDir, RequestInfo, ResponseInfo, Roles,
    TcpDirInfo,
};
use crate::text::{Text, push_json_str};
use std::io::Write;
use std::net::SocketAddr;

/// Writes `c` as one JSON object, its `type` first.
pub fn write_connection(c: &ConnectionRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"connection\"");
    int(out, b",\"conn\":", c.conn);
    addr(out, b",\"client\":\"", c.client);
    addr(out, b",\"server\":\"", c.server);
    key_str(out, b",\"wireshark_filter\":", &c.wireshark_filter);
    if !c.files.is_empty() {
        key_serde(out, b",\"files\":", &c.files);
    }
    out.extend_from_slice(b",\"roles\":");
    out.extend_from_slice(roles(c.roles));
    out.extend_from_slice(if c.websocket {
        b",\"websocket\":true"
    } else {
        b",\"websocket\":false"
    });
    key_opt_str(out, b",\"detected_by\":", c.detected_by.map(|d| d.as_str()));
    if let Some(tls) = &c.tls {
        key_serde(out, b",\"tls\":", tls);
    }
    int(out, b",\"first_packet\":", c.first_packet);
    int(out, b",\"last_packet\":", c.last_packet);
    key_ts(out, b",\"first_ts\":\"", c.first_ts);
    key_ts(out, b"\",\"last_ts\":\"", c.last_ts);
    match c.last_frame_ts {
        Some(ts) => {
            key_ts(out, b"\",\"last_frame_ts\":\"", ts);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"\",\"last_frame_ts\":null"),
    }
    key_opt_int(out, b",\"end_packet\":", c.end_packet);
    key_str(out, b",\"end\":", c.end.as_str());
    match &c.request {
        Some(r) => request(out, r),
        None => out.extend_from_slice(b",\"request\":null"),
    }
    match &c.response {
        Some(r) => response(out, r),
        None => out.extend_from_slice(b",\"response\":null"),
    }
    match &c.negotiated {
        Some(n) => negotiated(out, n),
        None => out.extend_from_slice(b",\"negotiated\":null"),
    }
    key_opt_int(out, b",\"other_leg\":", c.other_leg);
    per_dir(out, b",\"frames\":", c.frames);
    per_dir(out, b",\"payload_bytes\":", c.payload_bytes);
    tcp(out, &c.tcp);
    close_codes(out, &c.close_codes);
    tail(out, c);
}

/// The findings, their counts and the diagnosis: empty on most
/// connections, serde's when not.
fn tail(out: &mut Vec<u8>, c: &ConnectionRecord) {
    let findings = &c.findings;
    key_serde_or(out, b",\"findings\":", findings.is_empty(), b"[]", findings);
    let by_code = &c.findings_by_code;
    key_serde_or(
        out,
        b",\"findings_by_code\":",
        by_code.is_empty(),
        b"{}",
        by_code,
    );
    let by_severity = &c.findings_by_severity;
    key_serde_or(
        out,
        b",\"findings_by_severity\":",
        by_severity.is_empty(),
        b"{}",
        by_severity,
    );
    let diagnosis = &c.diagnosis;
    key_serde_or(
        out,
        b",\"diagnosis\":",
        diagnosis.is_empty(),
        b"[]",
        diagnosis,
    );
    if let Some(h2) = &c.http2 {
        key_serde(out, b",\"http2\":", h2);
    }
    out.push(b'}');
}

fn request(out: &mut Vec<u8>, r: &RequestInfo) {
    int(out, b",\"request\":{\"packet\":", r.packet);
    key_ts(out, b",\"ts\":\"", r.ts);
    key_str(out, b"\",\"method\":", &r.method);
    key_str(out, b",\"target\":", &r.target);
    key_str(out, b",\"version\":", &r.version);
    key_opt_text(out, b",\"host\":", &r.host);
    key_opt_text(out, b",\"origin\":", &r.origin);
    key_opt_text(out, b",\"upgrade\":", &r.upgrade);
    key_opt_text(out, b",\"connection\":", &r.connection);
    key_opt_text(out, b",\"sec_websocket_key\":", &r.sec_websocket_key);
    key_opt_text(
        out,
        b",\"sec_websocket_version\":",
        &r.sec_websocket_version,
    );
    key_opt_text(
        out,
        b",\"sec_websocket_protocol\":",
        &r.sec_websocket_protocol,
    );
    key_opt_text(
        out,
        b",\"sec_websocket_extensions\":",
        &r.sec_websocket_extensions,
    );
    key_opt_text(out, b",\"user_agent\":", &r.user_agent);
    out.push(b'}');
}

fn response(out: &mut Vec<u8>, r: &ResponseInfo) {
    int(out, b",\"response\":{\"packet\":", r.packet);
    key_ts(out, b",\"ts\":\"", r.ts);
    key_str(out, b"\",\"version\":", &r.version);
    int(out, b",\"status\":", u64::from(r.status));
    key_str(out, b",\"reason\":", &r.reason);
    key_opt_text(out, b",\"upgrade\":", &r.upgrade);
    key_opt_text(out, b",\"connection\":", &r.connection);
    key_opt_text(out, b",\"sec_websocket_accept\":", &r.sec_websocket_accept);
    key_opt_text(
        out,
        b",\"sec_websocket_protocol\":",
        &r.sec_websocket_protocol,
    );
    key_opt_text(
        out,
        b",\"sec_websocket_extensions\":",
        &r.sec_websocket_extensions,
    );
    out.push(b'}');
}

fn negotiated(out: &mut Vec<u8>, n: &NegotiatedInfo) {
    out.extend_from_slice(b",\"negotiated\":{\"extensions\":[");
    for (i, e) in n.extensions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, e);
    }
    out.push(b']');
    key_opt_str(out, b",\"subprotocol\":", n.subprotocol.as_deref());
    match &n.deflate {
        Some(d) => key_serde(out, b",\"deflate\":", d),
        None => out.extend_from_slice(b",\"deflate\":null"),
    }
    out.extend_from_slice(match n.accept_ok {
        Some(true) => b",\"accept_ok\":true}",
        Some(false) => b",\"accept_ok\":false}",
        None => b",\"accept_ok\":null}",
    });
}

fn per_dir(out: &mut Vec<u8>, key: &[u8], v: PerDir<u64>) {
    out.extend_from_slice(key);
    int(out, b"{\"c2s\":", v.c2s);
    int(out, b",\"s2c\":", v.s2c);
    out.push(b'}');
}

fn tcp(out: &mut Vec<u8>, t: &PerDir<TcpDirInfo>) {
    let dir = |out: &mut Vec<u8>, key: &[u8], d: &TcpDirInfo| {
        int(out, key, d.packets);
        int(out, b",\"wire_bytes\":", d.wire_bytes);
        int(out, b",\"duplicate_bytes\":", d.duplicate_bytes);
        int(out, b",\"out_of_order\":", d.out_of_order);
        int(out, b",\"gaps\":", d.gaps);
        int(out, b",\"gap_bytes\":", d.gap_bytes);
        int(out, b",\"conflicts\":", d.conflicts);
        out.push(b'}');
    };
    out.extend_from_slice(b",\"tcp\":");
    dir(out, b"{\"c2s\":{\"packets\":", &t.c2s);
    dir(out, b",\"s2c\":{\"packets\":", &t.s2c);
    out.push(b'}');
}

fn close_codes(out: &mut Vec<u8>, c: &PerDir<CloseCodes>) {
    let codes = |out: &mut Vec<u8>, key: &[u8], codes: &[u16]| {
        out.extend_from_slice(key);
        for (i, code) in codes.iter().enumerate() {
            let sep: &[u8] = if i == 0 { b"" } else { b"," };
            int(out, sep, u64::from(*code));
        }
        out.push(b']');
    };
    codes(out, b",\"close_codes\":{\"c2s\":[", &c.c2s);
    codes(out, b",\"s2c\":[", &c.s2c);
    out.push(b'}');
}

/// `"syn"`... as the records spell [`Roles`].
fn roles(r: Roles) -> &'static [u8] {
    match r {
        Roles::Syn => b"\"syn\"",
        Roles::SynAck => b"\"syn-ack\"",
        Roles::Http => b"\"http\"",
        Roles::PortGuess => b"\"port-guess\"",
    }
}

/// `key` and `a` as `Display` writes it (`ip:port`, `[ip6]:port`), in
/// quotes; `key` holds the opening one. IPv4 by hand, the rest by
/// `Display`.
fn addr(out: &mut Vec<u8>, key: &[u8], a: SocketAddr) {
    out.extend_from_slice(key);
    match a {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                let sep: &[u8] = if i == 0 { b"" } else { b"." };
                int(out, sep, u64::from(octet));
            }
            int(out, b":", u64::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
    out.push(b'"');
}

fn key_str(out: &mut Vec<u8>, key: &[u8], s: &str) {
    out.extend_from_slice(key);
    push_json_str(out, s);
}

fn key_opt_str(out: &mut Vec<u8>, key: &[u8], s: Option<&str>) {
    out.extend_from_slice(key);
    match s {
        Some(s) => push_json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn key_opt_text(out: &mut Vec<u8>, key: &[u8], s: &Option<Text>) {
    key_opt_str(out, key, s.as_deref());
}

fn key_opt_int(out: &mut Vec<u8>, key: &[u8], v: Option<u64>) {
    match v {
        Some(v) => int(out, key, v),
        None => {
            out.extend_from_slice(key);
            out.extend_from_slice(b"null");
        }
    }
}

/// `key` and `v` as serde_json writes it (what is rare or nested).
fn key_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, key: &[u8], v: &T) {
    out.extend_from_slice(key);
    // Writing these to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `key` and `v`, or `empty` (serde_json's text for it) when `v` holds
/// nothing, as it mostly does.
fn key_serde_or<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    key: &[u8],
    is_empty: bool,
    empty: &[u8],
    v: &T,
) {
    if is_empty {
        out.extend_from_slice(key);
        out.extend_from_slice(empty);
    } else {
        key_serde(out, key, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::diagnose;
    use crate::finding::{Code, Finding, Severity};
    use crate::record::{DeflateInfo, Detection, Record, TlsInfo};
    use crate::time::Timestamp;

    fn check(c: &ConnectionRecord) {
        let mut out = Vec::new();
        write_connection(c, &mut out);
        let want = serde_json::to_vec(&Record::Connection(c)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn as_serde_writes_it() {
        let mut c = ConnectionRecord::example();
        check(&c);
        // Every optional field set, strings that need escaping, IPv6.
        c.client = "[2001:db8::1]:40000".parse().unwrap();
        c.server = "[::1]:443".parse().unwrap();
        c.files = vec!["a \"b\".pcap".into(), "c\\d.pcap".into()];
        c.roles = Roles::PortGuess;
        c.detected_by = Some(Detection::Heuristic);
        c.tls = Some(TlsInfo {
            packet: 3,
            sni: Some("example.com".into()),
            alpn: vec!["h2".into(), "http/1.1".into()],
            ..TlsInfo::default()
        });
        c.last_frame_ts = Some(Timestamp(-5));
        c.end_packet = None;
        c.other_leg = Some(7);
        c.frames = PerDir { c2s: 3, s2c: 0 };
        c.close_codes.c2s = CloseCodes::from([1000, 1009]);
        if let Some(r) = &mut c.request {
            r.target = "/chat?q=\"x\"\t\u{1}é".into();
            r.user_agent = Some("agent/1.0 (\u{7f})".into());
            r.host = None;
        }
        if let Some(r) = &mut c.response {
            r.status = 400;
            r.reason = "Bad \\ Request".into();
        }
        c.negotiated = Some(NegotiatedInfo {
            extensions: vec!["permessage-deflate".into(), "x-\"odd\"".into()],
            subprotocol: Some("chat".into()),
            deflate: Some(DeflateInfo {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 10,
            }),
            accept_ok: Some(false),
        });
        c.tcp.s2c.gaps = 2;
        c.findings = vec![Finding::new(Code::BadAcceptKey, "expected=x, found=y").at(5)];
        c.findings_by_code.add(Code::BadAcceptKey, 1);
        c.findings_by_severity.add(Severity::Error, 1);
        c.diagnosis = diagnose(&c, &Default::default());
        assert!(!c.diagnosis.is_empty(), "a diagnosis to write");
        check(&c);
        c.negotiated.as_mut().unwrap().accept_ok = None;
        c.negotiated.as_mut().unwrap().extensions.clear();
        c.request = None;
        c.response = None;
        c.last_frame_ts = None;
        check(&c);
    }
}
