//! The `wscap` command: parses arguments, wires the pipeline to a writer,
//! and turns the outcome into an exit status (0 nothing at or above
//! --fail-on, 1 findings at or above it, 2 bad arguments or damaged input).

mod cli;

use cli::{Config, Format, Mode};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use wscap::pipeline::{self, Options};
use wscap::report::explain;
use wscap::report::{
    Filter, JsonWriter, JsonlWriter, PacketTap, PayloadMode, ProgressDisplay, SummaryWriter,
    Suspend, TableWriter, Writer, ZeekStyle, ZeekWriter,
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
        Mode::Explain { name, width } => explain(&name, width),
        Mode::Codes { format, width } => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            match format {
                cli::CodesFormat::Table => explain::write_codes_table(&mut out, width)?,
                cli::CodesFormat::Jsonl => explain::write_codes_jsonl(&mut out)?,
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Mode::Man(page) => {
            // Rendered to memory, then written: a closed pipe is then an
            // ordinary write error.
            let mut page_text = Vec::new();
            if let Err(e) = cli::man(page.as_deref(), &mut page_text) {
                message(&e);
                return Ok(ExitCode::from(2));
            }
            let mut out = io::stdout().lock();
            out.write_all(&page_text)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Mode::Analyze(cfg) => analyze(*cfg),
        Mode::Diff(cfg) => diff(cfg),
    }
}

/// `wscap explain NAME`: the explanation, or status 2 and the nearest
/// names for an unknown one.
fn explain(name: &str, width: usize) -> io::Result<ExitCode> {
    let Some(topic) = explain::Topic::find(name) else {
        let near = explain::near(name);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", near.join(", "))
        };
        message(&format!(
            "no finding code or diagnosis cause is called {name:?}{hint} (`wscap codes` lists them all)"
        ));
        return Ok(ExitCode::from(2));
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    explain::write_explanation(&mut out, topic, width)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn diff(cfg: cli::DiffConfig) -> io::Result<ExitCode> {
    use wscap::diff::{self, DiffOptions};
    use wscap::report::diff::{JsonDiff, JsonlDiff, TableDiff};
    let mut opts = DiffOptions {
        analysis: Options {
            copy_files: cfg.no_mmap,
            ..Options::default()
        },
        fail_on: cfg.fail_on,
        time_tolerance: cfg.time_tolerance,
    };
    let keylogs = (cfg.tls_keylogs.as_slice(), &cfg.env_keylog_missing);
    read_keylogs(keylogs, &mut opts.analysis.analysis.tls_keys)?;
    let before: Vec<&Path> = cfg.before.iter().map(|p| p.as_path()).collect();
    let after: Vec<&Path> = cfg.after.iter().map(|p| p.as_path()).collect();
    let out = io::BufWriter::new(io::stdout().lock());
    let report = match cfg.format {
        cli::DiffFormat::Jsonl => diff::run(&before, &after, &opts, JsonlDiff::new(out))?.0,
        cli::DiffFormat::Json => diff::run(&before, &after, &opts, JsonDiff::new(out))?.0,
        cli::DiffFormat::Table => {
            let table = TableDiff::new(out, cfg.style, cfg.width);
            diff::run(&before, &after, &opts, table)?.0
        }
    };
    let (b, a) = (&report.before.summary, &report.after.summary);
    b.input_errors
        .iter()
        .chain(&a.input_errors)
        .for_each(|e| message(e));
    if report.unusable() || report.damaged() {
        // A side that could not be read at all: nothing was written (a
        // diff against nothing would list every connection as gone).
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(u8::from(report.regressed())))
}

/// Ctrl-C (SIGINT) or SIGTERM asks the run to stop: it ends the open
/// connections `interrupted` and writes their records and the summary (a
/// live capture has no end of its own). A second one exits at once, with
/// the shell's status for death by that signal (130 for SIGINT, 143 for
/// SIGTERM). The handlers only set the flag the reading loop looks at
/// (between packets, and while an idle pipe is waited on with `poll`, which
/// a signal interrupts).
#[cfg(unix)]
fn stop_on_signals() -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for (signal, status) in [(SIGINT, 130), (SIGTERM, 143)] {
        // Registered first, so the first signal finds the flag unset and
        // only the second exits; the order matters.
        let second = flag::register_conditional_shutdown(signal, status, stop.clone());
        if second
            .and_then(|_| flag::register(signal, stop.clone()))
            .is_err()
        {
            // Without handlers the default stays: the signal ends the run.
            message(&"cannot handle Ctrl-C: an interrupted run ends without its summary");
            return None;
        }
    }
    Some(stop)
}

#[cfg(not(unix))]
fn stop_on_signals() -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    None
}

/// Reads the TLS key logs (`--tls-keylog`, `SSLKEYLOGFILE`) into `keys`;
/// a file that cannot be read is an error naming it, one without secrets
/// a warning. The secrets are never printed.
fn read_keylogs(
    (paths, env_missing): (&[std::path::PathBuf], &Option<std::path::PathBuf>),
    keys: &mut std::sync::Arc<wscap::tls::KeyLog>,
) -> io::Result<()> {
    if let Some(p) = env_missing {
        message(&format!(
            "SSLKEYLOGFILE names {}, which is not a file: no secrets read from it",
            p.display()
        ));
    }
    for path in paths {
        let named = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot read the TLS key log {}: {e}", path.display()),
            )
        };
        let file = std::fs::File::open(path).map_err(named)?;
        let keys = std::sync::Arc::make_mut(keys);
        // A regular file is indexed and read back on lookup, not held.
        let parsed = keys.read_file(file).map_err(named)?;
        if parsed.secrets == 0 {
            message(&format!(
                "{}: no TLS secret in it (expected NSS key log lines such as \
                 CLIENT_TRAFFIC_SECRET_0 <client random> <secret>)",
                path.display()
            ));
        } else if parsed.malformed > 0 {
            message(&format!(
                "{}: {} line(s) are not key log lines and were skipped",
                path.display(),
                parsed.malformed
            ));
        }
    }
    Ok(())
}

fn analyze(cfg: Config) -> io::Result<ExitCode> {
    let (mut opts, preview) = analysis_options(&cfg);
    let keylogs = (cfg.tls_keylogs.as_slice(), &cfg.env_keylog_missing);
    read_keylogs(keylogs, &mut opts.analysis.tls_keys)?;
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
        // Stopped (Ctrl-C): the files not read yet are not reported as
        // read and empty.
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            break;
        }
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
    let mut opts = Options {
        stop: stop_on_signals(),
        ..Options::default()
    };
    opts.analysis.ports = cfg.ports.clone();
    opts.analysis.max_payload = cfg.max_payload;
    opts.tcp.shard = cfg.shard;
    opts.threads = cfg.threads.map_or(0, usize::from);
    opts.copy_files = cfg.no_mmap;
    if let Some(n) = cfg.payload_bytes {
        opts.analysis.preview_bytes = n;
    }
    let mut preview = cfg.payload.unwrap_or(PayloadMode::Text);
    if cfg.format == Format::Table && cfg.payload.is_none() {
        // The table shows previews only when asked for.
        preview = PayloadMode::None;
    }
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
        Format::Summary => {
            Writer::Summary(SummaryWriter::new(out, cfg.style).with_width(cfg.width))
        }
        Format::Zeek => Writer::Zeek(ZeekWriter::new(out, ZeekStyle::Tsv)),
        Format::ZeekJson => Writer::Zeek(ZeekWriter::new(out, ZeekStyle::Json)),
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
