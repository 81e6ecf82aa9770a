//! Help that travels with the binary, end to end: `wscap explain` of a
//! finding code and of a diagnosis cause, an unknown name, `wscap codes` in
//! both formats, the `analyse` alias, the exit statuses in `--help`, and the
//! manual page.

mod cli_common;

use cli_common::*;
use std::collections::BTreeSet;
use std::process::Command;
use wscap::finding::Code;
use wscap::record::Cause;

#[test]
fn explain_a_finding_code() {
    let o = run(&["explain", "unmasked_client_frame"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("unmasked_client_frame: a client frame is not masked\n")
    );
    assert!(o.stdout.contains("severity error, RFC 6455 5.1"));
    for heading in [
        "What it means",
        "The rule",
        "What usually causes it",
        "How to fix it",
    ] {
        assert!(
            o.stdout.contains(&format!("\n{heading}\n")),
            "{heading}: {}",
            o.stdout
        );
    }
    assert!(o.stdout.contains("RFC 6455 section 5.1"));
    // Not a terminal: 80 columns.
    assert!(
        o.stdout.lines().all(|l| l.chars().count() <= 80),
        "{}",
        o.stdout
    );
    // Case and dashes do not matter; causes are explained too.
    let o = run(&["explain", "Invalid-UTF8"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("invalid_utf8: "));
    let o = run(&["explain", "proxy_not_websocket_aware"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("diagnosis cause"));
    assert!(o.stdout.contains("proxy_http_version 1.1"));
}

#[test]
fn explain_an_unknown_name() {
    let o = run(&["explain", "unmasked_clent_frame"]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.starts_with("wscap: "), "{}", o.stderr);
    assert!(
        o.stderr.contains("\"unmasked_clent_frame\""),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("did you mean unmasked_client_frame"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("wscap codes"), "{}", o.stderr);
    let o = run(&["explain", "tls"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("tls_on_plaintext_port"), "{}", o.stderr);
    // Nothing near: no suggestion, still status 2.
    let o = run(&["explain", "qqqqqqqqqq"]);
    assert_eq!(o.code, 2);
    assert!(!o.stderr.contains("did you mean"), "{}", o.stderr);
}

#[test]
fn codes_lists_every_code_and_cause() {
    let o = run(&["codes"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for c in Code::ALL {
        let line = o
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(c.name()))
            .unwrap_or_else(|| panic!("{} not listed", c.name()));
        assert!(line.contains(c.severity().as_str()), "{line}");
        assert!(line.contains(c.rfc()), "{line}");
        assert!(line.contains(c.description()), "{line}");
    }
    for c in Cause::ALL {
        assert!(
            o.stdout.lines().any(|l| l.starts_with(c.name())),
            "{} not listed",
            c.name()
        );
    }

    let o = run(&["codes", "--format", "jsonl"]);
    assert_eq!(o.code, 0);
    let recs = o.records();
    let names = |t: &str| -> BTreeSet<String> {
        recs.iter()
            .filter(|r| r["type"] == t)
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let codes: BTreeSet<String> = Code::ALL.iter().map(|c| c.name().to_owned()).collect();
    let causes: BTreeSet<String> = Cause::ALL.iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(names("code"), codes);
    assert_eq!(names("cause"), causes);
    let r = recs
        .iter()
        .find(|r| r["name"] == "invalid_close_code")
        .unwrap();
    assert_eq!(r["severity"], "error");
    assert_eq!(r["rfc"], "RFC 6455 7.4");
    for k in ["description", "meaning", "rule", "causes", "fix"] {
        assert!(r[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
    }
    assert!(run(&["codes", "--format", "xml"]).code == 2);
}

#[test]
fn analyse_is_analyze() {
    let cap = capture("py-echo.pcap");
    let cap = cap.to_string_lossy();
    let a = run(&["analyze", "--format", "jsonl", &cap]);
    let b = run(&["analyse", "--format", "jsonl", &cap]);
    assert_eq!(a.code, 0);
    assert_eq!(b.code, 0, "{}", b.stderr);
    // The same records (elapsed_ms aside).
    let strip = |o: &Out| {
        let mut r = o.records();
        r.last_mut().unwrap()["elapsed_ms"] = 0.into();
        r
    };
    assert_eq!(strip(&a), strip(&b));
    // And the help says so.
    let h = run(&["--help"]);
    assert!(h.stdout.contains("[alias: analyse]"), "{}", h.stdout);
}

#[test]
fn help_states_the_exit_statuses() {
    for args in [["analyze", "--help"], ["analyze", "-h"]] {
        let o = run(&args);
        assert_eq!(o.code, 0);
        let text = &o.stdout[o.stdout.find("Exit status:").expect("exit status")..];
        for status in ["  0  ", "  1  ", "  2  "] {
            assert!(text.contains(status), "{status}: {text}");
        }
        assert!(text.contains("--fail-on"));
        assert!(text.contains("damaged input"));
    }
    let o = run(&["diff", "--help"]);
    let text = &o.stdout[o.stdout.find("Exit status:").expect("exit status")..];
    assert!(text.contains("AFTER regressed"), "{text}");
    assert!(text.contains("  2  "), "{text}");
}

#[test]
fn man_page_renders_and_names_every_subcommand() {
    let o = run(&["man"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with(".ie") || o.stdout.starts_with(".TH"),
        "{}",
        &o.stdout[..80]
    );
    assert!(o.stdout.contains(".TH wscap 1"));
    assert!(o.stdout.contains(".SH SYNOPSIS"));
    let subs = &o.stdout[o.stdout.find(".SH SUBCOMMANDS").expect("SUBCOMMANDS")..];
    for sub in ["analyze", "diff", "explain", "codes", "completions"] {
        assert!(
            subs.contains(&format!("wscap\\-{sub}(1)")),
            "{sub} missing: {subs}"
        );
    }
    // `man` is hidden: not in the help, not a page of its own.
    assert!(!run(&["--help"]).stdout.contains("\n  man "));
    // A subcommand's page, with the exit statuses.
    let a = run(&["man", "analyze"]);
    assert_eq!(a.code, 0);
    assert!(a.stdout.contains(".TH wscap-analyze 1"), "{}", a.stdout);
    assert!(a.stdout.contains("wscap 0."), "{}", a.stdout);
    assert!(a.stdout.contains("Exit status:"));
    let bad = run(&["man", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("no manual page for \"nope\""),
        "{}",
        bad.stderr
    );

    // Rendered by man(1) when the machine has it: no roff warnings.
    let tmp = TempDir::new("man");
    let page = tmp.path("wscap.1");
    std::fs::write(&page, &o.stdout).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "")
        .output();
    if let Some(out) = out.ok().filter(|o| o.status.success()) {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("SUBCOMMANDS"), "{text}");
        assert!(text.contains("explain"), "{text}");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(!warnings.contains("warning"), "{warnings}");
    }
}
