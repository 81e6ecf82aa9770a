//! Command-line flags, each defined once: the first paragraph of a field's
//! doc comment is its `-h` text, the whole comment its `--help` text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Find out why WebSocket connections break, from packet captures.
///
/// wscap reads pcap and pcapng captures (gzipped or not, or `-` for standard
/// input), reassembles every TCP connection, finds the HTTP Upgrade, decodes
/// every WebSocket frame in each direction and reports each frame, with the
/// packet number to open in Wireshark.
#[derive(Debug, Parser)]
#[command(name = "wscap", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `wscap CAPTURE...` is short for `wscap analyze CAPTURE...`.
    #[command(flatten)]
    pub analyze: Option<AnalyzeArgs>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse captures and report frames, connections and a summary.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, optionally gzipped); `-` reads
    /// standard input.
    ///
    /// Several files are read one after the other as one capture.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Output format.
    ///
    /// jsonl: one JSON record per line (frame, connection, then summary),
    /// streamed as the capture is read; the schema is in docs/records.md.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,

    /// Treat TCP port PORT as WebSocket even when no handshake was captured.
    ///
    /// For captures that start after the connection was set up. May be
    /// given several times or as a comma-separated list.
    #[arg(long, value_name = "PORT", value_delimiter = ',')]
    pub port: Vec<u16>,

    /// Exit with status 1 when a finding of this severity or above is found.
    #[arg(long, value_enum, default_value = "error", value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Jsonl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Warning,
    Error,
}
