//! What the pipeline targets check on every record, and the options their
//! settings byte selects.

use wscap::analyze::{PayloadMode, Sink};
use wscap::pipeline::Options;
use wscap::record::Record;

#[derive(Default)]
pub struct Check {
    pub frames: u64,
    pub connections: u64,
    pub summary_frames: Option<u64>,
}

impl Sink for Check {
    fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
        let serde = serde_json::to_vec(&r).expect("records serialize");
        let v: serde_json::Value = serde_json::from_slice(&serde).expect("valid JSON");
        assert!(v.is_object());
        match r {
            Record::Frame(f) => {
                self.frames += 1;
                let mut fast = Vec::new();
                f.write_json(&mut fast);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&serde),
                    "write_json differs from serde"
                );
            }
            Record::Connection(_) => self.connections += 1,
            Record::Summary(s) => self.summary_frames = Some(s.frames),
        }
        Ok(())
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
    o.analysis.payload = match set >> 6 {
        0 => PayloadMode::None,
        1 => PayloadMode::Text,
        2 => PayloadMode::Hex,
        _ => PayloadMode::Base64,
    };
    o
}

/// Runs the pipeline over one in-memory capture and checks the outcome.
pub fn run(capture: Vec<u8>, opts: &Options) {
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
        pipeline::run_sources(sources, opts, Check::default(), &mut |_| {})
    }) else {
        return;
    };
    let (outcome, sink) = res.expect("no write errors into memory");
    assert_eq!(sink.summary_frames, Some(outcome.summary.frames));
    assert_eq!(outcome.summary.frames, sink.frames, "summary frames != frame records");
    assert!(outcome.summary.websocket_connections <= outcome.summary.tcp_connections);
}
