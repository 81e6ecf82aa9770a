//! A frame record as one JSON object, written by hand: frame records are
//! most of the output on a busy capture, and fixed keys, integers and the
//! timestamp go straight into the buffer, and so does the preview, escaped
//! as serde_json would. The rare strings (a close reason, findings) are
//! serde_json's, so the bytes are what serde would write (a test parses
//! them back). Both JSON writers use it.

use super::preview::PayloadMode;
use crate::record::FrameRecord;
use crate::time::Timestamp;
use std::cell::Cell;
use std::io::Write;

/// Writes `f` as one JSON object, the preview rendered in `mode`; `scratch`
/// is reused for the rendering.
pub fn write_frame(f: &FrameRecord, mode: PayloadMode, scratch: &mut String, out: &mut Vec<u8>) {
    let flag = |out: &mut Vec<u8>, key: &[u8], v: bool| {
        out.extend_from_slice(key);
        // Two constant copies: a choice of slice is copied by memcpy.
        if v {
            out.extend_from_slice(b"true");
        } else {
            out.extend_from_slice(b"false");
        }
    };
    out.extend_from_slice(b"{\"type\":\"frame\"");
    int(out, b",\"conn\":", f.conn);
    out.extend_from_slice(b",\"dir\":\"");
    out.extend_from_slice(f.dir.as_str().as_bytes());
    int(out, b"\",\"index\":", f.index);
    int(out, b",\"packet\":", f.packet);
    int(out, b",\"last_packet\":", f.last_packet);
    out.extend_from_slice(b",\"ts\":\"");
    push_ts(out, f.ts);
    int(out, b"\",\"offset\":", f.offset);
    flag(out, b",\"fin\":", f.fin);
    flag(out, b",\"rsv1\":", f.rsv1);
    flag(out, b",\"rsv2\":", f.rsv2);
    flag(out, b",\"rsv3\":", f.rsv3);
    out.extend_from_slice(b",\"opcode\":\"");
    out.extend_from_slice(f.opcode.name().as_bytes());
    int(out, b"\",\"opcode_value\":", u64::from(f.opcode.0));
    flag(out, b",\"masked\":", f.masked());
    match f.mask_key {
        Some(k) => {
            out.extend_from_slice(b",\"mask_key\":\"");
            crate::text::push_hex_bytes(out, &k.0);
            out.push(b'"');
        }
        None => out.extend_from_slice(b",\"mask_key\":null"),
    }
    int(out, b",\"payload_len\":", f.payload_len);
    int(out, b",\"header_len\":", u64::from(f.header_len));
    flag(out, b",\"compressed\":", f.compressed);
    if let Some(c) = f.close_code {
        int(out, b",\"close_code\":", u64::from(c));
    }
    let string = |out: &mut Vec<u8>, key: &[u8], v: &str| {
        out.extend_from_slice(key);
        // serde_json's escaping, on a string that cannot fail.
        let _ = serde_json::to_writer(&mut *out, v);
    };
    if let Some(r) = &f.close_reason {
        string(out, b",\"close_reason\":", r);
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
    flag(out, b",\"complete\":", f.complete);
    out.extend_from_slice(b",\"findings\":");
    if f.findings.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        let _ = serde_json::to_writer(&mut *out, &f.findings);
    }
    out.push(b'}');
}

/// A key and an unsigned integer. Inlined, so that the key is a constant
/// (see [`push_uint`]).
#[inline(always)]
fn int(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.extend_from_slice(key);
    push_uint(out, v);
}

/// The widest u64 in decimal: 20 digits.
const UINT_WIDTH: usize = 20;

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

/// Appends `v` in decimal. The digits are made at the end of the first
/// half of a buffer twice the widest number, copied from there as a block
/// of that width, and the excess cut off: a copy of a length known when
/// compiling is a few moves, one known only when running a call to memcpy
/// (a record has nine numbers).
#[inline(always)]
fn push_uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 2 * UINT_WIDTH];
    let mut start = UINT_WIDTH;
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
    let end = out.len() + (UINT_WIDTH - start);
    out.extend_from_slice(&buf[start..start + UINT_WIDTH]);
    out.truncate(end);
}

thread_local! {
    /// The second of the last timestamp written and its text up to the
    /// nanoseconds (`2024-05-01T12:00:00.`): frames mostly share seconds,
    /// and through `Display` a timestamp cost as much as the rest of a
    /// record's numbers.
    static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
}

/// `ts` as [`Timestamp`]'s `Display` writes it (RFC 3339, nanoseconds).
fn push_ts(out: &mut Vec<u8>, ts: Timestamp) {
    let secs = ts.0.div_euclid(1_000_000_000);
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        // Any instant of the second gives its text.
        let mut text = [0u8; 30];
        let mut rest = &mut text[..];
        // Every i64 timestamp has this width; were one not to, it is
        // written as it comes.
        if write!(rest, "{ts}").is_err() || !rest.is_empty() {
            let _ = write!(out, "{ts}");
            return;
        }
        prefix.copy_from_slice(&text[..20]);
        SECOND.set((secs, prefix));
    }
    // Nine digits, two per division, and the zone.
    let mut nanos = ts.0.rem_euclid(1_000_000_000) as usize;
    let mut digits = [0u8; 10];
    for at in [7, 5, 3, 1] {
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[nanos % 100]);
        nanos /= 100;
    }
    digits[0] = b'0' + nanos as u8;
    digits[9] = b'Z';
    out.extend_from_slice(&prefix);
    out.extend_from_slice(&digits);
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
            push_uint(&mut out, n);
            want.push_str(&n.to_string());
        }
        while let Some(next) = v.checked_mul(7) {
            push_uint(&mut out, v);
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
            assert_eq!(String::from_utf8(out).unwrap(), Timestamp(ns).to_string());
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
