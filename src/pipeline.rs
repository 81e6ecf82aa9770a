//! Wires the stages: capture reader -> packet decoder -> TCP reassembler ->
//! analysis -> a record sink, over a set of inputs merged in timestamp
//! order; counts what was skipped and writes the summary last.

use crate::analyze::{self, Analyzer};
use crate::capture::CaptureReader;
use crate::packet::{self, Skip};
use crate::record::{Record, Sink, SummaryRecord};
use crate::tcp::{self, Reassembler};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub analysis: analyze::Options,
    pub tcp: tcp::Config,
}

/// What a run produced besides the records.
#[derive(Debug)]
pub struct Outcome {
    pub summary: SummaryRecord,
    /// Some input was damaged or unreadable (its readable part was analysed).
    pub damaged: bool,
}

/// Packets skipped, by reason; a fixed array on the hot path.
#[derive(Default)]
struct Skips {
    counts: [u64; 5],
    link_types: BTreeMap<u16, u64>,
}

impl Skips {
    const NAMES: [&'static str; 5] = [
        "not_ip",
        "not_tcp",
        "ip_fragment",
        "truncated_header",
        "malformed",
    ];

    fn add(&mut self, s: Skip) {
        let i = match s {
            Skip::UnsupportedLinkType(lt) => {
                *self.link_types.entry(lt.0).or_default() += 1;
                return;
            }
            Skip::NotIp => 0,
            Skip::NotTcp(_) => 1,
            Skip::IpFragment => 2,
            Skip::TruncatedHeader => 3,
            Skip::Malformed => 4,
        };
        self.counts[i] += 1;
    }

    fn into_map(self) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = Self::NAMES
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        for (lt, n) in self.link_types {
            m.insert(format!("unsupported_link_type_{lt}"), n);
        }
        m
    }
}

/// How far the run is, for a progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Capture bytes consumed (decompressed for gzip input).
    pub bytes: u64,
    /// Sum of the input sizes, when every input is an uncompressed file.
    pub total: Option<u64>,
    pub packets: u64,
}

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 1 << 14;

/// Runs the analysis over `inputs` (paths; `-` is standard input), merged
/// in timestamp order as one capture (the files of a rotated
/// `tcpdump -C/-G/-W` ring analyse as the connections that span them),
/// writing records to `sink`. Packet numbers count across the merged
/// capture, as `mergecap` numbers them; with one input they are the file's.
/// Returns the summary (also written to the sink as the last record) and
/// the sink. An `Err` is a write error (e.g. a closed pipe).
pub fn run<S: Sink>(
    inputs: &[&Path],
    opts: &Options,
    sink: S,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Outcome, S), std::io::Error> {
    let mut sources = Sources {
        total: Some(0),
        ..Sources::default()
    };
    for path in inputs {
        sources.files.push(path.display().to_string());
        match CaptureReader::open(path) {
            Ok(r) => {
                let size = std::fs::metadata(path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                sources.total = match (sources.total, size) {
                    (Some(t), Some(n)) if !r.compressed() => Some(t + n),
                    _ => None,
                };
                sources.readers.push(r);
            }
            Err(e) => sources.errors.push(e.to_string()),
        }
    }
    run_sources(sources, opts, sink, progress)
}

/// Captures already opened (e.g. from memory, for fuzzing and tests).
#[derive(Default)]
pub struct Sources {
    pub files: Vec<String>,
    pub readers: Vec<CaptureReader>,
    /// Inputs that could not be opened, as messages.
    pub errors: Vec<String>,
    pub total: Option<u64>,
}

/// [`run`] over captures already opened.
pub fn run_sources<S: Sink>(
    sources: Sources,
    opts: &Options,
    sink: S,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Outcome, S), std::io::Error> {
    let started = Instant::now();
    let mut analysis = opts.analysis.clone();
    if analysis.files.is_empty() && sources.files.len() > 1 {
        analysis.files = sources.files.clone();
    }
    let mut analyzer = Analyzer::new(analysis, sink);
    let mut tcp: Reassembler<Analyzer<S>> = Reassembler::new(opts.tcp);
    let mut summary = SummaryRecord {
        files: sources.files,
        input_errors: sources.errors,
        ..SummaryRecord::default()
    };
    let mut skips = Skips::default();
    feed(
        sources.readers,
        sources.total,
        &mut summary,
        &mut skips,
        &mut tcp,
        &mut analyzer,
        progress,
    );
    tcp.finish(&mut analyzer);
    if let Some(e) = analyzer.take_error() {
        return Err(e);
    }
    let totals = analyzer.totals();
    summary.skipped = skips.into_map();
    summary.tcp_connections = tcp.stats.connections;
    summary.websocket_connections = totals.websocket_connections;
    summary.frames = totals.frames;
    summary.findings_by_code = totals.findings_by_code.clone();
    summary.findings_by_severity = totals.findings_by_severity.clone();
    summary.findings_by_severity_and_code = totals.findings_by_severity_and_code.clone();
    summary.diagnoses = totals.diagnoses.clone();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    let mut sink = analyzer.into_sink();
    sink.record(Record::Summary(&summary))?;
    let damaged = !summary.input_errors.is_empty();
    Ok((Outcome { summary, damaged }, sink))
}

/// Reads `readers` merged in timestamp order into the reassembler.
fn feed<S: Sink>(
    mut readers: Vec<CaptureReader>,
    total: Option<u64>,
    summary: &mut SummaryRecord,
    skips: &mut Skips,
    tcp: &mut Reassembler<Analyzer<S>>,
    analyzer: &mut Analyzer<S>,
    progress: &mut dyn FnMut(&Progress),
) {
    readers.retain_mut(|r| match r.advance() {
        Ok(more) => more,
        Err(e) => {
            summary.input_errors.push(e.to_string());
            false
        }
    });
    // Which input each reader is, as readers leave the list when done.
    let mut inputs: Vec<usize> = (0..readers.len()).collect();
    let wants_packets = analyzer.sink_mut().wants_packets();
    let mut number = 0u64;
    let mut done_bytes = 0u64;
    while !readers.is_empty() && !analyzer.has_error() {
        let i = earliest(&readers);
        {
            let p = readers[i].current().expect("live readers hold a packet");
            number += 1;
            summary.packets += 1;
            tcp.set_input(inputs[i]);
            let tcp_packet = match packet::decode_with_orig_len(p.linktype, p.data, p.orig_len) {
                Ok(seg) => {
                    summary.tcp_packets += 1;
                    tcp.packet(&seg, number, p.ts, analyzer);
                    true
                }
                Err(skip) => {
                    if packet::may_hide_tcp(skip, p.linktype, p.data) {
                        tcp.numbering_lost();
                    }
                    skips.add(skip);
                    false
                }
            };
            if wants_packets {
                let conn = tcp_packet
                    .then(|| tcp.last_conn())
                    .flatten()
                    .map(|(id, live)| (id, live.map(|(meta, st)| st.facts(meta))));
                analyzer.sink_mut().packet(&p, conn);
            }
        }
        let mut done = |readers: &mut Vec<CaptureReader>| {
            inputs.remove(i);
            readers.remove(i).position()
        };
        match readers[i].advance() {
            Ok(true) => {}
            Ok(false) => done_bytes += done(&mut readers),
            Err(e) => {
                summary.input_errors.push(e.to_string());
                done_bytes += done(&mut readers);
            }
        }
        if number.is_multiple_of(PROGRESS_EVERY) {
            let bytes = done_bytes + readers.iter().map(|r| r.position()).sum::<u64>();
            progress(&Progress {
                bytes,
                total,
                packets: number,
            });
        }
    }
}

/// The reader whose current packet is earliest (the first on ties, so one
/// file keeps its own order).
fn earliest(readers: &[CaptureReader]) -> usize {
    if readers.len() == 1 {
        return 0;
    }
    let ts = |r: &CaptureReader| r.current().map(|p| p.ts);
    (0..readers.len())
        .min_by_key(|&i| (ts(&readers[i]), i))
        .unwrap_or(0)
}
