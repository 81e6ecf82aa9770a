//! Terminal text for the human formats: colour, lines that fit a width, and
//! the progress bar.
//!
//! Widths are counted in `char`s after making every string printable
//! ([`printable`]): what reaches the terminal is ASCII or one of the few
//! single-width symbols used here (`→ ← … ·`), so a char is one column.

use crate::finding::Severity;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, Write};

/// The width every line of the table and summary fits in.
pub const WIDTH: usize = 80;

/// Colours for the human formats; `color: false` writes no escape at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

/// What a piece of text is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Bold,
    Dim,
    Error,
    Warning,
    Info,
}

impl Paint {
    pub fn severity(s: Severity) -> Paint {
        match s {
            Severity::Error => Paint::Error,
            Severity::Warning => Paint::Warning,
            Severity::Info => Paint::Info,
        }
    }

    fn sgr(self) -> &'static str {
        match self {
            Paint::Plain => "",
            Paint::Bold => "\x1b[1m",
            Paint::Dim | Paint::Info => "\x1b[2m",
            Paint::Error => "\x1b[31m",
            Paint::Warning => "\x1b[33m",
        }
    }
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style { color }
    }
}

/// One output line built from painted pieces, so that it can be cut to the
/// width on its visible text first and coloured afterwards (cutting a
/// coloured string could split an escape sequence).
#[derive(Default)]
pub struct Line {
    parts: Vec<(String, Paint)>,
}

impl Line {
    pub fn new() -> Line {
        Line::default()
    }

    pub fn push(&mut self, text: impl AsRef<str>, paint: Paint) -> &mut Line {
        self.parts.push((printable(text.as_ref()), paint));
        self
    }

    pub fn plain(&mut self, text: impl AsRef<str>) -> &mut Line {
        self.push(text, Paint::Plain)
    }

    /// Writes the line, cut to `width` columns (the cut marked with `…`),
    /// and a newline.
    pub fn write(&self, w: &mut dyn Write, style: Style, width: usize) -> io::Result<()> {
        let total: usize = self.parts.iter().map(|(t, _)| t.chars().count()).sum();
        // Room for the text; one column goes to the ellipsis when cut.
        let mut room = if total > width {
            width.saturating_sub(1)
        } else {
            width
        };
        let mut out = String::with_capacity(width + 16);
        for (text, paint) in &self.parts {
            if room == 0 {
                break;
            }
            let n = text.chars().count();
            let piece: &str = if n <= room {
                text
            } else {
                let end = text.char_indices().nth(room).map_or(text.len(), |(i, _)| i);
                &text[..end]
            };
            room -= piece.chars().count();
            if style.color && *paint != Paint::Plain && !piece.is_empty() {
                out.push_str(paint.sgr());
                out.push_str(piece);
                out.push_str("\x1b[0m");
            } else {
                out.push_str(piece);
            }
        }
        if total > width {
            out.push('…');
        }
        // No trailing blanks: padding of an empty last column is noise.
        let trimmed = out.trim_end_matches(' ');
        w.write_all(trimmed.as_bytes())?;
        w.write_all(b"\n")
    }
}

/// Makes capture-controlled text safe to print: control characters (which
/// could move the cursor or change colours) and anything outside ASCII
/// (whose display width is unknown) become `\xNN`/`\u{..}` escapes; the
/// few symbols wscap itself uses pass.
pub fn printable(s: &str) -> String {
    if s.chars()
        .all(|c| (' '..='~').contains(&c) || matches!(c, '→' | '←' | '↔' | '…' | '·' | '↳'))
    {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            ' '..='~' | '→' | '←' | '↔' | '…' | '·' | '↳' => out.push(c),
            '\t' => out.push(' '),
            c if (c as u32) < 0x100 => crate::text::push_escaped_byte(&mut out, c as u8),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out
}

/// Wraps prose to `width` columns: the first line starts with `first`, the
/// following ones with `rest` (both counted in the width). A word longer
/// than a line (a path, a URL) is broken across lines rather than cut.
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let text = printable(text);
    let mut lines = Vec::new();
    let mut cur = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = cur.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            lines.push(std::mem::replace(&mut cur, rest.to_owned()));
            empty = true;
        }
        if !empty {
            cur.push(' ');
        }
        let mut w = word;
        while empty && cur.chars().count() + w.chars().count() > width {
            let room = width.saturating_sub(cur.chars().count());
            if room == 0 {
                // The indentation fills the line: Line::write cuts it.
                break;
            }
            let at = w.char_indices().nth(room).map_or(w.len(), |(i, _)| i);
            cur.push_str(&w[..at]);
            lines.push(std::mem::replace(&mut cur, rest.to_owned()));
            w = &w[at..];
        }
        cur.push_str(w);
        empty = w.is_empty() && empty;
    }
    if !empty || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Lays out `pieces`, each kept whole, separated by `sep`, on as few lines
/// of `width` columns as they need: the first line starts with `first`,
/// the following ones with `rest`. A piece wider than a line of its own is
/// cut by [`Line::write`].
pub fn pack(
    pieces: &[(String, Paint)],
    sep: &str,
    first: &str,
    rest: &str,
    width: usize,
) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut cur = Line::new();
    cur.plain(first);
    let mut len = first.chars().count();
    let mut empty = true;
    for (text, paint) in pieces {
        let text = printable(text);
        let n = text.chars().count();
        if !empty && len + sep.chars().count() + n > width {
            lines.push(std::mem::take(&mut cur));
            cur.plain(rest);
            len = rest.chars().count();
            empty = true;
        }
        if !empty {
            cur.plain(sep);
            len += sep.chars().count();
        }
        cur.push(text, *paint);
        len += n;
        empty = false;
    }
    lines.push(cur);
    lines
}

/// Cuts data (a payload preview, a close reason: text without words to
/// break at) into lines of `width` columns, each starting with `indent`.
pub fn chunks(text: &str, indent: &str, width: usize) -> Vec<String> {
    let text = printable(text);
    let room = width.saturating_sub(indent.chars().count()).max(1);
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(room)
        .map(|c| {
            let mut l = indent.to_owned();
            l.extend(c);
            l
        })
        .collect()
}

/// Inputs above this many bytes get a progress bar (on a terminal): below
/// it a run takes about a second and a bar would only flicker.
pub const PROGRESS_THRESHOLD: u64 = 64 << 20;

/// The progress bar on standard error. It starts hidden and is drawn only
/// once the run is known to be large and standard error is a terminal, so
/// pipes and small captures never see it.
pub struct ProgressDisplay {
    bar: ProgressBar,
    allowed: bool,
    shown: bool,
}

impl ProgressDisplay {
    /// `allowed`: standard error is a terminal.
    pub fn new(allowed: bool) -> ProgressDisplay {
        ProgressDisplay {
            bar: ProgressBar::hidden(),
            allowed,
            shown: false,
        }
    }

    /// A handle for [`Suspend`], so output written to the same terminal
    /// clears the bar first instead of tearing through it.
    pub fn handle(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// `bytes` read of `total` (when every input is a plain file), after
    /// `packets` packets.
    pub fn update(&mut self, bytes: u64, total: Option<u64>, packets: u64) {
        if !self.allowed {
            return;
        }
        if !self.shown {
            // Judge by the file sizes when known, else (standard input,
            // gzip) by what has been read so far.
            if total.unwrap_or(bytes) <= PROGRESS_THRESHOLD && bytes <= PROGRESS_THRESHOLD {
                return;
            }
            let style = match total {
                Some(t) => {
                    self.bar.set_length(t);
                    ProgressStyle::with_template(
                        "{bar:30} {binary_bytes}/{binary_total_bytes} {msg} ({eta})",
                    )
                }
                None => ProgressStyle::with_template("{spinner} {binary_bytes} {msg}"),
            };
            if let Ok(style) = style {
                self.bar.set_style(style);
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position(bytes);
        self.bar.set_message(format!("{packets} packets"));
    }

    pub fn finish(&self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}

/// A writer that hides the progress bar while it writes, for output that
/// goes to the terminal the bar is drawn on.
pub struct Suspend<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W: Write> Suspend<W> {
    pub fn new(inner: W, bar: ProgressBar) -> Suspend<W> {
        Suspend { inner, bar }
    }
}

impl<W: Write> Write for Suspend<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Suspend { inner, bar } = self;
        bar.suspend(|| inner.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let Suspend { inner, bar } = self;
        bar.suspend(|| inner.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(line: &Line, color: bool, width: usize) -> String {
        let mut v = Vec::new();
        line.write(&mut v, Style::new(color), width).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn lines_are_cut_before_colouring() {
        let mut l = Line::new();
        l.plain("abc ").push("unmasked_client_frame", Paint::Error);
        assert_eq!(render(&l, false, 10), "abc unmas…\n");
        let c = render(&l, true, 10);
        assert_eq!(c, "abc \x1b[31munmas\x1b[0m…\n");
        assert_eq!(render(&l, false, 80), "abc unmasked_client_frame\n");
    }

    #[test]
    fn capture_text_cannot_drive_the_terminal() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(printable("caf\u{e9}"), "caf\\xe9");
        assert_eq!(printable("\u{4e2d}"), "\\u{4e2d}");
        assert_eq!(printable("a → b"), "a → b");
    }

    #[test]
    fn packing_keeps_pieces_whole() {
        let pieces: Vec<(String, Paint)> = ["frames 4→ 4←", "close 1000/1000", "end fin"]
            .iter()
            .map(|p| (p.to_string(), Paint::Dim))
            .collect();
        let text = |ls: Vec<Line>| -> Vec<String> {
            ls.iter()
                .map(|l| render(l, false, 80).trim_end().to_owned())
                .collect()
        };
        assert_eq!(
            text(pack(&pieces, " · ", "  ", "  ", 80)),
            ["  frames 4→ 4← · close 1000/1000 · end fin"]
        );
        assert_eq!(
            text(pack(&pieces, " · ", "  ", "  ", 32)),
            ["  frames 4→ 4← · close 1000/1000", "  end fin"]
        );
        assert_eq!(
            chunks("abcdefg", "  ", 5),
            vec!["  abc".to_owned(), "  def".to_owned(), "  g".to_owned()]
        );
    }

    #[test]
    fn wrapping() {
        let w = wrap("one two three four", "  x: ", "     ", 12);
        assert_eq!(w, vec!["  x: one two", "     three", "     four"]);
        assert_eq!(wrap("", "a", "b", 10), vec!["a"]);
        assert_eq!(
            wrap("see /a/long/path/name end", "  ", "    ", 10),
            vec!["  see", "    /a/lon", "    g/path", "    /name", "    end"]
        );
    }
}
