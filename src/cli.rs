//! Command-line flags, each defined once: the first paragraph of a field's
//! doc comment is its `-h` text, the whole comment its `--help` text; the
//! completions are generated from the same definitions.
//!
//! Raw flags ([`AnalyzeArgs`]) are resolved once into a [`Config`]
//! ([`resolve`]): that is where "is standard output a terminal", `NO_COLOR`
//! and flag interplay are decided, so the rest of the program never looks
//! at the environment.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use wscap::finding::Severity;
use wscap::report::PayloadMode;
use wscap::report::{FilterOptions, IpNet, Style, TableOptions, TimeMode};
use wscap::tcp::Shard;
use wscap::time::Timestamp;

/// Find out why WebSocket connections break, from packet captures.
///
/// wscap reads pcap and pcapng captures (gzipped or not, or `-` for standard
/// input), reassembles every TCP connection, finds the HTTP Upgrade, decodes
/// every WebSocket frame in each direction and reports each frame, with the
/// packet number to open in Wireshark, the rules each connection broke and
/// their likely cause.
///
/// Exit status: 0 when no finding is at or above --fail-on, 1 when one is,
/// 2 for unusable arguments or damaged input (what could be read is still
/// reported). The record schema is in docs/records.md.
#[derive(Debug, Parser)]
#[command(
    name = "wscap",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `wscap CAPTURE...` is short for `wscap analyze CAPTURE...`.
    #[command(flatten)]
    pub analyze: Option<AnalyzeArgs>,
}

/// What `analyze --help` (and the man page) says of the exit status: main.rs
/// decides it.
const ANALYZE_EXIT: &str = "Exit status:
  0  no finding at or above --fail-on (default error), or the reader of the
     output went away (`wscap x.pcap | head`)
  1  a finding at or above --fail-on, anywhere in the capture
  2  unusable arguments, or unreadable or damaged input (what could be read
     is still reported)";

/// The same for `diff`.
const DIFF_EXIT: &str = "Exit status:
  0  AFTER did not regress
  1  AFTER regressed: a finding at or above --fail-on that BEFORE did not
     have, a handshake that stopped succeeding, more abrupt ends
  2  unusable arguments, a side that could not be read, or damaged input";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse captures and report frames, connections and a summary.
    #[command(visible_alias = "analyse", after_help = ANALYZE_EXIT)]
    Analyze(Box<AnalyzeArgs>),
    /// Compare two captures: what a change did to the WebSocket traffic.
    ///
    /// Each side is analysed as `analyze` does; connections are paired
    /// across the two (by request target, Host and subprotocol in order of
    /// appearance, else by shape) and compared: the handshake, findings and
    /// causes, abrupt ends, negotiated parameters, frames, bytes and
    /// message sizes per direction, closes, timing. Most important first.
    /// The record schema is in docs/diff.md.
    #[command(after_help = DIFF_EXIT)]
    Diff(DiffArgs),
    /// Explain a finding code or a diagnosis cause.
    ///
    /// Prints what it means, the RFC rule it enforces (with the section),
    /// what usually causes it and how to fix it, as `rustc --explain` does.
    /// `wscap codes` lists every name. An unknown name exits with status 2
    /// and suggests the nearest ones.
    Explain {
        /// A finding code (`unmasked_client_frame`) or cause (`wrong_masking`).
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List every finding code (severity, RFC section, meaning) and cause.
    ///
    /// table: one line each, for people and grep (the default).
    /// jsonl: a `code` record per finding code and a `cause` record per
    /// diagnosis cause, each with its whole explanation.
    Codes {
        /// Output format: table or jsonl.
        #[arg(
            long,
            value_enum,
            value_name = "FORMAT",
            default_value = "table",
            hide_possible_values = true
        )]
        format: CodesFormat,
    },
    /// Print the manual page (roff) to standard output.
    ///
    /// `wscap man > ~/.local/share/man/man1/wscap.1`; `wscap man analyze`
    /// prints the page of a subcommand (wscap-analyze.1).
    #[command(hide = true)]
    Man {
        /// A subcommand whose page to print instead of wscap's.
        #[arg(value_name = "SUBCOMMAND")]
        page: Option<String>,
    },
    /// Print a shell completion script to standard output.
    ///
    /// For example `wscap completions bash > /etc/bash_completion.d/wscap`,
    /// or `wscap completions zsh > "${fpath[1]}/_wscap"`.
    Completions {
        /// The shell to write completions for.
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, optionally gzipped); `-` reads
    /// standard input.
    ///
    /// Several files are merged in timestamp order and analysed as one
    /// capture, so the files of a rotated `tcpdump -C/-G/-W` ring buffer give
    /// the connections that span them. Packet numbers then count across the
    /// merged capture, as `mergecap` would number them, and each connection
    /// record names the files that held it (`files`). See --no-merge.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Output format: table, jsonl, json, summary, zeek or zeek-json.
    ///
    /// table: one block per WebSocket connection with a row per frame, for
    /// people (the default when standard output is a terminal); see --all,
    /// --time, --payload and --width.
    /// jsonl: one JSON record per line (frames, connections, then the
    /// summary), streamed as the capture is read (the default otherwise).
    /// json: one JSON document `{"records":[...],"summary":{...}}`.
    /// summary: only the totals, as text.
    /// zeek: Zeek's websocket.log (tab-separated, Zeek's columns, header
    /// and escaping), a row per connection switched to WebSocket; zeek-json:
    /// the same rows as Zeek's JSON logs. See docs/zeek.md.
    /// The record schema is in docs/records.md.
    #[arg(long, value_enum, value_name = "FORMAT", hide_possible_values = true)]
    pub format: Option<Format>,

    /// Only report connection ID (the `conn` field); may be repeated.
    ///
    /// Applies to frames and connection records; the summary always covers
    /// the whole capture. Also accepts a comma-separated list.
    #[arg(long = "conn", value_name = "ID", value_delimiter = ',')]
    pub conns: Vec<u64>,

    /// Only report connections with either end at ADDR (or in ADDR/PREFIX).
    ///
    /// An IPv4 or IPv6 address, or a network such as 10.0.0.0/8; may be
    /// repeated or a comma-separated list (any of them matches). Like
    /// Wireshark's `ip.addr`. Connection filters (--conn, --host,
    /// --tcp-port, --server-port, --since, --until, --websocket-only) must
    /// all match; they choose connections, whose records are then written
    /// unchanged, and --write-pcap writes the packets of the same
    /// connections. The summary covers the whole capture and names the
    /// filters; a filter that matches nothing says so on standard error.
    #[arg(long = "host", value_name = "ADDR", value_delimiter = ',')]
    pub hosts: Vec<IpNet>,

    /// Only report connections with either end on TCP port PORT.
    ///
    /// Like Wireshark's `tcp.port`; may be repeated or a comma-separated
    /// list. (--port, by contrast, says where WebSocket runs.)
    #[arg(long = "tcp-port", value_name = "PORT", value_delimiter = ',')]
    pub tcp_ports: Vec<u16>,

    /// Only report connections whose server is on TCP port PORT.
    ///
    /// The server as the record names it (the side that sent the SYN-ACK
    /// or answered the request); may be repeated or a comma-separated list.
    #[arg(long = "server-port", value_name = "PORT", value_delimiter = ',')]
    pub server_ports: Vec<u16>,

    /// Only report connections active at or after TIME, and frames from it.
    ///
    /// Wall clock, as RFC 3339 (`2026-03-01T10:00:00Z`,
    /// `2026-03-01T11:00:00+01:00`, or a date alone for its midnight UTC)
    /// or seconds since the Unix epoch (`1772359200.5`). A connection is
    /// shown when its last packet is not before TIME; its frame records
    /// before TIME are left out.
    #[arg(long, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// Only report connections active at or before TIME, and frames to it.
    ///
    /// As --since: a connection is shown when its first packet is not after
    /// TIME; its frame records after TIME are left out.
    #[arg(long, value_name = "TIME")]
    pub until: Option<Timestamp>,

    /// Only report connections recognised as WebSocket.
    ///
    /// Other TCP connections (plain HTTP, TLS, anything else) still count in
    /// the summary.
    #[arg(long)]
    pub websocket_only: bool,

    /// Write the packets of the connections reported to OUT, as a pcap.
    ///
    /// All of each connection's packets (the connection filters choose
    /// which), with the original timestamps (nanosecond pcap) and link
    /// type, to open in Wireshark or attach to a bug report. A connection
    /// whose verdict waits (--websocket-only until its handshake, --since
    /// until it is active then) has its packets held, at most 1 MiB of it
    /// and 32 MiB in all; one decided later is written from then on, and
    /// the run says so. A pcap holds one link type: inputs of several are
    /// an error.
    #[arg(long, value_name = "OUT")]
    pub write_pcap: Option<PathBuf>,
    /// Analyse each capture on its own (one summary per file).
    ///
    /// Connection and packet numbers are then each file's own, as Wireshark
    /// shows that file, and every connection record names its file.
    #[arg(long)]
    pub no_merge: bool,

    /// Only report frames with findings (connection records are kept).
    ///
    /// Combined with --severity, a frame whose findings are all below that
    /// severity counts as a frame without findings.
    #[arg(long)]
    pub only_findings: bool,

    /// Lowest finding severity shown: error, warning or info.
    ///
    /// Findings below it are left out of frame and connection records (and
    /// their `findings_by_code`). It does not change the summary record or
    /// the exit status (see --fail-on).
    #[arg(
        long,
        value_enum,
        value_name = "SEVERITY",
        default_value = "info",
        hide_possible_values = true
    )]
    pub severity: SeverityArg,

    /// Treat TCP port PORT as WebSocket even when no handshake was captured.
    ///
    /// For captures that start after the connection was set up. May be
    /// given several times or as a comma-separated list.
    #[arg(long, value_name = "PORT", value_delimiter = ',')]
    pub port: Vec<u16>,

    /// Decrypt TLS (wss://) with the secrets in this key log.
    ///
    /// The NSS key log format that SSLKEYLOGFILE makes browsers, curl,
    /// Python, Node (--tls-keylog) and Go (KeyLogWriter) write. May be
    /// given several times. The SSLKEYLOGFILE environment variable, when
    /// set, is read too, and secrets a pcapng capture embeds (a Decryption
    /// Secrets Block, `editcap --inject-secrets`) are used as well. The
    /// secrets are never printed.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,

    /// A frame size limit: larger frames get `frame_exceeds_limit`.
    ///
    /// Set it to the server's or proxy's configured limit. Bytes, or with a unit: `64KiB`, `16MiB`, `1GiB` (powers of 1024),
    /// `64k`, `16m`, `1g` (also powers of 1024, as nginx reads them), or
    /// `1KB`, `1MB`, `1GB` (powers of 1000).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_payload: Option<u64>,

    /// Payload preview in frame records: text (default), hex, base64 or none.
    ///
    /// The preview is of the unmasked (and inflated) payload, at most
    /// --payload-bytes bytes of it. text escapes non-printable characters
    /// and invalid UTF-8 (`\n`, `\x00`); none leaves `preview` out. The
    /// table shows previews only when this flag is given (beside each row
    /// when they fit, else below it; `…` when the payload goes on).
    #[arg(long, value_enum, value_name = "MODE", hide_possible_values = true)]
    pub payload: Option<PayloadArg>,

    /// Payload bytes in each preview (default 32).
    ///
    /// Accepts units like --max-payload.
    #[arg(long, value_name = "N", value_parser = parse_size)]
    pub payload_bytes: Option<u64>,

    /// Exit with status 1 on a finding of this severity or above.
    ///
    /// error, warning or info. Judged on the whole capture, whatever
    /// --conn, --only-findings and --severity show.
    #[arg(
        long,
        value_enum,
        default_value = "error",
        value_name = "SEVERITY",
        hide_possible_values = true
    )]
    pub fail_on: SeverityArg,

    /// Table: show every frame of long connections.
    ///
    /// By default a connection shows its first 20 and last 5 frames, plus
    /// up to 50 frames with findings in between, and counts the rest. With
    /// this flag every row of a connection is held in memory until the
    /// connection ends.
    #[arg(short = 'a', long)]
    pub all_frames: bool,

    /// Table: also list TCP connections that are not WebSocket.
    ///
    /// By default the table shows the connections with a WebSocket
    /// handshake (or an attempt at one), frames or findings, and counts
    /// the other TCP connections on one line. --conn shows the connections
    /// it names whatever they are. jsonl and json always write every
    /// connection.
    #[arg(long)]
    pub all: bool,

    /// Table: what the time column counts from: relative, capture, absolute, local.
    ///
    /// relative (default): seconds since the connection's first packet.
    /// capture: seconds since the capture's first packet (Wireshark's
    /// `frame.time_relative`). absolute: wall-clock time of day in UTC
    /// (the date is in each connection's `start`, and above a row on a new
    /// day). local: the same in the local time zone (TZ, else
    /// /etc/localtime), with its offset from UTC.
    #[arg(
        long,
        value_enum,
        value_name = "FROM",
        default_value = "relative",
        hide_possible_values = true
    )]
    pub time: TimeArg,

    /// Table and summary: fit lines in N columns (at least 40).
    ///
    /// By default the COLUMNS environment variable, else the terminal's
    /// width when standard output is a terminal, else 80. What fits is
    /// never cut: lists and prose move to the next line.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// When to colour the table and summary: auto, always or never.
    ///
    /// auto colours when standard output is a terminal and the NO_COLOR
    /// environment variable is unset or empty.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        hide_possible_values = true
    )]
    pub color: ColorArg,

    /// Analyse only shard K of N (K from 0): for captures too big for one
    /// machine.
    ///
    /// A connection belongs to one shard, by a hash of its addresses and
    /// ports that both directions share, so N runs over the same capture,
    /// K = 0 to N-1, report together every frame and connection record of
    /// one run, with the same connection and packet numbers; each writes
    /// the summary of its own shard. The two legs of a proxied connection
    /// are linked only when they fall in the same shard. See docs/scale.md.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Threads to use, 1 or 2 (default: 2 on two cores or more).
    ///
    /// With 2, one thread reads, decodes and reassembles while the other
    /// analyses and writes; --write-pcap always uses one. The output is the
    /// same byte for byte.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,

    /// Read capture files by copying them, not by mapping them.
    ///
    /// An uncompressed capture file is mapped into memory a few MiB at a
    /// time, which saves copying every byte. A file truncated by another
    /// program while it is read (a tcpdump ring reusing it) then loses the
    /// bytes being read and the run stops with an error saying so; with
    /// this flag it is read like a pipe, and a truncated file ends early
    /// like any cut capture.
    #[arg(long)]
    pub no_mmap: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The capture before the change, then the one after it.
    ///
    /// For a side made of several (rotated) files use --before and --after.
    #[arg(value_name = "CAPTURE", num_args = 0..=2)]
    pub captures: Vec<PathBuf>,

    /// Files of the BEFORE side (may be repeated), merged as `analyze` does.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub before: Vec<PathBuf>,

    /// Files of the AFTER side (may be repeated).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub after: Vec<PathBuf>,

    /// Output format: table, jsonl or json.
    ///
    /// table: the differences for people (the default on a terminal).
    /// jsonl: pair, unpaired and difference records, then diff_summary
    /// (the default otherwise). json: one document
    /// `{"records":[...],"summary":{...}}`.
    #[arg(long, value_enum, value_name = "FORMAT", hide_possible_values = true)]
    pub format: Option<DiffFormat>,

    /// A finding new in AFTER at this severity or above is a regression.
    ///
    /// error, warning or info.
    #[arg(
        long,
        value_enum,
        value_name = "SEVERITY",
        default_value = "error",
        hide_possible_values = true
    )]
    pub fail_on: SeverityArg,

    /// Seconds of timing difference that are noise, not a difference.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.1)]
    pub time_tolerance: f64,

    /// Decrypt TLS (wss://) on both sides with the secrets in this key log
    /// (repeatable; SSLKEYLOGFILE and embedded secrets count too, as for
    /// analyze).
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,

    /// Read capture files by copying them, not by mapping them (as for
    /// analyze).
    #[arg(long)]
    pub no_mmap: bool,

    /// When to colour the table: auto, always or never.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        hide_possible_values = true
    )]
    pub color: ColorArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    Jsonl,
    Json,
}

/// The resolved `diff` flags.
#[derive(Debug)]
pub struct DiffConfig {
    pub before: Vec<PathBuf>,
    pub after: Vec<PathBuf>,
    pub format: DiffFormat,
    pub fail_on: Severity,
    pub time_tolerance: f64,
    pub style: Style,
    /// Columns of the table: the terminal's, 80 when not a terminal.
    pub width: usize,
    /// Key logs to read, and a `SSLKEYLOGFILE` naming no file (see
    /// [`Config`]).
    pub tls_keylogs: Vec<PathBuf>,
    pub env_keylog_missing: Option<PathBuf>,
    pub no_mmap: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CodesFormat {
    Table,
    Jsonl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Json,
    Summary,
    Zeek,
    ZeekJson,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Warning,
    Error,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Error => Severity::Error,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PayloadArg {
    None,
    Text,
    Hex,
    Base64,
}

impl From<PayloadArg> for PayloadMode {
    fn from(p: PayloadArg) -> PayloadMode {
        match p {
            PayloadArg::None => PayloadMode::None,
            PayloadArg::Text => PayloadMode::Text,
            PayloadArg::Hex => PayloadMode::Hex,
            PayloadArg::Base64 => PayloadMode::Base64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeArg {
    Relative,
    Capture,
    #[value(alias = "utc")]
    Absolute,
    #[value(alias = "absolute-local")]
    Local,
}

impl From<TimeArg> for TimeMode {
    fn from(t: TimeArg) -> TimeMode {
        match t {
            TimeArg::Relative => TimeMode::Relative,
            TimeArg::Capture => TimeMode::Capture,
            TimeArg::Absolute => TimeMode::Utc,
            TimeArg::Local => TimeMode::Local,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What to do, with every flag resolved.
#[derive(Debug)]
pub enum Mode {
    /// Boxed: the analysis flags outweigh the others many times.
    Analyze(Box<Config>),
    Diff(DiffConfig),
    Completions(Shell),
    /// `explain NAME`, wrapped to `width` columns.
    Explain {
        name: String,
        width: usize,
    },
    /// `codes`; `width` when standard output is a terminal.
    Codes {
        format: CodesFormat,
        width: Option<usize>,
    },
    /// `man [SUBCOMMAND]`.
    Man(Option<String>),
}

/// The resolved `analyze` flags.
#[derive(Debug)]
pub struct Config {
    pub inputs: Vec<PathBuf>,
    /// Analyse each input on its own.
    pub no_merge: bool,
    pub write_pcap: Option<PathBuf>,
    pub format: Format,
    pub filter: FilterOptions,
    pub table: TableOptions,
    pub style: Style,
    /// Columns of the table and summary.
    pub width: usize,
    pub ports: Vec<u16>,
    pub max_payload: Option<u64>,
    /// Key logs to read: `--tls-keylog`, then `SSLKEYLOGFILE`.
    pub tls_keylogs: Vec<PathBuf>,
    /// `SSLKEYLOGFILE` named a file that is not there (only warned of).
    pub env_keylog_missing: Option<PathBuf>,
    /// `None` = the analysis default (text).
    pub payload: Option<PayloadMode>,
    /// `None` = the analysis default.
    pub payload_bytes: Option<usize>,
    pub fail_on: Severity,
    pub shard: Option<Shard>,
    /// `None`: as many as pay.
    pub threads: Option<u8>,
    pub no_mmap: bool,
    /// Standard error is a terminal, so a progress bar may be drawn there.
    pub progress: bool,
}

/// Parses the command line (clap prints usage errors and exits 2 itself).
pub fn parse() -> Mode {
    let cli = Cli::parse();
    match (cli.command, cli.analyze) {
        (Some(Command::Completions { shell }), _) => Mode::Completions(shell),
        (Some(Command::Explain { name }), _) => Mode::Explain {
            name,
            // Prose reads best in lines of moderate length.
            width: terminal_width().unwrap_or(80).min(100),
        },
        (Some(Command::Codes { format }), _) => Mode::Codes {
            format,
            width: terminal_width(),
        },
        (Some(Command::Man { page }), _) => Mode::Man(page),
        (Some(Command::Diff(d)), _) => Mode::Diff(resolve_diff(d)),
        (Some(Command::Analyze(a)), _) => Mode::Analyze(Box::new(resolve(*a))),
        (None, Some(a)) => Mode::Analyze(Box::new(resolve(a))),
        // `subcommand_negates_reqs` makes CAPTURE optional only when a
        // subcommand is present, so clap has already rejected this; fall
        // back to its own "missing argument" message rather than panic.
        (None, None) => Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "a CAPTURE is required",
            )
            .exit(),
    }
}

/// The two sides of `diff`: two positional captures, or --before/--after
/// (either form for each side).
pub fn resolve_diff(d: DiffArgs) -> DiffConfig {
    let mut positional = d.captures.into_iter();
    let before = if d.before.is_empty() {
        positional.next().into_iter().collect()
    } else {
        d.before
    };
    let after = if d.after.is_empty() {
        positional.next().into_iter().collect()
    } else {
        d.after
    };
    let stdin = |v: &[PathBuf]| v.iter().any(|p| p.as_os_str() == "-");
    if stdin(&before) && stdin(&after) {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "standard input (-) can be one side of a diff, not both",
            )
            .exit();
    }
    if !d.time_tolerance.is_finite() {
        Cli::command()
            .error(
                clap::error::ErrorKind::InvalidValue,
                "--time-tolerance needs a number of seconds",
            )
            .exit();
    }
    if before.is_empty() || after.is_empty() || positional.next().is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "diff needs a BEFORE and an AFTER capture (two files, or --before FILE... --after FILE...)",
            )
            .exit();
    }
    let stdout_tty = std::io::stdout().is_terminal();
    let color = color_on(d.color, stdout_tty);
    DiffConfig {
        before,
        after,
        format: d.format.unwrap_or(if stdout_tty {
            DiffFormat::Table
        } else {
            DiffFormat::Jsonl
        }),
        fail_on: d.fail_on.into(),
        time_tolerance: d.time_tolerance.max(0.0),
        style: Style::new(color),
        width: columns(None),
        tls_keylogs: keylogs(d.tls_keylog, std::env::var_os("SSLKEYLOGFILE")).0,
        env_keylog_missing: keylogs(Vec::new(), std::env::var_os("SSLKEYLOGFILE")).1,
        no_mmap: d.no_mmap,
    }
}

/// Narrower than this, little but the rows' first columns would show.
const MIN_WIDTH: usize = 40;

/// Wider than any screen; keeps a line's buffer reasonable.
const MAX_WIDTH: usize = 4096;

/// Columns for the human formats: `--width`, else `COLUMNS` (for scripts
/// and tests; shells set it without exporting it), else the terminal's
/// when standard output is one, else 80.
fn columns(flag: Option<usize>) -> usize {
    let env = || {
        std::env::var("COLUMNS")
            .ok()?
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
    };
    flag.or_else(env)
        .or_else(terminal_width)
        .unwrap_or(80)
        .clamp(MIN_WIDTH, MAX_WIDTH)
}

/// Columns of the terminal standard output is (at least [`MIN_WIDTH`]), `None` when
/// it is not a terminal.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| usize::from(w.0).max(MIN_WIDTH))
}

/// The key logs to read: those given, then `SSLKEYLOGFILE`'s when it names
/// a file (a variable left set for a browser often names none yet: that
/// is returned apart, to be warned of).
fn keylogs(
    given: Vec<PathBuf>,
    env: Option<std::ffi::OsString>,
) -> (Vec<PathBuf>, Option<PathBuf>) {
    let mut all = given;
    let env = env.filter(|v| !v.is_empty()).map(PathBuf::from);
    match env {
        Some(p) if p.is_file() => {
            if !all.contains(&p) {
                all.push(p);
            }
            (all, None)
        }
        other => (all, other),
    }
}

/// Resolves the raw flags against the environment, once.
pub fn resolve(a: AnalyzeArgs) -> Config {
    let stdout_tty = std::io::stdout().is_terminal();
    let format = a.format.unwrap_or(if stdout_tty {
        Format::Table
    } else {
        Format::Jsonl
    });
    let color = color_on(a.color, stdout_tty);
    let width = columns(a.width);
    // Standard input is how live captures arrive: blocks are printed as
    // connections end rather than held for the ones that began earlier.
    let live = a.captures.iter().any(|p| p.as_os_str() == "-");
    if let (Some(s), Some(u)) = (a.since, a.until)
        && s > u
    {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--since {s} is after --until {u}: no connection could match"),
            )
            .exit();
    }
    Config {
        inputs: a.captures,
        no_merge: a.no_merge,
        write_pcap: a.write_pcap,
        format,
        filter: FilterOptions {
            conns: (!a.conns.is_empty()).then(|| a.conns.iter().copied().collect::<BTreeSet<_>>()),
            only_findings: a.only_findings,
            min_severity: a.severity.into(),
            hosts: a.hosts,
            tcp_ports: a.tcp_ports,
            server_ports: a.server_ports,
            since: a.since,
            until: a.until,
            websocket_only: a.websocket_only,
            sharded: a.shard.is_some(),
        },
        table: TableOptions {
            all_frames: a.all_frames,
            // A person watching a terminal sees each connection as it
            // ends; a pipe gets full buffers.
            flush_blocks: stdout_tty,
            width,
            time: a.time.into(),
            payload: a.payload.map_or(PayloadMode::None, PayloadMode::from),
            // Connections asked for by number are shown whatever they are.
            all_connections: a.all || !a.conns.is_empty(),
            // Another shard's connections never reach the table: waiting
            // for their numbers would hold every block to the end.
            ordered: !live && a.shard.is_none(),
            ..TableOptions::default()
        },
        style: Style::new(color),
        width,
        ports: a.port,
        max_payload: a.max_payload,
        tls_keylogs: keylogs(a.tls_keylog, std::env::var_os("SSLKEYLOGFILE")).0,
        env_keylog_missing: keylogs(Vec::new(), std::env::var_os("SSLKEYLOGFILE")).1,
        payload: a.payload.map(PayloadMode::from),
        // A preview longer than memory can hold is no preview limit at all.
        payload_bytes: a
            .payload_bytes
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        fail_on: a.fail_on.into(),
        shard: a.shard,
        threads: a.threads,
        no_mmap: a.no_mmap,
        progress: std::io::stderr().is_terminal(),
    }
}

/// `K/N`: shard K (from 0) of N.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/4)"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u32>()
            .map_err(|_| format!("{x:?} is not a number"))
    };
    let (index, count) = (num(k)?, num(n)?);
    if count == 0 {
        return Err("N must be at least 1".into());
    }
    if index >= count {
        return Err(format!(
            "K must be below N: shards are numbered from 0 to {} (as JOB_COMPLETION_INDEX is)",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

/// Whether to colour: `--color` wins; `auto` colours a terminal unless the
/// environment says not to.
fn color_on(arg: ColorArg, stdout_tty: bool) -> bool {
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => stdout_tty && !no_color_env(),
    }
}

/// NO_COLOR (no-color.org): set to anything but the empty string disables
/// colour by default; `--color always` still wins. TERM=dumb also means no
/// escape sequences.
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var_os("TERM").is_some_and(|v| v == "dumb")
}

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    match shell {
        Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, name, out),
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, name, out),
        Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, name, out),
    }
}

/// Writes the manual page of wscap, or of its subcommand `page`, as roff.
/// `Err` names an unknown page.
pub fn man(page: Option<&str>, out: &mut Vec<u8>) -> Result<(), String> {
    let mut cmd = Cli::command();
    // Built first, so a subcommand's page is titled wscap-NAME and its
    // synopsis reads `wscap NAME`.
    cmd.build();
    let cmd = match page {
        None => cmd,
        Some(p) => cmd
            .find_subcommand(p)
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = cmd
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                    .map(|s| s.get_name())
                    .collect();
                format!("no manual page for {p:?} (pages: {})", names.join(", "))
            })?,
    };
    clap_mangen::Man::new(cmd)
        .source(concat!("wscap ", env!("CARGO_PKG_VERSION")))
        .render(out)
        .map_err(|e| e.to_string())
}

/// A size: bytes, or a number with a unit. Binary units (`KiB`, and the
/// one-letter `k`/`m`/`g` nginx and dd users type) are powers of 1024;
/// `KB`/`MB`/`GB` are powers of 1000. Case-insensitive; no fractions.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "{s:?} is not a size (expected bytes or a number with a unit, e.g. 65536, 64KiB, 16MiB, 1MB)"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is too large for a size"))?;
    if unit.starts_with(['.', ',']) {
        return Err(format!(
            "{s:?}: fractions are not accepted; give a whole number of a smaller unit (e.g. 1536KiB)"
        ));
    }
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?} (use B, KiB, MiB, GiB, k, m, g, KB, MB or GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large for a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("16mib"), Ok(16 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("10B"), Ok(10));
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("18446744073709551615KiB").is_err());
    }

    #[test]
    fn help_states_the_analysis_defaults() {
        // The -h text of --payload and --payload-bytes names the defaults
        // the analysis applies when they are not given.
        let d = wscap::analyze::Options::default();
        assert_eq!(d.preview_bytes, 32);
    }

    #[test]
    fn flags_are_consistent() {
        // clap's own checks: duplicate names, conflicting shorts, bad
        // defaults; run here rather than at a user's first typo.
        Cli::command().debug_assert();
    }

    #[test]
    fn short_help_fits_80_columns() {
        // The first doc paragraph is what -h prints beside the flag; keep
        // it to one line of prose.
        let mut cmd = Cli::command();
        let analyze = cmd.find_subcommand_mut("analyze").expect("analyze");
        for arg in analyze.get_arguments() {
            if let Some(h) = arg.get_help() {
                let h = h.to_string();
                assert!(
                    h.chars().count() < 80,
                    "{:?}: -h text too long: {h}",
                    arg.get_id()
                );
            }
        }
    }
}
