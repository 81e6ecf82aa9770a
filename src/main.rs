//! The `wscap` command: parses arguments, wires the pipeline to a writer,
//! and turns the outcome into an exit status (0 nothing at or above
//! --fail-on, 1 findings at or above it, 2 bad arguments or damaged input).

mod cli;

use clap::Parser;
use cli::{AnalyzeArgs, Cli, Command, Format, SeverityArg};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use wscap::finding::Severity;
use wscap::pipeline::{self, Options};
use wscap::report::JsonlWriter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match (cli.command, cli.analyze) {
        (Some(Command::Analyze(a)), _) | (None, Some(a)) => a,
        (None, None) => unreachable!("clap requires a capture"),
    };
    match analyze(args) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wscap: {e}");
            ExitCode::from(2)
        }
    }
}

fn analyze(args: AnalyzeArgs) -> io::Result<ExitCode> {
    let mut opts = Options::default();
    opts.analysis.ports = args.port.clone();
    let inputs: Vec<&Path> = args.captures.iter().map(|p| p.as_path()).collect();
    let stdout = io::stdout().lock();
    let outcome = match args.format {
        Format::Jsonl => {
            let (outcome, w) =
                pipeline::run(&inputs, &opts, JsonlWriter::new(stdout), &mut |_| {})?;
            w.finish()?.flush()?;
            outcome
        }
    };
    for e in &outcome.summary.input_errors {
        eprintln!("wscap: {e}");
    }
    if outcome.damaged {
        return Ok(ExitCode::from(2));
    }
    let threshold = match args.fail_on {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Warning => Severity::Warning,
        SeverityArg::Error => Severity::Error,
    };
    let failing = outcome
        .summary
        .findings_by_severity
        .iter()
        .any(|(s, n)| *n > 0 && Severity::parse(s).is_some_and(|s| s >= threshold));
    Ok(ExitCode::from(u8::from(failing)))
}
