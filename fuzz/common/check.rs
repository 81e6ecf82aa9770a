//! What the pipeline targets check on every record (as JSON, and each
//! connection as a Zeek websocket.log row), and the options their settings
//! byte selects.

use wscap::pipeline::Options;
use wscap::record::{Record, Sink};
use wscap::report::frame_json::write_frame;
use wscap::report::{PayloadMode, ZeekStyle, ZeekWriter};

#[derive(Default)]
pub struct Check {
    pub frames: u64,
    pub connections: u64,
    pub summary_frames: Option<u64>,
    pub preview: Option<PayloadMode>,
}

impl Sink for Check {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        let json = match r {
            Record::Frame(f) => {
                let mode = self.preview.unwrap_or(PayloadMode::None);
                let mut out = Vec::new();
                write_frame(f, mode, &mut String::new(), &mut out);
                out
            }
            other => serde_json::to_vec(&other).expect("records serialize"),
        };
        let v: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert!(v.is_object());
        match r {
            Record::Frame(f) => {
                self.frames += 1;
                // The hand-written JSON says what the record holds.
                assert_eq!(v["conn"], f.conn);
                assert_eq!(v["index"], f.index);
                let h2 = v.get("h2_stream").and_then(|s| s.as_u64());
                assert_eq!(h2, f.h2_stream.map(u64::from));
                assert_eq!(v["payload_len"], f.payload_len);
                assert_eq!(v["findings"].as_array().map(Vec::len), Some(f.findings.len()));
            }
            Record::Connection(c) => {
                self.connections += 1;
                zeek_rows_are_whole(c);
            }
            Record::Summary(s) => self.summary_frames = Some(s.frames),
        }
        Ok(())
    }
}

/// Zeek's websocket.log row of any connection record is one line: 13
/// tab-separated fields (no field's bytes break out of it), or one valid
/// JSON object.
fn zeek_rows_are_whole(c: &wscap::record::ConnectionRecord) {
    for style in [ZeekStyle::Tsv, ZeekStyle::Json] {
        let mut w = ZeekWriter::new(Vec::new(), style);
        w.record(Record::Connection(c)).expect("writes into memory");
        let out = String::from_utf8(w.finish().expect("writes into memory")).expect("UTF-8");
        for row in out.lines().filter(|l| !l.starts_with('#')) {
            match style {
                ZeekStyle::Tsv => assert_eq!(row.split('\t').count(), 13, "{row:?}"),
                ZeekStyle::Json => {
                    let v: serde_json::Value = serde_json::from_str(row).expect("valid JSON");
                    assert!(v["uid"].is_string());
                }
            }
        }
    }
}

/// The preview mode the settings byte selects.
pub fn preview(set: u8) -> PayloadMode {
    match set >> 6 {
        0 => PayloadMode::None,
        1 => PayloadMode::Text,
        2 => PayloadMode::Hex,
        _ => PayloadMode::Base64,
    }
}

pub fn options(set: u8) -> Options {
    let mut o = Options::default();
    if set & 8 != 0 {
        o.tcp.half.max_bytes = 2000;
        o.tcp.half.max_segments = 4;
        o.tcp.max_total_held = 4000;
        o.tcp.max_live = 3;
        o.tcp.idle_timeout_ns = 1_000_000_000;
        o.tcp.closed_linger_ns = 100_000_000;
    }
    if set & 0x10 != 0 {
        o.analysis.ports = vec![80];
    }
    if set & 0x20 != 0 {
        o.analysis.max_payload = Some(64);
    }
    o.analysis.max_inflated = 1 << 20;
    if preview(set) == PayloadMode::None {
        o.analysis.preview_bytes = 0;
    }
    o
}

/// Runs the pipeline over one in-memory capture and checks the outcome.
pub fn run(capture: Vec<u8>, opts: &Options, preview: PayloadMode) {
    use wscap::capture::CaptureReader;
    use wscap::pipeline::{self, Sources};
    let Ok(reader) = CaptureReader::from_reader("fuzz", Box::new(std::io::Cursor::new(capture))) else {
        return;
    };
    let sources = Sources {
        files: vec!["fuzz".into()],
        readers: vec![reader],
        ..Sources::default()
    };
    let Some(res) = crate::known_bugs::guard(|| {
        let check = Check {
            preview: Some(preview),
            ..Check::default()
        };
        pipeline::run_sources(sources, opts, check, &mut |_| {})
    }) else {
        return;
    };
    let (outcome, sink) = res.expect("no write errors into memory");
    assert_eq!(sink.summary_frames, Some(outcome.summary.frames));
    assert_eq!(outcome.summary.frames, sink.frames, "summary frames != frame records");
    assert!(outcome.summary.websocket_connections <= outcome.summary.tcp_connections);
}
