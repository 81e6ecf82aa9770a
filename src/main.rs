//! The `wscap` command: parses arguments, wires the pipeline to a writer,
//! and turns the outcome into an exit status (0 nothing at or above
//! --fail-on, 1 findings at or above it, 2 bad arguments or damaged input).

mod cli;

use cli::{Config, Format, Mode};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use wscap::pipeline::{self, Options};
use wscap::report::{
    Filter, JsonWriter, JsonlWriter, PacketTap, PayloadMode, ProgressDisplay, SummaryWriter,
    Suspend, TableWriter, Writer,
};

fn main() -> ExitCode {
    match run(cli::parse()) {
        Ok(code) => code,
        // The reader of our output went away (`wscap x.pcap | head`): that
        // is what they asked for, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            message(&e);
            ExitCode::from(2)
        }
    }
}

/// An error or warning for people, on standard error. Never panics (as
/// `eprintln!` would when standard error is closed).
fn message(m: &dyn std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "wscap: {m}");
}

fn run(mode: Mode) -> io::Result<ExitCode> {
    match mode {
        Mode::Completions(shell) => {
            // clap_complete panics on a write error; render to memory and
            // write ourselves so a closed pipe is an ordinary error.
            let mut script = Vec::new();
            cli::completions(shell, &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Mode::Analyze(cfg) => analyze(*cfg),
        Mode::Diff(cfg) => diff(cfg),
    }
}

fn diff(cfg: cli::DiffConfig) -> io::Result<ExitCode> {
    use wscap::diff::{self, DiffOptions};
    let opts = DiffOptions {
        analysis: Options::default(),
        fail_on: cfg.fail_on,
        time_tolerance: cfg.time_tolerance,
    };
    let before: Vec<&Path> = cfg.before.iter().map(|p| p.as_path()).collect();
    let after: Vec<&Path> = cfg.after.iter().map(|p| p.as_path()).collect();
    let report = diff::run(&before, &after, &opts)?;
    let input_errors = || {
        let (b, a) = (&report.before.summary, &report.after.summary);
        b.input_errors
            .iter()
            .chain(&a.input_errors)
            .for_each(|e| message(e));
    };
    let unread = |s: &diff::Side| s.summary.packets == 0 && !s.summary.input_errors.is_empty();
    if unread(&report.before) || unread(&report.after) {
        // A side that could not be read at all: a diff against nothing
        // would list every connection as gone.
        input_errors();
        return Ok(ExitCode::from(2));
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cfg.format {
        cli::DiffFormat::Jsonl => wscap::report::diff::write_jsonl(&mut out, &report)?,
        cli::DiffFormat::Json => wscap::report::diff::write_json(&mut out, &report)?,
        cli::DiffFormat::Table => {
            wscap::report::diff::write_table(&mut out, &report, cfg.style, cfg.width)?
        }
    }
    out.flush()?;
    input_errors();
    if report.damaged() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(u8::from(report.regressed())))
}

fn analyze(cfg: Config) -> io::Result<ExitCode> {
    let (opts, preview) = analysis_options(&cfg);
    let mut tap = match &cfg.write_pcap {
        None => None,
        Some(path) => match PacketTap::create(path) {
            Ok(t) => Some(t),
            Err(e) => {
                message(&format!("--write-pcap {}: {e}", path.display()));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let all: Vec<&Path> = cfg.inputs.iter().map(|p| p.as_path()).collect();
    let runs: Vec<&[&Path]> = if cfg.no_merge {
        all.chunks(1).collect()
    } else {
        vec![&all[..]]
    };
    let (mut damaged, mut failing) = (false, false);
    for inputs in runs {
        let mut opts = opts.clone();
        if cfg.no_merge && all.len() > 1 {
            // Each file alone, but named, as several were given.
            opts.analysis.files = vec![inputs[0].display().to_string()];
        }
        let label = (cfg.no_merge && all.len() > 1).then(|| inputs[0].display().to_string());
        let (d, f) = analyze_run(&cfg, inputs, &opts, preview, &mut tap, label)?;
        damaged |= d;
        failing |= f;
    }
    if let Some(tap) = tap {
        match tap.finish() {
            Ok(warning) => warning.iter().for_each(|w| message(w)),
            Err(e) => {
                message(&e);
                damaged = true;
            }
        }
    }
    if damaged {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(u8::from(failing)))
}

/// The analysis options and the preview mode the flags ask for.
fn analysis_options(cfg: &Config) -> (Options, PayloadMode) {
    let mut opts = Options::default();
    opts.analysis.ports = cfg.ports.clone();
    opts.analysis.max_payload = cfg.max_payload;
    if let Some(n) = cfg.payload_bytes {
        opts.analysis.preview_bytes = n;
    }
    let mut preview = cfg.payload.unwrap_or(PayloadMode::Text);
    if preview == PayloadMode::None || opts.analysis.preview_bytes == 0 {
        // No preview at all (not an empty one on every frame).
        preview = PayloadMode::None;
        opts.analysis.preview_bytes = 0;
    }
    (opts, preview)
}

/// One analysis run over `inputs` (merged), to standard output; returns
/// (input damaged, findings at or above --fail-on). `label` names the
/// file in messages when each is analysed on its own.
fn analyze_run(
    cfg: &Config,
    inputs: &[&Path],
    opts: &Options,
    preview: PayloadMode,
    tap: &mut Option<PacketTap>,
    label: Option<String>,
) -> io::Result<(bool, bool)> {
    let mut progress = ProgressDisplay::new(cfg.progress);
    let out = Suspend::new(io::stdout().lock(), progress.handle());
    let writer = match cfg.format {
        Format::Jsonl => Writer::Jsonl(JsonlWriter::new(out, preview)),
        Format::Json => Writer::Json(JsonWriter::new(out, preview)),
        Format::Table => Writer::Table(TableWriter::new(out, cfg.style, cfg.table.clone())),
        Format::Summary => Writer::Summary(SummaryWriter::new(out, cfg.style)),
    };
    let mut sink = Filter::new(writer, cfg.filter.clone());
    if let Some(t) = tap.take() {
        sink = sink.with_tap(t);
    }
    let result = pipeline::run(inputs, opts, sink, &mut |p| {
        progress.update(p.bytes, p.total, p.packets)
    });
    progress.finish();
    let (outcome, mut sink) = result?;
    *tap = sink.take_tap();
    let unmatched = sink.unmatched();
    sink.into_inner().finish()?.flush()?;

    let prefix = label.map(|l| format!("{l}: ")).unwrap_or_default();
    for e in &outcome.summary.input_errors {
        message(e);
    }
    if let Some(m) = unmatched {
        message(&format!("{prefix}{m}"));
    }
    let failing = outcome
        .summary
        .findings_by_severity
        .iter()
        .any(|(s, n)| n > 0 && s >= cfg.fail_on);
    Ok((outcome.damaged, failing))
}
