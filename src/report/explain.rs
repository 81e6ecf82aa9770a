//! `wscap explain NAME` and `wscap codes`: the explanations of finding codes
//! and diagnosis causes (data in `finding::explain` and
//! `diagnosis::explain`) rendered for people, and the list of them for
//! people or scripts.

use super::term::wrap;
use crate::diagnosis::explain as cause_explain;
use crate::finding::Code;
use crate::finding::explain::Explanation;
use crate::record::Cause;
use serde::Serialize;
use std::io::{self, Write};

/// What `wscap explain` can explain: a finding code or a diagnosis cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Code(Code),
    Cause(Cause),
}

impl Topic {
    /// Every topic: the codes, then the causes.
    pub fn all() -> impl Iterator<Item = Topic> {
        let codes = Code::ALL.iter().map(|&c| Topic::Code(c));
        codes.chain(Cause::ALL.iter().map(|&c| Topic::Cause(c)))
    }

    /// The topic named `name`: case and `-`/`_` do not matter, so
    /// `Invalid-UTF8` finds `invalid_utf8`.
    pub fn find(name: &str) -> Option<Topic> {
        let want = normalise(name);
        Topic::all().find(|t| t.name() == want)
    }

    pub fn name(self) -> &'static str {
        match self {
            Topic::Code(c) => c.name(),
            Topic::Cause(c) => c.name(),
        }
    }

    pub fn explanation(self) -> Explanation {
        match self {
            Topic::Code(c) => c.explanation(),
            Topic::Cause(c) => cause_explain::explanation(c),
        }
    }

    /// The one-line description.
    pub fn description(self) -> &'static str {
        match self {
            Topic::Code(c) => c.description(),
            Topic::Cause(c) => cause_explain::description(c),
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// Names close to `name`, best first (at most 6): those containing it (or
/// one of its words), then those within a few typing errors.
pub fn near(name: &str) -> Vec<&'static str> {
    let want = normalise(name);
    let words: Vec<&str> = want.split('_').filter(|w| w.len() >= 3).collect();
    let mut scored: Vec<(usize, &'static str)> = Topic::all()
        .filter_map(|t| {
            let n = t.name();
            let d = distance(&want, n);
            if !want.is_empty() && n.contains(want.as_str()) {
                Some((0, n))
            } else if d <= (want.len() / 3).max(2) {
                Some((d, n))
            } else if words.iter().any(|w| n.contains(w)) {
                Some((10, n))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.into_iter().take(6).map(|(_, n)| n).collect()
}

/// Levenshtein distance between two short ASCII names.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The explanation of `topic`, wrapped to `width` columns.
pub fn write_explanation(w: &mut dyn Write, topic: Topic, width: usize) -> io::Result<()> {
    let e = topic.explanation();
    match topic {
        Topic::Code(c) => {
            writeln!(w, "{}: {}", c.name(), c.description())?;
            writeln!(
                w,
                "finding code, severity {}, {}",
                c.severity().as_str(),
                c.rfc()
            )?;
        }
        Topic::Cause(c) => {
            writeln!(w, "{}: {}", c.name(), cause_explain::description(c))?;
            writeln!(w, "diagnosis cause")?;
        }
    }
    for (heading, text) in [
        ("What it means", e.meaning),
        ("The rule", e.rule),
        ("What usually causes it", e.causes),
        ("How to fix it", e.fix),
    ] {
        writeln!(w, "\n{heading}")?;
        for line in wrap(text, "    ", "    ", width) {
            writeln!(w, "{line}")?;
        }
    }
    Ok(())
}

/// `wscap codes` as a table: a line per code (severity, RFC section,
/// meaning), then a line per diagnosis cause. With `width`, meanings wrap
/// under their column; without, each entry stays on one line for grep.
pub fn write_codes_table(w: &mut dyn Write, width: Option<usize>) -> io::Result<()> {
    let name_w = Topic::all().map(|t| t.name().len()).max().unwrap_or(0) + 2;
    let rfc_w = Code::ALL.iter().map(|c| c.rfc().len()).max().unwrap_or(0) + 2;
    let lead = name_w + 9 + rfc_w;
    writeln!(
        w,
        "{:<name_w$}{:<9}{:<rfc_w$}MEANING",
        "CODE", "SEVERITY", "RFC"
    )?;
    for &c in Code::ALL {
        let first = format!(
            "{:<name_w$}{:<9}{:<rfc_w$}",
            c.name(),
            c.severity().as_str(),
            c.rfc()
        );
        table_row(w, first, lead, c.description(), width)?;
    }
    writeln!(w, "\n{:<lead$}MEANING", "DIAGNOSIS CAUSE")?;
    for &c in Cause::ALL {
        let first = format!("{:<lead$}", c.name());
        table_row(w, first, lead, cause_explain::description(c), width)?;
    }
    writeln!(w, "\n`wscap explain NAME` explains any of them.")
}

fn table_row(
    w: &mut dyn Write,
    first: String,
    lead: usize,
    text: &str,
    width: Option<usize>,
) -> io::Result<()> {
    match width {
        Some(width) if width > lead + 20 => {
            for line in wrap(text, &first, &" ".repeat(lead), width) {
                writeln!(w, "{line}")?;
            }
            Ok(())
        }
        _ => writeln!(w, "{first}{text}"),
    }
}

/// One line of `wscap codes --format jsonl`.
#[derive(Serialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rfc: Option<&'static str>,
    description: &'static str,
    meaning: &'static str,
    rule: &'static str,
    causes: &'static str,
    fix: &'static str,
}

/// `wscap codes --format jsonl`: a `code` record per finding code, then a
/// `cause` record per diagnosis cause, each with its whole explanation.
pub fn write_codes_jsonl(w: &mut dyn Write) -> io::Result<()> {
    for t in Topic::all() {
        let e = t.explanation();
        let code = match t {
            Topic::Code(c) => Some(c),
            Topic::Cause(_) => None,
        };
        let entry = Entry {
            kind: if code.is_some() { "code" } else { "cause" },
            name: t.name(),
            severity: code.map(|c| c.severity().as_str()),
            rfc: code.map(Code::rfc),
            description: t.description(),
            meaning: e.meaning,
            rule: e.rule,
            causes: e.causes,
            fix: e.fix,
        };
        serde_json::to_writer(&mut *w, &entry)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_find_their_topic() {
        assert_eq!(
            Topic::find("invalid_utf8"),
            Some(Topic::Code(Code::InvalidUtf8))
        );
        assert_eq!(
            Topic::find(" Wrong-Masking "),
            Some(Topic::Cause(Cause::WrongMasking))
        );
        assert_eq!(Topic::find("utf8"), None);
    }

    #[test]
    fn codes_and_causes_do_not_share_a_name() {
        let mut names: Vec<_> = Topic::all().map(Topic::name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn near_matches() {
        assert_eq!(near("invalid_utf")[0], "invalid_utf8");
        assert_eq!(near("unmasked_clent_frame")[0], "unmasked_client_frame");
        assert!(near("tls").contains(&"tls_on_plaintext_port"));
        assert!(near("tls").contains(&"tls_misplaced"));
        assert!(near("mask").contains(&"wrong_masking"));
        assert!(near("zzzzzzzz").is_empty());
        assert!(near("").len() <= 6);
    }

    #[test]
    fn explanation_has_every_part() {
        let mut out = Vec::new();
        write_explanation(&mut out, Topic::Code(Code::UnmaskedClientFrame), 80).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("unmasked_client_frame: a client frame is not masked\n"));
        for h in [
            "What it means",
            "The rule",
            "What usually causes it",
            "How to fix it",
        ] {
            assert!(text.contains(&format!("\n{h}\n")), "{h}");
        }
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }
}
