//! A frame record as one JSON object, written by hand: frame records are
//! most of the output on a busy capture, and fixed keys, integers and the
//! timestamp go straight into the buffer, and so does the preview, escaped
//! as serde_json would. A close reason is escaped as serde_json escapes
//! (`text::push_json_str`), the rare findings are serde_json's, so the
//! bytes are what serde would write (a test parses them back). Both JSON
//! writers use it.

use super::preview::PayloadMode;
use crate::record::FrameRecord;
use crate::tcp::Dir;
use crate::time::Timestamp;
use crate::websocket::Opcode;
use std::cell::Cell;
use std::io::Write;

/// Writes `f` as one JSON object, the preview rendered in `mode`; `scratch`
/// is reused for the rendering.
///
/// Every append to `out` checks its capacity and stores its length again
/// (the bytes written might alias them), so the record goes in as few
/// pieces as its values allow: each key with the value after it, a flag as
/// one constant, the opcode's name and number as one.
pub fn write_frame(f: &FrameRecord, mode: PayloadMode, scratch: &mut String, out: &mut Vec<u8>) {
    // Two constant copies: a choice of slice is copied by memcpy.
    let flag = |out: &mut Vec<u8>, v: bool, yes: &[u8], no: &[u8]| {
        if v {
            out.extend_from_slice(yes);
        } else {
            out.extend_from_slice(no);
        }
    };
    push_whose(out, f);
    int(out, b",\"packet\":", f.packet);
    int(out, b",\"last_packet\":", f.last_packet);
    push_ts(out, f.ts);
    int(out, b"\",\"offset\":", f.offset);
    flag(out, f.fin, b",\"fin\":true", b",\"fin\":false");
    flag(out, f.rsv1, b",\"rsv1\":true", b",\"rsv1\":false");
    flag(out, f.rsv2, b",\"rsv2\":true", b",\"rsv2\":false");
    flag(out, f.rsv3, b",\"rsv3\":true", b",\"rsv3\":false");
    push_opcode(out, f.opcode);
    match f.mask_key {
        Some(k) => {
            let mut text = *b",\"masked\":true,\"mask_key\":\"00000000\"";
            text[27..35].copy_from_slice(&crate::text::hex4(k.0));
            out.extend_from_slice(&text);
        }
        None => out.extend_from_slice(b",\"masked\":false,\"mask_key\":null"),
    }
    int(out, b",\"payload_len\":", f.payload_len);
    int(out, b",\"header_len\":", u64::from(f.header_len));
    flag(
        out,
        f.compressed,
        b",\"compressed\":true",
        b",\"compressed\":false",
    );
    if let Some(c) = f.close_code {
        int(out, b",\"close_code\":", u64::from(c));
    }
    if let Some(r) = &f.close_reason {
        out.extend_from_slice(b",\"close_reason\":");
        crate::text::push_json_str(out, r);
    }
    if mode != PayloadMode::None {
        out.extend_from_slice(b",\"preview\":\"");
        mode.push_json(&f.preview, scratch, out);
        out.push(b'"');
    }
    if f.payload_missing != 0 {
        int(out, b",\"payload_missing\":", f.payload_missing);
    }
    if let Some(n) = f.inflated_len {
        int(out, b",\"inflated_len\":", n);
    }
    if f.payload_captured != f.payload_len {
        int(out, b",\"payload_captured\":", f.payload_captured);
    }
    if f.findings.is_empty() {
        flag(
            out,
            f.complete,
            b",\"complete\":true,\"findings\":[]}",
            b",\"complete\":false,\"findings\":[]}",
        );
    } else {
        flag(
            out,
            f.complete,
            b",\"complete\":true,\"findings\":",
            b",\"complete\":false,\"findings\":",
        );
        let _ = serde_json::to_writer(&mut *out, &f.findings);
        out.push(b'}');
    }
}

/// `{"type":"frame","conn":N[,"h2_stream":S],"dir":"D","index":I`: whose
/// frame it is.
#[inline(always)]
fn push_whose(out: &mut Vec<u8>, f: &FrameRecord) {
    int(out, b"{\"type\":\"frame\",\"conn\":", f.conn);
    if let Some(s) = f.h2_stream {
        int(out, b",\"h2_stream\":", u64::from(s));
    }
    match f.dir {
        Dir::ClientToServer => int(out, b",\"dir\":\"c2s\",\"index\":", f.index),
        Dir::ServerToClient => int(out, b",\"dir\":\"s2c\",\"index\":", f.index),
    }
}

/// `,"opcode":"NAME","opcode_value":N`: for each opcode with a name, one
/// constant (the name's length known when compiling, it is copied without a
/// call to memcpy).
fn push_opcode(out: &mut Vec<u8>, op: Opcode) {
    match op {
        Opcode::TEXT => out.extend_from_slice(b",\"opcode\":\"text\",\"opcode_value\":1"),
        Opcode::BINARY => out.extend_from_slice(b",\"opcode\":\"binary\",\"opcode_value\":2"),
        Opcode::CONTINUATION => {
            out.extend_from_slice(b",\"opcode\":\"continuation\",\"opcode_value\":0")
        }
        Opcode::CLOSE => out.extend_from_slice(b",\"opcode\":\"close\",\"opcode_value\":8"),
        Opcode::PING => out.extend_from_slice(b",\"opcode\":\"ping\",\"opcode_value\":9"),
        Opcode::PONG => out.extend_from_slice(b",\"opcode\":\"pong\",\"opcode_value\":10"),
        other => {
            out.extend_from_slice(b",\"opcode\":\"");
            out.extend_from_slice(other.name().as_bytes());
            int(out, b"\",\"opcode_value\":", u64::from(other.0));
        }
    }
}

/// The widest u64 in decimal: 20 digits.
const UINT_WIDTH: usize = 20;

/// The longest key [`int`] writes before a number.
const KEY_WIDTH: usize = 24;

/// "00" to "99": two digits are made per division.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Appends `key` and `v` in decimal, as one block. The digits are made at
/// the end of a buffer's first part, the key put before them, and both
/// copied from there as a block of the key's length and the widest number's,
/// the excess then cut off: a copy of a length known when compiling is a
/// few moves, one known only when running a call to memcpy. Inlined, so
/// that the key is a constant.
#[inline(always)]
pub(super) fn int(out: &mut Vec<u8>, key: &[u8], v: u64) {
    debug_assert!(key.len() <= KEY_WIDTH, "a key of up to KEY_WIDTH bytes");
    let mut buf = [0u8; KEY_WIDTH + 2 * UINT_WIDTH];
    let digits_end = KEY_WIDTH + UINT_WIDTH;
    let mut start = digits_end;
    let mut rest = v;
    while rest >= 100 {
        start -= 2;
        buf[start..start + 2].copy_from_slice(&DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
    }
    if rest >= 10 {
        start -= 2;
        buf[start..start + 2].copy_from_slice(&DIGIT_PAIRS[rest as usize]);
    } else {
        start -= 1;
        buf[start] = b'0' + rest as u8;
    }
    let from = start - key.len();
    buf[from..start].copy_from_slice(key);
    let end = out.len() + (digits_end - from);
    out.extend_from_slice(&buf[from..from + key.len() + UINT_WIDTH]);
    out.truncate(end);
}

thread_local! {
    /// The second of the last timestamp written and its text up to the
    /// nanoseconds (`2024-05-01T12:00:00.`): frames mostly share seconds,
    /// and through `Display` a timestamp cost as much as the rest of a
    /// record's numbers.
    static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
}

/// `,"ts":"` and `ts` as [`Timestamp`]'s `Display` writes it (RFC 3339,
/// nanoseconds), as one block.
fn push_ts(out: &mut Vec<u8>, ts: Timestamp) {
    key_ts(out, b",\"ts\":\"", ts);
}

/// `key` (up to [`KEY_WIDTH`] bytes, its opening quote included) and `ts`
/// as [`Timestamp`]'s `Display` writes it (RFC 3339, nanoseconds), as one
/// block; the closing quote is the caller's.
#[inline(always)]
pub(super) fn key_ts(out: &mut Vec<u8>, key: &[u8], ts: Timestamp) {
    debug_assert!(key.len() <= KEY_WIDTH, "a key of up to KEY_WIDTH bytes");
    let secs = ts.0.div_euclid(1_000_000_000);
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        // Any instant of the second gives its text.
        let mut text = [0u8; 30];
        let mut rest = &mut text[..];
        // Every i64 timestamp has this width; were one not to, it is
        // written as it comes.
        if write!(rest, "{ts}").is_err() || !rest.is_empty() {
            out.extend_from_slice(key);
            let _ = write!(out, "{ts}");
            return;
        }
        prefix.copy_from_slice(&text[..20]);
        SECOND.set((secs, prefix));
    }
    let mut text = [0u8; KEY_WIDTH + 30];
    let n = key.len();
    text[..n].copy_from_slice(key);
    text[n..n + 20].copy_from_slice(&prefix);
    // Nine digits, two per division, and the zone.
    let digits = &mut text[n + 20..n + 30];
    let mut nanos = ts.0.rem_euclid(1_000_000_000) as usize;
    for at in [7, 5, 3, 1] {
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[nanos % 100]);
        nanos /= 100;
    }
    digits[0] = b'0' + nanos as u8;
    digits[9] = b'Z';
    out.extend_from_slice(&text[..n + 30]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, Finding};
    use crate::record::MaskKey;
    use crate::tcp::Dir;
    use crate::time::Timestamp;
    use crate::websocket::Opcode;
    use serde_json::{Value, json};

    fn frame() -> FrameRecord {
        let mut f = FrameRecord::empty(7, Dir::ClientToServer);
        f.index = 3;
        f.packet = 12;
        f.last_packet = 14;
        f.ts = Timestamp(1_700_000_000_123_456_789);
        f.offset = 4096;
        f.fin = true;
        f.rsv2 = true;
        f.opcode = Opcode::TEXT;
        f.mask_key = Some(MaskKey([0x0a, 0xff, 0x00, 0x37]));
        f.payload_len = u64::MAX;
        f.payload_captured = u64::MAX;
        f.header_len = 14;
        f
    }

    fn written(f: &FrameRecord, mode: PayloadMode) -> Value {
        let mut out = Vec::new();
        write_frame(f, mode, &mut String::new(), &mut out);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn numbers_in_decimal() {
        let mut out = b"x".to_vec();
        let mut want = String::from("x");
        let mut v = 1_u64;
        for n in [
            0,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65_535,
            u64::MAX - 1,
            u64::MAX,
        ] {
            int(&mut out, b",\"k\":", n);
            want.push_str(&format!(",\"k\":{n}"));
        }
        while let Some(next) = v.checked_mul(7) {
            int(&mut out, b"", v);
            want.push_str(&v.to_string());
            v = next + 1;
        }
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn timestamps_as_display_writes_them() {
        let s = 1_000_000_000;
        for ns in [
            1_700_000_000 * s + 123,
            1_700_000_000 * s + 999_999_999,
            1_700_000_001 * s,
            1_700_000_000 * s + 5,
            0,
            -1,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            push_ts(&mut out, Timestamp(ns));
            let want = format!(",\"ts\":\"{}", Timestamp(ns));
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    /// Each opcode's constant is what its name and number make.
    #[test]
    fn opcodes_by_name_and_value() {
        for v in 0..16 {
            let op = Opcode(v);
            let mut out = Vec::new();
            push_opcode(&mut out, op);
            let want = format!(",\"opcode\":\"{}\",\"opcode_value\":{v}", op.name());
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn every_field_in_schema_order() {
        let v = written(&frame(), PayloadMode::None);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 21);
        assert_eq!(
            v,
            json!({"type":"frame","conn":7,"dir":"c2s","index":3,"packet":12,"last_packet":14,
                "ts":"2023-11-14T22:13:20.123456789Z","offset":4096,"fin":true,"rsv1":false,
                "rsv2":true,"rsv3":false,"opcode":"text","opcode_value":1,"masked":true,
                "mask_key":"0aff0037","payload_len":u64::MAX,"header_len":14,"compressed":false,
                "complete":true,"findings":[]})
        );
    }

    #[test]
    fn optional_fields_and_escaping() {
        let mut f = frame();
        f.dir = Dir::ServerToClient;
        f.opcode = Opcode::CLOSE;
        f.mask_key = None;
        f.close_code = Some(1009);
        f.close_reason = Some("too \"big\" \u{1} é".into());
        f.preview = b"a\nb\x7f".to_vec();
        f.payload_missing = 5;
        f.payload_captured = 0;
        f.complete = false;
        f.findings = vec![
            Finding::new(Code::InvalidUtf8, "bad \"byte\"").at(3),
            Finding::new(Code::CaptureGap, "gap"),
        ];
        let v = written(&f, PayloadMode::Text);
        assert_eq!(v["dir"], "s2c");
        assert_eq!(v["opcode"], "close");
        assert_eq!(v["opcode_value"], 8);
        assert_eq!(v["masked"], false);
        assert!(v["mask_key"].is_null());
        assert_eq!(v["close_reason"], "too \"big\" \u{1} é");
        assert_eq!(v["preview"], "a\\nb\\x7f");
        assert_eq!(v["payload_missing"], 5);
        assert_eq!(v["payload_captured"], 0);
        assert_eq!(v["findings"], serde_json::to_value(&f.findings).unwrap());
        assert_eq!(written(&f, PayloadMode::Hex)["preview"], "610a627f");
        assert!(written(&f, PayloadMode::None).get("preview").is_none());
    }
}
