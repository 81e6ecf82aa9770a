//! The read on two threads: this one reads, decodes, reassembles and
//! decrypts every other TLS connection; the calling thread decrypts the
//! others, analyses and writes. The calls cross over in batches
//! ([`crate::handoff`]) in their order, so the records are byte for byte
//! those of one thread.

use super::feed::{Counts, Merged, feed, tls_stage};
use super::{Options, Read, Skips, close_reason};
use crate::analyze::Analyzer;
use crate::handoff::{self, Note, Recorder};
use crate::record::{Sink, SummaryRecord};
use crate::tcp::Reassembler;
use crate::tls::stage::{Decrypting, Share, TlsHandler};

/// Reads `m` on a thread of its own into `analyzer` on this one; returns
/// how the read ended and the analyzer.
pub(super) fn read<S: Sink>(
    m: Merged,
    opts: &Options,
    summary: &mut SummaryRecord,
    analyzer: Analyzer<S>,
    report: &mut dyn FnMut(u64, u64),
) -> (Read, Analyzer<S>) {
    let (recorder, mut replayer) = handoff::channel(tls_stage(analyzer, opts, Share::All));
    let (local, read) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_into(m, opts, recorder));
        replayer.run(
            &mut |stage, note| match note {
                Note::Idle => {
                    stage.inner.flush();
                    !stage.inner.has_error()
                }
                Note::CaptureStart(ts) => {
                    stage.inner.sink_mut().capture_start(ts);
                    true
                }
                Note::Progress { bytes, packets } => {
                    report(bytes, packets);
                    true
                }
                Note::TlsSecrets(secrets) => {
                    stage.tls_secrets(&secrets);
                    true
                }
            },
            &|stage| stage.inner.has_error(),
        );
        // A panic on the reading side is a bug: let it surface as one.
        reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    summary.packets += local.packets;
    summary.tcp_packets += local.tcp_packets;
    summary.input_errors.extend(local.input_errors);
    (read, replayer.handler.inner)
}

/// The reading side: the loop of one thread, with the TLS stage, its
/// calls recorded.
fn read_into(m: Merged, opts: &Options, rec: Recorder) -> (SummaryRecord, Read) {
    let mut front = tls_stage(rec, opts, Share::EveryOther);
    let mut tcp: Reassembler<Decrypting<Recorder>> = Reassembler::new(opts.tcp);
    let mut local = SummaryRecord::default();
    let mut skips = Skips::default();
    let mut counts = Counts {
        summary: &mut local,
        skips: &mut skips,
    };
    let stopped = feed(
        m,
        opts,
        &mut counts,
        &mut tcp,
        &mut front,
        &mut |r, bytes, packets| r.inner.note(Note::Progress { bytes, packets }),
    );
    let interrupted = stopped || opts.stopped();
    tcp.finish_as(close_reason(interrupted), &mut front);
    // Dropping the recorder sends what is left and ends the replay.
    drop(front);
    let read = Read {
        interrupted,
        skips,
        connections: tcp.stats.connections,
    };
    (local, read)
}
