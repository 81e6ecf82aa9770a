//! Wires the stages: capture reader -> packet decoder -> TCP reassembler ->
//! analysis -> a record sink, over a set of inputs merged in timestamp
//! order; counts what was skipped and writes the summary last.
//!
//! Live input (a pipe): every packet is analysed as it arrives, and the
//! sink is flushed whenever the input has nothing more for now, so each
//! record is out as soon as the packet completing it has been read. A stop
//! request ([`Options::stop`], set by a signal handler) is looked at before
//! each packet and while waiting: the run then ends the open connections
//! `interrupted` and writes their records and the summary as usual.

mod feed;
mod threaded;

use crate::analyze::{self, Analyzer};
use crate::capture::{CaptureError, CaptureReader};
use crate::packet::Skip;
use crate::record::{Record, Sink, SummaryRecord};
use crate::tcp::{self, CloseReason, Reassembler};
use crate::tls::stage::{Decrypting, Share};
use feed::{Counts, Merged, feed, tls_stage};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub analysis: analyze::Options,
    pub tcp: tcp::Config,
    /// Once set (by a signal handler, another thread), the run stops
    /// reading: connections still open end `interrupted`, and their
    /// records and the summary are written.
    pub stop: Option<Arc<AtomicBool>>,
    /// Threads to use: 0 for as many as pay (two: reading and reassembly
    /// on one, the analysis and output on the other), 1 for one. The
    /// output is the same either way.
    pub threads: usize,
    /// Read capture files by copying them into buffers, never by mapping
    /// them (see [`CaptureReader::open_until`]).
    pub copy_files: bool,
}

impl Options {
    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// How long an idle live input is waited on before the stop flag is looked
/// at again. A signal ends the wait at once; this bounds the reaction to a
/// stop request that arrives just before a wait begins.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// What a run produced besides the records.
#[derive(Debug)]
pub struct Outcome {
    pub summary: SummaryRecord,
    /// Some input was damaged or unreadable (its readable part was analysed).
    pub damaged: bool,
}

/// Packets skipped, by reason; a fixed array on the hot path.
#[derive(Default)]
pub(crate) struct Skips {
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
    let never = AtomicBool::new(false);
    let stop = opts.stop.as_deref().unwrap_or(&never);
    let map = if opts.copy_files {
        None
    } else {
        crate::capture::map_window(inputs.len())
    };
    for path in inputs {
        sources.files.push(path.display().to_string());
        match CaptureReader::open_until(path, stop, map) {
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
                sources.inputs.push(sources.files.len() - 1);
            }
            // Stopped while a pipe was still quiet: nothing to report.
            Err(CaptureError::Stopped { .. }) => {}
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
    /// For each reader, its index in `files`.
    pub inputs: Vec<usize>,
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
    let mut summary = SummaryRecord {
        files: sources.files,
        input_errors: sources.errors,
        ..SummaryRecord::default()
    };
    let total = sources.total;
    let mut report = |bytes, packets| {
        progress(&Progress {
            bytes,
            total,
            packets,
        })
    };
    // Callers that open their own readers (tests, fuzzing) name them in
    // order.
    let inputs = if sources.inputs.len() == sources.readers.len() {
        sources.inputs
    } else {
        (0..sources.readers.len()).collect()
    };
    let merged = Merged {
        readers: sources.readers,
        inputs,
        done_bytes: 0,
    };
    let read;
    if two_threads(opts, &mut analyzer) {
        (read, analyzer) = threaded::read(merged, opts, &mut summary, analyzer, &mut report);
    } else {
        (read, analyzer) = read_here(merged, opts, &mut summary, analyzer, &mut report);
    }
    if let Some(e) = analyzer.take_error() {
        return Err(e);
    }
    summary.interrupted = read.interrupted;
    summary.skipped = read.skips.into_map();
    summary.tcp_connections = read.connections;
    let totals = analyzer.totals();
    summary.websocket_connections = totals.websocket_connections;
    summary.tls_connections = totals.tls_connections;
    summary.tls_decrypted = totals.tls_decrypted;
    summary.http2_connections = totals.http2_connections;
    summary.http2_websockets = totals.http2_websockets;
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

/// How the reading ended.
struct Read {
    /// Stopped before the inputs ended (a stop while an input was still
    /// being opened, a pipe still quiet, counts too).
    interrupted: bool,
    skips: Skips,
    /// TCP connections (of this shard).
    connections: u64,
}

/// Connections still open when the reading ends end so.
fn close_reason(interrupted: bool) -> CloseReason {
    if interrupted {
        CloseReason::Interrupted
    } else {
        CloseReason::EndOfCapture
    }
}

/// Whether to read on a second thread: asked for (`threads` 0 is "as many
/// as pay", 1 is one), a second core there, and nothing that needs the
/// analysis at each packet (`--write-pcap` asks it about every packet).
fn two_threads<S: Sink>(opts: &Options, analyzer: &mut Analyzer<S>) -> bool {
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = match opts.threads {
        0 => cores() >= 2,
        n => n >= 2,
    };
    wanted && !analyzer.sink_mut().wants_packets()
}

/// The read on this thread alone; returns how it ended and the analyzer.
fn read_here<S: Sink>(
    m: Merged,
    opts: &Options,
    summary: &mut SummaryRecord,
    analyzer: Analyzer<S>,
    report: &mut dyn FnMut(u64, u64),
) -> (Read, Analyzer<S>) {
    // Both TLS stages, as with two threads: the same connections each.
    let second = tls_stage(analyzer, opts, Share::All);
    let mut front = tls_stage(second, opts, Share::EveryOther);
    let mut tcp: Reassembler<Decrypting<Decrypting<Analyzer<S>>>> = Reassembler::new(opts.tcp);
    let mut skips = Skips::default();
    let mut counts = Counts {
        summary,
        skips: &mut skips,
    };
    let stopped = feed(
        m,
        opts,
        &mut counts,
        &mut tcp,
        &mut front,
        &mut |_, b, n| report(b, n),
    );
    let interrupted = stopped || opts.stopped();
    tcp.finish_as(close_reason(interrupted), &mut front);
    let read = Read {
        interrupted,
        skips,
        connections: tcp.stats.connections,
    };
    (read, front.inner.inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Link, Side, TcpConversation, pcap_bytes};

    /// A WebSocket connection whose server sends `frames` text frames.
    fn capture(frames: usize) -> Vec<u8> {
        let mut c = TcpConversation::new(
            Link::Ethernet,
            "10.0.0.1:50000".parse().unwrap(),
            "10.0.0.2:8080".parse().unwrap(),
        );
        c.handshake()
            .send(
                Side::Client,
                b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .send(
                Side::Server,
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            );
        for _ in 0..frames {
            c.send(Side::Server, b"\x81\x02hi");
        }
        pcap_bytes(u32::from(Link::Ethernet.linktype().0), c.packets())
    }

    /// Sets the stop flag at the first frame record (as a signal would,
    /// mid-file); keeps what it was given.
    #[derive(Default)]
    struct StopAtFirstFrame {
        stop: Arc<AtomicBool>,
        frames: u64,
        ends: Vec<CloseReason>,
        flushes: u64,
    }

    impl Sink for StopAtFirstFrame {
        fn record(&mut self, r: Record<'_>) -> std::io::Result<()> {
            match r {
                Record::Frame(_) => {
                    self.frames += 1;
                    self.stop.store(true, Ordering::Relaxed);
                }
                Record::Connection(c) => self.ends.push(c.end),
                Record::Summary(_) => {}
            }
            Ok(())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    fn run_on(
        bytes: Vec<u8>,
        stop: Option<Arc<AtomicBool>>,
        sink: StopAtFirstFrame,
    ) -> (Outcome, StopAtFirstFrame) {
        let reader = CaptureReader::from_reader("mem", Box::new(std::io::Cursor::new(bytes)));
        let sources = Sources {
            files: vec!["mem".to_owned()],
            readers: vec![reader.unwrap()],
            ..Sources::default()
        };
        // One thread: the stop lands at an exact packet (with two, the
        // reading side may be batches ahead of the frame that stops it).
        let opts = Options {
            stop,
            threads: 1,
            ..Options::default()
        };
        run_sources(sources, &opts, sink, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_stop_mid_file_ends_open_connections_interrupted() {
        let sink = StopAtFirstFrame::default();
        let stop = sink.stop.clone();
        let (outcome, sink) = run_on(capture(50), Some(stop), sink);
        assert_eq!(sink.ends, [CloseReason::Interrupted]);
        assert!(outcome.summary.interrupted);
        assert!(sink.frames < 50, "stopped early: {} frames", sink.frames);
        assert_eq!(sink.flushes, 0, "a file never idles");
    }

    #[test]
    fn without_a_stop_the_capture_just_ends() {
        let (outcome, sink) = run_on(capture(5), None, StopAtFirstFrame::default());
        assert_eq!(sink.ends, [CloseReason::EndOfCapture]);
        assert_eq!(sink.frames, 5);
        assert!(!outcome.summary.interrupted);
    }
}
