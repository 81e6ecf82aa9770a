//! Zeek's `websocket.log`, for the tools and pipelines built on Zeek's logs
//! (zeek-cut, SIEM parsers, RITA): the same columns, types and escaping
//! as Zeek's own (`base/protocols/websocket/main.zeek`), as tab-separated
//! text with Zeek's header lines (its ASCII writer) or as Zeek's JSON
//! lines (`LogAscii::use_json`).
//!
//! A row is a connection whose server answered the upgrade with 101 and
//! `Upgrade: websocket`, which is when Zeek raises `websocket_established`
//! and writes its row. Zeek writes it then; wscap writes it when the
//! connection's record is complete (at its end), so rows are in the order
//! connections end, each with the 101's time as its `ts`, as Zeek's.
//! Connections wscap recognised without seeing their handshake (a capture
//! started late), which Zeek does not log, are left out; connections
//! inside TLS read with a key log, which Zeek cannot see into, are in, and
//! so are WebSockets over HTTP/2 (RFC 8441), which Zeek does not follow:
//! a connection's first WebSocket stream answered with a 2xx is its row.

use crate::record::{ConnectionRecord, Detection, Record, Sink};
use crate::time::{Timestamp, local_offset};
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::net::SocketAddr;

/// Zeek's two log encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeekStyle {
    /// Tab-separated, with `#fields` and `#types` header lines.
    Tsv,
    /// One JSON object a row, unset fields left out.
    Json,
}

/// The columns, in Zeek's order, and their Zeek types.
const FIELDS: [(&str, &str); 13] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("host", "string"),
    ("uri", "string"),
    ("user_agent", "string"),
    ("subprotocol", "string"),
    ("client_protocols", "vector[string]"),
    ("server_extensions", "vector[string]"),
    ("client_extensions", "vector[string]"),
];

/// Zeek's ASCII writer's markers: an unset field, an empty one (a string
/// or a vector with nothing in it), and the separator between a vector's
/// elements.
const UNSET: &str = "-";
const EMPTY: &str = "(empty)";
const SET_SEPARATOR: u8 = b',';

/// Bytes gathered before a write to the output.
const CHUNK: usize = 64 * 1024;

pub struct ZeekWriter<W: Write> {
    w: W,
    style: ZeekStyle,
    buf: Vec<u8>,
}

impl<W: Write> ZeekWriter<W> {
    /// The TSV header is written at once (Zeek writes it when it opens the
    /// log), stamped with the wall clock as Zeek's `#open` is.
    pub fn new(w: W, style: ZeekStyle) -> ZeekWriter<W> {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if style == ZeekStyle::Tsv {
            write_header(&mut buf, &wall_clock());
        }
        ZeekWriter { w, style, buf }
    }

    /// Writes the TSV log's `#close` line and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        if self.style == ZeekStyle::Tsv {
            self.buf.extend_from_slice(b"#close\t");
            self.buf.extend_from_slice(wall_clock().as_bytes());
            self.buf.push(b'\n');
        }
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()?;
        Ok(self.w)
    }
}

impl<W: Write> Sink for ZeekWriter<W> {
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        let Record::Connection(c) = r else {
            return Ok(());
        };
        let Some(row) = Row::of(c) else {
            return Ok(());
        };
        match self.style {
            ZeekStyle::Tsv => row.write_tsv(&mut self.buf),
            ZeekStyle::Json => row.write_json(&mut self.buf),
        }
        if self.buf.len() >= CHUNK {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Only connection records make rows: frames need no per-frame work.
    fn wants_frames(&self) -> bool {
        false
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }
}

fn write_header(out: &mut Vec<u8>, open: &str) {
    // `#separator` alone is followed by a space: the tab it announces is
    // not yet in force.
    out.extend_from_slice(b"#separator \\x09\n#set_separator\t,\n");
    out.extend_from_slice(format!("#empty_field\t{EMPTY}\n#unset_field\t{UNSET}\n").as_bytes());
    out.extend_from_slice(format!("#path\twebsocket\n#open\t{open}\n").as_bytes());
    let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
    let types: Vec<&str> = FIELDS.iter().map(|(_, t)| *t).collect();
    out.extend_from_slice(format!("#fields\t{}\n", names.join("\t")).as_bytes());
    out.extend_from_slice(format!("#types\t{}\n", types.join("\t")).as_bytes());
}

/// Now, as Zeek stamps `#open` and `#close`: local time,
/// `YYYY-MM-DD-HH-MM-SS`.
fn wall_clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let ts = Timestamp::from_nanos(now);
    let (date, time) = ts.date_and_time(local_offset(ts));
    format!("{date}-{}", time[..8].replace(':', "-"))
}

/// One row of websocket.log, borrowed from a connection record.
struct Row<'a> {
    ts: Timestamp,
    uid: String,
    orig: SocketAddr,
    resp: SocketAddr,
    /// `host`, `uri`, `user_agent`, `subprotocol` ([`FIELDS`] 6-9).
    strings: [Option<&'a str>; 4],
    /// `client_protocols`, `server_extensions`, `client_extensions`
    /// ([`FIELDS`] 10-12).
    vectors: [Option<Vec<&'a str>>; 3],
}

impl<'a> Row<'a> {
    /// The row of `c` if Zeek would log it: the server switched to
    /// WebSocket (RFC 6455 4.2.2: 101 with `Upgrade: websocket`; Zeek
    /// attaches its WebSocket analyzer by the reply's Upgrade value, so an
    /// accept key that does not check out is still logged, as Zeek does).
    fn of(c: &'a ConnectionRecord) -> Option<Row<'a>> {
        let (req, resp) = (c.request.as_ref()?, c.response.as_ref()?);
        // Over HTTP/2 (RFC 8441 5) a 2xx to the extended CONNECT is the
        // switch: the row of the connection's first WebSocket stream.
        let h2_open = c.detected_by == Some(Detection::Http2) && (200..300).contains(&resp.status);
        let upgraded = resp.status == 101
            && resp
                .upgrade
                .as_deref()
                .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
        if !upgraded && !h2_open {
            return None;
        }
        Some(Row {
            ts: resp.ts,
            uid: uid(c),
            orig: c.client,
            resp: c.server,
            strings: [
                req.host.as_deref(),
                Some(req.target.as_str()),
                req.user_agent.as_deref(),
                resp.sec_websocket_protocol.as_deref(),
            ],
            vectors: [
                req.sec_websocket_protocol.as_deref().map(split_list),
                resp.sec_websocket_extensions.as_deref().map(split_list),
                req.sec_websocket_extensions.as_deref().map(split_list),
            ],
        })
    }

    fn write_tsv(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(epoch_micros(self.ts).as_bytes());
        out.push(b'\t');
        out.extend_from_slice(self.uid.as_bytes());
        for part in [
            self.orig.ip().to_string(),
            self.orig.port().to_string(),
            self.resp.ip().to_string(),
            self.resp.port().to_string(),
        ] {
            out.push(b'\t');
            out.extend_from_slice(part.as_bytes());
        }
        for s in self.strings {
            out.push(b'\t');
            match s {
                None => out.extend_from_slice(UNSET.as_bytes()),
                Some(s) => push_tsv_string(out, s, false),
            }
        }
        for v in &self.vectors {
            out.push(b'\t');
            match v {
                None => out.extend_from_slice(UNSET.as_bytes()),
                Some(v) if v.is_empty() => out.extend_from_slice(EMPTY.as_bytes()),
                Some(v) => {
                    for (i, e) in v.iter().enumerate() {
                        if i > 0 {
                            out.push(SET_SEPARATOR);
                        }
                        push_tsv_string(out, e, true);
                    }
                }
            }
        }
        out.push(b'\n');
    }

    /// Zeek's JSON log line: the columns in order, `ts` a number, unset
    /// ones left out.
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = JsonObject::new(out);
        o.raw("ts", &epoch_micros(self.ts));
        o.string("uid", &self.uid);
        o.string("id.orig_h", &self.orig.ip().to_string());
        o.raw("id.orig_p", &self.orig.port().to_string());
        o.string("id.resp_h", &self.resp.ip().to_string());
        o.raw("id.resp_p", &self.resp.port().to_string());
        for ((name, _), s) in FIELDS[6..10].iter().zip(self.strings) {
            if let Some(s) = s {
                o.string(name, s);
            }
        }
        for ((name, _), v) in FIELDS[10..].iter().zip(&self.vectors) {
            if let Some(v) = v {
                o.strings(name, v);
            }
        }
        o.end();
    }
}

/// One JSON object written member by member, in the order given (Zeek's
/// column order, which a map would not keep).
struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn new(out: &'a mut Vec<u8>) -> JsonObject<'a> {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        json_str(self.out, name);
        self.out.push(b':');
    }

    /// A value written as it is: a number.
    fn raw(&mut self, name: &str, value: &str) {
        self.key(name);
        self.out.extend_from_slice(value.as_bytes());
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        json_str(self.out, value);
    }

    fn strings(&mut self, name: &str, values: &[&str]) {
        self.key(name);
        self.out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            json_str(self.out, v);
        }
        self.out.push(b']');
    }

    fn end(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec");
}

/// A comma-separated header value as Zeek's script splits it
/// (`split_string(value, / *, */)`): at each comma, the spaces around it
/// dropped.
fn split_list(value: &str) -> Vec<&str> {
    value.split(',').map(|e| e.trim_matches(' ')).collect()
}

/// Seconds since the epoch to the microsecond, as Zeek renders a `time`
/// (`1700000000.123456`): rounded to the nearest microsecond.
fn epoch_micros(ts: Timestamp) -> String {
    let nanos = i128::from(ts.as_nanos());
    let micros = (nanos.abs() + 500) / 1000;
    let sign = if nanos < 0 && micros > 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A string field as Zeek's ASCII writer escapes it: an empty one is
/// `(empty)`; one that is exactly a marker (`-`, `(empty)`) has its first
/// byte escaped; the separator (tab), a backslash, control characters and,
/// inside a vector, the set separator are written `\xNN`, byte by byte.
fn push_tsv_string(out: &mut Vec<u8>, s: &str, in_vector: bool) {
    if s.is_empty() {
        out.extend_from_slice(EMPTY.as_bytes());
        return;
    }
    let reserved = s == UNSET || s == EMPTY;
    for (i, c) in s.char_indices() {
        let escape = (reserved && i == 0)
            || c == '\\'
            || c.is_control()
            || (in_vector && c == char::from(SET_SEPARATOR));
        if !escape {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        let mut utf8 = [0u8; 4];
        for b in c.encode_utf8(&mut utf8).bytes() {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
}

/// Zeek's form of a connection's unique id (`C` and up to 17 base-62
/// digits: 96 bits), made from what identifies the connection in the
/// capture (its first packet's time and number, its endpoints) so that the
/// same capture gives the same ids on every run, with any `--threads` or
/// `--shard`. Zeek's own ids are random: they cannot be matched.
fn uid(c: &ConnectionRecord) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let key = (c.first_ts, c.first_packet, c.client, c.server);
    let hash = |seed: u64| foldhash::quality::FixedState::with_seed(seed).hash_one(key);
    let mut n = (u128::from(hash(0x5eed_0001)) << 32 | u128::from(hash(0x5eed_0002) >> 32))
        & ((1u128 << 96) - 1);
    let mut digits = Vec::with_capacity(18);
    while n > 0 || digits.is_empty() {
        digits.push(DIGITS[(n % 62) as usize]);
        n /= 62;
    }
    digits.push(b'C');
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

#[cfg(test)]
mod tests;
